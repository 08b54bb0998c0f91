"""Label Studio's Data Manager query translated to SQL (labeling.dm.filters): every operator on
each family of columns (task counts and ids, times, users, results, the task's data), the
conjunctions, ordering and selection, against the real database; and the refusals (400)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import projects
from labeling.db import read_session, write_session
from labeling.dm import filters
from labeling.models import Annotation, Prediction, Task

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def choice(value: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [value]}}]


@pytest.fixture
def world(lead, annotator, make_user):
    """Five tasks (index -> id): data, counts, annotations, predictions and times that differ."""
    other = make_user("other@example.com")
    project = projects.create_project(lead.user, title="dm", label_config=CONFIG)
    rows = [  # data, state, file_name, annotations (user, result, cancelled), predictions (result, score)
        ({"text": "Hello World", "n": 5, "city": "Paris"}, "labeled", "a.csv",
         [(annotator.id, choice("pos"), False)], [(choice("pos"), 0.9)]),
        ({"text": "goodbye", "n": "12", "city": ""}, "labeled", "b.csv",
         [(other.id, choice("neg"), False), (annotator.id, [], True)], [(choice("neg"), 0.2), (choice("pos"), 0.4)]),
        ({"text": "100% sure_thing", "n": 2.5}, "open", None, [], []),
        ({"text": "hello again", "n": "many", "city": "Rome"}, "open", "a.csv", [(other.id, [], False)], []),
        ({"text": "x", "n": None, "city": "paris"}, "open", None, [], [(choice("neg"), None)]),
    ]
    ids = []
    with write_session() as s:
        for i, (data, state, file_name, anns, preds) in enumerate(rows):
            t = Task(project_id=project.id, data=data, state=state, file_name=file_name,
                     n_annotations=sum(1 for a in anns if not a[2]), n_skips=sum(1 for a in anns if a[2]),
                     created_at=T0 + timedelta(days=i), updated_at=T0 + timedelta(days=10 - i))
            s.add(t)
            s.flush()
            ids.append(t.id)
            for j, (uid, result, cancelled) in enumerate(anns):
                s.add(Annotation(task_id=t.id, project_id=project.id, user_id=uid, result=result,
                                 was_cancelled=cancelled, created_at=T0 + timedelta(days=20 + i, hours=j)))
            for result, score in preds:
                s.add(Prediction(task_id=t.id, project_id=project.id, result=result, score=score))
    return {"project": project.id, "ids": ids, "ann": annotator.id, "other": other.id}


def run(world, query) -> list[int]:
    """The indexes (0-4) of the world's tasks the query selects, in its order."""
    params = filters.parse(query)
    with read_session() as s:
        got = s.execute(select(Task.id).where(Task.project_id == world["project"], *filters.where(params))
                        .order_by(*filters.order_by(params))).scalars().all()
    return [world["ids"].index(i) for i in got]


def one(column: str, operator: str, value, type_: str = "Number", conjunction: str = "and") -> dict:
    return {"filters": {"conjunction": conjunction, "items": [
        {"filter": f"filter:tasks:{column}", "operator": operator, "type": type_, "value": value}]}}


def test_numbers_every_comparison(world):
    assert run(world, one("total_annotations", "equal", 1)) == [0, 1, 3]  # a skip is no annotation
    assert run(world, one("total_annotations", "not_equal", 1)) == [2, 4]
    assert run(world, one("total_annotations", "greater", 0)) == [0, 1, 3]
    assert run(world, one("total_annotations", "less", 1)) == [2, 4]
    assert run(world, one("cancelled_annotations", "greater_or_equal", 1)) == [1]
    assert run(world, one("cancelled_annotations", "less_or_equal", 0)) == [0, 2, 3, 4]
    assert run(world, one("total_predictions", "equal", "2")) == [1]  # Label Studio casts with float()
    assert run(world, one("total_predictions", "in", {"min": 1, "max": 1})) == [0, 4]
    assert run(world, one("total_predictions", "not_in", {"min": 1, "max": 2})) == [2, 3]
    assert run(world, one("predictions_score", "greater", 0.25)) == [0, 1]  # task 1: mean of 0.2 and 0.4
    assert run(world, one("predictions_score", "empty", True, "Number")) == [2, 3, 4]


