"""The tasks behind a dashboard figure: an annotator's items, or a confused label pair's."""

from __future__ import annotations

import sqlalchemy as sa

from insights.context import A, I, T, U, iso, latest_run, rounded
from insights.labels import label_text, label_value_text
from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import Invalid
from labeling.models import User


def items(user: User, project_id: int, *, annotator: int | None = None, given: str | None = None,
          suggested: str | None = None, run_id: int | None = None, page: int = 1, page_size: int = 50) -> dict:
    """The tasks behind a dashboard figure: an annotator's items, or a confused label pair's.

    ``given`` and ``suggested`` are labels as the QC run stored them (JSON text, as the
    ``confused_pairs`` panel gives them in ``given_json`` / ``suggested_json``); the run is the
    latest one unless ``run_id`` is given. Returns ``{"total", "page", "rows": [...]}``.
    """
    if annotator is None and given is None and suggested is None:
        raise Invalid("say whose items (annotator) or which label pair (given, suggested) to list",
                      [{"row": None, "field": "annotator", "detail": "missing"}])
    page = max(int(page), 1)
    with read_session() as s:
        require_project(s, user, project_id, "manage")
        conn = s.connection()
        if annotator is not None:
            base = (sa.select(A.c.task_id, A.c.result, A.c.was_cancelled, A.c.lead_time, A.c.created_at,
                              T.c.state, T.c.is_gold)
                    .join(T, T.c.id == A.c.task_id)
                    .where(A.c.project_id == project_id, A.c.user_id == annotator))
            total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
            found = conn.execute(base.order_by(A.c.created_at.desc(), A.c.id.desc())
                                 .limit(page_size).offset((page - 1) * page_size)).all()
            email = conn.execute(sa.select(U.c.email).where(U.c.id == annotator)).scalar() or str(annotator)
            rows = [{"task_id": r.task_id, "state": r.state, "gold": r.is_gold,
                     "label": "(skipped)" if r.was_cancelled else label_value_text(r.result),
                     "seconds": rounded(r.lead_time, 1), "created_at": iso(r.created_at)} for r in found]
            return {"what": f"items labeled by {email}", "total": total, "page": page, "page_size": page_size,
                    "columns": ["task_id", "state", "gold", "label", "seconds", "created_at"], "rows": rows}
        latest = latest_run(conn, project_id) if run_id is None else None
        run = run_id if run_id is not None else (latest.id if latest is not None else None)
        if run is None:
            return {"what": "no QC run yet", "total": 0, "page": page, "page_size": page_size, "columns": [],
                    "rows": []}
        where = [I.c.run_id == run, I.c.project_id == project_id, I.c.is_issue.is_(True), I.c.kind == "label"]
        if given is not None:
            where.append(sa.cast(I.c.given, sa.Text) == given)
        if suggested is not None:
            where.append(sa.cast(I.c.suggested, sa.Text) == suggested)
        base = (sa.select(I.c.task_id, I.c.kind, I.c.given, I.c.suggested, I.c.score, I.c.reason, T.c.state)
                .join(T, T.c.id == I.c.task_id).where(*where))
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        found = conn.execute(base.order_by(I.c.score, I.c.id).limit(page_size).offset((page - 1) * page_size)).all()
        rows = [{"task_id": r.task_id, "state": r.state, "kind": r.kind, "given": label_value_text(r.given),
                 "suggested": label_value_text(r.suggested), "score": rounded(r.score), "reason": r.reason}
                for r in found]
        what = f"items given {label_text(given)!r}" if given is not None else "items"
        if suggested is not None:
            what += f" that QC suggests are {label_text(suggested)!r}"
        return {"what": f"{what} (QC run {run})", "total": total, "page": page, "page_size": page_size,
                "columns": ["task_id", "state", "kind", "given", "suggested", "score", "reason"], "rows": rows}
