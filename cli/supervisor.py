"""The supervisor behind `newsmill run`: beat and one worker per kind of queue as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

GRACE_SECONDS = 60.0  # a warm shutdown lets running tasks finish; compose's stop_grace_period matches


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]


def fleet(concurrency_io: int = 16, concurrency_cpu: int | None = None) -> list[Child]:
    """The processes of a one-machine fleet: IO-bound stages on threads, CPU-bound ones on processes."""
    celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
    quiet = ["--loglevel", "INFO", "--without-mingle", "--without-gossip"]
    tag = f"{os.getpid()}"
    cpu = str(concurrency_cpu or os.cpu_count() or 1)
    io = str(concurrency_io)
    return [
        Child("beat", [*celery, "beat", "--loglevel", "INFO"]),
        Child(
            "worker-io",
            [*celery, "worker", "-Q", "feeds,fetch", "-P", "threads", "-c", io, "-n", f"io-{tag}@%h", *quiet],
        ),
        Child(
            "worker-cpu",
            [*celery, "worker", "-Q", "extract,enrich", "-c", cpu, "-n", f"cpu-{tag}@%h", *quiet],
        ),
    ]


class Supervisor:
    """Starts children, watches them, and stops them all together (SIGTERM, then SIGKILL after grace)."""

    def __init__(self, children: Sequence[Child], env: dict[str, str] | None = None) -> None:
        self.children = list(children)
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for child in self.children:
            self.procs[child.name] = subprocess.Popen(child.argv, env=self.env)  # noqa: S603 - our own argv

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
