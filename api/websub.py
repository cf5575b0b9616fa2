"""The WebSub hub (W3C WebSub §5): feed readers subscribe a callback to one of the public feeds, the hub
verifies their intent, and pushes new stories to them as they are published (workers/steps/websub.py).

The request is validated here and stored; the answer is 202, and the verification of intent (a GET to the
callback that must echo a challenge) runs on the `deliver` queue, like every other outgoing request.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, HTTPException, Request, Response

from api.deps import Conn, get_settings, read_form_body
from api.topic_feeds import SLUG, parse_langs
from shared.db import topics, websub
from shared.db.websub import NewRequest

router = APIRouter(tags=["websub"])

MAX_BODY = 8 * 1024
MAX_URL = 2048
MAX_SECRET_BYTES = 199  # §5.1: "MUST be less than 200 bytes"
DEFAULT_LEASE = 10 * 24 * 3600
MIN_LEASE, MAX_LEASE = 300, 30 * 24 * 3600
_FEED_PATH = re.compile(r"/topics(?:/(?P<slug>[^/]+))?\.(?P<fmt>atom|rss|json)")


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise HTTPException(400, f"{name}: given more than once")
    return values[0]


def _callback(value: str | None) -> str:
    if not value or len(value) > MAX_URL or not value.isprintable() or " " in value:
        raise HTTPException(400, f"hub.callback: an http(s) URL of at most {MAX_URL} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HTTPException(400, "hub.callback: an http(s) URL with a host")
    return value


def parse_topic(conn: Conn, public_url: str, value: str | None) -> tuple[str, str | None, list[str]]:
    """(format, topic slug or None for the combined feed, languages) of a feed URL of ours; 400 otherwise."""
    base = urlsplit(public_url.rstrip("/"))
    parts = urlsplit(value or "")
    path = parts.path.removeprefix(base.path) if parts.path.startswith(base.path) else ""
    match = _FEED_PATH.fullmatch(path)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or match is None or parts.fragment:
        raise HTTPException(400, "hub.topic: one of this server's topic feeds (…/topics/SLUG.atom, .rss, .json, "
                                 "or …/topics.atom for every topic)")  # fmt: skip
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"lang"} or len(query.get("lang", [])) > 1:
        raise HTTPException(400, "hub.topic: the only parameter a pushed feed may carry is lang")
    slug = match["slug"]
    if slug is not None and (not SLUG.match(slug) or topics.get_topic(conn, slug) is None):
        raise HTTPException(400, "hub.topic: no such topic")
    langs = parse_langs(query["lang"][0]) if "lang" in query else None
    return match["fmt"], slug, list(langs or [])


def _lease(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LEASE
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise HTTPException(400, "hub.lease_seconds: a number of seconds")
    return min(max(int(value), MIN_LEASE), MAX_LEASE)  # §5.1: the hub decides the lease it grants


_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the callback will be asked to confirm"}, 400: {}, 403: {}, 413: {}, 415: {},
    503: {"description": "The hub holds NEWSMILL_WEBSUB_MAX_SUBSCRIPTIONS already"},
}  # fmt: skip


@router.post("/websub", status_code=202, summary="WebSub hub: subscribe or unsubscribe a callback to a feed",
             responses=_RESPONSES)  # fmt: skip
async def hub(request: Request, conn: Conn) -> Response:
    """Form fields ``hub.mode`` (subscribe, unsubscribe), ``hub.topic`` (a feed URL of this server),
    ``hub.callback``, optional ``hub.lease_seconds`` and ``hub.secret`` (to sign pushes, X-Hub-Signature)."""
    settings = get_settings(request)
    if not settings.public_read:  # the hub would hand private feeds to anyone who asks
        raise HTTPException(403, "the hub serves public feeds only (NEWSMILL_PUBLIC_READ=false)")
    form = await read_form_body(request, MAX_BODY)
    mode = _field(form, "hub.mode")
    if mode not in ("subscribe", "unsubscribe"):
        raise HTTPException(400, "hub.mode: subscribe or unsubscribe")
    topic_url = _field(form, "hub.topic") or ""
    fmt, slug, langs = parse_topic(conn, settings.public_url, topic_url)
    secret = _field(form, "hub.secret") or None
    if secret is not None and len(secret.encode("utf-8")) > MAX_SECRET_BYTES:
        raise HTTPException(400, "hub.secret: less than 200 bytes")
    new = NewRequest(
        callback=_callback(_field(form, "hub.callback")), topic_url=topic_url, feed_format=fmt, topic_slug=slug,
        languages=langs, secret=secret, mode=mode, lease_seconds=_lease(_field(form, "hub.lease_seconds")),
    )  # fmt: skip
    if mode == "subscribe" and websub.count_subscriptions(conn) >= settings.websub_max_subscriptions:
        raise HTTPException(503, "the hub is full; try again later", headers={"Retry-After": "3600"})
    websub.add_request(conn, new)
    return Response(status_code=202)
