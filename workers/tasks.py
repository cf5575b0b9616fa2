"""Celery tasks: thin adapters that load by id, run one pipeline step, and enqueue after commit.

Messages carry batches of item ids: a feed's new entries go to one fetch message, and fetched items are
gathered (workers/outbox.py) into extract messages of NEWSMILL_EXTRACT_BATCH. Single-id tasks queued by an
older version are still consumed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_shutdown
from kombu.exceptions import OperationalError as BrokerError

from scheduler.dispatch import BEAT_TICK_KEY
from scheduler.dispatch import dispatch_due_feeds as dispatch
from scheduler.sweeper import publish_leftovers
from scheduler.sweeper import sweep_stale_items as sweep
from shared.db import pages
from shared.db.items import ItemState
from shared.metrics import FEED_POLLS, STAGE_ITEMS, stage_run
from shared.settings import get_settings
from workers import resources
from workers.app import ROUTES, app
from workers.outbox import Outbox
from workers.steps.enrich import enrich_step, publish_extraction
from workers.steps.extract import extract_batch, store_extraction
from workers.steps.fetch import fetch_step
from workers.steps.handoff import INFRASTRUCTURE, Handoff, Next
from workers.steps.poll import poll_step

log = logging.getLogger(__name__)
# Infrastructure hiccups (database or broker briefly away) are retried by Celery with backoff; everything
# about the input itself is recorded on the item by the steps.
INFRA_ERRORS: tuple[type[Exception], ...] = (*INFRASTRUCTURE, BrokerError)
RETRY = {"autoretry_for": INFRA_ERRORS, "retry_backoff": 2, "retry_backoff_max": 300, "max_retries": 30}
OUTBOX_WAIT = 0.25  # seconds a fetched item may wait for batch-mates before its extract message leaves


def now() -> datetime:
    return datetime.now(UTC)


def record(stage: str, handoff: Handoff) -> None:
    for outcome, count in handoff.outcomes.items():
        STAGE_ITEMS.labels(stage, outcome).inc(count)


def send(task: Task, ids: Sequence[int], per_message: int, countdown: float | None = None) -> None:
    """Enqueue ids, ``per_message`` to a message, after their transaction committed. A failed send loses
    nothing: the sweeper re-sends whatever has not moved by its sweep time."""
    try:
        for start in range(0, len(ids), per_message):
            task.apply_async((list(ids[start : start + per_message]),), countdown=countdown)
    except BrokerError:
        log.warning("broker unavailable; the sweeper will re-send", extra={"item_ids": list(ids)})


def hand_on(task: Task, handoff: Handoff, per_message: int) -> None:
    """Send a step's retries back to its own stage: put-back items one per message, the others batched."""
    for item_id in handoff.alone:
        send(task, [item_id], 1)
    for countdown, ids in handoff.retries.items():
        send(task, ids, per_message, countdown or None)


@app.task(name="newsmill.dispatch_due_feeds", **RETRY)
def dispatch_due_feeds() -> int:
    client = resources.redis_client()
    # Beat's heartbeat, read by `newsmill healthcheck beat`: the tick reached a worker and ran.
    client.set(BEAT_TICK_KEY, now().timestamp())
    with resources.connection() as conn:
        messages = dispatch(conn, now(), get_settings(), int(client.llen("feeds")))
    for feed_ids in messages:
        poll_feeds.delay(feed_ids)
    return sum(map(len, messages))


@app.task(name="newsmill.sweep_stale_items", **RETRY)
def sweep_stale_items() -> int:
    s = get_settings()
    by_state = {
        ItemState.DISCOVERED: (fetch_items, s.fetch_batch),
        ItemState.FETCHED: (extract_items, s.extract_batch),
        ItemState.EXTRACTED: (enrich_items, s.extract_batch),
    }
    client = resources.redis_client()
    depths = {state: int(client.llen(ROUTES[task.name]["queue"])) for state, (task, _) in by_state.items()}
    with resources.connection() as conn:
        if leftovers := publish_leftovers(conn, now(), s):
            log.info("published batches left queued", extra={"count": leftovers})
        stale = sweep(conn, now(), s, queue_depths=depths)
    for state, ids in stale.items():
        task, per_message = by_state[state]
        send(task, ids, per_message)
        log.info("re-sent stale items", extra={"state": state.value, "count": len(ids)})
    return sum(len(ids) for ids in stale.values())


@app.task(name="newsmill.prune_raw_html", **RETRY)
def prune_raw_html() -> int:
    with resources.connection() as conn:
        return pages.prune_raw_html(conn, now() - timedelta(days=get_settings().raw_html_retention_days))


