"""What a person reads when a command cannot do its work: one line and an exit status, never a traceback.

Every foreseeable condition (a server away, a database missing or not migrated, an invalid setting, a file
missing, unreadable or malformed) is turned into one sentence saying what is wrong and what to do. Anything
else is a bug, and its traceback is the useful report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from pydantic import ValidationError
from typer._click.exceptions import ClickException  # typer's own click: the class its commands may raise

from shared.db.connection import SchemaNotCurrentError
from shared.errors import StageError

USAGE = 2  # what was asked is wrong: the command line, a setting, an input file, a name that does not exist
FAILED = 1  # the environment is not ready (a server away, a database missing or unmigrated), or the work failed

_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')
_UNREACHABLE = (
    "connection refused", "could not translate host name", "timeout expired", "no route to host",
    "network is unreachable", "name or service not known", "could not connect", "server closed",
)  # fmt: skip
_LOGIN = ("password authentication failed", "no pg_hba.conf entry", "role ")
# The schema objects a command finds missing when `newsmill migrate` never ran (or a newer one did not).
_NOT_MIGRATED = (pg_errors.UndefinedTable, pg_errors.UndefinedColumn, pg_errors.UndefinedFunction,
                 pg_errors.InvalidSchemaName, pg_errors.UndefinedObject)  # fmt: skip
_SERVICE_HINT = "start it (`make services` starts a local one), set {var}, or use `newsmill run --embedded`"


class CommandError(ClickException):
    """A foreseeable condition a command reports as one line: raise it rather than print and exit.

    A ClickException (of the click that typer vendors), so a command run without `main` (typer's CliRunner,
    a sub-app) still shows the message and exits with the status; `main` prints it as one line."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Problem:
    message: str
    exit_code: int


def one_line(text: str) -> str:
    """Several lines (a libpq or YAML message) as one: the lines joined with "; ", blank ones dropped."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def redact(url: str) -> str:
    """A URL as it may be printed: its password replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _after_failed(message: str) -> str:
    """libpq's reason without its preamble ('connection to server at "h", port p failed: ' ...)."""
    first = message.strip().splitlines()[0] if message.strip() else message
    return first.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()


def explain_postgres(exc: psycopg.Error, database_url: str) -> Problem:
    url = redact(database_url)
    text = str(exc)
    if isinstance(exc, _NOT_MIGRATED):
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return Problem(f"the database at {url} is not migrated ({first}): run `newsmill migrate`", FAILED)
    if (missing := _MISSING_DATABASE.search(text)) is not None:
        name = missing[1]
        return Problem(
            f"the database {name!r} does not exist on the server of {url}: create it with `createdb {name}` or "
            f"`newsmill migrate --create-database`, or use embedded services with `newsmill run --embedded`",
            FAILED,
        )
    lowered = text.lower()
    if isinstance(exc, psycopg.OperationalError) and any(marker in lowered for marker in _LOGIN):
        return Problem(f"PostgreSQL at {url} refused the login ({_after_failed(text)}): check NEWSMILL_DATABASE_URL",
                       FAILED)  # fmt: skip
    if isinstance(exc, psycopg.OperationalError) and any(marker in lowered for marker in _UNREACHABLE):
        hint = _SERVICE_HINT.format(var="NEWSMILL_DATABASE_URL")
        return Problem(f"cannot reach PostgreSQL at {url} ({_after_failed(text)}): {hint}", FAILED)
    return Problem(f"PostgreSQL at {url}: {one_line(text)}", FAILED)


def explain_settings(exc: ValidationError) -> Problem:
    """Each invalid variable with its value and what is allowed (pydantic's message says it)."""
    parts = []
    for error in exc.errors():
        variable = "NEWSMILL_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
        reason = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{variable}={error.get('input')!r}: {reason}")
    return Problem(one_line("invalid setting " + "; ".join(parts)), USAGE)


def _redis_errors() -> tuple[type[BaseException], ...]:
    # Imported here: most commands never load the broker's client libraries.
    import kombu.exceptions  # noqa: PLC0415
    import redis  # noqa: PLC0415

    return redis.ConnectionError, redis.TimeoutError, kombu.exceptions.OperationalError


def explain(exc: BaseException, database_url: str, redis_url: str) -> Problem | None:  # noqa: PLR0911 - one case each
    """The one-line report of a foreseeable failure; None for anything else (a bug: let it show)."""
    if isinstance(exc, CommandError):
        return Problem(one_line(exc.format_message()), exc.exit_code)
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return explain_settings(exc)
    if isinstance(exc, SchemaNotCurrentError):
        if isinstance(exc.__cause__, psycopg.Error):  # it could not even ask: say why, as for any command
            return explain_postgres(exc.__cause__, database_url)
        return Problem(one_line(str(exc)), FAILED)
    if isinstance(exc, psycopg.Error):
        return explain_postgres(exc, database_url)
    if isinstance(exc, _redis_errors()):
        hint = _SERVICE_HINT.format(var="NEWSMILL_REDIS_URL")
        return Problem(f"cannot reach Redis at {redact(redis_url)} ({one_line(str(exc))}): {hint}", FAILED)
    if isinstance(exc, OSError) and exc.filename is not None:
        return Problem(f"{exc.filename}: {exc.strerror or one_line(str(exc))}", USAGE)
    if isinstance(exc, StageError):
        return Problem(f"{exc.outcome.value}: {one_line(exc.reason)}", FAILED)
    return None
