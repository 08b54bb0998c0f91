"""Agreement between annotators: Krippendorff's alpha (for the project and per label), the share
of unanimous items and Cohen's kappa of every pair of annotators.

The figures come from the latest QC run (``QualityRun.agreement``, written by the QC engine);
what the run lacks (the pairs of annotators) is computed from the annotations by
:func:`calculate` with :mod:`quality.agreement`, and cached per project (recomputed at most
every :data:`AGREEMENT_REFRESH` seconds while annotations change).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from insights.cache import annotation_key, cache_get, cache_put, cache_put_slot, slot
from insights.context import AgreementCalculator, Ctx, R, iso, panel, rounded, user_emails
from insights.sql import label_params, labels_sql, primary, set_agg
from labeling.db import read_session, utcnow
from labeling.label_config import LabelSchema
from labeling.models import Project
from quality import QCInputError
from quality import agreement as measures

logger = logging.getLogger(__name__)

#: Pairs of annotators sharing fewer items get no kappa (too few to say anything).
KAPPA_MIN_SHARED = 5
#: Agreement is not additive: while annotations keep coming it is computed again at most this
#: often (seconds), and shown with the time it was computed.
AGREEMENT_REFRESH = 300.0
#: Agreement computed from up to this many annotations is computed in the request; above, in
#: the background (pairwise kappa of many annotators over many items takes a while).
SYNC_AGREEMENT_UP_TO = 20_000
_running: set[tuple] = set()  # agreement computations under way (cache slots)
_running_lock = threading.Lock()


def calculate(triples: list[tuple[int, int, str]], class_names: list[str]) -> dict[str, Any]:
    """Agreement of ``(item, annotator, label)`` triples, with the metrics of :mod:`quality.agreement`.

    Parameters
    ----------
    triples : list of (int, int, str)
        ``(item, annotator, label)`` of every submitted annotation (:func:`agreement_inputs`).
    class_names : list of str
        The label config's classes; labels outside it are added after them.

    Returns
    -------
    dict
        Krippendorff's alpha for the project (``alpha``) and per label (``per_label``), the share
        of unanimous items (``unanimous``), ``n_items`` (items with two labels or more),
        ``n_annotators``, Cohen's kappa of every pair of annotators who share at least
        :data:`KAPPA_MIN_SHARED` items (``kappa``: ``[{"a", "b", "kappa", "n"}]``, annotators by
        user id) and, when a figure is undefined, ``note``.
    """
    names = list(class_names)
    names += sorted({t[2] for t in triples} - set(names))
    code = {n: i for i, n in enumerate(names)}
    items = {t: i for i, t in enumerate(sorted({t[0] for t in triples}))}
    users = sorted({t[1] for t in triples})
    column = {u: j for j, u in enumerate(users)}
    matrix = np.full((len(items), len(users)), np.nan)
    for item, user, label in triples:
        matrix[items[item], column[user]] = code[label]
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


def agreement_inputs(conn: Connection, project: Project) -> tuple[list[tuple[int, int, str]], list[str]]:
    """``(item, annotator, label)`` of every submitted annotation, and the class names.

    The label is the primary control's label; with several (multiple choice), their sorted
    ``|``-joined set. Gold tasks are left out. The rows come from one SQL query.
    """
    schema = LabelSchema.model_validate(project.label_schema)
    ctx = Ctx(conn, project, schema, utcnow(), conn.dialect.name, None)
    params = label_params(ctx)
    where = ("annotation.project_id = :p AND annotation.was_cancelled = :no AND annotation.task_id NOT IN "
             "(SELECT id FROM task WHERE project_id = :p AND is_gold = :yes)")
    sql = labels_sql(ctx, "annotation", "annotation.result", "annotation.task_id, annotation.user_id", where)
    if schema.primary_control.choice == "multiple":
        sql = (f"SELECT task_id, user_id, {set_agg(ctx)} FROM (SELECT * FROM ({sql}) y ORDER BY lab) x "
               f"GROUP BY task_id, user_id")
    rows = ctx.rows(sa.text(sql), no=False, yes=True, **params)
    return [(r[0], r[1], r[2]) for r in rows], list(schema.primary_control.labels)


def normalise_agreement(raw: dict) -> dict:
    """The agreement dict of a QC run (``quality.qc``: ``krippendorff_alpha``,
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
        "note": "; ".join(str(n) for n in notes) or None,
    }


def _agreement_now(conn: Connection, project: Project, calculator: AgreementCalculator) -> dict:
    triples, names = agreement_inputs(conn, project)
    return {**normalise_agreement(calculator(triples, names)), "computed_at": utcnow().isoformat()}


