"""Agreement between annotators: Krippendorff's alpha (for the project and per label), the share
of unanimous items and Cohen's kappa of every pair of annotators (ARCHITECTURE.md, insights).

The figures measure independent labels: an annotation made from a pre-label is left out where its
item has one made without (:func:`quality.agreement.independent_annotations`, the rule of QC's
CROWDLAB and annotator scores), so annotators accepting the model's guess do not pass for
annotators agreeing; ``n_prelabel_skipped`` counts what was left out.

The figures come from the latest QC run (``QualityRun.agreement``, written by the QC engine).
What the run lacks (the pairs of annotators, or everything before the first run) is computed
from the annotations by the ``agreement`` job (:func:`run_agreement_job`, with
:func:`calculate` and :mod:`quality.agreement`) and stored in ``project_agreement``, one row per
project. A dashboard load never computes it: it reads the stored figures, and when the
annotations changed since they were computed (new, edited or deleted annotations) it queues the
job, at most every :data:`AGREEMENT_REFRESH` seconds, and shows the stored figures meanwhile.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from insights.cache import annotation_key
from insights.context import A, Ctx, R, V, iso, panel, rounded, user_emails
from insights.control_agreement import controls_data
from insights.sql import label_params, labels_sql, primary, set_agg
from labeling import jobs
from labeling.db import read_session, utcnow, write_session
from labeling.models import Job, JobStatus, Project, ProjectAgreement
from labeling.schema import LabelSchema, schema_of
from quality import QCInputError
from quality import agreement as measures

__all__ = [
    "AGREEMENT_JOB",
    "agreement_data",
    "agreement_inputs",
    "agreement_panel",
    "calculate",
    "kappa_panel",
    "normalise_agreement",
    "queue_agreement",
    "run_agreement_job",
]

#: The job kind that computes a project's agreement from its annotations and stores it (listed
#: in labeling/jobs/registry.py; ARCHITECTURE.md, Jobs).
AGREEMENT_JOB = "agreement"
#: Pairs of annotators sharing fewer items get no kappa (too few to say anything).
KAPPA_MIN_SHARED = 5
#: Agreement is not additive: while annotations keep coming the job computes it again at most
#: this often (seconds); the dashboard shows the stored figures with the time they were computed.
AGREEMENT_REFRESH = 300.0
#: Agreement is measured for these kinds of project (one label, or a set of labels, per item).
MEASURED_KINDS = ("classification", "multilabel")

_P = ProjectAgreement.__table__
_J = Job.__table__
_ACTIVE = (JobStatus.queued.value, JobStatus.running.value)


def calculate(triples: list[tuple[int, int, str]], class_names: list[str],
              n_prelabel_skipped: int = 0) -> dict[str, Any]:
    """Agreement of ``(item, annotator, label)`` triples, with the metrics of :mod:`quality.agreement`.

    Parameters
    ----------
    triples : list of (int, int, str)
        ``(item, annotator, label)`` of the independent annotations (:func:`agreement_inputs`).
    class_names : list of str
        The label config's classes; labels outside it are added after them.
    n_prelabel_skipped : int
        How many annotations made from a pre-label :func:`agreement_inputs` left out (reported
        as ``n_prelabel_skipped`` and in ``note``).

    Returns
    -------
    dict
        Krippendorff's alpha for the project (``alpha``) and per label (``per_label``), the share
        of unanimous items (``unanimous``), ``n_items`` (items with two labels or more),
        ``n_annotators``, Cohen's kappa of every pair of annotators who share at least
        :data:`KAPPA_MIN_SHARED` items (``kappa``: ``[{"a", "b", "kappa", "n"}]``, annotators by
        user id), ``n_prelabel_skipped`` and, when a figure is undefined or annotations were
        left out, ``note``.
    """
    skipped = (f"{n_prelabel_skipped:,} annotation(s) made from a pre-label left out (their items have "
               "independent labels)") if n_prelabel_skipped else None
    out = _calculate(triples, class_names)
    out["n_prelabel_skipped"] = int(n_prelabel_skipped)
    if skipped:
        out["note"] = f"{out['note']}; {skipped}" if out.get("note") else skipped
    return out


def _calculate(triples: list[tuple[int, int, str]], class_names: list[str]) -> dict[str, Any]:
    item_ids, user_ids, given = (np.array(c) for c in zip(*triples, strict=True)) if triples else ([], [], [])
    found, label_of = np.unique(np.asarray(given, dtype=str), return_inverse=True)
    names = list(class_names)
    names += sorted(set(found.tolist()) - set(names))
    code = {n: i for i, n in enumerate(names)}
    labels = np.array([code[n] for n in found.tolist()], dtype=np.float64)[label_of]
    _, row = np.unique(np.asarray(item_ids, dtype=np.int64), return_inverse=True)
    users, column = np.unique(np.asarray(user_ids, dtype=np.int64), return_inverse=True)
    users = [int(u) for u in users]
    matrix = np.full((int(row.max()) + 1 if triples else 0, len(users)), np.nan)
    matrix[row, column] = labels
    per_item = (~np.isnan(matrix)).sum(axis=1)
    out: dict[str, Any] = {"n_items": int((per_item >= 2).sum()), "n_annotators": len(users)}
    if out["n_items"] == 0:
        return {**out, "note": "no item has labels from two annotators yet"}
    k = max(len(names), 2)
    try:
        out["alpha"] = measures.krippendorff_alpha(matrix, n_classes=k)
    except QCInputError as exc:
        out["note"] = str(exc)
    per_class = measures.krippendorff_alpha_per_class(matrix, n_classes=k)
    out["per_label"] = {names[c]: (None if np.isnan(v) else float(v)) for c, v in enumerate(per_class)}
    out["unanimous"] = measures.unanimous_share(matrix)
    kappa, shared = measures.pairwise_cohen_kappa(matrix, n_classes=k, min_shared=KAPPA_MIN_SHARED)
    a, b = np.triu_indices(len(users), k=1)
    keep = shared[a, b] >= KAPPA_MIN_SHARED
    out["kappa"] = [{"a": users[i], "b": users[j], "n": int(shared[i, j]),
                     "kappa": None if np.isnan(kappa[i, j]) else float(kappa[i, j])}
                    for i, j in zip(a[keep], b[keep], strict=True)]
    return out


def agreement_inputs(conn: Connection,
                     project: Project) -> tuple[list[tuple[int, int, str]], list[str], int]:
    """``(item, annotator, label)`` of every independent submitted annotation, the class names,
    and how many annotations made from a pre-label were left out.

    The label is the primary control's label; with several (multiple choice), their sorted
    ``|``-joined set. Gold tasks are left out, and so are the annotations made from a pre-label
    (``parent_prediction``) of items that have an independent one: the rule QC applies
    (:func:`quality.agreement.independent_annotations`), so that annotators accepting the model's
    guess do not pass for annotators agreeing. The rows come from one SQL query.
    """
    schema = schema_of(project)
    ctx = Ctx(conn, project, schema, utcnow(), conn.dialect.name, None)
    params = label_params(ctx)
    where = ("annotation.project_id = :p AND annotation.was_cancelled = :no AND annotation.task_id NOT IN "
             "(SELECT id FROM task WHERE project_id = :p AND is_gold = :yes)")
    columns = ("annotation.task_id, annotation.user_id, "
               "CASE WHEN annotation.parent_prediction IS NULL THEN 0 ELSE 1 END AS pre")
    sql = labels_sql(ctx, "annotation", "annotation.result", columns, where)
    if schema.primary_control.choice == "multiple":
        sql = (f"SELECT task_id, user_id, pre, {set_agg(ctx)} FROM (SELECT * FROM ({sql}) y ORDER BY lab) x "
               f"GROUP BY task_id, user_id, pre")
    rows = ctx.rows(sa.text(sql), no=False, yes=True, **params)
    names = list(schema.primary_control.labels)
    if not rows:
        return [], names, 0
    keep = measures.independent_annotations([r[0] for r in rows], [bool(r[2]) for r in rows])
    triples = [(r[0], r[1], r[3]) for r, k in zip(rows, keep.tolist(), strict=True) if k]
    return triples, names, len(rows) - len(triples)


def normalise_agreement(raw: dict) -> dict:
    """The agreement dict of a QC run (``quality.run.classification``: ``krippendorff_alpha``,
    ``krippendorff_alpha_per_class``, ``unanimous_share``, ``n_items_multi``,
    ``kappa_by_annotator``, ``mean_pairwise_kappa``) or of a calculator (``alpha``, ``per_label``,
    ``unanimous``, ``n_items``, ``kappa`` pairs) with the keys the dashboard shows."""

    def first(*keys: str) -> Any:
        return next((raw[k] for k in keys if raw.get(k) is not None), None)

    per_label = first("per_label", "krippendorff_alpha_per_class") or {}
    by_annotator = first("kappa_by_annotator") or {}
    pairs = first("kappa", "pairs", "pairwise_kappa")
    kappa = None
    if isinstance(pairs, list):
        kappa = [{"a": p.get("a"), "b": p.get("b"), "kappa": rounded(p.get("kappa")), "n": p.get("n")}
                 for p in pairs if isinstance(p, dict)]
    notes = raw.get("notes") or ([raw["note"]] if raw.get("note") else [])
    return {
        "alpha": rounded(first("alpha", "krippendorff_alpha")),
        "unanimous": rounded(first("unanimous", "unanimous_share")),
        "per_label": {str(k): rounded(v) for k, v in per_label.items()} if isinstance(per_label, dict) else {},
        "n_items": first("n_items", "n_items_multi"),
        "n_annotators": first("n_annotators") or (len(by_annotator) or None),
        "kappa": kappa,
        "kappa_by_annotator": {int(k): rounded(v) for k, v in by_annotator.items()} if isinstance(by_annotator, dict)
        else {},
        "mean_kappa": rounded(first("mean_kappa", "mean_pairwise_kappa")),
        "n_prelabel_skipped": first("n_prelabel_skipped"),
        "note": "; ".join(str(n) for n in notes) or None,
    }


def _measured(schema: LabelSchema) -> bool:
    return primary(schema) is not None and schema.kind in MEASURED_KINDS


def _annotations_now(conn: Connection, project_id: int) -> dict[str, int]:
    """What the project's annotations are now: their count, and the newest annotation and
    annotation version ids (all projects: primary-key seeks)."""
    return {
        "n_annotations": conn.execute(sa.select(sa.func.count()).select_from(A)
                                      .where(A.c.project_id == project_id)).scalar_one(),
        "last_annotation_id": conn.execute(sa.select(sa.func.max(A.c.id))).scalar() or 0,
        "last_version_id": conn.execute(sa.select(sa.func.max(V.c.id))).scalar() or 0,
    }


def _changed_since(ctx: Ctx, stored: Any) -> bool:
    """Whether the project's annotations changed since ``stored`` figures were computed: a
    count that differs (added or deleted), an annotation added after, or one edited after
    (every edit copies the earlier version into ``annotation_version``)."""
    if annotation_key(ctx)[0] != stored.n_annotations:
        return True
    added = ctx.conn.execute(sa.select(A.c.id).where(A.c.id > stored.last_annotation_id,
                                                     A.c.project_id == ctx.pid).limit(1)).first()
    if added is not None:
        return True
    edited = ctx.conn.execute(
        sa.select(V.c.id).join(A, A.c.id == V.c.annotation_id)
        .where(V.c.id > stored.last_version_id, A.c.project_id == ctx.pid).limit(1)).first()
    return edited is not None


def _pending_job(conn: Connection, project_id: int) -> int | None:
    """Id of the project's agreement job that is queued or running, if any."""
    return conn.execute(
        sa.select(_J.c.id).where(_J.c.project_id == project_id, _J.c.kind == AGREEMENT_JOB,
                                 _J.c.status.in_(_ACTIVE)).order_by(_J.c.id).limit(1)).scalar()


