"""SQL for the ``items`` table: one row per discovered entry, and the pipeline's state machine.

States move discovered → fetched → extracted → published, or to failed; this module is the only place that
changes them. Every transition is conditional on the state it leaves, so a message delivered twice, or a
sweeper re-enqueue racing a slow worker, changes nothing the second time.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from shared.feed_entry import FeedEntry


class ItemState(enum.StrEnum):
    DISCOVERED = "discovered"
    FETCHED = "fetched"
    EXTRACTED = "extracted"
    PUBLISHED = "published"
    FAILED = "failed"


def unfinished(column: str = "state") -> str:
    """The one definition of "item unfinished" (neither published nor failed), as SQL on ``column``.

    Keep the text as it is: the partial indexes items_sweep_idx and items_unfinished_created_idx were built
    with this very predicate, and the planner uses them only for a query that repeats it."""
    return f"{column} NOT IN ('published', 'failed')"


UNFINISHED = unfinished()


@dataclass(frozen=True)
class Item:
    id: int
    feed_id: int | None
    guid: str | None
    url: str
    canonical_url: str
    entry_title: str | None
    entry_author: str | None
    entry_published_at: datetime | None
    entry_language: str | None
    state: str
    attempts: int
    outcome: str | None
    last_error: str | None
    failed_from: str | None
    sweep_at: datetime
    state_changed_at: datetime
    created_at: datetime
    retry_at: datetime | None  # when a deferred item is next tried; None while it is not waiting


def insert_new_items(
    conn: psycopg.Connection, feed_id: int, entries: Sequence[FeedEntry], sweep_at: datetime
) -> list[int]:
    """Insert entries not seen before (by feed GUID or canonical URL), in one statement; returns the new ids
    in entry order. An entry listed twice in one document is inserted once."""
    if not entries:
        return []
    rows = conn.execute(
        """
        INSERT INTO items (feed_id, guid, url, canonical_url, entry_title, entry_author, entry_published_at,
                           entry_language, sweep_at)
        SELECT %(feed)s, e.guid, e.url, e.canonical_url, e.title, e.author, e.published_at, e.language, %(sweep)s
        FROM unnest(%(guid)s::text[], %(url)s::text[], %(canonical)s::text[], %(title)s::text[], %(author)s::text[],
                    %(published)s::timestamptz[], %(language)s::text[]) WITH ORDINALITY
             AS e(guid, url, canonical_url, title, author, published_at, language, n)
        ORDER BY e.n
        ON CONFLICT DO NOTHING RETURNING id
        """,
        {"feed": feed_id, "sweep": sweep_at, "guid": [e.guid for e in entries], "url": [e.url for e in entries],
         "canonical": [e.canonical_url for e in entries], "title": [e.title for e in entries],
         "author": [e.author for e in entries], "published": [e.published_at for e in entries],
         "language": [e.language for e in entries]},
    ).fetchall()  # fmt: skip
    return [int(row[0]) for row in rows]


def claim_many(conn: psycopg.Connection, item_ids: Sequence[int], state: ItemState, sweep_at: datetime) -> list[Item]:
    """Take items that are in ``state`` for one attempt each, in one statement: counts the attempt (so a page
    that kills its worker every time is recognised) and pushes the sweeper's deadline out. Items that moved
    on are left out."""
    with conn.cursor(row_factory=class_row(Item)) as cur:
        return cur.execute(
            """
            UPDATE items SET attempts = attempts + 1, sweep_at = %s, retry_at = NULL
            WHERE id = ANY(%s) AND state = %s RETURNING *
            """,
            (sweep_at, list(item_ids), state.value),
        ).fetchall()


def claim(conn: psycopg.Connection, item_id: int, state: ItemState, sweep_at: datetime) -> Item | None:
    """``claim_many`` of one item: the item, or None if it has moved on."""
    claimed = claim_many(conn, [item_id], state, sweep_at)
    return claimed[0] if claimed else None


def advance_many(
    conn: psycopg.Connection, item_ids: Sequence[int], from_state: ItemState, to_state: ItemState, sweep_at: datetime
) -> list[int]:
    """Move items to their next state in one statement; returns the ids that moved (another delivery had
    already moved the others)."""
    return moved_ids(advancing(conn, item_ids, from_state, to_state, sweep_at))


def advancing(
    conn: psycopg.Connection, item_ids: Sequence[int], from_state: ItemState, to_state: ItemState, sweep_at: datetime
) -> psycopg.Cursor:
    """``advance_many``'s statement, sent without waiting for its result: read it with ``moved_ids`` (inside a
    pipeline, after the pipeline has sent it, so that the statement does not cost a round trip of its own)."""
    return conn.execute(
        """
        UPDATE items SET state = %s, attempts = 0, outcome = 'ok', last_error = NULL,
                         sweep_at = %s, retry_at = NULL, state_changed_at = now()
        WHERE id = ANY(%s) AND state = %s RETURNING id
        """,
        (to_state.value, sweep_at, sorted(item_ids), from_state.value),
    )


def moved_ids(advanced: psycopg.Cursor) -> list[int]:
    """The ids an ``advancing`` statement moved."""
    return [int(row[0]) for row in advanced.fetchall()]


def advance(
    conn: psycopg.Connection, item_id: int, from_state: ItemState, to_state: ItemState, sweep_at: datetime
) -> bool:
    """``advance_many`` of one item: False if another delivery already moved it."""
    return bool(advance_many(conn, [item_id], from_state, to_state, sweep_at))


def defer(
    conn: psycopg.Connection,
    item_id: int,
    outcome: str,
    reason: str,
    *,
    retry_at: datetime,
    sweep_at: datetime,
    refund: bool = False,
) -> None:
    """Record a transient failure: the item is next tried at ``retry_at`` (by a re-sent message or the
    sweeper), and the sweeper picks it up at ``sweep_at`` if nothing did. ``refund`` gives back the attempt
    ``claim`` counted, when the delay was our own doing (a busy host)."""
    conn.execute(
        """
        UPDATE items SET outcome = %s, last_error = %s, retry_at = %s, sweep_at = %s,
                         attempts = attempts - CASE WHEN %s THEN 1 ELSE 0 END
        WHERE id = %s
        """,
        (outcome, reason[:2000], retry_at, sweep_at, refund, item_id),
    )


@dataclass(frozen=True)
class Failure:
    """An item that ends failed, with its named outcome and the reason shown to editors and ops."""

    item_id: int
    outcome: str
    reason: str


def fail_many(conn: psycopg.Connection, failures: Sequence[Failure]) -> None:
    """End items as failed with their reasons (kept for editors and ops; never silently dropped)."""
    if not failures:
        return
    conn.execute(
        f"""
        UPDATE items i SET failed_from = i.state, state = 'failed', outcome = f.outcome, last_error = f.reason,
                           state_changed_at = now()
        FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS f(id, outcome, reason)
        WHERE i.id = f.id AND {unfinished("i.state")}
        """,  # noqa: S608 - fixed text
        ([f.item_id for f in failures], [f.outcome for f in failures], [f.reason[:2000] for f in failures]),
    )


def fail(conn: psycopg.Connection, item_id: int, outcome: str, reason: str) -> None:
    fail_many(conn, [Failure(item_id, outcome, reason)])


def refund_attempts(conn: psycopg.Connection, item_ids: Sequence[int], sweep_at: datetime) -> None:
    """Give back the attempt ``claim`` counted, for items put back without being worked on."""
    conn.execute(
        "UPDATE items SET attempts = greatest(attempts - 1, 0), sweep_at = %s WHERE id = ANY(%s)",
        (sweep_at, list(item_ids)),
    )


def get_item(conn: psycopg.Connection, item_id: int) -> Item | None:
    with conn.cursor(row_factory=class_row(Item)) as cur:
        return cur.execute("SELECT * FROM items WHERE id = %s", (item_id,)).fetchone()


def claim_stale(
    conn: psycopg.Connection, now: datetime, recheck_after: timedelta, limit: int
) -> list[tuple[int, ItemState]]:
    """Items whose sweep deadline passed: their message was lost, their worker died, or their backoff ended.
    Their deadline moves on by ``recheck_after`` so one sweep does not re-enqueue them again at once."""
    rows = conn.execute(
        f"""
        WITH stale AS (
            SELECT id FROM items
            WHERE {UNFINISHED} AND sweep_at <= %(now)s
            ORDER BY sweep_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        )
        UPDATE items i SET sweep_at = %(next)s FROM stale WHERE i.id = stale.id RETURNING i.id, i.state
        """,  # noqa: S608 - fixed text
        {"now": now, "next": now + recheck_after, "limit": limit},
    ).fetchall()
    return [(r[0], ItemState(r[1])) for r in rows]


def count_by_state(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


@dataclass(frozen=True)
class Unfinished:
    """Unfinished items, split by whether work on them is under way or due soon, or waits out a backoff."""

    pending: int  # queued, being worked on, lost with a message (the sweeper brings them back), or due soon
    waiting: int  # deferred past the horizon: a failure's backoff or a host held back by its Retry-After
    last_retry_at: datetime | None  # when the last waiting item is due


def count_unfinished(conn: psycopg.Connection, now: datetime, horizon: timedelta) -> Unfinished:
    """Unfinished items: ``pending`` ones are worked on or due within ``horizon`` (a deferred item counts as
    pending until its retry time is further away than that), ``waiting`` ones wait out a longer backoff."""
    row = conn.execute(
        f"""
        SELECT count(*) FILTER (WHERE retry_at IS NULL OR retry_at <= %(soon)s),
               count(*) FILTER (WHERE retry_at > %(soon)s), max(retry_at) FILTER (WHERE retry_at > %(soon)s)
        FROM items WHERE {UNFINISHED}
        """,  # noqa: S608 - fixed text
        {"soon": now + horizon},
    ).fetchone()
    assert row is not None
    return Unfinished(int(row[0]), int(row[1]), row[2])
