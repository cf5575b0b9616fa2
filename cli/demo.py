"""`newsmill demo`: embedded services, a demo news site, the whole fleet, a live display, then what landed."""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.live import Live

from cli.demo_env import DemoEnv, claim
from cli.errors import CommandError
from cli.idle import remaining
from cli.supervisor import Supervisor, fleet
from cli.tables import print_table
from shared.db import feeds, topics
from shared.db.connection import apply_migrations, connect
from shared.settings import get_settings
from shared.topic_rules import parse_topics

if TYPE_CHECKING:
    from cli.demo_site import Site

# The demo's own modules (site rendering: jinja2, feedgen, yaml) and the embedded services (redis) are
# imported by the functions that use them: every `newsmill` command imports this module at start-up.

console = Console(stderr=True)


class DemoInterruptedError(Exception):
    """Ctrl-C (or SIGTERM) arrived; everything started so far is stopped on the way out."""


@dataclass(frozen=True)
class Ports:
    postgres: int
    redis: int
    site: int
    api: int


def choose_ports(state: Path, base: int) -> Ports:
    """--port-base N: N..N+3. Otherwise the ports of the last run, saved in ``state``, while they are free
    (the URLs a person copied keep working from run to run), new free ones when not. The site's port must be
    free: feed and article URLs contain it, so a second run must serve the same URLs to find its articles."""
    from shared.embedded import free_port, port_is_free  # noqa: PLC0415

    if base:
        if taken := [port for port in range(base, base + 4) if not port_is_free(port)]:
            raise CommandError(f"--port-base {base}: port(s) {', '.join(map(str, taken))} of 127.0.0.1 are taken")
        return Ports(base, base + 1, base + 2, base + 3)
    saved = json.loads(state.read_text()) if state.exists() else {}
    site = saved.get("site")
    if isinstance(site, int) and not port_is_free(site):
        raise CommandError(f"the demo site's port {site} is taken; free it or pass --port-base")

    def kept(name: str) -> int:
        port = saved.get(name)
        return port if isinstance(port, int) and port_is_free(port) else free_port()

    return Ports(kept("postgres"), kept("redis"), site if isinstance(site, int) else free_port(), kept("api"))


def child_env(database_url: str, redis_url: str, ports: Ports) -> dict[str, str]:
    """The fleet's environment: our servers, the demo site (127.0.0.1) allowed, quick ticks, quiet logs."""
    env = dict(os.environ)
    allow = [n for n in env.get("NEWSMILL_PRIVATE_ALLOWLIST", "").split(",") if n.strip()]
    env.update(
        NEWSMILL_DATABASE_URL=database_url,
        NEWSMILL_REDIS_URL=redis_url,
        NEWSMILL_PRIVATE_ALLOWLIST=",".join([*allow, "127.0.0.1/32"]),
        NEWSMILL_API_PORT=str(ports.api),
        NEWSMILL_PUBLIC_URL=f"http://127.0.0.1:{ports.api}",
    )
    # The demo site is ours and local: no politeness delay, and beat ticks often so the display moves.
    for name, value in (("HOST_MIN_DELAY", "0"), ("HOST_MAX_CONCURRENCY", "8"), ("DISPATCH_EVERY", "2"),
                        ("SWEEP_EVERY", "5"), ("STUCK_AFTER", "60"), ("LOG_LEVEL", "WARNING")):  # fmt: skip
        env.setdefault(f"NEWSMILL_{name}", value)
    return env


def register(database_url: str, site: Site, base_url: str, phase: int) -> list[int]:
    """Load the starter topics and add this phase's feeds (both idempotent); returns the ids of those due.

    Decided inside the transaction that adds them: once it commits, beat's dispatcher may claim them (and
    push their next poll a lease ahead) before we could look."""
    import yaml  # noqa: PLC0415

    from cli.demo_site import DEMO_DIR  # noqa: PLC0415

    document = yaml.safe_load((DEMO_DIR.parent / "topics.yaml").read_text(encoding="utf-8"))
    due = []
    with connect(database_url) as conn, conn.transaction():
        for t in parse_topics(document):
            topics.upsert_topic(conn, t.slug, t.name, t.description, t.rules())
        for feed in site.feeds():
            if feed.phase == phase:
                row, _ = feeds.add_feed(conn, base_url + feed.path)
                if feeds.is_due(row, datetime.now(UTC)):
                    due.append(row.id)
    return due


def wait_for_phase(
    database_url: str, sup: Supervisor, stop: StopFlag, *, phase: str, due: list[int], started: datetime, timeout: float
) -> bool:
    """Show live counts until every ``due`` feed has been polled since ``started`` and no item is in flight."""
    from cli.demo_report import progress_line, progress_table, read_progress  # noqa: PLC0415

    with connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        failed: list[str] = []
        # A terminal watches the counts move; a pipe or a log gets the phase's final counts once, as a line.
        live = Live(console=console, refresh_per_second=4) if console.is_terminal else None
        with live or nullcontext():
            while True:
                stop.check()
                progress = read_progress(conn)
                if live is not None:
                    live.update(progress_table(progress, phase))
                idle = remaining(conn, due, started, datetime.now(UTC)).pending == 0
                failed = [] if idle else sup.watch()  # restarts a child that died; gives up on one that keeps dying
                if idle or failed or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    console.print(progress_line(progress, phase) if live is None else "", highlight=False)
    if not idle:
        console.print(f"[red]gave up: {', '.join(failed)} kept dying[/]" if failed else "[red]timed out[/]")
    return idle


