"""Per-process resources of a worker: the connection pool, Redis, the HTTP policy; created after fork."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
import redis
from psycopg_pool import ConnectionPool

from shared.http_client import FetchPolicy, FetchResult, fetch
from shared.politeness import HostGate
from shared.robots import RobotsCache
from shared.settings import get_settings
from workers.stages.fetch import fetch_article

_lock = threading.Lock()
_pool: ConnectionPool | None = None
_redis: redis.Redis | None = None
_robots: RobotsCache | None = None


def reset() -> None:
    """Forget everything inherited from a parent process (called in each new worker process)."""
    global _pool, _redis, _robots
    _pool, _redis, _robots = None, None, None


def _get_pool() -> ConnectionPool:
    global _pool  # noqa: PLW0603
    with _lock:
        if _pool is None:
            _pool = ConnectionPool(
                get_settings().database_url, min_size=1, max_size=32, open=True,
                kwargs={"autocommit": True, "application_name": "newsmill-worker"},
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


def fetch_policy() -> FetchPolicy:
    return FetchPolicy.from_settings(get_settings())


def feed_fetcher(url: str, headers: Mapping[str, str]) -> FetchResult:
    return fetch(url, fetch_policy(), headers=headers)


def article_fetcher(url: str) -> FetchResult:
    global _robots  # noqa: PLW0603
    s = get_settings()
    gate = HostGate(redis_client(), s.host_min_delay, s.host_max_concurrency)
    if s.respect_robots and _robots is None:
        _robots = RobotsCache(redis_client(), fetch_policy())
    return fetch_article(url, fetch_policy(), gate, _robots if s.respect_robots else None)
