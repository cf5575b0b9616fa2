"""Topics on a real PostgreSQL: loading YAML, stored tags with their evidence, re-tagging after a rule change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from cli.durations import parse_age
from cli.topics import app
from shared.db import article_topics, topics
from shared.db.article_topics import NewTag
from shared.db.articles import bump_cursor
from shared.settings import get_settings
from tests.support.http_server import Response, serve
from tests.test_topics import SEED_TEXT, SEED_TITLE

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "seeds" / "topics.yaml"
SMALL = """
topics:
  - slug: ukraine-war
    name: War in Ukraine
    all: [[ukrain*, kyiv]]
    any: [guerre, war, missile*]
  - slug: sport
    name: Sport
    any: [football, tennis]
    languages: [fr, en]
"""


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use the test database (settings are cached: cleared around the test)."""
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    monkeypatch.setenv("NEWSMILL_ALLOW_PRIVATE_HOSTS", "true")  # `topics test URL` on the local test server
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def add_article(
    db: psycopg.Connection, title: str, text: str, language: str = "fr", age: timedelta | None = None
) -> int:
    """An item and its article, as the pipeline leaves them before publication."""
    url = f"https://news.example/{abs(hash((title, text)))}"
    fetched_at = datetime.now(UTC) - (age or timedelta(0))
    row = db.execute("INSERT INTO items (url, canonical_url) VALUES (%s, %s) RETURNING id", (url, url)).fetchone()
    assert row is not None
    row = db.execute(
        """
        INSERT INTO articles (item_id, url, canonical_url, title, text, word_count, content_hash, fetched_at, language)
        VALUES (%s, %s, %s, %s, %s, %s, md5(%s), %s, %s) RETURNING id
        """,
        (row[0], url, url, title, text, len(text.split()), text, fetched_at, language),
    ).fetchone()
    assert row is not None
    return int(row[0])


def cursor_of(db: psycopg.Connection, article_id: int) -> int | None:
    row = db.execute("SELECT cursor FROM articles WHERE id = %s", (article_id,)).fetchone()
    assert row is not None
    return row[0]


def slugs_of(db: psycopg.Connection, article_id: int) -> set[str]:
    return {t.slug for t in article_topics.tags_of_article(db, article_id)}


def test_loading_twice_is_an_upsert(cli: CliRunner, db: psycopg.Connection, tmp_path: Path) -> None:
    first = run(cli, "load", str(STARTER))
    assert "0 updated, 0 unchanged" in first.output
    before = {r.slug: (r.id, r.updated_at) for r in topics.all_topics(db)}
    assert len(before) >= 13
    assert f"0 created, 0 updated, {len(before)} unchanged" in run(cli, "load", str(STARTER)).output
    assert {r.slug: (r.id, r.updated_at) for r in topics.all_topics(db)} == before

    edited = tmp_path / "topics.yaml"
    edited.write_text(SMALL, encoding="utf-8")
    assert "0 created, 2 updated, 0 unchanged" in run(cli, "load", str(edited)).output
    sport = topics.get_topic(db, "sport")
    assert sport is not None
    assert (sport.id, sport.rules["any"], sport.rules["languages"]) == (
        before["sport"][0],
        ["football", "tennis"],
        ["en", "fr"],
    )


def test_a_bad_file_is_refused_with_the_faulty_topic_named(
    cli: CliRunner, db: psycopg.Connection, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL + "  - slug: broken\n    name: Broken\n    any: ['*oops']\n", encoding="utf-8")
    result = cli.invoke(app, ["load", str(bad)])
    assert result.exit_code == 2
    assert "broken" in result.output
    assert topics.all_topics(db) == []


def test_tags_are_stored_with_score_and_matched_terms(cli: CliRunner, db: psycopg.Connection) -> None:
    run(cli, "load", str(STARTER))
    seed = add_article(db, SEED_TITLE, SEED_TEXT)
    assert "re-tagged 1 articles" in run(cli, "retag").output
    stored = {t.slug: t for t in article_topics.tags_of_article(db, seed)}
    assert set(stored) >= {"ukraine-war", "russia", "north-korea", "us-politics"}
    assert not set(stored) & {"sport", "economy", "climate"}
    war = stored["ukraine-war"]
    assert war.score >= 4
    assert {"term": "ukrain*", "title": 1, "body": 12, "points": 5.0} in war.matched_terms
    listed = {s.slug: s.article_count for s in topics.list_topics(db)}
    assert (listed["ukraine-war"], listed["sport"]) == (1, 0)
    table = run(cli, "list").output
    assert "War in Ukraine" in table


