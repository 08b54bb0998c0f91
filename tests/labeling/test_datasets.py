"""Dataset versions (labeling.datasets): immutable, content-hashed, stratified splits, manifest
with the QC summary, diff, who may pull, and the clear errors."""

from __future__ import annotations

import csv
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

from labeling import datasets, exports, splits, users
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


def test_splits_come_from_the_seed_and_another_seed_needs_a_resplit(owner, project):
    v1, _ = datasets.publish(project, owner, splits=exports.Splits(seed=1))
    with pytest.raises(Conflict) as err:
        datasets.publish(project, owner, splits=exports.Splits(seed=2))
    assert "re-split first" in err.value.detail
    gen = splits.resplit(project, owner, splits=exports.Splits(seed=2), reason="new seed")
    assert gen.number == 2
    v2, created = datasets.publish(project, owner, splits=exports.Splits(seed=2))
    assert created and v1.sha256 != v2.sha256
    for v in (v1, v2):
        per_label = v.manifest["label_split_counts"]
        assert all(counts["train"] >= 4 for counts in per_label.values())
    assert v2.manifest["split"]["generation"] == 2 and v2.manifest["split"]["resplit"] is True


def _splits_of(v: DatasetVersion) -> dict[int, str]:
    return {row["id"]: row["split"] for row in map(json.loads, (folder(v) / "dataset.jsonl").read_text().splitlines())}


def test_splits_never_move_between_versions(owner, project):
    ids = task_ids(project)
    late = [ids[2], ids[5], ids[8]]
    with write_session() as s:  # three of the first twenty are still under review
        s.execute(sa.update(Task).where(Task.id.in_(late)).values(state=TaskState.review))
    v1, _ = datasets.publish(project, owner, splits=exports.Splits(seed=3))
    before = _splits_of(v1)
    assert len(before) == 17 and v1.manifest["split"]["placed"] == 17
    accept(project, late + ids[20:30])
    with write_session() as s:  # and one released item is relabeled
        s.execute(sa.update(Task).where(Task.id == ids[0]).values(final_label=choice("neu"), final_source="reviewer"))
    v2, created = datasets.publish(project, owner)  # no seed given: the generation's
    after = _splits_of(v2)
    assert created and len(after) == 30
    assert {tid: after[tid] for tid in before} == before
    assert (v2.manifest["split"]["kept"], v2.manifest["split"]["placed"]) == (17, 13)
    assert sum(v2.manifest["splits"].values()) == 30
    assert [after[t] for t in after].count("train") >= 22  # still stratified near 80/10/10
    d = datasets.diff(project, owner, 1, 2)
    assert (d["added"], d["removed"], d["relabeled"], d["moved"]) == (13, 0, 1, 0)
    card = (folder(v2) / "README.md").read_text()
    assert "Split generation 1, started by the first publish" in card and "17 items kept their split" in card
    # the same seed again changes nothing; only a lead's re-split moves items
    v3, created = datasets.publish(project, owner, splits=exports.Splits(seed=3))
    assert not created and v3.number == 2
    splits.resplit(project, owner, splits=exports.Splits(seed=11), reason="leak audit")
    v3, created = datasets.publish(project, owner)
    assert created and v3.manifest["split"]["generation"] == 2
    moved = datasets.diff(project, owner, 2, 3)
    assert moved["moved"] > 0 and moved["relabeled"] == 0 and moved["unchanged"] == 30 - moved["moved"]
    assert all(item["from"] != item["to"] for item in moved["examples"]["moved"])
    card = (folder(v3) / "README.md").read_text()
    assert f"Split generation 2: re-split by {owner.email}" in card and "(leak audit)" in card
    name, lines = datasets.diff_csv(project, owner, 2, 3)
    rows = list(csv.reader(io.StringIO("".join(lines))))
    assert name == f"project-{project}-v2-v3-diff.csv" and rows[0] == ["id", "change", "from", "to"]
    assert sorted(int(r[0]) for r in rows[1:] if r[1] == "moved") == sorted(i["id"] for i in moved["examples"]["moved"])


