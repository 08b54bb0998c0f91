"""Label Studio's Data Manager query (filters, ordering, selected items) as SQLAlchemy clauses.

The JSON is Label Studio's ``PrepareParams`` (``data_manager/prepare_params.py``)::

    {"filters": {"conjunction": "and" | "or",
                 "items": [{"filter": "filter:tasks:<column>", "operator": ..., "type": ..., "value": ...}]},
     "ordering": ["-tasks:id"],
     "selectedItems": {"all": true, "excluded": [...]} | {"all": false, "included": [...]}}

and each filter means what ``apply_filters`` in Label Studio's ``data_manager/managers.py``
makes of it (the same operator names, value casts and null handling). Where Label Studio would
skip or misread something (an unknown column, an unknown operator, a value that does not cast),
this module raises :class:`BadQuery` (HTTP 400) instead: a filter is honoured or refused, never
ignored. ``data.<field>`` filters read the task's JSON through SQLAlchemy's JSON operators with
the key as a bound parameter, on SQLite and PostgreSQL alike.

Pure: :func:`parse` turns JSON into :class:`PrepareParams`, :func:`where` and :func:`order_by`
turn those into clauses over :class:`labeling.models.Task`; nothing here touches a session.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from labeling.errors import DomainError
from labeling.limits import MAX_INT
from labeling.models import Annotation, Comment, LabelIssue, Prediction, Task

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # Label Studio's, for Datetime filter values
MAX_ITEMS = 50  # filter items in one query
MAX_IDS = 10_000  # task ids in selectedItems
MAX_QUERY_CHARS = 100_000

OPERATORS = ("equal", "not_equal", "less", "greater", "less_or_equal", "greater_or_equal", "in", "not_in",
             "in_list", "not_in_list", "empty", "contains", "not_contains", "regex")
TYPES = ("Number", "Datetime", "Boolean", "String", "List", "Unknown")

#: Columns a filter may name (``filter:tasks:<column>``, or ``data.<field>``).
#: Label Studio's, then labelfab's own (the task's life: ``state``, ``is_gold``, ``final_label``
#: and ``final_source``, ``agreement``, the QC finding's ``qc_score`` and ``qc_reason``).
FILTER_COLUMNS = ("id", "inner_id", "completed_at", "total_annotations", "cancelled_annotations",
                  "total_predictions", "annotators", "annotations_results", "predictions_score",
                  "predictions_results", "predictions_model_versions", "avg_lead_time", "created_at",
                  "updated_at", "file_upload", "comment_count", "unresolved_comment_count",
                  "state", "is_gold", "final_label", "final_source", "agreement", "qc_score", "qc_reason")
#: Columns an ordering may name (``tasks:<column>``, ``-tasks:<column>``, or ``tasks:data.<field>``).
ORDER_COLUMNS = ("id", "inner_id", "completed_at", "total_annotations", "cancelled_annotations",
                 "total_predictions", "predictions_score", "avg_lead_time", "created_at", "updated_at",
                 "file_upload", "comment_count", "unresolved_comment_count", "state", "is_gold", "final_label",
                 "final_source", "agreement", "qc_score", "qc_reason")
#: Columns only those who may see gold tasks (leads, admins) may filter or sort by.
GOLD_COLUMNS = ("is_gold",)
_POOL_STATES = ("imported", "open")  # a task is_labeled once it has left them (wire.task_json)


class BadQuery(DomainError):
    """A Data Manager query labelfab cannot honour exactly: refused, never ignored."""

    status = 400


# --------------------------------------------------------------------------- the JSON


class FilterIn(BaseModel):
    min: StrictInt | StrictFloat | StrictStr
    max: StrictInt | StrictFloat | StrictStr


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    child_filter: Filter | None = None
    filter: str
    operator: str
    type: str
    value: StrictInt | StrictFloat | StrictBool | StrictStr | FilterIn | list | None = None


class Filters(BaseModel):
    conjunction: Literal["and", "or"]
    items: list[Filter]


TaskId = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]


class SelectedItems(BaseModel):
    all: bool
    included: list[TaskId] = []
    excluded: list[TaskId] = []


class PrepareParams(BaseModel):
    """What Label Studio calls the prepare params of a task query."""

    filters: Filters | None = None
    ordering: list[str] = []
    selectedItems: SelectedItems | None = None  # noqa: N815 (Label Studio's key)
    data: dict = {}  # the rest of the query or view data (hiddenColumns, columnsDisplayType...)


def _errors(exc: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "detail": e["msg"]} for e in exc.errors()[:20]]


def parse(query: str | dict | None, *, selected_items: str | None = None) -> PrepareParams:
    """A Data Manager query (JSON text or a dict) as :class:`PrepareParams`, checked.

    ``selected_items`` is a ``selectedItems`` given on its own (the SDK's
    ``tasks.list(selected_items=...)``): it applies unless the query has its own.

    Raises
    ------
    BadQuery
        Not JSON, a wrong shape, an unknown column, operator or type, too many items.
    """
    if selected_items not in (None, ""):
        base = parse(query)
        if base.selectedItems is None:
            base.selectedItems = parse({"selectedItems": selected_items}).selectedItems
            check(base)
        return base
    if query is None or query == "":
        return PrepareParams()
    if isinstance(query, str):
        if len(query) > MAX_QUERY_CHARS:
            raise BadQuery(f"the query is longer than {MAX_QUERY_CHARS} characters",
                           [{"field": "query", "detail": "too long"}])
        try:
            query = json.loads(query)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past Python's limit
            raise BadQuery(f"the query is not JSON: {exc}", [{"field": "query", "detail": "not JSON"}]) from None
    if not isinstance(query, dict):
        raise BadQuery("the query must be a JSON object with filters, ordering and selectedItems",
                       [{"field": "query", "detail": "must be an object"}])
    selected = query.get("selectedItems")
    if isinstance(selected, str):  # Label Studio takes a JSON string there too
        try:
            selected = json.loads(selected)
        except ValueError:
            raise BadQuery("selectedItems must be {\"all\": bool, \"included\"|\"excluded\": [task ids]}",
                           [{"field": "selectedItems", "detail": "not JSON"}]) from None
    try:
        params = PrepareParams(filters=query.get("filters"), ordering=query.get("ordering") or [],
                               selectedItems=selected, data=query)
    except ValidationError as exc:
        raise BadQuery("the query is not a Label Studio Data Manager query", _errors(exc)) from None
    check(params)
    return params


def check(params: PrepareParams) -> None:
    """Raise :class:`BadQuery` for anything :func:`where` or :func:`order_by` would not honour."""
    items = params.filters.items if params.filters else []
    if len(items) > MAX_ITEMS:
        raise BadQuery(f"at most {MAX_ITEMS} filter items", [{"field": "filters.items", "detail": "too many"}])
    listed = 0
    for i, item in enumerate(items):
        for f in (item, item.child_filter):
            if f is not None:
                _check_filter(f, f"filters.items.{i}")
                listed += len(f.value) if isinstance(f.value, list) else 0
    if listed > MAX_IDS:
        raise BadQuery(f"at most {MAX_IDS} values in the lists of a query's filters",
                       [{"field": "filters.items", "detail": "too many values"}])
    if params.selectedItems is not None:
        n = len(params.selectedItems.included) + len(params.selectedItems.excluded)
        if n > MAX_IDS:
            raise BadQuery(f"at most {MAX_IDS} task ids in selectedItems",
                           [{"field": "selectedItems", "detail": "too many ids"}])
    for i, name in enumerate(params.ordering[:1]):  # Label Studio orders by the first only
        column, _ = field_name(name)
        if not (column in ORDER_COLUMNS or _data_key(column)):
            raise BadQuery(f"unknown ordering {name!r} (tasks:<column> or -tasks:<column>, columns: "
                           f"{', '.join(ORDER_COLUMNS)}, data.<field>)",
                           [{"field": f"ordering.{i}", "detail": "unknown column"}])


def _check_filter(f: Filter, where: str) -> None:
    column = f.filter.removeprefix("filter:tasks:") if f.filter.startswith("filter:tasks:") else None
    if column is None or not (column in FILTER_COLUMNS or _data_key(column)):
        raise BadQuery(f"unknown filter {f.filter!r} (filter:tasks:<column>, columns: "
                       f"{', '.join(FILTER_COLUMNS)}, data.<field>)",
                       [{"field": f"{where}.filter", "detail": "unknown column"}])
    if f.operator not in OPERATORS:
        raise BadQuery(f"unknown filter operator {f.operator!r} (choose from {', '.join(OPERATORS)})",
                       [{"field": f"{where}.operator", "detail": "unknown operator"}])
    if f.type not in TYPES:
        raise BadQuery(f"unknown filter type {f.type!r} (choose from {', '.join(TYPES)})",
                       [{"field": f"{where}.type", "detail": "unknown type"}])
    allowed = _SPECIAL_OPERATORS.get(column)
    if allowed is not None and f.operator not in allowed:
        raise BadQuery(f"filter:tasks:{column} takes the operators {', '.join(allowed)}, not {f.operator!r}",
                       [{"field": f"{where}.operator", "detail": "not supported for this column"}])
    if f.operator in ("in", "not_in") and f.value is not None and not isinstance(f.value, FilterIn):
        raise BadQuery(f"operator {f.operator!r} takes a range {{\"min\": ..., \"max\": ...}}",
                       [{"field": f"{where}.value", "detail": "must be {min, max}"}])
    if f.operator in ("in_list", "not_in_list") and f.value is not None and not isinstance(f.value, list):
        raise BadQuery(f"operator {f.operator!r} takes a list of values",
                       [{"field": f"{where}.value", "detail": "must be a list"}])
    if f.operator == "regex" and f.value is not None and len(str(f.value)) > 1000:
        raise BadQuery("a regex filter is at most 1000 characters", [{"field": f"{where}.value", "detail": "too long"}])


_RESULT_OPERATORS = ("equal", "not_equal", "contains", "not_contains", "empty")
_SPECIAL_OPERATORS = {
    "annotators": ("contains", "not_contains", "empty"),
    "annotations_results": _RESULT_OPERATORS,
    "predictions_results": _RESULT_OPERATORS,
    "predictions_model_versions": ("equal", "not_equal", "contains", "not_contains", "empty"),
    "is_gold": ("equal", "not_equal"),
}


def field_name(raw: str) -> tuple[str, bool]:
    """``(column, ascending)`` of a filter or ordering name, as Label Studio's
    ``preprocess_field_name`` reads it: a leading ``-``, then the prefixes ``filter:`` and
    ``tasks:`` (only at the start), then ``-`` again unless already descending."""
    name, ascending = raw, True
    if name.startswith("-"):
        ascending, name = False, name[1:]
    for prefix in ("filter:", "tasks:"):
        name = name.removeprefix(prefix)
    if ascending and name.startswith("-"):
        ascending, name = False, name[1:]
    return name, ascending


def _data_key(column: str) -> str | None:
    key = column[len("data."):] if column.startswith("data.") else None
    return key if key and len(key) <= 255 else None


# --------------------------------------------------------------------------- SQL pieces


class json_number(FunctionElement):  # noqa: N801 (an SQL function's name)
    """A key of a JSON column as a float: JSON numbers and strings that read as numbers, else
    NULL (Label Studio casts with ``::float``, which fails on other text; here it never fails)."""

    type = sa.Float()
    inherit_cache = True
    name = "json_number"


# a number PostgreSQL's NUMERIC reads (at most 255 digits a part, a short exponent), as text
_NUMBER_RE = r"^\s*[-+]?([0-9]{1,255}\.?[0-9]{0,255}|\.[0-9]{1,255})([eE][-+]?[0-9]{1,3})?\s*$"


@compiles(json_number, "postgresql")
def _json_number_pg(element, compiler, **kw):
    column, key = list(element.clauses)
    c, k = compiler.process(column, **kw), compiler.process(key, **kw)
    text = f"({c} ->> {k})"
    pattern = compiler.process(sa.literal(_NUMBER_RE), **kw)
    n = f"abs(CAST(trim({text}) AS NUMERIC))"
    # CASE keeps the order: the casts run only on text that reads as a number, and a float
    # cast only inside the double's range (PostgreSQL refuses 1e999 and 1e-999 with an error)
    return (f"CASE WHEN json_typeof({c} -> {k}) IN ('number', 'string') AND {text} ~ {pattern} THEN "
            f"CASE WHEN {n} < 1e-300 THEN CAST(0 AS FLOAT) "
            f"WHEN {n} < 1e308 THEN CAST(trim({text}) AS FLOAT) END END")


@compiles(json_number, "sqlite")
def _json_number_sqlite(element, compiler, **kw):
    column, key = list(element.clauses)
    c = compiler.process(column, **kw)
    path = compiler.process(sa.literal("$.") + sa.func.json_quote(key), **kw)
    value, kind = f"json_extract({c}, {path})", f"json_type({c}, {path})"
    return (f"CASE WHEN {kind} IN ('integer', 'real') THEN CAST({value} AS REAL) "
            f"WHEN {kind} = 'text' AND trim({value}) != '' AND trim({value}) NOT GLOB '*[^0-9.eE+-]*' "
            f"AND trim({value}) GLOB '*[0-9]*' THEN CAST(trim({value}) AS REAL) END")


class json_equal(FunctionElement):  # noqa: N801
    """Two JSON documents equal as JSON (Django's ``result=value`` on a JSON field)."""

    type = sa.Boolean()
    inherit_cache = True
    name = "json_equal"


@compiles(json_equal, "postgresql")
def _json_equal_pg(element, compiler, **kw):
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({a} AS JSONB) = CAST({b} AS JSONB))"


