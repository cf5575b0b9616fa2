"""The schema is created by migrations, idempotently, and an unmigrated database is refused."""

from __future__ import annotations

import pytest

from harness.shared_services import create_database, drop_database
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
