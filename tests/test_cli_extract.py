"""`newsmill extract`: one page from a file or a real local HTTP server, and the ordered --jsonl batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.extract import extract
from cli.extract_batch import extract_lines
from shared.settings import get_settings

from .conftest import FIXTURES
from .support.http_server import Response, serve

SEED_HTML = (FIXTURES / "seed" / "seed_page.html").read_bytes()
EXPECTED = (FIXTURES / "seed" / "expected.txt").read_text(encoding="utf-8").splitlines()
NAV_ONLY = "<html><body><nav><a href='/'>Home</a></nav></body></html>"

app = typer.Typer()
app.command()(extract)
runner = CliRunner()


@pytest.fixture
def private_hosts_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The test server listens on 127.0.0.1, which the fetch guard refuses unless configured otherwise.
    monkeypatch.setenv("NEWSMILL_ALLOW_PRIVATE_HOSTS", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_file_as_json(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(SEED_HTML)
    result = runner.invoke(app, [str(path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["text"].split("\n") == EXPECTED
    assert record["site_name"] == "Le Quotidien du Monde"
    assert (record["published_at"], record["date_source"]) == ("2024-11-17T21:05:00+01:00", "page")
    assert record["language_hint"] == "fr"


def test_explain_names_what_removed_each_line(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes((FIXTURES / "seed" / "seed_page_date_line.html").read_bytes())
    record = json.loads(runner.invoke(app, [str(path), "--json", "--explain"]).stdout)
    assert record["text"].split("\n") == EXPECTED
    assert {(r["line"], r["reason"]) for r in record["removed"]} == {
        ("17 novembre 2024", "date-line"),
        ("Related News :", "signal:link-list-heading"),
        ("Mis à jour le 17/11/2024 à 21:05", "date-line"),
    }
    assert "removed" not in json.loads(runner.invoke(app, [str(path), "--json"]).stdout)
    report = runner.invoke(app, [str(path), "--explain"], terminal_width=200)
    assert report.exit_code == 0, report.output
    assert "removed by cleaning: 3 lines" in report.stdout
    assert "signal:link-list-heading" in report.stdout


def test_a_url_is_fetched_decoded_and_shown(private_hosts_allowed: None) -> None:
    with serve() as site:
        url = site.add("/monde/article", Response(SEED_HTML, headers={"Content-Type": "text/html; charset=utf-8"}))
        result = runner.invoke(app, [url])
    assert result.exit_code == 0, result.output
    for shown in ("Le Quotidien du Monde", "Claire Dumas", "(page)", "fr", EXPECTED[0][:60], EXPECTED[-1][-40:]):
        assert shown in result.stdout
    assert "Related News" not in result.stdout


def test_a_page_that_is_not_html_fails_with_its_outcome(private_hosts_allowed: None) -> None:
    with serve() as site:
        url = site.add("/photo.png", Response(b"\x89PNG\r\n\x1a\n" + bytes(64), headers={"Content-Type": "image/png"}))
        result = runner.invoke(app, [url, "--json"])
    assert result.exit_code == 1
    assert "bad_content_type" in result.output


def test_jsonl_batch_keeps_order_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "a", "url": "https://www.lequotidiendumonde.example/a", "html": SEED_HTML.decode()}),
        "{not json",
        "",
        json.dumps({"id": 7, "url": "https://example.org/", "html": NAV_ONLY}),
        json.dumps({"id": "d", "url": "https://example.org/d"}),
    ]
    result = runner.invoke(app, ["--jsonl", "--workers", "2"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["a", None, 7, "d"]
    first = records[0]
    assert set(first) == {"id", "url", "title", "author", "site_name", "published_at", "date_source",
                          "language_hint", "text"}  # fmt: skip
    assert first["text"].split("\n") == EXPECTED
    assert records[1]["error"].startswith("bad_input")
    assert records[2]["error"].startswith("no_content")
    assert records[3]["error"].startswith("bad_input")


def test_source_and_jsonl_are_exclusive_and_one_is_needed() -> None:
    assert runner.invoke(app, []).exit_code == 2
    assert runner.invoke(app, ["page.html", "--jsonl"]).exit_code == 2
    assert runner.invoke(app, ["/no/such/file.html"]).exit_code == 2


def test_extract_lines_orders_a_pool_s_results_as_the_input() -> None:
    body = "<p>" + "Un paragraphe assez long pour être retenu comme texte principal de la page. " * 4 + "</p>"
    pages = [json.dumps({"id": i, "url": f"https://example.org/{i}", "html": f"<html><body>{body * (i % 5 + 1)}"})
             for i in range(30)]  # fmt: skip
    records = list(extract_lines(pages, workers=2))
    assert [r["id"] for r in records] == list(range(30))
    assert all("text" in r for r in records)
    raw = list(extract_lines(pages[:2], workers=1, clean=False))
    assert set(raw[0]) == {"id", "url", "text"}
