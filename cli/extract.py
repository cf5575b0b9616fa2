"""`newsmill extract`: show how one page is cleaned, or clean a batch of pages given as JSON lines."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import FAILED, CommandError
from cli.inputs import read_source
from shared.errors import StageError
from shared.settings import get_settings

if TYPE_CHECKING:
    from workers.stages.extract import ExtractedPage

# The HTTP client, charset detection and trafilatura are imported by the functions that use them: every other
# `newsmill` command imports this module at start-up and needs none of them.

err = Console(stderr=True)


def _load(source: str) -> tuple[str, str]:
    """(html, url) of a URL fetched with our HTTP client, or of a local file (its URL is file://…)."""
    from shared.encoding import decode_html  # noqa: PLC0415 - charset detection, only when a page is read

    page = read_source(source, html_only=True)
    return decode_html(page.body, page.content_type).text, page.url


def _as_json(page: ExtractedPage, url: str, canonical: str | None, explain: bool = False) -> dict[str, Any]:
    removed = {"removed": [{"line": r.line, "reason": r.reason} for r in page.removed]} if explain else {}
    return removed | {
        "url": url,
        "title": page.title,
        "author": page.author,
        "site_name": page.site_name,
        "published_at": page.published_at.isoformat() if page.published_at else None,
        "date_source": page.date_source,
        "language_hint": page.language_hint,
        "canonical_url": canonical,
        "text": page.text,
    }


def _show(page: ExtractedPage, url: str, canonical: str | None) -> None:
    out = Console()
    table = Table(show_header=False, box=None)
    date = f"{page.published_at.isoformat()} ({page.date_source})" if page.published_at else "-"
    for name, value in (
        ("url", url), ("title", page.title), ("author", page.author), ("site", page.site_name),
        ("date", date), ("language hint", page.language_hint), ("canonical", canonical),
        ("extraction", f"{page.extraction} ({page.scope})"), ("lines", str(len(page.text.splitlines()))),
    ):  # fmt: skip
        table.add_row(f"[bold]{name}[/]", value or "-")
    out.print(table)
    out.rule()
    # Article text is printed as is: markup in it ("[b]") is not interpreted, and the terminal wraps lines
    # itself so a copied paragraph stays one line.
    out.print(page.text, markup=False, highlight=False, soft_wrap=True)


def _explain(page: ExtractedPage) -> None:
    """Every line cleaning removed, with the rule or signal that removed it (workers/stages/clean.py)."""
    out = Console()
    out.rule(f"removed by cleaning: {len(page.removed)} lines")
    table = Table("reason", "line", box=None, show_edge=False)
    for removal in page.removed:
        table.add_row(removal.reason, removal.line, style=None)
    out.print(table, markup=False, highlight=False)


def _batch(workers: int) -> None:
    from cli.extract_batch import extract_lines  # noqa: PLC0415

    for record in extract_lines(sys.stdin, workers=workers):
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()  # one line out per page as soon as it is ready: readers can stream


def extract(
    source: str | None = typer.Argument(None, help="URL or HTML file of one page (not with --jsonl)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of a report."),
    jsonl: bool = typer.Option(False, "--jsonl", help='Batch: {"id","url","html"} lines on stdin, records out.'),
    workers: int = typer.Option(os.cpu_count() or 1, "--workers", min=1, help="Processes of the --jsonl batch."),
    explain: bool = typer.Option(False, "--explain", help="Also list each removed line and what removed it."),
) -> None:
    """Show how one page is cleaned, or clean a batch of pages (--jsonl)."""
    if jsonl:
        if source is not None:
            raise CommandError("--jsonl reads pages from stdin; give no SOURCE")
        _batch(workers)
        return
    if source is None:
        raise CommandError("give a URL or a file, or --jsonl with pages on stdin")
    from workers.stages.extract import extract_page, page_canonical_url  # noqa: PLC0415

    try:
        html, url = _load(source)
        page = extract_page(html, url, mode=get_settings().extraction_mode)
    except StageError as exc:
        raise CommandError(f"{source}: {exc.outcome.value}: {exc.reason}", FAILED) from exc
    canonical = page_canonical_url(html, url)
    if json_out:
        typer.echo(json.dumps(_as_json(page, url, canonical, explain), ensure_ascii=False))
    else:
        _show(page, url, canonical)
        if explain:
            _explain(page)
