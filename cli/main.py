"""The `newsmill` command line: migrate, manage feeds, run the fleet, debug extraction."""

from __future__ import annotations

import os
import signal
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from cli import feeds as feeds_cli
from cli import subscriptions as subscriptions_cli
from cli import topics as topics_cli
from cli.api import api
from cli.demo import demo
from cli.extract import extract
from cli.idle import EXIT_WAITING, Remaining, remaining
from cli.reprocess import reprocess
from cli.status import healthcheck, status
from cli.supervisor import Supervisor, fleet
from cli.tail import tail
from shared.db import feeds
from shared.db.connection import SchemaNotCurrentError, apply_migrations, connect, require_current_schema
from shared.settings import get_settings

app = typer.Typer(help="newsmill: news feeds in, clean enriched articles in PostgreSQL out.", no_args_is_help=True)
app.add_typer(feeds_cli.app, name="feeds")
app.add_typer(topics_cli.app, name="topics")
app.add_typer(subscriptions_cli.app, name="subscriptions")
app.command("extract", help="Show how one page is cleaned, or clean a batch of pages (--jsonl).")(extract)
app.command("status")(status)
app.command("reprocess")(reprocess)
app.command("healthcheck")(healthcheck)
app.command("tail")(tail)
app.command("api")(api)
app.command("demo")(demo)
console = Console(stderr=True)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (idempotent; safe to run from several hosts at once)."""
    applied = apply_migrations(get_settings().database_url)
    console.print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")


def _remaining(started: datetime, due_ids: list[int]) -> Remaining:
    with connect(get_settings().database_url, autocommit=True) as conn:
        left = remaining(conn, due_ids, started, datetime.now(UTC))
    console.print(left.progress(), highlight=False)
    return left


@app.command()
def run(  # noqa: PLR0917 - typer maps each parameter to an option
    until_idle: bool = typer.Option(
        False,
        "--until-idle",
        help="Poll every due feed once, finish what is pending, exit: 0 all done, 3 only backoffs left, 1 gave up.",
    ),
    io_concurrency: int = typer.Option(16, help="Threads of the feeds+fetch worker."),
    cpu_concurrency: int = typer.Option(0, help="Processes of the extract+enrich worker (0: one per CPU)."),
    timeout: float = typer.Option(0, help="With --until-idle: give up after this many seconds (0: never)."),
    with_api: bool = typer.Option(True, "--api/--no-api", help="Also serve the HTTP API (never with --until-idle)."),
    embedded: bool = typer.Option(False, "--embedded", help="Start and use embedded PostgreSQL and Redis."),
) -> None:
    """Run beat, the workers and the API as supervised child processes until Ctrl-C (or until idle)."""
    with ExitStack() as services:  # embedded servers stop after the fleet, on every way out
        if embedded:
            from cli.services import use_embedded_services  # noqa: PLC0415 - only --embedded needs them (redis)
            from shared.embedded import data_root  # noqa: PLC0415

            use_embedded_services(services, data_root(get_settings().data_dir))
        # Beat's schedule file is this run's own: two fleets on one machine (tests, a demo) never share it.
        beat_dir = Path(services.enter_context(tempfile.TemporaryDirectory(prefix="newsmill-beat-")))
        _run_fleet(until_idle, io_concurrency, cpu_concurrency, timeout, with_api, beat_dir / "schedule")


def _run_fleet(  # noqa: PLR0917 - the options of `run`, passed on
    until_idle: bool, io_concurrency: int, cpu_concurrency: int, timeout: float, with_api: bool, schedule: Path
) -> None:
    s = get_settings()
    try:
        require_current_schema(s.database_url)
    except SchemaNotCurrentError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    started = datetime.now(UTC)
    with connect(s.database_url, autocommit=True) as conn:
        due_ids = feeds.due_feed_ids(conn, started)
    children = fleet(io_concurrency, cpu_concurrency or None, api=with_api and not until_idle, beat_schedule=schedule)
    from cli.supervision import publisher  # noqa: PLC0415 - redis, only for the commands that run a fleet

    sup = Supervisor(children, env=dict(os.environ), on_report=publisher(s.redis_url))
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sup.start()
    from workers.app import app as celery_app  # noqa: PLC0415 - only needed once the fleet runs

    celery_app.send_task("newsmill.dispatch_due_feeds")  # now, not at beat's first tick
    left: Remaining | None = None

    def idle() -> bool:
        nonlocal left
        left = _remaining(started, due_ids)
        return left.pending == 0

    if until_idle:
        ok = sup.wait_until(lambda: stopping or idle(), poll_every=2.0, timeout=timeout or None)
    else:
        ok = sup.wait_until(lambda: stopping, poll_every=1.0)
    codes = sup.stop()
    console.print(f"stopped: {codes}")
    if sup.failed:
        console.print(f"[red]gave up: {', '.join(sup.failed)} died too often[/]")
    if not ok or (stopping and until_idle):
        raise typer.Exit(1)
    if until_idle and left is not None and left.waiting:
        # Never "idle" with work left: say what waits, and exit with a status of its own.
        console.print(left.waiting_line(datetime.now(UTC)), highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_WAITING)