@app.task(name="newsmill.poll_feeds", **RETRY)
def poll_feeds(feed_ids: list[int]) -> None:
    """Poll several claimed feeds, one after the other. An infrastructure error retries the message (polls
    already done are repeated: a conditional GET and known entries, harmless); a bug on one feed is logged
    and the others are still polled (the failed one is claimed again when its lease ends)."""
    for feed_id in feed_ids:
        try:
            poll(feed_id)
        except INFRA_ERRORS:
            raise
        except Exception:
            log.exception("poll failed", extra={"feed_id": feed_id})


@app.task(name="newsmill.poll_feed", **RETRY)
def poll_feed(feed_id: int) -> None:
    """One feed per message: what dispatchers sent before poll_feeds; kept so queued messages still run."""
    poll(feed_id)


def poll(feed_id: int) -> None:
    with stage_run("poll"), resources.connection() as conn:
        step = poll_step(conn, feed_id, resources.feed_fetcher, get_settings(), now())
    FEED_POLLS.labels(step.outcome).inc()
    log.info("polled feed", extra={"feed_id": feed_id, "new_items": len(step.ids), "outcome": step.outcome})
    send(fetch_items, step.ids, get_settings().fetch_batch)


@app.task(name="newsmill.fetch_items", **RETRY)
def fetch_items(item_ids: list[int]) -> None:
    with stage_run("fetch", len(item_ids)), resources.connection() as conn:
        handoff = fetch_step(conn, item_ids, resources.article_fetcher, get_settings(), now, on_item=_fetched)
    hand_on(fetch_items, handoff, get_settings().fetch_batch)


def _fetched(step: Next) -> None:
    """An item's fetch is decided: counted, and a stored page sent on at once, not behind its batch's slower
    pages."""
    STAGE_ITEMS.labels("fetch", step.outcome).inc()
    if step.ids and not step.again:
        EXTRACT_OUTBOX.add(step.ids)


@app.task(name="newsmill.extract_items", soft_time_limit=get_settings().extract_soft_time_limit,
          time_limit=get_settings().extract_time_limit, **RETRY)  # fmt: skip
def extract_items(item_ids: list[int]) -> None:
    """Extract a batch; a worker that also consumes the enrich queue (`newsmill run`'s CPU worker) publishes
    it in the same transaction, one that does not (compose's worker-extract) hands it to the enrich queue."""
    s = get_settings()
    with stage_run("extract", len(item_ids)), resources.connection() as conn:
        extraction = extract_batch(conn, item_ids, s, now(), interrupt=(SoftTimeLimitExceeded,))
        handoff = publish_extraction(conn, extraction, s, now()) if enriches_here() else (
            store_extraction(conn, extraction, s, now()))  # fmt: skip
    record("extract", handoff)
    log.info("extracted a batch", extra={"outcomes": dict(handoff.outcomes)})
    hand_on(extract_items, handoff, s.extract_batch)
    send(enrich_items, handoff.forward, s.extract_batch)


def enriches_here() -> bool:
    """Whether this worker also consumes the enrich queue: then a batch is published where it was extracted,
    sparing a broker round trip, a second task and a second transaction per batch."""
    return ROUTES[enrich_items.name]["queue"] in app.amqp.queues.consume_from


@app.task(name="newsmill.enrich_items", **RETRY)
def enrich_items(item_ids: list[int]) -> None:
    with stage_run("enrich", len(item_ids)), resources.connection() as conn:
        handoff = enrich_step(conn, item_ids, get_settings(), now())
    record("enrich", handoff)
    log.info("enriched a batch", extra={"outcomes": dict(handoff.outcomes)})
    hand_on(enrich_items, handoff, get_settings().extract_batch)


# One id per message: what versions before batching sent; kept so messages queued across an upgrade still run.
@app.task(name="newsmill.fetch_item", **RETRY)
def fetch_item(item_id: int) -> None:
    fetch_items([item_id])


@app.task(name="newsmill.extract_item", **RETRY)
def extract_item(item_id: int) -> None:
    extract_items.delay([item_id])


@app.task(name="newsmill.enrich_item", **RETRY)
def enrich_item(item_id: int) -> None:
    enrich_items([item_id])


EXTRACT_OUTBOX = Outbox(extract_items.delay, lambda: get_settings().extract_batch, OUTBOX_WAIT)


@worker_shutdown.connect
def _flush_outbox(**_: object) -> None:
    EXTRACT_OUTBOX.flush()
