"""What a step hands on: the ids for the next stage, and the shared rules for retrying and giving up.

Each step returns what should be enqueued once its transaction has committed, so tasks stay thin adapters
and tests can run the whole pipeline by calling the step functions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
import redis

from shared.backoff import exponential
from shared.db import items
from shared.errors import Outcome, TransientError
from shared.settings import Settings

# The database or Redis briefly away: a step lets these escape for its task to retry (workers/tasks.py);
# anything else that goes wrong is about the input, and the step records it.
INFRASTRUCTURE: tuple[type[Exception], ...] = (psycopg.OperationalError, redis.ConnectionError, redis.TimeoutError)
# Retries sooner than this are re-sent with a countdown; later ones are left to the sweeper, because a
# broker holding a long-delayed message is one more thing to lose.
MAX_COUNTDOWN = 120.0
MAX_RETRY_DELAY = 3600.0


@dataclass(frozen=True)
class Next:
    """Item ids to hand to the next stage, or back to this one after ``countdown`` seconds."""

    ids: list[int] = field(default_factory=list)
    countdown: float | None = None
    again: bool = False  # True: re-send to the same stage
    outcome: str = "ok"  # what happened, for metrics ("skipped": another delivery had done it)


@dataclass
class Handoff:
    """What a step over a batch of items hands on, gathered item by item (``add``)."""

    forward: list[int] = field(default_factory=list)  # to the next stage
    retries: dict[float, list[int]] = field(default_factory=dict)  # countdown -> ids, back to this stage
    alone: list[int] = field(default_factory=list)  # back to this stage, one message each (see extract)
    outcomes: Counter[str] = field(default_factory=Counter)  # per item, for metrics

    def add(self, step: Next) -> None:
        if step.again:
            if step.ids:
                self.retries.setdefault(step.countdown or 0.0, []).extend(step.ids)
        else:
            self.forward.extend(step.ids)
        self.count(step.outcome)

    def count(self, outcome: str, items: int = 1) -> None:
        if items > 0:
            self.outcomes[outcome] += items


def retry_delay(attempts: int, retry_after: float | None, base: float) -> float:
    """Backoff for a transient item failure: the server's hint, else ``base`` doubling, capped at an hour."""
    return min(max(retry_after or 0.0, exponential(attempts, base, MAX_RETRY_DELAY)), MAX_RETRY_DELAY)


def exhausted(item: items.Item, s: Settings, outcome: Outcome) -> items.Failure | None:
    """An item claimed more often than allowed was killed mid-task each time (time or memory limit,
    a crash): its failure, to end it instead of letting it take workers down forever; else None."""
    if item.attempts <= s.max_attempts:
        return None
    last = f" (last: {item.outcome}: {item.last_error})" if item.last_error else ""
    return items.Failure(item.id, outcome.value, f"gave up after {item.attempts - 1} attempts{last}")


def give_up(conn: psycopg.Connection, item: items.Item, s: Settings, outcome: Outcome) -> bool:
    """``exhausted``, recorded at once; True when the item was ended."""
    failure = exhausted(item, s, outcome)
    if failure is not None:
        items.fail_many(conn, [failure])
    return failure is not None


def defer_transient(
    conn: psycopg.Connection, item: items.Item, exc: TransientError, s: Settings, now: datetime
) -> Next:
    busy = exc.outcome is Outcome.HOST_BUSY  # our own limiter: not the page's fault, costs no attempt
    if not busy and item.attempts >= s.max_attempts:
        items.fail(conn, item.id, exc.outcome.value, f"{exc.reason} (after {item.attempts} attempts)")
        return Next(outcome=exc.outcome.value)
    if busy:
        # As long as the host's slot or penalty lasts, which the gate caps at NEWSMILL_MAX_SERVER_DELAY.
        delay = min(max(exc.retry_after or 1.0, 0.5), s.max_server_delay)
    else:
        delay = retry_delay(item.attempts, exc.retry_after, s.retry_base_delay)
    # A long wait is never a countdown message: a worker holds countdown messages in memory until due.
    resend = delay <= MAX_COUNTDOWN
    # A re-sent item is the countdown message's: the sweeper must not deliver it at the same moment (two
    # claims would count two attempts), so it only steps in if that message is lost.
    retry_at = now + timedelta(seconds=delay)
    sweep_at = retry_at + timedelta(seconds=s.stuck_after if resend else 0)
    items.defer(conn, item.id, exc.outcome.value, exc.reason, retry_at=retry_at, sweep_at=sweep_at, refund=busy)
    return Next([item.id] if resend else [], delay, again=True, outcome=exc.outcome.value)
