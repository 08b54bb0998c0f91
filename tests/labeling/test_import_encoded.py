"""Plain rows of a large JSON Lines file read, checked and encoded as COPY text by worker
processes (labeling/copyrows.py, StreamedFile.encode_plain), on PostgreSQL; any block holding
another row is read by the importer itself. On SQLite every row takes the usual path: the same
imports must store the same tasks there too."""

from __future__ import annotations

import json
import logging
import multiprocessing

import pytest
from sqlmodel import select

from labeling import imports, projects
from labeling.canonical import dumps, sha256_text
from labeling.copyrows import PlainRows, copy_text, encode_block
from labeling.db import get_engine, read_session
from labeling.errors import Invalid
from labeling.imports import stream
from labeling.models import ImportBatch, Task
from tests.labeling.test_importer import TEXT, choice, nothing_stored

PG = get_engine().dialect.name == "postgresql"
RULES = PlainRows(text_keys=("text",), max_fields=6, max_chars=200)

PLAIN = [
    {"text": "flat"},
    {"text": "with numbers", "n": 3, "f": 0.5, "b": True, "none": None, "big": 2**70},
    {"data": {"text": "task form"}, "annotations": [], "predictions": [], "meta": {}, "is_gold": False, "id": 7},
    {"data": {"text": "is_gold null", "z": "last"}, "is_gold": None, "gold_answer": None},
    {"text": "back\\slash tab\there new\nline cr\rreturn \\N \\."},
    {"text": "ünïcode ✓ 𝄞", "ключ": "значение"},
    {"annotations": "a data field of a flat row", "text": "flat too"},
]
NOT_PLAIN = [
    {"text": 5},  # the config's text is a number: the importer names the problem
    {"other": "no text"},
    {"data": {"text": "a"}, "meta": {"source": "s"}},
    {"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]},
    {"data": {"text": "a"}, "predictions": [{"result": choice("pos")}]},
    {"data": {"text": "a"}, "is_gold": True, "gold_answer": choice("pos")},
    {"data": {"text": "a"}, "is_gold": 0},  # not false: the importer refuses it
    {"data": {"text": "a"}, "annotations": {}},
    {"data": "text"},
    {"data": {}},
    {},
    [{"text": "a list"}],
    {"text": "a", "embedding": [0.1, 0.2]},
    {"text": "a", "nested": {"k": "v"}},
    {"text": "nul \u0000"},
    {"text": "a lone \ud800 surrogate"},
    {"text": "a", "b": "", "c": "", "d": "", "e": "", "f": "", "g": ""},  # 7 fields of 6
    {"text": "x" * 200},  # 204 characters of 200
]


def encoded_lines(path, rules=RULES) -> tuple[int, int, list[str] | None]:
    size = path.stat().st_size
    newlines, n, pieces = encode_block(rules, str(path), 0, size, 3)
    if pieces is None:
        return newlines, n, None
    assert all(piece.count(b"\n") <= 3 for piece in pieces)
    return newlines, n, b"".join(pieces).decode("utf-8").splitlines()


def test_a_block_of_plain_rows_is_their_data_and_hashes_as_copy_text(tmp_path):
    """Each plain row becomes its data as canonical JSON (what the importer stores) and that
    JSON's sha256, in COPY's text format; blank lines are no rows; a BOM opens the file."""
    path = tmp_path / "plain.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in PLAIN]
    path.write_bytes(b"\xef\xbb\xbf" + "\n\n".join(lines).encode("utf-8") + b"\r\n  \n")
    newlines, n, out = encoded_lines(path)
    assert (newlines, n) == (2 * len(lines), len(PLAIN))
    for row, line in zip(PLAIN, out, strict=True):
        data = row["data"] if "data" in row else row
        assert line == f"{copy_text(dumps(data))}\t{sha256_text(dumps(data))}"


@pytest.mark.parametrize("row", NOT_PLAIN, ids=range(len(NOT_PLAIN)))
def test_a_block_with_any_other_row_is_left_to_the_importer(tmp_path, row):
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(r) for r in PLAIN[:3]] + [json.dumps(row)] + [json.dumps(r) for r in PLAIN[3:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert encoded_lines(path) == (len(lines), 0, None)


@pytest.mark.parametrize("raw", [b"{oops", b'{"text": "\xff"}', b'{"text": NaN}', b'{"text": 1e999}',
                                 b"[" * 100_000 + b"]" * 100_000], ids=["json", "utf8", "nan", "inf", "deep"])
def test_lines_the_importer_refuses_are_left_to_it(tmp_path, raw):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n' + raw + b"\n")
    assert encoded_lines(path) == (2, 0, None)


def test_text_keys_come_from_the_config(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text('{"title": "t", "body": "b"}\n{"title": "t"}\n', encoding="utf-8")
    assert encoded_lines(path, PlainRows(("title",), 5, 200))[1] == 2
    assert encoded_lines(path, PlainRows(("title", "body"), 5, 200))[2] is None


# --------------------------------------------------------------------------- imports


@pytest.fixture
def workers(monkeypatch):
    """Every JSON Lines file is read by workers, in blocks of about 300 bytes (a few rows)."""
    monkeypatch.setattr(stream, "ENCODE_MIN_BYTES", 0)
    monkeypatch.setattr(stream, "BLOCK_BYTES", 300)
    monkeypatch.setattr(stream, "COPY_PIECE_ROWS", 4)


def mixed_rows(n: int) -> list[dict]:
    """Mostly plain rows; now and then one with meta, labels or a prediction (its block is read
    by the importer), never two blocks in a row."""
    rows: list[dict] = []
    for i in range(n):
        if i % 40 == 13:
            rows.append({"data": {"text": f"t{i}"}, "meta": {"i": i}})
        elif i % 40 == 29:
            rows.append({"data": {"text": f"t{i}"}, "annotations": [{"result": choice("neg")}],
                         "predictions": [{"result": choice("pos"), "score": 0.5}]})
        else:
            rows.append({"text": f"t{i}", "n": i} if i % 3 else {"data": {"text": f"t{i} \\ \t ✓"}})
    return rows


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def tasks_of(project_id: int) -> list[tuple]:
    with read_session() as s:
        return [(t.data, t.meta, t.content_hash, t.file_name, t.state, t.n_annotations, t.is_gold, t.import_id)
                for t in s.exec(select(Task).where(Task.project_id == project_id).order_by(Task.id))]


def test_the_same_tasks_as_the_importer_alone_writes(tmp_path, lead, monkeypatch, caplog):
    """A file whose blocks are mostly plain rows, some with labels or meta: imported through the
    workers, every task is stored as the importer alone stores it, in the file's order, and the
    import's id range holds exactly its tasks."""
    rows = mixed_rows(300)
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    alone = projects.create_project(lead.user, title="alone", label_config=TEXT)
    imports.import_data(lead.user, alone.id, paths=[path])
    monkeypatch.setattr(stream, "ENCODE_MIN_BYTES", 0)
    monkeypatch.setattr(stream, "BLOCK_BYTES", 300)
    monkeypatch.setattr(stream, "COPY_PIECE_ROWS", 4)
    with_workers = projects.create_project(lead.user, title="workers", label_config=TEXT)
    with caplog.at_level(logging.INFO, logger="labeling.imports.service"):
        result = imports.import_data(lead.user, with_workers.id, paths=[path], return_task_ids=True)
    assert (result.task_count, result.annotation_count, result.prediction_count) == (300, 7, 7)
    expected, got = tasks_of(alone.id), tasks_of(with_workers.id)
    assert [t[:-1] for t in got] == [t[:-1] for t in expected]
    assert {t[-1] for t in got} == {result.import_id}
    with read_session() as s:
        ids = list(s.exec(select(Task.id).where(Task.project_id == with_workers.id).order_by(Task.id)))
        batch = s.get(ImportBatch, result.import_id)
    assert result.task_ids == ids and imports.import_task_ids(result.import_id) == ids
    assert (batch.status, batch.task_count) == ("done", 300)
    assert batch.first_task_id <= ids[0] and batch.last_task_id == ids[-1]
    said = [r.getMessage() for r in caplog.records if "worker processes" in r.getMessage()]
    if PG:  # the rows of every block but the 15 with labels or meta
        assert len(said) == 1 and " of 300 rows" in said[0]
        assert 100 < int(said[0].split(": ")[1].split(" of")[0]) < 300
    else:  # SQLite: the importer reads every row itself
        assert said == []


def test_a_bad_row_after_encoded_blocks_is_named_by_its_line(tmp_path, lead, workers):
    rows = [{"text": f"t{i}"} for i in range(200)]
    rows[170] = {"text": None}
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows[:100])
    path.write_text(path.read_text() + "\n\n" + "".join(json.dumps(r) + "\n" for r in rows[100:]))  # two blank lines
    project = projects.create_project(lead.user, title="texts", label_config=TEXT)
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, project.id, paths=[path])
    assert [(e["row"], e["field"]) for e in err.value.errors] == [(173, "data")]
    assert "1 problem(s) in 1 of 200 row(s); nothing was imported" in err.value.detail
    nothing_stored()

    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:150]) + "{oops\n")
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, project.id, paths=[path])
    assert err.value.errors[0]["row"] == 151
    nothing_stored()


