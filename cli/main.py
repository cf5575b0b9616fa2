"""The `newsmill` command line: migrate, manage feeds, run the fleet, debug extraction."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import typer
from pydantic import ValidationError
from rich.console import Console

from cli import feeds as feeds_cli
from cli import subscriptions as subscriptions_cli
from cli import topics as topics_cli
from cli.api import api
from cli.demo import demo
from cli.demo_env import use_running_demo
from cli.errors import USAGE, CommandError, explain
from cli.extract import extract
from cli.idle import EXIT_WAITING, Remaining, remaining
from cli.reprocess import reprocess
from cli.services import require_broker
from cli.status import healthcheck, status
from cli.supervisor import Supervisor, fleet
from cli.tail import tail
from shared.db import feeds
from shared.db.connection import apply_migrations, connect, create_database, require_current_schema
from shared.settings import Settings, get_settings

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


@app.callback()
def _beside_a_running_demo(ctx: typer.Context) -> None:
    """Commands run beside `newsmill demo` use its servers (see cli.demo_env); the demo itself does not."""
    if ctx.invoked_subcommand != "demo":
        use_running_demo()


def main() -> None:
    """The `newsmill` console script: the commands, with every foreseeable failure as one line on stderr."""
    try:
        code = app(prog_name="newsmill", standalone_mode=False)
    except typer.Abort:  # end of input at a prompt
        _fail("aborted", 1)
    except CommandError as exc:  # a command's own one-line report
        _fail(exc.format_message(), exc.exit_code)
    except typer.TyperException as exc:  # the command line: an unknown option, a missing argument, a bad value
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `newsmill feeds`: the help (already printed) is the answer
            sys.exit(USAGE)
        where = ctx.command_path if ctx is not None else "newsmill"
        _fail(f"{exc.format_message()} (see `{where} --help`)", exc.exit_code, where)
    except Exception as exc:
        problem = explain(exc, *_service_urls())
        if problem is None:
            raise
        _fail(problem.message, problem.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _service_urls() -> tuple[str, str]:
    """The URLs the failed command used (the configured ones, or their defaults if settings are invalid)."""
    try:
        s = get_settings()
    except ValidationError:
        defaults = Settings.model_fields
        return (os.environ.get("NEWSMILL_DATABASE_URL", defaults["database_url"].default),
                os.environ.get("NEWSMILL_REDIS_URL", defaults["redis_url"].default))  # fmt: skip
    return s.database_url, s.redis_url


def _fail(message: str, code: int, where: str = "newsmill") -> None:
    # Not through rich: it would wrap the line at the terminal's width, and the point is one line.
    sys.stderr.write(f"{where}: {' '.join(message.split())}\n")
    sys.exit(code)


@app.command()
def migrate(
    create: bool = typer.Option(False, "--create-database", help="Create the database first if it is missing."),
) -> None:
    """Create or upgrade the database schema (idempotent; safe to run from several hosts at once)."""
    url = get_settings().database_url
    if create and create_database(url):
        console.print("created the database")
    applied = apply_migrations(url)
    console.print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")


def _remaining(started: datetime, due_ids: list[int], shown: list[str]) -> Remaining:
    """What is left, printed when it changed (``shown`` holds the last line printed)."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        left = remaining(conn, due_ids, started, datetime.now(UTC))
    if left.progress() not in shown:
        console.print(left.progress(), highlight=False)
        shown[:] = [left.progress()]
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
    require_current_schema(s.database_url)
    require_broker(s.redis_url)
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

    shown: list[str] = []

    def idle() -> bool:
        nonlocal left
        left = _remaining(started, due_ids, shown)
        return left.pending == 0

    if until_idle:  # checked twice a second (a few cheap counts): a run ends soon after its last article
        ok = sup.wait_until(lambda: stopping or idle(), poll_every=0.5, timeout=timeout or None)
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
