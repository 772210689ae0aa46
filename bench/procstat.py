"""CPU time of processes, read from /proc (Linux) without psutil.

A process's utime/stime cover all its threads. When a process reaps a child, the
child's time moves into the parent's cutime/cstime, so summing
utime + stime + cutime + cstime over the live members of a process group stays
monotonic while workers come and go (django-q2 recycles them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Stat:
    pid: int
    pgrp: int
    own: float  # utime + stime, seconds
    children: float  # cutime + cstime (reaped children), seconds


def read_stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid pgrp ..." — comm may hold spaces and parentheses.
    rest = raw[raw.rfind(")") + 2 :].split()
    try:
        utime, stime, cutime, cstime = (int(v) for v in rest[11:15])
        return Stat(pid=pid, pgrp=int(rest[2]), own=(utime + stime) / TICK, children=(cutime + cstime) / TICK)
    except (IndexError, ValueError):
        return None


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except FileNotFoundError:
        return []


def available() -> bool:
    return read_stat(os.getpid()) is not None


def process_cpu(pid: int) -> float:
    """Seconds of CPU used by one process (all threads) so far; 0.0 once it is gone."""
    stat = read_stat(pid)
    return stat.own if stat else 0.0


def group_cpu(pgrp: int) -> tuple[float, int]:
    """(seconds of CPU, live processes) of every process in process group `pgrp`, reaped children included."""
    total, count = 0.0, 0
    for pid in _pids():
        stat = read_stat(pid)
        if stat is not None and stat.pgrp == pgrp:
            total += stat.own + stat.children
            count += 1
    return total, count


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def postgres_backends(database: str, *, exclude: set[int] = frozenset()) -> dict[int, float]:
    """{pid: CPU seconds} of the local PostgreSQL backends serving `database` (by process title).

    Only live backends are seen: a connection closed in between takes its CPU with
    it, so a delta over these is a lower bound.
    """
    found: dict[int, float] = {}
    needle = f" {database} "
    for pid in _pids():
        if pid in exclude:
            continue
        title = cmdline(pid)
        if title.startswith("postgres:") and needle in f"{title} ":
            stat = read_stat(pid)
            if stat is not None:
                found[pid] = stat.own
    return found


def backends_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
