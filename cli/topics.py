"""`newsmill topics`: load editor-owned topics, list them, test one on a page, re-tag stored articles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from cli.durations import parse_age
from cli.errors import FAILED, CommandError
from cli.inputs import load_yaml, read_capped, read_source, yaml_error_line
from cli.tables import Cell, columns, print_table
from shared.db import article_topics, topics
from shared.db.article_topics import NewTag
from shared.db.articles import bump_cursor
from shared.db.connection import connect
from shared.settings import get_settings
from shared.topic_rules import Topic, parse_topics
from workers.stages.topics import evaluate, tag_article

app = typer.Typer(help="Manage topics: the rules that tag articles (editors own them, as YAML).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _stored_topics() -> list[tuple[int, Topic]]:
    with connect(get_settings().database_url, autocommit=True) as conn:
        rows = topics.all_topics(conn)
    return [(r.id, Topic.from_stored(r.slug, r.name, r.description, r.rules)) for r in rows]


@app.command("load")
def load(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="A topics YAML file.")) -> None:
    """Create or update the topics of a YAML file (by slug); topics not in the file are left alone."""
    import yaml  # noqa: PLC0415 - only this command reads YAML; keep it off every command's start-up

    limit = get_settings().max_response_bytes  # outside the try: an invalid setting is not the file's fault
    try:
        text = read_capped(path, limit).decode("utf-8")
        parsed = parse_topics(load_yaml(text))  # aliases refused: a 500-byte alias bomb is a gigabyte
    except yaml.YAMLError as exc:
        raise CommandError(f"{path}: not valid YAML: {yaml_error_line(exc)}") from exc
    except (ValueError, TypeError) as exc:  # an alias, too large, not UTF-8, or YAML that is not topics
        raise CommandError(f"{path}: {exc}") from exc
    counts = dict.fromkeys(topics.UpsertStatus, 0)
    with connect(get_settings().database_url) as conn, conn.transaction():  # all of the file or nothing
        for t in parsed:
            _, status = topics.upsert_topic(conn, t.slug, t.name, t.description, t.rules())
            counts[status] += 1
            if status is not topics.UpsertStatus.UNCHANGED:
                console.print(f"{status}: [bold]{t.slug}[/]")
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
    if counts[topics.UpsertStatus.UPDATED]:
        console.print("stored articles keep their old tags until `newsmill topics retag`")


@app.command("list")
def list_() -> None:
    """List topics with their language filter and how many articles they tag."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        rows = topics.list_topics(conn)
    print_table(
        console,
        columns("slug", "name", "languages", "articles", "stories", right=("articles", "stories")),
        ([r.slug, r.name, ", ".join(r.languages) if r.languages is not None else "all", str(r.article_count),
          str(r.story_count)] for r in rows),
    )  # fmt: skip


def _read_source(source: str, title: str | None) -> tuple[str | None, str, str | None]:
    """(title, text, language hint) of a URL or an HTML file, extracted as the pipeline does, or of a text file."""
    from shared.encoding import decode_html  # noqa: PLC0415 - trafilatura is slow to import; only `test` needs it
    from workers.stages.extract import extract_page  # noqa: PLC0415

    given = read_source(source, html_only=False)
    plain = given.path is not None and given.path.suffix.lower() not in {".html", ".htm"}
    if plain and not given.body.lstrip().startswith(b"<"):
        return title, given.body.decode("utf-8", errors="replace"), None  # plain text: the article as is
    html, url = decode_html(given.body, given.content_type).text, given.url
    page = extract_page(html, url, mode=get_settings().extraction_mode)
    return title or page.title, page.text, page.language_hint