def queue_agreement(project_id: int) -> int:
    """Queue the ``agreement`` job of a project, unless one is queued or running already.

    Returns
    -------
    int
        The id of the job that will compute the project's agreement.
    """
    with write_session() as s:
        pending = _pending_job(s.connection(), project_id)
        if pending is not None:
            return pending
        return jobs.enqueue(AGREEMENT_JOB, project_id=project_id, session=s)


def run_agreement_job(ctx: jobs.JobContext) -> dict:
    """The ``agreement`` job: compute a project's agreement from its annotations and store it
    (``project_agreement``), together with what the annotations were when it was read.

    A calculation that fails is stored as the figures' note ("agreement could not be computed:
    ...") so that the dashboard shows it and does not queue the job again until the annotations
    change; the job then ends ``failed`` with the same message.

    Raises
    ------
    JobError
        Without a project, for a project that no longer exists, or when the calculation fails.
    """
    if ctx.project_id is None:
        raise jobs.JobError("an agreement job needs a project")
    ctx.progress(0.0, "reading the annotations")
    with read_session() as s:
        project = s.get(Project, ctx.project_id)
        if project is None:
            raise jobs.JobError(f"project {ctx.project_id} no longer exists")
        conn = s.connection()
        state = _annotations_now(conn, project.id)  # before the labels: a later change shows as one
        schema = schema_of(project)
        measured = _measured(schema)
        triples, names, n_pre = agreement_inputs(conn, project) if measured else ([], [], 0)
    ctx.progress(0.3, f"computing agreement over {len(triples):,} labels")
    started = time.perf_counter()
    failure = None
    if not measured:
        figures = {"note": f"agreement is measured for classification projects (this one is {schema.kind})"}
    else:
        try:
            figures = normalise_agreement(calculate(triples, names, n_pre))
        except Exception as exc:  # noqa: BLE001  (stored for the dashboard, and the job ends failed)
            failure = f"agreement could not be computed: {exc}"
            figures = {"note": failure}
    seconds = round(time.perf_counter() - started, 3)
    result = {"labels": len(triples), "alpha": figures.get("alpha"), "seconds": seconds}
    with write_session() as s:
        s.execute(sa.delete(_P).where(_P.c.project_id == ctx.project_id))
        s.execute(sa.insert(_P).values(project_id=ctx.project_id, figures=figures, seconds=seconds,
                                       computed_at=utcnow(), **state))
        if failure is None:
            ctx.complete(s, result, message=f"agreement of {len(triples):,} labels")
    if failure is not None:
        raise jobs.JobError(failure)
    return result


