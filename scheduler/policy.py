"""The polling policy: one pure function that says when a feed should be polled next.

Feeds are never disabled by failures: a failing feed backs off exponentially up to the cap and keeps being
tried there, so it comes back by itself when it recovers (the commonest complaint about feed readers is
feeds silently dropped after a few errors).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.backoff import exponential


@dataclass(frozen=True)
class PollEvidence:
    """What we know about a feed after a poll."""

    succeeded: bool
    consecutive_failures: int  # including this poll, if it failed
    entries_per_day: float | None = None  # recent rate of new entries; None when unknown
    ttl_seconds: float | None = None  # RSS <ttl>
    max_age_seconds: float | None = None  # Cache-Control: max-age
    retry_after_seconds: float | None = None  # Retry-After on 429/503


@dataclass(frozen=True)
class PollBounds:
    nominal: int  # seconds, for a healthy feed with no better evidence
    minimum: int
    maximum: int


def jitter_factor(feed_id: int, spread: float = 0.1) -> float:
    """A stable factor in [1 - spread, 1 + spread] per feed, so feeds added together do not poll together."""
    digest = hashlib.blake2b(feed_id.to_bytes(8, "big", signed=True), digest_size=2).digest()
    unit = int.from_bytes(digest, "big") / 0xFFFF
    return 1 - spread + 2 * spread * unit


def next_poll_delay(evidence: PollEvidence, bounds: PollBounds, jitter: float = 1.0) -> int:
    """Seconds until the next poll, always within [bounds.minimum, bounds.maximum]."""
    if evidence.succeeded:
        delay = float(bounds.nominal)
        rate = evidence.entries_per_day
        if rate is not None:
            # Poll about twice per expected new entry: fresh enough without hammering quiet feeds; a feed
            # with nothing new for a week is polled at the cap (once a day by default).
            delay = 86_400 / rate / 2 if rate > 0 else float(bounds.maximum)
        # Server hints are a floor: polling faster than the server asks only earns 304s or a ban.
        for hint in (evidence.ttl_seconds, evidence.max_age_seconds):
            if hint:
                delay = max(delay, float(hint))
        delay *= jitter
    else:
        delay = exponential(evidence.consecutive_failures, bounds.nominal * jitter, bounds.maximum)
    if evidence.retry_after_seconds is not None:
        delay = max(delay, evidence.retry_after_seconds)
    return int(min(max(delay, bounds.minimum), bounds.maximum))
