"""CPU time and resident memory of a process tree and its helpers, sampled from /proc while a benchmark runs.

Each process is given a role from its command line (beat, worker-io, worker-cpu and its pool, the
supervisor, Postgres backends of the benchmark's database, the fixture site, Redis). A role's CPU is the
last sample of each of its processes minus the first; a process that ends between two samples loses at most
one interval (the total of the whole tree is also taken exactly, from the children's rusage).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the sampler started
    pid: int
    role: str
    cpu: float  # seconds of user + system time so far
    rss: int  # bytes


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, cpu seconds, rss bytes) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # After the command: state(0) ppid(1) ... utime(11) stime(12) ... rss(21), in pages.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far, None if it is gone."""
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def cmdline(pid: int) -> str:
    """A process's command line, '' if it is gone or not on this machine."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def role_of(command: str, is_pool_child: bool) -> str:
    if " beat" in command:
        return "beat"
    if "-Q feeds,fetch" in command:
        return "worker-io"
    if "-Q extract,enrich" in command:
        return "worker-cpu pool" if is_pool_child else "worker-cpu main"
    if " -Q " in command:  # any other worker the fleet grows (webhook deliveries...)
        return "worker-" + command.split(" -Q ", 1)[1].split(maxsplit=1)[0]
    if command.rstrip().endswith("-m cli api"):
        return "api"
    return "supervisor"


def descendants(root: int) -> dict[int, int]:
    """pid → ppid of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))):
            parents[int(name)] = st[0]
    found = {root: parents.get(root, 0)}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found[pid] = ppid
                changed = True
    return found


class Backends:
    """The pids of Postgres backends connected to one database, read through one kept connection."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.dbname = self.conn.info.dbname

    def pids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
        ).fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self.conn.close()


@dataclass
class Sampler:
    """Samples ``root``'s tree and the ``extra`` pids (role → pids, re-read every tick) every ``every`` s."""

    root: int
    extra: Callable[[], dict[str, list[int]]] = dict
    every: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0
    _roles: dict[int, str] = field(default_factory=dict)
    started_at: float = 0.0  # wall-clock time (epoch seconds) of ``Sample.at == 0``

    def __enter__(self) -> Sampler:
        self._started = time.monotonic()
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.every)

    def tick(self) -> None:
        at = time.monotonic() - self._started
        tree = descendants(self.root)
        roles = {}
        for pid, ppid in tree.items():
            cmd = cmdline(pid)
            # A process keeps its first worker role: an exited child waiting to be reaped has no command
            # line, and a just-forked one still has its parent's.
            known = self._roles.get(pid, "supervisor")
            if cmd and known == "supervisor":
                known = role_of(cmd, is_pool_child=ppid in tree and "-Q extract,enrich" in cmdline(ppid))
                self._roles[pid] = known
            roles[pid] = known
        try:
            for role, pids in self.extra().items():
                roles.update(dict.fromkeys(pids, role))
        except psycopg.Error:
            pass  # the database went away at the end of the run
        for pid, role in roles.items():
            if st := _stat(pid):
                self.samples.append(Sample(at, pid, role, st[1], st[2]))

    def cpu_by_role(self, window: tuple[float, float] | None = None) -> dict[str, float]:
        """CPU seconds per role over the run, or between two wall-clock times (epoch seconds)."""
        lo, hi = (-1.0, float("inf")) if window is None else (window[0] - self.started_at, window[1] - self.started_at)
        # Processes already running at the first tick count from there; later ones from their start.
        at_start = {s.pid for s in self.samples if s.at == self.samples[0].at} if self.samples else set()
        first: dict[int, float] = {}
        last: dict[int, Sample] = {}
        for s in self.samples:
            if s.at <= lo or s.pid not in first:
                first[s.pid] = s.cpu if (s.pid in at_start or s.at <= lo) else 0.0
            if s.at <= hi:
                last[s.pid] = s
        totals: dict[str, float] = defaultdict(float)
        for pid, s in last.items():
            totals[s.role] += max(s.cpu - first[pid], 0.0)
        return dict(totals)

    def rss_by_role(self) -> dict[str, list[tuple[float, int]]]:
        """Per role, (time, largest RSS of one of its processes at that time)."""
        by_time: dict[tuple[str, float], int] = defaultdict(int)
        for s in self.samples:
            by_time[s.role, s.at] = max(by_time[s.role, s.at], s.rss)
        series: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for (role, at), rss in sorted(by_time.items(), key=lambda kv: kv[0][1]):
            series[role].append((at, rss))
        return dict(series)
