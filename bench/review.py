"""End-to-end quality of the QC loop: import -> QC run -> review queue -> export of accepted items.

Against a real ``labelfab serve`` on a fresh DATA_DIR (SQLite, stub broker: the QC job runs in
the server process), everything through the REST API as a user would:

(a) ``single``: scikit-learn's digits rendered as PNG images with Pillow, ``--flip`` (10%) of the
    labels flipped at random to another class, imported as an ImageFolder (``labelfab import``);
    a QC run (``POST /api/projects/ID/qc``); a simulated reviewer who always answers correctly
    works the review queue (``GET .../review/next``, ``POST /api/tasks/ID/review``: keep when
    the given label is right, relabel to the truth otherwise); the accepted items are exported
    (``GET .../export?exportType=JSONL``). Reports the share of items reviewed, the accuracy of
    the exported labels against the truth, and the share of items exported.
    Targets: accuracy >= 0.995, reviewed <= 15%, exported >= 97% (raw labels: 0.90).
(b) ``crowd``: the same images imported without labels; five simulated annotators of accuracy
    0.95, 0.85, 0.75, 0.60 and 0.50 label through ``GET /api/projects/ID/next`` and
    ``POST /api/tasks/ID/annotations``, three per item (more where QC's dynamic overlap asks
    for them); QC runs until no task waits for annotators; the reviewer works the queue; export.
    Target: exported accuracy >= 0.99.

Usage::

    python bench/review.py [--items 1797] [--flip 0.1] [--seed 0] [--parts single,crowd]

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ANNOTATOR_ACCURACY as ACCURACIES
from common import BIN, ROOT, Server

CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          + "".join(f'<Choice value="{d}"/>' for d in range(10)) + "</Choices></View>")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def result_of(name: str) -> list[dict]:
    return [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [name]}}]


# --------------------------------------------------------------------------- data


def render_digits(folder: Path, *, n: int, flip: float, seed: int, labeled: bool) -> dict[str, str]:
    """Write ``n`` digits as 64x64 PNGs; returns the truth by the file name the task keeps."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))[:n]
    flips = np.zeros(n, dtype=bool)
    flips[rng.choice(n, size=round(flip * n), replace=False)] = True  # exactly this share, at random
    truth = {}
    for pos, i in enumerate(sorted(order.tolist())):
        true = int(digits.target[i])
        given = true
        if labeled and flips[pos]:
            given = int(rng.choice([c for c in range(10) if c != true]))
        name = f"{given}/digit_{i:04d}.png" if labeled else f"digit_{i:04d}.png"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = (255 - np.clip(digits.images[i], 0, 16) * (255 / 16)).astype(np.uint8)
        Image.fromarray(pixels).resize((64, 64), Image.Resampling.NEAREST).save(path, format="PNG")
        truth[name] = str(true)
    return truth


# --------------------------------------------------------------------------- server and client


class Client:
    """One user's REST session (``Authorization: Token``)."""

    def __init__(self, base: str, token: str):
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = (200, 201, 202)):
        r = self.http.request(method, self.base + path, json=body, timeout=600)
        if r.status_code not in ok:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r


