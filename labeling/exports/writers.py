"""What an export writes: Label Studio's JSON shapes, the formats, their writers, and zips.

- :func:`task_json`, :func:`annotation_json`, :func:`prediction_json`: a task, an annotation,
  a prediction as Label Studio shows them (its export, the REST API, the pages);
- :data:`EXPORT_FORMATS`: every format of the clean export (Label Studio's names), which
  projects each fits, :func:`resolve_format`, :func:`available_formats`;
- the writers (:func:`make_writer`) of the formats labelfab writes itself: ``JSON`` (Label
  Studio tasks whose one annotation is the final label: a dataset version's file and the
  converter's input; the export's JSON carries every annotation), ``JSON_MIN``, ``CSV``, ``TSV``,
  ``JSONL``, ``PARQUET``; they turn :class:`~labeling.exports.selection.Batch` columns into bytes,
  streamed; the converter formats are in :mod:`labeling.exports.converter`; CSV and TSV cells
  that a spreadsheet would run as formulas are neutralised unless asked raw (``csv_raw``);
- :func:`zip_stream`, :func:`media_entries`, :func:`skipped_entries`: a zip archive, streamed,
  the images of an export as its entries, and the list of those left out.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from labeling import canonical
from labeling.errors import Invalid
from labeling.exports.selection import Batch, DataMap
from labeling.mediastore import local_path
from labeling.models import Project
from labeling.schema import LabelSchema, schema_of
from labeling.spreadsheet import csv_cell, csv_text
from labeling.wire import annotation_json, prediction_json, task_json

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_FORMATS",
    "FORMAT_ALIASES",
    "MEDIA_MODES",
    "CsvWriter",
    "ExportFormat",
    "JsonMinWriter",
    "JsonlWriter",
    "LsJsonWriter",
    "ParquetWriter",
    "Writer",
    "annotation_json",
    "available_formats",
    "by_control",
    "file_chunks",
    "fits",
    "make_writer",
    "media_entries",
    "skipped_entries",
    "prediction_json",
    "resolve_format",
    "task_json",
    "write_batches",
    "zip_stream",
]

_dumps = partial(canonical.dumps, allow_nan=True)


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class ExportFormat:
    """An export format: Label Studio's name (``exportType``), and what it fits."""

    name: str
    title: str
    description: str
    ext: str
    mimetype: str
    kinds: tuple[str, ...] | None = None  # project kinds it fits; None: every project
    converter: bool = False  # made by label_studio_sdk.converter from Label Studio JSON on disk


EXPORT_FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("JSON", "JSON", "Label Studio JSON: each task with every annotation and prediction, its final "
                 "label and its source as extra keys.", "json", "application/json"),
    ExportFormat("JSON_MIN", "JSON-MIN", "Label Studio JSON-MIN: task data with one key per control holding the "
                 "final label.", "json", "application/json"),
    ExportFormat("CSV", "CSV", "One row per task: id, the data fields of the label config, one column per "
                 "control, label_source, split.", "csv", "text/csv"),
    ExportFormat("TSV", "TSV", "As CSV, separated by tabs.", "tsv", "text/tab-separated-values"),
    ExportFormat("JSONL", "JSON Lines", "One JSON object per line: id, data, label, label_source, split.",
                 "jsonl", "application/x-ndjson"),
    ExportFormat("PARQUET", "Parquet", "Apache Parquet (row groups of 100,000 tasks): id, data (JSON text), "
                 "label, label_source, split.", "parquet", "application/vnd.apache.parquet"),
    ExportFormat("COCO", "COCO", "COCO detection JSON (a zip), made by label_studio_sdk.converter.",
                 "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("YOLO", "YOLO", "YOLO label files and classes.txt (a zip), made by label_studio_sdk.converter.",
                 "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("VOC", "Pascal VOC XML", "Pascal VOC annotation XML files (a zip), made by "
                 "label_studio_sdk.converter.", "zip", "application/zip", kinds=("detection",), converter=True),
    ExportFormat("CONLL2003", "CONLL2003", "Tokens with IOB tags, made by label_studio_sdk.converter.",
                 "conll", "text/plain", kinds=("ner",), converter=True),
)}
EXPORT_FORMATS["BRUSH_TO_PNG"] = ExportFormat(
    "BRUSH_TO_PNG", "Brush labels to PNG", "Each brush mask as a PNG image (a zip), made by "
    "label_studio_sdk.converter.", "zip", "application/zip", kinds=("segmentation",), converter=True)

# Label Studio names that are one of ours with images included.
FORMAT_ALIASES: dict[str, tuple[str, str | None]] = {
    "COCO_WITH_IMAGES": ("COCO", "files"),
    "YOLO_WITH_IMAGES": ("YOLO", "files"),
    "JSON_LINES": ("JSONL", None),
}
MEDIA_MODES = ("urls", "files")


