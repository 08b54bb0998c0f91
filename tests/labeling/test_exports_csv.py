"""CSV and TSV cells that a spreadsheet would run as formulas are neutralised (OWASP's rule: a
single quote in front) in every CSV and TSV labelfab writes, unless an export asks for them raw
(``csv_raw``: API, CLI, export page); JSON, JSON_MIN, JSON Lines and Parquet stay as stored."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest

from labeling import datasets, exports, projects
from labeling.errors import Invalid
from labeling.exports.selection import Batch
from labeling.exports.writers import CsvWriter
from labeling.schema import schema_of
from labeling.settings import get_settings
from labeling.spreadsheet import csv_cell
from tests.conftest import login
from tests.labeling.test_exports import accept, make_project

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/></Choices>
<TextArea name="note" toName="text"/>
</View>"""

#: What people typed, as stored (the task text, and the same in an annotator's note).
TEXTS = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "-3.5", "plain"]
NEUTRAL = ["'" + t for t in TEXTS[:-1]] + ["plain"]


def result(note: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}},
            {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}}]


@pytest.fixture(autouse=True)
def no_stored_versions():
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


@pytest.fixture
def pid(lead):
    tasks = [{"data": {"text": t}, "annotations": [{"result": result(t)}]} for t in TEXTS]
    project_id = make_project(lead.user, tasks, config=CONFIG)
    accept(project_id)
    return project_id


def table(body: bytes, sep: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode(), newline=""), delimiter=sep))


def test_the_shared_rule():
    assert [csv_cell(t) for t in TEXTS] == NEUTRAL
    assert csv_cell(-3.5) == -3.5 and csv_cell(7) == 7 and csv_cell(None) is None and csv_cell("") == ""
    assert csv_cell("a=b") == "a=b" and csv_cell(" =1") == " =1"


@pytest.mark.parametrize("fmt, sep", [("CSV", ","), ("TSV", "\t")])
@pytest.mark.parametrize("rows", ["final", "annotations"])
def test_csv_and_tsv_neutralise_formulas_unless_raw(lead, pid, fmt, sep, rows):
    got = table(b"".join(exports.export(pid, lead.user, format=fmt, rows=rows)), sep)
    assert [r["text"] for r in got] == NEUTRAL and [r["note"] for r in got] == NEUTRAL
    raw = table(b"".join(exports.export(pid, lead.user, format=fmt, rows=rows, csv_raw=True)), sep)
    assert [r["text"] for r in raw] == TEXTS and [r["note"] for r in raw] == TEXTS


def test_numbers_stay_numbers(lead):
    """Task data can hold numbers where the config shows no text; a number is written as it is."""
    schema = schema_of(projects.create_project(lead.user, title="n", label_config=CONFIG))
    batch = Batch(id=[1, 2], data=[json.dumps({"text": -3.5}), json.dumps({"text": "-3.5"})], result=["[]", "[]"],
                  label=[None, None], label_json=["null", "null"], source=["single"] * 2, split=["train"] * 2)
    lines = CsvWriter(schema).rows(batch).decode().splitlines()
    assert lines == ["1,-3.5,,,single,train", "2,'-3.5,,,single,train"]


def test_json_jsonl_json_min_and_parquet_stay_raw(lead, pid):
    for csv_raw in (False, True):
        lines = [json.loads(x) for x in b"".join(exports.export(pid, lead.user, format="JSONL",
                                                                 csv_raw=csv_raw)).splitlines()]
        assert [x["data"]["text"] for x in lines] == TEXTS
        minimal = json.loads(b"".join(exports.export(pid, lead.user, format="JSON_MIN", csv_raw=csv_raw)))
        assert [x["text"] for x in minimal] == TEXTS and [x["note"] for x in minimal] == TEXTS
        full = json.loads(b"".join(exports.export(pid, lead.user, format="JSON", csv_raw=csv_raw)))
        assert [x["data"]["text"] for x in full] == TEXTS
        parquet = pq.read_table(io.BytesIO(b"".join(exports.export(pid, lead.user, format="PARQUET",
                                                                    csv_raw=csv_raw))))
        assert [json.loads(d)["text"] for d in parquet.column("data").to_pylist()] == TEXTS


def test_the_api_the_cli_and_the_page_agree(lead, pid, client, app, runner, tmp_path):
    api = f"/api/projects/{pid}/export?exportType=CSV&state=accepted"  # the clean export (bare: Label Studio's)
    safe = client.get(api, headers=lead.headers)
    raw = client.get(api + "&csv_raw=true", headers=lead.headers)
    assert [r["text"] for r in table(safe.data, ",")] == NEUTRAL
    assert [r["text"] for r in table(raw.data, ",")] == TEXTS
    refused = client.get(api + "&csv_raw=maybe", headers=lead.headers)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "csv_raw"

    for flag, expected in (([], safe.data), (["--csv-raw"], raw.data)):
        out = tmp_path / f"x{len(flag)}.csv"
        done = runner.invoke(args=["export", str(pid), "--format", "CSV", "--out", str(out), "--as", lead.email,
                                   *flag])
        assert done.exit_code == 0, done.output
        assert out.read_bytes() == expected

    page = app.test_client()
    login(page, lead.email)
    form = page.get(f"/projects/{pid}/export").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="csv_raw"[^>]*type="checkbox"|<input[^>]*type="checkbox"[^>]*name="csv_raw"',
                     form)
    base = f"/projects/{pid}/export?exportType=CSV&state=accepted&seed=42&split=80,10,10&rows=final&media=urls"
    assert page.get(base).data == safe.data
    assert page.get(base + "&csv_raw=y").data == raw.data


def test_a_dataset_versions_csv_is_neutralised(lead, pid):
    v, _ = datasets.publish(pid, lead.user)
    folder = get_settings().data_dir / v.path
    got = table((folder / "dataset.csv").read_bytes(), ",")
    assert [r["text"] for r in got] == NEUTRAL
    lines = [json.loads(x) for x in (folder / "dataset.jsonl").read_text().splitlines()]
    assert [x["data"]["text"] for x in lines] == TEXTS  # JSON Lines as stored


def test_a_csv_option_that_is_not_yes_or_no_is_refused():
    with pytest.raises(Invalid, match="csv_raw must be true or false"):
        exports.parse_flag("maybe", "csv_raw")
    assert exports.parse_flag("on", "csv_raw") and not exports.parse_flag("", "csv_raw")

