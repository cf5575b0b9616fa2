"""What `run --until-idle` counts as pending and as waiting, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from cli.idle import HORIZON, remaining
from shared.db import feeds, items
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from workers.steps.handoff import MAX_COUNTDOWN

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _item(db: psycopg.Connection, feed_id: int, n: int) -> int:
    url = f"http://news.example/{n}"
    (item_id,) = items.insert_new_items(db, feed_id, [FeedEntry(None, url, url, None, None, None, None)], NOW)
    return item_id


def test_the_horizon_is_what_a_countdown_message_may_wait() -> None:
    assert timedelta(seconds=MAX_COUNTDOWN) == HORIZON


def test_pending_and_waiting_items_and_feeds(db: psycopg.Connection) -> None:
    started = NOW - timedelta(minutes=1)
    polled, unpolled, deferred_soon, deferred_late = (
        feeds.add_feed(db, f"http://news.example/{name}.xml")[0].id for name in ("a", "b", "c", "d")
    )
    due = [polled, unpolled, deferred_soon, deferred_late]
    feeds.record_poll(db, polled, NOW, feeds.PollRecord("ok", None, True, NOW + timedelta(hours=1), 3600))
    feeds.defer_poll(db, deferred_soon, "host_busy", "busy for 1000 ms", NOW + timedelta(seconds=1))
    feeds.defer_poll(db, deferred_late, "host_busy", "held back", NOW + timedelta(hours=6))

    _new, busy, late, done, gone = (_item(db, polled, n) for n in range(5))  # _new is never claimed: pending
    items.claim(db, busy, ItemState.DISCOVERED, NOW)
    items.defer(db, busy, "host_busy", "busy", retry_at=NOW + timedelta(seconds=1), sweep_at=NOW, refund=True)
    items.claim(db, late, ItemState.DISCOVERED, NOW)
    retry_at = NOW + timedelta(hours=1)
    items.defer(db, late, "rate_limited", "429", retry_at=retry_at, sweep_at=retry_at)
    items.advance(db, done, ItemState.DISCOVERED, ItemState.FETCHED, NOW)  # still unfinished: pending
    items.fail(db, gone, "http_error", "404")

    left = remaining(db, due, started, NOW)
    assert (left.feeds.pending, left.feeds.waiting) == (2, 1)  # unpolled and deferred_soon; deferred_late
    assert (left.items.pending, left.items.waiting) == (3, 1)  # new, busy, done; late
    assert left.pending == 5
    assert left.waiting == 2
    assert left.waiting_line(NOW) == (
        "1 item and 1 feed waiting out a backoff of up to 21600 s (a host's Retry-After or a failure's backoff, "
        "until 2026-01-01 06:00:00 UTC): a running fleet or the next run takes them up"
    )
    items.claim(db, late, ItemState.DISCOVERED, NOW)  # its retry came: being worked on again, so pending
    assert remaining(db, due, started, NOW).items.waiting == 0
