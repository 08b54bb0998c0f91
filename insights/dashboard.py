"""The dashboard of one project: every panel, or the ones asked for, in one read session
(ARCHITECTURE.md, insights)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from insights.agreement import agreement_data, agreement_panel, kappa_panel
from insights.annotators import annotators_panel
from insights.context import PANELS, Ctx, latest_run
from insights.labels import confused_pairs_panel, confusion_panel, labels_panel, noise_panel
from insights.progress import (
    datasets_panel,
    progress_panel,
    queues_panel,
    states_panel,
    throughput_panel,
)
from labeling.access import require_project
from labeling.db import read_session, utcnow
from labeling.errors import Invalid
from labeling.models import User
from labeling.schema import schema_of


def _compute(ctx: Ctx, wanted: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    need = set(wanted)
    states = states_panel(ctx) if need & {"states", "progress", "queues"} else None
    agreement = agreement_data(ctx, pairs="kappa" in need) if need & {"agreement", "kappa", "annotators"} else {}
    panels = {
        "states": lambda: states,
        "progress": lambda: progress_panel(ctx, states),
        "throughput": lambda: throughput_panel(ctx),
        "labels": lambda: labels_panel(ctx),
        "agreement": lambda: agreement_panel(ctx, agreement),
        "kappa": lambda: kappa_panel(ctx, agreement),
        "noise": lambda: noise_panel(ctx),
        "confusion": lambda: confusion_panel(ctx),
        "confused_pairs": lambda: confused_pairs_panel(ctx),
        "queues": lambda: queues_panel(ctx, states),
        "annotators": lambda: annotators_panel(ctx, agreement),
        "datasets": lambda: datasets_panel(ctx),
    }
    for name in wanted:
        out[name] = panels[name]()
    return out


def _check_panels(panels: Iterable[str] | None) -> list[str]:
    if panels is None:
        return list(PANELS)
    wanted = list(panels)
    unknown = [p for p in wanted if p not in PANELS]
    if unknown:
        raise Invalid(f"unknown statistics panel {unknown[0]!r}; the panels are {', '.join(PANELS)}",
                      [{"row": None, "field": "panel", "detail": f"unknown panel {p!r}"} for p in unknown])
    return wanted


def project_stats(user: User, project_id: int, panels: Iterable[str] | None = None) -> dict:
    """The dashboard figures of one project: ``{"project": {...}, "generated_at", "panels": {name: panel}}``.

    Parameters
    ----------
    user : User
        Must be allowed to ``manage`` the project (a lead of it, or an admin).
    project_id : int
    panels : iterable of str, optional
        Names from :data:`PANELS`; all of them by default.

    Raises
    ------
    NotFound, Forbidden
        As :func:`labeling.access.require_project` does.
    Invalid
        For an unknown panel name.
    """
    wanted = _check_panels(panels)
    with read_session() as s:
        project = require_project(s, user, project_id, "manage")
        conn = s.connection()
        ctx = Ctx(conn, project, schema_of(project), utcnow(), conn.dialect.name,
                   latest_run(conn, project_id))
        started = time.perf_counter()
        panels_out = _compute(ctx, wanted)
        return {"project": {"id": project.id, "title": project.title, "kind": ctx.schema.kind},
                "generated_at": ctx.now.isoformat(), "seconds": round(time.perf_counter() - started, 4),
                "panels": panels_out}
