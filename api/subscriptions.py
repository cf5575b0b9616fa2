"""Subscriptions over HTTP: create and revoke (admin token), and each private feed, opened by its token."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import require_admin
from api.conditional import not_modified, strong_etag
from api.deps import Conn, get_settings, read_json_body
from shared import feed_render
from shared.db import deliveries, subscriptions
from shared.db.subscriptions import Created, InvalidSubscriptionError, Subscription
from shared.db.topic_feed import attach_other_reports
from shared.feed_render import FeedFormat
from shared.opml import OPML_TYPE, Outline, write_opml
from shared.schedule import next_digest_at

router = APIRouter(tags=["subscriptions"])
admin = APIRouter(tags=["subscriptions"], dependencies=[Depends(require_admin)])

MAX_BODY = 64 * 1024
FEED_LIMIT = 50
MAX_ID = 2**63 - 1
_ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token"}, 403: {"description": "Wrong token"},
    413: {"description": "Body over 64 KB"}, 422: {"description": "Malformed JSON or invalid fields"},
    503: {"description": "Admin disabled (no NEWSMILL_ADMIN_TOKEN)"},
}  # fmt: skip
# A private feed's token is its only credential; the server's access log must not keep it.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # malformed tokens get the same 404 as unknown ones
_TOKEN_IN_PATH = re.compile(r"(/subscriptions/)[A-Za-z0-9_-]+(\.(?:atom|rss|json|opml))")
# Private: no shared cache may keep it; no-referrer: the token must not leak through links clicked in it.
_PRIVATE_HEADERS = {"Cache-Control": "private, max-age=60", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class _RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_PATH.sub(r"\1…\2", a) if isinstance(a, str) else a for a in record.args)
        return True


logging.getLogger("uvicorn.access").addFilter(_RedactTokens())


class NewSubscription(BaseModel):
    """``POST /subscriptions`` body: a private feed, or a webhook when ``webhook_url`` is given."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    topics: list[Annotated[str, Field(max_length=80)]] = Field(min_length=1, max_length=100)
    languages: list[Annotated[str, Field(max_length=3)]] = Field(default_factory=list, max_length=50)
    webhook_url: str | None = Field(default=None, max_length=2048)
    digest: Literal["none", "daily"] = "none"


