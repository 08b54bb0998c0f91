"""Streamed imports: JSON Lines and Parquet files read a chunk at a time and written a chunk at a
time into one transaction (labeling/imports/stream.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.imports import service, stream
from labeling.models import Annotation, ImportBatch, Task, TaskEvent, TaskState, User
from labeling.settings import get_settings
from tests.conftest import wait_for
from tests.labeling.test_importer import TEXT, choice, count, nothing_stored


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 read and 10 written, so a few dozen rows cross many chunk borders."""
    monkeypatch.setattr(stream, "CHUNK_ROWS", 7)
    monkeypatch.setattr(service, "_STREAM_CHUNK", 10)


@pytest.fixture
def text_project(lead):
    return projects.create_project(lead.user, title="texts", label_config=TEXT)


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def stored_texts(project_id: int) -> list[str]:
    with read_session() as s:
        return [d["text"] for d in s.exec(select(Task.data).where(Task.project_id == project_id).order_by(Task.id))]


def test_jsonl_is_streamed_in_chunks_into_one_import(tmp_path, lead, text_project, small_chunks):
    rows = [{"text": f"t{i}"} for i in range(95)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    seen: list[tuple[int, int | None, str]] = []
    result = imports.import_data(lead.user, text_project.id, paths=[path],
                                 progress=lambda d, n, m: seen.append((d, n, m)))
    assert result.task_count == 95
    assert stored_texts(text_project.id) == [r["text"] for r in rows]
    with read_session() as s:
        batches = list(s.exec(select(ImportBatch)))
        assert [(b.status, b.task_count) for b in batches] == [("done", 95)]
        assert {t.import_id for t in s.exec(select(Task))} == {batches[0].id}
    wrote = [d for d, _, m in seen if m.startswith("wrote")]
    assert len(wrote) >= 9 and wrote == sorted(wrote)  # progress as each chunk is written
    assert all(n == 95 for _, n, _ in seen)


def test_a_bad_row_late_in_the_file_leaves_nothing(tmp_path, lead, text_project, small_chunks):
    rows = [{"text": f"t{i}"} for i in range(60)]
    rows[55] = {"text": 5}  # a number where the config reads text: found after chunks were written
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, paths=[path])
    assert err.value.errors[0]["row"] == 56 and err.value.errors[0]["field"] == "data"
    assert "of 60 row(s); nothing was imported" in err.value.detail
    nothing_stored()


def test_malformed_json_line_refuses_with_its_line(tmp_path, lead, text_project, small_chunks):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(30)) + "{oops\n", encoding="utf-8")
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, paths=[path])
    assert err.value.errors[0]["row"] == 31
    nothing_stored()


