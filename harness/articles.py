"""Publishing pages into a test database through the real pipeline steps, without Celery or HTTP.

For tests of what reads published articles (the view, tail, the API, feeds): the rows are exactly what the
fleet would write, because the same extract and enrich steps write them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml

from shared.db import feeds, items, pages, topics
from shared.db.items import ItemState
from shared.feed_entry import FeedEntry
from shared.settings import Settings
from shared.topic_rules import parse_topics
from shared.urls import canonical_url
from workers.steps.enrich import enrich_step
from workers.steps.extract import extract_step

ROOT = Path(__file__).resolve().parents[1]


def load_seed_topics(conn: psycopg.Connection) -> int:
    """The editors' starter topics (seeds/topics.yaml); returns how many."""
    document = yaml.safe_load((ROOT / "seeds" / "topics.yaml").read_text(encoding="utf-8"))
    parsed = parse_topics(document)
    for t in parsed:
        topics.upsert_topic(conn, t.slug, t.name, t.description, t.rules())
    return len(parsed)


def publish_page(
    conn: psycopg.Connection,
    url: str,
    html: str | bytes,
    *,
    feed_url: str = "http://news.example/feed.xml",
    title: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Store ``html`` as the fetched page of a new item, run extract and enrich; returns the article id.

    ``conn`` must be autocommit. Raises if the page did not end published (the reason is on the item)."""
    s = settings or Settings()
    now = datetime.now(UTC)
    feed, _ = feeds.add_feed(conn, feed_url)
    entry = FeedEntry(url, url, canonical_url(url), title, None, None, None)
    (item_id,) = items.insert_new_items(conn, feed.id, [entry], now)
    body = html.encode() if isinstance(html, str) else html
    with conn.transaction():
        pages.save_page(conn, item_id, final_url=url, status=200, content_type="text/html; charset=utf-8", body=body)
        items.advance(conn, item_id, ItemState.DISCOVERED, ItemState.FETCHED, now)
    extract_step(conn, [item_id], s, now)
    enrich_step(conn, [item_id], s, now)
    item = items.get_item(conn, item_id)
    assert item is not None
    if item.state != ItemState.PUBLISHED:
        raise AssertionError(f"{url} ended {item.state}: {item.outcome}: {item.last_error}")
    row = conn.execute("SELECT id FROM articles WHERE item_id = %s", (item_id,)).fetchone()
    assert row is not None
    return int(row[0])


def article_html(title: str, paragraphs: list[str], *, site: str = "Example News", lang: str = "en") -> str:
    """A plain article page trafilatura extracts reliably."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:site_name" content="{site}"><meta property="og:title" content="{title}">'
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    )


_WORDS = ["harbour", "river", "council", "budget", "school", "bridge", "market", "winter", "museum", "railway",
          "orchard", "festival", "ferry", "canal"]  # fmt: skip


def ukraine_page(n: int) -> str:
    """An English article the seed rules tag `ukraine-war`; texts differ by ``n`` so they are not duplicates."""
    rng = random.Random(n)
    paragraphs = [f"Ukraine war: troops near Kharkiv held the front as soldiers reported shelling, day {n}."] + [
        " ".join(rng.sample(_WORDS, 8)).capitalize() + f" in Kyiv, report {n}-{i}." for i in range(8)
    ]
    return article_html(f"Ukraine front update {n}", paragraphs)


def publish_ukraine(conn: psycopg.Connection, n: int, host: str = "news.example") -> int:
    """Publish ``ukraine_page(n)`` at http://HOST/ukraine-N.html; returns the article id."""
    return publish_page(conn, f"http://{host}/ukraine-{n}.html", ukraine_page(n))
