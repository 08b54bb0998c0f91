"""insights.overview: one line per project a lead manages."""

from __future__ import annotations

import pytest

from insights.overview import overview
from labeling import projects
from labeling.errors import Forbidden
from labeling.models import (
    Role,
)
from tests.insights.world import CONFIG, qc_run


def test_overview_across_projects(world, make_user, admin):
    qc_run(world, agreement={"alpha": 0.7}, noise=0.05)
    projects.create_project(world.lead.user, title="second", label_config=CONFIG)
    foreign = projects.create_project(make_user("x@example.com", Role.lead).user, title="foreign",
                                      label_config=CONFIG, restricted=True)
    data = overview(world.lead.user)
    rows = {r["title"]: r for r in data["rows"]}
    assert set(rows) == {"stats", "second"}
    r = rows["stats"]
    assert (r["tasks"], r["open"], r["suspect"], r["review"], r["annotations_24h"]) == (7, 2, 1, 0, 2)
    assert (r["annotated_share"], r["final_share"], r["noise_rate"], r["alpha"]) == (round(5 / 7, 4), round(3 / 7, 4),
                                                                                     0.05, 0.7)
    assert r["done_share"] == round(5 / 7, 4)  # labeled, suspect, review, accepted, excluded
    assert r["rate_per_day"] == pytest.approx(1.0, abs=0.15) and r["eta"] is not None
    assert rows["second"]["tasks"] == 0 and rows["second"]["eta"] is None
    assert foreign.title in {r["title"] for r in overview(admin.user)["rows"]}
    with pytest.raises(Forbidden):
        overview(world.a1.user)


def test_the_overview_noise_reads_as_on_the_qc_page(world):
    qc_run(world, noise=0.11445364801728075)
    row = next(r for r in overview(world.lead.user)["rows"] if r["title"] == "stats")
    assert "%.1f" % (row["noise_rate"] * 100) == "11.4"  # as the QC page writes it, not 11.5 (0.1145)
