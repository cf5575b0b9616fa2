"""Gathers item ids from many tasks of one worker process into few messages for the next stage.

A fetch task finishes one item at a time, but extraction is cheapest a batch at a time (one message, one
claim, one transaction). The fetch worker's tasks put the ids they fetched here; a message leaves when
``size`` ids are waiting or the oldest has waited ``wait`` seconds. The ids are already committed in Postgres,
so a message never sent (the process killed, the broker away) loses nothing: the sweeper sends those items
when their sweep time comes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, send: Callable[[list[int]], None], size: Callable[[], int], wait: float) -> None:
        self._send, self._size, self._wait = send, size, wait
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._timer: threading.Timer | None = None
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._ids, self._timer = [], None

    def add(self, ids: Iterable[int]) -> None:
        batches: list[list[int]] = []
        with self._lock:
            self._ids.extend(ids)
            size = self._size()
            while len(self._ids) >= size:
                batches.append(self._ids[:size])
                del self._ids[:size]
            if self._ids and self._timer is None:
                self._timer = threading.Timer(self._wait, self.flush)
                self._timer.daemon = True
                self._timer.start()
        for batch in batches:
            self._deliver(batch)

    def flush(self) -> None:
        """Send what is waiting now (the timer calls it; so does the worker when it shuts down)."""
        with self._lock:
            batch, self._ids = self._ids, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if batch:
            self._deliver(batch)

    def _deliver(self, batch: list[int]) -> None:
        try:
            self._send(batch)
        except Exception:  # the broker away, or anything else: the sweeper sends them later
            log.warning("could not send a batch; the sweeper will", extra={"item_ids": batch}, exc_info=True)
