"""The supervisor behind `newsmill run` and `newsmill demo`: beat, the workers and the API as child processes.

Like a process supervisor (runit, supervisord, systemd's Restart=on-failure), it restarts a child that
dies, after a backoff that doubles with each death (``shared.backoff.exponential``), and gives up only on
repeated failure: a child that dies more than ``RestartPolicy.max_restarts`` times within
``RestartPolicy.window`` seconds. One worker killed by the OOM killer no longer stops the whole fleet.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.backoff import exponential

PR_SET_PDEATHSIG = 1  # linux/prctl.h
GRACE_SECONDS = 60.0  # a warm shutdown lets running tasks finish; compose's stop_grace_period matches
REPORT_EVERY = 30.0  # seconds between two reports of the fleet's state (for `newsmill status`)


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a dead child after ``base`` seconds, doubling with each death in ``window`` up to ``maximum``;
    more than ``max_restarts`` deaths in ``window`` seconds and the supervisor gives up on the fleet."""

    base: float = 1.0
    maximum: float = 60.0
    max_restarts: int = 5
    window: float = 600.0


@dataclass
class ChildRecord:
    """What the supervisor knows about one child: restarts so far and recent deaths."""

    restarts: int = 0
    last_exit_code: int | None = None
    last_restart_at: datetime | None = None
    deaths: list[float] = field(default_factory=list)  # monotonic times within the policy's window
    restart_at: float | None = None  # monotonic time the pending restart is due


def fleet(
    concurrency_io: int = 16,
    concurrency_cpu: int | None = None,
    *,
    api: bool = False,
    beat_schedule: Path | None = None,
) -> list[Child]:
    """The processes of a one-machine fleet: IO-bound stages on threads, CPU-bound ones on processes,
    webhook deliveries on their own worker (a slow receiver never holds up ingestion), and the API."""
    celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
    quiet = ["--loglevel", "INFO", "--without-mingle", "--without-gossip"]
    tag = f"{os.getpid()}"
    cpu = str(concurrency_cpu or os.cpu_count() or 1)
    io = str(concurrency_io)
    children = [
        Child("beat", [*celery, "beat", "--loglevel", "INFO", *(["-s", str(beat_schedule)] if beat_schedule else [])]),
        Child(
            "worker-io",
            [*celery, "worker", "-Q", "feeds,fetch", "-P", "threads", "-c", io, "-n", f"io-{tag}@%h", *quiet],
        ),
        Child(
            "worker-cpu",
            [*celery, "worker", "-Q", "extract,enrich", "-c", cpu, "-n", f"cpu-{tag}@%h", *quiet],
        ),
        Child(
            "worker-deliver",
            [*celery, "worker", "-Q", "deliver", "-P", "threads", "-c", "4", "-n", f"deliver-{tag}@%h", *quiet],
        ),
    ]
    if api:
        children.append(Child("api", [sys.executable, "-m", "cli", "api"]))  # host and port from the settings
    return children


