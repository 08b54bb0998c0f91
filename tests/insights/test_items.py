"""insights.items: the tasks behind a figure."""

from __future__ import annotations

import pytest

from insights import items as figure_items
from labeling.errors import Invalid


def test_items_of_an_annotator(world):
    found = figure_items.items(world.lead.user, world.pid, annotator=world.a1.id)
    assert found["total"] == 5
    # newest first: the skip of t5 and the label of t3, both at noon two days ago
    assert [(r["task_id"], r["label"]) for r in found["rows"][:2]] == [(world.t["t5"], "(skipped)"),
                                                                       (world.t["t3"], "bird")]
    assert found["rows"][1]["seconds"] == 40.0 and found["rows"][1]["state"] == "labeled"
    assert figure_items.items(world.lead.user, world.pid, annotator=world.a1.id, page=2, page_size=4)["rows"][0]["task_id"] \
        == world.t["t1"]
    with pytest.raises(Invalid):
        figure_items.items(world.lead.user, world.pid)
