"""The fetch step: fetch an item's page and keep its raw body; the item moves to ``fetched``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import psycopg

from shared.db import items, pages
from shared.db.items import ItemState
from shared.errors import Outcome, PermanentError, TransientError
from shared.http_client import FetchResult
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
) -> Handoff:
    """Fetch several items' pages one after the other (one message for a feed's new entries, not one each);
    ``clock`` is read for each item, since a batch of slow pages takes a while.

    Once the politeness gate refuses a host, the batch's later items on that host are not offered to it
    again: they are deferred with the same delay, so they go back together in one message instead of each
    bouncing off the gate in a message of its own."""
    handoff = Handoff()
    refused: dict[str, TransientError] = {}
    for item_id in item_ids:
        handoff.add(fetch_one(conn, item_id, fetcher, s, clock(), refused=refused))
    return handoff


def fetch_one(
    conn: psycopg.Connection,
    item_id: int,
    fetcher: ArticleFetcher,
    s: Settings,
    now: datetime,
    *,
    refused: dict[str, TransientError] | None = None,
) -> Next:
    """Fetch an item's page and keep the raw body; the item moves to ``fetched``. Each page is stored as
    soon as it is fetched: a batch may take a while, and a claimed item must not outlive its sweep time."""
    item = items.claim(conn, item_id, ItemState.DISCOVERED, now + timedelta(seconds=s.stuck_after))
    if item is None:
        return Next(outcome="skipped")
    if give_up(conn, item, s, Outcome.NETWORK_ERROR):
        return Next(outcome=Outcome.NETWORK_ERROR.value)
    try:
        result = _fetch(item.url, fetcher, refused)
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
    with conn.transaction():
        pages.save_page(conn, item.id, final_url=result.url, status=result.status,
                        content_type=result.headers.get("content-type"), body=result.body)  # fmt: skip
        moved = items.advance(conn, item.id, ItemState.DISCOVERED, ItemState.FETCHED,
                              now + timedelta(seconds=s.stuck_after))  # fmt: skip
    return Next([item.id]) if moved else Next(outcome="skipped")


def _fetch(url: str, fetcher: ArticleFetcher, refused: dict[str, TransientError] | None) -> FetchResult:
    """``fetcher(url)``, unless the gate refused the host earlier in the batch: then that refusal again.
    ``refused`` maps such hosts to the gate's refusal, and gains this one's."""
    host = host_of(url)
    if refused is not None and host in refused:
        raise refused[host]
    try:
        return fetcher(url)
    except TransientError as exc:
        if refused is not None and exc.outcome is Outcome.HOST_BUSY:
            refused[host] = exc
        raise
