"""Precision you can set: labels flagged at an expected precision estimated from the anchors'
noise matrix (quality.noise, quality.scoring.precision_flags), the project setting qc_target_precision
through the domain, PATCH /api/projects/ID and the QC page, and the QC page's words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from labeling import projects
from labeling.errors import Invalid
from quality import QCInputError, results
from quality.run.skeleton import run_qc
from quality.scoring import error_posteriors, precision_flags, single_annotator_issues
from tests.conftest import login
from tests.quality.test_qc import (
    blobs,
    embedding_rows,
    flagged_rows,
    flip,
    get_run,
    import_rows,
    make_project,
)


def _noisy_case(seed: int = 0):
    """600 items, 3 classes, 15% of labels flipped; pred_probs of a mediocre model (it is often
    unsure of correct labels too), so cleanlab's flags mix right and wrong labels."""
    rng = np.random.default_rng(seed)
    k, n = 3, 600
    y = rng.integers(0, k, n)
    given = y.copy()
    wrong = rng.choice(n, 90, replace=False)
    given[wrong] = (y[wrong] + rng.integers(1, k, wrong.size)) % k
    logits = rng.normal(size=(n, k)) * 1.2
    logits[np.arange(n), y] += 2.0
    pp = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return given, pp, set(wrong.tolist())


def _precision(flags: np.ndarray, truth: set[int]) -> float:
    flagged = set(np.flatnonzero(flags).tolist())
    return len(flagged & truth) / len(flagged)


def test_a_stricter_target_flags_fewer_with_higher_precision():
    given, pp, truth = _noisy_case()
    single = single_annotator_issues(given, pp, class_names=["a", "b", "c"])
    q = error_posteriors(given, pp, single["noise_matrix"])
    assert ((q >= 0) & (q <= 1)).all()
    # a label the model contradicts is more likely wrong than one it agrees with
    agrees = pp.argmax(axis=1) == given
    assert q[~agrees].mean() > 0.4 > 0.1 > q[agrees].mean()
    loose, p_loose, r_loose = precision_flags(q, target_precision=0.6)
    strict, p_strict, r_strict = precision_flags(q, target_precision=0.9)
    assert 0 < strict.sum() < loose.sum() and strict.sum() < single["is_label_issue"].sum()
    assert strict[loose].sum() == strict.sum(), "the stricter flags are the most doubtful of the looser ones"
    assert p_strict >= 0.9 and p_loose >= 0.6 and r_strict < r_loose
    cleanlab_precision = _precision(single["is_label_issue"], truth)
    assert _precision(strict, truth) > _precision(loose, truth)
    assert _precision(strict, truth) > cleanlab_precision


def test_target_precision_bounds():
    with pytest.raises(QCInputError, match="between 0.5 and 0.99"):
        precision_flags(np.array([0.5, 0.2]), target_precision=0.3)
    with pytest.raises(QCInputError):
        precision_flags(np.array([0.5, 0.2]), target_precision=True)
    flags, expected, recall = precision_flags(np.array([0.1, 0.2]), target_precision=0.99)
    assert not flags.any() and expected == 1.0 and recall == 0.0


def _project_with_noise(lead, **settings) -> tuple[int, list[int], set[int]]:
    X, y = blobs(60, spread=2.2, seed=3)
    given, flipped = flip(y, 18, 3, seed=4)
    pid = make_project(lead, **settings)
    return pid, import_rows(lead, pid, embedding_rows(X, given)), flipped


