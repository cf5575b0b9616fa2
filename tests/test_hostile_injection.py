"""SQL injection and Unicode tricks in every text field of a feed entry and a page, end to end.

Values travel from a real HTTP server through the poll, fetch, extract and enrich steps into PostgreSQL.
They must come out verbatim (SQL metacharacters, psycopg placeholders, bidi and zero-width characters) or
sanitised (NUL, which PostgreSQL text cannot hold; lone surrogates, which UTF-8 cannot), never crash a step,
and leave every table intact.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from shared.db import feeds
from shared.http_client import fetch
from shared.settings import Settings
from tests.support.hostile_cases import hostile_policy, scratch_database
from tests.support.http_server import Response, serve
from workers.stages.fetch import fetch_article
from workers.steps.enrich import enrich_step
from workers.steps.extract import extract_step
from workers.steps.fetch import fetch_step
from workers.steps.poll import poll_step

SETTINGS = Settings(max_attempts=1)
TRICKS = {
    "sql": "'; DROP TABLE articles; --",
    "sql-paren": "Robert'); DROP TABLE items;-- \\' \"",
    "placeholders": "%s %(id)s $1 {0} ?",
    "rtl-override": "news \u202egnp.exe\u202c report",
    "zero-width": "zero\u200bwidth\u200djoiner\ufeffbom",
}
PARAGRAPH = "The council met on Tuesday and agreed the budget for the new harbour wall after a long debate. "
TABLES = {"feeds", "items", "pages", "articles", "publish_counter", "topics", "article_topics"}


def _feed(links: dict[str, str]) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(TRICKS[n])} &#0;nul</title><author>{html.escape(TRICKS[n])}\x00</author>"
        f"<guid>{html.escape(TRICKS[n])}&#0;</guid><link>{html.escape(url)}</link></item>"
        for n, url in links.items()
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()


def _page(trick: str) -> bytes:
    t = html.escape(trick)
    body = f"<p>{t} &#0; \x00 {PARAGRAPH} {t}</p><p>{PARAGRAPH} &#xD800; {t}</p>"
    return (
        f'<html><head><title>{t}</title><meta name="author" content="{t}">'
        f'<meta property="og:site_name" content="{t}"></head>'
        f"<body><article><h1>{t}</h1>{body}</article></body></html>"
    ).encode()


def _visible(value: str) -> str:
    return "".join(c for c in value if unicodedata.category(c) != "Cf")


def _tables(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.fixture(scope="module")
def db(template_db: str) -> Iterator[psycopg.Connection]:
    """One database for the module: the run below is made once and read by every test."""
    with scratch_database(template_db) as url, psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def ingested(db: psycopg.Connection) -> dict[str, tuple[object, ...]]:
    """Every trick through one ingestion run; {trick name: (item row, article row)}."""
    tables_before = _tables(db)
    policy, now = hostile_policy(), datetime.now(UTC)
    with serve() as site:
        # The trick also rides in the link's query, so it reaches the URL columns and the request line.
        links = {n: site.url(f"/story/{n}?q={trick}") for n, trick in TRICKS.items()}
        for name, trick in TRICKS.items():
            site.add(f"/story/{name}", Response(_page(trick), 200, {"Content-Type": "text/html"}))
        feed, _ = feeds.add_feed(db, site.add("/feed.xml", Response(_feed(links), 200, {"Content-Type": "text/xml"})))
        ids = poll_step(db, feed.id, lambda u, h: fetch(u, policy, headers=h), SETTINGS, now).ids
        for item_id in ids:
            fetch_step(db, [item_id], lambda u: fetch_article(u, policy), SETTINGS, lambda: now)
            extract_step(db, [item_id], SETTINGS, now)
            enrich_step(db, [item_id], SETTINGS, now)
    assert _tables(db) == tables_before
    assert tables_before >= TABLES
    rows = db.execute(
        "SELECT i.entry_title, i.entry_author, i.guid, i.url, i.state, i.outcome, i.last_error,"
        " a.title, a.author, a.site_name, a.text, a.url FROM items i LEFT JOIN articles a ON a.item_id = i.id"
    ).fetchall()
    return {next(n for n in TRICKS if f"/story/{n}?" in r[3]): r for r in rows}


@pytest.mark.parametrize("name", list(TRICKS))
def test_every_text_field_is_stored_verbatim_or_sanitised(ingested: dict[str, tuple[str, ...]], name: str) -> None:
    trick = TRICKS[name]
    entry_title, entry_author, guid, url, state, outcome, error, title, author, site, text, page_url = ingested[name]
    assert (state, outcome) == ("published", "ok"), error
    assert entry_title == f"{' '.join(trick.split())} \ufffdnul"  # whitespace collapsed, &#0; made visible
    assert entry_author == " ".join(trick.split())  # the raw NUL dropped
    assert guid.endswith(trick + "\ufffd")  # feedparser resolves a guid against the feed URL, as a link
    # Extraction may drop invisible format characters (bidi overrides, zero-width): sanitised, not lost.
    assert title in (trick, _visible(trick))
    # trafilatura normalises names ("S S 1" from "%s %(id)s $1"): stored sanitised, not verbatim.
    assert author
    assert site
    assert max(text.count(trick), text.count(_visible(trick))) >= 2  # both paragraphs kept it
    assert "\x00" not in text
    assert "\ud800" not in text
    for column in (url, page_url):
        assert f"/story/{name}?q=" in column


def test_the_published_view_serves_them_and_the_tables_hold_their_rows(
    ingested: dict[str, tuple[str, ...]], db: psycopg.Connection
) -> None:
    titles = {r[0] for r in db.execute("SELECT title FROM newsmill.articles_published")}
    assert len(titles) == len(TRICKS)
    assert titles <= set(TRICKS.values()) | {_visible(t) for t in TRICKS.values()}
    counts = db.execute("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM articles)").fetchone()
    assert counts == (len(TRICKS), len(TRICKS))
