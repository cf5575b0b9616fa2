"""SQL for the ``dedup_bands`` and ``dedup_shingles`` tables: the LSH index of original articles, their shingle
hashes (what a candidate is scored on, so no worker shingles its text again), and the lookups the duplicate
decision makes over them (workers/steps/duplicates.py decides; nothing here scores text).

Originals are indexed, and of their copies only those clearly longer than every member they matched
(workers/stages/dedup.py, ``indexes_as_member``): when a cut copy arrives before the original, the original is
indexed beside it, so later copies are compared with the full text whatever the order. Indexing every copy would
multiply the rows (wire stories run on dozens of sites) and make a popular story's buckets the slowest to look
up; each indexed copy is at least 10 % longer than the last, so a story has a handful of members at most.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from shared.db.arrays import Bigints

# Each band key contributes at most this many ids, earliest first: a bucket crowded by a common template
# cannot make one lookup slow. Candidates are then ranked by how many bands they share.
MAX_PER_KEY = 50
MAX_CANDIDATES = 20
MAX_HOPS = 8  # duplicate_of always names a root, so chains are one hop; this only bounds a corrupt loop


@dataclass(frozen=True)
class IndexStats:
    rows: int
    articles: int
    total_bytes: int


def first_with_hashes(
    conn: psycopg.Connection, content_hashes: Sequence[str], exclude_ids: Sequence[int]
) -> dict[str, tuple[int, int | None]]:
    """For each hash, the first-stored published article with exactly that normalised text (not one of
    ``exclude_ids``): hash -> (id, duplicate_of). A draft not published yet is no one's original."""
    rows = conn.execute(
        """
        SELECT DISTINCT ON (content_hash) content_hash, id, duplicate_of FROM articles
        WHERE content_hash = ANY(%s) AND id <> ALL(%s::bigint[]) AND cursor IS NOT NULL
        ORDER BY content_hash, id
        """,
        (sorted(set(content_hashes)), Bigints(exclude_ids)),
    ).fetchall()
    return {str(h): (int(i), d) for h, i, d in rows}


@dataclass(frozen=True)
class BatchCandidate:
    """An indexed original sharing band keys with the text at ``position`` of a batch."""

    position: int
    id: int
    duplicate_of: int | None
    content_hash: str
    hits: int
    # Its stored shingles (``dedup_shingles``) when they are of its current text; else None: shingle the text.
    shingle_mode: str | None = None
    shingle_tokens: int | None = None
    shingle_hashes: bytes | None = None


def candidates_for_batch(
    conn: psycopg.Connection, keys_by_position: Sequence[Sequence[int]], exclude_ids: Sequence[int]
) -> list[BatchCandidate]:
    """Indexed originals sharing band keys with each text of a batch, most shared first, bounded per key and
    in all, with their stored shingles, in one statement. Only published ones: a batch queued for the
    sequencer (workers/steps/publish.py) is indexed before it is published, and a copy must never link to
    an article readers have not seen (its batch may still be sent back and decided again)."""
    positions = [p for p, keys in enumerate(keys_by_position) for _ in keys]
    keys = [k for ks in keys_by_position for k in ks]
    if not keys:
        return []
    with conn.cursor(row_factory=class_row(BatchCandidate)) as cur:
        return cur.execute(
            """
            WITH hits AS (
                SELECT k.position, c.article_id, count(*) AS hits
                FROM unnest(%(positions)s::int[], %(keys)s::bigint[]) AS k(position, band_key)
                CROSS JOIN LATERAL (
                    SELECT b.article_id FROM dedup_bands b
                    WHERE b.band_key = k.band_key AND b.article_id <> ALL(%(exclude)s::bigint[])
                    ORDER BY b.article_id LIMIT %(per_key)s
                ) c
                GROUP BY k.position, c.article_id
            ), ranked AS (
                SELECT h.position, h.hits, a.id, a.duplicate_of, a.content_hash,
                       row_number() OVER (PARTITION BY h.position ORDER BY h.hits DESC, h.article_id) AS rank
                FROM hits h JOIN articles a ON a.id = h.article_id AND a.cursor IS NOT NULL
            )
            SELECT r.position, r.id, r.duplicate_of, r.content_hash, r.hits, s.mode AS shingle_mode,
                   s.token_count AS shingle_tokens, s.hashes AS shingle_hashes
            FROM ranked r
            LEFT JOIN dedup_shingles s ON s.article_id = r.id AND s.content_hash = r.content_hash
            WHERE r.rank <= %(limit)s ORDER BY r.position, r.rank
            """,
            {"positions": Bigints(positions), "keys": Bigints(keys), "exclude": Bigints(exclude_ids),
             "per_key": MAX_PER_KEY, "limit": MAX_CANDIDATES},
        ).fetchall()  # fmt: skip


