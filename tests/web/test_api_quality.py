"""QC over REST, the QC page and ``labelfab qc``: starting runs, reading results, access rules."""

from __future__ import annotations

import re

import numpy as np

from labeling import jobs, projects
from labeling.models import Role
from tests.conftest import login, wait_for
from tests.quality.test_qc import blobs, embedding_rows, flip, import_rows, make_project


def labelled_project(lead, *, n_per_class: int = 15, flips: int = 3) -> tuple[int, list[int], set[int]]:
    X, y = blobs(n_per_class)
    given, flipped = flip(y, flips, 3)
    pid = make_project(lead)
    ids = import_rows(lead, pid, embedding_rows(X, given))
    return pid, ids, flipped


def run_through_api(client, lead, pid: int) -> dict:
    res = client.post(f"/api/projects/{pid}/qc", headers=lead.headers, json={"models": ["logreg"]})
    assert res.status_code == 202, res.get_json()
    job = res.get_json()["job"]
    assert res.headers["Location"] == f"/api/jobs/{job['id']}" and job["status"] in ("queued", "running", "done")
    return wait_for(lambda: (j := client.get(f"/api/jobs/{job['id']}", headers=lead.headers).get_json())
                    ["status"] in ("done", "failed") and j, timeout=120)


def test_start_qc_and_read_the_issues(client, lead, worker):
    pid, ids, flipped = labelled_project(lead)
    job = run_through_api(client, lead, pid)
    assert job["status"] == "done" and job["progress"] == 1.0 and job["result"]["run"]

    res = client.get(f"/api/projects/{pid}/label-issues?kind=label", headers=lead.headers)
    assert res.status_code == 200
    items = res.get_json()
    assert res.headers["X-Total-Count"] == "3" and res.headers["X-QC-Run"] == str(job["result"]["run"])
    assert {ids.index(i["task"]) for i in items} == flipped
    assert set(items[0]) >= {"task", "kind", "given", "suggested", "score", "reason"}
    assert [i["score"] for i in items] == sorted(i["score"] for i in items)
    assert all(i["kind"] == "label" and i["given"] != i["suggested"] for i in items)

    # every scored item with ?all=1, paginated; trailing slash too (Label Studio clients)
    res = client.get(f"/api/projects/{pid}/label-issues/?all=1&kind=label&page=2&page_size=20", headers=lead.headers)
    assert res.status_code == 200 and res.headers["X-Total-Count"] == "45" and len(res.get_json()) == 20

    runs = client.get(f"/api/projects/{pid}/qc/runs", headers=lead.headers).get_json()
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "done" and run["pred_probs_source"] == "embedding" and run["n_items"] == 45
    assert run["noise_rate"] == abs(run["noise_rate"]) and run["class_names"] == ["ant", "bee", "cow"]
    detail = client.get(f"/api/projects/{pid}/qc/runs/{run['id']}", headers=lead.headers).get_json()
    assert detail["annotators"][0]["email"] == "one@example.com" and detail["annotators"][0]["n_items"] == 45


