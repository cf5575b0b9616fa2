"""Sign-in for people in a private deployment (NEWSMILL_PUBLIC_READ=false): the admin token or a private feed's
token, typed once into a form, becomes a signed session cookie, so editors read the pages in a browser.

The cookie holds no credential: only who signed in (admin, or subscription N), until when, and an HMAC of
that with a key derived from NEWSMILL_ADMIN_TOKEN (a new admin token signs everyone out). A subscription's
session ends when the subscription is revoked: it is checked on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import require_admin
from api.deps import get_settings, read_form_body, with_connection
from api.pages import prefers_html, templates
from shared.db import subscriptions

router = APIRouter(tags=["sign-in"], default_response_class=HTMLResponse)

COOKIE = "newsmill_session"
SESSION_SECONDS = 30 * 24 * 3600
MAX_FORM = 4096
_bearer = HTTPBearer(auto_error=False, description="NEWSMILL_ADMIN_TOKEN")


@dataclass(frozen=True)
class Session:
    kind: str  # "admin" or "subscription"
    subscription_id: int
    expires: int  # seconds since the epoch


def _key(admin_token: str) -> bytes:
    return hmac.new(b"newsmill session cookie v1", admin_token.encode("utf-8"), hashlib.sha256).digest()


def seal(session: Session, admin_token: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps([session.kind, session.subscription_id, session.expires]).encode())
    return payload.decode() + "." + hmac.new(_key(admin_token), payload, hashlib.sha256).hexdigest()


def unseal(value: str, admin_token: str, now: float) -> Session | None:
    """The session a cookie names, if it was signed with this admin token and has not expired."""
    payload, _, signature = value.partition(".")
    expected = hmac.new(_key(admin_token), payload.encode("ascii", "replace"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        kind, subscription_id, expires = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    if kind not in ("admin", "subscription") or not isinstance(expires, int) or expires <= now:
        return None
    return Session(kind, int(subscription_id), expires)


async def _signed_in(request: Request) -> bool:
    admin_token = get_settings(request).admin_token
    value = request.cookies.get(COOKIE)
    session = unseal(value, admin_token, time.time()) if value and admin_token else None
    if session is None:
        return False
    if session.kind == "admin":
        return True
    sub = await with_connection(request, lambda conn: subscriptions.get_subscription(conn, session.subscription_id))
    return sub is not None and sub.state == subscriptions.State.ACTIVE


def _wants_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and prefers_html(request.headers.get("accept", ""))


async def require_reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Topic feeds, pages, search and the article API are open unless NEWSMILL_PUBLIC_READ is false; then
    they need the admin token as a bearer token, or a session cookie from the sign-in form. A browser asking
    for a page without either is sent to the form."""
    if get_settings(request).public_read:
        return
    if credentials is None and request.cookies.get(COOKIE) and await _signed_in(request):
        return
    if credentials is None and _wants_page(request) and get_settings(request).admin_token:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", headers={"Location": f"/signin?next={quote(target, safe='')}"})
    require_admin(request, credentials)


def _next(value: str | None) -> str:
    """Only a path on this site: "//host" or "https://..." would make the form an open redirect."""
    return value if value and value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


@router.get("/signin", summary="The sign-in form (private deployments)")
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "signin.html", {"next": _next(next), "error": None})


@router.post("/signin", summary="Sign in with the admin token or a private feed's token",
             responses={303: {"description": "Signed in: the cookie is set"}, 401: {}, 503: {}})  # fmt: skip
async def signin(request: Request) -> Response:
    """Form fields ``token`` and ``next``. The token is the admin token or the token of a live private feed
    (the part of its URL between /subscriptions/ and .atom)."""
    admin_token = get_settings(request).admin_token
    if not admin_token:
        raise HTTPException(503, "sign-in needs NEWSMILL_ADMIN_TOKEN (it keys the session cookies)")
    form = {k: v[0] for k, v in (await read_form_body(request, MAX_FORM)).items()}
    token, target = form.get("token", "").strip(), _next(form.get("next"))
    session = None
    expires = int(time.time()) + SESSION_SECONDS
    if token and hmac.compare_digest(token.encode(), admin_token.encode()):
        session = Session("admin", 0, expires)
    elif token:
        sub = await with_connection(request, lambda conn: subscriptions.active_feed_by_token(conn, token))
        session = Session("subscription", sub.id, expires) if sub is not None else None
    if session is None:
        context = {"next": target, "error": "This token opens nothing here."}
        return templates.TemplateResponse(request, "signin.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    secure = get_settings(request).public_url.startswith("https://")
    response.set_cookie(COOKIE, seal(session, admin_token), max_age=SESSION_SECONDS, httponly=True, samesite="lax",
                        secure=secure)  # fmt: skip
    return response


@router.post("/signout", summary="Sign out (forget the session cookie)")
def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response
