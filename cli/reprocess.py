"""`newsmill reprocess`: extract stored raw HTML again after a cleaning-rule change, and re-publish it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console

from cli.durations import parse_since
from cli.services import require_broker
from shared.db import reprocess as reprocessing
from shared.db.connection import connect
from shared.settings import get_settings

console = Console(stderr=True)
BATCH = 500  # items moved per transaction, their extract messages sent right after it commits
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")


def reprocess(
    since: str = typer.Option(..., "--since", help="Pages fetched since: 30m, 12h, 7d, 2w, or an ISO date."),
    site: str | None = typer.Option(None, "--site", help="Only pages of this host (and its subdomains)."),
    feed: int | None = typer.Option(None, "--feed", help="Only items of this feed id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be re-extracted; change nothing."),
) -> None:
    """Re-extract stored raw HTML: published items, and items that failed at extraction, whose page is still
    stored go back to `fetched`; the extract workers clean them with today's rules and enrich re-publishes
    each one with a new cursor, so downstream readers see the update."""
    s = get_settings()
    now = datetime.now(UTC)
    host = site.strip().lower().strip(".") if site else None
    if host is not None and not _HOST.match(host):
        raise typer.BadParameter(f"{site!r} is not a host name", param_hint="--site")
    selection = reprocessing.Reprocess(parse_since(since, now), host, feed)
    with connect(s.database_url, autocommit=True) as conn:
        counts = reprocessing.count_reprocessable(conn, selection)
        total = sum(counts.values())
        detail = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"
        if dry_run:
            console.print(f"would re-extract {total} item(s) ({detail}) fetched since {selection.since:%Y-%m-%d %H:%M}")
            return
        require_broker(s.redis_url)  # before any item moves: a broker away is said at once, in one line
        from workers.app import app as celery_app  # noqa: PLC0415 - Celery only when something is sent

        moved, after = 0, 0
        sweep_at = now + timedelta(seconds=s.stuck_after)
        while ids := reprocessing.reopen_for_extraction(conn, selection, after, BATCH, sweep_at):
            # Sent after the batch committed (autocommit: the UPDATE is its own transaction). A send that
            # fails loses nothing: the sweeper re-sends items still in `fetched` at sweep_at.
            for start in range(0, len(ids), s.extract_batch):
                celery_app.send_task("newsmill.extract_items", (ids[start : start + s.extract_batch],))
            moved += len(ids)
            after = ids[-1]
    console.print(f"re-extracting {moved} item(s) ({detail}); follow with `newsmill status`")
