"""Each stage's own cost: the pipeline steps called one after the other in this process, without Celery.

The same served site, a fresh database with the seed topics and a leased Redis (host gate, robots cache), the
same step functions the tasks call (workers/steps/), in the batches the tasks get, then the search indexing
that follows publication. CPU time of this process per item and stage, the CPU time of the PostgreSQL
backend serving it (the stages' own statements), and wall time (which adds the waits on Postgres, Redis and
the site).
Set beside the fleet's CPU per article, the difference is what running the stages as Celery tasks in several
processes costs: messages, acknowledgements, the prefork pool's pipes, threads contending for the GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import redis
from prometheus_client import REGISTRY

from bench.infra import fresh_database, leased_redis, load_seed_topics
from bench.procs import cmdline, cpu_seconds
from shared.http_client import FetchPolicy, FetchResult, fetch
from shared.politeness import HostGate
from shared.robots import RobotsCache
from shared.settings import Settings
from workers.stages.fetch import fetch_article
from workers.steps.enrich import publish_extraction
from workers.steps.extract import extract_batch
from workers.steps.fetch import fetch_step
from workers.steps.handoff import Handoff
from workers.steps.poll import poll_step
from workers.steps.search_index import index_new_articles

T = TypeVar("T")


class _Clock:
    """CPU and wall seconds summed per stage, and the CPU seconds of the PostgreSQL backend serving them."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.postgres: dict[str, float] = {}
        self.backend: int | None = None  # the connection's server process, when it runs on this machine

    def run(self, stage: str, step: Callable[..., T], *args: Any) -> T:
        """``step(*args, now)``, timed."""
        cpu, wall, server = time.process_time(), time.perf_counter(), self._backend_cpu()
        try:
            return step(*args, datetime.now(UTC))
        finally:
            self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - cpu
            self.wall[stage] = self.wall.get(stage, 0.0) + time.perf_counter() - wall
            if server is not None and (after := self._backend_cpu()) is not None:
                # /proc counts in clock ticks (10 ms): per step that is coarse, summed over hundreds it is not.
                self.postgres[stage] = self.postgres.get(stage, 0.0) + after - server

    def _backend_cpu(self) -> float | None:
        return cpu_seconds(self.backend) if self.backend is not None else None


def _index(conn: psycopg.Connection, _: datetime) -> int:
    return index_new_articles(conn)


def _fetch(conn: psycopg.Connection, ids: list[int], fetcher: Any, s: Settings, now: datetime) -> Handoff:
    return fetch_step(conn, ids, fetcher, s, lambda: now)


def stage_costs(feed_urls: list[str]) -> dict[str, Any]:
    """Poll every feed, then fetch, extract and enrich every new item, each step timed; per-item figures."""
    s = Settings(allow_private_hosts=True, host_min_delay=0)  # as the benchmark fleet runs (bench/infra.py)
    held_before = _lock_held()
    policy = FetchPolicy.from_settings(s)
    clock = _Clock()
    with fresh_database("nm_bench_stages") as db_url, leased_redis() as redis_url:
        load_seed_topics(db_url)
        client = redis.Redis.from_url(redis_url)
        gate, robots = HostGate(client, s.host_min_delay, s.host_max_concurrency), RobotsCache(client, policy)

        def feed_fetcher(url: str, headers: dict[str, str]) -> FetchResult:
            return fetch(url, policy, headers=headers)

        def article_fetcher(url: str) -> FetchResult:
            return fetch_article(url, policy, gate, robots)

        with psycopg.connect(db_url, autocommit=True) as conn:
            # Its server process, read from /proc when it runs here (a PostgreSQL elsewhere has no such pid).
            if "postgres" in cmdline(conn.info.backend_pid):
                clock.backend = conn.info.backend_pid
            conn.execute("INSERT INTO feeds (url) SELECT unnest(%s::text[])", (feed_urls,))
            feed_ids = [int(r[0]) for r in conn.execute("SELECT id FROM feeds ORDER BY id").fetchall()]
            item_ids: list[int] = []
            for feed_id in feed_ids:
                item_ids += clock.run("poll", poll_step, conn, feed_id, feed_fetcher, s).ids
            # In the batches the fleet uses: a feed's items per fetch message, NEWSMILL_EXTRACT_BATCH items per
            # extract message, published where they were extracted (as `newsmill run`'s CPU worker does).
            fetched: list[int] = []
            for start in range(0, len(item_ids), s.fetch_batch):
                chunk = item_ids[start : start + s.fetch_batch]
                fetched += clock.run("fetch", _fetch, conn, chunk, article_fetcher, s).forward
            for start in range(0, len(fetched), s.extract_batch):
                extraction = clock.run("extract", extract_batch, conn, fetched[start : start + s.extract_batch], s)
                clock.run("enrich", publish_extraction, conn, extraction, s)
            clock.run("index", _index, conn)  # what the deliver worker does a beat tick after publication
            row = conn.execute("SELECT count(*) FROM items WHERE state = 'published'").fetchone()
            published = int(row[0]) if row else 0
        client.close()
    n = max(len(item_ids), 1)
    held_s, held_n = (after - before for after, before in zip(_lock_held(), held_before, strict=True))
    units = {stage: len(feed_ids) if stage == "poll" else n for stage in clock.cpu}  # poll: per feed
    return {
        "feeds": len(feed_ids), "items": len(item_ids), "published": published,
        "cpu_ms": {stage: 1000 * v / units[stage] for stage, v in clock.cpu.items()},
        "wall_ms": {stage: 1000 * v / units[stage] for stage, v in clock.wall.items()},
        # Everything this process spent per published article, the polls spread over the items they found.
        "cpu_ms_per_article": 1000 * sum(clock.cpu.values()) / n,
        # The PostgreSQL backend's CPU for the same statements (absent when the server is on another machine).
        "postgres_cpu_ms": {stage: 1000 * v / units[stage] for stage, v in clock.postgres.items()},
        "postgres_cpu_ms_per_article": 1000 * sum(clock.postgres.values()) / n,
        # The deployment-wide publication lock (the cursor counter), held from its grant (then the check for
        # articles published meanwhile) to the commit, once per batch: its hold per article bounds the articles
        # per second of a whole fleet.
        "publish_lock_hold_ms_per_batch": 1000 * held_s / held_n if held_n else 0.0,
        "publish_lock_hold_ms": 1000 * held_s / n,
    }  # fmt: skip


def _lock_held() -> tuple[float, float]:
    """Seconds and times this process held the publication lock so far (its own metric)."""
    labels = {"phase": "hold"}
    total = REGISTRY.get_sample_value("newsmill_publish_lock_seconds_sum", labels) or 0.0
    count = REGISTRY.get_sample_value("newsmill_publish_lock_seconds_count", labels) or 0.0
    return total, count
