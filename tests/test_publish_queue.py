"""Publication in two steps (workers/steps/publish.py, migration 0019): batches queued without a lock, given
cursors by the sequencer; a publisher that dies in between loses nothing, a stale decision is sent back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from cli.idle import remaining
from harness.articles import article_html, publish_page
from scheduler.sweeper import publish_leftovers
from shared.db import articles, items, publish_queue
from shared.db.items import ItemState
from shared.settings import Settings
from tests.conftest import FIXTURES
from workers.steps.enrich import enrich_step
from workers.steps.publish import ToPublish, enrich_text, publish_batch, queue

HEADLINE, *BODY = (FIXTURES / "dedup" / "seed_syndicated.txt").read_text(encoding="utf-8").splitlines()


def _unpublished(db: psycopg.Connection, sites: list[str]) -> list[tuple[int, int]]:
    """Pages of one story (the seed text, a word changed per site), extracted and stored but not published,
    not indexed: (item id, article id) each, in order."""
    for n, site in enumerate(sites):
        body = [p.replace("Le président", f"Le président ({site})") if n else p for p in BODY if p.strip()]
        publish_page(db, f"http://{site}/copy.html", article_html(HEADLINE, body, site=site, lang="fr"))
    db.execute("UPDATE articles SET cursor = NULL, first_cursor = NULL, duplicate_of = NULL, similarity = NULL")
    db.execute("DELETE FROM dedup_bands")
    db.execute("DELETE FROM dedup_shingles")
    db.execute("UPDATE items SET state = 'extracted'")
    return [(int(i), int(a)) for i, a in db.execute("SELECT item_id, id FROM articles ORDER BY id").fetchall()]


def _queue_and_die(db: psycopg.Connection, item_id: int, article_id: int) -> None:
    """What a publisher does before it is killed between its commit and the sequencer: items moved, batch
    decided, indexed and queued, committed."""
    (title, text) = db.execute("SELECT title, text FROM articles WHERE id = %s", (article_id,)).fetchone()  # type: ignore[misc]
    s = Settings()
    enriched = enrich_text(title, text, page_language=None, entry_language=None, rules=[], s=s)
    with db.transaction():
        items.advance_many(db, [item_id], ItemState.EXTRACTED, ItemState.PUBLISHED, datetime.now(UTC))
        queue(db, [ToPublish(article_id, item_id, enriched)], {}, s)


def _visible(db: psycopg.Connection) -> list[tuple[int, int | None]]:
    """(id, duplicate_of) of the published articles in cursor order; and the cursors are the counter's last."""
    rows = db.execute("SELECT id, duplicate_of, cursor FROM newsmill.articles_published ORDER BY cursor").fetchall()
    last = articles.published_up_to(db)
    assert [c for _, _, c in rows] == list(range(last - len(rows) + 1, last + 1))
    return [(int(i), d) for i, d, _ in rows]


def test_a_batch_left_queued_is_invisible_pending_and_published_by_the_sweeper(db: psycopg.Connection) -> None:
    [(item, article)] = _unpublished(db, ["a.example"])
    _queue_and_die(db, item, article)
    assert _visible(db) == []
    assert items.get_item(db, item).state == ItemState.PUBLISHED  # type: ignore[union-attr]
    now = datetime.now(UTC)
    left = remaining(db, [], now - timedelta(minutes=1), now)
    assert (left.queued, left.pending) == (1, 1)  # `run --until-idle` waits for it
    assert "batches awaiting publication: 1" in left.progress()

    assert publish_leftovers(db, now, Settings()) == 1
    assert _visible(db) == [(article, None)]
    assert publish_queue.queued_count(db) == 0
    assert remaining(db, [], now - timedelta(minutes=1), now).pending == 0
    assert publish_leftovers(db, now, Settings()) == 0  # nothing queued: no lock taken, nothing written


