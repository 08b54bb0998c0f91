"""Ranking controls: ``<Pairwise>`` (pick the better of two objects) and ``<Ranker>`` (order
or group the items of a ``<List>``, with optional ``<Bucket>`` columns).

Both store one result item per task, as Label Studio's editor does
(``web/libs/editor/src/tags/control/Pairwise.js`` and ``Ranker.jsx``):

- Pairwise: ``{"from_name": "pw", "to_name": "pw", "type": "pairwise",
  "value": {"selected": "left" | "right"}}``. The editor registers a Pairwise as an object as
  well and stores its own name as ``to_name``; Label Studio's SDK checks ``to_name`` against the
  objects of ``toName`` instead, so either is taken.
- Ranker: ``{"from_name": "rank", "to_name": "<List name>", "type": "ranker",
  "value": {"ranker": {column: [item id, ...], ...}}}``. Without buckets the one column is the
  control's own name (the items in the annotator's order); with buckets the columns are the
  buckets' names, plus ``"_"`` (the items not put in a bucket) unless a bucket has
  ``default="true"``.

``<List value="$items">`` shows a list of task-data objects, each with an ``id`` (a string,
the id a Ranker stores) and ``title``, ``body`` or ``html`` shown. The page heads each column
as Label Studio's editor does: the List's ``title`` over its own column, a ``<Bucket>``'s
``title`` over the bucket's (``ObjectSpec.title``, ``ControlSpec.titles``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labeling.schema.tags import ControlTag, ObjectTag, attr

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec

__all__ = ["CONTROL_TAGS", "LIST", "OBJECT_TAGS", "PAIRWISE", "RANKER", "ORIGINAL_ITEMS", "ranker_columns",
           "list_item_ids"]

#: The column of a Ranker with buckets and no default bucket that keeps the items left in the list.
ORIGINAL_ITEMS = "_"
#: Task data a List shows: how many items at most.
MAX_LIST_ITEMS = 1000


def list_item_ids(value: Any) -> list[str] | None:
    """The item ids of a List's task data (``[{"id": "a", ...}, ...]``), None if it is not one."""
    if not isinstance(value, list):
        return None
    ids = [item.get("id") for item in value if isinstance(item, dict)]
    if len(ids) != len(value) or not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids):
        return None
    return [str(i) for i in ids]


def _list_data(key: str, value: Any) -> str | None:
    ids = list_item_ids(value)
    if ids is None:
        return f'data field {key!r} must be a list of objects, each with an "id" (a List\'s items)'
    if len(ids) > MAX_LIST_ITEMS:
        return f"data field {key!r} has {len(ids):,} items; a List shows at most {MAX_LIST_ITEMS:,}"
    if len(set(ids)) != len(ids):
        return f"data field {key!r} repeats an item id"
    return None


def _list_fields(el: Any) -> dict[str, Any]:
    title = attr(el, "title")
    return {"title": title} if title else {}


LIST = ObjectTag(name="List", check_data=_list_data, spec_fields=_list_fields)
OBJECT_TAGS = (LIST,)


def ranker_columns(control: ControlSpec) -> list[str]:
    """The columns (keys of ``value.ranker``) a Ranker stores, in the editor's order."""
    if not control.labels:
        return [control.name]
    if control.default_bucket is not None:
        return list(control.labels)
    return [ORIGINAL_ITEMS, *control.labels]


def _check_ranker(control: ControlSpec, item: dict, value: dict, *, data: Any, where: str, **_: Any) -> list[str]:
    ranker = value.get("ranker")
    if not isinstance(ranker, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in ranker.values()
    ):
        return [f"{where}: value.ranker must be an object of column name -> list of item ids"]
    columns = ranker_columns(control)
    unknown = [k for k in ranker if k not in columns]
    if unknown:
        return [f"{where}: value.ranker has unknown column(s) {unknown}; the columns are {columns}"]
    known = list_item_ids(data.get(control.data_key)) if isinstance(data, dict) else None
    if known is None:
        return [f"{where}: cannot check the ranking: task data {control.data_key!r} is missing or not a list"]
    given = [i for ids in ranker.values() for i in ids]
    problems = []
    strange = [i for i in given if i not in known]
    if strange:
        problems.append(f"{where}: value.ranker names item(s) {strange} that the list does not have")
    if len(set(given)) != len(given):
        problems.append(f"{where}: value.ranker places an item twice")
    return problems


def _ranker_text(value: dict) -> str:
    ranker = value.get("ranker")
    if not isinstance(ranker, dict):
        return ""
    return "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in ranker.items() if isinstance(v, list))


def _pairwise_attrs(el: Any) -> list[str]:
    names = [n.strip() for n in (attr(el, "toName") or "").split(",") if n.strip()]
    if len(names) != 2 or names[0] == names[1]:
        return ['needs toName="a,b" naming the two objects it compares']
    return []


def _check_pairwise(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    if value.get("selected") not in ("left", "right"):
        return [f'{where}: value.selected must be "left" or "right", got {value.get("selected")!r}']
    return []


def _pairwise_text(value: dict) -> str:
    return str(value.get("selected"))


PAIRWISE = ControlTag(name="Pairwise", result_type="pairwise", targets=("Text", "Image", "HyperText"),
                      per_task=True, check_attrs=_pairwise_attrs, check_item=_check_pairwise,
                      text=_pairwise_text, self_target=True, kind=lambda control: "ranking")
RANKER = ControlTag(name="Ranker", result_type="ranker", targets=("List",), label_tag="Bucket",
                    per_task=True, check_item=_check_ranker, text=_ranker_text, label_attr="name",
                    labels_in_value=False, kind=lambda control: "ranking")

CONTROL_TAGS = (PAIRWISE, RANKER)
