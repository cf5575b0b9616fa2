"""A real Celery worker (or beat) as a subprocess for the length of a block, and waiting on what it does."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.fleet import ROOT

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def worker_argv(queues: str, name: str, *pool: str, loglevel: str = "INFO") -> list[str]:
    """`celery worker` on ``queues`` (comma-separated), node ``name@host``; ``pool``: e.g. "-P", "threads"."""
    return [*CELERY, "worker", "-Q", queues, *pool, "-n", f"{name}@%h", "--without-mingle", "--without-gossip",
            "--loglevel", loglevel]  # fmt: skip


@contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(what: str, done: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
