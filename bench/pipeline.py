"""End to end: the real fleet ingests the fixture site from empty, beside raw trafilatura on the same HTML.

``run_pipeline`` takes a served site (bench/site.py) and its feeds, creates a fresh database and leases a
Redis database, runs ``newsmill run --until-idle`` with the shipped pool types and concurrency, and reads
what happened: articles/s from the first poll to the last published row, each item's time between stages
(from the rows) and CPU per process role (bench/procs.py); bench/stage_costs.py times each stage alone.
``raw_extraction`` times ``trafilatura.extract`` over the same bodies in 2 processes: the CPU-bound stage
alone, the bound no pipeline beats on this machine.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import redis
import trafilatura

from bench import profile
from bench.infra import fleet_env, fresh_database, leased_redis, load_seed_topics, start_fleet
from bench.procs import Backends, Sampler
from bench.site import Site, page_url

_SITE: Site | None = None  # the forked raw-extraction workers' copy of the site


def _extract_one(k: int) -> bool:
    assert _SITE is not None
    body = _SITE.body(_SITE.routes[f"/a/{k}.html".encode()])
    # The bound issue 13 names: the library's text-only call, comments left out as newsmill leaves them out.
    return bool(trafilatura.extract(body, url=page_url(_SITE, k), include_comments=False))


def raw_extraction(site: Site, processes: int = 2) -> dict[str, Any]:
    """``trafilatura.extract(include_comments=False)`` over every page body, in ``processes`` forked processes."""
    global _SITE  # noqa: PLW0603 - handed to the forked workers
    _SITE = site
    import multiprocessing  # noqa: PLC0415

    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        list(pool.map(abs, range(processes)))  # started and warm before the clock starts
        started = time.perf_counter()
        found = list(pool.map(_extract_one, range(site.pages), chunksize=4))
        seconds = time.perf_counter() - started
    return {"processes": processes, "pages": site.pages, "with_text": sum(found), "seconds": seconds,
            "articles_per_s": site.pages / seconds}  # fmt: skip


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "max": 0.0}
    values = sorted(values)
    return {"p50": statistics.median(values), "p90": values[int(0.9 * (len(values) - 1))], "max": values[-1]}


def outcome_rows(conn: psycopg.Connection) -> dict[str, Any]:
    """What the run left in the database: counts, the ingest window, and each item's time between stages."""
    states: dict[str, int] = dict(conn.execute("SELECT state, count(*) FROM items GROUP BY 1").fetchall())
    failures = "SELECT failed_from, outcome, count(*) FROM items WHERE state = 'failed' GROUP BY 1, 2"
    failed = {f"{f}/{o}": n for f, o, n in conn.execute(failures).fetchall()}
    published, duplicates, first_poll, last_row = conn.execute(
        """SELECT count(*), count(duplicate_of), (SELECT min(last_polled_at) FROM feeds), max(updated_at)
           FROM articles WHERE cursor IS NOT NULL"""
    ).fetchone() or (0, 0, None, None)
    gaps = conn.execute(
        """SELECT extract(epoch FROM p.fetched_at - i.created_at), extract(epoch FROM a.created_at - p.fetched_at),
                  extract(epoch FROM a.updated_at - a.created_at)
           FROM items i JOIN pages p ON p.item_id = i.id JOIN articles a ON a.item_id = i.id
           WHERE a.cursor IS NOT NULL"""
    ).fetchall()
    window = (last_row - first_poll).total_seconds() if first_poll and last_row else 0.0
    size, html = conn.execute(
        "SELECT pg_database_size(current_database()), avg(octet_length(coalesce(html_lz4, html_gzip))) FROM pages"
    ).fetchone() or (0, 0)
    return {
        "items_by_state": states, "failed": failed, "published": published, "duplicates": duplicates,
        "ingest_seconds": window, "articles_per_s": published / window if window else 0.0,
        "database_bytes": size, "raw_html_stored_bytes_avg": float(html or 0),
        "window_epoch": [first_poll.timestamp(), last_row.timestamp()] if first_poll and last_row else None,
        "latency_seconds": {
            "discovered_to_fetched": _quantiles([float(g[0]) for g in gaps]),
            "fetched_to_extracted": _quantiles([float(g[1]) for g in gaps]),
            "extracted_to_published": _quantiles([float(g[2]) for g in gaps]),
        },
    }  # fmt: skip