def run_qc(lead: Client, project_id: int) -> dict:
    job = lead.call("POST", f"/api/projects/{project_id}/qc").json()["job"]
    while True:
        job = lead.call("GET", f"/api/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(1)
    if job["status"] != "done":
        raise RuntimeError(f"QC run failed: {job['message']}")
    return job["result"]


def work_review_queue(reviewer: Client, project_id: int, truth_of: dict[int, str]) -> dict:
    """The reviewer who answers correctly: keep a right label, relabel a wrong one to the truth."""
    decisions = {"keep": 0, "relabel": 0}
    while True:
        r = reviewer.call("GET", f"/api/projects/{project_id}/review/next", ok=(200, 404))
        if r.status_code == 404:
            return decisions
        item = r.json()
        task_id = item["task"]["id"]
        truth = truth_of[task_id]
        if item["given"]["label"] == truth:
            body = {"decision": "keep"}
        else:
            body = {"decision": "relabel", "result": result_of(truth), "reason": "the image shows " + truth}
        reviewer.call("POST", f"/api/tasks/{task_id}/review", body)
        decisions[body["decision"]] += 1


def export_accuracy(lead: Client, project_id: int, truth_of: dict[int, str]) -> tuple[int, float, dict]:
    """Items exported (accepted only, the default) and their label accuracy against the truth."""
    text = lead.call("GET", f"/api/projects/{project_id}/export?exportType=JSONL").text
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    right = sum(str(r["label"]) == truth_of[r["id"]] for r in rows)
    sources: dict[str, int] = {}
    for r in rows:
        sources[r["label_source"]] = sources.get(r["label_source"], 0) + 1
    return len(rows), (right / len(rows) if rows else 0.0), sources


def task_truth(project_id: int, truth: dict[str, str]) -> dict[int, str]:
    """Task id -> true label (the harness reads the file names the tasks keep)."""
    from sqlmodel import select

    from labeling.db import read_session
    from labeling.models import Task

    with read_session() as s:
        rows = s.exec(select(Task.id, Task.file_name).where(Task.project_id == project_id)).all()
    return {tid: truth[name] for tid, name in rows}


def states(project_id: int) -> dict[str, int]:
    import sqlalchemy as sa

    from labeling.db import read_session
    from labeling.models import Task

    with read_session() as s:
        return dict(s.execute(sa.select(Task.state, sa.func.count()).where(Task.project_id == project_id)
                              .group_by(Task.state)).all())


# --------------------------------------------------------------------------- the two set-ups


def part_single(server: Server, tokens: dict, env: dict, tmp: Path, args) -> dict:
    lead, reviewer = Client(server.url, tokens["lead"]), Client(server.url, tokens["reviewer"])
    project_id = lead.call("POST", "/api/projects", {"title": "digits (imported labels)",
                                                     "label_config": CONFIG}).json()["id"]
    folder = tmp / "single"
    truth = render_digits(folder, n=args.items, flip=args.flip, seed=args.seed, labeled=True)
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "labelfab"), "import", str(project_id), str(folder), "--as", "lead@bench.local"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import_s = time.perf_counter() - t0
    truth_of = task_truth(project_id, {k: v for k, v in truth.items()})
    n = len(truth_of)
    raw = sum(name.split("/")[0] == t for name, t in truth.items()) / n
    log(f"single: {n} items imported in {import_s:.1f}s; raw label accuracy {raw:.3f}; QC run ...")
    t0 = time.perf_counter()
    qc = run_qc(lead, project_id)
    qc_s = time.perf_counter() - t0
    log(f"single: QC {qc_s:.0f}s: {qc['message']} policy {qc.get('policy', {})}")
    t0 = time.perf_counter()
    decisions = work_review_queue(reviewer, project_id, truth_of)
    review_s = time.perf_counter() - t0
    reviewed = sum(decisions.values())
    exported, accuracy, sources = export_accuracy(lead, project_id, truth_of)
    out = {
        "items": n, "flip_rate": round(1 - raw, 4), "raw_accuracy": round(raw, 4),
        "qc_flagged": qc.get("n_issues"), "qc_model": qc.get("model"), "qc_cv_accuracy": qc.get("cv_accuracy"),
        "reviewed": reviewed, "reviewed_share": round(reviewed / n, 4), "decisions": decisions,
        "exported": exported, "exported_share": round(exported / n, 4),
        "exported_accuracy": round(accuracy, 5), "label_sources": sources, "states": states(project_id),
        "seconds": {"import": round(import_s, 1), "qc": round(qc_s, 1), "review": round(review_s, 1)},
        "targets": {"exported_accuracy": 0.995, "reviewed_share_max": 0.15, "exported_share": 0.97},
    }
    out["ok"] = accuracy >= 0.995 and reviewed / n <= 0.15 and exported / n >= 0.97
    return out


