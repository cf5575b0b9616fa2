"""`newsmill status` and `newsmill healthcheck`: what ops look at, from Postgres and Redis."""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from cli.errors import explain
from cli.tables import columns, print_table
from scheduler.dispatch import BEAT_TICK_KEY
from shared.db import stats
from shared.db.connection import connect, require_current_schema
from shared.settings import Settings, get_settings

# Redis, httpx and Celery are imported where they are used: every `newsmill` command imports this module at
# start-up, and a container's health check (run every few seconds) imports only the client its role needs.

console = Console()
# What `newsmill healthcheck ROLE` can check (compose gives each service one; tests/test_deploy.py checks them).
ROLES = ("worker", "beat", "api", "db")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _from_redis(redis_url: str) -> tuple[dict[str, int] | None, list[dict[str, Any]] | None]:
    """Messages waiting per broker queue, and the reports of the `newsmill run` supervisors alive now; None
    for each when Redis does not answer (status still shows the rest)."""
    import redis  # noqa: PLC0415

    from cli.supervision import read_reports  # noqa: PLC0415
    from shared.metrics import QUEUES  # noqa: PLC0415

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        return {q: int(client.llen(q)) for q in QUEUES}, read_reports(client)
    except redis.RedisError:
        return None, None
    finally:
        client.close()


def status(json_out: bool = typer.Option(False, "--json", help="One JSON document, for scripts.")) -> None:
    """Per stage: queued, waiting, in progress, retrying, failed, oldest; feeds; articles published."""
    s = get_settings()
    now = datetime.now(UTC)
    depths, supervisors = _from_redis(s.redis_url)
    with connect(s.database_url, autocommit=True) as conn:
        stages = stats.stage_stats(conn, now)
        view = stats.overview(conn, now)
        worst = stats.worst_feeds(conn)
    if json_out:
        doc = {
            "generated_at": now.isoformat(), "queues": depths, "stages": [asdict(x) for x in stages],
            "overview": asdict(view), "supervisors": supervisors,
            "worst_feeds": [{**asdict(f), "last_success_at": f.last_success_at.isoformat() if f.last_success_at
                             else None} for f in worst],
        }  # fmt: skip
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    _print_tables(depths, stages, view, worst)
    _print_supervisors(supervisors or [])


def _print_tables(
    depths: dict[str, int] | None, stages: list[stats.StageStats], view: stats.Overview, worst: list[stats.FeedHealth]
) -> None:
    def queued(queue: str) -> str:
        return "?" if depths is None else str(depths[queue])

    numbers = ("queued", "waiting", "in progress", "retrying", "failed", "oldest")
    print_table(
        console,
        columns("stage", *numbers, right=numbers),
        # each item stage has the queue of its name
        ([x.stage, queued(x.stage), str(x.waiting), str(x.in_progress), str(x.retrying), str(x.failed),
          _age(x.oldest_age_seconds)] for x in stages),
        title="Pipeline",
    )  # fmt: skip
    if depths is None:
        console.print("[red]Redis did not answer: queue depths unknown[/]")
    console.print(
        f"feeds: {view.feeds_total} total, {view.feeds_due} due, {view.feeds_failing} failing "
        f"({view.feeds_failing_over_a_day} for over a day); queues: feeds {queued('feeds')}, "
        f"deliver {queued('deliver')}\n"
        f"published: {view.published_last_hour} in the last hour, {view.published_last_day} in the last day; "
        f"pipeline lag {_age(view.pipeline_lag_seconds)}; "
        f"batches awaiting publication {view.batches_awaiting_publication}",
        soft_wrap=not console.is_terminal,  # a pipe gets each line whole
    )
    if worst:
        console.print()
        print_table(
            console,
            columns("feed", "url", "failures", "outcome", "last success", "last error", right=("feed", "failures")),
            ([str(f.id), f.url, str(f.consecutive_failures), f.last_outcome or "",
              f.last_success_at.strftime("%Y-%m-%d %H:%M") if f.last_success_at else "never",
              (f.last_error or "")[:80]] for f in worst),
            title="Worst feeds",
        )  # fmt: skip


