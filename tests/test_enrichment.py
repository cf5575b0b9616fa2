"""The enrich step on real Postgres: language, duplicates and topics land together with publication."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg.pq import TransactionStatus

from harness.articles import article_html, load_seed_topics, publish_page
from shared.db import articles, dedup_index, items
from shared.db.items import ItemState
from shared.settings import Settings
from tests.conftest import FIXTURES
from workers.stages.dedup import Shingles, fingerprint_text, shingle_text
from workers.steps.duplicates import RECENT, DuplicateFinder, find_duplicate
from workers.steps.enrich import enrich_step
from workers.steps.publish import ToPublish, enrich_text, publish_batch

SEED_PAGE = (FIXTURES / "seed" / "seed_page.html").read_bytes()


def _page_of(text_file: str, site: str) -> str:
    """A page on another site: the file's first line is the headline, the rest the body, plus boilerplate."""
    headline, *paragraphs = (FIXTURES / "dedup" / text_file).read_text(encoding="utf-8").splitlines()
    page = article_html(headline, [p for p in paragraphs if p.strip()], site=site, lang="fr")
    return page.replace("</article>", "</article><footer><p>Abonnez-vous à notre lettre d’information</p></footer>")


def _published(db: psycopg.Connection, article_id: int) -> tuple[str, int | None, float | None, int | None, list[str]]:
    row = db.execute(
        "SELECT language, duplicate_of, similarity, cursor, topics FROM newsmill.articles_published WHERE id = %s",
        (article_id,),
    ).fetchone()
    assert row is not None, "article not visible in the published view"
    return row


def test_seed_is_french_tagged_and_its_syndicated_copy_points_at_it(db: psycopg.Connection) -> None:
    load_seed_topics(db)
    seed = publish_page(db, "http://lqm.example/monde/biden.html", SEED_PAGE)
    copy = publish_page(db, "http://wire.example/kiev-missiles.html", _page_of("seed_syndicated.txt", "Le Fil"))
    other = publish_page(db, "http://autre.example/feu-vert.html", _page_of("same_event.txt", "L'Autre Journal"))

    language, duplicate_of, _, cursor, topics = _published(db, seed)
    assert (language, duplicate_of, cursor) == ("fr", None, 1)
    assert {"ukraine-war", "russia", "north-korea", "us-politics"} <= set(topics)
    assert not {"sport", "economy", "climate"} & set(topics)

    _, copy_of, similarity, _, _ = _published(db, copy)
    assert copy_of == seed
    assert similarity is not None
    assert similarity >= Settings().dedup_threshold

    # Same event, same names, different reporting: not a duplicate.
    assert _published(db, other)[1] is None


def test_short_text_gets_und_or_the_page_hint_never_a_guess(db: psycopg.Connection) -> None:
    brief = publish_page(db, "http://x.example/brief.html", article_html("OK", ["Ok. 12:30. Photo: AFP."] * 2))
    assert _published(db, brief)[0] in {"und", "en"}  # the page says lang="en": a hint may decide, nothing else
    row = db.execute("SELECT language_source FROM articles WHERE id = %s", (brief,)).fetchone()
    assert row is not None
    assert row[0] in {"none", "page"}


def test_a_second_delivery_of_the_same_item_changes_nothing(db: psycopg.Connection) -> None:
    article_id = publish_page(db, "http://x.example/a.html", article_html("Harbour", ["The harbour reopened. " * 20]))
    article = articles.get_article(db, article_id)
    assert article is not None
    step = enrich_step(db, [article.item_id], Settings(), datetime.now(UTC))
    assert step.outcomes == {"skipped": 1}
    again = articles.get_article(db, article_id)
    assert again is not None
    assert again.cursor == article.cursor == 1


