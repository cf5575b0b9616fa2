"""Running the real fleet (beat + Celery workers, via `newsmill run`) against a test database and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fleet_env(db_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for fleet processes: test services, private hosts allowed (the test site is on
    127.0.0.1), no politeness delay, and fast ticks so a test run takes seconds."""
    # Each process gets its own metrics folder (see cli.supervisor.child_env).
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMILL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        NEWSMILL_DATABASE_URL=db_url,
        NEWSMILL_REDIS_URL=redis_url,
        NEWSMILL_ALLOW_PRIVATE_HOSTS="true",
        NEWSMILL_HOST_MIN_DELAY="0",
        NEWSMILL_HOST_MAX_CONCURRENCY="8",
        NEWSMILL_DISPATCH_EVERY="1",
        NEWSMILL_SWEEP_EVERY="2",
        NEWSMILL_READ_TIMEOUT="3",
        NEWSMILL_TOTAL_TIMEOUT="6",
        NEWSMILL_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def run_until_idle(env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`newsmill run --until-idle` as a subprocess; returns its completed process (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", "run", "--until-idle", "--io-concurrency", "8", "--cpu-concurrency", "2",
         "--timeout", str(timeout - 20)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
