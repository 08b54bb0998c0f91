"""Canonical JSON and result comparison (labeling.canonical)."""

from __future__ import annotations

import hashlib
import json

import pytest

from labeling.canonical import content_hash, dumps, result_key, results_match


def label(name: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [name]}}]


def test_results_match_compares_choices_spans_and_boxes():
    def box(x, name="car"):
        return {"from_name": "b", "to_name": "img", "type": "rectanglelabels",
                "value": {"x": x, "y": 10, "width": 20, "height": 20, "rectanglelabels": [name]}}

    assert results_match(label("pos"), label("pos"))
    assert not results_match(label("pos"), label("neg"))
    assert results_match([box(10), box(50)], [box(52), box(11)])
    assert not results_match([box(10)], [box(25)])  # IoU 0.33
    assert not results_match([box(10)], [box(10, "bus")])
    span = {"from_name": "ner", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}
    assert results_match([span], [dict(span, id="x")])
    assert not results_match([span], [{**span, "value": {**span["value"], "end": 4}}])




def test_dumps_is_sorted_compact_utf8_and_refuses_nan():
    value = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}}
    assert dumps(value) == '{"a":{"y":true,"z":null},"b":[1,2.5,"é"]}'
    assert dumps(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert content_hash(value) == hashlib.sha256(dumps(value).encode("utf-8")).hexdigest()
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
    with pytest.raises(TypeError, match="set cannot be stored"):
        dumps({1, 2})


def test_dumps_allow_nan_writes_stored_json_as_it_is():
    value = {"b": float("nan"), "a": [float("inf"), -float("inf"), 1.5, "é"]}
    assert dumps(value, allow_nan=True) == '{"a":[Infinity,-Infinity,1.5,"é"],"b":NaN}'
    assert dumps(value, allow_nan=True) == json.dumps(value, sort_keys=True, ensure_ascii=False,
                                                      separators=(",", ":"))
    with pytest.raises(TypeError, match="set cannot be stored"):
        dumps({1, 2}, allow_nan=True)


def test_result_key_ignores_order_ids_and_scores():
    a = [{"id": "1", "score": 0.3, **label("pos")[0]}, {"id": "2", **label("neg")[0]}]
    b = [label("neg")[0], {"origin": "manual", **label("pos")[0]}]
    assert result_key(a) == result_key(b)
    assert result_key(a) != result_key(label("pos"))
