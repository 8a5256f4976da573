"""How results show themselves: a :class:`Summary` that prints as text and renders as HTML.

Modelled on statsmodels' ``Summary``: ``print(res.summary())`` gives text, a notebook shows
``res.summary()`` as HTML tables (``_repr_html_``), ``as_text()`` / ``as_html()`` give either
explicitly. The tables are the report's display tables (:class:`backtest.report.tables.Table`),
formatted by the same cell formatters, rendered by the report's own template macros.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backtest.report.tables import Table

#: Width the text form is wrapped to (terminal tables must read at 100 columns).
TEXT_WIDTH = 100


def text_table(table: Table, width: int = TEXT_WIDTH) -> str:
    """A display table as plain text, folded to ``width`` like the terminal's tables
    (:func:`backtest.report.terminal.render_table`: no cell cut, identifying columns repeated)."""
    import io

    from rich.console import Console

    from backtest.report.terminal import render_table

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, emoji=False)
    for part in render_table(table, width, group=None):
        console.print(part)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


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
     ────────
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
            parts += ["", text_table(table)]
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
