"""SQL for ``site_template_pages`` and ``site_template_lines``: per host, how many pages printed each line.

workers/stages/site_template.py explains what a template line is; this module only counts and reads back.
Both calls take lists (of hosts, of pages) so a batch of items costs one round trip each. Counting is safe under
concurrent workers: a page is counted once (its key is inserted first, ON CONFLICT DO NOTHING), and line rows
are upserted in key order so two transactions never wait on each other's rows in opposite orders.

Bounded: each host keeps at most ``MAX_LINES`` line rows (its most repeated, then most recent) and
``MAX_PAGES`` page keys (the most recent); pruning runs on about one recorded page in ``PRUNE_EVERY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

MAX_LINES = 5_000  # per host: a template has dozens of lines; the rest are article lines seen once
MAX_PAGES = 2_000  # per host: page keys remembered to count each page once
PRUNE_EVERY = 64  # pages; a host's tables may hold up to this many pages' worth beyond the caps


@dataclass(frozen=True)
class PageLines:
    """One extracted page: its host, a key naming the page (a hash of its URL) and its lines' keys."""

    host: str
    page_key: int
    line_keys: Sequence[int]


def load_templates(
    conn: psycopg.Connection, pages: Sequence[tuple[str, int]], min_pages: int
) -> dict[str, frozenset[int]]:
    """Host -> keys of the lines it printed on at least ``min_pages`` other pages, for (host, page key) pairs
    (hosts without any are absent). A page extracted again (a retry, ``newsmill reprocess``) was counted
    itself the first time: its own count is left out, so a host's page is never its own template."""
    if not pages:
        return {}
    rows = conn.execute(
        """
        WITH wanted AS (
            SELECT w.host, bool_or(p.page_key IS NOT NULL) AS counted
            FROM unnest(%s::text[], %s::bigint[]) AS w(host, page_key)
            LEFT JOIN site_template_pages p ON p.host = w.host AND p.page_key = w.page_key
            GROUP BY w.host
        )
        SELECT t.host, t.line_key FROM wanted w
        JOIN site_template_lines t ON t.host = w.host AND t.pages >= %s + w.counted::int
        """,
        ([h for h, _ in pages], [k for _, k in pages], min_pages),
    ).fetchall()
    found: dict[str, set[int]] = {}
    for host, key in rows:
        found.setdefault(host, set()).add(int(key))
    return {host: frozenset(keys) for host, keys in found.items()}


def record_pages(conn: psycopg.Connection, pages: Sequence[PageLines]) -> int:
    """Count each page's lines for its host, once per page however often it is recorded; returns pages new."""
    pages = sorted((p for p in pages if p.host), key=lambda p: (p.host, p.page_key))  # one lock order for all
    if not pages:
        return 0
    new = conn.execute(
        """
        INSERT INTO site_template_pages (host, page_key)
        SELECT * FROM unnest(%s::text[], %s::bigint[]) ORDER BY 1, 2 ON CONFLICT DO NOTHING RETURNING host, page_key
        """,
        ([p.host for p in pages], [p.page_key for p in pages]),
    ).fetchall()
    counted = {(host, int(key)) for host, key in new}
    lines = sorted({(p.host, k) for p in pages if (p.host, p.page_key) in counted for k in p.line_keys})
    if lines:
        conn.execute(
            """
            INSERT INTO site_template_lines AS t (host, line_key, pages)
            SELECT host, line_key, 1 FROM unnest(%s::text[], %s::bigint[]) AS l(host, line_key)
            ORDER BY host, line_key
            ON CONFLICT (host, line_key) DO UPDATE SET pages = t.pages + 1, last_seen = now()
            """,
            ([h for h, _ in lines], [k for _, k in lines]),
        )
    due = sorted({host for host, key in counted if key % PRUNE_EVERY == 0})
    if due:
        prune(conn, due)
    return len(counted)


def prune(conn: psycopg.Connection, hosts: Sequence[str]) -> None:
    """Keep each host's ``MAX_LINES`` most repeated (then most recent) lines and ``MAX_PAGES`` latest pages.

    Rows another worker holds are skipped (``SKIP LOCKED``), never waited for: pruning runs inside the extract
    step's transaction, and waiting there on rows a concurrent upsert holds could close a deadlock cycle."""
    conn.execute(
        """
        WITH old AS (
            SELECT host, line_key FROM (
                SELECT host, line_key,
                       row_number() OVER (PARTITION BY host ORDER BY pages DESC, last_seen DESC) AS rank
                FROM site_template_lines WHERE host = ANY(%(hosts)s)
            ) ranked WHERE rank > %(max_lines)s
        ), locked AS (
            SELECT t.host, t.line_key FROM site_template_lines t JOIN old USING (host, line_key)
            FOR UPDATE OF t SKIP LOCKED
        )
        DELETE FROM site_template_lines t USING locked l WHERE t.host = l.host AND t.line_key = l.line_key
        """,
        {"hosts": list(hosts), "max_lines": MAX_LINES},
    )
    conn.execute(
        """
        WITH old AS (
            SELECT host, page_key FROM (
                SELECT host, page_key, row_number() OVER (PARTITION BY host ORDER BY recorded_at DESC) AS rank
                FROM site_template_pages WHERE host = ANY(%(hosts)s)
            ) ranked WHERE rank > %(max_pages)s
        ), locked AS (
            SELECT p.host, p.page_key FROM site_template_pages p JOIN old USING (host, page_key)
            FOR UPDATE OF p SKIP LOCKED
        )
        DELETE FROM site_template_pages p USING locked l WHERE p.host = l.host AND p.page_key = l.page_key
        """,
        {"hosts": list(hosts), "max_pages": MAX_PAGES},
    )
