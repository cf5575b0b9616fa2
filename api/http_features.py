"""What every route gets from HTTP itself: HEAD wherever GET is served, gzip above ~1 KB, and CORS for the read
API when origins are configured. Plain ASGI middleware, like api.metrics.MeasureRequests (BaseHTTPMiddleware
would wrap every response in a stream and a task)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings

GZIP_MINIMUM_BYTES = 1024
# Level 6 costs about a third of level 9's CPU for a few percent more bytes; feeds, the large hot responses,
# are compressed once per version and kept (api.topic_feeds), the rest is small.
GZIP_LEVEL = 6
# Request headers a browser client of the read API may send, and response headers it may read.
CORS_REQUEST_HEADERS = ["Authorization", "If-None-Match", "If-Modified-Since"]
CORS_EXPOSED_HEADERS = ["ETag", "Last-Modified", "Link", "Retry-After"]


class HeadAsGet:
    """Answers HEAD on every GET route (RFC 9110 §9.3.2: the GET's status and headers, no body). FastAPI
    registers GET routes without HEAD, so HEAD answered 405 (issue 18). The route runs as for a GET, in a
    copy of the scope: the server keeps seeing HEAD and sends no body whatever the Content-Length says."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = dict(scope, method="GET")

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        try:
            await self.app(as_get, receive, send_without_body)
        finally:
            if "route" in as_get:  # the metrics label the route it matched, as for a GET
                scope["route"] = as_get["route"]


class WeakenEtagWhenEncoded:
    """A strong ETag names one exact representation; the gzip-encoded bytes are another one (RFC 9110
    §8.8.1), so an encoded response's tag is marked weak, as nginx does. If-None-Match compares weakly
    (api.conditional), so a client sending either form back still gets its 304."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_weak(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                etag = headers.get("etag")
                if etag and etag.startswith('"') and headers.get("content-encoding"):
                    headers["etag"] = "W/" + etag
            await send(message)

        await self.app(scope, receive, send_weak)


def cors_origins(settings: Settings) -> list[str]:
    return [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware, innermost first: gzip, the ETag it changes, CORS, HEAD."""
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(WeakenEtagWhenEncoded)
    origins = cors_origins(settings)
    if origins:
        # Reads only: a browser page on another origin may GET (and HEAD) what a reader may, never write;
        # no credentials, so a signed-in person's cookie is never sent along (api.sign_in).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(HeadAsGet)
