"""`newsmill demo --exit` end to end: embedded PostgreSQL and Redis, the demo site, the real fleet and API.

Runs with NEWSMILL_DATABASE_URL / NEWSMILL_REDIS_URL unset, so the demo starts its own servers in tmp_path.
Afterwards the embedded database is opened again to check what landed; a second run must reuse it and add
nothing; a third run is stopped with Ctrl-C. After each run no process it started may survive.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import httpx
import psycopg
import pytest

from cli.demo_site import load_site, render_site
from harness.fleet import ROOT
from harness.processes import inherited_env, marked_env, survivors
from shared.embedded import EmbeddedPostgres, free_port
from shared.opml import feed_urls_from_opml

pytestmark = pytest.mark.e2e


def run_demo(data_dir: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    env, run_id = marked_env(NEWSMILL_DATA_DIR=str(data_dir), COLUMNS="160")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--exit", "--timeout", "150"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    return done, run_id


def assert_clean_exit(data_dir: Path, run_id: str) -> None:
    assert survivors(run_id) == []
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert not (data_dir / "redis" / "redis.pid").exists()
    assert not (data_dir / "demo.env").exists()


def announced(output: str) -> dict[str, str]:
    """The URLs the demo printed: its API, its servers, and the line to copy for `newsmill status`."""
    api = re.search(r"^API: (http://127\.0\.0\.1:\d+)/", output, re.M)
    servers = re.search(r"^PostgreSQL: (postgresql://\S+)   Redis: (redis://\S+)$", output, re.M)
    copy = re.search(
        r"^  NEWSMILL_DATABASE_URL=(\S+) NEWSMILL_REDIS_URL=(\S+) (?:uv run )?newsmill status$", output, re.M
    )
    assert api, output[-3000:]
    assert servers, output[-3000:]
    assert copy, output[-3000:]
    assert copy.groups() == servers.groups()
    return {"api": api[1], "postgres": servers[1], "redis": servers[2]}


@contextmanager
def embedded_db(data_dir: Path) -> Iterator[psycopg.Connection]:
    pg = EmbeddedPostgres(data_dir / "postgres", free_port())
    try:
        with psycopg.connect(pg.start(), autocommit=True) as conn:
            yield conn
    finally:
        pg.stop()


def snapshot(conn: psycopg.Connection) -> dict[str, tuple]:
    rows = conn.execute(
        "SELECT a.canonical_url, a.id, a.language, a.topics, a.duplicate_of, p.fetched_at "
        "FROM newsmill.articles_published a JOIN items i ON i.canonical_url = a.canonical_url "
        "JOIN pages p ON p.item_id = i.id"
    ).fetchall()
    return {url.rsplit("/", 1)[-1].removesuffix(".html"): tuple(rest) for url, *rest in rows}


def test_demo_runs_on_embedded_services_reuses_its_data_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    first, first_id = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    assert "published as expected" in first.stderr
    assert_clean_exit(tmp_path, first_id)
    urls = announced(first.stderr)
    # Not a terminal: the report is plain text, every column of every row whole, no table borders.
    landed = first.stderr.split("What landed\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert landed[0].split() == ["title", "site", "lang", "topics", "duplicate", "of"]
    assert len(landed) == 18
    assert not any(ch in first.stderr for ch in "┏━│└")
    copy_row = next(line for line in landed if line.startswith("Missiles à longue portée"))
    assert copy_row.rstrip().endswith(
        "Joe Biden autorise l’Ukraine à frapper la Russie avec des missiles à longue portée"
    )
    assert " fr " in copy_row

    with embedded_db(tmp_path) as conn:
        before = snapshot(conn)
        items_before = conn.execute("SELECT count(*) FROM items").fetchone()
    assert len(before) == 17  # the seed, its syndicated copy and 15 originals
    assert {row[1] for row in before.values()} == {"fr", "en", "de", "it", "pt", "es"}
    seed = before["seed-biden-missiles"]
    assert "ukraine-war" in seed[2]
    assert before["eurowire-copy-missiles-ukraine"][3] == seed[0]  # the copy points at the seed
    assert [k for k, row in before.items() if row[3] is not None] == ["eurowire-copy-missiles-ukraine"]
    assert before["tagesbote-hilfskonvoi-charkiw"][1] == "de"

    second, second_id = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr[-4000:]
    assert_clean_exit(tmp_path, second_id)
    assert announced(second.stderr) == urls  # the same ports from run to run: copied URLs keep working
    with embedded_db(tmp_path) as conn:
        assert snapshot(conn) == before  # same articles, ids, tags; no page fetched again
        assert conn.execute("SELECT count(*) FROM items").fetchone() == items_before

    # Third run: it serves the site and the API until Ctrl-C, then stops everything.
    assert serve_then_ctrl_c(tmp_path, tmp_path / "demo.out") == urls


def assert_serving(output: str, data_dir: Path) -> dict[str, str]:
    """The demo site and the API answer while the demo serves (at once: its URLs are printed once it is
    ready), and commands run beside it find it through demo.env with no URL given."""
    site = re.search(r"demo site: (http://127\.0\.0\.1:\d+)/", output)
    assert site
    urls = announced(output)
    assert "Joe Biden autorise" in httpx.get(site[1] + "/", timeout=10).text
    feed = httpx.get(urls["api"] + "/topics/ukraine-war.atom", timeout=10)
    assert feed.status_code == 200
    assert "Joe Biden autorise" in feed.text
    env = inherited_env() | {"NEWSMILL_DATA_DIR": str(data_dir)}

    def beside(*argv: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "cli", *argv], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done

    assert '"feeds_total": 5' in beside("status", "--json").stdout
    for check in (("api",), ("db",), ("beat",), ("worker", "fetch"), ("worker", "enrich")):
        assert beside("healthcheck", *check).stdout.strip() == "healthy"
    added = beside("subscriptions", "add", "--email", "ed@news.example", "--topics", "ukraine-war").stdout
    assert f"atom: {urls['api']}/subscriptions/" in added
    assert len(beside("tail", "--topic", "ukraine-war").stdout.splitlines()) == 3  # seed, copy, Charkiw convoy
    return urls


def serve_then_ctrl_c(data_dir: Path, out: Path) -> dict[str, str]:
    """`newsmill demo` until it serves, then Ctrl-C as a terminal sends it: to the whole foreground process
    group. The demo must shut everything down in order and exit 0."""
    env, run_id = marked_env(NEWSMILL_DATA_DIR=str(data_dir), COLUMNS="160")
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "demo", "--timeout", "150"], env=env,
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 200
            while "Ctrl-C stops everything" not in out.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, out.read_text()[-3000:]
                time.sleep(0.5)
            assert proc.poll() is None, out.read_text()[-3000:]
            assert len(survivors(run_id, settle=0)) >= 6  # demo, postgres (+ its helpers), redis, beat, workers, api
            urls = assert_serving(out.read_text(), data_dir)
            os.killpg(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert "stopped cleanly" in out.read_text()
    assert_clean_exit(data_dir, run_id)
    return urls


def test_demo_site_is_as_the_issue_describes() -> None:
    """At least 3 sources with their own feeds and templates; the seed, its copy, and 12+ original articles
    of 150-400 words in 5+ languages; every page and feed renders."""
    site = load_site()
    assert len(site.sources) >= 3
    assert len({s.template for s in site.sources}) == len(site.sources)
    originals = [a for a in site.articles if a.expect.duplicate_of is None and a.key != "seed-biden-missiles"]
    assert len(originals) >= 12
    assert len({a.language for a in originals}) >= 5
    for a in originals:
        words = len(" ".join([a.lead or "", *a.paragraphs]).split())
        assert 150 <= words <= 400, (a.key, words)
    copy = next(a for a in site.articles if a.expect.duplicate_of == "seed-biden-missiles")
    seed = next(a for a in site.articles if a.key == "seed-biden-missiles")
    assert copy.source != seed.source
    assert copy.title != seed.title
    assert copy.paragraphs == seed.paragraphs[1:]  # its own lead, the same body
    pages = render_site(site, "http://127.0.0.1:1")
    for feed in site.feeds():
        parsed = feedparser.parse(pages[feed.path].body)
        assert not parsed.bozo, feed.path
        assert {e.link for e in parsed.entries} == {
            "http://127.0.0.1:1" + a.path for a in site.articles if a.feed == feed.name
        }
    assert "Related News :" in pages[seed.path].body.decode()  # the trailer the cleaner must remove


def test_starter_feeds_are_public_feeds_in_several_languages() -> None:
    document = (ROOT / "seeds" / "feeds.opml").read_bytes()
    urls = feed_urls_from_opml(document)
    assert len(urls) >= 15
    assert all(u.startswith("https://") for u in urls)
    assert document.count(b'<outline text="') >= 6  # one group per language
