"""Polygons, key points, ellipses and brush masks on images: parsed from Label Studio's own
templates, their results validated as Label Studio's editor stores them (and as the SDK's
``validate_prediction`` reads them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle, mask2rle
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import label_text, parse_label_config, validate_result

TEMPLATES = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
POLYGONS = (TEMPLATES / "computer-vision__semantic-segmentation-with-polygons.xml").read_text(encoding="utf-8")
KEYPOINTS = (TEMPLATES / "computer-vision__keypoints.xml").read_text(encoding="utf-8")
MASKS = (TEMPLATES / "computer-vision__semantic-segmentation-with-masks.xml").read_text(encoding="utf-8")
INVENTORY = (TEMPLATES / "computer-vision__inventory-tracking.xml").read_text(encoding="utf-8")
ELLIPSES = """<View><Image name="image" value="$image"/>
<EllipseLabels name="e" toName="image"><Label value="Cell"/><Label value="Nucleus"/></EllipseLabels>
<Ellipse name="plain" toName="image"/><Polygon name="poly" toName="image"/>
<KeyPoint name="kp" toName="image"/><Brush name="br" toName="image"/></View>"""

W, H = 640, 480


def item(from_name: str, to_name: str, type_: str, value: dict, **extra) -> dict:
    return {"id": f"r-{from_name}", "from_name": from_name, "to_name": to_name, "type": type_,
            "original_width": W, "original_height": H, "image_rotation": 0, "origin": "manual",
            "value": value, **extra}


def polygon(points=None, labels=("Car",)) -> dict:
    return item("label", "image", "polygonlabels", {
        "points": points or [[10.5, 20.0], [40.0, 22.25], [35.0, 60.0]], "closed": True,
        "polygonlabels": list(labels)})


def keypoint(x=25.0, y=30.0, labels=("Nose",)) -> dict:
    return item("kp-1", "img-1", "keypointlabels", {"x": x, "y": y, "width": 0.5, "keypointlabels": list(labels)})


def mask_rle(rows=slice(100, 200), cols=slice(50, 300)) -> list[int]:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[rows, cols] = 255
    return mask2rle(mask)


def brush(rle=None, labels=("Airplane",)) -> dict:
    return item("tag", "image", "brushlabels", {"format": "rle", "rle": rle or mask_rle(),
                                                "brushlabels": list(labels)})


@pytest.mark.parametrize(("xml", "kind"), [(POLYGONS, "detection"), (KEYPOINTS, "keypoints"),
                                           (MASKS, "segmentation"), (INVENTORY, "detection"),
                                           (ELLIPSES, "detection")])
def test_templates_parse_with_their_kind(xml, kind):
    assert parse_label_config(xml).kind == kind


def test_polygon_keypoint_and_mask_results_are_valid_here_and_in_the_sdk():
    for xml, result in ((POLYGONS, [polygon()]), (KEYPOINTS, [keypoint()]), (MASKS, [brush()])):
        schema = parse_label_config(xml)
        assert validate_result(schema, result, {"image": "a.png", "img": "a.png"}, image_size=(W, H)) == []
        assert LabelInterface(xml).validate_prediction({"result": result})


def test_ellipse_and_plain_controls_are_valid():
    schema = parse_label_config(ELLIPSES)
    result = [
        item("e", "image", "ellipselabels", {"x": 50, "y": 50, "radiusX": 10, "radiusY": 5, "rotation": 30,
                                             "ellipselabels": ["Cell"]}),
        item("plain", "image", "ellipse", {"x": 20, "y": 20, "radiusX": 3, "radiusY": 4, "rotation": 0}),
        item("poly", "image", "polygon", {"points": [[1, 1], [9, 1], [5, 8]], "closed": True}),
        item("kp", "image", "keypoint", {"x": 3, "y": 4, "width": 1}),
        item("br", "image", "brush", {"format": "rle", "rle": mask_rle()}),
    ]
    assert validate_result(schema, result, {"image": "a.png"}) == []
    assert label_text(result[:2]) == "Cell (ellipse); (ellipse)"


@pytest.mark.parametrize(("value", "says"), [
    ({"points": [[1, 1], [2, 2]], "polygonlabels": ["Car"]}, "3 to 10,000"),
    ({"points": [[1, 1], [2, 2], [120, 5]], "polygonlabels": ["Car"]}, "outside the image"),
    ({"points": [[1, 1], [2, 2], ["a", 5]], "polygonlabels": ["Car"]}, "two numbers"),
    ({"points": [[1, 1], [2, 2], [3, 5]], "closed": "yes", "polygonlabels": ["Car"]}, "closed"),
    ({"points": [[1, 1], [2, 2], [3, 5]], "polygonlabels": ["Truck"]}, "Truck"),
])
def test_bad_polygons_are_refused_naming_the_problem(value, says):
    schema = parse_label_config(POLYGONS)
    bad = dict(polygon(), value=value)
    problems = validate_result(schema, [bad], {"image": "a.png"})
    assert len(problems) == 1 and says in problems[0]


def test_bad_key_points_ellipses_and_sizes_are_refused():
    schema = parse_label_config(KEYPOINTS)
    assert "outside the image" in validate_result(schema, [keypoint(x=101)], {"img": "a"})[0]
    assert "must be numbers" in validate_result(schema, [dict(keypoint(), value={"keypointlabels": ["Face"]})],
                                                {"img": "a"})[0]
    wrong_size = validate_result(schema, [keypoint()], {"img": "a"}, image_size=(800, 480))
    assert wrong_size == ["result[0] (kp-1): original_width is 640, but the image is 800 px"]
    ellipses = parse_label_config(ELLIPSES)
    flat = item("e", "image", "ellipselabels", {"x": 5, "y": 5, "radiusX": 0, "radiusY": 5, "ellipselabels": ["Cell"]})
    assert "radii" in validate_result(ellipses, [flat], {"image": "a"})[0]


def test_bad_masks_are_refused():
    schema = parse_label_config(MASKS)
    data = {"image": "a.png"}
    assert "format" in validate_result(schema, [dict(brush(), value={"format": "png", "rle": [1],
                                                                       "brushlabels": ["Car"]})], data)[0]
    assert "bytes" in validate_result(schema, [dict(brush(), value={"format": "rle", "rle": [1, 300, 2, 3, 4],
                                                                      "brushlabels": ["Car"]})], data)[0]
    other_size = dict(brush(), original_width=W // 2)
    assert "RGBA mask" in validate_result(schema, [other_size], data)[0]
    rle = mask_rle()
    assert "ends before" in validate_result(schema, [brush(rle=rle[: len(rle) // 2])], data)[0]
    no_size = {k: v for k, v in brush().items() if k != "original_height"}
    assert "original_height" in validate_result(schema, [no_size], data)[0]


def test_a_mask_round_trips_through_the_sdk_rle():
    rle = mask_rle()
    alpha = decode_rle(rle).reshape(H, W, 4)[:, :, 3]
    assert alpha[150, 100] == 255 and alpha[50, 100] == 0 and int((alpha > 0).sum()) == 100 * 250


def test_inventory_labels_come_from_task_data():
    schema = parse_label_config(INVENTORY)
    data = {"image": "shelf.jpeg", "objects": [{"value": "CocaCola", "html": "<img/>"}, {"value": "RedBull"}]}
    ok = item("objects", "image", "polygonlabels", {"points": [[1, 1], [5, 1], [5, 5]], "closed": True,
                                                    "polygonlabels": ["RedBull"]})
    assert validate_result(schema, [ok], data) == []
    other = dict(ok, value={**ok["value"], "polygonlabels": ["Pepsi"]})
    assert validate_result(schema, [other], data)


def test_a_key_point_controls_stroke_width_is_kept_for_the_page():
    given = parse_label_config('<View><Image name="i" value="$image"/>'
                               '<KeyPointLabels name="kp" toName="i" strokeWidth="4"><Label value="Eye"/></KeyPointLabels>'
                               '<KeyPoint name="plain" toName="i"/></View>')
    assert [(c.name, c.stroke_width) for c in given.controls] == [("kp", 4.0), ("plain", None)]
