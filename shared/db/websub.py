"""SQL for WebSub: requests awaiting verification of intent, verified subscriptions, and what each is owed.

A subscription follows the publication cursor: it is owed the stories *first published* above its
``delivery_cursor`` that its feed shows (its topic, or any topic for the combined feed; its languages), the
original of each story only. A retag or a re-extraction moves an article's cursor but publishes nothing new,
so nothing is pushed for it (readers see the change at their next poll).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from shared.db.published import PublishedArticle


def _owed(after: LiteralString, slug: LiteralString, langs: LiteralString) -> sql.Composed:
    """The condition "p is owed": among the stories first published in (after, %(upto)s], one the
    subscription's feed shows. The arguments are SQL expressions (placeholders or columns), never values."""
    return sql.SQL("""
        p.cursor > {after} AND p.cursor <= %(upto)s
        AND coalesce(a.first_cursor, a.cursor) > {after}
        AND p.duplicate_of IS NULL
        AND CASE WHEN {slug}::text IS NULL THEN cardinality(p.topics) > 0 ELSE {slug} = ANY(p.topics) END
        AND (cardinality({langs}::text[]) = 0 OR p.language = ANY({langs}))
    """).format(after=sql.SQL(after), slug=sql.SQL(slug), langs=sql.SQL(langs))


_FROM = sql.SQL("FROM newsmill.articles_published p JOIN articles a ON a.id = p.id")


@dataclass(frozen=True)
class Callback:
    """Where and what a subscriber wants: its callback URL, the feed (topic URL, format, slug, languages)."""

    callback: str
    topic_url: str
    feed_format: str
    topic_slug: str | None
    languages: list[str]
    secret: str | None


@dataclass(frozen=True)
class NewRequest(Callback):
    mode: str
    lease_seconds: int


@dataclass(frozen=True)
class Request(NewRequest):
    """A subscriber's (un)subscription request, as received; verified by a GET to its callback."""

    id: int
    state: str
    attempts: int
    error: str | None
    enqueued_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Subscription(Callback):
    id: int
    expires_at: datetime
    delivery_cursor: int
    consecutive_failures: int
    last_error: str | None
    retry_at: datetime
    send_lease_until: datetime | None
    enqueued_until: datetime | None
    created_at: datetime
    updated_at: datetime


