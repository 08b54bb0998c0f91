"""QC runs: the QC engine wired into the product.

One QC run of a project (:func:`run_qc`, run by the ``qc`` job of :mod:`quality.jobs`):

1. loads, in bulk, the labeled tasks of the project (not gold, not excluded) with their
   non-cancelled annotations, and the tasks still waiting for labels;
2. builds the labels of the primary control: one label per item, or a labels matrix with one
   column per annotator when items have several labels (classification), label sets
   (multi-label), token labels (NER) or boxes (object detection);
3. gets out-of-sample ``pred_probs``, from the first source that works: probabilities imported
   with predictions, K-fold cross-validation on ``data.embedding``, K-fold cross-validation on
   features labelfab computes itself (image pixels from the stored media; TF-IDF of the text);
4. scores with cleanlab (:mod:`quality.scoring`): label issues, CROWDLAB consensus and annotator
   quality, noise rates and the confident joint, outliers and near duplicates, ActiveLab;
5. writes one :class:`QualityRun` with its :class:`LabelIssue` and :class:`AnnotatorScore`
   rows, the model's predictions for tasks still needing labels (pre-annotations) and, when the
   project asks for uncertain tasks first, their ``Task.priority`` -- all in ONE transaction
   together with marking the job done, so a job re-run after a crash writes its results once.

A QC run never changes task states or labels: what becomes suspect is the QC policy's call.
Input QC cannot score (fewer than 2 classes, no labeled tasks, one item, constant features, a
project too large, ...) ends the run ``failed`` with a clear message, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select
from threadpoolctl import threadpool_limits

from labeling import jobs
from labeling.access import require_project
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Conflict, Invalid, NotFound
from labeling.jobs.qc_trigger import QC_JOB_KIND, enqueue_qc
from labeling.media import MediaError, media_path
from labeling.models import (
    AnnotatorScore,
    Job,
    LabelIssue,
    Media,
    Prediction,
    Project,
    QualityRun,
    Task,
    TaskState,
    User,
)
from labeling.schema import ControlSpec, LabelSchema, result_from_labels
from labeling.settings import get_settings
from quality import QCInputError
from quality.policy import activelab_priorities, apply_policy, policy_of, sends_back

log = logging.getLogger(__name__)

__all__ = [
    "KNN_LIMIT",
    "MAX_ITEMS",
    "MAX_PREDICT",
    "QC_MODEL_PREFIX",
    "QCRunError",
    "get_run",
    "issue_view",
    "label_issues",
    "list_runs",
    "run_qc",
    "run_view",
    "shown",
    "start_qc",
]

#: Predictions written by QC runs carry a model_version starting with this; they are never
#: read back as "imported" probabilities (that would feed the model its own output).
QC_MODEL_PREFIX = "labelfab-qc"
#: Most labeled items a run scores; above, the run ends with a message (memory stays bounded).
MAX_ITEMS = 300_000
#: Most unlabeled tasks the model predicts in one run (the first ones in import order).
MAX_PREDICT = 100_000
#: Above this many items, outliers come from pred_probs and near duplicates are exact
#: duplicates only (an exact k-nearest-neighbour graph would cost O(n^2)).
KNN_LIMIT = 20_000
#: Models a run chooses from unless the job asks for others (``options["models"]``). Gradient
#: boosting is left out by default: on a shared 2-core machine it costs minutes for a few hundred
#: images and rarely beats the RBF SVM on labelfab's features.
DEFAULT_MODELS = ("logreg", "svm_rbf")
#: ... and for sparse features (TF-IDF): the RBF SVM is ten times slower there and its
#: probabilities find label errors worse (bench/qc.py's text project: F1 0.77 against 0.90).
DEFAULT_SPARSE_MODELS = ("logreg",)
#: Largest labels matrix (items x annotators cells) CROWDLAB is given.
MAX_MATRIX_CELLS = 20_000_000

_T = Task.__table__
_A = sa.table(
    "annotation",
    sa.column("task_id"),
    sa.column("user_id"),
    sa.column("result", sa.JSON),
    sa.column("was_cancelled"),
    sa.column("project_id"),
    sa.column("id"),
)
_PR = Prediction.__table__
_NOT_SCORED = (TaskState.excluded.value,)
_BATCH = 5000
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class QCRunError(Exception):
    """QC cannot run on this project's data; the message says why (the run ends failed)."""


ProgressFn = Callable[[float, str], None]


# --------------------------------------------------------------------------- starting runs


def start_qc(user: User, project_id: int, *, options: dict | None = None) -> tuple[Job, bool]:
    """Start a QC run of a project as a ``qc`` job (leads of the project, admins).

    If a QC job of the project is already queued or running, that job is returned instead of
    starting a second one.

    Returns
    -------
    (Job, bool)
        The job, and True if it was created by this call.
    """
    payload = {"trigger": "manual", **_clean_options(options or {})}
    with write_session() as s:
        project = require_project(s, user, project_id, "manage")
        if project.archived_at is not None:
            raise Conflict(f"project {project_id} is archived; unarchive it to run QC")
        job_id, created = enqueue_qc(
            s.connection(), project_id, created_by=user.id, payload=payload
        )
    job = jobs.get_job(job_id)
    return job, created


def _clean_options(options: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key == "predict_unlabeled":
            if not isinstance(value, bool):
                raise Invalid(
                    "predict_unlabeled must be true or false",
                    [{"row": None, "field": key, "detail": "not a boolean"}],
                )
            out[key] = value
        elif key == "models":
            from quality.pred_probs import MODELS

            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(m, str) and m in MODELS for m in value)
            ):
                raise Invalid(
                    f"models must be a non-empty list of {', '.join(MODELS)}",
                    [{"row": None, "field": key, "detail": "unknown model"}],
                )
            out[key] = value
        else:
            raise Invalid(
                f"unknown QC option {key!r}; options are predict_unlabeled, models",
                [{"row": None, "field": key, "detail": "unknown option"}],
            )
    return out


# --------------------------------------------------------------------------- loading


@dataclass
class _Data:
    """What a run works on, loaded in bulk."""

    project: Project
    schema: LabelSchema
    control: ControlSpec
    kind: str
    class_names: list[str]
    task_ids: np.ndarray  # labeled items (sorted task ids)
    open_mask: np.ndarray  # item's task still needs labels (state open)
    content_hash: list[str | None]
    media_ids: list[int | None]
    # one entry per usable annotation, in item order
    ann_item: np.ndarray  # item index
    ann_user: np.ndarray  # user id
    ann_value: (
        list  # class index (classification), sorted class list (multilabel), result (ner/detection)
    )
    unlabeled_ids: np.ndarray  # tasks without any annotation, still open (capped at MAX_PREDICT)
    n_unlabeled: int  # before the cap
    n_annotations_other: int = 0  # annotations without a label of the primary control
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.task_ids.size)


def _choices(result: Any, name: str, fld: str) -> list[str]:
    out: list[str] = []
    if not isinstance(result, list):
        return out
    for item in result:
        if isinstance(item, dict) and item.get("from_name") == name:
            value = item.get("value")
            names = value.get(fld) if isinstance(value, dict) else None
            if isinstance(names, list):
                out.extend(x for x in names if isinstance(x, str) and x not in out)
    return out


def _load(project_id: int, *, max_items: int, max_predict: int, progress: ProgressFn) -> _Data:
    with read_session() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise QCRunError(f"project {project_id} not found")
        schema = LabelSchema.model_validate(project.label_schema)
        control = schema.primary_control
        kind = schema.kind
        if kind == "other" or not control.labels:
            raise QCRunError(
                f"QC scores <Choices>, <Labels> and <RectangleLabels> controls; the primary control "
                f"{control.name!r} is <{control.tag}>, which has no labels to check"
            )
        class_names = list(control.labels)
        if kind == "ner":
            class_names = ["O", *class_names]
        if len(class_names) < 2:
            raise QCRunError(
                f"the label config's control {control.name!r} has a single label "
                f"({class_names[0]!r}); QC needs at least 2 classes to compare"
            )
        conn = s.connection()
        scored = sa.and_(
            _T.c.project_id == project_id,
            _T.c.is_gold == sa.false(),
            _T.c.state.notin_(_NOT_SCORED),
        )
        n_labeled = conn.execute(
            sa.select(sa.func.count())
            .select_from(_T)
            .where(
                scored, sa.exists().where(_A.c.task_id == _T.c.id, _A.c.was_cancelled == sa.false())
            )
        ).scalar_one()
        if n_labeled == 0:
            raise QCRunError(
                "the project has no labeled tasks yet; label (or import labels for) some tasks "
                "of at least 2 classes, then run QC"
            )
        if n_labeled > max_items:
            raise QCRunError(
                f"the project has {n_labeled:,} labeled tasks; a QC run scores at most {max_items:,} "
                "(memory and time stay bounded). Split the data into several projects, or export it and "
                "run cleanlab on a machine sized for it"
            )
        progress(0.02, f"loading the annotations of {n_labeled:,} labeled tasks")

        fld = {"Choices": "choices", "Labels": "labels", "RectangleLabels": "rectanglelabels"}[
            control.tag
        ]
        index = {name: i for i, name in enumerate(class_names)}
        q = (
            sa.select(_A.c.task_id, _A.c.user_id, _A.c.result)
            .select_from(_A.join(_T, _T.c.id == _A.c.task_id))
            .where(_A.c.project_id == project_id, _A.c.was_cancelled == sa.false(), scored)
            .order_by(_A.c.task_id, _A.c.id)
        )
        ann_task: list[int] = []
        ann_user: list[int] = []
        ann_value: list = []
        other = 0
        unknown: Counter = Counter()
        for task_id, user_id, result in conn.execution_options(
            stream_results=True, yield_per=_BATCH
        ).execute(q):
            if kind == "classification":
                names = _choices(result, control.name, fld)
                if len(names) != 1:
                    other += 1
                    continue
                c = index.get(names[0])
                if c is None:
                    unknown[names[0]] += 1
                    continue
                value: Any = c
            elif kind == "multilabel":
                if not any(
                    isinstance(it, dict) and it.get("from_name") == control.name
                    for it in result or []
                ):
                    # a multiple-choice control with nothing chosen keeps no result item; an
                    # annotation that does not touch the control at all says "none apply" too
                    if result and any(
                        isinstance(it, dict)
                        and it.get("type") in ("choices", "labels", "rectanglelabels")
                        for it in result
                    ):
                        other += 1
                        continue
                names = _choices(result, control.name, fld)
                bad = [x for x in names if x not in index]
                for x in bad:
                    unknown[x] += 1
                value = sorted(index[x] for x in names if x in index)
            else:  # ner, detection: the regions of the primary control
                regions = [
                    it
                    for it in result or []
                    if isinstance(it, dict) and it.get("from_name") == control.name
                ]
                value = regions
            ann_task.append(task_id)
            ann_user.append(user_id)
            ann_value.append(value)
        if not ann_task:
            raise QCRunError(
                f"none of the annotations of the {n_labeled:,} labeled tasks has a label of control "
                f"{control.name!r}; QC has nothing to check"
            )
        progress(0.06, "loading the tasks")
        tq = (
            sa.select(_T.c.id, _T.c.state, _T.c.n_annotations, _T.c.content_hash, _T.c.media_id)
            .where(scored)
            .order_by(_T.c.id)
        )
        ann_task_arr = np.asarray(ann_task, dtype=np.int64)
        labeled_ids = np.unique(ann_task_arr)
        task_ids: list[int] = []
        open_flags: list[bool] = []
        hashes: list[str | None] = []
        media_ids: list[int | None] = []
        unlabeled: list[int] = []
        n_unlabeled = 0
        pos = 0
        n_lab = labeled_ids.size
        for tid, state, n_ann, chash, media_id in conn.execution_options(
            stream_results=True, yield_per=_BATCH
        ).execute(tq):
            while pos < n_lab and labeled_ids[pos] < tid:
                pos += 1
            if pos < n_lab and labeled_ids[pos] == tid:
                task_ids.append(tid)
                open_flags.append(state == TaskState.open)
                hashes.append(chash)
                media_ids.append(media_id)
            elif n_ann == 0 and state in (TaskState.open, TaskState.imported):
                n_unlabeled += 1
                if len(unlabeled) < max_predict:
                    unlabeled.append(tid)
    task_arr = np.asarray(task_ids, dtype=np.int64)
    keep = np.isin(ann_task_arr, task_arr)  # a task deleted meanwhile drops out
    item_of = np.searchsorted(task_arr, ann_task_arr[keep])
    values = [v for v, k in zip(ann_value, keep, strict=True) if k] if not keep.all() else ann_value
    notes = []
    if unknown:
        listing = ", ".join(f"{name!r} ({n})" for name, n in unknown.most_common(5))
        notes.append(
            f"{sum(unknown.values())} annotation(s) use labels no longer in the config and were left "
            f"out: {listing}"
        )
    if other and kind == "classification":
        notes.append(
            f"{other} annotation(s) carry no single label of {control.name!r} and were left out"
        )
    if n_unlabeled > len(unlabeled):
        notes.append(
            f"{n_unlabeled:,} tasks wait for labels; the model predicted the first {len(unlabeled):,}"
        )
    return _Data(
        project=project,
        schema=schema,
        control=control,
        kind=kind,
        class_names=class_names,
        task_ids=task_arr,
        open_mask=np.asarray(open_flags, dtype=bool),
        content_hash=hashes,
        media_ids=media_ids,
        ann_item=item_of.astype(np.int64),
        ann_user=np.asarray(ann_user, dtype=np.int64)[keep],
        ann_value=values,
        unlabeled_ids=np.asarray(unlabeled, dtype=np.int64),
        n_unlabeled=n_unlabeled,
        n_annotations_other=other,
        notes=notes,
    )


