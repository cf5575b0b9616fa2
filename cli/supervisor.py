"""The supervisor behind `newsmill run` and `newsmill demo`: beat, the workers and the API as child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 60.0  # a warm shutdown lets running tasks finish; compose's stop_grace_period matches


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]


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
    """Starts children, watches them, and stops them all together (SIGTERM, then SIGKILL after grace)."""

    def __init__(self, children: Sequence[Child], env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.children = list(children)
        self.env = env
        self.log = log  # children's output goes here instead of the terminal (the demo's display owns it)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        out = self.log.open("ab") if self.log else None
        try:
            for child in self.children:
                # Each child leads its own process group: a terminal's Ctrl-C reaches only us, we stop the
                # children in order, and a child's own children (the prefork pool) can be swept with it.
                self.procs[child.name] = subprocess.Popen(  # noqa: S603 - our own argv
                    child.argv, env=child_env(self.env), stdout=out, stderr=subprocess.STDOUT if out else None,
                    start_new_session=True,
                )  # fmt: skip
        finally:
            if out:
                out.close()  # each child holds its own descriptor

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def stop(self, grace: float = GRACE_SECONDS) -> dict[str, int]:
        """Warm shutdown of every child; returns their exit codes."""
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
        """Block until ``done()`` is true (True), a child dies or the timeout passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if done():
                return True
            if self.dead() or (deadline is not None and time.monotonic() > deadline):
                return False
            time.sleep(poll_every)
