"""How numbers and significance marks are shown: the one formatter of the terminal, ``summary()``
and the report.

Everything inside the package is a fraction (``car = -0.1333``); this module turns a value
into the text a reader sees (``-13.33 %``). Returns, abnormal returns, CARs, drawdowns and
excess returns are shown with their sign (``+1.38 %``, kind ``"signed_percent"``); shares, win
rates and exposure without (``62.50 %``, kind ``"percent"``). A missing value is ``—``.

Significance marks follow the usual finance convention: ``***`` p < 0.01, ``**`` p < 0.05,
``*`` p < 0.10 (two-sided p-values, as the event study reports them).

>>> format_percent(-0.13333), format_percent(0.0138, signed=True)
('-13.33 %', '+1.38 %')
>>> significance_marks(0.004), significance_marks(0.07), significance_marks(0.5)
('***', '*', '')
>>> format_marked(-0.1333, 0.004, "signed_percent")
'-13.33 %***'
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd

ColumnKind = Literal[
    "text", "percent", "signed_percent", "number", "integer", "pvalue", "date", "datetime", "bool"
]

#: Shown for a missing value in every table (terminal, Markdown, HTML).
MISSING = "—"
SIGNIFICANCE_LEVELS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
SIGNIFICANCE_NOTE = "*** p < 0.01, ** p < 0.05, * p < 0.10 (two-sided)"
#: Kinds shown right-aligned (numbers).
NUMERIC_KINDS: frozenset[str] = frozenset({"percent", "signed_percent", "number", "integer", "pvalue"})


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas' NA (never raises on strings or tuples).

    >>> is_missing(float("nan")), is_missing(pd.NaT), is_missing("x"), is_missing(0)
    (True, True, False, False)
    """
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_percent(value: object, digits: int = 2, signed: bool = False) -> str:
    """Show a fraction as percent: ``-0.1333`` -> ``'-13.33 %'``; missing -> ``'—'``.

    ``signed=True`` (returns) puts ``+`` before positive values; a value that rounds
    to zero is shown without a sign.

    >>> format_percent(0.1872), format_percent(0.1872, signed=True), format_percent(float("nan"))
    ('18.72 %', '+18.72 %', '—')
    >>> format_percent(-0.00001, signed=True), format_percent(float("inf"), signed=True)
    ('0.00 %', '+∞ %')
    """
    if is_missing(value):
        return MISSING
    return _percent_text(float(value), digits, signed)


def _percent_text(fraction: float, digits: int = 2, signed: bool = False) -> str:
    number = fraction * 100.0
    plus = "+" if signed else ""
    if math.isinf(number):
        return f"{plus}∞ %" if number > 0 else "-∞ %"
    text = f"{number:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":  # -0.00 -> 0.00
        return f"{text.lstrip('-')} %"
    return f"{plus if number > 0 else ''}{text} %"


def format_number(value: object, digits: int = 2) -> str:
    """Fixed-point number with ``digits`` decimals; missing -> ``'—'``.

    >>> format_number(1.23456), format_number(None), format_number(0.0123, 3)
    ('1.23', '—', '0.012')
    """
    if is_missing(value):
        return MISSING
    return _number_text(float(value), digits)


def _number_text(number: float, digits: int = 2) -> str:
    return f"{number:.{digits}f}"


def format_pvalue(value: object) -> str:
    """p-value with three decimals, ``<0.001`` below that.

    >>> format_pvalue(0.0004), format_pvalue(0.0312)
    ('<0.001', '0.031')
    """
    if is_missing(value):
        return MISSING
    return _pvalue_text(float(value))


def _pvalue_text(number: float) -> str:
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def significance_marks(p_value: object) -> str:
    """Stars for a two-sided p-value (see the module docstring); missing -> ``''``."""
    if is_missing(p_value):
        return ""
    for level, marks in SIGNIFICANCE_LEVELS:
        if float(p_value) < level:
            return marks
    return ""


def format_cell(value: object, kind: ColumnKind) -> str:
    """Format one cell according to its column kind.

    >>> format_cell(-0.05, "signed_percent"), format_cell(True, "bool"), format_cell(3.0, "integer")
    ('-5.00 %', 'yes', '3')
    """
    if is_missing(value):
        return MISSING
    if kind == "percent":
        return format_percent(value)
    if kind == "signed_percent":
        return format_percent(value, signed=True)
    if kind == "number":
        return format_number(value)
    if kind == "integer":
        return str(int(value))
    if kind == "pvalue":
        return format_pvalue(value)
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d %H:%M %Z").strip()
    if kind == "bool":
        return "yes" if bool(value) else "no"
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def format_column(column: pd.Series, kind: ColumnKind) -> list[str]:
    """:func:`format_cell` over a column; a date column in one vectorized pass (a large table's
    dates were most of its formatting time).

    >>> format_column(pd.Series(pd.to_datetime(["2025-01-27", None])), "date")
    ['2025-01-27', '—']
    """
    if kind == "date" and pd.api.types.is_datetime64_dtype(column.dtype):
        text = column.dt.strftime("%Y-%m-%d").astype(object)
        return text.where(column.notna(), MISSING).tolist()
    if kind in _FLOAT_TEXT and column.dtype.kind == "f":
        # floats without a missing-value test per cell (most of a large table's formatting time)
        values = column.to_numpy(dtype=float, na_value=np.nan)
        text = _FLOAT_TEXT[kind]
        return [MISSING if math.isnan(v) else text(v) for v in values.tolist()]
    return [format_cell(value, kind) for value in column.tolist()]


#: Number kinds -> their text of a float that is not missing (what format_cell gives).
_FLOAT_TEXT: dict[str, Callable[[float], str]] = {
    "percent": _percent_text,
    "signed_percent": functools.partial(_percent_text, signed=True),
    "number": _number_text,
    "pvalue": _pvalue_text,
}


def format_marked(value: object, p_value: object, kind: ColumnKind = "number") -> str:
    """A value with the significance marks of its p-value (none on a missing value).

    >>> format_marked(2.5, 0.03), format_marked(float("nan"), 0.001)
    ('2.50**', '—')
    """
    text = format_cell(value, kind)
    return text if text == MISSING else text + significance_marks(p_value)
