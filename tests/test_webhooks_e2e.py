"""Webhooks end to end: real beat and a real Celery worker on the `deliver` queue, Redis, Postgres and a
receiver on 127.0.0.1 that fails once, then recovers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from harness.articles import load_seed_topics, publish_ukraine
from harness.fleet import ROOT, fleet_env
from shared.db import subscriptions
from tests.support.celery_workers import CELERY, running, wait_for, worker_argv
from tests.test_webhooks import HOOK_PATH, Receiver, receiving

pytestmark = pytest.mark.e2e


def test_beat_and_a_deliver_worker_send_retry_and_never_send_twice(
    db_url: str, db: psycopg.Connection, redis_url: str, tmp_path: Path
) -> None:
    load_seed_topics(db)
    receiver = Receiver(script=[500])
    env = fleet_env(db_url, redis_url, NEWSMILL_DELIVER_EVERY="0.5", NEWSMILL_WEBHOOK_RETRY_BASE_DELAY="1",
                    NEWSMILL_LOG_LEVEL="DEBUG", NEWSMILL_DISPATCH_EVERY="60", NEWSMILL_SWEEP_EVERY="60")  # fmt: skip
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = worker_argv("deliver", "deliver-test", "-P", "threads", "-c", "2", loglevel="DEBUG")
    beat = [*CELERY, "beat", "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "DEBUG"]
    with receiving(receiver) as url, running(worker, env, worker_log), running(beat, env, beat_log):
        created = subscriptions.create_subscription(db, "desk@example.org", ["ukraine-war"], [], url)
        sub_id = created.subscription.id
        articles = [publish_ukraine(db, n) for n in (1, 2)]
        wait_for("the failed attempt, its retry and the second article", lambda: len(receiver.received) >= 3)
        # The same send task once more, through the broker, as a redelivered message would arrive.
        call = subprocess.run([*CELERY, "call", "newsmill.deliver_subscription", "--args", f"[{sub_id}]"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        task_id = call.stdout.strip()
        wait_for("the duplicate task to run", lambda: f"{task_id}] succeeded" in worker_log.read_text("utf-8"))
    assert receiver.article_ids() == [articles[0], *articles]
    assert db.execute("SELECT status, attempts FROM deliveries ORDER BY article_cursor").fetchall() == [
        ("delivered", 2), ("delivered", 1),
    ]  # fmt: skip
    gap = db.execute("SELECT max(attempted_at) - min(attempted_at) FROM delivery_attempts WHERE attempt <= 2 "
                     "AND delivery_id = (SELECT min(id) FROM deliveries)").fetchone()  # fmt: skip
    assert gap is not None
    assert gap[0].total_seconds() >= 1, "the retry waited for its backoff"
    assert created.secret is not None
    for log in (worker_log, beat_log):
        text = log.read_text("utf-8")
        assert "webhook attempt" in text or log is beat_log, "the worker logs at DEBUG: the check below means something"
        assert created.secret not in text, f"the webhook secret leaked into {log.name}"
        assert HOOK_PATH not in text, f"the webhook URL leaked into {log.name}"
