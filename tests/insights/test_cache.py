"""insights.cache: the cached sums follow new rows and edits, and equal sums computed afresh."""

from __future__ import annotations

import sqlalchemy as sa

from insights import cache
from labeling.db import write_session
from labeling.models import (
    Annotation,
    TaskEvent,
)
from tests.insights.world import noon, res


def test_cached_sums_follow_new_rows(world):
    """Every figure summed over annotations and events is cached and brought up to date with
    the rows added since: the second load sees the new annotation and the new event."""
    first = world.panels("throughput", "progress", "annotators")
    assert first["throughput"]["total"] == 12 and first["progress"]["rows"][-1]["final_total"] == 3
    world.add_annotations([("t5", world.a2.id, "dog", 30.0, noon(1)), ("t6", world.a3.id, None, 1.0, noon(1))])
    with write_session() as s:
        s.add(TaskEvent(task_id=world.t["t3"], project_id=world.pid, from_state="labeled", to_state="accepted",
                        created_at=noon(1)))
    again = world.panels("throughput", "progress", "annotators")
    assert (again["throughput"]["total"], again["throughput"]["skips"]) == (13, 2)
    day = {r["period"]: r for r in again["throughput"]["rows"]}[noon(1).strftime("%Y-%m-%d")]
    assert (day["annotations"], day["skips"]) == (1, 1)
    assert again["progress"]["rows"][-1]["final_total"] == 4
    items = {r["email"]: (r["items"], r["skips"]) for r in again["annotators"]["rows"]}
    assert items["a2@example.com"] == (5, 0) and items["a3@example.com"] == (4, 1)
    cache.clear_cache()  # computed afresh in full: the same numbers
    fresh = world.panels("throughput", "progress")
    assert fresh["throughput"]["rows"] == again["throughput"]["rows"]
    assert fresh["progress"]["rows"] == again["progress"]["rows"]


def test_cached_sums_follow_edits(world):
    """An annotation edited after the sums were cached (the router copies its earlier version to
    annotation_version): what it was is taken out of the sums, what it is now goes in."""
    from labeling import annotations as annotation_api

    before = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in before["labels"]["rows"]} == {"cat": 4, "dog": 5, "bird": 3}
    with write_session() as s:
        mine = s.execute(sa.select(Annotation.id).where(Annotation.task_id == world.t["t3"],
                                                        Annotation.user_id == world.a1.id)).scalar_one()
        skip = s.execute(sa.select(Annotation.id).where(Annotation.task_id == world.t["t5"],
                                                        Annotation.user_id == world.a1.id)).scalar_one()
    annotation_api.update_annotation(mine, world.a1.user, result=res("cat"))  # bird -> cat
    annotation_api.update_annotation(mine, world.a1.user, result=res("dog"))  # ... -> dog (two versions)
    world.add_annotations([("t6", world.a2.id, "cat", 3.0, noon(1))])  # and a new one meanwhile
    after = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in after["labels"]["rows"]} == {"cat": 5, "dog": 6, "bird": 2}
    assert after["throughput"]["total"] == 13
    annotation_api.update_annotation(skip, world.a1.user, result=res("bird"), was_cancelled=False)  # a skip no more
    again = world.panels("labels", "throughput", "annotators")
    assert {r["label"]: r["given"] for r in again["labels"]["rows"]} == {"cat": 5, "dog": 6, "bird": 3}
    assert (again["throughput"]["total"], again["throughput"]["skips"]) == (14, 0)
    a1 = next(r for r in again["annotators"]["rows"] if r["email"] == "a1@example.com")
    assert (a1["items"], a1["skips"]) == (5, 0)
    cache.clear_cache()  # the same as computed afresh
    fresh = world.panels("labels", "throughput")
    assert fresh["labels"]["rows"] == again["labels"]["rows"]
    assert fresh["throughput"]["rows"] == again["throughput"]["rows"]
