"""The clean export (labeling.exports): accepted tasks with their final labels, every format,
filters, splits, gold never, and the clear errors.

Tasks are made with the real importer (annotations included, so they arrive ``labeled``); the
QC/review step that accepts them belongs to other issues, so :func:`accept` stands in for it:
it moves tasks to ``accepted`` with a TaskEvent, as the review code does.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from PIL import Image

from labeling import annotations, exports, imports, projects
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import Role, Task, TaskEvent, TaskState

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices>
</View>"""
MULTI = """<View><Text name="text" value="$text"/>
<Choices name="topic" toName="text" choice="multiple"><Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices>
</View>"""
NER = """<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
<Text name="text" value="$text"/></View>"""
BOXES = """<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels></View>"""


def choice(*names: str, control: str = "label") -> list[dict]:
    return [{"from_name": control, "to_name": "text", "type": "choices", "value": {"choices": list(names)}}]


def text_task(i: int, *labels: str, by: str | None = None) -> dict:
    """A task with one annotation per label (by ``by``, or by annotators k@example.com)."""
    who = [by] if by else ([f"annotator{k}@example.com" for k in range(len(labels))] if len(labels) > 1 else [None])
    anns = [{"result": choice(name), **({"completed_by": w} if w else {})} for name, w in zip(labels, who, strict=True)]
    return {"data": {"text": f"text number {i}"}, "annotations": anns}


def make_project(owner, tasks: list[dict], *, config: str = TEXT, overlap: int = 1) -> int:
    project = projects.create_project(owner, title="export test", label_config=config, overlap=overlap)
    imports.import_data(owner, project.id, body=tasks, background=False)
    return project.id


def task_ids(project_id: int) -> list[int]:
    with read_session() as s:
        return list(s.execute(sa.select(Task.id).where(Task.project_id == project_id).order_by(Task.id)).scalars())


def accept(project_id: int, ids: list[int] | None = None, *, final: dict[int, tuple[list, str]] | None = None) -> None:
    """Stand-in for QC and review: move tasks to ``accepted`` (with a TaskEvent each) and
    optionally store a final label, as labeling.review does."""
    now = utcnow()
    with write_session() as s:
        q = sa.select(Task).where(Task.project_id == project_id)
        if ids is not None:
            q = q.where(Task.id.in_(ids))
        for task in s.execute(q).scalars():
            s.add(TaskEvent(task_id=task.id, project_id=project_id, from_state=task.state,
                            to_state=TaskState.accepted, reason="test: accepted", created_at=now))
            task.state = TaskState.accepted
            task.updated_at = now
            if final and task.id in final:
                task.final_label, task.final_source = final[task.id]


def rows(result: exports.Export) -> list[dict]:
    return [json.loads(line) for line in b"".join(result).decode().splitlines()]


@pytest.fixture
def owner(lead):
    return lead.user


# --------------------------------------------------------------------------- JSONL and labels


def test_jsonl_has_accepted_tasks_with_their_final_labels(owner):
    pid = make_project(owner, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(6)])
    ids = task_ids(pid)
    accept(pid, ids[:4])
    out = exports.export(pid, owner, format="JSONL")
    got = rows(out)
    assert [r["id"] for r in got] == ids[:4]
    assert [r["label"] for r in got] == ["pos", "neg", "neu", "pos"]
    assert {r["label_source"] for r in got} == {"single"}
    assert got[0]["data"] == {"text": "text number 0"}
    assert {r["split"] for r in got} <= {"train", "validation", "test"}
    assert out.filename == f"project-{pid}-jsonl.jsonl"
    assert out.stats.n_items == 4 and out.stats.labels() == {"pos": 2, "neg": 1, "neu": 1}


def test_stored_final_label_wins_and_majority_is_derived(owner):
    tasks = [text_task(0, "pos", "pos", "neg"), text_task(1, "neg", "pos", "neg"), text_task(2, "neu", "neu", "neu")]
    pid = make_project(owner, tasks, overlap=3)
    ids = task_ids(pid)
    accept(pid, final={ids[2]: (choice("pos"), "reviewer")})
    got = {r["id"]: r for r in rows(exports.export(pid, owner))}
    assert (got[ids[0]]["label"], got[ids[0]]["label_source"]) == ("pos", "majority")
    assert (got[ids[1]]["label"], got[ids[1]]["label_source"]) == ("neg", "majority")
    assert (got[ids[2]]["label"], got[ids[2]]["label_source"]) == ("pos", "reviewer")


