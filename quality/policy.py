"""QC policy: which tasks a QC run makes suspects, where they go, and which pass (DESIGN.md,
"Item life cycle": ``labeled -> QC -> accepted | suspect -> review / relabel``).

The policy of a project is stored in ``Project.qc_policy`` (only what differs from
:data:`DEFAULTS`); :func:`get_policy` and :func:`set_policy` read and change it.

What makes a suspect (``suspect``), among the labeled tasks a run scored, by their label issues
of the kinds in ``kinds`` (a task's score is the lowest of its issues; low is bad):

``flagged``
    cleanlab flagged it (``LabelIssue.is_issue``): confident learning for one label per item,
    CROWDLAB consensus for several.
``threshold``
    its score is below ``threshold``.
``worst_share``
    it is among the ``worst_share`` (a share, e.g. 0.1) of the run's labeled tasks with the
    lowest scores.
``budget``
    it is among the ``budget`` tasks with the lowest scores (a review budget in items).

A suspect moves ``labeled -> suspect`` (the event carries QC's reason and score) and on at once
to where the policy sends it (``route``): ``review`` (state ``review``: the review queue of
:mod:`labeling.review`) or ``relabel``: ``relabel_k`` more annotators who have not labeled it, first in their queue
(``Task.requeued``; ``target_overlap += relabel_k``, back to ``open``); when they are done the
task is ``labeled`` again and the next QC run judges it on the new consensus. A suspect that
would need more than ``Project.max_overlap`` annotators goes to review instead.

Dynamic overlap (``dynamic_overlap``), checked first: a task whose annotators agree less than
``min_agreement`` (the share agreeing with the consensus) gets one more annotator instead of a
verdict, while its overlap is below ``Project.max_overlap``; the next run judges it again.

Tasks sent back to annotators (dynamic overlap and ``relabel``) are served by ``Task.priority``
(the router takes the highest first; relabelled tasks before all others). The QC run computes
it with :func:`activelab_priorities`: ``1 - `` the task's ActiveLab score
(:func:`cleanlab.multiannotator.get_active_learning_scores`, from the annotators' labels and
the run's out-of-sample ``pred_probs``), so the task another label helps most (split votes, a
label the model doubts) is served first. Where a run has no ActiveLab score for a task
(multi-label, spans, boxes), ``1 - `` the QC score of its worst label issue stands in.

Every other labeled task the run scored passes: ``accepted``, with the label its annotators gave
as its final label (:func:`labeling.aggregation.people_label`: the only annotator's label, source
``single``, or their majority, source ``majority``) -- the same "given" label the review page
shows. QC's consensus (CROWDLAB weighs the annotators with its model, and with one annotator it
leans on the model) is never stored as a final label: nothing a model produced becomes one
without a person choosing it. A task whose annotators are tied is not accepted: it goes to the
review queue (``suspect -> review``, counted in ``tied``), where a reviewer picks; so does a task
whose annotators disagree on a ranking, a pairwise pick, a taxonomy path, spans or relations (the
run's flagged ``agreement`` finding, :mod:`quality.run.control_agreement`; counted in
``disagree``), whatever ``kinds`` says, with that finding shown to the reviewer. A QC run never
changes a label: a suspect keeps its annotations and waits for a person (or for more annotators).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labeling import lifecycle
from labeling.access import require_project
from labeling.aggregation import people_label
from labeling.canonical import result_key
from labeling.db import read_session, utcnow, write_session
from labeling.errors import Invalid, NotFound
from labeling.models import (
    Annotation,
    LabelIssue,
    Project,
    QualityRun,
    Task,
    TaskState,
    User,
)
from labeling.review import as_result, queue_move, release_cleared
from labeling.schema import LabelSchema, label_text, result_labels, schema_of
from quality.kinds import AGREEMENT, ISSUE_KINDS

__all__ = [
    "DEFAULTS",
    "ROUTES",
    "SUSPECT_MODES",
    "activelab_priorities",
    "apply_policy",
    "sends_back",
    "check_policy",
    "get_policy",
    "policy_of",
    "set_policy",
]

SUSPECT_MODES = ("flagged", "threshold", "worst_share", "budget")
ROUTES = ("review", "relabel")

DEFAULTS: dict[str, Any] = {
    "suspect": "flagged",  # flagged | threshold | worst_share | budget
    "threshold": 0.5,  # suspect="threshold": label quality score below this
    "worst_share": 0.1,  # suspect="worst_share": this share of the run's labeled tasks, worst first
    "budget": 100,  # suspect="budget": at most this many tasks per run, worst first
    "kinds": ["label"],  # which issue kinds count
    "route": "review",  # review | relabel
    "relabel_k": 2,  # route="relabel": this many more annotators
    "dynamic_overlap": True,  # low agreement: one more annotator, up to Project.max_overlap
    "min_agreement": 0.6,  # share of a task's annotators agreeing with the consensus
}

#: name -> (type, minimum, maximum) of the numeric settings.
_NUMBERS: dict[str, tuple[type, float, float | None]] = {
    "threshold": (float, 0.0, 1.0),
    "worst_share": (float, 0.0, 1.0),
    "budget": (int, 0, 1_000_000_000),
    "relabel_k": (int, 1, 50),
    "min_agreement": (float, 0.0, 1.0),
}

_T = Task.__table__
_A = Annotation.__table__
_LI = LabelIssue.__table__


def _err(field: str, detail: str) -> dict:
    return {"row": None, "field": field, "detail": detail}


def check_policy(values: Any, *, base: dict | None = None) -> dict:
    """Validate policy settings over ``base`` (default :data:`DEFAULTS`); returns the full policy.

    Raises
    ------
    Invalid
        An unknown setting or a bad value, each named with its field.
    """
    if not isinstance(values, dict):
        raise Invalid("the QC policy must be a JSON object", [_err("policy", "not an object")])
    policy = dict(base or DEFAULTS)
    errors = []
    for name, value in values.items():
        if name not in DEFAULTS:
            errors.append(
                _err(name, f"unknown setting {name!r}; settings are {', '.join(DEFAULTS)}")
            )
        elif name == "suspect":
            if value not in SUSPECT_MODES:
                errors.append(_err(name, f"suspect must be one of {', '.join(SUSPECT_MODES)}"))
            else:
                policy[name] = value
        elif name == "route":
            if value not in ROUTES:
                errors.append(_err(name, f"route must be one of {', '.join(ROUTES)}"))
            else:
                policy[name] = value
        elif name == "dynamic_overlap":
            if not isinstance(value, bool):
                errors.append(_err(name, "dynamic_overlap must be true or false"))
            else:
                policy[name] = value
        elif name == "kinds":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(k, str) for k in value)
            ):
                errors.append(_err(name, "kinds must be a non-empty list of issue kinds"))
            elif bad := [k for k in value if k not in ISSUE_KINDS]:
                errors.append(
                    _err(name, f"unknown issue kinds {bad}; kinds are {', '.join(ISSUE_KINDS)}")
                )
            else:
                policy[name] = list(dict.fromkeys(value))
        else:
            kind, low, high = _NUMBERS[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (kind is int and (not math.isfinite(value) or value != int(value)))
            ):
                errors.append(
                    _err(name, f"{name} must be a {'whole number' if kind is int else 'number'}")
                )
            elif not math.isfinite(value) or value < low or (high is not None and value > high):
                errors.append(
                    _err(
                        name,
                        f"{name} must be between {low} and {high}"
                        if high is not None
                        else f"{name} must be at least {low}",
                    )
                )
            else:
                policy[name] = kind(value)
    if errors:
        raise Invalid("invalid QC policy: " + "; ".join(e["detail"] for e in errors), errors)
    return policy


def policy_of(project: Project) -> dict:
    """The project's effective policy: :data:`DEFAULTS` with its stored settings over them
    (a stored setting that is no longer valid is ignored, with the default in its place)."""
    policy = dict(DEFAULTS)
    for name, value in (project.qc_policy or {}).items():
        try:
            policy = check_policy({name: value}, base=policy)
        except Invalid:
            continue
    return policy


def get_policy(project_id: int, user: User) -> dict:
    """The project's QC policy (anyone who may review in it may read it)."""
    with read_session() as s:
        return policy_of(require_project(s, user, project_id, "review"))


