"""SQL for the ``articles`` table: cleaned articles, their enrichment, and the publication cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

NOTIFY_CHANNEL = "newsmill_articles"


@dataclass(frozen=True)
class ArticleDraft:
    """What the extract stage produces for one item."""

    item_id: int
    feed_id: int | None
    url: str
    canonical_url: str
    site_name: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    date_source: str | None
    fetched_at: datetime
    text: str
    word_count: int
    content_hash: str
    page_language: str | None


@dataclass(frozen=True)
class Article(ArticleDraft):
    """A row of ``articles``: the draft as stored, with what enrichment and publication added."""

    id: int
    language: str | None
    language_probability: float | None
    language_source: str | None
    duplicate_of: int | None
    similarity: float | None
    cursor: int | None
    created_at: datetime
    updated_at: datetime
    first_cursor: int | None  # NULL until the cursor first moves after migration 0012 (then: the first one)
    content_changed_at: datetime | None  # the last change of what a reader sees; NULL: see 0012


@dataclass(frozen=True)
class Enrichment:
    language: str
    language_probability: float
    language_source: str
    duplicate_of: int | None
    similarity: float | None


def upsert_draft(conn: psycopg.Connection, d: ArticleDraft) -> int:
    """Insert the article of an item, or replace its extracted fields when the item is re-extracted."""
    row = conn.execute(
        """
        INSERT INTO articles (item_id, feed_id, url, canonical_url, site_name, title, author, published_at,
                              date_source, fetched_at, text, word_count, content_hash, page_language)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (item_id) DO UPDATE SET
            url = EXCLUDED.url, site_name = EXCLUDED.site_name, title = EXCLUDED.title,
            author = EXCLUDED.author, published_at = EXCLUDED.published_at,
            date_source = EXCLUDED.date_source, fetched_at = EXCLUDED.fetched_at, text = EXCLUDED.text,
            word_count = EXCLUDED.word_count, content_hash = EXCLUDED.content_hash,
            page_language = EXCLUDED.page_language, updated_at = now(),
            -- What a feed reader sees of the article: only a real change of it moves the entry's <updated>.
            content_changed_at = CASE
                WHEN (articles.url, articles.site_name, articles.title, articles.author, articles.published_at,
                      articles.text)
                     IS DISTINCT FROM (EXCLUDED.url, EXCLUDED.site_name, EXCLUDED.title, EXCLUDED.author,
                                       EXCLUDED.published_at, EXCLUDED.text)
                THEN clock_timestamp() ELSE coalesce(articles.content_changed_at, articles.updated_at) END
        RETURNING id
        """,
        (d.item_id, d.feed_id, d.url, d.canonical_url, d.site_name, d.title, d.author, d.published_at,
         d.date_source, d.fetched_at, d.text, d.word_count, d.content_hash, d.page_language),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def get_article(conn: psycopg.Connection, article_id: int) -> Article | None:
    with conn.cursor(row_factory=class_row(Article)) as cur:
        return cur.execute("SELECT * FROM articles WHERE id = %s", (article_id,)).fetchone()


def get_article_by_item(conn: psycopg.Connection, item_id: int) -> Article | None:
    with conn.cursor(row_factory=class_row(Article)) as cur:
        return cur.execute("SELECT * FROM articles WHERE item_id = %s", (item_id,)).fetchone()


def save_enrichment(conn: psycopg.Connection, article_id: int, e: Enrichment) -> None:
    conn.execute(
        """
        UPDATE articles SET language = %s, language_probability = %s, language_source = %s,
                            duplicate_of = %s, similarity = %s, updated_at = now()
        WHERE id = %s
        """,
        (e.language, e.language_probability, e.language_source, e.duplicate_of, e.similarity, article_id),
    )


def bump_cursor(conn: psycopg.Connection, article_ids: Sequence[int]) -> None:
    """Give articles new, higher cursor positions, making them (again) visible to cursor readers.

    Call it last in the transaction: it holds the publish_counter row lock until commit, which is what
    makes cursor order equal commit order (a reader of ``cursor > last`` can never skip a row that
    commits late with a lower value)."""
    ids = sorted(set(article_ids))
    if not ids:
        return
    row = conn.execute("UPDATE publish_counter SET value = value + %s RETURNING value", (len(ids),)).fetchone()
    assert row is not None
    first = int(row[0]) - len(ids) + 1
    # first_cursor and content_changed_at keep what they stood for before this move (see 0012): the cursor an
    # article was first published with, and the last change of its content (for rows older than that column,
    # the updated_at it had until now).
    conn.execute(
        """
        UPDATE articles a SET cursor = v.cursor, first_cursor = coalesce(a.first_cursor, a.cursor, v.cursor),
                              content_changed_at = coalesce(a.content_changed_at, a.updated_at), updated_at = now()
        FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, cursor) WHERE a.id = v.id
        """,
        (ids, list(range(first, first + len(ids)))),
    )
    # Delivered at commit, in commit order; consumers LISTEN instead of polling fast.
    conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(first + len(ids) - 1)))
