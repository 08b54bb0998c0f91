"""Agreement on what hangs on regions: relations and per-region answers (pure functions).

Two annotators' regions have different ids, so their regions are paired first (spans by their
offsets, boxes by their overlap, other shapes by equal geometry; on the same object and page),
then compared through the pairing: relations by exact match (both ends paired, same direction
and labels), per-region choices by exact match, per-region numbers and ratings regression-style
(their difference as a share of the control's scale, within a tolerance). A task whose
annotators disagree on any of these goes to the review queue (``quality.policy``).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from labeling.overlap import box_iou, span_iou
from labeling.schema import LabelSchema
from labeling.schema.linked import is_shape
from labeling.schema.relations import relation_key
from labeling.schema.values import values_close
from quality.temporal_agreement import TIME_OBJECTS

__all__ = ["linked_disagreements", "pair_problems", "pair_regions"]

_GEOMETRY = ("x", "y", "width", "height")


def _shapes(schema: LabelSchema, result: list[Any]) -> dict[str, dict]:
    """id -> the shape item of each region of ``result``."""
    controls = {c.name: c for c in schema.controls}
    out: dict[str, dict] = {}
    for item in result if isinstance(result, list) else []:
        control = controls.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is not None and is_shape(control) and isinstance(item.get("id"), str):
            out.setdefault(item["id"], item)
    return out


def _where(item: dict) -> tuple:
    return item.get("to_name"), item.get("item_index")


def _timed(schema: LabelSchema, item: dict) -> bool:
    obj = schema.objects.get(str(item.get("to_name")))
    return obj is not None and obj.tag in TIME_OBJECTS


def _time_iou(a: dict, b: dict) -> float:
    try:
        return span_iou((float(a["start"]), float(a["end"])), (float(b["start"]), float(b["end"])))
    except (KeyError, TypeError, ValueError):
        return 0.0


def pair_regions(schema: LabelSchema, a: list[Any], b: list[Any], *, iou: float = 0.5) -> dict[str, str]:
    """Pair the regions of result ``b`` with those of result ``a``: ``{id in b: id in a}``.

    Spans pair when their offsets are equal, boxes and audio segments when their overlap (IoU,
    temporal IoU) is at least ``iou``
    (the best first), other shapes when their geometry is equal; always on the same object and
    page. A region left without a partner is not in the mapping.
    """
    left, right = _shapes(schema, a), _shapes(schema, b)
    pairs: dict[str, str] = {}
    scored = []
    for bid, bi in right.items():
        for aid, ai in left.items():
            if _where(ai) != _where(bi) or not isinstance(ai.get("value"), dict) or not isinstance(bi.get("value"), dict):
                continue
            av, bv = ai["value"], bi["value"]
            if "start" in av and "start" in bv and _timed(schema, ai):  # audio segments: by their overlap
                score = _time_iou(av, bv)
            elif "start" in av and "start" in bv:
                score = 1.0 if (av.get("start"), av.get("end")) == (bv.get("start"), bv.get("end")) else 0.0
            elif all(k in av and k in bv for k in _GEOMETRY):
                score = box_iou(av, bv)
            else:
                geometry = {k: v for k, v in av.items() if k != ai.get("type")}
                score = 1.0 if geometry == {k: v for k, v in bv.items() if k != bi.get("type")} else 0.0
            if score >= iou and score > 0:
                scored.append((score, bid, aid))
    used: set[str] = set()
    for _, bid, aid in sorted(scored, key=lambda t: -t[0]):
        if bid not in pairs and aid not in used:
            pairs[bid] = aid
            used.add(aid)
    return pairs


def _answers(schema: LabelSchema, result: list[Any]) -> dict[tuple[str, str], Any]:
    """(control, region id) -> the per-region answer (its value field)."""
    out: dict[tuple[str, str], Any] = {}
    per_region = {c.name: c for c in schema.controls if c.per_region}
    for item in result if isinstance(result, list) else []:
        control = per_region.get(item.get("from_name")) if isinstance(item, dict) else None
        if control is not None and isinstance(item.get("value"), dict) and isinstance(item.get("id"), str):
            out[(control.name, item["id"])] = item["value"].get(control.type)
    return out


def pair_problems(schema: LabelSchema, a: list[Any], b: list[Any], *, iou: float = 0.5,
                  tolerance: float = 0.25) -> list[str]:
    """How two annotators' results disagree on relations and per-region answers (empty: they
    agree); ``iou`` and ``tolerance`` as :func:`linked_disagreements` takes them."""
    pairs = pair_regions(schema, a, b, iou=iou)
    a_ids = set(_shapes(schema, a))
    same = {rid: rid for rid in a_ids}
    relations_a = {relation_key(r, same) for r in a if isinstance(r, dict) and r.get("type") == "relation"}
    relations_b = {relation_key(r, pairs) or ("unpaired", n)  # an end without a partner matches nothing
                   for n, r in enumerate(b) if isinstance(r, dict) and r.get("type") == "relation"}
    problems = []
    if relations_a != relations_b:
        problems.append(f"relations differ ({len(relations_a)} and {len(relations_b)}, "
                        f"{len(relations_a & relations_b)} the same)")
    answers_a, answers_b = _answers(schema, a), _answers(schema, b)
    # a chat's per-message answers are compared message by message (quality.chat_agreement)
    for control in (c for c in schema.controls if c.per_region and c.type in ("choices", "number", "rating")
                    and c.object_tag != "Chat"):
        for bid, aid in pairs.items():
            x, y = answers_a.get((control.name, aid)), answers_b.get((control.name, bid))
            if x is None and y is None:
                continue
            if control.type == "choices":
                differ = sorted(map(str, x or [])) != sorted(map(str, y or []))
            elif x is None or y is None:
                differ = True
            else:
                differ = not values_close(control, float(x), float(y), tolerance=tolerance)
            if differ:
                problems.append(f"{control.name} of a region: {x!r} and {y!r}")
    return problems


def linked_disagreements(schema: LabelSchema, results: list[list[Any]], *, iou: float = 0.5,
                         tolerance: float = 0.25) -> list[str]:
    """How the annotators of one task disagree on relations and per-region answers.

    Parameters
    ----------
    schema : LabelSchema
    results : list of list of dict
        The task's annotation results (two or more to compare).
    iou : float, default 0.5
        The overlap at which two annotators' boxes are the same region.
    tolerance : float, default 0.25
        Per-region numbers and ratings agree when they differ by at most this share of the
        control's scale (``min`` to ``max``, or 1 to ``maxRating``: one star of five; else of the
        larger value).

    Returns
    -------
    list of str
        One reason per pair of annotators and thing they disagree on; empty when they agree or
        the config has neither relations nor per-region controls.
    """
    if not any(c.per_region for c in schema.controls) and not any(
            isinstance(i, dict) and i.get("type") == "relation" for r in results for i in r or []):
        return []
    out = []
    for (i, a), (j, b) in combinations(enumerate(results), 2):
        out += [f"annotations {i + 1} and {j + 1}: {p}" for p in pair_problems(schema, a or [], b or [],
                                                                                    iou=iou, tolerance=tolerance)]
    return out