def _stored_agreement(ctx: Ctx) -> dict:
    """The figures the ``agreement`` job stored, queueing it when they are missing or stale.

    Stale figures are shown until the job has brought them up to date (``pending``); the job is
    queued again at most every :data:`AGREEMENT_REFRESH` seconds while annotations keep coming.
    """
    def read() -> Any:
        return ctx.conn.execute(
            sa.select(_P.c.figures, _P.c.n_annotations, _P.c.last_annotation_id, _P.c.last_version_id,
                      _P.c.computed_at).where(_P.c.project_id == ctx.pid)).first()

    def fresh(row: Any) -> bool:
        return row is not None and not _changed_since(ctx, row)

    stored = read()
    if fresh(stored):
        return {**stored.figures, "source": "annotations", "computed_at": iso(stored.computed_at)}
    if stored is None and annotation_key(ctx)[0] == 0:
        return {"note": "no item has labels from two annotators yet", "n_items": 0, "kappa": None}
    pending = _pending_job(ctx.conn, ctx.pid)
    if pending is None:
        # Read again: a job that ended between the two reads (each statement sees the latest
        # commit on PostgreSQL) stored its figures in the transaction that ended it.
        stored = read()
        if fresh(stored):
            return {**stored.figures, "source": "annotations", "computed_at": iso(stored.computed_at)}
    due = stored is None or ctx.now - stored.computed_at >= timedelta(seconds=AGREEMENT_REFRESH)
    if pending is None and due:
        pending = queue_agreement(ctx.pid)
    if stored is None:
        return {"note": "agreement is being computed from the annotations; it shows here in a moment",
                "pending": True, "kappa": None}
    if pending is None:
        return {**stored.figures, "source": "annotations (cached)", "computed_at": iso(stored.computed_at)}
    return {**stored.figures, "source": "annotations (being brought up to date)", "pending": True,
            "computed_at": iso(stored.computed_at)}


