"""Dashboard figures over REST (JSON and CSV), the dashboard pages, and who may see them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from insights import cache
from insights.context import PANELS
from labeling import projects
from labeling.db import utcnow, write_session
from labeling.models import Annotation, LabelIssue, QualityRun, Role, Task, TaskEvent
from tests.conftest import login, wait_for

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="cat"/><Choice value="dog"/></Choices></View>"""


def res(label: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear_cache()
    yield
    cache.clear_cache()


@pytest.fixture
def project(lead, make_user):
    """Four tasks labeled twice by two annotators (one disagreement), a QC run with one issue."""
    a1, a2 = make_user("a1@example.com"), make_user("a2@example.com")
    p = projects.create_project(lead.user, title="Cats & <dogs>", label_config=CONFIG, overlap=2)
    now = utcnow()
    with write_session() as s:
        ids = []
        for i, (l1, l2) in enumerate((("cat", "cat"), ("dog", "dog"), ("cat", "dog"), ("dog", "dog"))):
            task = Task(project_id=p.id, data={"text": f"item {i}"}, state="labeled", n_annotations=2)
            s.add(task)
            s.flush()
            ids.append(task.id)
            for user, label, sec in ((a1, l1, 4.0 + i), (a2, l2, 8.0 + i)):
                s.add(Annotation(task_id=task.id, project_id=p.id, user_id=user.id, result=res(label), lead_time=sec,
                                 created_at=now - timedelta(hours=i + 1)))
            s.add(TaskEvent(task_id=task.id, project_id=p.id, to_state="labeled", created_at=now - timedelta(hours=i)))
        run = QualityRun(project_id=p.id, status="done", noise_rate=0.25, class_names=["cat", "dog"],
                         per_class_noise={"cat": 0.5, "dog": 0.0}, confident_joint=[[1, 1], [0, 2]], n_items=4,
                         finished_at=now)
        s.add(run)
        s.flush()
        s.add(LabelIssue(run_id=run.id, project_id=p.id, task_id=ids[2], given="cat", suggested="dog", score=0.2,
                         reason="labelled 'cat' by 1 of 2; model says 'dog'"))
    return SimpleNamespace(id=p.id, task_ids=ids, annotators=(a1, a2))


def test_all_panels_in_one_call(client, lead, project):
    r = client.get(f"/api/projects/{project.id}/stats", headers=lead.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body["panels"]) == set(PANELS)
    assert body["project"] == {"id": project.id, "title": "Cats & <dogs>", "kind": "classification"}
    assert body["panels"]["states"]["rows"][1] == {"state": "labeled", "tasks": 4, "share": 1.0}
    assert body["panels"]["throughput"]["total"] == 8
    assert body["panels"]["noise"]["latest"] == 0.25
    some = client.get(f"/api/projects/{project.id}/stats/?panels=states,labels", headers=lead.headers).get_json()
    assert set(some["panels"]) == {"states", "labels"}


def test_one_panel_as_json_and_csv(client, lead, project):
    r = client.get(f"/api/projects/{project.id}/stats/labels", headers=lead.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["panel"] == "labels" and body["project"]["id"] == project.id
    assert [(x["label"], x["given"]) for x in body["rows"]] == [("cat", 3), ("dog", 5)]
    for url in (f"/api/projects/{project.id}/stats/labels.csv", f"/api/projects/{project.id}/stats/labels?format=csv"):
        r = client.get(url, headers=lead.headers)
        assert r.status_code == 200 and r.mimetype == "text/csv"
        assert f"project-{project.id}-labels.csv" in r.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        assert [(x["label"], x["given"], x["given_share"]) for x in rows] == [("cat", "3", "0.375"),
                                                                              ("dog", "5", "0.625")]
    r = client.get(f"/api/projects/{project.id}/stats/annotators.csv", headers=lead.headers)
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert {x["email"]: x["items"] for x in rows} == {"a1@example.com": "4", "a2@example.com": "4"}
    assert client.get(f"/api/projects/{project.id}/stats/labels.json", headers=lead.headers).get_json()["panel"] == \
        "labels"


def test_every_panel_has_json_and_csv(client, lead, project):
    for name in PANELS:
        r = client.get(f"/api/projects/{project.id}/stats/{name}", headers=lead.headers)
        assert r.status_code == 200, name
        columns = r.get_json()["columns"]
        text = client.get(f"/api/projects/{project.id}/stats/{name}.csv", headers=lead.headers).get_data(as_text=True)
        assert text.splitlines()[0] == ",".join(columns), name


def test_errors(client, lead, annotator, project, make_user):
    r = client.get(f"/api/projects/{project.id}/stats/nope", headers=lead.headers)
    assert r.status_code == 422 and "unknown statistics panel 'nope'" in r.get_json()["detail"]
    assert r.get_json()["errors"][0]["field"] == "panel"
    r = client.get(f"/api/projects/{project.id}/stats/labels?format=xml", headers=lead.headers)
    assert r.status_code == 422
    assert client.get(f"/api/projects/{project.id}/stats").status_code == 401
    r = client.get(f"/api/projects/{project.id}/stats", headers=annotator.headers)
    assert r.status_code == 403 and "may not manage" in r.get_json()["detail"]
    assert client.get(f"/api/projects/{project.id + 99}/stats", headers=lead.headers).status_code == 404
    assert client.get(f"/api/projects/{project.id}/stats/items", headers=lead.headers).status_code == 422


def test_items_behind_a_figure(client, lead, project):
    pair = client.get(f"/api/projects/{project.id}/stats/confused_pairs", headers=lead.headers).get_json()["rows"][0]
    assert (pair["given"], pair["suggested"], pair["items"]) == ("cat", "dog", 1)
    r = client.get(f"/api/projects/{project.id}/stats/items", headers=lead.headers,
                   query_string={"given": pair["given_json"], "suggested": pair["suggested_json"]})
    assert r.status_code == 200
    assert [x["task_id"] for x in r.get_json()["rows"]] == [project.task_ids[2]]
    a1 = project.annotators[0]
    r = client.get(f"/api/projects/{project.id}/stats/items?annotator={a1.id}", headers=lead.headers)
    assert r.get_json()["total"] == 4


def test_overview_json_and_csv(client, lead, admin, annotator, project):
    body = client.get("/api/stats/overview", headers=lead.headers).get_json()
    assert [(r["title"], r["tasks"], r["noise_rate"]) for r in body["rows"]] == [("Cats & <dogs>", 4, 0.25)]
    text = client.get("/api/stats/overview.csv", headers=admin.headers).get_data(as_text=True)
    assert text.splitlines()[0].startswith("project_id,title,tasks")
    assert client.get("/api/stats/overview", headers=annotator.headers).status_code == 403
    assert client.get("/api/stats/nope", headers=lead.headers).status_code == 422


def test_dashboard_page_renders_every_panel(client, lead, project, worker):
    login(client, lead.email)
    first = client.get(f"/projects/{project.id}/dashboard").get_data(as_text=True)
    # the agreement job was queued by that load: its panels ask again soon, until it is stored
    assert 'hx-trigger="every 3s"' in first and "being computed" in first
    stored_agreement(client, lead, project.id)
    r = client.get(f"/projects/{project.id}/dashboard")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for name in PANELS:
        assert f'id="panel-{name}"' in page, name
        assert f'/api/projects/{project.id}/stats/{name}.csv' in page
        assert f'hx-get="/projects/{project.id}/dashboard/panel/{name}"' in page
    assert 'hx-trigger="every 30s"' in page
    assert "Cats &amp; &lt;dogs&gt;" in page and "<dogs>" not in page  # user data as text only
    assert len(re.findall(r"<canvas [^>]*data-chart='", page)) == 5
    assert "<script>" not in page  # CSP: scripts from files only
    assert "vendor/chart.min.js" in page and "dashboard.js" in page
    # the confused pair links to its items, and the items page lists them
    link = re.search(r'href="(/projects/\d+/dashboard/items\?[^"]+)"', page).group(1).replace("&amp;", "&")
    items = client.get(link)
    assert items.status_code == 200 and f"task {project.task_ids[2]}" in items.get_data(as_text=True)


def test_dashboard_partials(client, lead, project):
    login(client, lead.email)
    r = client.get(f"/projects/{project.id}/dashboard/panel/annotators")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card panel w3" id="panel-annotators"')
    assert "a1@example.com" in html and "<html" not in html
    summary = client.get(f"/projects/{project.id}/dashboard/panel/summary").get_data(as_text=True)
    assert 'id="panel-summary"' in summary and "25.0 %" in summary
    assert client.get(f"/projects/{project.id}/dashboard/panel/nope").status_code == 404


def test_the_finish_is_not_done_while_labeled_tasks_wait_for_review(client, lead, project):
    """Every task labeled but one in review: the summary and the overview say labeled, and how
    many wait, not "done"; once nothing waits, done."""
    from sqlalchemy import update

    login(client, lead.email)
    with write_session() as s:
        s.execute(update(Task).where(Task.id == project.task_ids[2]).values(state="review"))

    def finish() -> tuple[str, str]:
        cache.clear_cache()
        summary = client.get(f"/projects/{project.id}/dashboard/panel/summary").get_data(as_text=True)
        tile = summary[summary.index("Estimated finish"):]
        tile = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tile[:tile.index("</div>")]))
        row = client.get("/overview/_table").get_data(as_text=True)
        row = row[row.index(f'/projects/{project.id}/dashboard'):]
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        return tile.strip(), cells[5].strip()

    assert finish() == ("Estimated finish labeled every task is labeled · 1 wait for QC or review", "labeled, in review")
    with write_session() as s:
        s.execute(update(Task).where(Task.id == project.task_ids[2]).values(state="accepted"))
    assert finish() == ("Estimated finish done every task is labeled", "done")


