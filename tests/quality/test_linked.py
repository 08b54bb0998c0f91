"""Agreement on relations and per-region answers (quality.linked), and results that say the same
with other region ids (labeling.canonical.result_key)."""

from __future__ import annotations

from labeling.canonical import result_key
from labeling.schema import parse_label_config
from quality.linked import linked_disagreements, pair_regions

TEXT = """<View>
  <Relations><Relation value="founded_by"/><Relation value="works_for"/></Relations>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
  <Choices name="sentiment" toName="text" perRegion="true"><Choice value="pos"/><Choice value="neg"/></Choices>
  <Rating name="sure" toName="text" perRegion="true" maxRating="5"/>
  <Text name="text" value="$text"/>
</View>"""
BOXES = """<View><Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="word"/></RectangleLabels>
  <Number name="amount" toName="image" perRegion="true" min="0" max="100"/>
</View>"""


def span(rid, start, end, label):
    return {"id": rid, "from_name": "ner", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "labels": [label]}}


def answer(rid, name, kind, value, start, end):
    return {"id": rid, "from_name": name, "to_name": "text", "type": kind,
            "value": {"start": start, "end": end, kind: value}}


def relation(a, b, *labels, direction="right"):
    item = {"from_id": a, "to_id": b, "type": "relation", "direction": direction}
    return {**item, "labels": list(labels)} if labels else item


def annotator(prefix, *, rel_labels=("founded_by",), choice="pos", rating=4, direction="right"):
    ms, bill = f"{prefix}-ms", f"{prefix}-bill"
    return [span(ms, 0, 9, "ORG"), span(bill, 25, 35, "PER"), relation(ms, bill, *rel_labels, direction=direction),
            answer(ms, "sentiment", "choices", [choice], 0, 9), answer(bill, "sure", "rating", rating, 25, 35)]


def test_same_relations_and_answers_with_other_ids_agree():
    schema = parse_label_config(TEXT)
    a, b = annotator("a"), annotator("b")
    assert pair_regions(schema, a, b) == {"b-ms": "a-ms", "b-bill": "a-bill"}
    assert linked_disagreements(schema, [a, b]) == []
    assert result_key(a) == result_key(b)  # the people's label: one answer, not a tie
    # a left relation is the right one read the other way
    flipped = annotator("c")
    flipped[2] = relation("c-bill", "c-ms", "founded_by", direction="left")
    assert linked_disagreements(schema, [a, flipped]) == []


def test_relations_disagree_by_label_direction_or_end():
    schema = parse_label_config(TEXT)
    a = annotator("a")
    assert linked_disagreements(schema, [a, annotator("b", rel_labels=("works_for",))]) == [
        "annotations 1 and 2: relations differ (1 and 1, 0 the same)"]
    assert linked_disagreements(schema, [a, annotator("b", direction="bi")]) != []
    moved = annotator("b")
    moved[1] = span("b-bill", 39, 49, "PER")  # another person: the relation's end has no partner
    moved[4] = answer("b-bill", "sure", "rating", 4, 39, 49)
    assert any("relations differ" in p for p in linked_disagreements(schema, [a, moved]))
    assert result_key(a) != result_key(annotator("b", rel_labels=("works_for",)))


def test_per_region_choices_exactly_ratings_within_a_tolerance():
    schema = parse_label_config(TEXT)
    a = annotator("a")
    assert linked_disagreements(schema, [a, annotator("b", choice="neg")]) == [
        "annotations 1 and 2: sentiment of a region: ['pos'] and ['neg']"]
    assert linked_disagreements(schema, [a, annotator("b", rating=5)]) == []  # one star of five: within
    assert linked_disagreements(schema, [a, annotator("b", rating=2)]) == [
        "annotations 1 and 2: sure of a region: 4 and 2"]
    three = linked_disagreements(schema, [a, annotator("b"), annotator("c", choice="neg")])
    assert [p.split(":")[0] for p in three] == ["annotations 1 and 3", "annotations 2 and 3"]


def test_per_region_numbers_on_boxes_paired_by_overlap():
    schema = parse_label_config(BOXES)

    def boxes(prefix, dx, amount):
        rid = f"{prefix}-1"
        geometry = {"x": 10 + dx, "y": 10, "width": 30, "height": 10, "rotation": 0}
        return [{"id": rid, "from_name": "box", "to_name": "image", "type": "rectanglelabels",
                 "value": {**geometry, "rectanglelabels": ["word"]}},
                {"id": rid, "from_name": "amount", "to_name": "image", "type": "number",
                 "value": {**geometry, "number": amount}}]

    assert pair_regions(schema, boxes("a", 0, 1), boxes("b", 2, 1)) == {"b-1": "a-1"}
    assert linked_disagreements(schema, [boxes("a", 0, 12.5), boxes("b", 2, 14)]) == []  # 1.5 of 100
    assert linked_disagreements(schema, [boxes("a", 0, 12.5), boxes("b", 2, 60)]) == [
        "annotations 1 and 2: amount of a region: 12.5 and 60"]
    assert pair_regions(schema, boxes("a", 0, 1), boxes("b", 25, 1)) == {}  # too little overlap


def test_annotators_who_disagree_on_a_relation_go_to_review_the_ones_who_agree_are_accepted(lead, make_user):
    from sqlmodel import select

    from labeling import annotations, projects, router
    from labeling.db import read_session, write_session
    from labeling.models import Task, TaskEvent
    from quality.run.skeleton import run_qc
    from tests.labeling.test_review import task

    project = projects.create_project(lead.user, title="relations", label_config=TEXT, overlap=2, max_overlap=2)
    text = "Microsoft was founded by Bill Gates."
    with write_session() as s:
        made = [Task(project_id=project.id, data={"text": text}, target_overlap=2) for _ in range(2)]
        s.add_all(made)
        s.flush()
        ids = [t.id for t in made]
    first, second = make_user("a0@example.com"), make_user("a1@example.com")
    answers = {first: [annotator("a"), annotator("b")],
               second: [annotator("c"), annotator("d", rel_labels=("works_for",))]}
    for person, results in answers.items():
        for result in results:
            tid = router.next_task(project.id, person.user).id
            annotations.submit(tid, person.user, result=result)
    counts = run_qc(project.id)["policy"]  # a real QC run: its agreement step compares the relations
    assert (task(ids[0]).state, task(ids[0]).final_source) == ("accepted", "majority")
    assert task(ids[1]).state == "review"
    assert (counts["accepted"], counts["review"], counts["disagree"]) == (1, 1, 1)
    with read_session() as s:
        ev = s.exec(select(TaskEvent).where(TaskEvent.task_id == ids[1]).order_by(TaskEvent.id)).all()
    assert "annotators relate regions differently (exact match 0.00): annotations 1 and 2: relations differ" \
        in ev[-2].reason
    assert task(ids[1]).review_issue_id is not None
