"""Services for a benchmark run: a fresh migrated database and a leased Redis database, like the tests'.

The same servers and the same lease protocol as tests/conftest.py (NEWSMILL_TEST_ADMIN_URL,
NEWSMILL_TEST_REDIS_SERVER, lease keys ``newsmill:test-db:N`` in Redis database 0), so a benchmark never
flushes a test session's queues and a test session never flushes a benchmark's.
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
import yaml
from psycopg import sql

from shared.db import topics
from shared.db.connection import apply_migrations
from workers.topics import parse_topics

REPO = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("NEWSMILL_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("NEWSMILL_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
LEASE_SECONDS = 3 * 3600


def _url_for(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def fresh_database(prefix: str = "nm_bench") -> Iterator[str]:
    """A new migrated database, dropped when the block ends; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = _url_for(name)
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def leased_redis() -> Iterator[str]:
    """A Redis database no test session or other benchmark uses, empty, for the block; yields its URL."""
    lease = f"newsmill-bench-lease-{uuid.uuid4().hex}"
    admin = redis.Redis.from_url(f"{REDIS_SERVER}/0")
    for index in range(1, 16):
        if admin.set(f"newsmill:test-db:{index}", lease, nx=True, ex=LEASE_SECONDS):
            break
    else:
        raise RuntimeError("every Redis database 1..15 is leased; delete stale newsmill:test-db:* keys in db 0")
    url = f"{REDIS_SERVER}/{index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if admin.get(f"newsmill:test-db:{index}") == lease.encode():
            admin.delete(f"newsmill:test-db:{index}")
        admin.close()


def load_seed_topics(database_url: str) -> int:
    """The editors' starter topics (seeds/topics.yaml), so enrichment tags as it would in production."""
    document = yaml.safe_load((REPO / "seeds" / "topics.yaml").read_text(encoding="utf-8"))
    parsed = parse_topics(document)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for t in parsed:
            topics.upsert_topic(conn, t.slug, t.name, t.description, t.rules())
    return len(parsed)


def fleet_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment of a benchmark fleet: shipped settings, except what a loopback site needs.

    Private addresses are allowed (the site is on 127.0.0.x), the per-host delay is 0 (a real fleet reads
    hundreds of hosts; this site has ten) and beat ticks every second instead of every ten, so the run is not
    timed by a tick. Everything else (pool types, concurrency, limits) is as shipped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMILL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        NEWSMILL_DATABASE_URL=database_url,
        NEWSMILL_REDIS_URL=redis_url,
        NEWSMILL_ALLOW_PRIVATE_HOSTS="true",
        NEWSMILL_HOST_MIN_DELAY="0",
        NEWSMILL_DISPATCH_EVERY="1",
        NEWSMILL_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def start_fleet(env: dict[str, str], timeout: float, log: Path) -> subprocess.Popen[bytes]:
    """`newsmill run --until-idle` with the shipped concurrency (16 IO threads, one process per CPU)."""
    argv = [sys.executable, "-m", "cli", "run", "--until-idle", "--timeout", str(int(timeout))]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
