"""The dispatcher: claims due feeds in Postgres and says which to poll; beat only ticks it."""

from __future__ import annotations

from datetime import datetime

import psycopg

from shared.db import feeds
from shared.settings import Settings

# Set by every dispatcher run; its age tells whether beat (and the feeds worker) are alive.
BEAT_TICK_KEY = "newsmill:beat:last_tick"


def dispatch_due_feeds(conn: psycopg.Connection, now: datetime, s: Settings, queue_depth: int) -> list[int]:
    """Feed ids to poll now. Backpressure: nothing while the feeds queue is at its cap, and never more
    than would fill it, so a stalled fleet cannot grow the broker's memory without bound."""
    room = s.max_queue_depth - queue_depth
    if room <= 0:
        return []
    with conn.transaction():
        return feeds.claim_due_feeds(conn, now, s.poll_lease, min(s.dispatch_batch, room))
