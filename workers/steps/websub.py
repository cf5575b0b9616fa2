"""The WebSub stage (W3C WebSub §5.3, §7): verify a subscriber's intent, then push what it is owed.

Both run on the `deliver` queue, planned by beat after the publication has committed (never inside it),
through the same guarded HTTP client, backoff and limits as webhooks (workers/steps/deliver.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import psycopg

from shared import feed_render
from shared.backoff import exponential
from shared.db import topics, websub
from shared.db.published import PublishedArticle
from shared.db.topic_feed import attach_other_reports
from shared.errors import Outcome, PermanentError, StageError
from shared.settings import Settings
from workers.stages.webhook import PostResult
from workers.steps.deliver import sender_lease

log = logging.getLogger(__name__)

VERIFY_ATTEMPTS = 3  # an unreachable callback is asked again at the next ticks, then the request is refused
PUSH_LIMIT = 50  # stories in one push; a longer backlog sends its newest (readers poll for the rest)
REQUEUE_AFTER = timedelta(minutes=2)
Getter = Callable[[str], bytes]  # GET a URL, the body (raises StageError)
Poster = Callable[[str, bytes, Mapping[str, str]], PostResult]


def hub_url(s: Settings) -> str:
    return f"{s.public_url.rstrip('/')}/websub"


def plan(conn: psycopg.Connection, now: datetime) -> tuple[list[int], list[int]]:
    """Claim the requests to verify and the subscriptions owed a push; enqueue both after this commits."""
    with conn.transaction():
        return websub.claim_requests(conn, now, REQUEUE_AFTER), websub.plan(conn, now, REQUEUE_AFTER)


def verify(conn: psycopg.Connection, request_id: int, get: Getter, now: datetime) -> str:
    """Ask the callback to confirm (§5.3): a GET with hub.mode, hub.topic, hub.challenge and
    hub.lease_seconds, answered 2xx with the challenge as its body. Returns the request's new state."""
    with conn.transaction():
        request = websub.take_request(conn, request_id)
    if request is None:
        return "done"  # a duplicated task: already verified or refused
    challenge = secrets.token_urlsafe(32)
    query = urlencode({"hub.mode": request.mode, "hub.topic": request.topic_url, "hub.challenge": challenge,
                       "hub.lease_seconds": request.lease_seconds})  # fmt: skip
    url = request.callback + ("&" if "?" in request.callback else "?") + query
    error = None
    try:
        body = get(url)
        if body.strip() != challenge.encode():
            error = "the callback did not echo hub.challenge"
    except PermanentError as exc:
        error = f"{exc.outcome.value}: {exc.reason}"
    except StageError as exc:  # transient: asked again at a later tick, a few times
        with conn.transaction():
            if websub.retry_request(conn, request.id, f"{exc.outcome.value}: {exc.reason}") < VERIFY_ATTEMPTS:
                return "pending"
            websub.finish_request(conn, request.id, "refused", f"{exc.outcome.value}: {exc.reason}")
        return "refused"
    with conn.transaction():
        if websub.take_request(conn, request.id) is None:
            return "done"
        if error is None and request.mode == "subscribe":
            websub.subscribe(conn, request, now)
        elif error is None:
            websub.unsubscribe(conn, request.callback, request.topic_url)
        websub.finish_request(conn, request.id, "refused" if error else "verified", error)
    log.info("websub request verified" if error is None else "websub request refused",
             extra={"websub_request_id": request.id, "mode": request.mode, "error": error})  # fmt: skip
    return "refused" if error else "verified"


def signature(body: bytes, secret: str) -> str:
    """X-Hub-Signature (§7.1): the HMAC-SHA256 of the body with the subscriber's hub.secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PushReport:
    claimed: bool
    stories: int = 0
    outcome: str | None = None


def push(conn: psycopg.Connection, subscription_id: int, post: Poster, s: Settings,
         clock: Callable[[], datetime]) -> PushReport:  # fmt: skip
    """Send the subscriber a feed document of the stories it is owed (§7: "the hub MAY remove entries already
    delivered"), signed when it gave a secret; success moves its cursor, failure backs off like a webhook,
    and a 410 Gone or too many failures in a row end the subscription."""
    with conn.transaction():
        held = websub.claim_sender(conn, subscription_id, clock(), sender_lease(s))
    if held is None:
        return PushReport(claimed=False)
    articles, upto = websub.owed_articles(conn, held, PUSH_LIMIT)
    if not articles:
        with conn.transaction():
            websub.record_push(conn, held, upto, None, None)
        return PushReport(claimed=True)
    body, content_type = _document(conn, held, articles, s)
    headers = {"Content-Type": content_type, "Link": f'<{hub_url(s)}>; rel="hub", <{held.topic_url}>; rel="self"'}
    if held.secret:
        headers["X-Hub-Signature"] = signature(body, held.secret)
    result = post(held.callback, body, headers)
    ids = {"websub_subscription_id": held.id, "outcome": result.outcome.value, "response_code": result.response_code}
    with conn.transaction():
        if result.outcome == Outcome.OK:
            websub.record_push(conn, held, upto, None, None)
        elif result.response_code == 410:  # §7: the subscriber says it is gone for good
            websub.drop(conn, held.id)
        else:
            delay = exponential(held.consecutive_failures + 1, s.webhook_retry_base_delay, s.webhook_retry_max_delay)
            failures = websub.record_push(conn, held, None, result.error, clock() + timedelta(seconds=delay))
            if failures >= s.webhook_max_failures:
                websub.drop(conn, held.id)
                log.warning("websub subscription ended after repeated failures", extra=ids)
    log.info("websub push", extra=ids | {"stories": len(articles)})
    return PushReport(claimed=True, stories=len(articles), outcome=result.outcome.value)


def _document(
    conn: psycopg.Connection, held: websub.Subscription, articles: list[PublishedArticle], s: Settings
) -> tuple[bytes, str]:
    base = s.public_url.rstrip("/")
    topic = topics.get_topic(conn, held.topic_slug) if held.topic_slug else None
    name = topic.name if topic else "All topics"
    html_url = f"{base}/topics/{held.topic_slug}" if held.topic_slug else f"{base}/"
    return feed_render.render_feed(
        held.feed_format,  # type: ignore[arg-type]  # the table's CHECK allows atom, rss, json only
        title=f"{name} · newsmill", self_url=held.topic_url, html_url=html_url,
        stories=attach_other_reports(conn, articles), hub_url=hub_url(s),
    )  # fmt: skip
