"""Loading what a QC run works on, in bulk (ARCHITECTURE.md, quality/).

:func:`load` reads the labeled tasks of a project (not gold, not excluded) with their
non-cancelled annotations, and the tasks still waiting for labels, into one :class:`Data`: one
entry per annotation of the primary control -- a class (classification), a label set
(multi-label), or the regions (NER, detection). The inputs of pred_probs that tasks carry or
labelfab computes are read here too: ``data.embedding`` (:func:`embedding_features`), features
of stored images or of the text (:func:`own_features`), imported probabilities
(:func:`imported_probs`), and the newest imported prediction of each task
(:func:`latest_predictions`, for NER and detection).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from labeling.db import read_session
from labeling.media import MediaError
from labeling.mediastore import local_path
from labeling.models import Media, Project, TaskState
from labeling.schema import ControlSpec, LabelSchema, schema_of
from labeling.settings import get_settings
from quality import QCInputError
from quality.agreement import independent_annotations
from quality.run.common import (
    ANNOTATION,
    BATCH,
    PREDICTION,
    QC_MODEL_PREFIX,
    TASK,
    ProgressFn,
    QCRunError,
)

__all__ = [
    "Data",
    "embedding_features",
    "first_annotations",
    "imported_probs",
    "latest_predictions",
    "load",
    "own_features",
    "task_values",
]


_NOT_SCORED = (TaskState.excluded.value,)
#: Task types scored by their annotators' agreement alone: their primary control may have no labels.
BY_AGREEMENT_ONLY = ("ranking", "hypertext", "audio", "chat", "timeseries", "video")
#: Task types without classes: scored by agreement alone, or by cleanlab's regression.
NO_CLASSES = (*BY_AGREEMENT_ONLY, "regression")


@dataclass
class Data:
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
    # annotations made from a pre-label left out: their items have an independent label
    n_prelabel_skipped: int = 0
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


def _number(result: Any, name: str, fld: str) -> float | None:
    """The value of a per-task Number or Rating (``value[fld]``) in one result; None without one."""
    for item in result if isinstance(result, list) else []:
        if isinstance(item, dict) and item.get("from_name") == name and isinstance(item.get("value"), dict):
            value = item["value"].get(fld)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
    return None


def load(project_id: int, *, max_predict: int, progress: ProgressFn) -> Data:
    """The labeled tasks of a project and their annotations of the primary control, and the
    tasks still needing labels; :class:`QCRunError` when there is nothing QC can score."""
    with read_session() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise QCRunError(f"project {project_id} not found")
        schema = schema_of(project)
        control = schema.primary_control
        kind = schema.kind
        if kind == "other" or (kind not in NO_CLASSES and not (control.labels or control.taxonomy)):
            raise QCRunError(
                f"QC scores <Choices>, <Labels>, image region controls and per-task <Number> or <Rating>; the primary control "
                f"{control.name!r} is <{control.tag}>, which has no labels to check"
            )
        class_names = list(control.labels) or [control.path_separator.join(p) for p in control.taxonomy]
        if kind == "ner":
            class_names = ["O", *class_names]
        if len(class_names) < 2 and kind not in NO_CLASSES:
            raise QCRunError(
                f"the label config's control {control.name!r} has a single label "
                f"({class_names[0]!r}); QC needs at least 2 classes to compare"
            )
        conn = s.connection()
        scored = sa.and_(
            TASK.c.project_id == project_id,
            TASK.c.is_gold == sa.false(),
            TASK.c.state.notin_(_NOT_SCORED),
        )
        n_labeled = conn.execute(
            sa.select(sa.func.count())
            .select_from(TASK)
            .where(
                scored, sa.exists().where(ANNOTATION.c.task_id == TASK.c.id, ANNOTATION.c.was_cancelled == sa.false())
            )
        ).scalar_one()
        if n_labeled == 0:
            raise QCRunError(
                "the project has no labeled tasks yet; label (or import labels for) some tasks "
                "of at least 2 classes, then run QC"
            )
        progress(0.02, f"loading the annotations of {n_labeled:,} labeled tasks")

        fld = control.type  # the value key of its labels: choices, labels, rectanglelabels...
        index = {name: i for i, name in enumerate(class_names)}
        q = (
            sa.select(ANNOTATION.c.task_id, ANNOTATION.c.user_id, ANNOTATION.c.result,
                      ANNOTATION.c.parent_prediction)
            .select_from(ANNOTATION.join(TASK, TASK.c.id == ANNOTATION.c.task_id))
            .where(ANNOTATION.c.project_id == project_id, ANNOTATION.c.was_cancelled == sa.false(), scored)
            .order_by(ANNOTATION.c.task_id, ANNOTATION.c.id)
        )
        ann_task: list[int] = []
        ann_user: list[int] = []
        ann_value: list = []
        ann_pre: list[bool] = []
        other = 0
        unknown: Counter = Counter()
        for task_id, user_id, result, parent_prediction in conn.execution_options(
            stream_results=True, yield_per=BATCH
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
            elif kind == "regression":  # the annotator's Number or Rating
                number = _number(result, control.name, fld)
                if number is None:
                    other += 1
                    continue
                value = number
            else:  # ner, detection, keypoints, segmentation: the regions of the primary control
                regions = [
                    it
                    for it in result or []
                    if isinstance(it, dict) and it.get("from_name") == control.name
                ]
                value = regions
            ann_task.append(task_id)
            ann_user.append(user_id)
            ann_value.append(value)
            ann_pre.append(parent_prediction is not None)
        if not ann_task:
            raise QCRunError(
                f"none of the annotations of the {n_labeled:,} labeled tasks has a label of control "
                f"{control.name!r}; QC has nothing to check"
            )
        progress(0.06, "loading the tasks")
        tq = (
            sa.select(TASK.c.id, TASK.c.state, TASK.c.n_annotations, TASK.c.content_hash, TASK.c.media_id)
            .where(scored)
            .order_by(TASK.c.id)
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
            stream_results=True, yield_per=BATCH
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
    users = np.asarray(ann_user, dtype=np.int64)[keep]
    item_of, users, values, n_pre = _skip_prelabels(item_of, users, values, np.asarray(ann_pre, dtype=bool)[keep])
    notes = []
    if n_pre:
        notes.append(
            f"{n_pre} annotation(s) made from a pre-label were left out of the consensus and the "
            "agreement: their tasks have independent labels"
        )
    if unknown:
        listing = ", ".join(f"{name!r} ({n})" for name, n in unknown.most_common(5))
        notes.append(
            f"{sum(unknown.values())} annotation(s) use labels no longer in the config and were left "
            f"out: {listing}"
        )
    if other and kind in ("classification", "regression"):
        notes.append(
            f"{other} annotation(s) carry no single label of {control.name!r} and were left out"
        )
    if n_unlabeled > len(unlabeled):
        notes.append(
            f"{n_unlabeled:,} tasks wait for labels; the model predicted the first {len(unlabeled):,}"
        )
    return Data(
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
        ann_user=users,
        ann_value=values,
        unlabeled_ids=np.asarray(unlabeled, dtype=np.int64),
        n_unlabeled=n_unlabeled,
        n_annotations_other=other,
        n_prelabel_skipped=n_pre,
        notes=notes,
    )


def _skip_prelabels(
    item_of: np.ndarray, users: np.ndarray, values: list, pre: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list, int]:
    """Leave out the annotations made from a pre-label (``parent_prediction``) of items that
    have an independent annotation (:func:`quality.agreement.independent_annotations`, the rule
    the dashboard's agreement uses too): CROWDLAB, the agreement figures and each annotator's
    scores skip them. ARCHITECTURE.md, Pre-labels."""
    keep = independent_annotations(item_of, pre)
    if keep.all():
        return item_of, users, values, 0
    return (item_of[keep], users[keep], [v for v, k in zip(values, keep.tolist(), strict=True) if k],
            int((~keep).sum()))


# --------------------------------------------------------------------------- features


def task_values(project_id: int, ids: np.ndarray, column: Any) -> list:
    """``column`` of the tasks ``ids`` (sorted), in that order; None where a task has none."""
    out: list = [None] * ids.size
    if ids.size == 0:
        return out
    with read_session() as s:
        conn = s.connection()
        q = (
            sa.select(TASK.c.id, column)
            .where(TASK.c.project_id == project_id, TASK.c.id >= int(ids[0]), TASK.c.id <= int(ids[-1]))
            .order_by(TASK.c.id)
        )
        pos = 0
        for tid, value in conn.execution_options(stream_results=True, yield_per=BATCH).execute(q):
            while pos < ids.size and ids[pos] < tid:
                pos += 1
            if pos < ids.size and ids[pos] == tid:
                out[pos] = value
    return out


def _all_ids(data: Data) -> np.ndarray:
    return np.union1d(data.task_ids, data.unlabeled_ids)


def _split(data: Data, all_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def embedding_features(data: Data) -> tuple[np.ndarray, np.ndarray | None] | str:
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
        q = (sa.select(TASK.c.id, TASK.c.data["embedding"].as_string())
             .where(TASK.c.project_id == data.project.id, TASK.c.id >= int(ids[0]), TASK.c.id <= int(ids[-1]))
             .order_by(TASK.c.id))
        pos = 0
        for tid, text in conn.execution_options(stream_results=True, yield_per=BATCH).execute(q):
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
            if len(batch_pos) >= BATCH:
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


def image_paths(data: Data, ids: np.ndarray) -> list[str | None]:
    """Paths of the stored media files of tasks ``ids`` (sorted)."""
    media = task_values(data.project.id, ids, TASK.c.media_id)
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
            out.append(str(local_path(*files[m])))
        except MediaError:
            out.append(None)
    return out


def own_features(data: Data, progress: ProgressFn) -> tuple[Any, Any, str] | str:
    """Features labelfab computes itself, several sets of them (:mod:`quality.zoo`):
    (``{name: (X labeled, X unlabeled or None)}``, None, what), or why not."""
    from quality.zoo import (
        IMAGE_CANDIDATES,
        TEXT_CANDIDATES,
        candidates_for,
        feature_sets_of,
        image_feature_sets,
        text_feature_sets,
    )

    obj = data.schema.objects.get(data.control.to_name)
    if obj is None:
        return f"the control {data.control.name!r} annotates no object"
    ids = _all_ids(data)
    lab, unl = _split(data, ids)
    if obj.tag == "Image":
        paths = image_paths(data, ids)
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
        names = _zoo_sets("labelfab", feature_sets_of(candidates_for(IMAGE_CANDIDATES, n_items=lab.size)))
        progress(0.12, f"computing image features of {use.size:,} images ({', '.join(names)})")
        sets = image_feature_sets([paths[i] for i in use], names=names)
        _add_onnx(sets, data, "image", [paths[i] for i in use], progress)
        return _split_sets(sets, lab.size, keep_unl.size), None, "image features"
    key = obj.value_key
    texts = task_values(data.project.id, ids, TASK.c.data[key].as_string())
    missing = [int(ids[i]) for i in lab if not isinstance(texts[i], str)]
    if missing:
        return f"{len(missing):,} labeled task(s) have no text in data.{key} (task {missing[0]})"
    keep_unl = np.asarray([i for i in unl if isinstance(texts[i], str)], dtype=np.int64)
    data.unlabeled_ids = ids[keep_unl]
    use = np.concatenate([lab, keep_unl]).astype(np.int64)
    progress(0.12, f"computing TF-IDF features of {use.size:,} texts")
    names = _zoo_sets("words+chars", feature_sets_of(candidates_for(TEXT_CANDIDATES, n_items=lab.size)))
    sets = text_feature_sets([texts[i] for i in use], names=names)
    _add_onnx(sets, data, "text", [texts[i] for i in use], progress)
    return _split_sets(sets, lab.size, keep_unl.size), None, "TF-IDF"


def _zoo_sets(default: str, wanted: list[str]) -> list[str]:
    """The feature sets a run computes: labelfab's default set first (the one a run given its own
    ``models`` uses), then those the zoo's candidates for this many items use (not ``onnx``,
    which :func:`_add_onnx` adds)."""
    return list(dict.fromkeys([default, *(w for w in wanted if w != "onnx")]))


def _add_onnx(sets: dict[str, Any], data: Data, kind: str, inputs: list, progress: ProgressFn) -> None:
    """The embeddings of the project's own ONNX encoder (``LABELFAB_QC_ONNX_IMAGE_MODEL`` or
    ``_TEXT_MODEL``), as the zoo's ``onnx`` feature set, when the settings name one."""
    from quality.encoders import onnx_image_embeddings, onnx_text_embeddings

    settings = get_settings()
    model = settings.qc_onnx_image_model if kind == "image" else settings.qc_onnx_text_model
    if model is None:
        return
    progress(0.15, f"embedding {len(inputs):,} {kind}s with the ONNX encoder {model.name}")
    embed = onnx_image_embeddings if kind == "image" else onnx_text_embeddings
    sets["onnx"] = embed(inputs, model)
    data.notes.append(f"ONNX {kind} encoder {model.name}: {sets['onnx'].shape[1]}-d embeddings, one of the zoo's "
                      "feature sets")