# --------------------------------------------------------------------------- features


def _task_values(project_id: int, ids: np.ndarray, column: Any) -> list:
    """``column`` of the tasks ``ids`` (sorted), in that order; None where a task has none."""
    out: list = [None] * ids.size
    if ids.size == 0:
        return out
    with read_session() as s:
        conn = s.connection()
        q = (
            sa.select(_T.c.id, column)
            .where(_T.c.project_id == project_id, _T.c.id >= int(ids[0]), _T.c.id <= int(ids[-1]))
            .order_by(_T.c.id)
        )
        pos = 0
        for tid, value in conn.execution_options(stream_results=True, yield_per=_BATCH).execute(q):
            while pos < ids.size and ids[pos] < tid:
                pos += 1
            if pos < ids.size and ids[pos] == tid:
                out[pos] = value
    return out


def _all_ids(data: _Data) -> np.ndarray:
    return np.union1d(data.task_ids, data.unlabeled_ids)


def _split(data: _Data, all_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.searchsorted(all_ids, data.task_ids), np.searchsorted(all_ids, data.unlabeled_ids)


def _parse_vectors(texts: list[str], dim: int) -> np.ndarray | None:
    """Many JSON arrays of ``dim`` numbers at once (C speed); None if any is not one."""
    import warnings

    body = ",".join(t.strip()[1:-1] for t in texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns (and stops) on text that is not a number
        try:
            values = np.fromstring(body, dtype=np.float64, sep=",")
        except ValueError:
            return None
    if values.size != len(texts) * dim:
        return None
    return values.reshape(len(texts), dim)


def _parse_vector(text: str) -> np.ndarray | None:
    try:
        value = np.asarray(json.loads(text), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return value if value.ndim == 1 and value.size else None


def _embedding_features(data: _Data) -> tuple[np.ndarray, np.ndarray | None] | str:
    """(X of labeled items, X of unlabeled items) from ``data.embedding``, or why not.

    The vectors are read as JSON text and parsed a batch at a time, into one float32 matrix.
    """
    ids = _all_ids(data)
    lab, unl = _split(data, ids)
    is_lab = np.zeros(ids.size, dtype=bool)
    is_lab[lab] = True
    X: np.ndarray | None = None
    missing_lab = 0
    has = np.zeros(ids.size, dtype=bool)
    batch_pos: list[int] = []
    batch_text: list[str] = []

    def flush() -> str | None:
        parsed = _parse_vectors(batch_text, X.shape[1])
        if parsed is not None:
            X[batch_pos] = parsed
        else:  # find the row that is not a vector of the right length
            for pos, text in zip(batch_pos, batch_text, strict=True):
                vec = _parse_vector(text)
                if vec is None:
                    return f"data.embedding of task {int(ids[pos])} is not a list of numbers"
                if vec.size != X.shape[1]:
                    return (f"data.embedding of task {int(ids[pos])} has {vec.size} values, "
                            f"others {X.shape[1]}")
                X[pos] = vec
        has[batch_pos] = True
        batch_pos.clear()
        batch_text.clear()
        return None

    with read_session() as s:
        conn = s.connection()
        q = (sa.select(_T.c.id, _T.c.data["embedding"].as_string())
             .where(_T.c.project_id == data.project.id, _T.c.id >= int(ids[0]), _T.c.id <= int(ids[-1]))
             .order_by(_T.c.id))
        pos = 0
        for tid, text in conn.execution_options(stream_results=True, yield_per=_BATCH).execute(q):
            while pos < ids.size and ids[pos] < tid:
                pos += 1
            if pos >= ids.size or ids[pos] != tid:
                continue
            if not isinstance(text, str) or not text.lstrip().startswith("[") or text.strip() == "[]":
                if is_lab[pos]:
                    missing_lab += 1
                    if X is None:
                        return "no data.embedding on the labeled tasks"
                continue
            if X is None:
                first = _parse_vector(text)
                if first is None:
                    return f"data.embedding of task {tid} is not a list of numbers"
                X = np.zeros((ids.size, first.size), dtype=np.float32)
            batch_pos.append(pos)
            batch_text.append(text)
            if len(batch_pos) >= _BATCH:
                problem = flush()
                if problem:
                    return problem
        if X is not None and batch_pos:
            problem = flush()
            if problem:
                return problem
    if X is None:
        return "no data.embedding on the labeled tasks"
    if missing_lab:
        return f"{missing_lab:,} of {lab.size:,} labeled tasks have no data.embedding"
    bad = ~np.isfinite(X[lab]).all(axis=1)
    if bad.any():
        return f"data.embedding of task {int(data.task_ids[np.flatnonzero(bad)[0]])} holds NaN or infinity"
    unl_ok = unl[has[unl]] if unl.size else unl
    if unl.size and unl_ok.size < unl.size:
        data.notes.append(
            f"{unl.size - unl_ok.size:,} unlabeled task(s) without data.embedding were not predicted"
        )
        data.unlabeled_ids = ids[unl_ok]
    return X[lab], (X[unl_ok] if unl_ok.size else None)


def _image_paths(data: _Data, ids: np.ndarray) -> list[str | None]:
    """Paths of the stored media files of tasks ``ids`` (sorted)."""
    root = get_settings().media_root
    media = _task_values(data.project.id, ids, _T.c.media_id)
    wanted = sorted({m for m in media if m is not None})
    files: dict[int, tuple[str, str]] = {}
    with read_session() as s:
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            files.update(
                {
                    mid: (sha, ext)
                    for mid, sha, ext in s.execute(
                        sa.select(Media.id, Media.sha256, Media.ext).where(Media.id.in_(chunk))
                    )
                }
            )
    out: list[str | None] = []
    for m in media:
        if m is None or m not in files:
            out.append(None)
            continue
        try:
            out.append(str(media_path(root, *files[m])))
        except MediaError:
            out.append(None)
    return out


def _own_features(data: _Data, progress: ProgressFn) -> tuple[Any, Any, str] | str:
    """Features labelfab computes itself: (X labeled, X unlabeled or None, what), or why not."""
    import scipy.sparse as sp

    from quality.features import image_features, text_features

    obj = data.schema.objects.get(data.control.to_name)
    if obj is None:
        return f"the control {data.control.name!r} annotates no object"
    ids = _all_ids(data)
    lab, unl = _split(data, ids)
    if obj.tag == "Image":
        paths = _image_paths(data, ids)
        missing = [int(ids[i]) for i in lab if paths[i] is None]
        if missing:
            return (
                f"{len(missing):,} labeled task(s) have no stored image (task {missing[0]}); "
                "labelfab computes features from images it stores (imported files)"
            )
        keep_unl = np.asarray([i for i in unl if paths[i] is not None], dtype=np.int64)
        if keep_unl.size < unl.size:
            data.notes.append(
                f"{unl.size - keep_unl.size:,} unlabeled task(s) without a stored image were not predicted"
            )
            data.unlabeled_ids = ids[keep_unl]
        use = np.concatenate([lab, keep_unl]).astype(np.int64)
        progress(0.12, f"computing image features of {use.size:,} images")
        X = image_features([paths[i] for i in use])
        return X[: lab.size], (X[lab.size :] if keep_unl.size else None), "image pixels"
    key = obj.value_key
    texts = _task_values(data.project.id, ids, _T.c.data[key].as_string())
    missing = [int(ids[i]) for i in lab if not isinstance(texts[i], str)]
    if missing:
        return f"{len(missing):,} labeled task(s) have no text in data.{key} (task {missing[0]})"
    keep_unl = np.asarray([i for i in unl if isinstance(texts[i], str)], dtype=np.int64)
    data.unlabeled_ids = ids[keep_unl]
    use = np.concatenate([lab, keep_unl]).astype(np.int64)
    progress(0.12, f"computing TF-IDF features of {use.size:,} texts")
    X = text_features([texts[i] for i in use])
    X = sp.csr_matrix(X)
    return X[: lab.size], (X[lab.size :] if keep_unl.size else None), "TF-IDF"


def _imported_probs(
    data: _Data, *, multilabel: bool
) -> tuple[np.ndarray, np.ndarray | None, str] | str:
    """pred_probs from imported predictions of every labeled item (the newest one per task)."""
    from quality.pred_probs import probs_from_predictions

    ids = _all_ids(data)
    lab, unl = _split(data, ids)
    found: list[dict | None] = [None] * ids.size
    versions: Counter = Counter()
    version_of: list[str] = [""] * ids.size
    control = data.control
    with read_session() as s:
        conn = s.connection()
        q = (
            sa.select(_PR.c.task_id, _PR.c.probs, _PR.c.score, _PR.c.result, _PR.c.model_version)
            .where(
                _PR.c.project_id == data.project.id,
                ~_PR.c.model_version.startswith(QC_MODEL_PREFIX),
            )
            .order_by(_PR.c.task_id, _PR.c.id)
        )
        for tid, probs, score, result, version in conn.execution_options(
            stream_results=True, yield_per=_BATCH
        ).execute(q):
            pos = int(np.searchsorted(ids, tid))
            if pos >= ids.size or ids[pos] != tid:
                continue
            if isinstance(probs, dict) and probs:
                found[pos] = probs
                version_of[pos] = version or ""
            elif (
                not multilabel
                and isinstance(score, int | float)
                and 0 < score <= 1
                and control.tag == "Choices"
            ):
                names = _choices(result, control.name, "choices")
                if len(names) == 1 and names[0] in control.labels:
                    found[pos] = {names[0]: float(score)}
                    version_of[pos] = version or ""
    have = sum(1 for i in lab if found[i] is not None)
    if have == 0:
        return "no imported predictions with probabilities"
    if have < lab.size:
        return f"only {have:,} of {lab.size:,} labeled tasks have imported predictions with probabilities"
    for i in lab:
        versions[version_of[i]] += 1
    names = data.class_names
    try:
        if multilabel:
            idx = {c: j for j, c in enumerate(names)}

            def rows(which: Iterable[int]) -> np.ndarray:
                out = np.zeros((len(list(which)), len(names)), dtype=np.float64)
                for r, i in enumerate(which):
                    for label, p in found[i].items():
                        if label in idx:
                            out[r, idx[label]] = min(max(float(p), 0.0), 1.0)
                return out

            pp = rows(list(lab))
            unl_ok = [i for i in unl if found[i] is not None]
            ppu = rows(unl_ok) if unl_ok else None
        else:
            pp = probs_from_predictions([found[i] for i in lab], names, normalize=True)
            unl_ok = [i for i in unl if found[i] is not None]
            ppu = (
                probs_from_predictions([found[i] for i in unl_ok], names, normalize=True)
                if unl_ok
                else None
            )
    except QCInputError as exc:
        return f"imported probabilities are unusable: {exc}"
    data.unlabeled_ids = (
        ids[np.asarray(unl_ok, dtype=np.int64)] if unl_ok else np.zeros(0, dtype=np.int64)
    )
    version = versions.most_common(1)[0][0] or "imported"
    return pp, ppu, version


@dataclass
class _Probs:
    pred_probs: np.ndarray
    source: str  # imported | embedding | features
    model_name: str
    cv_accuracy: float | None
    features: Any = None  # labeled items' features (for outliers / near duplicates)
    unlabeled_probs: np.ndarray | None = None
    details: dict = field(default_factory=dict)


def _model_probs(
    X: Any,
    X_unl: Any,
    y: np.ndarray,
    n_classes: int,
    *,
    models: list[str] | None,
    predict: bool,
    progress: ProgressFn,
) -> tuple[np.ndarray, str, float, dict, np.ndarray | None]:
    from quality.pred_probs import cross_val_pred_probs, fit_predict

    if models:
        candidates = tuple(models)
    else:
        candidates = DEFAULT_SPARSE_MODELS if hasattr(X, "tocsr") else DEFAULT_MODELS
    pp, name, acc, details = cross_val_pred_probs(
        X, y, n_classes=n_classes, return_details=True, candidates=candidates
    )
    ppu = None
    if predict and X_unl is not None and X_unl.shape[0]:
        progress(0.55, f"predicting {X_unl.shape[0]:,} unlabeled tasks with {name}")
        ppu = fit_predict(X, y, X_unl, name, n_classes=n_classes)
    return pp, name, acc, details, ppu


def _multilabel_model_probs(
    X: Any, X_unl: Any, Y: np.ndarray, *, predict: bool, progress: ProgressFn
) -> tuple[np.ndarray, str, float, np.ndarray | None]:
    """One binary model per class (one-vs-rest), each cross-validated."""
    from quality.pred_probs import cross_val_pred_probs, fit_predict

    n, k = Y.shape
    pp = np.zeros((n, k), dtype=np.float64)
    ppu = np.zeros((X_unl.shape[0], k), dtype=np.float64) if predict and X_unl is not None else None
    for c in range(k):
        y = Y[:, c].astype(np.int64)
        progress(0.2 + 0.4 * c / k, f"cross-validating class {c + 1} of {k}")
        if y.min() == y.max():  # never or always given: nothing to learn, keep the label's rate
            pp[:, c] = float(y[0])
            if ppu is not None:
                ppu[:, c] = float(y[0])
            continue
        p, _, _ = cross_val_pred_probs(X, y, n_classes=2, candidates=("logreg",))
        pp[:, c] = p[:, 1]
        if ppu is not None and ppu.shape[0]:
            ppu[:, c] = fit_predict(X, y, X_unl, "logreg", n_classes=2)[:, 1]
    acc = float(np.mean((pp >= 0.5) == Y.astype(bool)))
    return pp, "logreg (one-vs-rest)", acc, ppu


def _pred_probs(
    data: _Data,
    y: np.ndarray,
    *,
    options: dict,
    progress: ProgressFn,
    multilabel_targets: np.ndarray | None = None,
) -> _Probs:
    """pred_probs from the first source that works, noting why earlier ones did not."""
    multilabel = multilabel_targets is not None
    predict = bool(options.get("predict_unlabeled", True)) and data.unlabeled_ids.size > 0
    models = options.get("models")
    tried: list[str] = []
    progress(0.08, "looking for imported probabilities")
    got = _imported_probs(data, multilabel=multilabel)
    if isinstance(got, tuple):
        pp, ppu, version = got
        if multilabel:
            acc = float(np.mean((pp >= 0.5) == multilabel_targets.astype(bool)))
        else:
            acc = float(np.mean(pp.argmax(axis=1) == y))
        return _Probs(pp, "imported", f"imported: {version}"[:100], acc, unlabeled_probs=ppu)
    tried.append(f"imported probabilities: {got}")

    sources: list[tuple[str, Callable[[], Any]]] = [
        ("embedding", lambda: _embedding_features(data)),
        ("features", lambda: _own_features(data, progress)),
    ]
    for source, make in sources:
        progress(0.1, f"building features ({source})")
        saved_unlabeled = data.unlabeled_ids
        got = make()
        if isinstance(got, str):
            tried.append(f"{source}: {got}")
            data.unlabeled_ids = saved_unlabeled
            continue
        X, X_unl = got[0], got[1]
        what = got[2] if len(got) > 2 else "data.embedding"
        progress(0.2, f"cross-validating models on {what} of {data.n:,} items")
        try:
            if multilabel:
                pp, name, acc, ppu = _multilabel_model_probs(
                    X, X_unl, multilabel_targets, predict=predict, progress=progress
                )
                details: dict = {}
            else:
                pp, name, acc, details, ppu = _model_probs(
                    X,
                    X_unl,
                    y,
                    len(data.class_names),
                    models=models,
                    predict=predict,
                    progress=progress,
                )
        except QCInputError as exc:
            tried.append(f"{source} ({what}): {exc}")
            data.unlabeled_ids = saved_unlabeled
            continue
        if not predict:
            data.unlabeled_ids = np.zeros(0, dtype=np.int64)
        info = {"features": what, "n_features": int(X.shape[1])}
        if details:
            info.update(
                {
                    "accuracy_by_model": {
                        k: round(v, 4) for k, v in details["accuracy_by_model"].items()
                    },
                    "skipped_models": details["skipped"],
                    "n_folds": details["n_folds"],
                    "prior_rows": int(np.asarray(details["fallback_rows"]).size),
                    "selected_on": details["selected_on"],
                }
            )
        if tried:
            info["not_used"] = tried
        return _Probs(pp, source, name, acc, features=X, unlabeled_probs=ppu, details=info)
    raise QCRunError("no usable predicted probabilities: " + "; ".join(tried))


# --------------------------------------------------------------------------- scoring


@dataclass
class _LabelColumns:
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
class _Scored:
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
    labels: _LabelColumns | None = None  # the label rows of every item (classification)

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


def _name(names: list[str], c: int) -> str:
    return names[int(c)]


def _per_class(names: list[str], values: np.ndarray) -> dict:
    return {
        names[i]: (None if not math.isfinite(float(v)) else round(float(v), 6))
        for i, v in enumerate(values)
    }


#: Most annotators whose pairwise Cohen's kappa a run computes (pairs grow as the square).
MAX_KAPPA_ANNOTATORS = 100


def _agreement(matrix: np.ndarray, names: list[str], users: list[int]) -> dict:
    """Inter-annotator agreement of a labels matrix (items x annotators, NaN missing).

    Krippendorff's alpha (overall and per class), the share of unanimous items, and Cohen's
    kappa of annotator pairs (mean, and each annotator's mean with the others). A metric that
    is undefined for this data is None, with the reason under ``notes``.
    """
    from quality import agreement as ag

    k = len(names)
    out: dict[str, Any] = {"n_items_multi": int(((~np.isnan(matrix)).sum(axis=1) >= 2).sum())}
    notes = []
    for key, fn in (("krippendorff_alpha", ag.krippendorff_alpha), ("unanimous_share", ag.unanimous_share)):
        try:
            out[key] = fn(matrix, n_classes=k) if key == "krippendorff_alpha" else fn(matrix)
        except QCInputError as exc:
            out[key] = None
            notes.append(str(exc))
    try:
        per = ag.krippendorff_alpha_per_class(matrix, n_classes=k)
        out["krippendorff_alpha_per_class"] = _per_class(names, per)
    except QCInputError as exc:
        notes.append(str(exc))
    if len(users) <= MAX_KAPPA_ANNOTATORS:
        kappa, shared = ag.pairwise_cohen_kappa(matrix, n_classes=k)
        off = ~np.eye(len(users), dtype=bool) & np.isfinite(kappa)
        out["mean_pairwise_kappa"] = float(kappa[off].mean()) if off.any() else None
        out["kappa_by_annotator"] = {
            str(u): (float(kappa[j][off[j]].mean()) if off[j].any() else None) for j, u in enumerate(users)
        }
    else:
        notes.append(f"pairwise kappa skipped: more than {MAX_KAPPA_ANNOTATORS} annotators")
    if notes:
        out["notes"] = notes
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    return value


def _label_vector(data: _Data) -> tuple[np.ndarray, np.ndarray]:
    """(items x 1) labels when every item has one label; (labels, counts per item)."""
    counts = np.bincount(data.ann_item, minlength=data.n)
    y = np.full(data.n, -1, dtype=np.int64)
    y[data.ann_item] = np.asarray(data.ann_value, dtype=np.int64)
    return y, counts


def _labels_matrix(data: _Data) -> tuple[np.ndarray, list[int]]:
    users = sorted(set(data.ann_user.tolist()))
    if data.n * len(users) > MAX_MATRIX_CELLS:
        raise QCRunError(
            f"{data.n:,} items x {len(users):,} annotators is too large a labels matrix for CROWDLAB "
            f"(at most {MAX_MATRIX_CELLS:,} cells)"
        )
    col = {u: j for j, u in enumerate(users)}
    M = np.full((data.n, len(users)), np.nan, dtype=np.float64)
    M[data.ann_item, [col[u] for u in data.ann_user.tolist()]] = np.asarray(
        data.ann_value, dtype=np.float64
    )
    return M, users


def _check_classes(names: list[str], y: np.ndarray, what: str = "label") -> None:
    n = y.size
    if n == 1:
        raise QCRunError(
            f"only 1 labeled task (labelled {names[y[0]]!r}); QC needs at least 2 labeled tasks "
            "of at least 2 classes -- dozens per class to find wrong labels"
        )
    used = np.unique(y)
    if used.size < 2:
        raise QCRunError(
            f"every one of the {n:,} labeled tasks has the {what} {names[used[0]]!r}; QC needs "
            "labels of at least 2 different classes to compare"
        )


def _score_classification(
    data: _Data, options: dict, progress: ProgressFn
) -> tuple[_Scored, _Probs]:
    from quality.scoring import multiannotator, single_annotator_issues

    names = data.class_names
    k = len(names)
    y_one, counts = _label_vector(data)
    multi = int(counts.max()) >= 2
    matrix = users = None
    if multi:
        from quality.agreement import majority_vote

        matrix, users = _labels_matrix(data)
        progress(0.07, "majority vote")
        y, _ = majority_vote(matrix, n_classes=k)
    else:
        y = y_one
    _check_classes(names, y)
    probs = _pred_probs(data, y, options=options, progress=progress)
    pp = probs.pred_probs
    progress(0.62, "finding label issues")
    counts_y = np.bincount(y, minlength=k)
    singles = [c for c in range(k) if counts_y[c] == 1]
    try:
        single = single_annotator_issues(y, pp, class_names=names, min_class_count=1)
    except QCInputError as exc:
        raise QCRunError(str(exc)) from exc
    issues: list[dict] = []
    annotators: list[dict] = []
    agreement: dict = {}
    summary: dict = {
        "mode": "multi_annotator" if multi else "single_annotator",
        "n_annotations": int(data.ann_item.size),
    }
    if singles:
        data.notes.append(
            "class(es) "
            + ", ".join(repr(names[c]) for c in singles)
            + " have a single labeled task; QC cannot judge a lone example (it is never flagged)"
        )
    is_issue = single["is_label_issue"].copy()
    lone = np.isin(y, singles) if singles else np.zeros(y.size, dtype=bool)
    is_issue[lone] = False
    suggested = single["suggested_label"]
    model_conf = single["suggested_confidence"]
    if not multi:
        quality = single["label_quality"]
        reasons = single["reasons"]
        for i in np.flatnonzero(lone):
            reasons[i] = f"the only task labelled {names[y[i]]!r}; too few examples to judge"
        columns = _LabelColumns(data.task_ids, is_issue, y, suggested, None, quality, reasons, names)
        # each annotator judged on the items they labelled
        who = np.zeros(data.n, dtype=np.int64)
        who[data.ann_item] = data.ann_user
        agree = suggested == y
        for u in np.unique(who):
            mine = who == u
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": int(mine.sum()),
                    "agreement": float(np.mean(agree[mine])),
                    "quality": float(np.mean(quality[mine])),
                }
            )
        consensus_quality = quality
    else:
        progress(0.68, f"CROWDLAB consensus of {len(users)} annotators")
        try:
            crowd = multiannotator(matrix, pp, class_names=names, annotator_ids=users)
        except QCInputError as exc:
            raise QCRunError(str(exc)) from exc
        consensus = crowd["consensus_label"]
        consensus_quality = crowd["consensus_quality"]
        num = crowd["num_annotations"]
        votes_mv = (matrix == y[:, None]).sum(axis=1)
        contested = (num >= 2) & (2 * votes_mv <= num)
        overturned = consensus != y
        flagged = is_issue | contested | overturned
        flagged[lone & ~contested & ~overturned] = False
        is_issue = flagged
        reasons = crowd["reasons"]
        for i in np.flatnonzero(overturned):
            reasons[i] = f"majority said {names[y[i]]!r} ({int(votes_mv[i])} of {int(num[i])}); " + reasons[i]
        for i in np.flatnonzero(contested & ~overturned & ~single["is_label_issue"]):
            reasons[i] = reasons[i] + "; annotators disagree"
        sugg = np.where(consensus != y, consensus, suggested)
        columns = _LabelColumns(data.task_ids, is_issue, y, sugg, consensus, consensus_quality, reasons, names)
        for j, u in enumerate(users):
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": int(crowd["annotator_num_labels"][j]),
                    "agreement": _f(crowd["annotator_agreement_with_consensus"][j]),
                    "quality": _f(crowd["annotator_quality"][j]),
                }
            )
        given = ~np.isnan(matrix)
        agree_cells = (matrix == consensus[:, None]) & given
        summary.update(
            {
                "annotation_error_rate": round(
                    1.0 - float(agree_cells.sum()) / float(given.sum()), 6
                ),
                "n_overturned": int(overturned.sum()),
                "n_contested": int(contested.sum()),
                "n_annotators": len(users),
                "mean_annotations_per_item": round(float(num.mean()), 4),
                "annotator_worst_class": {
                    str(u): crowd["annotator_worst_class"][j] for j, u in enumerate(users)
                },
            }
        )
        progress(0.72, "agreement metrics")
        agreement = _agreement(matrix, names, users)
    summary.update(
        {"n_label_issues": int(is_issue.sum()), "n_items_by_class": _per_class(names, counts_y)}
    )
    scored = _Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(single["noise_rate"]),
        per_class_noise=_per_class(names, single["noise_rate_per_class"]),
        confident_joint=np.asarray(single["confident_joint"]).astype(int).tolist(),
        agreement=agreement,
        summary=summary,
        n_issues=int(is_issue.sum()),
        labels=columns,
    )

    # outliers and near duplicates
    progress(0.75, "outliers and near duplicates")
    _other_issues(data, scored, probs, y, names)

    # the tasks still needing labels: pre-annotations, and ActiveLab priority
    progress(0.82, "active learning")
    _feed_back(data, scored, probs, y, matrix, names, consensus_quality, model_conf)
    return scored, probs


