"""The sweeper: re-enqueues items whose state has not moved in time, so nothing is lost with the broker."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import psycopg

from shared.db import items
from shared.db.items import ItemState
from shared.settings import Settings


def sweep_stale_items(
    conn: psycopg.Connection, now: datetime, s: Settings, limit: int = 5_000
) -> dict[ItemState, list[int]]:
    """Item ids to send again, by the state they wait in. A message Redis lost, a worker killed mid-task,
    and a backoff that has run out all look the same here: the item's sweep time has passed."""
    with conn.transaction():
        stale = items.claim_stale(conn, now, timedelta(seconds=s.stuck_after), limit)
    by_state: dict[ItemState, list[int]] = defaultdict(list)
    for item_id, state in stale:
        by_state[state].append(item_id)
    return dict(by_state)
