"""SQL for ``subscriptions``: editors' private feeds and webhooks, their credentials and their send schedule.

A feed's token is never stored: only its SHA-256, so a copy of the database cannot open anyone's feed.
A webhook's secret is stored, because every delivery is signed with it.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import class_row

from shared.db import topics
from shared.db.published import PublishedArticle
from shared.db.topic_feed import CANDIDATE_WINDOW
from shared.languages import normalise_languages

FEED_FORMATS = ("atom", "rss", "json")
DIGESTS = ("none", "daily")


class State(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # a webhook that failed too often in a row; `resume` re-arms it
    REVOKED = "revoked"  # final: the token or webhook is dead


@dataclass(frozen=True)
class Subscription:
    id: int
    email: str
    topics: list[str]
    languages: list[str]
    kind: str
    token_hash: str | None
    webhook_url: str | None
    webhook_secret: str | None
    state: str
    consecutive_failures: int
    last_error: str | None
    delivery_cursor: int
    retry_at: datetime
    send_lease_until: datetime | None
    enqueued_until: datetime | None
    created_at: datetime
    updated_at: datetime
    start_cursor: int  # the newest cursor at creation: articles first published at or below it are not owed
    digest: str  # 'none' or 'daily' (an e-mail of the new stories, workers/steps/digest.py)
    digest_cursor: int | None  # stories first published above it go in the next digest
    digest_due_at: datetime | None
    digest_error: str | None


@dataclass(frozen=True)
class Created:
    """A new subscription and its credential, which exists in clear only here: show it once."""

    subscription: Subscription
    token: str | None = None  # private feeds
    secret: str | None = None  # webhooks

    def feed_urls(self, public_url: str) -> dict[str, str]:
        if self.token is None:
            return {}
        return {fmt: f"{public_url.rstrip('/')}/subscriptions/{self.token}.{fmt}" for fmt in FEED_FORMATS}


class InvalidSubscriptionError(ValueError):
    """The request names an unknown topic, a bad language code, email or webhook URL."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate(conn: psycopg.Connection, email: str, slugs: Sequence[str], languages: Sequence[str],
             webhook_url: str | None) -> None:  # fmt: skip
    """Raise InvalidSubscriptionError with a message an editor can act on."""
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidSubscriptionError(f"not an email address: {email!r}")
    if not slugs:
        raise InvalidSubscriptionError("name at least one topic")
    unknown = [s for s in slugs if topics.get_topic(conn, s) is None]
    if unknown:
        raise InvalidSubscriptionError(f"unknown topic(s): {', '.join(unknown)} (see `newsmill topics list`)")
    if webhook_url is not None:
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(webhook_url) > 2048:
            raise InvalidSubscriptionError(f"not an http(s) URL: {webhook_url!r}")


def create_subscription(conn: psycopg.Connection, email: str, slugs: Sequence[str], languages: Sequence[str],
                        webhook_url: str | None = None, *, digest: str = "none",
                        digest_due_at: datetime | None = None) -> Created:  # fmt: skip
    """Validate and store a subscription. A webhook (and a digest) starts at the newest published article:
    it receives what is published from now on, not the archive. A daily digest is first sent at
    ``digest_due_at``."""
    if digest not in DIGESTS or (digest != "none" and digest_due_at is None):
        raise InvalidSubscriptionError(f"digest: one of {', '.join(DIGESTS)}")
    slugs = list(dict.fromkeys(s.strip().lower() for s in slugs if s.strip()))
    try:
        languages = normalise_languages([lang for lang in languages if lang.strip()])
    except ValueError as exc:
        raise InvalidSubscriptionError(f"{exc}; use ISO 639-1 codes, e.g. fr,en") from exc
    validate(conn, email, slugs, languages, webhook_url)
    token = secret = None
    if webhook_url is None:
        token = secrets.token_urlsafe(32)  # 256 bits: unguessable, like a private calendar URL
    else:
        secret = secrets.token_urlsafe(32)
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        row = cur.execute(
            """
            WITH newest AS (SELECT coalesce(max(cursor), 0) AS cursor FROM newsmill.articles_published)
            INSERT INTO subscriptions (email, topics, languages, kind, token_hash, webhook_url, webhook_secret,
                                       delivery_cursor, start_cursor, digest, digest_cursor, digest_due_at)
            SELECT %s, %s, %s, %s, %s, %s, %s, newest.cursor, newest.cursor, %s, newest.cursor, %s FROM newest
            RETURNING *
            """,
            (email, slugs, languages, "feed" if token else "webhook", token and hash_token(token), webhook_url,
             secret, digest, digest_due_at if digest != "none" else None),
        ).fetchone()  # fmt: skip
    assert row is not None
    return Created(row, token=token, secret=secret)


