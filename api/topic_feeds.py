"""Topic feeds: the topic list as JSON and each topic's latest stories as Atom, RSS or JSON Feed 1.1."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from api import feed_render
from api.conditional import http_date, not_modified, strong_etag
from api.deps import Conn, get_settings, with_connection
from api.feed_render import FeedFormat
from api.render_cache import RenderCache, Rendered, StateCache
from shared.db import topic_feed, topics
from shared.db.topic_feed import FeedState, StoryFilter

router = APIRouter(tags=["topics"])

# Bump when the rendering changes, so clients holding an old ETag get the new document.
RENDER_VERSION = 1
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")  # a topic's slug (the topic pages check it too)
_LANG = re.compile(r"^([a-z]{2,3}|und)$")
MAX_LANGS = 20


@router.get("/topics", summary="Every topic with its number of published articles")
def list_topics(conn: Conn) -> list[dict[str, Any]]:
    return [
        {
            "slug": t.slug,
            "name": t.name,
            "languages": t.languages,
            "article_count": t.article_count,
            "story_count": t.story_count,
        }
        for t in topics.list_topics(conn)
    ]


def parse_langs(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    langs = tuple(sorted({part.strip().lower() for part in value.split(",") if part.strip()}))
    if not langs or len(langs) > MAX_LANGS or not all(_LANG.match(code) for code in langs):
        raise HTTPException(422, "lang: comma-separated ISO 639-1 codes (or und), e.g. fr,en")
    return langs


def parse_since(value: str | None) -> tuple[int | None, datetime | None]:
    """``since`` is either a cursor (digits: articles published after it) or an ISO 8601 time (articles
    dated at or after it; a time without offset is UTC)."""
    if not value:
        return None, None
    if value.isascii() and value.isdigit():
        if len(value) > 18:
            raise HTTPException(422, "since: cursor out of range")
        return int(value), None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(422, "since: a cursor (integer) or an ISO 8601 date-time") from exc
    return None, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FeedParams:
    """The validated query of a feed request."""

    langs: tuple[str, ...] | None
    since_cursor: int | None
    since_time: datetime | None
    limit: int


LangQ = Annotated[str | None, Query(max_length=200, description="Comma-separated languages, e.g. fr,en.")]
SinceQ = Annotated[
    str | None, Query(max_length=64, description="A cursor (integer) or an ISO 8601 date-time; see docs/api.md.")
]
LimitQ = Annotated[int, Query(ge=1, le=200, description="Stories in the feed.")]


def feed_params(lang: LangQ = None, since: SinceQ = None, limit: LimitQ = 50) -> FeedParams:
    since_cursor, since_time = parse_since(since)
    return FeedParams(parse_langs(lang), since_cursor, since_time, limit)


Params = Annotated[FeedParams, Depends(feed_params)]


async def _feed_state(request: Request, slug: str) -> FeedState | None:
    """The topic's feed state, from the app's short-lived cache (NEWSMILL_API_FEED_STATE_TTL) or one query."""
    states: StateCache[FeedState] = request.app.state.feed_states
    return await states.get(slug, lambda: with_connection(request, lambda conn: topic_feed.feed_state(conn, slug)))


async def _feed_response(request: Request, slug: str, fmt: FeedFormat, p: FeedParams) -> Response:
    """The ETag comes from the feed's state; a client holding it gets 304 before anything is rendered, and
    a rendered feed is kept under its ETag. Async, so a request answered from memory (the state cached, the
    body cached or not needed) never leaves the event loop for a worker thread."""
    # A value that cannot be a slug (NUL bytes, lookalikes) is a topic that does not exist: 404 before SQL.
    state = await _feed_state(request, slug) if SLUG.match(slug) else None
    if state is None:
        raise HTTPException(404, "no such topic")
    since_time = p.since_time.isoformat() if p.since_time else None
    etag = strong_etag(RENDER_VERSION, slug, fmt, p.langs, p.since_cursor, since_time, p.limit,
                       state.max_cursor, state.article_count, state.topic_updated_at.isoformat())  # fmt: skip
    modified = max(filter(None, (state.last_updated_at, state.topic_updated_at)))
    # "public" lets shared caches (a proxy in front of several API replicas) keep the feed for everyone; a
    # deployment whose feeds need the admin token must not have one reader's copy served to another.
    scope = "public" if get_settings(request).public_read else "private"
    headers = {"ETag": etag, "Last-Modified": http_date(modified), "Cache-Control": f"{scope}, max-age=60"}
    if not_modified(request.headers, etag, modified):
        return Response(status_code=304, headers=headers)
    base = get_settings(request).public_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    self_url = f"{base}/topics/{slug}.{fmt}{query}"
    cache: RenderCache = request.app.state.render_cache
    if (cached := cache.get((etag, self_url))) is None:
        story_filter = StoryFilter(p.langs, p.since_cursor, p.since_time, p.limit)

        def render(conn: psycopg.Connection) -> Rendered:
            stories = topic_feed.latest_stories(conn, state.topic_id, story_filter)
            return feed_render.render_feed(
                fmt, title=f"{state.topic_name} · newsmill", self_url=self_url,
                html_url=f"{base}/topics/{slug}", stories=stories,
            )  # fmt: skip

        cached = await with_connection(request, render)
        cache.put((etag, self_url), cached)
    body, content_type = cached
    return Response(body, media_type=content_type, headers=headers)


_FEED_RESPONSES: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}, 404: {}}


@router.get("/topics/{slug}.atom", summary="A topic's Atom feed", responses=_FEED_RESPONSES)
async def topic_atom(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "atom", params)


@router.get("/topics/{slug}.rss", summary="A topic's RSS 2.0 feed", responses=_FEED_RESPONSES)
async def topic_rss(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "rss", params)


@router.get("/topics/{slug}.json", summary="A topic's JSON Feed 1.1", responses=_FEED_RESPONSES)
async def topic_json(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "json", params)
