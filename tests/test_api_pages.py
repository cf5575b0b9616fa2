"""Pages for people over real HTTP: feed discovery links, escaping, "also reported by", the reading view
and the sources page with its per-day chart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
import psycopg
import pytest

from api.pages import prefers_html
from shared.db import feeds
from tests.support.api_data import COPY_SITE, SEED_TITLE, Corpus, publish_corpus
from tests.support.api_server import serve_api


class _Collect(HTMLParser):
    """Elements by tag with their attributes, to check structure rather than substrings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str, name: str) -> list[dict[str, str | None]]:
    parser = _Collect()
    parser.feed(html)
    return [attrs for tag, attrs in parser.tags if tag == name]


@pytest.fixture
def site(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


def test_topic_page(site: httpx.Client, corpus: Corpus) -> None:
    r = site.get("/topics/ukraine-war")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    alternates = {a["type"]: a["href"] for a in _tags(r.text, "link") if a.get("rel") == "alternate"}
    assert alternates == {
        "application/atom+xml": "/topics/ukraine-war.atom",
        "application/rss+xml": "/topics/ukraine-war.rss",
        "application/feed+json": "/topics/ukraine-war.json",
    }
    for href in alternates.values():
        assert site.get(href).status_code == 200
    assert SEED_TITLE in r.text
    assert f"Also reported by: {COPY_SITE}" in r.text
    assert "Missiles à longue portée : Washington" not in r.text  # the copy is folded into the seed's story
    assert "Le Quotidien du Monde" in r.text
    assert 'class="lang" title="language">fr<' in r.text
    # Markup in titles, text and site names is shown as text: no script element reaches the page.
    assert _tags(r.text, "script") == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "Hostile Gazette &lt;b&gt;" in r.text
    headlines = [a["href"] for a in _tags(r.text, "a") if a.get("class") == "headline"]
    assert f"/read/{corpus.seed_id}" in headlines
    assert len(headlines) == 3


def test_index_counts_what_the_topic_page_shows(site: httpx.Client, corpus: Corpus) -> None:
    html = site.get("/").text
    assert '<a href="/topics/ukraine-war">War in Ukraine</a>' in html
    shown = re.search(r'War in Ukraine</a> <span class="muted" data-story-count="(\d+)">([^<]+)</span>', html)
    assert shown, html
    topic_page = site.get("/topics/ukraine-war").text
    headlines = [a for a in _tags(topic_page, "a") if a.get("class") == "headline"]
    # Four tagged articles, one of them the seed's syndicated copy, folded into the seed's story on the page.
    assert int(shown[1]) == len(headlines) == 3
    assert shown[2] == "4 reports of 3 stories"
    assert {t["slug"]: t["story_count"] for t in site.get("/topics").json()}["ukraine-war"] == 3


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser's navigation
        ("text/html", True),
        ("*/*", False),  # curl, httpx, most clients
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.5, application/json;q=0.5", True),
        ("text/html;q=0", False),
        ("text/html;q=oops, */*", False),
    ],
)
def test_which_requests_get_a_page_for_people(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_not_found_is_a_page_for_browsers_and_json_for_clients(site: httpx.Client, corpus: Corpus) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for path in ("/topics/nonexistent", "/read/999999", "/no/such/page"):
        page = site.get(path, headers=browser)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in page.text
        assert f"<code>{path}</code>" in page.text
        assert '<a href="/">topics</a>' in page.text
        client = site.get(path, headers={"Accept": "application/json"})
        assert client.status_code == 404
        assert client.headers["content-type"] == "application/json"
        assert "detail" in client.json()
    assert "no such topic" in site.get("/topics/nonexistent", headers=browser).text
    feed = site.get("/topics/nonexistent.atom", headers={"Accept": "application/atom+xml"})
    assert (feed.status_code, feed.headers["content-type"]) == (404, "application/json")


def test_api_docs_need_no_network(site: httpx.Client) -> None:
    """/docs names only scripts and styles the API serves itself (the browser test runs them offline)."""
    page = site.get("/docs").text
    assets = [t["src"] for t in _tags(page, "script") if t.get("src")]
    assets += [t["href"] for t in _tags(page, "link") if t.get("rel") == "stylesheet"]
    assert assets
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the API"
        assert site.get(asset).status_code == 200
    assert "cdn" not in page.lower()
    redoc = site.get("/redoc").text
    assert all(t["src"].startswith("/") for t in _tags(redoc, "script") if t.get("src"))


def test_reading_view(site: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    r = site.get(f"/read/{corpus.seed_id}")
    assert r.status_code == 200
    text = db.execute("SELECT text FROM articles WHERE id = %s", (corpus.seed_id,)).fetchone()
    assert text is not None
    paragraphs = [p for p in text[0].splitlines() if p.strip()]
    assert r.text.count("<p>") >= len(paragraphs)
    assert '<h1 class="headline">Joe Biden autorise' in r.text
    assert 'lang="fr"' in r.text
    assert f'<a href="/read/{corpus.copy_id}">{COPY_SITE}</a>' in r.text
    hostile = site.get(f"/read/{corpus.hostile_id}").text
    assert _tags(hostile, "script") == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt; troops ]]&gt; held" in hostile
    assert site.get("/read/999999").status_code == 404
    assert site.get("/topics/no-such-topic").status_code == 404


def test_sources_page(site: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    broken, _ = feeds.add_feed(db, "https://broken.example/feed.xml")
    now = datetime.now(UTC)
    record = feeds.PollRecord("hard", "HTTP 410 Gone <b>", False, now + timedelta(hours=1), 3600)
    feeds.record_poll(db, broken.id, now, record)
    # Move one of the seed feed's items back three days: the chart must put it in that day's bar.
    db.execute(
        "UPDATE items SET created_at = now() - interval '3 days'"
        " WHERE id = (SELECT item_id FROM articles WHERE id = %s)",
        (corpus.hostile_id,),
    )
    # A feed URL that is not http(s) (say, from an OPML file) is not rendered as a link.
    odd, _ = feeds.add_feed(db, "javascript:alert(1)")
    r = site.get("/sources")
    assert r.status_code == 200
    assert 'href="javascript:' not in r.text
    assert '<a href="#" rel="noopener noreferrer">javascript:alert(1)</a>' in r.text
    assert "HTTP 410 Gone &lt;b&gt;" in r.text
    assert "1 failure in a row" in r.text
    rows = re.findall(r'<tr data-feed-id="(\d+)">(.*?)</tr>', r.text, flags=re.S)
    charts = {int(fid): re.findall(r"<title>(\d+)</title>", body) for fid, body in rows}
    seed_feed = db.execute("SELECT feed_id FROM articles WHERE id = %s", (corpus.seed_id,)).fetchone()
    assert seed_feed is not None
    # news.example/feed.xml has the seed and the hostile article: one today, one three days ago.
    assert charts[seed_feed[0]] == ["0"] * 10 + ["1", "0", "0", "1"]
    assert charts[broken.id] == ["0"] * 14
    assert charts[odd.id] == ["0"] * 14
    assert len(_tags(r.text, "svg")) == len(rows) == 5