def _f(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _other_issues(
    data: _Data, scored: _Scored, probs: _Probs, y: np.ndarray | None, names: list[str]
) -> None:
    """Outliers and near duplicates, their own issue kinds (only flagged items are stored)."""
    from quality.scoring import knn_graph, near_duplicate_issues, outlier_issues

    n = data.n
    X = probs.features
    label_of = (lambda i: names[y[i]]) if y is not None else (lambda i: None)

    def flag(i: int, kind: str, score: float, reason: str) -> None:
        scored.issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": kind,
                "is_issue": True,
                "given": label_of(i),
                "suggested": None,
                "consensus": None,
                "score": score,
                "reason": reason,
            }
        )

    knn = None
    if X is not None and 3 <= n <= KNN_LIMIT:
        try:
            knn = knn_graph(X, k=10)
        except QCInputError as exc:
            data.notes.append(f"outliers and near duplicates skipped: {exc}")
    if knn is not None:
        out = outlier_issues(knn=knn)
        dup = near_duplicate_issues(knn=knn)
        scored.summary["outlier_method"] = "features"
        for i in out["ranked_issues"]:
            reason = "unlike the other items: " + out["reasons"][i]
            flag(i, "outlier", float(out["outlier_score"][i]), reason)
        for i in np.flatnonzero(dup["is_near_duplicate"]):
            reason = _dup_reason(data, dup["near_duplicate_sets"][i], y, names, i)
            flag(i, "near_duplicate", float(dup["near_duplicate_score"][i]), reason)
        scored.summary.update(
            {"n_outliers": int(out["n_issues"]), "n_near_duplicates": int(dup["n_issues"])}
        )
        return
    # large projects (or no features): outliers from pred_probs, exact duplicates by content
    n_out = 0
    if probs.pred_probs.ndim == 2 and n >= 3 and y is not None:
        try:
            out = outlier_issues(
                pred_probs=probs.pred_probs, labels=y if np.unique(y).size == len(names) else None
            )
        except QCInputError as exc:
            data.notes.append(f"outliers skipped: {exc}")
        else:
            scored.summary["outlier_method"] = "pred_probs"
            n_out = int(out["n_issues"])
            for i in out["ranked_issues"]:
                flag(i, "outlier", float(out["outlier_score"][i]), out["reasons"][i])
    groups: dict[Any, list[int]] = {}
    for i, h in enumerate(data.content_hash):
        if h is not None:
            groups.setdefault(("hash", h), []).append(i)
    if X is not None and not hasattr(X, "tocsr"):
        view = (
            np.ascontiguousarray(X).view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
        )
        _, inverse, cnt = np.unique(view, return_inverse=True, return_counts=True)
        for i in np.flatnonzero(cnt[inverse] > 1):
            groups.setdefault(("x", int(inverse[i])), []).append(int(i))
    dup_sets: dict[int, set[int]] = {}
    for members in groups.values():
        if len(members) > 1:
            for i in members:
                dup_sets.setdefault(i, set()).update(m for m in members if m != i)
    for i, others in sorted(dup_sets.items()):
        reason = "exact " + _dup_reason(data, np.asarray(sorted(others)), y, names, i)
        flag(i, "near_duplicate", 0.0, reason)
    scored.summary.update(
        {
            "n_outliers": n_out,
            "n_near_duplicates": len(dup_sets),
            "near_duplicate_method": "exact" if n > KNN_LIMIT or X is None else "features",
        }
    )
    if n > KNN_LIMIT:
        data.notes.append(
            f"with more than {KNN_LIMIT:,} items, outliers come from the model's probabilities "
            "and only exact duplicates are reported"
        )