def get_subscription(conn: psycopg.Connection, subscription_id: int) -> Subscription | None:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute("SELECT * FROM subscriptions WHERE id = %s", (subscription_id,)).fetchone()


def active_feed_by_token(conn: psycopg.Connection, token: str) -> Subscription | None:
    """The live private feed this token opens, else None (unknown and revoked look the same)."""
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            "SELECT * FROM subscriptions WHERE token_hash = %s AND kind = 'feed' AND state = 'active'",
            (hash_token(token),),
        ).fetchone()


def list_subscriptions(conn: psycopg.Connection, *, include_revoked: bool = False) -> list[Subscription]:
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            "SELECT * FROM subscriptions WHERE %s OR state <> 'revoked' ORDER BY id", (include_revoked,)
        ).fetchall()


def revoke(conn: psycopg.Connection, subscription_id: int) -> bool:
    """Kill the token or webhook for good; False when there is no such live subscription."""
    row = conn.execute(
        "UPDATE subscriptions SET state = 'revoked', updated_at = now() WHERE id = %s AND state <> 'revoked' "
        "RETURNING id",
        (subscription_id,),
    ).fetchone()
    return row is not None


def resume(conn: psycopg.Connection, subscription_id: int, now: datetime) -> bool:
    """Re-arm a paused webhook: failures forgotten, the backlog sent at once. False unless it was paused."""
    row = conn.execute(
        """
        UPDATE subscriptions SET state = 'active', consecutive_failures = 0, retry_at = %s, send_lease_until = NULL,
                                 enqueued_until = NULL, updated_at = now()
        WHERE id = %s AND state = 'paused' RETURNING id
        """,
        (now, subscription_id),
    ).fetchone()
    return row is not None


def lock_webhooks_to_match(conn: psycopg.Connection, after_id: int, limit: int) -> list[Subscription]:
    """The next live webhooks by id (paused ones too: they keep a backlog for when they resume), row-locked
    for this transaction; one locked by a concurrent planner is skipped, not waited for."""
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            """
            SELECT * FROM subscriptions WHERE kind = 'webhook' AND state <> 'revoked' AND id > %s
            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            (after_id, limit),
        ).fetchall()


def advance_cursor(conn: psycopg.Connection, subscription_id: int, cursor: int) -> None:
    conn.execute(
        "UPDATE subscriptions SET delivery_cursor = greatest(delivery_cursor, %s) WHERE id = %s",
        (cursor, subscription_id),
    )


def claim_due_senders(conn: psycopg.Connection, now: datetime, requeue_after: timedelta) -> list[int]:
    """Active webhooks with pending deliveries, out of backoff, not being sent, and not already queued
    (a queued task lost with the broker is planned again after ``requeue_after``)."""
    rows = conn.execute(
        """
        UPDATE subscriptions s SET enqueued_until = %(now)s + %(requeue)s
        WHERE s.kind = 'webhook' AND s.state = 'active' AND s.retry_at <= %(now)s
          AND (s.send_lease_until IS NULL OR s.send_lease_until <= %(now)s)
          AND (s.enqueued_until IS NULL OR s.enqueued_until <= %(now)s)
          AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending')
        RETURNING s.id
        """,
        {"now": now, "requeue": requeue_after},
    ).fetchall()
    return sorted(r[0] for r in rows)


def claim_sender(
    conn: psycopg.Connection, subscription_id: int, now: datetime, lease: timedelta
) -> Subscription | None:
    """Take the right to send this webhook's deliveries until ``now + lease``; None when it is not active,
    backing off, or held by another sender (so a duplicated task sends nothing)."""
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            """
            UPDATE subscriptions SET send_lease_until = %(now)s + %(lease)s, enqueued_until = NULL
            WHERE id = %(id)s AND kind = 'webhook' AND state = 'active' AND retry_at <= %(now)s
              AND (send_lease_until IS NULL OR send_lease_until <= %(now)s)
            RETURNING *
            """,
            {"id": subscription_id, "now": now, "lease": lease},
        ).fetchone()


def release_sender(conn: psycopg.Connection, held: Subscription) -> None:
    """Give the lease back, unless it ran out and another sender holds it now."""
    conn.execute(
        "UPDATE subscriptions SET send_lease_until = NULL WHERE id = %s AND send_lease_until = %s",
        (held.id, held.send_lease_until),
    )


def record_success(conn: psycopg.Connection, subscription_id: int) -> None:
    conn.execute(
        "UPDATE subscriptions SET consecutive_failures = 0, last_error = NULL, updated_at = now() WHERE id = %s",
        (subscription_id,),
    )


def record_failure(
    conn: psycopg.Connection, subscription_id: int, error: str, retry_at: datetime, max_failures: int
) -> tuple[int, str]:
    """Count a failed attempt and back off; pause at ``max_failures`` in a row. Returns (failures, state)."""
    row = conn.execute(
        """
        UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, last_error = %(error)s,
            retry_at = %(retry_at)s, updated_at = now(),
            state = CASE WHEN state = 'active' AND consecutive_failures + 1 >= %(max)s THEN 'paused' ELSE state END
        WHERE id = %(id)s RETURNING consecutive_failures, state
        """,
        {"id": subscription_id, "error": error, "retry_at": retry_at, "max": max_failures},
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def feed_articles(conn: psycopg.Connection, sub: Subscription, limit: int) -> list[PublishedArticle]:
    """A private feed's newest articles: in any of its topics and languages, one per story (the original
    when it matches, else the earliest published copy that does), newest first. Like a topic feed, only
    each topic's newest CANDIDATE_WINDOW tagged articles are looked at, so the work stays bounded."""
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        return cur.execute(
            """
            WITH tagged AS (
                SELECT DISTINCT at.article_id FROM topics t
                CROSS JOIN LATERAL (SELECT article_id FROM article_topics WHERE topic_id = t.id
                                    ORDER BY article_id DESC LIMIT %(window)s) at
                WHERE t.slug = ANY(%(topics)s)
            ),
            rep AS (
                SELECT DISTINCT ON (coalesce(a.duplicate_of, a.id)) a.id
                FROM tagged JOIN articles a ON a.id = tagged.article_id
                WHERE a.cursor IS NOT NULL
                  AND (cardinality(%(langs)s::text[]) = 0 OR a.language = ANY(%(langs)s))
                ORDER BY coalesce(a.duplicate_of, a.id), (a.duplicate_of IS NULL) DESC,
                         a.published_at ASC NULLS LAST, a.id
            )
            SELECT p.* FROM rep JOIN newsmill.articles_published p ON p.id = rep.id
            ORDER BY coalesce(p.published_at, p.fetched_at) DESC, p.id DESC LIMIT %(limit)s
            """,
            {"topics": sub.topics, "langs": sub.languages, "limit": limit, "window": CANDIDATE_WINDOW},
        ).fetchall()