def set_policy(project_id: int, user: User, values: dict) -> dict:
    """Change some settings of a project's QC policy (leads); returns the whole policy.

    Only settings that differ from :data:`DEFAULTS` are stored, so a later change of a default
    reaches projects that never set it.
    """
    with write_session() as s:
        project = require_project(s, user, project_id, "manage")
        policy = check_policy(values, base=policy_of(project))
        project.qc_policy = {k: v for k, v in policy.items() if v != DEFAULTS[k]}
        s.add(project)
        return policy


# --------------------------------------------------------------------------- ActiveLab order


def sends_back(policy: dict) -> bool:
    """Whether a policy may send labeled tasks back to annotators (so QC should compute their
    ActiveLab priorities): dynamic overlap, or the ``relabel`` route."""
    return bool(policy["dynamic_overlap"]) or policy["route"] == "relabel"


def activelab_priorities(
    labels_matrix: Any,
    pred_probs: Any,
    *,
    class_names: list[str],
    pred_probs_unlabeled: Any = None,
) -> tuple[Any, Any]:
    """Serving priorities of tasks from their ActiveLab scores: ``1 - score``, rounded to 6 places.

    ActiveLab (:func:`cleanlab.multiannotator.get_active_learning_scores`, through
    :func:`quality.scoring.active_learning_scores`) scores each item by how little another
    label would add: an item whose annotators agree with each other and with the model scores
    high; split votes, or a label the model doubts, score low. The router serves the highest
    priority first, so the lowest ActiveLab score comes first.

    Parameters
    ----------
    labels_matrix : array-like, shape (n_items, n_annotators)
        Class indices of the annotators' labels, NaN where an annotator did not label the item
        (one column for one label per item).
    pred_probs : array-like, shape (n_items, n_classes)
        Out-of-sample predicted probabilities of the labelled items (the QC run's).
    class_names : list of str
        Names of the classes, in column order.
    pred_probs_unlabeled : array-like, shape (n_unlabeled, n_classes), optional
        Predicted probabilities of items without labels, scored on the same scale.

    Returns
    -------
    priorities : np.ndarray
        Per labelled item, in [0, 1]; higher means serve sooner.
    priorities_unlabeled : np.ndarray or None
        Per unlabelled item (None without `pred_probs_unlabeled`).

    Raises
    ------
    quality.scoring.QCInputError
        On invalid input (see :func:`quality.scoring.active_learning_scores`).
    """
    import numpy as np

    from quality.scoring import active_learning_scores

    scores, scores_u = active_learning_scores(
        labels_matrix, pred_probs, class_names=class_names, pred_probs_unlabeled=pred_probs_unlabeled
    )
    priorities = np.round(1.0 - np.asarray(scores, dtype=np.float64), 6)
    if scores_u is None:
        return priorities, None
    return priorities, np.round(1.0 - np.asarray(scores_u, dtype=np.float64), 6)


