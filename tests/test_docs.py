"""The README documents every NEWSMILL_ variable with its real default."""

from __future__ import annotations

from pathlib import Path

from shared.settings import describe

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    for variable, default, _ in describe():
        row = next((line for line in README.splitlines() if line.startswith(f"| `{variable}` |")), None)
        assert row is not None, f"{variable} is not documented in README.md"
        if default:
            assert f"`{default}`" in row, f"{variable}: README shows another default"


def test_readme_settings_table_is_the_generated_one() -> None:
    from tools.readme_settings import END, START, render  # noqa: PLC0415

    block = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == render(), "run `uv run python -m tools.readme_settings`"
