"""Display tables in a terminal: every identifying column and every number whole, at any width.

A :class:`~backtest.report.tables.Table` that fits the console prints as one table. One that
does not fit folds instead of cutting cells:

1. one block per group (per event): the group's value becomes the block's title, which frees
   the width of its column;
2. if a block is still too wide, its value columns are split into parts that each fit, every
   part repeating the identifying columns (``Table.keys``), so each row still says what it is.

With ``wide=True`` (``--wide``, or output to a pipe or file) a table keeps one row per line
whatever its width. Cells are plain text (never read as rich markup), so a name from a file
such as ``Crash [/]`` shows as written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd

    from backtest.report.tables import Table

#: Width of a console with no limit (``--wide`` and pipes): a table keeps one row per line.
UNLIMITED = 100_000
#: Between two columns: the (blank) divider and one space of padding on each side.
_GAP = 3


def make_console(wide: bool = False, stderr: bool = False) -> Console:
    """The console a command prints to: the terminal's width, or unlimited.

    Unlimited for ``wide`` and for a pipe or file without ``$COLUMNS`` (a script reads one row
    per line); a terminal, or ``$COLUMNS``, sets the width tables fold to.
    """
    # No markup and no :emoji: codes in anything printed: titles, notes and cells may hold text
    # from a user's file (an event named "Crash [/]" or "[link=https://example.com]x[/link]").
    console = Console(markup=False, emoji=False, stderr=stderr)
    if wide or (not console.is_terminal and "COLUMNS" not in os.environ):
        return Console(width=UNLIMITED, markup=False, emoji=False, stderr=stderr)
    return console


def _widths(cells: pd.DataFrame, headers: Mapping[str, str]) -> dict[str, int]:
    """Terminal cells each column needs so that no header line and no cell is cut."""
    out = {}
    for column in cells.columns:
        texts = [str(headers[column]), *(str(v) for v in cells[column])]
        lines = [line for text in texts for line in text.splitlines()]
        out[column] = max([cell_len(line) for line in lines] + [1])
    return out


def table_width(widths: Sequence[int]) -> int:
    """Width of a rich table with the house style (``SIMPLE_HEAD``, no outer padding).

    >>> table_width([4, 10, 8])
    28
    """
    return sum(widths) + _GAP * max(len(widths) - 1, 0)


def _parts(
    keys: Sequence[str], values: Sequence[str], widths: Mapping[str, int], limit: int
) -> list[list[str]]:
    """Split ``values`` into runs of columns that fit ``limit`` beside the ``keys`` (at least one each)."""
    base = [widths[k] for k in keys]
    parts: list[list[str]] = []
    current: list[str] = []
    for column in values:
        if current and table_width(base + [widths[c] for c in [*current, column]]) > limit:
            parts.append(current)
            current = []
        current.append(column)
    if current or not parts:
        parts.append(current)
    return parts


def _rich(
    cells: pd.DataFrame, table: Table, columns: Sequence[str], title: str, widths: Mapping[str, int],
    limit: int,
) -> RichTable:
    out = RichTable(
        title=Text(title) if title else None, title_justify="left", title_style="bold",
        header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
    )  # fmt: skip
    fits = table_width([widths[c] for c in columns]) <= limit
    for column in columns:
        out.add_column(
            Text(table.header(column)),
            justify="right" if table.is_numeric(column) else "left",
            # every cell whole on one line; only a single column wider than the screen folds
            no_wrap=fits,
            min_width=widths[column] if fits else None,
            overflow="fold",
        )
    for row in cells[list(columns)].itertuples(index=False):
        out.add_row(*(Text(str(v)) for v in row))
    return out


def render_table(
    table: Table,
    width: int,
    *,
    title: str | None = None,
    group: str | None = None,
    group_titles: Mapping[str, str] | None = None,
    group_columns: Sequence[str] = (),
) -> Iterator[RichTable | Text]:
    """The rich tables that show ``table`` within ``width`` columns (see the module docstring).

    ``group`` names the column whose values become block titles when the table is too wide
    (``group_titles`` maps a value to its title, e.g. an event id to ``"deepseek_r1 — DeepSeek R1"``);
    ``group_columns`` are columns with one value per group that move into the block title with it.
    """
    cells = table.formatted()
    columns = list(cells.columns)
    headers = {c: table.header(c) for c in columns}
    widths = _widths(cells, headers)
    title = table.title if title is None else title
    note = table.note
    if table_width([widths[c] for c in columns]) <= width:
        yield _rich(cells, table, columns, title, widths, width)
        if note:
            yield Text(note, style="dim")  # wraps to the console, not to the table's width
        return
    yield Text(title, style="bold")  # once; the blocks below carry short titles
    blocks: list[tuple[str, pd.DataFrame]] = [("", cells)]
    if group in columns and cells[group].nunique() < len(cells):
        titles = group_titles or {}
        moved = [c for c in group_columns if c in columns]
        blocks = [
            (f"{headers[group]} {value}" + (f" — {titles[value]}" if titles.get(value) else "")
             + "".join(f" · {part[c].iloc[0]}" for c in moved),
             part.drop(columns=[group, *moved]))
            for value, part in cells.groupby(group, sort=False)
        ]
    for block_title, part in blocks:
        shown = list(part.columns)
        part_widths = _widths(part, headers)
        keys = [c for c in table.keys if c in shown]
        values = [c for c in shown if c not in keys]
        if table_width([part_widths[c] for c in shown]) <= width:
            runs = [values]
        else:
            runs = _parts(keys, values, part_widths, width)
        for number, run in enumerate(runs, start=1):
            label = block_title if len(runs) == 1 else f"{block_title} (part {number}/{len(runs)})".strip()
            yield Text(label, style="bold")  # above the table: a table title would wrap at its width
            yield _rich(part, table, [*keys, *run], "", part_widths, width)
    if note:
        yield Text(note, style="dim")


#: Rows of one table a terminal is shown: a study of thousands of pairs printed every pair's rows
#: (an 11,122-pair study spent 138 of its 167 s drawing 55,610 CAR rows); the files hold them all.
TERMINAL_ROWS = 200


def first_rows(table: Table) -> Table:
    """``table`` cut to its first :data:`TERMINAL_ROWS` rows, its note saying how many more there
    are and where; a table that fits is returned as it is."""
    total = len(table.frame)
    if total <= TERMINAL_ROWS:
        return table
    more = f"The first {TERMINAL_ROWS:,} of {total:,} rows; all of them are in {table.name}.csv (--out DIR)."
    return replace(table, frame=table.frame.iloc[:TERMINAL_ROWS], note=f"{more} {table.note}".strip())


def print_table(
    console: Console,
    table: Table,
    *,
    title: str | None = None,
    group: str | None = "event_id",
    group_titles: Mapping[str, str] | None = None,
    group_columns: Sequence[str] = (),
) -> None:
    """Print ``table`` on ``console``, folded to its width (one row per line on a wide console);
    at most its first :data:`TERMINAL_ROWS` rows (:func:`first_rows`)."""
    parts = render_table(first_rows(table), console.width, title=title, group=group,
                         group_titles=group_titles, group_columns=group_columns)
    for part in parts:
        console.print(part)
    console.print()
