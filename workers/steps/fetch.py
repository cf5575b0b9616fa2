"""The fetch step: fetch an item's page and keep its raw body; the item moves to ``fetched``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import psycopg

from shared.db import items, pages
from shared.db.connection import begun_and_committed, one_round_trip
from shared.db.items import ItemState
from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchResult
from shared.politeness import HostGate
from shared.settings import Settings
from shared.urls import host_of
from workers.steps.handoff import INFRASTRUCTURE, Handoff, Next, defer_transient, give_up

log = logging.getLogger(__name__)

ArticleFetcher = Callable[[str], FetchResult]


def fetch_step(
    conn: psycopg.Connection,
    item_ids: Sequence[int],
    fetcher: ArticleFetcher,
    s: Settings,
    clock: Callable[[], datetime],
    *,
    on_item: Callable[[Next], None] | None = None,
) -> Handoff:
    """Fetch several items' pages one after the other (one message for a feed's new entries, not one each);
    ``clock`` is read for each item, since a batch of slow pages takes a while.

    Each item's outcome goes to ``on_item`` as soon as it is decided (the task counts it and hands a stored
    page to its extract outbox at once): a slow page later in the batch must not hold back those before it.
    Once the politeness gate refuses a host, the batch's later items on it are not offered to it again while
    the wait it gave lasts: they are deferred with the same delay, so they go back together in one message
    instead of each bouncing off the gate."""
    handoff = Handoff()
    refused = Refusals()
    for item_id in item_ids:
        step = fetch_one(conn, item_id, fetcher, s, clock(), refused=refused)
        handoff.add(step)
        if on_item is not None:
            on_item(step)
    return handoff


def fetch_one(
    conn: psycopg.Connection,
    item_id: int,
    fetcher: ArticleFetcher,
    s: Settings,
    now: datetime,
    *,
    refused: Refusals | None = None,
) -> Next:
    """Fetch an item's page and keep the raw body; the item moves to ``fetched``. Each page is stored as
    soon as it is fetched: a batch may take a while, and a claimed item must not outlive its sweep time."""
    item = items.claim(conn, item_id, ItemState.DISCOVERED, now + timedelta(seconds=s.stuck_after))
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.NETWORK_ERROR):
        return Next(outcome=Outcome.NETWORK_ERROR.value)
    try:
        result = (refused or Refusals()).fetch(item.url, fetcher)
    except TransientError as exc:
        return defer_transient(conn, item, exc, s, now)
    except PermanentError as exc:
        items.fail(conn, item.id, exc.outcome.value, exc.reason)
        return Next(outcome=exc.outcome.value)
    except INFRASTRUCTURE:
        raise
    except Exception as exc:  # a bug: recorded and retried like a transient failure, so it ends with its reason
        log.exception("fetch failed unexpectedly", extra={"item_id": item.id})
        unexpected = TransientError(Outcome.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return defer_transient(conn, item, unexpected, s, now)
    # The page and the move in one transaction and one round trip: the move's result is read after COMMIT.
    with one_round_trip(conn), begun_and_committed(conn):
        pages.save_page(conn, item.id, final_url=result.url, status=result.status,
                        content_type=result.headers.get("content-type"), body=result.body)  # fmt: skip
        moving = items.advancing(conn, [item.id], ItemState.DISCOVERED, ItemState.FETCHED,
                                 now + timedelta(seconds=s.stuck_after))  # fmt: skip
    return Next([item.id]) if items.moved_ids(moving) else Next(outcome="skipped")


class Refusals:
    """Hosts the politeness gate refused earlier in a batch, each until the wait it gave has passed."""

    def __init__(self) -> None:
        self._until: dict[str, tuple[float, TransientError]] = {}

    def fetch(self, url: str, fetcher: ArticleFetcher) -> FetchResult:
        """``fetcher(url)``, unless the gate refused the host earlier in the batch and its wait is not over:
        then that refusal again, with the same delay, so the host's items go back together."""
        host = HostGate.host(host_of(url))
        held = self._until.get(host)
        if held is not None and time.monotonic() < held[0]:
            first = held[1]
            raise TransientError(first.outcome, f"{first.reason} (refused earlier in this batch)",
                                 retry_after=first.retry_after)  # fmt: skip
        try:
            return fetcher(url)
        except TransientError as exc:
            if exc.outcome is Outcome.HOST_BUSY:
                self._until[host] = (time.monotonic() + (exc.retry_after or 0.0), exc)
            raise