@compiles(json_equal, "sqlite")
def _json_equal_sqlite(element, compiler, **kw):
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(json({a}) = json({b}))"


class data_may_equal(FunctionElement):  # noqa: N801
    """A necessary condition for ``data ->> key = value`` that PostgreSQL answers from the GIN
    index ``ix_task_data_gin`` on ``(data::jsonb) jsonb_path_ops`` (migration 0008): the task's
    data contains ``{key: c}`` for one of the JSON values ``c`` whose text is ``value`` (the
    string itself, and the number, boolean, object or array ``value`` reads as). The exact
    comparison stays beside it; SQLite has no such index and compiles it to true."""

    type = sa.Boolean()
    inherit_cache = True
    name = "data_may_equal"


@compiles(data_may_equal, "postgresql")
def _data_may_equal_pg(element, compiler, **kw):
    column, *docs = list(element.clauses)
    c = compiler.process(column, **kw)
    return "(" + " OR ".join(f"(CAST({c} AS JSONB) @> CAST({compiler.process(d, **kw)} AS JSONB))"
                             for d in docs) + ")"


@compiles(data_may_equal, "sqlite")
def _data_may_equal_sqlite(element, compiler, **kw):
    return "1 = 1"


def _text_equal(key: str, value: str) -> ColumnElement:
    """``data ->> key = value`` with the index-served :class:`data_may_equal` beside it."""
    candidates = [value]
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if parsed is not None and not isinstance(parsed, str):
        candidates.append(parsed)
    docs = [sa.literal(json.dumps({key: c}), sa.Text) for c in candidates]
    return sa.and_(data_may_equal(Task.data, *docs), Task.data[key].as_string() == value)