def _dup_reason(
    data: _Data, others: np.ndarray, y: np.ndarray | None, names: list[str], i: int
) -> str:
    first = [int(j) for j in others[:5]]
    parts = []
    for j in first:
        text = f"task {int(data.task_ids[j])}"
        if y is not None and y[j] != y[i]:
            text += f" (labelled {names[y[j]]!r})"
        parts.append(text)
    more = f" and {len(others) - 5} more" if len(others) > 5 else ""
    conflict = y is not None and any(y[j] != y[i] for j in others)
    head = "duplicate with a different label: " if conflict else "duplicate of "
    return head + ", ".join(parts) + more


def _prediction_row(
    data: _Data, task_id: int, probs: np.ndarray, names: list[str], *, multilabel: bool
) -> dict | None:
    if multilabel:
        chosen = [names[c] for c in np.flatnonzero(probs >= 0.5)]
        if not chosen:
            return None
        score = float(np.mean([probs[names.index(c)] for c in chosen]))
    else:
        best = int(np.argmax(probs))
        chosen = names[best]
        score = float(probs[best])
    try:
        result = result_from_labels(data.schema, chosen)
    except ValueError:
        return None
    top = np.argsort(-probs)[:10]
    return {
        "task_id": task_id,
        "result": result,
        "score": round(score, 6),
        "probs": {names[c]: round(float(probs[c]), 6) for c in top},
    }


