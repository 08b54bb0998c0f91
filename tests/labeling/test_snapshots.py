"""Export snapshots in the domain: converter formats made from the stored JSON (boxes on images)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from labeling.errors import Invalid
from labeling.exports import snapshots
from tests.labeling.test_exports import boxes, owner  # noqa: F401  (fixtures)


def test_coco_and_yolo_are_converted_from_the_stored_json(owner, boxes):  # noqa: F811
    snap = snapshots.create_snapshot(boxes, owner, title="boxes")
    assert snap.status == "completed" and snap.counters == {"task_number": 2}
    coco = snapshots.snapshot_file(boxes, snap.id, owner, export_type="COCO")
    assert coco.filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(coco)))
    body = json.loads(archive.read("result.json"))
    assert [c["name"] for c in body["categories"]] == ["cat", "dog"]
    assert len(body["annotations"]) == 2 and body["annotations"][0]["bbox"] == [4.0, 2.0, 20.0, 10.0]
    assert coco.tmp is None  # the conversion's folder went with the last byte
    yolo = zipfile.ZipFile(io.BytesIO(b"".join(snapshots.snapshot_file(boxes, snap.id, owner, export_type="YOLO"))))
    assert yolo.read("classes.txt").decode().split() == ["cat", "dog"]
    assert len([n for n in yolo.namelist() if n.startswith("labels/")]) == 2


def test_the_direct_export_called_as_label_studio_converts_the_same_json(owner, boxes):  # noqa: F811
    snap = snapshots.create_snapshot(boxes, owner, title="annotated", task_filter_options={"only_with_annotations": True})
    for fmt in ("COCO", "YOLO"):
        direct = snapshots.ls_export_file(boxes, owner, export_type=fmt)
        assert direct.filename == f"project-{boxes}-{fmt.lower()}.zip" and direct.mimetype == "application/zip"
        made, kept = (zipfile.ZipFile(io.BytesIO(b"".join(f))) for f in
                      (direct, snapshots.snapshot_file(boxes, snap.id, owner, export_type=fmt)))
        assert made.namelist() == kept.namelist()
        assert all(made.read(n) == kept.read(n) for n in made.namelist())
        assert direct.tmp is None
    for fmt in ("JSON", "JSONL"):  # JSON streams as it is; JSONL is labelfab's own, the clean export's
        with pytest.raises(Invalid, match="clean export"):
            snapshots.ls_export_file(boxes, owner, export_type=fmt)