def test_dashboard_for_leads_only(client, annotator, lead, project):
    login(client, annotator.email)
    assert client.get(f"/projects/{project.id}/dashboard").status_code == 403
    assert client.get("/overview").status_code == 403
    anonymous = client.application.test_client()
    r = anonymous.get(f"/projects/{project.id}/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_overview_page(client, lead, project, make_user):
    other = make_user("lead2@example.com", Role.lead)
    projects.create_project(other.user, title="Not mine", label_config=CONFIG, restricted=True)
    login(client, lead.email)
    page = client.get("/overview").get_data(as_text=True)
    assert f'href="/projects/{project.id}/dashboard"' in page and "Not mine" not in page
    assert 'hx-get="/overview/_table"' in page
    assert client.get("/overview/_table").status_code == 200


def stored_agreement(client, lead, project_id: int) -> dict:
    """The agreement and kappa panels once the agreement job has stored up-to-date figures."""
    url = f"/api/projects/{project_id}/stats?panels=agreement,kappa"
    return wait_for(lambda: (b := client.get(url, headers=lead.headers).get_json())["panels"]["agreement"]["source"]
                    == "annotations" and b["panels"], timeout=60)


def test_agreement_matches_the_krippendorff_package_and_sklearn(client, lead, make_user, worker):
    """Labels given through the database, agreement computed by the agreement job: the same
    numbers as ``krippendorff.alpha`` and ``sklearn.metrics.cohen_kappa_score`` on the same labels."""
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    config = CONFIG.replace('<Choice value="dog"/>', '<Choice value="dog"/><Choice value="bird"/>')
    p = projects.create_project(lead.user, title="agreement", label_config=config, overlap=3)
    users = [make_user(f"k{j}@example.com") for j in range(4)]
    names = ["cat", "dog", "bird"]
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 40)
    matrix = np.full((40, 4), np.nan)  # items x annotators
    with write_session() as s:
        for i in range(40):
            task = Task(project_id=p.id, data={"text": str(i)})
            s.add(task)
            s.flush()
            for j in rng.choice(4, size=int(rng.integers(1, 5)), replace=False):
                label = truth[i] if rng.random() < 0.6 + 0.1 * j else rng.integers(0, 3)
                matrix[i, j] = label
                s.add(Annotation(task_id=task.id, project_id=p.id, user_id=users[j].id, result=res(names[label])))
    first = client.get(f"/api/projects/{p.id}/stats?panels=agreement,kappa", headers=lead.headers).get_json()
    assert first["panels"]["agreement"]["pending"] is True  # queued, not computed in the request
    panels = stored_agreement(client, lead, p.id)
    agreement, kappa = panels["agreement"], panels["kappa"]
    expected = krippendorff.alpha(reliability_data=matrix.T, level_of_measurement="nominal")
    assert agreement["alpha"] == pytest.approx(expected, abs=1e-4)
    for row in agreement["rows"]:
        c = names.index(row["label"])
        binary = np.where(np.isnan(matrix), np.nan, (matrix == c).astype(float))
        expected = krippendorff.alpha(reliability_data=binary.T, level_of_measurement="nominal")
        assert row["alpha"] == pytest.approx(expected, abs=1e-4), row["label"]
    multi = [row[~np.isnan(row)] for row in matrix if (~np.isnan(row)).sum() >= 2]
    assert agreement["n_items"] == len(multi)
    assert agreement["unanimous"] == pytest.approx(np.mean([len(set(r)) == 1 for r in multi]), abs=1e-4)
    assert kappa["rows"], "pairs of annotators share items"
    for row in kappa["rows"]:
        a = next(j for j, u in enumerate(users) if u.id == row["annotator_a"])
        b = next(j for j, u in enumerate(users) if u.id == row["annotator_b"])
        both = ~np.isnan(matrix[:, a]) & ~np.isnan(matrix[:, b])
        assert row["items"] == both.sum() >= 5
        expected = cohen_kappa_score(matrix[both, a], matrix[both, b], labels=[0, 1, 2])
        assert row["kappa"] == pytest.approx(expected, abs=1e-4)
    # the next load reads the stored figures
    again = client.get(f"/api/projects/{p.id}/stats/agreement", headers=lead.headers).get_json()
    assert again["source"] == "annotations" and again["alpha"] == agreement["alpha"]
    assert again["computed_at"] == agreement["computed_at"]


