"""Import speed, measured end to end; prints one JSON line of figures last.

1. 100,000 text tasks in ONE JSON request to a running ``labelfab serve`` (the real
   server on a fresh SQLite DATA_DIR, or on LABELFAB_BENCH_DATABASE_URL): seconds from sending
   the request until the import is stored (a large import runs as a job: the answer is 202 and
   the import is polled until it is completed), tasks/s, and the server's peak RSS (VmHWM of
   the server's main and worker processes). Target: >= 50,000 tasks/s, peak RSS < 1 GB.
2. 10,000 images (PNG, ImageFolder layout, 10 classes) from a folder through ``labelfab
   import``: images/s of the import, and seconds until the thumbnails are done (the CLI makes
   them in-process with the stub broker) measured from the start of the command.
3. Label Studio 1.23.2 on this machine, in the same run: ``../shared/peers/label-studio.sh``
   starts it, ``ls_bench.py`` imports the same kind of tasks in one request; the ratio of
   tasks/s is reported. If Label Studio cannot be installed or started, the line says so.

Usage: python bench/import.py [--tasks N] [--images N] [--ls-tasks N] [--no-ls]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from common import (
    BIN,
    LEAD_EMAIL,
    PEERS,
    LabelStudioError,
    Server,
    bench_env,
    children,
    cpu_seconds,
    init_with_lead,
    label_studio,
    load_average,
    log,
    peak_rss_mb,
)
from PIL import Image

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>"""
IMAGE_CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image" choice="single">""" + "".join(
    f'<Choice value="c{i}"/>' for i in range(10)) + "</Choices></View>"


def make_images(folder: Path, n: int) -> int:
    """``n`` distinct 48x48 PNGs in ImageFolder layout (c0/ .. c9/); returns the total bytes."""
    rng = np.random.default_rng(7)
    total = 0
    for i in range(n):
        label = f"c{i % 10}"
        (folder / label).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(48, 48), dtype=np.uint8)
        pixels[0, :4] = np.frombuffer(i.to_bytes(4, "big"), dtype=np.uint8)  # distinct content
        path = folder / label / f"img_{i:05d}.png"
        Image.fromarray(pixels).save(path, format="PNG")  # 2-D uint8: mode L
        total += path.stat().st_size
    return total


