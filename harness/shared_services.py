"""Scratch databases and leased Redis databases on the shared servers, for test sessions and benchmarks.

The servers are the ones CI and developers have (NEWSMILL_TEST_ADMIN_URL, NEWSMILL_TEST_REDIS_SERVER).
Redis databases 1..15 are leased (a key ``newsmill:test-db:N`` in database 0), so two runs on one machine
(a developer's tests, CI's, a benchmark) never flush each other's queues.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis
from psycopg import sql

ADMIN_URL = os.environ.get("NEWSMILL_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("NEWSMILL_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
LEASED_DBS = range(1, 16)
LEASE_SECONDS = 3 * 3600


def database_url(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def create_database(dbname: str, template: str | None = None) -> str:
    """Create ``dbname`` (a copy of ``template`` if given); returns its URL."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    if template is not None:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(query)
    return database_url(dbname)


def drop_database(dbname: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@contextmanager
def leased_redis_db(lease: str) -> Iterator[int]:
    """The number of a Redis database leased under ``lease`` (a unique string) for the block."""
    admin = redis.Redis.from_url(f"{REDIS_SERVER}/0")
    try:
        for index in LEASED_DBS:
            if admin.set(f"newsmill:test-db:{index}", lease, nx=True, ex=LEASE_SECONDS):
                break
        else:
            raise RuntimeError(
                "every Redis test database (1..15) is leased; delete stale newsmill:test-db:* keys in db 0"
            )
        try:
            yield index
        finally:
            if admin.get(f"newsmill:test-db:{index}") == lease.encode():
                admin.delete(f"newsmill:test-db:{index}")
    finally:
        admin.close()