def _completed_at() -> ColumnElement:
    newest = (sa.select(Annotation.created_at).where(Annotation.task_id == Task.id)
              .order_by(Annotation.id.desc()).limit(1).scalar_subquery())
    return sa.case((Task.state.not_in(_POOL_STATES), newest), else_=None)


def _total_predictions() -> ColumnElement:
    return (sa.select(sa.func.count(Prediction.id)).where(Prediction.task_id == Task.id)
            .scalar_subquery())


def _comment_count(*, unresolved: bool = False) -> ColumnElement:
    q = sa.select(sa.func.count(Comment.id)).where(Comment.task_id == Task.id)
    return (q.where(Comment.is_resolved == sa.false()) if unresolved else q).scalar_subquery()


def _predictions_score() -> ColumnElement:
    return sa.select(sa.func.avg(Prediction.score)).where(Prediction.task_id == Task.id).scalar_subquery()


def _avg_lead_time() -> ColumnElement:
    return (sa.select(sa.func.avg(Annotation.lead_time))
            .where(Annotation.task_id == Task.id, Annotation.was_cancelled == sa.false()).scalar_subquery())


def _agreement() -> ColumnElement:
    """The percentage (0 to 100, as Label Studio Enterprise's ``tasks:agreement``) of a task's
    submitted annotations whose result is its final label (as JSON); NULL while the task has no
    final label or no annotation."""
    same = (sa.select(sa.func.count(Annotation.id))
            .where(Annotation.task_id == Task.id, Annotation.was_cancelled == sa.false(),
                   json_equal(Annotation.result, Task.final_label)).scalar_subquery())
    labelled = sa.and_(Task.final_label.is_not(None), sa.cast(Task.final_label, sa.Text) != "null")
    return sa.case((sa.and_(labelled, Task.n_annotations > 0),
                    sa.cast(same, sa.Float) * 100.0 / Task.n_annotations), else_=None)