def test_skip_invalid_writes_the_good_rows_of_every_chunk(tmp_path, lead, text_project, small_chunks):
    rows = [{"text": f"t{i}"} if i % 9 else {"text": None} for i in range(50)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    result = imports.import_data(lead.user, text_project.id, paths=[path], skip_invalid=True)
    good = [r["text"] for r in rows if r["text"] is not None]
    assert result.task_count == len(good) and result.skipped_invalid == 50 - len(good)
    assert stored_texts(text_project.id) == good


def test_dedupe_across_chunks(tmp_path, lead, text_project, small_chunks):
    rows = [{"text": f"t{i % 12}"} for i in range(40)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    result = imports.import_data(lead.user, text_project.id, paths=[path], dedupe=True)
    assert result.task_count == 12 and result.skipped_duplicates == 28
    assert sorted(stored_texts(text_project.id)) == sorted(f"t{i}" for i in range(12))


def test_labels_and_new_annotators_across_chunks(tmp_path, lead, text_project, small_chunks):
    rows = [{"data": {"text": f"t{i}"},
             "annotations": [{"result": choice("pos"), "completed_by": "new.one@example.com"},
                             {"result": choice("neg")}]} for i in range(25)]
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, rows)
    result = imports.import_data(lead.user, text_project.id, paths=[path])
    assert result.task_count == 25 and result.annotation_count == 50
    assert result.new_users == 1  # made once, in the first chunk, then found
    with read_session() as s:
        assert len(list(s.exec(select(User).where(User.email == "new.one@example.com")))) == 1
        labels_users = list(s.exec(select(User).where(User.email.like("imported-labels-%"))))
        assert len(labels_users) == 1  # one labels user for the whole import
        assert s.execute(select(sa.func.count(sa.distinct(Annotation.user_id)))).scalar_one() == 2
    line = {a["how"]: a["annotations"] for a in result.attribution}
    assert line == {"placeholder": 25, "labels": 25}
    if text_project.overlap <= 2:
        assert count(TaskEvent) == 25
        with read_session() as s:
            assert set(s.exec(select(Task.state))) == {TaskState.labeled}


def test_parquet_flat_columns_and_task_form(tmp_path, lead, text_project, small_chunks):
    flat = tmp_path / "flat.parquet"
    pq.write_table(pa.table({"text": [f"p{i}" for i in range(33)], "extra": list(range(33))}), flat,
                   row_group_size=8)
    result = imports.import_data(lead.user, text_project.id, paths=[flat])
    assert result.task_count == 33
    with read_session() as s:
        first = s.exec(select(Task).order_by(Task.id)).first()
        assert first.data == {"text": "p0", "extra": 0}
    tasks = tmp_path / "tasks.parquet"
    pq.write_table(pa.table({"data": [{"text": f"q{i}"} for i in range(12)],
                             "meta": [{"source": "s"} for _ in range(12)]}), tasks)
    result = imports.import_data(lead.user, text_project.id, paths=[tasks])
    assert result.task_count == 12
    with read_session() as s:
        last = s.exec(select(Task).order_by(Task.id.desc())).first()
        assert last.data == {"text": "q11"} and last.meta == {"source": "s"}


def test_parquet_upload_through_the_api_runs_as_a_job(client, lead, text_project, worker, tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": [f"u{i}" for i in range(40)]}), path)
    with open(path, "rb") as fh:
        r = client.post(f"/api/projects/{text_project.id}/import?background=true",
                        data={"file": (fh, "big.parquet")}, content_type="multipart/form-data",
                        headers=lead.headers)
    assert r.status_code == 202, r.get_json()
    url = r.get_json()["url"]
    wait_for(lambda: client.get(url, headers=lead.headers).get_json()["status"] in ("completed", "failed"))
    body = client.get(url, headers=lead.headers).get_json()
    assert body["status"] == "completed" and body["task_count"] == 40, body
    assert stored_texts(text_project.id) == [f"u{i}" for i in range(40)]
    assert not list((get_settings().shared_root / "imports").iterdir())  # the received copy is gone


TRICKY = ["back\\slash", "tab\there", "new\nline", "carriage\rreturn", "\\N", "\\.", "quote \" and 'single'",
          "ünïcode ✓ 𝄞", "ends with a backslash \\"]


@pytest.mark.parametrize("plain", [True, False], ids=["plain-rows", "rows-with-meta"])
def test_copy_text_keeps_every_character(tmp_path, lead, text_project, plain):
    """The rows' COPY text (PostgreSQL) or parameters (SQLite) store backslashes, tabs, newlines,
    carriage returns, and the texts COPY itself treats specially, exactly as they were sent."""
    rows = [{"data": {"text": t}, **({} if plain else {"meta": {"note": t}})} for t in TRICKY]
    path = tmp_path / "tab\tand\\slash.jsonl"
    write_jsonl(path, rows)
    result = imports.import_data(lead.user, text_project.id, paths=[path])
    assert result.task_count == len(TRICKY)
    assert stored_texts(text_project.id) == TRICKY
    with read_session() as s:
        tasks = list(s.exec(select(Task).where(Task.project_id == text_project.id).order_by(Task.id)))
    assert {t.file_name for t in tasks} == {path.name}
    if not plain:
        assert [t.meta["note"] for t in tasks] == TRICKY


def test_copy_text_values():
    from datetime import UTC, datetime

    from labeling.bulkwrite import copy_text

    assert copy_text(None) == "\\N"
    assert copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert copy_text("\\N") == "\\\\N"
    assert (copy_text(True), copy_text(False), copy_text(7), copy_text(0.25)) == ("t", "f", "7", "0.25")
    assert copy_text(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2026-01-02T03:04:05.000006+00:00"
    with pytest.raises(TypeError):
        copy_text(b"bytes")


def test_each_task_keeps_the_name_of_its_file(tmp_path, lead, text_project, small_chunks):
    """Rows of one file are written with its name as one COPY constant; a chunk holding rows of
    two files writes each row's own name."""
    paths = []
    for name in ("first.jsonl", "second.jsonl"):
        paths.append(tmp_path / name)
        write_jsonl(paths[-1], [{"text": f"{name} {i}"} for i in range(15)])
    result = imports.import_data(lead.user, text_project.id, paths=paths)
    assert result.task_count == 30
    with read_session() as s:
        tasks = list(s.exec(select(Task).where(Task.project_id == text_project.id).order_by(Task.id)))
    assert [(t.data["text"].split()[0], t.file_name) for t in tasks] == (
        [("first.jsonl", "first.jsonl")] * 15 + [("second.jsonl", "second.jsonl")] * 15)


def test_the_garbage_collector_is_paused_while_an_import_runs(tmp_path, lead, text_project, small_chunks):
    """The cyclic collector is off while rows are read, checked and written, and on again when
    the import ends, whether it commits or is refused."""
    import gc

    assert gc.isenabled()
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [{"text": f"t{i}"} for i in range(30)])
    seen: list[tuple[str, bool]] = []
    imports.import_data(lead.user, text_project.id, paths=[path],
                        progress=lambda d, n, m: seen.append((m, gc.isenabled())))
    assert seen[-1] == ("done", True)  # reported once the import has committed
    assert len(seen) > 3 and not any(enabled for _, enabled in seen[:-1])
    assert gc.isenabled()
    write_jsonl(path, [{"text": f"t{i}"} for i in range(29)] + [{"text": 5}])
    with pytest.raises(Invalid):
        imports.import_data(lead.user, text_project.id, paths=[path])
    assert gc.isenabled()


def test_threads_take_quick_turns_while_an_import_runs(tmp_path, lead, text_project, small_chunks):
    """Python's thread switch interval is 0.5 ms while an import runs (its writer thread gets
    the GIL back sooner) and what it was once the import ends, committed or refused."""
    import sys

    before = sys.getswitchinterval()
    assert before > 0.0005
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [{"text": f"t{i}"} for i in range(30)])
    seen: list[tuple[str, float]] = []
    imports.import_data(lead.user, text_project.id, paths=[path],
                        progress=lambda d, n, m: seen.append((m, sys.getswitchinterval())))
    assert seen[-1] == ("done", before)
    assert len(seen) > 3 and all(interval == 0.0005 for _, interval in seen[:-1])
    write_jsonl(path, [{"text": f"t{i}"} for i in range(29)] + [{"text": 5}])
    with pytest.raises(Invalid):
        imports.import_data(lead.user, text_project.id, paths=[path])
    assert sys.getswitchinterval() == before


def test_an_imports_tasks_are_read_through_its_id_range(tmp_path, lead, text_project, small_chunks):
    """Each import records the smallest and largest id of its tasks (a streamed one over all its
    chunks); ``import_task_ids`` reads that range of the primary key and keeps the import's own
    tasks, also when another import's tasks lie inside the range (two imports at once)."""
    from labeling.db import get_engine, write_session

    first = imports.import_data(lead.user, text_project.id, body=[{"text": "a"}, {"text": "b"}])
    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [{"text": f"t{i}"} for i in range(35)])
    streamed = imports.import_data(lead.user, text_project.id, paths=[path])
    last = imports.import_data(lead.user, text_project.id, body=[{"text": "z"}])
    with read_session() as s:
        made = {b.id: [t.id for t in s.exec(select(Task).where(Task.import_id == b.id).order_by(Task.id))]
                for b in s.exec(select(ImportBatch))}
        ranges = {b.id: (b.first_task_id, b.last_task_id) for b in s.exec(select(ImportBatch))}
    assert [len(made[r.import_id]) for r in (first, streamed, last)] == [2, 35, 1]
    for batch_id, ids in made.items():
        assert ranges[batch_id] == (ids[0], ids[-1])
        assert imports.import_task_ids(batch_id) == ids
    # the first import's range widened over the others' tasks: still only its own
    with write_session() as s:
        s.execute(sa.update(ImportBatch).where(ImportBatch.id == first.import_id)
                  .values(last_task_id=made[last.import_id][-1]))
    assert imports.import_task_ids(first.import_id) == made[first.import_id]
    assert imports.import_task_ids(10**6) == []

    statements = []
    engine = get_engine()

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        imports.import_task_ids(streamed.import_id)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    sql, params = next((q, p) for q, p in statements if "FROM task" in q)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params))
            assert "pk_task" in plan, plan
        else:
            plan = "\n".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "INTEGER PRIMARY KEY" in plan, plan