def wait_until_ready(api: str, sup: Supervisor, stop: StopFlag, timeout: float = 90.0) -> bool:
    """Until the API's /readyz answers 200 (its database reachable and migrated): URLs printed before that
    would answer "connection refused" to whoever follows them at once."""
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while True:
        stop.check()
        try:
            if httpx.get(f"{api}/readyz", timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if sup.watch() or time.monotonic() > deadline:
            return False
        time.sleep(0.3)


class StopFlag:
    """Set by SIGINT/SIGTERM; checked between steps so every step finishes or is undone cleanly."""

    def __init__(self) -> None:
        self.set = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.set = True

    def check(self) -> None:
        if self.set:
            raise DemoInterruptedError


def demo(
    exit_when_done: bool = typer.Option(False, "--exit", help="Exit once all is processed (0: all as expected)."),
    port_base: int = typer.Option(0, "--port-base", help="Ports N (PostgreSQL), N+1 (Redis), N+2 (site), N+3 (API)."),
    timeout: float = typer.Option(300, "--timeout", help="Give up when processing takes longer (seconds)."),
) -> None:
    """Run everything on this machine: embedded PostgreSQL and Redis (unless configured), a demo news site
    on 127.0.0.1, beat, workers and the API; show what lands; keep serving until Ctrl-C (or --exit)."""
    from shared.embedded import data_root  # noqa: PLC0415

    stop = StopFlag()
    root = data_root(get_settings().data_dir)
    (root / "demo").mkdir(parents=True, exist_ok=True)
    result = Result()
    with ExitStack() as stack:
        demo_env = stack.enter_context(claim(root))  # first: one demo per data directory
        state = root / "demo" / "ports.json"
        ports = choose_ports(state, port_base)
        state.write_text(json.dumps(asdict(ports)))
        try:
            _run(stack, stop, demo_env, ports, result, exit_when_done=exit_when_done, timeout=timeout)
        except DemoInterruptedError:
            console.print("stopping…")
            result.interrupted = True
        finally:
            with console.status("stopping the fleet and the embedded services…"):
                stack.close()
    # --exit: 0 only when everything landed as expected. Serving: a Ctrl-C after a good report is success.
    ok = result.report_ok and not (exit_when_done and result.interrupted)
    console.print("stopped cleanly" if ok else "[red]stopped; the demo did not finish as expected[/]")
    raise typer.Exit(0 if ok else 1)


@dataclass
class Result:
    report_ok: bool = False
    interrupted: bool = False


def _run(
    stack: ExitStack, stop: StopFlag, demo_env: DemoEnv, ports: Ports, result: Result, *,
    exit_when_done: bool, timeout: float,
) -> None:  # fmt: skip
    from cli.demo_report import LANDED_COLUMNS, announce, check, demo_articles, landed_rows  # noqa: PLC0415
    from cli.demo_server import serve_site  # noqa: PLC0415
    from cli.demo_site import load_site, render_site  # noqa: PLC0415
    from cli.services import start_services  # noqa: PLC0415

    root = demo_env.path.parent  # the data directory
    database_url, redis_url = start_services(stack, root, ports.postgres, ports.redis)
    api = f"http://127.0.0.1:{ports.api}"
    demo_env.publish({"NEWSMILL_DATABASE_URL": database_url, "NEWSMILL_REDIS_URL": redis_url,
                      "NEWSMILL_API_PORT": str(ports.api), "NEWSMILL_PUBLIC_URL": api})  # fmt: skip
    stop.check()
    apply_migrations(database_url)
    site = load_site()
    base_url = stack.enter_context(serve_site(render_site(site, f"http://127.0.0.1:{ports.site}"), ports.site))
    log = root / "demo" / "fleet.log"
    sup = Supervisor(fleet(8, 2, api=True, beat_schedule=root / "demo" / "celerybeat-schedule"),
                     env=child_env(database_url, redis_url, ports), log=log)  # fmt: skip
    stack.callback(sup.stop)
    console.print(f"demo site: {base_url}/   fleet log: {log}")
    sup.start()
    for phase in sorted({f.phase for f in site.feeds()}):
        started = datetime.now(UTC)
        due = register(database_url, site, base_url, phase)
        label = f"phase {phase}: " + ("the sources' own stories" if phase == 1 else "syndicated copies")
        if not wait_for_phase(database_url, sup, stop, phase=label, due=due, started=started, timeout=timeout):
            return
    with connect(database_url, autocommit=True) as conn:
        landed = demo_articles(conn, site, base_url)
    print_table(console, LANDED_COLUMNS, landed_rows(site, landed), title="What landed")
    problems = check(site, landed)
    for problem in problems:
        console.print(f"[red]✗ {problem}[/]")
    result.report_ok = not problems
    if not problems:
        console.print(f"[green]✓ all {len(site.articles)} demo articles were published as expected[/]")
    if not wait_until_ready(api, sup, stop):
        console.print(f"[red]the API at {api} did not become ready; see {log}[/]")
        result.report_ok = False
        return
    announce(api, sorted({t for row in landed.values() for t in row.topics}), (database_url, redis_url), demo_env.path)
    if exit_when_done:
        return
    console.print("serving the demo site and the API; Ctrl-C stops everything")
    while not sup.watch():
        stop.check()
        time.sleep(0.5)
    console.print(f"[red]gave up: {', '.join(sup.failed)} kept dying (see {log})[/]")
    result.report_ok = False
