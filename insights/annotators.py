"""The annotators panel: per annotator the items and skips, the last 24 hours, time per item,
gold accuracy (of the project's annotators only: ``labeling.gold.scored_users``), agreement with
consensus and CROWDLAB quality (the latest QC run), mean Cohen's kappa, and who is paused."""

from __future__ import annotations

import sqlalchemy as sa

from insights.cache import annotation_sums
from insights.context import Ctx, M, S, iso, panel, ratio, rounded, user_emails
from insights.progress import lead_time_percentiles, recent_activity
from labeling.gold import scored_users
from labeling.models import Role


def annotators_panel(ctx: Ctx, data: dict) -> dict:
    per_user: dict[int, dict] = {}

    def row(uid: int) -> dict:
        return per_user.setdefault(uid, {"user_id": uid, "items": 0, "skips": 0, "last_24h": 0, "median_seconds": None,
                                         "p90_seconds": None, "gold_items": 0, "gold_accuracy": None,
                                         "agreement": None, "quality": None, "mean_kappa": None,
                                         "paused": False, "paused_reason": "", "last_active": None})

    sums = annotation_sums(ctx)
    for uid, (rows_, skips, _timed) in sums["users"].items():
        row(uid).update(items=rows_ - skips, skips=skips)
    for uid, (n, when) in recent_activity(ctx).items():
        row(uid).update(last_24h=n, last_active=iso(when))
    for uid, (p50, p90) in lead_time_percentiles(ctx)["users"].items():
        row(uid).update(median_seconds=rounded(p50, 1), p90_seconds=rounded(p90, 1))
    scored = scored_users(ctx.conn, ctx.pid, sums["gold"])  # gold scores the project's annotators only
    for uid, (n, correct) in sums["gold"].items():
        if uid not in scored:
            continue
        row(uid).update(gold_items=n, gold_accuracy=rounded(ratio(correct or 0, n)))
    if ctx.run is not None:
        for uid, agreement, quality in ctx.conn.execute(
                sa.select(S.c.user_id, S.c.agreement, S.c.quality).where(S.c.run_id == ctx.run.id)):
            row(uid).update(agreement=rounded(agreement), quality=rounded(quality))
    mean_kappa = dict(data.get("kappa_by_annotator") or {})
    if not mean_kappa:  # each annotator's mean over the pairs they are in
        kappas: dict[int, list[float]] = {}
        for pair in data.get("kappa") or []:
            if pair.get("kappa") is not None:
                kappas.setdefault(pair["a"], []).append(pair["kappa"])
                kappas.setdefault(pair["b"], []).append(pair["kappa"])
        mean_kappa = {uid: rounded(sum(v) / len(v)) for uid, v in kappas.items()}
    for uid, value in mean_kappa.items():
        if uid in per_user:
            per_user[uid]["mean_kappa"] = value
    for uid, role, paused_at, reason in ctx.conn.execute(
            sa.select(M.c.user_id, M.c.role, M.c.paused_at, M.c.paused_reason).where(M.c.project_id == ctx.pid)):
        if uid in per_user or role == Role.annotator or paused_at is not None:
            row(uid).update(paused=paused_at is not None, paused_reason=reason or "")
    emails = user_emails(ctx, per_user)
    rows = sorted(per_user.values(), key=lambda r: (-r["items"], r["user_id"]))
    for r in rows:
        r["email"] = emails.get(r["user_id"], "")
    columns = ["user_id", "email", "items", "skips", "last_24h", "median_seconds", "p90_seconds", "gold_items",
               "gold_accuracy", "agreement", "quality", "mean_kappa", "paused", "paused_reason", "last_active"]
    return panel("annotators", columns, [{c: r[c] for c in columns} for r in rows],
                  annotators=len(rows), paused=sum(1 for r in rows if r["paused"]),
                  scores_run=ctx.run.id if ctx.run is not None else None)