def _memory(sampler: Sampler) -> dict[str, dict[str, float]]:
    """Per role: largest RSS of one process, and the largest RSS after warm-up (the first quarter) and at the
    end (the last quarter): flat means the two are close."""
    summary = {}
    for role, series in sampler.rss_by_role().items():
        end = series[-1][0] or 1.0
        warm = [r for t, r in series if end * 0.25 <= t <= end * 0.5] or [series[0][1]]
        late = [r for t, r in series if t >= end * 0.75] or [series[-1][1]]
        summary[role] = {"max_mib": max(r for _, r in series) / 2**20, "after_warmup_mib": max(warm) / 2**20,
                         "end_mib": max(late) / 2**20}  # fmt: skip
    return summary


def run_pipeline(site: Site, feed_urls: list[str], site_pid: int, *, timeout: float = 1800,
                 profile_to: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Ingest the served ``site`` from its feeds with the real fleet; the result as a JSON-ready dict (the
    ratio to raw extraction is the caller's: bench/__main__.py measures the bound on both sides of it)."""
    result: dict[str, Any] = {"pages": site.pages, "hosts": len(site.hosts), "feeds": len(feed_urls)}
    with (
        fresh_database() as db_url, leased_redis() as redis_url,
        tempfile.TemporaryDirectory(prefix="nm-bench-") as scratch,
    ):  # fmt: skip
        result["topics"] = load_seed_topics(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO feeds (url) SELECT unnest(%s::text[])", (feed_urls,))
        client = redis.Redis.from_url(redis_url)
        redis_pid = int(client.info("server")["process_id"])
        client.close()
        backends = Backends(db_url)
        roles = lambda: {"postgres": backends.pids(), "site": [site_pid], "redis": [redis_pid]}  # noqa: E731
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, started_epoch = time.perf_counter(), time.time()
        fleet = start_fleet(fleet_env(db_url, redis_url), timeout, Path(scratch) / "fleet.log")
        with Sampler(fleet.pid, roles) as sampler:
            spy = profile.attach(fleet.pid, profile_to) if profile_to else None
            code = fleet.wait()
            if spy is not None and profile_to is not None:
                result["profile"] = profile.finish(spy, profile_to)
        wall, ended_epoch = time.perf_counter() - started, time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        backends.close()
        result["fleet_exit_code"] = code
        if code != 0:
            result["fleet_log_tail"] = (Path(scratch) / "fleet.log").read_text(errors="replace")[-3000:]
        result["fleet_wall_seconds"] = wall
        result["fleet_cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        result["cpu_seconds_by_role"] = sampler.cpu_by_role()
        result["memory"] = _memory(sampler)
        with psycopg.connect(db_url, autocommit=True) as conn:
            result.update(outcome_rows(conn))
        if result["window_epoch"]:  # where the time outside the ingest window went: start-up and shutdown
            result["startup_seconds"] = result["window_epoch"][0] - started_epoch
            result["shutdown_seconds"] = ended_epoch - result["window_epoch"][1]
        if result["window_epoch"]:  # CPU between the first poll and the last published row: no start-up
            window = result["window_epoch"]
            result["cpu_seconds_in_window_by_role"] = sampler.cpu_by_role((window[0], window[1]))
            # The fixture site is the benchmark's web server, not the fleet: its CPU is listed, not counted.
            in_window = sum(v for role, v in result["cpu_seconds_in_window_by_role"].items() if role != "site")
            result["cpu_ms_per_article"] = 1000 * in_window / result["published"] if result["published"] else 0.0
    return result
