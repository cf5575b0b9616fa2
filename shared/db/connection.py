"""Opening PostgreSQL connections and applying the schema migrations (yoyo, plain SQL files)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class SchemaNotCurrentError(RuntimeError):
    """The database lacks migrations this code needs; run ``newsmill migrate``."""


def connect(database_url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection; callers own it (open after a worker forks, never before)."""
    return psycopg.connect(database_url, autocommit=autocommit, application_name="newsmill")


def create_database(database_url: str) -> bool:
    """Create the database ``database_url`` names, through the server's maintenance database (``postgres``,
    else ``template1``); False when it exists already. Needs a role allowed to CREATE DATABASE."""
    name = conninfo_to_dict(database_url).get("dbname")
    if not name:
        raise ValueError(f"{database_url!r} names no database")
    for maintenance in ("postgres", "template1"):
        try:
            conn = psycopg.connect(make_conninfo(database_url, dbname=maintenance), autocommit=True)
        except psycopg.OperationalError:
            if maintenance == "template1":
                raise
            continue
        with conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
            return True
    return False  # not reached: the last attempt either connects or raises


@contextmanager
def transaction(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection inside one transaction, committed on success and closed afterwards."""
    with connect(database_url) as conn, conn.transaction():
        yield conn


@contextmanager
def one_round_trip(conn: psycopg.Connection) -> Iterator[None]:
    """The block's statements reach the server together (a pipeline): one round trip, unless a result is read
    inside the block (a cursor's result can be read after it). On failure the session is rolled back."""
    try:
        with conn.pipeline():
            yield
    except BaseException:
        # After a failed pipeline the session stays in the aborted transaction. A broken connection cannot roll
        # back: the original error is the one to report, and the pool discards or resets the connection.
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        raise


@contextmanager
def begun_and_committed(conn: psycopg.Connection) -> Iterator[None]:
    """A transaction inside ``one_round_trip`` on an idle autocommit connection: BEGIN and COMMIT sent by hand,
    since psycopg's ``transaction()`` inside a pipeline waits for the server before COMMIT. An exception skips
    the COMMIT; ``one_round_trip`` then rolls back."""
    conn.execute("BEGIN")
    yield
    conn.execute("COMMIT")


def _yoyo_url(database_url: str) -> str:
    """yoyo's URL for the database, its session pinned to the ``public`` schema (yoyo's ``schema`` argument).

    Every table lives in ``public``; ``newsmill`` is the readers' schema (0004). PostgreSQL's default
    search_path is ``"$user", public``, so for a role named ``newsmill`` (compose's) the migrations after 0004
    and yoyo's own bookkeeping would otherwise land in the readers' schema, and the next run would find none
    of the migrations applied."""
    url = database_url
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            url = "postgresql+psycopg://" + database_url[len(prefix) :]
    return url + ("&" if "?" in url else "?") + "schema=public"


def pending_migrations(database_url: str) -> list[str]:
    """Ids of migrations on disk that the database has not applied."""
    from yoyo import get_backend, read_migrations  # noqa: PLC0415 - yoyo only when the schema is looked at

    backend = get_backend(_yoyo_url(database_url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration under yoyo's lock (safe to run from two hosts); returns their ids."""
    from yoyo import get_backend, read_migrations  # noqa: PLC0415

    backend = get_backend(_yoyo_url(database_url))
    try:
        with backend.lock():
            todo = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
            backend.apply_migrations(todo)
            return [m.id for m in todo]
    finally:
        backend.connection.close()


def require_current_schema(database_url: str) -> None:
    """Refuse to run against an unmigrated database, with a message that says what to do."""
    try:
        missing = pending_migrations(database_url)
    except psycopg.OperationalError as exc:
        raise SchemaNotCurrentError(f"cannot reach the database at {database_url!r}: {exc}") from exc
    if missing:
        raise SchemaNotCurrentError(
            f"the database is missing {len(missing)} migration(s) ({', '.join(missing)}); run `newsmill migrate` first"
        )
