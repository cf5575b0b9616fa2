"""Running the real fleet (beat + Celery workers, via `newsmill run`) against a test database and Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.processes import inherited_env

ROOT = Path(__file__).resolve().parents[1]


def loopback_env(db_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for fleet processes against local services and a site on 127.0.0.x: private hosts
    allowed, no politeness delay, beat ticking every second; everything else as shipped."""
    env = inherited_env()
    env.update(
        NEWSMILL_DATABASE_URL=db_url,
        NEWSMILL_REDIS_URL=redis_url,
        NEWSMILL_ALLOW_PRIVATE_HOSTS="true",
        NEWSMILL_HOST_MIN_DELAY="0",
        NEWSMILL_DISPATCH_EVERY="1",
        NEWSMILL_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def fleet_env(db_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """``loopback_env`` with short timeouts and fast sweeps, so a test run takes seconds."""
    fast = {"NEWSMILL_HOST_MAX_CONCURRENCY": "8", "NEWSMILL_SWEEP_EVERY": "2", "NEWSMILL_READ_TIMEOUT": "3",
            "NEWSMILL_TOTAL_TIMEOUT": "6"}  # fmt: skip
    return loopback_env(db_url, redis_url, **(fast | extra))


def run_until_idle(env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`newsmill run --until-idle` as a subprocess; returns its completed process (output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", "run", "--until-idle", "--io-concurrency", "8", "--cpu-concurrency", "2",
         "--timeout", str(timeout - 20)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
