"""SQL for the ``article_topics`` table: each article's topic tags with their score and matched terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from shared.db.arrays import Bigints


@dataclass(frozen=True)
class NewTag:
    """A tag computed by the topics stage, ready to store."""

    article_id: int
    topic_id: int
    score: float
    matched_terms: list[dict[str, Any]]


@dataclass(frozen=True)
class ArticleTag:
    article_id: int
    topic_id: int
    slug: str
    score: float
    matched_terms: list[dict[str, Any]]
    tagged_at: datetime


@dataclass(frozen=True)
class TaggableArticle:
    """What tagging reads from an article; ``cursor`` is None until the article is published."""

    id: int
    title: str | None
    text: str
    language: str | None
    cursor: int | None


def replace_tags(conn: psycopg.Connection, article_ids: Sequence[int], tags: Sequence[NewTag]) -> list[int]:
    """Make ``tags`` the complete tag set of ``article_ids``; returns the articles whose topics changed.

    One statement: tags no longer earned are deleted, new ones inserted, kept ones get their new score
    and terms. Only a change of *which* topics an article has is reported (that is what readers of the
    published view see); a new score alone is stored but not reported."""
    ordered = sorted(tags, key=lambda t: (t.article_id, t.topic_id))  # one lock order for concurrent writers
    # Arrays in binary (%b, Bigints): as a text array, each quote of each tag's JSON terms is escaped by a
    # regular expression, which was a fifth of a publisher's CPU (bench.publication).
    rows = conn.execute(
        """
        WITH wanted AS (
            SELECT * FROM unnest(%(a)s::bigint[], %(t)s::bigint[], %(s)b::real[], %(m)b::jsonb[])
                AS n(article_id, topic_id, score, matched_terms)
        ), before AS (
            SELECT article_id, topic_id FROM article_topics WHERE article_id = ANY(%(ids)s::bigint[])
        ), removed AS (
            DELETE FROM article_topics o WHERE o.article_id = ANY(%(ids)s::bigint[])
              AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.article_id = o.article_id AND w.topic_id = o.topic_id)
        ), upserted AS (
            INSERT INTO article_topics (article_id, topic_id, score, matched_terms) SELECT * FROM wanted
            ON CONFLICT (article_id, topic_id) DO UPDATE
                SET score = EXCLUDED.score, matched_terms = EXCLUDED.matched_terms, tagged_at = now()
                WHERE (article_topics.score, article_topics.matched_terms)
                      IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.matched_terms)
        )
        -- Every CTE sees the table as it was before the statement, so "before" is the previous tag set.
        SELECT article_id FROM (SELECT * FROM before EXCEPT SELECT article_id, topic_id FROM wanted) gone
        UNION
        SELECT article_id FROM (SELECT article_id, topic_id FROM wanted EXCEPT SELECT * FROM before) came
        ORDER BY 1
        """,
        {
            "ids": Bigints(article_ids),
            "a": Bigints(t.article_id for t in ordered),
            "t": Bigints(t.topic_id for t in ordered),
            "s": [t.score for t in ordered],
            "m": [Jsonb(t.matched_terms) for t in ordered],
        },
    ).fetchall()
    return [int(r[0]) for r in rows]


def tags_of_article(conn: psycopg.Connection, article_id: int) -> list[ArticleTag]:
    """An article's tags, best score first, with the terms that earned them."""
    with conn.cursor(row_factory=class_row(ArticleTag)) as cur:
        return cur.execute(
            """
            SELECT at.article_id, at.topic_id, t.slug, at.score, at.matched_terms, at.tagged_at
            FROM article_topics at JOIN topics t ON t.id = at.topic_id
            WHERE at.article_id = %s ORDER BY at.score DESC, t.slug
            """,
            (article_id,),
        ).fetchall()


def count_articles_to_tag(conn: psycopg.Connection, since: datetime | None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM articles WHERE %(since)s::timestamptz IS NULL OR fetched_at >= %(since)s",
        {"since": since},
    ).fetchone()
    return int(row[0]) if row else 0


def articles_to_tag(
    conn: psycopg.Connection, after_id: int, since: datetime | None, limit: int
) -> list[TaggableArticle]:
    """The next ``limit`` articles after ``after_id`` (keyset: stable while rows are added), fetched since
    ``since`` (None: all)."""
    with conn.cursor(row_factory=class_row(TaggableArticle)) as cur:
        return cur.execute(
            """
            SELECT id, title, text, language, cursor FROM articles
            WHERE id > %(after)s AND (%(since)s::timestamptz IS NULL OR fetched_at >= %(since)s)
            ORDER BY id LIMIT %(limit)s
            """,
            {"after": after_id, "since": since, "limit": limit},
        ).fetchall()
