"""The pipeline's steps: load rows by id, call a stage, persist in one transaction. No Celery here.

Each step returns what should be enqueued once its transaction has committed, so tasks stay thin adapters
and tests can run the whole pipeline by calling these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from scheduler.policy import PollBounds, PollEvidence, jitter_factor, next_poll_delay
from shared.db import articles, feeds, items, pages
from shared.db.items import ItemState
from shared.encoding import decode_html
from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchResult
from shared.settings import Settings
from workers.dedup import content_hash
from workers.extract import EntryHints, extract_page
from workers.poll import Fetcher, Validators, poll_feed

ArticleFetcher = Callable[[str], FetchResult]
# Retries sooner than this are re-sent with a countdown; later ones are left to the sweeper, because a
# broker holding a long-delayed message is one more thing to lose.
MAX_COUNTDOWN = 120.0


@dataclass(frozen=True)
class Next:
    """Item ids to hand to the next stage, or back to this one after ``countdown`` seconds."""

    ids: list[int] = field(default_factory=list)
    countdown: float | None = None
    again: bool = False  # True: re-send to the same stage
    outcome: str = "ok"  # what happened, for metrics ("skipped": another delivery had done it)


def retry_delay(attempts: int, retry_after: float | None, base: float) -> float:
    """Backoff for a transient item failure: the server's hint, else ``base`` doubling, capped at an hour."""
    return min(max(retry_after or 0.0, base * 2 ** max(attempts - 1, 0)), 3600.0)


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
            entries = [
                items.NewItem(e.guid, e.url, e.canonical_url, e.title, e.author, e.published_at, e.language)
                for e in parsed.entries
            ]
            new_ids = items.insert_new_items(conn, feed.id, entries, now + timedelta(seconds=s.stuck_after))
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


def give_up(conn: psycopg.Connection, item: items.Item, s: Settings, outcome: Outcome) -> bool:
    """An item claimed more often than allowed was killed mid-task each time (time or memory limit,
    a crash): end it instead of letting it take workers down forever."""
    if item.attempts <= s.max_attempts:
        return False
    last = f" (last: {item.outcome}: {item.last_error})" if item.last_error else ""
    items.fail(conn, item.id, outcome.value, f"gave up after {item.attempts - 1} attempts{last}")
    return True


def _transient(conn: psycopg.Connection, item: items.Item, exc: TransientError, s: Settings, now: datetime) -> Next:
    busy = exc.outcome is Outcome.HOST_BUSY  # our own limiter: not the page's fault, costs no attempt
    if not busy and item.attempts >= s.max_attempts:
        items.fail(conn, item.id, exc.outcome.value, f"{exc.reason} (after {item.attempts} attempts)")
        return Next(outcome=exc.outcome.value)
    if busy:
        delay = max(exc.retry_after or 1.0, 0.5)
    else:
        delay = retry_delay(item.attempts, exc.retry_after, s.retry_base_delay)
    resend = busy or delay <= MAX_COUNTDOWN
    # A re-sent item is the countdown message's: the sweeper must not deliver it at the same moment (two
    # claims would count two attempts), so it only steps in if that message is lost.
    sweep_at = now + timedelta(seconds=delay + (s.stuck_after if resend else 0))
    items.defer(conn, item.id, exc.outcome.value, exc.reason, sweep_at, refund=busy)
    return Next([item.id] if resend else [], delay, again=True, outcome=exc.outcome.value)


def fetch_step(conn: psycopg.Connection, item_id: int, fetcher: ArticleFetcher, s: Settings, now: datetime) -> Next:
    """Fetch an item's page and keep the raw body; the item moves to ``fetched``."""
    item = items.claim(conn, item_id, ItemState.DISCOVERED, now + timedelta(seconds=s.stuck_after))
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.NETWORK_ERROR):
        return Next(outcome=Outcome.NETWORK_ERROR.value)
    try:
        result = fetcher(item.url)
    except TransientError as exc:
        return _transient(conn, item, exc, s, now)
    except PermanentError as exc:
        items.fail(conn, item.id, exc.outcome.value, exc.reason)
        return Next(outcome=exc.outcome.value)
    with conn.transaction():
        pages.save_page(conn, item.id, final_url=result.url, status=result.status,
                        content_type=result.headers.get("content-type"), body=result.body)  # fmt: skip
        moved = items.advance(conn, item.id, ItemState.DISCOVERED, ItemState.FETCHED,
                              now + timedelta(seconds=s.stuck_after))  # fmt: skip
    return Next([item.id]) if moved else Next(outcome="skipped")


def extract_step(conn: psycopg.Connection, item_id: int, s: Settings, now: datetime) -> Next:
    """Decode, extract and clean an item's page into its article row; the item moves to ``extracted``."""
    item = items.claim(conn, item_id, ItemState.FETCHED, now + timedelta(seconds=s.stuck_after))
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.EXTRACT_TIMEOUT):
        return Next(outcome=Outcome.EXTRACT_TIMEOUT.value)
    page = pages.load_page(conn, item.id)
    if page is None or page.body is None:
        items.fail(conn, item.id, Outcome.EMPTY.value, "raw page missing (pruned before extraction)")
        return Next(outcome=Outcome.EMPTY.value)
    decoded = decode_html(page.body, page.content_type)
    hints = EntryHints(item.entry_title, item.entry_author, item.entry_published_at, item.entry_language)
    try:
        page_data = extract_page(decoded.text, page.final_url, hints, fast=s.extract_fast)
    except PermanentError as exc:
        items.fail(conn, item.id, exc.outcome.value, exc.reason)
        return Next(outcome=exc.outcome.value)
    draft = articles.ArticleDraft(
        item_id=item.id, feed_id=item.feed_id, url=page.final_url, canonical_url=item.canonical_url,
        site_name=page_data.site_name, title=page_data.title, author=page_data.author,
        published_at=page_data.published_at, date_source=page_data.date_source, fetched_at=page.fetched_at,
        text=page_data.text, word_count=len(page_data.text.split()),
        content_hash=content_hash(page_data.text),
        page_language=page_data.language_hint,
    )  # fmt: skip
    with conn.transaction():
        articles.upsert_draft(conn, draft)
        pages.set_charset(conn, item.id, f"{decoded.charset} ({decoded.source})")
        moved = items.advance(conn, item.id, ItemState.FETCHED, ItemState.EXTRACTED,
                              now + timedelta(seconds=s.stuck_after))  # fmt: skip
    return Next([item.id]) if moved else Next(outcome="skipped")