def test_agreement_hand_computed(client, lead, make_user, worker):
    """Two annotators, eight items: twice (cat, cat), (dog, dog), (cat, dog), (dog, dog).

    Coincidences: cat-cat 4, dog-dog 8, cat-dog 4 (both orders); n = 16, n_cat = 6, n_dog = 10.
    alpha = 1 - (n - 1) * disagreements / (n^2 - sum n_c^2) = 1 - 15 * 4 / (256 - 36 - 100) = 0.5.
    Cohen's kappa: p_o = 6/8, p_e = (4/8)(2/8) + (4/8)(6/8) = 1/2, kappa = (3/4 - 1/2) / (1/2) = 0.5.
    Unanimous: 6 of 8 items.
    """
    p = projects.create_project(lead.user, title="hand", label_config=CONFIG, overlap=2)
    a1, a2 = make_user("h1@example.com"), make_user("h2@example.com")
    with write_session() as s:
        for l1, l2 in (("cat", "cat"), ("dog", "dog"), ("cat", "dog"), ("dog", "dog")) * 2:
            task = Task(project_id=p.id, data={"text": "x"})
            s.add(task)
            s.flush()
            s.add(Annotation(task_id=task.id, project_id=p.id, user_id=a1.id, result=res(l1)))
            s.add(Annotation(task_id=task.id, project_id=p.id, user_id=a2.id, result=res(l2)))
    client.get(f"/api/projects/{p.id}/stats?panels=agreement,kappa", headers=lead.headers)
    panels = stored_agreement(client, lead, p.id)
    agreement, kappa = panels["agreement"], panels["kappa"]
    assert agreement["alpha"] == 0.5
    assert (agreement["unanimous"], agreement["n_items"], agreement["n_annotators"]) == (0.75, 8, 2)
    # per label with two classes: "cat vs the rest" is the project's own split
    assert [(r["label"], r["alpha"]) for r in agreement["rows"]] == [("cat", 0.5), ("dog", 0.5)]
    assert [(r["email_a"], r["email_b"], r["kappa"], r["items"]) for r in kappa["rows"]] == [
        ("h1@example.com", "h2@example.com", 0.5, 8)]
