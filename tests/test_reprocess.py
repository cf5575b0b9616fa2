"""`newsmill reprocess`: stored pages go back to extraction, and the real steps re-publish them with new cursors."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import typer

from cli.durations import parse_since
from harness.articles import article_html, publish_page
from harness.fleet import ROOT, fleet_env
from shared.db import feeds, items, pages
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from shared.settings import Settings
from shared.urls import canonical_url
from tests.support.broker import queued_args
from workers.steps.enrich import enrich_step
from workers.steps.extract import extract_step

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARAGRAPHS = [
    "The harbour authority approved the new ferry timetable on Tuesday after months of consultation.",
    "Residents of the northern islands will get two more crossings a day from the first of March.",
    "The operator said the extra sailings would be covered by fares and a regional transport grant.",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("7d", NOW - timedelta(days=7)),
        (" 2W ", NOW - timedelta(weeks=2)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30T06:00:00+01:00", datetime(2026, 11, 30, 5, 0, tzinfo=UTC)),
    ],
)
def test_since_accepts_durations_and_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["7", "seven days", "-3d", "7y", ""])
def test_since_rejects_the_rest(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_since(text, NOW)


def _cli(db_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "reprocess", *args], env=fleet_env(db_url, redis_url), cwd=ROOT,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _failed_at_extract(conn: psycopg.Connection, url: str) -> int:
    """An item whose page is stored but whose extraction failed (under yesterday's rules)."""
    feed, _ = feeds.add_feed(conn, "http://news.example/feed.xml")
    (item_id,) = items.insert_new_items(conn, feed.id, [FeedEntry(url, url, canonical_url(url), None, None,
                                                                       None, None)], NOW)  # fmt: skip
    body = article_html("Ferry timetable approved", PARAGRAPHS).encode()
    pages.save_page(conn, item_id, final_url=url, status=200, content_type="text/html; charset=utf-8", body=body)
    items.advance(conn, item_id, ItemState.DISCOVERED, ItemState.FETCHED, NOW)
    items.fail(conn, item_id, "no_content", "no article text found")
    return item_id


def _item_of(conn: psycopg.Connection, article_id: int) -> int:
    row = conn.execute("SELECT item_id FROM articles WHERE id = %s", (article_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_reprocess_moves_matching_items_back_and_they_are_republished(
    db: psycopg.Connection, db_url: str, redis_url: str
) -> None:
    html = article_html("Ferry timetable approved", PARAGRAPHS)
    target = publish_page(db, "http://www.news.example/ferry.html", html)
    other_site = publish_page(db, "http://other.example/ferry.html", html.replace("Ferry", "Bus"),
                              feed_url="http://other.example/feed.xml")  # fmt: skip
    pruned = publish_page(db, "http://news.example/pruned.html", html.replace("Ferry", "Tram"))
    too_old = publish_page(db, "http://news.example/old.html", html.replace("Ferry", "Train"))
    failed = _failed_at_extract(db, "http://news.example/failed.html")
    db.execute("UPDATE pages SET html_gzip = NULL, html_lz4 = NULL WHERE item_id = %s", (_item_of(db, pruned),))
    db.execute("UPDATE pages SET fetched_at = now() - interval '30 days' WHERE item_id = %s", (_item_of(db, too_old),))
    # What yesterday's cleaning rules left in the article: a trailer today's rules remove.
    db.execute("UPDATE articles SET text = text || %s WHERE id = %s", ("\nRelated News : more ferries", target))
    before = {r[0]: r[1] for r in db.execute("SELECT id, cursor FROM articles")}

    dry = _cli(db_url, redis_url, "--since", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would re-extract 3 item(s) (1 failed, 2 published)" in dry.stderr
    assert "would re-extract 1 item(s)" in _cli(db_url, redis_url, "--since", "7d", "--site", "other.example",
                                                "--dry-run").stderr  # fmt: skip
    assert db.execute("SELECT count(*) FROM items WHERE state = 'fetched'").fetchone() == (0,)

    done = _cli(db_url, redis_url, "--since", "7d", "--site", "news.example")
    assert done.returncode == 0, done.stderr
    assert "re-extracting 2 item(s)" in done.stderr
    states = dict(db.execute("SELECT id, state FROM items").fetchall())
    moved = {_item_of(db, target), failed}
    assert {i for i, state in states.items() if state == "fetched"} == moved
    for untouched in (other_site, pruned, too_old):
        assert states[_item_of(db, untouched)] == "published"
    sent = queued_args(redis_url, "extract", "newsmill.extract_items")
    assert sorted(item_id for args in sent for item_id in args[0]) == sorted(moved)

    # What the extract and enrich workers do with those messages.
    s, now = Settings(), datetime.now(UTC)
    for item_id in sorted(moved):
        assert extract_step(db, [int(item_id)], s, now).forward == [item_id]
        assert set(enrich_step(db, [int(item_id)], s, now).outcomes) <= {"published", "duplicate"}
    after = {r[0]: (r[1], r[2], r[3]) for r in db.execute("SELECT id, item_id, cursor, text FROM articles")}
    republished = db.execute("SELECT id, state FROM items WHERE id = ANY(%s)", (list(moved),)).fetchall()
    assert dict(republished) == dict.fromkeys(moved, "published")
    assert "Related News" not in after[target][2]
    assert after[target][1] > max(before.values())  # a new, higher cursor: followers see the update
    revived = next(cursor for _, (item_id, cursor, _) in after.items() if item_id == failed)
    assert revived is not None
    assert revived > max(before.values())
    for untouched in (other_site, pruned, too_old):
        assert after[untouched][1] == before[untouched]


def test_reprocess_refuses_a_bad_site_and_a_bad_since(db_url: str, redis_url: str) -> None:
    assert _cli(db_url, redis_url, "--since", "7d", "--site", "http://x/").returncode == 2
    assert _cli(db_url, redis_url, "--since", "lately").returncode == 2
