"""Extract and enrich on one worker: a worker consuming both queues enriches the article in the extract task
(no enrich message at all); a worker consuming only `extract` hands the article to the enrich queue. Real
Celery workers on the test's Redis and database; the task is sent as any producer would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis

from harness.articles import article_html
from harness.fleet import fleet_env
from shared.db import feeds, items, pages
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from shared.urls import canonical_url
from tests.support.broker import send_task
from tests.support.celery_workers import running, wait_for, worker_argv

pytestmark = pytest.mark.e2e
URL = "http://news.example/2024/tram.html"
PARAGRAPHS = [
    "The city council approved the new tram line on Thursday after a debate that lasted well into the night.",
    "Construction will start in spring and the first trams should carry passengers within three years.",
]


def _fetched_item(db: psycopg.Connection) -> int:
    """An item whose page is stored, as the fetch step leaves it."""
    now = datetime.now(UTC)
    feed, _ = feeds.add_feed(db, "http://news.example/feed.xml")
    entry = FeedEntry(URL, URL, canonical_url(URL), "Tram line approved", None, None, None)
    (item_id,) = items.insert_new_items(db, feed.id, [entry], now)
    body = article_html("Tram line approved", PARAGRAPHS).encode()
    with db.transaction():
        pages.save_page(db, item_id, final_url=URL, status=200, content_type="text/html; charset=utf-8", body=body)
        items.advance(db, item_id, ItemState.DISCOVERED, ItemState.FETCHED, now)
    return item_id


def _state(db: psycopg.Connection, item_id: int) -> str:
    item = items.get_item(db, item_id)
    assert item is not None
    return item.state


def test_a_worker_on_both_queues_enriches_in_the_extract_task(
    db_url: str, db: psycopg.Connection, redis_url: str, tmp_path: Path
) -> None:
    item_id = _fetched_item(db)
    log = tmp_path / "worker.log"
    with running(
        worker_argv("extract,enrich", "cpu-test", "-c", "1"),
        fleet_env(db_url, redis_url, NEWSMILL_LOG_LEVEL="DEBUG"),  # DEBUG: Celery's line per task received
        log,
    ):
        send_task(redis_url, "newsmill.extract_items", ([item_id],), "extract")
        wait_for("the article to be published", lambda: _state(db, item_id) == ItemState.PUBLISHED)
    text = log.read_text("utf-8")
    assert "newsmill.extract_items[" in text  # the worker logs the tasks it receives: the check below means something
    assert "newsmill.enrich_items[" not in text
    assert "CPU stages warmed up" in text  # in the parent, before the pool is forked (workers/warmup.py)
    row = db.execute("SELECT language, cursor FROM articles WHERE item_id = %s", (item_id,)).fetchone()
    assert row is not None
    assert row[0] == "en"
    assert row[1] == 1
    # The page's lines count for its host's template, as a separate extract worker records them.
    hosts = db.execute("SELECT host FROM site_template_pages").fetchall()
    assert hosts == [("news.example",)]


def test_a_worker_on_extract_alone_sends_the_article_to_the_enrich_queue(
    db_url: str, db: psycopg.Connection, redis_url: str, tmp_path: Path
) -> None:
    item_id = _fetched_item(db)
    client = redis.Redis.from_url(redis_url)
    with running(
        worker_argv("extract", "extract-test", "-c", "1"), fleet_env(db_url, redis_url), tmp_path / "worker.log"
    ):
        send_task(redis_url, "newsmill.extract_item", (item_id,), "extract")  # as a version before batches sent
        wait_for("the article to be extracted", lambda: _state(db, item_id) == ItemState.EXTRACTED)
        wait_for("the enrich message", lambda: client.llen("enrich") == 1, timeout=10)
    client.close()
    assert _state(db, item_id) == ItemState.EXTRACTED  # nobody consumes `enrich` here
