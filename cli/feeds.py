"""`newsmill feeds`: add, import, list and remove source feeds."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from cli.errors import FAILED, CommandError
from cli.inputs import read_capped
from cli.tables import columns, print_table
from shared.db import feeds
from shared.db.connection import connect
from shared.settings import get_settings
from shared.urls import checked_feed_url

app = typer.Typer(help="Manage the source feeds newsmill polls.", no_args_is_help=True)
console = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _shown(value: str, limit: int = 100) -> str:
    """A user's value in an error line: quoted so control characters show, and cut if very long."""
    return repr(value[:limit]) + (f"… ({len(value):,} characters)" if len(value) > limit else "")


@app.command("add")
def add(urls: list[str] = typer.Argument(..., help="Feed URLs (RSS or Atom).")) -> None:
    """Add feeds; they are polled at the next dispatcher tick. One bad URL and none is added (exit 2)."""
    checked, bad = [], False
    for url in urls:
        try:
            checked.append(checked_feed_url(url))
        except ValueError as exc:
            err.print(f"error: {_shown(url)}: {exc}", markup=False)
            bad = True
    if bad:
        raise typer.Exit(2)
    with connect(get_settings().database_url, autocommit=True) as conn:
        for url in checked:
            feed, created = feeds.add_feed(conn, url)
            console.print(f"{'added' if created else 'already present'}: [bold]{feed.id}[/] {feed.url}")


@app.command("import")
def import_opml(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="An OPML file.")) -> None:
    """Add every feed listed in an OPML file (feeds already present are left as they are); entries that
    cannot be feeds (not http(s), malformed) are listed as skipped."""
    from shared.opml import feeds_from_opml  # noqa: PLC0415 - lxml, only for this command

    limit = get_settings().max_response_bytes  # outside the try: an invalid setting is not the file's fault
    try:
        found = feeds_from_opml(read_capped(path, limit))
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    for value, why in found.skipped:
        err.print(f"skipped: {_shown(value)}: {why}", markup=False)
    added = 0
    with connect(get_settings().database_url, autocommit=True) as conn:
        for url in found.urls:
            added += feeds.add_feed(conn, url)[1]
    console.print(f"{len(found.urls)} feeds in {path.name}: {added} added, {len(found.urls) - added} already present, "
                  f"{len(found.skipped)} entries skipped")  # fmt: skip


@app.command("export")
def export_opml(
    path: Path | None = typer.Argument(None, dir_okay=False, help="Where to write the OPML (default: stdout)."),
) -> None:
    """Write every source feed as OPML 2.0 (`feeds import` reads it back): to move or back up a fleet's feeds."""
    from shared.opml import source_feeds_opml  # noqa: PLC0415 - lxml, only for this command

    with connect(get_settings().database_url, autocommit=True) as conn:
        rows = feeds.list_feeds(conn)
    document = source_feeds_opml(rows, datetime.now(UTC))
    if path is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    path.write_bytes(document)
    Console(stderr=True).print(f"{len(rows)} feeds written to {path}")


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="One JSON object per feed.")) -> None:
    """List feeds with their health: last outcome, failures, next poll."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        rows = feeds.list_feeds(conn)
    if json_out:
        import json  # noqa: PLC0415 - only this branch needs it

        for f in rows:
            print(json.dumps({
                "id": f.id, "url": f.url, "title": f.title, "last_outcome": f.last_outcome,
                "last_error": f.last_error, "consecutive_failures": f.consecutive_failures,
                "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
                "next_poll_at": f.next_poll_at.isoformat(),
            }))  # fmt: skip
        return
    print_table(
        console,
        columns("id", "url", "title", "last outcome", "failures", "next poll (UTC)", right=("id", "failures")),
        ([str(f.id), f.url, f.title or "", f.last_outcome or "never polled", str(f.consecutive_failures),
          f.next_poll_at.strftime("%Y-%m-%d %H:%M:%S")] for f in rows),
    )  # fmt: skip


@app.command("remove")
def remove(url_or_id: str = typer.Argument(..., help="The feed's URL or id.")) -> None:
    """Stop polling a feed. Its articles stay."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        if not feeds.remove_feed(conn, url_or_id):
            raise CommandError(f"no feed {url_or_id!r} (see `newsmill feeds list`)", FAILED)
    console.print(f"removed {url_or_id}")