def _format_error(name: str) -> Invalid:
    known = ", ".join(EXPORT_FORMATS)
    return Invalid(f"unknown export format {name!r}; use one of {known}",
                   [{"row": None, "field": "exportType", "detail": f"unknown export format {name!r}"}])


def resolve_format(name: str | None, media: str | None = None) -> tuple[ExportFormat, str]:
    """The format called ``name`` (case-insensitive, Label Studio's names) and the media mode.

    Raises
    ------
    Invalid
        An unknown format or media mode.
    """
    raw = (name or "").strip()
    key = raw.upper().replace("-", "_")
    if key in FORMAT_ALIASES:
        key, forced = FORMAT_ALIASES[key]
        media = forced or media
    fmt = EXPORT_FORMATS.get(key)
    if fmt is None:
        raise _format_error(raw)
    media = (media or "urls").strip().lower()
    if media not in MEDIA_MODES:
        raise Invalid(f"media must be one of {', '.join(MEDIA_MODES)}, got {media!r}",
                      [{"row": None, "field": "media", "detail": "urls or files"}])
    return fmt, media


def fits(fmt: ExportFormat, schema: LabelSchema) -> bool:
    """Whether ``fmt`` can express this project's labels (the converter's own rules: boxes on an
    image for COCO, YOLO and VOC, spans on a text for CONLL2003, one data field)."""
    if fmt.kinds is not None and schema.kind not in fmt.kinds:
        return False
    if not fmt.converter:
        return True
    return len(schema.data_keys) == 1 and fmt.name in _converter_formats(_converter_schema(schema))


def _converter_schema(schema: LabelSchema) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((c.name, c.tag, c.object_tag, c.data_key) for c in schema.controls)


@lru_cache(maxsize=256)
def _converter_formats(controls: tuple[tuple[str, str, str, str], ...]) -> frozenset[str]:
    """The formats label_studio_sdk's converter offers for these controls (Label Studio's own rule:
    key points need boxes for COCO and YOLO, brush masks give the BRUSH_TO_* formats)."""
    from label_studio_sdk.converter import Converter

    config = {name: {"type": tag, "to_name": [], "inputs": [{"type": obj, "value": key}], "labels": []}
              for name, tag, obj, key in controls}
    return frozenset(Converter(config=config, project_dir="", download_resources=False).supported_formats)


#: Label Studio's ``link`` of a format it has (its documentation); labelfab's own have none (null).
LS_FORMAT_LINKS = {name: f"https://labelstud.io/guide/export.html#{anchor}" for name, anchor in (
    ("JSON", "JSON"), ("JSON_MIN", "JSON-MIN"), ("CSV", "CSV"), ("TSV", "TSV"), ("CONLL2003", "CONLL2003"),
    ("COCO", "COCO"), ("VOC", "Pascal-VOC-XML"), ("YOLO", "YOLO"), ("BRUSH_TO_PNG", "Brush-labels-to-NumPy-amp-PNG"))}


def available_formats(project: Project) -> list[dict[str, Any]]:
    """Every format, as Label Studio's ``GET /api/projects/ID/export/formats`` lists them."""
    schema = schema_of(project)
    return [{"name": f.name, "title": f.title, "description": f.description, "disabled": not fits(f, schema),
             "tags": ["labelfab"] if f.name in ("JSONL", "PARQUET") else [], "link": LS_FORMAT_LINKS.get(f.name)}
            for f in EXPORT_FORMATS.values()]


# --------------------------------------------------------------------------- writers


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream whose bytes are taken out as they come (for Parquet and zip)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return False

    def seek(self, *args) -> int:
        raise io.UnsupportedOperation("this stream cannot seek")

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class Writer:
    """Turns batches of records into bytes: ``begin()``, ``rows(batch)`` per batch, ``end()``."""

    needs_meta = False

    def __init__(self, schema: LabelSchema, data_map: DataMap | None = None):
        self.schema = schema
        self.data_map = data_map  # applied to the records by write_batches, if any

    def begin(self) -> bytes:
        return b""

    def rows(self, batch: Batch) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        return b""


class _JsonStrings(dict):
    """str -> its JSON text, made once."""

    def __missing__(self, key: str) -> str:
        value = self[key] = json.dumps(key)
        return value


_JS = _JsonStrings()


def _json_str(value: str) -> str:
    return _JS[value]


class JsonlWriter(Writer):
    def rows(self, batch: Batch) -> bytes:
        js = _JS
        return "".join([
            f'{{"id":{i},"data":{d},"label":{lj},"label_source":{js[src]},"split":{js[sp]}}}\n'
            for i, d, lj, src, sp in zip(batch.id, batch.data, batch.label_json, batch.source, batch.split,
                                         strict=True)]).encode()