def _split_sets(sets: dict[str, Any], n_lab: int, n_unl: int) -> dict[str, tuple[Any, Any]]:
    """``name -> (X of labeled items, X of unlabeled items or None)``."""
    return {name: (X[:n_lab], X[n_lab:] if n_unl else None) for name, X in sets.items()}


def imported_probs(
    data: Data, *, multilabel: bool
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
            sa.select(PREDICTION.c.task_id, PREDICTION.c.probs, PREDICTION.c.score, PREDICTION.c.result, PREDICTION.c.model_version)
            .where(
                PREDICTION.c.project_id == data.project.id,
                ~PREDICTION.c.model_version.startswith(QC_MODEL_PREFIX),
            )
            .order_by(PREDICTION.c.task_id, PREDICTION.c.id)
        )
        for tid, probs, score, result, version in conn.execution_options(
            stream_results=True, yield_per=BATCH
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


# --------------------------------------------------------------------------- regions (NER, detection)


def latest_predictions(data: Data, ids: np.ndarray) -> dict[int, tuple[list, float | None, str]]:
    """The newest imported (non-QC) prediction of each task: (regions, score, model_version)."""
    out: dict[int, tuple[list, float | None, str]] = {}
    if ids.size == 0:
        return out
    with read_session() as s:
        q = (
            sa.select(PREDICTION.c.task_id, PREDICTION.c.result, PREDICTION.c.score, PREDICTION.c.model_version)
            .where(
                PREDICTION.c.project_id == data.project.id,
                ~PREDICTION.c.model_version.startswith(QC_MODEL_PREFIX),
            )
            .order_by(PREDICTION.c.task_id, PREDICTION.c.id)
        )
        for tid, result, score, version in (
            s.connection().execution_options(stream_results=True, yield_per=BATCH).execute(q)
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


def first_annotations(data: Data) -> tuple[np.ndarray, list]:
    """The first annotation of each item (for NER and detection, one label set per item)."""
    first: dict[int, Any] = {}
    for item, value in zip(data.ann_item.tolist(), data.ann_value, strict=True):
        first.setdefault(item, value)
    items = np.asarray(sorted(first), dtype=np.int64)
    return items, [first[i] for i in items.tolist()]
