"""Which process this is, and whether another one on this machine is still alive (ARCHITECTURE.md,
Jobs).

A job being run (:mod:`labeling.jobs.runner`) and a dataset version being written
(:mod:`labeling.datasets`) record their :class:`Owner`: the machine (a digest of its host name,
its boot and its pid namespace, so that two containers of one name, which do not see each
other's pids, are two machines) and the process (its pid, and its start time, so that a pid
reused by a new process is not taken for the owner). On the owner's machine, whether it is alive
is known at once (:func:`alive`): gone, or a zombie, is dead. On another machine nothing can be
known, and callers fall back to time (a stale heartbeat, an old folder).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

#: Start times are compared to within this many seconds: psutil derives them from the boot time
#: the kernel reports, which moves when the clock is stepped. A pid reused within a second of the
#: first process's start is not a case that happens.
START_TOLERANCE_SECONDS = 1.0


@dataclass(frozen=True)
class Owner:
    """A process: ``node`` (this machine's digest), ``pid``, ``started`` (seconds since the epoch)."""

    node: str
    pid: int
    started: float
    host: str = ""  # for people reading the job table; never compared

    def __str__(self) -> str:
        return f"{self.host}~{self.node}/{self.pid}/{self.started:.2f}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """The owner written by ``str(owner)``, or None for anything else (no owner recorded)."""
        m = re.fullmatch(r"(?P<host>[^~/]*)~(?P<node>[0-9a-f]{16})/(?P<pid>\d{1,10})/(?P<started>\d+(?:\.\d+)?)",
                         text or "")
        if m is None:
            return None
        return cls(m["node"], int(m["pid"]), float(m["started"]), m["host"])


def _boot_id() -> str:
    try:  # Linux: a random id per boot, which no clock change moves
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(int(psutil.boot_time()))


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def node() -> str:
    """This machine's digest: host name, boot, pid namespace (16 hex digits)."""
    global _node
    if _node is None:
        key = "\0".join((socket.gethostname(), _boot_id(), _pid_namespace()))
        _node = hashlib.sha256(key.encode()).hexdigest()[:16]
    return _node


_node: str | None = None
_me: Owner | None = None


def me() -> Owner:
    """This process (computed again after a fork: a forked worker is a process of its own)."""
    global _me
    pid = os.getpid()
    if _me is None or _me.pid != pid:
        host = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]
        _me = Owner(node(), pid, round(psutil.Process(pid).create_time(), 2), host)
    return _me


def alive(owner: Owner) -> bool | None:
    """Whether ``owner`` still runs: True or False on this machine, None on another (unknown).

    A pid that is gone, a zombie, or now another process (a different start time) is dead.
    """
    if owner.node != node():
        return None
    try:
        proc = psutil.Process(owner.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - owner.started) <= START_TOLERANCE_SECONDS
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:  # it exists (another user's): not known to be dead
        return True
