"""Two small in-process caches of the topic feeds: their state for a second, their rendered bodies by ETag.

The ETag already names everything a feed's bytes depend on (topic, filters, newest cursor, article count,
topic rules, renderer version), so a cached body is valid exactly as long as its ETag is current: no expiry
to tune, and readers polling a busy topic cost one indexed query instead of a full render each. That query
(the state) is itself reused for NEWSMILL_API_FEED_STATE_TTL seconds (StateCache).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Rendered = tuple[bytes, str]  # body, content type
T = TypeVar("T")


class RenderCache:
    """Least-recently-used, bounded by total bytes; safe across the server's worker threads."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, str], Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Rendered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: Rendered) -> None:
        size = len(value[0])
        if size > self._max_bytes // 4:  # one huge feed must not flush everything else
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous[0])
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted[0])


class StateCache(Generic[T]):
    """A topic feed's state (its ETag's inputs), reused for ``ttl`` seconds: within that window a reader's
    request needs no database round trip at all, so a hot feed is served from memory. A change shows up
    at most ``ttl`` seconds late, far inside the `Cache-Control: max-age=60` the feeds already send.
    ``ttl`` 0 asks the database every time. Unknown topics are not remembered (a scanner cannot fill it).

    When a state expires under load, one request reloads it and the others arriving meanwhile await that
    load instead of each queueing for a connection (with 200 readers of one feed, the refresh every
    second was a burst of 200 queries and the p99)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, T]] = {}
        self._loading: dict[str, asyncio.Future[T | None]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        """The fresh state of ``key``, or ``load()``'s answer (shared by concurrent callers)."""
        if self._ttl <= 0:
            return await load()
        found = self._entries.get(key)
        if found is not None and time.monotonic() - found[0] < self._ttl:
            return found[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, load))
        # shield: a caller that gives up (client gone) must not cancel the load the others are awaiting.
        return await asyncio.shield(loading)

    async def _load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        try:
            value = await load()
            if value is not None:
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()  # topics number in the hundreds; this bounds a pathological case
                self._entries[key] = (time.monotonic(), value)
            return value
        finally:
            del self._loading[key]
