"""Webhook delivery on real parts: a migrated Postgres, articles published by the real steps, and a real
receiver on 127.0.0.1. The clock is passed in, so backoff is checked to the second without sleeping."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.articles import load_seed_topics, publish_ukraine
from shared.backoff import exponential
from shared.db import deliveries, subscriptions
from shared.db.published import get_published
from shared.settings import Settings
from tests.support.http_server import RequestHandler, serve
from workers.stages import webhook
from workers.steps import deliver

HOOK_PATH = "/hooks/T0123/credential-in-path"  # like Slack's incoming-webhook URLs: must not be logged
DOCS = Path(__file__).resolve().parents[1] / "docs" / "subscriptions.md"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers the scripted statuses in turn, then ``default``; records every POST."""

    script: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_post: Callable[[], None] | None = None  # runs while the sender waits for the answer

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.received.append(Received(headers, body))
            if self.on_post is not None:
                self.on_post()
            return self.script.pop(0) if self.script else self.default

    def article_ids(self) -> list[int]:
        return [json.loads(r.body)["id"] for r in self.received]


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    """Serve ``receiver`` on 127.0.0.1; yields its URL."""

    def answer(request: RequestHandler) -> None:
        status = receiver.answer({k.lower(): v for k, v in request.headers.items()}, request.body)
        time.sleep(receiver.delay)
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()

    with serve() as site:
        yield site.add(HOOK_PATH, answer)


def settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": db_url, "allow_private_hosts": True, "webhook_timeout": 3.0,
                                 "webhook_retry_base_delay": 30.0, "webhook_max_failures": 3}  # fmt: skip
    return Settings(**(values | overrides))  # type: ignore[arg-type]


class Clock:
    """The time every step is told; starts just ahead of the database's now(), like a worker a moment later."""

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC) + timedelta(seconds=60)

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = self.start + timedelta(seconds=seconds)
        return self.now


def send(db: psycopg.Connection, sub_id: int, s: Settings, clock: Clock) -> deliver.SendReport:
    def post(url: str, body: bytes, headers: Mapping[str, str]) -> webhook.PostResult:
        return webhook.post_webhook(url, body, headers, deliver.webhook_policy(s))

    return deliver.send_pending(db, sub_id, post, s, clock)


def add_webhook(db: psycopg.Connection, url: str, topics: list[str] | None = None, langs: list[str] | None = None
            ) -> subscriptions.Created:  # fmt: skip
    return subscriptions.create_subscription(db, "ed@example.org", topics or ["ukraine-war"], langs or [], url)


