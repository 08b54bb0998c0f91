"""Helpers shared by the benchmarks in bench/ (not a benchmark: running it does nothing).

Each benchmark starts its own ``labelfab serve`` on a fresh DATA_DIR, sets up users and data,
measures, and prints one JSON line of figures last. What they have in common is here: the
environment of a fresh DATA_DIR, the ``labelfab`` command and short Python snippets run in a
child process, a server on a free port, and the /proc readings (CPU time, peak RSS) the figures
are made of. The scripts import it as ``common`` (``python bench/NAME.py`` puts bench/ first on
``sys.path``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEERS = Path(os.environ.get("LABELFAB_PEERS", ROOT.parent / "shared" / "peers"))
# the simulated annotators of the QC and review benchmarks, best first
ANNOTATOR_ACCURACY = (0.95, 0.85, 0.75, 0.60, 0.50)
LEAD_EMAIL = "bench@example.com"


def log(msg: str) -> None:
    """Progress to stderr (stdout keeps the figures)."""
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> float:
    """The machine's 1-minute load average, rounded to 2 decimals."""
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- environment and children


def bench_env(data_dir: Path | str, database_url: str | None = None) -> dict:
    """The environment of a labelfab on a fresh ``data_dir`` with the stub broker.

    Parameters
    ----------
    data_dir : path
        ``LABELFAB_DATA_DIR`` (SQLite file, media, logs).
    database_url : str, optional
        ``LABELFAB_DATABASE_URL``; empty or None: SQLite in ``data_dir`` (any
        ``LABELFAB_DATABASE_URL`` of this process is left out).

    Returns
    -------
    dict
        A copy of ``os.environ`` with those settings.
    """
    env = {**os.environ, "LABELFAB_DATA_DIR": str(data_dir), "LABELFAB_BROKER_URL": "stub://"}
    env.pop("LABELFAB_DATABASE_URL", None)
    if database_url:
        env["LABELFAB_DATABASE_URL"] = database_url
    return env


def labelfab(env: dict, *args: str) -> str:
    """Run ``labelfab ARGS`` to completion; returns its stdout, raises RuntimeError on failure."""
    out = subprocess.run([str(BIN / "labelfab"), *args], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"labelfab {' '.join(args[:2])} failed: {out.stderr[-2000:]}")
    return out.stdout


def init_with_lead(env: dict, email: str = LEAD_EMAIL) -> str:
    """``labelfab init``, a lead ``email`` (password ``bench-password``) and an API token for them.

    Returns
    -------
    str
        The lead's token.
    """
    labelfab(env, "init")
    labelfab(env, "user", "create", email, "--role", "lead", "--password", "bench-password")
    return labelfab(env, "token", "create", email).strip().splitlines()[-1]


def python_json(env: dict, code: str, *args: str):
    """Run ``python -c CODE ARGS`` in ``env``; returns its last stdout line as JSON (None if silent).

    Raises RuntimeError with the end of stderr when the child fails.
    """
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


_RESET_SCHEMA = """
from labeling.db import get_engine
with get_engine().begin() as conn:
    conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
"""


def reset_schema(env: dict) -> None:
    """Empty the scratch PostgreSQL database of ``env``: DROP SCHEMA public CASCADE, create it again.

    Runs in a child process through :func:`labeling.db.get_engine`, so the URL is read (and
    ``postgresql://`` mapped to the installed driver) as labelfab itself does.
    """
    if not env.get("LABELFAB_DATABASE_URL", "").startswith("postgres"):
        raise ValueError("reset_schema: the environment names no PostgreSQL database")
    python_json(env, _RESET_SCHEMA)


# --------------------------------------------------------------------------- a server