def test_the_next_publisher_publishes_a_dead_publisher_s_batch_first(db: psycopg.Connection) -> None:
    """Cursor order is sequencing order: the batch queued first gets the lower cursor, and the copy published
    after it is its duplicate."""
    (item_a, article_a), (item_b, article_b) = _unpublished(db, ["a.example", "b.example"])
    _queue_and_die(db, item_a, article_a)
    enrich_step(db, [item_b], Settings(), datetime.now(UTC))
    assert _visible(db) == [(article_a, None), (article_b, article_a)]
    assert publish_queue.queued_count(db) == 0


def test_a_batch_whose_decision_went_stale_is_sent_back_and_published_again_as_a_copy(
    db: psycopg.Connection,
) -> None:
    """Two copies decided while neither was published both look like originals. The sequencer publishes the
    first queued and sends the second back (its items to ``extracted``, due for the sweeper later); published
    again, it decides against the first."""
    (item_a, article_a), (item_b, article_b) = _unpublished(db, ["a.example", "b.example"])
    _queue_and_die(db, item_a, article_a)
    _queue_and_die(db, item_b, article_b)  # decided while A was queued, not published: an original too
    before = datetime.now(UTC)
    done = publish_queue.sequence(db, before + timedelta(minutes=5), [item_a, item_b])
    assert (done.batches, done.published, done.bounced, done.mine_sent_back) == (1, 1, 1, [item_b])
    assert _visible(db) == [(article_a, None)]
    b = items.get_item(db, item_b)
    assert b is not None
    assert b.state == ItemState.EXTRACTED
    assert b.sweep_at >= before + timedelta(minutes=5)  # left to its publisher first, the sweeper after that
    assert db.execute("SELECT cursor FROM articles WHERE id = %s", (article_b,)).fetchone() == (None,)

    enrich_step(db, [item_b], Settings(), datetime.now(UTC))
    assert _visible(db) == [(article_a, None), (article_b, article_a)]


def test_a_copy_of_an_article_readers_have_not_seen_is_sent_back(db: psycopg.Connection) -> None:
    """The contract (docs/downstream.md): duplicate_of is always a published article."""
    (_item_a, article_a), (item_b, article_b) = _unpublished(db, ["a.example", "b.example"])
    db.execute("UPDATE items SET state = 'published' WHERE id = %s", (item_b,))
    link = articles.Enrichment("fr", 0.99, "text", duplicate_of=article_a, similarity=0.9)
    with db.transaction():
        publish_queue.queue_batch(db, 0, {article_b: item_b}, {article_b: link}, originals=([], []))
    done = publish_queue.sequence(db, datetime.now(UTC), [item_b])
    assert (done.published, done.mine_sent_back) == (0, [item_b])
    assert _visible(db) == []


def test_a_publisher_whose_batch_another_call_published_finds_nothing_to_do(db: psycopg.Connection) -> None:
    (item, article) = _unpublished(db, ["a.example"])[0]
    _queue_and_die(db, item, article)
    first = publish_queue.sequence(db, datetime.now(UTC))  # another publisher's call: publishes it
    mine = publish_queue.sequence(db, datetime.now(UTC), [item])  # the dead one's, had it lived
    assert (first.batches, first.published) == (1, 1)
    assert (mine.batches, mine.published, mine.bounced, mine.mine_sent_back) == (0, 0, 0, [])
    assert _visible(db) == [(article, None)]


def test_an_empty_batch_is_written_once_and_takes_no_lock(db: psycopg.Connection) -> None:
    """A batch whose items another delivery moved: ``write`` runs once (its failures and moves committed), no
    sequencer call, nothing counted as retried."""
    calls: list[int] = []

    def write() -> list[ToPublish]:
        calls.append(1)
        return []

    published = publish_batch(db, write, {}, Settings())
    assert calls == [1]
    assert (published.duplicates, published.waited, published.held, published.retried) == ([], 0.0, 0.0, False)
