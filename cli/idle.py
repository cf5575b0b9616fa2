"""When `newsmill run --until-idle` and the demo may stop: nothing pending, and exactly what still waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from shared.db import feeds, items, publish_queue
from shared.errors import Outcome

# Work due within this is waited for; work deferred further is reported instead. The same two minutes as
# workers.steps.handoff.MAX_COUNTDOWN (a test keeps them equal): whatever is re-sent by a countdown message
# is pending, whatever is left to the sweeper for later is waiting.
HORIZON = timedelta(seconds=120)
# `--until-idle` exit status when only work waiting out a backoff is left (0: nothing left, 1: gave up).
EXIT_WAITING = 3


@dataclass(frozen=True)
class Remaining:
    feeds: feeds.Unpolled  # of the feeds due when the run started, those not polled since
    items: items.Unfinished
    queued: int  # batches committed by a publisher and not yet given cursors (publish_queue)

    @property
    def pending(self) -> int:
        return self.feeds.pending + self.items.pending + self.queued

    @property
    def waiting(self) -> int:
        return self.feeds.waiting + self.items.waiting

    def progress(self) -> str:
        queued = f"  batches awaiting publication: {self.queued}" if self.queued else ""
        return (f"feeds to poll: {self.feeds.pending}  items in flight: {self.items.pending}  "
                f"waiting out a backoff: {self.waiting}{queued}")  # fmt: skip

    def waiting_line(self, now: datetime) -> str:
        """What is left when nothing is pending, said exactly (empty when nothing is)."""
        counts = ((self.items.waiting, "item"), (self.feeds.waiting, "feed"))
        parts = [f"{n} {what}{'' if n == 1 else 's'}" for n, what in counts if n]
        last = max((t for t in (self.items.last_retry_at, self.feeds.last_due_at) if t), default=None)
        if not parts or last is None:
            return ""
        seconds = max(0, round((last - now).total_seconds()))
        return (f"{' and '.join(parts)} waiting out a backoff of up to {seconds} s (a host's Retry-After or "
                f"a failure's backoff, until {last:%Y-%m-%d %H:%M:%S} UTC): a running fleet or the next run "
                f"takes them up")  # fmt: skip


def remaining(conn: psycopg.Connection, due_ids: list[int], started: datetime, now: datetime) -> Remaining:
    """What is left of a run that started at ``started`` with the feeds ``due_ids`` due."""
    unpolled = feeds.count_unpolled(conn, due_ids, started, now=now, horizon=HORIZON, busy=Outcome.HOST_BUSY.value)
    return Remaining(unpolled, items.count_unfinished(conn, now, HORIZON), publish_queue.queued_count(conn))