@dataclass(frozen=True)
class Recent:
    """An article published after a cursor that may copy, or be copied by, a batch text."""

    id: int
    duplicate_of: int | None
    content_hash: str
    shared_keys: list[int]  # the batch's band keys this article is indexed under
    # Its stored shingles when they are of its current text (as BatchCandidate's); else None.
    shingle_mode: str | None = None
    shingle_tokens: int | None = None
    shingle_hashes: bytes | None = None


def published_since(
    conn: psycopg.Connection,
    cursor: int,
    content_hashes: Sequence[str],
    keys: Sequence[int],
    exclude_ids: Sequence[int],
) -> list[Recent]:
    """Articles published after ``cursor`` with one of these texts or indexed under one of these keys, with
    their stored shingles: what a batch decided before taking the publication lock could not see. Few rows: it
    walks the cursor index."""
    with conn.cursor(row_factory=class_row(Recent)) as cur:
        return cur.execute(
            """
            SELECT a.id, a.duplicate_of, a.content_hash,
                   ARRAY(SELECT b.band_key FROM dedup_bands b
                         WHERE b.article_id = a.id AND b.band_key = ANY(%(keys)s)) AS shared_keys,
                   s.mode AS shingle_mode, s.token_count AS shingle_tokens, s.hashes AS shingle_hashes
            FROM articles a
            LEFT JOIN dedup_shingles s ON s.article_id = a.id AND s.content_hash = a.content_hash
            WHERE a.cursor > %(cursor)s AND a.id <> ALL(%(exclude)s::bigint[])
              AND (a.content_hash = ANY(%(hashes)s)
                   OR EXISTS (SELECT 1 FROM dedup_bands b WHERE b.article_id = a.id AND b.band_key = ANY(%(keys)s)))
            ORDER BY a.id
            """,
            {"cursor": cursor, "keys": Bigints(keys), "hashes": list(content_hashes), "exclude": Bigints(exclude_ids)},
        ).fetchall()


def texts_of(conn: psycopg.Connection, article_ids: Collection[int]) -> dict[int, str]:
    """The stored texts of some articles, by id (what a candidate's similarity is computed on)."""
    if not article_ids:
        return {}
    rows = conn.execute("SELECT id, text FROM articles WHERE id = ANY(%s)", (sorted(article_ids),)).fetchall()
    return {int(i): str(t) for i, t in rows}


def root_of(conn: psycopg.Connection, article_id: int) -> int:
    """The end of the duplicate_of chain starting at ``article_id``."""
    row = conn.execute(
        """
        WITH RECURSIVE chain (id, duplicate_of, depth) AS (
            SELECT id, duplicate_of, 0 FROM articles WHERE id = %s
            UNION ALL
            SELECT a.id, a.duplicate_of, c.depth + 1 FROM articles a JOIN chain c ON a.id = c.duplicate_of
            WHERE c.depth < %s
        )
        SELECT id FROM chain ORDER BY depth DESC LIMIT 1
        """,
        (article_id, MAX_HOPS),
    ).fetchone()
    return int(row[0]) if row else article_id