def annotate_round(server: Server, tokens: list[str], accuracies: tuple[float, ...], project_id: int,
                   truth_of: dict[int, str], seed: int, counter: dict) -> int:
    """Every annotator labels (in its own thread) until the router has nothing left for them."""
    done = [0] * len(tokens)

    def work(k: int) -> None:
        me = Client(server.url, tokens[k])
        rng = random.Random(seed * 100 + k + counter["rounds"] * 1000)
        while True:
            r = me.call("GET", f"/api/projects/{project_id}/next", ok=(200, 404))
            if r.status_code == 404:
                return
            task_id = r.json()["id"]
            truth = truth_of[task_id]
            answer = truth if rng.random() < accuracies[k] else rng.choice([str(c) for c in range(10) if str(c) != truth])
            me.call("POST", f"/api/tasks/{task_id}/annotations", {"result": result_of(answer)})
            done[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counter["rounds"] += 1
    return sum(done)


def part_crowd(server: Server, tokens: dict, env: dict, tmp: Path, args) -> dict:
    import sqlalchemy as sa

    from labeling.db import read_session
    from labeling.models import Annotation

    lead, reviewer = Client(server.url, tokens["lead"]), Client(server.url, tokens["reviewer"])
    # overlap 3; the maximum overlap (dynamic overlap's ceiling) defaults to 5
    project_id = lead.call("POST", "/api/projects", {"title": "digits (crowd)", "label_config": CONFIG,
                                                     "maximum_annotations": 3}).json()["id"]
    folder = tmp / "crowd"
    truth = render_digits(folder, n=args.items, flip=0.0, seed=args.seed + 1, labeled=False)
    subprocess.run([str(BIN / "labelfab"), "import", str(project_id), str(folder), "--as", "lead@bench.local"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    truth_of = task_truth(project_id, truth)
    n = len(truth_of)
    counter = {"rounds": 0}
    t0 = time.perf_counter()
    n_ann = annotate_round(server, tokens["annotators"], ACCURACIES, project_id, truth_of, args.seed, counter)
    label_s = time.perf_counter() - t0
    log(f"crowd: {n} items, {n_ann} annotations in {label_s:.0f}s ({n_ann / label_s:.0f}/s); QC run ...")
    qc_runs, more, qc_s, first = 0, 0, 0.0, None
    while True:
        t0 = time.perf_counter()
        qc = run_qc(lead, project_id)
        qc_s += time.perf_counter() - t0
        qc_runs += 1
        first = first or qc
        policy = qc.get("policy", {})
        log(f"crowd: QC run {qc_runs}: {qc['message']} policy "
            f"{ {k: v for k, v in policy.items() if k != 'policy'} }")
        if not policy.get("more_annotators") or qc_runs >= 4:
            break
        more += policy["more_annotators"]
        n_ann += annotate_round(server, tokens["annotators"], ACCURACIES, project_id, truth_of, args.seed, counter)
    # majority vote of the raw annotations, for reference
    with read_session() as s:
        votes: dict[int, list[str]] = {}
        for tid, result in s.execute(sa.select(Annotation.task_id, Annotation.result)
                                     .where(Annotation.project_id == project_id, Annotation.was_cancelled == sa.false())):
            votes.setdefault(tid, []).append(result[0]["value"]["choices"][0])
    majority = sum(max(sorted(set(v)), key=v.count) == truth_of[tid] for tid, v in votes.items()) / n
    per_annotator = {}
    with read_session() as s:
        from labeling.models import User

        emails = dict(s.execute(sa.select(User.id, User.email)).all())
        for uid, tid, result in s.execute(sa.select(Annotation.user_id, Annotation.task_id, Annotation.result)
                                          .where(Annotation.project_id == project_id)):
            right, total = per_annotator.get(emails[uid], (0, 0))
            per_annotator[emails[uid]] = (right + (result[0]["value"]["choices"][0] == truth_of[tid]), total + 1)
    t0 = time.perf_counter()
    decisions = work_review_queue(reviewer, project_id, truth_of)
    review_s = time.perf_counter() - t0
    reviewed = sum(decisions.values())
    exported, accuracy, sources = export_accuracy(lead, project_id, truth_of)
    quality = lead.call("GET", f"/api/projects/{project_id}/annotators").json()
    out = {
        "items": n, "annotators": list(ACCURACIES), "annotations": n_ann,
        "annotations_per_item": round(n_ann / n, 3), "more_annotators": more, "qc_runs": qc_runs,
        "majority_vote_accuracy": round(majority, 4),
        "annotator_accuracy": {e: round(r / t, 3) for e, (r, t) in sorted(per_annotator.items())},
        "crowdlab_quality": {q["email"]: q["quality"] for q in sorted(quality, key=lambda q: q["email"])},
        "reviewed": reviewed, "reviewed_share": round(reviewed / n, 4), "decisions": decisions,
        "exported": exported, "exported_share": round(exported / n, 4),
        "exported_accuracy": round(accuracy, 5), "label_sources": sources, "states": states(project_id),
        "seconds": {"labeling": round(label_s, 1), "qc": round(qc_s, 1), "review": round(review_s, 1)},
        "targets": {"exported_accuracy": 0.99},
    }
    out["ok"] = accuracy >= 0.99
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1797, help="digits per part (scikit-learn has 1797)")
    parser.add_argument("--flip", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="single,crowd")
    parser.add_argument("--keep", action="store_true", help="keep the temporary DATA_DIR")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-review-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELFAB_")}
    env.update({"LABELFAB_DATA_DIR": str(tmp / "data"), "LABELFAB_BROKER_URL": "stub://"})
    os.environ.update(env)
    for k in [k for k in os.environ if k.startswith("LABELFAB_") and k not in env]:
        del os.environ[k]
    sys.path.insert(0, str(ROOT))
    from labeling import migrate, users
    from labeling.models import Role

    migrate.upgrade()
    users.create_user("admin@bench.local", role=Role.admin)
    tokens = {"lead": users.create_token(users.create_user("lead@bench.local", role=Role.lead).id),
              "reviewer": users.create_token(users.create_user("reviewer@bench.local", role=Role.reviewer).id),
              "annotators": [users.create_token(users.create_user(f"annotator{k}-acc{a:.2f}@bench.local").id)
                             for k, a in enumerate(ACCURACIES)]}
    server = Server(env, threads=8, log_path=tmp / "data" / "serve.log")
    out: dict = {"bench": "review", "items": args.items, "seed": args.seed}
    t0 = time.perf_counter()
    try:
        parts = [p.strip() for p in args.parts.split(",") if p.strip()]
        if "single" in parts:
            out["single"] = part_single(server, tokens, env, tmp, args)
            log(f"single: {json.dumps(out['single'])}")
        if "crowd" in parts:
            out["crowd"] = part_crowd(server, tokens, env, tmp, args)
            log(f"crowd: {json.dumps(out['crowd'])}")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["ok"] = all(out[p]["ok"] for p in ("single", "crowd") if p in out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
