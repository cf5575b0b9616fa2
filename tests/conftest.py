"""Shared fixtures: a freshly migrated PostgreSQL database per test and an isolated Redis database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from shared.db.connection import apply_migrations

FIXTURES = Path(__file__).parent / "fixtures"
# The server CI and developers have; tests create and drop their own databases on it.
ADMIN_URL = os.environ.get("NEWSMILL_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_SERVER = os.environ.get("NEWSMILL_TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
# Databases 1..15 of the server are leased to test sessions (a key in database 0), so two test runs on one
# machine (a developer's and CI's, or several checkouts) never flush each other's queues.
REDIS_TEST_DBS = range(1, 16)


def _url_for(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _drop(dbname: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A migrated database used as the template for every test's own copy."""
    name = f"nm_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    apply_migrations(_url_for(name))
    yield name
    _drop(name)


@pytest.fixture
def db_url(template_db: str) -> Iterator[str]:
    """The URL of a new, migrated, empty database that is dropped after the test."""
    name = f"nm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_db))
        )
    yield _url_for(name)
    _drop(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def redis_db_index() -> Iterator[int]:
    """A Redis database number leased to this test session for its duration."""
    lease = f"newsmill-test-lease-{uuid.uuid4().hex}"
    admin = redis.Redis.from_url(f"{REDIS_TEST_SERVER}/0")
    for index in REDIS_TEST_DBS:
        if admin.set(f"newsmill:test-db:{index}", lease, nx=True, ex=3 * 3600):
            break
    else:
        pytest.fail("every Redis test database (1..15) is leased; delete stale newsmill:test-db:* keys in db 0")
    yield index
    if admin.get(f"newsmill:test-db:{index}") == lease.encode():
        admin.delete(f"newsmill:test-db:{index}")
    admin.close()


@pytest.fixture
def redis_url(redis_db_index: int) -> Iterator[str]:
    """This session's Redis database, emptied before and after the test."""
    url = f"{REDIS_TEST_SERVER}/{redis_db_index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
