"""Daily e-mail digests of subscriptions, sent over real SMTP to a local aiosmtpd server: the stories first
published since the last digest, once; nothing when there is nothing new; a mail server that is away is
tried again later without losing the stories."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from harness.articles import load_seed_topics, publish_ukraine
from shared.db import subscriptions
from shared.schedule import next_digest_at
from shared.settings import Settings
from tests.support.api_data import ONERROR_TITLE, publish_onerror_article
from tests.support.api_server import serve_api
from workers.steps import digest


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(mailbox: Mailbox, port: int) -> Iterator[None]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@pytest.fixture
def port() -> int:
    return free_port()


def settings(db_url: str, port: int) -> Settings:
    return Settings(database_url=db_url, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                    smtp_from="newsmill <digest@news.example>", digest_hour=6, webhook_timeout=3)  # fmt: skip


def texts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    return plain.get_content(), rich.get_content()


def test_a_daily_digest_sends_what_is_new_once(db_url: str, db: psycopg.Connection, port: int) -> None:
    load_seed_topics(db)
    publish_ukraine(db, 1)  # before the subscription: not in any digest
    now = datetime.now(UTC)
    sub = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war"], ["en"], digest="daily",
                                            digest_due_at=now).subscription  # fmt: skip
    publish_ukraine(db, 2)
    publish_onerror_article(db)
    s, mailbox = settings(db_url, port), Mailbox()
    with smtp_server(mailbox, port):
        assert digest.send_due_digests(db, now + timedelta(seconds=1), s, digest.smtp_sender(s)) == 1
        assert digest.send_due_digests(db, now + timedelta(seconds=2), s, digest.smtp_sender(s)) == 0, "sent once"
    (message,) = mailbox.messages
    assert mailbox.recipients == [["ed@example.org"]]
    assert message["Subject"] == "newsmill: 2 new stories in ukraine-war"
    assert message["From"] == "newsmill <digest@news.example>"
    plain, rich = texts(message)
    assert "Ukraine front update 2" in plain
    assert "Ukraine front update 1" not in plain
    assert ONERROR_TITLE in plain  # plain text carries the title as it is
    assert "<img" not in rich  # the HTML part carries it escaped
    assert "&lt;img src=x onerror=alert(&#x27;title&#x27;)&gt;" in rich
    row = db.execute("SELECT digest_due_at, digest_error FROM subscriptions WHERE id = %s", (sub.id,)).fetchone()
    assert row == (next_digest_at(now + timedelta(seconds=1), 6), None)


def test_nothing_new_sends_nothing_and_an_absent_server_is_tried_again(
    db_url: str, db: psycopg.Connection, port: int
) -> None:
    load_seed_topics(db)
    now = datetime.now(UTC)
    sub = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war"], [], digest="daily",
                                            digest_due_at=now).subscription  # fmt: skip
    s, mailbox = settings(db_url, port), Mailbox()
    assert digest.send_due_digests(db, now, s, digest.smtp_sender(s)) == 0  # nothing new: no e-mail, no error
    publish_ukraine(db, 3)
    later = next_digest_at(now, 6)
    assert digest.send_due_digests(db, later, s, digest.smtp_sender(s)) == 0  # the server is not running
    row = db.execute("SELECT digest_due_at, digest_error FROM subscriptions WHERE id = %s", (sub.id,)).fetchone()
    assert row is not None
    assert row[0] == later + digest.RETRY_AFTER
    assert "Connection" in row[1] or "Errno" in row[1]
    with smtp_server(mailbox, port):
        assert digest.send_due_digests(db, later + digest.RETRY_AFTER, s, digest.smtp_sender(s)) == 1
    assert "Ukraine front update 3" in texts(mailbox.messages[0])[0]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 11, 17, 5, 59, tzinfo=UTC), datetime(2024, 11, 17, 6, 0, tzinfo=UTC)),
        (datetime(2024, 11, 17, 6, 0, tzinfo=UTC), datetime(2024, 11, 18, 6, 0, tzinfo=UTC)),
        (datetime(2024, 12, 31, 23, 0, tzinfo=UTC), datetime(2025, 1, 1, 6, 0, tzinfo=UTC)),
    ],
)
def test_next_digest_at(now: datetime, expected: datetime) -> None:
    assert next_digest_at(now, 6) == expected


def test_digests_over_http(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    auth = {"Authorization": "Bearer t"}
    with serve_api(db_url, admin_token="t") as base:
        body = {"email": "ed@example.org", "topics": ["ukraine-war"], "digest": "daily"}
        r = httpx.post(f"{base}/subscriptions", json=body, headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["digest"] == "daily"
        assert datetime.fromisoformat(r.json()["digest_due_at"]).hour == 6
        assert httpx.post(f"{base}/subscriptions", json=body | {"digest": "hourly"}, headers=auth).status_code == 422
        listed = httpx.get(f"{base}/subscriptions", headers=auth).json()
        assert [s["digest"] for s in listed] == ["daily"]
