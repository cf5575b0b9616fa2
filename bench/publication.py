"""Publication micro-benchmark: articles per second a whole deployment can publish, N publishers at once.

Publication is the part of the pipeline serialised deployment-wide (the duplicate decision and the cursor
counter, workers/steps/publish.py), so it bounds the fleet however many machines extract. Articles are extracted
and enriched beforehand (text, language, fingerprint and tags computed in this process, outside the clock);
what is timed is publication exactly as the enrich step runs it: the items moved to ``published`` and
``publish`` in one transaction per batch, by N processes with their own connections. A third of the articles
are originals and the rest near-copies (an added paragraph), dealt round-robin so a story's copies land on
different publishers. Afterwards the cursor must be exactly 1..N and every copy linked to an original.

Run: ``uv run python -m bench.publication [--publishers 8] [--articles 3000] [--batch 16 1] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.infra import fresh_database, load_seed_topics
from bench.site import load_originals
from shared.db import articles, items, topics
from shared.db.items import ItemState
from shared.encoding import decode_html
from shared.errors import StageError
from shared.feed_entry import FeedEntry
from shared.settings import Settings
from shared.topic_rules import Topic
from shared.urls import canonical_url
from workers.stages.extract import extract_page
from workers.steps.publish import Enriched, ToPublish, enrich_text, publish_batch


@dataclass(frozen=True)
class Prepared:
    item_id: int
    article_id: int
    enriched: Enriched


_WORK: list[list[Prepared]] = []  # each publisher's share, inherited by the forked publishers
_TOPIC_IDS: dict[str, int] = {}


def article_texts(count: int) -> list[tuple[str, str]]:
    """(title, text) of ``count`` articles: the saved pages' texts, then near-copies of them."""
    originals = []
    for n, body in enumerate(load_originals()):
        url = f"http://bench.example/original/{n}"
        try:
            page = extract_page(decode_html(body, None).text, url)
        except StageError:
            continue
        originals.append((page.title or url, page.text))
    out = []
    for n in range(count):
        title, text = originals[n % len(originals)]
        copy = n // len(originals)
        out.append((title, text if copy == 0 else f"{text}\nCopy {copy}: the agency's story as run by site {copy}."))
    return out


def prepare(database_url: str, texts: Sequence[tuple[str, str]], rules: list[tuple[int, Topic]]) -> list[Prepared]:
    """Items in ``extracted`` with their article rows, and each article's enrichment, computed now."""
    s = Settings()
    now = datetime.now(UTC)
    prepared = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        (feed_id,) = conn.execute(
            "INSERT INTO feeds (url) VALUES ('http://bench.example/feed') RETURNING id"
        ).fetchone()
        urls = [f"http://bench.example/{n}" for n in range(len(texts))]
        entries = [FeedEntry(u, u, canonical_url(u), None, None, None, None) for u in urls]
        item_ids = items.insert_new_items(conn, feed_id, entries, now + timedelta(hours=1))
        conn.execute("UPDATE items SET state = 'extracted'")
        drafts = [
            articles.ArticleDraft(
                item_id=item_id, feed_id=feed_id, url=url, canonical_url=canonical_url(url), site_name=None,
                title=title, author=None, published_at=None, date_source=None, fetched_at=now, text=text,
                word_count=len(text.split()), content_hash="", page_language=None,
            )
            for item_id, url, (title, text) in zip(item_ids, urls, texts, strict=True)
        ]  # fmt: skip
        enriched = [
            enrich_text(title, text, page_language=None, entry_language=None, rules=[t for _, t in rules], s=s)
            for title, text in texts
        ]
        drafts = [_with_hash(d, e) for d, e in zip(drafts, enriched, strict=True)]
        article_ids = articles.upsert_drafts(conn, drafts)
        for draft, e in zip(drafts, enriched, strict=True):
            prepared.append(Prepared(draft.item_id, article_ids[draft.item_id], e))
    return prepared


def _with_hash(draft: articles.ArticleDraft, enriched: Enriched) -> articles.ArticleDraft:
    fields = {**draft.__dict__, "content_hash": enriched.fingerprint.content_hash}
    return articles.ArticleDraft(**fields)


