"""WebSub end to end: the API's hub, real beat and a real Celery worker on the `deliver` queue, Redis,
Postgres and a subscriber on 127.0.0.1, which receives a story within 2 s of its publication."""

from __future__ import annotations

import time
from pathlib import Path

import feedparser
import httpx
import psycopg
import pytest

from harness.articles import load_seed_topics, publish_ukraine
from harness.fleet import fleet_env
from tests.support.api_server import serve_api
from tests.support.celery_workers import CELERY, running, wait_for, worker_argv
from tests.support.websub_subscriber import Subscriber, subscribed

pytestmark = pytest.mark.e2e
PUSH_WITHIN = 2.0  # seconds from the publication's commit to the subscriber's receipt


def test_a_subscriber_receives_a_publication_within_two_seconds(
    db_url: str, db: psycopg.Connection, redis_url: str, tmp_path: Path
) -> None:
    load_seed_topics(db)
    subscriber = Subscriber()
    with serve_api(db_url) as base, subscribed(subscriber) as callback:
        quiet = {"NEWSMILL_DISPATCH_EVERY": "60", "NEWSMILL_SWEEP_EVERY": "60", "NEWSMILL_SEARCH_INDEX_EVERY": "60"}
        env = fleet_env(db_url, redis_url, NEWSMILL_DELIVER_EVERY="0.25", NEWSMILL_PUBLIC_URL=base, **quiet)
        worker = worker_argv("deliver", "websub-test", "-P", "threads", "-c", "4")
        beat = [*CELERY, "beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"]
        with running(worker, env, tmp_path / "worker.log"), running(beat, env, tmp_path / "beat.log"):
            topic = f"{base}/topics/ukraine-war.atom"
            form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
            assert httpx.post(f"{base}/websub", data=form).status_code == 202
            wait_for("the verification of intent", lambda: db.execute(
                "SELECT count(*) FROM websub_subscriptions").fetchone() == (1,))  # fmt: skip
            time.sleep(1.0)  # the worker has warmed up: what follows measures the push, not start-up
            published_at = time.monotonic()
            publish_ukraine(db, 1)  # returns once committed
            wait_for("the push", lambda: bool(subscriber.pushes), timeout=30)
        (push,) = subscriber.pushes
    latency = push.at - published_at
    print(f"publication -> subscriber: {latency * 1000:.0f} ms")
    assert latency < PUSH_WITHIN
    assert [e.link for e in feedparser.parse(push.body).entries] == ["http://news.example/ukraine-1.html"]
