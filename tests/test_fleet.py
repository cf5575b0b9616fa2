"""The compose fleet's own commands, run as local processes against the real PostgreSQL and Redis.

migrate, then beat, one worker per queue (with compose's pool options) and the API ingest a fixture site while
one article page holds its response. Healthchecks, `newsmill status --json` and the metrics endpoints must
report what happened. Then every process gets SIGTERM with that page still in flight: all exit within the
grace period, the in-flight fetch is finished rather than lost, and restarted workers publish it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.articles import article_html
from harness.fleet import fleet_env
from shared.db import feeds
from tests.conftest import FIXTURES
from tests.support.broker import queued_args
from tests.support.compose_fleet import (
    ROOT,
    Service,
    compose_services,
    free_port,
    grace_seconds,
    local_argv,
    stop_all,
    wait_for,
)
from tests.support.http_server import LocalSite, Response, serve

pytestmark = pytest.mark.e2e
HTML = {"Content-Type": "text/html; charset=utf-8"}
PAGES = {"/city/tram.html": FIXTURES / "site" / "tram.html", "/monde/biden.html": FIXTURES / "seed" / "seed_page.html"}
SLOW = "/late/ferry.html"


def _feed(site: LocalSite) -> bytes:
    links = [*PAGES, SLOW]
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link><guid>{p}</guid></item>" for p in links)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def _held_page(release: threading.Event) -> object:
    body = article_html("Ferry timetable approved", ["The harbour authority approved the new timetable."] * 4)

    def handler(h: BaseHTTPRequestHandler) -> None:
        release.wait(timeout=600)  # the fetch is in flight until the test lets it finish
        data = body.encode()
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return handler


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _events(svc: Service) -> list[dict[str, object]]:
    """A process's log: every line a JSON event once logging is set up. Before that only Celery's warning
    about running as root (tests run as root; the image's user is not) can appear, as plain text."""
    lines = [line for line in svc.stderr().splitlines() if line.strip()]
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert all("superuser privileges" in text or not text.startswith("/") for text in lines[:first]), lines[:first]
    return [json.loads(line) for line in lines[first:]]


def _states(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return {url.rsplit("/", 1)[-1]: state for url, state in conn.execute("SELECT url, state FROM items")}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_the_compose_fleet_ingests_reports_and_stops_warm(db_url: str, redis_url: str, tmp_path: Path) -> None:
    compose = compose_services()
    api_port = free_port()
    base_env = fleet_env(
        db_url, redis_url, NEWSMILL_LOG_LEVEL="INFO", NEWSMILL_LOG_JSON="true", NEWSMILL_API_PORT=str(api_port),
        NEWSMILL_READ_TIMEOUT="600", NEWSMILL_TOTAL_TIMEOUT="600",  # the held page must not time out
    )  # fmt: skip
    # The database starts empty, unmigrated: the migrate service makes it.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS newsmill CASCADE")
    migrate = _run(local_argv(compose["migrate"]["command"], tmp_path), base_env)
    assert migrate.returncode == 0, migrate.stderr

    release = threading.Event()
    services: list[Service] = []
    with serve() as site:
        for path, file in PAGES.items():
            site.add(path, Response(file.read_bytes(), 200, HTML))
        site.add(SLOW, _held_page(release))
        site.add("/feed.xml", Response(_feed(site), 200, {"Content-Type": "application/rss+xml"}))
        with psycopg.connect(db_url, autocommit=True) as conn:
            feed, _ = feeds.add_feed(conn, site.url("/feed.xml"))
        for name, svc in compose.items():
            if name == "migrate":
                continue
            port = free_port()
            env = {**base_env, "NEWSMILL_METRICS_PORT": str(port)}
            services.append(Service(name, local_argv(svc["command"], tmp_path, api_port), env, port, tmp_path))
        by_name = {s.name: s for s in services}
        try:
            for svc in services:
                svc.start()
            began = time.monotonic()
            wait_for(lambda: site.hits(SLOW) and list(_states(db_url).values()).count("published") == len(PAGES),
                     240, "the fixture site's articles published and the held page requested", services)  # fmt: skip

            print(f"fleet up and the site ingested in {time.monotonic() - began:.1f} s")
            # Every compose healthcheck, run as the container would run it.
            checks = {
                s.name: subprocess.Popen(local_argv(compose[s.name]["healthcheck"]["test"][1:], tmp_path), env=s.env,
                                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for s in services
            }  # fmt: skip
            results = {name: (p.communicate(timeout=120)[0], p.returncode) for name, p in checks.items()}
            assert all(code == 0 for _, code in results.values()), results

            status = _run([*local_argv(["newsmill", "status", "--json"], tmp_path)], base_env)
            assert status.returncode == 0, status.stderr
            doc = json.loads(status.stdout)
            stages = {s["stage"]: s for s in doc["stages"]}
            assert doc["overview"]["published_last_hour"] == len(PAGES)
            assert doc["overview"]["feeds_total"] == 1
            assert (stages["fetch"]["waiting"], stages["fetch"]["in_progress"]) == (1, 1)
            assert stages["extract"]["waiting"] == stages["enrich"]["waiting"] == 0
            assert set(doc["queues"]) == {"feeds", "fetch", "extract", "enrich", "deliver"}
            assert doc["worst_feeds"] == []

            gauges = _scrape(by_name["beat"].metrics_port)
            assert gauges[("newsmill_stage_in_progress", (("stage", "fetch"),))] == 1
            assert gauges[("newsmill_collector_up", ())] == 1
            assert gauges[("newsmill_pipeline_lag_seconds", ())] > 0  # the held item is not published
            fetched = _scrape(by_name["worker-fetch"].metrics_port)
            assert fetched[("newsmill_stage_started_total", (("stage", "fetch"),))] == len(PAGES) + 1
            assert fetched[("newsmill_stage_items_total", (("outcome", "ok"), ("stage", "fetch")))] == len(PAGES)
            extracted = _scrape(by_name["worker-extract"].metrics_port)  # summed over its prefork processes
            assert extracted[("newsmill_stage_items_total", (("outcome", "ok"), ("stage", "extract")))] == len(PAGES)
            assert extracted[("newsmill_stage_started_total", (("stage", "extract"),))] == len(PAGES)
            # The fetched items reached extraction in batches: at most one step per item, at least one in all.
            assert 1 <= extracted[("newsmill_stage_seconds_count", (("stage", "extract"),))] <= len(PAGES)
            enriched = _scrape(by_name["worker-enrich"].metrics_port)
            published = enriched[("newsmill_stage_items_total", (("outcome", "published"), ("stage", "enrich")))]
            assert published == len(PAGES)
            polled = _scrape(by_name["worker-feeds"].metrics_port)
            assert polled[("newsmill_feed_polls_total", (("outcome", "ok"),))] == 1
            with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=10) as r:
                assert b"newsmill_api_requests_total" in r.read()

            # docker compose stop: SIGTERM to all, the held page still downloading.
            threading.Timer(1.0, release.set).start()
            stop_all(services, max(grace_seconds(compose[s.name]) for s in services))
        finally:
            release.set()
            stop_all([s for s in services if s.proc is not None and s.proc.poll() is None], 5)

    exits = {s.name: (s.proc.returncode if s.proc else None, s.exited_after) for s in services}
    print("exit codes and seconds after SIGTERM:", exits)
    for s in services:
        assert s.exited_after is not None, f"{s.name} outlived its grace period"
        assert s.exited_after < grace_seconds(compose[s.name])
        if s.name == "api":  # uvicorn shuts down gracefully, then re-raises the signal it caught (exit 143)
            assert exits[s.name][0] in {0, -signal.SIGTERM}
            assert "Application shutdown complete" in s.stderr()
        else:
            assert exits[s.name][0] == 0, (s.name, s.stderr()[-2000:])

    # Warm shutdown finished the in-flight fetch and handed the item on; nothing was lost.
    states = _states(db_url)
    assert states["ferry.html"] == "fetched"
    with psycopg.connect(db_url, autocommit=True) as conn:
        (held,) = conn.execute("SELECT id FROM items WHERE url LIKE %s", ("%" + SLOW,)).fetchone() or (None,)
    assert any(held in args[0] for args in queued_args(redis_url, "extract", "newsmill.extract_items"))

    # One event per line, JSON, and every line of a task carries its ids.
    extract_events = _events(by_name["worker-extract"])
    assert any(e.get("task") == "newsmill.extract_items" and "item_ids" in e for e in extract_events)
    polls = [e for e in _events(by_name["worker-feeds"]) if e.get("message") == "polled feed"]
    assert polls
    assert all(e["feed_id"] == feed.id and e["task"] == "newsmill.poll_feeds" for e in polls)

    # The next deploy's workers pick the message up: every item ends final.
    again = []
    for name in ("worker-extract", "worker-enrich"):
        port = free_port()
        again.append(Service(f"{name}-2", by_name[name].argv, {**by_name[name].env, "NEWSMILL_METRICS_PORT": str(port)},
                             port, tmp_path))  # fmt: skip
    try:
        for svc in again:
            svc.start()
        wait_for(lambda: set(_states(db_url).values()) == {"published"}, 60, "every item published", again)
    finally:
        stop_all(again, 30)
