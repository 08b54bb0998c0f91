"""labeling.overlap: the one copy of each IoU, and what each says of empty extents."""

from __future__ import annotations

import doctest

import pytest

from labeling import overlap
from labeling.overlap import box_iou, coverage_iou, frames_iou, merged_spans, span_iou


def test_examples_in_the_docstrings_hold():
    assert doctest.testmod(overlap).failed == 0


@pytest.mark.parametrize("a, b, iou", [
    ((0, 2), (1, 3), 1 / 3), ((0, 1), (0, 1), 1.0), ((0, 1), (1, 2), 0.0), ((0, 4), (1, 2), 0.25), ((0, 0), (0, 0), 0.0),
])
def test_span_iou_is_symmetric_and_zero_for_empty_spans(a, b, iou):
    assert span_iou(a, b) == pytest.approx(iou)
    assert span_iou(b, a) == pytest.approx(iou)


def test_coverage_iou_merges_each_side_and_agrees_on_nothing():
    assert merged_spans([(5, 6), (0, 2), (1, 3)]) == [(0, 3), (5, 6)]
    # [0, 3] + [5, 6] against [2, 6]: shared 1 + 1, covered 6
    assert coverage_iou([(0, 2), (1, 3), (5, 6)], [(2, 6)]) == pytest.approx(2 / 6)
    assert coverage_iou([], []) == 1.0
    assert coverage_iou([(0, 1)], []) == 0.0
    # one span of each is the span IoU
    assert coverage_iou([(0, 2)], [(1, 3)]) == pytest.approx(span_iou((0, 2), (1, 3)))


def test_frames_iou_pools_labels():
    a = {"Run": set(range(1, 11)), "Still": set(range(21, 31))}
    b = {"Run": set(range(6, 16)), "Still": set(range(21, 31))}
    assert frames_iou(a, b) == pytest.approx(15 / 25)
    assert frames_iou({}, {}) == 1.0
    assert frames_iou({"Run": {1, 2}}, {"Walk": {1, 2}}) == 0.0


def test_box_iou_reads_missing_keys_as_zero():
    a = {"x": 0, "y": 0, "width": 10, "height": 10}
    assert box_iou(a, {"x": 5, "y": 5, "width": 10, "height": 10}) == pytest.approx(25 / 175)
    assert box_iou(a, {"x": 20, "y": 0, "width": 10, "height": 10}) == 0.0
    assert box_iou({}, {}) == 0.0
    assert box_iou(a, {"width": "10", "height": 10.0}) == 1.0
