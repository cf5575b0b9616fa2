"""The downstream contract: the published view, its gap-free cursor, NOTIFY, the reader role, and retention."""

from __future__ import annotations

import gzip
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from harness.articles import article_html, load_seed_topics, publish_page
from harness.shared_services import ADMIN_URL
from shared.db import articles, feeds, items, pages, published
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry

PUBLISHERS = 6
PER_PUBLISHER = 40


def _insert_unpublished(conn: psycopg.Connection, feed_id: int, n: int, tag: str) -> list[int]:
    """Articles that exist but are not yet published (no cursor), as the extract step leaves them."""
    now = datetime.now(UTC)
    entries = [FeedEntry(f"{tag}-{i}", f"http://x.example/{tag}/{i}", f"http://x.example/{tag}/{i}",
                             None, None, None, None) for i in range(n)]  # fmt: skip
    ids = []
    for item_id in items.insert_new_items(conn, feed_id, entries, now):
        draft = articles.ArticleDraft(
            item_id=item_id, feed_id=feed_id, url=f"http://x.example/{item_id}",
            canonical_url=f"http://x.example/{item_id}", site_name=None, title=f"t{item_id}", author=None,
            published_at=None, date_source=None, fetched_at=now, text=f"text {item_id}", word_count=2,
            content_hash=uuid.uuid4().hex, page_language=None,
        )  # fmt: skip
        ids.append(articles.upsert_draft(conn, draft))
    return ids


def test_a_polling_reader_sees_every_concurrent_publication_exactly_once(db_url: str, db: psycopg.Connection) -> None:
    feed, _ = feeds.add_feed(db, "http://x.example/feed")
    batches = [_insert_unpublished(db, feed.id, PER_PUBLISHER, f"p{n}") for n in range(PUBLISHERS)]
    # Some articles are published twice (a re-tag or re-extraction): they must reappear once more.
    republish = set(random.Random(7).sample([i for b in batches for i in b], 30))
    done = threading.Event()
    errors: list[BaseException] = []

    def publisher(ids: list[int], seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                for article_id in ids + [i for i in ids if i in republish]:
                    with conn.transaction():
                        articles.bump_cursor(conn, [article_id])
                        # Hold the transaction open a little: a reader racing ahead of a slow committer is
                        # exactly what a sequence-based cursor gets wrong.
                        time.sleep(rng.uniform(0, 0.004))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    seen: list[tuple[int, int]] = []

    def reader() -> None:
        last = 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            while True:
                finished = done.is_set()  # read once more after the publishers stopped
                while rows := published.read_after(conn, last, limit=17):
                    seen.extend((r.id, r.cursor) for r in rows)
                    last = rows[-1].cursor
                if finished:
                    return

    threads = [threading.Thread(target=publisher, args=(b, n)) for n, b in enumerate(batches)]
    follower = threading.Thread(target=reader)
    follower.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    follower.join(timeout=60)
    assert not errors

    cursors = [c for _, c in seen]
    assert cursors == sorted(cursors)
    assert len(cursors) == len(set(cursors)), "a row was read twice"
    total = PUBLISHERS * PER_PUBLISHER + len(republish)
    assert cursors == list(range(1, total + 1)), "the reader skipped a cursor"
    final = {r[0]: r[1] for r in db.execute("SELECT id, cursor FROM newsmill.articles_published")}
    assert set(final) == {i for b in batches for i in b}
    assert set(final.items()) <= set(seen), "the reader missed an article's latest version"
    assert sum(1 for article_id, _ in seen if article_id in republish) == 2 * len(republish)


def test_publishing_notifies_listeners_with_the_new_cursor(db_url: str, db: psycopg.Connection) -> None:
    feed, _ = feeds.add_feed(db, "http://x.example/feed")
    (article_id,) = _insert_unpublished(db, feed.id, 1, "n")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {articles.NOTIFY_CHANNEL}")
        with db.transaction():
            articles.bump_cursor(db, [article_id])
        received = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert received == ["1"]
    assert articles.NOTIFY_CHANNEL == "newsmill_articles"  # documented in docs/downstream.md


def test_view_columns_are_the_documented_interface(db: psycopg.Connection) -> None:
    columns = db.execute(
        """
        SELECT a.attname, col_description(a.attrelid, a.attnum)
        FROM pg_attribute a WHERE a.attrelid = 'newsmill.articles_published'::regclass AND a.attnum > 0
        ORDER BY a.attnum
        """
    ).fetchall()
    names = [c[0] for c in columns]
    assert names == [
        "id", "url", "canonical_url", "site", "feed_id", "feed_url", "title", "author", "published_at",
        "fetched_at", "language", "language_probability", "text", "word_count", "content_hash", "duplicate_of",
        "similarity", "topics", "cursor", "updated_at",
    ]  # fmt: skip
    assert all(comment for _, comment in columns), "every column carries a COMMENT ON"
    assert list(published.PublishedArticle.__dataclass_fields__) == names
    doc = published.__file__.rsplit("/shared/", 1)[0] + "/docs/downstream.md"
    with open(doc, encoding="utf-8") as f:
        documented = f.read()
    for name in names:
        assert f"`{name}`" in documented, f"{name} is not documented in docs/downstream.md"


@pytest.fixture
def reader_url(db_url: str) -> str:
    """A login role that is only a member of newsmill_reader (the documented way to connect)."""
    role = f"nm_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE newsmill_reader").format(sql.Identifier(role)))
    try:
        base, _, rest = db_url.partition("://")
        yield f"{base}://{role}@{rest.split('@', 1)[-1]}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_reader_role_reads_the_view_and_nothing_else(db: psycopg.Connection, reader_url: str) -> None:
    load_seed_topics(db)
    publish_page(db, "http://news.example/a.html", article_html("Harbour opens", ["The new harbour opened. " * 12]))
    tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert {"pages", "items", "articles", "feeds", "topics"} <= set(tables)
    with psycopg.connect(reader_url, autocommit=True) as reader:
        (title,) = reader.execute("SELECT title FROM newsmill.articles_published").fetchone() or (None,)
        assert title == "Harbour opens"
        for table in tables:  # raw HTML, pipeline state, subscriptions and tokens included
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table)))
        (writable,) = reader.execute(
            "SELECT has_table_privilege('newsmill.articles_published', 'INSERT, UPDATE, DELETE, TRUNCATE')"
        ).fetchone() or (True,)
        assert writable is False


