"""Dataset versions (labeling.datasets): immutable, content-hashed, stratified splits, manifest
with the QC summary, diff, who may pull, and the clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from labeling import datasets, exports, users
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Forbidden, Invalid, NotFound
from labeling.models import (
    DatasetVersion,
    LabelIssue,
    QualityRun,
    ReviewDecision,
    Role,
    Task,
    TaskState,
    TokenScope,
)
from labeling.settings import get_settings
from tests.labeling.test_exports import accept, boxes, choice, make_project, task_ids, text_task  # noqa: F401


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder(v: DatasetVersion):
    return get_settings().data_dir / v.path


@pytest.fixture(autouse=True)
def no_stored_versions():
    """The database is emptied after each test (ids start again): so are the stored versions."""
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


@pytest.fixture
def owner(lead):
    return lead.user


@pytest.fixture
def project(owner):
    pid = make_project(owner, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(30)])
    accept(pid, task_ids(pid)[:20])
    return pid


def test_publish_writes_immutable_files_and_a_manifest(owner, project):
    v, created = datasets.publish(project, owner, note="first cut")
    assert created and v.number == 1 and v.n_items == 20
    m = v.manifest
    files = {f["name"]: f for f in m["files"]}
    assert set(files) == {"dataset.jsonl", "dataset.parquet", "dataset.csv", "dataset.json", "README.md"}
    for name, entry in files.items():
        path = folder(v) / name
        assert sha256(path) == entry["sha256"] and path.stat().st_size == entry["size"]
        assert not os.access(path, os.W_OK) or os.geteuid() == 0
        assert path.stat().st_mode & 0o222 == 0  # read-only
    assert v.sha256 == files["dataset.jsonl"]["sha256"] == m["sha256"]
    assert json.loads((folder(v) / "manifest.json").read_text()) == m
    lines = [json.loads(x) for x in (folder(v) / "dataset.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == task_ids(project)[:20]
    assert m["n_items"] == 20 and sum(m["splits"].values()) == 20
    assert m["label_counts"] == {"neg": 7, "pos": 7, "neu": 6}
    assert m["label_schema"]["kind"] == "classification" and m["label_schema"]["labels"] == ["pos", "neg", "neu"]
    assert m["published_by"]["email"] == owner.email and m["note"] == "first cut"
    assert m["qc"]["not_released"] == {"labeled": 10} and m["qc"]["estimated_noise_rate"] is None
    table = pq.read_table(folder(v) / "dataset.parquet")
    assert table.column("label").to_pylist() == [x["label"] for x in lines]
    card = (folder(v) / "README.md").read_text()
    assert "dataset version 1" in card and v.sha256 in card and "first cut" in card


def test_same_content_gives_the_same_hash(owner, admin, project):
    v1, _ = datasets.publish(project, owner, note="one")
    again, created = datasets.publish(project, admin.user, note="another note, another person")
    assert not created and again.number == 1
    ids = task_ids(project)
    accept(project, ids[20:25])
    v2, created = datasets.publish(project, owner)
    assert created and v2.number == 2 and v2.sha256 != v1.sha256 and v2.n_items == 25
    with write_session() as s:  # back to the first content
        s.execute(sa.update(Task).where(Task.id.in_(ids[20:25])).values(state=TaskState.labeled))
    v3, created = datasets.publish(project, admin.user, note="reverted")
    assert created and v3.number == 3 and v3.sha256 == v1.sha256
    assert (folder(v3) / "dataset.jsonl").read_bytes() == (folder(v1) / "dataset.jsonl").read_bytes()
    assert [v.number for v in datasets.list_versions(project, owner)] == [3, 2, 1]


def test_splits_come_from_the_seed(owner, project):
    v1, _ = datasets.publish(project, owner, splits=exports.Splits(seed=1))
    v2, created = datasets.publish(project, owner, splits=exports.Splits(seed=2))
    assert created and v1.sha256 != v2.sha256
    for v in (v1, v2):
        per_label = v.manifest["label_split_counts"]
        assert all(counts["train"] >= 4 for counts in per_label.values())


def test_diff_added_removed_relabeled(owner, project):
    ids = task_ids(project)
    v1, _ = datasets.publish(project, owner)
    with write_session() as s:
        s.execute(sa.update(Task).where(Task.id == ids[0]).values(final_label=choice("neu"), final_source="reviewer"))
        s.execute(sa.update(Task).where(Task.id == ids[1]).values(state=TaskState.excluded))
    accept(project, [ids[25]])
    v2, _ = datasets.publish(project, owner)
    d = datasets.diff(project, owner, 1, 2)
    assert (d["added"], d["removed"], d["relabeled"], d["unchanged"]) == (1, 1, 1, 18)
    assert d["examples"]["added"] == [ids[25]] and d["examples"]["removed"] == [ids[1]]
    assert d["examples"]["relabeled"] == [{"id": ids[0], "from": "pos", "to": "neu"}]
    assert v2.manifest["label_sources"] == {"reviewer": 1, "single": 19}
    assert v2.manifest["qc"]["excluded"] == 1
    back = datasets.diff(project, owner, "v2", "1")
    assert (back["added"], back["removed"]) == (1, 1)


def test_qc_summary_estimates_the_noise_of_what_is_released(owner, project, make_user):
    reviewer = make_user("rev@example.com", Role.reviewer)
    ids = task_ids(project)
    now = utcnow()
    with write_session() as s:
        run = QualityRun(project_id=project, status="done", n_items=30, n_issues=3, noise_rate=0.1,
                         model_name="logreg", created_at=now - timedelta(hours=1))
        s.add(run)
        s.flush()
        for tid in (ids[0], ids[1], ids[29]):  # ids[29] is not released
            s.add(LabelIssue(run_id=run.id, project_id=project, task_id=tid, is_issue=True, score=0.1))
        s.add(ReviewDecision(task_id=ids[0], project_id=project, reviewer_id=reviewer.id, decision="keep",
                             created_at=now))
    v, _ = datasets.publish(project, owner)
    qc = v.manifest["qc"]
    assert qc["quality_run"]["noise_rate"] == 0.1 and qc["quality_run"]["model"] == "logreg"
    assert (qc["flagged_released"], qc["flagged_resolved"], qc["items_reviewed"]) == (2, 1, 1)
    assert qc["estimated_noise_rate"] == pytest.approx(1 / 20)
    assert v.noise_rate == pytest.approx(0.05)
    assert "estimated noise rate of the released items: 5.0%" in (folder(v) / "README.md").read_text()


def test_detection_versions_hold_converter_formats_and_the_images(owner, boxes):  # noqa: F811
    v, _ = datasets.publish(boxes, owner)
    formats = [f["format"] for f in v.manifest["files"]]
    assert formats == ["jsonl", "parquet", "csv", "json", "coco", "yolo", "voc", "media", "card"]
    lines = [json.loads(x) for x in (folder(v) / "dataset.jsonl").read_text().splitlines()]
    media = zipfile.ZipFile(folder(v) / "media.zip")
    assert all(line["data"]["image"] in media.namelist() for line in lines)
    coco = json.loads(zipfile.ZipFile(folder(v) / "dataset-coco.zip").read("result.json"))
    assert sorted(i["file_name"] for i in coco["images"]) == sorted(line["data"]["image"] for line in lines)
    assert len(coco["annotations"]) == 2


def test_publish_with_nothing_accepted_leaves_nothing_behind(owner):
    pid = make_project(owner, [text_task(0, "pos")])
    with pytest.raises(Conflict) as err:
        datasets.publish(pid, owner)
    assert "no accepted tasks" in err.value.detail
    assert not any(datasets.datasets_root(pid).iterdir())  # no staging folder left
    with read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(DatasetVersion)).scalar_one() == 0


def test_versions_that_do_not_exist(owner, project):
    with pytest.raises(NotFound) as err:
        datasets.get_version(project, owner, "latest")
    assert "none is published yet" in err.value.detail
    datasets.publish(project, owner)
    with pytest.raises(NotFound) as err:
        datasets.get_version(project, owner, 7)
    assert "no version 7; versions are 1" in err.value.detail
    with pytest.raises(Invalid):
        datasets.get_version(project, owner, "seven")
    assert datasets.get_version(project, owner, "latest").number == 1
    with pytest.raises(Invalid) as err:
        datasets.version_file(project, owner, 1, "xlsx")
    assert "formats: jsonl, parquet, csv, json, card" in err.value.detail


def test_a_damaged_stored_file_is_refused(owner, project):
    v, _ = datasets.publish(project, owner)
    path = folder(v) / "dataset.jsonl"
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(Conflict):
        datasets.version_file(project, owner, 1, "jsonl")


def test_who_may_pull(owner, project, annotator, make_user):
    datasets.publish(project, owner)
    for scope in (TokenScope.full, TokenScope.read):  # an annotator never pulls, whatever the token
        with pytest.raises(Forbidden, match=r"\(annotator\) may not pull"):
            datasets.list_versions(project, annotator.user, scope=scope)
    assert len(datasets.list_versions(project, owner, scope=TokenScope.read)) == 1
    assert datasets.version_file(project, owner, 1, "parquet", scope=TokenScope.read).name == "dataset.parquet"
    with pytest.raises(Forbidden):
        datasets.publish(project, annotator.user)
    other_lead = make_user("other-lead@example.com", Role.lead)  # leads another project, not this one
    with pytest.raises(Forbidden, match=r"\(reviewer\) may not pull"):
        datasets.list_versions(project, other_lead.user, scope=TokenScope.read)
    with write_session() as s:
        s.execute(sa.text("UPDATE project SET restricted = :t WHERE id = :id"), {"t": True, "id": project})
    with pytest.raises(NotFound):
        datasets.list_versions(project, other_lead.user, scope=TokenScope.read)
    users.update_user(owner.id, is_active=False)
    with pytest.raises(NotFound):
        datasets.list_versions(project, users.get_user(owner.id), scope=TokenScope.read)


def test_publish_from_the_cli(runner, admin, project):
    result = runner.invoke(args=["dataset", "publish", str(project), "--note", "from the CLI"])
    assert result.exit_code == 0, result.output
    assert "published version 1" in result.output and result.output.strip().splitlines()[-1] == "1"
    result = runner.invoke(args=["dataset", "publish", str(project)])
    assert "nothing changed since version 1" in result.output
    result = runner.invoke(args=["dataset", "list", str(project)])
    assert result.output.startswith("v1\t")
    result = runner.invoke(args=["dataset", "diff", str(project), "1", "1"])
    assert "0 added, 0 removed, 0 relabeled" in result.output
    result = runner.invoke(args=["dataset", "publish", "999"])
    assert result.exit_code == 1 and "project 999 not found" in result.output


def test_parquet_of_a_version_reads_back_as_in_jsonl(owner, project):
    v, _ = datasets.publish(project, owner)
    lines = [json.loads(x) for x in (folder(v) / "dataset.jsonl").read_text().splitlines()]
    table = pq.read_table(io.BytesIO((folder(v) / "dataset.parquet").read_bytes()))
    assert [json.loads(d) for d in table.column("data").to_pylist()] == [x["data"] for x in lines]
    assert table.column("split").to_pylist() == [x["split"] for x in lines]