def test_a_project_deleted_during_an_import_keeps_none_of_its_tasks(tmp_path, lead, text_project, small_chunks):
    """The project's delete waits for the import's transaction (the import holds the project's
    row; on PostgreSQL ``task.project_id`` has no foreign key, migration 0025) and then deletes
    what it wrote; an import started after the delete finds no project."""
    import threading

    from labeling.errors import NotFound

    path = tmp_path / "tasks.jsonl"
    write_jsonl(path, [{"text": f"t{i}"} for i in range(25)])
    wrote, go_on = threading.Event(), threading.Event()

    def progress(done, total, message):
        if message.startswith("wrote") and not wrote.is_set():
            wrote.set()  # the first chunk is written, its transaction open
            assert go_on.wait(30)

    results = []
    importer = threading.Thread(target=lambda: results.append(
        imports.import_data(lead.user, text_project.id, paths=[path], progress=progress)))
    importer.start()
    assert wrote.wait(30)
    deleter = threading.Thread(target=projects.delete_project, args=(lead.user, text_project.id))
    deleter.start()
    deleter.join(1.0)
    assert deleter.is_alive()  # waiting for the import
    go_on.set()
    importer.join(30)
    deleter.join(30)
    assert not importer.is_alive() and not deleter.is_alive()
    assert [r.task_count for r in results] == [25]  # committed, then deleted
    with read_session() as s:
        assert s.exec(select(sa.func.count()).select_from(Task).where(Task.project_id == text_project.id)).one() == 0
    with pytest.raises(NotFound):
        imports.import_data(lead.user, text_project.id, body=[{"text": "late"}])