def _agreement_job(project_id: int, calculator: AgreementCalculator) -> dict:
    """In a child process: the agreement of a project (its own read session)."""
    with read_session() as s:
        project = s.get(Project, project_id)
        if project is None:
            return {"note": f"project {project_id} no longer exists"}
        return _agreement_now(s.connection(), project, calculator)


def _agreement_done(where: tuple, key: tuple, project_id: int, future: Future) -> None:
    try:
        data = future.result()
    except Exception as exc:  # noqa: BLE001  (reported in the panel and the log, not lost with the process)
        logger.error("agreement of project %s failed: %r", project_id, exc)
        data = {"note": f"agreement could not be computed: {exc}", "computed_at": utcnow().isoformat()}
    finally:
        with _running_lock:
            _running.discard(where)
    cache_put_slot(where, key, data)


def _start_agreement(where: tuple, key: tuple, project_id: int, calculator: AgreementCalculator) -> None:
    """Compute a large project's agreement in a child process: the heavy numerical work (pairwise
    kappa of many annotators) then holds neither this request nor the web process's GIL. The
    process ends when it is done; its result lands in the cache."""
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    future = executor.submit(_agreement_job, project_id, calculator)
    future.add_done_callback(functools.partial(_agreement_done, where, key, project_id))
    executor.shutdown(wait=False)


def _computed_agreement(ctx: Ctx) -> dict:
    """Agreement computed by the caller's calculator from the annotations, cached per project
    (recomputed when annotations changed, at most every :data:`AGREEMENT_REFRESH` seconds).

    Up to :data:`SYNC_AGREEMENT_UP_TO` annotations it is computed in the request; above, in a
    child process (:func:`_start_agreement`), and until it is there the panel says so
    (``pending``) and shows the previous figures if there are any: a page never waits for it.
    """
    key = annotation_key(ctx)
    entry = cache_get("agreement", ctx)
    if entry is not None and (entry[0] == key or time.monotonic() - entry[1] < AGREEMENT_REFRESH):
        return {**entry[2], "source": "annotations (cached)"}
    if key[0] <= SYNC_AGREEMENT_UP_TO:
        data = _agreement_now(ctx.conn, ctx.project, ctx.agreement)
        cache_put("agreement", ctx, key, data)
        return {**data, "source": "annotations"}
    where = slot("agreement", ctx)
    with _running_lock:
        start = where not in _running
        _running.add(where)
    if start:
        _start_agreement(where, key, ctx.pid, ctx.agreement)
    if entry is not None:
        return {**entry[2], "source": "annotations (being brought up to date)", "pending": True}
    return {"note": "agreement is being computed from the annotations; it shows here in a moment",
            "pending": True, "kappa": None}


def agreement_data(ctx: Ctx, *, pairs: bool) -> dict:
    """Agreement from the latest QC run that measured it, else computed from the annotations.

    A QC run stores each annotator's mean kappa but not every pair; with ``pairs`` (the kappa
    panel) the pairs come from the computed (cached) agreement.
    """
    if primary(ctx.schema) is None or ctx.schema.kind not in ("classification", "multilabel"):
        return {"note": f"agreement is measured for classification projects (this one is {ctx.schema.kind})"}
    data: dict[str, Any] = {}
    for r in ctx.conn.execute(
            sa.select(R.c.id, R.c.agreement, R.c.finished_at, R.c.created_at)
            .where(R.c.project_id == ctx.pid, R.c.status == "done").order_by(R.c.id.desc()).limit(5)):
        raw = r.agreement or {}
        if any(raw.get(k) is not None for k in ("alpha", "krippendorff_alpha")):
            data = {**normalise_agreement(raw), "source": f"QC run {r.id}", "run_id": r.id,
                    "computed_at": iso(r.finished_at or r.created_at)}
            break
    if data and (data["kappa"] is not None or not pairs):
        return data
    if ctx.agreement is None:
        return data or {"note": "no QC run has measured agreement yet"}
    computed = _computed_agreement(ctx)
    if not data:
        return computed
    return {**data, "kappa": computed.get("kappa"), "kappa_source": computed.get("source"),
            "kappa_computed_at": computed.get("computed_at"), "kappa_pending": computed.get("pending", False),
            "kappa_note": computed.get("note")}


def agreement_panel(ctx: Ctx, data: dict) -> dict:
    rows = [{"label": k, "alpha": v} for k, v in (data.get("per_label") or {}).items()]
    summary = {k: data.get(k) for k in ("alpha", "unanimous", "n_items", "n_annotators", "mean_kappa", "source",
                                        "computed_at", "note")}
    summary["pending"] = bool(data.get("pending"))
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
