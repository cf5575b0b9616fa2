"""Celery tasks: thin adapters that load by id, run one pipeline step, and enqueue after commit."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError

from scheduler.dispatch import BEAT_TICK_KEY
from scheduler.dispatch import dispatch_due_feeds as dispatch
from scheduler.sweeper import sweep_stale_items as sweep
from shared.db import items, pages
from shared.db.items import ItemState
from shared.errors import Outcome
from shared.metrics import FEED_POLLS, STAGE_ITEMS, stage_run
from shared.settings import get_settings
from workers import resources
from workers.app import ROUTES, app
from workers.steps.enrich import enrich_step
from workers.steps.extract import extract_step
from workers.steps.fetch import fetch_step
from workers.steps.handoff import INFRASTRUCTURE, Next
from workers.steps.poll import poll_step

log = logging.getLogger(__name__)
# Infrastructure hiccups (database or broker briefly away) are retried by Celery with backoff; everything
# about the input itself is recorded on the item by the steps.
INFRA_ERRORS: tuple[type[Exception], ...] = (*INFRASTRUCTURE, BrokerError)
RETRY = {"autoretry_for": INFRA_ERRORS, "retry_backoff": 2, "retry_backoff_max": 300, "max_retries": 30}


def now() -> datetime:
    return datetime.now(UTC)


def record(stage: str, step: Next) -> None:
    STAGE_ITEMS.labels(stage, step.outcome).inc()


def send(task: Task, step: Next) -> None:
    """Enqueue ids after their transaction committed. A failed send loses nothing: the sweeper re-sends
    whatever has not moved by its sweep time."""
    try:
        for item_id in step.ids:
            task.apply_async((item_id,), countdown=step.countdown)
    except BrokerError:
        log.warning("broker unavailable; the sweeper will re-send", extra={"item_ids": step.ids})


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
    by_state = {
        ItemState.DISCOVERED: fetch_item,
        ItemState.FETCHED: extract_item,
        ItemState.EXTRACTED: enrich_item,
    }
    client = resources.redis_client()
    depths = {state: int(client.llen(ROUTES[task.name]["queue"])) for state, task in by_state.items()}
    with resources.connection() as conn:
        stale = sweep(conn, now(), get_settings(), queue_depths=depths)
    for state, ids in stale.items():
        send(by_state[state], Next(ids))
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
    send(fetch_item, step)


@app.task(name="newsmill.fetch_item", **RETRY)
def fetch_item(item_id: int) -> None:
    with stage_run("fetch"), resources.connection() as conn:
        step = fetch_step(conn, item_id, resources.article_fetcher, get_settings(), now())
    record("fetch", step)
    send(fetch_item if step.again else extract_item, step)


@app.task(name="newsmill.extract_item", soft_time_limit=get_settings().extract_soft_time_limit,
          time_limit=get_settings().extract_time_limit, **RETRY)  # fmt: skip
def extract_item(item_id: int) -> None:
    with stage_run("extract"), resources.connection() as conn:
        try:
            step = extract_step(conn, item_id, get_settings(), now())
        except SoftTimeLimitExceeded:
            limit = get_settings().extract_soft_time_limit
            items.fail(conn, item_id, Outcome.EXTRACT_TIMEOUT.value, f"extraction took over {limit} s")
            step = Next(outcome=Outcome.EXTRACT_TIMEOUT.value)
    record("extract", step)
    if step.ids and enriches_here():
        for extracted in step.ids:
            enrich_inline(extracted)
    else:
        send(enrich_item, step)


def enriches_here() -> bool:
    """Whether this worker also consumes the enrich queue (`newsmill run`'s CPU worker does; compose's
    extract workers do not): then an extracted article is enriched in the same task, sparing a broker round
    trip and a second task per article, instead of a message this same worker would take next."""
    return ROUTES[enrich_item.name]["queue"] in app.amqp.queues.consume_from


def enrich_inline(item_id: int) -> None:
    """Enrich what extraction just committed. The item is ``extracted`` in Postgres, so nothing is lost if
    this fails: an infrastructure error hands it to the enrich queue (whose task retries); anything else
    leaves it to the sweeper, as a crashed enrich task would."""
    try:
        enrich(item_id)
    except INFRA_ERRORS:
        log.warning("inline enrichment failed; sending to the enrich queue", extra={"item_id": item_id})
        send(enrich_item, Next([item_id]))


def enrich(item_id: int) -> None:
    with stage_run("enrich"), resources.connection() as conn:
        step = enrich_step(conn, item_id, get_settings(), now())
    record("enrich", step)


@app.task(name="newsmill.enrich_item", **RETRY)
def enrich_item(item_id: int) -> None:
    enrich(item_id)
