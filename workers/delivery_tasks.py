"""Celery tasks of webhook delivery, on their own `deliver` queue: thin adapters over workers.steps.deliver.

Beat ticks ``deliver_plan``; it never touches ingestion, so a slow or dead receiver cannot slow it down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kombu.exceptions import OperationalError as BrokerError

from shared.metrics import STAGE_STARTED
from shared.settings import get_settings
from workers import resources
from workers.app import app
from workers.stages import webhook
from workers.steps import deliver
from workers.tasks import RETRY, now

log = logging.getLogger(__name__)


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> webhook.PostResult:
    return webhook.post_webhook(url, body, headers, deliver.webhook_policy(get_settings()))


@app.task(name="newsmill.deliver_plan", **RETRY)
def deliver_plan() -> int:
    with resources.connection() as conn:
        due = deliver.plan_deliveries(conn, now(), get_settings())
    # After commit. A send lost here (or with Redis) is planned again once its enqueued_until passes.
    try:
        for subscription_id in due:
            deliver_subscription.delay(subscription_id)
    except BrokerError:
        log.warning("broker unavailable; deliveries will be planned again", extra={"subscription_ids": due})
    return len(due)


@app.task(name="newsmill.deliver_subscription", **RETRY)
def deliver_subscription(subscription_id: int) -> int:
    STAGE_STARTED.labels("deliver").inc()  # not timed as a stage step: its time is the receivers'
    with resources.connection() as conn:
        report = deliver.send_pending(conn, subscription_id, _post, get_settings(), now)
    return report.delivered