def test_two_copies_enriched_at_once_make_one_original(db_url: str, db: psycopg.Connection) -> None:
    """Without serialising the duplicate decision, each copy would miss the other and both become originals."""
    pages = [
        ("http://a.example/copy.html", _page_of("seed_syndicated.txt", "Site A")),
        ("http://b.example/copy.html", _page_of("seed_syndicated.txt", "Site B").replace("Le président", "Le chef")),
    ]
    ids: list[int] = []
    for url, html in pages:  # extracted, not yet enriched
        ids.append(publish_page(db, url, html))
    # Put both back to "extracted" and unpublished, then enrich them concurrently.
    db.execute("UPDATE articles SET cursor = NULL, duplicate_of = NULL, similarity = NULL")
    db.execute("DELETE FROM dedup_bands")
    db.execute("UPDATE items SET state = 'extracted'")
    item_ids = [int(r[0]) for r in db.execute("SELECT item_id FROM articles ORDER BY id")]
    barrier = threading.Barrier(len(item_ids))

    def enrich(item_id: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            enrich_step(conn, [item_id], Settings(), datetime.now(UTC))

    threads = [threading.Thread(target=enrich, args=(i,)) for i in item_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    originals = db.execute("SELECT count(*) FROM newsmill.articles_published WHERE duplicate_of IS NULL").fetchone()
    assert originals == (1,)
    assert [items.get_item(db, i).state for i in item_ids] == [ItemState.PUBLISHED] * 2  # type: ignore[union-attr]


def _two_unpublished_copies(db: psycopg.Connection) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two copies of one story, stored and extracted but not published and not indexed: (item id, article id)
    of A, then of B."""
    for url, html in [
        ("http://a.example/copy.html", _page_of("seed_syndicated.txt", "Site A")),
        ("http://b.example/copy.html", _page_of("seed_syndicated.txt", "Site B").replace("Le président", "Le chef")),
    ]:
        publish_page(db, url, html)
    db.execute("UPDATE articles SET cursor = NULL, duplicate_of = NULL, similarity = NULL")
    db.execute("DELETE FROM dedup_bands")
    db.execute("UPDATE items SET state = 'extracted'")
    a, b = db.execute("SELECT item_id, id FROM articles ORDER BY id").fetchall()
    return (a[0], a[1]), (b[0], b[1])


def _a_waits_for_the_lock_while_b_publishes(
    db: psycopg.Connection, db_url: str, publish_a: Callable[[psycopg.Connection], object], item_b: int
) -> None:
    """The forced interleaving: B takes the publication lock; A (``publish_a`` on its own connection, in a
    thread) runs until its backend waits for that lock; then B publishes its copy and commits, and A goes on."""
    backend: list[int] = []

    def run_a() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            backend.append(conn.info.backend_pid)
            publish_a(conn)

    with psycopg.connect(db_url, autocommit=True) as conn_b:
        with conn_b.transaction():
            articles.lock_publication(conn_b)
            thread = threading.Thread(target=run_a)
            thread.start()
            deadline = time.monotonic() + 10
            while not db.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'", (backend,)
            ).fetchone():
                assert time.monotonic() < deadline, "A never waited for the publication lock"
                time.sleep(0.01)
            enrich_step(conn_b, [item_b], Settings(), datetime.now(UTC))  # B's copy, committed below
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_copy_published_while_a_batch_waits_for_the_lock_makes_it_retry_as_a_copy(
    db_url: str, db: psycopg.Connection
) -> None:
    """A queued batch (workers/steps/publish.py) decides without the lock; a copy of its story published
    between that decision and the sequencer must have it sent back and published again as that copy's
    duplicate. The interleaving is forced: B holds the lock until A's sequencer call waits for it."""
    (item_a, article_a), (item_b, article_b) = _two_unpublished_copies(db)
    retries_before = REGISTRY.get_sample_value("newsmill_publish_retries_total") or 0.0
    _a_waits_for_the_lock_while_b_publishes(
        db, db_url, lambda conn: enrich_step(conn, [item_a], Settings(), datetime.now(UTC)), item_b
    )
    rows = db.execute("SELECT id, duplicate_of, cursor FROM newsmill.articles_published ORDER BY cursor").fetchall()
    assert [(i, d) for i, d, _ in rows] == [(article_b, None), (article_a, article_b)]
    assert rows[1][2] == rows[0][2] + 1  # the setup published them once: the counter goes on from there
    assert REGISTRY.get_sample_value("newsmill_publish_retries_total") == retries_before + 1


def test_inside_a_caller_s_transaction_the_recheck_under_the_lock_catches_a_copy_published_meanwhile(
    db_url: str, db: psycopg.Connection
) -> None:
    """The careful path (publish_batch inside the caller's transaction): A decides before B's copy commits,
    then waits for the lock B holds; under the lock A rechecks what was published meanwhile and publishes
    as B's duplicate, not as a second original."""
    (item_a, article_a), (item_b, article_b) = _two_unpublished_copies(db)
    (title, text) = db.execute("SELECT title, text FROM articles WHERE id = %s", (article_a,)).fetchone()  # type: ignore[misc]
    s = Settings()
    enriched = enrich_text(title, text, page_language=None, entry_language=None, rules=[], s=s)

    def publish_a(conn: psycopg.Connection) -> None:
        def write() -> list[ToPublish]:
            items.advance_many(conn, [item_a], ItemState.EXTRACTED, ItemState.PUBLISHED, datetime.now(UTC))
            return [ToPublish(article_a, item_a, enriched)]

        with conn.transaction():
            publish_batch(conn, write, {}, s)

    _a_waits_for_the_lock_while_b_publishes(db, db_url, publish_a, item_b)
    rows = db.execute("SELECT id, duplicate_of FROM newsmill.articles_published ORDER BY cursor").fetchall()
    assert rows == [(article_b, None), (article_a, article_b)]
    # Indexed as an original before the lock, A left the index when the recheck made it a copy (it is not
    # longer than B, so not a member of the story either).
    assert db.execute("SELECT count(*) FROM dedup_bands WHERE article_id = %s", (article_a,)).fetchone() == (0,)


def test_a_failed_publication_rolls_back_and_leaves_the_connection_usable(db: psycopg.Connection) -> None:
    """An error inside the queueing transaction, from the database or from our code, must roll everything
    back and hand the pooled connection back idle."""
    publish_page(db, "http://a.example/copy.html", _page_of("seed_syndicated.txt", "Site A"))
    db.execute("UPDATE articles SET cursor = NULL")
    db.execute("UPDATE items SET state = 'extracted'")
    (item_id,) = db.execute("SELECT item_id FROM articles").fetchone()

    def move_then(fail: Callable[[], object]) -> Callable[[], list[ToPublish]]:
        def write() -> list[ToPublish]:
            items.advance_many(db, [item_id], ItemState.EXTRACTED, ItemState.PUBLISHED, datetime.now(UTC))
            fail()
            return []

        return write

    def bad_sql() -> object:
        return db.execute("SELECT * FROM no_such_table").fetchall()

    def bug() -> object:
        raise RuntimeError("a bug in a step")

    for fail, error in ((bad_sql, psycopg.errors.UndefinedTable), (bug, RuntimeError)):
        with pytest.raises(error):
            publish_batch(db, move_then(fail), {}, Settings())
        assert db.info.transaction_status == TransactionStatus.IDLE
        assert items.get_item(db, item_id).state == ItemState.EXTRACTED  # type: ignore[union-attr]
    assert db.execute("SELECT count(*) FROM articles WHERE cursor IS NOT NULL").fetchone() == (0,)


@pytest.fixture
def forgetful() -> Iterator[None]:
    """This process's recent shingles forgotten before and after: as if another worker published the original
    (and what the test made it remember of altered rows does not leak into later tests)."""
    RECENT.clear()
    yield
    RECENT.clear()


@pytest.mark.usefixtures("forgetful")
def test_an_original_s_shingles_are_stored_and_a_copy_is_scored_on_them(db: psycopg.Connection) -> None:
    """A worker that did not publish the original reads its shingles back instead of shingling its text: the
    stored row stands for the text it was taken from (same content hash) and only for that one."""
    seed = publish_page(db, "http://lqm.example/monde/biden.html", SEED_PAGE)
    stored = db.execute(
        "SELECT s.mode, s.token_count, s.hashes FROM dedup_shingles s JOIN articles a "
        "ON a.id = s.article_id AND a.content_hash = s.content_hash WHERE a.id = %s",
        (seed,),
    ).fetchone()
    assert stored is not None, "the original's shingles were not stored"
    text = db.execute("SELECT text FROM articles WHERE id = %s", (seed,)).fetchone()
    assert text is not None
    assert Shingles.from_bytes(*stored) == shingle_text(text[0])

    # Another process (nothing recent in memory), and a stored text that no longer resembles the copy: the
    # row of shingles, still for the same content hash, does, and the copy is confirmed on it.
    copy = fingerprint_text((FIXTURES / "dedup" / "seed_syndicated.txt").read_text(encoding="utf-8"))
    threshold = Settings().dedup_threshold
    db.execute("UPDATE articles SET text = 'Un autre texte, sans rapport.' WHERE id = %s", (seed,))
    RECENT.clear()
    match = find_duplicate(db, copy, threshold)
    assert match is not None
    assert match.original_id == seed

    # A row for an older text (another hash) is not trusted: the text is shingled again, and shares nothing.
    db.execute("UPDATE dedup_shingles SET content_hash = 'older' WHERE article_id = %s", (seed,))
    RECENT.clear()
    assert find_duplicate(db, copy, threshold) is None


@pytest.mark.usefixtures("forgetful")
def test_the_recheck_under_the_lock_scores_on_stored_shingles_too(db: psycopg.Connection) -> None:
    """The original was published by another worker after this batch decided (the recheck's case): it is
    scored on its stored shingles, not on its stored text, which here no longer resembles the copy."""
    seed = publish_page(db, "http://lqm.example/monde/biden.html", SEED_PAGE)
    (seed_cursor,) = db.execute("SELECT cursor FROM articles WHERE id = %s", (seed,)).fetchone()  # type: ignore[misc]
    db.execute("UPDATE articles SET text = 'Un autre texte, sans rapport.' WHERE id = %s", (seed,))
    RECENT.clear()
    copy = fingerprint_text((FIXTURES / "dedup" / "seed_syndicated.txt").read_text(encoding="utf-8"))
    finder = DuplicateFinder(db, [(seed + 1000, copy)], Settings().dedup_threshold)
    [match] = finder.recheck(seed_cursor - 1, [None])
    assert match is not None
    assert match.original_id == seed
    assert not match.exact


def test_a_copy_leaving_the_index_takes_its_shingles_along(db: psycopg.Connection) -> None:
    article_id = publish_page(db, "http://x.example/a.html", article_html("Harbour", ["The harbour reopened. " * 20]))
    assert db.execute("SELECT count(*) FROM dedup_shingles WHERE article_id = %s", (article_id,)).fetchone() == (1,)
    dedup_index.unindex_articles(db, [article_id])
    assert db.execute("SELECT count(*) FROM dedup_shingles WHERE article_id = %s", (article_id,)).fetchone() == (0,)
