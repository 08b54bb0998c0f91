"""insights.annotators: the annotators panel."""

from __future__ import annotations

import numpy as np

from labeling.db import utcnow, write_session
from labeling.models import (
    AnnotatorScore,
    Membership,
    Role,
)
from tests.insights.world import noon, qc_run


def test_annotators_table(world):
    run = qc_run(world, agreement={"alpha": 0.5, "kappa": [{"a": world.a1.id, "b": world.a2.id, "kappa": 0.25, "n": 3},
                                                           {"a": world.a1.id, "b": world.a3.id, "kappa": 0.75, "n": 2}]})
    with write_session() as s:
        s.add(AnnotatorScore(run_id=run, project_id=world.pid, user_id=world.a1.id, n_items=4, agreement=0.75,
                             quality=0.8))
        s.add(Membership(project_id=world.pid, user_id=world.a3.id, role=Role.annotator, paused_at=utcnow(),
                         paused_reason="gold accuracy 40%"))
    p = world.panels("annotators")["annotators"]
    rows = {r["email"]: r for r in p["rows"]}
    a1, a2, a3 = rows["a1@example.com"], rows["a2@example.com"], rows["a3@example.com"]
    assert (a1["items"], a1["skips"], a2["items"], a3["items"]) == (4, 1, 4, 4)
    for r, user in ((a1, world.a1.id), (a2, world.a2.id), (a3, world.a3.id)):
        times = world.submitted(user)
        assert r["median_seconds"] == round(float(np.percentile(times, 50)), 1)
        assert r["p90_seconds"] == round(float(np.percentile(times, 90)), 1)
    assert (a1["gold_items"], a1["gold_accuracy"], a2["gold_items"], a2["gold_accuracy"]) == (1, 1.0, 1, 0.0)
    assert a3["gold_items"] == 0 and a3["gold_accuracy"] is None
    assert (a1["agreement"], a1["quality"], a2["agreement"]) == (0.75, 0.8, None)
    assert (a1["mean_kappa"], a2["mean_kappa"], a3["mean_kappa"]) == (0.5, 0.25, 0.75)
    assert (a2["last_24h"], a3["last_24h"], a1["last_24h"]) == (1, 1, 0)
    assert a3["paused"] is True and a3["paused_reason"] == "gold accuracy 40%" and a1["paused"] is False
    assert (p["annotators"], p["paused"], p["scores_run"]) == (3, 1, run)
    assert a1["last_active"] == noon(2).isoformat()
