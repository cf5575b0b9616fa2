"""Duplicate index at scale: insert and lookup latency (p50/p99) and size, at 100k and 1M indexed articles.

Run: ``uv run python -m bench.dedup_scale --sizes 100000,1000000`` (``--sizes 2000`` is a quick smoke test).
Creates its own database on the test server, migrates it, and grows it size by size: synthetic articles
(bench/dedup_text.py, 3-5 paragraphs) are generated and sketched in worker processes, loaded with COPY, and
their band keys bulk-loaded with COPY (constraints dropped and rebuilt around the load, as a rebuild would).
At each size: ``index_article`` of new articles (one autocommit transaction each, so a commit is included),
``find_duplicate`` of new texts (mostly no match) and of lightly edited copies of indexed ones (a confirmed
match: candidate texts are read and compared). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from bench.dedup_text import Article, copy_kinds, make_article, topics
from bench.infra import fresh_database
from shared.db.dedup_index import bulk_index, index_article, index_stats
from workers.stages.dedup import content_hash, fingerprint_text, sketch_text
from workers.steps.duplicates import find_duplicate

CHUNK = 10_000
THRESHOLD = 0.8
Row = tuple[int, str, str, list[int]]  # id, text, content hash, band keys


def source(n: int) -> Article:
    """Article number ``n``, always the same; 100 articles share a topic (names, places)."""
    rng = random.Random(n)
    paragraphs = rng.randint(3, 5)
    return make_article(rng, topics(random.Random(n // 100), 1)[0], paragraphs)


def article_text(n: int) -> str:
    return source(n).text


def _chunk(bounds: tuple[int, int]) -> list[Row]:
    rows = []
    for n in range(*bounds):
        text = article_text(n)
        rows.append((n, text, content_hash(text), sketch_text(text).band_keys))
    return rows


def generate(start: int, stop: int, workers: int) -> Iterator[list[Row]]:
    chunks = [(s, min(s + CHUNK, stop)) for s in range(start, stop, CHUNK)]
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(_chunk, chunks)


def load(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Items, articles and band keys of one chunk, with COPY, in one transaction."""
    now = datetime.now(UTC)
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY items (id, url, canonical_url) FROM STDIN") as copy:
            for n, *_ in rows:
                copy.write_row((n, f"https://s.example/{n}", f"https://s.example/{n}"))
        cols = "id, item_id, url, canonical_url, fetched_at, text, word_count, content_hash"
        with cur.copy(f"COPY articles ({cols}) FROM STDIN") as copy:
            for n, text, digest, _ in rows:
                url = f"https://s.example/{n}"
                copy.write_row((n, n, url, url, now, text, len(text.split()), digest))
        bulk_index(conn, ((n, keys) for n, _, _, keys in rows))


CONSTRAINTS = [
    ("ALTER TABLE dedup_bands DROP CONSTRAINT dedup_bands_pkey",
     "ALTER TABLE dedup_bands ADD PRIMARY KEY (band_key, article_id)"),
    ("ALTER TABLE dedup_bands DROP CONSTRAINT dedup_bands_article_id_fkey",
     "ALTER TABLE dedup_bands ADD FOREIGN KEY (article_id) REFERENCES articles(id) ON DELETE CASCADE"),
    ("DROP INDEX dedup_bands_article_idx", "CREATE INDEX dedup_bands_article_idx ON dedup_bands (article_id)"),
]  # fmt: skip


def grow(conn: psycopg.Connection, start: int, stop: int, workers: int) -> float:
    t0 = time.perf_counter()
    for drop, _ in CONSTRAINTS:
        conn.execute(drop)
    for rows in generate(start, stop, workers):
        load(conn, rows)
    for _, add in CONSTRAINTS:
        conn.execute(add)
    conn.execute("VACUUM ANALYZE items, articles, dedup_bands")  # as autovacuum would, before traffic
    return time.perf_counter() - t0


def remove_probes(conn: psycopg.Connection, first_id: int) -> None:
    """Delete the measured inserts again, so that each size counts only its bulk-loaded articles.

    Foreign-key triggers are skipped: articles.duplicate_of has no index, so ON DELETE SET NULL would scan
    the whole table once per deleted article."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for table, column in (("dedup_bands", "article_id"), ("articles", "id"), ("items", "id")):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} >= %s").format(sql.Identifier(table), sql.Identifier(column)),
                (first_id,),
            )


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


def measure(conn: psycopg.Connection, size: int, queries: int, next_id: int) -> dict[str, list[float]]:
    rng = random.Random(size)
    edit = copy_kinds()["edit5"]
    novel = [article_text(next_id + i) for i in range(queries)]
    copies = [edit(rng, source(rng.randrange(size))) for _ in range(queries)]
    found = 0
    out: dict[str, list[float]] = {"sketch": [], "lookup new": [], "lookup copy": [], "insert": []}
    for text in novel + copies:
        out["sketch"].append(timed(lambda t=text: sketch_text(t)))
    for text in novel:
        fingerprint = fingerprint_text(text)
        out["lookup new"].append(timed(lambda f=fingerprint: find_duplicate(conn, f, THRESHOLD)))
    for text in copies:
        fingerprint = fingerprint_text(text)
        t0 = time.perf_counter()
        found += find_duplicate(conn, fingerprint, THRESHOLD) is not None
        out["lookup copy"].append((time.perf_counter() - t0) * 1000)
    load(conn, [(next_id + i, t, content_hash(t), []) for i, t in enumerate(novel)])  # rows, not yet indexed
    for i, text in enumerate(novel):
        sketch = sketch_text(text)
        out["insert"].append(timed(lambda i=i, s=sketch: index_article(conn, next_id + i, s.band_keys)))
    print(f"  copies found: {found}/{queries}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with fresh_database() as url, psycopg.connect(url, autocommit=True) as conn:
        loaded = 0
        for size in sizes:
            print(f"size {size:,}: loading {size - loaded:,} articles...", flush=True)
            print(f"  loaded in {grow(conn, loaded, size, args.workers):.0f} s", flush=True)
            loaded = size
            results = measure(conn, size, args.queries, 10 * sizes[-1])
            remove_probes(conn, 10 * sizes[-1])
            stats = index_stats(conn)
            per_million = stats.total_bytes / max(stats.articles, 1) * 1e6 / 2**30
            print(f"  index: {stats.rows:,} rows for {stats.articles:,} articles, "
                  f"{stats.total_bytes / 2**20:,.0f} MiB = {per_million:.2f} GiB per million")  # fmt: skip
            for label, values in results.items():
                print(f"  {label:<12} p50 {pct(values, 0.5):7.2f} ms   p99 {pct(values, 0.99):7.2f} ms")


if __name__ == "__main__":
    main()