def test_zero_counts_are_empty_as_in_label_studio(world):
    assert run(world, one("total_annotations", "empty", True)) == [2, 4]
    assert run(world, one("total_predictions", "empty", "false")) == [0, 1, 4]
    assert run(world, one("cancelled_annotations", "empty", False)) == [1]


def test_ids_and_lists(world):
    ids = world["ids"]
    assert run(world, one("id", "equal", ids[2])) == [2]
    assert run(world, one("inner_id", "greater", ids[2])) == [3, 4]
    assert run(world, one("id", "in_list", [ids[0], ids[4]])) == [0, 4]
    assert run(world, one("id", "not_in_list", [ids[0], ids[4]])) == [1, 2, 3]


def test_times(world):
    assert run(world, one("created_at", "greater", "2025-01-03T00:00:00.000000Z", "Datetime")) == [3, 4]
    assert run(world, one("updated_at", "in", {"min": "2025-01-08T00:00:00.000000Z",
                                               "max": "2025-01-10T00:00:00.000000Z"}, "Datetime")) == [1, 2, 3]
    # completed_at: the newest annotation's time, for tasks out of the labeling pool only
    assert run(world, one("completed_at", "empty", False, "Datetime")) == [0, 1]
    assert run(world, one("completed_at", "greater", "2025-01-21T00:30:00.000000Z", "Datetime")) == [1]


def test_annotators(world):
    assert run(world, one("annotators", "contains", world["ann"], "List")) == [0, 1]  # a skip counts
    assert run(world, one("annotators", "not_contains", world["ann"], "List")) == [2, 3, 4]
    assert run(world, one("annotators", "empty", True, "List")) == [2, 4]
    assert run(world, one("annotators", "empty", False, "List")) == [0, 1, 3]


def test_results(world):
    assert run(world, one("annotations_results", "contains", "neg", "String")) == [1]
    assert run(world, one("annotations_results", "not_contains", "pos", "String")) == [1, 2, 3, 4]
    assert run(world, one("predictions_results", "contains", '"pos"', "String")) == [0, 1]
    import json
    assert run(world, one("annotations_results", "equal", json.dumps(choice("pos")), "String")) == [0]
    assert run(world, one("predictions_results", "not_equal", json.dumps(choice("neg")), "String")) == [0, 2, 3]
    assert run(world, one("annotations_results", "equal", "not json", "String")) == []  # as Label Studio
    # empty: no annotation, or one with an empty result (Label Studio reads annotations here)
    assert run(world, one("annotations_results", "empty", True, "String")) == [1, 2, 3, 4]
    assert run(world, one("annotations_results", "empty", False, "String")) == [0, 1]


def test_data_fields_as_text(world):
    assert run(world, one("data.text", "contains", "HELLO", "String")) == [0, 3]  # icontains
    assert run(world, one("data.text", "not_contains", "hello", "String")) == [1, 2, 4]
    assert run(world, one("data.text", "contains", "100%", "String")) == [2]  # % and _ are literal
    assert run(world, one("data.text", "contains", "o_b", "String")) == []
    assert run(world, one("data.city", "equal", "Paris", "String")) == [0]
    # text equality reads numbers as their text, as Label Studio's data ->> key does
    assert run(world, one("data.n", "equal", "5", "String")) == [0]  # the number 5
    assert run(world, one("data.n", "equal", "12", "String")) == [1]  # the string "12"
    assert run(world, one("data.n", "equal", "2.5", "String")) == [2]
    assert run(world, one("data.n", "equal", 5, "String")) == [0]
    assert run(world, one("data.city", "not_equal", "Paris", "String")) == [1, 2, 3, 4]  # missing ones too
    assert run(world, one("data.city", "empty", True, "String")) == [1, 2]  # "" and missing
    assert run(world, one("data.city", "empty", False, "String")) == [0, 3, 4]
    assert run(world, one("data.city", "regex", "^[Pp]ar", "String")) == [0, 4]
    assert run(world, one("data.city", "regex", "([", "String")) == []  # a broken pattern: no task
    assert run(world, one("data.city", "in_list", ["Rome", "paris"], "String")) == [3, 4]
    assert run(world, one("file_upload", "equal", "a.csv", "String")) == [0, 3]
    assert run(world, one("file_upload", "empty", True, "String")) == [2, 4]


