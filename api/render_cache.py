"""A small in-process cache of rendered feeds, keyed by their strong ETag.

The ETag already names everything a feed's bytes depend on (topic, filters, newest cursor, article count,
topic rules, renderer version), so a cached body is valid exactly as long as its ETag is current: no expiry
to tune, and readers polling a busy topic cost one indexed query instead of a full render each.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

Rendered = tuple[bytes, str]  # body, content type


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
