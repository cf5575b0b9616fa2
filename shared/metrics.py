"""Prometheus metrics: per-stage counters and latencies from workers, pipeline gauges from Postgres/Redis.

Labels stay low-cardinality: stage, outcome, queue, state. Never a URL or an id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared.db import stats

STAGE_ITEMS = Counter("newsmill_stage_items_total", "Items leaving a stage, by outcome.", ["stage", "outcome"])
STAGE_SECONDS = Histogram(
    "newsmill_stage_seconds", "Time spent in one stage step.", ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
FEED_POLLS = Counter("newsmill_feed_polls_total", "Feed polls, by outcome.", ["outcome"])
QUEUES = ("feeds", "fetch", "extract", "enrich")


class PipelineCollector(Collector):
    """Gauges read at scrape time: queue depth, items by stage, pipeline lag, feed health."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url = database_url
        self.redis_url = redis_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        depth = GaugeMetricFamily("newsmill_queue_depth", "Messages waiting in a broker queue.", labels=["queue"])
        client = redis.Redis.from_url(self.redis_url)
        try:
            for queue in QUEUES:
                depth.add_metric([queue], float(client.llen(queue)))
        finally:
            client.close()
        yield depth
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            stages = stats.stage_stats(conn, now)
            view = stats.overview(conn, now)
        waiting = GaugeMetricFamily("newsmill_stage_waiting", "Items waiting for a stage.", labels=["stage"])
        failed = GaugeMetricFamily("newsmill_stage_failed", "Items a stage gave up on.", labels=["stage"])
        for s in stages:
            waiting.add_metric([s.stage], s.waiting)
            failed.add_metric([s.stage], s.failed)
        yield waiting
        yield failed
        yield GaugeMetricFamily(
            "newsmill_pipeline_lag_seconds",
            "Age of the oldest item not yet published.",
            value=view.pipeline_lag_seconds,
        )
        yield GaugeMetricFamily("newsmill_feeds_failing", "Feeds whose last poll failed.", value=view.feeds_failing)
        yield GaugeMetricFamily("newsmill_feeds_due", "Feeds due for a poll now.", value=view.feeds_due)


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
