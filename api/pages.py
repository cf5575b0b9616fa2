"""Server-rendered pages for people: topics, a topic's stories, the reading view, the sources' health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import Conn
from api.topic_feeds import SLUG
from shared.db import feed_health, published, topic_feed, topics
from shared.db.topic_feed import StoryFilter
from shared.db.topics import TopicSummary
from shared.feed_render import also_reported_text, summary_of, web_link

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
# Jinja2Templates turns autoescaping on for .html templates: article text and titles are untrusted.
templates = Jinja2Templates(directory=FsPath(__file__).with_name("templates"))
templates.env.filters["when"] = lambda d: d.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if d else "—"
templates.env.filters["summary"] = summary_of
templates.env.globals["also_reported"] = also_reported_text
templates.env.filters["href"] = web_link
PAGE_STORIES = 50


def stories_text(t: TopicSummary) -> str:
    """What the home page says a topic holds, counted as its page shows it: one story per original, its
    duplicates folded in ("2 stories"), and the reports behind them when there are more ("3 reports of 2 stories")."""
    stories = f"{t.story_count} stor{'y' if t.story_count == 1 else 'ies'}"
    return f"{t.report_count} reports of {stories}" if t.report_count > t.story_count else stories


templates.env.globals["stories"] = stories_text


def prefers_html(accept: str) -> bool:
    """Whether a request's Accept header asks for a page rather than JSON: text/html named, and weighted at
    least as high as JSON. A browser's header does; curl's and most clients' (*/*) and JSON clients' do not."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (x.strip() for x in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    html = weights.get("text/html", 0.0)
    json = max(weights.get(m, 0.0) for m in ("application/json", "application/*", "*/*"))
    return html > 0 and html >= json


async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
    """A 404 page for people (a browser asks for HTML); the usual JSON error for every other client."""
    if exc.status_code == 404 and prefers_html(request.headers.get("accept", "")):
        return templates.TemplateResponse(request, "not_found.html", {"detail": exc.detail}, status_code=404)
    return await http_exception_handler(request, exc)


@router.get("/", summary="Topic list")
def index(request: Request, conn: Conn) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {"topics": topics.list_topics(conn)})


@router.get("/topics/{slug}", summary="A topic's latest stories", responses={404: {}})
def topic_page(request: Request, conn: Conn, slug: str) -> HTMLResponse:
    # Any unknown slug, well-formed or not, is a page that does not exist (404), not a bad request.
    topic = topics.get_topic(conn, slug) if SLUG.match(slug) else None
    if topic is None:
        raise HTTPException(404, "no such topic")
    stories = topic_feed.latest_stories(conn, topic.id, StoryFilter(limit=PAGE_STORIES))
    return templates.TemplateResponse(request, "topic.html", {"topic": topic, "stories": stories})


@router.get("/read/{article_id}", summary="Reading view of one article", responses={404: {}})
def read(request: Request, conn: Conn, article_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> HTMLResponse:
    article = published.get_published(conn, article_id)
    if article is None:
        raise HTTPException(404, "no published article with this id")
    (story,) = topic_feed.attach_other_reports(conn, [article])
    paragraphs = [p.strip() for p in article.text.splitlines() if p.strip()]
    return templates.TemplateResponse(request, "read.html", {"story": story, "a": article, "paragraphs": paragraphs})


@router.get("/sources", summary="Source feeds' health")
def sources(request: Request, conn: Conn) -> HTMLResponse:
    today = datetime.now(UTC).date()
    rows = feed_health.feeds_with_activity(conn, today)
    peak = max((max(r.per_day, default=0) for r in rows), default=0)
    return templates.TemplateResponse(
        request, "sources.html", {"feeds": rows, "peak": max(peak, 1), "days": feed_health.DAYS, "today": today}
    )
