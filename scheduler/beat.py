"""The beat schedule: beat only ticks the dispatcher, the sweeper and retention; Postgres holds the state."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from celery import platforms
from celery.schedules import crontab

from shared.settings import Settings


def beat_schedule(s: Settings) -> dict[str, dict[str, Any]]:
    return {
        "dispatch-due-feeds": {"task": "newsmill.dispatch_due_feeds", "schedule": s.dispatch_every},
        "sweep-stale-items": {"task": "newsmill.sweep_stale_items", "schedule": s.sweep_every},
        "deliver-webhooks": {"task": "newsmill.deliver_plan", "schedule": s.deliver_every},
        "index-for-search": {"task": "newsmill.search_index", "schedule": s.search_index_every},
        "websub-push": {"task": "newsmill.deliver_websub_plan", "schedule": s.deliver_every},
        "email-digests": {"task": "newsmill.deliver_digests", "schedule": 60.0},
        "prune-raw-html": {"task": "newsmill.prune_raw_html", "schedule": crontab(minute=17, hour=3)},
    }


def stop_between_sends(service: Any) -> None:
    """Replace celery beat's SIGTERM/SIGINT handler with one that never stops it in the middle of a send.

    Celery's handler saves the schedule, closes it and raises SystemExit wherever beat is. When that is inside a
    task's send, the send's error handling swallows the exit (it logs "Couldn't apply scheduled task"), the loop
    ticks on with the schedule closed and beat exits 1 ("invalid operation on closed shelf"): a fleet stopped
    while beat sends could report a failed stop. Here a signal that lands inside ``apply_entry`` is delivered
    again 50 ms later, until it lands outside; there, celery's own handling (save, then exit) runs as before."""

    handler = stop_handler(service, _deliver_again_soon)
    platforms.signals.update(SIGTERM=handler, SIGINT=handler)


def stop_handler(service: Any, deliver_again: Callable[[int], None]) -> Callable[[int, FrameType | None], None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        if _inside(frame, "apply_entry"):
            deliver_again(signum)
            return
        service.sync()
        raise SystemExit()

    return stop


def _deliver_again_soon(signum: int) -> None:
    threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()


def _inside(frame: FrameType | None, function: str) -> bool:
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
