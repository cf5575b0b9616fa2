"""What users hand the CLI and the API: feed URLs checked the same way everywhere (one line, exit 2), a size
cap on `extract FILE`, YAML alias bombs refused at once, and OPML entries that cannot be feeds reported."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.inputs import InputTooLargeError, YamlAliasError, load_yaml, read_capped
from cli.main import main
from harness.fleet import ROOT
from harness.processes import inherited_env
from shared.opml import feeds_from_opml
from shared.settings import get_settings
from shared.urls import MAX_FEED_URL, checked_feed_url
from tests.support.hostile_reliability import alias_bomb_yaml, hostile_opml

BAD_URLS = {
    "http://news.example/a feed": "contains a space",
    "http://news.example:99999/feed": "Port out of range",
    "http://:80/feed": "no host",
    "http:///feed": "no host",
    "http://news.example/\x01feed": "U+0001",
    "http://news.example/\u202efeed": "U+202E",  # right-to-left override
    "http://news.example/" + "a" * 100_000: "100020 characters",
    "ftp://news.example/feed.xml": "not an http(s) URL",
    "news.example/feed.xml": "no scheme",
    "http://news..example/": "not a valid host name",
    "http://news.example:0/": "port 0",
    "": "empty URL",
}


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_feed_url_is_refused_saying_why(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape(BAD_URLS[url])):
        checked_feed_url(url)


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("HTTP://Example.COM/Feed", "http://example.com/Feed"),
        ("  https://news.example/rss.xml ", "https://news.example/rss.xml"),
        ("https://User:Secret@NEWS.example:8443/Rss?Q=A", "https://User:Secret@news.example:8443/Rss?Q=A"),
        ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
        ("https://news.example/feed.xml?q=\u00fc", "https://news.example/feed.xml?q=\u00fc"),
    ],
)
def test_a_good_feed_url_is_stored_with_scheme_and_host_lower_cased(url: str, stored: str) -> None:
    assert checked_feed_url(url) == stored


@given(st.text(max_size=60))
def test_checking_is_idempotent(text: str) -> None:
    for candidate in (text, f"http://news.example/{text}", f"HTTPS://{text}.Example/"):
        try:
            once = checked_feed_url(candidate)
        except ValueError:
            continue
        assert checked_feed_url(once) == once
        assert len(once) <= MAX_FEED_URL


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("NEWSMILL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@dataclass(frozen=True)
class Ran:
    exit_code: int
    stdout: str
    stderr: str


def _invoke(cli: CliRunner, *args: str) -> Ran:
    """The command as the `newsmill` script runs it (cli.main.main: one-line errors), in this process."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["newsmill", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return Ran(code, out.getvalue(), err.getvalue())


def test_feeds_add_refuses_every_bad_url_in_one_line_each_and_adds_nothing(
    cli: CliRunner, db: psycopg.Connection
) -> None:
    bad = [u for u in BAD_URLS if u]
    result = _invoke(cli, "feeds", "add", "https://good.example/rss.xml", *bad)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == len(bad)
    assert all(line.startswith("error: ") and len(line) < 300 for line in lines), lines
    assert db.execute("SELECT count(*) FROM feeds").fetchone() == (0,)  # one bad URL, none added


def test_feeds_add_accepts_and_normalises_upper_case(cli: CliRunner, db: psycopg.Connection) -> None:
    result = _invoke(cli, "feeds", "add", "HTTP://Example.COM/Feed")
    assert result.exit_code == 0, result.stderr
    assert db.execute("SELECT url FROM feeds").fetchall() == [("http://example.com/Feed",)]


def test_opml_import_reports_what_it_skips(cli: CliRunner, db: psycopg.Connection, tmp_path: Path) -> None:
    found = feeds_from_opml(hostile_opml())
    assert found.urls == ["https://news.example/rss.xml", "http://example.com/Feed"]
    assert [value for value, _ in found.skipped] == [
        "ftp://news.example/feed.xml", "javascript:alert(1)", "http://news.example:99999/feed", "http:///no-host",
        "http://news.example/a feed", "no xmlUrl",
    ]  # fmt: skip
    path = tmp_path / "feeds.opml"
    path.write_bytes(hostile_opml())
    result = _invoke(cli, "feeds", "import", str(path))
    assert result.exit_code == 0, result.stderr
    assert [line.split(":", 1)[0] for line in result.stderr.splitlines()] == ["skipped"] * 6
    assert "2 feeds in feeds.opml: 2 added, 0 already present, 6 entries skipped" in result.stdout
    assert db.execute("SELECT count(*) FROM feeds").fetchone() == (2,)


def test_an_api_feed_is_checked_like_a_cli_one() -> None:
    from fastapi import HTTPException  # noqa: PLC0415

    from api.admin import _feed_url  # noqa: PLC0415 - the FastAPI app is not needed for its checker

    assert _feed_url("HTTP://Example.COM/Feed") == "http://example.com/Feed"
    for url in ("http://news.example:99999/feed", "http://news.example/a feed"):
        with pytest.raises(HTTPException) as info:
            _feed_url(url)
        assert info.value.status_code == 422
        assert str(info.value.detail).startswith("url: ")


def test_extract_refuses_a_file_over_the_cap_at_once(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    big.write_bytes(b"<p>" + b"x" * 4_000_000 + b"</p>")
    env = inherited_env() | {"NEWSMILL_MAX_RESPONSE_BYTES": "1000000"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "cli", "extract", str(big)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert time.monotonic() - started < 15  # the start-up; the file is refused before being read whole
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "larger than 1,000,000 bytes" in result.stderr
    assert "NEWSMILL_MAX_RESPONSE_BYTES" in result.stderr
    with pytest.raises(InputTooLargeError):
        read_capped(big, 10)
    assert read_capped(big, 5_000_000) == big.read_bytes()


def test_a_yaml_alias_bomb_is_refused_at_once(cli: CliRunner, tmp_path: Path) -> None:
    bomb = alias_bomb_yaml()
    assert len(bomb) < 600  # expanded, it would be 9**9 strings
    path = tmp_path / "topics.yaml"
    path.write_text(bomb)
    started = time.monotonic()
    result = _invoke(cli, "topics", "load", str(path))
    assert time.monotonic() - started < 5  # was about a minute and a gigabyte
    assert result.exit_code == 2
    assert result.stderr == f"newsmill: {path}: YAML aliases (*a0) are not allowed in this file (line 2, column 10)\n"


def test_the_yaml_loader_reads_what_safe_load_reads() -> None:
    import yaml  # noqa: PLC0415

    seeds = (Path(__file__).resolve().parents[1] / "seeds" / "topics.yaml").read_text(encoding="utf-8")
    assert load_yaml(seeds) == yaml.safe_load(seeds)
    with pytest.raises(YamlAliasError):
        load_yaml("a: &x 1\nb: *x\n")