def describe(sub: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it: never its token hash, secret or webhook URL."""
    return {
        "id": sub.id, "email": sub.email, "kind": sub.kind, "topics": sub.topics, "languages": sub.languages,
        "state": sub.state, "consecutive_failures": sub.consecutive_failures, "last_error": sub.last_error,
        "digest": sub.digest, "digest_due_at": sub.digest_due_at.isoformat() if sub.digest_due_at else None,
        "digest_error": sub.digest_error, "created_at": sub.created_at.isoformat(),
    }  # fmt: skip


def _created_body(created: Created, public_url: str) -> dict[str, Any]:
    body = describe(created.subscription)
    if created.token is not None:
        body["feed_urls"] = created.feed_urls(public_url)
    if created.secret is not None:
        body["secret"] = created.secret
    return body


_BODY_SCHEMA = {"required": True, "content": {"application/json": {"schema": NewSubscription.model_json_schema()}}}


@admin.post("/subscriptions", status_code=201, summary="Subscribe an editor to topics", responses=_ADMIN_RESPONSES,
            openapi_extra={"requestBody": _BODY_SCHEMA})  # fmt: skip
async def post_subscription(request: Request, conn: Conn) -> Response:
    """201 with the private feed URLs (``feed_urls``) or, for a webhook, its signing ``secret``: shown this
    once, never stored in clear (feed tokens) nor shown again."""
    try:
        req = NewSubscription.model_validate(await read_json_body(request, MAX_BODY))
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]) from exc
    try:
        due = next_digest_at(datetime.now(UTC), get_settings(request).digest_hour)
        created = subscriptions.create_subscription(conn, req.email, req.topics, req.languages, req.webhook_url,
                                                    digest=req.digest, digest_due_at=due)  # fmt: skip
    except InvalidSubscriptionError as exc:
        raise HTTPException(422, str(exc)) from exc
    body = _created_body(created, get_settings(request).public_url)
    return JSONResponse(body, status_code=201, headers={"Cache-Control": "no-store"})


@admin.get("/subscriptions", summary="Live subscriptions (without credentials)", responses=_ADMIN_RESPONSES)
def list_subscriptions(conn: Conn) -> list[dict[str, Any]]:
    counts = deliveries.counts_by_subscription(conn)
    return [describe(s) | {"deliveries": counts.get(s.id, {})} for s in subscriptions.list_subscriptions(conn)]


SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID)]


@admin.delete("/subscriptions/{subscription_id}", status_code=204, summary="Revoke a subscription",
              responses=_ADMIN_RESPONSES | {404: {}})  # fmt: skip
def delete_subscription(conn: Conn, subscription_id: SubscriptionId) -> Response:
    """The private feed URL answers 404 from now on; a webhook's pending deliveries are cancelled."""
    with conn.transaction():
        if not subscriptions.revoke(conn, subscription_id):
            raise HTTPException(404, "no live subscription with this id")
        deliveries.cancel_pending(conn, subscription_id)
    return Response(status_code=204)


@admin.post("/subscriptions/{subscription_id}/resume", summary="Resume a paused webhook",
            responses=_ADMIN_RESPONSES | {409: {}})  # fmt: skip
def resume_subscription(conn: Conn, subscription_id: SubscriptionId) -> dict[str, Any]:
    if not subscriptions.resume(conn, subscription_id, datetime.now(UTC)):
        raise HTTPException(409, "this subscription is not paused")
    sub = subscriptions.get_subscription(conn, subscription_id)
    assert sub is not None
    return describe(sub)


def _private_feed(request: Request, conn: Conn, token: str, fmt: FeedFormat) -> Response:
    """404 for an unknown or revoked token alike. The ETag is the rendered document's hash: this saves the
    reader's bandwidth, and the token's owner is the only one polling."""
    sub = subscriptions.active_feed_by_token(conn, token) if _TOKEN.fullmatch(token) else None
    if sub is None:
        raise HTTPException(404, "no such feed")
    stories = attach_other_reports(conn, subscriptions.feed_articles(conn, sub, FEED_LIMIT))
    base = get_settings(request).public_url.rstrip("/")
    body, content_type = feed_render.render_feed(
        fmt, title=f"{', '.join(sub.topics)} · newsmill", self_url=f"{base}/subscriptions/{token}.{fmt}",
        html_url=f"{base}/topics/{sub.topics[0]}", stories=stories,
    )  # fmt: skip
    etag = strong_etag(hashlib.sha256(body).hexdigest())
    headers = {"ETag": etag, **_PRIVATE_HEADERS}
    if not_modified(request.headers, etag, None):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)


Token = Annotated[str, Path(description="The token the feed URL was created with.")]


@router.get("/subscriptions/{token}.opml", summary="A private feed as OPML 2.0 (import it in one step)",
            responses={404: {}})  # fmt: skip
def private_opml(request: Request, conn: Conn, token: Token) -> Response:
    """One outline per format is three copies of one feed in a reader: the OPML lists the Atom feed."""
    sub = subscriptions.active_feed_by_token(conn, token) if _TOKEN.fullmatch(token) else None
    if sub is None:
        raise HTTPException(404, "no such feed")
    base = get_settings(request).public_url.rstrip("/")
    title = f"{', '.join(sub.topics)} · newsmill"
    outline = Outline(f"{base}/subscriptions/{token}.atom", title, f"{base}/topics/{sub.topics[0]}")
    body = write_opml(f"newsmill: {title}", [outline], datetime.now(UTC))
    return Response(body, media_type=OPML_TYPE, headers=_PRIVATE_HEADERS)


_FEED_RESPONSES: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified"}, 404: {}}


@router.get("/subscriptions/{token}.atom", summary="A private feed (Atom)", responses=_FEED_RESPONSES)
def private_atom(request: Request, conn: Conn, token: Token) -> Response:
    return _private_feed(request, conn, token, "atom")


@router.get("/subscriptions/{token}.rss", summary="A private feed (RSS 2.0)", responses=_FEED_RESPONSES)
def private_rss(request: Request, conn: Conn, token: Token) -> Response:
    return _private_feed(request, conn, token, "rss")


@router.get("/subscriptions/{token}.json", summary="A private feed (JSON Feed 1.1)", responses=_FEED_RESPONSES)
def private_json(request: Request, conn: Conn, token: Token) -> Response:
    return _private_feed(request, conn, token, "json")


router.include_router(admin)
