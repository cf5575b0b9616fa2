"""What ops see: the pipeline gauges and status counts from a real database, and the JSON log lines."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import psycopg

from harness.fleet import ROOT
from shared.db import feeds, items, stats
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from shared.logs import PipelineAbortEcho, configure_logging
from shared.metrics import PipelineCollector
from shared.settings import Settings

NOW = datetime.now(UTC)


def _items(conn: psycopg.Connection, n: int) -> list[int]:
    feed, _ = feeds.add_feed(conn, "http://news.example/feed.xml")
    entries = [FeedEntry(f"g{i}", f"http://news.example/{i}", f"http://news.example/{i}", None, None, None, None)
               for i in range(n)]  # fmt: skip
    return items.insert_new_items(conn, feed.id, entries, NOW + timedelta(minutes=5))


def _gauges(collector: PipelineCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.name, tuple(s.labels.values())): s.value for family in collector.collect() for s in family.samples}


def test_waiting_in_progress_retrying_and_failed_per_stage(db: psycopg.Connection, db_url: str, redis_url: str) -> None:
    # The collector reads the real clock: deadlines are set from it here, not from the module's NOW, which a
    # long test session leaves minutes behind.
    now = datetime.now(UTC)
    a, b, c, d = _items(db, 4)
    items.claim(db, a, ItemState.DISCOVERED, now + timedelta(minutes=5))  # a worker is fetching it
    items.claim(db, b, ItemState.DISCOVERED, now + timedelta(minutes=5))
    waits = now + timedelta(minutes=1)
    items.defer(db, b, "timeout", "read timed out", retry_at=waits, sweep_at=waits)  # waits out a timeout
    items.fail(db, c, "http_error", "404")
    items.advance(db, d, ItemState.DISCOVERED, ItemState.FETCHED, now + timedelta(minutes=5))

    by_stage = {s.stage: s for s in stats.stage_stats(db, now)}
    assert (by_stage["fetch"].waiting, by_stage["fetch"].in_progress, by_stage["fetch"].retrying) == (2, 1, 1)
    assert by_stage["fetch"].failed == 1
    assert (by_stage["extract"].waiting, by_stage["extract"].in_progress) == (1, 0)
    # The claim's deadline has passed (the worker died): no longer counted as in progress.
    assert {s.stage: s.in_progress for s in stats.stage_stats(db, now + timedelta(minutes=10))}["fetch"] == 0

    gauges = _gauges(PipelineCollector(db_url, redis_url))
    assert gauges[("newsmill_stage_in_progress", ("fetch",))] == 1
    assert gauges[("newsmill_stage_retrying", ("fetch",))] == 1
    assert gauges[("newsmill_stage_failed", ("fetch",))] == 1
    assert gauges[("newsmill_stage_waiting", ("extract",))] == 1
    assert gauges[("newsmill_queue_depth", ("fetch",))] == 0
    assert gauges[("newsmill_feeds", ())] == 1
    assert gauges[("newsmill_pipeline_lag_seconds", ())] > 0
    assert gauges[("newsmill_publish_queue_batches", ())] == 0
    assert gauges[("newsmill_collector_up", ())] == 1


def test_a_scrape_without_redis_or_postgres_still_answers(db: psycopg.Connection, db_url: str, redis_url: str) -> None:
    _items(db, 1)
    no_redis = _gauges(PipelineCollector(db_url, "redis://127.0.0.1:1/0"))  # nothing listens on port 1
    assert no_redis[("newsmill_collector_up", ())] == 0
    assert no_redis[("newsmill_stage_waiting", ("fetch",))] == 1
    assert not any(name == "newsmill_queue_depth" for name, _ in no_redis)
    no_db = _gauges(PipelineCollector("postgresql://postgres@127.0.0.1:1/none", redis_url))
    assert no_db[("newsmill_collector_up", ())] == 0
    assert no_db[("newsmill_queue_depth", ("extract",))] == 0
    assert not any(name == "newsmill_stage_waiting" for name, _ in no_db)


def test_log_lines_are_json_events_carrying_the_task_ids() -> None:
    script = textwrap.dedent(
        """
        import logging, warnings
        from shared.logs import bind_task_ids, configure_logging, unbind_task_ids
        from shared.settings import Settings

        def fetch_item(item_id: int, *, force: bool = False) -> None:
            logging.getLogger("workers.stages.fetch").warning("slow host\\nsecond line")

        configure_logging(Settings(log_json=True))
        bind_task_ids("newsmill.fetch_item", fetch_item, (42,), {"force": True})
        fetch_item(42)
        logging.getLogger("x").info("explicit", extra={"item_id": 7})
        unbind_task_ids()
        logging.getLogger("x").info("outside a task")
        warnings.warn("a library complains", UserWarning, stacklevel=1)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(events) == 4  # one line per event, multi-line messages included
    first, explicit, outside, warning = events
    assert (first["task"], first["item_id"], first["message"]) == ("newsmill.fetch_item", 42, "slow host\nsecond line")
    assert "force" not in first  # only ids are bound, not every argument
    assert first["level"] == "WARNING"
    assert explicit["item_id"] == 7  # an explicit extra wins over the bound id
    assert "task" not in outside
    assert "item_id" not in outside
    assert warning["name"] == "py.warnings"
    assert "a library complains" in warning["message"]


def test_psycopg_s_echo_of_an_error_raised_in_a_pipeline_is_not_logged() -> None:
    """An error raised inside a pipeline block may make psycopg log a WARNING that the pipeline is aborted,
    which is the same error again: dropped. psycopg's other warnings, and this line for any other error, still
    pass."""
    configure_logging(Settings())
    logger = logging.getLogger("psycopg")
    assert any(isinstance(f, PipelineAbortEcho) for f in logger.filters)

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logger.makeRecord("psycopg", logging.WARNING, __file__, 1, msg, args, None)

    pipeline = object()  # psycopg passes the Pipeline itself; only its repr is used
    echo = record("error ignored terminating %r: %s", pipeline, psycopg.errors.PipelineAborted("pipeline aborted"))
    other = record("error ignored terminating %r: %s", pipeline, psycopg.OperationalError("server closed"))
    unrelated = record("some other warning: %s", psycopg.errors.PipelineAborted("pipeline aborted"))
    assert [logger.filter(r) for r in (echo, other, unrelated)] == [False, True, True]
