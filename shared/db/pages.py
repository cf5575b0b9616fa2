"""SQL for the ``pages`` table: the raw fetched body of an item, gzip-compressed, for re-processing."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime

import psycopg

from shared.db.items import unfinished


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
        (item_id, final_url, status, content_type, gzip.compress(body, compresslevel=6), len(body)),
    )


def load_page(conn: psycopg.Connection, item_id: int) -> StoredPage | None:
    row = conn.execute(
        "SELECT item_id, final_url, http_status, content_type, html_gzip, fetched_at FROM pages WHERE item_id = %s",
        (item_id,),
    ).fetchone()
    if row is None:
        return None
    body = gzip.decompress(row[4]) if row[4] is not None else None
    return StoredPage(row[0], row[1], row[2], row[3], body, row[5])


def set_charset(conn: psycopg.Connection, item_id: int, charset: str) -> None:
    conn.execute("UPDATE pages SET charset = %s WHERE item_id = %s", (charset, item_id))


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
