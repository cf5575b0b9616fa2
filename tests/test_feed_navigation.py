"""What feed-reader users expect beyond one topic's feed: the combined feed of every topic, paging back
through older stories (RFC 5005 `next` links), OPML to subscribe in one step, OPML export of the source
feeds (HTTP and CLI) and deleting a topic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import psycopg
import pytest
from lxml import etree
from typer.testing import CliRunner

from cli.feeds import app as feeds_cli
from cli.topics import app as topics_cli
from harness.articles import load_seed_topics, publish_ukraine
from shared.db import subscriptions
from shared.opml import feed_urls_from_opml
from shared.settings import get_settings
from tests.support.api_data import Corpus, publish_corpus
from tests.support.api_server import serve_api

TOKEN = "navigation-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url, admin_token=TOKEN, api_feed_state_ttl=0) as base, httpx.Client(base_url=base) as client:
        yield client


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_the_combined_feed_has_every_topics_stories_once(
    api: httpx.Client, corpus: Corpus, db: psycopg.Connection
) -> None:
    db.execute("INSERT INTO topics (slug, name, rules) VALUES ('empty', 'Empty', '{\"any\": [\"zzyzx\"]}')")
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(api.get(f"/topics.{fmt}").content)
        assert parsed.bozo == 0
        assert parsed.feed.title == "All topics · newsmill"
        assert len(parsed.entries) == 3  # four articles, three stories (the copy folds into the seed)
    items = api.get("/topics.json").json()["items"]
    assert sorted(i["_newsmill"]["article_id"] for i in items) == sorted([corpus.seed_id, corpus.hostile_id,
                                                                          corpus.english_id])  # fmt: skip
    assert api.get("/topics.json?lang=fr").json()["items"][0]["_newsmill"]["article_id"] == corpus.seed_id
    etag = api.get("/topics.atom").headers["etag"]
    assert api.get("/topics.atom", headers={"If-None-Match": etag}).status_code == 304


def test_paging_back_through_a_topic_visits_every_story_once(api: httpx.Client, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    ids = {publish_ukraine(db, n) for n in range(7)}
    for fmt in ("atom", "rss", "json"):
        seen: list[int] = []
        url: str | None = f"/topics/ukraine-war.{fmt}?limit=3&lang=en"
        pages = 0
        while url:
            r = api.get(url)
            assert r.status_code == 200, r.text
            pages += 1
            if fmt == "json":
                doc = r.json()
                seen += [i["_newsmill"]["article_id"] for i in doc["items"]]
                url = doc.get("next_url")
            else:
                parsed = feedparser.parse(r.content)
                links = {link.rel: link.href for link in parsed.feed.links}
                assert links["first"].endswith(f"/topics/ukraine-war.{fmt}?limit=3&lang=en")
                seen += [int(e.id.rsplit("-", 1)[1].split(".")[0]) for e in parsed.entries]
                url = links.get("next")
            if url:
                parts = urlsplit(url)
                assert "limit=3" in parts.query
                assert "lang=en" in parts.query
                url = f"{parts.path}?{parts.query}"
        expected = sorted(ids) if fmt == "json" else sorted(range(7))
        assert sorted(seen) == expected, fmt  # every story once, newest first, page after page
        assert pages == 3
    assert api.get("/topics/ukraine-war.atom?before=yesterday").status_code == 422


def test_topic_feeds_as_opml(api: httpx.Client, corpus: Corpus) -> None:
    r = api.get("/topics.opml?format=rss")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/x-opml")
    urls = feed_urls_from_opml(r.content)
    base = str(api.base_url).rstrip("/")
    assert urls[0] == f"{base}/topics.rss"
    assert f"{base}/topics/ukraine-war.rss" in urls
    assert len(urls) == 1 + len(api.get("/topics").json())
    for url in urls[:3]:  # each outline is a feed that serves
        assert feedparser.parse(api.get(url.removeprefix(base)).content).bozo == 0
    root = etree.fromstring(api.get("/topics.opml").content)
    assert root.get("version") == "2.0"
    assert {o.get("type") for o in root.iter("outline")} == {"rss"}
    assert api.get("/topics.opml?format=html").status_code == 422


def test_a_private_feed_as_opml(api: httpx.Client, corpus: Corpus, db: psycopg.Connection) -> None:
    token = subscriptions.create_subscription(db, "ed@example.org", ["ukraine-war", "russia"], []).token
    r = api.get(f"/subscriptions/{token}.opml")
    assert r.status_code == 200
    assert r.headers["referrer-policy"] == "no-referrer"
    (url,) = feed_urls_from_opml(r.content)
    assert url.endswith(f"/subscriptions/{token}.atom")
    assert api.get(f"/subscriptions/{'x' * 43}.opml").status_code == 404


def test_source_feeds_export_round_trips(
    api: httpx.Client, corpus: Corpus, db: psycopg.Connection, cli_env: CliRunner, tmp_path: Path
) -> None:
    stored = sorted(r[0] for r in db.execute("SELECT url FROM feeds"))
    assert api.get("/feeds.opml").status_code == 401
    r = api.get("/feeds.opml", headers=AUTH)
    assert r.status_code == 200
    assert sorted(feed_urls_from_opml(r.content)) == stored
    result = cli_env.invoke(feeds_cli, ["export"])
    assert result.exit_code == 0, result.output
    assert sorted(feed_urls_from_opml(result.stdout_bytes)) == stored
    backup = tmp_path / "feeds.opml"
    assert cli_env.invoke(feeds_cli, ["export", str(backup)]).exit_code == 0
    db.execute("DELETE FROM feeds")
    result = cli_env.invoke(feeds_cli, ["import", str(backup)])
    assert result.exit_code == 0, result.output
    assert sorted(r[0] for r in db.execute("SELECT url FROM feeds")) == stored


def test_deleting_a_topic(api: httpx.Client, corpus: Corpus, db: psycopg.Connection, cli_env: CliRunner) -> None:
    before = dict(db.execute("SELECT id, cursor FROM articles").fetchall())
    assert api.delete("/topics/russia").status_code == 401
    r = api.delete("/topics/russia", headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"slug": "russia", "deleted": True, "articles_changed": 2}
    assert api.get("/topics/russia.atom").status_code == 404
    assert api.delete("/topics/russia", headers=AUTH).status_code == 404
    after = dict(db.execute("SELECT id, cursor FROM articles").fetchall())
    moved = {a for a in before if after[a] != before[a]}
    assert moved == {corpus.seed_id, corpus.copy_id}  # they lost a topic: cursor readers see them again
    assert all("russia" not in r[0] for r in db.execute("SELECT topics FROM newsmill.articles_published"))
    result = cli_env.invoke(topics_cli, ["delete", "north-korea", "--yes"])
    assert result.exit_code == 0, result.output
    assert "2 published articles" in result.output
    assert cli_env.invoke(topics_cli, ["delete", "north-korea", "--yes"]).exit_code == 1
