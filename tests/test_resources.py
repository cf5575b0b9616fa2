"""A worker's pooled connections survive the database dropping them (a PostgreSQL restart, an idle timeout)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from shared.settings import get_settings
from workers import resources


@pytest.fixture
def worker_pool(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    resources.reset()
    yield
    pool = resources._pool
    if pool is not None:
        pool.close()
    resources.reset()
    get_settings.cache_clear()


@pytest.mark.usefixtures("worker_pool")
def test_a_connection_the_server_dropped_is_replaced_at_checkout(db: psycopg.Connection) -> None:
    with resources.connection() as conn:
        pid = conn.info.backend_pid
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))  # what a restart does to every pooled connection
    with resources.connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.backend_pid != pid
