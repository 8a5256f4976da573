"""The report's charts: what each draws, its caption, and the values it plots.

:func:`run_charts` describes every chart of a run as a :class:`Chart` (a drawing function
returning a matplotlib figure, not called yet); the HTML report embeds them as SVG
(:func:`build_figures`) and ``RunResult.plot(name)`` returns the same figure for a notebook.
The strategy charts never headline an in-sample best: the equity curves of each event use
the parameters chosen on the other events (leave-one-event-out), and the heatmap shows the
mean over all pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backtest import background
from backtest.formatting import format_percent
from backtest.report import charts, heatmap
from backtest.report.survival_chart import km_figure
from backtest.report.tables import Table, metric_label
from backtest.report.views import values_tables

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# What the heatmap's metric means, for its caption.
HEATMAP_NOTES: dict[str, str] = {
    "mean_excess_vs_buy_hold_traded": "excess = the strategy's total return minus buy-and-hold's over "
    "the same window, averaged over the event x symbol pairs where the rule traded (pairs where it "
    "never fired are left out; — = no pair traded)",
    "mean_excess_vs_buy_hold": "excess = the strategy's total return minus buy-and-hold's over the same "
    "window, averaged over every event x symbol",
    "mean_return": "total return of the strategy over each window, averaged over every event x symbol",
}

@dataclass(frozen=True)
class Chart:
    """One chart of the report: how to draw it (``draw() -> Figure``), its alt text, caption
    and the tables of the values it plots (shown folded under it)."""

    draw: Callable[[], Figure] | None
    alt: str
    caption: str
    values: list[Table] = field(default_factory=list)

    def svg(self) -> str:
        """The chart as deterministic SVG text ("" when there is no chart, only the caption)."""
        if self.draw is None:
            return ""
        with charts._style():
            return charts.to_svg(self.draw())


#: The report's charts, in page order (``RunResult.plot(name)`` takes these names).
CHART_NAMES: tuple[str, ...] = (
    "price_paths", "car_paths", "placebo", "recovery", "survival", "equity", "heatmap",
)  # fmt: skip


#: The charts of the strategy's results: with a second process (:mod:`backtest.background`) the
#: report starts the others while the strategy step still runs there.
STRATEGY_CHARTS: tuple[str, ...] = ("equity", "heatmap")


def run_charts(run: Any, names: Collection[str] = CHART_NAMES) -> dict[str, Chart]:
    """The charts of a run named in ``names`` (default every one, :data:`CHART_NAMES`), not drawn
    yet; in the order the report draws them (the strategy's last)."""
    from backtest.recovery.survival import km_curves

    events = run.event_names()
    symbols = list(dict.fromkeys(run.symbol_alignment["symbol"].astype(str)))
    study = run.study
    rec = run.recovery
    horizon = int(run.settings.horizon)
    builders: dict[str, Callable[[], Chart]] = {
        "price_paths": lambda: Chart(
            partial(charts.price_paths_figure, rec.paths, events, symbols),
            "rebased price paths",
            "Close rebased to 100 at the pre-event close (day -1), one line per symbol; day 0 is "
            "each exchange's reaction session.",
            values_tables(rec.paths, "rebased", "number", events),
        ),
        "car_paths": lambda: Chart(
            partial(charts.car_figure, study.abnormal_returns, events, symbols),
            "CAR paths with confidence bands",
            "Cumulative abnormal return from the start of the event window, with a 95 % band: "
            "±1.96 standard errors of the CAR (the daily abnormal-return variances summed, "
            "abnormal returns taken as uncorrelated).",
            values_tables(study.abnormal_returns, "car", "signed_percent", events),
        ),
        "recovery": lambda: Chart(
            partial(charts.recovery_figure, rec.table, events, horizon, symbols),
            "recovery chart",
            "Sessions after day 0 until the close is back at the pre-event close; hatched = not "
            "recovered within the data seen. Exact values: the table below.",
        ),
        "survival": lambda: Chart(
            partial(km_figure, km_curves(rec.table), horizon),
            "Kaplan-Meier share recovered",
            "Share of paths back at the pre-event level by session after day 0 (Kaplan-Meier, "
            "censored paths included until last seen). Exact values: the table below.",
        ),
        "placebo": lambda: placebo_chart(run, events),
        "equity": lambda: equity_chart(run.trade, events, list(run.grid), symbols),
        "heatmap": lambda: heatmap_chart(run.trade, list(run.grid)),
    }
    return {name: build() for name, build in builders.items() if name in names}


def placebo_chart(run: Any, names: Mapping[str, str]) -> Chart:
    """Placebo CAARs on non-event dates with the event marked (no chart without placebo inference)."""
    alt = "placebo distribution of the day-0 CAAR with the event marked"
    inference = getattr(run, "inference", None)
    if inference is None or inference.placebo_draws.empty:
        return Chart(None, alt, "No placebo inference in this run.")
    from backtest.study.inference_text import placebo_figure

    ids = [e for e in names if e in set(inference.placebo_draws["event_id"])]
    return Chart(
        partial(placebo_figure, inference.placebo_draws, ids, "[0,0]"),
        alt,
        "Day-0 CAAR of the same instruments on every eligible non-event date of their history "
        "(model re-fitted on each date's own estimation window; other events' windows left out); "
        "red: the event. Its rank among them is the placebo p-value, which needs no independence "
        "or normality across instruments.",
    )


def build_figures(run: Any) -> dict[str, dict[str, Any]]:
    """Render every chart of a run: name -> ``{"svg", "alt", "caption", "values"}``.

    ``values`` are the tables of the plotted numbers (one per event) that the page shows,
    folded, under the chart, so a reader can read any point exactly.
    """
    return start_figures(run)()


def _svg(chart: Chart) -> str:
    return chart.svg()


def start_figures(run: Any, names: Collection[str] = CHART_NAMES) -> Callable[..., dict[str, dict[str, Any]]]:
    """:func:`build_figures` of the charts named in ``names``, started now, collected by calling
    the returned function: with a second process running (:mod:`backtest.background`) it draws
    the charts from the first while this one does other work, then draws from the last those
    the worker has not started."""
    charts = run_charts(run, names)
    pending = {name: background.submit(_svg, chart) for name, chart in charts.items()}

    def collect(drawn: bool = True) -> dict[str, dict[str, Any]]:
        """The charts; without ``drawn``, an svg is the function that waits for it (or draws it)."""
        svgs: dict[str, Any] = {
            name: pending[name].result() if drawn else pending[name].result if chart.draw else ""
            for name, chart in reversed(charts.items())
        }
        return {
            name: {"svg": svgs[name], "alt": chart.alt, "caption": chart.caption, "values": chart.values}
            for name, chart in charts.items()
        }

    return collect


def equity_chart(trade: Any, names: Mapping[str, str], params: list[str], symbols: list[str]) -> Chart:
    """Equity curves: per event, the parameters chosen on the other events (leave-one-event-out)."""
    strategy = trade.strategy
    holdout = trade.holdout
    if len(holdout) and holdout["combo"].notna().all():
        chosen = dict(zip(holdout["held_out"].astype(str), holdout["combo"].astype(str), strict=True))
        wanted = trade.equity["event_id"].astype(str).map(chosen).to_numpy()
        equity = trade.equity[trade.equity["combo"].astype(str).to_numpy() == wanted]
        labels: str | dict[str, str] = {
            e: f"parameters chosen on the other events: {c}" for e, c in chosen.items()
        }
        caption = (
            f"Strategy {strategy} (solid) vs buy-and-hold (dashed) from the same start, both "
            "rebased to 100; each event with the parameters chosen on the other events "
            "(leave-one-event-out), not the in-sample best."
        )
    else:
        combo, label, why = _equity_combo(trade.aggregate, params)
        equity = trade.equity if combo is None else trade.equity[trade.equity["combo"] == combo]
        labels = label
        caption = (
            f"Strategy {strategy} ({label}{why}) vs buy-and-hold from the same start, "
            "both rebased to 100."
        )
    symbol = equity["symbol"].astype(str)
    long = pd.concat(
        [
            equity.assign(series=symbol + " strategy", value=equity["strategy_value"]),
            equity.assign(series=symbol + " buy & hold", value=equity["buy_hold_value"]),
        ]
    )
    return Chart(
        partial(charts.equity_figure, equity, names, labels, symbols),
        "strategy equity curves against buy-and-hold",
        caption,
        values_tables(long, "value", "number", names, columns="series"),
    )


def heatmap_chart(trade: Any, params: list[str]) -> Chart:
    """The parameter heatmap of the mean excess over all pairs (no chart with one combination)."""
    strategy = trade.strategy
    x, y, facets, metric = _heatmap_axes(trade.aggregate, params)
    alt = "parameter grid heatmap"
    if len(trade.aggregate) < 2:
        reason = (
            "it takes no parameters"
            if len(trade.combos.columns) == 1
            else "give --grid with two or more values to compare parameters"
        )
        return Chart(
            None,
            alt,
            f"No parameter heatmap: {strategy} ran with one parameter combination ({reason}).",
        )
    label = metric_label(metric)
    panels = f"; one panel per value of {', '.join(facets)}" if facets else ""
    return Chart(
        partial(heatmap.heatmap_figure, trade.aggregate, x, y, metric, f"{label}, by parameter", facets),
        alt,
        f"{label}, one cell per parameter combination"
        + ("" if y is not None else f" (one varying parameter: {x})")
        + panels
        + (f"; {HEATMAP_NOTES[metric]}" if metric in HEATMAP_NOTES else "")
        + ". In-sample: every cell is measured on the events it is shown for; the leave-one-event-out "
        "table above says what choosing a cell is worth out of sample. Exact values: the table above.",
    )


#: The combination whose equity curves are drawn: the best by this aggregate column.
EQUITY_PICK = "mean_excess_vs_buy_hold"


def _equity_combo(aggregate: pd.DataFrame, params: list[str]) -> tuple[object | None, str, str]:
    """(combo, label with its parameter values, why it was chosen) for the equity chart.

    The combination with the highest mean excess over buy-and-hold across all pairs
    (:data:`EQUITY_PICK`; the first in grid order on a tie), used when leave-one-event-out has
    nothing to choose (one event); the first combination when
    none traded; ``None`` when there is nothing to choose from.
    """
    if "combo" not in aggregate or aggregate.empty:
        return None, "default parameters", ""
    why = ""
    position = 0
    if len(aggregate) > 1:
        scores = aggregate[EQUITY_PICK].astype(float) if EQUITY_PICK in aggregate else None
        if scores is not None and scores.notna().any():
            position = int(scores.fillna(-np.inf).to_numpy().argmax())  # first of equals
            why = (
                "; in-sample: the combination with the highest mean excess vs buy-and-hold over all pairs, "
                + format_percent(scores.iloc[position], digits=2, signed=True)
            )
        else:
            why = "; no combination traded, the first one is shown"
    row = aggregate.iloc[position]
    shown = [p for p in params if p in aggregate]
    if not shown:
        return row["combo"], "default parameters" if row["combo"] == "defaults" else f"{row['combo']}", why
    values = [row[p] for p in shown]
    label = ", ".join(f"{p} = {_param_text(v)}" for p, v in zip(shown, values, strict=True))
    return row["combo"], label, why


def _param_text(value: object) -> str:
    """A grid value as the user typed it: a missing optional parameter (NaN) is ``none``.

    >>> _param_text(float("nan")), _param_text(0.08), _param_text(5.0)
    ('none', '0.08', '5')
    """
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return "none"
    return f"{value:g}" if isinstance(value, float | int | np.number) else str(value)


def _heatmap_axes(aggregate: pd.DataFrame, grid_params: list[str]) -> tuple[str, str | None, list[str], str]:
    """(x, y, facets, metric): the first two varying grid parameters, the others as panels."""
    varying = [p for p in grid_params if p in aggregate and aggregate[p].nunique(dropna=False) > 1]
    params = varying or [p for p in grid_params if p in aggregate]
    metric = next(
        (
            m
            for m in (
                "mean_excess_vs_buy_hold",
                "mean_excess_vs_buy_hold_traded",
                "excess_vs_buy_hold",
                "mean_total_return",
                "total_return",
            )
            if m in aggregate
        ),
        next((c for c in aggregate.columns if "return" in c), ""),
    )
    x = params[0] if params else "combo"
    y = params[1] if len(params) > 1 else None
    return x, y, params[2:], metric