@app.command("test")
def check(
    slug: str = typer.Argument(..., help="A stored topic's slug."),
    source: str = typer.Argument(..., help="URL, HTML file, or plain-text file of an article."),
    title: str | None = typer.Option(None, "--title", help="The headline (plain text has none; overrides a page's)."),
    lang: str | None = typer.Option(None, "--lang", help="The article's language (default: detected)."),
) -> None:
    """Show which terms of a topic match an article, where, how often, and the score against min_score."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        row = topics.get_topic(conn, slug)
    if row is None:
        raise CommandError(f"there is no topic {slug!r} (see `newsmill topics list`)", FAILED)
    topic = Topic.from_stored(row.slug, row.name, row.description, row.rules)
    headline, text, hint = _read_source(source, title)
    if lang is None:
        from workers.stages.language import detect_language  # noqa: PLC0415 - langdetect loads profiles

        s = get_settings()
        lang = detect_language(text, page_hint=hint, prefix_chars=s.language_prefix_chars,
                               min_chars=s.language_min_chars).language  # fmt: skip
    ev = evaluate(topic, headline, text, lang)
    console.print(f"[bold]{topic.slug}[/] ({topic.name}) on {escape(repr(headline or '(no title)'))}, language {lang}")
    rows: list[list[Cell]] = [
        [hit.term, hit.where, str(hit.title_hits), str(hit.body_hits), f"{hit.points:g}"] for hit in ev.hits
    ]
    rows += [[Text(hit.term, style="red"), f"excludes ({hit.where})", str(hit.title_hits), str(hit.body_hits), "-"]
             for hit in ev.excluded_by]  # fmt: skip
    print_table(console, columns("term", "where", "title", "body", "points", right=("title", "body", "points")), rows)
    verdict = "[green]tagged[/]" if ev.tagged else f"[yellow]not tagged[/]: {ev.rejected}"
    console.print(f"score {ev.score:g} (min_score {ev.min_score:g}): {verdict}")


@app.command("delete")
def delete(
    slug: str = typer.Argument(..., help="The topic's slug."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a topic and its tags; its articles stay (with a new cursor, since their topics changed)."""
    if not yes:
        typer.confirm(f"delete topic {slug!r}, its feeds and its tags?", abort=True)
    with connect(get_settings().database_url) as conn, conn.transaction():
        changed = topics.delete_topic(conn, slug)
        if changed is None:
            err.print(f"[red]no topic {slug!r}[/] (see `newsmill topics list`)")
            raise typer.Exit(1)
        bump_cursor(conn, changed)  # last: it holds the cursor counter's lock until commit
    console.print(f"deleted {slug}; {len(changed)} published articles lost the tag")


@app.command("retag")
def retag(
    since: str | None = typer.Option(None, "--since", help="Only articles fetched in the last 30m / 24h / 7d."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Articles per transaction."),
) -> None:
    """Recompute the tags of stored articles with the current topics; changed articles reappear to readers."""
    cutoff = datetime.now(UTC) - parse_age(since) if since else None
    stored = _stored_topics()
    ids_by_slug = {t.slug: topic_id for topic_id, t in stored}
    rules = [t for _, t in stored]
    done = changed = 0
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    columns = (TextColumn("retag"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with connect(get_settings().database_url, autocommit=True) as conn, Progress(*columns, console=err) as bar:
        task = bar.add_task("retag", total=article_topics.count_articles_to_tag(conn, cutoff))
        after = 0
        while batch := article_topics.articles_to_tag(conn, after, cutoff, batch_size):
            tags = [
                NewTag(a.id, ids_by_slug[m.slug], m.score, m.matched_terms_json())
                for a in batch
                for m in tag_article(rules, a.title, a.text, a.language)
            ]
            published = {a.id for a in batch if a.cursor is not None}
            with conn.transaction():
                moved = article_topics.replace_tags(conn, [a.id for a in batch], tags)
                # Only published articles get a new cursor: bumping an unpublished one would publish it.
                bump_cursor(conn, [i for i in moved if i in published])
            done, changed, after = done + len(batch), changed + len(moved), batch[-1].id
            bar.advance(task, len(batch))
    console.print(f"re-tagged {done} articles with {len(rules)} topics; {changed} now have different topics")
