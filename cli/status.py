"""`newsmill status` and `newsmill healthcheck`: what ops look at, from Postgres and Redis."""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime

import redis
import typer
from rich.console import Console
from rich.table import Table

from scheduler.dispatch import BEAT_TICK_KEY
from shared.db import stats
from shared.db.connection import SchemaNotCurrentError, connect, require_current_schema
from shared.metrics import QUEUES
from shared.settings import get_settings

console = Console()


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def status(json_out: bool = typer.Option(False, "--json", help="One JSON document, for scripts.")) -> None:
    """Per stage: queued, waiting, retrying, failed, oldest; feeds due and failing; recent output."""
    s = get_settings()
    now = datetime.now(UTC)
    client = redis.Redis.from_url(s.redis_url)
    depths = {q: int(client.llen(q)) for q in QUEUES}
    with connect(s.database_url, autocommit=True) as conn:
        stages = stats.stage_stats(conn, now)
        view = stats.overview(conn, now)
        worst = stats.worst_feeds(conn)
    if json_out:
        doc = {
            "queues": depths, "stages": [asdict(x) for x in stages], "overview": asdict(view),
            "worst_feeds": [{**asdict(f), "last_success_at": f.last_success_at.isoformat() if f.last_success_at
                             else None} for f in worst],
        }  # fmt: skip
        sys.stdout.write(json.dumps(doc) + "\n")
        return
    table = Table("stage", "queued", "waiting", "retrying", "failed", "oldest", title="Pipeline")
    queue_of = {"fetch": "fetch", "extract": "extract", "enrich": "enrich"}
    for x in stages:
        table.add_row(x.stage, str(depths[queue_of[x.stage]]), str(x.waiting), str(x.retrying), str(x.failed),
                      _age(x.oldest_age_seconds))  # fmt: skip
    console.print(table)
    console.print(
        f"feeds: {view.feeds_total} total, {view.feeds_due} due, {view.feeds_failing} failing "
        f"({view.feeds_failing_over_a_day} for over a day), feeds queue {depths['feeds']}\n"
        f"published: {view.published_last_hour} in the last hour, {view.published_last_day} in the last day; "
        f"pipeline lag {_age(view.pipeline_lag_seconds)}"
    )
    if worst:
        bad = Table("feed", "failures", "outcome", "last error", title="Worst feeds")
        for f in worst:
            bad.add_row(f"{f.id} {f.url}", str(f.consecutive_failures), f.last_outcome or "", (f.last_error or "")[:80])
        console.print(bad)


def healthcheck(
    role: str = typer.Argument(..., help="worker, beat or db"),
    queue: str | None = typer.Argument(None, help="For a worker: its queue (its node is QUEUE@hostname)."),
) -> None:
    """Exit 0 when this role is healthy (for container HEALTHCHECKs), 1 with a reason otherwise."""
    s = get_settings()
    try:
        require_current_schema(s.database_url)
        if role == "beat":
            tick = redis.Redis.from_url(s.redis_url).get(BEAT_TICK_KEY)
            age = time.time() - float(tick) if tick else None
            if age is None or age > max(60.0, 6 * s.dispatch_every):
                raise RuntimeError(f"no dispatcher tick for {_age(age)}")
        elif role == "worker":
            from workers.app import app as celery_app  # noqa: PLC0415 - only workers need Celery here

            node = f"{queue or 'celery'}@{socket.gethostname()}"
            if not celery_app.control.ping(destination=[node], timeout=5.0):
                raise RuntimeError(f"worker {node} did not answer a ping")
        elif role != "db":
            raise RuntimeError(f"unknown role {role!r}")
    except (SchemaNotCurrentError, RuntimeError, redis.RedisError) as exc:
        console.print(f"unhealthy: {exc}")
        raise typer.Exit(1) from exc
    console.print("healthy")