class ParquetWriter(Writer):
    """Parquet, written a row group (``row_group_size`` tasks) at a time into a stream."""

    def __init__(self, schema: LabelSchema, data_map: DataMap | None = None, *, row_group_size: int = 100_000):
        super().__init__(schema, data_map)
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.multilabel = schema.kind == "multilabel"
        self.classification = schema.kind == "classification"
        label_type = pa.list_(pa.string()) if self.multilabel else pa.string()
        self.arrow_schema = pa.schema([("id", pa.int64()), ("data", pa.string()), ("label", label_type),
                                       ("label_source", pa.string()), ("split", pa.string())],
                                      metadata={b"labelfab.kind": schema.kind.encode()})
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.arrow_schema, compression="snappy")
        self.row_group_size = row_group_size
        self._cols: tuple[list, list, list, list, list] = ([], [], [], [], [])

    def _flush(self) -> None:
        if not self._cols[0]:
            return
        ids, data, labels, sources, splits = self._cols
        pa = self.pa
        table = pa.Table.from_arrays([pa.array(ids, pa.int64()), pa.array(data, pa.string()),
                                      pa.array(labels, self.arrow_schema.field("label").type),
                                      pa.array(sources, pa.string()).dictionary_encode(),
                                      pa.array(splits, pa.string()).dictionary_encode()],
                                     schema=None, names=self.arrow_schema.names)
        table = table.cast(self.arrow_schema)
        self.writer.write_table(table, row_group_size=self.row_group_size)
        self._cols = ([], [], [], [], [])

    def rows(self, batch: Batch) -> bytes:
        ids, data, labels, sources, splits = self._cols
        ids.extend(batch.id)
        data.extend(batch.data)
        labels.extend(batch.label if self.classification or self.multilabel else batch.label_json)
        sources.extend(batch.source)
        splits.extend(batch.split)
        if len(ids) >= self.row_group_size:
            self._flush()
        return self.sink.take()

    def end(self) -> bytes:
        self._flush()
        self.writer.close()
        return self.sink.take()


class LsJsonWriter(Writer):
    """Label Studio tasks whose one annotation is the final label (``ground_truth``)."""

    needs_meta = True

    def begin(self) -> bytes:
        self.first = True
        return b"["

    def rows(self, batch: Batch) -> bytes:
        js = _json_str
        parts = [
            f'{{"id":{r.id},"data":{r.data},"meta":{r.meta or "{}"},"annotations":[{{"id":{r.id},'
            f'"result":{r.result},"ground_truth":true,"was_cancelled":false,"completed_by":null,'
            f'"label_source":{js(r.source)}}}],"predictions":[],"label_source":{js(r.source)},'
            f'"split":{js(r.split)}}}' for r in batch.records()]
        out = ("" if self.first else ",") + ",".join(parts)
        self.first = False
        return out.encode()

    def end(self) -> bytes:
        return b"]"


def _prettify(values: list[dict]) -> Any:
    """label_studio_sdk.converter.utils.prettify_result, without importing the converter (slow):
    one choice or text -> the string; anything else -> the list of values without ``type``."""
    out, tag = [], None
    for v in values:
        v = dict(v)
        tag = v.pop("type")
        if tag == "Choices" and len(v.get("choices", [])) == 1:
            out.append(v["choices"][0])
        elif tag == "TextArea" and len(v.get("text", [])) == 1:
            out.append(v["text"][0])
        else:
            out.append(v)
    return out[0] if tag in ("Choices", "TextArea") and len(out) == 1 else out


def by_control(schema: LabelSchema, result: list[dict]) -> dict[str, Any]:
    """Label Studio's JSON_MIN value per control (``prettify_result``): a class name for a single
    choice, a list of names, or the result values (spans, boxes)."""
    grouped: dict[str, list[dict]] = {}
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        try:
            control = schema.control(item.get("from_name"))
        except KeyError:
            continue
        value = dict(item["value"])
        value["type"] = control.tag
        for k in ("original_width", "original_height"):
            if k in item:
                value[k] = item[k]
        grouped.setdefault(control.name, []).append(value)
    return {name: _prettify(values) for name, values in grouped.items()}


class JsonMinWriter(Writer):
    def begin(self) -> bytes:
        self.first = True
        return b"["

    def rows(self, batch: Batch) -> bytes:
        parts = []
        for r in batch.records():
            record = json.loads(r.data)
            record = record if isinstance(record, dict) else {"data": record}
            record["id"] = r.id
            record.update(by_control(self.schema, json.loads(r.result)))
            record["label_source"] = r.source
            record["split"] = r.split
            parts.append(_dumps(record))
        out = ("" if self.first else ",") + ",".join(parts)
        self.first = False
        return out.encode()

    def end(self) -> bytes:
        return b"]"


