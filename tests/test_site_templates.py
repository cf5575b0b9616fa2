"""Site templates on a real PostgreSQL: pages counted once, bounded per host, safe under concurrent workers,
and the extract step drops a host's template lines once it has seen them on enough pages."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from harness.articles import publish_page
from shared.db import site_templates
from shared.db.site_templates import PageLines, load_templates, record_pages
from workers.stages.site_template import MIN_PAGES, line_hash, page_key

SIGN_OFF = "Volg ons ook op sociale media voor het laatste nieuws uit de regio en daarbuiten."
STORIES = [
    "De gemeenteraad heeft dinsdagavond besloten de parkeertarieven in het centrum vanaf volgend jaar fors te "
    "verhogen. De extra inkomsten gaan naar nieuwe fietspaden en een hogere frequentie van de tram.",
    "Door hevige regenval zijn in de nacht meerdere kelders en straten onder water gelopen. De brandweer was tot "
    "de ochtend bezig met het wegpompen van het water uit de getroffen gebouwen in drie wijken.",
    "Een fabrikant van onderdelen voor elektrische fietsen bouwt een nieuwe fabriek op het industrieterrein en wil "
    "binnen twee jaar ongeveer honderdvijftig mensen in dienst nemen, meldde de burgemeester donderdag.",
    "De bibliotheek gaat tijdens de examenperiode langer open, zodat scholieren en studenten in alle rust kunnen "
    "studeren. Vanaf maandag sluiten de deuren pas om middernacht, ook in het weekend.",
    "De thuisploeg won de wedstrijd dankzij een doelpunt in de laatste minuten van de tweede helft, tot grote "
    "vreugde van de ruim tienduizend toeschouwers die ondanks de kou naar het stadion waren gekomen.",
]


def _page(story: str) -> str:
    return (
        "<html lang='nl'><head><title>Nieuws</title></head><body><article><h1>Nieuws uit de stad</h1>"
        f"<p>{story}</p><p>{story.upper()}</p><p>{SIGN_OFF}</p></article></body></html>"
    )


def test_a_page_counts_once_and_a_line_becomes_template_on_enough_pages(db: psycopg.Connection) -> None:
    line = line_hash(SIGN_OFF)
    new_page = ("nieuws.example", page_key("https://nieuws.example/new"))
    for n in range(MIN_PAGES):
        assert load_templates(db, [new_page], MIN_PAGES) == {}
        page = PageLines("nieuws.example", page_key(f"https://nieuws.example/{n}"), [line, line_hash(STORIES[n])])
        assert record_pages(db, [page]) == 1
        assert record_pages(db, [page]) == 0  # a retry or a re-extraction counts nothing
    other = ("other.example", page_key("https://other.example/1"))
    assert load_templates(db, [new_page, other], MIN_PAGES) == {"nieuws.example": frozenset({line})}
    assert load_templates(db, [other], MIN_PAGES) == {}
    # Extracted again, a page that was counted does not count towards its own template.
    assert load_templates(db, [("nieuws.example", page_key("https://nieuws.example/0"))], MIN_PAGES) == {}


def test_both_tables_are_bounded_per_host(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_templates, "MAX_LINES", 10)
    monkeypatch.setattr(site_templates, "MAX_PAGES", 5)
    repeated = [line_hash(f"template line {i}") for i in range(3)]
    for n in range(40):
        keys = [*repeated, *(line_hash(f"page {n} line {i}") for i in range(4))]
        record_pages(db, [PageLines("big.example", page_key(f"https://big.example/{n}"), keys)])
    record_pages(db, [PageLines("small.example", page_key("https://small.example/1"), repeated)])
    site_templates.prune(db, ["big.example", "small.example"])
    counts = dict(db.execute("SELECT host, count(*) FROM site_template_lines GROUP BY host").fetchall())
    assert counts == {"big.example": 10, "small.example": 3}
    pages = dict(db.execute("SELECT host, count(*) FROM site_template_pages GROUP BY host").fetchall())
    assert pages == {"big.example": 5, "small.example": 1}
    # Pruning keeps the most repeated lines: the template survives it.
    assert load_templates(db, [("big.example", page_key("new"))], MIN_PAGES)["big.example"] == frozenset(repeated)


def _run_at_once(work: Callable[[psycopg.Connection, int], None], workers: int, db_url: str) -> None:
    """``work(conn, i)`` in ``workers`` threads at once, each with its own connection; any exception fails."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with psycopg.connect(db_url) as conn:
                work(conn, i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_workers_pruning_on_every_page_never_deadlock(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_templates, "PRUNE_EVERY", 1)
    monkeypatch.setattr(site_templates, "MAX_LINES", 15)
    shared = [line_hash(f"shared line {i}") for i in range(30)]

    def pages(conn: psycopg.Connection, offset: int) -> None:
        for n in range(25):
            keys = [*shared, *(line_hash(f"{offset} {n} {i}") for i in range(10))]
            with conn.transaction():
                record_pages(conn, [PageLines("busy.example", page_key(f"{offset}-{n}"), keys)])

    _run_at_once(pages, 3, db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT count(*) FROM site_template_lines").fetchone()
    assert rows is not None
    assert rows[0] <= 15 + 3 * 40  # pruned to the cap, give or take what concurrent pages added meanwhile


def test_concurrent_workers_count_every_page_exactly_once(db_url: str) -> None:
    shared = [line_hash(f"shared line {i}") for i in range(30)]

    def pages(conn: psycopg.Connection, offset: int) -> None:
        for n in range(20):
            # Lines in opposite orders in the two workers: the upsert sorts them, so no deadlock.
            keys = shared if offset % 2 else list(reversed(shared))
            with conn.transaction():
                record_pages(conn, [PageLines("busy.example", page_key(f"{offset}-{n}"), keys)])
                # Every page also recorded by the other worker: counted once between them.
                record_pages(conn, [PageLines("busy.example", page_key(f"both-{n}"), keys)])

    _run_at_once(pages, 2, db_url)
    with psycopg.connect(db_url) as conn:
        counts = {row[0] for row in conn.execute("SELECT pages FROM site_template_lines").fetchall()}
    assert counts == {20 + 20 + 20}  # 20 own pages per worker, 20 shared pages counted once


def test_the_extract_step_drops_a_line_the_host_printed_on_earlier_pages(db: psycopg.Connection) -> None:
    texts = []
    for n, story in enumerate(STORIES):
        article_id = publish_page(db, f"https://www.nieuws.example/stad/{n}", _page(story))
        row = db.execute("SELECT text FROM articles WHERE id = %s", (article_id,)).fetchone()
        assert row is not None
        texts.append(row[0])
    assert all(SIGN_OFF in text for text in texts[:MIN_PAGES])
    assert all(SIGN_OFF not in text and STORIES[n] in text for n, text in enumerate(texts) if n >= MIN_PAGES)