def _feed_back(
    data: _Data,
    scored: _Scored,
    probs: _Probs,
    y: np.ndarray,
    matrix: np.ndarray | None,
    names: list[str],
    quality: np.ndarray,
    model_conf: np.ndarray,
) -> None:
    """Pre-annotations for tasks still needing labels, and ActiveLab priorities: of the open
    tasks (``uncertain_first``), and of the labeled tasks the policy may send back to
    annotators (:func:`quality.policy.activelab_priorities`, on one scale)."""
    ppu = probs.unlabeled_probs
    unl = data.unlabeled_ids
    if ppu is not None and ppu.shape[0] != unl.size:  # defensive: the two must line up
        ppu = None
    open_items = np.flatnonzero(data.open_mask)
    if probs.source != "imported":
        for i in open_items:
            row = _prediction_row(
                data, int(data.task_ids[i]), probs.pred_probs[i], names, multilabel=False
            )
            if row:
                scored.predictions.append(row)
        if ppu is not None:
            for j, tid in enumerate(unl.tolist()):
                row = _prediction_row(data, tid, ppu[j], names, multilabel=False)
                if row:
                    scored.predictions.append(row)
    scored.summary["n_predictions"] = len(scored.predictions)
    for_open = bool(data.project.uncertain_first) and (
        open_items.size > 0 or (ppu is not None and ppu.shape[0] > 0)
    )
    back = ~data.open_mask  # labeled tasks: the policy may send them back to annotators
    for_back = sends_back(policy_of(data.project)) and bool(back.any())
    if not (for_open or for_back):
        return
    lm = matrix if matrix is not None else y[:, None].astype(np.float64)
    try:
        prio, prio_u = activelab_priorities(
            lm,
            probs.pred_probs,
            class_names=names,
            pred_probs_unlabeled=ppu if for_open and ppu is not None and ppu.shape[0] else None,
        )
    except QCInputError as exc:
        data.notes.append(f"ActiveLab skipped: {exc}")
        return
    if for_open:
        for i in open_items:
            scored.priorities[int(data.task_ids[i])] = float(prio[i])
        if prio_u is not None:
            for j, tid in enumerate(unl.tolist()):
                scored.priorities[tid] = float(prio_u[j])
    if for_back:
        scored.back_priorities = {
            int(t): float(p) for t, p in zip(data.task_ids[back], prio[back], strict=True)
        }
    scored.summary["activelab"] = {
        "n_prioritized": len(scored.priorities),
        "n_scored_labeled": len(scored.back_priorities),
    }


def _score_multilabel(data: _Data, options: dict, progress: ProgressFn) -> tuple[_Scored, _Probs]:
    from quality.scoring import multilabel_issues

    names = data.class_names
    k = len(names)
    n = data.n
    # per item: a class is given when at least half of the item's annotators chose it
    votes = np.zeros((n, k), dtype=np.int32)
    per_item = np.bincount(data.ann_item, minlength=n)
    for item, classes in zip(data.ann_item.tolist(), data.ann_value, strict=True):
        if classes:
            votes[item, classes] += 1
    Y = (2 * votes >= per_item[:, None]) & (votes > 0)
    if n == 1:
        raise QCRunError("only 1 labeled task; QC needs at least 2 labeled tasks")
    counts = Y.sum(axis=0)
    usable = np.flatnonzero((counts > 0) & (counts < n))
    if usable.size < 2:
        raise QCRunError(
            "QC of a multi-label project needs at least 2 labels that some but not all tasks have; here "
            + ", ".join(f"{names[c]!r} is on {int(counts[c])} of {n}" for c in range(k))
        )
    left_out = [names[c] for c in range(k) if c not in set(usable.tolist())]
    if left_out:
        data.notes.append(
            "label(s) "
            + ", ".join(repr(x) for x in left_out)
            + " are on no task or on every task; QC left them out"
        )
    sub_names = [names[c] for c in usable]
    Ys = Y[:, usable]
    probs = _pred_probs(
        data,
        np.zeros(n, dtype=np.int64),
        options=options,
        progress=progress,
        multilabel_targets=Ys,
    )
    pp = probs.pred_probs
    if pp.shape[1] == k and usable.size != k:  # imported probabilities name every class
        pp = pp[:, usable]
        if probs.unlabeled_probs is not None:
            probs.unlabeled_probs = probs.unlabeled_probs[:, usable]
    progress(0.65, "finding multi-label issues")
    labels = [np.flatnonzero(Ys[i]).tolist() for i in range(n)]
    try:
        res = multilabel_issues(labels, pp, class_names=sub_names)
    except QCInputError as exc:
        raise QCRunError(str(exc)) from exc
    issues = []
    for i in range(n):
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(res["is_label_issue"][i]),
                "given": [sub_names[c] for c in labels[i]],
                "suggested": [sub_names[c] for c in res["suggested_labels"][i]],
                "consensus": None,
                "score": float(res["label_quality"][i]),
                "reason": res["reasons"][i],
            }
        )
    per_class = {}
    for j, c in enumerate(sub_names):
        wrong = res["is_label_issue"] & ((pp[:, j] >= 0.5) != Ys[:, j])
        per_class[c] = round(float(wrong.mean()), 6)
    annotators = []
    for u in np.unique(data.ann_user):
        mask = data.ann_user == u
        items = data.ann_item[mask]
        agree = [
            set(v) & set(usable.tolist()) == set(usable[Ys[it]].tolist())
            for it, v in zip(
                items.tolist(), [data.ann_value[j] for j in np.flatnonzero(mask)], strict=True
            )
        ]
        annotators.append(
            {
                "user_id": int(u),
                "n_items": int(mask.sum()),
                "agreement": float(np.mean(agree)) if agree else None,
                "quality": float(np.mean(res["label_quality"][items])),
            }
        )
    scored = _Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(res["is_label_issue"].mean()),
        per_class_noise=per_class,
        confident_joint=[],
        agreement={},
        summary={
            "mode": "multilabel",
            "n_label_issues": int(res["n_issues"]),
            "n_annotations": int(data.ann_item.size),
            "noise_rate_method": "share of items flagged",
        },
        n_issues=int(res["n_issues"]),
    )
    data.class_names = sub_names
    progress(0.75, "outliers and near duplicates")
    _other_issues(data, scored, probs, None, sub_names)
    ppu = probs.unlabeled_probs
    open_items = np.flatnonzero(data.open_mask)
    if probs.source != "imported":
        for i in open_items:
            row = _prediction_row(data, int(data.task_ids[i]), pp[i], sub_names, multilabel=True)
            if row:
                scored.predictions.append(row)
        if ppu is not None and ppu.shape[0] == data.unlabeled_ids.size:
            for j, tid in enumerate(data.unlabeled_ids.tolist()):
                row = _prediction_row(data, tid, ppu[j], sub_names, multilabel=True)
                if row:
                    scored.predictions.append(row)
    scored.summary["n_predictions"] = len(scored.predictions)
    if data.project.uncertain_first:
        # uncertainty: how close the class probabilities are to 0.5, on average
        for i in open_items:
            scored.priorities[int(data.task_ids[i])] = round(
                float(np.mean(1 - np.abs(2 * pp[i] - 1))), 6
            )
        if ppu is not None and ppu.shape[0] == data.unlabeled_ids.size:
            for j, tid in enumerate(data.unlabeled_ids.tolist()):
                scored.priorities[tid] = round(float(np.mean(1 - np.abs(2 * ppu[j] - 1))), 6)
    return scored, probs


# --------------------------------------------------------------------------- NER and detection


def _latest_predictions(data: _Data, ids: np.ndarray) -> dict[int, tuple[list, float | None, str]]:
    """The newest imported (non-QC) prediction of each task: (regions, score, model_version)."""
    out: dict[int, tuple[list, float | None, str]] = {}
    if ids.size == 0:
        return out
    with read_session() as s:
        q = (
            sa.select(_PR.c.task_id, _PR.c.result, _PR.c.score, _PR.c.model_version)
            .where(
                _PR.c.project_id == data.project.id,
                ~_PR.c.model_version.startswith(QC_MODEL_PREFIX),
            )
            .order_by(_PR.c.task_id, _PR.c.id)
        )
        for tid, result, score, version in (
            s.connection().execution_options(stream_results=True, yield_per=_BATCH).execute(q)
        ):
            pos = int(np.searchsorted(ids, tid))
            if pos < ids.size and ids[pos] == tid:
                regions = [
                    it
                    for it in result or []
                    if isinstance(it, dict) and it.get("from_name") == data.control.name
                ]
                out[tid] = (regions, score, version or "")
    return out


def _region_labels(region: dict, fld: str) -> list[str]:
    value = region.get("value")
    names = value.get(fld) if isinstance(value, dict) else None
    return [x for x in names if isinstance(x, str)] if isinstance(names, list) else []


def _region_score(region: dict, fallback: float | None) -> float | None:
    s = region.get("score", fallback)
    if isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s):
        return float(min(max(s, 1e-3), 1 - 1e-3))
    return None


def _first_annotations(data: _Data) -> tuple[np.ndarray, list]:
    """The first annotation of each item (for NER and detection, one label set per item)."""
    first: dict[int, Any] = {}
    for item, value in zip(data.ann_item.tolist(), data.ann_value, strict=True):
        first.setdefault(item, value)
    items = np.asarray(sorted(first), dtype=np.int64)
    return items, [first[i] for i in items.tolist()]


