"""The data manager's table (labeling.dm.table) and labelfab's own filter columns (state, gold,
final label and source, agreement, QC score and reason, lead time, model versions) in
labeling.dm.filters, against the real database."""

from __future__ import annotations

import pytest
from sqlmodel import select

from labeling import projects
from labeling.db import read_session, write_session
from labeling.dm import filters, table
from labeling.errors import Forbidden
from labeling.models import Annotation, LabelIssue, Membership, Prediction, QualityRun, Task

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')


def choice(value: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def world(lead, annotator, make_user, reviewer):
    """Four tasks: two accepted (one unanimous, one split), one suspect with a QC finding, one gold."""
    other = make_user("other@example.com")
    project = projects.create_project(lead.user, title="dm table", label_config=CONFIG)
    with write_session() as s:
        s.add(Membership(project_id=project.id, user_id=reviewer.id, role="reviewer"))
        run = QualityRun(project_id=project.id)
        s.add(run)
        s.flush()
        rows = [  # data, state, final, source, gold, annotations (user, label, lead time), predictions
            ({"text": "one", "city": "Paris"}, "accepted", choice("pos"), "consensus", False,
             [(annotator.id, "pos", 4.0), (other.id, "pos", 6.0)], [(0.9, "m1")]),
            ({"text": "two", "city": "Rome"}, "accepted", choice("neg"), "reviewer", False,
             [(annotator.id, "pos", 10.0), (other.id, "neg", None)], [(0.3, "m2"), (0.5, "m1")]),
            ({"text": "three"}, "suspect", None, None, False, [(other.id, "neg", 2.0)], []),
            ({"text": "four"}, "open", None, None, True, [], []),
        ]
        ids = []
        for data, state, final, source, gold, anns, preds in rows:
            t = Task(project_id=project.id, data=data, state=state, final_label=final, final_source=source,
                     is_gold=gold, n_annotations=len(anns))
            s.add(t)
            s.flush()
            ids.append(t.id)
            for uid, label, spent in anns:
                s.add(Annotation(task_id=t.id, project_id=project.id, user_id=uid, result=choice(label),
                                 lead_time=spent))
            for score, version in preds:
                s.add(Prediction(task_id=t.id, project_id=project.id, result=choice("pos"), score=score,
                                 model_version=version))
        s.add(LabelIssue(run_id=run.id, project_id=project.id, task_id=ids[2], score=0.7, reason="old finding"))
        s.add(LabelIssue(run_id=run.id, project_id=project.id, task_id=ids[2], score=0.12,
                         reason="model says pos"))
        s.add(LabelIssue(run_id=run.id, project_id=project.id, task_id=ids[0], score=0.95, reason="fine",
                         is_issue=False))
    return {"project": project.id, "ids": ids, "ann": annotator.id, "other": other.id}


def run(world, query) -> list[int]:
    params = filters.parse(query)
    with read_session() as s:
        got = s.execute(select(Task.id).where(Task.project_id == world["project"], *filters.where(params))
                        .order_by(*filters.order_by(params))).scalars().all()
    return [world["ids"].index(i) for i in got]


def one(column: str, operator: str, value, type_: str = "String") -> dict:
    return {"filters": {"conjunction": "and", "items": [
        {"filter": f"filter:tasks:{column}", "operator": operator, "type": type_, "value": value}]}}


def test_labelfab_columns_filter(world):
    assert run(world, one("state", "equal", "accepted")) == [0, 1]
    assert run(world, one("state", "not_equal", "accepted")) == [2, 3]
    assert run(world, one("state", "in_list", ["suspect", "open"])) == [2, 3]
    assert run(world, one("is_gold", "equal", True, "Boolean")) == [3]
    assert run(world, one("is_gold", "equal", "false", "Boolean")) == [0, 1, 2]
    assert run(world, one("final_label", "contains", "neg")) == [1]
    assert run(world, one("final_label", "empty", True)) == [2, 3]
    assert run(world, one("final_source", "equal", "reviewer")) == [1]
    # a percentage, as Label Studio Enterprise's tasks:agreement (it was a share, 0 to 1)
    assert run(world, one("agreement", "equal", 100, "Number")) == [0]
    assert run(world, one("agreement", "in", {"min": 40, "max": 60}, "Number")) == [1]
    assert run(world, one("agreement", "greater", 1, "Number")) == [0, 1]
    assert run(world, one("agreement", "empty", True, "Number")) == [2, 3]
    assert run(world, one("qc_score", "less", 0.5, "Number")) == [2]  # the latest finding counts
    assert run(world, one("qc_score", "in", {"min": 0.9, "max": 1}, "Number")) == [0]
    assert run(world, one("qc_reason", "contains", "MODEL")) == [2]
    assert run(world, one("avg_lead_time", "equal", 5, "Number")) == [0]
    assert run(world, one("avg_lead_time", "greater", 5, "Number")) == [1]
    assert run(world, one("predictions_model_versions", "equal", "m1")) == [0, 1]
    assert run(world, one("predictions_model_versions", "not_contains", "2")) == [0, 2, 3]
    assert run(world, one("predictions_model_versions", "empty", True)) == [2, 3]


def test_labelfab_columns_order(world):
    assert run(world, {"ordering": ["tasks:qc_score"]}) == [2, 0, 1, 3]  # nulls last
    assert run(world, {"ordering": ["-tasks:agreement"]}) == [0, 1, 2, 3]
    assert run(world, {"ordering": ["tasks:state"]}) == [0, 1, 3, 2]
    assert run(world, {"ordering": ["-tasks:avg_lead_time"]}) == [1, 0, 2, 3]
    assert run(world, {"ordering": ["-tasks:is_gold"]})[0] == 3


def test_a_page_has_every_column(world, lead):
    params = filters.parse({"ordering": ["tasks:id"]})
    page = table.page(lead.user, world["project"], params, page_size=3)
    assert page.has_next and len(page.rows) == 3 and page.sees_gold and page.can_manage
    ids = [c.id for c in page.columns]
    assert ids[:3] == ["tasks:id", "tasks:data.text", "tasks:data.city"] and "tasks:is_gold" in ids
    first, second, third = page.rows
    assert first.annotators == ["ann", "other"] and first.labels == ["pos", "pos"]
    assert first.agreement == 100.0 and first.lead_time == 5.0 and first.final_label == "pos"
    assert first.qc_score == 0.95 and first.model_versions == ["m1"] and first.prediction_score == 0.9
    assert second.agreement == 50.0 and second.lead_time == 10.0 and second.model_versions == ["m2", "m1"]
    assert second.prediction_score == pytest.approx(0.4) and second.n_predictions == 2
    assert third.qc_score == 0.12 and third.qc_reason == "model says pos" and third.agreement is None
    assert table.cell(first, "tasks:data.city") == "Paris" and table.cell(third, "tasks:state") == "suspect"
    rest = table.page(lead.user, world["project"], params, page_no=2, page_size=3)
    assert [r.task.id for r in rest.rows] == [world["ids"][3]] and not rest.has_next
    assert table.count(lead.user, world["project"], filters.parse(one("state", "equal", "accepted"))) == 2


def test_reviewers_see_the_table_but_not_gold(world, reviewer, annotator):
    page = table.page(reviewer.user, world["project"], filters.parse(None))
    assert len(page.rows) == 4 and not page.sees_gold and not page.can_manage
    assert "tasks:is_gold" not in [c.id for c in page.columns]
    gold = filters.parse(one("is_gold", "equal", True, "Boolean"))
    with pytest.raises(Forbidden):
        table.page(reviewer.user, world["project"], gold)
    with pytest.raises(Forbidden):
        table.count(reviewer.user, world["project"], filters.parse({"ordering": ["-tasks:is_gold"]}))
    with pytest.raises(Forbidden):
        table.page(annotator.user, world["project"], filters.parse(None))


def _walk(user, pid: int, query: dict) -> list[int]:
    params, out, at = filters.parse(query), [], None
    while (at := table.next_task(user, pid, params, after=at)) is not None:
        out.append(at)
        assert len(out) < 10, out
    return out


def test_a_review_stream_walks_the_querys_order(world, lead, reviewer):
    """The stream's next task follows the view's ordering (it walked tasks by id whatever the
    ordering), ties by id, empty values last, as the data manager's page lists them."""
    pid, ids = world["project"], world["ids"]
    assert _walk(reviewer.user, pid, {}) == ids
    assert _walk(reviewer.user, pid, {"ordering": ["-tasks:id"]}) == ids[::-1]
    assert _walk(reviewer.user, pid, {"ordering": ["-tasks:data.city"]}) == [ids[1], ids[0], ids[2], ids[3]]
    assert _walk(reviewer.user, pid, {"ordering": ["-tasks:qc_score"]}) == [ids[0], ids[2], ids[1], ids[3]]
    assert _walk(reviewer.user, pid, {"ordering": ["tasks:qc_score"]}) == [ids[2], ids[0], ids[1], ids[3]]
    by_page = [r.task.id for r in table.page(lead.user, pid, filters.parse({"ordering": ["-tasks:qc_score"]})).rows]
    assert by_page == [ids[0], ids[2], ids[1], ids[3]]
    accepted = {"filters": {"conjunction": "and", "items": [{"filter": "filter:tasks:state", "operator": "equal",
                                                              "type": "String", "value": "accepted"}]},
                "ordering": ["-tasks:id"]}
    params = filters.parse(accepted)
    first = table.next_task(reviewer.user, pid, params)
    assert first == ids[1]
    with write_session() as s:  # the reviewer's decision takes the task out of the filter
        s.get(Task, ids[1]).state = "open"
    assert table.next_task(reviewer.user, pid, params, after=first) == ids[0]
    assert table.next_task(reviewer.user, pid, params, after=ids[0]) is None


def test_the_page_shows_agreement_as_the_percentage_it_filters_by(world, lead, client):
    from tests.conftest import login

    login(client, lead.email)
    page = client.get(f"/projects/{world['project']}/tasks").get_data(as_text=True)
    cells = [" ".join(c.split()) for c in page.split('<td data-col="tasks:agreement"')[1:3]]
    assert cells[0].startswith(">100%") and cells[1].startswith(">50%"), cells
    assert "Agreement (%)" in page


def test_the_annotator_filter_offers_members_and_annotators_only(world, lead, reviewer, annotator, make_user):
    make_user("stranger@example.com")  # neither a member nor an annotator of the project
    offered = {uid for uid, _ in table.people(lead.user, world["project"])}
    assert offered == {reviewer.id, annotator.id, world["other"]}
