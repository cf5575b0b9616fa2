"""SQL for a topic's feed: its latest stories (duplicates collapsed) and the cheap state its ETag is built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from shared.db.published import PublishedArticle

# A topic feed looks at this many of the topic's newest tagged articles (by id, via article_topics_topic_idx)
# when it groups them into stories: the work per request stays bounded however large the topic grows.
CANDIDATE_WINDOW = 2_000


@dataclass(frozen=True)
class OtherReport:
    """Another published copy of a story: a syndicated or near-duplicate article on some site."""

    article_id: int
    site: str | None
    url: str
    published_at: datetime | None


@dataclass(frozen=True)
class Story:
    """One entry of a feed or page: the original article and the other sites that also reported it."""

    article: PublishedArticle
    also_reported: list[OtherReport] = field(default_factory=list)
    # When what a reader sees of the article last changed (its entry's <updated>); a new cursor alone (a
    # retag) does not move it. None only for stories built without the database.
    content_changed_at: datetime | None = None

    @property
    def changed_at(self) -> datetime:
        return self.content_changed_at or self.article.updated_at


@dataclass(frozen=True)
class FeedState:
    """What changes whenever a topic feed would change: the input of its ETag and Last-Modified."""

    topic_id: int
    topic_name: str  # the feed's title, read here so a render needs no second topic query
    topic_updated_at: datetime
    max_cursor: int
    article_count: int
    last_updated_at: datetime | None


@dataclass(frozen=True)
class StoryFilter:
    """The feed's query parameters, already validated: languages, a lower bound, how many stories, and for a
    later page, the sort key (date, id) of the last story of the page before (RFC 5005 paging)."""

    languages: Sequence[str] | None = None
    since_cursor: int | None = None
    since_time: datetime | None = None
    limit: int = 50
    before: tuple[datetime, int] | None = None


def sort_key(story: Story) -> tuple[datetime, int]:
    """Where a story sits in a feed (newest first): its date, else when it was fetched; then its id."""
    return story.article.published_at or story.article.fetched_at, story.article.id


def feed_state(conn: psycopg.Connection, slug: str) -> FeedState | None:
    """One indexed aggregate over the articles a feed can show (the candidate window), so its cost does not
    grow with the topic; None for an unknown topic. Any change to what the feed shows changes max_cursor
    (a new, re-tagged or re-extracted article gets a higher cursor) or article_count (a tag removed)."""
    with conn.cursor(row_factory=class_row(FeedState)) as cur:
        return cur.execute(
            """
            SELECT t.id AS topic_id, t.name AS topic_name, t.updated_at AS topic_updated_at,
                   coalesce(w.max_cursor, 0) AS max_cursor, coalesce(w.n, 0) AS article_count,
                   w.last_updated_at
            FROM topics t
            LEFT JOIN LATERAL (
                SELECT max(a.cursor) AS max_cursor, count(*) AS n, max(a.updated_at) AS last_updated_at
                FROM (SELECT article_id FROM article_topics WHERE topic_id = t.id
                      ORDER BY article_id DESC LIMIT %(window)s) at
                JOIN articles a ON a.id = at.article_id AND a.cursor IS NOT NULL
            ) w ON true
            WHERE t.slug = %(slug)s
            """,
            {"slug": slug, "window": CANDIDATE_WINDOW},
        ).fetchone()


def all_topics_state(conn: psycopg.Connection, name: str) -> FeedState:
    """The state of the combined feed of every topic (topic_id 0): the same aggregate over the newest tagged
    articles of any topic; its topic_updated_at is the last edit of any topic."""
    with conn.cursor(row_factory=class_row(FeedState)) as cur:
        row = cur.execute(
            """
            SELECT 0 AS topic_id, %(name)s AS topic_name,
                   coalesce((SELECT max(updated_at) FROM topics), 'epoch'::timestamptz) AS topic_updated_at,
                   coalesce(max(a.cursor), 0) AS max_cursor, count(*) AS article_count,
                   max(a.updated_at) AS last_updated_at
            FROM (SELECT DISTINCT article_id FROM article_topics ORDER BY article_id DESC LIMIT %(window)s) at
            JOIN articles a ON a.id = at.article_id AND a.cursor IS NOT NULL
            """,
            {"name": name, "window": CANDIDATE_WINDOW},
        ).fetchone()
    assert row is not None
    return row


# The candidate window: the newest tagged articles of one topic, or of any (topic_id 0, the combined feed).
_ONE_TOPIC: LiteralString = (
    "SELECT article_id FROM article_topics WHERE topic_id = %(topic)s ORDER BY article_id DESC LIMIT %(window)s"
)
_ANY_TOPIC: LiteralString = "SELECT DISTINCT article_id FROM article_topics ORDER BY article_id DESC LIMIT %(window)s"


def latest_stories(conn: psycopg.Connection, topic_id: int, f: StoryFilter) -> list[Story]:
    """The topic's newest stories (topic_id 0: of every topic): one per original (``duplicate_of IS NULL``),
    represented by the original when it is in the topic, else by the earliest published copy that is; newest
    first, from ``f.before`` on when it is set (the next page)."""
    query = sql.SQL("""
        WITH tagged AS (
            SELECT a.id, coalesce(a.duplicate_of, a.id) AS story, a.published_at
            FROM ({candidates}) at
            JOIN articles a ON a.id = at.article_id
            WHERE a.cursor IS NOT NULL
              AND (%(langs)s::text[] IS NULL OR a.language = ANY(%(langs)s))
              AND (%(since_cursor)s::bigint IS NULL OR a.cursor > %(since_cursor)s)
              AND (%(since_time)s::timestamptz IS NULL
                   OR coalesce(a.published_at, a.fetched_at) >= %(since_time)s)
        ),
        rep AS (
            SELECT DISTINCT ON (story) id FROM tagged
            ORDER BY story, (id = story) DESC, published_at ASC NULLS LAST, id
        )
        SELECT p.* FROM rep JOIN newsmill.articles_published p ON p.id = rep.id
        WHERE %(before_time)s::timestamptz IS NULL
           OR (coalesce(p.published_at, p.fetched_at), p.id) < (%(before_time)s, %(before_id)s::bigint)
        ORDER BY coalesce(p.published_at, p.fetched_at) DESC, p.id DESC
        LIMIT %(limit)s
    """).format(candidates=sql.SQL(_ANY_TOPIC if topic_id == 0 else _ONE_TOPIC))
    before_time, before_id = f.before or (None, None)
    with conn.cursor(row_factory=class_row(PublishedArticle)) as cur:
        reps = cur.execute(
            query,
            {
                "topic": topic_id, "window": CANDIDATE_WINDOW, "langs": list(f.languages) if f.languages else None,
                "since_cursor": f.since_cursor, "since_time": f.since_time, "limit": f.limit,
                "before_time": before_time, "before_id": before_id,
            },
        ).fetchall()  # fmt: skip
    return attach_other_reports(conn, reps)


def attach_other_reports(conn: psycopg.Connection, articles: Sequence[PublishedArticle]) -> list[Story]:
    """Wrap each article as a story naming every other published copy of it (the original or its duplicates)."""
    roots = {a.id: a.duplicate_of or a.id for a in articles}
    with conn.cursor() as cur:
        rows = cur.execute(
            """
            SELECT coalesce(p.duplicate_of, p.id) AS story, p.id, p.site, p.url, p.published_at,
                   coalesce(a.content_changed_at, a.updated_at) AS changed_at
            FROM newsmill.articles_published p JOIN articles a ON a.id = p.id
            WHERE p.id = ANY(%(roots)s) OR p.duplicate_of = ANY(%(roots)s)
            ORDER BY p.published_at ASC NULLS LAST, p.id
            """,
            {"roots": sorted(set(roots.values()))},
        ).fetchall()
    copies: dict[int, list[OtherReport]] = {}
    changed: dict[int, datetime] = {}
    for story, article_id, site, url, published_at, changed_at in rows:
        copies.setdefault(story, []).append(OtherReport(article_id, site, url, published_at))
        changed[article_id] = changed_at
    return [
        Story(a, [c for c in copies.get(roots[a.id], []) if c.article_id != a.id], changed.get(a.id)) for a in articles
    ]
