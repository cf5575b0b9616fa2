"""SQL for the ``pages`` table: the raw fetched body of an item, LZ4-compressed, for re-processing.

Bodies stored before migration 0018 (or by a worker of the previous version during an upgrade) are gzip, in
``html_gzip``; new ones are LZ4 frames in ``html_lz4`` (the migration says why). Both are read.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import lz4.frame
import psycopg

from shared.db.items import unfinished

# Whether a page still holds its body (pruned pages have neither column); the pages_fetched_idx predicate.
HAS_BODY = "(p.html_gzip IS NOT NULL OR p.html_lz4 IS NOT NULL)"


@dataclass(frozen=True)
class StoredPage:
    item_id: int
    final_url: str
    http_status: int
    content_type: str | None
    body: bytes | None  # None once pruned by retention
    fetched_at: datetime


def save_page(
    conn: psycopg.Connection,
    item_id: int,
    *,
    final_url: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Store (or replace, when a page is fetched again) the raw body of an item."""
    conn.execute(
        """
        INSERT INTO pages (item_id, final_url, http_status, content_type, html_lz4, size, fetched_at)
        VALUES (%s, %s, %s, %s, %s, %s, now())
        ON CONFLICT (item_id) DO UPDATE SET final_url = EXCLUDED.final_url,
            http_status = EXCLUDED.http_status, content_type = EXCLUDED.content_type, html_gzip = NULL,
            html_lz4 = EXCLUDED.html_lz4, size = EXCLUDED.size, fetched_at = EXCLUDED.fetched_at
        """,
        (item_id, final_url, status, content_type, lz4.frame.compress(body), len(body)),
    )


def load_page(conn: psycopg.Connection, item_id: int) -> StoredPage | None:
    return load_pages(conn, [item_id]).get(item_id)


def load_pages(conn: psycopg.Connection, item_ids: Sequence[int]) -> dict[int, StoredPage]:
    """The stored pages of several items, by item id, in one statement (items without a page are absent)."""
    rows = conn.execute(
        "SELECT item_id, final_url, http_status, content_type, html_lz4, html_gzip, fetched_at FROM pages "
        "WHERE item_id = ANY(%s)",
        (list(item_ids),),
    ).fetchall()
    return {r[0]: StoredPage(r[0], r[1], r[2], r[3], _body(r[4], r[5]), r[6]) for r in rows}


def _body(packed_lz4: bytes | None, packed_gzip: bytes | None) -> bytes | None:
    if packed_lz4 is not None:
        return lz4.frame.decompress(packed_lz4)
    return gzip.decompress(packed_gzip) if packed_gzip is not None else None


def set_charsets(conn: psycopg.Connection, charsets: Mapping[int, str]) -> None:
    """Record how each page was decoded ("utf-8 (header)"), in one statement."""
    if charsets:
        conn.execute(
            "UPDATE pages p SET charset = c.charset FROM unnest(%s::bigint[], %s::text[]) AS c(item_id, charset) "
            "WHERE p.item_id = c.item_id",
            (list(charsets), list(charsets.values())),
        )


def prune_raw_html(conn: psycopg.Connection, older_than: datetime) -> int:
    """Drop raw bodies fetched before ``older_than`` (published text stays); returns how many.

    Only items that finished (published or failed) lose their body: one still waiting out retries must not
    find its page gone when its turn comes."""
    return conn.execute(
        f"""
        UPDATE pages p SET html_gzip = NULL, html_lz4 = NULL FROM items i
        WHERE i.id = p.item_id AND NOT {unfinished("i.state")}
          AND {HAS_BODY} AND p.fetched_at < %s
        """,  # noqa: S608 - fixed text
        (older_than,),
    ).rowcount