def _score_ner(data: _Data, options: dict, progress: ProgressFn) -> tuple[_Scored, _Probs]:
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    names = data.class_names  # "O" first
    k = len(names)
    idx = {c: j for j, c in enumerate(names)}
    key = data.control.data_key
    items, values = _first_annotations(data)
    texts = _task_values(data.project.id, data.task_ids, _T.c.data[key].as_string())
    preds = _latest_predictions(data, data.task_ids)
    have = [
        i
        for i in items.tolist()
        if int(data.task_ids[i]) in preds and preds[int(data.task_ids[i])][0] is not None
    ]
    if not have:
        raise QCRunError(
            "QC of an NER project needs imported predictions (spans with a score) for the labeled "
            "tasks; labelfab trains no token model itself. Import predictions, then run QC"
        )
    progress(0.3, f"token labels of {len(have):,} texts")
    labels_list, pp_list, token_list, used, spans_of = [], [], [], [], []
    missing_score = 0
    for i, regions in zip(items.tolist(), values, strict=True):
        tid = int(data.task_ids[i])
        if tid not in preds or not isinstance(texts[i], str):
            continue
        text = texts[i]
        tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        if not tokens:
            continue
        given = np.zeros(len(tokens), dtype=np.int64)
        for r in regions:
            v = r.get("value") or {}
            lab = _region_labels(r, "labels")
            if not lab or lab[0] not in idx or not isinstance(v.get("start"), int):
                continue
            for t, (a, b) in enumerate(tokens):
                if a < v.get("end", -1) and b > v["start"]:
                    given[t] = idx[lab[0]]
        pregions, pscore, _ = preds[tid]
        base = _region_score({}, pscore)
        scores_r = [_region_score(r, pscore) for r in pregions]
        if base is None:
            known = [s for s in scores_r if s is not None]
            base = float(np.mean(known)) if known else None
        if base is None:
            missing_score += 1
            continue
        P = np.full((len(tokens), k), (1 - base) / (k - 1))
        P[:, 0] = base
        for r, sc in zip(pregions, scores_r, strict=True):
            v = r.get("value") or {}
            lab = _region_labels(r, "labels")
            if not lab or lab[0] not in idx or not isinstance(v.get("start"), int):
                continue
            sc = base if sc is None else sc
            for t, (a, b) in enumerate(tokens):
                if a < v.get("end", -1) and b > v["start"]:
                    P[t, :] = (1 - sc) / (k - 1)
                    P[t, idx[lab[0]]] = sc
        labels_list.append(given)
        pp_list.append(P)
        token_list.append([text[a:b] for a, b in tokens])
        spans_of.append(tokens)
        used.append(i)
    if not used:
        raise QCRunError(
            "the imported predictions of the labeled NER tasks carry no score (per span or per "
            "prediction); QC needs probabilities to judge the labels"
        )
    if missing_score:
        data.notes.append(
            f"{missing_score} labeled text(s) have predictions without a score and were left out"
        )
    all_labels = np.concatenate(labels_list)
    if np.unique(all_labels).size < 2:
        raise QCRunError(
            f"every token of the {len(used)} labeled texts has the label {names[all_labels[0]]!r}; "
            "QC needs at least 2 different labels"
        )
    progress(0.6, "finding token label issues")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(labels_list, pp_list, n_jobs=1)  # no fork in a threaded process
        sent_scores, token_scores = get_label_quality_scores(labels_list, pp_list)
    by_sentence: dict[int, list[int]] = {}
    for si, ti in flagged:
        by_sentence.setdefault(si, []).append(ti)
    issues = []
    for si, i in enumerate(used):
        toks = by_sentence.get(si, [])
        tscores = np.asarray(token_scores[si])
        worst = min(toks, key=lambda t: tscores[t]) if toks else int(np.argmin(tscores))
        g = names[labels_list[si][worst]]
        pred = int(np.argmax(pp_list[si][worst]))
        token = token_list[si][worst]
        a, b = spans_of[si][worst]
        if toks:
            reason = (
                f"token {token!r} (characters {a}-{b}) labelled {g!r}; model says {names[pred]!r} "
                f"({pp_list[si][worst][pred]:.2f})"
                + (f"; {len(toks) - 1} more token(s)" if len(toks) > 1 else "")
            )
        else:
            reason = f"every token agrees with the model (weakest: {token!r}, labelled {g!r})"
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(toks),
                "given": {"token": token, "start": a, "end": b, "label": g},
                "suggested": {"token": token, "start": a, "end": b, "label": names[pred]},
                "consensus": None,
                "score": float(sent_scores[si]),
                "reason": reason,
            }
        )
    n_tokens = int(all_labels.size)
    all_pp = np.concatenate(pp_list)
    per_class = {}
    flagged_set = {(si, ti) for si, ti in flagged}
    flags = np.asarray(
        [(si, ti) in flagged_set for si in range(len(used)) for ti in range(len(labels_list[si]))]
    )
    for c in range(k):
        m = all_labels == c
        per_class[names[c]] = round(float(flags[m].mean()), 6) if m.any() else None
    n_issue = sum(1 for x in issues if x["is_issue"])
    versions = Counter(preds[int(data.task_ids[i])][2] for i in used)
    acc = float(np.mean(all_pp.argmax(axis=1) == all_labels))
    probs = _Probs(
        all_pp, "imported", f"imported: {versions.most_common(1)[0][0] or 'predictions'}"[:100], acc
    )
    annotators = []
    for u in np.unique(data.ann_user):
        mine = [
            si
            for si, i in enumerate(used)
            if int(data.ann_user[np.flatnonzero(data.ann_item == i)[0]]) == u
        ]
        if mine:
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": len(mine),
                    "agreement": float(np.mean([si not in by_sentence for si in mine])),
                    "quality": float(np.mean([sent_scores[si] for si in mine])),
                }
            )
    scored = _Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(len(flagged)) / max(n_tokens, 1),
        per_class_noise=per_class,
        confident_joint=[],
        agreement={},
        summary={
            "mode": "ner",
            "n_texts": len(used),
            "n_tokens": n_tokens,
            "n_token_issues": len(flagged),
            "noise_rate_method": "share of tokens flagged",
            "n_annotations": int(data.ann_item.size),
        },
        n_issues=n_issue,
    )
    _imported_priorities(data, scored, preds)
    return scored, probs


def _imported_priorities(data: _Data, scored: _Scored, preds: dict) -> None:
    """uncertain_first without a model of our own: lower imported score, higher priority."""
    if not data.project.uncertain_first:
        return
    ids = np.concatenate([data.task_ids[data.open_mask], data.unlabeled_ids])
    more = _latest_predictions(data, np.setdiff1d(ids, np.asarray(list(preds), dtype=np.int64)))
    for tid in ids.tolist():
        got = preds.get(tid) or more.get(tid)
        if got is None:
            continue
        regions, score, _ = got
        known = [s for s in (_region_score(r, score) for r in regions) if s is not None]
        conf = min(known) if known else _region_score({}, score)
        if conf is not None:
            scored.priorities[tid] = round(1.0 - conf, 6)


