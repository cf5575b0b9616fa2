"""`newsmill feeds`: add, import, list and remove source feeds."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cli.errors import FAILED, CommandError
from cli.tables import columns, print_table
from shared.db import feeds
from shared.db.connection import connect
from shared.settings import get_settings

app = typer.Typer(help="Manage the source feeds newsmill polls.", no_args_is_help=True)
console = Console()


def _validate(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http(s) URL")
    return url


@app.command("add")
def add(urls: list[str] = typer.Argument(..., help="Feed URLs (RSS or Atom).")) -> None:
    """Add feeds; they are polled at the next dispatcher tick."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        for url in urls:
            feed, created = feeds.add_feed(conn, _validate(url))
            console.print(f"{'added' if created else 'already present'}: [bold]{feed.id}[/] {feed.url}")


@app.command("import")
def import_opml(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="An OPML file.")) -> None:
    """Add every feed listed in an OPML file (feeds already present are left as they are)."""
    try:
        from shared.opml import feed_urls_from_opml  # noqa: PLC0415 - lxml, only for this command

        urls = feed_urls_from_opml(path.read_bytes())
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    added = 0
    with connect(get_settings().database_url, autocommit=True) as conn:
        for url in urls:
            added += feeds.add_feed(conn, url)[1]
    console.print(f"{len(urls)} feeds in {path.name}: {added} added, {len(urls) - added} already present")


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