def add_request(conn: psycopg.Connection, r: NewRequest) -> int:
    row = conn.execute(
        """
        INSERT INTO websub_requests (mode, callback, topic_url, feed_format, topic_slug, languages, secret,
                                     lease_seconds)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (r.mode, r.callback, r.topic_url, r.feed_format, r.topic_slug, r.languages, r.secret, r.lease_seconds),
    ).fetchone()
    assert row is not None
    return int(row[0])


def count_subscriptions(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT (SELECT count(*) FROM websub_subscriptions) + (SELECT count(*) FROM websub_requests "
                       "WHERE state = 'pending')").fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def claim_requests(conn: psycopg.Connection, now: datetime, requeue_after: timedelta) -> list[int]:
    """Pending requests not already queued (a task lost with the broker is planned again after ``requeue_after``)."""
    rows = conn.execute(
        """
        UPDATE websub_requests SET enqueued_until = %(now)s + %(requeue)s
        WHERE state = 'pending' AND (enqueued_until IS NULL OR enqueued_until <= %(now)s) RETURNING id
        """,
        {"now": now, "requeue": requeue_after},
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def take_request(conn: psycopg.Connection, request_id: int) -> Request | None:
    """The pending request, row-locked for this transaction (a duplicated task waits, then finds it done)."""
    with conn.cursor(row_factory=class_row(Request)) as cur:
        return cur.execute(
            "SELECT * FROM websub_requests WHERE id = %s AND state = 'pending' FOR UPDATE", (request_id,)
        ).fetchone()


def finish_request(conn: psycopg.Connection, request_id: int, state: str, error: str | None) -> None:
    conn.execute(
        "UPDATE websub_requests SET state = %s, error = %s, attempts = attempts + 1, enqueued_until = NULL, "
        "updated_at = now() WHERE id = %s",
        (state, error, request_id),
    )


def retry_request(conn: psycopg.Connection, request_id: int, error: str) -> int:
    """Count a failed verification that may succeed later (the callback was unreachable); returns attempts."""
    row = conn.execute(
        "UPDATE websub_requests SET attempts = attempts + 1, error = %s, updated_at = now() WHERE id = %s "
        "RETURNING attempts",
        (error, request_id),
    ).fetchone()
    return int(row[0]) if row else 0


def subscribe(conn: psycopg.Connection, r: Request, now: datetime) -> int:
    """Create the subscription, or renew it (a new lease and secret; what it is owed stays owed). A new one
    is owed what is published from now on, not the archive."""
    row = conn.execute(
        """
        INSERT INTO websub_subscriptions (callback, topic_url, feed_format, topic_slug, languages, secret,
                                          expires_at, delivery_cursor)
        VALUES (%(callback)s, %(topic)s, %(fmt)s, %(slug)s, %(langs)s, %(secret)s, %(expires)s,
                (SELECT coalesce(max(cursor), 0) FROM newsmill.articles_published))
        ON CONFLICT (callback, topic_url) DO UPDATE
            SET secret = EXCLUDED.secret, expires_at = EXCLUDED.expires_at, consecutive_failures = 0,
                retry_at = %(now)s, updated_at = now()
        RETURNING id
        """,
        {"callback": r.callback, "topic": r.topic_url, "fmt": r.feed_format, "slug": r.topic_slug,
         "langs": r.languages, "secret": r.secret, "expires": now + timedelta(seconds=r.lease_seconds), "now": now},
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def unsubscribe(conn: psycopg.Connection, callback: str, topic_url: str) -> bool:
    cur = conn.execute("DELETE FROM websub_subscriptions WHERE callback = %s AND topic_url = %s", (callback, topic_url))
    return cur.rowcount > 0


def plan(conn: psycopg.Connection, now: datetime, requeue_after: timedelta) -> list[int]:
    """Drop expired subscriptions; claim (to enqueue after commit) those owed something; move the cursor of
    the others past what they are not owed, so the next tick looks only at what is new. Returns the claimed."""
    conn.execute("DELETE FROM websub_subscriptions WHERE expires_at <= %s", (now,))
    row = conn.execute("SELECT coalesce(max(cursor), 0) FROM newsmill.articles_published").fetchone()
    upto = int(row[0]) if row else 0
    free = sql.SQL("""expires_at > %(now)s AND (send_lease_until IS NULL OR send_lease_until <= %(now)s)
                      AND (enqueued_until IS NULL OR enqueued_until <= %(now)s) AND delivery_cursor < %(upto)s""")
    owed = sql.SQL("EXISTS (SELECT 1 {} WHERE {})").format(
        _FROM, _owed("w.delivery_cursor", "w.topic_slug", "w.languages")
    )
    claimed = conn.execute(
        sql.SQL("""
        UPDATE websub_subscriptions w SET enqueued_until = %(now)s + %(requeue)s
        WHERE {free} AND retry_at <= %(now)s AND {owed} RETURNING id
        """).format(free=free, owed=owed),
        {"now": now, "requeue": requeue_after, "upto": upto},
    ).fetchall()
    conn.execute(
        sql.SQL("UPDATE websub_subscriptions w SET delivery_cursor = %(upto)s WHERE {} AND NOT {}").format(free, owed),
        {"now": now, "upto": upto},
    )
    return sorted(int(r[0]) for r in claimed)


def claim_sender(
    conn: psycopg.Connection, subscription_id: int, now: datetime, lease: timedelta
) -> Subscription | None:
    """The right to push to this subscription until ``now + lease``; None when it is gone, backing off or
    held by another sender (so a duplicated task pushes nothing)."""
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            """
            UPDATE websub_subscriptions SET send_lease_until = %(now)s + %(lease)s, enqueued_until = NULL
            WHERE id = %(id)s AND expires_at > %(now)s AND retry_at <= %(now)s
              AND (send_lease_until IS NULL OR send_lease_until <= %(now)s)
            RETURNING *
            """,
            {"id": subscription_id, "now": now, "lease": lease},
        ).fetchone()


def owed_articles(conn: psycopg.Connection, sub: Subscription, limit: int) -> tuple[list[PublishedArticle], int]:
    """The newest ``limit`` stories ``sub`` is owed, newest first, and the cursor they were read up to."""
    row = conn.execute("SELECT coalesce(max(cursor), 0) FROM newsmill.articles_published").fetchone()
    upto = int(row[0]) if row else 0
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        query = sql.SQL("SELECT p.* {} WHERE {} ORDER BY coalesce(p.published_at, p.fetched_at) DESC, p.id DESC "
                        "LIMIT %(limit)s").format(_FROM, _owed("%(after)s", "%(slug)s", "%(langs)s"))  # fmt: skip
        articles = cur.execute(
            query,
            {"after": sub.delivery_cursor, "upto": upto, "slug": sub.topic_slug, "langs": sub.languages,
             "limit": limit},
        ).fetchall()  # fmt: skip
    return articles, upto


def record_push(conn: psycopg.Connection, held: Subscription, upto: int | None, error: str | None,
                retry_at: datetime | None) -> int:  # fmt: skip
    """After a push: success moves the cursor to ``upto``; failure counts and backs off. Releases the lease.
    Returns the failures in a row."""
    row = conn.execute(
        """
        UPDATE websub_subscriptions SET
            delivery_cursor = CASE WHEN %(ok)s THEN greatest(delivery_cursor, %(upto)s) ELSE delivery_cursor END,
            consecutive_failures = CASE WHEN %(ok)s THEN 0 ELSE consecutive_failures + 1 END,
            last_error = %(error)s, retry_at = coalesce(%(retry_at)s, retry_at), updated_at = now(),
            send_lease_until = CASE WHEN send_lease_until = %(lease)s THEN NULL ELSE send_lease_until END
        WHERE id = %(id)s RETURNING consecutive_failures
        """,
        {"ok": error is None, "upto": upto or 0, "error": error, "retry_at": retry_at, "lease": held.send_lease_until,
         "id": held.id},
    ).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def drop(conn: psycopg.Connection, subscription_id: int) -> None:
    """End a subscription the subscriber no longer wants (410 Gone) or that failed too long."""
    conn.execute("DELETE FROM websub_subscriptions WHERE id = %s", (subscription_id,))
