"""`newsmill run` as a whole fleet against hostile conditions: `--until-idle` never calls a run idle with work
left (items its host limiter deferred are waited for, items waiting out a server's Retry-After are named and
the exit status says so), and a worker killed mid-run is restarted instead of stopping the fleet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from harness.fleet import ROOT, fleet_env, run_until_idle
from harness.processes import MARKER, survivors
from shared.db import feeds
from tests.support.celery_workers import wait_for
from tests.support.hostile_reliability import busy_news_site, held_news_site
from tests.support.http_server import serve

pytestmark = pytest.mark.e2e
STORIES = 12


def _states(db_url: str) -> dict[str, list[str]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT url, state, outcome FROM items ORDER BY id").fetchall()
    found: dict[str, list[str]] = {}
    for url, state, outcome in rows:
        found.setdefault(state, []).append(f"{url} {outcome}")
    return found


def test_until_idle_waits_for_busy_hosts_and_names_what_waits_out_a_backoff(db_url: str, redis_url: str) -> None:
    with serve() as site:
        with psycopg.connect(db_url, autocommit=True) as conn:
            feeds.add_feed(conn, busy_news_site(site, STORIES, limited=f"http://localhost:{site.port}"))
        # One request at a time to the host, half a second apart: most fetches are deferred by the limiter.
        env = fleet_env(db_url, redis_url, NEWSMILL_HOST_MIN_DELAY="0.5", NEWSMILL_HOST_MAX_CONCURRENCY="1")
        done = run_until_idle(env)
    states = _states(db_url)
    # Before: exit 0 with 70-76 % of such items unfinished. Now every deferred item was waited for, and the
    # one held back by its server's Retry-After is named, with its wait, and a status of its own.
    assert done.returncode == 3, done.stderr[-3000:]
    assert len(states.get("published", [])) == STORIES, states
    assert [s.split()[1] for s in states["discovered"]] == ["rate_limited"], states
    assert set(states) == {"published", "discovered"}, states
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("1 item waiting out a backoff of up to 3"), last  # about 3600 s


def _child_pid(parent: int, needle: str) -> int:
    """The pid of ``parent``'s child whose command line contains ``needle``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[1]) == parent and needle in cmdline:
            return int(proc.name)
    raise LookupError(needle)


def _restarts(env: dict[str, str], child: str) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "cli", "status", "--json"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    reports = json.loads(out.stdout)["supervisors"] or []
    return sum(int(r["children"].get(child, {}).get("restarts", 0)) for r in reports)


def test_a_worker_killed_mid_run_is_restarted_and_the_run_finishes(db_url: str, redis_url: str, tmp_path: Path) -> None:
    release = threading.Event()
    env = fleet_env(db_url, redis_url, NEWSMILL_STUCK_AFTER="5")
    env[MARKER] = run_id = os.urandom(8).hex()
    log = tmp_path / "run.log"
    with serve() as site:
        feed_url, held = held_news_site(site, release)
        with psycopg.connect(db_url, autocommit=True) as conn:
            feeds.add_feed(conn, feed_url)
        argv = [sys.executable, "-m", "cli", "run", "--until-idle", "--io-concurrency", "4", "--cpu-concurrency", "1",
                "--timeout", "150"]  # fmt: skip
        with log.open("wb") as out:
            run = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for("the held page requested", lambda: site.hits(held) >= 1, timeout=90)
            os.kill(_child_pid(run.pid, "feeds,fetch"), signal.SIGKILL)  # the IO worker dies mid-fetch
            wait_for("the restart in `newsmill status`", lambda: _restarts(env, "worker-io") >= 1, timeout=60)
            release.set()
            code = run.wait(timeout=180)
        finally:
            release.set()
            if run.poll() is None:
                run.kill()
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert "worker-io exited with code -9; restarting it in 1 s" in text
    assert "restarted worker-io (restart 1" in text
    assert set(_states(db_url)) == {"published"}
    assert survivors(run_id) == []
