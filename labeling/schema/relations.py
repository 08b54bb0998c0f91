"""Relations between regions: ``<Relations>`` with its ``<Relation>`` labels.

Label Studio stores a relation as a result item of its own, without ``from_name`` or
``to_name``: ``{"type": "relation", "from_id": <region id>, "to_id": <region id>,
"direction": "right" | "left" | "bi", "labels": [names]}``, ``labels`` only once the annotator
picked some (``RelationStore.serialize`` of its editor). The regions are spans or image
regions of the same result. A config without ``<Relations>`` still allows relations, without
labels, as Label Studio's editor does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labeling.schema.model import LabelSchema

__all__ = ["DIRECTIONS", "RELATION", "RELATIONS", "RELATION_TAGS", "check_relations", "relation_key"]

RELATIONS = "Relations"
RELATION = "Relation"
#: Tags of this family, canonical case (Label Studio matches tag names case-insensitively).
RELATION_TAGS = (RELATIONS, RELATION)
#: Label Studio's relation directions (``Relation.direction``), ``right`` by default.
DIRECTIONS = ("right", "left", "bi")


def check_relations(schema: LabelSchema, result: list[Any], region_ids: set[str]) -> list[str]:
    """Problems of the relation items of ``result``: both ends name regions of the result, a
    known direction, labels of the config's ``<Relations>``, no relation given twice."""
    spec = schema.relations
    known = list(spec.labels) if spec is not None else []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(result):
        if not isinstance(item, dict) or item.get("type") != "relation":
            continue
        where = f"result[{i}] (relation)"
        ends = item.get("from_id"), item.get("to_id")
        missing = [k for k, v in zip(("from_id", "to_id"), ends, strict=True) if v not in region_ids]
        if missing:
            problems.append(f"{where}: {' and '.join(missing)} must name regions of the result "
                            f"(the id of a span or image region), got {ends[0]!r} -> {ends[1]!r}")
        elif ends in seen:
            problems.append(f"{where}: the relation {ends[0]} -> {ends[1]} is given twice")
        else:
            seen.add(ends)  # type: ignore[arg-type]
        direction = item.get("direction", "right")
        if direction not in DIRECTIONS:
            problems.append(f"{where}: direction is {direction!r}; use one of {list(DIRECTIONS)}")
        if "labels" not in item:
            continue
        labels = item["labels"]
        if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
            problems.append(f"{where}: labels must be a list of relation names")
            continue
        unknown = [n for n in labels if n not in known]
        if unknown:
            problems.append(f"{where}: unknown relation label(s) {unknown}; "
                            + (f"<Relations> has {known}" if known else "the config has no <Relations>"))
        if spec is not None and spec.choice == "single" and len(labels) > 1:
            problems.append(f"{where}: <Relations> takes a single label, got {len(labels)}: {labels}")
    return problems


def relation_key(item: dict, region_key: dict[str, Any]) -> tuple | None:
    """A relation as comparable between annotators, whose region ids differ: its two regions'
    keys (``region_key``: id -> a key of the region's content), direction and labels; None
    when an end is unknown. A ``left`` relation is the ``right`` one reversed."""
    a, b = region_key.get(item.get("from_id")), region_key.get(item.get("to_id"))
    if a is None or b is None:
        return None
    direction = item.get("direction", "right")
    if direction == "left":
        a, b, direction = b, a, "right"
    elif direction == "bi":
        a, b = sorted((a, b), key=repr)
    labels = tuple(sorted(str(n) for n in item.get("labels") or []))
    return a, b, direction, labels