def _qc_finding(field: str) -> ColumnElement:
    """The task's latest QC label finding's ``score`` or ``reason`` (the one the review queue shows)."""
    return (sa.select(getattr(LabelIssue, field)).where(LabelIssue.task_id == Task.id, LabelIssue.kind == "label")
            .order_by(LabelIssue.id.desc()).limit(1).scalar_subquery())


#: The type a built-in column's values are cast to, whatever the filter's ``type`` says (a
#: String compared with an integer column would be a database error, never an answer).
COLUMN_TYPES = {"id": "Number", "inner_id": "Number", "total_annotations": "Number",
                "cancelled_annotations": "Number", "total_predictions": "Number", "predictions_score": "Number",
                "completed_at": "Datetime", "created_at": "Datetime", "updated_at": "Datetime",
                "file_upload": "String", "comment_count": "Number", "unresolved_comment_count": "Number",
                "avg_lead_time": "Number", "state": "String", "is_gold": "Boolean",
                "final_label": "String", "final_source": "String", "agreement": "Number", "qc_score": "Number",
                "qc_reason": "String"}


def column(name: str, value_type: str = "String") -> tuple[ColumnElement, bool]:
    """``(expression, is_text)`` of a Data Manager column over :class:`Task`."""
    key = _data_key(name)
    if key is not None:
        return (json_number(Task.data, key), False) if value_type == "Number" else (Task.data[key].as_string(), True)
    return {
        "id": (Task.id, False), "inner_id": (Task.id, False),  # labelfab's inner id is the task id
        "total_annotations": (Task.n_annotations, False), "cancelled_annotations": (Task.n_skips, False),
        "total_predictions": (_total_predictions(), False), "predictions_score": (_predictions_score(), False),
        "completed_at": (_completed_at(), False), "created_at": (Task.created_at, False),
        "updated_at": (Task.updated_at, False), "file_upload": (Task.file_name, True),
        "comment_count": (_comment_count(), False),
        "unresolved_comment_count": (_comment_count(unresolved=True), False),
        "avg_lead_time": (_avg_lead_time(), False), "state": (Task.state, True), "is_gold": (Task.is_gold, False),
        "final_label": (sa.func.nullif(sa.cast(Task.final_label, sa.Text), "null"), True),
        "final_source": (Task.final_source, True),
        "agreement": (_agreement(), False), "qc_score": (_qc_finding("score"), False),
        "qc_reason": (_qc_finding("reason"), True),
    }[name]


