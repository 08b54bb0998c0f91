"""The first brush annotation a fresh labelfab process checks and stores: how long it takes.

Each run is a fresh interpreter (SQLite in a temporary DATA_DIR, stub broker): a project with
``<BrushLabels>``, one imported 640x480 image, and one ``annotations.submit`` (what the labeling
page's submit and the REST API call) of a mask in Label Studio's RLE, timed. The brush check once
imported ``label_studio_sdk.converter`` (nltk and more: 7-18 s on a fresh, busy server); it now
decodes the RLE with ``labeling.rle``. The figures say whether the SDK's converter was imported.

Usage::

    python bench/first_brush_submit.py [--runs 3]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_RUN = r"""
import json, os, sys, tempfile, time
from pathlib import Path
d = tempfile.mkdtemp(prefix="lf-brush-")
os.environ.update({"LABELFAB_DATA_DIR": d, "LABELFAB_BROKER_URL": "stub://"})
os.environ.pop("LABELFAB_DATABASE_URL", None)
import numpy as np
from PIL import Image
from labeling import annotations, imports, migrate, projects, users
from labeling.models import Role
migrate.upgrade()
lead = users.create_user("lead@example.com", role=Role.admin, password=None, name="L")
xml = ('<View><Image name="image" value="$image"/><BrushLabels name="tag" toName="image">'
       '<Label value="Car"/></BrushLabels></View>')
project = projects.create_project(lead, title="brush", label_config=xml)
Image.new("RGB", (640, 480), "red").save(f"{d}/a.png")
report = imports.import_data(lead, project.id, paths=[Path(f"{d}/a.png")], background=False, return_task_ids=True)
# the mask as Label Studio's RLE (label-studio-sdk's encoder, imported in a child of its own so
# that this process does not have the converter loaded)
rle = json.loads(sys.stdin.read())
item = {"id": "m1", "from_name": "tag", "to_name": "image", "type": "brushlabels", "original_width": 640,
        "original_height": 480, "image_rotation": 0, "value": {"format": "rle", "rle": rle, "brushlabels": ["Car"]}}
t0 = time.perf_counter()
annotations.submit(report.task_ids[0], lead, result=[item], lead_time=1.0)
print(json.dumps({"seconds": time.perf_counter() - t0, "sdk_converter_imported": "label_studio_sdk.converter" in sys.modules}))
"""

MAKE_RLE = r"""
import json
import numpy as np
from label_studio_sdk.converter.brush import mask2rle
m = np.zeros((480, 640), dtype=np.uint8)
m[100:300, 200:400] = 255
print(json.dumps(mask2rle(m)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rle = subprocess.run([sys.executable, "-c", MAKE_RLE], capture_output=True, text=True, check=True).stdout
    runs = []
    for n in range(args.runs):
        done = subprocess.run([sys.executable, "-c", ONE_RUN], input=rle, cwd=ROOT, capture_output=True, text=True,
                              check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {n + 1}: {runs[-1]['seconds']:.3f} s", file=sys.stderr)
    seconds = [r["seconds"] for r in runs]
    print(json.dumps({"bench": "first_brush_submit", "runs": len(runs), "median_s": round(statistics.median(seconds), 3),
                      "max_s": round(max(seconds), 3),
                      "sdk_converter_imported": any(r["sdk_converter_imported"] for r in runs)}))


if __name__ == "__main__":
    main()
