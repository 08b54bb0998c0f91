"""The issue's "done when", with labelfab-client as its own distribution: a fresh virtual
environment with only labelfab-client (with its ``[pandas]`` extra) and scikit-learn, the
training job's own library, pulls a published dataset version from a live server with a read-only
token, through the library and through its ``labelfab pull`` command, and trains a scikit-learn
model on its train split. The server stack (labelfab, Flask, SQLAlchemy, cleanlab, Granian,
dramatiq, database drivers...) is not installed there.

The wheels are downloaded once into a wheelhouse (``LABELFAB_WHEELHOUSE``, default
``~/.cache/labelfab-test-wheels``) and installed from it without an index afterwards; the
client's wheel is built from ``clients/python`` with the wheelhouse's setuptools.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labeling import datasets, users
from tests.labeling.test_exports import accept, make_project, task_ids

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
PACKAGES = ["requests", "pandas", "pyarrow", "scikit-learn", "setuptools"]
SERVER_STACK = {"labelfab", "flask", "werkzeug", "flask-login", "flask-wtf", "sqlalchemy", "sqlmodel",
                "alembic", "pydantic", "label-studio-sdk", "cleanlab", "granian", "dramatiq", "redis", "pika",
                "psycopg", "psycopg-binary", "pillow", "lxml", "click", "tqdm", "cachetools"}
WORDS = {"pos": ["great", "lovely", "excellent", "superb"], "neg": ["awful", "terrible", "broken", "poor"],
         "neu": ["table", "monday", "paper", "window"]}

TRAIN = r"""
import importlib.metadata, importlib.util, json, re, sys
import labelfab_client as lf
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

url, project, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
path = lf.pull(url, project, token=token, format="parquet", out_dir="pulled")
df = lf.dataframe(path)
train, test = df[df.split == "train"], df[df.split != "train"]
vectorizer = CountVectorizer()
x_train = vectorizer.fit_transform([d["text"] for d in train.data])
model = LogisticRegression(max_iter=1000).fit(x_train, train.label)
accuracy = model.score(vectorizer.transform([d["text"] for d in test.data]), test.label)
installed = sorted({re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in importlib.metadata.distributions()})
print(json.dumps({"path": str(path), "rows": len(df), "train": len(train), "held_out": len(test),
                  "accuracy": accuracy, "installed": installed,
                  "server_packages": [m for m in ("labeling", "quality", "web") if importlib.util.find_spec(m)],
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
    """``python -m venv`` (without its own pip: this pip installs into it, which is faster), with
    labelfab-client's wheel, built here, and scikit-learn installed, nothing else asked for."""
    house = _wheelhouse()
    source, dist = tmp / "labelfab-client", tmp / "dist"  # built from a copy: no build/ left in the repository
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--find-links",
                    str(house), "--wheel-dir", str(dist), str(source)], check=True, timeout=600)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                    "--find-links", str(house), "--find-links", str(dist), "labelfab-client[pandas]", "scikit-learn"],
                   check=True, timeout=900)
    return python


@pytest.mark.slow
@pytest.mark.timeout(1200)  # builds a virtualenv and installs the client, pandas and scikit-learn into it
def test_a_fresh_venv_with_the_client_alone_pulls_a_version_and_trains_a_model(live_server, lead,
                                                                                 tmp_path: Path):
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
    token = users.create_token(lead.id, name="trainer", scope="read")  # the lead's token for the pipeline

    python = _fresh_venv(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(TRAIN)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = subprocess.run([str(python), "train.py", live_server.url, str(project), token], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rows"] == 150 and got["train"] == 120 and got["held_out"] == 30
    assert got["accuracy"] >= 0.9
    pulled = work / got["path"]
    assert json.loads((pulled.parent / "manifest.json").read_text())["sha256"] == version.sha256

    # only the client of labelfab is there, and none of the server stack
    installed = set(got["installed"])
    assert {"labelfab-client", "requests", "pandas", "pyarrow", "scikit-learn"} <= installed
    assert installed & SERVER_STACK == set() and got["server_packages"] == []
    assert not got["flask"] and not got["sqlalchemy"]

    # its console script: `labelfab pull` (a token from the environment), and no server commands
    labelfab = str(python.parent / "labelfab")
    out = subprocess.run([labelfab, "pull", live_server.url, f"{project}@{version.number}", "--format", "csv",
                          "--out", "by-command"], cwd=work, env={**env, "LABELFAB_TOKEN": token},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    path = work / out.stdout.strip().splitlines()[-1]
    assert out.stdout.startswith(f"sha256 verified: {path.relative_to(work)}")
    csv_entry = {f["format"]: f for f in version.manifest["files"]}["csv"]
    assert path.name == csv_entry["name"] and hashlib.sha256(path.read_bytes()).hexdigest() == csv_entry["sha256"]
    out = subprocess.run([labelfab, "serve"], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and re.search(r"'serve' is a command of the labelfab server", out.stderr)
