"""The issue's "done when": a fresh virtual environment with only requests, pandas, pyarrow and
scikit-learn (no labelfab, no Flask, no database driver) pulls a published dataset version from
a live server with a read-only token, through ``labeling/client.py`` copied in alone, and trains
a scikit-learn model on its train split.

The wheels are downloaded once into a wheelhouse (``LABELFAB_WHEELHOUSE``, default
``~/.cache/labelfab-test-wheels``) and installed from it without an index afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labeling import datasets, users
from labeling.models import Role
from labeling.settings import get_settings
from tests.labeling.test_exports import accept, make_project, task_ids

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["requests", "pandas", "pyarrow", "scikit-learn"]
WORDS = {"pos": ["great", "lovely", "excellent", "superb"], "neg": ["awful", "terrible", "broken", "poor"],
         "neu": ["table", "monday", "paper", "window"]}

TRAIN = r"""
import json, sys
from labeling import client
try:
    import labeling.db  # noqa: F401
    full_labelfab = True
except ImportError:
    full_labelfab = False
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

url, project, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
path = client.pull(url, project, token=token, format="parquet", out_dir="pulled")
df = client.dataframe(path)
train, test = df[df.split == "train"], df[df.split != "train"]
vectorizer = CountVectorizer()
x_train = vectorizer.fit_transform([d["text"] for d in train.data])
model = LogisticRegression(max_iter=1000).fit(x_train, train.label)
accuracy = model.score(vectorizer.transform([d["text"] for d in test.data]), test.label)
print(json.dumps({"path": str(path), "rows": len(df), "train": len(train), "held_out": len(test),
                  "accuracy": accuracy, "full_labelfab": full_labelfab,
                  "flask": "flask" in sys.modules, "sqlalchemy": "sqlalchemy" in sys.modules}))
"""


def _wheelhouse() -> Path:
    house = Path(os.environ.get("LABELFAB_WHEELHOUSE", Path.home() / ".cache" / "labelfab-test-wheels"))
    marker = house / (".complete-" + "-".join(PACKAGES))
    if not marker.exists():
        house.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(house), *PACKAGES],
                       check=True, timeout=900)
        marker.touch()
    return house


def _fresh_venv(tmp: Path) -> Path:
    """``python -m venv`` (without its own pip: this pip installs into it, which is faster)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                    "--find-links", str(_wheelhouse()), *PACKAGES], check=True, timeout=900)
    return python


@pytest.mark.slow
@pytest.mark.timeout(1200)  # builds a virtualenv and installs four packages into it
def test_a_fresh_venv_pulls_a_version_and_trains_a_model(live_server, lead, make_user, tmp_path: Path):
    tasks = []
    for i in range(150):
        label = ["pos", "neg", "neu"][i % 3]
        words = WORDS[label]
        tasks.append({"data": {"text": f"item {i}: {words[i % 4]} and {words[(i // 3) % 4]}"},
                      "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                                   "value": {"choices": [label]}}]}]})
    project = make_project(lead.user, tasks)
    accept(project, task_ids(project))
    version, _ = datasets.publish(project, lead.user, note="for the fresh venv")
    pipeline = make_user("trainer@example.com", Role.annotator)
    token = users.create_token(pipeline.id, name="trainer", scope="read")

    python = _fresh_venv(tmp_path)
    alone = tmp_path / "client-only" / "labeling"
    alone.mkdir(parents=True)
    (alone / "__init__.py").write_text("")
    shutil.copy(ROOT / "labeling" / "client.py", alone / "client.py")
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(TRAIN)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(alone.parent)}
    out = subprocess.run([str(python), "train.py", live_server.url, str(project), token], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rows"] == 150 and got["train"] == 120 and got["held_out"] == 30
    assert got["accuracy"] >= 0.9
    assert not got["full_labelfab"] and not got["flask"] and not got["sqlalchemy"]
    pulled = work / got["path"]
    assert json.loads((pulled.parent / "manifest.json").read_text())["sha256"] == version.sha256
    shutil.rmtree(get_settings().data_dir / "datasets", ignore_errors=True)