# --------------------------------------------------------------------------- values


def _bool(value: Any) -> bool:
    """Label Studio's ``cast_bool_from_str``."""
    if isinstance(value, str):
        if value.lower() in ("true", "yes", "on", "1"):
            return True
        if value.lower() in ("false", "no", "off", "0", ""):
            return False
    return bool(value)


def _cast(value: Any, value_type: str) -> Any:
    try:
        if value_type == "Number":
            if isinstance(value, bool):
                raise ValueError("a boolean is no number")
            return float(value)
        if value_type == "Datetime":
            return datetime.strptime(str(value), DATETIME_FORMAT).replace(tzinfo=UTC)
        if value_type == "Boolean":
            return _bool(value)
    except (TypeError, ValueError) as exc:
        raise BadQuery(f"filter value {value!r} is no {value_type} ({exc})",
                       [{"field": "filters.items.value", "detail": f"not a {value_type}"}]) from None
    return value


def _coerce(value: Any, value_type: str, is_text: bool) -> Any:
    """A filter value cast by ``value_type``, as text where the column is text (a JSON key read
    as text, a file name): the database compares like with like, never text with a number."""
    if isinstance(value, (list, dict, FilterIn)):
        raise BadQuery("a filter value here is one number, string, boolean or date",
                       [{"field": "filters.items.value", "detail": "one value"}])
    value = _cast(value, value_type)
    if not is_text or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    return str(value)


