# labelfab: `make run` sets everything up and serves the demo; `make test` runs the whole suite.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export LABELFAB_DATA_DIR ?= $(CURDIR)/.data
HOST ?= 127.0.0.1
PORT ?= 8000
VENDOR := web/static/vendor

.PHONY: run test install vendor migrate demo lint bench clean

install: $(VENV)/.installed vendor

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e clients/python -e '.[dev,postgres,redis,rabbitmq,onnx]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

vendor: $(VENDOR)/.copied

$(VENDOR)/.copied: node_modules/.installed Makefile
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.min.js
	cp node_modules/@annotorious/annotorious/dist/annotorious.js $(VENDOR)/
	cp node_modules/@annotorious/annotorious/dist/annotorious.css $(VENDOR)/
	cp node_modules/@annotorious/plugin-tools/dist/annotorious-plugin-tools.js $(VENDOR)/
	cp node_modules/@annotorious/plugin-tools/dist/annotorious-plugin-tools.css $(VENDOR)/
	cp node_modules/@recogito/text-annotator/dist/text-annotator.umd.js $(VENDOR)/
	cp node_modules/@recogito/text-annotator/dist/text-annotator.css $(VENDOR)/
	cp node_modules/sortablejs/Sortable.min.js $(VENDOR)/
	cp node_modules/dompurify/dist/purify.min.js $(VENDOR)/
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	# PDF.js: its legacy ES module build (for browsers a few versions old) and worker, loaded by
	# annotate_pdf.js with import(); named .js so every server sends them as JavaScript, which
	# module scripts and module workers require
	mkdir -p $(VENDOR)/pdfjs
	cp node_modules/pdfjs-dist/legacy/build/pdf.min.mjs $(VENDOR)/pdfjs/pdf.min.js
	cp node_modules/pdfjs-dist/legacy/build/pdf.worker.min.mjs $(VENDOR)/pdfjs/pdf.worker.min.js
	cp node_modules/pdfjs-dist/LICENSE $(VENDOR)/pdfjs/LICENSE
	# Label Studio's brush RLE (the library its editor encodes masks with), ES modules bundled as one script
	node_modules/.bin/esbuild node_modules/@thi.ng/rle-pack/binary.js --bundle --format=iife \
	  --global-name=thingRlePack --minify --log-level=warning --outfile=$(VENDOR)/rle-pack.js
	cp node_modules/wavesurfer.js/dist/wavesurfer.min.js $(VENDOR)/
	cp node_modules/wavesurfer.js/dist/plugins/regions.min.js $(VENDOR)/wavesurfer-regions.min.js
	mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	touch $@

migrate: install
	$(BIN)/labelfab init

demo: migrate
	$(BIN)/labelfab demo

run: demo
	$(BIN)/labelfab serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest -q -p no:cacheprovider; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: install
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .data
