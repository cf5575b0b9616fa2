"""`newsmill tail`: the reference downstream consumer, printing published articles as JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import psycopg
import typer

from cli.errors import CommandError
from shared.db import published, topics
from shared.db.connection import connect
from shared.settings import get_settings


def tail(
    since: int = typer.Option(0, "--since", help="Start after this cursor (0: from the beginning)."),
    topic: str | None = typer.Option(None, "--topic", help="Only articles tagged with this topic slug."),
    lang: str | None = typer.Option(None, "--lang", help="Only articles in this language (ISO 639-1)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep waiting for new articles (LISTEN)."),
) -> None:
    """Print published articles after a cursor as JSON lines (the view's field names, plus cursor).

    Remember the last ``cursor`` printed and pass it as --since next time: nothing is missed or repeated."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        if topic is not None and topics.get_topic(conn, topic) is None:
            # Printing nothing would look like a topic with no articles yet.
            raise CommandError(f"there is no topic {topic!r} (see `newsmill topics list`)")
        if follow:
            rows = published.follow(conn, since, topic=topic, language=lang)
        else:
            rows = _until_caught_up(conn, since, topic, lang)
        for row in rows:
            sys.stdout.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()


def _until_caught_up(
    conn: psycopg.Connection, since: int, topic: str | None, lang: str | None
) -> Iterator[published.PublishedArticle]:
    cursor = since
    while batch := published.read_after(conn, cursor, topic=topic, language=lang, limit=500):
        yield from batch
        cursor = batch[-1].cursor
