"""Splits that never move: the train/validation/test split of every released task, decided once.

A project's split rule is a *split generation* (:class:`labeling.models.SplitGeneration`): a
seed and three shares. The first publish starts generation 1. When a version releases a task
that the generation has not placed yet, its split is drawn (:class:`Placement`) and stored
(:class:`labeling.models.TaskSplit`) with the version; every later version gives that task the
same split, whatever happens to it meanwhile (relabeled, excluded and accepted again). Only new
tasks are placed, so a version never moves a task from test to train.

The draw is the exports' :class:`labeling.exports.SplitAssigner` carried on from where the
generation stands: within each stratum (the task's labels when it was first released) tasks are
dealt, in id order, into blocks holding the exact shares and shuffled by the seed, the stratum
and the block number. So the placement is deterministic (the seed, the task's id and stratum,
the tasks placed before it) and each stratum is split in the given shares up to one block.

Re-splitting (:func:`resplit`: ``POST /api/projects/ID/datasets/resplit``, the dataset page,
``labelfab dataset resplit``) is a lead's explicit act: it starts a new generation, whose first
version places every task afresh; that version's card names the generation and its diff counts
the moved tasks.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from labeling.access import require_project
from labeling.bulkwrite import BulkWriter
from labeling.db import utcnow, write_session
from labeling.errors import Conflict, Invalid
from labeling.exports.options import SPLIT_NAMES, SplitAssigner, Splits
from labeling.models import Project, SplitGeneration, TaskSplit, User

__all__ = ["Placement", "current_generation", "generation_view", "placement", "resplit", "store"]

_TS = TaskSplit.__table__


def current_generation(s: Session, project_id: int) -> SplitGeneration | None:
    """The project's newest split generation (None before its first publish or re-split)."""
    return s.exec(select(SplitGeneration).where(SplitGeneration.project_id == project_id)
                  .order_by(SplitGeneration.number.desc()).limit(1)).first()


def _splits_of(gen: SplitGeneration | sa.Row) -> Splits:
    return Splits(seed=int(gen.seed), ratios=tuple(float(x) for x in gen.ratios))


def _same(a: Splits, b: Splits) -> bool:
    return a.seed == b.seed and all(abs(x - y) < 1e-6 for x, y in zip(a.ratios, b.ratios, strict=True))


def generation_view(gen: SplitGeneration | None, *, email: str | None = None) -> dict[str, Any] | None:
    if gen is None:
        return None
    return {"generation": gen.number, "seed": int(gen.seed),
            "ratios": dict(zip(SPLIT_NAMES, (float(x) for x in gen.ratios), strict=True)),
            "started_at": gen.created_at.isoformat(), "started_by": email, "reason": gen.reason,
            "resplit": gen.number > 1}


