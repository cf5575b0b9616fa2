"""The webhook delivery step: owe new articles to webhooks, sign them, POST them in order, back off, pause.

Sending is serial per subscription (a lease on its row): a receiver gets its articles one at a time, in
publication order, and "consecutive failures" means a receiver failing for a while, not one burst of news
arriving while it restarts. Backoff is data on the row, computed by ``shared.backoff.exponential``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from shared.backoff import exponential
from shared.db import deliveries, subscriptions
from shared.db.deliveries import DeliveryStatus
from shared.db.published import PublishedArticle, get_published
from shared.errors import Outcome
from shared.http_client import FetchPolicy
from shared.settings import Settings
from workers.stages.webhook import Poster, PostResult, delivery_headers

log = logging.getLogger(__name__)

MATCH_BATCH = 1_000  # articles a webhook's cursor moves past per planner tick
MATCH_SUBSCRIPTIONS = 100  # webhooks matched (and row-locked) per transaction


def payload(article: PublishedArticle) -> bytes:
    """The article as JSON, with the field names of newsmill.articles_published (docs/downstream.md)."""
    return json.dumps(article.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_policy(s: Settings) -> FetchPolicy:
    """The fetch limits, with the webhook's own deadline: a slow receiver costs at most this per attempt
    (http_client.post reads for up to the whole deadline: ``read_timeout`` does not apply)."""
    policy = FetchPolicy.from_settings(s)
    return dataclasses.replace(
        policy, total_timeout=s.webhook_timeout, connect_timeout=min(policy.connect_timeout, s.webhook_timeout)
    )


def sender_lease(s: Settings) -> timedelta:
    """How long one send run may hold a subscription: several attempts' worth, and then some."""
    return timedelta(seconds=max(60.0, 4 * s.webhook_timeout + 30))


def plan_deliveries(conn: psycopg.Connection, now: datetime, s: Settings) -> list[int]:
    """Owe each webhook its newly published matches (rows and cursor in one transaction), then claim the
    subscriptions that have something due; returns their ids, to enqueue once this has committed."""
    after_id = 0
    while True:
        with conn.transaction():
            batch = subscriptions.lock_webhooks_to_match(conn, after_id, MATCH_SUBSCRIPTIONS)
            for sub in batch:
                added, cursor = deliveries.match_new_articles(conn, sub, now, MATCH_BATCH)
                subscriptions.advance_cursor(conn, sub.id, cursor)
                if added:
                    log.info("articles owed to webhook", extra={"subscription_id": sub.id, "count": added})
        if len(batch) < MATCH_SUBSCRIPTIONS:
            break
        after_id = batch[-1].id
    with conn.transaction():
        return subscriptions.claim_due_senders(conn, now, sender_lease(s))


@dataclass(frozen=True)
class SendReport:
    claimed: bool
    delivered: int = 0
    failed: bool = False


def send_pending(
    conn: psycopg.Connection, subscription_id: int, post: Poster, s: Settings, clock: Callable[[], datetime]
) -> SendReport:
    """Send a webhook's owed articles in order until one fails, none is left or the lease runs short.
    A duplicated task finds the lease taken (or nothing pending) and sends nothing."""
    lease = sender_lease(s)
    with conn.transaction():
        sub = subscriptions.claim_sender(conn, subscription_id, clock(), lease)
    if sub is None:
        return SendReport(claimed=False)
    stop_at = time.monotonic() + lease.total_seconds() - s.webhook_timeout - 10
    delivered = 0
    try:
        while time.monotonic() < stop_at:
            current = subscriptions.get_subscription(conn, sub.id)
            delivery = deliveries.next_pending(conn, sub.id)
            if current is None or current.state != subscriptions.State.ACTIVE or delivery is None:
                break
            article = get_published(conn, delivery.article_id)
            if article is None:
                deliveries.set_status(conn, delivery.id, DeliveryStatus.SKIPPED, "article no longer published")
                continue
            body = payload(article)
            attempted_at = clock()
            result = post(sub.webhook_url or "", body, delivery_headers(body, sub.webhook_secret or "", delivery.id))
            if not _record(conn, current, delivery, attempted_at, result=result, s=s):
                break
            if result.outcome != Outcome.OK:
                return SendReport(claimed=True, delivered=delivered, failed=True)
            delivered += 1
    finally:
        subscriptions.release_sender(conn, sub)
    return SendReport(claimed=True, delivered=delivered)


def _record(conn: psycopg.Connection, sub: subscriptions.Subscription, delivery: deliveries.Delivery,
            at: datetime, *, result: PostResult, s: Settings) -> bool:  # fmt: skip
    """The attempt, the delivery and the subscription's failure count, in one transaction; False (and
    nothing written) when the delivery was no longer owed."""
    ok = result.outcome == Outcome.OK
    retry_at = at + timedelta(
        seconds=exponential(sub.consecutive_failures + 1, s.webhook_retry_base_delay, s.webhook_retry_max_delay)
    )
    with conn.transaction():
        number = deliveries.record_attempt(
            conn, delivery, attempted_at=at, duration_ms=result.duration_ms, response_code=result.response_code,
            outcome=result.outcome.value, error=result.error, next_attempt_at=None if ok else retry_at,
        )  # fmt: skip
        if number is None:
            return False
        if ok:
            subscriptions.record_success(conn, sub.id)
            state = subscriptions.State.ACTIVE.value
        else:
            _, state = subscriptions.record_failure(conn, sub.id, result.error or "", retry_at, s.webhook_max_failures)
            deliveries.defer_pending(conn, sub.id, retry_at)
    ids = {"subscription_id": sub.id, "delivery_id": delivery.id, "article_id": delivery.article_id}
    log.info("webhook attempt", extra={**ids, "attempt": number, "outcome": result.outcome.value,
                                       "response_code": result.response_code, "state": state})  # fmt: skip
    if state == subscriptions.State.PAUSED:
        log.warning("webhook paused after repeated failures", extra=ids)
    return True
