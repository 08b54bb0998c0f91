"""An export's options: which tasks it takes (:class:`Filters`) and how it splits them
(:class:`Splits`, drawn by :class:`SplitAssigner`), read from text as the export page, the REST
API and the CLI give them (:func:`parse_filters`, :func:`parse_splits`, :func:`parse_flag`).

:class:`~labeling.exports.selection.Selection` applies them; :mod:`labeling.splits` carries the
same drawing on from version to version.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from labeling.errors import Invalid
from labeling.models import TaskState

__all__ = [
    "SPLIT_NAMES",
    "Filters",
    "SplitAssigner",
    "Splits",
    "parse_filters",
    "parse_flag",
    "parse_splits",
]

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Filters:
    """Which tasks an export takes (gold tasks only when asked).

    Attributes
    ----------
    states : tuple of str
        Task states; ``("accepted",)`` by default.
    labels : tuple of str
        Keep tasks whose final label carries one of these label names (all if empty).
    annotator : str or None
        A user id or email: keep tasks this user annotated (a submitted annotation).
    since, until : datetime or None
        Keep tasks whose last state change (``Task.updated_at``) is in ``[since, until)``.
    gold : bool
        Gold tasks too (whatever their state), their answer as the label (source ``gold``).
    """

    states: tuple[str, ...] = (TaskState.accepted.value,)
    labels: tuple[str, ...] = ()
    annotator: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    gold: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"states": list(self.states), "labels": list(self.labels), "annotator": self.annotator,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "gold": self.gold}


def _items(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0, 0))
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo:
            parsed.astimezone(UTC)  # OverflowError when out of range once in UTC
    except (ValueError, OverflowError):
        raise Invalid(f"{name} must be a date (2025-01-31) or an ISO date and time, got {text!r}",
                      [{"row": None, "field": name, "detail": "not a date"}]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_filters(*, state: str | Iterable[str] | None = None, label: str | Iterable[str] | None = None,
                  annotator: str | int | None = None, since: str | None = None,
                  until: str | None = None, gold: bool = False) -> Filters:
    """Filters from text (query arguments, CLI options); comma-separated lists allowed.

    ``state="all"`` takes every state (tasks without any label are still left out); ``gold``
    adds the gold tasks with their answers.

    Raises
    ------
    Invalid
        An unknown state, or a date that does not parse; ``errors`` names the field.
    """
    states = _items(state) or [TaskState.accepted.value]
    if "all" in states:
        states = [s.value for s in TaskState]
    known = {s.value for s in TaskState}
    bad = [s for s in states if s not in known]
    if bad:
        raise Invalid(f"unknown task state {bad[0]!r}; states are {', '.join(sorted(known))} (or all)",
                      [{"row": None, "field": "state", "detail": f"unknown state {s!r}"} for s in bad])
    who = str(annotator).strip() if annotator not in (None, "") else None
    start, end = _when(since, "since"), _when(until, "until")
    if start and end and start >= end:
        raise Invalid("since must be before until", [{"row": None, "field": "until", "detail": "before since"}])
    return Filters(states=tuple(dict.fromkeys(states)), labels=tuple(dict.fromkeys(_items(label))),
                   annotator=who, since=start, until=end, gold=bool(gold))


@dataclass(frozen=True)
class Splits:
    """Train/validation/test shares and the seed that draws them."""

    seed: int = 42
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "ratios": dict(zip(SPLIT_NAMES, self.ratios, strict=True))}


_YES, _NO = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def parse_flag(value: str | bool | None, name: str) -> bool:
    """A yes/no export option (``csv_raw``) as the page, the API and the CLI give it: a bool, or
    text (true/false, 1/0, yes/no, on/off; absent or empty is no).

    Raises
    ------
    Invalid
        Any other text, naming the option.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _YES or text in _NO:
        return text in _YES
    raise Invalid(f"{name} must be true or false, got {str(value)[:40]!r}",
                  [{"row": None, "field": name, "detail": "true or false"}])


