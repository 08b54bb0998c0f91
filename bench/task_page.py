"""The task page of a video task with several annotations: how long it takes to show, and how many
video players it starts.

A fresh DATA_DIR (SQLite, stub broker), a ``labelfab serve``, a project whose one task is a
generated video (media_seek.py's, 10 minutes by default) with ``--annotations`` annotations of
TimelineLabels spans, each by another annotator. Debian's /usr/bin/chromium (Playwright) opens the
task page as the lead: each annotation is shown in a read-only copy of the labeling workspace
(annotate_view.js), made when its place comes near the screen (task_story.js). Figures: the page's
``load`` event, the first workspace ready with its spans, how many workspaces (and ``<video>``
elements) exist then; then the page is scrolled to its end and the time until every workspace is
ready is measured.

Usage::

    python bench/task_page.py [--annotations 5] [--minutes 10]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from common import Server, logged_in_page
from media_seek import AUTOPLAY, PASSWORD, VIDEO_CONFIG, make_video, setup

READY = "() => document.querySelectorAll('[data-task-view][data-ready]').length"
SHOWN = """() => ({views: window.labelfabAnno.views.length, videos: document.querySelectorAll('[data-task-view] video').length,
                 holders: document.querySelectorAll('[data-task-view]').length})"""


def annotate(project_id: int, n: int) -> int:
    """``n`` annotators each label a span of the task's frames; the task's id."""
    from labeling import annotations, router, users
    from labeling.models import Role

    task_id = 0
    for i in range(n):
        user = users.create_user(f"ann{i}@bench.local", role=Role.annotator, password=PASSWORD)
        task = router.next_task(project_id, user)
        task_id = task.id
        result = [{"id": f"s{i}", "from_name": "spans", "to_name": "video", "type": "timelinelabels",
                   "value": {"ranges": [{"start": 10 + 40 * i, "end": 30 + 40 * i}], "timelinelabels": ["Event"]}}]
        annotations.submit(task.id, user, result=result)
    return task_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="labelfab-bench-taskpage-"))
    os.environ.update(LABELFAB_DATA_DIR=str(data_dir), LABELFAB_BROKER_URL="stub://", LABELFAB_DATABASE_URL="",
                      LABELFAB_MAX_UPLOAD_MB="1024")
    path = data_dir / "clip.webm"
    make_video(path, args.minutes, "webm")
    project_id, _, _ = setup(path, VIDEO_CONFIG)
    from sqlmodel import select

    from labeling.db import write_session
    from labeling.models import Project, Task

    with write_session() as s:  # every annotator labels the one task
        s.get(Project, project_id).overlap = args.annotations
        for task in s.exec(select(Task).where(Task.project_id == project_id)):
            task.target_overlap = args.annotations
    task_id = annotate(project_id, args.annotations)
    server = Server(os.environ.copy(), log_path=data_dir / "server.log")
    try:
        with logged_in_page(server.url, "lead@bench.local", PASSWORD, chromium_args=AUTOPLAY) as page:
            opened = time.perf_counter()
            page.goto(f"/projects/{project_id}/tasks/{task_id}")
            load_ms = (time.perf_counter() - opened) * 1000
            page.wait_for_function(f"() => ({READY})() >= 1", timeout=60000)
            first_ms = (time.perf_counter() - opened) * 1000
            page.wait_for_timeout(500)
            at_first = page.evaluate(SHOWN)
            scrolled = time.perf_counter()
            for _ in range(3 * args.annotations):  # down the page, as someone reading it would
                page.mouse.wheel(0, 600)
                page.wait_for_timeout(50)
            page.wait_for_function(f"() => ({READY})() >= {args.annotations}", timeout=120000)
            all_ms = (time.perf_counter() - scrolled) * 1000
            at_end = page.evaluate(SHOWN)
    finally:
        server.stop()
    out = {"bench": "task_page", "kind": "video", "file_minutes": args.minutes,
           "file_mb": round(path.stat().st_size / 1e6, 1), "annotations": args.annotations,
           "page_load_ms": round(load_ms), "first_view_ready_ms": round(first_ms),
           "views_at_first": at_first["views"], "videos_at_first": at_first["videos"],
           "scroll_to_all_ready_ms": round(all_ms), "views_at_end": at_end["views"], "videos_at_end": at_end["videos"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