def agreement_data(ctx: Ctx, *, pairs: bool) -> dict:
    """Agreement from the latest QC run that measured it, else as the ``agreement`` job stored it.

    A QC run stores each annotator's mean kappa but not every pair; with ``pairs`` (the kappa
    panel) the pairs come from the stored agreement.
    """
    if not _measured(ctx.schema):
        return {"note": f"agreement is measured for classification projects (this one is {ctx.schema.kind})"}
    data: dict[str, Any] = {}
    for r in ctx.conn.execute(
            sa.select(R.c.id, R.c.agreement, R.c.summary, R.c.finished_at, R.c.created_at)
            .where(R.c.project_id == ctx.pid, R.c.status == "done").order_by(R.c.id.desc()).limit(5)):
        raw = r.agreement or {}
        if any(raw.get(k) is not None for k in ("alpha", "krippendorff_alpha")):
            # the run measured independent labels only (quality.run.load), as the job does
            skipped = (r.summary or {}).get("n_prelabel_annotations_skipped")
            data = {**normalise_agreement({**raw, "n_prelabel_skipped": skipped}), "source": f"QC run {r.id}",
                    "run_id": r.id, "computed_at": iso(r.finished_at or r.created_at)}
            break
    if data and (data["kappa"] is not None or not pairs):
        return data
    computed = _stored_agreement(ctx)
    if not data:
        return computed
    return {**data, "kappa": computed.get("kappa"), "kappa_source": computed.get("source"),
            "kappa_computed_at": computed.get("computed_at"), "kappa_pending": computed.get("pending", False),
            "kappa_note": computed.get("note")}