@dataclass
class Placement:
    """The splits of one publish: the generation's stored ones, and new tasks placed as they come.

    Call it with a task id and its stratum; it answers the split code (0 train, 1 validation,
    2 test): the stored one, else a new draw (remembered in three columns, :meth:`new_rows`:
    a version of 10 million tasks holds 17 bytes a new task, each stratum's text once).
    """

    generation: int  # the generation's number (1 for a project never published)
    splits: Splits
    exists: bool  # False: the generation is started by this publish
    stored: dict[int, int] = field(default_factory=dict)  # task id -> split code
    new_ids: array = field(default_factory=lambda: array("q"))
    new_codes: bytearray = field(default_factory=bytearray)
    new_strata: list[str] = field(default_factory=list)
    kept: int = 0

    def __post_init__(self) -> None:
        self.assigner = SplitAssigner(self.splits)
        self._strata: dict[str, str] = {}

    @property
    def placed(self) -> int:
        """How many tasks this publish places."""
        return len(self.new_ids)

    def new_rows(self) -> Iterator[tuple[int, str, str]]:
        """The new placements: (task id, split name, stratum)."""
        for tid, code, stratum in zip(self.new_ids, self.new_codes, self.new_strata, strict=True):
            yield tid, SPLIT_NAMES[code], stratum

    def _resume(self, counts: dict[str, int]) -> None:
        """Carry the dealing on after ``counts[stratum]`` tasks already placed."""
        a = self.assigner
        for key, n in counts.items():
            a.state[key] = [n, a._shuffled(key, n // a.size) if n % a.size else None]

    def __call__(self, task_id: int, stratum: str) -> int:
        code = self.stored.get(task_id)
        if code is not None:
            self.kept += 1
            return code
        code = self.assigner(stratum)
        self.new_ids.append(task_id)
        self.new_codes.append(code)
        self.new_strata.append(self._strata.setdefault(stratum, stratum))
        return code


def placement(s: Session | Connection, project_id: int, splits: Splits | None) -> Placement:
    """The generation's stored splits, ready to place new tasks: what the next publish gives
    (:func:`labeling.datasets.publish`) and what a live export writes in its ``split`` column
    (read in the export's own transaction, hence a session or a connection).

    Parameters
    ----------
    s : Session or Connection
    project_id : int
    splits : Splits or None
        The seed and shares asked for; None: the current generation's (before the first
        publish, :class:`Splits`' defaults).

    Raises
    ------
    Conflict
        ``splits`` differ from the current generation's: splits change only by a re-split.
    """
    g = SplitGeneration.__table__
    gen = s.execute(sa.select(g.c.number, g.c.seed, g.c.ratios).where(g.c.project_id == project_id)
                    .order_by(g.c.number.desc()).limit(1)).first()
    if gen is None:
        return Placement(generation=1, splits=splits or Splits(), exists=False)
    rule = _splits_of(gen)
    if splits is not None and not _same(splits, rule):
        shares = ",".join(f"{x:g}" for x in rule.ratios)
        raise Conflict(f"this project's splits are kept from version to version (generation {gen.number}: "
                       f"seed {rule.seed}, shares {shares}); to draw them again with another seed or shares, "
                       "re-split first (the dataset page, POST /api/projects/ID/datasets/resplit, "
                       "labelfab dataset resplit)",
                       [{"row": None, "field": "seed", "detail": "differs from the current split generation"}])
    out = Placement(generation=gen.number, splits=rule, exists=True)
    counts: dict[str, int] = {}
    codes = {name: i for i, name in enumerate(SPLIT_NAMES)}
    for tid, split, stratum in s.execute(sa.select(_TS.c.task_id, _TS.c.split, _TS.c.stratum)
                                         .where(_TS.c.project_id == project_id, _TS.c.generation == gen.number)):
        out.stored[tid] = codes[split]
        counts[stratum or ""] = counts.get(stratum or "", 0) + 1
    out._resume(counts)
    return out


def store(s: Session, project_id: int, place: Placement, *, version: int, user: User, now: datetime) -> None:
    """Write a publish's new placements (and its generation, if it starts one), in the
    transaction that writes the version; the project row is locked by the caller.

    Raises
    ------
    Conflict
        Another publish or a re-split changed the generation meanwhile.
    """
    gen = current_generation(s, project_id)
    number = gen.number if gen is not None else 1
    placed = s.execute(sa.select(sa.func.count()).select_from(_TS)
                       .where(_TS.c.project_id == project_id, _TS.c.generation == number)).scalar_one()
    if number != place.generation or (gen is not None) != place.exists or placed != len(place.stored):
        raise Conflict("the splits changed while this version was being built (another publish or a "
                       "re-split); publish again")
    if gen is None:
        s.add(SplitGeneration(project_id=project_id, number=1, seed=place.splits.seed,
                              ratios=list(place.splits.ratios), reason="first publish", created_by=user.id,
                              created_at=now))
    bulk = BulkWriter(s)
    try:
        rows = place.new_rows()
        consts = {"project_id": project_id, "generation": number, "version": version}
        while batch := list(islice(rows, 50_000)):
            bulk.insert(_TS.name, ("task_id", "split", "stratum"), batch, consts)
    finally:
        bulk.close()


def resplit(project_id: int, user: User, *, splits: Splits, reason: str = "") -> SplitGeneration:
    """Start a new split generation: the next version places every task again, from ``splits``.

    Parameters
    ----------
    project_id : int
    user : User
        Needs the ``export`` right (admins and the project's leads).
    splits : Splits
        The seed and shares of the new generation.
    reason : str
        Why (shown on the dataset card of the next version).

    Raises
    ------
    NotFound, Forbidden
        No such project, or no right to publish.
    Invalid
        A reason longer than 2,000 characters.
    """
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise Invalid("the reason is longer than 2,000 characters",
                      [{"row": None, "field": "reason", "detail": "too long"}])
    with write_session() as s:
        require_project(s, user, project_id, "export")
        s.exec(select(Project.id).where(Project.id == project_id).with_for_update()).first()
        gen = current_generation(s, project_id)
        row = SplitGeneration(project_id=project_id, number=(gen.number if gen else 0) + 1, seed=splits.seed,
                              ratios=list(splits.ratios), reason=reason or "re-split", created_by=user.id,
                              created_at=utcnow())
        s.add(row)
        s.flush()
        s.refresh(row)
        return row