def test_the_project_setting_changes_the_flags_and_the_page_says_so(lead):
    pid, ids, flipped = _project_with_noise(lead)
    base = get_run(run_qc(pid, options={"models": ["logreg"]})["run"])
    assert base.summary["target_precision"] is None and 0 < base.summary["expected_precision"] <= 1
    assert "(no target set: the least likely labels, as many as are estimated wrong)" in results.precision_text(base.summary)
    loose = flagged_rows(base.id, ids)
    # without a target the flags follow the anchors' noise estimate, not cleanlab's own count
    assert len(loose) == round(base.noise_rate * len(ids)) == base.summary["n_flagged_without_target"]

    projects.update_project(lead.user, pid, qc_target_precision=0.9)
    assert projects.get_project(pid).qc_target_precision == 0.9
    strict_run = get_run(run_qc(pid, options={"models": ["logreg"]})["run"])
    strict = flagged_rows(strict_run.id, ids)
    assert strict_run.summary["target_precision"] == 0.9
    assert strict_run.summary["n_flagged_without_target"] == len(loose)
    assert 0 < len(strict) < len(loose)
    assert len(strict & flipped) / len(strict) >= len(loose & flipped) / len(loose)
    text = results.precision_text(strict_run.summary)
    assert text.startswith(f"expected precision {strict_run.summary['expected_precision']:.0%}")
    assert f"(target 90%; without a target it would flag {len(loose)}, as many as the labels estimated wrong)" in text


@pytest.mark.parametrize("value", [0.4, 1.0, "high", True])
def test_the_setting_is_bounded(lead, value):
    pid = make_project(lead)
    with pytest.raises(Invalid):
        projects.update_project(lead.user, pid, qc_target_precision=value)


def test_patch_api_and_settings_page(client, lead):
    pid = make_project(lead)
    res = client.patch(f"/api/projects/{pid}", headers=lead.headers, json={"qc_target_precision": 0.8})
    assert res.status_code == 200 and res.get_json()["qc_target_precision"] == 0.8
    res = client.patch(f"/api/projects/{pid}", headers=lead.headers, json={"qc_target_precision": 0.2})
    assert res.status_code in (400, 422) and "qc_target_precision" in str(res.get_json())
    assert client.get(f"/api/projects/{pid}", headers=lead.headers).get_json()["qc_target_precision"] == 0.8
    res = client.patch(f"/api/projects/{pid}", headers=lead.headers, json={"qc_target_precision": None})
    assert res.status_code == 200 and res.get_json()["qc_target_precision"] is None

    login(client, lead.email)
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    assert 'name="qc_target_precision"' in html
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    res = client.post(f"/projects/{pid}/quality/settings",
                      data={"csrf_token": token, "qc_every": "0", "qc_target_precision": "0.9"})
    assert res.status_code == 302 and projects.get_project(pid).qc_target_precision == 0.9
    client.post(f"/projects/{pid}/quality/settings", data={"csrf_token": token, "qc_every": "0",
                                                           "qc_target_precision": ""})
    assert projects.get_project(pid).qc_target_precision is None


def test_qc_page_shows_the_model_choice_and_expected_precision(client, lead, tmp_path):
    from labeling import imports
    from tests.quality.test_qc import IMAGE_CONFIG, stripes

    folder = tmp_path / "stripes"
    for i in range(40):
        label = "v" if i % 2 else "h"
        (folder / label).mkdir(parents=True, exist_ok=True)
        stripes(folder / label / f"img{i:02d}.png", i % 2 == 1, i)
    pid = make_project(lead, IMAGE_CONFIG)
    imports.import_data(lead.user, pid, paths=[folder])
    run = get_run(run_qc(pid)["run"])
    choice = run.summary["selection"]
    assert choice["by"] == "cross-validated log loss" and len(choice["log_loss_by_candidate"]) >= 2
    assert run.model_name == " & ".join(choice["chosen"])
    login(client, lead.email)
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    shown = re.search(r'id="qc-model-choice">([^<]+)<', html).group(1)
    assert shown.startswith(choice["chosen"][0].split(" + ")[0])
    assert "chosen among" in shown and "by cross-validated log loss" in shown
    assert f"CV accuracy {run.cv_accuracy:.1%}" in shown
    assert re.search(r'id="qc-precision">expected precision \d+%', html)


def test_a_run_stored_under_the_old_key_still_says_what_it_would_flag_without_a_target():
    old = {"expected_precision": 0.9, "expected_recall": 0.8, "target_precision": 0.95, "n_flagged_by_cleanlab": 1234}
    assert "without a target it would flag 1,234," in results.precision_text(old)
