"""SQL for the ``articles`` table: cleaned articles, their enrichment, and the publication cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from shared.db.arrays import Bigints

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


_DRAFT_COLUMNS = ("item_id", "feed_id", "url", "canonical_url", "site_name", "title", "author", "published_at",
                  "date_source", "fetched_at", "text", "word_count", "content_hash", "page_language")  # fmt: skip
_DRAFT_TYPES = ("bigint", "bigint", "text", "text", "text", "text", "text", "timestamptz", "text", "timestamptz",
                "text", "integer", "text", "text")  # fmt: skip


def upsert_drafts(conn: psycopg.Connection, drafts: Sequence[ArticleDraft]) -> dict[int, int]:
    """Insert the articles of several items, or replace their extracted fields when an item is re-extracted, in
    one statement; returns item id -> article id."""
    if not drafts:
        return {}
    columns = ", ".join(_DRAFT_COLUMNS)
    arrays = ", ".join(f"%s::{t}[]" for t in _DRAFT_TYPES)
    rows = conn.execute(
        f"""
        INSERT INTO articles ({columns})
        SELECT * FROM unnest({arrays}) ORDER BY 1
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
        RETURNING item_id, id
        """,  # noqa: S608 - fixed column names; every value is a parameter
        [[getattr(d, column) for d in drafts] for column in _DRAFT_COLUMNS],
    ).fetchall()
    return {int(item_id): int(article_id) for item_id, article_id in rows}


def upsert_draft(conn: psycopg.Connection, d: ArticleDraft) -> int:
    """Insert the article of an item, or replace its extracted fields when the item is re-extracted."""
    return upsert_drafts(conn, [d])[d.item_id]


def get_article(conn: psycopg.Connection, article_id: int) -> Article | None:
    with conn.cursor(row_factory=class_row(Article)) as cur:
        return cur.execute("SELECT * FROM articles WHERE id = %s", (article_id,)).fetchone()


def get_articles_by_items(conn: psycopg.Connection, item_ids: Sequence[int]) -> dict[int, Article]:
    """The articles of several items, by item id (items without one are absent)."""
    with conn.cursor(row_factory=class_row(Article)) as cur:
        rows = cur.execute("SELECT * FROM articles WHERE item_id = ANY(%s)", (list(item_ids),)).fetchall()
    return {row.item_id: row for row in rows}


def published_up_to(conn: psycopg.Connection) -> int:
    """The last cursor handed out by a committed transaction (nothing committed later has a lower one)."""
    row = conn.execute("SELECT value FROM publish_counter").fetchone()
    assert row is not None
    return int(row[0])


def lock_publication(conn: psycopg.Connection) -> None:
    """Take the publish_counter row lock now (``bump_cursor`` takes it anyway): publications are serialised
    from here to this transaction's commit."""
    conn.execute("SELECT value FROM publish_counter FOR UPDATE")


def bump_cursor(conn: psycopg.Connection, article_ids: Sequence[int]) -> None:
    """Give articles new, higher cursor positions, making them (again) visible to cursor readers.

    Call it last in the transaction: it holds the publish_counter row lock until commit, which is what
    makes cursor order equal commit order (a reader of ``cursor > last`` can never skip a row that
    commits late with a lower value)."""
    ids = sorted(set(article_ids))
    if ids:
        _move(conn, "unnest(%(ids)s::bigint[]) WITH ORDINALITY AS v(id, n)", "", {"ids": Bigints(ids)}, len(ids))


def publish_enriched(conn: psycopg.Connection, enrichments: Mapping[int, Enrichment]) -> None:
    """``bump_cursor`` for articles being published (article id -> enrichment), storing their language and
    duplicate link in the same statement: each row is rewritten once, not once for the enrichment and again
    for the cursor (two non-HOT updates of a ~3 KB row, with its seven index entries, per article)."""
    if not enrichments:
        return
    ids = sorted(enrichments)
    _move(
        conn,
        "unnest(%(ids)s::bigint[], %(language)b::text[], %(probability)b::real[], %(source)b::text[], "
        "%(duplicate_of)b::bigint[], %(similarity)b::real[]) "
        "WITH ORDINALITY AS v(id, language, probability, source, duplicate_of, similarity, n)",
        "language = v.language, language_probability = v.probability, language_source = v.source, "
        "duplicate_of = v.duplicate_of, similarity = v.similarity,",
        {"ids": Bigints(ids), **enrichment_columns(ids, enrichments)},
        len(ids),
    )  # fmt: skip


def enrichment_columns(ids: Sequence[int], enrichments: Mapping[int, Enrichment]) -> dict[str, list[object]]:
    """The enrichments of ``ids``, in that order, as one parameter array per stored column (language,
    probability, source, duplicate_of, similarity): what publication and the publish queue send."""
    values = [enrichments[i] for i in ids]
    return {
        "language": [v.language for v in values], "probability": [v.language_probability for v in values],
        "source": [v.language_source for v in values], "duplicate_of": [v.duplicate_of for v in values],
        "similarity": [v.similarity for v in values],
    }  # fmt: skip


def _move(conn: psycopg.Connection, rows: str, also_set: str, params: dict[str, object], count: int) -> None:
    """The one statement behind ``bump_cursor`` and ``publish_enriched``: ``rows`` yields (id, ..., n) in cursor
    order; ``also_set`` names more columns to set from it."""
    # One statement (one round trip while the counter row is locked): take the range, stamp the articles, and
    # notify listeners, delivered at commit, in commit order, so consumers LISTEN instead of polling fast.
    # first_cursor and content_changed_at keep what they stood for before this move (see 0012): the cursor an
    # article was first published with, and the last change of its content (for rows older than that column,
    # the updated_at it had until now).
    conn.execute(
        f"""
        WITH counter AS (
            UPDATE publish_counter SET value = value + %(n)s RETURNING value - %(n)s AS before
        ), moved AS (
            UPDATE articles a SET {also_set}
                                  cursor = counter.before + v.n,
                                  first_cursor = coalesce(a.first_cursor, a.cursor, counter.before + v.n),
                                  content_changed_at = coalesce(a.content_changed_at, a.updated_at),
                                  updated_at = now()
            FROM counter, {rows} WHERE a.id = v.id
            RETURNING a.id
        )
        SELECT pg_notify(%(channel)s, (counter.before + %(n)s)::text), (SELECT count(*) FROM moved) FROM counter
        """,  # noqa: S608 - fixed SQL fragments; every value is a parameter
        {**params, "n": count, "channel": NOTIFY_CHANNEL},
    )