class CsvWriter(Writer):
    """Label Studio's CSV shape: the data fields of the config, one column per control.

    Text that a spreadsheet would run as a formula is neutralised
    (:func:`labeling.spreadsheet.csv_cell`, OWASP's rule), in the header too (data keys come
    from task data); ``raw`` writes every cell as it is, for pipelines.
    """

    def __init__(self, schema: LabelSchema, data_map: DataMap | None = None, *, delimiter: str = ",",
                 raw: bool = False):
        super().__init__(schema, data_map)
        self.delimiter = delimiter
        self.raw = raw
        self.data_keys = sorted(schema.data_keys)
        self.controls = [c.name for c in schema.controls if c.name not in self.data_keys]
        self.header = self.text_row(["id", *self.data_keys, *self.controls, "label_source", "split"])

    def _cell(self, value: Any) -> Any:
        """A data or label value as a cell: numbers as they are, objects as JSON text."""
        if value is None or isinstance(value, int | float):
            return value
        text = value if isinstance(value, str) else _dumps(value)
        return text if self.raw else csv_cell(text)

    def text_row(self, cells: list[Any]) -> list[Any]:
        """Cells written as they are given (a header, an email): neutralised unless ``raw``."""
        return cells if self.raw else [csv_cell(c) for c in cells]

    def begin(self) -> bytes:
        return csv_text([self.header], delimiter=self.delimiter).encode()

    def rows(self, batch: Batch) -> bytes:
        cell, lines = self._cell, []
        for r in batch.records():
            data = json.loads(r.data)
            data = data if isinstance(data, dict) else {}
            labels = by_control(self.schema, json.loads(r.result))
            lines.append([r.id, *[cell(data.get(k)) for k in self.data_keys],
                          *[cell(labels.get(c)) for c in self.controls], r.source, r.split])
        return csv_text(lines, delimiter=self.delimiter).encode()


def make_writer(fmt: ExportFormat, schema: LabelSchema, data_map: DataMap | None = None, *,
                csv_raw: bool = False) -> Writer:
    """The writer of a format that is not made by the converter (JSON for those); ``csv_raw``:
    CSV and TSV cells as they are, formulas included (the other formats always are)."""
    if fmt.name == "JSONL":
        return JsonlWriter(schema, data_map)
    if fmt.name == "PARQUET":
        return ParquetWriter(schema, data_map)
    if fmt.name == "CSV":
        return CsvWriter(schema, data_map, raw=csv_raw)
    if fmt.name == "TSV":
        return CsvWriter(schema, data_map, delimiter="\t", raw=csv_raw)
    if fmt.name == "JSON_MIN":
        return JsonMinWriter(schema, data_map)
    return LsJsonWriter(schema, data_map)  # JSON, and the input of the converter formats


def write_batches(batches: Iterable[Batch], writers: list[Writer]) -> Iterator[list[bytes]]:
    """Feed the same records to several writers (one read, many files): yields, per step, one
    bytes chunk per writer. A writer with a ``data_map`` sees the data mapped by it."""
    yield [w.begin() for w in writers]
    for batch in batches:
        out = []
        for w in writers:
            m = w.data_map
            out.append(w.rows(batch if m is None or m.identity else batch.with_data([m(d) for d in batch.data])))
        yield out
    yield [w.end() for w in writers]


# --------------------------------------------------------------------------- zip


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def zip_stream(entries: Iterable[tuple[str, Iterable[bytes], bool]]) -> Iterator[bytes]:
    """A zip archive, streamed: ``entries`` are ``(name, chunks, compress)``. Entries carry a
    fixed date so that the same content gives the same bytes."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
        for name, chunks, compress in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as w:
                for chunk in chunks:
                    w.write(chunk)
                    out = sink.take()
                    if out:
                        yield out
            yield sink.take()
    yield sink.take()


#: The zip entry listing the images an export left out: named in task data, not the project's.
SKIPPED_MEDIA = "media-skipped.txt"


def skipped_entries(skipped: dict[str, tuple[str, str]]) -> Iterator[tuple[str, Iterable[bytes], bool]]:
    """``media-skipped.txt``, when task data named images that are not the project's
    (:class:`~labeling.exports.selection.DataMap`): their names, one a line, under a line
    saying why they are not in the archive."""
    if skipped:
        text = ("# images named in task data that do not belong to this project: left out\n"
                + "".join(f"{name}\n" for name in sorted(skipped)))
        yield SKIPPED_MEDIA, [text.encode()], True


def media_entries(used: dict[str, tuple[str, str]]) -> Iterator[tuple[str, Iterable[bytes], bool]]:
    """``images/<sha>.<ext>`` zip entries from the media store, in name order."""
    for name in sorted(used):
        sha, ext = used[name]
        path = local_path(sha, ext)
        if path.is_file():
            yield f"images/{name}", file_chunks(path), False
        else:
            log.warning("export: image %s is missing from the media store", path)
