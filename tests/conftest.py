"""Shared fixtures: a freshly migrated PostgreSQL database per test and an isolated Redis database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from harness.shared_services import (
    REDIS_SERVER,
    create_database,
    drop_database,
    leased_redis_db,
)
from shared.db.connection import apply_migrations

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """A migrated database used as the template for every test's own copy."""
    name = f"nm_tpl_{uuid.uuid4().hex[:10]}"
    apply_migrations(create_database(name))
    yield name
    drop_database(name)


@pytest.fixture
def db_url(template_db: str) -> Iterator[str]:
    """The URL of a new, migrated, empty database that is dropped after the test."""
    name = f"nm_t_{uuid.uuid4().hex[:12]}"
    yield create_database(name, template=template_db)
    drop_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def redis_db_index() -> Iterator[int]:
    """A Redis database number leased to this test session for its duration."""
    with leased_redis_db(f"newsmill-test-lease-{uuid.uuid4().hex}") as index:
        yield index


@pytest.fixture
def redis_url(redis_db_index: int) -> Iterator[str]:
    """This session's Redis database, emptied before and after the test."""
    url = f"{REDIS_SERVER}/{redis_db_index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
