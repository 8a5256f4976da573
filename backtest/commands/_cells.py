"""Terminal cell formatters shared by the commands (``-`` for a missing value)."""

from __future__ import annotations

import pandas as pd


def pct_cell(value: object) -> str:
    """A fraction as a signed percent: ``-0.1697`` -> ``'-16.97 %'``; missing -> ``'-'``.

    >>> pct_cell(-0.1697), pct_cell(None)
    ('-16.97 %', '-')
    """
    return "-" if value is None or pd.isna(value) else f"{float(value) * 100:+.2f} %"


def number_cell(value: object) -> str:
    """A number with two decimals; missing -> ``'-'``.

    >>> number_cell(1.234), number_cell(float("nan"))
    ('1.23', '-')
    """
    return "-" if value is None or pd.isna(value) else f"{float(value):.2f}"
