"""Exports of polygons, key points and brush masks through label_studio_sdk's converter:
COCO and YOLO write polygons as segmentation, COCO key points in its keypoint format (Label
Studio offers COCO for key points only beside boxes), brush masks as PNG (``BRUSH_TO_PNG``)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle
from PIL import Image

from labeling import annotations, exports, imports, projects
from labeling.errors import Invalid
from labeling.exports.writers import EXPORT_FORMATS, fits
from labeling.schema import parse_label_config
from tests.labeling.test_exports import accept, task_ids

W, H = 40, 20
POLYGONS = """<View><Image name="image" value="$image"/>
<PolygonLabels name="label" toName="image"><Label value="Airplane"/><Label value="Car"/></PolygonLabels></View>"""
KEYPOINTS = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="Face"/></RectangleLabels>
<KeyPointLabels name="kp" toName="image"><Label value="Nose" model_index="0"/><Label value="Eye" model_index="1"/>
</KeyPointLabels></View>"""
KEYPOINTS_ONLY = """<View><Image name="image" value="$image"/>
<KeyPointLabels name="kp" toName="image"><Label value="Nose"/></KeyPointLabels></View>"""
MASKS = """<View><Image name="image" value="$image"/>
<BrushLabels name="tag" toName="image"><Label value="Airplane"/><Label value="Car"/></BrushLabels></View>"""


def item(from_name, type_, value):
    return {"id": f"r{from_name}{len(str(value))}", "from_name": from_name, "to_name": "image", "type": type_,
            "original_width": W, "original_height": H, "image_rotation": 0, "value": value}


def one_image_project(owner, annotator, tmp_path, config, result):
    folder = tmp_path / "img"
    folder.mkdir()
    Image.new("RGB", (W, H), "red").save(folder / "a.png")
    project = projects.create_project(owner, title="vectors", label_config=config)
    imports.import_data(owner, project.id, paths=[folder], background=False)
    for tid in task_ids(project.id):
        annotations.submit(tid, annotator.user, result=result)
    accept(project.id)
    return project.id


def files_of(out) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(out)))
    return {name: archive.read(name) for name in archive.namelist()}


def test_formats_offered_follow_label_studios_converter():
    def offered(xml):
        return {name for name, fmt in EXPORT_FORMATS.items() if fits(fmt, parse_label_config(xml))}
    assert {"COCO", "YOLO", "JSON"} <= offered(POLYGONS) and "BRUSH_TO_PNG" not in offered(POLYGONS)
    assert {"COCO", "YOLO"} <= offered(KEYPOINTS)
    assert not {"COCO", "YOLO"} & offered(KEYPOINTS_ONLY)  # Label Studio: key points need boxes
    assert "BRUSH_TO_PNG" in offered(MASKS) and not {"COCO", "YOLO", "VOC"} & offered(MASKS)


def test_coco_and_yolo_write_polygons_as_segmentation(lead, annotator, tmp_path):
    points = [[10, 10], [50, 10], [50, 60], [10, 60]]
    pid = one_image_project(lead.user, annotator, tmp_path, POLYGONS,
                            [item("label", "polygonlabels", {"points": points, "closed": True,
                                                             "polygonlabels": ["Car"]})])
    coco = json.loads(files_of(exports.export(pid, lead.user, format="COCO"))["result.json"])
    [ann] = coco["annotations"]
    assert [c["name"] for c in coco["categories"]] == ["Airplane", "Car"]
    assert coco["categories"][ann["category_id"]]["name"] == "Car"
    # percent of a 40x20 image, in pixels, as one flat ring
    assert ann["segmentation"] == [[4.0, 2.0, 20.0, 2.0, 20.0, 12.0, 4.0, 12.0]]
    assert ann["bbox"] == [4.0, 2.0, 16.0, 10.0]
    yolo = files_of(exports.export(pid, lead.user, format="YOLO"))
    [labels] = [body for name, body in yolo.items() if name.startswith("labels/")]
    assert labels.decode().split() == ["1", "0.1", "0.1", "0.5", "0.1", "0.5", "0.6", "0.1", "0.6"]


def test_coco_writes_key_points_in_its_keypoint_format(lead, annotator, tmp_path):
    result = [item("box", "rectanglelabels", {"x": 10, "y": 10, "width": 50, "height": 50, "rotation": 0,
                                              "rectanglelabels": ["Face"]}),
              item("kp", "keypointlabels", {"x": 25, "y": 30, "width": 1, "keypointlabels": ["Nose"]})]
    pid = one_image_project(lead.user, annotator, tmp_path, KEYPOINTS, result)
    coco = json.loads(files_of(exports.export(pid, lead.user, format="COCO"))["result.json"])
    with_points = [a for a in coco["annotations"] if a.get("keypoints")]
    assert with_points, coco["annotations"]
    kp = with_points[0]["keypoints"]
    assert len(kp) % 3 == 0 and [10.0, 6.0, 2] == kp[kp.index(10.0):kp.index(10.0) + 3]
    assert with_points[0]["num_keypoints"] == 1
    unordered = KEYPOINTS.replace(' model_index="0"', "").replace(' model_index="1"', "")
    projects.edit_project(lead.user, pid, label_config=unordered)
    with pytest.raises(Invalid, match="model_index"):  # the converter's own reason, not a 500
        b"".join(exports.export(pid, lead.user, format="COCO"))


def test_brush_masks_export_as_png(lead, annotator, tmp_path):
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[5:15, 10:30] = 255
    pid = one_image_project(lead.user, annotator, tmp_path, MASKS,
                            [item("tag", "brushlabels", {"format": "rle", "rle": mask2rle(mask),
                                                         "brushlabels": ["Car"]})])
    files = files_of(exports.export(pid, lead.user, format="BRUSH_TO_PNG"))
    [png] = [name for name in files if name.endswith(".png") and not name.startswith("images/")]
    assert "tag-Car" in png
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(files[png]))), mask)
    with pytest.raises(Invalid):
        exports.export(pid, lead.user, format="COCO")


def test_yolo_writes_key_points_of_their_box_as_yolo_pose(lead, annotator, tmp_path):
    """Label Studio groups a key point with its box by the key point's ``parentID`` (the box's
    region id); the SDK's YOLO writes the box then each key point in ``model_index`` order (x, y,
    visibility 2), a missing one as ``0 0 0``. A key point without a parent is left out, as in
    Label Studio."""
    box = dict(item("box", "rectanglelabels", {"x": 10, "y": 10, "width": 50, "height": 50, "rotation": 0,
                                               "rectanglelabels": ["Face"]}), id="face1")
    nose = dict(item("kp", "keypointlabels", {"x": 25, "y": 30, "width": 1, "keypointlabels": ["Nose"]}),
                id="nose1", parentID="face1")
    pid = one_image_project(lead.user, annotator, tmp_path, KEYPOINTS, [box, nose])
    stored = exports.export(pid, lead.user, format="JSON")
    [task] = json.loads(b"".join(stored))
    assert [r.get("parentID") for r in task["annotations"][0]["result"]] == [None, "face1"]  # kept as sent
    yolo = files_of(exports.export(pid, lead.user, format="YOLO"))
    [labels] = [body for name, body in yolo.items() if name.startswith("labels/")]
    assert labels.decode().split() == ["0", "0.35", "0.35", "0.5", "0.5", "0.25", "0.3", "2", "0.0", "0.0", "0"]
    assert json.loads(yolo["notes.json"])["categories"][0]["keypoints"] == ["Nose", "Eye"]
