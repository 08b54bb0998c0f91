"""What every step of a QC run shares: its error, the tables it reads in bulk, and the shapes a
task type's scorer returns (:class:`Probs`, :class:`Scored`); region helpers of NER and detection.

The run's steps are laid out in ARCHITECTURE.md, quality/.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from labeling.models import Prediction, Task

__all__ = [
    "ANNOTATION",
    "BATCH",
    "PREDICTION",
    "QC_MODEL_PREFIX",
    "TASK",
    "LabelColumns",
    "Probs",
    "ProgressFn",
    "QCRunError",
    "Scored",
    "jsonable",
    "region_labels",
    "region_score",
]


#: Predictions written by QC runs carry a model_version starting with this; they are never
#: read back as "imported" probabilities (that would feed the model its own output).
QC_MODEL_PREFIX = "labelfab-qc"


TASK = Task.__table__
ANNOTATION = sa.table(
    "annotation",
    sa.column("task_id"),
    sa.column("user_id"),
    sa.column("result", sa.JSON),
    sa.column("was_cancelled"),
    sa.column("project_id"),
    sa.column("id"),
    sa.column("parent_prediction"),
)
PREDICTION = Prediction.__table__
BATCH = 5000


class QCRunError(Exception):
    """QC cannot run on this project's data; the message says why (the run ends failed)."""


ProgressFn = Callable[[float, str], None]


@dataclass
class Probs:
    """A run's pred_probs and where they came from."""

    pred_probs: np.ndarray
    source: str  # imported | embedding | features
    model_name: str
    cv_accuracy: float | None
    features: Any = None  # labeled items' features (for outliers / near duplicates)
    unlabeled_probs: np.ndarray | None = None
    details: dict = field(default_factory=dict)


@dataclass
class LabelColumns:
    """The ``label`` rows of all scored items as columns; a dict per row only while writing."""

    task_ids: np.ndarray
    is_issue: np.ndarray
    given: np.ndarray  # class indices
    suggested: np.ndarray
    consensus: np.ndarray | None
    score: np.ndarray
    reasons: list[str]
    names: list[str]

    def rows(self) -> Iterator[dict]:
        names = self.names
        for i in range(int(self.task_ids.size)):
            yield {"task_id": int(self.task_ids[i]), "kind": "label", "is_issue": bool(self.is_issue[i]),
                   "given": names[self.given[i]], "suggested": names[self.suggested[i]],
                   "consensus": names[self.consensus[i]] if self.consensus is not None else None,
                   "score": float(self.score[i]), "reason": self.reasons[i]}


@dataclass
class Scored:
    """Everything a run stores."""

    issues: list[dict]  # LabelIssue rows (without run/project ids)
    annotators: list[dict]  # AnnotatorScore rows
    noise_rate: float | None
    per_class_noise: dict
    confident_joint: list
    agreement: dict
    summary: dict
    n_issues: int
    predictions: list[dict] = field(
        default_factory=list
    )  # Prediction rows (task_id, result, score, probs)
    priorities: dict[int, float] = field(default_factory=dict)  # task id -> priority
    # labeled task id -> ActiveLab priority, should the policy send it back to annotators
    back_priorities: dict[int, float] = field(default_factory=dict)
    labels: LabelColumns | None = None  # the label rows of every item (classification)

    def rows(self) -> Iterator[dict]:
        if self.labels is not None:
            yield from self.labels.rows()
        yield from self.issues

    def release(self) -> None:
        """Drop the bulky parts once they are written."""
        self.labels = None
        self.issues = []
        self.predictions = []
        self.priorities = {}
        self.back_priorities = {}


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as JSON values (non-finite floats as None, floats
    rounded to 6 places)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    return value


def region_labels(region: dict, fld: str) -> list[str]:
    """The labels (``value[fld]``) of a Label Studio region, the strings only."""
    value = region.get("value")
    names = value.get(fld) if isinstance(value, dict) else None
    return [x for x in names if isinstance(x, str)] if isinstance(names, list) else []


def region_score(region: dict, fallback: float | None) -> float | None:
    """A region's score (else ``fallback``) clipped into (0, 1); None when neither is a finite
    number."""
    s = region.get("score", fallback)
    if isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s):
        return float(min(max(s, 1e-3), 1 - 1e-3))
    return None
