"""The article read API: cursor pagination returns every row once, filters, 404/422, hostile parameters."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from harness.articles import article_html, publish_page
from shared.db.articles import bump_cursor
from tests.support.api_data import Corpus, publish_corpus
from tests.support.api_server import serve_api

HOSTILE_VALUES = [
    "'; DROP TABLE articles; --",
    "1 OR 1=1",
    "ukraine-war' OR '1'='1",
    "\u202eraw\u202c",  # right-to-left override
    "ukraine\u200bwar",  # zero-width space
    "ｕｋｒａｉｎｅ－ｗａｒ",  # fullwidth lookalike
    "🇺🇦",
    "%00",
    "\ud7ff\ue000",
    "x" * 5000,
]


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


def _publish_many(db: psycopg.Connection, n: int) -> set[int]:
    ids = set()
    for i in range(n):
        words = " ".join(f"w{i}x{j}" for j in range(60))  # distinct texts: no two are duplicates
        html = article_html(f"Article {i}", [f"Paragraph one of article {i}. {words}", f"Closing {i} {words}"])
        ids.add(publish_page(db, f"https://many.example/{i}", html))
    return ids


def test_pagination_returns_every_row_once(api: httpx.Client, db: psycopg.Connection) -> None:
    published = _publish_many(db, 7)
    seen: list[int] = []
    cursors: list[int] = []
    after, pages = 0, 0
    while True:
        body = api.get("/articles", params={"after": after, "limit": 2}).json()
        pages += 1
        if not body["articles"]:
            assert body["next_cursor"] == after  # an empty page keeps the cursor
            break
        seen += [a["id"] for a in body["articles"]]
        cursors += [a["cursor"] for a in body["articles"]]
        assert body["next_cursor"] == body["articles"][-1]["cursor"]
        after = body["next_cursor"]
    assert pages == 5  # 2+2+2+1, then the empty page
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == published
    assert cursors == sorted(cursors)
    # A re-tagged article moves to a new cursor: a client continuing from its last cursor sees it again.
    moved = seen[0]
    with db.transaction():
        bump_cursor(db, [moved])
    assert [a["id"] for a in api.get("/articles", params={"after": after}).json()["articles"]] == [moved]


def test_article_fields_and_filters(api: httpx.Client, corpus: Corpus) -> None:
    article = api.get(f"/articles/{corpus.seed_id}").json()
    assert set(article) == {
        "id", "url", "canonical_url", "site", "feed_id", "feed_url", "title", "author", "published_at",
        "fetched_at", "language", "language_probability", "text", "word_count", "content_hash", "duplicate_of",
        "similarity", "topics", "cursor", "updated_at",
    }  # fmt: skip
    assert article["site"] == "Le Quotidien du Monde"
    assert article["published_at"].startswith("2024-11-17T")
    copy = api.get(f"/articles/{corpus.copy_id}").json()
    assert copy["duplicate_of"] == corpus.seed_id
    english = api.get("/articles", params={"lang": "en"}).json()["articles"]
    assert {a["id"] for a in english} == {corpus.hostile_id, corpus.english_id}
    korea = api.get("/articles", params={"topic": "north-korea"}).json()["articles"]
    assert {a["id"] for a in korea} == {corpus.seed_id, corpus.copy_id}
    assert api.get("/articles", params={"topic": "climate"}).json() == {"articles": [], "next_cursor": 0}
    assert api.get("/articles/999999").status_code == 404
    for params in ({"limit": 0}, {"limit": 501}, {"after": -1}, {"after": "abc"}, {"after": 2**63}, {"lang": "xx1"}):
        assert api.get("/articles", params=params).status_code == 422, params
    for bad_id in ("0", "abc", "1.5", str(2**63)):
        assert api.get(f"/articles/{bad_id}").status_code == 422, bad_id


def _counts(db: psycopg.Connection) -> tuple[int, ...]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM topics), (SELECT count(*) FROM feeds),"
        " (SELECT count(*) FROM article_topics), (SELECT max(cursor) FROM articles)"
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_query_values_change_nothing(
    api: httpx.Client, corpus: Corpus, db: psycopg.Connection, value: str
) -> None:
    before = _counts(db)
    answers = [
        api.get("/articles", params={"topic": value}),
        api.get("/articles", params={"lang": value}),
        api.get("/articles", params={"after": value}),
        api.get("/topics/ukraine-war.atom", params={"lang": value}),
        api.get("/topics/ukraine-war.rss", params={"since": value}),
        api.get(f"/topics/{value}.json"),
        api.get(f"/topics/{value}"),
        api.get(f"/read/{value}"),
    ]
    for r in answers:
        # Refused or not found; never a server error, never a page of data for a value that is not a slug.
        assert r.status_code in (404, 422), (r.request.url, r.status_code, r.text[:200])
    assert _counts(db) == before
    assert api.get("/articles", params={"limit": 500}).json()["articles"]  # the table is still there
