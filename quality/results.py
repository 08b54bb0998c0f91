"""Reading QC results (ARCHITECTURE.md, quality/): the JSON shapes of runs and issues, a
project's runs, one run with its annotator scores, its label issues page by page, and
everything the QC page shows (:func:`overview`). Leads and reviewers of the project.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from labeling.access import require_project
from labeling.db import read_session
from labeling.errors import Invalid, NotFound
from labeling.jobs.qc_trigger import QC_JOB_KIND
from labeling.models import AnnotatorScore, Job, LabelIssue, QualityRun, Task, User
from labeling.schema import LabelSchema, schema_of
from quality.kinds import ISSUE_KINDS

__all__ = [
    "agreement_controls",
    "get_run",
    "issue_counts",
    "issue_view",
    "label_issues",
    "list_runs",
    "overview",
    "qc_job",
    "run_view",
    "shown",
]

_T = Task.__table__


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


def model_text(summary: dict | None, cv_accuracy: float | None) -> str | None:
    """What the model zoo chose and how well it did, in words (None when it did not run), e.g.
    "hog + svm_rbf(C=10), chosen among 4 candidates by cross-validated log loss (on 900 items);
    CV accuracy 91.2%"."""
    choice = (summary or {}).get("selection")
    if not choice:
        return None
    text = (f"{' averaged with '.join(choice['chosen'])}, chosen among {len(choice['log_loss_by_candidate'])} "
            f"candidates by cross-validated log loss (on {choice['selected_on']:,} items)")
    if cv_accuracy is not None:
        text += f"; CV accuracy {cv_accuracy:.1%}"
    return text


def precision_text(summary: dict | None) -> str | None:
    """The expected precision of the run's label flags, and the target it was set to reach."""
    s = summary or {}
    if s.get("expected_precision") is None:
        return None
    text = f"expected precision {s['expected_precision']:.0%}, expected recall {s['expected_recall']:.0%}"
    if s.get("target_precision") is not None:
        # runs stored before the key was renamed name it after cleanlab, whose count it no longer is
        untargeted = s.get("n_flagged_without_target", s.get("n_flagged_by_cleanlab", 0))
        return (f"{text} (target {s['target_precision']:.0%}; without a target it would flag "
                f"{untargeted:,}, as many as the labels estimated wrong)")
    return f"{text} (no target set: the least likely labels, as many as are estimated wrong)"


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


def agreement_controls(user: User, project_id: int, run_id: int | None = None) -> list[dict]:
    """The annotators' agreement per control of a run (the newest finished one by default), as
    :mod:`quality.run.control_agreement` stored it: ``{"control", "type", "metric", "mean",
    "n_tasks", "n_disagree", "bound", "worst": [{"task_id", "value"}]}`` each; empty when the run
    measured none."""
    run, _ = get_run(user, project_id, run_id)
    controls = ((run.agreement or {}).get("controls") if run is not None else None) or []
    return [c for c in controls if isinstance(c, dict)]


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
    if kind is not None and kind not in ISSUE_KINDS:
        raise Invalid(
            f"unknown issue kind {kind!r}; kinds are {', '.join(ISSUE_KINDS)}",
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


def issue_counts(user: User, project_id: int, run: QualityRun) -> dict[str, int]:
    """How many findings (``is_issue``) a run has of each kind, most first: label issues,
    outliers, near duplicates... (the QC policy's ``kinds`` say which of them become suspects)."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        return _kind_counts(s, run.id)


def _kind_counts(s: Session, run_id: int) -> dict[str, int]:
    counted = s.execute(
        sa.select(LabelIssue.kind, sa.func.count()).where(LabelIssue.run_id == run_id, LabelIssue.is_issue == sa.true())
        .group_by(LabelIssue.kind)
    ).all()
    return dict(sorted(((kind, n) for kind, n in counted), key=lambda kv: (-kv[1], kv[0])))


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
    from labeling.media import thumbnail_for

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
        (history, newest first), ``job`` (the newest QC job), ``labeled_since_qc``, and in words
        ``model_text`` (:func:`model_text`) and ``precision_text`` (:func:`precision_text`).
    """
    from labeling.access import can
    if kind is not None and kind not in ISSUE_KINDS:
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
            kinds = _kind_counts(s, run.id)
            where = [LabelIssue.run_id == run.id, LabelIssue.is_issue == sa.true()]
            if kind:
                where.append(LabelIssue.kind == kind)
            total = sum(v for k, v in kinds.items() if kind in (None, k))
            rows = list(s.exec(select(LabelIssue).where(*where).order_by(LabelIssue.score, LabelIssue.id)
                               .offset((page - 1) * page_size).limit(page_size)))
            previews = _previews(s, schema_of(project), [r.task_id for r in rows])
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
            "labeled_since_qc": project.labeled_since_qc,
            "model_text": model_text(run.summary, run.cv_accuracy) if run is not None else None,
            "precision_text": precision_text(run.summary) if run is not None else None}


def qc_job(user: User, project_id: int, job_id: int) -> Job:
    """A QC job of the project (for its progress), if the user may see the project."""
    with read_session() as s:
        require_project(s, user, project_id, "see_all")
        job = s.get(Job, job_id)
        if job is None or job.project_id != project_id or job.kind != QC_JOB_KIND:
            raise NotFound(f"QC job {job_id} not found in project {project_id}")
        return job