def parse_splits(*, seed: str | int | None = None, split: str | None = None) -> Splits:
    """Splits from text: ``seed`` a whole number, ``split`` three shares ``80,10,10`` (or 0.8,...).

    Raises
    ------
    Invalid
        A seed that is not a whole number, or shares that are not three numbers >= 0 with a
        positive sum.
    """
    value = Splits()
    if seed not in (None, ""):
        try:
            value = Splits(seed=int(str(seed)), ratios=value.ratios)
        except ValueError:
            raise Invalid(f"seed must be a whole number, got {seed!r}",
                          [{"row": None, "field": "seed", "detail": "not a whole number"}]) from None
    if split not in (None, ""):
        try:
            shares = [float(x) for x in str(split).split(",")]
        except ValueError:
            shares = []
        if len(shares) != 3 or any(not math.isfinite(x) or x < 0 for x in shares) or sum(shares) <= 0:
            raise Invalid(f"split must be three shares train,validation,test such as 80,10,10; got {split!r}",
                          [{"row": None, "field": "split", "detail": "three numbers >= 0"}])
        total = sum(shares)
        value = Splits(seed=value.seed, ratios=tuple(round(x / total, 6) for x in shares))
    return value


def _block(ratios: tuple[float, float, float]) -> list[int]:
    """The slots of one block: the shortest list (at most 100) holding the shares exactly
    (``[0]*8 + [1] + [2]`` for 80/10/10), else 100 slots with rounded shares."""
    size = 100
    for n in range(1, 101):
        if all(abs(n * p - round(n * p)) < 1e-6 for p in ratios):
            size = n
            break
    n_val, n_test = round(size * ratios[1]), round(size * ratios[2])
    n_train = max(size - n_val - n_test, 0)
    return [0] * n_train + [1] * n_val + [2] * (size - n_train - n_val)


class SplitAssigner:
    """Deterministic, stratified train/validation/test splits, drawn as the tasks stream by.

    Within each stratum (a class; a set of labels for multi-label; one stratum for spans and
    boxes) the tasks, in id order, are dealt in blocks whose slots hold the exact shares (10
    slots for 80/10/10); the slots of each block are shuffled by a hash of the seed, the
    stratum and the block number. So the same tasks and seed give the same splits on any
    machine, every stratum is split in the given shares (up to one block), and tasks added
    later never move an earlier task to another split.

    Examples
    --------
    >>> assign = SplitAssigner(Splits(seed=1))
    >>> [assign("cat") for _ in range(10)].count(0)
    8
    """

    def __init__(self, splits: Splits):
        self.seed = splits.seed
        self.pattern = _block(splits.ratios)
        self.size = len(self.pattern)
        self.nbytes = int(math.lgamma(self.size + 1) / math.log(2)) // 8 + 9
        self.state: dict[str, list] = {}  # stratum -> [tasks seen, slots of the current block]

    def _shuffled(self, key: str, block: int) -> list[int]:
        """The block's slots shuffled (Fisher-Yates) by a number drawn from
        SHAKE-256(seed, stratum, block), a few bytes longer than log2(size!) so that every order
        is (nearly) equally likely."""
        x = int.from_bytes(hashlib.shake_256(f"{self.seed}\x1f{key}\x1f{block}".encode()).digest(self.nbytes), "big")
        slots = list(self.pattern)
        for i in range(self.size - 1, 0, -1):
            x, j = divmod(x, i + 1)
            slots[i], slots[j] = slots[j], slots[i]
        return slots

    def __call__(self, key: str) -> int:
        """The split (0 train, 1 validation, 2 test) of the next task of stratum ``key``."""
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = [0, None]
        k = st[0]
        st[0] = k + 1
        pos = k % self.size
        if pos == 0:
            st[1] = self._shuffled(key, k // self.size)
        return st[1][pos]
