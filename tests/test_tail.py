"""`newsmill tail`, the reference consumer: JSON lines after a cursor, filters, and --follow via LISTEN."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import psycopg

from harness.articles import article_html, load_seed_topics, publish_page
from harness.fleet import ROOT
from harness.processes import inherited_env
from tests.conftest import FIXTURES


def _env(db_url: str) -> dict[str, str]:
    env = inherited_env()
    env["NEWSMILL_DATABASE_URL"] = db_url
    return env


def _tail(db_url: str, *args: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "tail", *args],
        env=_env(db_url), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def _publish_three(db: psycopg.Connection) -> None:
    load_seed_topics(db)
    publish_page(db, "http://lqm.example/monde/biden.html", (FIXTURES / "seed" / "seed_page.html").read_bytes())
    publish_page(db, "http://gazette.example/tram.html", article_html(
        "Riverside tram line opens", ["The riverside tram line opened on Monday with free rides all week. " * 4]
    ))  # fmt: skip
    publish_page(db, "http://zeitung.example/rad.html", article_html(
        "Neuer Radweg am Fluss", ["Der neue Radweg am Fluss wurde am Montag eröffnet und ist gut besucht. " * 4],
        lang="de",
    ))  # fmt: skip


def test_tail_prints_json_lines_after_a_cursor_with_filters(db_url: str, db: psycopg.Connection) -> None:
    _publish_three(db)
    everything = _tail(db_url)
    assert [a["cursor"] for a in everything] == [1, 2, 3]
    seed = everything[0]
    assert seed["site"] == "Le Quotidien du Monde"
    assert seed["language"] == "fr"
    assert "ukraine-war" in seed["topics"]  # type: ignore[operator]
    assert seed["duplicate_of"] is None
    assert isinstance(seed["text"], str)
    datetime.fromisoformat(str(seed["fetched_at"]))  # ISO 8601
    expected = {"id", "url", "canonical_url", "site", "feed_id", "feed_url", "title", "author", "published_at",
                "fetched_at", "language", "language_probability", "text", "word_count", "content_hash",
                "duplicate_of", "similarity", "topics", "cursor", "updated_at"}  # fmt: skip
    assert set(seed) == expected

    assert [a["cursor"] for a in _tail(db_url, "--since", "1")] == [2, 3]
    assert [a["language"] for a in _tail(db_url, "--lang", "de")] == ["de"]
    assert [a["cursor"] for a in _tail(db_url, "--topic", "ukraine-war")] == [1]
    assert _tail(db_url, "--since", "3") == []


def test_tail_follow_waits_for_new_articles(db_url: str, db: psycopg.Connection) -> None:
    _publish_three(db)
    with subprocess.Popen(
        [sys.executable, "-m", "cli", "tail", "--since", "2", "--follow"],
        env=_env(db_url), cwd=ROOT, stdout=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["cursor"] == 3
        publish_page(db, "http://gazette.example/park.html", article_html(
            "Park reopens after repairs", ["The city park reopened after two months of repairs to its paths. " * 4]
        ))  # fmt: skip
        nxt = json.loads(proc.stdout.readline())  # arrives via NOTIFY, not a fixed sleep
        assert nxt["cursor"] == 4
        assert nxt["title"] == "Park reopens after repairs"
        proc.terminate()
