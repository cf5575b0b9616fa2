"""Subscriptions through their real interfaces: the `newsmill subscriptions` commands, the HTTP API with its
admin token, and private feeds opened by token; credentials never appear in clear in the database or logs."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import feedparser
import httpx
import jsonschema
import psycopg
import pytest
from typer.testing import CliRunner, Result

from cli import subscriptions as subscriptions_cli
from cli.main import app as cli_app
from harness.articles import load_seed_topics
from harness.fleet import ROOT
from harness.processes import inherited_env
from shared.db import subscriptions
from shared.settings import get_settings
from tests.conftest import FIXTURES
from tests.support.api_data import COPY_SITE, SEED_TITLE, Corpus, publish_corpus
from tests.support.api_server import serve_api

PUBLIC = "https://news.example.org"
ADMIN = "a-long-admin-token-for-tests"
SCHEMA = json.loads((FIXTURES / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
FEED_URL = re.compile(rf"^(atom|rss|json): {re.escape(PUBLIC)}/subscriptions/([A-Za-z0-9_-]+)\.\1$")


def newsmill(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = inherited_env()
    env.update(NEWSMILL_DATABASE_URL=db_url, NEWSMILL_PUBLIC_URL=PUBLIC, NEWSMILL_LOG_LEVEL="DEBUG")
    return subprocess.run([sys.executable, "-m", "cli", "subscriptions", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def dump(db_url: str) -> str:
    """Everything the database holds, as a backup would."""
    return subprocess.run(["pg_dump", "--data-only", db_url], capture_output=True, text=True, check=True).stdout


def test_cli_add_shows_the_token_once_and_stores_only_its_hash(db_url: str, db: psycopg.Connection) -> None:
    load_seed_topics(db)
    added = newsmill(db_url, "add", "--email", "ed@example.org", "--topics", "ukraine-war,russia", "--lang", "fr,en")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    matches = [FEED_URL.match(line) for line in lines]
    assert all(matches)
    assert [m.group(1) for m in matches if m] == ["atom", "rss", "json"]
    (token,) = {m.group(2) for m in matches if m}
    assert len(token) >= 40
    assert token not in added.stderr
    row = db.execute("SELECT kind, topics, languages, token_hash FROM subscriptions").fetchone()
    assert row == ("feed", ["ukraine-war", "russia"], ["fr", "en"], hashlib.sha256(token.encode()).hexdigest())
    backup = dump(db_url)
    assert row[3] in backup, "the dump is complete"
    assert token not in backup, "the token is not in the database in clear"


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """The real command group in-process (a subprocess per call costs seconds); settings cleared around it."""
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    monkeypatch.setenv("NEWSMILL_PUBLIC_URL", PUBLIC)
    monkeypatch.setattr(subscriptions_cli.console, "width", 200)  # a table row per line, whatever the terminal
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli_app, ["subscriptions", *args])
    get_settings.cache_clear()


def test_cli_webhook_list_revoke_and_resume(cli: Callable[..., Result], db: psycopg.Connection) -> None:
    load_seed_topics(db)
    hook = "https://hooks.example.org/services/T000/very-secret-path"
    added = cli("add", "--email", "desk@example.org", "--topics", "ukraine-war", "--webhook", hook)
    assert added.exit_code == 0, added.output
    (secret,) = re.findall(r"^secret: (\S+)$", added.stdout, re.M)
    assert db.execute("SELECT webhook_secret FROM subscriptions").fetchone() == (secret,)  # stored: it signs
    assert cli("add", "--email", "ed@example.org", "--topics", "russia").exit_code == 0
    (hook_id, feed_id) = [r[0] for r in db.execute("SELECT id FROM subscriptions ORDER BY id")]
    listed = cli("list")
    assert listed.exit_code == 0
    assert "desk@example.org" in listed.stdout
    assert "ed@example.org" in listed.stdout
    assert "https://hooks.example.org/…" in listed.stdout
    assert "very-secret-path" not in listed.stdout
    assert secret not in listed.stdout
    unknown = cli("add", "--email", "x@example.org", "--topics", "no-such-topic")
    assert unknown.exit_code == 2
    assert "unknown topic(s): no-such-topic" in unknown.stderr
    assert cli("resume", str(hook_id)).exit_code == 1, "only a paused webhook resumes"
    db.execute("UPDATE subscriptions SET state = 'paused', consecutive_failures = 10 WHERE id = %s", (hook_id,))
    assert cli("resume", str(hook_id)).exit_code == 0
    assert db.execute("SELECT state, consecutive_failures FROM subscriptions WHERE id = %s", (hook_id,)).fetchone() == (
        "active", 0,
    )  # fmt: skip
    assert cli("revoke", str(feed_id)).exit_code == 0
    assert cli("revoke", str(feed_id)).exit_code == 1
    assert cli("resume", str(feed_id)).exit_code == 1, "revoked is final"
    assert "ed@example.org" not in cli("list").stdout
    assert "revoked" in cli("list", "--all").stdout


@pytest.fixture
def corpus(db: psycopg.Connection) -> Corpus:
    return publish_corpus(db)


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with serve_api(db_url, admin_token=ADMIN) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


AUTH = {"Authorization": f"Bearer {ADMIN}"}


def test_creating_over_http_needs_the_admin_token_and_a_valid_body(api: httpx.Client, corpus: Corpus) -> None:
    ok = {"email": "ed@example.org", "topics": ["ukraine-war"]}
    assert api.post("/subscriptions", json=ok).status_code == 401
    assert api.post("/subscriptions", json=ok, headers={"Authorization": "Bearer wrong"}).status_code == 403
    big = {**ok, "email": "x" * 70_000 + "@example.org"}
    assert api.post("/subscriptions", json=big, headers=AUTH).status_code == 413
    assert api.post("/subscriptions", content=b"{not json", headers=AUTH).status_code == 422
    bad_bodies = [{**ok, "extra": 1}, {**ok, "topics": ["nope"]}, {**ok, "languages": ["french"]}, {"topics": []},
                  {**ok, "webhook_url": "ftp://x.example/"}, {**ok, "email": "not-an-address"},
                  ["a", "list"]]  # fmt: skip
    for bad in bad_bodies:
        r = api.post("/subscriptions", json=bad, headers=AUTH)
        assert r.status_code == 422, (bad, r.text)
    hook = api.post("/subscriptions", json={**ok, "webhook_url": "https://hooks.example.org/x"}, headers=AUTH)
    assert hook.status_code == 201
    assert hook.json()["kind"] == "webhook"
    assert len(hook.json()["secret"]) >= 40
    assert hook.headers["cache-control"] == "no-store"
    listed = api.get("/subscriptions", headers=AUTH)
    assert listed.status_code == 200
    assert hook.json()["secret"] not in listed.text
    assert "hooks.example.org" not in listed.text
    assert api.get("/subscriptions").status_code == 401


def test_private_feeds_serve_the_subscription_until_revoked(
    api: httpx.Client, corpus: Corpus, db: psycopg.Connection
) -> None:
    r = api.post("/subscriptions", json={"email": "ed@example.org", "topics": ["ukraine-war"], "languages": ["fr"]},
                 headers=AUTH)  # fmt: skip
    assert r.status_code == 201, r.text
    created = r.json()
    base = str(api.base_url).rstrip("/")
    assert set(created["feed_urls"]) == {"atom", "rss", "json"}
    assert all(u.startswith(f"{base}/subscriptions/") for u in created["feed_urls"].values())
    for fmt in ("atom", "rss"):
        got = api.get(created["feed_urls"][fmt])
        assert got.status_code == 200
        parsed = feedparser.parse(got.content)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        # French only, one entry per story: the syndicated copy folds into the seed's entry.
        assert [e.title for e in parsed.entries] == [SEED_TITLE]
        assert f"Also reported by: {COPY_SITE}" in parsed.entries[0].summary
    doc = api.get(created["feed_urls"]["json"])
    jsonschema.validate(doc.json(), SCHEMA)
    assert [i["_newsmill"]["article_id"] for i in doc.json()["items"]] == [corpus.seed_id]
    again = api.get(created["feed_urls"]["json"], headers={"If-None-Match": doc.headers["etag"]})
    assert again.status_code == 304
    assert doc.headers["cache-control"].startswith("private")
    token = created["feed_urls"]["atom"].rsplit("/", 1)[1].removesuffix(".atom")
    assert api.get(f"/subscriptions/{token[:-1]}x.atom").status_code == 404
    assert api.get("/subscriptions/short.atom").status_code == 404
    assert api.delete(f"/subscriptions/{created['id']}").status_code == 401
    assert api.delete(f"/subscriptions/{created['id']}", headers=AUTH).status_code == 204
    for fmt in ("atom", "rss", "json"):
        assert api.get(created["feed_urls"][fmt]).status_code == 404
    assert api.delete(f"/subscriptions/{created['id']}", headers=AUTH).status_code == 404
    sub = subscriptions.get_subscription(db, created["id"])
    assert sub is not None
    assert sub.state == "revoked"


def test_tokens_are_cut_from_access_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    import api.subscriptions  # noqa: F401, PLC0415 - installs the filter, as create_app does

    token = "Zk9hTzJ3bW5xZ2l4c1pHWmZ5a0xJb1l1dC1fSGd6cWQ"
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # uvicorn's own format and argument order for an access line.
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/subscriptions/{token}.atom", "1.1", 200
        )
    assert "/subscriptions/….atom" in caplog.text
    assert token not in caplog.text


def test_the_reader_role_cannot_read_subscriptions_or_deliveries(db: psycopg.Connection) -> None:
    for table in ("subscriptions", "deliveries", "delivery_attempts"):
        row = db.execute("SELECT has_table_privilege('newsmill_reader', %s, 'SELECT')", (table,)).fetchone()
        assert row == (False,), f"newsmill_reader can read {table}"
    columns = db.execute(
        "SELECT count(*) FROM information_schema.column_privileges WHERE grantee = 'newsmill_reader' "
        "AND table_name IN ('subscriptions', 'deliveries', 'delivery_attempts')"
    ).fetchone()
    assert columns == (0,)