# --------------------------------------------------------------------------- applying a run


def _agreement(schema: LabelSchema, results: list[list], consensus: list | None) -> float | None:
    """Share of the annotators whose primary labels equal the consensus (else the most common
    labels); None for one annotation or a primary control without labels."""
    if len(results) < 2:
        return None
    control = schema.primary_control
    if control.type != "choices":
        return None
    keys = [tuple(sorted(result_labels(schema, r).get(control.name) or [])) for r in results]
    if consensus is not None:
        target = tuple(sorted(result_labels(schema, consensus).get(control.name) or []))
    else:
        target = Counter(keys).most_common(1)[0][0]
    return sum(k == target for k in keys) / len(keys)


def _agreeing(agreement: float, n: int, consensus: list | None) -> str:
    """:func:`_agreement` in words, naming what the annotators were measured against (QC's
    consensus weighs them with its model: two annotators of three may agree on another label)."""
    against = "QC's consensus" if consensus is not None else "the most common answer"
    return f"{round(agreement * n)} of {n} annotators ({agreement:.0%}) agree with {against}"


def _suspects(policy: dict, scored: dict[int, tuple[float, bool]]) -> set[int]:
    """Task ids that the policy makes suspects, from ``{task id: (score, flagged)}``."""
    mode = policy["suspect"]
    if mode == "flagged":
        return {tid for tid, (_, flagged) in scored.items() if flagged}
    if mode == "threshold":
        return {tid for tid, (score, _) in scored.items() if score < policy["threshold"]}
    ranked = sorted(scored, key=lambda tid: (scored[tid][0], tid))
    n = (
        math.ceil(policy["worst_share"] * len(ranked) - 1e-9)
        if mode == "worst_share"
        else policy["budget"]
    )
    return set(ranked[:n])


