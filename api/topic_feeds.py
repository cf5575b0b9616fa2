"""Topic feeds: the topic list as JSON, each topic's latest stories as Atom, RSS or JSON Feed 1.1, and the
combined feed of every topic; older stories page by page (RFC 5005 §3 ``next`` links)."""

from __future__ import annotations

import functools
import gzip
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.conditional import http_date, not_modified, strong_etag
from api.deps import Conn, get_settings, with_connection
from api.http_features import GZIP_LEVEL, GZIP_MINIMUM_BYTES
from api.render_cache import RenderCache, Rendered, StateCache
from shared import feed_render
from shared.db import topic_feed, topics
from shared.db.topic_feed import FeedState, StoryFilter
from shared.feed_render import FeedFormat
from shared.languages import normalise_languages
from shared.opml import OPML_TYPE, Outline, write_opml

router = APIRouter(tags=["topics"])

# Bump when the rendering changes, so clients holding an old ETag get the new document.
RENDER_VERSION = 2  # 2: inert text fields, entry updated = content change, paging and hub links
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")  # a topic's slug (the topic pages check it too)
_BEFORE = re.compile(r"(-?\d{1,18})\.(\d{1,18})")
MAX_LANGS = 20
ALL_TOPICS = "All topics"  # the combined feed's title
_ALL = "\x00all"  # the combined feed's key in the state cache: no slug can be it


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


@router.get("/topics.opml", summary="Every topic feed as OPML 2.0, to subscribe to them all in one step")
def topics_opml(
    request: Request, conn: Conn, format: Annotated[FeedFormat, Query(description="Feed format to list.")] = "atom"
) -> Response:
    base = get_settings(request).public_url.rstrip("/")
    outlines = [Outline(f"{base}/topics.{format}", f"{ALL_TOPICS} · newsmill", f"{base}/")] + [
        Outline(f"{base}/topics/{t.slug}.{format}", f"{t.name} · newsmill", f"{base}/topics/{t.slug}")
        for t in topics.list_topics(conn)
    ]
    body = write_opml("newsmill topics", outlines, datetime.now(UTC))
    return Response(
        body, media_type=OPML_TYPE, headers={"Content-Disposition": 'inline; filename="newsmill-topics.opml"'}
    )


def parse_langs(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    parts = [part for part in value.split(",") if part.strip()]
    try:
        langs = tuple(sorted(normalise_languages(parts)))
    except ValueError:
        langs = ()
    if not langs or len(langs) > MAX_LANGS:
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


def parse_before(value: str | None) -> tuple[datetime, int] | None:
    """A page token ``<microseconds since the epoch>.<article id>``: where the previous page ended."""
    if not value:
        return None
    match = _BEFORE.fullmatch(value)
    if match is None:
        raise HTTPException(422, "before: a page token from a feed's next link")
    moment = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(match[1]))
    return moment, int(match[2])


def page_token(key: tuple[datetime, int]) -> str:
    moment, article_id = key
    return f"{(moment - datetime.fromtimestamp(0, UTC)) // timedelta(microseconds=1)}.{article_id}"


@dataclass(frozen=True)
class FeedParams:
    """The validated query of a feed request."""

    langs: tuple[str, ...] | None
    since_cursor: int | None
    since_time: datetime | None
    limit: int
    before: tuple[datetime, int] | None = None

    def story_filter(self) -> StoryFilter:
        return StoryFilter(self.langs, self.since_cursor, self.since_time, self.limit, self.before)

    def etag_parts(self) -> tuple[object, ...]:
        since_time = self.since_time.isoformat() if self.since_time else None
        before = page_token(self.before) if self.before else None
        return self.langs, self.since_cursor, since_time, self.limit, before


LangQ = Annotated[str | None, Query(max_length=200, description="Comma-separated languages, e.g. fr,en.")]
SinceQ = Annotated[
    str | None, Query(max_length=64, description="A cursor (integer) or an ISO 8601 date-time; see docs/api.md.")
]
LimitQ = Annotated[int, Query(ge=1, le=200, description="Stories in the feed.")]
BeforeQ = Annotated[str | None, Query(max_length=40, description="A page token from a `next` link (RFC 5005).")]


def feed_params(lang: LangQ = None, since: SinceQ = None, limit: LimitQ = 50, before: BeforeQ = None) -> FeedParams:
    since_cursor, since_time = parse_since(since)
    return FeedParams(parse_langs(lang), since_cursor, since_time, limit, parse_before(before))


Params = Annotated[FeedParams, Depends(feed_params)]


async def _feed_state(request: Request, slug: str | None) -> FeedState | None:
    """The feed's state (``slug`` None: the combined feed), from the app's short-lived cache
    (NEWSMILL_API_FEED_STATE_TTL) or one query."""
    states: StateCache[FeedState] = request.app.state.feed_states
    if slug is None:
        return await states.get(
            _ALL, lambda: with_connection(request, lambda c: topic_feed.all_topics_state(c, ALL_TOPICS))
        )
    return await states.get(slug, lambda: with_connection(request, lambda conn: topic_feed.feed_state(conn, slug)))


