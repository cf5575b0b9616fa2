"""SQL for ``newsmill.articles_published``, the read interface downstream services follow by cursor."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from shared.db.articles import NOTIFY_CHANNEL


@dataclass(frozen=True)
class PublishedArticle:
    id: int
    url: str
    canonical_url: str
    site: str | None
    feed_id: int | None
    feed_url: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    language_probability: float | None
    text: str
    word_count: int
    content_hash: str
    duplicate_of: int | None
    similarity: float | None
    topics: list[str]
    cursor: int
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The view's columns as a JSON object; times in ISO 8601 (UTC)."""
        out = asdict(self)
        for key in ("published_at", "fetched_at", "updated_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out


def read_after(
    conn: psycopg.Connection,
    after: int,
    *,
    topic: str | None = None,
    language: str | None = None,
    limit: int = 100,
) -> list[PublishedArticle]:
    """The next ``limit`` published articles with a cursor above ``after``, in cursor order."""
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        return cur.execute(
            """
            SELECT * FROM newsmill.articles_published
            WHERE cursor > %(after)s
              AND (%(topic)s::text IS NULL OR %(topic)s = ANY(topics))
              AND (%(lang)s::text IS NULL OR language = %(lang)s)
            ORDER BY cursor LIMIT %(limit)s
            """,
            {"after": after, "topic": topic, "lang": language, "limit": limit},
        ).fetchall()


def get_published(conn: psycopg.Connection, article_id: int) -> PublishedArticle | None:
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        return cur.execute("SELECT * FROM newsmill.articles_published WHERE id = %s", (article_id,)).fetchone()


def follow(
    conn: psycopg.Connection,
    after: int,
    *,
    topic: str | None = None,
    language: str | None = None,
    batch: int = 500,
    idle_timeout: float | None = None,
) -> Iterator[PublishedArticle]:
    """Every published article after ``after``, forever: reads what is there, then waits on LISTEN.

    ``conn`` must be in autocommit mode (notifications arrive between transactions). The LISTEN starts
    before the first read, so nothing published in between is missed. ``idle_timeout`` ends the
    iteration after that many seconds without a notification (None: never)."""
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
    cursor = after
    while True:
        rows = read_after(conn, cursor, topic=topic, language=language, limit=batch)
        for row in rows:
            cursor = row.cursor
            yield row
        if len(rows) == batch:
            continue
        notified = False
        for _ in conn.notifies(timeout=idle_timeout if idle_timeout is not None else 30.0, stop_after=1):
            notified = True
        if not notified and idle_timeout is not None:
            return
