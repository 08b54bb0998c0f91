"""Many annotators at once against a live ``labelfab serve`` (two server processes).

50 annotators with their own tokens, half as threads of this process and half in five client
processes, loop next -> submit until no task is left, at overlap 1 and 3. Meanwhile one client
takes a task and abandons it, and one client process takes a task and is killed. Afterwards:
no task was handed to more annotators than its overlap, every task ends with exactly its
overlap (so the abandoned and the killed client's leases came back when they expired), the
counters agree with the rows, and no lease is left. Runs on this run's database (SQLite by
default, PostgreSQL when LABELFAB_DATABASE_URL is set).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import threading
import time
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa
from sqlmodel import select

from labeling import projects, users
from labeling.db import read_session, utcnow, write_session
from labeling.models import Annotation, Lease, Project, Role, Task, TaskState

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="label" toName="text" choice="single">'
          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
BODY = json.dumps({"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                               "value": {"choices": ["pos"]}}]}).encode()
LEASE_SECONDS = 3
N_ANNOTATORS = 50
DEADLINE = 150  # seconds; the run normally takes a fraction of this


def _request(conn: http.client.HTTPConnection, method: str, path: str, token: str, body: bytes | None = None):
    conn.request(method, path, body=body, headers={"Authorization": f"Token {token}",
                                                   "Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def annotate_until_done(port: int, project_id: int, token: str) -> list[tuple[int, int]]:
    """One annotator: next -> submit until nothing has been left for longer than a lease.

    Returns ``(task_id, submit_status)`` for every task received.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    done: list[tuple[int, int]] = []
    empty_since = None
    stop = time.monotonic() + DEADLINE
    while time.monotonic() < stop:
        status, data = _request(conn, "GET", f"/api/projects/{project_id}/next", token)
        if status == 404:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since > LEASE_SECONDS + 2:
                break
            time.sleep(0.3)
            continue
        assert status == 200, (status, data[:300])
        empty_since = None
        task_id = json.loads(data)["id"]
        status, data = _request(conn, "POST", f"/api/tasks/{task_id}/annotations", token, BODY)
        done.append((task_id, status))
    conn.close()
    return done


def client_process(port: int, project_id: int, tokens: list[str], out) -> None:
    """A client process with one thread per annotator; sends {token: [(task, status)]}."""
    results: dict[str, list] = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, annotate_until_done(port, project_id, t)))
               for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send(results)
    out.close()


def take_and_hang(port: int, project_id: int, token: str, out) -> None:
    """A client that takes a task and then hangs until it is killed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, data = _request(conn, "GET", f"/api/projects/{project_id}/next", token)
    out.send(json.loads(data)["id"] if status == 200 else None)
    time.sleep(3600)


@pytest.fixture
def server():
    # imported here, not at the top: the client processes import this module
    from tests.conftest import LiveServer

    s = LiveServer(workers=2, threads=16)
    yield s
    s.stop()


def _people(n: int, prefix: str) -> list[str]:
    tokens = []
    for i in range(n):
        u = users.create_user(f"{prefix}{i}@example.com", role=Role.annotator)  # no password: fast
        tokens.append(users.create_token(u.id))
    return tokens


@pytest.mark.parametrize("overlap,n_tasks", [(1, 120), (3, 50)])
def test_fifty_annotators_hammering_a_live_server(server, lead, overlap, n_tasks):
    project = projects.create_project(lead.user, title=f"hammer {overlap}", label_config=CONFIG, overlap=overlap)
    now = utcnow()
    with write_session() as s:
        # a short lease, below what project settings accept, so that expiry happens within the test
        s.execute(sa.update(Project).where(Project.id == project.id).values(lease_seconds=LEASE_SECONDS))
        s.execute(sa.insert(Task.__table__), [
            dict(project_id=project.id, data={"text": f"item {i}"}, meta={}, state="open", priority=0.0,
                 requeued=False, target_overlap=overlap, n_annotations=0, n_skips=0, n_leases=0, is_gold=False,
                 created_at=now, updated_at=now) for i in range(n_tasks)])
    tokens = _people(N_ANNOTATORS, "hammer")
    abandoner, victim = _people(1, "abandon")[0], _people(1, "victim")[0]

    ctx = mp.get_context("spawn")
    # the client that will be killed holding a lease
    hang_out, hang_in = ctx.Pipe(duplex=False)
    hanging = ctx.Process(target=take_and_hang, args=(server.port, project.id, victim, hang_in))
    hanging.start()
    killed_task = hang_out.recv()
    hanging.kill()
    hanging.join()
    # the client that takes a task and walks away
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    status, data = _request(conn, "GET", f"/api/projects/{project.id}/next", abandoner)
    abandoned_task = json.loads(data)["id"]
    conn.close()
    assert killed_task is not None and abandoned_task is not None
    assert abandoned_task != killed_task or overlap > 1

    results: dict[str, list] = {}
    in_threads, in_processes = tokens[: N_ANNOTATORS // 2], tokens[N_ANNOTATORS // 2:]
    pipes, procs = [], []
    for i in range(5):
        out, inp = ctx.Pipe(duplex=False)
        p = ctx.Process(target=client_process, args=(server.port, project.id, in_processes[i::5], inp))
        p.start()
        pipes.append(out)
        procs.append(p)
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, annotate_until_done(
        server.port, project.id, t))) for t in in_threads]
    for t in threads:
        t.start()
    for out in pipes:
        results.update(out.recv())
    for t in threads:
        t.join()
    for p in procs:
        p.join(30)

    assert len(results) == N_ANNOTATORS
    # zero duplicate assignments: a task reached at most `overlap` annotators, each at most once
    received: dict[int, list[str]] = defaultdict(list)
    statuses = Counter()
    for token, done in results.items():
        for task_id, status in done:
            received[task_id].append(token)
            statuses[status] += 1
    assert all(len(set(who)) == len(who) for who in received.values())
    assert max(len(who) for who in received.values()) <= overlap
    assert set(statuses) <= {201, 409}, statuses  # 409: a submit after its lease had expired
    # no task lost: every task has exactly its overlap, from different annotators
    with read_session() as s:
        tasks = s.exec(select(Task).where(Task.project_id == project.id)).all()
        per_task = Counter(t for (t,) in s.execute(
            sa.select(Annotation.task_id).where(Annotation.project_id == project.id,
                                                Annotation.was_cancelled.is_(False))))
        leases = s.exec(select(Lease).where(Lease.project_id == project.id)).all()
    assert len(tasks) == n_tasks
    assert all(t.state == TaskState.labeled and t.n_annotations == overlap for t in tasks)
    assert all(per_task[t.id] == overlap for t in tasks)
    assert all(t.n_leases == 0 for t in tasks) and leases == []
    assert statuses[201] == n_tasks * overlap
    # the abandoned and the killed client's tasks came back when their leases expired
    assert len(received[killed_task]) == overlap and len(received[abandoned_task]) == overlap
