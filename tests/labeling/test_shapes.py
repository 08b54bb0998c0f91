"""Agreement of image regions: IoU of polygons, ellipses and masks, OKS of key points, and the
people's label of a task whose annotators drew nearly the same regions or disagree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle

from labeling import shapes
from labeling.aggregation import people_label
from labeling.canonical import results_match
from labeling.schema import parse_label_config

W, H = 200, 100


def poly(points, label="Car"):
    return {"from_name": "label", "to_name": "image", "type": "polygonlabels", "original_width": W,
            "original_height": H, "value": {"points": points, "closed": True, "polygonlabels": [label]}}


def square(x0, y0, x1, y1, label="Car"):
    return poly([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], label)


def point(x, y, label="Nose"):
    return {"from_name": "kp", "to_name": "image", "type": "keypointlabels", "original_width": W,
            "original_height": H, "value": {"x": x, "y": y, "width": 1, "keypointlabels": [label]}}


def test_polygon_iou_is_the_overlap_of_areas():
    a = square(10, 10, 50, 50)
    assert shapes.iou(a, a) == 1.0
    half = shapes.iou(a, square(30, 10, 70, 50))  # shifted by half its width: 1/3
    assert half == pytest.approx(1 / 3, abs=0.02)
    assert shapes.iou(a, square(60, 60, 90, 90)) == 0.0


def test_ellipse_inside_its_box_covers_a_quarter_pi_and_its_box_is_exact():
    e = {"type": "ellipselabels", "original_width": W, "original_height": H,
         "value": {"x": 30, "y": 30, "radiusX": 20, "radiusY": 20, "rotation": 0, "ellipselabels": ["Car"]}}
    assert shapes.region_box(e) == pytest.approx((10, 10, 50, 50))
    assert shapes.iou(e, square(10, 10, 50, 50)) == pytest.approx(math.pi / 4, abs=0.02)
    turned = dict(e, value={**e["value"], "rotation": 90})  # 40 px wide, 20 px high -> 20 wide, 40 high
    assert shapes.region_box(turned) == pytest.approx((20, -10, 40, 70))


def test_mask_iou_decodes_label_studio_rle():
    m = np.zeros((H, W), dtype=np.uint8)
    m[10:50, 20:100] = 255
    brush = {"type": "brushlabels", "original_width": W, "original_height": H,
             "value": {"format": "rle", "rle": mask2rle(m), "brushlabels": ["Car"]}}
    assert shapes.iou(brush, square(10, 10, 50, 50)) == pytest.approx(1.0, abs=0.02)
    assert shapes.iou(brush, square(50, 50, 90, 90)) == 0.0


def test_oks_falls_with_distance_on_the_image_scale():
    assert shapes.oks(point(10, 10), point(10, 10)) == 1.0
    near, far = shapes.oks(point(10, 10), point(12, 10)), shapes.oks(point(10, 10), point(20, 10))
    assert 0.8 < near < 0.9 and far < 0.05


def test_results_match_pairs_polygons_and_points_by_iou_and_oks():
    assert results_match([square(10, 10, 50, 50)], [square(11, 10, 50, 51)])
    assert not results_match([square(10, 10, 50, 50)], [square(30, 10, 70, 50)])
    assert not results_match([square(10, 10, 50, 50)], [square(10, 10, 50, 50, "Airplane")])
    assert results_match([point(10, 10), point(50, 50, "Face")], [point(50.5, 50, "Face"), point(10, 10.5)])
    assert not results_match([point(10, 10)], [point(20, 10)])
    assert shapes.agreement([point(10, 10), point(50, 50)], [point(10, 10)]) == pytest.approx(2 / 3)


POLYGONS = '<View><Image name="image" value="$image"/><PolygonLabels name="label" toName="image">' \
           '<Label value="Car"/><Label value="Airplane"/></PolygonLabels></View>'


def test_people_label_takes_nearly_equal_polygons_as_a_majority_and_ties_otherwise():
    schema = parse_label_config(POLYGONS)
    close = [[square(10, 10, 50, 50)], [square(11, 10, 50, 51)], [square(60, 60, 90, 90)]]
    label, source, tied = people_label(schema, close)
    assert source == "majority" and label == close[0] and tied == []
    label, source, tied = people_label(schema, [[square(10, 10, 50, 50)], [square(30, 10, 70, 50)]])
    assert label is None and source is None and len(tied) == 2
