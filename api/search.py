"""Full-text search over published articles: ``GET /search`` as JSON or as a page, and saved searches as feeds
(``/search.atom``, ``.rss``, ``.json``) that an editor follows like a topic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from api.conditional import not_modified, strong_etag
from api.deps import Conn, get_settings
from api.pages import prefers_html, templates
from api.topic_feeds import hub_url
from shared import feed_render
from shared.db import search
from shared.db.search import MARK_END, MARK_START, SearchHit
from shared.db.topic_feed import Story, attach_other_reports
from shared.feed_render import FeedFormat, summary_of

router = APIRouter(tags=["search"])

RENDER_VERSION = 1
QueryQ = Annotated[str | None, Query(max_length=200, description='Words, "a phrase", or, -excluded.')]
LangQ = Annotated[str | None, Query(pattern=r"^([a-z]{2,3}|und)$", description="ISO 639-1 code: only that language, "
                                    "and the query parsed with its stemming.")]  # fmt: skip
TopicQ = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80, description="A topic slug.")]
_MARKED = re.compile(f"{MARK_START}(.*?){MARK_END}", re.S)


@dataclass(frozen=True)
class SearchParams:
    """The validated query: words (None: none given), a language and a topic to narrow to."""

    q: str | None
    lang: str | None
    topic: str | None


def search_params(q: QueryQ = None, lang: LangQ = None, topic: TopicQ = None) -> SearchParams:
    return SearchParams(q, lang, topic)


Params = Annotated[SearchParams, Depends(search_params)]


def _query(q: str | None) -> str:
    q = (q or "").strip()
    if not q or not q.isprintable():
        raise HTTPException(422, "q: printable words to search for")
    return q


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """The snippet as (text, matched) pieces: the page marks the matches, the JSON gives plain text."""
    parts, last = [], 0
    for match in _MARKED.finditer(snippet):
        parts += [(snippet[last : match.start()], False), (match[1], True)]
        last = match.end()
    return [p for p in [*parts, (snippet[last:], False)] if p[0]]


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    out = hit.article.to_json()
    del out["text"]  # a result list: the snippet and summary, not whole articles (GET /articles/{id} has it)
    return out | {"rank": round(hit.rank, 6), "snippet": hit.snippet.replace(MARK_START, "").replace(MARK_END, ""),
                  "summary": summary_of(hit.article.text)}  # fmt: skip


@router.get("/search", summary="Search published articles (JSON, or a page for browsers)",
            responses={200: {"content": {"text/html": {}}}, 422: {}})  # fmt: skip
def search_articles(
    request: Request,
    conn: Conn,
    p: Params,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> Response:
    """Best matches first. The article's language picks the stemming (``lang`` narrows to one language and
    parses the query with its rules); one result per story. ``Accept: text/html`` gets the page (without
    ``q``: the search form)."""
    headers = {"Vary": "Accept"}
    if prefers_html(request.headers.get("accept", "")):
        hits = (
            search.search(conn, _query(p.q), language=p.lang, topic=p.topic, limit=limit, offset=offset) if p.q else []
        )
        context = {"q": p.q or "", "lang": p.lang, "topic": p.topic, "hits": hits, "parts": snippet_parts,
                   "offset": offset, "limit": limit, "feed_query": request.url.query}  # fmt: skip
        return templates.TemplateResponse(request, "search.html", context, headers=headers)
    hits = search.search(conn, _query(p.q), language=p.lang, topic=p.topic, limit=limit, offset=offset)
    more = offset + limit if len(hits) == limit and offset + limit <= 1000 else None
    results = [_hit_json(h) for h in hits]
    body = {"query": p.q, "lang": p.lang, "topic": p.topic, "results": results, "next_offset": more}
    return JSONResponse(body, headers=headers)


def _search_feed(request: Request, conn: Conn, fmt: FeedFormat, p: SearchParams, limit: int) -> Response:
    """A saved search as a feed, newest first. Its ETag changes when the search index moves on (something was
    published), so a reader polling it gets 304 between publications without running the search."""
    q = _query(p.q)
    etag = strong_etag(RENDER_VERSION, fmt, q, p.lang, p.topic, limit, hub_url(request), search.indexed_cursor(conn))
    scope = "public" if get_settings(request).public_read else "private"
    headers = {"ETag": etag, "Cache-Control": f"{scope}, max-age=60"}
    if not_modified(request.headers, etag, None):
        return Response(status_code=304, headers=headers)
    hits = search.search(conn, q, language=p.lang, topic=p.topic, limit=limit, order="date")
    stories: list[Story] = attach_other_reports(conn, [h.article for h in hits])
    base = get_settings(request).public_url.rstrip("/")
    body, content_type = feed_render.render_feed(
        fmt, title=f"Search: {q} · newsmill", self_url=f"{base}/search.{fmt}?{request.url.query}",
        html_url=f"{base}/search?{request.url.query}", stories=stories,
    )  # fmt: skip
    return Response(body, media_type=content_type, headers=headers)


_FEED_RESPONSES: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}}
FeedLimitQ = Annotated[int, Query(ge=1, le=200, description="Stories in the feed.")]


@router.get("/search.atom", summary="A saved search as an Atom feed", responses=_FEED_RESPONSES)
def search_atom(request: Request, conn: Conn, p: Params, limit: FeedLimitQ = 50) -> Response:
    return _search_feed(request, conn, "atom", p, limit)


@router.get("/search.rss", summary="A saved search as an RSS 2.0 feed", responses=_FEED_RESPONSES)
def search_rss(request: Request, conn: Conn, p: Params, limit: FeedLimitQ = 50) -> Response:
    return _search_feed(request, conn, "rss", p, limit)


@router.get("/search.json", summary="A saved search as a JSON Feed 1.1", responses=_FEED_RESPONSES)
def search_json(request: Request, conn: Conn, p: Params, limit: FeedLimitQ = 50) -> Response:
    return _search_feed(request, conn, "json", p, limit)
