"""The schema is created by migrations, idempotently, and an unmigrated database is refused."""

from __future__ import annotations

import psycopg
import pytest

from shared.db.connection import SchemaNotCurrentError, apply_migrations, require_current_schema
from tests.conftest import ADMIN_URL, _drop, _url_for


def test_migrate_is_idempotent(db_url: str) -> None:
    assert apply_migrations(db_url) == []
    require_current_schema(db_url)


def test_unmigrated_database_is_refused_with_a_clear_message() -> None:
    name = "nm_t_unmigrated"
    _drop(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with pytest.raises(SchemaNotCurrentError, match="newsmill migrate"):
            require_current_schema(_url_for(name))
        applied = apply_migrations(_url_for(name))
        assert "0001_core" in applied
        require_current_schema(_url_for(name))
    finally:
        _drop(name)
