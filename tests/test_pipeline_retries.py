"""Transient failures of the fetch step on real Postgres: who owns the retry, and what it costs the item."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from shared.db import feeds, items
from shared.db.items import ItemState
from shared.errors import Outcome, TransientError
from shared.feed_entry import FeedEntry
from shared.http_client import FetchResult
from shared.settings import Settings
from workers.steps.fetch import ArticleFetcher, fetch_one, fetch_step
from workers.steps.handoff import MAX_COUNTDOWN

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CLOCK = lambda: NOW  # noqa: E731 - the steps read the time through a clock
S = Settings(max_attempts=3, retry_base_delay=30.0, stuck_after=300)


def _item(db: psycopg.Connection, url: str = "http://news.example/a") -> int:
    feed, _ = feeds.add_feed(db, "http://news.example/rss.xml")
    entry = FeedEntry(None, url, url, None, None, None, None)
    (item_id,) = items.insert_new_items(db, feed.id, [entry], NOW)
    return item_id


def _raising(exc: TransientError) -> ArticleFetcher:
    def fetcher(url: str) -> FetchResult:
        raise exc

    return fetcher


@pytest.mark.parametrize(
    ("outcome", "retry_after", "countdown", "resent", "sweep_after", "attempts"),
    [
        # Our own host limiter: re-sent soon, and the claim's attempt is given back.
        (Outcome.HOST_BUSY, 2.0, 2.0, True, 2.0 + 300, 0),
        (Outcome.HOST_BUSY, None, 1.0, True, 1.0 + 300, 0),
        # A short backoff is re-sent with a countdown; the sweeper only steps in if that message is lost.
        (Outcome.SERVER_ERROR, None, 30.0, True, 30.0 + 300, 1),
        # A backoff longer than MAX_COUNTDOWN is left to the sweeper alone.
        (Outcome.RATE_LIMITED, MAX_COUNTDOWN + 1, MAX_COUNTDOWN + 1, False, MAX_COUNTDOWN + 1, 1),
    ],
)
def test_a_transient_failure_is_retried_by_exactly_one_owner(
    db: psycopg.Connection,
    outcome: Outcome,
    retry_after: float | None,
    countdown: float,
    resent: bool,
    sweep_after: float,
    attempts: int,
) -> None:
    item_id = _item(db)
    step = fetch_step(db, [item_id], _raising(TransientError(outcome, "busy", retry_after=retry_after)), S, CLOCK)
    assert (step.forward, step.outcomes) == ([], {outcome.value: 1})
    assert step.retries == ({countdown: [item_id]} if resent else {})
    item = items.get_item(db, item_id)
    assert item is not None
    assert (item.state, item.outcome, item.attempts) == (ItemState.DISCOVERED, outcome.value, attempts)
    assert item.sweep_at == NOW + timedelta(seconds=sweep_after)


def test_the_last_attempt_fails_the_item_but_a_busy_host_never_does(db: psycopg.Connection) -> None:
    item_id = _item(db)
    db.execute("UPDATE items SET attempts = %s WHERE id = %s", (S.max_attempts - 1, item_id))
    busy = fetch_step(db, [item_id], _raising(TransientError(Outcome.HOST_BUSY, "busy")), S, CLOCK)
    assert list(busy.retries.values()) == [[item_id]]
    failed = fetch_step(db, [item_id], _raising(TransientError(Outcome.SERVER_ERROR, "503")), S, CLOCK)
    assert (failed.forward, failed.retries, failed.outcomes) == ([], {}, {Outcome.SERVER_ERROR.value: 1})
    item = items.get_item(db, item_id)
    assert item is not None
    assert (item.state, item.last_error) == (ItemState.FAILED, f"503 (after {S.max_attempts} attempts)")


def test_an_unexpected_exception_is_recorded_retried_and_ends_the_item_with_its_reason(db: psycopg.Connection) -> None:
    item_id = _item(db)

    def broken(url: str) -> FetchResult:
        raise redis.ResponseError("value is out of range")  # what a 1e23 ms penalty once raised, five times over

    for attempt in range(1, S.max_attempts + 1):
        step = fetch_one(db, item_id, broken, S, NOW)
        item = items.get_item(db, item_id)
        assert item is not None
        assert (step.outcome, item.outcome) == ("internal_error", "internal_error")
        assert "ResponseError: value is out of range" in (item.last_error or "")
        assert item.state == (ItemState.FAILED if attempt == S.max_attempts else ItemState.DISCOVERED)
        db.execute("UPDATE items SET sweep_at = %s WHERE id = %s", (NOW, item_id))  # as the sweeper would


def test_a_host_the_gate_refused_is_not_asked_again_in_its_batch_and_goes_back_in_one_message(
    db: psycopg.Connection,
) -> None:
    asked: list[str] = []

    def fetcher(url: str) -> FetchResult:  # the gate refuses news.example, other.example is free
        asked.append(url)
        if url.startswith("http://news.example/"):
            raise TransientError(Outcome.HOST_BUSY, "news.example is busy for 800 ms", retry_after=0.8)
        return FetchResult(url, 200, {"content-type": "text/html"}, b"<html><body><p>text</p></body></html>")

    urls = ["http://news.example/1", "http://other.example/1", "http://NEWS.example/2", "http://news.example/3"]
    ids = [_item(db, url) for url in urls]
    handoff = fetch_step(db, ids, fetcher, S, CLOCK)
    assert asked == urls[:2]  # the first refusal stands for the host's later items; other hosts go on
    assert handoff.forward == [ids[1]]
    assert handoff.retries == {0.8: [ids[0], ids[2], ids[3]]}  # one countdown, so one message
    busy = [items.get_item(db, item_id) for item_id in (ids[0], ids[2], ids[3])]
    assert {(i.state, i.outcome, i.attempts) for i in busy if i is not None} == {("discovered", "host_busy", 0)}


def test_each_stored_page_goes_on_at_once_and_a_refusal_stands_only_for_its_wait(db: psycopg.Connection) -> None:
    forwarded: list[int] = []
    asked: list[tuple[str, list[int]]] = []  # each URL, with what had been forwarded when it was fetched

    def fetcher(url: str) -> FetchResult:
        asked.append((url, list(forwarded)))
        if url == "http://news.example/1":
            raise TransientError(Outcome.HOST_BUSY, "news.example is busy for 50 ms", retry_after=0.05)
        if url == "http://slow.example/1":
            time.sleep(0.1)  # a slow failure: the gate's 50 ms for news.example are over after it
            raise TransientError(Outcome.SERVER_ERROR, "503")
        return FetchResult(url, 200, {"content-type": "text/html"}, b"<html><body><p>text</p></body></html>")

    urls = ["http://other.example/1", "http://news.example/1", "http://slow.example/1", "http://slow.example/2",
            "http://news.example/2"]  # fmt: skip
    ids = [_item(db, url) for url in urls]
    handoff = fetch_step(
        db, ids, fetcher, S, CLOCK, on_item=lambda step: forwarded.extend([] if step.again else step.ids)
    )
    # A server error refuses nothing for the rest of the batch, and a refusal lasts only the wait it gave.
    assert [url for url, _ in asked] == urls
    assert asked[1][1] == [ids[0]]  # the first page went on before the next was even fetched
    assert forwarded == handoff.forward == [ids[0], ids[3], ids[4]]


def test_infrastructure_errors_escape_for_the_task_to_retry(db: psycopg.Connection) -> None:
    item_id = _item(db)

    def away(url: str) -> FetchResult:
        raise redis.ConnectionError("refused")

    with pytest.raises(redis.ConnectionError):
        fetch_one(db, item_id, away, S, NOW)
    item = items.get_item(db, item_id)
    assert item is not None
    assert item.outcome is None