def index_article(conn: psycopg.Connection, article_id: int, band_keys: Sequence[int]) -> None:
    """Make the article's band keys exactly ``band_keys``: twice is once, and re-extracted text moves."""
    index_articles(conn, {article_id: band_keys})


def index_articles(conn: psycopg.Connection, band_keys: Mapping[int, Sequence[int]]) -> None:
    """Make each article's band keys exactly its ``band_keys`` (article id -> keys), in two statements."""
    if not band_keys:
        return
    ids = sorted(band_keys)
    pairs = (Bigints(i for i in ids for _ in band_keys[i]), Bigints(k for i in ids for k in band_keys[i]))
    conn.execute(  # a re-extracted article whose text moved loses its old keys
        "DELETE FROM dedup_bands b WHERE b.article_id = ANY(%s) AND (b.article_id, b.band_key) NOT IN "
        "(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
        (Bigints(ids), *pairs),
    )
    conn.execute(
        """
        INSERT INTO dedup_bands (article_id, band_key)
        SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ORDER BY 2, 1 ON CONFLICT DO NOTHING
        """,
        pairs,
    )


def unindex_article(conn: psycopg.Connection, article_id: int) -> None:
    """Remove an article that turned out to be a duplicate (after re-extraction) from the index."""
    unindex_articles(conn, [article_id])


def unindex_articles(conn: psycopg.Connection, article_ids: Sequence[int]) -> None:
    if article_ids:
        ids = Bigints(sorted(article_ids))
        conn.execute("DELETE FROM dedup_bands WHERE article_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM dedup_shingles WHERE article_id = ANY(%s)", (ids,))


@dataclass(frozen=True)
class ShingleRow:
    """An indexed article's shingle hashes (workers/stages/dedup.py, ``Shingles.to_bytes``) and the text's hash."""

    article_id: int
    content_hash: str
    mode: str
    token_count: int
    hashes: bytes


def store_shingles(conn: psycopg.Connection, rows: Sequence[ShingleRow]) -> None:
    """Keep these articles' shingles, in one statement; an article's row for an older text is replaced."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: r.article_id)  # one lock order for concurrent publishers
    conn.execute(
        """
        INSERT INTO dedup_shingles (article_id, content_hash, mode, token_count, hashes)
        SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %b::bytea[])
        ON CONFLICT (article_id) DO UPDATE
            SET content_hash = EXCLUDED.content_hash, mode = EXCLUDED.mode,
                token_count = EXCLUDED.token_count, hashes = EXCLUDED.hashes
            WHERE dedup_shingles.content_hash <> EXCLUDED.content_hash
        """,
        (Bigints(r.article_id for r in rows), [r.content_hash for r in rows], [r.mode for r in rows],
         [r.token_count for r in rows], [r.hashes for r in rows]),
    )  # fmt: skip


def bulk_index(conn: psycopg.Connection, articles: Iterable[tuple[int, Sequence[int]]]) -> int:
    """Load (article id, band keys) of articles not indexed yet with COPY (a rebuild or a backfill); returns rows."""
    rows = 0
    with conn.cursor() as cur, cur.copy("COPY dedup_bands (band_key, article_id) FROM STDIN") as copy:
        for article_id, band_keys in articles:
            for key in band_keys:
                copy.write_row((key, article_id))
            rows += len(band_keys)
    return rows


def index_stats(conn: psycopg.Connection) -> IndexStats:
    """Rows, indexed articles and bytes on disk (table and its indexes)."""
    with conn.cursor(row_factory=class_row(IndexStats)) as cur:
        row = cur.execute(
            """
            SELECT count(*) AS rows, count(DISTINCT article_id) AS articles,
                   pg_total_relation_size('dedup_bands') AS total_bytes
            FROM dedup_bands
            """
        ).fetchone()
    assert row is not None
    return row
