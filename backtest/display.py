"""How results show themselves: a :class:`Summary` that prints as text and renders as HTML.

Modelled on statsmodels' ``Summary``: ``print(res.summary())`` gives text, a notebook shows
``res.summary()`` as HTML tables (``_repr_html_``), ``as_text()`` / ``as_html()`` give either
explicitly. The tables are the report's display tables (:class:`backtest.report.tables.Table`),
formatted by the same cell formatters, rendered by the report's own template macros.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backtest.report.tables import Table

#: Width the text form is wrapped to (terminal tables must read at 100 columns).
TEXT_WIDTH = 100


def _column_blocks(columns: Sequence[str], widths: dict[str, int], keys: int, width: int) -> list[list[str]]:
    """Columns split into blocks no wider than ``width``, each led by the first ``keys`` columns."""
    lead = list(columns[:keys])
    used = sum(widths[c] + 2 for c in lead)
    blocks: list[list[str]] = [[]]
    for column in columns[keys:]:
        if blocks[-1] and used + sum(widths[c] + 2 for c in blocks[-1]) + widths[column] > width:
            blocks.append([])
        blocks[-1].append(column)
    return [lead + block for block in blocks]


def text_table(table: Table, width: int = TEXT_WIDTH) -> str:
    """A display table as aligned text; wider than ``width``, it folds into blocks of columns, each
    block repeating the identifying (leading text) columns, so no cell is ever cut.

    >>> import pandas as pd
    >>> from backtest.report.tables import Table
    >>> frame = pd.DataFrame({"symbol": ["NVDA"], "a": [0.1], "b": [-0.2]})
    >>> print(text_table(Table("t", "", frame, {"a": "percent", "b": "signed_percent"}), width=20))
    symbol        a
    ------  -------
    NVDA    10.00 %
    <BLANKLINE>
    symbol         b
    ------  --------
    NVDA    -20.00 %
    """
    cells = table.formatted()
    cells.columns = [" ".join(table.header(c).split()) for c in cells.columns]
    right = {" ".join(table.header(c).split()) for c in table.shown_columns() if table.is_numeric(c)}
    widths = {c: max([len(c), *(len(v) for v in cells[c])]) for c in cells.columns}
    keys = next((i for i, c in enumerate(cells.columns) if c in right), len(cells.columns))

    def line(columns: Sequence[str], values: Sequence[str]) -> str:
        pairs = zip(columns, values, strict=True)
        return "  ".join(v.rjust(widths[c]) if c in right else v.ljust(widths[c]) for c, v in pairs).rstrip()

    out = []
    for block in _column_blocks(list(cells.columns), widths, keys, width):
        rows = [line(block, block), "  ".join("-" * widths[c] for c in block)]
        rows += [line(block, list(values)) for values in cells[block].itertuples(index=False)]
        out.append("\n".join(rows))
    return "\n\n".join(out)


@dataclass
class Summary:
    """A titled list of display tables and notes; text with ``str()``, HTML in a notebook.

    >>> import pandas as pd
    >>> from backtest.report.tables import Table
    >>> s = Summary("Demo", [Table("t", "Cars", pd.DataFrame({"car": [-0.1333]}), {"car": "signed_percent"})])
    >>> print(s)
    Demo
    ====
    <BLANKLINE>
    Cars
        car
    --------
    -13.33 %
    >>> "<td class=\\"num\\">-13.33 %</td>" in s.as_html()
    True
    """

    title: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lead: str = ""

    def as_text(self) -> str:
        """Plain text: title, lead, each table under its title with its note, then the notes."""
        parts = [self.title, "=" * len(self.title)]
        if self.lead:
            parts += ["", textwrap.fill(self.lead, TEXT_WIDTH)]
        for table in self.tables:
            parts += ["", table.title, text_table(table)]
            if table.note:
                parts.append(textwrap.fill(table.note, TEXT_WIDTH))
        if self.notes:
            parts += ["", "Notes", *(textwrap.fill(f"- {n}", TEXT_WIDTH, subsequent_indent="  ")
                                      for n in self.notes)]  # fmt: skip
        return "\n".join(parts)

    def as_html(self) -> str:
        """HTML for a notebook: the report's table macro for each table (every cell escaped)."""
        from backtest.report.html import environment, table_view

        template = environment().from_string(
            '{% from "macros.html.j2" import table %}<div class="backtest-summary"><h3>{{ title }}</h3>'
            "{% if lead %}<p>{{ lead }}</p>{% endif %}"
            "{% for t in tables %}<h4>{{ t.title }}</h4>{{ table(t) }}{% endfor %}"
            "{% if notes %}<ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}</div>"
        )
        views = [table_view(t) for t in self.tables]
        return template.render(title=self.title, lead=self.lead, tables=views, notes=self.notes)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def short_repr(kind: str, **parts: object) -> str:
    """``Kind(key=value, ...)`` on one line: what a result holds and its size.

    >>> short_repr("RecoveryResult", pairs=16, horizon=60)
    'RecoveryResult(pairs=16, horizon=60)'
    """
    return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in parts.items()) + ")"
