"""What route handlers share: the settings, a pooled connection per request, and request bodies read safely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request
from psycopg_pool import ConnectionPool

from shared.settings import Settings

# A handler waits at most this long for a free connection before answering 503, not forever.
POOL_TIMEOUT = 10.0


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> ConnectionPool:
    pool: ConnectionPool = request.app.state.pool
    return pool


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """An autocommit connection from the app's pool for the duration of one request."""
    try:
        with get_pool(request).connection(timeout=POOL_TIMEOUT) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise HTTPException(503, "database unavailable") from exc


Conn = Annotated[psycopg.Connection, Depends(get_conn)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The request body parsed as JSON: 413 past ``max_bytes`` (checked while reading, not only from
    Content-Length, which a client may omit or lie about), 422 when it is not UTF-8 JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"body larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(413, f"body larger than {max_bytes} bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(422, f"malformed JSON: {exc}") from exc
