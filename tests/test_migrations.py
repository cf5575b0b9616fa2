"""The schema is created by migrations, idempotently, and an unmigrated database is refused."""

from __future__ import annotations

import contextlib

import psycopg
import pytest
from psycopg import sql

from harness.shared_services import ADMIN_URL, create_database, database_url, drop_database
from shared.db.connection import SchemaNotCurrentError, apply_migrations, require_current_schema


def test_migrate_is_idempotent(db_url: str) -> None:
    assert apply_migrations(db_url) == []
    require_current_schema(db_url)


def test_unmigrated_database_is_refused_with_a_clear_message() -> None:
    name = "nm_t_unmigrated"
    drop_database(name)
    url = create_database(name)
    try:
        with pytest.raises(SchemaNotCurrentError, match="newsmill migrate"):
            require_current_schema(url)
        applied = apply_migrations(url)
        assert "0001_core" in applied
        require_current_schema(url)
    finally:
        drop_database(name)


def test_a_role_named_like_the_readers_schema_migrates_into_public() -> None:
    """compose's database user is ``newsmill``, the readers' schema's name: PostgreSQL's default search_path
    (``"$user", public``) must not send the tables made after 0004, or yoyo's records, into that schema."""
    name = "nm_t_role_newsmill"
    drop_database(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        # Roles are cluster-wide (another run may have made it); compose's user is a superuser, as the
        # postgres image makes it.
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'newsmill'").fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute("CREATE ROLE newsmill LOGIN SUPERUSER")
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER newsmill").format(sql.Identifier(name)))
    url = database_url(name).replace("://postgres@", "://newsmill@")
    try:
        assert "0005_subscriptions" in apply_migrations(url)
        require_current_schema(url)
        assert apply_migrations(url) == []
        with psycopg.connect(url, autocommit=True) as conn:
            schemas = dict(conn.execute(
                "SELECT table_name, table_schema FROM information_schema.tables"
                " WHERE table_schema IN ('public', 'newsmill')"
            ).fetchall())  # fmt: skip
        assert schemas["subscriptions"] == schemas["_yoyo_migration"] == schemas["feeds"] == "public"
        assert schemas["articles_published"] == "newsmill"
        assert [t for t, s in schemas.items() if s == "newsmill"] == ["articles_published"]
    finally:
        drop_database(name)
