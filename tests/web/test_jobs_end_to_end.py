"""Every kind of job, end to end on a real broker: the REST API of this process starts them, a
separate ``labelfab worker`` process (dramatiq, started as in production) runs them.

The worker's only knowledge of the job kinds is what its entry point loads from the registry:
a background import read from its staged body, the thumbnails job the worker's own import
starts (sent by the outbox after that import commits), a QC run and the dataset publish of the
QC'd project (more accepted tasks than the publish threshold) must all end ``done``. Runs in CI's Redis stage (and its RabbitMQ stage); skipped with the stub broker,
whose jobs only run inside ``labelfab serve``.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from labeling.settings import get_settings

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(get_settings().broker_url.startswith("stub://"),
                       reason="needs a real broker: LABELFAB_TEST_BROKER_URL=redis://... (or amqp://...)"),
]

TOPICS = {"sport": ["goal", "match", "team", "coach", "league", "score"],
          "food": ["recipe", "oven", "flour", "salt", "dinner", "spice"]}
TEXTS = ('<View><Text name="text" value="$text"/><Choices name="topic" toName="text">'
         '<Choice value="sport"/><Choice value="food"/></Choices></View>')
IMAGES = ('<View><Image name="image" value="$image"/><Choices name="animal" toName="image">'
          '<Choice value="cat"/><Choice value="dog"/></Choices></View>')
IMPORT_THRESHOLD = 100
PUBLISH_THRESHOLD = 10


@pytest.fixture
def worker_process(monkeypatch, tmp_path):
    """``labelfab worker`` on this run's database and broker; a small import threshold for the API."""
    monkeypatch.setenv("LABELFAB_IMPORT_JOB_THRESHOLD", str(IMPORT_THRESHOLD))
    monkeypatch.setenv("LABELFAB_PUBLISH_JOB_THRESHOLD", str(PUBLISH_THRESHOLD))
    get_settings.cache_clear()
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    labelfab = Path(sys.executable).parent / "labelfab"
    proc = subprocess.Popen([str(labelfab), "worker", "--processes", "1", "--threads", "2"],
                            env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()
    monkeypatch.delenv("LABELFAB_IMPORT_JOB_THRESHOLD")
    monkeypatch.delenv("LABELFAB_PUBLISH_JOB_THRESHOLD")
    get_settings.cache_clear()


def wait_job(client, headers, job_id: int, worker, timeout: float = 240) -> dict:
    """Follow a job through ``GET /api/jobs/ID`` until it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).get_json()
        if job["status"] in ("done", "failed"):
            return job
        assert worker.poll() is None, "the worker process has exited"
        time.sleep(0.25)
    raise TimeoutError(f"job {job_id} did not end in {timeout} s: {job}")


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


def test_a_separate_worker_process_runs_every_kind_of_job(client, lead, worker_process):
    h = lead.headers

    # a background import (more rows than the threshold), which the worker reads from its staged body
    texts = client.post("/api/projects", json={"title": "e2e texts", "label_config": TEXTS}, headers=h).get_json()
    rows = [{"data": {"text": " ".join(TOPICS[topic][(i + k) % 6] for k in range(4)) + f" #{i}"},
             "annotations": [{"result": [{"from_name": "topic", "to_name": "text", "type": "choices",
                                          "value": {"choices": [topic]}}]}]}
            for i in range(IMPORT_THRESHOLD + 40) for topic in [("sport", "food")[i % 2]]]
    r = client.post(f"/api/projects/{texts['id']}/import", json=rows, headers=h)
    assert r.status_code == 202, r.get_json()
    job = wait_job(client, h, r.get_json()["job"], worker_process)
    assert (job["kind"], job["status"], job["attempts"]) == ("import", "done", 1), job["message"]
    assert job["result"]["task_count"] == job["result"]["annotation_count"] == len(rows)

    # images: a zip import (always a job); the worker's import starts the thumbnails job
    images = client.post("/api/projects", json={"title": "e2e images", "label_config": IMAGES}, headers=h).get_json()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(6):
            zf.writestr(f"{('cat', 'dog')[i % 2]}/{i}.png", png((40 * i, 200 - 30 * i, 90)))
    r = client.post(f"/api/projects/{images['id']}/import", headers=h, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(archive.getvalue()), "pets.zip")})
    assert r.status_code == 202, r.get_json()
    job = wait_job(client, h, r.get_json()["job"], worker_process)
    assert (job["kind"], job["status"]) == ("import", "done"), job["message"]
    assert job["result"]["task_count"] == 6 and job["result"]["thumbnail_job"] is not None
    thumbs = wait_job(client, h, job["result"]["thumbnail_job"], worker_process)
    assert (thumbs["kind"], thumbs["status"], thumbs["attempts"]) == ("thumbnails", "done", 1), thumbs["message"]
    assert thumbs["result"] == {"thumbnails": 6, "failed": [], "n_failed": 0}

    # a QC run (quality queue)
    r = client.post(f"/api/projects/{texts['id']}/qc", json={"models": ["logreg"]}, headers=h)
    assert r.status_code == 202, r.get_json()
    job = wait_job(client, h, r.get_json()["job"]["id"], worker_process)
    assert (job["kind"], job["status"], job["attempts"]) == ("qc", "done", 1), job["message"]
    assert job["result"]["run"]

    # a dataset publish of the QC'd project (more accepted tasks than the threshold): a job
    r = client.post(f"/api/projects/{texts['id']}/datasets", json={"note": "e2e"}, headers=h)
    assert r.status_code == 202, r.get_json()
    job = wait_job(client, h, r.get_json()["job"], worker_process)
    assert (job["kind"], job["status"], job["attempts"]) == ("publish", "done", 1), job["message"]
    m = client.get(f"/api/projects/{texts['id']}/datasets/{job['result']['version']}", headers=h).get_json()
    assert m["n_items"] == job["result"]["n_items"] > PUBLISH_THRESHOLD and m["note"] == "e2e"
    assert m["sha256"] == job["result"]["sha256"]