def apply_policy(
    project_id: int,
    run_id: int,
    *,
    session: Session | None = None,
    priorities: Mapping[int, float] | None = None,
) -> dict:
    """Act on a finished QC run: suspects to review or relabel, low agreement to one more
    annotator, the rest of the labeled tasks it scored to ``accepted`` with their annotators'
    label (to review where the annotators are tied).

    Only tasks still ``labeled`` (and not gold) are judged, and suspects in the review queue
    that an older run queued are let go when this run clears them; so calling it twice, or for
    an older run, changes nothing already decided. A task sent to review records the finding
    that sent it (``Task.review_issue_id``), which the reviewer is shown whatever later runs say.

    Parameters
    ----------
    project_id : int
    run_id : int
        A QualityRun of the project; its ``label_issue`` rows (one or more per task it scored,
        flagged or not) are what the policy judges.
    session : Session, optional
        Run inside this transaction: the QC run stores its results, applies the policy and ends
        its job in one commit, so nobody sees a finished run whose tasks are not judged yet.
        Without it, in a transaction of its own.
    priorities : mapping of int to float, optional
        ``{task id: priority}`` for tasks sent back to annotators (dynamic overlap, relabel):
        the run's :func:`activelab_priorities`. A task without one gets ``1 -`` its worst QC
        score.

    Returns
    -------
    dict
        Counts: ``scored`` (labeled tasks the run scored), ``accepted`` (with the annotators'
        label), ``review`` (suspects, and ``tied``: tasks that passed but whose annotators are
        tied; ``disagree``: tasks whose annotators disagree on a ranking, pick, path, span or
        relation), ``relabel``, ``more_annotators``, ``cleared`` (suspects an earlier run queued that this
        run would not make suspects, out of the review queue unless a reviewer holds them or
        their annotators are tied); and the ``policy`` applied.
    """
    if session is None:
        with write_session() as s:
            return _apply(s, project_id, run_id, priorities or {})
    return _apply(session, project_id, run_id, priorities or {})


