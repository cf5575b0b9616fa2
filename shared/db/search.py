"""SQL for full-text search: the indexer that follows the publication cursor, and language-aware queries.

Each article's document is built with its language's text-search configuration (``search_languages``:
English stems "elections" to "elect", French "élections" to "élect"; other languages use 'simple'). A query
without a language is parsed with every configuration at once (``search_any``), so the document index is
scanned once, then each candidate is checked against the query as parsed in its own article's language.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from shared.db.published import PublishedArticle

# ts_headline marks the matched words with these; they never occur in cleaned text (control characters).
MARK_START, MARK_END = "\x02", "\x03"
MAX_DOCUMENT_CHARS = 200_000  # tsvector has a 1 MB limit; an article this long is indexed on its start
_PUBLISHED_FIELDS = [f.name for f in dataclasses.fields(PublishedArticle)]


@dataclass(frozen=True)
class SearchHit:
    """A published article that matched, its relevance and a snippet (matches between MARK_START/MARK_END)."""

    article: PublishedArticle
    rank: float
    snippet: str


def index_published(conn: psycopg.Connection, batch: int) -> int | None:
    """Index the next ``batch`` published articles after the indexer's cursor, in one transaction; returns
    how many were read (0: caught up), or None when another indexer holds the cursor.

    Cursor order is commit order (shared.db.articles.bump_cursor), so nothing published later can slip
    below the cursor. An article seen again with the same title, language and text (a retag) keeps its
    document: only what changed is recomputed."""
    with conn.transaction():
        row = conn.execute("SELECT cursor FROM search_progress FOR UPDATE SKIP LOCKED").fetchone()
        if row is None:
            return None
        counts = conn.execute(
            """
            WITH batch AS (
                SELECT p.id, p.cursor, p.title, left(p.text, %(max_chars)s) AS text,
                       coalesce(l.config, 'simple'::regconfig) AS config,
                       md5(concat_ws('|', p.title, p.language, p.content_hash)) AS source
                FROM newsmill.articles_published p LEFT JOIN search_languages l ON l.language = p.language
                WHERE p.cursor > %(after)s ORDER BY p.cursor LIMIT %(batch)s
            ), indexed AS (
                INSERT INTO article_search (article_id, config, document, source)
                SELECT b.id, b.config,
                       setweight(to_tsvector(b.config, coalesce(b.title, '')), 'A')
                       || setweight(to_tsvector(b.config, b.text), 'B'),
                       b.source
                FROM batch b LEFT JOIN article_search s ON s.article_id = b.id
                WHERE s.source IS DISTINCT FROM b.source
                ON CONFLICT (article_id) DO UPDATE
                    SET config = EXCLUDED.config, document = EXCLUDED.document, source = EXCLUDED.source
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM batch), (SELECT max(cursor) FROM batch), (SELECT count(*) FROM indexed)
            """,
            {"after": row[0], "batch": batch, "max_chars": MAX_DOCUMENT_CHARS},
        ).fetchone()
        assert counts is not None
        read, upto, _ = counts
        if upto is not None:
            conn.execute("UPDATE search_progress SET cursor = %s", (upto,))
    return int(read)


def indexed_cursor(conn: psycopg.Connection) -> int:
    """The highest cursor searched articles are indexed up to: changes whenever the results may have."""
    row = conn.execute("SELECT cursor FROM search_progress").fetchone()
    return int(row[0]) if row else 0


def search(
    conn: psycopg.Connection,
    q: str,
    *,
    language: str | None = None,
    topic: str | None = None,
    limit: int = 20,
    offset: int = 0,
    order: Literal["rank", "date"] = "rank",
) -> list[SearchHit]:
    """Published articles matching ``q`` (web search syntax: words, "phrases", or, -not), one per story,
    best first (``order="rank"``) or newest first (``"date"``: a saved search followed as a feed)."""
    order_by = sql.SQL("rank DESC, sort_date DESC, id DESC" if order == "rank" else "sort_date DESC, id DESC")
    query = sql.SQL("""
        WITH configs AS (
            SELECT config FROM search_languages WHERE %(lang)s::text IS NULL OR language = %(lang)s
            UNION
            SELECT 'simple'::regconfig
            WHERE %(lang)s::text IS NULL OR NOT EXISTS (SELECT 1 FROM search_languages WHERE language = %(lang)s)
        ),
        hits AS (
            SELECT DISTINCT ON (coalesce(p.duplicate_of, p.id)) p.*,
                   coalesce(p.published_at, p.fetched_at) AS sort_date,
                   ts_rank_cd(s.document, websearch_to_tsquery(s.config, %(q)s)) AS rank, s.config AS search_config
            FROM article_search s JOIN newsmill.articles_published p ON p.id = s.article_id
            WHERE s.document @@ (SELECT search_any(websearch_to_tsquery(config, %(q)s)) FROM configs)
              AND s.document @@ websearch_to_tsquery(s.config, %(q)s)
              AND (%(lang)s::text IS NULL OR p.language = %(lang)s)
              AND (%(topic)s::text IS NULL OR %(topic)s = ANY(p.topics))
            ORDER BY coalesce(p.duplicate_of, p.id), rank DESC, p.id
        ),
        page AS (SELECT * FROM hits ORDER BY {order_by} LIMIT %(limit)s OFFSET %(offset)s)
        SELECT page.*, ts_headline(search_config, text, websearch_to_tsquery(search_config, %(q)s),
                                   %(headline)s) AS snippet
        FROM page ORDER BY {order_by}
    """).format(order_by=order_by)
    headline = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=15, MaxFragments=2"
    params = {"q": q, "lang": language, "topic": topic, "limit": limit, "offset": offset, "headline": headline}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    return [_hit(row) for row in rows]


def _hit(row: dict[str, Any]) -> SearchHit:
    article = PublishedArticle(**{name: row[name] for name in _PUBLISHED_FIELDS})
    return SearchHit(article, float(row["rank"]), row["snippet"])