class Server:
    """``labelfab serve`` on a free port of 127.0.0.1, started and waited for (``GET /health``).

    Parameters
    ----------
    env : dict
        Its environment (see :func:`bench_env`).
    workers, threads : int, optional
        ``--workers`` / ``--threads``; left off the command line when None.
    log_path : path, optional
        Where its output goes; default ``DATA_DIR/serve-PORT.log``.
    timeout : float
        Seconds it may take to answer ``/health``; RuntimeError (with the end of its log) if it
        does not, or if it exits first.

    Also a context manager that stops the server on exit.
    """

    def __init__(self, env: dict, *, workers: int | None = None, threads: int | None = None,
                 log_path: Path | str | None = None, timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path or Path(env["LABELFAB_DATA_DIR"]) / f"serve-{self.port}.log")
        self.log = open(self.log_path, "w")  # noqa: SIM115
        cmd = [str(BIN / "labelfab"), "serve", "--port", str(self.port)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"labelfab serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"labelfab serve did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 15 s; closes the log."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- Label Studio, the peer


class LabelStudioError(RuntimeError):
    """Label Studio could not be started; the message says why (it goes into the figures)."""


#: How the benchmarks start Debian's Chromium (headless, as root, on a closed network).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def logged_in_page(base_url: str, email: str, password: str, *, chromium_args: Iterable[str] = ()) -> Iterator:
    """A Playwright page of /usr/bin/chromium on ``base_url``, logged in through the login form as
    ``email``; the browser is closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[*CHROMIUM_ARGS, *chromium_args])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=base_url)
            page.goto("/login")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("load")
            yield page
        finally:
            browser.close()


def ls_pid(port: int) -> int | None:
    """The pid of the Label Studio server listening on ``port`` (from its command line)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"label-studio") for a in args) and b"start" in args and b"--port" in args \
                and args[args.index(b"--port") + 1] == str(port).encode():
            return int(proc.name)
    return None


@contextmanager
def label_studio(ls_home: Path, note: str = "") -> Iterator[tuple[str, str]]:
    """Label Studio 1.23.2 on a free port, started by ``PEERS/label-studio.sh`` with ``LS_HOME=ls_home``.

    Parameters
    ----------
    ls_home : Path
        Its home (virtualenv, data, ``admin.token``, ``server.pid``).
    note : str
        Added to the progress line that names the port.

    Yields
    ------
    (url, token)
        The server's base URL and the admin's API token.

    Raises
    ------
    LabelStudioError
        The script is missing, failed or timed out (30 minutes).

    Notes
    -----
    Other sessions may start their own Label Studio with the same script (and pid file): the
    server this call started is found by its port, and only that one is stopped on exit.
    """
    script = PEERS / "label-studio.sh"
    if not script.exists():
        raise LabelStudioError(f"{script} not found")
    port = free_port()
    log(f"label studio: starting on port {port}{note}")
    try:
        started = subprocess.run(["bash", str(script), str(port), "1"], capture_output=True, text=True,
                                 timeout=1800, env=dict(os.environ, LS_HOME=str(ls_home)))
    except subprocess.TimeoutExpired:
        raise LabelStudioError("label-studio.sh timed out") from None
    pid = ls_pid(port)
    try:
        if started.returncode != 0:
            raise LabelStudioError(f"label-studio.sh failed: {(started.stderr or started.stdout)[-500:]}")
        yield started.stdout.strip().splitlines()[-1], (ls_home / "admin.token").read_text().strip()
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            pid_file = ls_home / "server.pid"
            if pid_file.exists() and pid_file.read_text().strip() == str(pid):
                pid_file.unlink()


# --------------------------------------------------------------------------- /proc readings


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out.extend(int(c) for c in task.read_text().split())
        except FileNotFoundError:
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children(p))
    return pids


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time used so far by the processes ``pids`` (from /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time (all cores, not idle or waiting for I/O) the whole machine has used so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def hwm_kib(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS (VmHWM) of ``pid`` and its direct children, in MB, 1 decimal."""
    return round(max(hwm_kib(p) for p in [pid, *children(pid)]) / 1024, 1)


# --------------------------------------------------------------------------- data


def flip_labels(y, rate: float, n_classes: int, seed: int):
    """Flip round(rate * n) labels, chosen at random, to a random *other* class.

    Parameters
    ----------
    y : np.ndarray of int
        The true labels, ``0 .. n_classes - 1``.
    rate : float
        The share of labels to flip.
    n_classes : int
        Number of classes.
    seed : int
        Seed of the random generator.

    Returns
    -------
    np.ndarray
        A copy of ``y`` with the flips.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    idx = rng.choice(y.size, int(round(rate * y.size)), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, n_classes, idx.size)) % n_classes
    return noisy


def save_digit_png(image, path: Path) -> None:
    """One scikit-learn digit (8x8, values 0..16) as a 32x32 grayscale PNG, ink bright on dark."""
    import numpy as np
    from PIL import Image

    a = np.clip(image / 16.0 * 255.0, 0, 255).astype(np.uint8)
    Image.fromarray(a).resize((32, 32), Image.Resampling.BICUBIC).save(path)
