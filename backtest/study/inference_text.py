"""Text and chart of an :class:`~backtest.study.inference.InferenceResult` (one formatter for
the terminal, ``summary()`` and the report)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.formatting import format_number, format_percent, significance_marks
from backtest.study.placebo import empirical_p


def percent(value: float) -> str:
    return format_percent(value, signed=True)


number, significance = format_number, significance_marks

#: placebo statistics shown in the summary (the others stay in the table)
SHOWN_PLACEBO: tuple[str, ...] = ("caar", "cross_sectional_t", "bmp", "patell_z", "corrado_rank")


def placebo_lines(placebo: pd.DataFrame) -> list[str]:
    """One line per event x window: the CAAR's rank among the placebo dates and p-values."""
    lines = []
    for event_id, block in placebo.groupby("event_id", sort=False):
        caar = block[block["statistic"] == "caar"]
        for row in caar.itertuples(index=False):
            n = int(row.n_placebo)
            lines.append(f"{event_id} {row.window}: CAAR {percent(row.value)} ranks {int(row.rank)} of "
                         f"{n + 1} (placebo p {number(row.p_value, 3)}{significance(row.p_value)})")
        ar = block[block["statistic"] == "ar"]
        for row in ar.itertuples(index=False):
            lines.append(f"  {row.symbol} day-0 AR {percent(row.value)} ranks {int(row.rank)} of "
                         f"{int(row.n_placebo) + 1} (p {number(row.p_value, 3)})")
    return lines


def placebo_wide(placebo: pd.DataFrame) -> pd.DataFrame:
    """Event-level placebo p-values, one row per event x statistic, windows as columns."""
    rows = placebo[(placebo["symbol"] == "") & placebo["statistic"].isin(SHOWN_PLACEBO)]
    wide = rows.pivot_table(index=["event_id", "statistic"], columns="window", values="p_value",
                            sort=False)
    return wide.map(lambda v: number(v, 3))


def summary_text(res) -> str:
    """Plain-text summary of an InferenceResult."""
    out = []
    if not res.placebo.empty:
        out += ["Placebo inference: rank among the instruments' own eligible dates "
                "(p = (1 + #|S_j| >= |S_0|) / (1 + M))", *placebo_lines(res.placebo), "",
                "Placebo p-values of the event-level statistics",
                placebo_wide(res.placebo).to_string(), ""]
    if not res.bootstrap.empty:
        b = res.bootstrap[res.bootstrap["symbol"] == ""]
        level = round(100 * float(res.settings.get("level", 0.95)))
        out += [f"Stationary bootstrap of dates ({int(b['n_boot'].iloc[0])} draws, seed "
                f"{res.settings.get('seed')}): CAAR {level} % intervals"]
        out += [f"{r.event_id} {r.window}: CAAR {percent(r.estimate)} [{percent(r.ci_low)}, "
                f"{percent(r.ci_high)}] p {number(r.p_value, 3)} "
                f"({r.n_pairs} pairs, block {r.block:.1f} days)"
                for r in b.itertuples(index=False)]
        out.append("")
    if not res.calendar_time.empty:
        out.append("Calendar-time portfolio test (equal-weighted portfolio, its own model and variance)")
        out += [f"{r.event_id} {r.window}: CAR {percent(r.car)} t {number(r.t_stat)} "
                f"(t({int(r.df)}), p {number(r.p_value, 3)}{significance(r.p_value)})"
                for r in res.calendar_time.itertuples(index=False)]
        out.append("")
    if not res.garch.empty:
        g = res.garch.drop_duplicates(["event_id", "symbol"])
        out.append("GARCH(1,1) market model (arch): day-0 standardized AR and persistence")
        out += [f"{r.event_id} {r.symbol}: SAR0 {number(r.sar0)} beta {number(r.beta)} "
                f"alpha+gamma {number(r.persistence, 3)}" for r in g.itertuples(index=False)]
    return "\n".join(out).rstrip()


def placebo_figure(draws: pd.DataFrame, event_ids: str | Sequence[str], window: str = "[0,0]"):
    """Histograms of the placebo CAARs over ``window``, one panel per event, the event in red."""
    from matplotlib.figure import Figure

    from backtest.report.charts import fit_margins

    ids = [event_ids] if isinstance(event_ids, str) else list(event_ids)
    ncols = min(2, max(1, len(ids)))
    nrows = -(-max(1, len(ids)) // ncols)
    fig = Figure()
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[len(ids):]:
        ax.set_visible(False)
    for ax, event_id in zip(axes, ids, strict=False):
        block = draws[(draws["event_id"] == event_id) & (draws["window"] == window)]
        placebo = block.loc[~block["is_event"], "value"].dropna() * 100
        # one filled outline per panel, drawn like 40 touching bars (not 40 separate shapes)
        ax.hist(placebo, bins=40, color="#8a9bb0", histtype="stepfilled")
        event = block.loc[block["is_event"], "value"]
        if len(event):
            value = float(event.iloc[0])
            rank = int(empirical_p(np.array([value]), placebo.to_numpy()[:, None] / 100)[1][0])
            ax.axvline(value * 100, color="#c0392b", linewidth=2)
            ax.set_title(f"{event_id}: {percent(value)}, rank {rank} of {len(placebo) + 1}", fontsize=9)
        ax.set_xlabel(f"CAAR {window} (%)", fontsize=8)
        ax.tick_params(labelsize=7)
    fit_margins(fig)  # fixed margins, as the report's other charts: no layout pass drawing it twice
    return fig
