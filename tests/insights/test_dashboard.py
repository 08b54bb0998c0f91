"""insights.dashboard: every panel of a project, and who may see them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from insights import dashboard
from insights import items as figure_items
from insights.context import PANELS
from labeling import projects
from labeling.db import write_session
from labeling.errors import Forbidden, Invalid, NotFound
from labeling.models import (
    Role,
)
from tests.insights.world import CONFIG


def test_every_panel_of_an_empty_project(lead):
    project = projects.create_project(lead.user, title="empty", label_config=CONFIG)
    out = dashboard.project_stats(lead.user, project.id)
    assert list(out["panels"]) == list(PANELS)
    assert out["panels"]["states"]["total"] == 0 and out["panels"]["progress"]["eta"] is None
    assert out["panels"]["throughput"]["median_seconds"] is None
    assert all(p["rows"] == [] for name, p in out["panels"].items() if name not in ("states", "queues", "labels"))


def test_access_leads_and_admins_only(world, admin, make_user):
    assert dashboard.project_stats(admin.user, world.pid, ["states"])["panels"]["states"]["total"] == 7
    with pytest.raises(Forbidden):
        dashboard.project_stats(world.a1.user, world.pid, ["states"])
    other = make_user("other-lead@example.com", Role.lead)
    with write_session() as s:
        s.execute(sa.update(type(world.project)).where(type(world.project).id == world.pid).values(restricted=True))
    with pytest.raises(NotFound):
        dashboard.project_stats(other.user, world.pid)
    with pytest.raises(NotFound):
        figure_items.items(other.user, world.pid, annotator=world.a1.id)
    with pytest.raises(Invalid):
        dashboard.project_stats(world.lead.user, world.pid, ["states", "nope"])
