"""What `newsmill demo` shows: live pipeline counts, the table of what landed, and the checks behind --exit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.demo_site import Site
from cli.errors import redact
from cli.tables import Cell, columns
from shared.db import feeds, items, published
from shared.db.published import PublishedArticle
from shared.urls import canonical_url

err = Console(stderr=True)


@dataclass(frozen=True)
class Progress:
    feeds_total: int
    feeds_polled: int
    feeds_failing: int
    discovered: int
    fetched: int  # items past the fetch stage (fetched, extracted or published)
    extracted: int
    published: int
    failed: int


def read_progress(conn: psycopg.Connection) -> Progress:
    all_feeds = feeds.list_feeds(conn)
    by_state = items.count_by_state(conn)
    published_n, extracted_n, fetched_n = (by_state.get(k, 0) for k in ("published", "extracted", "fetched"))
    return Progress(
        feeds_total=len(all_feeds),
        feeds_polled=sum(1 for f in all_feeds if f.last_polled_at is not None),
        feeds_failing=sum(1 for f in all_feeds if f.consecutive_failures > 0),
        discovered=sum(by_state.values()),
        fetched=published_n + extracted_n + fetched_n,
        extracted=published_n + extracted_n,
        published=published_n,
        failed=by_state.get("failed", 0),
    )


def progress_table(p: Progress, phase: str) -> Table:
    table = Table(title=f"newsmill demo: {phase}", title_justify="left")
    for name in ("feeds polled", "items found", "pages fetched", "extracted", "published", "failed"):
        table.add_column(name, justify="right")
    table.add_row(
        f"{p.feeds_polled}/{p.feeds_total}" + (f" ([red]{p.feeds_failing} failing[/])" if p.feeds_failing else ""),
        str(p.discovered), str(p.fetched), str(p.extracted), f"[green]{p.published}[/]",
        f"[red]{p.failed}[/]" if p.failed else "0",
    )  # fmt: skip
    return table


def progress_line(p: Progress, phase: str) -> str:
    """The progress table's counts as one plain line (output that is not a terminal)."""
    failing = f" ({p.feeds_failing} failing)" if p.feeds_failing else ""
    return (
        f"{phase}: feeds polled {p.feeds_polled}/{p.feeds_total}{failing}, items found {p.discovered}, "
        f"pages fetched {p.fetched}, extracted {p.extracted}, published {p.published}, failed {p.failed}"
    )


def demo_articles(conn: psycopg.Connection, site: Site, base_url: str) -> dict[str, PublishedArticle]:
    """The published rows of the demo site's articles, by article key (absent: not published)."""
    keys = {canonical_url(base_url + a.path): a.key for a in site.articles}
    rows, after = [], 0
    while batch := published.read_after(conn, after, limit=500):
        rows.extend(batch)
        after = batch[-1].cursor
    return {keys[r.canonical_url]: r for r in rows if r.canonical_url in keys}


def landed_rows(site: Site, landed: dict[str, PublishedArticle]) -> list[list[Cell]]:
    """What landed, one row per demo article: title, site, language, topics, the title it duplicates."""
    titles = {r.id: r.title or "" for r in landed.values()}
    rows: list[list[Cell]] = []
    for a in sorted(site.articles, key=lambda a: (a.source, a.key)):
        row = landed.get(a.key)
        if row is None:
            rows.append([Text(a.title, style="red"), a.source, "-", Text("not published", style="red"), ""])
            continue
        duplicate = titles.get(row.duplicate_of, str(row.duplicate_of)) if row.duplicate_of else ""
        rows.append([row.title or "", row.site or "", row.language or "", ", ".join(row.topics), duplicate])
    return rows


LANDED_COLUMNS = columns("title", "site", "lang", "topics", "duplicate of")


def check(site: Site, landed: dict[str, PublishedArticle]) -> list[str]:
    """Every way the demo's articles differ from how they should have been published (empty: all good)."""
    problems = []
    for a in site.articles:
        row = landed.get(a.key)
        if row is None:
            problems.append(f"{a.key}: not published")
            continue
        want = a.expect
        if row.language != want.language:
            problems.append(f"{a.key}: language {row.language}, expected {want.language}")
        if missing := set(want.topics) - set(row.topics):
            problems.append(f"{a.key}: not tagged {', '.join(sorted(missing))} (has {', '.join(row.topics)})")
        original = landed.get(want.duplicate_of) if want.duplicate_of else None
        expected_dup = original.id if original else None
        if row.duplicate_of != expected_dup:
            problems.append(f"{a.key}: duplicate_of {row.duplicate_of}, expected {expected_dup}")
        if want.text_file:
            expected = (Path(site.root) / want.text_file).read_text(encoding="utf-8").splitlines()
            if row.text.splitlines() != expected:
                problems.append(f"{a.key}: cleaned text differs from {want.text_file}")
    return problems


def announce(api: str, slugs: list[str], urls: tuple[str, str], demo_env: Path) -> None:
    """Where everything is: the API and its topic pages, the servers, and how other commands reach them."""
    database_url, redis_url = (redact(u) for u in urls)
    err.print(f"API: {api}/   (pages, /docs, /articles)   topic pages and feeds:", soft_wrap=True)
    for slug in slugs:
        err.print(f"  {api}/topics/{slug}   feeds: {api}/topics/{slug}.atom .rss .json", soft_wrap=True)
    err.print(f"PostgreSQL: {database_url}   Redis: {redis_url}", soft_wrap=True)
    newsmill = "uv run newsmill" if os.environ.get("UV") else "newsmill"  # as `make demo` (uv run) was started
    err.print(f"commands run beside the demo find it through {demo_env}; from another data directory or machine:",
              soft_wrap=True)  # fmt: skip
    err.print(f"  NEWSMILL_DATABASE_URL={database_url} NEWSMILL_REDIS_URL={redis_url} {newsmill} status",
              soft_wrap=True, highlight=False)  # fmt: skip