def test_skip_invalid_writes_the_plain_blocks_and_the_good_rows(tmp_path, lead, workers):
    rows = [{"text": f"t{i}"} if i % 50 != 7 else {"text": 7} for i in range(200)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    project = projects.create_project(lead.user, title="texts", label_config=TEXT)
    result = imports.import_data(lead.user, project.id, paths=[path], skip_invalid=True)
    assert (result.task_count, result.skipped_invalid) == (196, 4)
    assert [e["row"] for e in result.errors] == [8, 58, 108, 158]
    assert [t[0]["text"] for t in tasks_of(project.id)] == [r["text"] for r in rows if r["text"] != 7]


def test_a_stopped_import_leaves_nothing_and_no_worker(tmp_path, lead, workers):
    """An import stopped while workers read its file (the progress callback raises, as a job
    taken over does): its transaction rolls back and its worker processes are gone."""
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [{"text": f"t{i}"} for i in range(400)])
    project = projects.create_project(lead.user, title="texts", label_config=TEXT)

    class Stop(Exception):
        pass

    def progress(done, total, message):
        if message.startswith("wrote") and done > 100:
            raise Stop

    with pytest.raises(Stop):
        imports.import_data(lead.user, project.id, paths=[path], progress=progress)
    nothing_stored()
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("ForkServerProcess")]
    imports.import_data(lead.user, project.id, paths=[path])  # the next import runs as usual
    assert len(tasks_of(project.id)) == 400