def _export_splits(project: int, owner, **options) -> dict[int, str]:
    rows = b"".join(exports.export(project, owner, format="JSONL", **options)).decode().splitlines()
    return {row["id"]: row["split"] for row in map(json.loads, rows)}


def test_a_live_export_writes_the_splits_the_versions_keep(owner, project):
    """The live export's split column is the versions': a released task has its split, a task
    no version released yet the split the next version gives it, whatever the filters."""
    ids = task_ids(project)
    late = [ids[2], ids[5], ids[8]]
    with write_session() as s:  # three of the first twenty are still under review
        s.execute(sa.update(Task).where(Task.id.in_(late)).values(state=TaskState.review))
    v1, _ = datasets.publish(project, owner, splits=exports.Splits(seed=3))
    released = _splits_of(v1)
    assert _export_splits(project, owner) == released  # the seed and shares of generation 1
    assert _export_splits(project, owner, splits=exports.Splits(seed=3)) == released
    with pytest.raises(Conflict) as other:  # another rule is a re-split's, never an export's
        _export_splits(project, owner, splits=exports.Splits(seed=42))
    assert "re-split" in other.value.detail
    accept(project, late + ids[20:21] + ids[22:30])  # ids[21] stays labeled, not accepted
    live = _export_splits(project, owner)
    everything = _export_splits(project, owner, filters=exports.parse_filters(state="all"))
    some = _export_splits(project, owner, filters=exports.parse_filters(label="pos"))
    assert {tid: live[tid] for tid in released} == released and len(live) == 29
    v2, _ = datasets.publish(project, owner)
    assert live == _splits_of(v2)  # the export and the next version agree
    # other filters change which tasks come, never a task's split
    assert len(everything) == 30 and {tid: everything[tid] for tid in live} == live
    assert some == {tid: live[tid] for tid in some} and len(some) == 9
    # a task no version releases (under review) exported too: a split of its own, moving nobody
    with write_session() as s:
        s.add(Task(project_id=project, data={"text": "under review"}, state=TaskState.review,
                   final_label=choice("pos"), final_source="reviewer"))
    both = _export_splits(project, owner, filters=exports.parse_filters(state="accepted,review"))
    assert len(both) == 30 and {tid: both[tid] for tid in live} == live


def test_a_stale_placement_is_refused(owner, project):
    """A re-split between reading the splits and writing the version: nothing half-written."""
    from labeling.db import read_session as rs

    with rs() as s:
        place = splits.placement(s, project, None)
    splits.resplit(project, owner, splits=exports.Splits(seed=5))
    with write_session() as s, pytest.raises(Conflict):
        splits.store(s, project, place, version=1, user=owner, now=utcnow())


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
    card = (folder(v) / "README.md").read_text()
    # each figure says what it measures: the share still flagged, and the run's own noise estimate
    assert "released items flagged by QC run #1 and not reviewed since: 5.0% (2 flagged, 1 of them" in card
    assert "label noise that QC run #1 estimated over the 30 items it scored (before review, released or not): " \
        "10.0%" in card
    assert "estimated noise rate of the released items" not in card


