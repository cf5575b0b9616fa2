"""The poll step: poll one feed, store its new entries as items, schedule the feed's next poll."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from scheduler.policy import PollBounds, PollEvidence, jitter_factor, next_poll_delay
from shared.db import feeds, items
from shared.settings import Settings
from workers.stages.poll import Fetcher, Validators, poll_feed
from workers.steps.handoff import Next


def poll_step(conn: psycopg.Connection, feed_id: int, fetcher: Fetcher, s: Settings, now: datetime) -> Next:
    """Poll one feed; store new entries as items and schedule the feed's next poll."""
    feed = feeds.get_feed(conn, feed_id)
    if feed is None:
        return Next(outcome="skipped")
    previous = Validators(feed.etag, feed.last_modified, feed.body_hash)
    result = poll_feed(feed.url, previous, fetcher, max_entries=s.max_entries_per_poll)
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