def test_gold_is_never_exported(owner):
    pid = make_project(owner, [text_task(i, "pos") for i in range(3)])
    ids = task_ids(pid)
    accept(pid)
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == ids[1]).values(is_gold=True))
    for state in ("accepted", "all"):
        got = rows(exports.export(pid, owner, filters=exports.parse_filters(state=state)))
        assert [r["id"] for r in got] == [ids[0], ids[2]]


def test_filters_state_label_annotator_and_date(owner, make_user):
    ann = make_user("worker@example.com", Role.annotator)
    tasks = [text_task(0, "pos", by=ann.email), text_task(1, "neg", by=ann.email), text_task(2, "pos"),
             text_task(3, "neu")]
    pid = make_project(owner, tasks)
    ids = task_ids(pid)
    accept(pid, ids[:3])  # ids[3] stays labeled
    f = exports.parse_filters
    assert [r["id"] for r in rows(exports.export(pid, owner, filters=f(label="pos")))] == [ids[0], ids[2]]
    assert [r["id"] for r in rows(exports.export(pid, owner, filters=f(annotator=ann.email)))] == ids[:2]
    assert [r["id"] for r in rows(exports.export(pid, owner, filters=f(annotator=str(ann.id), label="neg")))] == [ids[1]]
    assert [r["id"] for r in rows(exports.export(pid, owner, filters=f(state="labeled")))] == [ids[3]]
    assert [r["id"] for r in rows(exports.export(pid, owner, filters=f(state="labeled,accepted")))] == ids
    today = utcnow().date().isoformat()
    assert len(rows(exports.export(pid, owner, filters=f(since=today)))) == 3
    with pytest.raises(Conflict):
        exports.export(pid, owner, filters=f(until=today))


def test_splits_are_stratified_and_deterministic(owner):
    pid = make_project(owner, [text_task(i, "pos" if i % 4 else "neg") for i in range(200)])
    accept(pid)
    first = rows(exports.export(pid, owner, splits=exports.Splits(seed=7)))
    again = rows(exports.export(pid, owner, splits=exports.Splits(seed=7)))
    other = rows(exports.export(pid, owner, splits=exports.Splits(seed=8)))
    assert first == again
    assert [r["split"] for r in first] != [r["split"] for r in other]
    for label, n in (("pos", 150), ("neg", 50)):
        splits = [r["split"] for r in first if r["label"] == label]
        assert len(splits) == n
        assert splits.count("validation") == n // 10 and splits.count("test") == n // 10


def test_split_shares_can_be_chosen():
    assigner = exports.SplitAssigner(exports.parse_splits(seed="3", split="70,20,10"))
    codes = [assigner("x") for _ in range(100)]
    assert (codes.count(0), codes.count(1), codes.count(2)) == (70, 20, 10)


def test_export_streams_in_batches(owner):
    pid = make_project(owner, [text_task(i, "neg") for i in range(7)])
    accept(pid)
    chunks = list(exports.export(pid, owner, batch_size=2))
    assert len(chunks) == 4
    assert [r["id"] for r in map(json.loads, b"".join(chunks).splitlines())] == task_ids(pid)


# --------------------------------------------------------------------------- other formats


def test_parquet_one_row_per_task(owner):
    pid = make_project(owner, [text_task(i, ["pos", "neg"][i % 2]) for i in range(5)])
    accept(pid)
    out = exports.export(pid, owner, format="PARQUET")
    table = pq.read_table(io.BytesIO(b"".join(out)))
    assert table.column_names == ["id", "data", "label", "label_source", "split"]
    assert table.column("id").to_pylist() == task_ids(pid)
    assert table.column("label").to_pylist() == ["pos", "neg", "pos", "neg", "pos"]
    assert json.loads(table.column("data")[0].as_py()) == {"text": "text number 0"}