def test_a_delivery_is_the_article_signed_with_the_secret(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    publish_ukraine(db, 100)  # before the subscription: not owed, a webhook starts at "now"
    receiver, clock, s = Receiver(), Clock(), settings(db_url)
    with receiving(receiver) as url:
        created = add_webhook(db, url)
        article_id = publish_ukraine(db, 1)
        sub_id = created.subscription.id
        assert deliver.plan_deliveries(db, clock(), s) == [sub_id]
        assert send(db, sub_id, s, clock) == deliver.SendReport(claimed=True, delivered=1)
    (got,) = receiver.received
    assert created.secret is not None
    expected = "sha256=" + hmac.new(created.secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-newsmill-signature-256"] == expected
    assert got.headers["x-newsmill-event"] == "article.published"
    assert got.headers["content-type"].startswith("application/json")
    article = get_published(db, article_id)
    assert article is not None
    assert json.loads(got.body) == article.to_json()
    (delivery,) = db.execute("SELECT id, status, attempts, response_code FROM deliveries").fetchall()
    assert got.headers["x-newsmill-delivery"] == str(delivery[0])
    assert delivery[1:] == ("delivered", 1, 200)
    # A wrong secret or a changed body does not verify.
    assert not hmac.compare_digest(webhook.sign(got.body + b" ", created.secret), expected)
    assert not hmac.compare_digest(webhook.sign(got.body, created.secret + "x"), expected)


def test_the_documented_verification_snippet_accepts_our_signature_only() -> None:
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert code is not None, "docs/subscriptions.md shows how to verify a signature in Python"
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)  # the documentation's own code, not a copy of it
    verify = namespace["verify_signature"]
    body = b'{"id":1,"title":"Kyiv"}'
    assert verify("s3cret", body, webhook.sign(body, "s3cret")) is True  # type: ignore[operator]
    assert verify("s3cret", body + b"x", webhook.sign(body, "s3cret")) is False  # type: ignore[operator]
    assert verify("other", body, webhook.sign(body, "s3cret")) is False  # type: ignore[operator]


def test_only_matching_articles_are_owed_once_per_story(
    db_url: str, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliver, "MATCH_SUBSCRIPTIONS", 2)  # three webhooks: two transactions per tick
    load_seed_topics(db)
    s, clock = settings(db_url), Clock()
    wanted = add_webhook(db, "http://127.0.0.1:9/a").subscription
    french_only = add_webhook(db, "http://127.0.0.1:9/b", langs=["fr"]).subscription
    sport = add_webhook(db, "http://127.0.0.1:9/c", topics=["sport"]).subscription
    original = publish_ukraine(db, 1)
    copy = publish_ukraine(db, 1, host="syndicated.example")  # the same story on another site
    other = publish_ukraine(db, 2)
    row = db.execute("SELECT duplicate_of FROM articles WHERE id = %s", (copy,)).fetchone()
    assert row == (original,)
    deliver.plan_deliveries(db, clock(), s)
    deliver.plan_deliveries(db, clock(), s)  # a second tick (or a re-sent plan task) adds nothing
    # Even a cursor set back (a lost update) cannot owe an article twice: the log's unique key says no.
    db.execute("UPDATE subscriptions SET delivery_cursor = 0")
    deliver.plan_deliveries(db, clock(), s)
    owed = db.execute("SELECT subscription_id, article_id FROM deliveries ORDER BY id").fetchall()
    assert owed == [(wanted.id, original), (wanted.id, other)]
    assert {french_only.id, sport.id}.isdisjoint(sub for sub, _ in owed)
    cursors = db.execute("SELECT DISTINCT delivery_cursor FROM subscriptions").fetchall()
    assert cursors == [(max(r[0] for r in db.execute("SELECT cursor FROM articles").fetchall()),)]


def test_a_failing_receiver_is_retried_with_growing_delays_then_paused(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    receiver, clock, s = Receiver(default=500), Clock(), settings(db_url, webhook_max_failures=3)
    with receiving(receiver) as url:
        sub_id = add_webhook(db, url).subscription.id
        publish_ukraine(db, 1)
        sent_at = []
        for early, due in ((0, 0), (29, 30), (89, 90)):
            if early:
                assert deliver.plan_deliveries(db, clock.at(early), s) == [], "still backing off"
                assert send(db, sub_id, s, clock) == deliver.SendReport(claimed=False)
            assert deliver.plan_deliveries(db, clock.at(due), s) == [sub_id]
            assert send(db, sub_id, s, clock).failed
            sent_at.append(due)
        assert deliver.plan_deliveries(db, clock.at(100_000), s) == [], "paused: nothing is planned"
    assert len(receiver.received) == 3
    sub = subscriptions.get_subscription(db, sub_id)
    assert sub is not None
    assert (sub.state, sub.consecutive_failures, sub.last_error) == ("paused", 3, "HTTP 500")
    log = list(reversed(deliveries.delivery_log(db, sub_id, 10)))
    assert [a.attempt for a in log] == [1, 2, 3]
    assert {(a.outcome, a.response_code) for a in log} == {("server_error", 500)}
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in itertools.pairwise(log)]
    assert gaps == [30.0, 60.0]
    assert db.execute("SELECT status FROM deliveries").fetchall() == [("pending",)]


def test_a_receiver_that_recovers_gets_the_backlog_in_order(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    receiver, clock, s = Receiver(script=[500, 503]), Clock(), settings(db_url, webhook_max_failures=2)
    with receiving(receiver) as url:
        sub_id = add_webhook(db, url).subscription.id
        first = [publish_ukraine(db, n) for n in (1, 2)]
        deliver.plan_deliveries(db, clock.at(0), s)
        send(db, sub_id, s, clock)
        deliver.plan_deliveries(db, clock.at(30), s)
        send(db, sub_id, s, clock)
        paused = subscriptions.get_subscription(db, sub_id)
        assert paused is not None
        assert paused.state == "paused"
        later = publish_ukraine(db, 3)  # published while paused: still owed
        assert deliver.plan_deliveries(db, clock.at(40), s) == []
        assert subscriptions.resume(db, sub_id, clock.at(50))
        assert deliver.plan_deliveries(db, clock(), s) == [sub_id]
        assert send(db, sub_id, s, clock) == deliver.SendReport(claimed=True, delivered=3)
    assert receiver.article_ids() == [first[0], first[0], *first, later]
    ids = [r.headers["x-newsmill-delivery"] for r in receiver.received]
    assert ids[0] == ids[1] == ids[2], "a retried delivery keeps its id, so a receiver can drop repeats"
    assert len(set(ids)) == 3
    statuses = db.execute("SELECT status, attempts FROM deliveries ORDER BY article_cursor").fetchall()
    assert statuses == [("delivered", 3), ("delivered", 1), ("delivered", 1)]
    assert deliveries.counts_by_subscription(db) == {sub_id: {"delivered": 3}}  # what the listings show
    resumed = subscriptions.get_subscription(db, sub_id)
    assert resumed is not None
    assert (resumed.state, resumed.consecutive_failures) == ("active", 0)


def test_a_duplicated_send_task_posts_once(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    receiver, clock, s = Receiver(delay=0.5), Clock(), settings(db_url)
    reports: list[deliver.SendReport] = []
    with receiving(receiver) as url:
        sub_id = add_webhook(db, url).subscription.id
        publish_ukraine(db, 1)
        deliver.plan_deliveries(db, clock(), s)

        def task() -> None:
            with psycopg.connect(db_url, autocommit=True) as conn:
                reports.append(send(conn, sub_id, s, clock))

        workers = [threading.Thread(target=task) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        reports.append(send(db, sub_id, s, clock))  # the same message once more, after the fact
    assert len(receiver.received) == 1
    assert sorted(r.delivered for r in reports) == [0, 0, 1]
    assert db.execute("SELECT count(*) FROM delivery_attempts").fetchone() == (1,)


def test_private_addresses_are_refused_and_slow_receivers_time_out(db_url: str, db: psycopg.Connection) -> None:
    receiver = Receiver(delay=3)
    body = b"{}"
    with receiving(receiver) as url:
        guarded = deliver.webhook_policy(settings(db_url, allow_private_hosts=False))
        refused = webhook.post_webhook(url, body, {}, guarded)
        assert (refused.outcome, refused.response_code) == ("blocked_address", None)
        assert receiver.received == []
        impatient = deliver.webhook_policy(settings(db_url, webhook_timeout=1.0))
        slow = webhook.post_webhook(url, body, {}, impatient)
    assert slow.outcome == "timeout"
    assert 900 <= slow.duration_ms < 2_500


def test_revoking_cancels_what_was_owed(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    clock, s = Clock(), settings(db_url)
    sub_id = add_webhook(db, "http://127.0.0.1:9/x").subscription.id
    publish_ukraine(db, 1)
    deliver.plan_deliveries(db, clock(), s)
    with db.transaction():
        assert subscriptions.revoke(db, sub_id)
        assert deliveries.cancel_pending(db, sub_id) == 1
    assert deliver.plan_deliveries(db, clock.at(1), s) == []
    assert send(db, sub_id, s, clock) == deliver.SendReport(claimed=False)
    assert not subscriptions.revoke(db, sub_id)


def test_a_revocation_during_a_post_stops_the_rest(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    clock, s = Clock(), settings(db_url)

    def revoke_now() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
            subscriptions.revoke(conn, sub_id)
            deliveries.cancel_pending(conn, sub_id)

    receiver = Receiver(on_post=revoke_now)
    with receiving(receiver) as url:
        sub_id = add_webhook(db, url).subscription.id
        first, _ = publish_ukraine(db, 1), publish_ukraine(db, 2)
        deliver.plan_deliveries(db, clock(), s)
        assert send(db, sub_id, s, clock) == deliver.SendReport(claimed=True, delivered=1)
    assert receiver.article_ids() == [first]
    rows = db.execute("SELECT status, attempts FROM deliveries ORDER BY article_cursor").fetchall()
    assert rows == [("delivered", 1), ("cancelled", 0)], "the POST that happened is logged, the rest is not sent"


@given(st.integers(min_value=1, max_value=200), st.floats(0.1, 100), st.floats(1, 10_000))
def test_retry_delay_grows_and_stays_clamped(failures: int, base: float, maximum: float) -> None:
    delay = exponential(failures, base, maximum)
    assert min(base, maximum) <= delay <= maximum
    assert exponential(failures + 1, base, maximum) >= delay
