"""Server-given delays through the real steps, Redis and a hostile server: a Retry-After of a year, a date in
year 9999, twenty nines or five thousand digits never hold a host back past NEWSMILL_MAX_SERVER_DELAY, never
crash a step, and always end as a recorded outcome with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from shared.db import feeds, items
from shared.errors import Outcome, TransientError
from shared.feed_entry import FeedEntry
from shared.politeness import HostGate
from shared.robots import KEY_PREFIX, RobotsCache
from shared.settings import Settings
from tests.support.hostile_cases import hostile_policy
from tests.support.hostile_reliability import HUGE, RETRY_AFTER_BOMBS, hint_bomb_feed, retry_after_routes
from tests.support.hostile_server import HostileServer, hostile, respond
from workers.stages.fetch import DEFAULT_PENALTY, fetch_article, fetch_politely
from workers.steps.fetch import fetch_one
from workers.steps.handoff import MAX_COUNTDOWN, MAX_RETRY_DELAY
from workers.steps.poll import poll_step

S = Settings(max_attempts=5, retry_base_delay=30.0, stuck_after=300, max_server_delay=21_600.0)
POLICY = hostile_policy()
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with hostile() as (srv, _canary):
        yield srv


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    yield conn
    conn.close()


def _gate(client: redis.Redis) -> HostGate:
    return HostGate(client, 0, 2, max_penalty=S.max_server_delay)


def _item(db: psycopg.Connection, url: str) -> int:
    feed, _ = feeds.add_feed(db, f"{url}#feed")
    entry = FeedEntry(None, url, url, None, None, None, None)
    (item_id,) = items.insert_new_items(db, feed.id, [entry], datetime.now(UTC))
    return item_id


def _penalty_seconds(client: redis.Redis) -> float:
    return int(client.pttl(HostGate.keys(HOST)[2])) / 1000


@pytest.mark.parametrize("case", RETRY_AFTER_BOMBS)
def test_an_article_retry_after_is_capped_recorded_and_never_crashes(
    db: psycopg.Connection, client: redis.Redis, server: HostileServer, case: str
) -> None:
    url = retry_after_routes(server, "article")[case]
    gate, now = _gate(client), datetime.now(UTC)
    item_id = _item(db, url)
    step = fetch_one(db, item_id, lambda u: fetch_article(u, POLICY, gate), S, now)
    item = items.get_item(db, item_id)
    assert item is not None
    assert (step.outcome, item.state, item.outcome, item.attempts) == ("rate_limited", "discovered", "rate_limited", 1)
    assert item.retry_at is not None
    penalty = _penalty_seconds(client)
    if case in HUGE:
        assert S.max_server_delay - 60 < penalty <= S.max_server_delay
        assert f"{HOST} held back 21600 s (its Retry-After:" in (item.last_error or "")
        assert item.retry_at == now + timedelta(seconds=MAX_RETRY_DELAY)  # an item's own retries stay hourly
        assert step.ids == []  # no hour-long countdown message: the sweeper brings it back
    else:  # unreadable: as if the server had said nothing
        assert 0 < penalty <= DEFAULT_PENALTY
        assert item.retry_at == now + timedelta(seconds=S.retry_base_delay)
        assert step.ids == [item_id]

    # Every other page of the host now waits out the penalty: no attempt counted, no overflow, no crash.
    other_id = _item(db, server.url("/article/other"))
    busy = fetch_one(db, other_id, lambda u: fetch_article(u, POLICY, gate), S, now)
    other = items.get_item(db, other_id)
    assert other is not None
    assert (busy.outcome, other.outcome, other.attempts) == ("host_busy", "host_busy", 0)
    assert other.retry_at is not None
    assert other.retry_at <= now + timedelta(seconds=penalty + 1)
    assert busy.ids == ([] if penalty > MAX_COUNTDOWN else [other_id])


@pytest.mark.parametrize("case", RETRY_AFTER_BOMBS)
def test_a_feed_retry_after_is_capped_at_the_poll_max_interval(
    db: psycopg.Connection, client: redis.Redis, server: HostileServer, case: str
) -> None:
    url = retry_after_routes(server, "feed", status=503)[case]
    gate, now = _gate(client), datetime.now(UTC)
    feed, _ = feeds.add_feed(db, url)
    step = poll_step(db, feed.id, lambda u, h: fetch_politely(u, POLICY, gate, h), S, now)
    row = feeds.get_feed(db, feed.id)
    assert row is not None
    assert (step.outcome, row.last_outcome, row.consecutive_failures) == ("server_error", "server_error", 1)
    assert row.next_poll_at <= now + timedelta(seconds=S.poll_max_interval)
    if case in HUGE:
        assert row.next_poll_at == now + timedelta(seconds=S.poll_max_interval)
        assert _penalty_seconds(client) <= S.max_server_delay  # the host's articles wait 6 hours at most


def test_cache_control_and_ttl_of_thousands_of_digits_are_clamped(
    db: psycopg.Connection, client: redis.Redis, server: HostileServer
) -> None:
    feed, _ = feeds.add_feed(db, hint_bomb_feed(server))
    now = datetime.now(UTC)
    step = poll_step(db, feed.id, lambda u, h: fetch_politely(u, POLICY, _gate(client), h), S, now)
    row = feeds.get_feed(db, feed.id)
    assert row is not None
    assert (step.outcome, row.last_outcome, len(step.ids)) == ("ok", "ok", 1)
    assert row.next_poll_at == now + timedelta(seconds=S.poll_max_interval)


def test_robots_txt_retry_after_is_capped_and_robots_waits_for_a_busy_host(client: redis.Redis) -> None:
    with hostile() as (srv, _canary):
        srv.add("/robots.txt", respond(429, b"", {"Retry-After": RETRY_AFTER_BOMBS["year-9999"]}))
        page = srv.url("/page.html")
        robots = RobotsCache(client, POLICY, gate=_gate(client), max_delay=S.max_server_delay)
        with pytest.raises(TransientError) as info:
            robots.allowed(page)
        assert info.value.outcome is Outcome.RATE_LIMITED
        assert info.value.retry_after is not None
        assert 0 < info.value.retry_after <= S.max_server_delay
        assert 0 < int(client.ttl(f"{KEY_PREFIX}http://{HOST}:{srv.port}")) <= S.max_server_delay

        # robots.txt takes one of the host's slots like any request: with none free, nothing is fetched.
        client.flushdb()
        full = HostGate(client, 0, 1, max_penalty=S.max_server_delay)
        requests_before = len(srv.paths)
        with full.slot(HOST), pytest.raises(TransientError) as busy:
            RobotsCache(client, POLICY, gate=full, max_delay=S.max_server_delay).allowed(page)
        assert busy.value.outcome is Outcome.HOST_BUSY
        assert len(srv.paths) == requests_before
        assert client.get(f"{KEY_PREFIX}http://{HOST}:{srv.port}") is None  # "busy" is not cached as an answer