def test_label_issues_of_a_given_run(client, lead):
    from quality.run.skeleton import run_qc

    pid, _, _ = labelled_project(lead)
    first = run_qc(pid, options={"models": ["logreg"]})["run"]
    second = run_qc(pid, options={"models": ["logreg"]})["run"]
    res = client.get(f"/api/projects/{pid}/label-issues?run={first}", headers=lead.headers)
    assert res.headers["X-QC-Run"] == str(first)
    res = client.get(f"/api/projects/{pid}/label-issues", headers=lead.headers)
    assert res.headers["X-QC-Run"] == str(second)
    assert client.get(f"/api/projects/{pid}/label-issues?run=999", headers=lead.headers).status_code == 404
    bad = client.get(f"/api/projects/{pid}/label-issues?kind=typo", headers=lead.headers)
    assert bad.status_code == 422 and "unknown issue kind" in bad.get_json()["detail"]
    bad = client.get(f"/api/projects/{pid}/label-issues?page=x", headers=lead.headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "page"


def test_no_run_yet_answers_an_empty_list(client, lead):
    pid = make_project(lead)
    res = client.get(f"/api/projects/{pid}/label-issues", headers=lead.headers)
    assert res.status_code == 200 and res.get_json() == [] and res.headers["X-Total-Count"] == "0"
    assert client.get(f"/api/projects/{pid}/qc/runs", headers=lead.headers).get_json() == []


def test_a_failed_run_is_reported_on_the_job(client, lead, worker):
    pid = make_project(lead)
    import_rows(lead, pid, [{"text": "nobody labelled me"}])
    job = run_through_api(client, lead, pid)
    assert job["status"] == "failed"
    assert job["message"].startswith("QC could not run: the project has no labeled tasks")
    runs = client.get(f"/api/projects/{pid}/qc/runs", headers=lead.headers).get_json()
    assert runs[0]["status"] == "failed" and runs[0]["message"] == job["message"]


def test_access_rules(client, lead, annotator, make_user):
    pid, _, _ = labelled_project(lead)
    res = client.post(f"/api/projects/{pid}/qc", headers=annotator.headers)
    assert res.status_code == 403
    assert client.get(f"/api/projects/{pid}/label-issues", headers=annotator.headers).status_code == 403
    assert client.get(f"/api/projects/{pid}/qc/runs", headers=annotator.headers).status_code == 403
    reviewer = make_user("rev@example.com", Role.reviewer)
    assert client.get(f"/api/projects/{pid}/label-issues", headers=reviewer.headers).status_code == 200
    assert client.post(f"/api/projects/{pid}/qc", headers=reviewer.headers).status_code == 403
    assert client.post("/api/projects/999/qc", headers=lead.headers).status_code == 404
    assert client.post(f"/api/projects/{pid}/qc").status_code == 401
    projects.update_project(lead.user, pid, restricted=True)
    other = make_user("lead2@example.com", Role.lead)
    assert client.get(f"/api/projects/{pid}/label-issues", headers=other.headers).status_code == 404


def test_bad_options_are_refused(client, lead):
    pid, _, _ = labelled_project(lead, n_per_class=3, flips=0)
    res = client.post(f"/api/projects/{pid}/qc", headers=lead.headers, json={"models": ["magic"]})
    assert res.status_code == 422 and res.get_json()["errors"][0]["field"] == "models"
    res = client.post(f"/api/projects/{pid}/qc", headers=lead.headers, json=["x"])
    assert res.status_code == 422


def test_second_start_returns_the_queued_job(client, lead):
    pid, _, _ = labelled_project(lead, n_per_class=3, flips=0)
    first = client.post(f"/api/projects/{pid}/qc", headers=lead.headers).get_json()
    second = client.post(f"/api/projects/{pid}/qc", headers=lead.headers).get_json()
    assert first["created"] and not second["created"] and first["job"]["id"] == second["job"]["id"]


# --------------------------------------------------------------------------- the QC page


def _csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_qc_page_runs_qc_and_shows_the_suspects(client, lead, worker):
    from labeling.db import read_session
    from labeling.models import Task

    pid, ids, flipped = labelled_project(lead)
    login(client, lead.email)
    page = client.get(f"/projects/{pid}/quality")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No QC run yet" in html and 'id="run-qc"' in html
    res = client.post(f"/projects/{pid}/quality/run", headers={"HX-Request": "true", "X-CSRFToken": _csrf(html)})
    assert res.status_code == 200
    job_id = int(re.search(r'id="qc-job-(\d+)"', res.get_data(as_text=True)).group(1))
    wait_for(lambda: jobs.get_job(job_id).status in ("done", "failed"), timeout=120)
    poll = client.get(f"/projects/{pid}/quality/jobs/{job_id}", headers={"HX-Request": "true"})
    assert poll.headers.get("HX-Refresh") == "true" and "Show the results" in poll.get_data(as_text=True)
    html = client.get(f"/projects/{pid}/quality?kind=label").get_data(as_text=True)
    assert 'id="qc-noise"' in html and "Suspect items" in html and "one@example.com" in html
    for i in flipped:
        assert f'/projects/{pid}/tasks/{ids[i]}"' in html
    assert "model says" in html
    with read_session() as s:
        text = s.get(Task, ids[next(iter(flipped))]).data["text"]
    assert text in html  # the item itself is shown next to its reason


def test_qc_page_without_javascript_and_settings(client, lead):
    pid, _, _ = labelled_project(lead, n_per_class=3, flips=0)
    login(client, lead.email)
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    res = client.post(f"/projects/{pid}/quality/run", data={"csrf_token": token})
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/projects/{pid}/quality")
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    assert "QC run started." in html and "hx-trigger=\"every 1s\"" in html
    res = client.post(f"/projects/{pid}/quality/settings",
                      data={"csrf_token": token, "qc_every": "25", "uncertain_first": "y"})
    assert res.status_code == 302
    project = projects.get_project(pid)
    assert project.qc_every == 25 and project.uncertain_first
    assert client.post(f"/projects/{pid}/quality/run").status_code == 400  # no CSRF token


def test_qc_page_access(client, lead, annotator):
    pid, _, _ = labelled_project(lead, n_per_class=3, flips=0)
    login(client, annotator.email)
    assert client.get(f"/projects/{pid}/quality").status_code == 403


# --------------------------------------------------------------------------- labelfab qc


def test_cli_qc_run_wait(runner, admin, lead, worker):
    pid, ids, flipped = labelled_project(lead)
    result = runner.invoke(args=["qc", "run", str(pid), "--wait"])
    assert result.exit_code == 0, result.output
    assert "done: 45 items scored, 3 label issue(s)" in result.output
    job_id = int(result.output.strip().splitlines()[-1])
    assert jobs.get_job(job_id).status == "done"
    listed = runner.invoke(args=["qc", "runs", str(pid)])
    assert listed.exit_code == 0 and "done\t45 items\t3 issues" in listed.output
    shown = runner.invoke(args=["qc", "issues", str(pid), "--kind", "label"])
    assert shown.exit_code == 0 and ": 3 finding(s)" in shown.output.splitlines()[0]
    assert {int(line.split("\t")[0]) for line in shown.output.splitlines()[1:]} == {ids[i] for i in flipped}


def test_cli_qc_run_failure_exits_non_zero(runner, admin, lead, worker):
    pid = make_project(lead)
    X, _ = blobs(4)
    import_rows(lead, pid, embedding_rows(X, np.zeros(12, dtype=int)))
    result = runner.invoke(args=["qc", "run", str(pid), "--wait"])
    assert result.exit_code == 1
    assert "failed: QC could not run: every one of the 12 labeled tasks has the label 'ant'" in result.output
    assert runner.invoke(args=["qc", "run", "999"]).exit_code == 1


def test_a_failed_run_is_told_once_on_the_qc_page(client, lead, worker):
    pid = make_project(lead)
    import_rows(lead, pid, [{"text": "nobody labelled me"}])
    job = run_through_api(client, lead, pid)
    assert job["status"] == "failed"
    login(client, lead.email)
    poll = client.get(f"/projects/{pid}/quality/jobs/{job['id']}", headers={"HX-Request": "true"}).get_data(as_text=True)
    # the job's end: no progress bar left where it stopped, no results to show
    assert "<progress" not in poll and "Show the results" not in poll and "QC could not run" in poll
    html = client.get(f"/projects/{pid}/quality").get_data(as_text=True)
    # told once, on the failed run's card (the runs table has it as its badge's title)
    assert html.count(">QC could not run: the project has no labeled tasks") == 1
    assert f'id="qc-job-{job["id"]}"' not in html
