"""The pure parts of what the command line prints: error sentences (cli.errors) and tables (cli.tables)."""

from __future__ import annotations

import io

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from pydantic import ValidationError
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from cli.errors import FAILED, USAGE, CommandError, explain, one_line, redact
from cli.tables import columns, plain_lines, print_table
from shared.db.connection import SchemaNotCurrentError
from shared.errors import Outcome, PermanentError
from shared.settings import Settings

DB = "postgresql://newsmill:secret@db.example:5432/newsmill"
REDIS = "redis://127.0.0.1:6379/0"


def _settings_error(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (psycopg.OperationalError('connection failed: connection to server at "10.0.0.5", port 5432 failed: '
                                  'FATAL:  database "newsmill" does not exist'), FAILED, "createdb newsmill"),
        (psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 1 failed: '
                                  "Connection refused\n\tIs the server running on that host?"), FAILED,
         "cannot reach PostgreSQL at postgresql://newsmill:***@db.example:5432/newsmill (Connection refused)"),
        (psycopg.OperationalError('connection failed: connection to server at "1.2.3.4", port 5432 failed: '
                                  'FATAL:  password authentication failed for user "newsmill"'), FAILED,
         "refused the login (password authentication failed"),
        (pg_errors.UndefinedTable('relation "feeds" does not exist\nLINE 1: SELECT * FROM feeds'), FAILED,
         'not migrated (relation "feeds" does not exist): run `newsmill migrate`'),
        (SchemaNotCurrentError("the database is missing 2 migration(s) (a, b); run `newsmill migrate` first"),
         FAILED, "missing 2 migration(s)"),
        (_settings_error(poll_interval="abc"), USAGE, "invalid setting NEWSMILL_POLL_INTERVAL='abc': Input should"),
        (_settings_error(redis_url="http://x"), USAGE, "NEWSMILL_REDIS_URL='http://x': not a Redis URL"),
        (_settings_error(database_url="nope", api_port=0), USAGE,
         "NEWSMILL_DATABASE_URL='nope': not a PostgreSQL URL"),
        (FileNotFoundError(2, "No such file or directory", "/x/topics.yaml"), USAGE,
         "/x/topics.yaml: No such file or directory"),
        (PermissionError(13, "Permission denied", "/x/data"), USAGE, "/x/data: Permission denied"),
        (CommandError("there is no topic 'x'"), USAGE, "there is no topic 'x'"),
        (CommandError("no feed 'x'", FAILED), FAILED, "no feed 'x'"),
        (PermanentError(Outcome.HTTP_ERROR, "HTTP 404"), FAILED, "http_error: HTTP 404"),
    ],
)  # fmt: skip
def test_a_foreseeable_failure_is_one_sentence(exc: BaseException, code: int, says: str) -> None:
    problem = explain(exc, DB, REDIS)
    assert problem is not None
    assert problem.exit_code == code
    assert says in problem.message
    assert "\n" not in problem.message
    assert "secret" not in problem.message


def test_a_missing_schema_that_could_not_be_checked_says_why() -> None:
    cause = psycopg.OperationalError('connection to server at "h", port 5 failed: FATAL:  database "nm" does not exist')
    wrapped = SchemaNotCurrentError("cannot reach the database")
    wrapped.__cause__ = cause
    problem = explain(wrapped, DB, REDIS)
    assert problem is not None
    assert "createdb nm" in problem.message


def test_a_bug_is_not_explained_away() -> None:
    assert explain(KeyError("x"), DB, REDIS) is None
    assert explain(ValueError("x"), DB, REDIS) is None
    assert explain(OSError("no file name"), DB, REDIS) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (DB, "postgresql://newsmill:***@db.example:5432/newsmill"),
        ("postgresql://127.0.0.1:5432/newsmill", "postgresql://127.0.0.1:5432/newsmill"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("host=x dbname=y", "host=x dbname=y"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_one_line() -> None:
    assert one_line("a\n\n  b  \n\tc") == "a; b; c"


COLS = columns("id", "url", "title", "n", right=("id", "n"))
cell = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30)


@given(st.lists(st.tuples(cell, cell, cell, cell), max_size=8))
def test_piped_tables_keep_every_value_whole_and_columns_aligned(rows: list[tuple[str, ...]]) -> None:
    lines = plain_lines(COLS, [list(r) for r in rows])
    assert len(lines) == len(rows) + 1
    for line, row in zip(lines[1:], rows, strict=True):
        for value in row:
            assert " ".join(value.split()) in line  # whole (whitespace runs become one space: one line per row)
    # A left-aligned column starts at the same place on every line, the header's, counted in terminal cells
    # (a CJK character takes two).
    url_at = cell_len(lines[0][: lines[0].index("url")])
    for line, row in zip(lines[1:], rows, strict=True):
        if cell_len(line) <= url_at:  # nothing after the id: trailing spaces are not printed
            assert not "".join(row[1:]).strip()
            continue
        cut = next(i for i in range(len(line) + 1) if cell_len(line[:i]) >= url_at)
        assert cell_len(line[:cut]) == url_at
        assert line[cut:].startswith(" ".join(row[1].split()))


def test_piped_and_terminal_forms() -> None:
    rows = [["1", "https://feeds.example.org/a/very/long/path/that/does/not/fit.xml", "A title", "12"],
            ["22", "http://b.example/", Text("styled", style="red"), "3"]]  # fmt: skip
    piped = io.StringIO()
    print_table(Console(file=piped, width=40), COLS, rows)
    assert piped.getvalue().splitlines() == [
        "id  url                                                               title     n",
        " 1  https://feeds.example.org/a/very/long/path/that/does/not/fit.xml  A title  12",
        "22  http://b.example/                                                 styled    3",
    ]
    terminal = io.StringIO()
    print_table(Console(file=terminal, width=40, force_terminal=True, color_system=None), COLS, rows)
    shown = terminal.getvalue()
    assert all(len(line) <= 40 for line in shown.splitlines())
    assert "fit.xml" in shown  # folded onto another line, not cut
    assert "[red]" not in shown
    for header in ("id", "url", "title", "n"):
        assert header in shown.splitlines()[1]
