"""Hostile feeds, each polled through the real poll step; then a good feed of the same run is ingested.

Every hostile feed must leave a named outcome and a readable reason on its feed row, the poll step must
return (the worker stays alive) with resident memory bounded, the canary on every other local address must
see no connection, and the good feed's articles must all be published. Parser-level cases on bytes alone
are in tests/test_feeds.py; client-level ones in tests/test_http_*.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from harness.articles import article_html
from shared.db import feeds
from shared.http_client import fetch
from shared.settings import Settings
from tests.support.hostile_cases import (
    expected_transport_outcome,
    hostile_policy,
    peak_memory,
    scratch_database,
    transport_case_names,
    transport_cases,
)
from tests.support.hostile_server import HostileServer, hostile, respond
from workers.stages.fetch import fetch_article
from workers.steps.enrich import enrich_step
from workers.steps.extract import extract_step
from workers.steps.fetch import fetch_step
from workers.steps.poll import poll_step

RSS = "application/rss+xml; charset=utf-8"
MEMORY_BOUND = 96 << 20  # bytes of resident growth per poll; feedparser alone took 2.9 GiB on a 130 KB feed
SETTINGS = Settings(max_attempts=1, max_entries_per_poll=1_000)


def rss(items: str, title: str = "Feed", head: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{head}<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()
    )


def item(n: int | str, title: str = "Entry") -> str:
    return f"<item><title>{title}</title><link>http://news.example/{n}</link><guid>g-{n}</guid></item>"


def content_cases(canary_port: int) -> dict[str, tuple[bytes, str, str]]:
    """{name: (body, Content-Type, expected outcome)} for hostile feed *content*."""
    cyrillic = rss(item("lying", "Новый стадион"), "Новости")
    return {
        "html-as-feed": (b"<!DOCTYPE html><html><body><p>Home</p></body></html>", "text/html", "not_a_feed"),
        "invalid-charset": (rss(item("charset")), "application/rss+xml; charset=x-no-such", "ok"),
        "lying-charset": (cyrillic.decode().encode("cp1251"), RSS, "ok"),
        "lone-surrogate": (rss(item("surrogate", "a &#xD800; b"), "&#xD800;"), RSS, "ok"),
        "nul-reference": (rss(item("nul", "a &#0; b")), RSS, "ok"),
        "quadratic-blowup": (
            rss(
                item("blowup", "&big;" * 2_000),
                "&big;" * 2_000,
                '<!DOCTYPE rss [<!ENTITY big "' + "A" * 100_000 + '">]>',
            ),
            RSS,
            "ok",
        ),
        "billion-laughs": (
            rss(
                item("laughs", "&lol3;"),
                head='<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>',
            ),
            RSS,
            "ok",
        ),
        "external-entity": (
            rss(
                item("external", "&ext;"),
                head=f'<!DOCTYPE rss [<!ENTITY ext SYSTEM "http://127.0.0.2:{canary_port}/xxe">]>',
            ),
            RSS,
            "ok",
        ),
        "10000-entries": (rss("".join(item(n) for n in range(10_000))), RSS, "ok"),
        "truncated": (rss(item("truncated"))[:60], RSS, "not_a_feed"),
        "no-links": (rss("<item><title>x</title></item>"), RSS, "no_content"),
    }


@dataclass(frozen=True)
class Polled:
    outcome: str | None
    reason: str | None
    title: str | None
    entry_titles: list[str]
    peak_bytes: int
    crash: str | None


def _good_feed(server: HostileServer) -> str:
    links = []
    for i in range(3):
        text = f"Report {i} from the valley: the river rose again and the town prepared sandbags overnight. " * 3
        html = article_html(f"Valley report {i}", [text])
        links.append(server.add(f"/good/{i}.html", respond(200, html.encode(), {"Content-Type": "text/html"})))
    entries = "".join(f"<item><title>Valley {i}</title><link>{u}</link></item>" for i, u in enumerate(links))
    return server.add("/good.xml", respond(200, rss(entries), {"Content-Type": RSS}))


def _poll(conn: psycopg.Connection, url: str) -> tuple[Polled, list[int]]:
    policy, now = hostile_policy(), datetime.now(UTC)
    feed, _ = feeds.add_feed(conn, url)
    crash, ids = None, []
    with peak_memory() as peak:
        try:
            ids = poll_step(conn, feed.id, lambda u, h: fetch(u, policy, headers=h), SETTINGS, now).ids
        except Exception as exc:  # recorded and asserted on: a crash is the failure
            crash = f"{type(exc).__name__}: {exc}"
    row = feeds.get_feed(conn, feed.id)
    assert row is not None
    titles = [r[0] for r in conn.execute("SELECT entry_title FROM items WHERE feed_id = %s", (feed.id,))]
    return Polled(row.last_outcome, row.last_error, row.title, titles, peak[0], crash), ids


@pytest.fixture(scope="module")
def run(template_db: str) -> Iterator[dict[str, Any]]:
    """Poll every hostile feed, then ingest the good one fully; results by case name."""
    with hostile() as (server, canary), scratch_database(template_db) as db_url:
        urls = transport_cases(server, "feed", RSS, canary.port)
        expected = {name: expected_transport_outcome(name) for name in urls}
        for name, (body, ctype, outcome) in content_cases(canary.port).items():
            urls[name] = server.add(f"/feed/{name}", respond(200, body, {"Content-Type": ctype}))
            expected[name] = outcome
        with psycopg.connect(db_url, autocommit=True) as conn:
            polled = {name: _poll(conn, url)[0] for name, url in urls.items()}
            policy, now = hostile_policy(), datetime.now(UTC)
            good, ids = _poll(conn, _good_feed(server))
            for item_id in ids:
                fetch_step(conn, [item_id], lambda u: fetch_article(u, policy), SETTINGS, lambda: now)
                extract_step(conn, [item_id], SETTINGS, now)
                enrich_step(conn, [item_id], SETTINGS, now)
            published = conn.execute("SELECT count(*) FROM articles WHERE cursor IS NOT NULL").fetchone()
        for name, p in sorted(polled.items()):
            print(f"{name:36} {p.outcome or '':17} {len(p.entry_titles):5} items {p.peak_bytes >> 20:4} MiB  "
                  f"{(p.reason or '')[:60]}")  # fmt: skip
        yield {"polled": polled, "expected": expected, "canary": canary.connections, "good": good,
               "published": published[0] if published else 0}  # fmt: skip


@pytest.mark.parametrize("name", [*transport_case_names(), *content_cases(0)])
def test_each_hostile_feed_ends_as_a_named_outcome(run: dict[str, Any], name: str) -> None:
    p: Polled = run["polled"][name]
    assert p.crash is None
    assert p.outcome == run["expected"][name], p
    if p.outcome != "ok":
        assert len(p.reason or "") > 10, p  # readable: says what happened
        assert p.entry_titles == []
    assert p.peak_bytes < MEMORY_BOUND, f"{name}: resident memory grew {p.peak_bytes >> 20} MiB"


def test_no_connection_ever_reaches_a_non_allowed_address(run: dict[str, Any]) -> None:
    assert run["canary"] == 0


def test_hostile_content_is_bounded_and_never_expanded(run: dict[str, Any]) -> None:
    polled = run["polled"]
    assert len(polled["10000-entries"].entry_titles) == SETTINGS.max_entries_per_poll
    blowup = polled["quadratic-blowup"]
    assert len(blowup.entry_titles) == 1
    assert max(len(blowup.title or ""), len(blowup.entry_titles[0] or "")) <= 1_000
    assert "lollol" not in str(polled["billion-laughs"].entry_titles)
    assert polled["external-entity"].entry_titles == ["&ext;"]  # left as text, never resolved or fetched
    assert polled["lying-charset"].entry_titles  # mojibake, but stored: the label wins when the bytes fit it
    assert polled["lone-surrogate"].entry_titles == ["a \ufffd b"]
    assert polled["nul-reference"].entry_titles == ["a \ufffd b"]


def test_the_good_feed_of_the_run_is_fully_published(run: dict[str, Any]) -> None:
    assert run["good"].outcome == "ok"
    assert run["published"] == 3