def test_data_fields_as_numbers(world):
    # numbers and strings that read as numbers; other text and null are no number
    assert run(world, one("data.n", "greater", 4)) == [0, 1]
    assert run(world, one("data.n", "less_or_equal", 5)) == [0, 2]
    assert run(world, one("data.n", "in", {"min": 2, "max": 5})) == [0, 2]
    assert run(world, one("data.n", "equal", 2.5)) == [2]
    assert run(world, one("data.n", "empty", True)) == [3, 4]


def test_conjunctions_and_child_filters(world):
    a = {"filter": "filter:tasks:total_annotations", "operator": "equal", "type": "Number", "value": 0}
    b = {"filter": "filter:tasks:data.city", "operator": "equal", "type": "String", "value": "Rome"}
    assert run(world, {"filters": {"conjunction": "or", "items": [a, b]}}) == [2, 3, 4]
    assert run(world, {"filters": {"conjunction": "and", "items": [a, b]}}) == []
    with_child = {**a, "child_filter": {**b, "value": "paris"}}
    assert run(world, {"filters": {"conjunction": "or", "items": [with_child]}}) == [4]
    skipped = {**b, "value": None}  # Label Studio skips an item without a value
    assert run(world, {"filters": {"conjunction": "and", "items": [a, skipped]}}) == [2, 4]


def test_ordering_and_selected_items(world):
    ids = world["ids"]
    assert run(world, {"ordering": ["-tasks:id"]}) == [4, 3, 2, 1, 0]
    assert run(world, {"ordering": ["tasks:-id"]}) == [4, 3, 2, 1, 0]  # the minus after the prefix
    assert run(world, {"ordering": ["tasks:total_predictions"]}) == [2, 3, 0, 4, 1]
    assert run(world, {"ordering": ["-tasks:file_upload"]}) == [1, 0, 3, 2, 4]  # nulls last, then by id
    assert run(world, {"ordering": ["tasks:data.city"]})[-1] == 2  # text; missing last
    assert run(world, {"ordering": ["tasks:data.n"], "columnsDisplayType": {"data.n": "Number"}}) == [2, 0, 1, 3, 4]
    assert run(world, {"ordering": ["-tasks:completed_at"]}) == [1, 0, 2, 3, 4]  # nulls last
    assert run(world, {"selectedItems": {"all": False, "included": [ids[1], ids[3]]}}) == [1, 3]
    assert run(world, {"selectedItems": {"all": True, "excluded": [ids[1]]}}) == [0, 2, 3, 4]
    both = {**one("total_annotations", "equal", 1), "selectedItems": {"all": True, "excluded": [ids[0]]}}
    assert run(world, both) == [1, 3]


@pytest.mark.parametrize(("query", "says"), [
    ("{not json", "not JSON"),
    ("[1]", "JSON object"),
    (one("total_annotationz", "equal", 1), "unknown filter 'filter:tasks:total_annotationz'"),
    ({"filters": {"conjunction": "and", "items": [{"filter": "filter:annotations:id", "operator": "equal",
                                                     "type": "Number", "value": 1}]}}, "unknown filter"),
    (one("id", "equals", 1), "unknown filter operator 'equals'"),
    (one("id", "starts_with", 1), "unknown filter operator"),
    (one("id", "equal", 1, "Integer"), "unknown filter type 'Integer'"),
    (one("id", "equal", "abc"), "is no Number"),
    (one("created_at", "greater", "2025-01-01", "Datetime"), "is no Datetime"),
    (one("annotators", "equal", 1, "List"), "takes the operators contains, not_contains, empty"),
    (one("id", "in", 5), "takes a range"),
    (one("id", "in_list", 5), "takes a list"),
    ({"filters": {"conjunction": "xor", "items": []}}, "not a Label Studio Data Manager query"),
    ({"ordering": ["tasks:annotators"]}, "unknown ordering 'tasks:annotators'"),
    ({"ordering": ["tasks:nope"]}, "unknown ordering"),
    ({"selectedItems": {"all": "maybe"}}, "not a Label Studio Data Manager query"),
    ({"selectedItems": {"all": False, "included": [2**70]}}, "not a Label Studio Data Manager query"),
    (one("id", "equal", "abc", "String"), "is no Number"),  # the column's type decides the cast
    (one("id", "in_list", ["abc"], "String"), "is no Number"),
    (one("created_at", "equal", 5, "Number"), "is no Datetime"),
    (one("data.city", "regex", "(?P<x>Rome)", "String"), "POSIX"),
    ({"filters": {"conjunction": "or", "items": [one("id", "in_list", list(range(6000)))["filters"]["items"][0]] * 2}},
     "at most 10000 values"),
])
def test_refusals_are_400(world, query, says):
    with pytest.raises(filters.BadQuery) as err:
        run(world, query)
    assert err.value.status == 400 and says in err.value.detail


