"""The poll step: poll one feed, store its new entries as items, schedule the feed's next poll."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import psycopg

from scheduler.policy import PollBounds, PollEvidence, jitter_factor, next_poll_delay
from shared.db import feeds, items
from shared.errors import Outcome
from shared.settings import Settings
from workers.stages.poll import NO_VALIDATORS, Fetcher, PollResult, Validators, poll_feed
from workers.steps.handoff import INFRASTRUCTURE, Next

log = logging.getLogger(__name__)
# A poll its host's limiter deferred is tried again after the host's wait, never sooner than this.
MIN_BUSY_WAIT = 1.0


def poll_step(conn: psycopg.Connection, feed_id: int, fetcher: Fetcher, s: Settings, now: datetime) -> Next:
    """Poll one feed; store new entries as items and schedule the feed's next poll.

    Every poll ends recorded on the feed with its next poll scheduled, whatever happened: a failure the
    client names, a busy host (deferred, not counted as a failure), or an exception nobody expected
    (``internal_error``, backed off like any failure). Only infrastructure errors (the database or Redis
    away) escape, for the task to retry; a feed is never left looking fine and never polled again."""
    feed = feeds.get_feed(conn, feed_id)
    if feed is None:
        return Next(outcome="skipped")
    try:
        result = poll_feed(feed.url, Validators(feed.etag, feed.last_modified, feed.body_hash), fetcher,
                           max_entries=s.max_entries_per_poll)  # fmt: skip
        if result.outcome is Outcome.HOST_BUSY:
            wait = min(max(result.retry_after_seconds or 0.0, MIN_BUSY_WAIT), s.max_server_delay)
            feeds.defer_poll(conn, feed.id, result.outcome.value, result.error or "", now + timedelta(seconds=wait))
            return Next(outcome=result.outcome.value)
        return _store(conn, feed, result, s, now)
    except INFRASTRUCTURE:
        raise
    except Exception as exc:  # whatever it is, it is recorded on the feed, not lost in a log
        log.exception("poll failed unexpectedly", extra={"feed_id": feed.id})
        failure = PollResult(Outcome.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", None, NO_VALIDATORS)
        return _store(conn, feed, failure, s, now)


def _store(conn: psycopg.Connection, feed: feeds.Feed, result: PollResult, s: Settings, now: datetime) -> Next:
    """New entries, the outcome, the validators and the next poll time, in one transaction."""
    parsed = result.feed
    with conn.transaction():
        new_ids: list[int] = []
        if parsed is not None:
            new_ids = items.insert_new_items(conn, feed.id, parsed.entries, now + timedelta(seconds=s.stuck_after))
        failures = 0 if result.succeeded else feed.consecutive_failures + 1
        rate = feeds.entries_per_day(conn, feed.id, now) if result.succeeded else None  # a failure ignores it
        evidence = PollEvidence(
            result.succeeded, failures, rate,
            parsed.ttl_seconds if parsed else None, result.max_age_seconds, result.retry_after_seconds,
        )  # fmt: skip
        # Server hints (ttl, max-age, Retry-After) are clamped here: NEWSMILL_POLL_MAX_INTERVAL is the feeds' cap.
        bounds = PollBounds(s.poll_interval, s.poll_min_interval, s.poll_max_interval)
        delay = next_poll_delay(evidence, bounds, jitter_factor(feed.id))
        v = result.validators
        feeds.record_poll(conn, feed.id, now, feeds.PollRecord(
            outcome=result.outcome.value, error=result.error, succeeded=result.succeeded,
            next_poll_at=now + timedelta(seconds=delay), poll_interval=delay,
            etag=v.etag, last_modified=v.last_modified, body_hash=v.body_hash,
            title=parsed.title if parsed else None, site_url=parsed.site_url if parsed else None,
            language=parsed.language if parsed else None,
        ))  # fmt: skip
    return Next(new_ids, outcome=result.outcome.value)
