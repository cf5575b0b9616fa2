"""Services for a benchmark run: a fresh migrated database and a leased Redis database, like the tests'.

The same servers and the same lease protocol as the tests (harness/shared_services.py), so a
benchmark never flushes a test session's queues and a test session never flushes a benchmark's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

from harness.articles import load_seed_topics as seed_topics
from harness.fleet import loopback_env
from harness.shared_services import REDIS_SERVER, create_database, drop_database, leased_redis_db
from shared.db.connection import apply_migrations

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def fresh_database(prefix: str = "nm_bench") -> Iterator[str]:
    """A new migrated database, dropped when the block ends; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        apply_migrations(url)
        yield url
    finally:
        drop_database(name)


@contextmanager
def leased_redis() -> Iterator[str]:
    """A Redis database no test session or other benchmark uses, empty, for the block; yields its URL."""
    with leased_redis_db(f"newsmill-bench-lease-{uuid.uuid4().hex}") as index:
        url = f"{REDIS_SERVER}/{index}"
        client = redis.Redis.from_url(url)
        client.flushdb()
        try:
            yield url
        finally:
            client.flushdb()
            client.close()


def load_seed_topics(database_url: str) -> int:
    """The editors' starter topics (seeds/topics.yaml), so enrichment tags as it would in production."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return seed_topics(conn)


def fleet_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment of a benchmark fleet: shipped settings, except what a loopback site needs.

    Private addresses are allowed (the site is on 127.0.0.x), the per-host delay is 0 (a real fleet reads
    hundreds of hosts; this site has ten) and beat ticks every second instead of every ten, so the run is not
    timed by a tick. Everything else (pool types, concurrency, limits) is as shipped, except NEWSMILL_
    variables set for the benchmark itself (`NEWSMILL_EXTRACT_FAST=true python -m bench`), which the fleet gets
    too (its own database and Redis URLs aside)."""
    ours = ("NEWSMILL_DATABASE_URL", "NEWSMILL_REDIS_URL")
    chosen = {k: v for k, v in os.environ.items() if k.startswith("NEWSMILL_") and k not in ours}
    return loopback_env(database_url, redis_url, **(chosen | extra))


def start_fleet(env: dict[str, str], timeout: float, log: Path) -> subprocess.Popen[bytes]:
    """`newsmill run --until-idle` with the shipped concurrency (16 IO threads, one process per CPU)."""
    argv = [sys.executable, "-m", "cli", "run", "--until-idle", "--timeout", str(int(timeout))]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
