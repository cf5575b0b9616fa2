"""SQL for ``deliveries`` and ``delivery_attempts``: what each webhook is owed, and every try to send it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from shared.db.subscriptions import Subscription


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # the subscription was revoked before it was sent
    SKIPPED = "skipped"  # the article left the published view before it was sent


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: int
    article_id: int
    story_id: int
    article_cursor: int
    status: str
    attempts: int
    response_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Attempt:
    """One HTTP try, as the delivery log keeps it."""

    delivery_id: int
    article_id: int
    attempt: int
    attempted_at: datetime
    duration_ms: int
    response_code: int | None
    outcome: str
    error: str | None


def match_new_articles(conn: psycopg.Connection, sub: Subscription, now: datetime, batch: int) -> tuple[int, int]:
    """Owe ``sub`` the articles published after its cursor (up to ``batch`` of them, matching or not) that
    match its topics and languages, one per story; returns (deliveries added, the new cursor).

    Cursor order is commit order (shared.db.articles.bump_cursor), so nothing committed later can appear
    below the new cursor. An article whose cursor moved (re-tagged, re-extracted) is owed only if it newly
    matches (its story was never owed) and was first published after the subscription was created: a retag
    that adds an unrelated topic must not send the archive (issue 18). A copy of a story already owed is not
    owed again. Call inside the transaction that holds ``sub``'s row lock."""
    row = conn.execute(
        """
        SELECT max(cursor) FROM (SELECT cursor FROM newsmill.articles_published WHERE cursor > %s
                                 ORDER BY cursor LIMIT %s) window_
        """,
        (sub.delivery_cursor, batch),
    ).fetchone()
    upto = row[0] if row and row[0] is not None else None
    if upto is None:
        return 0, sub.delivery_cursor
    cur = conn.execute(
        """
        INSERT INTO deliveries (subscription_id, article_id, story_id, article_cursor, next_attempt_at)
        SELECT %(sub)s, id, story, cursor, %(now)s FROM (
            SELECT DISTINCT ON (coalesce(p.duplicate_of, p.id)) p.id, coalesce(p.duplicate_of, p.id) AS story,
                   p.cursor
            FROM newsmill.articles_published p JOIN articles a ON a.id = p.id
            WHERE p.cursor > %(after)s AND p.cursor <= %(upto)s AND p.topics && %(topics)s
              AND coalesce(a.first_cursor, a.cursor) > %(start)s
              AND (cardinality(%(langs)s::text[]) = 0 OR p.language = ANY(%(langs)s))
              AND NOT EXISTS (SELECT 1 FROM deliveries d
                              WHERE d.subscription_id = %(sub)s AND d.story_id = coalesce(p.duplicate_of, p.id))
            ORDER BY coalesce(p.duplicate_of, p.id), p.cursor
        ) matched
        ORDER BY cursor
        ON CONFLICT (subscription_id, article_id) DO NOTHING
        """,
        {"sub": sub.id, "now": now, "after": sub.delivery_cursor, "upto": upto, "topics": sub.topics,
         "langs": sub.languages, "start": sub.start_cursor},
    )  # fmt: skip
    return cur.rowcount, int(upto)


def next_pending(conn: psycopg.Connection, subscription_id: int) -> Delivery | None:
    """The oldest delivery still owed: a webhook receives its articles one at a time, in publication order."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        return cur.execute(
            """
            SELECT * FROM deliveries WHERE subscription_id = %s AND status = 'pending'
            ORDER BY article_cursor, id LIMIT 1
            """,
            (subscription_id,),
        ).fetchone()


def record_attempt(
    conn: psycopg.Connection,
    delivery: Delivery,
    *,
    attempted_at: datetime,
    duration_ms: int,
    response_code: int | None,
    outcome: str,
    error: str | None,
    next_attempt_at: datetime | None,
) -> int | None:
    """Log one attempt and update its delivery (delivered when ``outcome`` is ok); returns the attempt number.
    A delivery cancelled (revoked) while it was in flight is logged too: the POST did happen. None when it
    was already delivered, which only a second sender without the lease could cause."""
    ok = outcome == "ok"
    row = conn.execute(
        """
        UPDATE deliveries SET attempts = attempts + 1, response_code = %(code)s::integer, error = %(error)s::text,
            status = CASE WHEN %(ok)s THEN 'delivered' ELSE status END,
            delivered_at = CASE WHEN %(ok)s THEN %(at)s::timestamptz ELSE delivered_at END,
            next_attempt_at = CASE WHEN %(ok)s THEN NULL ELSE %(next)s::timestamptz END, updated_at = now()
        WHERE id = %(id)s AND status IN ('pending', 'cancelled') RETURNING attempts
        """,
        {"id": delivery.id, "code": response_code, "error": error, "ok": ok, "at": attempted_at,
         "next": next_attempt_at},
    ).fetchone()  # fmt: skip
    if row is None:
        return None
    conn.execute(
        """
        INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, response_code, outcome, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (delivery.id, row[0], attempted_at, duration_ms, response_code, outcome, error),
    )
    return int(row[0])


def set_status(conn: psycopg.Connection, delivery_id: int, status: DeliveryStatus, error: str | None) -> None:
    conn.execute(
        "UPDATE deliveries SET status = %s, error = %s, next_attempt_at = NULL, updated_at = now() "
        "WHERE id = %s AND status = 'pending'",
        (status.value, error, delivery_id),
    )


def cancel_pending(conn: psycopg.Connection, subscription_id: int) -> int:
    """Drop what a revoked subscription was still owed; returns how many."""
    return conn.execute(
        "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = now() "
        "WHERE subscription_id = %s AND status = 'pending'",
        (subscription_id,),
    ).rowcount


def defer_pending(conn: psycopg.Connection, subscription_id: int, retry_at: datetime) -> None:
    """Show the backoff on every delivery waiting behind a failure (they are sent in order)."""
    conn.execute(
        "UPDATE deliveries SET next_attempt_at = %s WHERE subscription_id = %s AND status = 'pending'",
        (retry_at, subscription_id),
    )


def counts_by_status(conn: psycopg.Connection, subscription_id: int) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) FROM deliveries WHERE subscription_id = %s GROUP BY status", (subscription_id,)
    ).fetchall()
    return {str(status): int(n) for status, n in rows}


def counts_by_subscription(conn: psycopg.Connection) -> dict[int, dict[str, int]]:
    """Delivery counts by status for every subscription at once (lists show them all)."""
    counts: dict[int, dict[str, int]] = {}
    for subscription_id, status, n in conn.execute(
        "SELECT subscription_id, status, count(*) FROM deliveries GROUP BY subscription_id, status"
    ).fetchall():
        counts.setdefault(int(subscription_id), {})[str(status)] = int(n)
    return counts


def delivery_log(conn: psycopg.Connection, subscription_id: int, limit: int) -> list[Attempt]:
    """The subscription's latest attempts, newest first."""
    with conn.cursor(row_factory=class_row(Attempt)) as cur:
        return cur.execute(
            """
            SELECT a.delivery_id, d.article_id, a.attempt, a.attempted_at, a.duration_ms, a.response_code,
                   a.outcome, a.error
            FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
            WHERE d.subscription_id = %s ORDER BY a.attempted_at DESC, a.delivery_id DESC, a.attempt DESC LIMIT %s
            """,
            (subscription_id, limit),
        ).fetchall()