def _apply(s: Session, project_id: int, run_id: int, priorities: Mapping[int, float]) -> dict:
    now = utcnow()
    counts = {"scored": 0, "accepted": 0, "review": 0, "tied": 0, "disagree": 0, "relabel": 0,
              "more_annotators": 0, "cleared": 0}
    project = s.get(Project, project_id)
    run = s.get(QualityRun, run_id)
    if project is None or run is None or run.project_id != project_id:
        raise NotFound(f"QC run {run_id} of project {project_id} not found")
    policy = policy_of(project)
    if run.status != "done":
        return {**counts, "policy": policy}
    schema = schema_of(project)
    issues = _run_issues(s, run_id)
    tasks = _labeled_tasks(s, project_id, set(issues))
    kinds = set(policy["kinds"])
    flagged_only = policy["suspect"] == "flagged"
    if not tasks:
        counts["cleared"] = len(_clear_queue(s, project_id, run_id, issues, {}, policy, kinds, now))
        return {**counts, "policy": policy}
    scored = {}
    for tid in tasks:
        counted = [i for i in issues[tid] if i.kind in kinds]
        scored[tid] = (
            min((i.score for i in counted), default=1.0),
            any(i.is_issue for i in counted),
        )
    suspects = _suspects(policy, scored)
    results = _results(s, project_id, set(tasks))
    moves: list[lifecycle.Move] = []
    for tid, task in tasks.items():
        # the finding shown to the reviewer: one of the policy's kinds; with suspect="flagged" one
        # that is flagged (a dark image's finding, not its label's row that the model agrees with)
        worst = min(issues[tid], key=lambda i: (i.kind not in kinds, flagged_only and not i.is_issue,
                                                 i.kind != "label", i.score))
        consensus = next(
            (as_result(schema, i.consensus) for i in issues[tid] if i.consensus is not None), None
        )
        head = f"QC run {run_id}"
        # where it goes back to annotators: ActiveLab first (lowest score, highest priority)
        back = priorities.get(tid)
        back = float(back) if back is not None else max(task.priority, round(1.0 - worst.score, 6))
        agreement = _agreement(schema, results.get(tid, []), consensus)
        if (
            policy["dynamic_overlap"]
            and agreement is not None
            and agreement < policy["min_agreement"]
            and task.target_overlap < project.max_overlap
        ):
            moves.append(
                _change(
                    tid,
                    [
                        (
                            TaskState.open,
                            f"{head}: {_agreeing(agreement, len(results.get(tid, [])), consensus)}; "
                            f"one more annotator (overlap {task.target_overlap} -> {task.target_overlap + 1})",
                        )
                    ],
                    task.target_overlap + 1,
                    requeued=False,
                    priority=back,
                )
            )
            counts["more_annotators"] += 1
            continue
        if tid in suspects:
            why = f"{head}: {worst.reason or worst.kind + ' issue'} (score {worst.score:.3f})"
            k = policy["relabel_k"]
            if policy["route"] == "relabel" and task.target_overlap + k <= project.max_overlap:
                moves.append(
                    _change(
                        tid,
                        [
                            (TaskState.suspect, why),
                            (
                                TaskState.open,
                                f"relabel: {k} more annotators (overlap {task.target_overlap} -> "
                                f"{task.target_overlap + k})",
                            ),
                        ],
                        task.target_overlap + k,
                        requeued=True,
                        priority=back,
                    )
                )
                counts["relabel"] += 1
            else:
                full = (
                    " (the project's maximum overlap is reached)"
                    if policy["route"] == "relabel"
                    else ""
                )
                moves.append(_to_review(tid, task, worst, why, then="to the review queue" + full))
                counts["review"] += 1
            continue
        # annotators who disagree on a ranking, pick, taxonomy path, span or relation
        # (quality.run.control_agreement): to review, the disagreement the finding shown
        apart = _disagreement(issues[tid])
        if apart is not None:
            moves.append(_to_review(tid, task, apart, f"{head}: {apart.reason} (score {apart.score:.3f})"))
            counts["review"] += 1
            counts["disagree"] += 1
            continue
        # the final label is the people's (never QC's model-weighted consensus); a tie is
        # broken by a person in review, not by the model
        label, source, tied = people_label(schema, results.get(tid, []))
        if tied:
            names = ", ".join(label_text(r) or "(nothing)" for r in tied)
            moves.append(_to_review(tid, task, worst, f"{head}: passed (score {worst.score:.3f}) but its "
                                    f"annotators are tied ({names}); a person picks"))
            counts["review"] += 1
            counts["tied"] += 1
            continue
        if label is None:
            continue  # nothing to release (no submitted annotation): leave it for people
        apart = (
            "; QC's consensus differs and is not used"
            if consensus is not None and result_key(consensus) != result_key(label)
            else ""
        )
        moves.append(
            _change(
                tid,
                [
                    (
                        TaskState.accepted,
                        f"{head}: passed (score {worst.score:.3f}); final label: the annotators' "
                        f"({source}){apart}",
                    )
                ],
                task.target_overlap,
                requeued=False,
                priority=task.priority,
                final=label,
                source=source,
            )
        )
        counts["accepted"] += 1
    counts["scored"] = len(tasks)
    if moves:
        # tasks with equal new values (most accepted tasks of a class share their final label)
        # change in one UPDATE each; only tasks still labeled change
        lifecycle.move_many(s.connection(), moves, cause=lifecycle.Cause.qc, project_id=project_id,
                            from_state=TaskState.labeled, user_id=None, now=now,
                            column_types={"final_label": sa.JSON(none_as_null=True)})
    counts["cleared"] = len(_clear_queue(s, project_id, run_id, issues, scored, policy, kinds, now))
    return {**counts, "policy": policy}


def _to_review(tid: int, task: Any, finding: _Issue, why: str, *, then: str = "to the review queue") -> lifecycle.Move:
    """A task to the review queue (:func:`labeling.review.queue_move`, every finding's way in),
    with the finding the reviewer is shown."""
    return queue_move(tid, why, issue_id=finding.id, then=then,
                      values={"target_overlap": task.target_overlap, "requeued": False, "priority": task.priority,
                              "final_label": None, "final_source": None})


def _disagreement(found: list[_Issue]) -> _Issue | None:
    """The task's flagged ``agreement`` finding of this run (its annotators disagree), if any."""
    return next((i for i in found if i.kind == AGREEMENT and i.is_issue), None)


