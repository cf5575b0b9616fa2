"""SQL for the ``topics`` table: editor-owned topics and their tagging rules (stored as JSON)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


class UpsertStatus(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class TopicRow:
    id: int
    slug: str
    name: str
    description: str | None
    rules: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TopicSummary:
    """A topic as `newsmill topics list` shows it."""

    id: int
    slug: str
    name: str
    languages: list[str] | None
    article_count: int  # articles tagged with the topic
    report_count: int  # of those, the published ones
    story_count: int  # the stories they tell: a duplicate and its original are one, as the topic page groups them
    updated_at: datetime


def upsert_topic(
    conn: psycopg.Connection, slug: str, name: str, description: str | None, rules: dict[str, Any]
) -> tuple[int, UpsertStatus]:
    """Insert a topic or update it by slug; an identical reload changes nothing (updated_at stays)."""
    row = conn.execute(
        """
        INSERT INTO topics (slug, name, description, rules) VALUES (%s, %s, %s, %s)
        ON CONFLICT (slug) DO UPDATE SET
            name = EXCLUDED.name, description = EXCLUDED.description, rules = EXCLUDED.rules, updated_at = now()
        WHERE (topics.name, topics.description, topics.rules)
              IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.rules)
        RETURNING id, created_at = updated_at AS created
        """,
        (slug, name, description, Jsonb(rules)),
    ).fetchone()
    if row is not None:
        # A fresh row has created_at = updated_at = now(); an update moves updated_at past created_at
        # unless it happens in the transaction that created the row, which a reload never is.
        return int(row[0]), UpsertStatus.CREATED if row[1] else UpsertStatus.UPDATED
    existing = conn.execute("SELECT id FROM topics WHERE slug = %s", (slug,)).fetchone()
    assert existing is not None
    return int(existing[0]), UpsertStatus.UNCHANGED


def get_topic(conn: psycopg.Connection, slug: str) -> TopicRow | None:
    with conn.cursor(row_factory=class_row(TopicRow)) as cur:
        return cur.execute("SELECT * FROM topics WHERE slug = %s", (slug,)).fetchone()


def all_topics(conn: psycopg.Connection) -> list[TopicRow]:
    """Every topic, by slug: what the tagger runs."""
    with conn.cursor(row_factory=class_row(TopicRow)) as cur:
        return cur.execute("SELECT * FROM topics ORDER BY slug").fetchall()


def fingerprint(conn: psycopg.Connection) -> str:
    """Changes whenever a topic is added, edited or removed: lets workers cache compiled rules.

    A digest of every (id, updated_at), not max(updated_at): an edit whose transaction started before another
    edit but committed after it has the older timestamp, and the newest one would hide it."""
    row = conn.execute(
        "SELECT count(*) || '/' || coalesce(md5(string_agg(id || ':' || updated_at, ',' ORDER BY id)), '') FROM topics"
    ).fetchone()
    assert row is not None
    return str(row[0])


def list_topics(conn: psycopg.Connection) -> list[TopicSummary]:
    """Every topic with its language filter, the number of articles it tags, and how many of them are
    published and in how many stories (an original and its duplicates count once)."""
    with conn.cursor(row_factory=class_row(TopicSummary)) as cur:
        return cur.execute(
            """
            SELECT t.id, t.slug, t.name,
                   CASE WHEN jsonb_typeof(t.rules -> 'languages') = 'array'
                        THEN ARRAY(SELECT jsonb_array_elements_text(t.rules -> 'languages')) END AS languages,
                   coalesce(c.n, 0) AS article_count, coalesce(c.reports, 0) AS report_count,
                   coalesce(c.stories, 0) AS story_count, t.updated_at
            FROM topics t
            LEFT JOIN (
                SELECT at.topic_id, count(*) AS n,
                       count(*) FILTER (WHERE a.cursor IS NOT NULL) AS reports,
                       count(DISTINCT coalesce(a.duplicate_of, a.id)) FILTER (WHERE a.cursor IS NOT NULL) AS stories
                FROM article_topics at JOIN articles a ON a.id = at.article_id
                GROUP BY at.topic_id
            ) c ON c.topic_id = t.id
            ORDER BY t.slug
            """
        ).fetchall()


def delete_topic(conn: psycopg.Connection, slug: str) -> list[int] | None:
    """Delete a topic, its tags with it; returns the published articles that had it (their topics changed, so
    the caller gives them a new cursor in the same transaction), or None when there is no such topic."""
    row = conn.execute("SELECT id FROM topics WHERE slug = %s FOR UPDATE", (slug,)).fetchone()
    if row is None:
        return None
    tagged = conn.execute(
        """
        SELECT at.article_id FROM article_topics at JOIN articles a ON a.id = at.article_id
        WHERE at.topic_id = %s AND a.cursor IS NOT NULL ORDER BY 1
        """,
        (row[0],),
    ).fetchall()
    conn.execute("DELETE FROM topics WHERE id = %s", (row[0],))
    return [int(r[0]) for r in tagged]
