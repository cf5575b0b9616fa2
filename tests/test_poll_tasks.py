"""Poll messages on a real threaded feeds worker: one message polls several feeds, and the one-feed messages
an older dispatcher queued (newsmill.poll_feed) are still polled after an upgrade."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from harness.fleet import fleet_env
from shared.db import feeds
from tests.support.broker import send_task
from tests.support.celery_workers import running, wait_for, worker_argv
from tests.support.http_server import Response, serve

pytestmark = pytest.mark.e2e
RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title></channel></rss>"""


def _polled(db: psycopg.Connection, feed_ids: list[int]) -> bool:
    rows = db.execute("SELECT count(*) FROM feeds WHERE id = ANY(%s) AND last_outcome = 'ok'", (feed_ids,))
    return (rows.fetchone() or (0,))[0] == len(feed_ids)


def test_a_message_polls_several_feeds_and_old_single_feed_messages_still_run(
    db_url: str, db: psycopg.Connection, redis_url: str, tmp_path: Path
) -> None:
    worker = worker_argv("feeds", "feeds-test", "-P", "threads", "-c", "2")
    env = fleet_env(db_url, redis_url, NEWSMILL_DISPATCH_EVERY="3600")  # no dispatcher tick interferes
    with serve() as site, running(worker, env, tmp_path / "worker.log"):
        ids = []
        for n in range(4):
            site.add(f"/feeds/{n}.xml", Response(RSS, 200, {"Content-Type": "application/rss+xml"}))
            ids.append(feeds.add_feed(db, site.url(f"/feeds/{n}.xml"))[0].id)
        send_task(redis_url, "newsmill.poll_feeds", (ids[:3],), "feeds")
        send_task(redis_url, "newsmill.poll_feed", (ids[3],), "feeds")  # as an older dispatcher sent
        wait_for("every feed polled", lambda: _polled(db, ids), timeout=60)
    assert [site.hits(f"/feeds/{n}.xml") for n in range(4)] == [1, 1, 1, 1]