def _print_supervisors(reports: list[dict[str, Any]]) -> None:
    """One line per `newsmill run` alive now: its children, and the restarts of those that died."""
    for r in reports:
        children = []
        for name, c in r.get("children", {}).items():
            state = "given up" if c.get("given_up") else "running" if c.get("running") else "restarting"
            restarts = f", {c['restarts']} restarts (last exit {c['last_exit_code']})" if c.get("restarts") else ""
            children.append(f"{name} {state}{restarts}")
        line = f"newsmill run on {r.get('host')} (pid {r.get('pid')}): {'; '.join(children)}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _check_beat(s: Settings) -> None:
    import redis  # noqa: PLC0415

    try:
        tick = redis.Redis.from_url(s.redis_url).get(BEAT_TICK_KEY)
    except redis.RedisError as exc:
        raise RuntimeError(str(exc)) from exc
    age = time.time() - float(tick) if tick else None
    if age is None or age > max(60.0, 6 * s.dispatch_every):
        raise RuntimeError(f"no dispatcher tick for {_age(age)}")


def _check_worker(queue: str | None) -> None:
    """The worker of this host that consumes ``queue`` answers. In a container that is the node QUEUE@host
    (compose names each worker so), which a ping reaches at once; beside `newsmill run` or the demo, one
    worker consumes several queues under another name, so the workers of this host are asked which they
    consume (a broadcast: it waits out a one-second silence)."""
    from kombu.exceptions import OperationalError  # noqa: PLC0415

    from workers.app import app as celery_app  # noqa: PLC0415

    host = socket.gethostname()
    node = f"{queue or 'celery'}@{host}"
    try:
        if celery_app.control.ping(destination=[node], timeout=5.0):
            return
        consumed = celery_app.control.inspect(timeout=1.0).active_queues() or {}
    except OperationalError as exc:  # the broker is away: one line for the container's health log
        raise RuntimeError(f"cannot reach the broker: {exc}") from exc
    wanted = queue or "celery"
    if not any(name.endswith(f"@{host}") and any(q.get("name") == wanted for q in queues)
               for name, queues in consumed.items()):  # fmt: skip
        raise RuntimeError(f"no worker of this host consumes {wanted!r} (worker {node} did not answer a ping)")


def _check_api(s: Settings) -> None:
    """The API container's liveness: its own /healthz on the port it was told to listen on."""
    import httpx  # noqa: PLC0415

    try:
        httpx.get(f"http://127.0.0.1:{s.api_port}/healthz", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(str(exc)) from exc


def healthcheck(
    role: str = typer.Argument(..., help="worker, beat, api or db"),
    queue: str | None = typer.Argument(None, help="For a worker: its queue (its node is QUEUE@hostname)."),
) -> None:
    """Exit 0 when this role is healthy (for container HEALTHCHECKs), 1 with a reason otherwise."""
    try:
        s = get_settings()
        require_current_schema(s.database_url)
        if role == "beat":
            _check_beat(s)
        elif role == "worker":
            _check_worker(queue)
        elif role == "api":
            _check_api(s)
        elif role not in ROLES:
            raise RuntimeError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    except Exception as exc:
        # Exit 1 whatever went wrong, an invalid setting included: a container health check knows 0 and 1 only.
        problem = explain(exc, *_urls())
        if problem is None and not isinstance(exc, RuntimeError):  # RuntimeError: a check's own verdict
            raise
        _unhealthy(problem.message if problem else str(exc))
        raise typer.Exit(1) from exc
    console.print("healthy")


def _unhealthy(reason: str) -> None:
    sys.stdout.write(f"unhealthy: {' '.join(reason.split())}\n")  # one line, unwrapped, for the health log


def _urls() -> tuple[str, str]:
    try:
        s = get_settings()
    except ValidationError:
        return "(NEWSMILL_DATABASE_URL)", "(NEWSMILL_REDIS_URL)"
    return s.database_url, s.redis_url