def bench_labelfab(n_tasks: int, n_images: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-bench-"))
    env = bench_env(tmp / "data", os.environ.get("LABELFAB_BENCH_DATABASE_URL"))
    out: dict = {"database": "postgresql" if "LABELFAB_DATABASE_URL" in env else "sqlite"}
    token = init_with_lead(env)
    headers = {"Authorization": f"Token {token}"}
    server = None
    try:
        server = Server(env, workers=1, log_path=tmp / "server.log")
        url = server.url
        s = requests.Session()
        s.headers.update(headers)
        pid = s.post(url + "/api/projects", json={"title": "bench text", "label_config": CONFIG,
                                                   "maximum_annotations": 1}).json()["id"]
        tasks = [{"data": {"text": f"item {i} some text to label"}} for i in range(n_tasks)]
        body = json.dumps(tasks).encode()
        log(f"labelfab: importing {n_tasks} tasks ({len(body) / 1e6:.1f} MB) in one request")
        server_pids = [server.pid, *children(server.pid)]
        cpu0, load0 = cpu_seconds(server_pids), load_average()
        t0 = time.perf_counter()
        r = s.post(f"{url}/api/projects/{pid}/import", data=body, headers={"Content-Type": "application/json"})
        t_answer = time.perf_counter() - t0
        if r.status_code == 202:
            status_url = url + r.json()["url"] + "?return_task_ids=false"
            while True:
                st = s.get(status_url).json()
                if st["status"] in ("completed", "failed"):
                    break
                time.sleep(0.02)
            t_import = time.perf_counter() - t0
            if st["status"] != "completed":
                raise RuntimeError(f"import failed: {st}")
            count = st["task_count"]
        else:
            r.raise_for_status()
            t_import = t_answer
            count = r.json()["task_count"]
        assert count == n_tasks, (count, n_tasks)
        cpu = cpu_seconds(server_pids) - cpu0
        out.update({
            "text_tasks": n_tasks, "text_import_s": round(t_import, 3),
            "text_tasks_per_s": round(n_tasks / t_import), "text_answer_status": r.status_code,
            "text_answer_s": round(t_answer, 3), "request_mb": round(len(body) / 1e6, 1),
            "server_cpu_s": round(cpu, 2), "load_average_before": load0,
            "server_peak_rss_mb": peak_rss_mb(server.pid),
        })
        log(f"labelfab: {out['text_tasks_per_s']} tasks/s, peak RSS {out['server_peak_rss_mb']} MB")

        if n_images:
            folder = tmp / "images"
            size = make_images(folder, n_images)
            pid_img = s.post(url + "/api/projects", json={"title": "bench images", "label_config": IMAGE_CONFIG}).json()["id"]
            log(f"labelfab: importing {n_images} images ({size / 1e6:.1f} MB) with the CLI")
            t0 = time.perf_counter()
            proc = subprocess.run([str(BIN / "labelfab"), "import", str(pid_img), str(folder), "--as",
                                   LEAD_EMAIL], env=env, capture_output=True, text=True)
            t_wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"labelfab import failed: {proc.stderr[-2000:]}")
            m = re.search(r"import #\d+: (\d+) tasks, (\d+) annotations.* in ([0-9.]+) s", proc.stdout)
            n_done, n_ann, t_imp = int(m.group(1)), int(m.group(2)), float(m.group(3))
            assert n_done == n_images and n_ann == n_images, proc.stdout
            thumbs = sum(1 for _ in (tmp / "data" / "media" / "thumbs").rglob("*.jpg"))
            out.update({
                "images": n_images, "image_mb": round(size / 1e6, 1), "image_import_s": round(t_imp, 2),
                "images_per_s": round(n_images / t_imp, 1), "cli_until_thumbnails_done_s": round(t_wall, 2),
                "thumbnails": thumbs,
            })
            log(f"labelfab: {out['images_per_s']} images/s; thumbnails done after {t_wall:.1f} s")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def bench_label_studio(n_tasks: int) -> dict:
    ls_home = Path(os.environ.get("LS_HOME", Path.home() / ".cache" / "label-studio-peer"))
    try:
        with label_studio(ls_home, " (installs 1.23.2 on first use)") as (ls_url, token):
            log(f"label studio: importing {n_tasks} tasks with ls_bench.py")
            load0 = load_average()
            bench = subprocess.run([str(ls_home / "venv" / "bin" / "python"), str(PEERS / "ls_bench.py"), ls_url,
                                    token, str(n_tasks), "1", "1"], capture_output=True, text=True, timeout=3600)
    except LabelStudioError as e:
        return {"ls_error": str(e)}
    if bench.returncode != 0:
        return {"ls_error": f"ls_bench.py failed: {bench.stderr[-500:]}"}
    figures = json.loads(bench.stdout.strip().splitlines()[-1])
    log(f"label studio: {figures['import_tasks_per_s']} tasks/s")
    return {"ls_version": "1.23.2", "ls_tasks": figures["tasks"], "ls_import_s": figures["import_s"],
            "ls_tasks_per_s": figures["import_tasks_per_s"], "ls_load_average_before": load0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--ls-tasks", type=int, default=10_000, help="tasks Label Studio imports in one request")
    ap.add_argument("--no-ls", action="store_true", help="skip Label Studio")
    args = ap.parse_args()
    figures = {"bench": "import"}
    figures.update(bench_labelfab(args.tasks, args.images))
    if not args.no_ls:
        figures.update(bench_label_studio(args.ls_tasks))
        if "ls_tasks_per_s" in figures:
            figures["ratio_tasks_per_s_vs_ls"] = round(figures["text_tasks_per_s"] / figures["ls_tasks_per_s"], 1)
    figures["target_tasks_per_s_met"] = figures["text_tasks_per_s"] >= 50_000
    figures["target_rss_met"] = figures["server_peak_rss_mb"] < 1024
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
