"""Display tables: the wide, human-facing views of a run.

Everything inside the package is tidy and in fractions (``car = -0.1333``); this module
is the one place that pivots results wide. How a cell reads (``-13.33 %``, stars) comes
from :mod:`backtest.formatting`, the formatter the terminal and ``summary()`` use too.
A :class:`Table` keeps both: ``frame`` holds the numbers (what the CSV gets),
:meth:`Table.formatted` the strings (what the terminal, Markdown and HTML show).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from backtest.formatting import (
    NUMERIC_KINDS,
    SIGNIFICANCE_NOTE,
    ColumnKind,
    format_cell,
    format_marked,
)


@dataclass(frozen=True)
class Table:
    """A display table: numbers in ``frame``, how to show each column in ``kinds``.

    ``marks`` maps a value column to the p-value column whose stars are appended to it;
    ``hidden`` columns stay in the numbers (CSV) but are not shown; ``labels`` are
    display headers (default: the column name).
    """

    name: str
    title: str
    frame: pd.DataFrame
    kinds: Mapping[str, ColumnKind]
    marks: Mapping[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    note: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def header(self, column: str) -> str:
        """Display header of a column."""
        return self.labels.get(column, column)

    def shown_columns(self) -> list[str]:
        """Columns that are displayed, in order."""
        return [column for column in self.frame.columns if column not in self.hidden]

    def formatted(self) -> pd.DataFrame:
        """All shown cells as strings (percent, marks, dates...)."""
        out = {}
        for column in self.shown_columns():
            kind = self.kinds.get(column, "text")
            values = self.frame[column].tolist()
            if column in self.marks:
                p_values = self.frame[self.marks[column]].tolist()
                out[column] = [format_marked(v, p, kind) for v, p in zip(values, p_values, strict=True)]
            else:
                out[column] = [format_cell(value, kind) for value in values]
        return pd.DataFrame(out, index=range(len(self.frame)), columns=self.shown_columns(), dtype=object)

    def is_numeric(self, column: str) -> bool:
        """True for columns shown right-aligned (numbers)."""
        return self.kinds.get(column, "text") in NUMERIC_KINDS


def _window_sort_key(window: str) -> tuple[int, int]:
    inner = window.strip("[]").split(",")
    return int(inner[0]), int(inner[1])


def _event_names(events: pd.DataFrame) -> dict[str, str]:
    return dict(zip(events["event_id"].astype(str), events["name"].astype(str), strict=True))


def alignment_table(alignment: pd.DataFrame) -> Table:
    """Reaction session per event and exchange (``align_events`` output)."""
    frame = pd.DataFrame(
        {
            "event_id": alignment["event_id"].astype(str).tolist(),
            "exchange": alignment["exchange"].tolist(),
            "announced_local": [
                pd.Timestamp(t).strftime("%Y-%m-%d %H:%M %Z") for t in alignment["announced_local"]
            ],
            "reaction_session": alignment["reaction_session"].tolist(),
            "intraday": alignment["intraday"].astype(bool).tolist(),
        }
    )
    kinds: dict[str, ColumnKind] = {"reaction_session": "date", "intraday": "bool"}
    labels = {"event_id": "event", "announced_local": "announced (local)", "reaction_session": "day 0"}
    return Table(
        "alignment",
        "Alignment: reaction session (day 0) per event and exchange",
        frame,
        kinds,
        note="day 0 = first session closing after the announcement; intraday = announced during it.",
        labels=labels,
    )


def reaction_table(abnormal_returns: pd.DataFrame, car: pd.DataFrame) -> Table:
    """Day-0 return and abnormal return, and CAR per window with its p-value, per event x symbol."""
    keys = ["event_id", "symbol"]
    day0 = abnormal_returns.loc[abnormal_returns["rel_day"] == 0, [*keys, "return", "ar"]]
    day0 = day0.rename(columns={"return": "day0_return", "ar": "day0_ar"})
    windows = sorted(car["window"].astype(str).unique().tolist(), key=_window_sort_key)
    base = car[keys].drop_duplicates().reset_index(drop=True)
    frame = base.merge(day0, on=keys, how="left")
    kinds: dict[str, ColumnKind] = {"day0_return": "signed_percent", "day0_ar": "signed_percent"}
    marks: dict[str, str] = {}
    hidden: list[str] = []
    for window in windows:
        part = car.loc[car["window"].astype(str) == window, [*keys, "car", "p_value"]]
        value, p_col = f"CAR {window}", f"p {window}"
        part = part.rename(columns={"car": value, "p_value": p_col})
        frame = frame.merge(part, on=keys, how="left")
        kinds[value] = "signed_percent"
        kinds[p_col] = "pvalue"
        marks[value] = p_col
        hidden.append(p_col)
    labels = {"event_id": "event", "day0_return": "day-0 return", "day0_ar": "day-0 AR"}
    return Table(
        "reactions",
        "Reactions: day-0 return, day-0 abnormal return (AR) and cumulative abnormal returns (CAR)",
        frame,
        kinds,
        marks,
        tuple(hidden),
        note=f"CAR windows in sessions relative to day 0. {SIGNIFICANCE_NOTE}.",
        labels=labels,
    )


#: Display names of the cross-sectional tests (``EventStudyResult.tests["test"]``).
TEST_LABELS: dict[str, str] = {
    "cross_sectional_t": "cross-sectional t", "brown_warner": "Brown-Warner", "patell_z": "Patell z",
    "bmp": "BMP", "bmp_kp": "BMP (Kolari-Pynnönen)", "corrado_rank": "Corrado rank",
    "generalized_sign": "generalized sign", "wilcoxon": "Wilcoxon",
}  # fmt: skip

#: Human labels of result columns shown as chart titles and captions.
METRIC_LABELS: dict[str, str] = {
    "mean_excess_vs_buy_hold_traded": "Mean excess return vs buy-and-hold, traded pairs only",
    "mean_excess_vs_buy_hold": "Mean excess return vs buy-and-hold (per event x symbol)",
    "mean_excess_vs_benchmark": "Mean excess return vs the benchmark (per event x symbol)",
    "excess_vs_buy_hold": "Excess return vs buy-and-hold",
    "excess_vs_benchmark": "Excess return vs the benchmark",
    "mean_return": "Mean total return (per event x symbol)",
    "median_return": "Median total return (per event x symbol)",
    "total_return": "Total return",
}


def metric_label(column: str) -> str:
    """Human label of a result column (for titles and captions).

    >>> metric_label("mean_excess_vs_buy_hold")
    'Mean excess return vs buy-and-hold (per event x symbol)'
    >>> metric_label("best_return")
    'Best return'
    """
    return METRIC_LABELS.get(column) or column.replace("_", " ").capitalize()


def tests_table(tests: pd.DataFrame, scopes: Sequence[str] | None = None) -> Table:
    """Cross-sectional tests, wide: one row per scope x window, one column per test (statistic + stars).

    ``scopes`` keeps only those scopes (e.g. ``["all"]``), in the given order.
    """
    frame = tests if scopes is None else tests[tests["scope"].astype(str).isin(list(scopes))]
    names = list(dict.fromkeys(frame["test"].astype(str)))
    keys = ["scope", "window"]
    out = frame[keys].drop_duplicates().reset_index(drop=True)
    if "n" in frame:
        counts = frame.groupby(keys, sort=False)["n"].max().reset_index()
        out = out.merge(counts, on=keys, how="left")
    kinds: dict[str, ColumnKind] = {"n": "integer"}
    marks: dict[str, str] = {}
    hidden: list[str] = []
    for name in names:
        part = frame.loc[frame["test"].astype(str) == name, [*keys, "statistic", "p_value"]]
        part = part.rename(columns={"statistic": name, "p_value": f"p {name}"})
        out = out.merge(part, on=keys, how="left")
        kinds[name] = "number"
        kinds[f"p {name}"] = "pvalue"
        marks[name] = f"p {name}"
        hidden.append(f"p {name}")
    if scopes is not None:
        order = {scope: i for i, scope in enumerate(scopes)}
        out = out.sort_values("scope", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return Table(
        "tests",
        "Significance tests of the mean (cumulative) abnormal return across symbols",
        out,
        kinds,
        marks,
        tuple(hidden),
        note="Test statistics; scope 'all' pools every event x symbol ('all shock' / 'all relief': "
        f"each kind pooled apart, their CARs move in opposite directions). {SIGNIFICANCE_NOTE}.",
        labels={name: TEST_LABELS.get(name, name.replace("_", " ")) for name in names},
    )


# Fractions shown in percent: signed ones (returns and moves) and plain ones (shares, rates, errors).
_SIGNED_WORDS = ("return", "drawdown", "avg_trade", "excess", "car", "bhar")
_SIGNED_NAMES = frozenset({"ar", "cum_ar", "mean_ar"})
_PERCENT_WORDS = ("win_rate", "exposure", "share")
_PERCENT_NAMES = frozenset({"ar_se", "car_se"})
_NUMBER_WORDS = ("sharpe", "sortino", "statistic", "half_life", "close", "value", "price", "beta", "alpha")
_INTEGER_WORDS = ("n_", "sessions", "days", "rel_day", "count", "pairs", "traded", "trades")


def guess_kind(column: str, dtype: object) -> ColumnKind:
    """Display kind of a result column from its name and dtype (fraction columns -> percent).

    >>> [guess_kind(name, float) for name in ("mean_excess_vs_buy_hold", "win_rate", "car_se")]
    ['signed_percent', 'percent', 'percent']
    """
    name = column.lower()
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date" if "date" in name or "session" in name else "datetime"
    if not pd.api.types.is_numeric_dtype(dtype):
        return "text"
    if name.startswith("p_value") or name == "p":
        return "pvalue"
    if name in _PERCENT_NAMES or any(word in name for word in _PERCENT_WORDS):
        return "percent"
    if name in _SIGNED_NAMES or any(word in name for word in _SIGNED_WORDS):
        return "signed_percent"
    if any(word in name for word in _INTEGER_WORDS):
        return "integer" if pd.api.types.is_integer_dtype(dtype) else "number"
    if any(word in name for word in _NUMBER_WORDS):
        return "number"
    return "integer" if pd.api.types.is_integer_dtype(dtype) else "number"


def generic_table(name: str, title: str, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> Table:
    """A display table whose column kinds are guessed from names and dtypes."""
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    frame = frame.reset_index(drop=True)
    kinds = {column: guess_kind(column, frame[column].dtype) for column in frame.columns}
    return Table(name, title, frame, kinds)


RECOVERY_COLUMNS = (
    "event_id", "symbol", "path", "reaction_return", "max_drawdown", "trough_rel_day", "status",
    "recovery_sessions", "ratio_20", "half_life_sessions",
)  # fmt: skip
RECOVERY_LABELS = {
    "event_id": "event", "reaction_return": "day 0", "max_drawdown": "max move",
    "trough_rel_day": "extreme on day", "recovery_sessions": "back after", "ratio_20": "R20",
    "half_life_sessions": "half-life",
}  # fmt: skip


def recovery_status(row: pd.Series) -> str:
    """One word for a recovery row: recovered, relapsed, censored (why), no move, not measurable."""

    def flag(name: str) -> bool | None:  # numpy/pandas booleans and NA alike
        value = row.get(name)
        return None if value is None or pd.isna(value) else bool(value)

    if flag("measurable") is False:
        return "not measurable"
    if flag("moved") is False:
        return "no move"
    if flag("recovered"):
        return "recovered, relapsed" if flag("relapsed") else "recovered"
    reason = row.get("censored_by")
    return f"censored ({str(reason).replace('_', ' ')})" if pd.notna(reason) and reason else "censored"


def recovery_table(table: pd.DataFrame) -> Table:
    """Recovery per event x symbol x path (price / abnormal), the main columns."""
    status = [recovery_status(row) for _, row in table.iterrows()]
    table = table.assign(status=status)
    if "recovery_sessions" in table:
        # "back after 0" would read as a recovery; a path that never moved has none to time.
        moved = ~pd.Series(status, index=table.index).isin(["no move", "not measurable"])
        table["recovery_sessions"] = table["recovery_sessions"].where(moved)
    out = generic_table(
        "recovery", "Recovery: largest move and sessions back to the pre-event level", table, RECOVERY_COLUMNS
    )
    return Table(
        out.name,
        out.title,
        out.frame,
        out.kinds,
        note="path price = close vs the pre-event close; abnormal = cumulative abnormal return since "
        "day 0 vs 0 (the event study's model, followed to the horizon like the price). "
        "max move = largest drawdown (shock) or run-up (relief, recovery = the jump given back); "
        "back after = sessions from day 0 to the first close at or above the pre-event close "
        "(— = not within the data seen); relapsed = fell below it again later; no move = never "
        "below it (never above it, for relief), left out of the recovery shares; "
        "R20 = (P_20 - P_extreme) / (P_pre - P_extreme); half-life in sessions.",
        labels=RECOVERY_LABELS,
    )


# The all-pairs median is left out of the display (it is 0 whenever most pairs did not trade);
# it stays in strategy_aggregate.csv.
STRATEGY_COLUMNS = (
    "combo", "pairs", "traded", "mean_return_traded", "mean_return", "positive_share",
    "mean_excess_vs_buy_hold_traded", "mean_excess_vs_buy_hold", "mean_excess_vs_benchmark", "win_rate",
    "avg_trade", "trades",
)  # fmt: skip


def strategy_table(aggregate: pd.DataFrame, strategy: str) -> Table:
    """Strategy summary per parameter combination (``TradeResult.aggregate``) across events x symbols."""
    out = generic_table(
        "strategy",
        f"Strategy {strategy}: summary per parameter combination",
        aggregate,
        STRATEGY_COLUMNS,
    )
    # two-line headers (a line break shows as a space in HTML and Markdown) keep the terminal table narrow
    labels = {
        "combo": "parameters", "mean_return_traded": "mean\ntraded", "mean_return": "mean\nall pairs",
        "positive_share": "share\n> 0", "mean_excess_vs_buy_hold_traded": "vs buy&hold\ntraded",
        "mean_excess_vs_buy_hold": "vs buy&hold\nall pairs",
        "mean_excess_vs_benchmark": "vs bench\nall pairs",
        "win_rate": "win\nrate", "avg_trade": "avg\ntrade",
    }  # fmt: skip
    return Table(
        out.name,
        out.title,
        out.frame,
        out.kinds,
        labels=labels,
        note="pairs = event x symbol windows run, traded = pairs with a trade; returns are per pair "
        "(total over the window). 'traded' columns average only the pairs where the rule "
        "traded; 'all pairs' columns count a pair without a trade with return 0 (so its excess vs "
        "buy&hold is minus buy-and-hold's return). share > 0 = share of pairs with a gain; win rate "
        "and avg trade pool all trades. Excess = strategy minus buy-and-hold (or the benchmark) over "
        "the same window. Annualized returns are left out: over windows of a few to 60 sessions they "
        "are not meaningful (they stay in strategy_results.csv).",
    )
