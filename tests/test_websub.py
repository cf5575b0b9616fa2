"""The WebSub hub on real parts: requests over HTTP, verification of intent against a subscriber on
127.0.0.1, and pushes of newly published stories, signed, with the hub and self links (W3C WebSub)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import psycopg
import pytest

from harness.articles import article_html, load_seed_topics, publish_page, publish_ukraine
from shared import http_client
from shared.settings import Settings
from tests.support.api_server import serve_api
from tests.support.websub_subscriber import Subscriber, subscribed
from workers.stages import webhook
from workers.steps import deliver, websub

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def hub(db_url: str, db: psycopg.Connection) -> Iterator[tuple[httpx.Client, Settings]]:
    load_seed_topics(db)
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client, Settings(database_url=db_url, public_url=base, allow_private_hosts=True, webhook_timeout=3)


def _get(s: Settings) -> websub.Getter:
    return lambda url: http_client.fetch(url, deliver.webhook_policy(s), truncate=True).body


def _post(s: Settings) -> websub.Poster:
    def post(url: str, body: bytes, headers: Mapping[str, str]) -> webhook.PostResult:
        return webhook.post_webhook(url, body, headers, deliver.webhook_policy(s))

    return post


def clock() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=60)


def run_hub(db: psycopg.Connection, s: Settings) -> None:
    """One beat tick of the hub and the tasks it plans, run in place."""
    to_verify, to_push = websub.plan(db, clock())
    for request_id in to_verify:
        websub.verify(db, request_id, _get(s), clock())
    for subscription_id in to_push:
        websub.push(db, subscription_id, _post(s), s, clock)


def test_requests_are_validated(hub: tuple[httpx.Client, Settings], db_url: str) -> None:
    api, s = hub
    topic = f"{s.public_url}/topics/ukraine-war.atom"
    good = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": "http://127.0.0.1:9/cb"}
    assert api.post("/websub", data=good).status_code == 202
    for field, bad in [("hub.mode", "publish"), ("hub.topic", "https://elsewhere.example/topics/ukraine-war.atom"),
                       ("hub.topic", f"{s.public_url}/topics/no-such-topic.atom"),
                       ("hub.topic", f"{s.public_url}/topics/ukraine-war.atom?limit=5"),
                       ("hub.topic", f"{s.public_url}/articles"), ("hub.callback", "ftp://127.0.0.1/cb"),
                       ("hub.callback", "not a url"), ("hub.lease_seconds", "-5"),
                       ("hub.secret", "s" * 200)]:  # fmt: skip
        r = api.post("/websub", data=good | {field: bad})
        assert r.status_code == 400, (field, bad, r.text)
        assert r.json()["detail"].startswith(field), r.text
    assert api.post("/websub", json=good).status_code == 415
    assert api.post("/websub", content=b"a=" + b"x" * 9000, headers=FORM).status_code == 413
    with serve_api(db_url, public_read=False, admin_token="t") as private:
        assert httpx.post(f"{private}/websub", data=good).status_code == 403  # no hub for private feeds
    feed = api.get("/topics/ukraine-war.atom").content
    assert f'<link rel="hub" href="{s.public_url}/websub"/>'.encode() in feed


def test_verification_subscription_push_and_unsubscription(
    hub: tuple[httpx.Client, Settings], db: psycopg.Connection
) -> None:
    api, s = hub
    archive = publish_ukraine(db, 1)  # published before the subscription: never pushed
    subscriber, topic = Subscriber(), f"{s.public_url}/topics/ukraine-war.atom?lang=en"
    with subscribed(subscriber) as callback:
        form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, "hub.secret": "s3cret",
                "hub.lease_seconds": "3600"}  # fmt: skip
        assert api.post("/websub", data=form).status_code == 202
        run_hub(db, s)
        (asked,) = subscriber.verifications
        assert asked["hub.mode"] == "subscribe"
        assert asked["hub.topic"] == topic
        assert asked["hub.lease_seconds"] == "3600"
        assert db.execute("SELECT state FROM websub_requests").fetchall() == [("verified",)]
        run_hub(db, s)
        assert subscriber.pushes == [], "nothing new yet: the archive is not pushed"
        new = publish_ukraine(db, 2)
        sport = article_html("Tennis final in Paris", [
            "The tennis final in Paris went to five sets on Sunday afternoon before a full stadium.",
            "The champion thanked the crowd and said she would play again next year if her knee allows it.",
        ])  # fmt: skip
        publish_page(db, "http://news.example/sport.html", sport)
        run_hub(db, s)
        (push,) = subscriber.pushes
        assert push.headers["content-type"].startswith("application/atom+xml")
        assert f'<{s.public_url}/websub>; rel="hub"' in push.headers["link"]
        assert f'<{topic}>; rel="self"' in push.headers["link"]
        expected = "sha256=" + hmac.new(b"s3cret", push.body, hashlib.sha256).hexdigest()
        assert push.headers["x-hub-signature"] == expected
        parsed = feedparser.parse(push.body)
        assert parsed.bozo == 0
        assert [e.link for e in parsed.entries] == ["http://news.example/ukraine-2.html"]
        assert new != archive
        run_hub(db, s)
        assert len(subscriber.pushes) == 1, "pushed once"

        assert api.post("/websub", data=form | {"hub.mode": "unsubscribe"}).status_code == 202
        run_hub(db, s)
        assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
        assert db.execute("SELECT count(*) FROM websub_subscriptions").fetchone() == (0,)
        publish_ukraine(db, 3)
        run_hub(db, s)
        assert len(subscriber.pushes) == 1


def test_unconfirmed_and_gone_subscribers(hub: tuple[httpx.Client, Settings], db: psycopg.Connection) -> None:
    api, s = hub
    refusing, gone = Subscriber(confirm=False), Subscriber(answer=410)
    with subscribed(refusing) as refusing_url, subscribed(gone) as gone_url:
        for callback in (refusing_url, gone_url):
            form = {"hub.mode": "subscribe", "hub.topic": f"{s.public_url}/topics.json", "hub.callback": callback}
            assert api.post("/websub", data=form).status_code == 202
        run_hub(db, s)
        states = dict(db.execute("SELECT callback, state FROM websub_requests").fetchall())
        assert states == {refusing_url: "refused", gone_url: "verified"}
        publish_ukraine(db, 4)
        run_hub(db, s)
        (push,) = gone.pushes
        assert push.headers["content-type"].startswith("application/feed+json")
        assert "x-hub-signature" not in push.headers  # no secret given, nothing to sign with
        assert db.execute("SELECT count(*) FROM websub_subscriptions").fetchone() == (0,), "410: ended"
    assert refusing.pushes == []
