"""Prometheus metrics: per-stage counters and latencies from workers, pipeline gauges from Postgres/Redis.

Labels stay low-cardinality: stage, outcome, queue. Never a URL or an id. Every name here is documented in
docs/operations.md, and the Grafana dashboard and alert rules in deploy/monitoring/ use only these names
(tests/test_deploy.py checks both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared.db import stats

log = logging.getLogger(__name__)

STAGE_STARTED = Counter(
    "newsmill_stage_started_total", "Units of stage work begun (an item, a feed, a subscription); retries count again.",
    ["stage"],
)  # fmt: skip
STAGE_ITEMS = Counter("newsmill_stage_items_total", "Items leaving a stage, by outcome.", ["stage", "outcome"])
STAGE_SECONDS = Histogram(
    "newsmill_stage_seconds", "Time spent in one stage step (one feed; one batch of items).", ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
FEED_POLLS = Counter("newsmill_feed_polls_total", "Feed polls, by outcome.", ["outcome"])
# Publication is serialised deployment-wide (the duplicate lock and the cursor): how long an article waits for
# it and holds it bounds the articles per second of the whole fleet, whatever the number of workers.
PUBLISH_LOCK_SECONDS = Histogram(
    "newsmill_publish_lock_seconds", "Time a batch waits for, then holds, the publication lock.", ["phase"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
PUBLISH_RETRIES = Counter(
    "newsmill_publish_retries_total",
    "Batches the publication sequencer sent back and that were queued again (or, the second time, published "
    "with the recheck under the lock), because an article sharing text with the batch was published meanwhile.",
)
EXTRACTIONS = Counter(
    "newsmill_extractions_total",
    "Pages that yielded text, by what trafilatura ran on (the page's article container, or the whole page) and "
    "its mode.",
    ["scope", "mode"],
)
# The broker queues whose depth is reported (workers.app declares them; a test keeps the two in step).
QUEUES = ("feeds", "fetch", "extract", "enrich", "deliver")


@contextmanager
def stage_run(stage: str, units: int = 1) -> Iterator[None]:
    """One step of a stage's work over ``units`` units (a feed polled; a batch of items fetched, extracted or
    enriched): the units counted as started, the step timed. Counted here, where the work begins, not per
    Celery task: a poll message carries several feeds, an extract message a batch of items."""
    STAGE_STARTED.labels(stage).inc(units)
    with STAGE_SECONDS.labels(stage).time():
        yield


class PipelineCollector(Collector):
    """Gauges read at scrape time: queue depth, items by stage, pipeline lag, feed health.

    A scrape while Postgres or Redis is away still answers, with ``newsmill_collector_up`` 0 and without
    the gauges it could not read, so the alert says "database unreachable" rather than "beat down"."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = 1.0
        try:
            yield from self._queues()
        except redis.RedisError as exc:
            log.warning("metrics: Redis unreachable", extra={"error": str(exc)})
            up = 0.0
        try:
            yield from self._pipeline(datetime.now(UTC))
        except psycopg.Error as exc:
            log.warning("metrics: PostgreSQL unreachable", extra={"error": str(exc)})
            up = 0.0
        yield GaugeMetricFamily("newsmill_collector_up", "1 when Postgres and Redis both answered this scrape.", up)

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("newsmill_queue_depth", "Messages waiting in a broker queue.", labels=["queue"])
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            for queue in QUEUES:
                depth.add_metric([queue], float(client.llen(queue)))
        finally:
            client.close()
        yield depth

    def _pipeline(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as conn:
            stages = stats.stage_stats(conn, now)
            view = stats.overview(conn, now)
        families = {
            "waiting": GaugeMetricFamily("newsmill_stage_waiting", "Items waiting for a stage.", labels=["stage"]),
            "in_progress": GaugeMetricFamily(
                "newsmill_stage_in_progress", "Items a worker is working on now.", labels=["stage"]
            ),
            "retrying": GaugeMetricFamily(
                "newsmill_stage_retrying", "Items waiting out a transient failure.", labels=["stage"]
            ),
            "failed": GaugeMetricFamily("newsmill_stage_failed", "Items a stage gave up on.", labels=["stage"]),
        }
        oldest = GaugeMetricFamily(
            "newsmill_stage_oldest_seconds", "Age of the oldest item waiting for a stage.", labels=["stage"]
        )
        for s in stages:
            for field, family in families.items():
                family.add_metric([s.stage], float(getattr(s, field)))
            oldest.add_metric([s.stage], s.oldest_age_seconds or 0.0)
        yield from families.values()
        yield oldest
        yield GaugeMetricFamily(
            "newsmill_pipeline_lag_seconds", "Age of the oldest item not yet published.", view.pipeline_lag_seconds
        )
        yield GaugeMetricFamily(
            "newsmill_publish_queue_batches",
            "Batches committed by publishers and not yet given cursors (publish_queue).",
            view.batches_awaiting_publication,
        )
        yield GaugeMetricFamily("newsmill_feeds", "Feeds registered.", view.feeds_total)
        yield GaugeMetricFamily("newsmill_feeds_due", "Feeds due for a poll now.", view.feeds_due)
        yield GaugeMetricFamily("newsmill_feeds_failing", "Feeds whose last poll failed.", view.feeds_failing)
        yield GaugeMetricFamily(
            "newsmill_feeds_failing_over_a_day", "Failing feeds without a success for a day.",
            view.feeds_failing_over_a_day,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "newsmill_articles_published_last_hour", "Articles published in the last hour.", view.published_last_hour
        )


def serve_worker_metrics(port: int) -> None:
    """Serve this worker's metrics, summed over its pool processes."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, registry=registry)


def serve_pipeline_metrics(port: int, database_url: str, redis_url: str) -> None:
    """Serve the pipeline gauges (from the single beat, so they are scraped once)."""
    registry = CollectorRegistry()
    registry.register(PipelineCollector(database_url, redis_url))
    start_http_server(port, registry=registry)
