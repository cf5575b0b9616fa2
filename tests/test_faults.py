"""Injected faults, nothing lost: real beat and workers ingest a site of 300 articles while Redis is flushed,
each kind of worker is SIGKILLed mid-task, PostgreSQL restarts and a second beat runs.

At the end the published set equals the expected set: every article once, cursors 1..N without a gap, no
item left in a non-final state. The servers are private (tests/support/private_services.py): the shared
ones serve other test runs at the same time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psycopg
import pytest

from harness.articles import article_html
from harness.fleet import ROOT, fleet_env
from scheduler.dispatch import FEEDS_PER_MESSAGE, SPREAD, dispatch_due_feeds, poll_messages
from scheduler.sweeper import sweep_stale_items
from shared.db import feeds, items
from shared.db.connection import apply_migrations
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from shared.settings import Settings
from tests.support.http_server import LocalSite, Response, serve
from tests.support.private_services import PrivatePostgres, PrivateRedis, private_services

pytestmark = pytest.mark.e2e
FEEDS, PER_FEED = 6, 50
MAX_QUEUE_DEPTH = 3
CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]
QUIET = ["--without-mingle", "--without-gossip", "--loglevel", "INFO"]
WORKERS = {
    "feeds": ["-P", "threads", "-c", "2"],
    "fetch": ["-P", "threads", "-c", "4"],
    "extract": ["-c", "1"],
    "enrich": ["-c", "1"],
}
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "mar", "tel", "pon", "gri", "sal", "bek",
              "dor", "fin", "hal", "jus", "lin", "mop", "rat", "sev", "tur")  # fmt: skip


def story(n: int) -> list[str]:
    """Three paragraphs of pseudo-words, seeded by ``n``: distinct enough that no two are near-duplicates."""
    rng = random.Random(n)
    words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3))) for _ in range(90)]
    return [" ".join(words[i : i + 30]).capitalize() + "." for i in (0, 30, 60)]


def slow(response: Response, delay: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """A response sent after ``delay`` seconds, so a worker killed now is killed mid-request."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        handler.send_response(response.status)
        for name, value in {"Content-Length": str(len(response.body)), **response.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(response.body)

    return handle


def build_site(site: LocalSite) -> tuple[list[str], set[str]]:
    """FEEDS feeds of PER_FEED articles each; returns the feed URLs and every article URL."""
    feed_urls, articles = [], set()
    for f in range(FEEDS):
        entries = []
        for i in range(PER_FEED):
            n = f * PER_FEED + i
            page = article_html(f"Dispatch {n}", story(n)).encode()
            url = site.add(f"/a/{n}.html", slow(Response(page, 200, {"Content-Type": "text/html"}), 0.1))
            articles.add(url)
            entries.append(f"<item><title>Dispatch {n}</title><link>{url}</link><guid>{n}</guid></item>")
        rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{f}</title>{"".join(entries)}</channel></rss>'
        feed_urls.append(
            site.add(f"/feeds/{f}.xml", slow(Response(rss.encode(), 200, {"Content-Type": "text/xml"}), 1.5))
        )
    return feed_urls, articles


class Fleet:
    """Beats and one worker per queue, each in its own process group so SIGKILL takes the pool along."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs.mkdir(exist_ok=True)

    def start(self, name: str) -> None:
        if name.startswith("beat"):
            argv = [*CELERY, "beat", "--loglevel", "INFO", "-s", str(self.logs / f"{name}-schedule")]
        else:
            argv = [*CELERY, "worker", "-Q", name, *WORKERS[name], "-n", f"{name}-{os.getpid()}@%h", *QUIET]
        with (self.logs / f"{name}.log").open("ab") as out:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(
                argv, env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
            )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log_count(self, text: str) -> int:
        return sum(p.read_text(errors="replace").count(text) for p in self.logs.glob("*.log"))


def _counts(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url, connect_timeout=3) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())


def _wait(what: str, check: Callable[[], bool], timeout: float = 120.0, db_url: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            states = f" (items by state: {_counts(db_url)})" if db_url else ""
            raise AssertionError(f"timed out waiting for: {what}{states}")
        time.sleep(0.2)


def _queued_polls(rd: PrivateRedis) -> int:
    tasks = (json.loads(raw).get("headers", {}).get("task") for raw in rd.client.lrange("feeds", 0, -1))
    return sum(1 for task in tasks if task in ("newsmill.poll_feeds", "newsmill.poll_feed"))


def test_nothing_is_lost_or_published_twice_under_faults(tmp_path: Path) -> None:
    with private_services() as (pg, rd), serve() as site:
        db_url = pg.create_database("newsmill")
        apply_migrations(db_url)
        feed_urls, expected = build_site(site)
        with psycopg.connect(db_url, autocommit=True) as conn:
            for url in feed_urls:
                feeds.add_feed(conn, url)
        env = fleet_env(db_url, rd.url, NEWSMILL_STUCK_AFTER="6", NEWSMILL_POLL_LEASE="8",
                        NEWSMILL_MAX_QUEUE_DEPTH=str(MAX_QUEUE_DEPTH), NEWSMILL_LOG_LEVEL="INFO")  # fmt: skip
        fleet = Fleet(env, tmp_path / "logs")
        try:
            timeline = _inject_faults(fleet, pg, rd, site, db_url)
            _wait("every item final", lambda: set(_counts(db_url)) <= {"published", "failed"}
                  and sum(_counts(db_url).values()) == len(expected), timeout=240, db_url=db_url)  # fmt: skip
            retries = fleet.log_count("Retry in")
        finally:
            fleet.stop_all()
        with psycopg.connect(db_url) as conn:
            states: dict[str, int] = dict(conn.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall())
            published = conn.execute("SELECT url, cursor FROM articles WHERE cursor IS NOT NULL").fetchall()
            rows = conn.execute("SELECT count(*), count(DISTINCT canonical_url) FROM articles").fetchone()
            failed = conn.execute("SELECT url, outcome, last_error FROM items WHERE state = 'failed'").fetchall()
    print(f"\nfaults: {timeline}")
    pages = sum(p.startswith("/a/") for p, _ in site.requests)
    print(f"expected {len(expected)}, published {len(published)}, article rows {rows}, items {states}, "
          f"task retries logged {retries}, page requests {pages}")  # fmt: skip
    assert failed == []
    assert {url for url, _ in published} == expected
    assert rows == (len(expected), len(expected))
    assert sorted(cursor for _, cursor in published) == list(range(1, len(expected) + 1))
    assert states == {"published": len(expected)}
    assert retries > 0  # PostgreSQL was down while tasks ran: they were retried, not failed


def _inject_faults(fleet: Fleet, pg: PrivatePostgres, rd: PrivateRedis, site: LocalSite, db_url: str) -> list[str]:
    """Run the fleet through every fault, each while its victim has work in hand; returns what happened."""
    timeline: list[str] = []
    max_polls = 0

    def note(event: str) -> None:
        timeline.append(f"{event} {_counts(db_url)}")

    def watch(check: Callable[[], bool]) -> Callable[[], bool]:
        def watched() -> bool:
            nonlocal max_polls
            max_polls = max(max_polls, _queued_polls(rd))
            return check()

        return watched

    for name in ("beat1", *WORKERS):
        fleet.start(name)
    polled = watch(lambda: site.hits("/feeds/0.xml") + site.hits("/feeds/1.xml") > 0)
    _wait("a feed being polled", polled, db_url=db_url)
    time.sleep(0.5)  # the feed answers after 1.5 s: the poll is in flight
    fleet.kill("feeds")
    note("SIGKILL feeds worker mid-poll")
    fleet.start("feeds")
    fetching = watch(lambda: sum(p.startswith("/a/") for p, _ in site.requests) >= 20)
    _wait("article fetches under way", fetching, db_url=db_url)
    fleet.kill("fetch")
    note("SIGKILL fetch worker mid-fetch")
    fleet.start("fetch")
    # Extraction of these small pages keeps up with fetching, so, like enrichment below, it is killed while it
    # works and left down until items wait for it: the test does not depend on this machine's speed.
    fleet.kill("extract")
    note("SIGKILL extract worker mid-extraction")
    _wait("items waiting for extraction", watch(lambda: _counts(db_url).get("fetched", 0) >= 5), db_url=db_url)
    fleet.start("extract")
    _wait("some articles published", watch(lambda: _counts(db_url).get("published", 0) >= 20), db_url=db_url)
    # The same for enrichment; the flush below then also loses the enrich messages of the items waiting.
    fleet.kill("enrich")
    note("SIGKILL enrich worker mid-enrichment")
    _wait("items waiting for enrichment", watch(lambda: _counts(db_url).get("extracted", 0) >= 3), db_url=db_url)
    queued = {q: rd.client.llen(q) for q in WORKERS}
    rd.flushall()
    note(f"FLUSHALL with queues {queued}")
    fleet.start("beat2")
    note("second beat started")
    fleet.start("enrich")
    pg.stop()
    _wait("a task retried while PostgreSQL is down", lambda: fleet.log_count("Retry in") > 0, timeout=60)
    pg.start()
    note("PostgreSQL restarted")
    _wait("all feeds polled", watch(lambda: sum(_counts(db_url).values()) >= FEEDS * PER_FEED), db_url=db_url)
    timeline.append(f"most poll messages queued at once: {max_polls} (cap {MAX_QUEUE_DEPTH})")
    assert max_polls <= MAX_QUEUE_DEPTH
    return timeline


def test_dispatcher_caps_enqueued_poll_messages_by_queue_depth(db: psycopg.Connection) -> None:
    for i in range(100):
        feeds.add_feed(db, f"http://news.example/{i}.xml")
    now = datetime.now(UTC) + timedelta(seconds=1)  # the feeds are due from their insertion (the server's now())
    s = Settings(max_queue_depth=8, dispatch_batch=500)
    assert dispatch_due_feeds(db, now, s, queue_depth=8) == []  # full: nothing claimed
    messages = dispatch_due_feeds(db, now, s, queue_depth=5)  # room for 3 messages
    assert len(messages) == 3
    assert sum(map(len, messages)) == 3 * FEEDS_PER_MESSAGE  # as many feeds as 3 messages carry
    assert len(feeds.due_feed_ids(db, now)) == 100 - 60  # the rest stay due, not lost
    messages = dispatch_due_feeds(db, now, s, queue_depth=0)
    assert len(messages) <= 8  # never more messages than the cap
    claimed = [feed_id for message in messages for feed_id in message]
    assert len(claimed) == len(set(claimed)) == 40
    assert feeds.due_feed_ids(db, now) == []
    assert dispatch_due_feeds(db, now + timedelta(seconds=s.poll_lease + 1), s, queue_depth=0)  # lease expiry


def test_poll_messages_spread_over_the_threads_and_never_exceed_the_room() -> None:
    assert poll_messages([], 5) == []
    assert poll_messages(list(range(40)), 1_000) == [[n] for n in range(40)]  # few feeds: one a message
    big = poll_messages(list(range(640)), 1_000)
    assert len(big) == SPREAD
    assert all(len(m) == FEEDS_PER_MESSAGE for m in big)
    tight = poll_messages(list(range(50)), 3)  # little room: fuller messages, order kept
    assert len(tight) == 3
    assert [n for m in tight for n in m] == list(range(50))


def test_sweeper_adds_nothing_to_a_queue_already_at_the_cap(db: psycopg.Connection) -> None:
    feed, _ = feeds.add_feed(db, "http://news.example/feed.xml")
    past = datetime.now(UTC) - timedelta(hours=1)
    entries = [FeedEntry(f"g{i}", f"http://news.example/{i}", f"http://news.example/{i}", None, None, None, None)
               for i in range(6)]  # fmt: skip
    ids = items.insert_new_items(db, feed.id, entries, past)
    for item_id in ids[3:]:
        items.advance(db, item_id, ItemState.DISCOVERED, ItemState.FETCHED, past)
    s = Settings(max_queue_depth=10, stuck_after=60)
    now = datetime.now(UTC)
    # The fetch queue is full: its stale items wait; the extract queue has room: its stale items go.
    swept = sweep_stale_items(db, now, s, queue_depths={ItemState.DISCOVERED: 10, ItemState.FETCHED: 9})
    assert {state: sorted(got) for state, got in swept.items()} == {ItemState.FETCHED: ids[3:]}
    # Claimed all the same: looked at again one stuck_after later, sent once the queue has drained.
    assert sweep_stale_items(db, now, s, queue_depths={}) == {}
    later = sweep_stale_items(db, now + timedelta(seconds=61), s, queue_depths={ItemState.DISCOVERED: 0})
    assert {state: sorted(got) for state, got in later.items()} == {
        ItemState.DISCOVERED: ids[:3],
        ItemState.FETCHED: ids[3:],
    }
