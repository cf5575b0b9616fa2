"""What a retag may do to readers (issue 18): a webhook is sent only articles that newly match it and were
first published after it was created; an entry's `updated` moves only when what a reader sees changes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from cli.topics import app as topics_cli
from harness.articles import load_seed_topics, publish_ukraine
from shared.db import articles, deliveries, subscriptions, topics
from shared.settings import Settings, get_settings
from shared.topic_rules import Topic
from tests.support.api_server import serve_api
from workers.steps import deliver

NO_MATCH = {"any": ["zzyzx"]}


def webhook(conn: psycopg.Connection, url: str, topics: list[str]) -> subscriptions.Subscription:
    return subscriptions.create_subscription(conn, "ed@example.org", topics, [], url).subscription


def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, allow_private_hosts=True)


def clock() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=60)  # just ahead of the database's now(), like a worker


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def put_topic(db: psycopg.Connection, slug: str, **rules: object) -> None:
    t = Topic.model_validate({"slug": slug, "name": slug.title(), **rules})
    topics.upsert_topic(db, t.slug, t.name, t.description, t.rules())


def retag(cli: CliRunner) -> None:
    result = cli.invoke(topics_cli, ["retag"])
    assert result.exit_code == 0, result.output


def owed(db: psycopg.Connection, sub_id: int) -> list[int]:
    rows = db.execute("SELECT article_id FROM deliveries WHERE subscription_id = %s ORDER BY id", (sub_id,))
    return [r[0] for r in rows]


def test_a_retag_owes_a_webhook_only_new_matches_published_after_it(
    cli: CliRunner, db_url: str, db: psycopg.Connection
) -> None:
    load_seed_topics(db)
    put_topic(db, "kharkiv", **NO_MATCH)
    s = settings(db_url)
    archive = [publish_ukraine(db, n) for n in range(3)]  # published before either webhook existed
    war = webhook(db, "http://127.0.0.1:9/war", ["ukraine-war"])
    front = webhook(db, "http://127.0.0.1:9/front", ["kharkiv"])
    fresh = publish_ukraine(db, 10)
    deliver.plan_deliveries(db, clock(), s)
    assert owed(db, war.id) == [fresh]
    assert owed(db, front.id) == []
    cursors = {a: db.execute("SELECT cursor, first_cursor FROM articles WHERE id = %s", (a,)).fetchone()
               for a in [*archive, fresh]}  # fmt: skip

    # An unrelated topic, and a rule change that makes every article match the second webhook's topic.
    put_topic(db, "front-lines", any=["kharkiv"], min_score=1)
    put_topic(db, "kharkiv", any=["kharkiv"], min_score=1)
    retag(cli)
    for article_id, (cursor, _) in cursors.items():
        row = db.execute("SELECT cursor, first_cursor FROM articles WHERE id = %s", (article_id,)).fetchone()
        assert row is not None
        assert row[0] > cursor, "re-tagged articles move, so cursor readers see them again"
        assert row[1] == cursor, "and remember the cursor they were first published with"
    deliver.plan_deliveries(db, clock(), s)
    assert owed(db, war.id) == [fresh], "nothing new matches it: the archive is not sent"
    assert owed(db, front.id) == [fresh], "the one new match published after it; not the archive"

    # Re-extracted (a cursor move with other content): still never the archive.
    with db.transaction():
        articles.bump_cursor(db, archive)
    deliver.plan_deliveries(db, clock(), s)
    assert owed(db, war.id) == owed(db, front.id) == [fresh]
    assert deliveries.counts_by_status(db, war.id) == {"pending": 1}


def _updated(api: httpx.Client, fmt: str) -> dict[str, str]:
    if fmt == "json":
        return {i["id"]: i["date_modified"] for i in api.get("/topics/ukraine-war.json").json()["items"]}
    parsed = feedparser.parse(api.get(f"/topics/ukraine-war.{fmt}").content)
    return {e.id: e.updated for e in parsed.entries}


def test_an_entry_is_updated_only_when_what_a_reader_sees_changes(
    cli: CliRunner, db_url: str, db: psycopg.Connection
) -> None:
    load_seed_topics(db)
    ids = [publish_ukraine(db, n) for n in range(4)]
    with serve_api(db_url, api_feed_state_ttl=0) as base, httpx.Client(base_url=base, timeout=30) as api:
        before = {fmt: _updated(api, fmt) for fmt in ("atom", "json")}
        assert len(set(before["atom"].values())) == len(ids), "one distinct <updated> per entry"
        etag = api.get("/topics/ukraine-war.atom").headers["etag"]
        put_topic(db, "front-lines", any=["kharkiv"], min_score=1)  # every entry gains a category
        retag(cli)
        changed = api.get("/topics/ukraine-war.atom")
        assert changed.headers["etag"] != etag, "the document changed (categories), so its validator did"
        assert {fmt: _updated(api, fmt) for fmt in ("atom", "json")} == before

        # Extracted again with the same result (a reprocess): nothing a reader sees changed.
        stored = articles.get_article(db, ids[0])
        assert stored is not None
        fields = dataclasses.fields(articles.ArticleDraft)
        draft = articles.ArticleDraft(**{f.name: getattr(stored, f.name) for f in fields})
        with db.transaction():
            articles.upsert_draft(db, draft)
            articles.bump_cursor(db, [ids[0]])
        assert {fmt: _updated(api, fmt) for fmt in ("atom", "json")} == before
        # Extracted again with a new text: that entry, and only that one, is updated.
        with db.transaction():
            articles.upsert_draft(db, dataclasses.replace(draft, text=draft.text + "\nA correction was added."))
            articles.bump_cursor(db, [ids[0]])
        after = {fmt: _updated(api, fmt) for fmt in ("atom", "json")}
    for fmt in ("atom", "json"):
        moved = {k for k in before[fmt] if after[fmt][k] != before[fmt][k]}
        assert len(moved) == 1, fmt
        assert after[fmt][moved.pop()] > max(before[fmt].values())