def agreement_panel(ctx: Ctx, data: dict) -> dict:
    rows = [{"label": k, "alpha": v} for k, v in (data.get("per_label") or {}).items()]
    summary = {k: data.get(k) for k in ("alpha", "unanimous", "n_items", "n_annotators", "mean_kappa", "source",
                                        "computed_at", "note", "n_prelabel_skipped")}
    summary["pending"] = bool(data.get("pending"))
    # rankings, pairwise picks, spans, taxonomy paths, relations, regions: per control
    summary.update({"controls": [], "controls_source": None, **controls_data(ctx)})
    return panel("agreement", ["label", "alpha"], rows, **summary)


def kappa_panel(ctx: Ctx, data: dict) -> dict:
    pairs = data.get("kappa") or []
    emails = user_emails(ctx, [p["a"] for p in pairs] + [p["b"] for p in pairs])
    rows = sorted(({"annotator_a": p["a"], "email_a": emails.get(p["a"], str(p["a"])), "annotator_b": p["b"],
                    "email_b": emails.get(p["b"], str(p["b"])), "kappa": p["kappa"], "items": p["n"]}
                   for p in pairs), key=lambda r: (r["kappa"] is None, r["kappa"] if r["kappa"] is not None else 0))
    values = [r["kappa"] for r in rows if r["kappa"] is not None]
    pending = data.get("kappa_pending", data.get("pending", False))
    note = data.get("kappa_note") or data.get("note")
    if not rows and not note:
        note = "no two annotators have labeled the same items yet"
    return panel("kappa", ["annotator_a", "email_a", "annotator_b", "email_b", "kappa", "items"], rows,
                  pairs=len(rows), mean=rounded(sum(values) / len(values)) if values else None,
                  source=data.get("kappa_source", data.get("source")), note=note, pending=pending)
