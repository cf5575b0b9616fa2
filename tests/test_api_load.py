"""Many concurrent readers: every request is answered, none starves for a database connection.

Behaviour, not speed: with a sync dependency waiting for the pool inside the worker threads, more than about
40 concurrent requests deadlocked the service (the threads that held connections could not get a thread to
finish on), and every request ended in a pool timeout. Timings live in bench/ (docs/performance.md)."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from tests.support.api_data import publish_corpus
from tests.support.api_server import serve_api

CONCURRENT = 150


async def _hammer(base: str, paths: list[str]) -> list[int]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(*(client.get(path) for path in paths))
    return [r.status_code for r in responses]


def test_concurrent_feed_and_article_requests_are_all_served(db_url: str, db: psycopg.Connection) -> None:
    publish_corpus(db)
    paths = ["/topics/ukraine-war.atom", "/topics/ukraine-war.json", "/articles?limit=5", "/topics"]
    with serve_api(db_url) as base:
        statuses = asyncio.run(_hammer(base, [paths[i % len(paths)] for i in range(CONCURRENT)]))
        after = httpx.get(f"{base}/readyz", timeout=30).status_code  # and it is still healthy afterwards
    assert statuses == [200] * CONCURRENT
    assert after == 200
