"""SQL for ``items`` when stored pages are extracted again (`newsmill reprocess`, after a cleaning-rule change).

Kept apart from shared/db/items.py's state machine: this is the one place items go backwards, from
``published`` (or ``failed`` at extraction) to ``fetched``, with the same conditional-update discipline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from shared.db.pages import HAS_BODY


@dataclass(frozen=True)
class Reprocess:
    """Which stored pages to extract again (after a cleaning-rule change): fetched at or after ``since``,
    optionally of one site (the page's host or a subdomain of it) or one feed."""

    since: datetime
    site: str | None = None
    feed_id: int | None = None


# The page's host, from its final URL (after redirects: the site whose markup the cleaning rules saw).
_REPROCESS_WHERE = f"""
    {HAS_BODY} AND p.fetched_at >= %(since)s
    AND (i.state = 'published' OR (i.state = 'failed' AND i.failed_from = 'fetched'))
    AND (%(feed)s::bigint IS NULL OR i.feed_id = %(feed)s)
    AND (%(site)s::text IS NULL OR (
         SELECT host = %(site)s OR host LIKE '%%.' || %(site)s
         FROM lower(substring(p.final_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#]+)')) AS host))
"""  # noqa: S608 - fixed text


def _reprocess_params(r: Reprocess) -> dict[str, object]:
    return {"since": r.since, "feed": r.feed_id, "site": r.site.lower().strip(".") if r.site else None}


def count_reprocessable(conn: psycopg.Connection, r: Reprocess) -> dict[str, int]:
    """How many items ``reopen_for_extraction`` would move, by their current state."""
    rows = conn.execute(
        f"SELECT i.state, count(*) FROM items i JOIN pages p ON p.item_id = i.id WHERE {_REPROCESS_WHERE} "  # noqa: S608 - fixed text
        "GROUP BY i.state",
        _reprocess_params(r),
    ).fetchall()
    return {str(state): int(n) for state, n in rows}


def reopen_for_extraction(
    conn: psycopg.Connection, r: Reprocess, after_id: int, limit: int, sweep_at: datetime
) -> list[int]:
    """Move published items, and items that failed at extraction, whose raw page is still stored back to
    ``fetched``: the extract stage runs again, then enrich re-publishes with a new cursor. Pages by id
    after ``after_id``, so a caller looping over batches never meets an item it already re-published.
    If the extract message is never sent, the sweeper sends it at ``sweep_at``."""
    rows = conn.execute(
        f"""
        WITH picked AS (
            SELECT i.id FROM items i JOIN pages p ON p.item_id = i.id
            WHERE i.id > %(after)s AND {_REPROCESS_WHERE}
            ORDER BY i.id LIMIT %(limit)s FOR UPDATE OF i SKIP LOCKED
        )
        UPDATE items i SET state = 'fetched', attempts = 0, outcome = NULL, last_error = NULL,
                           failed_from = NULL, sweep_at = %(sweep_at)s, retry_at = NULL,
                           state_changed_at = now()
        FROM picked WHERE i.id = picked.id RETURNING i.id
        """,  # noqa: S608 - fixed text; every value is a parameter
        {**_reprocess_params(r), "after": after_id, "limit": limit, "sweep_at": sweep_at},
    ).fetchall()
    return sorted(int(row[0]) for row in rows)