def _clear_queue(s: Session, project_id: int, run_id: int, issues: dict[int, list[_Issue]],
                 scored: dict[int, tuple[float, bool]], policy: dict, kinds: set[str], now) -> list[int]:
    """Suspects queued by an earlier run that this run scored and would not make suspects
    leave the review queue (:func:`labeling.review.release_cleared`)."""
    # only suspects an older run queued (applying an old run again clears nothing newer)
    q = (sa.select(_T.c.id).join(_LI, _LI.c.id == _T.c.review_issue_id)
         .where(_T.c.project_id == project_id, _T.c.state == TaskState.review, _T.c.is_gold == sa.false(),
                _LI.c.run_id < run_id))
    queued = [tid for tid in s.execute(q).scalars() if tid in issues]
    if not queued:
        return []
    again = {tid: (min((i.score for i in issues[tid] if i.kind in kinds), default=1.0),
                   any(i.is_issue for i in issues[tid] if i.kind in kinds)) for tid in queued}
    still = _suspects(policy, {**scored, **again}) | {tid for tid in queued if _disagreement(issues[tid])}
    return release_cleared(s, project_id, run_id, {tid for tid in queued if tid not in still}, now=now)


def _change(
    tid: int,
    path: list[tuple[TaskState, str]],
    target: int,
    *,
    requeued: bool,
    priority: float,
    final: list | None = None,
    source: str | None = None,
) -> lifecycle.Move:
    values = {"target_overlap": target, "requeued": requeued, "priority": priority, "final_label": final,
              "final_source": source}
    return lifecycle.Move(tid, path, values)


class _Issue:
    __slots__ = ("id", "kind", "score", "is_issue", "reason", "consensus")

    def __init__(self, id: int, kind: str, score: float, is_issue: bool, reason: str, consensus: Any):  # noqa: A002
        self.id, self.kind, self.score, self.is_issue, self.reason, self.consensus = (
            id,
            kind,
            score,
            is_issue,
            reason,
            consensus,
        )


def _run_issues(s: Session, run_id: int) -> dict[int, list[_Issue]]:
    """The run's issue rows, by task."""
    out: dict[int, list[_Issue]] = defaultdict(list)
    q = sa.select(
        _LI.c.id, _LI.c.task_id, _LI.c.kind, _LI.c.score, _LI.c.is_issue, _LI.c.reason, _LI.c.consensus
    ).where(_LI.c.run_id == run_id)
    for iid, tid, kind, score, is_issue, reason, consensus in s.execute(q):
        out[tid].append(
            _Issue(
                iid,
                kind,
                float(score if score is not None else 1.0),
                bool(is_issue),
                reason or "",
                consensus,
            )
        )
    return out


class _Row:
    __slots__ = ("target_overlap", "priority")

    def __init__(self, target_overlap: int, priority: float):
        self.target_overlap, self.priority = target_overlap, priority


def _labeled_tasks(s: Session, project_id: int, task_ids: set[int]) -> dict[int, _Row]:
    """Of ``task_ids``, those still ``labeled`` and not gold, locked (PostgreSQL) until the commit.

    One query over the project's labeled tasks (``ix_task_route``), not one per chunk of ids.
    """
    q = (sa.select(_T.c.id, _T.c.target_overlap, _T.c.priority)
         .where(_T.c.project_id == project_id, _T.c.state == TaskState.labeled, _T.c.is_gold == sa.false())
         .order_by(_T.c.id).with_for_update())
    return {tid: _Row(target, float(priority or 0.0)) for tid, target, priority in s.execute(q) if tid in task_ids}


def _results(s: Session, project_id: int, task_ids: set[int]) -> dict[int, list[list]]:
    """Submitted annotation results per task (of ``task_ids``), earliest first."""
    out: dict[int, list[list]] = defaultdict(list)
    q = (sa.select(_A.c.task_id, _A.c.result)
         .select_from(_A.join(_T, _T.c.id == _A.c.task_id))
         .where(_T.c.project_id == project_id, _T.c.state == TaskState.labeled, _A.c.was_cancelled == sa.false())
         .order_by(_A.c.task_id, _A.c.id))
    for tid, result in s.execute(q):
        if tid in task_ids:
            out[tid].append(result)
    return out
