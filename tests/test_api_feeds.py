"""Topic feeds over real HTTP: Atom/RSS parse cleanly, JSON Feed validates, stories collapse, markup stays
inert, filters apply, and conditional requests answer 304."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser
import httpx
import jsonschema
import psycopg
import pytest

from harness.articles import publish_page
from shared.db.articles import bump_cursor
from shared.feed_text import inert
from tests.conftest import FIXTURES
from tests.support.api_data import (
    COPY_SITE,
    HOSTILE_PARAGRAPH,
    HOSTILE_TITLE,
    SEED_TITLE,
    Corpus,
    english_html,
    publish_corpus,
)
from tests.support.api_server import serve_api

SCHEMA = json.loads((FIXTURES / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    # These tests change the database between two requests and expect the change at once: no state reuse
    # (test_feed_state_is_reused_for_its_ttl covers the shipped default).
    with serve_api(db_url, api_feed_state_ttl=0) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def shown(detail: feedparser.FeedParserDict) -> str:
    """What a reader shows of a feedparser text construct: HTML decoded (there are no tags), text as is."""
    return html.unescape(detail.value) if detail.type == "text/html" else str(detail.value)


def _xml_feed(api: httpx.Client, path: str) -> feedparser.FeedParserDict:
    r = api.get(path)
    assert r.status_code == 200, r.text
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize(("fmt", "content_type"), [("atom", "application/atom+xml"), ("rss", "application/rss+xml")])
def test_xml_feeds_parse_and_collapse_duplicates(
    api: httpx.Client, corpus: Corpus, fmt: str, content_type: str
) -> None:
    r = api.get(f"/topics/ukraine-war.{fmt}")
    assert r.headers["content-type"].startswith(content_type)
    parsed = _xml_feed(api, f"/topics/ukraine-war.{fmt}")
    assert parsed.feed.title == "War in Ukraine · newsmill"
    titles = [shown(e.title_detail) for e in parsed.entries]
    # Four published articles, three stories: the syndicated copy folds into the seed's entry.
    assert sorted(titles) == sorted([SEED_TITLE, HOSTILE_TITLE, "Ukrainian troops hold the line near Kharkiv"])
    seed = next(e for e in parsed.entries if shown(e.title_detail) == SEED_TITLE)
    assert seed.link == "https://quotidien.example/monde/biden-missiles"
    assert f"Also reported by: {COPY_SITE}" in seed.summary
    assert "https://gazette.example/2024/kiev-missiles" in seed.content[0].value
    assert {t.term for t in seed.tags} == {"ukraine-war", "russia", "us-politics", "north-korea"}
    assert seed.author == "Claire Dumas"
    assert seed.language == "fr"
    assert seed.publisher == "Le Quotidien du Monde"
    assert seed.published_parsed[:3] == (2024, 11, 17)
    assert "Zelensky" in seed.content[0].value


def test_json_feed_validates_and_collapses(api: httpx.Client, corpus: Corpus) -> None:
    r = api.get("/topics/ukraine-war.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/feed+json")
    doc = r.json()
    jsonschema.validate(doc, SCHEMA)
    ids = [item["_newsmill"]["article_id"] for item in doc["items"]]
    assert sorted(ids) == sorted([corpus.seed_id, corpus.hostile_id, corpus.english_id])
    seed = next(i for i in doc["items"] if i["_newsmill"]["article_id"] == corpus.seed_id)
    assert seed["title"] == SEED_TITLE
    assert seed["url"] == "https://quotidien.example/monde/biden-missiles"
    assert seed["language"] == "fr"
    assert seed["authors"] == [{"name": "Claire Dumas"}]
    assert seed["date_published"].startswith("2024-11-17")
    assert "ukraine-war" in seed["tags"]
    assert seed["_newsmill"]["also_reported_by"] == [
        {"article_id": corpus.copy_id, "site": COPY_SITE, "url": "https://gazette.example/2024/kiev-missiles"}
    ]


def test_schema_rejects_what_the_spec_forbids() -> None:
    """The fixture schema is not a rubber stamp: an item without content, or a misspelled field, fails."""
    base = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "content_text": "x"}]}
    jsonschema.validate(base, SCHEMA)
    for bad in (
        {**base, "items": [{"id": "1"}]},
        {**base, "items": [{"id": 1, "content_text": "x"}]},
        {**base, "items": [{"id": "1", "content_text": "x", "date_published": "17 Nov 2024"}]},
        {**base, "version": "https://jsonfeed.org/version/1"},
        {**base, "tittle": "typo"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_markup_in_articles_comes_out_inert(api: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    stored = db.execute("SELECT title, text FROM articles WHERE id = %s", (corpus.hostile_id,)).fetchone()
    assert stored is not None
    assert "<script>alert(1)</script>" in stored[0]
    assert "]]>" in stored[1]
    assert "<script>" in stored[1]
    for fmt in ("atom", "rss"):
        raw = api.get(f"/topics/ukraine-war.{fmt}").content
        assert b"<script" not in raw
        assert b"CDATA" not in raw
        parsed = _xml_feed(api, f"/topics/ukraine-war.{fmt}")
        entry = next(e for e in parsed.entries if "alert" in e.title)
        # The reader gets the text back as text: the markup is characters of the title, not an element, and
        # the words around it are all there (feedparser strips live markup, and the words with it).
        assert shown(entry.title_detail) == HOSTILE_TITLE
        assert html.unescape(entry.summary).startswith(HOSTILE_PARAGRAPH)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in entry.content[0].value
        assert "]]&gt;" in entry.content[0].value
    doc = api.get("/topics/ukraine-war.json").json()
    jsonschema.validate(doc, SCHEMA)
    item = next(i for i in doc["items"] if i["_newsmill"]["article_id"] == corpus.hostile_id)
    # Plain text, as the spec defines title and content_text, but inert: a reader that renders them as HTML
    # (as many do) shows the same characters and runs nothing (shared/feed_text.py).
    assert item["title"] == inert(HOSTILE_TITLE)
    assert html.unescape(item["title"]) == HOSTILE_TITLE
    assert "<script" not in item["content_text"]
    assert HOSTILE_PARAGRAPH in html.unescape(item["content_text"])
    assert "<script>" not in item["content_html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in item["content_html"]


def test_filters(api: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    def ids(query: str) -> list[int]:
        r = api.get(f"/topics/ukraine-war.json?{query}")
        assert r.status_code == 200, r.text
        jsonschema.validate(r.json(), SCHEMA)
        return sorted(i["_newsmill"]["article_id"] for i in r.json()["items"])

    assert ids("lang=en") == sorted([corpus.hostile_id, corpus.english_id])
    assert ids("lang=fr") == [corpus.seed_id]
    assert ids("lang=de") == []
    assert ids("lang=fr,en") == sorted([corpus.seed_id, corpus.hostile_id, corpus.english_id])
    assert ids("lang=fra") == ids("lang=fr-FR") == ids("lang=French") == [corpus.seed_id]  # one vocabulary
    assert len(ids("limit=1")) == 1
    cursor_of_hostile = db.execute("SELECT cursor FROM articles WHERE id = %s", (corpus.hostile_id,)).fetchone()
    assert cursor_of_hostile is not None
    assert ids(f"since={cursor_of_hostile[0]}") == [corpus.english_id]
    # The seed is dated 2024-11-17; the others have no date of their own and fall back to fetch time (now).
    assert ids("since=2024-11-18T00:00:00Z") == sorted([corpus.hostile_id, corpus.english_id])
    assert ids("since=2024-11-01") == sorted([corpus.seed_id, corpus.hostile_id, corpus.english_id])
    for bad in (
        "lang=xx",
        "lang=qqq",
        "lang=fr,,x1",
        "limit=0",
        "limit=201",
        "since=yesterday",
        "since=99999999999999999999",
    ):
        assert api.get(f"/topics/ukraine-war.atom?{bad}").status_code == 422, bad
    assert api.get("/topics/no-such-topic.atom").status_code == 404
    assert api.get("/topics/ukraine-war.html").status_code == 404


def test_copy_represents_the_story_when_the_original_is_not_in_the_topic(
    api: httpx.Client, corpus: Corpus, db: psycopg.Connection
) -> None:
    """A story whose original is outside the topic is shown once, by its earliest copy inside it."""
    topic_id = db.execute("SELECT id FROM topics WHERE slug = 'north-korea'").fetchone()
    assert topic_id is not None
    db.execute("DELETE FROM article_topics WHERE topic_id = %s AND article_id = %s", (topic_id[0], corpus.seed_id))
    items = api.get("/topics/north-korea.json").json()["items"]
    assert [i["_newsmill"]["article_id"] for i in items] == [corpus.copy_id]
    assert [o["article_id"] for o in items[0]["_newsmill"]["also_reported_by"]] == [corpus.seed_id]


def test_feed_state_is_reused_for_its_ttl(db_url: str, corpus: Corpus, db: psycopg.Connection) -> None:
    ttl = 2.0
    with serve_api(db_url, api_feed_state_ttl=ttl) as base, httpx.Client(base_url=base, timeout=30) as api:
        first = api.get("/topics/ukraine-war.atom")
        asked_at = time.monotonic()
        etag = first.headers["etag"]
        publish_page(db, "https://wire.example/kharkiv-3", english_html().replace("Tuesday", "Thursday"))
        within = api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag})
        assert time.monotonic() - asked_at < ttl, "the machine was too slow to observe the window"
        assert within.status_code == 304  # answered from the cached state, no database round trip
        time.sleep(max(0.0, ttl - (time.monotonic() - asked_at)) + 0.2)
        after = api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag})
        assert after.status_code == 200
        assert after.headers["etag"] != etag
        assert api.get("/topics/no-such-topic.atom").status_code == 404


def test_topic_list(api: httpx.Client, corpus: Corpus) -> None:
    topics = {t["slug"]: t for t in api.get("/topics").json()}
    assert topics["ukraine-war"]["article_count"] == 4
    assert topics["ukraine-war"]["name"] == "War in Ukraine"
    assert topics["climate"]["article_count"] == 0


def test_conditional_requests(api: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    first = api.get("/topics/ukraine-war.atom", headers={"Accept-Encoding": "identity"})
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"')  # strong: no W/ prefix (a gzip-encoded answer's is weak: test_api_http)
    again = api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert api.get("/topics/ukraine-war.atom", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert api.get("/topics/ukraine-war.atom", headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert api.get("/topics/ukraine-war.atom", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides alone when present (RFC 9110 §13.2.2), even with a current If-Modified-Since.
    stale = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert api.get("/topics/ukraine-war.atom", headers=stale).status_code == 200
    # Each format and filter has its own tag.
    paths = ("/topics/ukraine-war.rss", "/topics/ukraine-war.json", "/topics/ukraine-war.atom?lang=en")
    tags = {api.get(p).headers["etag"] for p in (*paths, "/topics/ukraine-war.atom")}
    assert len(tags) == 4
    # A new article in the topic changes the tag: the old one now gets the full feed.
    publish_page(db, "https://wire.example/kharkiv-2", english_html().replace("Tuesday", "Wednesday"))
    fresh = api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag
    assert feedparser.parse(fresh.content).bozo == 0
    # So does a re-extracted article (new cursor, no new row) and a tag taken away (no new cursor).
    etag = fresh.headers["etag"]
    with db.transaction():
        bump_cursor(db, [corpus.seed_id])
    changed = api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    etag = changed.headers["etag"]
    db.execute(
        "DELETE FROM article_topics WHERE article_id = %s AND topic_id = (SELECT id FROM topics WHERE slug = %s)",
        (corpus.english_id, "ukraine-war"),
    )
    assert api.get("/topics/ukraine-war.atom", headers={"If-None-Match": etag}).status_code == 200
