"""The projects overview: every active project a lead manages (all of them for admins), one
line each, from grouped queries over the listed projects."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from insights.agreement import normalise_agreement
from insights.context import DONE, A, E, M, R, iso, ratio, rounded
from insights.progress import RATE_WINDOW
from labeling import tally
from labeling.access import ACTIONS, project_role
from labeling.db import read_session, utcnow
from labeling.errors import Forbidden
from labeling.models import Project, Role, TaskState, User
from labeling.projects import visible_projects


def overview(user: User) -> dict:
    """Every active project the user leads (all of them for admins), one line each.

    Columns: tasks, share annotated and final, annotations in the last 24 h, rate and finish
    date, suspects and items in review, latest noise rate and agreement, paused annotators.
    All figures come from grouped queries over the listed projects.
    """
    if user.role not in (Role.admin, Role.lead):
        raise Forbidden("the overview is for leads and admins")
    now = utcnow()
    with read_session() as s:
        projects = [p for p in visible_projects(s, user) if _may_manage(s, user, p)]
        ids = [p.id for p in projects]
        per: dict[int, dict] = {p.id: {"project_id": p.id, "title": p.title, "tasks": 0, "open": 0, "annotated": 0, "done": 0,
                                       "final": 0, "suspect": 0, "review": 0, "annotations_24h": 0,
                                       "rate_per_day": None, "eta": None, "noise_rate": None, "alpha": None,
                                       "last_qc": None, "paused": 0} for p in projects}
        if ids:
            _overview_fill(s, ids, per, now)
    rows = []
    for p in projects:
        r = per[p.id]
        r["annotated_share"] = rounded(ratio(r["annotated"], r["tasks"]))
        r["done_share"] = rounded(ratio(r["done"], r["tasks"]))
        r["final_share"] = rounded(ratio(r["final"], r["tasks"]))
        rows.append(r)
    columns = ["project_id", "title", "tasks", "open", "annotated_share", "done_share", "final_share", "annotations_24h",
               "rate_per_day", "eta", "suspect", "review", "noise_rate", "alpha", "last_qc", "paused"]
    return {"panel": "overview", "title": "Projects", "columns": columns,
            "rows": [{c: r[c] for c in columns} for r in rows], "generated_at": now.isoformat()}


def _may_manage(s: Session, user: User, project: Project) -> bool:
    return project_role(s, user, project) in ACTIONS["manage"]


def _count_state(r: dict, state: str, n: int) -> None:
    r["tasks"] += n
    if state in (TaskState.open, TaskState.imported):
        r["open"] += n
    if state in DONE:
        r["done"] += n
    if state in (TaskState.accepted, TaskState.excluded):
        r["final"] += n
    if state in (TaskState.suspect, TaskState.review):
        r[state] += n


def _overview_fill(s: Session, ids: list[int], per: dict[int, dict], now: datetime) -> None:
    for pid, counts in tally.task_counts(s.connection(), ids).items():
        for (state, is_gold), (n, *_) in counts.items():
            if not is_gold:
                _count_state(per[pid], state, n)
        per[pid]["annotated"] = tally.annotated(counts)  # with a submitted annotation, as on the dashboard
    since = now - timedelta(hours=24)
    for pid, n in s.execute(
            sa.select(A.c.project_id, sa.func.count())
            .where(A.c.project_id.in_(ids), A.c.created_at >= since, A.c.was_cancelled.is_(False))
            .group_by(A.c.project_id)):
        per[pid]["annotations_24h"] = n
    # the pace as on the dashboard: tasks entering the states where labeling is done less those leaving them
    done = [s_.value for s_ in DONE]
    entering = sa.and_(E.c.to_state.in_(done),
                       sa.or_(E.c.from_state.is_(None), E.c.from_state.not_in(done)))
    leaving = sa.and_(E.c.from_state.in_(done), E.c.to_state.not_in(done))
    for pid, net, first in s.execute(
            sa.select(E.c.project_id, sa.func.sum(sa.case((entering, 1), else_=-1)), sa.func.min(E.c.created_at))
            .where(E.c.project_id.in_(ids), E.c.created_at >= now - RATE_WINDOW, sa.or_(entering, leaving))
            .group_by(E.c.project_id)):
        if not net or net <= 0:
            continue
        rate = net / (max(now - first, timedelta(days=1)).total_seconds() / 86400)
        r = per[pid]
        r["rate_per_day"] = rounded(rate, 1)
        r["eta"] = iso(now + timedelta(days=r["open"] / rate))
    latest = sa.select(sa.func.max(R.c.id)).where(R.c.project_id.in_(ids), R.c.status == "done") \
        .group_by(R.c.project_id).scalar_subquery()
    for pid, noise, agreement, finished in s.execute(
            sa.select(R.c.project_id, R.c.noise_rate, R.c.agreement, R.c.finished_at).where(R.c.id.in_(latest))):
        r = per[pid]
        r["noise_rate"] = rounded(noise, 6)  # 6 digits: a percent with one decimal reads as on the QC page
        r["alpha"] = normalise_agreement(agreement or {})["alpha"]
        r["last_qc"] = iso(finished)
    for pid, n in s.execute(
            sa.select(M.c.project_id, sa.func.count()).where(M.c.project_id.in_(ids), M.c.paused_at.is_not(None))
            .group_by(M.c.project_id)):
        per[pid]["paused"] = n
    for r in per.values():
        if r["open"] == 0 and r["tasks"]:
            r["eta"] = None