def take_due_digest(conn: psycopg.Connection, now: datetime) -> Subscription | None:
    """One live subscription whose daily digest is due, row-locked for the caller's transaction; one locked
    by a concurrent sender is skipped, not waited for."""
    with conn.cursor(row_factory=class_row(Subscription)) as cur:
        return cur.execute(
            """
            SELECT * FROM subscriptions WHERE digest = 'daily' AND state = 'active' AND digest_due_at <= %s
            ORDER BY digest_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
            """,
            (now,),
        ).fetchone()


def digest_articles(conn: psycopg.Connection, sub: Subscription, limit: int) -> tuple[list[PublishedArticle], int]:
    """The stories first published since ``sub``'s last digest in its topics and languages (one per story,
    newest first, at most ``limit``), and the cursor they were read up to."""
    row = conn.execute("SELECT coalesce(max(cursor), 0) FROM newsmill.articles_published").fetchone()
    upto = int(row[0]) if row else 0
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        found = cur.execute(
            """
            SELECT * FROM (
                SELECT DISTINCT ON (coalesce(p.duplicate_of, p.id)) p.*
                FROM newsmill.articles_published p JOIN articles a ON a.id = p.id
                WHERE p.cursor > %(after)s AND p.cursor <= %(upto)s AND coalesce(a.first_cursor, a.cursor) > %(after)s
                  AND p.topics && %(topics)s
                  AND (cardinality(%(langs)s::text[]) = 0 OR p.language = ANY(%(langs)s))
                ORDER BY coalesce(p.duplicate_of, p.id), (p.duplicate_of IS NULL) DESC, p.id
            ) stories
            ORDER BY coalesce(published_at, fetched_at) DESC, id DESC LIMIT %(limit)s
            """,
            {"after": sub.digest_cursor or 0, "upto": upto, "topics": sub.topics, "langs": sub.languages,
             "limit": limit},
        ).fetchall()  # fmt: skip
    return found, upto


def record_digest(conn: psycopg.Connection, subscription_id: int, upto: int | None, next_due: datetime,
                  error: str | None) -> None:  # fmt: skip
    """After a digest: sent (or nothing to send) moves its cursor to ``upto``; a failure keeps it, to try again."""
    conn.execute(
        """
        UPDATE subscriptions SET digest_cursor = coalesce(%s, digest_cursor), digest_due_at = %s, digest_error = %s,
                                 updated_at = now()
        WHERE id = %s
        """,
        (upto, next_due, error, subscription_id),
    )
