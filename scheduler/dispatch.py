"""The dispatcher: claims due feeds in Postgres and says which to poll; beat only ticks it."""

from __future__ import annotations

from datetime import datetime

import psycopg

from shared.db import feeds
from shared.settings import Settings

# Set by every dispatcher run; its age tells whether beat (and the feeds worker) are alive.
BEAT_TICK_KEY = "newsmill:beat:last_tick"


# Polls travel several feeds to a message: a message costs the IO worker about as much CPU as a 304 poll
# (receive, acknowledge, trace), so one per feed halved its polls per second. At most this many feeds per
# message, and at least SPREAD messages when there are that many feeds, so every IO thread gets work.
FEEDS_PER_MESSAGE = 20
SPREAD = 32


def dispatch_due_feeds(conn: psycopg.Connection, now: datetime, s: Settings, queue_depth: int) -> list[list[int]]:
    """Due feeds claimed now, grouped into poll messages. Backpressure: nothing while the feeds queue holds
    NEWSMILL_MAX_QUEUE_DEPTH messages, and never more messages than would fill it, so a stalled fleet cannot
    grow the broker's memory without bound."""
    room = s.max_queue_depth - queue_depth
    if room <= 0:
        return []
    with conn.transaction():
        claimed = feeds.claim_due_feeds(conn, now, s.poll_lease, min(s.dispatch_batch, room * FEEDS_PER_MESSAGE))
    return poll_messages(claimed, room)


def poll_messages(feed_ids: list[int], max_messages: int) -> list[list[int]]:
    """``feed_ids`` in consecutive groups: as small as SPREAD messages allow, at most FEEDS_PER_MESSAGE each,
    and no more than ``max_messages`` groups (``len(feed_ids)`` is at most ``max_messages`` × FEEDS_PER_MESSAGE)."""
    if not feed_ids:
        return []
    size = max(1, min(FEEDS_PER_MESSAGE, len(feed_ids) // SPREAD), -(-len(feed_ids) // max_messages))
    return [feed_ids[i : i + size] for i in range(0, len(feed_ids), size)]
