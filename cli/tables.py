"""Tables of the command line: readable at 80 columns in a terminal, plain aligned text when piped.

In a terminal every column may wrap, and a word longer than its column (a URL) is folded onto the next line
rather than cut, so no column is dropped and no value is lost however narrow the window. Piped or redirected,
a table is a header line and one line per row, columns aligned with spaces and values whole: what grep, awk,
cut or a file want, with no box characters and no width limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

Cell = str | Text  # a str is shown as is (never read as markup: titles and URLs are data); Text carries style
GAP = "  "


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"


def columns(*headers: str, right: Iterable[str] = ()) -> list[Column]:
    """Columns by header; those named in ``right`` (numbers) are right-aligned."""
    numeric = set(right)
    return [Column(h, "right" if h in numeric else "left") for h in headers]


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.split())  # one line per row, whatever the value holds


def plain_lines(cols: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None) -> list[str]:
    """The piped form: optional title, header, rows; each column as wide as its widest value."""
    table = [[c.header for c in cols], *[[_plain(cell) for cell in row] for row in rows]]
    widths = [max(cell_len(line[i]) for line in table) for i in range(len(cols))]
    lines = [title] if title else []
    for line in table:
        cells = []
        for i, (value, col) in enumerate(zip(line, cols, strict=True)):
            pad = " " * (widths[i] - cell_len(value))
            last = i == len(cols) - 1
            cells.append(pad + value if col.justify == "right" else value + ("" if last else pad))
        lines.append(GAP.join(cells).rstrip())
    return lines


def rich_table(cols: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None = None) -> Table:
    """The terminal form: every column wraps and folds, and keeps at least its header's width."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for c in cols:
        table.add_column(c.header, justify=c.justify, overflow="fold", min_width=min(len(c.header), 12))
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


def print_table(
    console: Console, cols: Sequence[Column], rows: Iterable[Sequence[Cell]], title: str | None = None
) -> None:
    """Print a table in the form that suits where ``console`` writes. A blank line follows a terminal's table,
    and a titled one when piped (a section: what follows is not run into it)."""
    materialised = [list(row) for row in rows]
    if console.is_terminal:
        table = rich_table(cols, materialised, title)
        # Too wide for the window: cells will wrap onto several lines, and a rule between rows keeps each row
        # readable as one.
        natural = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
        table.show_lines = natural > console.width
        console.print(table)
        console.print()
        return
    for line in plain_lines(cols, materialised, title):
        console.print(line, markup=False, highlight=False, soft_wrap=True, emoji=False)
    if title:
        console.print()
