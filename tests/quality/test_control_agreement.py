"""Every QC run compares the annotators on the controls cleanlab has no method for (rankings,
pairwise picks, HTML spans, taxonomy paths, relations): a real run stores one ``agreement``
finding per compared task, the policy sends the disagreeing ones to review with their own reason
(through the one queue move), accepts the agreeing ones, a later run keeps them queued, and
``labelfab qc agreement`` is a shortcut to the same run."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from labeling import imports, projects, review
from labeling.db import read_session
from labeling.models import LabelIssue, QualityRun, Task, TaskEvent
from quality import results
from quality.run.skeleton import run_qc

T = Path(__file__).parents[2] / "labeling" / "schema" / "ls_templates"


def rank(order):
    return [{"from_name": "rank", "to_name": "generated_images", "type": "ranker", "value": {"ranker": {"rank": order}}}]


def pick(side):
    return [{"from_name": "pw", "to_name": "pw", "type": "pairwise", "value": {"selected": side}}]


def _import(lead, project, one, two, rows):
    body = [{"data": data, "annotations": [{"result": a, "completed_by": one.email},
                                           {"result": b, "completed_by": two.email}]} for data, a, b in rows]
    imports.import_data(lead.user, project.id, body=body)
    with read_session() as s:
        return [t.id for t in s.exec(select(Task).where(Task.project_id == project.id).order_by(Task.id))]


def _state(tid):
    with read_session() as s:
        t = s.get(Task, tid)
        return t.state, t.final_source, t.review_issue_id


def _findings(project_id):
    with read_session() as s:
        return {i.task_id: i for i in s.exec(select(LabelIssue).where(LabelIssue.project_id == project_id,
                                                                       LabelIssue.kind == "agreement"))}


def test_a_ranker_run_reviews_the_split_rankings_and_accepts_the_rest(lead, make_user):
    one, two = make_user("r1@example.com"), make_user("r2@example.com")
    project = projects.create_project(lead.user, title="Rank",
                                      label_config=(T / "generative-ai__visual-ranker.xml").read_text(), overlap=2)
    assert projects.parse_config(project.label_config).kind == "ranking"
    items = [{"id": i, "html": i} for i in ("a", "b", "c")]
    data = {"prompt": "p", "images": items}
    same, swap, split = _import(lead, project, one, two, [
        (data, rank(["a", "b", "c"]), rank(["a", "b", "c"])),
        (data, rank(["a", "b", "c"]), rank(["a", "c", "b"])),  # tau 1/3: below 0.5
        (data, rank(["a", "b", "c"]), rank(["c", "b", "a"]))])
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    assert (done["policy"]["accepted"], done["policy"]["review"], done["policy"]["disagree"]) == (1, 2, 2)
    found = _findings(project.id)
    assert [found[t].is_issue for t in (same, swap, split)] == [False, True, True]
    assert found[split].reason == "annotators rank differently (Kendall tau -1.00)"
    assert found[split].score == 0.0 and round(found[swap].score, 4) == round((1 / 3 + 1) / 2, 4)
    assert _state(same)[:2] == ("accepted", "majority")
    assert _state(split) == ("review", None, found[split].id)  # the reviewer is shown this finding
    with read_session() as s:
        events = s.exec(select(TaskEvent).where(TaskEvent.task_id == split).order_by(TaskEvent.id)).all()
    assert [(e.from_state, e.to_state) for e in events[-2:]] == [("labeled", "suspect"), ("suspect", "review")]
    assert "annotators rank differently (Kendall tau -1.00)" in events[-2].reason
    # the run's figures per control, the worst tasks first (the dashboard's agreement panel)
    (control,) = results.agreement_controls(lead.user, project.id)
    assert (control["control"], control["metric"], control["n_tasks"], control["n_disagree"]) == (
        "rank", "Kendall tau", 3, 2)
    assert [w["task_id"] for w in control["worst"]] == [split, swap]
    item = review.next_suspect(project.id, lead.user)
    assert item["task"]["id"] == split and item["reason"] == found[split].reason
    assert [a["result"] for a in item["annotations"]] == [rank(["a", "b", "c"]), rank(["c", "b", "a"])]
    # a later run scores them again and keeps them queued: they still disagree
    again = run_qc(project.id)
    assert again["policy"]["cleared"] == 0
    assert _state(split)[0] == "review" and _state(swap)[0] == "review"


def test_a_pairwise_run_and_the_cli_shortcut(lead, make_user, runner):
    one, two = make_user("l@example.com"), make_user("r@example.com")
    xml = (T / "ranking-and-scoring__pairwise-classification.xml").read_text()
    project = projects.create_project(lead.user, title="PW", label_config=xml, overlap=2)
    data = {"pairText1": "a", "pairText2": "b"}
    agree, apart = _import(lead, project, one, two, [(data, pick("left"), pick("left")),
                                                     (data, pick("left"), pick("right"))])
    out = runner.invoke(args=["qc", "agreement", str(project.id), "--as", lead.email])
    assert out.exit_code == 0, out.output
    assert "1 sent to review for disagreeing" in out.output and "pw exact match 0.50 (1 of 2 apart)" in out.output
    assert _state(agree)[0] == "accepted" and _state(apart)[0] == "review"
    assert _findings(project.id)[apart].reason == "annotators pick different sides (exact match 0.00)"


def test_a_classification_run_also_compares_a_second_control(lead, make_user):
    """A Choices project with a Pairwise beside it: the label issues as before, and the pick's
    disagreement reaches review with its own reason even though the label passes."""
    xml = ('<View><Text name="t1" value="$a"/><Text name="t2" value="$b"/>'
           '<Choices name="topic" toName="t1"><Choice value="x"/><Choice value="y"/></Choices>'
           '<Pairwise name="pw" toName="t1,t2"/></View>')
    one, two = make_user("c1@example.com"), make_user("c2@example.com")
    project = projects.create_project(lead.user, title="mixed", label_config=xml, overlap=2)

    def ans(label, side):
        return [{"from_name": "topic", "to_name": "t1", "type": "choices", "value": {"choices": [label]}}, *pick(side)]

    rows = [({"a": f"text {n}", "b": "other"}, ans(lab, "left"), ans(lab, "left" if n else "right"))
            for n, lab in enumerate(["x", "y"] * 6)]
    ids = _import(lead, project, one, two, rows)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    found = _findings(project.id)
    assert found[ids[0]].is_issue and not any(found[t].is_issue for t in ids[1:])
    assert _state(ids[0])[0] == "review" and _state(ids[0])[2] == found[ids[0]].id
    assert found[ids[0]].reason == "annotators pick different sides (exact match 0.00)"
    with read_session() as s:
        run = s.exec(select(QualityRun).where(QualityRun.project_id == project.id)).one()
    assert [c["control"] for c in run.agreement["controls"]] == ["pw"]


def test_the_dashboard_shows_each_controls_agreement_and_its_worst_tasks(lead, make_user, client):
    from insights.dashboard import project_stats
    from tests.conftest import login

    one, two = make_user("d1@example.com"), make_user("d2@example.com")
    xml = (T / "ranking-and-scoring__pairwise-classification.xml").read_text()
    project = projects.create_project(lead.user, title="PW dash", label_config=xml, overlap=2)
    data = {"pairText1": "a", "pairText2": "b"}
    agree, apart = _import(lead, project, one, two, [(data, pick("left"), pick("left")),
                                                     (data, pick("right"), pick("left"))])
    run = run_qc(project.id)["run"]
    panel = project_stats(lead.user, project.id, ["agreement"])["panels"]["agreement"]
    assert panel["controls_source"] == f"QC run {run}"
    assert panel["controls"] == [{"control": "pw", "type": "pairwise", "metric": "exact match", "mean": 0.5,
                                  "n_tasks": 2, "n_disagree": 1, "worst": [{"task_id": apart, "value": 0.0}]}]
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/dashboard").get_data(as_text=True)
    card = page[page.index('id="panel-agreement"'):]
    card = card[:card.index("</section>")]
    assert 'id="t-controls"' in card and "exact match" in card
    assert f'href="/projects/{project.id}/tasks/{apart}"' in card
    assert "agreement is measured for classification projects" not in card
    assert "exact match of pw · 1 of 2 tasks apart" in page  # the headline tile


BOXES_BESIDE = ('<View><Image name="image" value="$image"/>'
                '<Choices name="scene" toName="image"><Choice value="street"/><Choice value="park"/></Choices>'
                '<PolygonLabels name="poly" toName="image"><Label value="Car"/></PolygonLabels>'
                '<KeyPointLabels name="kp" toName="image"><Label value="Nose"/></KeyPointLabels></View>')


def _region(name, type_, value):
    return {"from_name": name, "to_name": "image", "type": type_, "original_width": 64, "original_height": 48,
            "image_rotation": 0, "value": value}


def _square(x, side=30):
    return _region("poly", "polygonlabels", {"points": [[x, 10], [x + side, 10], [x + side, 10 + side], [x, 10 + side]],
                                             "closed": True, "polygonlabels": ["Car"]})


def _point(x, y):
    return _region("kp", "keypointlabels", {"x": x, "y": y, "width": 1, "keypointlabels": ["Nose"]})


def test_regions_of_controls_beside_the_primary_are_compared_by_iou_and_oks():
    """Pure: the polygons and key points of a Choices project, each control by its own measure."""
    from labeling.schema import parse_label_config
    from quality.task_agreement import task_agreement

    schema = parse_label_config(BOXES_BESIDE)
    assert schema.kind == "classification"
    near = task_agreement(schema, [[_square(10), _point(20, 20)], [_square(11), _point(20.3, 20)]])
    assert [(a.control, a.metric, a.agrees) for a in near] == [
        ("poly", "regions paired (IoU 0.5)", True), ("kp", "key points paired (OKS 0.5)", True)]
    apart = {a.control: a for a in task_agreement(schema, [[_square(0), _point(10, 10)], [_square(60), _point(90, 90)]])}
    assert not apart["poly"].agrees and apart["poly"].value == 0.0
    assert apart["poly"].reason == "annotators draw different regions (regions paired (IoU 0.5) 0.00)"
    assert not apart["kp"].agrees and apart["kp"].reason.startswith("annotators place different key points")
    # one drew a polygon, the other none: nothing paired; neither drew one: nothing to compare
    (missing,) = task_agreement(schema, [[_square(10)], []])
    assert (missing.control, missing.value) == ("poly", 0.0)
    assert task_agreement(schema, [[], []]) == []


def test_a_classification_run_compares_the_polygons_beside_its_choices(lead, make_user):
    one, two = make_user("p1@example.com"), make_user("p2@example.com")
    project = projects.create_project(lead.user, title="beside", label_config=BOXES_BESIDE, overlap=2)

    def ans(label, x):
        return [{"from_name": "scene", "to_name": "image", "type": "choices", "value": {"choices": [label]}},
                _square(x)]

    rows = [({"image": f"https://example.com/{n}.png"}, ans(lab, 10), ans(lab, 11 if n else 60))
            for n, lab in enumerate(["street", "park"] * 6)]
    ids = _import(lead, project, one, two, rows)
    done = run_qc(project.id)
    assert done["status"] == "done", done["message"]
    found = _findings(project.id)
    assert found[ids[0]].is_issue and not any(found[t].is_issue for t in ids[1:])
    assert found[ids[0]].reason.startswith("annotators draw different regions (regions paired (IoU 0.5) 0.00)")
    assert _state(ids[0])[0] == "review" and _state(ids[0])[2] == found[ids[0]].id
    with read_session() as s:
        run = s.exec(select(QualityRun).where(QualityRun.project_id == project.id)).one()
    (control,) = run.agreement["controls"]
    assert (control["control"], control["n_tasks"], control["n_disagree"]) == ("poly", 12, 1)
    from insights.dashboard import project_stats

    panel = project_stats(lead.user, project.id, ["agreement"])["panels"]["agreement"]
    (shown,) = panel["controls"]
    assert (shown["control"], shown["metric"], shown["n_disagree"]) == ("poly", "regions paired (IoU 0.5)", 1)
    assert shown["worst"] == [{"task_id": ids[0], "value": 0.0}]
