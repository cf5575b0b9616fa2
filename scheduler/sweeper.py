"""The sweeper: re-enqueues items whose state has not moved in time, so nothing is lost with the broker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

import psycopg

from shared.db import items, publish_queue
from shared.db.items import ItemState
from shared.settings import Settings


def sweep_stale_items(
    conn: psycopg.Connection,
    now: datetime,
    s: Settings,
    limit: int = 5_000,
    queue_depths: Mapping[ItemState, int] | None = None,
) -> dict[ItemState, list[int]]:
    """Item ids to send again, by the state they wait in. A message Redis lost, a worker killed mid-task,
    and a backoff that has run out all look the same here: the item's sweep time has passed.

    Backpressure: nothing is sent to a stage whose queue (``queue_depths``) already holds
    ``max_queue_depth`` messages. Items merely waiting in a long queue look stale too, and re-sending them
    every ``stuck_after`` would grow the broker without bound; those skipped were claimed all the same, so
    they are looked at again one ``stuck_after`` later, when the queue may have drained."""
    with conn.transaction():
        stale = items.claim_stale(conn, now, timedelta(seconds=s.stuck_after), limit)
    full = {state for state, depth in (queue_depths or {}).items() if depth >= s.max_queue_depth}
    by_state: dict[ItemState, list[int]] = defaultdict(list)
    for item_id, state in stale:
        if state not in full:
            by_state[state].append(item_id)
    return dict(by_state)


def publish_leftovers(conn: psycopg.Connection, now: datetime, s: Settings) -> int:
    """Publish batches a publisher committed to ``publish_queue`` but did not see published (it died between
    its commit and the sequencer, workers/steps/publish.py); returns how many. Any publisher's next batch does
    the same, so this matters only when publication stops with the one that died. Harmless beside a live
    publisher: its own sequencer call then finds its batch published."""
    if not publish_queue.queued_count(conn):
        return 0
    return publish_queue.sequence(conn, now + timedelta(seconds=s.stuck_after)).batches
