"""SQL for the ``feeds`` table: source feeds, their validators and their polling schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    title: str | None
    site_url: str | None
    language: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime
    poll_interval: int
    consecutive_failures: int
    last_outcome: str | None
    last_error: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    created_at: datetime


# The one definition of "feed is due", as SQL with a named parameter ``now`` and as Python.
DUE = "next_poll_at <= %(now)s"


def is_due(feed: Feed, now: datetime) -> bool:
    return feed.next_poll_at <= now


@dataclass(frozen=True)
class PollRecord:
    """What one poll leaves on the feed row."""

    outcome: str
    error: str | None
    succeeded: bool
    next_poll_at: datetime
    poll_interval: int
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    site_url: str | None = None
    language: str | None = None


def _reason(text: str | None) -> str | None:
    """A reason as PostgreSQL text can hold it (no NUL) and a page can show it (2,000 characters)."""
    return None if text is None else text.replace("\x00", "\ufffd")[:2000]


def add_feed(conn: psycopg.Connection, url: str) -> tuple[Feed, bool]:
    """Insert a feed (due at once); returns it and whether it was new."""
    with conn.cursor(row_factory=class_row(Feed)) as cur:
        cur.execute("INSERT INTO feeds (url) VALUES (%s) ON CONFLICT (url) DO NOTHING RETURNING *", (url,))
        row = cur.fetchone()
        if row is not None:
            return row, True
        cur.execute("SELECT * FROM feeds WHERE url = %s", (url,))
        existing = cur.fetchone()
        assert existing is not None
        return existing, False


def remove_feed(conn: psycopg.Connection, url_or_id: str) -> bool:
    """Delete a feed by URL or id; its items and articles stay (their feed_id becomes NULL)."""
    where = "id = %s" if url_or_id.isdigit() else "url = %s"
    param: int | str = int(url_or_id) if url_or_id.isdigit() else url_or_id
    return conn.execute(f"DELETE FROM feeds WHERE {where}", (param,)).rowcount > 0  # noqa: S608 - fixed text


def get_feed(conn: psycopg.Connection, feed_id: int) -> Feed | None:
    with conn.cursor(row_factory=class_row(Feed)) as cur:
        return cur.execute("SELECT * FROM feeds WHERE id = %s", (feed_id,)).fetchone()


def list_feeds(conn: psycopg.Connection) -> list[Feed]:
    with conn.cursor(row_factory=class_row(Feed)) as cur:
        return cur.execute("SELECT * FROM feeds ORDER BY id").fetchall()


def claim_due_feeds(conn: psycopg.Connection, now: datetime, lease_seconds: int, limit: int) -> list[int]:
    """Claim up to ``limit`` due feeds: their next poll moves a lease ahead, so a second dispatcher (a
    second beat by mistake) finds nothing, and a poll message lost by the broker is retried after it."""
    rows = conn.execute(
        f"""
        WITH due AS (
            SELECT id FROM feeds WHERE {DUE}
            ORDER BY next_poll_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
        )
        UPDATE feeds f SET next_poll_at = %(now)s + make_interval(secs => %(lease)s)
        FROM due WHERE f.id = due.id RETURNING f.id
        """,  # noqa: S608 - fixed text
        {"now": now, "lease": lease_seconds, "limit": limit},
    ).fetchall()
    return [r[0] for r in rows]


def entries_per_day(conn: psycopg.Connection, feed_id: int, now: datetime, days: int = 7) -> float | None:
    """New entries a day over the last ``days`` days; None for a feed younger than a day."""
    row = conn.execute(
        """
        SELECT count(i.id), extract(epoch FROM %(now)s - f.created_at) / 86400.0
        FROM feeds f LEFT JOIN items i
          ON i.feed_id = f.id AND i.created_at > %(now)s - make_interval(days => %(days)s)
        WHERE f.id = %(id)s GROUP BY f.created_at
        """,
        {"now": now, "days": days, "id": feed_id},
    ).fetchone()
    if row is None or row[1] < 1:
        return None
    return float(row[0]) / min(float(row[1]), float(days))


def record_poll(conn: psycopg.Connection, feed_id: int, now: datetime, rec: PollRecord) -> None:
    """Store one poll's outcome; validators and metadata only change when the poll brought new ones."""
    conn.execute(
        """
        UPDATE feeds SET
            last_outcome = %(outcome)s, last_error = %(error)s, last_polled_at = %(now)s,
            last_success_at = CASE WHEN %(ok)s THEN %(now)s ELSE last_success_at END,
            consecutive_failures = CASE WHEN %(ok)s THEN 0 ELSE consecutive_failures + 1 END,
            next_poll_at = %(next)s, poll_interval = %(interval)s,
            etag = COALESCE(%(etag)s, etag), last_modified = COALESCE(%(lm)s, last_modified),
            body_hash = COALESCE(%(hash)s, body_hash), title = COALESCE(%(title)s, title),
            site_url = COALESCE(%(site)s, site_url), language = COALESCE(%(lang)s, language)
        WHERE id = %(id)s
        """,
        {
            "outcome": rec.outcome, "error": _reason(rec.error), "now": now, "ok": rec.succeeded,
            "next": rec.next_poll_at, "interval": rec.poll_interval, "etag": rec.etag,
            "lm": rec.last_modified, "hash": rec.body_hash, "title": rec.title, "site": rec.site_url,
            "lang": rec.language, "id": feed_id,
        },
    )  # fmt: skip


def defer_poll(conn: psycopg.Connection, feed_id: int, outcome: str, reason: str, next_poll_at: datetime) -> None:
    """A poll that did not happen (its host was busy or held back): the feed is due again at
    ``next_poll_at``; no failure is counted and its last poll time stays as it was."""
    conn.execute(
        "UPDATE feeds SET last_outcome = %s, last_error = %s, next_poll_at = %s WHERE id = %s",
        (outcome, _reason(reason), next_poll_at, feed_id),
    )


def due_feed_ids(conn: psycopg.Connection, now: datetime) -> list[int]:
    return [r[0] for r in conn.execute(f"SELECT id FROM feeds WHERE {DUE}", {"now": now}).fetchall()]  # noqa: S608 - fixed text


@dataclass(frozen=True)
class Unpolled:
    """Feeds not polled since a moment, split like items: due soon, or deferred past the horizon."""

    pending: int
    waiting: int  # their host is held back (a Retry-After) past the horizon
    last_due_at: datetime | None


def count_unpolled(
    conn: psycopg.Connection, feed_ids: list[int], since: datetime, *, now: datetime, horizon: timedelta, busy: str
) -> Unpolled:
    """Of ``feed_ids``, those that have not finished a poll since ``since``: ``waiting`` when their poll was
    deferred (last outcome ``busy``) to later than ``now + horizon``, ``pending`` otherwise."""
    row = conn.execute(
        """
        WITH unpolled AS (
            SELECT coalesce(last_outcome = %(busy)s AND next_poll_at > %(soon)s, false) AS later, next_poll_at
            FROM feeds
            WHERE id = ANY(%(ids)s) AND (last_polled_at IS NULL OR last_polled_at < %(since)s)
        )
        SELECT count(*) FILTER (WHERE NOT later), count(*) FILTER (WHERE later),
               max(next_poll_at) FILTER (WHERE later)
        FROM unpolled
        """,
        {"busy": busy, "soon": now + horizon, "ids": feed_ids, "since": since},
    ).fetchone()
    assert row is not None
    return Unpolled(int(row[0]), int(row[1]), row[2])