class _SerialPool:
    """What cleanlab's object detection uses of ``multiprocessing.Pool``, run in this thread."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def starmap(self, fn: Callable, iterable: Any) -> list:
        return [fn(*args) for args in iterable]

    def close(self) -> None:
        pass

    def join(self) -> None:
        pass


@contextlib.contextmanager
def _serial_pool() -> Iterator[None]:
    """cleanlab.object_detection forks a process Pool even for one process; forking a threaded
    server or worker process can deadlock, so its Pool runs serially here (QC runs hold
    ``quality.jobs.QC_LOCK``, one at a time per process, so the swap is not raced)."""
    import cleanlab.object_detection.filter as od_filter

    original = od_filter.Pool
    od_filter.Pool = _SerialPool
    try:
        yield
    finally:
        od_filter.Pool = original


def _score_detection(data: _Data, options: dict, progress: ProgressFn) -> tuple[_Scored, _Probs]:
    from cleanlab.object_detection.filter import find_label_issues
    from cleanlab.object_detection.rank import get_label_quality_scores

    names = data.class_names
    k = len(names)
    idx = {c: j for j, c in enumerate(names)}
    items, values = _first_annotations(data)
    preds = _latest_predictions(data, data.task_ids)

    def boxes(
        regions: list, score: float | None, with_score: bool
    ) -> tuple[np.ndarray, np.ndarray, list]:
        out, labs, sc = [], [], []
        for r in regions:
            v = r.get("value") or {}
            lab = _region_labels(r, "rectanglelabels")
            try:
                x, y, w, h = (float(v[f]) for f in ("x", "y", "width", "height"))
            except (KeyError, TypeError, ValueError):
                continue
            if not lab or lab[0] not in idx:
                continue
            out.append([x, y, x + w, y + h])
            labs.append(idx[lab[0]])
            sc.append(_region_score(r, score) if with_score else None)
        return (
            np.asarray(out, dtype=np.float64).reshape(-1, 4),
            np.asarray(labs, dtype=np.int64),
            sc,
        )

    labels, predictions, used = [], [], []
    no_score = 0
    for i, regions in zip(items.tolist(), values, strict=True):
        tid = int(data.task_ids[i])
        if tid not in preds:
            continue
        b, lab, _ = boxes(regions, None, False)
        pregions, pscore, _ = preds[tid]
        pb, plab, psc = boxes(pregions, pscore, True)
        if any(s is None for s in psc):
            no_score += 1
            continue
        per_class = []
        for c in range(k):
            m = plab == c
            per_class.append(
                np.hstack([pb[m], np.asarray(psc, dtype=np.float64).reshape(-1, 1)[m]])
                if m.any()
                else np.zeros((0, 5), dtype=np.float32)
            )
        labels.append({"bboxes": b, "labels": lab})
        predictions.append(per_class)
        used.append(i)
    if not used:
        raise QCRunError(
            "QC of an object-detection project needs imported predictions (boxes with a score) for "
            "the labeled tasks; labelfab trains no detector itself. Import predictions, then run QC"
        )
    if no_score:
        data.notes.append(
            f"{no_score} labeled image(s) have predicted boxes without a score and were left out"
        )
    if len(used) < 2:
        raise QCRunError("only 1 labeled image has predictions; QC needs at least 2")
    progress(0.6, f"scoring the boxes of {len(used):,} images")
    import warnings

    with warnings.catch_warnings(), _serial_pool():
        warnings.simplefilter("ignore")
        try:
            is_issue = np.asarray(
                find_label_issues(labels, predictions, overlapping_label_check=False), dtype=bool
            )
            quality = np.asarray(
                get_label_quality_scores(
                    labels, predictions, overlapping_label_check=False, verbose=False
                ),
                dtype=np.float64,
            )
        except (ValueError, IndexError) as exc:
            raise QCRunError(f"cleanlab could not score these boxes: {exc}") from exc

    def describe(labs: Iterable[int]) -> str:
        c = Counter(names[x] for x in labs)
        return ", ".join(f"{n} x{v}" if v > 1 else n for n, v in sorted(c.items())) or "no boxes"

    issues = []
    for j, i in enumerate(used):
        given = describe(labels[j]["labels"].tolist())
        pl = [
            c
            for c in range(k)
            for _ in range(predictions[j][c].shape[0])
            if predictions[j][c].shape[0]
        ]
        strong = [c for c in range(k) for row in predictions[j][c] if row[4] >= 0.5]
        suggested = describe(strong)
        reason = f"boxes labelled: {given}; model finds: {suggested} (quality {quality[j]:.2f})"
        issues.append(
            {
                "task_id": int(data.task_ids[i]),
                "kind": "label",
                "is_issue": bool(is_issue[j]),
                "given": given,
                "suggested": suggested,
                "consensus": None,
                "score": float(quality[j]),
                "reason": reason,
            }
        )
        del pl
    versions = Counter(preds[int(data.task_ids[i])][2] for i in used)
    probs = _Probs(
        np.zeros((0, k)),
        "imported",
        f"imported: {versions.most_common(1)[0][0] or 'predictions'}"[:100],
        None,
    )
    annotators = []
    first_user = {}
    for item, u in zip(data.ann_item.tolist(), data.ann_user.tolist(), strict=True):
        first_user.setdefault(item, u)
    for u in sorted(set(first_user.values())):
        mine = [j for j, i in enumerate(used) if first_user[i] == u]
        if mine:
            annotators.append(
                {
                    "user_id": int(u),
                    "n_items": len(mine),
                    "agreement": float(np.mean(~is_issue[mine])),
                    "quality": float(np.mean(quality[mine])),
                }
            )
    scored = _Scored(
        issues=issues,
        annotators=annotators,
        noise_rate=float(is_issue.mean()),
        per_class_noise={},
        confident_joint=[],
        agreement={},
        summary={
            "mode": "detection",
            "n_images": len(used),
            "noise_rate_method": "share of images flagged",
            "n_annotations": int(data.ann_item.size),
        },
        n_issues=int(is_issue.sum()),
    )
    _imported_priorities(data, scored, preds)
    return scored, probs


# --------------------------------------------------------------------------- the run


def run_qc(
    project_id: int,
    *,
    ctx: jobs.JobContext | None = None,
    progress: ProgressFn | None = None,
    options: dict | None = None,
    max_items: int = MAX_ITEMS,
    max_predict: int = MAX_PREDICT,
) -> dict:
    """Run QC on a project and store the results (one QualityRun); returns a summary.

    Parameters
    ----------
    project_id : int
    ctx : labeling.jobs.JobContext, optional
        The ``qc`` job this run belongs to: progress goes to the job, and the job is marked done
        in the same transaction that writes the results.
    progress : callable, optional
        ``progress(fraction, message)``, called at every step as well.
    options : dict, optional
        ``predict_unlabeled`` (default True), ``models`` (candidate models, see
        :data:`quality.pred_probs.MODELS`).
    max_items, max_predict : int
        Most labeled items scored (above: the run fails with a message) and most unlabeled tasks
        predicted.

    Returns
    -------
    dict
        ``{"run": id, "status": "done"|"failed", "message", "n_items", "n_issues", "noise_rate",
        "model", "source", "cv_accuracy", "seconds"}``.
    """
    started = utcnow()
    t0 = time.perf_counter()
    options = dict(options or {})

    def step(fraction: float, message: str) -> None:
        if ctx is not None:
            ctx.progress(fraction, message)
        if progress is not None:
            progress(fraction, message)

    step(0.0, "starting")
    data: _Data | None = None
    try:
        # one thread for OpenMP and BLAS: QC runs one at a time per process, and on a shared
        # machine spinning thread pools cost far more than they give
        with threadpool_limits(limits=1):
            data = _load(project_id, max_items=max_items, max_predict=max_predict, progress=step)
            scorer = {
                "classification": _score_classification,
                "multilabel": _score_multilabel,
                "ner": _score_ner,
                "detection": _score_detection,
            }[data.kind]
            scored, probs = scorer(data, options, step)
    except (QCRunError, QCInputError) as exc:
        message = f"QC could not run: {exc}"
        return _store_failed(project_id, ctx, started, message, data, t0)
    except MemoryError:
        n = data.n if data is not None else 0
        message = (
            f"QC ran out of memory on {n:,} items; lower the number of items per project, or give "
            "the worker more memory"
        )
        return _store_failed(project_id, ctx, started, message, data, t0)
    step(0.9, f"saving the results of {data.n:,} items")
    return _store(project_id, ctx, started, data, scored, probs, t0)


def _message(data: _Data, scored: _Scored, probs: _Probs) -> str:
    parts = [f"{data.n:,} items scored, {scored.n_issues:,} label issue(s)"]
    if scored.noise_rate is not None:
        parts.append(f"estimated noise {scored.noise_rate:.1%}")
    parts.append(f"pred_probs from {probs.source} ({probs.model_name})")
    return "; ".join(parts) + (
        "." if not data.notes else ". " + " ".join(n.rstrip(".") + "." for n in data.notes)
    )


def _clear_job_run(s: Session, job_id: int | None) -> None:
    """Remove what an earlier attempt of this job stored (a failed run written before a crash)."""
    if job_id is None:
        return
    old = s.execute(sa.select(QualityRun.id).where(QualityRun.job_id == job_id)).scalars().all()
    if old:
        s.execute(sa.delete(LabelIssue).where(LabelIssue.run_id.in_(old)))
        s.execute(sa.delete(AnnotatorScore).where(AnnotatorScore.run_id.in_(old)))
        s.execute(sa.delete(QualityRun).where(QualityRun.id.in_(old)))


def _store_failed(
    project_id: int,
    ctx: jobs.JobContext | None,
    started,
    message: str,
    data: _Data | None,
    t0: float,
) -> dict:
    seconds = round(time.perf_counter() - t0, 3)
    with write_session() as s:
        if s.get(Project, project_id) is None:
            raise jobs.JobError(message)
        _clear_job_run(s, ctx.job_id if ctx else None)
        run = QualityRun(
            project_id=project_id,
            job_id=ctx.job_id if ctx else None,
            status="failed",
            message=message,
            n_items=data.n if data is not None else 0,
            class_names=data.class_names if data is not None else [],
            summary={"seconds": seconds},
            created_at=started,
            finished_at=utcnow(),
        )
        s.add(run)
        s.flush()
        run_id = run.id
    out = {"run": run_id, "status": "failed", "message": message, "seconds": seconds}
    if ctx is not None:
        raise jobs.JobError(message)
    return out


def _store(
    project_id: int,
    ctx: jobs.JobContext | None,
    started,
    data: _Data,
    scored: _Scored,
    probs: _Probs,
    t0: float,
) -> dict:
    message = _message(data, scored, probs)
    summary = dict(scored.summary)
    summary.update(probs.details)
    if data.notes:
        summary["notes"] = data.notes
    summary["n_unlabeled"] = data.n_unlabeled
    with write_session() as s:
        conn = s.connection()
        if s.get(Project, project_id) is None:
            raise jobs.JobError(f"project {project_id} was deleted during the QC run")
        _clear_job_run(s, ctx.job_id if ctx else None)
        # tasks deleted while the run worked drop out
        alive = set(conn.execute(sa.select(_T.c.id).where(_T.c.project_id == project_id)).scalars())
        summary["seconds_scoring"] = round(time.perf_counter() - t0, 3)
        run = QualityRun(
            project_id=project_id,
            job_id=ctx.job_id if ctx else None,
            status="done",
            message=message[:4000],
            n_items=data.n,
            n_issues=scored.n_issues,
            model_name=probs.model_name[:100],
            cv_accuracy=probs.cv_accuracy,
            pred_probs_source=probs.source,
            noise_rate=scored.noise_rate,
            class_names=list(data.class_names),
            per_class_noise=scored.per_class_noise,
            confident_joint=scored.confident_joint,
            agreement=_jsonable(scored.agreement),
            summary=_jsonable(summary),
            created_at=started,
        )
        s.add(run)
        s.flush()
        run_id = run.id
        _insert_issues(conn, run_id, project_id, scored.rows(), alive)
        users = (
            set(
                conn.execute(
                    sa.select(User.id).where(User.id.in_([a["user_id"] for a in scored.annotators]))
                ).scalars()
            )
            if scored.annotators
            else set()
        )
        ann_rows = [
            {"run_id": run_id, "project_id": project_id, **a}
            for a in scored.annotators
            if a["user_id"] in users
        ]
        if ann_rows:
            conn.execute(sa.insert(AnnotatorScore.__table__), ann_rows)
        n_pred = _write_predictions(conn, project_id, run_id, probs, scored.predictions, alive)
        n_prio = _write_priorities(conn, scored.priorities, alive)
        run.finished_at = utcnow()
        run.summary = {
            **run.summary,
            "n_predictions": n_pred,
            "n_prioritized": n_prio,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        s.add(run)
        back_priorities = scored.back_priorities
        scored.release()  # the policy below works in the same process: give it the memory
        probs.features = probs.pred_probs = probs.unlabeled_probs = None
        data.ann_value = []
        result = {
            "run": run_id,
            "status": "done",
            "message": message,
            "n_items": data.n,
            "n_issues": scored.n_issues,
            "noise_rate": scored.noise_rate,
            "model": probs.model_name,
            "source": probs.source,
            "cv_accuracy": probs.cv_accuracy,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        result["policy"] = apply_policy(
            project_id, run_id, session=s, priorities=back_priorities
        )  # issue 8: the QC policy judges the run
        if ctx is not None:
            ctx.complete(s, result, message=message[:4000])
    return result


def _finite(v: float) -> float:
    v = float(v)
    return v if math.isfinite(v) else 0.0


# label_issue without column types: the JSON values are encoded here, once, and the driver
# gets plain strings (SQLAlchemy's per-value JSON processing costs seconds at 100,000 rows)
_LI_COLUMNS = ("run_id", "project_id", "task_id", "kind", "is_issue", "given", "suggested", "consensus",
               "score", "reason")
_LI_PLAIN = sa.table("label_issue", *(sa.column(c) for c in _LI_COLUMNS))


def _insert_issues(conn: Any, run_id: int, project_id: int, rows: Iterable[dict], alive: set[int]) -> int:
    """Insert LabelIssue rows in batches (tasks deleted meanwhile are left out)."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    stmt = sa.insert(_LI_PLAIN)
    batch: list[dict] = []
    n = 0
    for r in rows:
        if r["task_id"] not in alive:
            continue
        batch.append({"run_id": run_id, "project_id": project_id, "task_id": r["task_id"], "kind": r["kind"],
                      "is_issue": bool(r["is_issue"]), "given": dumps(r["given"]),
                      "suggested": dumps(r["suggested"]), "consensus": dumps(r["consensus"]),
                      "score": _finite(r["score"]), "reason": r["reason"][:2000]})
        if len(batch) >= _BATCH:
            conn.execute(stmt, batch)
            n += len(batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)
        n += len(batch)
    return n


