"""The README documents every NEWSMILL_ variable with its real default: its table is the generated one."""

from __future__ import annotations

from pathlib import Path

from tools.readme_settings import END, START, render

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_settings_table_is_the_generated_one() -> None:
    block = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render(), "run `uv run python -m tools.readme_settings`"
