"""Polling scale: many feeds, most of them unchanged, polled once by the real fleet: feeds/s and CPU per poll.

Every feed was polled before (its ETag is stored), as in a running deployment. 90 % answer the conditional
GET with 304. The others changed: they answer 200 with a 20-entry feed that is parsed, but whose entries are
all known already (the items exist), so the poll does its whole job (parse, look the entries up, store the
validators and the next poll time) without starting article work, which bench/pipeline.py measures.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.infra import fleet_env, fresh_database, leased_redis, start_fleet
from bench.procs import Backends, Sampler
from bench.site import RSS_TYPE, Route, Site, rss, serve
from shared.urls import canonical_url

OLD, NEW = b'"v1"', b'"v2"'


def feed_site(feeds: int, changed_every: int = 10, hosts: int = 10) -> Site:
    site = Site([f"127.0.0.{11 + h}" for h in range(hosts)])
    site.pages = feeds
    site.per_feed = changed_every
    return site


def _routes(site: Site) -> None:
    """Feed ``n`` is on host ``n % hosts``; every ``changed_every``-th one has a new ETag and body."""
    for n in range(site.pages):
        if n % site.per_feed == 0:
            body = rss(f"Feed {n}", _entries(site, n))
            site.routes[f"/f/{n}.xml".encode()] = Route(RSS_TYPE, body, etag=NEW)
        else:
            site.routes[f"/f/{n}.xml".encode()] = Route(RSS_TYPE, rss(f"Feed {n}", []), etag=OLD)


def _entries(site: Site, n: int) -> list[tuple[str, str]]:
    return [(f"Known story {j}", f"{site.base(n % len(site.hosts))}/known/{n}/{j}.html") for j in range(20)]


def feed_url(site: Site, n: int) -> str:
    return f"{site.base(n % len(site.hosts))}/f/{n}.xml"


def _seed(conn: psycopg.Connection, site: Site) -> None:
    """The feeds with their stored ETag, and the changed feeds' entries as already published items."""
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY feeds (id, url, etag) FROM STDIN") as copy:
            for n in range(site.pages):
                copy.write_row((n + 1, feed_url(site, n), OLD.decode()))
        with cur.copy("COPY items (feed_id, guid, url, canonical_url, state) FROM STDIN") as copy:
            for n in range(0, site.pages, site.per_feed):
                for _, link in _entries(site, n):
                    copy.write_row((n + 1, link, link, canonical_url(link), "published"))
        cur.execute("SELECT setval('feeds_id_seq', %s)", (site.pages,))


def run_polling(feeds: int, *, timeout: float = 1800) -> dict[str, Any]:
    site = feed_site(feeds)
    result: dict[str, Any] = {"feeds": feeds, "unchanged_share": 1 - 1 / site.per_feed}
    with (
        serve(site, _routes) as site_pid, fresh_database() as db_url, leased_redis() as redis_url,
        tempfile.TemporaryDirectory(prefix="nm-bench-poll-") as scratch,
    ):  # fmt: skip
        with psycopg.connect(db_url, autocommit=True) as conn:
            _seed(conn, site)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        fleet = start_fleet(fleet_env(db_url, redis_url), timeout, Path(scratch) / "fleet.log")
        backends = Backends(db_url)
        with Sampler(fleet.pid, lambda: {"site": [site_pid], "postgres": backends.pids()}, every=1.0) as sampler:
            code = fleet.wait()
        backends.close()
        result["fleet_wall_seconds"] = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        result["fleet_exit_code"] = code
        if code != 0:
            result["fleet_log_tail"] = (Path(scratch) / "fleet.log").read_text(errors="replace")[-3000:]
        with psycopg.connect(db_url, autocommit=True) as conn:
            polled, first, last = conn.execute(
                "SELECT count(last_polled_at), min(last_polled_at), max(last_polled_at) FROM feeds"
            ).fetchone() or (0, None, None)
            outcomes: dict[str, int] = dict(
                conn.execute("SELECT last_outcome, count(*) FROM feeds GROUP BY 1").fetchall()
            )
            new_items = conn.execute("SELECT count(*) FROM items WHERE state <> 'published'").fetchone()
    window = (last - first).total_seconds() if first and last else 0.0
    roles = sampler.cpu_by_role((first.timestamp(), last.timestamp())) if first and last else {}
    result.update(
        polled=polled, outcomes={str(k): v for k, v in outcomes.items()}, new_items=new_items[0] if new_items else 0,
        poll_seconds=window, feeds_per_s=polled / window if window else 0.0, fleet_cpu_seconds=cpu,
        cpu_seconds_by_role=sampler.cpu_by_role(), cpu_seconds_in_window_by_role=roles,
        fleet_cpu_ms_per_poll=1000 * cpu / polled if polled else 0.0,
        fleet_cpu_ms_per_poll_in_window=1000 * sum(roles.values()) / polled if polled else 0.0,
        io_worker_cpu_ms_per_poll=1000 * roles.get("worker-io", 0.0) / polled if polled else 0.0,
        postgres_cpu_ms_per_poll=1000 * roles.get("postgres", 0.0) / polled if polled else 0.0,
    )  # fmt: skip
    return result