def _write_predictions(
    conn: Any, project_id: int, run_id: int, probs: _Probs, rows: list[dict], alive: set[int]
) -> int:
    """Replace earlier QC predictions of open tasks with this run's (the annotators' pre-annotations)."""
    if probs.source == "imported":
        return 0
    open_tasks = sa.select(_T.c.id).where(
        _T.c.project_id == project_id,
        _T.c.state.in_([TaskState.open.value, TaskState.imported.value]),
    )
    conn.execute(
        sa.delete(_PR).where(
            _PR.c.project_id == project_id,
            _PR.c.model_version.startswith(QC_MODEL_PREFIX),
            _PR.c.task_id.in_(open_tasks),
        )
    )
    if not rows:
        return 0
    version = f"{QC_MODEL_PREFIX} #{run_id} {probs.model_name}"[:255]
    now = utcnow()
    values = [
        {
            "task_id": r["task_id"],
            "project_id": project_id,
            "result": r["result"],
            "score": r["score"],
            "probs": r["probs"],
            "model_version": version,
            "created_at": now,
        }
        for r in rows
        if r["task_id"] in alive
    ]
    for start in range(0, len(values), _BATCH):
        conn.execute(sa.insert(_PR), values[start : start + _BATCH])
    return len(values)


def _write_priorities(conn: Any, priorities: dict[int, float], alive: set[int]) -> int:
    """ActiveLab: higher priority for tasks that most need a label; only tasks still open."""
    if not priorities:
        return 0
    stmt = (
        sa.update(_T)
        .where(_T.c.id == sa.bindparam("tid"), _T.c.state == TaskState.open.value)
        .values(priority=sa.bindparam("prio"))
    )
    params = [{"tid": tid, "prio": p} for tid, p in priorities.items() if tid in alive]
    for start in range(0, len(params), _BATCH):
        conn.execute(stmt, params[start : start + _BATCH])
    return len(params)


# --------------------------------------------------------------------------- reading results


def run_view(run: QualityRun, *, annotators: list[dict] | None = None) -> dict:
    """The JSON shape of a QC run."""
    out = {
        "id": run.id,
        "project": run.project_id,
        "job": run.job_id,
        "status": run.status,
        "message": run.message,
        "n_items": run.n_items,
        "n_issues": run.n_issues,
        "model_name": run.model_name,
        "cv_accuracy": run.cv_accuracy,
        "pred_probs_source": run.pred_probs_source,
        "noise_rate": run.noise_rate,
        "class_names": run.class_names,
        "per_class_noise": run.per_class_noise,
        "confident_joint": run.confident_joint,
        "agreement": run.agreement,
        "summary": run.summary,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if annotators is not None:
        out["annotators"] = annotators
    return out


def issue_view(issue: Any) -> dict:
    """The JSON shape of a label issue: ``{"task", "kind", "given", "suggested", "score", "reason"}``."""
    return {
        "task": issue.task_id,
        "kind": issue.kind,
        "given": issue.given,
        "suggested": issue.suggested,
        "consensus": issue.consensus,
        "score": issue.score,
        "reason": issue.reason,
        "is_issue": issue.is_issue,
    }


def list_runs(user: User, project_id: int, *, limit: int = 50) -> list[QualityRun]:
    """The project's QC runs, newest first (leads and reviewers)."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        return list(
            s.exec(
                select(QualityRun)
                .where(QualityRun.project_id == project_id)
                .order_by(QualityRun.id.desc())
                .limit(max(1, min(int(limit), 500)))
            )
        )


def get_run(
    user: User, project_id: int, run_id: int | None = None
) -> tuple[QualityRun | None, list[dict]]:
    """One run (the newest finished one by default) with its annotator scores (and emails)."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        run = _pick_run(s, project_id, run_id, done_only=False)
        if run is None:
            return None, []
        rows = s.execute(
            sa.select(AnnotatorScore, User.email)
            .join(User, User.id == AnnotatorScore.user_id)
            .where(AnnotatorScore.run_id == run.id)
            .order_by(AnnotatorScore.quality.desc().nulls_last(), AnnotatorScore.user_id)
        ).all()
    annotators = [
        {
            "user": a.user_id,
            "email": email,
            "n_items": a.n_items,
            "agreement": a.agreement,
            "quality": a.quality,
        }
        for a, email in rows
    ]
    return run, annotators


def _pick_run(
    s: Session, project_id: int, run_id: int | None, *, done_only: bool
) -> QualityRun | None:
    if run_id is not None:
        run = s.get(QualityRun, run_id)
        if run is None or run.project_id != project_id:
            raise NotFound(f"QC run {run_id} not found in project {project_id}")
        return run
    q = select(QualityRun).where(QualityRun.project_id == project_id)
    if done_only:
        q = q.where(QualityRun.status == "done")
    return s.exec(q.order_by(QualityRun.id.desc()).limit(1)).first()


def label_issues(
    user: User,
    project_id: int,
    *,
    run_id: int | None = None,
    kind: str | None = None,
    include_all: bool = False,
    page: int = 1,
    page_size: int = 100,
) -> tuple[QualityRun | None, list, int]:
    """Issues of a run (the newest successful run by default), worst (lowest score) first.

    Returns
    -------
    (QualityRun or None, list of LabelIssue, int)
        The run, one page of issues, and how many there are in all.
    """
    kinds = ("label", "outlier", "near_duplicate")
    if kind is not None and kind not in kinds:
        raise Invalid(
            f"unknown issue kind {kind!r}; kinds are {', '.join(kinds)}",
            [{"row": None, "field": "kind", "detail": "unknown kind"}],
        )
    page = max(int(page), 1)
    page_size = max(1, min(int(page_size), 1000))
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        run = _pick_run(s, project_id, run_id, done_only=True)
        if run is None:
            return None, [], 0
        where = [LabelIssue.run_id == run.id]
        if not include_all:
            where.append(LabelIssue.is_issue == sa.true())
        if kind is not None:
            where.append(LabelIssue.kind == kind)
        total = s.execute(
            sa.select(sa.func.count()).select_from(LabelIssue).where(*where)
        ).scalar_one()
        rows = list(
            s.exec(
                select(LabelIssue)
                .where(*where)
                .order_by(LabelIssue.score, LabelIssue.id)
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        )
    return run, rows, total


# --------------------------------------------------------------------------- the QC page


def shown(value: Any) -> str:
    """A label value as text: a name, a list of names, an NER token, a box summary."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "(none)"
    if isinstance(value, dict) and "label" in value:
        token = value.get("token")
        return f"{value['label']} ({token!r})" if token else str(value["label"])
    return json.dumps(value, ensure_ascii=False)[:200]


def _previews(s: Session, schema: LabelSchema, task_ids: list[int]) -> dict[int, dict]:
    """What the QC page shows of each task: its first text (cut) and its image's thumbnail."""
    from labeling.importer import thumbnail_for

    out: dict[int, dict] = {}
    if not task_ids:
        return out
    for tid, data in s.execute(sa.select(_T.c.id, _T.c.data).where(_T.c.id.in_(task_ids))):
        view: dict[str, str | None] = {"text": None, "image": None}
        for obj in schema.objects.values():
            value = (data or {}).get(obj.value_key)
            if obj.tag == "Text" and view["text"] is None and isinstance(value, str):
                view["text"] = value if len(value) <= 200 else value[:197] + "…"
            elif obj.tag == "Image" and view["image"] is None and isinstance(value, str):
                view["image"] = thumbnail_for(value) or value
        out[tid] = view
    return out


def overview(user: User, project_id: int, *, run_id: int | None = None, kind: str | None = None,
             page: int = 1, page_size: int = 50) -> dict:
    """Everything the QC page shows, read in one unit of work (leads and reviewers).

    Returns
    -------
    dict
        ``project``, ``can_manage``, ``run`` (the chosen run or the newest one), ``annotators``,
        ``issues`` (one page, worst first, with ``given_text``, ``suggested_text`` and a
        ``preview``), ``total``, ``page``, ``pages``, ``kind``, ``kinds`` (counts), ``runs``
        (history, newest first), ``job`` (the newest QC job) and ``labeled_since_qc``.
    """
    from labeling.access import can
    if kind not in (None, "label", "outlier", "near_duplicate"):
        raise Invalid(f"unknown issue kind {kind!r}", [{"row": None, "field": "kind", "detail": "unknown kind"}])
    page = max(int(page), 1)
    with read_session() as s:
        project = require_project(s, user, project_id, "see_all")
        runs = list(s.exec(select(QualityRun).where(QualityRun.project_id == project_id)
                           .order_by(QualityRun.id.desc()).limit(20)))
        run = _pick_run(s, project_id, run_id, done_only=False)
        job = s.exec(select(Job).where(Job.project_id == project_id, Job.kind == QC_JOB_KIND)
                     .order_by(Job.id.desc()).limit(1)).first()
        issues: list[dict] = []
        annotators: list[dict] = []
        kinds: dict[str, int] = {}
        total = 0
        if run is not None and run.status == "done":
            kinds = dict(s.execute(
                sa.select(LabelIssue.kind, sa.func.count()).where(LabelIssue.run_id == run.id,
                                                                   LabelIssue.is_issue == sa.true())
                .group_by(LabelIssue.kind)).all())
            where = [LabelIssue.run_id == run.id, LabelIssue.is_issue == sa.true()]
            if kind:
                where.append(LabelIssue.kind == kind)
            total = sum(v for k, v in kinds.items() if kind in (None, k))
            rows = list(s.exec(select(LabelIssue).where(*where).order_by(LabelIssue.score, LabelIssue.id)
                               .offset((page - 1) * page_size).limit(page_size)))
            previews = _previews(s, LabelSchema.model_validate(project.label_schema), [r.task_id for r in rows])
            issues = [{**issue_view(r), "given_text": shown(r.given), "suggested_text": shown(r.suggested),
                       "consensus_text": shown(r.consensus), "preview": previews.get(r.task_id, {})}
                      for r in rows]
            annotators = [
                {"user": a.user_id, "email": email, "n_items": a.n_items, "agreement": a.agreement,
                 "quality": a.quality}
                for a, email in s.execute(
                    sa.select(AnnotatorScore, User.email).join(User, User.id == AnnotatorScore.user_id)
                    .where(AnnotatorScore.run_id == run.id)
                    .order_by(AnnotatorScore.quality.desc().nulls_last(), AnnotatorScore.user_id)).all()]
        can_manage = can(s, user, project, "manage")
    return {"project": project, "can_manage": can_manage, "run": run, "annotators": annotators,
            "issues": issues, "total": total, "page": page, "pages": max(math.ceil(total / page_size), 1),
            "kind": kind, "kinds": kinds, "runs": runs, "job": job,
            "labeled_since_qc": project.labeled_since_qc}


def qc_job(user: User, project_id: int, job_id: int) -> Job:
    """A QC job of the project (for its progress), if the user may see the project."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        job = s.get(Job, job_id)
        if job is None or job.project_id != project_id or job.kind != QC_JOB_KIND:
            raise NotFound(f"QC job {job_id} not found in project {project_id}")
        return job
