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
    format_column,
    format_marked,
)


@dataclass(frozen=True)
class Table:
    """A display table: numbers in ``frame``, how to show each column in ``kinds``.

    ``marks`` maps a value column to the p-value column whose stars are appended to it;
    ``hidden`` columns stay in the numbers (CSV) but are not shown; ``labels`` are
    display headers (default: the column name); ``keys`` are the columns that say what a row
    is (event, symbol, window...): a terminal too narrow for the table repeats them in every
    part it folds the table into, and never cuts them.
    """

    name: str
    title: str
    frame: pd.DataFrame
    kinds: Mapping[str, ColumnKind]
    marks: Mapping[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    note: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    right: tuple[str, ...] = ()  # text columns shown right-aligned (preformatted numbers)

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
            if column in self.marks:
                values = self.frame[column].tolist()
                p_values = self.frame[self.marks[column]].tolist()
                out[column] = [format_marked(v, p, kind) for v, p in zip(values, p_values, strict=True)]
            else:
                out[column] = format_column(self.frame[column], kind)
        return pd.DataFrame(out, index=range(len(self.frame)), columns=self.shown_columns(), dtype=object)

    def is_numeric(self, column: str) -> bool:
        """True for columns shown right-aligned (numbers)."""
        return column in self.right or self.kinds.get(column, "text") in NUMERIC_KINDS


def _window_sort_key(window: str) -> tuple[int, int]:
    inner = window.strip("[]").split(",")
    return int(inner[0]), int(inner[1])


def company_names(symbols: Sequence[str] | pd.Series) -> list[str]:
    """The registry's company name of each symbol (``""`` for a symbol the registry does not list).

    >>> company_names(["NVDA", "7203.T"])
    ['NVIDIA Corporation', '']
    """
    from backtest.instruments import display_name

    return [display_name(str(symbol)) for symbol in symbols]


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
        keys=("event_id", "exchange"),
    )


def reaction_table(abnormal_returns: pd.DataFrame, car: pd.DataFrame) -> Table:
    """Day-0 return and abnormal return, and CAR per window with its p-value, per event x symbol."""
    keys = ["event_id", "symbol"]
    day0 = abnormal_returns.loc[abnormal_returns["rel_day"] == 0, [*keys, "return", "ar"]]
    day0 = day0.rename(columns={"return": "day0_return", "ar": "day0_ar"})
    windows = sorted(car["window"].astype(str).unique().tolist(), key=_window_sort_key)
    base = car[keys].drop_duplicates().reset_index(drop=True)
    base.insert(2, "name", company_names(base["symbol"]))
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
        keys=("event_id", "symbol", "name"),
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
        keys=("scope", "window"),
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


RECOVERY_LABELS = {
    "event_id": "event", "reaction_return": "day 0", "max_drawdown": "max move",
    "trough_rel_day": "extreme\non day", "recovery_sessions": "back\nafter", "recovery_date": "back on",
    "recovery_from_trough_sessions": "back from\nextreme", "last_date_seen": "last seen",
    "half_life_sessions": "half-\nlife", "n_missing": "missing",
}  # fmt: skip
RECOVERY_NOTE = (
    "path price = close vs the pre-event close (day -1); abnormal = cumulative abnormal return since "
    "day 0 vs 0 (the event study's model, followed to the horizon like the price). "
    "Shock: max move = largest drawdown, recovered = a close back at or above the pre-event close. "
    "Relief: max move = largest run-up, given back = a close back at or below it (the jump is gone). "
    "back after = sessions from day 0; fell (rose) after day 0 = day 0 closed on the right side and "
    "the move came later: it is timed from its extreme (back from extreme); fell (rose) again = past "
    "the pre-event close again after coming back; no move = never past it (left out of the "
    "recovery shares); not recovered (why) = not back by the horizon, the end of the data or the "
    "study window (last seen). R+k = (P_k - P_extreme) / (P_pre - P_extreme), only for k within the "
    "horizon; half-life = first session with R >= 0.5."
)