def _publisher(args: tuple[str, int, int, Any]) -> tuple[list[tuple[float, float, float, bool]], float]:
    """Publish this publisher's share in batches; returns each transaction's seconds, how long it waited
    for and held the publication lock and whether it was retried, and the publisher's CPU seconds."""
    database_url, index, batch, start = args
    s = Settings()
    seconds = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        start.wait()
        cpu = time.process_time()
        work = _WORK[index]
        for i in range(0, len(work), batch):
            part = work[i : i + batch]
            began = time.perf_counter()

            def write(part: list[Prepared] = part) -> list[ToPublish]:
                later = datetime.now(UTC) + timedelta(hours=1)
                moved = set(items.advance_many(conn, [p.item_id for p in part], ItemState.EXTRACTED,
                                               ItemState.PUBLISHED, later))  # fmt: skip
                return [ToPublish(p.article_id, p.item_id, p.enriched) for p in part if p.item_id in moved]

            published = publish_batch(conn, write, _TOPIC_IDS, s)
            ended = time.perf_counter()
            seconds.append((ended - began, published.waited, published.held, published.retried))
        cpu = time.process_time() - cpu
    return seconds, cpu


def run(texts: Sequence[tuple[str, str]], publishers: int, batch: int) -> dict[str, Any]:
    """One measured run in a fresh database."""
    global _WORK, _TOPIC_IDS  # noqa: PLW0603 - handed to the forked publishers
    with fresh_database("nm_bench_publish") as url:
        load_seed_topics(url)
        with psycopg.connect(url, autocommit=True) as conn:
            stored = topics.all_topics(conn)
        rules = [(r.id, Topic.from_stored(r.slug, r.name, r.description, r.rules)) for r in stored]
        _TOPIC_IDS = {t.slug: topic_id for topic_id, t in rules}
        prepared = prepare(url, texts, rules)
        _WORK = [prepared[i::publishers] for i in range(publishers)]
        context = multiprocessing.get_context("fork")
        start = context.Manager().Barrier(publishers + 1)
        with context.Pool(publishers) as pool:
            pending = pool.map_async(_publisher, [(url, i, batch, start) for i in range(publishers)])
            start.wait()
            began = time.perf_counter()
            per_publisher = pending.get()
            wall = time.perf_counter() - began
        with psycopg.connect(url, autocommit=True) as conn:
            count, low, high, distinct, copies = conn.execute(
                "SELECT count(*), min(cursor), max(cursor), count(DISTINCT cursor), count(duplicate_of) "
                "FROM articles WHERE cursor IS NOT NULL"
            ).fetchone() or (0, None, None, 0, 0)
    batches = [b for seconds, _ in per_publisher for b in seconds]
    transactions = sorted(t for t, _, _, _ in batches)
    waits = sorted(w for _, w, _, _ in batches)
    holds = sorted(h for _, _, h, _ in batches)
    return {
        "publishers": publishers, "batch": batch, "articles": len(texts), "published": count,
        "seconds": wall, "articles_per_s": count / wall if wall else 0.0,
        "cursor_gap_free": (low, high, distinct) == (1, count, count), "duplicates": copies,
        "transaction_ms": _quantiles(transactions), "lock_wait_ms": _quantiles(waits),
        "lock_hold_ms": _quantiles(holds), "batches": len(batches), "retried": sum(b[3] for b in batches),
        "publishers_cpu_ms_per_article": 1000 * sum(cpu for _, cpu in per_publisher) / max(count, 1),
        # Publications are serialised for as long as the lock is held: the articles published per second of
        # it (each sequencer call holds it once, for its own batch and whatever else is queued) bound a
        # deployment however many publishers it runs.
        "lock_bound_articles_per_s": count / sum(holds) if holds and sum(holds) else 0.0,
    }  # fmt: skip


def _quantiles(values: list[float]) -> dict[str, float]:
    return {"p50": 1000 * values[len(values) // 2], "p99": 1000 * values[int(0.99 * (len(values) - 1))],
            "mean": 1000 * sum(values) / len(values)}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 1])
    parser.add_argument("--json", type=Path, default=None, dest="json_out")
    args = parser.parse_args(argv)
    texts = article_texts(args.articles)
    rows = [run(texts, args.publishers, batch) for batch in args.batch]
    print(
        f"{args.articles} articles, {args.publishers} publishers, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    for r in rows:
        print(f"  batch {r['batch']:3d}: {r['articles_per_s']:8.1f} articles/s "
              f"({r['published']} in {r['seconds']:.2f} s), "
              f"transaction p50 {r['transaction_ms']['p50']:.1f} ms p99 {r['transaction_ms']['p99']:.1f} ms, "
              f"lock wait p50 {r['lock_wait_ms']['p50']:.1f} ms, held mean {r['lock_hold_ms']['mean']:.2f} ms "
              f"(bound {r['lock_bound_articles_per_s']:.0f} articles/s), "
              f"{r['retried']}/{r['batches']} batches retried, "
              f"publishers' CPU {r['publishers_cpu_ms_per_article']:.2f} ms/article, "
              f"{r['duplicates']} duplicates, cursor gap-free: {r['cursor_gap_free']}")  # fmt: skip
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["cursor_gap_free"] and r["published"] == r["articles"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
