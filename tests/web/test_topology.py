"""The production topology on this machine: two ``labelfab serve`` instances (different ports and
data directories), two ``labelfab worker`` processes, one PostgreSQL and the test's broker.

- an image uploaded through one server is served by the other (both see LABELFAB_SHARED_DIR);
- annotators spread over both servers never get a task beyond its overlap, and a server killed
  midway loses no annotation it acknowledged (the annotators go on through the other one);
- a job sent through one server runs in whichever worker takes it, once: the worker running it is
  killed, a new worker (what a process supervisor starts) takes it over, and one result is stored.

Runs in CI's PostgreSQL + Redis stage and its RabbitMQ stage; skipped on SQLite or the stub broker.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from PIL import Image

from labeling.db import get_engine
from labeling.models import Annotation, Job, QualityRun
from labeling.processes import Owner
from labeling.settings import get_settings

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(get_settings().broker_url.startswith("stub://") or get_settings().is_sqlite,
                       reason="needs PostgreSQL and a real broker (LABELFAB_TEST_DATABASE_URL, LABELFAB_TEST_BROKER_URL)"),
]

LABELFAB = str(Path(sys.executable).parent / "labelfab")
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="topic" toName="text">'
          '<Choice value="sport"/><Choice value="food"/></Choices></View>')
WORDS = {"sport": ["goal", "match", "team", "coach", "league", "score", "win"],
         "food": ["recipe", "oven", "flour", "salt", "dinner", "spice", "bake"]}
IMAGES = ('<View><Image name="image" value="$image"/><Choices name="animal" toName="image">'
          '<Choice value="cat"/><Choice value="dog"/></Choices></View>')
OVERLAP = 2
N_TASKS = 60
N_ANNOTATORS = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """The processes of the topology, each in its own process group (killed as a whole)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def env(self, name: str) -> dict[str, str]:
        env = os.environ.copy()
        env.update(LABELFAB_DATA_DIR=str(self.tmp / name), LABELFAB_SHARED_DIR=str(self.tmp / "shared"),
                   LABELFAB_SECRET_KEY="one key for every server",
                   LABELFAB_IMPORT_JOB_THRESHOLD="100")
        return env

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen([LABELFAB, *args], env=self.env(name), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def serve(self, name: str) -> None:
        self.ports[name] = _free_port()
        self.start(name, "serve", "--port", str(self.ports[name]), "--workers", "1", "--threads", "4")

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for name, port in self.ports.items():
            while True:
                assert self.procs[name].poll() is None, (self.tmp / f"{name}.log").read_text()[-2000:]
                try:
                    if call(port, "GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"{name} did not answer /health"
                time.sleep(0.3)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def call(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        conn.close()


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    cluster.serve("server-a")
    cluster.serve("server-b")
    cluster.start("worker-1", "worker", "--processes", "1", "--threads", "2")
    cluster.start("worker-2", "worker", "--processes", "1", "--threads", "2")
    cluster.wait_healthy()
    yield cluster
    cluster.stop()


def _annotate(cluster: Cluster, token: str, seed: int, acked: list, stats: Counter, project_id: int) -> None:
    """One annotator: next task and submit, alternating between the servers that still answer."""
    try:
        _annotate_until_done(cluster, token, seed, acked, stats, project_id)
    except BaseException as exc:  # the test thread reports it
        stats[f"error: {exc!r}"] += 1


def _annotate_until_done(cluster: Cluster, token: str, seed: int, acked: list, stats: Counter,
                         project_id: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}"}
    servers = list(cluster.ports.values())
    turn = seed
    while servers:
        port = servers[turn % len(servers)]
        turn += 1
        try:
            status, task = call(port, "GET", f"/api/projects/{project_id}/next", headers=headers)
            if status == 404:
                return
            assert status == 200, task
            topic = task["data"]["text"].split()[0] in WORDS["sport"] and "sport" or "food"
            if rng.random() < 0.1:
                topic = {"sport": "food", "food": "sport"}[topic]
            result = [{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [topic]}}]
            status, annotation = call(port, "POST", f"/api/tasks/{task['id']}/annotations", {"result": result},
                                      headers)
            assert status in (200, 201), annotation
            acked.append(annotation["id"])
            stats[port] += 1
        except (OSError, http.client.HTTPException):  # this server is gone: go on with the others
            servers.remove(port)
            stats["switched"] += 1


def test_two_servers_and_two_workers_share_the_work(cluster, lead, make_user):
    a, b = cluster.ports["server-a"], cluster.ports["server-b"]
    h = lead.headers
    status, project = call(a, "POST", "/api/projects",
                           {"title": "topology", "label_config": CONFIG, "maximum_annotations": OVERLAP}, h)
    assert status == 201, project
    rng = random.Random(7)
    rows = [{"text": " ".join(rng.choice(WORDS[topic]) for _ in range(5)) + f" #{i}"}
            for i in range(N_TASKS) for topic in [("sport", "food")[i % 2]]]
    status, report = call(b, "POST", f"/api/projects/{project['id']}/import", rows, h)
    assert status == 201, report

    # an image uploaded through one server is served by the other
    status, pets = call(a, "POST", "/api/projects", {"title": "topology images", "label_config": IMAGES}, h)
    image = _png()
    status, report = _upload(b, f"/api/projects/{pets['id']}/import", "cat.png", image, h)
    assert status == 201, report
    status, tasks = call(a, "GET", f"/api/tasks?project={pets['id']}", headers=h)
    url = tasks["tasks"][0]["data"]["image"]
    status, served = _get_bytes(a, url, h)
    assert (status, served) == (200, image)

    # annotators on both servers; server A is killed while they work
    people = [make_user(f"ann{i}@example.com") for i in range(N_ANNOTATORS)]
    acked: list[int] = []
    stats: Counter = Counter()
    threads = [threading.Thread(target=_annotate, args=(cluster, p.token, i, acked, stats, project["id"]))
               for i, p in enumerate(people)]
    for t in threads:
        t.start()
    while len(acked) < N_TASKS * OVERLAP // 3 and any(t.is_alive() for t in threads):
        time.sleep(0.02)
    cluster.kill("server-a")
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not [k for k in stats if str(k).startswith("error")], stats
    assert stats[a] > 0 and stats[b] > 0 and stats["switched"] > 0, stats

    with get_engine().connect() as conn:
        rows_ = conn.execute(sa.select(Annotation.id, Annotation.task_id, Annotation.user_id)
                             .where(Annotation.project_id == project["id"])).all()
    per_task = Counter(r.task_id for r in rows_)
    assert len(per_task) == N_TASKS and set(per_task.values()) == {OVERLAP}  # never beyond the overlap
    assert len({(r.task_id, r.user_id) for r in rows_}) == len(rows_)  # nobody twice on a task
    assert set(acked) <= {r.id for r in rows_}  # every acknowledged annotation is stored
    # a submit the killed server committed but could not answer is stored, though not acknowledged
    assert len(set(acked)) >= N_TASKS * OVERLAP - N_ANNOTATORS

    # a job through the surviving server: its worker is killed while it runs, a new one takes it over
    big = [{"data": {"text": " ".join(rng.choice(WORDS[t]) for _ in range(6)) + f" ~{i}"},
            "annotations": [{"result": [{"from_name": "topic", "to_name": "text", "type": "choices",
                                         "value": {"choices": [t if rng.random() > 0.1 else
                                                               {"sport": "food", "food": "sport"}[t]]}}]}]}
           for i in range(1500) for t in [("sport", "food")[i % 2]]]
    status, made = call(b, "POST", "/api/projects", {"title": "topology qc", "label_config": CONFIG}, h)
    status, started = call(b, "POST", f"/api/projects/{made['id']}/import", big, h)
    assert status == 202, started  # more rows than the import threshold: a job
    job = _wait_job(b, h, started["job"])
    assert job["status"] == "done", job
    status, qc = call(b, "POST", f"/api/projects/{made['id']}/qc", {}, h)
    assert status == 202, qc
    job_id = qc["job"]["id"]
    owner = _wait_running(job_id)
    victim = next(name for name, proc in cluster.procs.items()
                  if name.startswith("worker") and owner.pid in _group(proc.pid))
    cluster.kill(victim)
    cluster.start("worker-3", "worker", "--processes", "1", "--threads", "2")
    job = _wait_job(b, h, job_id, timeout=240)
    assert job["status"] == "done", job
    with get_engine().connect() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(QualityRun)
                            .where(QualityRun.project_id == made["id"])).scalar_one()
        final_owner = Owner.parse(conn.execute(sa.select(Job.owner).where(Job.id == job_id)).scalar_one())
    assert runs == 1
    assert job["attempts"] == 2 and final_owner.pid != owner.pid


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 20)).save(buf, format="PNG")
    return buf.getvalue()


def _upload(port: int, path: str, name: str, data: bytes, headers: dict) -> tuple[int, object]:
    boundary = "topology-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body,
                     headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _get_bytes(port: int, url: str, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _group(pid: int) -> set[int]:
    root = psutil.Process(pid)
    return {root.pid} | {child.pid for child in root.children(recursive=True)}


def _wait_running(job_id: int, timeout: float = 120) -> Owner:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_engine().connect() as conn:
            status, owner = conn.execute(sa.select(Job.status, Job.owner).where(Job.id == job_id)).one()
        if status == "running" and owner:
            return Owner.parse(owner)
        assert status in ("queued", "running"), status
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not start")


def _wait_job(port: int, headers: dict, job_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = call(port, "GET", f"/api/jobs/{job_id}", headers=headers)
        assert status == 200, job
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.25)
    raise TimeoutError(f"job {job_id} did not end: {job}")
