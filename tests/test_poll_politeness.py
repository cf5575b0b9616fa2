"""Feed polls take a slot of their host's limiter like article fetches: twenty feeds of one host polled at
once by eight threads reach it NEWSMILL_HOST_MIN_DELAY apart; the others are deferred, not failed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import redis

from shared.db import feeds
from shared.politeness import HostGate
from shared.settings import Settings
from tests.support.hostile_cases import hostile_policy
from tests.support.hostile_reliability import RSS_TYPE, rss
from tests.support.hostile_server import hostile, respond
from workers.stages.fetch import fetch_politely
from workers.steps.poll import MIN_BUSY_WAIT, poll_step

S = Settings()
POLICY = hostile_policy()
MIN_DELAY = 2.0
FEEDS = 20


def test_polls_of_one_host_are_spaced_and_a_busy_host_defers_without_a_failure(db_url: str, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    gate = HostGate(client, MIN_DELAY, 2, max_penalty=S.max_server_delay)
    with hostile() as (server, _canary), psycopg.connect(db_url, autocommit=True) as db:
        ids = []
        for n in range(FEEDS):
            body = rss([(f"Story {n}", f"http://news.example/{n}")])
            url = server.add(f"/feeds/{n}.xml", respond(200, body, {"Content-Type": RSS_TYPE}))
            ids.append(feeds.add_feed(db, url)[0].id)
        now = datetime.now(UTC)

        def poll(feed_id: int) -> str:
            with psycopg.connect(db_url, autocommit=True) as conn:
                return poll_step(conn, feed_id, lambda u, h: fetch_politely(u, POLICY, gate, h), S, now).outcome

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(poll, ids))
        elapsed = time.monotonic() - started
        fetched = len(server.paths)
        rows = [feeds.get_feed(db, i) for i in ids]
    client.close()
    # Without the limiter all twenty arrived within milliseconds (849 of 1,069 polls < 0.1 s apart).
    assert 1 <= fetched <= 1 + elapsed // MIN_DELAY
    assert outcomes.count("ok") == fetched
    assert outcomes.count("host_busy") == FEEDS - fetched
    for row, outcome in zip(rows, outcomes, strict=True):
        assert row is not None
        assert row.consecutive_failures == 0
        if outcome == "host_busy":  # deferred: due again once the host's spacing has passed, not polled
            assert row.last_polled_at is None
            assert now + timedelta(seconds=MIN_BUSY_WAIT) <= row.next_poll_at <= now + timedelta(seconds=MIN_DELAY)