def test_parquet_multilabel_is_a_list_of_names(owner):
    tasks = [{"data": {"text": "x"}, "annotations": [{"result": choice("a", "c", control="topic")}]}]
    pid = make_project(owner, tasks, config=MULTI)
    accept(pid)
    table = pq.read_table(io.BytesIO(b"".join(exports.export(pid, owner, format="PARQUET"))))
    assert table.column("label").to_pylist() == [["a", "c"]]


def test_csv_tsv_json_min_and_label_studio_json(owner):
    pid = make_project(owner, [text_task(0, "pos"), text_task(1, "neg")])
    accept(pid)
    ids = task_ids(pid)
    for fmt, sep in (("CSV", ","), ("TSV", "\t")):
        text = b"".join(exports.export(pid, owner, format=fmt)).decode()
        table = list(csv.DictReader(io.StringIO(text), delimiter=sep))
        assert [(int(r["id"]), r["text"], r["label"], r["label_source"]) for r in table] == [
            (ids[0], "text number 0", "pos", "single"), (ids[1], "text number 1", "neg", "single")]
    minimal = json.loads(b"".join(exports.export(pid, owner, format="JSON_MIN")))
    assert minimal[0]["label"] == "pos" and minimal[0]["text"] == "text number 0" and minimal[0]["id"] == ids[0]
    full = json.loads(b"".join(exports.export(pid, owner, format="json")))
    assert [t["annotations"][0]["result"] for t in full] == [choice("pos"), choice("neg")]
    assert [t["final_label"] for t in full] == [choice("pos"), choice("neg")]
    assert full[0]["annotations"][0]["ground_truth"] is False and full[0]["label_source"] == "single"


def test_conll2003_through_the_converter(owner):
    text = "Ada Lovelace met Babbage"
    result = [{"from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": 0, "end": 12, "text": "Ada Lovelace", "labels": ["PER"]}}]
    pid = make_project(owner, [{"data": {"text": text}, "annotations": [{"result": result}]}], config=NER)
    accept(pid)
    out = exports.export(pid, owner, format="CONLL2003")
    assert out.filename.endswith(".conll")
    lines = b"".join(out).decode().splitlines()
    assert lines[0].startswith("-DOCSTART-")
    assert "Ada -X- _ B-PER" in lines and "Lovelace -X- _ I-PER" in lines and "met -X- _ O" in lines
    got = rows(exports.export(pid, owner))
    assert got[0]["label"] == result  # spans are exported as Label Studio result items


@pytest.fixture
def boxes(owner, annotator, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, colour in enumerate(("red", "green")):
        Image.new("RGB", (40, 20), colour).save(folder / f"img{i}.png")
    project = projects.create_project(owner, title="boxes", label_config=BOXES)
    imports.import_data(owner, project.id, paths=[folder], background=False)
    for tid in task_ids(project.id):
        box = [{"from_name": "label", "to_name": "image", "type": "rectanglelabels", "original_width": 40,
                "original_height": 20, "value": {"x": 10, "y": 10, "width": 50, "height": 50,
                                                 "rectanglelabels": ["cat"]}}]
        annotations.submit(tid, annotator.user, result=box)
    accept(project.id)
    return project.id


def test_coco_yolo_voc_zips_with_images_as_files_or_urls(owner, boxes):
    coco = zipfile.ZipFile(io.BytesIO(b"".join(exports.export(boxes, owner, format="COCO", media="files"))))
    names = coco.namelist()
    body = json.loads(coco.read("result.json"))
    assert [c["name"] for c in body["categories"]] == ["cat", "dog"]
    assert len(body["annotations"]) == 2 and body["annotations"][0]["bbox"] == [4.0, 2.0, 20.0, 10.0]
    assert all(img["file_name"] in names and img["file_name"].startswith("images/") for img in body["images"])
    urls = zipfile.ZipFile(io.BytesIO(b"".join(exports.export(boxes, owner, format="COCO_WITH_IMAGES"))))
    assert any(n.startswith("images/") for n in urls.namelist())
    by_url = zipfile.ZipFile(io.BytesIO(b"".join(exports.export(boxes, owner, format="COCO",
                                                                base_url="http://lab.example"))))
    images = json.loads(by_url.read("result.json"))["images"]
    assert all(img["file_name"].startswith(f"http://lab.example/media/{boxes}/") for img in images)
    assert not any(n.startswith("images/") for n in by_url.namelist())
    yolo = zipfile.ZipFile(io.BytesIO(b"".join(exports.export(boxes, owner, format="YOLO"))))
    assert yolo.read("classes.txt").decode().split() == ["cat", "dog"]
    labels = [n for n in yolo.namelist() if n.startswith("labels/")]
    assert len(labels) == 2 and yolo.read(labels[0]).decode().split() == ["0", "0.35", "0.35", "0.5", "0.5"]
    voc = zipfile.ZipFile(io.BytesIO(b"".join(exports.export(boxes, owner, format="VOC"))))
    xml = [n for n in voc.namelist() if n.startswith("Annotations/")]
    assert len(xml) == 2 and b"<name>cat</name>" in voc.read(xml[0])


def test_jsonl_with_media_as_files_is_a_zip(owner, boxes):
    out = exports.export(boxes, owner, format="JSONL", media="files")
    assert out.filename.endswith(".zip") and out.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(out)))
    lines = [json.loads(x) for x in archive.read(f"project-{boxes}.jsonl").splitlines()]
    assert all(line["data"]["image"] in archive.namelist() for line in lines)
    assert lines[0]["label"][0]["value"]["rectanglelabels"] == ["cat"]
    image = Image.open(io.BytesIO(archive.read(lines[0]["data"]["image"])))
    assert image.size == (40, 20)


