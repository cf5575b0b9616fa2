"""Per-process resources of a worker: the connection pool, Redis, the HTTP policy; created after fork."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
import redis
from psycopg_pool import ConnectionPool

from shared.http_client import FetchPolicy, FetchResult
from shared.politeness import HostGate
from shared.robots import RobotsCache
from shared.settings import get_settings
from workers.stages.fetch import fetch_article, fetch_politely

_lock = threading.Lock()
_pool: ConnectionPool | None = None
_redis: redis.Redis | None = None


def reset() -> None:
    """Forget everything inherited from a parent process (called in each new worker process)."""
    global _pool, _redis
    _pool, _redis = None, None
    for built in (fetch_policy, host_gate, _robots):
        built.cache_clear()


def _get_pool() -> ConnectionPool:
    global _pool  # noqa: PLW0603
    with _lock:
        if _pool is None:
            # Checked on checkout: after a PostgreSQL restart a pooled connection is dead, and a step would fail
            # on it once per pooled connection before the pool noticed (a batch costs one round trip more).
            _pool = ConnectionPool(
                get_settings().database_url, min_size=1, max_size=32, open=True,
                kwargs={"autocommit": True, "application_name": "newsmill-worker"},
                check=ConnectionPool.check_connection,
            )  # fmt: skip
        return _pool


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection; steps open their own transactions."""
    with _get_pool().connection() as conn:
        yield conn


def redis_client() -> redis.Redis:
    global _redis  # noqa: PLW0603
    with _lock:
        if _redis is None:
            _redis = redis.Redis.from_url(get_settings().redis_url)
        return _redis


# Built once per process (two threads racing on the first call may both build one: harmless) and forgotten
# by ``reset`` after a fork.
@functools.cache
def fetch_policy() -> FetchPolicy:
    """The process's fetch policy (its allowlist is parsed from the settings)."""
    return FetchPolicy.from_settings(get_settings())


@functools.cache
def host_gate() -> HostGate:
    """The process's per-host limiter (it registers its Redis scripts)."""
    s = get_settings()
    return HostGate(redis_client(), s.host_min_delay, s.host_max_concurrency, max_penalty=s.max_server_delay)


@functools.cache
def _robots() -> RobotsCache:
    return RobotsCache(redis_client(), fetch_policy(), gate=host_gate(), max_delay=get_settings().max_server_delay)


def feed_fetcher(url: str, headers: Mapping[str, str]) -> FetchResult:
    """A feed poll holds one of its host's slots, like an article fetch: a host with 500 feeds is not
    polled 500 times at once."""
    return fetch_politely(url, fetch_policy(), host_gate(), headers)


def article_fetcher(url: str) -> FetchResult:
    robots = _robots() if get_settings().respect_robots else None
    return fetch_article(url, fetch_policy(), host_gate(), robots)
