"""Read-only SQL behind the sources page: each feed's last success and error and its articles per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg
from psycopg.rows import class_row

DAYS = 14


@dataclass(frozen=True)
class FeedActivity:
    id: int
    url: str
    title: str | None
    site_url: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    consecutive_failures: int
    # Published articles per UTC day, oldest first, ``days`` entries ending today; counted by the day
    # newsmill discovered the entry (items.created_at, indexed per feed), not the date the site claims.
    per_day: list[int]


def feeds_with_activity(conn: psycopg.Connection, today: date, days: int = DAYS) -> list[FeedActivity]:
    """Every feed, most troubled first (failing longest), then by URL."""
    first = today - timedelta(days=days - 1)
    with conn.cursor(row_factory=class_row(FeedActivity)) as cur:
        return cur.execute(
            """
            SELECT f.id, f.url, f.title, f.site_url, f.last_polled_at, f.last_success_at, f.last_outcome,
                   f.last_error, f.consecutive_failures,
                   ARRAY(
                       SELECT coalesce(c.n, 0)::int
                       FROM generate_series(%(first)s::date, %(today)s::date, interval '1 day') AS d(day)
                       LEFT JOIN (
                           SELECT (i.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                           FROM items i JOIN articles a ON a.item_id = i.id AND a.cursor IS NOT NULL
                           WHERE i.feed_id = f.id
                             AND i.created_at >= (%(first)s::date)::timestamp AT TIME ZONE 'UTC'
                           GROUP BY 1
                       ) c ON c.day = d.day::date
                       ORDER BY d.day
                   ) AS per_day
            FROM feeds f
            ORDER BY f.consecutive_failures DESC, f.url
            """,
            {"first": first, "today": today},
        ).fetchall()
