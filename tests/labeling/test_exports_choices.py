"""The export's choices: Label Studio JSON with every annotation (the final label and its source
as extra keys), tabular rows of final labels or one per annotation (Label Studio's columns), and
gold tasks only when asked, with their answers."""

from __future__ import annotations

import csv
import io
import json

import pytest

from labeling import exports, gold
from labeling.db import read_session
from labeling.errors import Conflict, Invalid
from labeling.models import Annotation, User
from tests.labeling.test_exports import accept, choice, make_project, task_ids, text_task


@pytest.fixture
def owner(lead):
    return lead.user


def _two_annotators(owner) -> int:
    pid = make_project(owner, [text_task(0, "pos", "pos"), text_task(1, "neg", "pos"), text_task(2, "neu", "neu")],
                       overlap=2)
    return pid


def test_label_studio_json_carries_every_annotation_with_the_final_label_as_extra_keys(owner):
    pid = _two_annotators(owner)
    ids = task_ids(pid)
    accept(pid, ids[:2], final={ids[1]: (choice("neg"), "reviewer")})
    tasks = json.loads(b"".join(exports.export(pid, owner, format="JSON")))
    assert [t["id"] for t in tasks] == ids[:2]
    with read_session() as s:
        emails = {u.id: u.email for u in s.query(User)}
        by_task = {}
        for a in s.query(Annotation).order_by(Annotation.id):
            by_task.setdefault(a.task_id, []).append((a.id, emails[a.user_id]))
    for t in tasks:  # Label Studio's keys: each annotation, with who made it
        assert [(a["id"], emails[a["completed_by"]]) for a in t["annotations"]] == by_task[t["id"]]
        assert {"ground_truth", "lead_time", "created_at", "was_cancelled"} <= set(t["annotations"][0])
        assert t["split"] in ("train", "validation", "test")
    assert (tasks[0]["final_label"], tasks[0]["label_source"]) == (choice("pos"), "majority")
    assert (tasks[1]["final_label"], tasks[1]["label_source"]) == (choice("neg"), "reviewer")


def test_tabular_rows_are_final_labels_or_one_per_annotation_with_label_studio_columns(owner):
    pid = _two_annotators(owner)
    ids = task_ids(pid)
    accept(pid, ids[:2])
    finals = list(csv.DictReader(io.StringIO(b"".join(exports.export(pid, owner, format="CSV")).decode())))
    assert [int(r["id"]) for r in finals] == ids[:2]
    text = b"".join(exports.export(pid, owner, format="CSV", rows="annotations")).decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == ["id", "text", "label", "annotator", "annotation_id", "created_at", "updated_at",
                              "lead_time"]
    assert [(int(r["id"]), r["label"], r["annotator"]) for r in table] == [
        (ids[0], "pos", "annotator0@example.com"), (ids[0], "pos", "annotator1@example.com"),
        (ids[1], "neg", "annotator0@example.com"), (ids[1], "pos", "annotator1@example.com")]
    assert all(r["annotation_id"].isdigit() and r["created_at"] for r in table)
    lines = [json.loads(x) for x in b"".join(exports.export(pid, owner, format="JSONL", rows="annotations"))
             .decode().splitlines()]
    assert [(x["id"], x["annotator"], x["result"]) for x in lines][:2] == [
        (ids[0], "annotator0@example.com", choice("pos")), (ids[0], "annotator1@example.com", choice("pos"))]
    with pytest.raises(Invalid, match="one row per annotation goes with"):
        exports.export(pid, owner, format="PARQUET", rows="annotations")
    with pytest.raises(Invalid, match="rows must be"):
        exports.export(pid, owner, format="CSV", rows="some")


def test_nothing_accepted_refuses_final_labels_but_annotation_rows_of_annotated_tasks_export(owner):
    pid = _two_annotators(owner)
    with pytest.raises(Conflict, match="no accepted tasks"):
        exports.export(pid, owner, format="CSV")
    filters = exports.parse_filters(state="labeled")
    text = b"".join(exports.export(pid, owner, format="CSV", rows="annotations", filters=filters)).decode()
    assert len(list(csv.DictReader(io.StringIO(text)))) == 6


def test_gold_tasks_are_exported_only_when_asked_with_their_answers(owner):
    pid = make_project(owner, [text_task(0, "pos"), text_task(1, "neg")])
    ids = task_ids(pid)
    accept(pid, ids[:1])
    gold.mark_gold(ids[1], owner, answer=choice("neu"))
    plain = [json.loads(x) for x in b"".join(exports.export(pid, owner)).decode().splitlines()]
    assert [x["id"] for x in plain] == ids[:1]
    asked = exports.parse_filters(gold=True)
    lines = [json.loads(x) for x in b"".join(exports.export(pid, owner, filters=asked)).decode().splitlines()]
    assert [(x["id"], x["label"], x["label_source"]) for x in lines] == [(ids[0], "pos", "single"),
                                                                         (ids[1], "neu", "gold")]
    tasks = {t["id"]: t for t in json.loads(b"".join(exports.export(pid, owner, format="JSON", filters=asked)))}
    assert (tasks[ids[1]]["is_gold"], tasks[ids[1]]["gold_answer"]) == (True, choice("neu"))
    assert [a["ground_truth"] for a in tasks[ids[1]]["annotations"]] == [False]  # its annotation says neg


def test_a_dataset_version_never_holds_gold_tasks(owner):
    from labeling import datasets
    pid = make_project(owner, [text_task(0, "pos")])
    accept(pid)
    with pytest.raises(Invalid, match="never holds gold tasks"):
        datasets.publish(pid, owner, filters=exports.Filters(gold=True))
