"""Rewrite README.md's settings table from shared.settings: `uv run python -m tools.readme_settings`."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import describe

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def render() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for variable, default, meaning in describe():
        shown = f"`{default}`" if default else "(unset)"
        escaped = meaning.replace("|", r"\|")
        rows.append(f"| `{variable}` | {shown} | {escaped} |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    block = f"{START}\n{render()}\n{END}"
    README.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: block, text, flags=re.S), "utf-8")


if __name__ == "__main__":
    main()
