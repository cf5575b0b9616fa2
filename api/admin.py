"""Managing topics and source feeds over HTTP, behind the admin bearer token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import require_admin
from api.deps import Conn, read_json_body
from shared.db import feeds, topics
from shared.db.articles import bump_cursor
from shared.db.topics import UpsertStatus
from shared.opml import OPML_TYPE, source_feeds_opml
from shared.topic_rules import Topic
from shared.urls import checked_feed_url

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])

MAX_BODY = 1024 * 1024
_ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token"}, 403: {"description": "Wrong token"},
    413: {"description": "Body over 1 MB"}, 422: {"description": "Malformed JSON or invalid fields"},
    503: {"description": "Admin disabled (no NEWSMILL_ADMIN_TOKEN)"},
}  # fmt: skip


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    # The error's input echo may be large or odd; location and message say what to fix.
    return [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]


@router.put("/topics/{slug}", summary="Create or replace a topic", responses=_ADMIN_RESPONSES)
async def put_topic(
    request: Request, conn: Conn, slug: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
) -> Response:
    """Body: one topic as in seeds/topics.yaml, as JSON (``slug`` may be omitted; if given it must match the
    path). Existing articles are re-tagged by `newsmill topics retag`, new ones as they are published."""
    body = await read_json_body(request, MAX_BODY)
    if not isinstance(body, dict):
        raise HTTPException(422, "the body must be a JSON object (one topic)")
    if body.setdefault("slug", slug) != slug:
        raise HTTPException(422, "the slug in the body differs from the one in the path")
    try:
        topic = Topic.model_validate(body)
    except (ValidationError, ValueError) as exc:
        detail = _validation_detail(exc) if isinstance(exc, ValidationError) else str(exc)
        raise HTTPException(422, detail) from exc
    with conn.transaction():
        topic_id, status = topics.upsert_topic(conn, topic.slug, topic.name, topic.description, topic.rules())
    code = 201 if status == UpsertStatus.CREATED else 200
    return JSONResponse({"id": topic_id, "slug": topic.slug, "status": status.value}, status_code=code)


def _feed_url(value: object) -> str:
    """The same check as `newsmill feeds add` (shared.urls.checked_feed_url)."""
    if not isinstance(value, str):
        raise HTTPException(422, "url: a string")
    try:
        return checked_feed_url(value)
    except ValueError as exc:
        raise HTTPException(422, f"url: {exc}") from exc


@router.delete("/topics/{slug}", summary="Delete a topic (its articles stay)", responses=_ADMIN_RESPONSES | {404: {}})
def delete_topic(conn: Conn, slug: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]) -> Response:
    """The topic, its feeds and its tags go; the articles it tagged stay, with a new cursor (their ``topics``
    changed), so cursor readers and webhooks see the change. Subscriptions naming it keep their other topics."""
    with conn.transaction():
        changed = topics.delete_topic(conn, slug)
        if changed is None:
            raise HTTPException(404, "no such topic")
        bump_cursor(conn, changed)  # last: it holds the cursor counter's lock until commit
    return JSONResponse({"slug": slug, "deleted": True, "articles_changed": len(changed)})


@router.get("/feeds.opml", summary="Every source feed as OPML 2.0 (a backup, or a move)", responses=_ADMIN_RESPONSES)
def feeds_opml(conn: Conn) -> Response:
    body = source_feeds_opml(feeds.list_feeds(conn), datetime.now(UTC))
    headers = {"Content-Disposition": 'attachment; filename="newsmill-feeds.opml"', "Cache-Control": "no-store"}
    return Response(body, media_type=OPML_TYPE, headers=headers)


@router.post("/feeds", summary="Add a source feed", responses=_ADMIN_RESPONSES)
async def post_feed(request: Request, conn: Conn) -> Response:
    """Body ``{"url": "https://..."}``; 201 with the feed when added, 200 when it was already there."""
    body = await read_json_body(request, MAX_BODY)
    if not isinstance(body, dict) or "url" not in body:
        raise HTTPException(422, 'the body must be {"url": "..."}')
    feed, created = feeds.add_feed(conn, _feed_url(body["url"]))
    return JSONResponse({"id": feed.id, "url": feed.url, "created": created}, status_code=201 if created else 200)


@router.delete("/feeds/{feed_id}", status_code=204, summary="Remove a source feed (its articles stay)",
               responses=_ADMIN_RESPONSES | {404: {}})  # fmt: skip
def delete_feed(conn: Conn, feed_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    if not feeds.remove_feed(conn, str(feed_id)):
        raise HTTPException(404, "no such feed")
    return Response(status_code=204)