def _negate(cond: ColumnElement, expr: ColumnElement) -> ColumnElement:
    """Django's ``~Q(field=value)`` on a nullable field: rows where it is NULL are kept."""
    return sa.or_(sa.not_(cond), expr.is_(None))


# --------------------------------------------------------------------------- filters


def _annotators(f: Filter) -> ColumnElement:
    if f.operator == "empty":
        has = sa.exists().where(Annotation.task_id == Task.id)
        return ~has if _bool(f.value) else has
    try:
        user_id = int(f.value)
        if abs(user_id) > MAX_INT:
            raise ValueError("out of range")
    except (TypeError, ValueError, OverflowError):
        raise BadQuery(f"filter:tasks:annotators takes a user id, not {f.value!r}",
                       [{"field": "filters.items.value", "detail": "must be a user id"}]) from None
    by = sa.exists().where(Annotation.task_id == Task.id, Annotation.user_id == user_id)
    return by if f.operator == "contains" else ~by


def _results(f: Filter, model: type) -> ColumnElement:
    rows = sa.exists().where(model.task_id == Task.id)
    if f.operator in ("equal", "not_equal"):
        try:
            value = json.loads(f.value) if isinstance(f.value, str) else None
        except ValueError:
            value = None
        if value is None:
            return sa.false()  # Label Studio answers no task for a value that is no JSON
        same = rows.where(json_equal(model.result, sa.literal(json.dumps(value), sa.Text)))
        return same if f.operator == "equal" else ~same
    if f.operator in ("contains", "not_contains"):
        hit = rows.where(sa.cast(model.result, sa.Text).contains(str(f.value), autoescape=True))
        return hit if f.operator == "contains" else ~hit
    # empty: Label Studio tests the annotations' results for both columns (annotations__result)
    empty = sa.func.json_array_length(Annotation.result) == 0
    any_ann = sa.exists().where(Annotation.task_id == Task.id)
    if _bool(f.value):
        return sa.or_(~any_ann, any_ann.where(sa.or_(Annotation.result.is_(None), empty)))
    return any_ann.where(Annotation.result.is_not(None), ~empty)


