"""Read-only SQL behind `newsmill status` and the pipeline gauges: counts, ages and the worst feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from shared.db import publish_queue
from shared.db.feeds import DUE
from shared.db.items import UNFINISHED

# The stage that works on an item in each unfinished state.
STAGE_OF_STATE = {"discovered": "fetch", "fetched": "extract", "extracted": "enrich"}


@dataclass(frozen=True)
class StageStats:
    stage: str
    waiting: int  # items in the state this stage consumes
    in_progress: int  # of those, claimed by a worker right now (attempt counted, deadline not passed)
    retrying: int  # of those, waiting out a transient failure
    failed: int  # items this stage gave up on
    oldest_age_seconds: float | None  # age of the oldest waiting item in this state


@dataclass(frozen=True)
class FeedHealth:
    id: int
    url: str
    consecutive_failures: int
    last_outcome: str | None
    last_error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class Overview:
    feeds_total: int
    feeds_due: int
    feeds_failing: int
    feeds_failing_over_a_day: int
    published_last_hour: int
    published_last_day: int
    pipeline_lag_seconds: float  # age of the oldest unfinished item; 0 when none
    batches_awaiting_publication: int  # committed to publish_queue, not given cursors yet (normally 0 or a few)


def stage_stats(conn: psycopg.Connection, now: datetime) -> list[StageStats]:
    rows = conn.execute(
        f"""
        SELECT state, count(*),
               -- claim() counts an attempt and pushes sweep_at out; advance() resets attempts; defer() sets
               -- a transient outcome. So: attempted, no failure recorded, deadline ahead = being worked on.
               count(*) FILTER (WHERE attempts > 0 AND coalesce(outcome, 'ok') = 'ok' AND sweep_at > %s),
               count(*) FILTER (WHERE outcome IS NOT NULL AND outcome <> 'ok'),
               extract(epoch FROM %s - min(state_changed_at))
        FROM items WHERE {UNFINISHED} GROUP BY state
        """,  # noqa: S608 - fixed text
        (now, now),
    ).fetchall()
    failed: dict[str, int] = dict(
        conn.execute("SELECT failed_from, count(*) FROM items WHERE state = 'failed' GROUP BY failed_from").fetchall()
    )
    by_state = {r[0]: r for r in rows}
    out = []
    for state, stage in STAGE_OF_STATE.items():
        row = by_state.get(state)
        out.append(StageStats(
            stage=stage, waiting=int(row[1]) if row else 0, in_progress=int(row[2]) if row else 0,
            retrying=int(row[3]) if row else 0, failed=int(failed.get(state, 0)),
            oldest_age_seconds=float(row[4]) if row else None,
        ))  # fmt: skip
    return out


def overview(conn: psycopg.Connection, now: datetime) -> Overview:
    feeds_row = conn.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE {DUE}),
               count(*) FILTER (WHERE consecutive_failures > 0),
               count(*) FILTER (WHERE consecutive_failures > 0
                                AND coalesce(last_success_at, created_at) < %(now)s - interval '1 day')
        FROM feeds
        """,  # noqa: S608 - fixed text
        {"now": now},
    ).fetchone()
    # Three index lookups (0007_stats_indexes), not a scan of every item: this runs at every metrics scrape.
    items_row = conn.execute(
        f"""
        SELECT (SELECT count(*) FROM items
                WHERE state = 'published' AND state_changed_at >= %(now)s - interval '1 hour'),
               (SELECT count(*) FROM items
                WHERE state = 'published' AND state_changed_at >= %(now)s - interval '1 day'),
               coalesce(extract(epoch FROM %(now)s - (
                   SELECT min(created_at) FROM items WHERE {UNFINISHED})), 0)
        """,  # noqa: S608 - fixed text
        {"now": now},
    ).fetchone()
    assert feeds_row is not None
    assert items_row is not None
    total, due, failing, failing_long = (int(v) for v in feeds_row)
    return Overview(total, due, failing, failing_long, int(items_row[0]), int(items_row[1]), float(items_row[2]),
                    publish_queue.queued_count(conn))  # fmt: skip


def worst_feeds(conn: psycopg.Connection, limit: int = 10) -> list[FeedHealth]:
    with conn.cursor(row_factory=class_row(FeedHealth)) as cur:
        return cur.execute(
            """
            SELECT id, url, consecutive_failures, last_outcome, last_error, last_success_at FROM feeds
            WHERE consecutive_failures > 0 ORDER BY consecutive_failures DESC, id LIMIT %s
            """,
            (limit,),
        ).fetchall()
