"""What a `newsmill run` supervisor tells `newsmill status`: its children and their restarts, kept in Redis.

Each supervisor writes its report under its own key (host and pid) with a short expiry, refreshed while it
runs, so `status` lists the supervisors alive now and a stopped one disappears by itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis

KEY_PREFIX = "newsmill:supervisor:"
# Three missed reports (cli.supervisor.REPORT_EVERY is 30 s) and a supervisor counts as gone.
TTL_SECONDS = 100

log = logging.getLogger(__name__)


def publisher(redis_url: str) -> Callable[[dict[str, Any]], None]:
    """A Supervisor ``on_report`` hook storing each report in Redis; a Redis outage costs only the report."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)

    def publish(report: dict[str, Any]) -> None:
        key = f"{KEY_PREFIX}{report['host']}:{report['pid']}"
        try:
            client.set(key, json.dumps(report), ex=TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("cannot store the supervisor's report", extra={"error": str(exc)})

    return publish


def read_reports(client: redis.Redis) -> list[dict[str, Any]]:
    """The reports of every supervisor alive now, oldest first."""
    reports = []
    for key in client.scan_iter(match=KEY_PREFIX + "*", count=100):
        raw = client.get(key)
        if raw is not None:
            reports.append(json.loads(raw))
    return sorted(reports, key=lambda r: str(r.get("started_at")))
