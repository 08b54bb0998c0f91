"""What every dashboard panel shares: the panel names, the states of the line, the query context
(one connection, one project, one 'now'), the shape of a panel and the rounding of its figures.

A panel is a dict ``{"panel", "title", "columns", "rows", ...summary}``: ``rows`` is the table
(also the CSV download, :func:`insights.csv.panel_csv`), the other keys are the panel's headline
figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from labeling.models import (
    Annotation,
    AnnotationVersion,
    AnnotatorScore,
    LabelIssue,
    Membership,
    Project,
    QualityRun,
    Task,
    TaskEvent,
    TaskState,
    User,
)
from labeling.schema import LabelSchema

#: Panels in the order the dashboard shows them, with their titles.
PANELS: dict[str, str] = {
    "states": "Tasks by state",
    "progress": "Progress over time",
    "throughput": "Throughput",
    "labels": "Labels: given vs final",
    "agreement": "Agreement",
    "kappa": "Cohen's κ between annotators",
    "noise": "Noise rate per QC run",
    "confusion": "Confusion: given vs suggested",
    "confused_pairs": "Most confused pairs",
    "queues": "Queues",
    "annotators": "Annotators",
    "datasets": "Dataset versions",
}

#: The states of the production line, in order (``imported`` is folded into ``open``).
STATES = [TaskState.open, TaskState.labeled, TaskState.suspect, TaskState.review, TaskState.accepted,
          TaskState.excluded]

#: States in which labeling is done (the task has every label it asks for; Label Studio's
#: "finished"): the progress chart's line and the pace of the finish date. "Annotated" is another
#: figure: the tasks with a submitted annotation, whatever their state (``labeling.tally.annotated``).
DONE = {TaskState.labeled, TaskState.suspect, TaskState.review, TaskState.accepted, TaskState.excluded}

A = Annotation.__table__
T = Task.__table__
E = TaskEvent.__table__
V = AnnotationVersion.__table__
R = QualityRun.__table__
I = LabelIssue.__table__  # noqa: E741
S = AnnotatorScore.__table__
M = Membership.__table__
U = User.__table__


@dataclass
class Ctx:
    """What every panel query needs: the connection, the project, its schema, one 'now'."""

    conn: Connection
    project: Project
    schema: LabelSchema
    now: datetime
    dialect: str
    run: Any  # the latest finished QC run (a row), or None
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.project.id

    @property
    def sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def rows(self, statement: Any, **params: Any) -> list[Any]:
        return list(self.conn.execute(statement, {"p": self.pid, **params}))

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


def panel(name: str, columns: list[str], rows: list[dict], **summary: Any) -> dict:
    return {"panel": name, "title": PANELS[name], "columns": columns, "rows": rows, **summary}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def rounded(value: float | None, digits: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), digits)


def user_emails(ctx: Ctx, ids: Iterable[int]) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return dict(ctx.conn.execute(sa.select(U.c.id, U.c.email).where(U.c.id.in_(ids))).all())


def latest_run(conn: Connection, project_id: int) -> Any:
    return conn.execute(
        sa.select(R.c.id, R.c.created_at, R.c.finished_at, R.c.noise_rate)
        .where(R.c.project_id == project_id, R.c.status == "done").order_by(R.c.id.desc()).limit(1)).first()
