"""Every poll ends as a recorded outcome with its next poll scheduled: unusable validators are dropped (and
said so) instead of making a feed unpollable forever, an unexpected exception is `internal_error` rather than
a feed left looking fine, and a 304 and an unchanged 200 are told apart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import psycopg
import pytest
import redis

from shared.db import feeds
from shared.http_client import FetchResult, fetch
from shared.settings import Settings
from tests.support.hostile_cases import hostile_policy
from tests.support.hostile_reliability import BAD_VALIDATORS, bad_validator_feeds, conditional_feeds
from tests.support.hostile_server import HostileServer, hostile
from tests.support.http_server import serve
from workers.stages.poll import MAX_VALIDATOR_CHARS, Validators, conditional_headers, usable_validator
from workers.steps.poll import poll_step

S = Settings()
POLICY = hostile_policy()


def _fetch(url: str, headers: Mapping[str, str]) -> FetchResult:
    return fetch(url, POLICY, headers=headers)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with hostile() as (srv, _canary):
        yield srv


def _poll(db: psycopg.Connection, feed_id: int, fetcher: object = _fetch, now: datetime | None = None) -> feeds.Feed:
    poll_step(db, feed_id, fetcher, S, now or datetime.now(UTC))  # type: ignore[arg-type]
    row = feeds.get_feed(db, feed_id)
    assert row is not None
    return row


@pytest.mark.parametrize("case", BAD_VALIDATORS)
def test_an_unusable_validator_is_dropped_said_and_the_feed_stays_pollable(
    db: psycopg.Connection, server: HostileServer, case: str
) -> None:
    feed, _ = feeds.add_feed(db, bad_validator_feeds(server)[case])
    first = _poll(db, feed.id)
    assert first.last_outcome == "ok"
    assert "ignored the server's" in (first.last_error or "")
    assert first.etag is None
    assert first.last_modified is None
    second = _poll(db, feed.id)  # was a UnicodeEncodeError on every poll, for ever
    assert (second.last_outcome, second.consecutive_failures) == ("unchanged", 0)
    assert second.last_polled_at is not None
    assert first.last_polled_at is not None
    assert second.last_polled_at > first.last_polled_at


def test_a_bad_validator_stored_before_is_not_sent(db: psycopg.Connection, server: HostileServer) -> None:
    feed, _ = feeds.add_feed(db, bad_validator_feeds(server)["4kb-etag"])
    db.execute("UPDATE feeds SET etag = %s, last_modified = %s WHERE id = %s", ('"caf\u00e9"', "x\x7fy", feed.id))
    assert _poll(db, feed.id).last_outcome == "ok"


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ('"abc"', '"abc"'),
        ('W/"abc"', 'W/"abc"'),
        (" Mon, 01 Jan 2024 00:00:00 GMT ", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ('"caf\u00e9"', None),
        ("a\x00b", None),
        ("a\tb", None),
        ("", None),
        (None, None),
        ("x" * MAX_VALIDATOR_CHARS, "x" * MAX_VALIDATOR_CHARS),
        ("x" * (MAX_VALIDATOR_CHARS + 1), None),
    ],
)
def test_usable_validator(value: str | None, usable: str | None) -> None:
    assert usable_validator(value) == usable


def test_conditional_headers_carry_only_usable_validators() -> None:
    assert "If-None-Match" not in conditional_headers(Validators('"\u65b0"', None, None))
    assert conditional_headers(Validators('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT", None))["If-None-Match"] == '"v1"'


def test_an_unexpected_exception_is_recorded_and_the_next_poll_scheduled(
    db: psycopg.Connection, server: HostileServer
) -> None:
    feed, _ = feeds.add_feed(db, server.url("/feed/never-fetched"))

    def crashing(url: str, headers: Mapping[str, str]) -> FetchResult:
        "\u00e9".encode("ascii")  # what sending a non-ASCII ETag raised inside httpx
        raise AssertionError("unreachable")

    now = datetime.now(UTC)
    row = _poll(db, feed.id, crashing, now)
    assert (row.last_outcome, row.consecutive_failures, row.last_polled_at) == ("internal_error", 1, now)
    assert "UnicodeEncodeError" in (row.last_error or "")
    wait = (row.next_poll_at - now).total_seconds()
    assert S.poll_min_interval <= wait <= S.poll_max_interval


@pytest.mark.parametrize("error", [psycopg.OperationalError("server closed"), redis.ConnectionError("refused")])
def test_infrastructure_errors_escape_for_the_task_to_retry(db: psycopg.Connection, error: Exception) -> None:
    feed, _ = feeds.add_feed(db, "http://news.example/feed.xml")

    def away(url: str, headers: Mapping[str, str]) -> FetchResult:
        raise error

    with pytest.raises(type(error)):
        poll_step(db, feed.id, away, S, datetime.now(UTC))
    row = feeds.get_feed(db, feed.id)
    assert row is not None
    assert row.last_outcome is None  # nothing recorded: the whole poll is retried


def test_a_304_and_an_unchanged_200_are_different_outcomes(db: psycopg.Connection) -> None:
    with serve() as site:
        etag_url, plain_url = conditional_feeds(site)
        with_etag, _ = feeds.add_feed(db, etag_url)
        without, _ = feeds.add_feed(db, plain_url)
        outcomes = {f.id: [_poll(db, f.id).last_outcome for _ in range(2)] for f in (with_etag, without)}
    assert outcomes[with_etag.id] == ["ok", "not_modified"]
    assert outcomes[without.id] == ["ok", "unchanged"]
    for f in (with_etag, without):
        row = feeds.get_feed(db, f.id)
        assert row is not None
        assert row.consecutive_failures == 0
