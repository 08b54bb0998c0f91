"""QC of a per-task Number or Rating (kind ``regression``): a real cleanlab regression run
(``CleanLearning``) flags the values planted wrong, the policy sends them to review with their
finding, and the annotators' spread on a Number is an ``agreement`` finding of the run."""

from __future__ import annotations

import numpy as np
from sqlmodel import select

from labeling import review
from labeling.db import read_session
from labeling.models import Task, TaskState
from labeling.review import finding_text
from labeling.schema import parse_label_config
from quality.run.skeleton import run_qc
from tests.quality.test_qc import get_run, import_rows, issues, make_project

NUMBER = ('<View><Text name="text" value="$text"/>'
          '<Number name="price" toName="text" min="0" max="100"/></View>')
RATING = ('<View><Text name="text" value="$text"/>'
          '<Rating name="stars" toName="text" maxRating="5"/></View>')


def number(x, name="price", type_="number"):
    return [{"from_name": name, "to_name": "text", "type": type_, "value": {type_: x}}]


def planted(n=60, seed=3):
    """Embeddings and values a linear model explains, and the rows whose value is planted wrong."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    values = 50 + 8 * X[:, 0] - 6 * X[:, 1] + rng.normal(scale=0.5, size=n)
    wrong = [i for i in (4, 17, 33, 48) if i < n]
    for i in wrong:
        values[i] = 95.0 if values[i] < 50 else 5.0
    return X, np.clip(values, 0, 100), wrong


def rows(X, values, make):
    return [{"data": {"text": f"item {i}", "embedding": [round(float(v), 5) for v in X[i]]},
             "annotations": [{"result": make(values[i]), "completed_by": "one@example.com"}]}
            for i in range(len(values))]


def test_number_project_is_qcd_by_cleanlab_regression_and_planted_errors_reach_review(lead):
    assert parse_label_config(NUMBER).kind == "regression"
    pid = make_project(lead, NUMBER)
    X, values, wrong = planted()
    ids = import_rows(lead, pid, rows(X, values, lambda v: number(round(float(v), 2))))
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["mode"] == "regression" and run.summary["features"] == "data.embedding"
    assert run.model_name == "ridge regression (cleanlab CleanLearning)"
    found = {li.task_id: li for li in issues(run.id)}
    flagged = {ids.index(t) for t, li in found.items() if li.is_issue}
    # cleanlab flags the share k of the worst labels that best improves the model's R^2 (at most a
    # quarter); the planted ones are among them, and they are the four lowest scores
    assert set(wrong) <= flagged and len(flagged) <= len(ids) // 4
    assert run.summary["flagged_share"] == len(flagged) / len(ids) or len(flagged) == int(
        np.ceil(run.summary["flagged_share"] * len(ids)))
    worst = sorted(found.values(), key=lambda li: li.score)[:len(wrong)]
    assert {ids.index(li.task_id) for li in worst} == set(wrong)
    bad = found[ids[4]]
    assert bad.given == number(float(round(values[4], 2))) or bad.given == number(int(values[4]))
    guess = bad.suggested[0]["value"]["number"]
    assert abs(guess - (50 + 8 * X[4, 0] - 6 * X[4, 1])) < 15  # the model's value, not the planted one
    assert bad.reason.startswith("price ") and "the model predicts" in bad.reason
    schema = parse_label_config(NUMBER)
    assert finding_text(schema, bad.suggested) != ""
    with read_session() as s:
        state = {t.id: t.state for t in s.exec(select(Task).where(Task.project_id == pid))}
    assert all(state[ids[i]] == TaskState.review for i in wrong)
    assert {i for i, t in enumerate(ids) if state[t] == TaskState.review} == flagged
    assert sum(state[t] == TaskState.accepted for t in ids) == len(ids) - len(flagged)
    item = review.next_suspect(pid, lead.user)
    assert item["task"]["id"] in {ids[i] for i in flagged}


def test_rating_suggestions_are_whole_stars_within_the_scale(lead):
    pid = make_project(lead, RATING)
    X, values, wrong = planted(seed=5)
    stars = np.clip(np.round(1 + 4 * (values - values.min()) / np.ptp(values)), 1, 5).astype(int)
    for i in wrong:
        stars[i] = 1 if stars[i] >= 3 else 5
    ids = import_rows(lead, pid, rows(X, stars, lambda v: number(int(v), "stars", "rating")))
    out = run_qc(pid)
    assert out["status"] == "done", out
    found = issues(out["run"])
    assert all(isinstance(li.suggested[0]["value"]["rating"], int) and 1 <= li.suggested[0]["value"]["rating"] <= 5
               for li in found)
    flagged = {ids.index(li.task_id) for li in found if li.is_issue}
    assert len(set(wrong) & flagged) >= 3


def test_too_few_tasks_fail_with_a_reason(lead):
    pid = make_project(lead, NUMBER)
    X, values, _ = planted(n=6)
    import_rows(lead, pid, rows(X, values, lambda v: number(round(float(v), 2))))
    out = run_qc(pid)
    assert out["status"] == "failed" and "regression QC needs at least 10 labeled tasks; the project has 6" in out["message"]


def test_annotators_far_apart_on_a_number_are_an_agreement_finding(lead):
    pid = make_project(lead, NUMBER, overlap=2)
    X, values, _ = planted(n=12, seed=9)
    data = []
    for i in range(12):
        step = 40 if i == 2 else 1  # task 2: 40 of 100 apart
        second = values[i] - step if values[i] > 50 else values[i] + step
        data.append({"data": {"text": f"item {i}", "embedding": [float(v) for v in X[i]]},
                     "annotations": [{"result": number(round(float(values[i]), 1)), "completed_by": "one@example.com"},
                                     {"result": number(round(float(second), 1)),
                                      "completed_by": "two@example.com"}]})
    ids = import_rows(lead, pid, data)
    out = run_qc(pid)
    assert out["status"] == "done", out
    agreement = {li.task_id: li for li in issues(out["run"], "agreement")}
    assert set(agreement) == set(ids)
    assert [ids.index(t) for t, li in agreement.items() if li.is_issue] == [2]
    assert "annotators give numbers far apart (1 - relative difference 0.60)" in agreement[ids[2]].reason
    (control,) = get_run(out["run"]).agreement["controls"]
    assert (control["control"], control["n_tasks"], control["n_disagree"]) == ("price", 12, 1)
    flagged = {li.task_id for li in issues(out["run"]) if li.is_issue}
    with read_session() as s:
        tasks = {t: s.get(Task, t) for t in ids}
    assert tasks[ids[2]].state == TaskState.review
    # annotators one apart agree: accepted with the answer nearest their median (a person's)
    calm = [t for t in ids if t != ids[2] and t not in flagged]
    assert calm and all(tasks[t].state == TaskState.accepted and tasks[t].final_source == "majority" for t in calm)


def test_people_label_of_a_number_is_the_answer_nearest_the_median_or_a_tie():
    from labeling.aggregation import people_label

    schema = parse_label_config(NUMBER)
    close = [number(40), number(47.5), number(45)]
    assert people_label(schema, close) == (number(45), "majority", [])
    apart = [number(10), number(80)]
    assert people_label(schema, apart) == (None, None, apart)
    stars = parse_label_config(RATING)
    rated = [number(4, "stars", "rating"), number(5, "stars", "rating")]  # one star of four: close
    assert people_label(stars, rated) == (rated[0], "majority", [])


def test_the_qc_page_the_review_page_and_the_dashboard_show_a_regression_run(lead, client):
    from tests.conftest import login

    pid = make_project(lead, NUMBER)
    X, values, wrong = planted()
    ids = import_rows(lead, pid, rows(X, values, lambda v: number(round(float(v), 2))))
    out = run_qc(pid)
    assert out["status"] == "done", out
    login(client, lead.email)
    qc = client.get(f"/projects/{pid}/quality")
    assert qc.status_code == 200
    assert "ridge regression (cleanlab CleanLearning)" in qc.get_data(as_text=True)
    dash = client.get(f"/projects/{pid}/dashboard")
    assert dash.status_code == 200
    item = review.next_suspect(pid, lead.user)
    assert client.get(f"/review/{pid}").status_code == 200
    shown = client.get(f"/api/review/{pid}/next")
    assert shown.status_code == 200 and shown.get_json()["item"]["reason"] == item["reason"]
    assert item["reason"].startswith("price ") and "the model predicts" in item["reason"]
    api = client.get(f"/api/projects/{pid}/label-issues?kind=label")
    assert api.status_code == 200
    worst = api.get_json()
    assert {ids.index(i["task"]) for i in worst[:len(wrong)]} == set(wrong)
    assert worst[0]["suggested"][0]["type"] == "number"


def test_without_embeddings_the_text_features_are_used(lead):
    """No ``data.embedding``: the values are learnt from labelfab's own text features (TF-IDF,
    reduced by truncated SVD), as classification QC gets them; a planted value is the worst."""
    rng = np.random.default_rng(11)
    words = ["red", "green", "blue", "small", "large", "round", "square", "old", "new", "fast"]
    data = []
    for i in range(60):
        n = int(rng.integers(0, 6))
        text = " ".join(["heavy"] * n + list(rng.choice(words, size=6)))
        value = 2.0 + 10.0 * n + float(rng.normal(scale=0.3))
        if i == 7:
            value = 95.0 if n < 3 else 0.0  # planted
        data.append({"data": {"text": text}, "annotations": [{"result": number(round(value, 2)),
                                                              "completed_by": "one@example.com"}]})
    pid = make_project(lead, NUMBER)
    ids = import_rows(lead, pid, data)
    out = run_qc(pid)
    assert out["status"] == "done", out
    run = get_run(out["run"])
    assert run.summary["features"].startswith("TF-IDF") and "reduced to" in run.summary["features"]
    assert run.summary["not_used"][0].startswith("embedding:")
    found = issues(run.id)
    worst = min(found, key=lambda li: li.score)
    assert ids.index(worst.task_id) == 7 and worst.is_issue
