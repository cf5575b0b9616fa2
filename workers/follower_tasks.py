"""Celery tasks that follow the publication cursor on the `deliver` queue: thin adapters over the stages
(search indexing, WebSub, e-mail digests). Beat ticks the planners; none of it runs inside publication."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kombu.exceptions import OperationalError as BrokerError

from shared import http_client
from shared.settings import get_settings
from workers import resources
from workers.app import app
from workers.stages import webhook
from workers.steps import deliver, digest, search_index, websub
from workers.tasks import RETRY, now

log = logging.getLogger(__name__)


@app.task(name="newsmill.search_index", **RETRY)
def search_index_task() -> int:
    with resources.connection() as conn:
        return search_index.index_new_articles(conn)


@app.task(name="newsmill.deliver_websub_plan", **RETRY)
def websub_plan() -> int:
    with resources.connection() as conn:
        to_verify, to_push = websub.plan(conn, now())
    # After commit. A task lost here (or with Redis) is planned again once its enqueued_until passes.
    try:
        for request_id in to_verify:
            websub_verify.delay(request_id)
        for subscription_id in to_push:
            websub_push.delay(subscription_id)
    except BrokerError:
        log.warning("broker unavailable; websub work will be planned again")
    return len(to_verify) + len(to_push)


def _get(url: str) -> bytes:
    return http_client.fetch(url, deliver.webhook_policy(get_settings()), truncate=True).body


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> webhook.PostResult:
    return webhook.post_webhook(url, body, headers, deliver.webhook_policy(get_settings()))


@app.task(name="newsmill.deliver_websub_verify", **RETRY)
def websub_verify(request_id: int) -> str:
    with resources.connection() as conn:
        return websub.verify(conn, request_id, _get, now())


@app.task(name="newsmill.deliver_websub_push", **RETRY)
def websub_push(subscription_id: int) -> int:
    with resources.connection() as conn:
        return websub.push(conn, subscription_id, _post, get_settings(), now).stories


@app.task(name="newsmill.deliver_digests", **RETRY)
def digests() -> int:
    s = get_settings()
    if not s.smtp_host:  # digests are off (unset, or empty in an env file): nothing to send, no query
        return 0
    with resources.connection() as conn:
        return digest.send_due_digests(conn, now(), s, digest.smtp_sender(s))