def test_retag_after_a_rule_change(cli: CliRunner, db: psycopg.Connection, tmp_path: Path) -> None:
    small = tmp_path / "topics.yaml"
    small.write_text(SMALL, encoding="utf-8")
    run(cli, "load", str(small))
    published = add_article(db, "L'Ukraine et la guerre", "Un match de football à Kyiv malgré la guerre.")
    pending = add_article(db, "Tennis", "Un tournoi de tennis en Ukraine, et du tennis encore.")
    old = add_article(db, "Kyiv", "La guerre en Ukraine, missiles.", age=timedelta(days=30))
    bump_cursor(db, [published])  # as if the pipeline had published it
    run(cli, "retag")
    assert slugs_of(db, published) == {"ukraine-war"}  # one body hit of "football": 1 < min_score 3
    assert slugs_of(db, pending) == {"sport"}
    first_cursor = cursor_of(db, published)

    run(cli, "retag")  # nothing changed: no article reappears to readers
    assert cursor_of(db, published) == first_cursor

    small.write_text(SMALL.replace("[football, tennis]", "[football, tennis]\n    min_score: 1"), encoding="utf-8")
    run(cli, "load", str(small))
    db.execute("DELETE FROM topics WHERE slug = 'ukraine-war'")  # its tags go with it
    assert "re-tagged 2 articles" in run(cli, "retag", "--since", "7d", "--batch-size", "1").output
    assert slugs_of(db, published) == {"sport"}
    assert cursor_of(db, published) > first_cursor  # re-tagged: readers see it again
    assert cursor_of(db, pending) is None  # re-tagging never publishes an article
    assert slugs_of(db, old) == set()  # outside --since: untouched (its tag went with the topic)


def test_replace_tags_reports_only_changes_of_topics(cli: CliRunner, db: psycopg.Connection, tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(SMALL, encoding="utf-8")
    run(cli, "load", str(tmp_path / "t.yaml"))
    war = topics.get_topic(db, "ukraine-war")
    assert war is not None
    a, b = add_article(db, "a", "a"), add_article(db, "b", "b")
    terms = [{"term": "war", "title": 0, "body": 1, "points": 1.0}]
    with db.transaction():
        assert article_topics.replace_tags(db, [a, b], [NewTag(a, war.id, 4.0, terms)]) == [a]
    assert article_topics.replace_tags(db, [a, b], [NewTag(a, war.id, 4.0, terms)]) == []
    assert article_topics.replace_tags(db, [a], [NewTag(a, war.id, 6.5, [])]) == []  # new score, same topics
    assert article_topics.tags_of_article(db, a)[0].score == 6.5
    assert article_topics.replace_tags(db, [a], []) == [a]
    assert article_topics.tags_of_article(db, a) == []


def test_topics_test_shows_the_evidence(cli: CliRunner, db: psycopg.Connection) -> None:
    run(cli, "load", str(STARTER))
    seed = ROOT / "seeds" / "000_1f54b0fcd0170c75.expected.txt"
    out = run(cli, "test", "ukraine-war", str(seed), "--title", SEED_TITLE, "--lang", "fr").output
    assert "ukrain*" in out
    assert "title+body" in out
    assert "score 30 (min_score 4): tagged" in out
    out = run(cli, "test", "sport", str(seed)).output  # language detected from the text
    assert "language fr" in out
    assert "score 0 (min_score 3): not tagged: none of the 'any' terms" in out
    page = ROOT / "tests" / "fixtures" / "pages" / "larepublica.net-hackers.html"
    out = run(cli, "test", "technology", str(page)).output
    assert "hacker*" in out
    assert "(min_score 3): tagged" in out
    with serve() as site:
        url = site.add("/hackers", Response(page.read_bytes(), headers={"Content-Type": "text/html; charset=utf-8"}))
        out = run(cli, "test", "technology", url).output
    assert "(min_score 3): tagged" in out
    missing = cli.invoke(app, ["test", "no-such-topic", str(seed)])
    assert missing.exit_code == 1


@pytest.mark.parametrize(("value", "expected"), [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)),
                                                 ("7d", timedelta(days=7)), (" 2W ", timedelta(weeks=2))])  # fmt: skip
def test_parse_age(value: str, expected: timedelta) -> None:
    assert parse_age(value) == expected


def test_parse_age_refuses_nonsense() -> None:
    with pytest.raises(Exception, match="not an age"):
        parse_age("7 days")


def test_the_rules_fingerprint_sees_an_edit_committed_after_a_newer_one(db_url: str, db: psycopg.Connection) -> None:
    topics.upsert_topic(db, "alpha", "Alpha", None, {"any": ["alpha"]})
    topics.upsert_topic(db, "beta", "Beta", None, {"any": ["beta"]})
    with psycopg.connect(db_url) as slow:  # not autocommit: its transaction, and its now(), start here
        slow.execute("SELECT 1")
        topics.upsert_topic(db, "beta", "Beta", None, {"any": ["beta", "bêta"]})  # later, committed first
        seen = topics.fingerprint(db)  # what a worker caches its compiled rules under
        topics.upsert_topic(slow, "alpha", "Alpha", None, {"any": ["alpha", "alfa"]})  # older timestamp
        slow.commit()
    assert topics.fingerprint(db) != seen  # so workers reload and see alpha's new rules
