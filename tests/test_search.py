"""Full-text search on a real PostgreSQL: each article indexed with its own language's stemming (English,
French, German, Russian), queries with and without a language, a topic filter, JSON and the page, and a
saved search followed as a feed. The index follows the publication cursor, off the publishing path."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser
import httpx
import psycopg
import pytest

from harness.articles import article_html, load_seed_topics, publish_page
from shared.db import search
from shared.db.articles import bump_cursor
from tests.support.api_server import serve_api
from workers.steps.search_index import index_new_articles

ARTICLES = {
    "en": (
        "Voters queue for the elections in Ohio",
        [
            "Long queues formed outside polling stations across Ohio on Tuesday as voters took part in the elections "
            "for the state legislature and several city councils.",
            "Officials said turnout was higher than four years ago, and that counting would continue overnight in the "
            "largest counties where postal ballots arrived late.",
            "Both parties urged supporters to stay in line until the polls closed at half past seven in the evening.",
        ],
    ),
    "fr": (
        "Les manifestations reprennent à Paris",
        [
            "Plusieurs dizaines de milliers de personnes ont défilé samedi à Paris et dans les grandes villes, où les "
            "manifestations contre la réforme des retraites ont repris après une pause de deux semaines.",
            "Les syndicats ont annoncé de nouvelles journées de mobilisation et demandent au gouvernement de retirer "
            "son projet, tandis que la police a compté moins de participants que lors du dernier rassemblement.",
            "Dans le cortège parisien, des enseignants, des cheminots et des étudiants marchaient côte à côte.",
        ],
    ),
    "de": (
        "Neue Häuser für Leipzig",
        [
            "Die Stadt Leipzig will in den kommenden Jahren mehrere hundert neue Häuser und Wohnungen bauen lassen, "
            "weil die Mieten in vielen Vierteln stark gestiegen sind.",
            "Der Stadtrat hat am Donnerstag einen Plan beschlossen, nach dem die Genehmigungen schneller "
            "erteilt werden sollen und städtische Grundstücke günstiger an Genossenschaften gehen.",
            "Kritiker bemängeln, dass die Projekte erst in einigen Jahren fertig werden und die Wohnungsnot "
            "nicht lösen.",
        ],
    ),
    "ru": (
        "Явка на выборах в Новосибирске",
        [
            "В Новосибирске в воскресенье завершились выборы в городской совет, и избирательная комиссия сообщила о "
            "явке выше, чем пять лет назад.",
            "Наблюдатели отметили длинные очереди на участках в центре города, а подсчет голосов продолжался всю ночь "
            "в крупных районах.",
            "Кандидаты от нескольких партий заявили, что будут ждать официальных итогов до конца недели.",
        ],
    ),
}


@pytest.fixture
def published(db: psycopg.Connection) -> dict[str, int]:
    load_seed_topics(db)
    ids = {}
    for lang, (title, paragraphs) in ARTICLES.items():
        html = article_html(title, paragraphs, lang=lang, site=f"Example {lang}")
        ids[lang] = publish_page(db, f"https://news.example/{lang}/1", html)
    languages = dict(db.execute("SELECT id, language FROM articles").fetchall())
    assert {languages[i] for i in ids.values()} == set(ARTICLES)
    assert search.search(db, "elections") == [], "nothing is searchable before the indexer ran"
    assert index_new_articles(db) == len(ARTICLES)
    return ids


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def found(db: psycopg.Connection, q: str, lang: str | None = None, topic: str | None = None) -> list[int]:
    return [h.article.id for h in search.search(db, q, language=lang, topic=topic)]


def test_each_language_is_stemmed_with_its_own_rules(db: psycopg.Connection, published: dict[str, int]) -> None:
    # Another form of the word than the article's: found through the article's language's stemmer.
    assert found(db, "election", "en") == [published["en"]]
    assert found(db, "manifestation", "fr") == [published["fr"]]
    assert found(db, "Haus", "de") == [published["de"]]  # "Häuser" in the article
    assert found(db, "выборы", "ru") == [published["ru"]]  # "выборах" in the title, "выборы" in the text
    # Without a language, the query is read in every language at once, each article checked in its own.
    assert found(db, "Haus") == [published["de"]]
    assert found(db, "manifestation") == [published["fr"]]
    # A language narrows the results, and the query is parsed with that language's rules.
    assert found(db, "Haus", "en") == []
    assert found(db, "manifestation", "de") == []
    # Web search syntax: a phrase, an exclusion, "or".
    assert found(db, '"polling stations"') == [published["en"]]
    assert found(db, '"stations polling"') == []
    assert sorted(found(db, "Leipzig or Paris")) == sorted([published["de"], published["fr"]])
    assert found(db, "Leipzig -Wohnungen") == []
    assert found(db, "the and of") == []  # stop words only: nothing, not everything


def test_the_index_follows_the_cursor_and_skips_unchanged_articles(
    db: psycopg.Connection, published: dict[str, int]
) -> None:
    assert index_new_articles(db) == 0  # caught up
    later = publish_page(db, "https://news.example/en/2", article_html("Recount ordered after Ohio elections", [
        "A judge ordered a recount in two Ohio districts after the elections, where fewer than fifty votes separated "
        "the candidates for the state senate seats.",
        "Election officials said the recount would start on Monday and take about a week to complete.",
    ]))  # fmt: skip
    assert found(db, "recount") == []
    assert index_new_articles(db) == 1
    assert found(db, "recount") == [later]
    documents = dict(db.execute("SELECT article_id, document::text FROM article_search").fetchall())
    db.execute("UPDATE articles SET title = 'Recount ordered in Ohio' WHERE id = %s", (later,))
    with db.transaction():
        bump_cursor(db, [*list(published.values()), later])  # a retag: same content, new cursors
    assert index_new_articles(db) == len(published) + 1
    after = dict(db.execute("SELECT article_id, document::text FROM article_search").fetchall())
    assert {a for a in after if after[a] != documents[a]} == {later}  # only the changed one was recomputed


def test_search_over_http_as_json_and_as_a_page(api: httpx.Client, published: dict[str, int]) -> None:
    r = api.get("/search", params={"q": "elections"})
    assert r.status_code == 200
    body = r.json()
    (hit,) = body["results"]
    assert hit["id"] == published["en"]
    assert "text" not in hit
    assert "elections" in hit["snippet"]
    assert hit["rank"] > 0
    assert body["next_offset"] is None
    assert api.get("/search", params={"q": "elections", "lang": "fr"}).json()["results"] == []
    assert api.get("/search", params={"q": "Kharkiv", "topic": "ukraine-war"}).json()["results"] == []
    page = api.get("/search", params={"q": "Häuser"}, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["content-type"].startswith("text/html")
    assert "<mark>Häuser</mark>" in page.text
    assert 'href="/search.atom?q=H%C3%A4user"' in page.text
    assert api.get("/search", headers={"Accept": "text/html"}).status_code == 200  # the empty form
    # One content negotiation for every route (api/pages.py, prefers_html): weights decide, not the order.
    for accept, kind in (
        ("text/html;q=0.1, application/json", "application/json"),
        ("application/json;q=0.5, text/html", "text/html"),
        ("*/*", "application/json"),
    ):
        got = api.get("/search", params={"q": "Häuser"}, headers={"Accept": accept}).headers["content-type"]
        assert got.startswith(kind), (accept, got)
    for bad in ({}, {"q": "  "}, {"q": "x", "lang": "french"}, {"q": "x", "limit": "0"}, {"q": "x" * 201}):
        assert api.get("/search", params=bad).status_code == 422, bad


def test_a_saved_search_is_a_feed(api: httpx.Client, db: psycopg.Connection, published: dict[str, int]) -> None:
    r = api.get("/search.atom", params={"q": "elections"})
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0
    assert parsed.feed.title == "Search: elections · newsmill"
    assert [e.link for e in parsed.entries] == ["https://news.example/en/1"]
    assert (
        api.get("/search.atom", params={"q": "elections"}, headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    publish_page(db, "https://news.example/en/3", article_html("Ohio elections: turnout record", [
        "Turnout in the Ohio elections reached a record for a midterm year, the secretary of state said on Friday, "
        "with more than four million ballots counted so far.",
        "Officials credited early voting and longer opening hours at polling stations in the larger cities.",
    ]))  # fmt: skip
    index_new_articles(db)
    fresh = api.get("/search.atom", params={"q": "elections"}, headers={"If-None-Match": r.headers["etag"]})
    assert fresh.status_code == 200
    assert [e.link for e in feedparser.parse(fresh.content).entries] == [
        "https://news.example/en/3", "https://news.example/en/1"]  # fmt: skip
    items = api.get("/search.json", params={"q": "manifestation", "lang": "fr"}).json()["items"]
    assert [i["_newsmill"]["article_id"] for i in items] == [published["fr"]]
    assert feedparser.parse(api.get("/search.rss", params={"q": "выборы"}).content).entries[0].link.endswith("/ru/1")