def test_the_card_counts_exclusions_by_reviewers_apart_from_the_leads(owner, project, make_user):
    """A task a lead excluded from the Data Manager is not one "excluded by reviewers"."""
    from labeling import review
    from labeling.dm import actions, filters

    reviewer = make_user("rev@example.com", Role.reviewer)
    ids = task_ids(project)

    def act(action: str, tid: int) -> None:
        query = filters.parse({"selectedItems": {"all": False, "included": [tid]}})
        assert actions.perform(owner, project, action, query, {"reason": "why"})["processed_items"] == 1

    act("send_to_review", ids[0])
    review.decide(ids[0], reviewer.user, decision="exclude", reason="ambiguous")
    act("exclude", ids[1])  # by the lead, no reviewer involved
    act("send_to_review", ids[2])
    review.decide(ids[2], reviewer.user, decision="keep")
    v, _ = datasets.publish(project, owner)
    qc = v.manifest["qc"]
    assert (qc["excluded"], qc["excluded_by_review"], qc["items_reviewed"]) == (2, 1, 1)
    card = (folder(v) / "README.md").read_text()
    assert "- excluded: 2 (1 by a review decision, 1 by a lead)" in card
    assert "excluded by reviewers: 2" not in card


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
    assert err.value.detail == f"project {project} has no published version; none is published yet"
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
    # the figures of the dataset page, named as it names them (not QC's noise estimate)
    splits = datasets.list_versions(project, users.get_user(admin.id))[0].manifest["splits"]
    fields = result.output.splitlines()[0].split("\t")
    assert f"train {splits['train']} / validation {splits['validation']} / test {splits['test']}" in fields
    assert any(f.startswith("flagged, unreviewed ") for f in fields) and not any(f.startswith("noise") for f in fields)
    result = runner.invoke(args=["dataset", "diff", str(project), "1", "1"])
    assert "0 added, 0 removed, 0 relabeled, 0 moved to another split" in result.output
    result = runner.invoke(args=["dataset", "publish", str(project), "--seed", "7"])
    assert result.exit_code == 1 and "re-split first" in result.output
    result = runner.invoke(args=["dataset", "resplit", str(project), "--seed", "7", "--reason", "new seed"])
    assert result.exit_code == 0 and "split generation 2" in result.output, result.output
    result = runner.invoke(args=["dataset", "publish", str(project), "--seed", "7"])
    assert result.exit_code == 0 and result.output.strip().splitlines()[-1] == "2", result.output
    out = get_settings().data_dir / "diff.csv"
    result = runner.invoke(args=["dataset", "diff", str(project), "1", "2", "--csv", str(out)])
    moved = int(result.output.split(" moved")[0].rsplit(" ", 1)[1])
    assert moved > 0 and len(out.read_text().splitlines()) == 1 + moved
    result = runner.invoke(args=["dataset", "publish", "999"])
    assert result.exit_code == 1 and "project 999 not found" in result.output


def test_parquet_of_a_version_reads_back_as_in_jsonl(owner, project):
    v, _ = datasets.publish(project, owner)
    lines = [json.loads(x) for x in (folder(v) / "dataset.jsonl").read_text().splitlines()]
    table = pq.read_table(io.BytesIO((folder(v) / "dataset.parquet").read_bytes()))
    assert [json.loads(d) for d in table.column("data").to_pylist()] == [x["data"] for x in lines]
    assert table.column("split").to_pylist() == [x["split"] for x in lines]


def test_a_large_project_is_published_by_a_job(owner, project, worker, monkeypatch):
    from labeling import jobs, publish_job
    from tests.conftest import wait_for

    monkeypatch.setenv("LABELFAB_PUBLISH_JOB_THRESHOLD", "10")  # the project has 20 accepted tasks
    get_settings.cache_clear()
    try:
        done = publish_job.request_publish(project, owner, note="big", splits=exports.Splits(seed=4))
        assert done.queued and done.version is None
        job = wait_for(lambda: (j := jobs.get_job(done.job_id)) and j.status in ("done", "failed") and j,
                       timeout=90)
        small = publish_job.request_publish(project, owner, background=False)
    finally:
        monkeypatch.delenv("LABELFAB_PUBLISH_JOB_THRESHOLD")
        get_settings.cache_clear()
    assert (job.kind, job.status, job.progress) == ("publish", "done", 1.0), job.message
    v = datasets.get_version(project, owner, "latest")
    assert job.result == {"version": 1, "created": True, "sha256": v.sha256, "n_items": 20}
    assert v.note == "big" and v.manifest["split"]["seed"] == 4
    # a second (synchronous) publish of the same content made nothing new
    assert not small.queued and not small.created and small.version.number == 1
    with pytest.raises(Conflict):  # refused before any job is queued
        publish_job.request_publish(project, owner, splits=exports.Splits(seed=5), background=True)


def test_publish_reports_its_progress_as_it_writes(owner, project):
    seen: list[tuple[int, str]] = []
    v, created = datasets.publish(project, owner, progress=lambda n, message: seen.append((n, message)))
    assert created and v.n_items == 20
    assert seen and seen[-1] == (20, "wrote 20 items")
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)