def test_data_keys_are_bound_parameters(world):
    """A key with quotes and SQL in it is a key, not SQL."""
    key = "x') OR 1=1 --\"'"
    params = filters.parse(one(f"data.{key}", "equal", "1", "String"))
    from labeling.db import get_engine

    compiled = str(sa.select(Task.id).where(*filters.where(params)).compile(get_engine()))
    assert "OR 1=1" not in compiled
    assert run(world, one(f"data.{key}", "equal", "1", "String")) == []


def test_postgresql_has_an_index_for_data_equality(world):
    """On PostgreSQL a data equality filter carries a containment test the GIN index
    ix_task_data_gin answers; the plan uses it once the value is selective."""
    from labeling.db import get_engine

    engine = get_engine()
    params = filters.parse(one("data.city", "equal", "Rome", "String"))
    sql = str(sa.select(Task.id).where(*filters.where(params)).compile(engine))
    if engine.dialect.name != "postgresql":
        assert "@>" not in sql
        return
    assert "AS JSONB) @>" in sql
    with engine.connect() as conn:
        indexes = conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_task_data_gin'")).scalars().all()
        assert indexes and "gin" in indexes[0] and "jsonb_path_ops" in indexes[0]
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text("EXPLAIN " + str(sa.select(Task.id).where(*filters.where(params))
                                                             .compile(engine, compile_kwargs={"literal_binds": True}))))
                          .scalars())
        assert "ix_task_data_gin" in plan


def test_numbers_out_of_a_double_s_range_never_fail(world, lead):
    """1e999 and 1e-999 in a task's data read as numbers without an error on either database."""
    added = {}
    with write_session() as s:
        for n in ("1e999", "-1e-999", "1" * 400, "7"):
            task = Task(project_id=world["project"], data={"n": n})
            s.add(task)
            s.flush()
            added[task.id] = n

    def values(query) -> list:
        params = filters.parse(query)
        with read_session() as s:
            got = s.execute(select(Task.id).where(Task.project_id == world["project"], *filters.where(params))
                            .order_by(Task.id)).scalars().all()
        return [added.get(i, world["ids"].index(i) if i in world["ids"] else i) for i in got]

    # 0 (5), 1 ("12") and "7"; 1e999 is out of a double's range and a 400-digit string no number
    # here (SQLite reads them as infinity), and -1e-999 is zero
    assert [v for v in values(one("data.n", "greater", 6)) if v not in ("1e999", "1" * 400)] == [1, "7"]
    assert values(one("data.n", "greater", 4)) [:2] == [0, 1]
    assert values(one("data.n", "equal", 0)) == ["-1e-999"]


def test_every_column_operator_type_and_odd_value_answers_or_is_refused(world):
    """No combination reaches the database as an error: each runs, or is a BadQuery (400)."""
    from labeling.db import get_engine

    values = [1, "x", "7", True, {"min": 1, "max": "b"}, {"min": "2025-01-01T00:00:00.000000Z",
              "max": "2026-01-01T00:00:00.000000Z"}, [1, "a"], "2025-01-01T00:00:00.000000Z", "([a", -1e308]
    columns = [*filters.FILTER_COLUMNS, "data.city", "data.n"]
    failures, ran = [], 0
    with get_engine().connect() as conn:
        for column in columns:
            for operator in filters.OPERATORS:
                for type_ in ("Number", "String", "Datetime", "Boolean"):
                    for value in values:
                        try:
                            params = filters.parse(one(column, operator, value, type_))
                            conn.execute(select(sa.func.count()).select_from(Task)
                                         .where(Task.project_id == world["project"], *filters.where(params)))
                            ran += 1
                        except filters.BadQuery:
                            pass
                        except Exception as exc:  # noqa: BLE001 (the test lists what fails)
                            conn.rollback()
                            failures.append((column, operator, type_, value, type(exc).__name__, str(exc)[:120]))
    assert not failures, failures[:10]
    assert ran > 500  # most combinations are answered, not refused
