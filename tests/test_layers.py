"""The layout is the architecture: pure stages, database steps, Celery adapters, and an API without workers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = sorted((ROOT / "workers" / "stages").glob("*.py"))
# A stage takes values and returns values: no database, no broker, no settings, no step or task above it.
FORBIDDEN_IN_STAGES = ("psycopg", "psycopg_pool", "celery", "kombu", "shared.db", "shared.settings", "workers.steps",
                       "workers.tasks", "workers.app", "workers.resources", "workers.delivery_tasks")  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_stages_folder_holds_the_stages() -> None:
    names = {p.stem for p in STAGES}
    assert {"feeds", "poll", "fetch", "extract", "clean", "language", "dedup", "topics"} <= names


@pytest.mark.parametrize("path", STAGES, ids=lambda p: p.stem)
def test_a_stage_imports_no_database_broker_or_settings(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN_IN_STAGES))
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_the_purity_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    impure = tmp_path / "impure.py"
    impure.write_text("from shared.db import items\nimport psycopg\nfrom shared.settings import Settings\n")
    assert {"shared.db", "psycopg", "shared.settings"} <= imported_modules(impure)


def test_steps_and_stages_import_no_celery() -> None:
    for path in sorted((ROOT / "workers" / "steps").glob("*.py")) + STAGES:
        bad = sorted(m for m in imported_modules(path) if m.startswith(("celery", "kombu", "workers.tasks")))
        assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_the_api_loads_no_worker_module() -> None:
    probe = "import sys, api.app; print(sorted(m for m in sys.modules if m == 'workers' or m.startswith('workers.')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