def _model_versions(f: Filter) -> ColumnElement:
    rows = sa.exists().where(Prediction.task_id == Task.id)
    if f.operator == "empty":
        return ~rows if _bool(f.value) else rows
    if isinstance(f.value, (list, dict, FilterIn)):
        raise BadQuery("filter:tasks:predictions_model_versions takes one model version",
                       [{"field": "filters.items.value", "detail": "one value"}])
    value = str(f.value)
    hit = rows.where(Prediction.model_version == value) if f.operator in ("equal", "not_equal") else \
        rows.where(sa.func.lower(Prediction.model_version).contains(value.lower(), autoescape=True))
    return hit if f.operator in ("equal", "contains") else ~hit


# Python's syntax that PostgreSQL's regular expressions lack: named groups, atomic groups, (?#...)
_NOT_POSIX = re.compile(r"\(\?(P|<[A-Za-z]|>|#)")


def _regex(expr: ColumnElement, pattern: str) -> ColumnElement:
    try:
        re.compile(pattern)
    except re.error:
        return sa.false()  # Label Studio answers no task for a pattern that does not compile
    if _NOT_POSIX.search(pattern):
        raise BadQuery("a regex filter takes POSIX regular expressions (no (?P<name>...), (?<name>...), "
                       "(?>...) or (?#...))", [{"field": "filters.items.value", "detail": "unsupported regex syntax"}])
    return sa.cast(expr, sa.Text).regexp_match(pattern)


def filter_clause(f: Filter) -> ColumnElement | None:
    """One filter item as a clause over :class:`Task`; None where Label Studio skips it (no value)."""
    if f.value is None:
        return None
    name = f.filter.removeprefix("filter:tasks:")
    if name == "annotators":
        return _annotators(f)
    if name in ("annotations_results", "predictions_results"):
        return _results(f, Annotation if name == "annotations_results" else Prediction)
    if name == "predictions_model_versions":
        return _model_versions(f)
    if name == "is_gold":
        if isinstance(f.value, (list, FilterIn)):
            raise BadQuery("filter:tasks:is_gold takes true or false", [{"field": "filters.items.value",
                                                                       "detail": "one value"}])
        gold = _bool(f.value) == (f.operator == "equal")
        return Task.is_gold.is_(sa.true()) if gold else Task.is_gold.is_(sa.false())
    op, value = f.operator, f.value
    if name in ("total_predictions", "total_annotations", "cancelled_annotations", "comment_count",
                "unresolved_comment_count") and op == "empty":
        op, value = ("equal" if _bool(value) else "not_equal"), 0  # 0 is empty for counts
    expr, is_text = column(name, f.type)
    cast_type = COLUMN_TYPES.get(name, f.type)
    if op == "empty":
        if f.type in ("String", "Unknown"):
            blank = sa.or_(expr.is_(None), expr == "") if is_text else expr.is_(None)
            return blank if _bool(value) else sa.not_(blank)
        return expr.is_(None) if _bool(value) else expr.is_not(None)
    if op == "regex":
        return _regex(expr, str(value))
    if op in ("in", "not_in"):
        lo, hi = _coerce(value.min, cast_type, is_text), _coerce(value.max, cast_type, is_text)
        between = sa.and_(expr >= lo, expr <= hi)
        return between if op == "in" else _negate(between, expr)
    if op in ("in_list", "not_in_list"):
        values = [_coerce(v, cast_type, is_text) for v in value]
        listed = expr.in_(values)
        return listed if op == "in_list" else _negate(listed, expr)
    if op in ("contains", "not_contains"):  # Django's icontains
        hit = sa.func.lower(sa.cast(expr, sa.Text)).contains(str(value).lower(), autoescape=True)
        return hit if op == "contains" else _negate(hit, expr)
    if isinstance(value, (FilterIn, list)):
        raise BadQuery(f"operator {op!r} takes one value", [{"field": "filters.items.value", "detail": "one value"}])
    value = _coerce(value, cast_type, is_text)
    key = _data_key(name)
    if op == "equal" and is_text and key is not None:
        return _text_equal(key, value)
    compare = {"equal": expr == value, "not_equal": expr == value, "less": expr < value, "greater": expr > value,
               "less_or_equal": expr <= value, "greater_or_equal": expr >= value}[op]
    return _negate(compare, expr) if op == "not_equal" else compare


