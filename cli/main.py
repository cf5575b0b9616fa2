"""The `newsmill` command line: migrate, manage feeds, run the fleet, debug extraction."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from types import FrameType

import typer
from rich.console import Console

from cli import feeds as feeds_cli
from cli import topics as topics_cli
from cli.extract import extract
from cli.status import healthcheck, status
from cli.supervisor import Supervisor, fleet
from cli.tail import tail
from shared.db import feeds, items
from shared.db.connection import SchemaNotCurrentError, apply_migrations, connect, require_current_schema
from shared.settings import get_settings

app = typer.Typer(help="newsmill: news feeds in, clean enriched articles in PostgreSQL out.", no_args_is_help=True)
app.add_typer(feeds_cli.app, name="feeds")
app.add_typer(topics_cli.app, name="topics")
app.command("extract", help="Show how one page is cleaned, or clean a batch of pages (--jsonl).")(extract)
app.command("status")(status)
app.command("healthcheck")(healthcheck)
app.command("tail")(tail)
console = Console(stderr=True)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (idempotent; safe to run from several hosts at once)."""
    applied = apply_migrations(get_settings().database_url)
    console.print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")


def _idle(started: datetime, due_ids: list[int]) -> bool:
    with connect(get_settings().database_url, autocommit=True) as conn:
        unpolled = feeds.count_not_polled_since(conn, due_ids, started)
        active = items.count_in_flight(conn, datetime.now(UTC), timedelta(seconds=60))
        counts = items.count_by_state(conn)
    console.print(f"feeds to poll: {unpolled}  items in flight: {active}  {counts}", highlight=False)
    return unpolled == 0 and active == 0


@app.command()
def run(
    until_idle: bool = typer.Option(False, "--until-idle", help="Poll every feed once, finish, exit."),
    io_concurrency: int = typer.Option(16, help="Threads of the feeds+fetch worker."),
    cpu_concurrency: int = typer.Option(0, help="Processes of the extract+enrich worker (0: one per CPU)."),
    timeout: float = typer.Option(0, help="With --until-idle: give up after this many seconds (0: never)."),
) -> None:
    """Run beat and the workers as supervised child processes until Ctrl-C (or until idle)."""
    s = get_settings()
    try:
        require_current_schema(s.database_url)
    except SchemaNotCurrentError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    started = datetime.now(UTC)
    with connect(s.database_url, autocommit=True) as conn:
        due_ids = feeds.due_feed_ids(conn, started)
    sup = Supervisor(fleet(io_concurrency, cpu_concurrency or None), env=dict(os.environ))
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sup.start()
    from workers.app import app as celery_app  # noqa: PLC0415 - only needed once the fleet runs

    celery_app.send_task("newsmill.dispatch_due_feeds")  # now, not at beat's first tick
    if until_idle:
        ok = sup.wait_until(lambda: stopping or _idle(started, due_ids), poll_every=2.0, timeout=timeout or None)
    else:
        ok = sup.wait_until(lambda: stopping, poll_every=1.0)
    codes = sup.stop()
    console.print(f"stopped: {codes}")
    if not ok or (stopping and until_idle):
        raise typer.Exit(1)
