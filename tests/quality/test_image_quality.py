"""Image-quality findings (cleanvision): their own QC issue kinds, with reasons a reviewer reads,
and a lead's policy can send them to review."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from PIL import Image
from sqlmodel import select

from labeling import imports
from labeling.db import read_session
from labeling.models import Task, TaskEvent
from quality import policy
from quality.image_quality import image_quality_issues
from quality.run.skeleton import run_qc
from tests.conftest import login
from tests.quality.test_qc import FAST, IMAGE_CONFIG, get_run, issues, make_project, stripes


def _noise(path, seed: int, size=(48, 48)) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((*size[::-1], 3)) * 255).astype("uint8")).save(path)


def test_dark_light_odd_size_and_duplicates_are_found(tmp_path):
    paths = []
    for i in range(40):
        _noise(tmp_path / f"{i}.png", i)
        paths.append(tmp_path / f"{i}.png")
    Image.new("RGB", (48, 48), (2, 2, 2)).save(tmp_path / "dark.png")
    Image.new("RGB", (48, 48), (254, 254, 254)).save(tmp_path / "light.png")
    _noise(tmp_path / "wide.png", 99, size=(480, 12))
    (tmp_path / "copy.png").write_bytes((tmp_path / "3.png").read_bytes())
    paths += [tmp_path / n for n in ("dark.png", "light.png", "wide.png", "copy.png")]
    found = image_quality_issues(paths)
    kinds = {}
    for item in found["issues"]:
        kinds.setdefault(item["kind"], set()).add(item["index"])
    assert 40 in kinds["dark"] and 41 in kinds["light"]
    assert 42 in kinds["odd_aspect_ratio"]
    assert {"exact": True, "indexes": [3, 43]} in found["duplicate_sets"]
    assert all(0 <= item["score"] <= 1 and "cleanvision" in item["reason"] for item in found["issues"])
    assert found["typical"] == {}  # noise is full of information: the thresholds flag a few


def test_a_threshold_most_images_fall_under_flags_only_the_unusual_ones(tmp_path):
    """Line drawings all have "little information" by cleanvision's fixed threshold: that
    describes the project, so only the blank image, far below the drawings, is flagged."""
    from PIL import ImageDraw

    paths = []
    for i in range(30):
        image = Image.new("L", (48, 48), 140)
        ImageDraw.Draw(image).line((4 + i % 7, 4, 44, 10 + i), fill=60, width=2 + i % 3)
        image.save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    Image.new("L", (48, 48), 140).save(tmp_path / "blank.png")
    paths.append(tmp_path / "blank.png")
    found = image_quality_issues(paths)
    assert found["typical"] == {"low_information": 31}  # every image is under the fixed threshold
    low = [item["index"] for item in found["issues"] if item["kind"] == "low_information"]
    assert low == [30] and found["counts"]["low_information"] == 1


def test_a_qc_run_stores_image_findings_that_the_policy_can_send_to_review(lead, tmp_path, client):
    folder = tmp_path / "shapes"
    for i in range(40):
        vertical = i % 2 == 1
        (folder / ("v" if vertical else "h")).mkdir(parents=True, exist_ok=True)
        stripes(folder / ("v" if vertical else "h") / f"img{i:02d}.png", vertical, i)
    Image.new("L", (24, 24), 1).save(folder / "h" / "dark.png")
    (folder / "v" / "again.png").write_bytes((folder / "v" / "img01.png").read_bytes())
    pid = make_project(lead, IMAGE_CONFIG)
    imports.import_data(lead.user, pid, paths=[folder])
    with read_session() as s:
        ids = dict(s.execute(sa.select(Task.file_name, Task.id).where(Task.project_id == pid)).all())
    by_name = {name.rsplit("/", 1)[-1]: tid for name, tid in ids.items()}

    policy.set_policy(pid, lead.user, {"kinds": ["label", "dark", "image_duplicate"]})
    run = get_run(run_qc(pid, options=FAST)["run"])
    dark = issues(run.id, "dark")
    assert [li.task_id for li in dark] == [by_name["dark.png"]] and "too dark" in dark[0].reason
    dups = {li.task_id: li.reason for li in issues(run.id, "image_duplicate")}
    # the copy (stored once by content) and its original name each other; the drawn stripes are
    # also nearly alike for cleanvision's hashes, which it may say too ("nearly the same image")
    assert dups[by_name["img01.png"]].startswith(f"the same image as task(s) {by_name['again.png']}")
    assert dups[by_name["again.png"]].startswith(f"the same image as task(s) {by_name['img01.png']}")
    assert run.summary["image_quality"]["dark"] == 1

    with read_session() as s:
        task = s.get(Task, by_name["dark.png"])
        event = s.exec(select(TaskEvent).where(TaskEvent.task_id == task.id, TaskEvent.to_state == "suspect")).one()
    assert task.state == "review" and "too dark" in event.reason

    # the QC page lists them under their own kind, with the reason
    login(client, lead.email)
    page = client.get(f"/projects/{pid}/quality?kind=dark").get_data(as_text=True)
    assert "dark (1)" in page and "image too dark" in page
