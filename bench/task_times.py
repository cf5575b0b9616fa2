"""Task run times per stage, from the workers' own Celery task events, captured while a benchmark runs.

The fleet sends task events (``worker_send_task_events``): ``task-received`` names a task, ``task-succeeded``
carries its run time. Listening on the run's broker gives the time spent in each stage's tasks across every
worker process, without reading any worker's files or ports.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from celery import Celery

STAGES = {"newsmill.poll_feed": "poll", "newsmill.fetch_item": "fetch", "newsmill.extract_item": "extract",
          "newsmill.enrich_item": "enrich"}  # fmt: skip


class TaskTimes:
    """Collects run times by stage in a thread, from entering the block until it ends."""

    def __init__(self, broker_url: str) -> None:
        self.app = Celery("newsmill-bench", broker=broker_url)
        self.names: dict[str, str] = {}
        self.totals: dict[str, dict[str, float]] = defaultdict(lambda: {"tasks": 0.0, "seconds": 0.0})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> TaskTimes:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _received(self, event: dict[str, Any]) -> None:
        self.names[event["uuid"]] = event.get("name", "")

    def _succeeded(self, event: dict[str, Any]) -> None:
        stage = STAGES.get(self.names.pop(event["uuid"], ""))
        if stage is not None:
            self.totals[stage]["tasks"] += 1
            self.totals[stage]["seconds"] += float(event.get("runtime") or 0.0)

    def _listen(self) -> None:
        with self.app.connection() as conn:
            receiver = self.app.events.Receiver(
                conn, handlers={"task-received": self._received, "task-succeeded": self._succeeded}
            )
            self._ready.set()
            while not self._stop.is_set():
                try:
                    receiver.capture(limit=None, timeout=1.0, wakeup=False)
                except TimeoutError:
                    continue

    def by_stage(self) -> dict[str, dict[str, float]]:
        return {stage: dict(v) for stage, v in self.totals.items()}