# --------------------------------------------------------------------------- bad input


def test_no_accepted_items_is_a_clear_error(owner):
    pid = make_project(owner, [text_task(0, "pos"), text_task(1, "neg")])
    with pytest.raises(Conflict) as err:
        exports.export(pid, owner, format="JSONL")
    assert "no accepted tasks" in err.value.detail and "2 labeled" in err.value.detail


def test_unknown_format_and_formats_that_do_not_fit(owner):
    pid = make_project(owner, [text_task(0, "pos")])
    accept(pid)
    with pytest.raises(Invalid) as err:
        exports.export(pid, owner, format="XLSX")
    assert "unknown export format 'XLSX'" in err.value.detail and err.value.errors[0]["field"] == "exportType"
    with pytest.raises(Invalid) as err:
        exports.export(pid, owner, format="COCO")
    assert "COCO does not fit" in err.value.detail
    with pytest.raises(Invalid):
        exports.export(pid, owner, media="files")
    with pytest.raises(Invalid) as err:
        exports.export(pid, owner, filters=exports.parse_filters(label="cat"))
    assert "unknown label 'cat'" in err.value.detail
    with pytest.raises(Invalid) as err:
        exports.export(pid, owner, filters=exports.parse_filters(annotator="nobody@example.com"))
    assert "no such user" in err.value.detail


@pytest.mark.parametrize("kwargs, field", [({"state": "finished"}, "state"), ({"since": "yesterday"}, "since"),
                                           ({"since": "2025-02-01", "until": "2025-01-01"}, "until")])
def test_bad_filters(kwargs, field):
    with pytest.raises(Invalid) as err:
        exports.parse_filters(**kwargs)
    assert err.value.errors[0]["field"] == field


@pytest.mark.parametrize("kwargs, field", [({"seed": "x"}, "seed"), ({"split": "80,20"}, "split"),
                                           ({"split": "-1,1,1"}, "split")])
def test_bad_splits(kwargs, field):
    with pytest.raises(Invalid) as err:
        exports.parse_splits(**kwargs)
    assert err.value.errors[0]["field"] == field


def test_only_leads_and_admins_export(owner, annotator, make_user):
    pid = make_project(owner, [text_task(0, "pos")])
    accept(pid)
    with pytest.raises(Forbidden):
        exports.export(pid, annotator.user)
    with pytest.raises(NotFound):
        exports.export(pid + 1000, owner)


def test_export_files_written_by_the_cli(owner, runner, admin, tmp_path: Path):
    pid = make_project(owner, [text_task(0, "pos"), text_task(1, "neg")])
    accept(pid)
    out = tmp_path / "out.parquet"
    result = runner.invoke(args=["export", str(pid), "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 2 tasks" in result.output
    assert pq.read_table(out).column("label").to_pylist() == ["pos", "neg"]
    result = runner.invoke(args=["export", str(pid), "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 1 and "unknown export format" in result.output