def hub_url(request: Request) -> str | None:
    """The WebSub hub that pushes the public feeds (api.websub); none when feeds are not public."""
    settings = get_settings(request)
    return f"{settings.public_url.rstrip('/')}/websub" if settings.public_read else None


def _page_url(request: Request, path: str, before: str | None) -> str:
    """This feed's URL with the same query, on the page ``before`` (None: the first page)."""
    base = get_settings(request).public_url.rstrip("/")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "before"]
    if before is not None:
        query.append(("before", before))
    return f"{base}{path}" + (f"?{urlencode(query)}" if query else "")


async def _feed_response(request: Request, slug: str | None, fmt: FeedFormat, p: FeedParams) -> Response:
    """The feed of one topic, or of every topic (``slug`` None). The ETag comes from the feed's state; a
    client holding it gets 304 before anything is rendered, and a rendered feed is kept under its ETag. Async,
    so a request answered from memory (the state cached, the body cached or not needed) never leaves the
    event loop for a worker thread."""
    # A value that cannot be a slug (NUL bytes, lookalikes) is a topic that does not exist: 404 before SQL.
    state = await _feed_state(request, slug) if slug is None or SLUG.match(slug) else None
    if state is None:
        raise HTTPException(404, "no such topic")
    etag = strong_etag(RENDER_VERSION, slug, fmt, *p.etag_parts(), hub_url(request),
                       state.max_cursor, state.article_count, state.topic_updated_at.isoformat())  # fmt: skip
    modified = max(filter(None, (state.last_updated_at, state.topic_updated_at)))
    # "public" lets shared caches (a proxy in front of several API replicas) keep the feed for everyone; a
    # deployment whose feeds need the admin token must not have one reader's copy served to another.
    scope = "public" if get_settings(request).public_read else "private"
    headers = {"ETag": etag, "Last-Modified": http_date(modified), "Cache-Control": f"{scope}, max-age=60"}
    if not_modified(request.headers, etag, modified):
        return Response(status_code=304, headers=headers)
    base = get_settings(request).public_url.rstrip("/")
    path, html_path = (f"/topics/{slug}.{fmt}", f"/topics/{slug}") if slug else (f"/topics.{fmt}", "/")
    self_url = _page_url(request, path, page_token(p.before) if p.before else None)
    cache: RenderCache = request.app.state.render_cache
    if (cached := cache.get((etag, self_url))) is None:
        story_filter, hub = p.story_filter(), hub_url(request)

        def render(conn: psycopg.Connection) -> Rendered:
            stories = topic_feed.latest_stories(conn, state.topic_id, story_filter)
            # A full page may have older stories after it: link the next one (RFC 5005 §3).
            after = page_token(topic_feed.sort_key(stories[-1])) if len(stories) == story_filter.limit else None
            return feed_render.render_feed(
                fmt, title=f"{state.topic_name} · newsmill", self_url=self_url, html_url=f"{base}{html_path}",
                stories=stories, hub_url=hub, first_url=_page_url(request, path, None),
                next_url=_page_url(request, path, after) if after else None,
            )  # fmt: skip

        cached = await with_connection(request, render)
        cache.put((etag, self_url), cached)
    body, content_type = cached
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) >= GZIP_MINIMUM_BYTES:
        # Compressed once per version and kept next to the plain body: a hot feed costs no CPU per reader.
        if (compressed := cache.get((etag, self_url + "\x00gzip"))) is None:
            squeezed = await run_in_threadpool(functools.partial(gzip.compress, body, GZIP_LEVEL, mtime=0))
            cache.put((etag, self_url + "\x00gzip"), compressed := (squeezed, content_type))
        # (The gzip middleware adds Vary to the plain answers it could have compressed, and leaves this one.)
        body, headers = compressed[0], headers | {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(body, media_type=content_type, headers=headers)


_FEED_RESPONSES: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}, 404: {}}


@router.get("/topics.atom", summary="Every topic's stories in one Atom feed", responses=_FEED_RESPONSES)
async def all_atom(request: Request, params: Params) -> Response:
    return await _feed_response(request, None, "atom", params)


@router.get("/topics.rss", summary="Every topic's stories in one RSS 2.0 feed", responses=_FEED_RESPONSES)
async def all_rss(request: Request, params: Params) -> Response:
    return await _feed_response(request, None, "rss", params)


@router.get("/topics.json", summary="Every topic's stories in one JSON Feed 1.1", responses=_FEED_RESPONSES)
async def all_json(request: Request, params: Params) -> Response:
    return await _feed_response(request, None, "json", params)


@router.get("/topics/{slug}.atom", summary="A topic's Atom feed", responses=_FEED_RESPONSES)
async def topic_atom(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "atom", params)


@router.get("/topics/{slug}.rss", summary="A topic's RSS 2.0 feed", responses=_FEED_RESPONSES)
async def topic_rss(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "rss", params)


@router.get("/topics/{slug}.json", summary="A topic's JSON Feed 1.1", responses=_FEED_RESPONSES)
async def topic_json(request: Request, slug: str, params: Params) -> Response:
    return await _feed_response(request, slug, "json", params)
