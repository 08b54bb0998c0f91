"""The import domain function: checks against the config, all-or-nothing, existing labels and
their annotators, predictions with probabilities, embeddings, duplicates, images and folders."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlmodel import select

from labeling import gold, imports, jobs, projects, thumbnails
from labeling.db import read_session, write_session
from labeling.errors import Conflict, Forbidden, Invalid
from labeling.imports import ImportFile
from labeling.media import thumbnail_for
from labeling.models import (
    Annotation,
    ImportBatch,
    Job,
    Media,
    Prediction,
    Task,
    TaskEvent,
    User,
)
from labeling.settings import get_settings

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>"""
IMAGE = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices></View>"""
NER = """<View><Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
<Text name="text" value="$text"/></View>"""


def choice(label: str, control: str = "label", to: str = "text") -> list[dict]:
    return [{"from_name": control, "to_name": to, "type": "choices", "value": {"choices": [label]}}]


def count(model) -> int:
    with read_session() as s:
        return s.execute(select(sa.func.count()).select_from(model)).scalar_one()


def nothing_stored() -> None:
    for model in (Task, ImportBatch, Annotation, Prediction, TaskEvent, Media):
        assert count(model) == 0, model.__name__


def stored(data: bytes) -> bool:
    """Whether the media store holds a file with these bytes."""
    sha = hashlib.sha256(data).hexdigest()
    return any((get_settings().media_root / sha[:2] / sha[2:4]).glob(f"{sha}.*"))


def png(color=(200, 10, 10), size=(16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def text_project(lead):
    return projects.create_project(lead.user, title="texts", label_config=TEXT)


@pytest.fixture
def image_project(lead):
    return projects.create_project(lead.user, title="images", label_config=IMAGE)


def test_label_studio_tasks_with_annotations_and_predictions(lead, annotator, text_project):
    body = [
        {"data": {"text": "good"}, "meta": {"source": "a"},
         "annotations": [{"result": choice("pos"), "completed_by": annotator.id, "lead_time": 3.5}],
         "predictions": [{"result": choice("pos"), "score": 0.9, "model_version": "m1",
                          "probs": {"pos": 0.9, "neg": 0.05, "neu": 0.05}}]},
        {"data": {"text": "bad"}, "annotations": [{"result": choice("neg"), "completed_by": "New.Person@Example.com"}]},
        {"data": {"text": "plain"}},
    ]
    result = imports.import_data(lead.user, text_project.id, body=body, return_task_ids=True)
    assert (result.task_count, result.annotation_count, result.prediction_count) == (3, 2, 1)
    assert result.new_users == 1 and result.status == "done" and len(result.task_ids) == 3
    with read_session() as s:
        tasks = {t.data["text"]: t for t in s.exec(select(Task))}
        assert tasks["good"].state == "labeled" and tasks["good"].n_annotations == 1
        assert tasks["good"].meta == {"source": "a"} and tasks["good"].import_id == result.import_id
        assert tasks["plain"].state == "open" and tasks["plain"].n_annotations == 0
        assert tasks["plain"].file_name is None  # sent in a body, not made from a file
        ann = s.exec(select(Annotation).where(Annotation.task_id == tasks["good"].id)).one()
        assert (ann.user_id, ann.source, ann.lead_time, ann.result) == (annotator.id, "import", 3.5, choice("pos"))
        newcomer = s.exec(select(User).where(User.email == "new.person@example.com")).one()
        assert newcomer.is_active is False and newcomer.role == "annotator" and newcomer.password_hash is None
        assert s.exec(select(Annotation.user_id).where(Annotation.task_id == tasks["bad"].id)).one() == newcomer.id
        pred = s.exec(select(Prediction)).one()
        assert pred.probs == {"pos": 0.9, "neg": 0.05, "neu": 0.05} and pred.score == 0.9 and pred.model_version == "m1"
        events = list(s.exec(select(TaskEvent)))
        assert {(e.task_id, e.from_state, e.to_state, e.user_id) for e in events} == {
            (tasks["good"].id, "open", "labeled", lead.id), (tasks["bad"].id, "open", "labeled", lead.id)}
        batch = s.get(ImportBatch, result.import_id)
        assert (batch.status, batch.task_count, batch.user_id) == ("done", 3, lead.id)


def test_imported_labels_count_toward_overlap(lead, make_user):
    project = projects.create_project(lead.user, title="two", label_config=TEXT, overlap=2)
    a, b = make_user("a@example.com"), make_user("b@example.com")
    body = [{"data": {"text": "one label"}, "annotations": [{"result": choice("pos"), "completed_by": a.email}]},
            {"data": {"text": "two labels"}, "annotations": [{"result": choice("pos"), "completed_by": a.id},
                                                             {"result": choice("neg"), "completed_by": b.email}]},
            {"data": {"text": "one skip"}, "annotations": [{"result": [], "was_cancelled": True, "completed_by": a.id}]}]
    imports.import_data(lead.user, project.id, body=body)
    with read_session() as s:
        rows = {t.data["text"]: (t.state, t.n_annotations, t.n_skips, t.target_overlap) for t in s.exec(select(Task))}
    assert rows == {"one label": ("open", 1, 0, 2), "two labels": ("labeled", 2, 0, 2), "one skip": ("open", 0, 1, 2)}
    assert count(TaskEvent) == 1


def test_one_bad_row_refuses_everything_with_row_and_field(lead, text_project):
    body = [{"data": {"text": "ok"}},
            {"data": {"txt": "field missing"}},
            {"data": {"text": "bad label"}, "annotations": [{"result": choice("maybe"), "completed_by": "x@example.com"}]}]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=body)
    problems = {(e["row"], e["field"]) for e in err.value.errors}
    assert problems == {(2, "data"), (3, "annotations[0].result")}
    assert "nothing was imported" in err.value.detail
    assert any("'maybe'" in e["detail"] for e in err.value.errors)
    nothing_stored()
    assert count(User) == 1  # the lead only: no account for x@example.com


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(lead, text_project):
    body = [{"data": {"text": "ok 1"}}, {"data": {"text": 5}}, {"data": {"text": "ok 2"}}]
    result = imports.import_data(lead.user, text_project.id, body=body, skip_invalid=True)
    assert (result.task_count, result.skipped_invalid) == (2, 1)
    assert result.errors[0]["row"] == 2 and "must be a string" in result.errors[0]["detail"]
    assert count(Task) == 2


def test_only_the_first_100_problems_are_listed(lead, text_project):
    body = [{"data": {"other": i}} for i in range(250)]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=body)
    assert len(err.value.errors) == 100
    assert err.value.detail.startswith("250 problem(s) in 250 of 250 row(s)")
    assert err.value.errors[0]["row"] == 1 and err.value.errors[-1]["row"] == 100


def test_dedupe_skips_tasks_already_there_and_repeats(lead, text_project):
    imports.import_data(lead.user, text_project.id, body=[{"text": "a"}, {"text": "b"}])
    result = imports.import_data(lead.user, text_project.id, dedupe=True,
                                  body=[{"data": {"text": "b"}}, {"text": "c"}, {"text": "c"}])
    assert (result.task_count, result.skipped_duplicates) == (1, 2)
    again = imports.import_data(lead.user, text_project.id, body=[{"text": "a"}])  # without dedupe: kept
    assert again.task_count == 1 and count(Task) == 4


def test_dedupe_lookup_finds_this_projects_hashes_through_its_index(lead, text_project):
    """known_hashes names the hashes this project's tasks have (not another project's), and its
    query is answered from an index: on PostgreSQL the GIN index on the data (no index of the
    hashes there since migration 0031), never a scan of the tasks; ix_task_project_hash on SQLite."""
    from labeling.db import get_engine
    from labeling.imports.bulk import known_hashes

    other = projects.create_project(lead.user, title="other", label_config=TEXT)
    imports.import_data(lead.user, text_project.id, body=[{"text": "a"}, {"text": "b"}])
    imports.import_data(lead.user, other.id, body=[{"text": "c"}])
    # enough of the project's tasks that reading them all is not the planner's cheapest way
    imports.import_data(lead.user, text_project.id, body=[{"text": f"t{i}"} for i in range(3000)])
    docs = {t: json.dumps({"text": t}, separators=(",", ":")) for t in "abcd"}
    digest = {t: hashlib.sha256(docs[t].encode()).hexdigest() for t in "abcd"}
    with read_session() as s:
        assert known_hashes(s, text_project.id, {digest[t]: docs[t] for t in "abcd"}) == {digest["a"], digest["b"]}
        assert known_hashes(s, other.id, {digest[t]: docs[t] for t in "acd"}) == {digest["c"]}

    engine = get_engine()
    pg = engine.dialect.name == "postgresql"
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with read_session() as s:
            known_hashes(s, text_project.id, {digest[t]: docs[t] for t in "ab"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    sql, params = next((q, p) for q, p in statements if "content_hash" in q)
    with engine.connect() as conn:
        if pg:
            conn.exec_driver_sql("ANALYZE task")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params))
            assert "ix_task_data_gin" in plan and "Seq Scan" not in plan, plan
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("task")}
            assert not {"ix_task_project_key", "ix_task_project_hash"} & indexes
        else:
            plan = "\n".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "ix_task_project_hash" in plan


def test_dedupe_lookup_of_data_without_a_scalar_value(lead, text_project):
    """Data with no string, number, boolean or null in it gives the GIN nothing to look up: its
    hash is found among the project's tasks all the same (and a row with a value is not
    confused with one without)."""
    from labeling.canonical import content_hash, dumps
    from labeling.imports.bulk import known_hashes

    bare, full = {"text": [], "meta": {}}, {"text": [None]}
    with write_session() as s:
        for data in (bare, full):
            s.add(Task(project_id=text_project.id, data=data, content_hash=content_hash(data)))
    other = {"text": [[]]}
    with read_session() as s:
        docs = {content_hash(d): dumps(d) for d in (bare, full, other)}
        assert known_hashes(s, text_project.id, docs) == {content_hash(bare), content_hash(full)}


@pytest.mark.parametrize("probs, message", [
    ({"pos": math.nan, "neg": 0.5}, "finite"),
    ({"pos": 0.5, "neg": 0.3}, "sum to 0.8"),
    ({"pos": 0.5, "unsure": 0.5}, "unknown label"),
    ({"pos": 1.5, "neg": -0.5}, "between 0 and 1"),
    ("pos", "must be an object"),
])
def test_bad_probabilities_are_refused(lead, text_project, probs, message):
    body = [{"data": {"text": "t"}, "predictions": [{"result": choice("pos"), "probs": probs}]}]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=body)
    assert err.value.errors[0]["field"] == "predictions[0].probs"
    assert message in err.value.errors[0]["detail"]
    nothing_stored()


def test_probabilities_alone_make_the_prediction_result(lead, text_project):
    body = [{"data": {"text": "t"}, "predictions": [{"probs": {"pos": 0.2, "neg": 0.7, "neu": 0.1}}]}]
    imports.import_data(lead.user, text_project.id, body=body)
    with read_session() as s:
        pred = s.exec(select(Prediction)).one()
    assert pred.result == choice("neg") and pred.score == 0.7


def test_embeddings_are_checked_across_the_project(lead, text_project):
    imports.import_data(lead.user, text_project.id, body=[{"text": "a", "embedding": [0.1, 0.2, 0.3]}])
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=[{"text": "b", "embedding": [0.1, 0.2]}])
    assert err.value.errors[0]["field"] == "data.embedding"
    assert "has 2 values, but the embeddings of the project's tasks have 3" in err.value.errors[0]["detail"]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id,
                             body=[{"text": "c", "embedding": [0.1, "x", 0.3]}, {"text": "d", "embedding": [1, 2, math.inf]}])
    assert [e["row"] for e in err.value.errors] == [1, 2]
    assert count(Task) == 1


def test_embedding_lengths_must_agree_within_an_import(lead, text_project):
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id,
                             body=[{"text": "a", "embedding": [1.0, 2.0]}, {"text": "b", "embedding": [1.0]}])
    assert "the embeddings of row 1 have 2" in err.value.errors[0]["detail"]


def test_completed_by_must_be_a_known_id_and_one_annotation_per_annotator(lead, annotator, text_project):
    body = [{"data": {"text": "a"}, "annotations": [{"result": choice("pos"), "completed_by": 9999}]},
            {"data": {"text": "b"}, "annotations": [{"result": choice("pos"), "completed_by": annotator.id},
                                                    {"result": choice("neg"), "completed_by": annotator.email}]},
            {"data": {"text": "c"}, "annotations": [{"result": choice("pos"), "completed_by": "not an email"}]}]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=body)
    details = {e["row"]: e["detail"] for e in err.value.errors}
    assert "no user with id 9999" in details[1]
    assert "more than one annotation" in details[2]
    assert "user id or an email" in details[3]
    nothing_stored()


def test_ner_spans_are_checked_against_the_text(lead):
    project = projects.create_project(lead.user, title="ner", label_config=NER)
    span = {"from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]}}
    ok = imports.import_data(lead.user, project.id, body=[{"data": {"text": "Alice works"},
                                                            "annotations": [{"result": [span]}]}])
    assert ok.annotation_count == 1
    bad = dict(span, value=dict(span["value"], end=50))
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, project.id, body=[{"data": {"text": "Bob"}, "annotations": [{"result": [bad]}]}])
    assert "outside the text" in err.value.errors[0]["detail"]


def test_labels_without_an_annotator_go_to_a_per_import_labels_user(lead, text_project):
    first = imports.import_data(lead.user, text_project.id, body=[{"data": {"text": "a"}, "annotations": [{"result": choice("pos")}]}])
    second = imports.import_data(lead.user, text_project.id, body=[{"data": {"text": "b"}, "annotations": [{"result": choice("neg")}]}])
    with read_session() as s:
        owners = {a.task_id: s.get(User, a.user_id) for a in s.exec(select(Annotation))}
    users = {u.email for u in owners.values()}
    assert users == {f"imported-labels-{first.import_id}@labelfab.local", f"imported-labels-{second.import_id}@labelfab.local"}
    assert all(not u.is_active for u in owners.values())


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_image_folder_zip_imports_images_with_their_folder_labels(lead, image_project):
    archive = zip_bytes({"pets/cat/c1.png": png((255, 0, 0)), "pets/cat/c2.png": png((0, 255, 0)),
                         "pets/dog/d1.png": png((0, 0, 255))})
    result = imports.import_data(lead.user, image_project.id, files=[ImportFile("pets.zip", archive)],
                                  background=False)
    assert (result.task_count, result.annotation_count) == (3, 3)
    assert result.thumbnail_job_id is not None
    root = get_settings().media_root
    with read_session() as s:
        tasks = {t.file_name: t for t in s.exec(select(Task))}
        assert set(tasks) == {"pets/cat/c1.png", "pets/cat/c2.png", "pets/dog/d1.png"}
        t = tasks["pets/dog/d1.png"]
        media = s.get(Media, t.media_id)
        assert t.data == {"image": f"/media/{image_project.id}/{media.sha256}.png"}
        assert (media.width, media.height, media.mime) == (16, 12, "image/png")
        assert (root / media.sha256[:2] / media.sha256[2:4] / f"{media.sha256}.png").is_file()
        labels = {s.get(Task, a.task_id).file_name: a.result[0]["value"]["choices"][0] for a in s.exec(select(Annotation))}
        assert labels == {"pets/cat/c1.png": "cat", "pets/cat/c2.png": "cat", "pets/dog/d1.png": "dog"}
        assert {t.state for t in tasks.values()} == {"labeled"}
        assert s.get(Job, result.thumbnail_job_id).kind == "thumbnails"


def test_image_folder_on_disk_and_unknown_folder_label(lead, image_project, tmp_path):
    for name, color in (("cat/a.png", (1, 2, 3)), ("dog/b.png", (4, 5, 6)), ("horse/c.png", (7, 8, 9))):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(png(color))
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, image_project.id, paths=[tmp_path])
    assert err.value.errors[0]["field"] == "label" and "folder 'horse' is not a label" in err.value.errors[0]["detail"]
    nothing_stored()
    assert not any(stored(png(c)) for c in ((1, 2, 3), (4, 5, 6), (7, 8, 9)))  # files removed again
    result = imports.import_data(lead.user, image_project.id, paths=[tmp_path], skip_invalid=True)
    assert (result.task_count, result.skipped_invalid) == (2, 1)
    assert [stored(png(c)) for c in ((1, 2, 3), (4, 5, 6), (7, 8, 9))] == [True, True, False]


def test_images_cannot_go_into_a_text_project(lead, text_project):
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, files=[ImportFile("a.png", png())])
    assert "has no <Image>" in err.value.errors[0]["detail"]
    nothing_stored()


def test_txt_lines_go_to_the_configs_text_field(lead):
    config = TEXT.replace("$text", "$review")
    project = projects.create_project(lead.user, title="reviews", label_config=config)
    result = imports.import_data(lead.user, project.id, files=[ImportFile("reviews.txt", b"nice\n\nawful\n")])
    assert result.task_count == 2
    with read_session() as s:
        assert sorted((t.data["review"], t.file_name) for t in s.exec(select(Task))) == [
            ("awful", "reviews.txt"), ("nice", "reviews.txt")]


def test_an_interrupted_import_leaves_nothing(lead, image_project):
    images = [png((i, 99, 0)) for i in range(40)]
    archive = zip_bytes({f"cat/{i}.png": data for i, data in enumerate(images)})

    def interrupt(done, total, message):
        if message.startswith("checked"):
            raise KeyboardInterrupt  # the operator pressed Ctrl-C half-way

    with pytest.raises(KeyboardInterrupt):
        imports.import_data(lead.user, image_project.id, files=[ImportFile("cats.zip", archive)],
                             background=False, progress=interrupt)
    nothing_stored()
    assert not any(stored(data) for data in images)


def test_rights_and_archived_projects(lead, annotator, text_project):
    with pytest.raises(Forbidden):
        imports.import_data(annotator.user, text_project.id, body=[{"text": "x"}])
    projects.archive_project(lead.user, text_project.id)
    with pytest.raises(Conflict):
        imports.import_data(lead.user, text_project.id, body=[{"text": "x"}])
    nothing_stored()


def test_large_import_runs_as_a_job_with_progress(lead, text_project, worker, monkeypatch):
    monkeypatch.setenv("LABELFAB_IMPORT_JOB_THRESHOLD", "10")
    get_settings.cache_clear()
    try:
        raw = b"[" + b",".join(b'{"text": "t%d"}' % i for i in range(25)) + b"]"
        result = imports.import_data(lead.user, text_project.id, body=raw)
    finally:
        monkeypatch.delenv("LABELFAB_IMPORT_JOB_THRESHOLD")
        get_settings.cache_clear()
    assert result.status == "queued" and result.job_id is not None

    from tests.conftest import wait_for

    job = wait_for(lambda: (j := jobs.get_job(result.job_id)) and j.status in ("done", "failed") and j, timeout=90)
    assert job.status == "done", job.message
    assert job.result["task_count"] == 25 and job.progress == 1.0
    batch, _ = imports.get_import(lead.user, text_project.id, result.import_id)
    assert (batch.status, batch.task_count, batch.job_id) == ("done", 25, result.job_id)
    assert count(Task) == 25
    assert not any((get_settings().data_dir / "imports").iterdir())  # the staged body is gone


def test_media_file_is_served_only_within_its_project(lead, make_user, image_project):
    imports.import_data(lead.user, image_project.id, files=[ImportFile("one.png", png())])
    other = projects.create_project(lead.user, title="other", label_config=IMAGE)
    with read_session() as s:
        media = s.exec(select(Media)).one()
    path, mime, final = thumbnails.media_file(lead.user, image_project.id, media.sha256, "png")
    assert path.read_bytes() == png() and mime == "image/png" and final
    thumb, _, final = thumbnails.media_file(lead.user, image_project.id, media.sha256, "jpg", thumbnail=True)
    assert thumb == path and not final  # no thumbnail yet: the original stands in
    from labeling.errors import NotFound

    with pytest.raises(NotFound):
        thumbnails.media_file(lead.user, other.id, media.sha256, "png")
    assert thumbnail_for(f"/media/{image_project.id}/{media.sha256}.png") == \
        f"/media/{image_project.id}/thumbs/{media.sha256}.jpg"
    assert thumbnail_for("https://example.com/a.png") is None


def test_demo_is_idempotent(admin):
    from labeling import demo

    first = demo.load_demo(admin.user)
    assert [d["status"] for d in first] == ["created", "created"]
    assert first[0]["tasks"] == 300 and first[1]["tasks"] == len(demo.TEXTS)
    again = demo.load_demo(admin.user)
    assert [d["status"] for d in again] == ["exists", "exists"]
    assert count(Task) == 300 + len(demo.TEXTS)
    truth = demo.digits_truth()
    with read_session() as s:
        given = {s.get(Task, a.task_id).file_name: a.result[0]["value"]["choices"][0] for a in s.exec(select(Annotation))}
    wrong = sum(1 for name, label in given.items() if truth[name] != label)
    assert wrong == 30  # 10% of the folder labels are wrong on purpose
    assert all(Path(name).parts[0] == label for name, label in given.items())


def test_a_large_plain_import_is_written_in_order(lead, text_project):
    n = 25_000  # more than one chunk of the pipelined writer
    result = imports.import_data(lead.user, text_project.id, body=[{"text": f"row {i}"} for i in range(n)],
                                  return_task_ids=True, background=False)
    assert result.task_count == n and result.task_ids == list(range(result.task_ids[0], result.task_ids[0] + n))
    with read_session() as s:
        for position in (0, 9_999, 10_000, n - 1):
            task = s.get(Task, result.task_ids[position])
            assert task.data == {"text": f"row {position}"} and task.state == "open" and task.meta == {}
            assert task.content_hash == hashlib.sha256(f'{{"text":"row {position}"}}'.encode()).hexdigest()
            assert task.created_at.tzinfo is not None and task.gold_answer is None and task.target_overlap == 1
    again = imports.import_data(lead.user, text_project.id, body=[{"text": "row 5"}, {"text": "new"}], dedupe=True)
    assert (again.task_count, again.skipped_duplicates) == (1, 1)


def test_data_that_is_not_json_is_refused(lead, text_project):
    with pytest.raises(Invalid) as err:  # possible only from Python: JSON input cannot carry NaN
        imports.import_data(lead.user, text_project.id, body=[{"text": "a", "score": math.nan}])
    assert err.value.errors[0]["field"] == "data" and "not JSON compliant" in err.value.errors[0]["detail"]
    many = [{"text": f"t{i}"} for i in range(12_000)] + [{"text": "last", "when": object()}]
    with pytest.raises(Invalid) as err:  # found while writing the pipelined chunks: rolled back
        imports.import_data(lead.user, text_project.id, body=many, background=False)
    assert err.value.errors[0]["row"] == 12_001
    nothing_stored()


# --------------------------------------------------------------------------- gold tasks


def test_gold_tasks_come_with_their_answer(lead, annotator, text_project):
    body = [
        {"data": {"text": "gold given"}, "is_gold": True, "gold_answer": choice("pos")},
        {"data": {"text": "gold from its annotation"}, "is_gold": True,
         "annotations": [{"result": choice("neg"), "completed_by": annotator.id}]},
        {"data": {"text": "gold with an answer already"}, "is_gold": True, "gold_answer": choice("neu"),
         "annotations": [{"result": choice("pos"), "completed_by": annotator.id}]},
        {"data": {"text": "ordinary"}, "is_gold": False, "gold_answer": None,
         "annotations": [{"result": choice("pos"), "completed_by": annotator.id}]},
    ]
    result = imports.import_data(lead.user, text_project.id, body=body)
    assert (result.task_count, result.annotation_count, result.gold_count) == (4, 2, 3)
    assert result.as_dict()["gold_count"] == 3
    with read_session() as s:
        tasks = {t.data["text"]: t for t in s.exec(select(Task))}
        rows = {k: (t.is_gold, t.gold_answer, t.state, t.n_annotations) for k, t in tasks.items()}
        answered = {t for (t,) in s.execute(select(Annotation.task_id))}
        events = {e.task_id for e in s.exec(select(TaskEvent))}
    assert rows == {
        "gold given": (True, choice("pos"), "open", 0),
        # the one annotation became the answer, not an annotation counting toward overlap
        "gold from its annotation": (True, choice("neg"), "open", 0),
        # annotations besides a gold_answer are an annotator's answers to the gold task: own track, still open
        "gold with an answer already": (True, choice("neu"), "open", 1),
        "ordinary": (False, None, "labeled", 1),
    }
    assert answered == {tasks["gold with an answer already"].id, tasks["ordinary"].id}
    assert events == {tasks["ordinary"].id}


@pytest.mark.parametrize("row, fld, message", [
    ({"is_gold": True}, "gold_answer", "a gold task needs its answer"),
    ({"is_gold": True, "annotations": [{"result": choice("pos"), "completed_by": "x@example.com"},
                                       {"result": choice("neg"), "completed_by": "y@example.com"}]},
     "gold_answer", "the task has 2"),
    ({"is_gold": True, "annotations": [{"result": [], "was_cancelled": True}]},
     "annotations[0].was_cancelled", "a skipped annotation cannot be a gold answer"),
    ({"is_gold": True, "gold_answer": choice("maybe")}, "gold_answer", "maybe"),
    ({"is_gold": True, "gold_answer": []}, "gold_answer", "non-empty list of result items"),
    ({"is_gold": True, "annotations": [{"result": choice("maybe")}]}, "annotations[0].result", "maybe"),
    ({"is_gold": "yes", "gold_answer": choice("pos")}, "is_gold", "must be true or false"),
    ({"gold_answer": choice("pos")}, "gold_answer", "not marked gold"),
])
def test_bad_gold_rows_refuse_the_whole_import(lead, text_project, row, fld, message):
    body = [{"data": {"text": "fine"}}, {"data": {"text": "the gold one"}, **row}]
    with pytest.raises(Invalid) as err:
        imports.import_data(lead.user, text_project.id, body=body)
    problems = err.value.errors
    assert [(p["row"], p["field"]) for p in problems] == [(2, fld)]
    assert message in problems[0]["detail"]
    nothing_stored()
    assert count(User) == 1  # the lead only: no labels user was made for the refused answer


def test_gold_in_json_lines_and_a_flat_is_gold_column_is_only_data(lead, text_project):
    lines = (b'{"data": {"text": "g"}, "is_gold": true, "gold_answer": [{"from_name": "label", "to_name": "text", '
             b'"type": "choices", "value": {"choices": ["pos"]}}]}\n{"data": {"text": "plain"}}\n')
    result = imports.import_data(lead.user, text_project.id, files=[ImportFile("tasks.jsonl", lines)])
    assert (result.task_count, result.gold_count) == (2, 1)
    other = projects.create_project(lead.user, title="csv", label_config=TEXT)
    csv_file = ImportFile("tasks.csv", b"text,is_gold\nhello,true\n")
    assert imports.import_data(lead.user, other.id, files=[csv_file]).gold_count == 0
    with read_session() as s:
        t = s.exec(select(Task).where(Task.project_id == other.id)).one()
    assert (t.is_gold, t.data) == (False, {"text": "hello", "is_gold": "true"})


def test_imported_gold_is_served_at_the_gold_rate_and_scores_annotators(lead, make_user):
    from labeling import annotations, exports, router

    project = projects.create_project(lead.user, title="gold", label_config=TEXT, overlap=1, gold_rate=0.25,
                                      gold_threshold=0.75, gold_min_items=2)
    body = [{"data": {"text": "gold pos"}, "is_gold": True, "gold_answer": choice("pos")},
            {"data": {"text": "gold neg"}, "is_gold": True,
             "annotations": [{"result": choice("neg"), "completed_by": "someone@example.com"}]},
            *({"data": {"text": f"item {i}"}} for i in range(12))]
    imports.import_data(lead.user, project.id, body=body)
    good, bad = make_user("good@example.com"), make_user("bad@example.com")
    served: dict[str, list[str]] = {}
    for person in (good, bad):
        served[person.email] = []
        for _ in range(8):
            task = router.next_task(project.id, person.user)
            text = task.data["text"]
            served[person.email].append(text)
            if text.startswith("gold"):  # the good one answers gold right, the bad one wrong
                answer = text.split()[1] if person is good else "neu"
            else:
                answer = "pos"
            annotations.submit(task.id, person.user, result=choice(answer))
    for texts in served.values():  # every fourth task served is gold
        assert [t.startswith("gold") for t in texts] == [False, False, False, True] * 2
    with read_session() as s:
        scores = gold.gold_accuracy(s, project.id)
    assert scores == {good.id: (2, 2), bad.id: (2, 0)}
    table = {r["email"]: r for r in gold.annotator_quality(project.id, lead.user)}
    assert table["good@example.com"]["gold_accuracy"] == 1.0 and not table["good@example.com"]["paused"]
    assert table["bad@example.com"]["paused"] and table["bad@example.com"]["gold_accuracy"] == 0.0
    with pytest.raises(router.Paused):
        router.next_task(project.id, bad.user)
    assert "someone@example.com" not in table  # the annotation that gave the answer made no user
    exported = json.loads(b"".join(exports.iter_ls_json(project.id, lead.user, download_all_tasks=True)))
    assert len(exported) == 12 and not any(t["data"]["text"].startswith("gold") for t in exported)