def _die_with_parent() -> None:
    """In a new child, before it runs: ask Linux for SIGTERM when its parent dies. A supervisor killed outright
    (SIGKILL, an OOM kill) would otherwise leave its workers running, consuming the queues of a fleet that is
    gone; their warm shutdown instead finishes the task at hand and stops."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _sweep_group(pgid: int) -> None:
    """Kill whatever is left in a child's process group once the child itself has exited (a pool process
    that outlived its parent would otherwise be an orphan)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def child_env(env: dict[str, str] | None) -> dict[str, str]:
    """A child's environment: ours, without our Prometheus multiprocess folder, so every child collects its
    own metrics (sharing one folder would make each worker's endpoint report its siblings' counts too)."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != "PROMETHEUS_MULTIPROC_DIR"}


class Supervisor:
    """Starts children, restarts those that die (with backoff), and stops them all together (SIGTERM, then
    SIGKILL after grace). ``on_report`` receives ``report()`` at start, after each restart and every
    REPORT_EVERY seconds; ``say`` receives one line per death and restart (default: stderr, or ``log``)."""

    def __init__(
        self,
        children: Sequence[Child],
        env: dict[str, str] | None = None,
        log: Path | None = None,
        *,
        restart: RestartPolicy | None = None,
        on_report: Callable[[dict[str, Any]], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.children = {child.name: child for child in children}
        self.env = env
        self.log = log  # children's output goes here instead of the terminal (the demo's display owns it)
        self.policy = restart or RestartPolicy()
        self.on_report = on_report
        self.say = say or self._say
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.records = {name: ChildRecord() for name in self.children}
        self.failed: list[str] = []  # children that died too often: the supervisor gave up
        self.started_at = datetime.now(UTC)
        self._reported = 0.0
        self._stopping = False

    def _say(self, line: str) -> None:
        if self.log is None:
            print(f"newsmill run: {line}", file=sys.stderr, flush=True)
        else:
            with self.log.open("a", encoding="utf-8") as out:
                out.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} supervisor: {line}\n")

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)
        self._report()

    def _spawn(self, child: Child) -> None:
        out = self.log.open("ab") if self.log else None
        try:
            # Each child leads its own process group: a terminal's Ctrl-C reaches only us, we stop the
            # children in order, and a child's own children (the prefork pool) can be swept with it.
            self.procs[child.name] = subprocess.Popen(  # noqa: S603 - our own argv
                child.argv, env=child_env(self.env), stdout=out, stderr=subprocess.STDOUT if out else None,
                start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads here yet
            )  # fmt: skip
        finally:
            if out:
                out.close()  # the child holds its own descriptor

    def dead(self) -> list[str]:
        """Children not running right now (dead and not yet restarted)."""
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def watch(self) -> list[str]:
        """Notice deaths, restart children whose backoff has passed; returns the children the supervisor gave
        up on (each died more than ``max_restarts`` times within ``window`` seconds): time to stop."""
        now = time.monotonic()
        for name in self.dead():
            record = self.records[name]
            if record.restart_at is None and name not in self.failed:
                self._died(name, record, now)
            if record.restart_at is not None and now >= record.restart_at and not self._stopping:
                record.restart_at = None
                _sweep_group(self.procs[name].pid)  # what the dead child left in its group goes with it
                self._spawn(self.children[name])
                record.restarts += 1
                record.last_restart_at = datetime.now(UTC)
                self.say(f"restarted {name} (restart {record.restarts}, pid {self.procs[name].pid})")
                self._report()
        if now - self._reported >= REPORT_EVERY:
            self._report()
        return list(self.failed)

    def _died(self, name: str, record: ChildRecord, now: float) -> None:
        code = self.procs[name].returncode
        record.last_exit_code = code
        record.deaths = [t for t in record.deaths if now - t < self.policy.window] + [now]
        if len(record.deaths) > self.policy.max_restarts:
            self.failed.append(name)
            self.say(f"{name} exited with code {code}; it died {len(record.deaths)} times within "
                     f"{self.policy.window:g} s: giving up")  # fmt: skip
            return
        delay = exponential(len(record.deaths), self.policy.base, self.policy.maximum)
        record.restart_at = now + delay
        self.say(f"{name} exited with code {code}; restarting it in {delay:g} s")

    def report(self) -> dict[str, Any]:
        """The fleet's state: which child runs, how often each was restarted, how each last exited."""
        return {
            "host": socket.gethostname(), "pid": os.getpid(), "started_at": self.started_at.isoformat(),
            "children": {
                name: {
                    "running": name in self.procs and self.procs[name].poll() is None,
                    "restarts": r.restarts, "last_exit_code": r.last_exit_code,
                    "last_restart_at": r.last_restart_at.isoformat() if r.last_restart_at else None,
                    "given_up": name in self.failed,
                }
                for name, r in self.records.items()
            },
        }  # fmt: skip

    def _report(self) -> None:
        self._reported = time.monotonic()
        if self.on_report is not None:
            self.on_report(self.report())

    def stop(self, grace: float = GRACE_SECONDS) -> dict[str, int]:
        """Warm shutdown of every child; returns their exit codes."""
        self._stopping = True
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            _sweep_group(p.pid)
        return {name: p.returncode for name, p in self.procs.items()}

    def wait_until(self, done: Callable[[], bool], poll_every: float = 1.0, timeout: float | None = None) -> bool:
        """Block, restarting children that die, until ``done()`` is true (True), the supervisor gives up on
        a child or the timeout passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if done():
                return True
            if self.watch() or (deadline is not None and time.monotonic() > deadline):
                return False
            time.sleep(poll_every)
