"""End to end on the real parts: RSS on a local server → beat → Celery workers → rows in PostgreSQL.

One run ingests good articles and a catalogue of bad input side by side: every bad one ends as a recorded
outcome on its feed or item, and every good one is stored.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psycopg
import pytest
import yaml

from harness.fleet import ROOT, fleet_env, run_until_idle
from shared.db import feeds, topics
from shared.topic_rules import parse_topics
from tests.conftest import FIXTURES
from tests.support.http_server import LocalSite, Response, serve

pytestmark = pytest.mark.e2e
SITE = FIXTURES / "site"
SEED = FIXTURES / "seed"
HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
        "<pubDate>Mon, 18 Nov 2024 10:15:00 +0000</pubDate></item>"
        for guid, title, link in items
    )
    doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test</title>{body}</channel></rss>'
    return doc.encode()


def _stall(handler: BaseHTTPRequestHandler) -> None:
    """Headers and a first chunk, then nothing: a page that never finishes sending."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.write(b"<html><body><p>Starting")
    handler.wfile.flush()
    time.sleep(8)


def build_site(site: LocalSite) -> None:
    seed_page = (SEED / "seed_page.html").read_bytes()
    site.add("/robots.txt", Response(b"User-agent: *\nDisallow: /private/\n", 200, {"Content-Type": "text/plain"}))
    site.add("/monde/biden-missiles.html", Response(seed_page, 200, HTML))
    site.add("/city/tram.html", Response((SITE / "tram.html").read_bytes(), 200, HTML))
    site.add("/ru/stadium.html", Response((SITE / "cp1251.html").read_bytes(), 200, {"Content-Type": "text/html"}))
    site.add("/huge.html", Response(b"<html><body>" + b"<p>filler text</p>" * 200_000 + b"</body></html>", 200, HTML))
    site.add("/stalled.html", _stall)
    site.add("/metadata.html", Response(b"", 302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    site.add("/loopback.html", Response(b"", 302, {"Location": "http://127.0.0.2:9/admin"}))
    site.add("/private/secret.html", Response(b"<html><body><p>secret</p></body></html>", 200, HTML))
    site.add("/feed.xml", Response(_rss([
        ("seed", "Joe Biden autorise l’Ukraine", site.url("/monde/biden-missiles.html?utm_source=rss&utm_medium=feed")),
        ("tram", "Riverside tram line opens", site.url("/city/tram.html")),
        ("ru", "Новый стадион", site.url("/ru/stadium.html")),
        ("missing", "Gone", site.url("/missing.html")),
        ("huge", "Huge", site.url("/huge.html")),
        ("stalled", "Stalled", site.url("/stalled.html")),
        ("metadata", "Metadata", site.url("/metadata.html")),
        ("loopback", "Loopback", site.url("/loopback.html")),
        ("robots", "Disallowed", site.url("/private/secret.html")),
    ]), 200, RSS))  # fmt: skip
    site.add("/html-feed", Response(b"<!DOCTYPE html><html><body><p>Home page</p></body></html>", 200, HTML))
    site.add("/malformed.xml", Response(b"<rss><channel><title>broken</chan", 200, RSS))
    site.add(
        "/nolinks.xml", Response(_rss([]).replace(b"</channel>", b"<item><title>x</title></item></channel>"), 200, RSS)
    )
    # /missing-feed.xml is not routed: 404


def test_feed_to_clean_articles_with_bad_input_recorded(db_url: str, redis_url: str, tmp_path: Path) -> None:
    with serve() as site:
        build_site(site)
        with psycopg.connect(db_url, autocommit=True) as conn:
            for t in parse_topics(yaml.safe_load((ROOT / "seeds" / "topics.yaml").read_text(encoding="utf-8"))):
                topics.upsert_topic(conn, t.slug, t.name, t.description, t.rules())
            for path in ("/feed.xml", "/html-feed", "/missing-feed.xml", "/malformed.xml", "/nolinks.xml"):
                feeds.add_feed(conn, site.url(path))
        env = fleet_env(
            db_url, redis_url,
            NEWSMILL_ALLOW_PRIVATE_HOSTS="false", NEWSMILL_PRIVATE_ALLOWLIST="127.0.0.1/32",
            NEWSMILL_MAX_RESPONSE_BYTES=str(2 * 1024 * 1024), NEWSMILL_RETRY_BASE_DELAY="1",
            NEWSMILL_MAX_ATTEMPTS="2", NEWSMILL_READ_TIMEOUT="2", NEWSMILL_TOTAL_TIMEOUT="4",
        )  # fmt: skip
        done = run_until_idle(env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert site.hits("/private/secret.html") == 0  # robots.txt honoured

    with psycopg.connect(db_url, autocommit=True) as conn:
        outcomes = dict(conn.execute("SELECT url, last_outcome FROM feeds").fetchall())
        by_item = {
            url.rsplit("/", 1)[-1].split("?")[0]: (state, outcome)
            for url, state, outcome in conn.execute("SELECT url, state, outcome FROM items").fetchall()
        }
        stored = {
            row[0].rsplit("/", 1)[-1]: row
            for row in conn.execute(
                "SELECT canonical_url, title, site_name, text, published_at, url, language, cursor FROM articles"
            )
        }
        seed_topics = {
            r[0]
            for r in conn.execute(
                "SELECT t.slug FROM article_topics at JOIN topics t ON t.id = at.topic_id "
                "JOIN articles a ON a.id = at.article_id WHERE a.canonical_url LIKE %s",
                ("%/biden-missiles.html",),
            )
        }

    assert outcomes[site.url("/feed.xml")] == "ok"
    assert outcomes[site.url("/html-feed")] == "not_a_feed"
    assert outcomes[site.url("/missing-feed.xml")] == "http_error"
    assert outcomes[site.url("/malformed.xml")] == "not_a_feed"
    assert outcomes[site.url("/nolinks.xml")] == "no_content"

    assert by_item["missing.html"] == ("failed", "http_error")
    assert by_item["huge.html"] == ("failed", "too_large")
    assert by_item["stalled.html"][1] == "timeout"
    assert by_item["metadata.html"] == ("failed", "blocked_address")
    assert by_item["loopback.html"] == ("failed", "blocked_address")
    assert by_item["secret.html"] == ("failed", "robots_disallowed")

    assert set(stored) == {"biden-missiles.html", "tram.html", "stadium.html"}
    seed = stored["biden-missiles.html"]
    expected = (SEED / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert seed[3].splitlines() == expected
    assert seed[1]
    assert seed[2]
    assert "utm_source" in seed[5]  # the URL as fetched; the canonical URL (the key) lost its tracking parameters
    assert "Новосибирске" in stored["stadium.html"][3]
    assert stored["tram.html"][2] == "Harbour Gazette"

    # Enriched and published: language per article, the seed tagged with the editors' topics, each one cursor.
    assert {name: row[6] for name, row in stored.items()} == {
        "biden-missiles.html": "fr", "tram.html": "en", "stadium.html": "ru",
    }  # fmt: skip
    assert {by_item[name][0] for name in stored} == {"published"}
    assert sorted(row[7] for row in stored.values()) == [1, 2, 3]
    assert {"ukraine-war", "russia"} <= seed_topics
