"""Wide views of the return tables: cross-event pivots, terminal tables, estimate cells with stars.

Tidy frames stay in :mod:`backtest.return_tables.build`; this module only pivots and
formats. Pivots put symbols (with names) in rows and events x windows in columns;
the terminal tables (:class:`~backtest.report.tables.Table`) stay within 100 columns by
putting windows, not events x windows, in columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from backtest.report.tables import ColumnKind, Table
from backtest.return_tables.result import ReturnTables

#: Tidy column behind each pivot, by pivot name.
PIVOT_VALUES: dict[str, tuple[str, str]] = {
    "raw": ("raw", "return"),
    "benchmark": ("raw", "benchmark_return"),
    "excess": ("raw", "excess"),
    "abnormal": ("abnormal", "car"),
}


def stars(p_value: object, levels: Sequence[float]) -> str:
    """Stars for a two-sided p-value: one per level it is below (levels ascending).

    >>> stars(0.004, (0.01, 0.05, 0.1)), stars(0.03, (0.01, 0.05, 0.1)), stars(0.2, (0.01, 0.05, 0.1))
    ('***', '**', '')
    >>> stars(float("nan"), (0.05,))
    ''
    """
    if p_value is None or pd.isna(p_value):
        return ""
    return "*" * sum(float(p_value) < level for level in levels)


def stars_legend(levels: Sequence[float]) -> str:
    """``*** p < 0.01, ** p < 0.05, * p < 0.1`` for the levels given (two-sided).

    >>> stars_legend((0.01, 0.05, 0.1))
    '*** p < 0.01, ** p < 0.05, * p < 0.1 (two-sided)'
    """
    count = len(levels)
    parts = [f"{'*' * (count - i)} p < {level:g}" for i, level in enumerate(levels)]
    return ", ".join(parts) + " (two-sided)"


def _ordered(frame: pd.DataFrame, column: str, order: Sequence[str]) -> pd.Categorical:
    return pd.Categorical(frame[column].astype(str), categories=list(dict.fromkeys(order)), ordered=True)


def pivot(tables: ReturnTables, name: str) -> pd.DataFrame:
    """Symbols in rows (index: symbol), events x windows in columns (MultiIndex event_id, window).

    ``name`` is one of :data:`PIVOT_VALUES` (raw, benchmark, excess, abnormal).
    """
    source, value = PIVOT_VALUES[name]
    frame = getattr(tables, source)
    events = [key for key in tables.names if key in set(frame["event_id"].astype(str))]
    symbols = list(dict.fromkeys(frame["symbol"].astype(str)))
    frame = frame.assign(
        event_id=_ordered(frame, "event_id", events),
        window=_ordered(frame, "window", tables.settings["windows"]),  # type: ignore[arg-type]
        symbol=_ordered(frame, "symbol", symbols),
    )
    wide = frame.pivot_table(index="symbol", columns=["event_id", "window"], values=value,
                             aggfunc="first", observed=True, dropna=False)  # fmt: skip
    wide = wide.dropna(axis=1, how="all")
    wide.index = pd.Index([str(s) for s in wide.index], name="symbol")
    wide.columns = pd.MultiIndex.from_tuples([(str(e), str(w)) for e, w in wide.columns],
                                             names=["event_id", "window"])  # fmt: skip
    return wide


def raw_table(tables: ReturnTables) -> Table:
    """Terminal / report table: per event x symbol three lines (the stock, its benchmark, the excess)."""
    raw = tables.raw
    windows = list(tables.settings["windows"])  # type: ignore[call-overload]
    rows: list[dict[str, object]] = []
    for (event_id, symbol), pair in raw.groupby(["event_id", "symbol"], sort=False):
        by_window = pair.set_index("window")
        benchmark = str(pair["benchmark"].iloc[0]) or "(none)"
        for series, column in ((str(symbol), "return"), (f"  {benchmark}", "benchmark_return"),
                               ("  excess", "excess")):  # fmt: skip
            values = {w: by_window[column].get(w, float("nan")) for w in windows}
            rows.append({"event_id": str(event_id), "series": series, **values})
    frame = pd.DataFrame(rows, columns=["event_id", "series", *windows])
    kinds: dict[str, ColumnKind] = dict.fromkeys(windows, "signed_percent")
    stale = bool(raw["benchmark_stale"].any()) if len(raw) else False
    return Table(
        "raw_returns",
        "Raw returns: each stock, its benchmark and the excess over the same sessions",
        frame,
        kinds,
        note="Window from day a to day b in sessions of the stock's exchange: close of day b over the "
        "close of day a-1, minus 1 (simple returns); excess = stock minus benchmark (market-adjusted "
        "buy-and-hold return). — = the window runs past the data."
        + (" Some benchmark closes are the last earlier close (benchmark_stale)." if stale else ""),
        labels={"event_id": "event"},
        keys=("event_id", "series"),
    )


def scoreboard_table(tables: ReturnTables) -> Table:
    """Terminal / report table of the shock scoreboard: one row per symbol x event.

    The rank stays in the tidy table and the files; on screen the rows of a symbol sit together.
    """
    board = tables.scoreboard
    frame = pd.DataFrame({
        "symbol": board["symbol"].astype(str),
        "name": [tables.names.get(s, s) for s in board["symbol"].astype(str)],
        "event_id": board["event_id"].astype(str),
        "day0_return": board["day0_return"], "worst_car": board["worst_car"],
        "worst_p_value": board["worst_p_value"], "worst_window": board["worst_window"],
        "recovery_status": board["recovery_status"], "recovery_sessions": board["recovery_sessions"],
    })  # fmt: skip
    kinds: dict[str, ColumnKind] = {
        "day0_return": "signed_percent", "worst_car": "signed_percent", "worst_p_value": "pvalue",
        "recovery_sessions": "integer",
    }  # fmt: skip
    labels = {
        "event_id": "event", "day0_return": "day 0", "worst_car": "worst\nCAR", "worst_window": "window",
        "recovery_status": "recovery", "recovery_sessions": "back\nafter",
    }  # fmt: skip
    return Table(
        "scoreboard",
        "Shock scoreboard: each symbol's events side by side",
        frame,
        kinds,
        marks={"worst_car": "worst_p_value"},
        hidden=("worst_p_value",),
        note="day 0 = raw return of the reaction session; worst CAR = lowest cumulative abnormal return "
        "over the study's windows; recovery of the price path, back after = sessions from day 0 to "
        f"the first close at or above the pre-event close. {stars_legend((0.01, 0.05, 0.10))}.",
        labels=labels,
        keys=("symbol", "name", "event_id"),
    )


def percent_cell(value: object, digits: int = 2) -> str:
    """A fraction as a number in percent without the sign: ``-0.16968`` -> ``'-16.97'``; missing -> ``''``.

    >>> percent_cell(-0.16968), percent_cell(float("nan"))
    ('-16.97', '')
    """
    if value is None or pd.isna(value):
        return ""
    return f"{float(value) * 100.0:.{digits}f}"