def where(params: PrepareParams) -> list[ColumnElement]:
    """The filters and the selection of ``params`` as WHERE clauses over :class:`Task`."""
    out: list[ColumnElement] = []
    if params.filters and params.filters.items:
        lines = []
        for item in params.filters.items:
            parts = [c for c in (filter_clause(item), item.child_filter and filter_clause(item.child_filter))
                     if c is not None]
            if parts:
                lines.append(sa.and_(*parts))
        if lines:
            out.append(sa.or_(*lines) if params.filters.conjunction == "or" else sa.and_(*lines))
    sel = params.selectedItems
    if sel is not None:
        if sel.all is False and sel.included:
            out.append(Task.id.in_(sel.included))
        elif sel.all is True and sel.excluded:
            out.append(Task.id.not_in(sel.excluded))
    return out


#: Columns that are never NULL: ordered without NULLS LAST, the id following their direction.
_NOT_NULL = ("id", "inner_id", "created_at", "updated_at", "state", "is_gold", "total_annotations",
             "cancelled_annotations")


def order_by(params: PrepareParams) -> list[ColumnElement]:
    """Label Studio's ordering (its first key, nulls last) and then the task id, for stable pages."""
    if not params.ordering:
        return [Task.id]
    name, ascending = field_name(params.ordering[0])
    expr = sort_key(params)
    if name in _NOT_NULL:  # a plain direction both ways, so an index read from either end serves it
        return [expr.asc(), Task.id.asc()] if ascending else [expr.desc(), Task.id.desc()]
    ordered = expr.asc() if ascending else expr.desc()
    return [ordered.nulls_last(), Task.id]


def sort_key(params: PrepareParams) -> ColumnElement:
    """The expression the first ordering key sorts by (the task id without an ordering)."""
    if not params.ordering:
        return Task.id
    name, _ = field_name(params.ordering[0])
    numeric = _data_key(name) is not None and (params.data.get("columnsDisplayType") or {}).get(name) == "Number"
    return column(name, "Number" if numeric else "String")[0]


def past(params: PrepareParams, key: Any, task_id: int) -> ColumnElement:
    """The tasks that come after task ``task_id``, whose sort key is ``key``, in
    :func:`order_by`'s order (a keyset: a review stream goes on from the task it is on, even when
    that task has left the filter since)."""
    if not params.ordering:
        return Task.id > task_id
    name, ascending = field_name(params.ordering[0])
    expr = sort_key(params)
    beyond = (lambda a, b: a > b) if ascending else (lambda a, b: a < b)
    if name in _NOT_NULL:
        return sa.or_(beyond(expr, key), sa.and_(expr == key, beyond(Task.id, task_id)))
    if key is None:  # nulls last, then by id
        return sa.and_(expr.is_(None), Task.id > task_id)
    return sa.or_(beyond(expr, key), sa.and_(expr == key, Task.id > task_id), expr.is_(None))


def columns_used(params: PrepareParams) -> set[str]:
    """The columns ``params`` filters or orders by (``data.<field>`` included)."""
    used = {field_name(o)[0] for o in params.ordering[:1]}
    for item in params.filters.items if params.filters else []:
        for f in (item, item.child_filter):
            if f is not None:
                used.add(f.filter.removeprefix("filter:tasks:"))
    return used


def selected_nothing(params: PrepareParams) -> bool:
    """True for ``{"all": false, "included": []}``: Label Studio's list shows every task then,
    but an action has nothing to act on."""
    sel = params.selectedItems
    return sel is not None and sel.all is False and not sel.included
