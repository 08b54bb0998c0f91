"""A QC run's skeleton, shared by every task type (ARCHITECTURE.md, quality/).

One QC run of a project (:func:`run_qc`, run by the ``qc`` job of :mod:`quality.jobs`; started
with :func:`start_qc`):

1. load (:mod:`quality.run.load`): in bulk, the labeled tasks of the project (not gold, not
   excluded) with their non-cancelled annotations, and the tasks still waiting for labels; the
   labels of the primary control: a class, a label set (multi-label), token labels (NER) or
   boxes (object detection) per annotation;
2. inputs (:mod:`quality.run.probs`): out-of-sample ``pred_probs``, from the first source that
   works: probabilities imported with predictions, K-fold cross-validation on
   ``data.embedding``, K-fold cross-validation on features labelfab computes itself (image pixels
   from the stored media; TF-IDF of the text);
3. score: the module of the task type, chosen in :data:`SCORERS` (each exposes
   ``score(data, options, progress) -> (Scored, Probs)``), with cleanlab (:mod:`quality.scoring`):
   label issues, CROWDLAB consensus and annotator quality, noise rates and the confident joint,
   outliers and near duplicates, ActiveLab;
4. store (:mod:`quality.run.store`): one :class:`QualityRun` with its :class:`LabelIssue` and
   :class:`AnnotatorScore` rows, the model's predictions for tasks still needing labels
   (pre-annotations) and, when the project asks for uncertain tasks first, their
   ``Task.priority`` -- all in ONE transaction together with marking the job done, so a job
   re-run after a crash writes its results once.

A QC run never changes task states or labels: what becomes suspect is the QC policy's call.
Input QC cannot score (fewer than 2 classes, no labeled tasks, one item, constant features, ...)
ends the run ``failed`` with a clear message, never a traceback.

There is no cap on the labeled tasks a run scores: a classification project of at least
``LABELFAB_QC_FAN_OUT_FROM`` labeled tasks (one label each, ``data.embedding``) is fanned out
after step 1 (:mod:`quality.run.fanout`): one job per cross-validation fold, over the features
written out of core, and a gather job that finds the label issues with cleanlab's batched finder
and stores the run (steps 3 and 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

from labeling import jobs
from labeling.access import require_project
from labeling.db import utcnow, write_session
from labeling.errors import Conflict, Invalid
from labeling.jobs.qc_trigger import enqueue_qc
from labeling.models import Job, User
from labeling.settings import get_settings
from quality import QCInputError
from quality.run import (
    audio,
    chat,
    classification,
    control_agreement,
    detection,
    hypertext,
    keypoints,
    multilabel,
    ner,
    paragraphs,
    ranking,
    regression,
    segmentation,
    taxonomy,
    timeseries,
    video,
)
from quality.run.common import Probs, ProgressFn, QCRunError, Scored
from quality.run.fanout import fan_out, wants_fan_out
from quality.run.image_quality import image_findings
from quality.run.load import BY_AGREEMENT_ONLY, Data, load
from quality.run.store import store_failed, store_run

__all__ = ["MAX_PREDICT", "SCORERS", "Scorer", "run_qc", "start_qc"]


#: Most unlabeled tasks the model predicts in one run (the first ones in import order).
MAX_PREDICT = 100_000


Scorer = Callable[[Data, dict, ProgressFn], tuple[Scored, Probs]]
#: The scorer of each task type (``LabelSchema.kind``); a new task type is one module with a
#: ``score`` function and one line here.
SCORERS: dict[str, Scorer] = {
    "classification": classification.score,
    "multilabel": multilabel.score,
    "ner": ner.score,
    "detection": detection.score,
    "taxonomy": taxonomy.score,
    "paragraphs": paragraphs.score,
    "keypoints": keypoints.score,
    "segmentation": segmentation.score,
    "ranking": ranking.score,
    "hypertext": hypertext.score,
    "audio": audio.score,
    "chat": chat.score,
    "regression": regression.score,
    "video": video.score,
    "timeseries": timeseries.score,
}


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


# --------------------------------------------------------------------------- the run


def run_qc(
    project_id: int,
    *,
    ctx: jobs.JobContext | None = None,
    progress: ProgressFn | None = None,
    options: dict | None = None,
    max_predict: int = MAX_PREDICT,
    fan_out_from: int | None = None,
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
    max_predict : int
        Most unlabeled tasks predicted.
    fan_out_from : int, optional
        Labeled tasks from which a classification run with ``data.embedding`` is fanned out as
        fold jobs and a gather (default ``LABELFAB_QC_FAN_OUT_FROM``); only a run of a job fans
        out, and its result is then ``{"status": "fanned_out", "batch", "n_items", "n_folds"}``.

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
    data: Data | None = None
    try:
        # one thread for OpenMP and BLAS: QC runs one at a time per process, and on a shared
        # machine spinning thread pools cost far more than they give
        with threadpool_limits(limits=1):
            data = load(project_id, max_predict=max_predict, progress=step)
            if ctx is not None and wants_fan_out(data, threshold=_fan_out_from(fan_out_from)):
                fanned = _fan_out(data, ctx, step)
                if isinstance(fanned, dict):
                    return fanned
                data.notes.append(f"the run was not fanned out over the workers: {fanned}")
            scorer = SCORERS[data.kind]
            try:
                scored, probs = scorer(data, options, step)
            except (QCRunError, QCInputError) as exc:
                if not control_agreement.measures(data):
                    raise
                # relations, rankings... are still compared: their disagreements reach review
                data.notes.append(f"the {data.kind} scorer could not run ({exc}); only the annotators' agreement "
                                  "was measured, and tasks with one annotator were left for the next run")
                try:
                    scored, probs = control_agreement.score_alone(data, step, every_task=False)
                except QCRunError as alone:
                    raise QCRunError(f"{exc}; and {alone}") from alone
            else:
                if data.kind not in BY_AGREEMENT_ONLY:
                    step(0.82, "comparing the annotators of every other control")
                    if apart := control_agreement.agreement_findings(data, scored):
                        data.notes.append(f"{apart:,} task(s) whose annotators disagree on a ranking, pick, "
                                          "path, span or relation (agreement findings)")
            step(0.85, "checking image quality")
            image_findings(data, scored)
    except (QCRunError, QCInputError) as exc:
        message = f"QC could not run: {exc}"
        return store_failed(project_id, ctx, started, message, data, t0)
    except MemoryError:
        n = data.n if data is not None else 0
        message = (
            f"QC ran out of memory on {n:,} items; lower the number of items per project, or give "
            "the worker more memory"
        )
        return store_failed(project_id, ctx, started, message, data, t0)
    step(0.9, f"saving the results of {data.n:,} items")
    return store_run(project_id, ctx, started, data, scored, probs, t0)


def _fan_out_from(value: int | None) -> int:
    return get_settings().qc_fan_out_from if value is None else value


def _fan_out(data: Data, ctx: jobs.JobContext, step: ProgressFn) -> dict | str:
    """The run as fold jobs and a gather (:mod:`quality.run.fanout`), or why it cannot be."""
    from quality.run.classification import label_vector

    y, _ = label_vector(data)
    step(0.08, f"writing the features of {data.n:,} items for the fold jobs")
    return fan_out(data, y, ctx, step)
