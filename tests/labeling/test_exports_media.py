"""Exports and dataset versions pack only the project's own images: task data that names another
project's stored image (by its hash, in a ``/media/P/<sha>.<ext>`` URL) never gets its bytes into
the archive; the image is listed as left out instead."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pytest
import sqlalchemy as sa
from PIL import Image

from labeling import annotations, datasets, exports, imports, projects
from labeling.db import read_session, write_session
from labeling.media import media_path, media_url
from labeling.models import Media, Role, Task, TaskState
from labeling.settings import get_settings
from labeling.thumbnails import project_media
from tests.labeling.test_exports import BOXES, accept, task_ids

BOX = [{"from_name": "label", "to_name": "image", "type": "rectanglelabels", "original_width": 40,
        "original_height": 20, "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["cat"]}}]


@pytest.fixture(autouse=True)
def no_stored_versions():
    yield
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)


def image_project(owner, tmp_path, name: str, colour: str) -> tuple[int, str]:
    """A detection project with one uploaded image; returns its id and the image's sha256."""
    folder = tmp_path / name
    folder.mkdir()
    Image.new("RGB", (40, 20), colour).save(folder / f"{name}.png")
    project = projects.create_project(owner, title=name, label_config=BOXES)
    imports.import_data(owner, project.id, paths=[folder], background=False)
    with read_session() as s:
        sha = s.execute(sa.select(Media.sha256).join(Task, Task.media_id == Media.id)
                        .where(Task.project_id == project.id)).scalar_one()
    return project.id, sha


@pytest.fixture
def two(lead, make_user, annotator, tmp_path):
    """Project A (another lead's, with a red image) and project B (the lead's, with a blue image
    of its own and two tasks whose data name A's image: under A's URL, and under B's)."""
    other = make_user("other-lead@example.com", Role.lead)
    a, sha_a = image_project(other.user, tmp_path, "a", "red")
    b, sha_b = image_project(lead.user, tmp_path, "b", "blue")
    with write_session() as s:  # task data as stored, however it got there
        s.add_all([Task(project_id=b, data={"image": media_url(a, sha_a, "png")}, state=TaskState.open),
                   Task(project_id=b, data={"image": media_url(b, sha_a, "png")}, state=TaskState.open)])
    for tid in task_ids(b):
        annotations.submit(tid, annotator.user, result=BOX)
    accept(b)
    a_bytes = media_path(get_settings().media_root, sha_a, "png").read_bytes()
    return {"a": a, "b": b, "sha_a": sha_a, "sha_b": sha_b, "a_bytes": a_bytes, "lead_a": other}


def contents(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {name: archive.read(name) for name in archive.namelist()}


def test_project_media_is_what_the_projects_tasks_were_made_from(two, annotator):
    with read_session() as s:
        assert project_media(s, two["b"], [two["sha_a"], two["sha_b"], "0" * 64]) == {two["sha_b"]}
        assert project_media(s, two["a"], [two["sha_a"], two["sha_b"]]) == {two["sha_a"]}
    # the image is A's own: A's export packs it (a hash is left out only where it is foreign)
    for tid in task_ids(two["a"]):
        annotations.submit(tid, annotator.user, result=BOX)
    accept(two["a"])
    out = exports.export(two["a"], two["lead_a"].user, format="JSONL", media="files")
    files = contents(zipfile.ZipFile(io.BytesIO(b"".join(out))))
    assert files[f"images/{two['sha_a']}.png"] == two["a_bytes"] and "media-skipped.txt" not in files


@pytest.mark.parametrize("fmt", ["JSONL", "CSV", "JSON_MIN", "COCO", "YOLO"])
def test_an_export_with_media_as_files_packs_only_the_projects_images(two, lead, fmt):
    out = exports.export(two["b"], lead.user, format=fmt, media="files")
    files = contents(zipfile.ZipFile(io.BytesIO(b"".join(out))))
    assert f"images/{two['sha_b']}.png" in files
    assert f"images/{two['sha_a']}.png" not in files
    assert not any(two["a_bytes"] == body for body in files.values())  # A's bytes nowhere
    listed = files["media-skipped.txt"].decode().splitlines()
    assert listed[0].startswith("#") and listed[1:] == [f"{two['sha_a']}.png"]
    assert out.media_skipped == {f"{two['sha_a']}.png": (two["sha_a"], "png")}
    if fmt == "JSONL":  # the foreign image keeps the URL it had; B's own points into the archive
        images = sorted(json.loads(line)["data"]["image"] for line in files[f"project-{two['b']}.jsonl"].splitlines())
        assert images == sorted([f"images/{two['sha_b']}.png", media_url(two["a"], two["sha_a"], "png"),
                                 media_url(two["b"], two["sha_a"], "png")])
    if fmt == "COCO":
        names = {i["file_name"] for i in json.loads(files["result.json"])["images"]}
        assert f"images/{two['sha_b']}.png" in names and f"images/{two['sha_a']}.png" not in names


def test_the_api_and_cli_exports_leave_the_image_out(two, lead, client, runner, tmp_path):
    r = client.get(f"/api/projects/{two['b']}/export?exportType=JSONL&media=files", headers=lead.headers)
    assert r.status_code == 200
    files = contents(zipfile.ZipFile(io.BytesIO(r.data)))
    assert not any(two["a_bytes"] == body for body in files.values()) and "media-skipped.txt" in files
    target = tmp_path / "b.zip"
    done = runner.invoke(args=["export", str(two["b"]), "--format", "JSONL", "--media", "files", "--out", str(target),
                               "--as", lead.email])
    assert done.exit_code == 0, done.output
    assert "left out 1 image(s)" in done.output
    files = contents(zipfile.ZipFile(target))
    assert not any(two["a_bytes"] == body for body in files.values())


def test_a_dataset_version_packs_only_the_projects_images(two, lead):
    v, _ = datasets.publish(two["b"], lead.user)
    folder = get_settings().data_dir / v.path
    media = contents(zipfile.ZipFile(folder / "media.zip"))
    assert list(media) == [f"images/{two['sha_b']}.png"]
    assert v.manifest["media_skipped"] == [f"{two['sha_a']}.png"]
    for name in ("dataset-coco.zip", "dataset-yolo.zip", "dataset-voc.zip"):
        if (folder / name).exists():
            assert not any(two["a_bytes"] == body for body in contents(zipfile.ZipFile(folder / name)).values())