def recovery_table(table: pd.DataFrame, horizon: int | None = None) -> Table:
    """Recovery per event x symbol x path (price / abnormal) in the recovery vocabulary.

    ``status`` comes from :mod:`backtest.recovery.status` (the words of every output); the
    sessions and the extreme day are blank where the status has nothing to time, ``back after``
    too when the move came after day 0, and the ratios ``R+k`` are shown for ``k <= horizon`` only.
    """
    from backtest.recovery.paths import RATIO_DAYS
    from backtest.recovery.status import moved_later, recovery_statuses, timed

    status = table["status"].tolist() if "status" in table else recovery_statuses(table)
    has_move = pd.Series([timed(s) for s in status], index=table.index, dtype=bool)
    later = pd.Series([moved_later(s) for s in status], index=table.index, dtype=bool)
    days = [k for k in RATIO_DAYS if k > 1 and (horizon is None or k <= horizon)]

    def column(name: str, shown: pd.Series | None = None) -> pd.Series:
        """A column of ``table`` (missing: all NA), blank where ``shown`` is False."""
        values = table[name] if name in table else pd.Series(pd.NA, index=table.index, dtype=object)
        return values if shown is None else values.where(shown)

    timed_back = has_move & ~later
    frame = pd.DataFrame({
        "event_id": table["event_id"].astype(str), "symbol": table["symbol"].astype(str),
        "name": company_names(table["symbol"]), "path": table["path"].astype(str),
        "reaction_return": column("reaction_return"), "max_drawdown": column("max_drawdown", has_move),
        "trough_rel_day": column("trough_rel_day", has_move), "status": status,
        "recovery_sessions": column("recovery_sessions", timed_back),
        "recovery_from_trough_sessions": column("recovery_from_trough_sessions", has_move),
        **{f"ratio_{k}": table[f"ratio_{k}"] for k in days if f"ratio_{k}" in table},
        "half_life_sessions": column("half_life_sessions", has_move),
        "recovery_date": column("recovery_date", timed_back), "last_date_seen": column("last_date_seen"),
    }).reset_index(drop=True)  # fmt: skip
    kinds: dict[str, ColumnKind] = {
        "reaction_return": "signed_percent", "max_drawdown": "signed_percent", "trough_rel_day": "integer",
        "recovery_sessions": "integer", "recovery_date": "date", "recovery_from_trough_sessions": "integer",
        "last_date_seen": "date", "half_life_sessions": "integer", **{f"ratio_{k}": "number" for k in days},
    }  # fmt: skip
    return Table(
        "recovery",
        "Recovery: largest move and sessions back to the pre-event close",
        frame,
        kinds,
        note=RECOVERY_NOTE,
        labels={**RECOVERY_LABELS, **{f"ratio_{k}": f"R+{k}" for k in days}},
        keys=("event_id", "symbol", "name", "path"),
    )


def recovery_summary_table(summary: pd.DataFrame) -> Table:
    """Across events and symbols: counts per status and Kaplan-Meier shares recovered (``summarize``)."""
    frame = summary.reset_index(drop=True).copy()
    # An empty group has no median at all; "not reached" is for curves that stay above one half.
    pairs = zip(frame["km_median_sessions"], frame["n"], strict=True)
    km = ["not reached" if n > 0 and pd.isna(v) else v for v, n in pairs]
    frame["km_median_sessions"] = pd.Series(km, dtype=object)
    shares = [c for c in frame.columns if c.startswith("share_recovered_")]
    columns = ["path", "direction", "n", "n_recovered", "n_censored", "n_no_move", "n_unmeasured",
               "median_recovery_sessions", "km_median_sessions", "median_max_drawdown", *shares]
    frame = frame[[c for c in columns if c in frame]]
    kinds: dict[str, ColumnKind] = {
        "n": "integer", "n_recovered": "integer", "n_censored": "integer", "n_no_move": "integer",
        "n_unmeasured": "integer", "median_recovery_sessions": "number", "km_median_sessions": "text",
        "median_max_drawdown": "signed_percent", **{c: "percent" for c in shares},
    }  # fmt: skip
    labels = {
        "n_recovered": "recovered\n/ given back", "n_censored": "not yet", "n_no_move": "no move",
        "n_unmeasured": "not\nmeasurable", "median_recovery_sessions": "median\nsessions",
        "km_median_sessions": "KM\nmedian", "median_max_drawdown": "median\nmax move",
        # share_recovered_<k> -> "by +k"; its standard error share_recovered_<k>_se -> "se +k"
        **{c: f"se +{c.split('_')[2]}" if c.endswith("_se") else f"by +{c.split('_')[2]}" for c in shares},
    }  # fmt: skip
    return Table(
        "recovery_summary",
        "Recovery across events and symbols (Kaplan-Meier, censoring handled)",
        frame,
        kinds,
        note="n counts every pair; recovered / given back, not yet (censored), no move and not measurable "
        "split it. median sessions: over the pairs that came back; KM median and 'by +k': Kaplan-Meier "
        "over the pairs that moved, censored ones included (Kaplan & Meier 1958).",
        labels=labels,
        keys=("path", "direction"),
    )


# The all-pairs median is left out of the display (it is 0 whenever most pairs did not trade);
# it stays in strategy_aggregate.csv.
# All-pairs columns lead: the traded-only ones are a selected sample (pairs where the rule fired).
STRATEGY_COLUMNS = (
    "combo", "pairs", "mean_return", "mean_excess_vs_buy_hold", "mean_excess_vs_benchmark", "positive_share",
    "traded", "mean_return_traded", "mean_excess_vs_buy_hold_traded", "win_rate", "avg_trade", "trades",
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
        keys=("combo",),
        note="pairs = event x symbol windows run, traded = pairs with a trade; returns are per pair "
        "(total over the window). 'traded' columns average only the pairs where the rule "
        "traded; 'all pairs' columns count a pair without a trade with return 0 (so its excess vs "
        "buy&hold is minus buy-and-hold's return). share > 0 = share of pairs with a gain; win rate "
        "and avg trade pool all trades. Excess = strategy minus buy-and-hold (or the benchmark) over "
        "the same window. Annualized returns are left out: over windows of a few to 60 sessions they "
        "are not meaningful (they stay in strategy_results.csv).",
    )
