"""What route handlers share: the settings, a pooled connection per request, and request bodies read safely."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from shared.settings import Settings

# A handler waits at most this long for a free connection before answering 503, not forever.
POOL_TIMEOUT = 10.0
# Deeper JSON than any body of ours needs (a topic is 3 levels deep); a deeply nested body made the parser
# overflow Python's stack and the server answer a plain-text 500 (issue 18).
MAX_JSON_DEPTH = 32
T = TypeVar("T")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> ConnectionPool:
    pool: ConnectionPool = request.app.state.pool
    return pool


@asynccontextmanager
async def connection_gate(request: Request) -> AsyncIterator[None]:
    """A place in the queue for one of the pool's connections, taken in the event loop (503 after
    POOL_TIMEOUT). The gate has as many places as the pool has connections, so getconn never waits long."""
    gate: asyncio.Semaphore = request.app.state.conn_gate
    try:
        async with asyncio.timeout(POOL_TIMEOUT):
            await gate.acquire()
    except TimeoutError as exc:
        raise HTTPException(503, "database busy, try again") from exc
    try:
        yield
    finally:
        gate.release()


async def get_conn(request: Request) -> AsyncIterator[psycopg.Connection]:
    """An autocommit connection from the app's pool for the duration of one request.

    Requests queue for a connection in the event loop (connection_gate), not in worker threads: a sync
    dependency that blocked a thread waiting for the pool would starve the sync handlers that hold (and would
    return) the connections, and past ~40 concurrent requests nothing was served at all (found by the
    feed-serving benchmark)."""
    async with connection_gate(request):
        pool = get_pool(request)
        conn = await run_in_threadpool(_checkout, pool)
        try:
            yield conn
        finally:
            await run_in_threadpool(pool.putconn, conn)


Conn = Annotated[psycopg.Connection, Depends(get_conn)]


async def with_connection(request: Request, work: Callable[[psycopg.Connection], T]) -> T:
    """``work(conn)`` with a pooled connection, in one worker thread: for async handlers that need the
    database only sometimes (a topic feed whose state is cached needs none). Queues at the same gate as
    get_conn; taking the connection, the work and giving it back are one thread hop instead of three."""
    async with connection_gate(request):
        return await run_in_threadpool(_run_with_pooled_connection, get_pool(request), work)


def _run_with_pooled_connection(pool: ConnectionPool, work: Callable[[psycopg.Connection], T]) -> T:
    conn = _checkout(pool)
    try:
        return work(conn)
    finally:
        pool.putconn(conn)


def _checkout(pool: ConnectionPool) -> psycopg.Connection:
    """A connection from the pool (blocking; called in a worker thread), or 503 when the database is away."""
    try:
        return pool.getconn(POOL_TIMEOUT)
    except psycopg.OperationalError as exc:  # PoolTimeout included
        raise HTTPException(503, "database unavailable") from exc


async def read_body(request: Request, max_bytes: int) -> bytearray:
    """The request body, 413 past ``max_bytes``: checked while reading, not only from Content-Length, which a
    client may omit or lie about."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"body larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(413, f"body larger than {max_bytes} bytes")
    return body


async def read_json_body(request: Request, max_bytes: int) -> Any:
    """The request body parsed as JSON: 413 past ``max_bytes`` (``read_body``), 422 when it is not UTF-8 JSON."""
    body = await read_body(request, max_bytes)
    try:
        # The C parser refuses nesting past Python's recursion limit with RecursionError; what parses is
        # then held to MAX_JSON_DEPTH, so no handler or validator recurses through an absurd structure.
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise HTTPException(422, f"malformed JSON: {reason}") from exc
    if json_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise HTTPException(422, f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _refuse_constant(name: str) -> Any:
    # Python reads NaN and Infinity, JSON has no such values (RFC 8259 §6), and PostgreSQL's jsonb refuses them.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as infinity: the same refusal as above
        raise ValueError(f"{text} is out of range")
    return value


def json_depth(value: Any, limit: int) -> int:
    """How deeply ``value``'s lists and objects nest (a scalar: 0), counted without recursion and no
    further than ``limit`` + 1."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


async def read_form_body(request: Request, max_bytes: int) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body: 415 for another type, 413 past ``max_bytes`` (checked while
    reading), 400 when it does not parse."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "expected an application/x-www-form-urlencoded body")
    body = await read_body(request, max_bytes)
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"malformed form: {exc}") from exc