def test_retention_prunes_old_raw_html_of_finished_items_only(db: psycopg.Connection) -> None:
    article_id = publish_page(db, "http://news.example/old.html", article_html("Old", ["An old story. " * 20]))
    feed, _ = feeds.add_feed(db, "http://news.example/feed2")
    entry = FeedEntry("w", "http://w.example/1", "http://w.example/1", None, None, None, None)
    (waiting,) = items.insert_new_items(db, feed.id, [entry], datetime.now(UTC))
    pages.save_page(db, waiting, final_url="http://w.example/1", status=200, content_type="text/html", body=b"<p>x</p>")
    db.execute("UPDATE pages SET fetched_at = now() - interval '40 days'")
    pruned = pages.prune_raw_html(db, datetime.now(UTC) - timedelta(days=30))
    assert pruned == 1
    article = articles.get_article(db, article_id)
    assert article is not None
    assert article.text.startswith("An old story.")
    assert pages.load_page(db, article.item_id).body is None  # type: ignore[union-attr]
    assert items.get_item(db, waiting).state == ItemState.DISCOVERED  # type: ignore[union-attr]
    assert pages.load_page(db, waiting).body == b"<p>x</p>"  # type: ignore[union-attr]


def test_pages_stored_gzip_before_the_lz4_migration_are_still_read_pruned_and_replaced(db: psycopg.Connection) -> None:
    feed, _ = feeds.add_feed(db, "http://news.example/feed3")
    entries = [FeedEntry(g, f"http://g.example/{g}", f"http://g.example/{g}", None, None, None, None) for g in "ab"]
    old, new = items.insert_new_items(db, feed.id, entries, datetime.now(UTC))
    body = "<p>Le conseil a voté — ça compte.</p>".encode() * 50
    # As a worker of the previous version wrote it (and still may, during an upgrade).
    db.execute("INSERT INTO pages (item_id, final_url, http_status, content_type, html_gzip, size) "
               "VALUES (%s, 'http://g.example/a', 200, 'text/html', %s, %s)",
               (old, gzip.compress(body, compresslevel=1), len(body)))  # fmt: skip
    pages.save_page(db, new, final_url="http://g.example/b", status=200, content_type="text/html", body=body)
    stored = db.execute("SELECT item_id, html_gzip IS NULL, length(html_lz4) < %s FROM pages ORDER BY item_id",
                        (len(body),)).fetchall()  # fmt: skip
    assert stored == [(old, False, None), (new, True, True)]  # the new page LZ4-compressed, in its own column
    loaded = pages.load_pages(db, [old, new])
    assert loaded[old].body == loaded[new].body == body
    pages.save_page(db, old, final_url="http://g.example/a", status=200, content_type="text/html", body=b"<p>y</p>")
    assert pages.load_page(db, old).body == b"<p>y</p>"  # type: ignore[union-attr]  # fetched again: LZ4 now
    db.execute("INSERT INTO pages (item_id, final_url, http_status, content_type, html_gzip, size) "
               "VALUES (%s, 'http://g.example/a', 200, 'text/html', %s, 3) ON CONFLICT (item_id) DO UPDATE "
               "SET html_gzip = EXCLUDED.html_gzip, html_lz4 = NULL", (old, gzip.compress(b"<p>")))  # fmt: skip
    db.execute("UPDATE items SET state = 'published' WHERE id IN (%s, %s)", (old, new))
    db.execute("UPDATE pages SET fetched_at = now() - interval '40 days'")
    assert pages.prune_raw_html(db, datetime.now(UTC) - timedelta(days=30)) == 2  # either column
    assert db.execute("SELECT count(*) FROM pages WHERE html_gzip IS NOT NULL OR html_lz4 IS NOT NULL").fetchone() == (
        0,
    )
    assert {p.body for p in pages.load_pages(db, [old, new]).values()} == {None}
