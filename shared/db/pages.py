"""SQL for the ``pages`` table: the raw fetched body of an item, gzip-compressed, for re-processing."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from shared.db.items import unfinished

# Level 1, not 6: half the CPU of the fetch worker's largest own cost per page (0.9 against 2.1 ms on the 200
# evaluation pages) for 17 % more bytes (24.3 % of the raw HTML against 20.8 %), kept only for the retention days.
COMPRESS_LEVEL = 1


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
        INSERT INTO pages (item_id, final_url, http_status, content_type, html_gzip, size, fetched_at)
        VALUES (%s, %s, %s, %s, %s, %s, now())
        ON CONFLICT (item_id) DO UPDATE SET final_url = EXCLUDED.final_url,
            http_status = EXCLUDED.http_status, content_type = EXCLUDED.content_type,
            html_gzip = EXCLUDED.html_gzip, size = EXCLUDED.size, fetched_at = EXCLUDED.fetched_at
        """,
        (item_id, final_url, status, content_type, gzip.compress(body, compresslevel=COMPRESS_LEVEL), len(body)),
    )


def load_page(conn: psycopg.Connection, item_id: int) -> StoredPage | None:
    return load_pages(conn, [item_id]).get(item_id)


def load_pages(conn: psycopg.Connection, item_ids: Sequence[int]) -> dict[int, StoredPage]:
    """The stored pages of several items, by item id, in one statement (items without a page are absent)."""
    rows = conn.execute(
        "SELECT item_id, final_url, http_status, content_type, html_gzip, fetched_at FROM pages "
        "WHERE item_id = ANY(%s)",
        (list(item_ids),),
    ).fetchall()
    return {
        r[0]: StoredPage(r[0], r[1], r[2], r[3], gzip.decompress(r[4]) if r[4] is not None else None, r[5])
        for r in rows
    }


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
        UPDATE pages p SET html_gzip = NULL FROM items i
        WHERE i.id = p.item_id AND NOT {unfinished("i.state")}
          AND p.html_gzip IS NOT NULL AND p.fetched_at < %s
        """,  # noqa: S608 - fixed text
        (older_than,),
    ).rowcount
