"""labelfab's decoder of Label Studio's brush RLE equals label-studio-sdk's on masks the SDK
encodes, refuses broken streams, and checking a brush result no longer imports the SDK's converter
(whose import made the first brush submit of a fresh server wait 10-18 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_rle as sdk_decode
from label_studio_sdk.converter.brush import encode_rle, mask2rle

from labeling.rle import decode_rle, rle_size


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_the_sdks_decoder(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 60, size=2)
    mask = np.zeros((h, w), dtype=np.uint8)
    for _ in range(rng.integers(0, 5)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[y:y + rng.integers(1, 20), x:x + rng.integers(1, 20)] = 255
    if seed == 5:
        mask = rng.integers(0, 2, size=(h, w)).astype(np.uint8) * 255  # noise: literal runs
    rle = mask2rle(mask)
    ours = decode_rle(rle)
    assert ours.dtype == np.uint8 and rle_size(rle) == ours.size == h * w * 4
    assert np.array_equal(ours, sdk_decode(rle))
    assert np.array_equal(ours.reshape(h, w, 4)[:, :, 3], mask)


def test_arbitrary_bytes_decode_as_the_sdk_decodes_them():
    values = np.random.default_rng(1).integers(0, 256, size=500).astype(np.uint8)
    rle = encode_rle(values)
    assert np.array_equal(decode_rle(rle), sdk_decode(rle)) and np.array_equal(decode_rle(rle), values)


def test_broken_streams_are_refused():
    rle = mask2rle(np.full((8, 8), 255, dtype=np.uint8))
    with pytest.raises(ValueError, match="ends before"):
        decode_rle(rle[:3])
    longer = list((1 << 20).to_bytes(4, "big")) + rle[4:]  # the header promises more than the runs hold
    with pytest.raises(ValueError):
        decode_rle(longer)
    with pytest.raises(ValueError, match="0-255"):
        decode_rle([*rle[:-1], 256])


def test_checking_a_brush_result_does_not_import_the_sdk_converter(tmp_path):
    rle = mask2rle(np.pad(np.full((20, 30), 255, dtype=np.uint8), ((10, 10), (5, 5))))
    item = {"id": "m1", "from_name": "tag", "to_name": "image", "type": "brushlabels", "original_width": 40,
            "original_height": 40, "image_rotation": 0, "value": {"format": "rle", "rle": rle, "brushlabels": ["Car"]}}
    script = tmp_path / "check.py"
    script.write_text(
        "import json, sys\n"
        "from labeling.schema import parse_label_config\n"
        "from labeling.schema.validate import validate_result\n"
        "from labeling.shapes import iou\n"
        "schema = parse_label_config('<View><Image name=\"image\" value=\"$image\"/>"
        "<BrushLabels name=\"tag\" toName=\"image\"><Label value=\"Car\"/></BrushLabels></View>')\n"
        f"item = json.loads({json.dumps(json.dumps(item))})\n"
        "bad = dict(item, value=dict(item['value'], rle=item['value']['rle'][:-20]))\n"
        "print(json.dumps([validate_result(schema, [item], {'image': 'a.png'}),"
        " validate_result(schema, [bad], {'image': 'a.png'}), iou(item, item),"
        " 'label_studio_sdk.converter' in sys.modules]))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120)
    good, bad, same, imported = json.loads(out.stdout)
    assert good == [] and same == 1.0 and imported is False
    assert len(bad) == 1 and "value.rle ends before its 6,400 values" in bad[0]
