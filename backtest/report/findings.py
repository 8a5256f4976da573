"""Key findings in words: one short paragraph per event, and one on the strategy across events.

Read from the tidy results of a run, nothing recomputed: the largest day-0 abnormal return
and its significance (``study.car``, window ``[0,0]``), where each symbol's price path
stands (``recovery.table``: recovered / not back / no move, from its flags), and what the
strategy did over **all** pairs of the event (``trade.results``), with the parameters chosen
without the event (``trade.holdout``) beside the grid's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.formatting import format_percent, format_pvalue, significance_marks
from backtest.trading.holdout import pooled_holdout_score


@dataclass(frozen=True)
class Finding:
    """One paragraph: ``title`` (the event's name) and ``text`` (plain sentences)."""

    event_id: str
    title: str
    text: str


def _label(symbol: str) -> str:
    from backtest.report.charts import series_label

    return series_label(symbol)


def _sessions(n: object) -> str:
    n = int(n)  # type: ignore[arg-type]
    return f"{n} session{'s' if n != 1 else ''}"


def _p_text(p: object) -> str:
    if p is None or pd.isna(p):
        return "no p-value"
    text = format_pvalue(p)
    stars = significance_marks(p)
    return (f"p < {text[1:]}" if text.startswith("<") else f"p = {text}") + (f" {stars}" if stars else "")


def reaction_sentence(event_id: str, abnormal_returns: pd.DataFrame, car: pd.DataFrame) -> str:
    """The symbol with the largest |day-0 abnormal return|, its AR and the p-value of CAR[0,0]."""
    day0 = abnormal_returns[(abnormal_returns["event_id"].astype(str) == event_id)
                            & (abnormal_returns["rel_day"] == 0)].dropna(subset=["ar"])  # fmt: skip
    if day0.empty:
        return "No day-0 abnormal return could be measured."
    top = day0.loc[day0["ar"].abs().idxmax()]
    rows = car[(car["event_id"].astype(str) == event_id) & (car["symbol"] == top["symbol"])
               & (car["window"].astype(str) == "[0,0]")]  # fmt: skip
    p = rows["p_value"].iloc[0] if len(rows) else None
    return (
        f"Largest reaction: {_label(str(top['symbol']))}, day-0 abnormal return "
        f"{format_percent(top['ar'], signed=True)} ({_p_text(p)})."
    )


def recovery_sentence(event_id: str, table: pd.DataFrame, horizon: int) -> str:
    """Where each symbol's price path stands, in the recovery vocabulary (:mod:`backtest.recovery.status`)."""
    from backtest.recovery.status import moved_later, recovery_status, timed

    rows = table[(table["event_id"].astype(str) == event_id) & (table["path"] == "price")]
    if rows.empty:
        return ""
    parts = []
    for row in rows.to_dict("records"):
        status = str(row["status"]) if isinstance(row.get("status"), str) else recovery_status(row)
        text = f"{_label(str(row['symbol']))}: {status}"
        sessions = row.get("recovery_sessions")
        if timed(status) and not moved_later(status) and sessions is not None and pd.notna(sessions) \
                and not status.startswith("not "):  # fmt: skip
            text += f" (back after {_sessions(sessions)})"
        elif timed(status) and pd.notna(row.get("max_drawdown")):
            where = "peak" if row.get("direction") == "give_back" else "trough"
            text += f" ({format_percent(row['max_drawdown'], digits=1, signed=True)} at the {where})"
        parts.append(text)
    return f"Price vs the pre-event close within {horizon} sessions: " + "; ".join(parts) + "."


def strategy_sentence(event_id: str, strategy: str, results: pd.DataFrame, holdout: pd.DataFrame) -> str:
    """The strategy over all pairs of the event: the grid's range and the choice made without it."""
    rows = results[results["event_id"].astype(str) == event_id]
    if rows.empty:
        return ""
    by_combo = rows.groupby("combo", sort=False)["excess_vs_buy_hold"].mean()
    pairs = int(rows.groupby("combo", sort=False).size().iloc[0])
    head = f"{strategy} over all {pairs} pairs, mean excess vs buy-and-hold"
    if len(by_combo) == 1:
        return f"{head} {format_percent(by_combo.iloc[0], signed=True)}."
    low, high = format_percent(by_combo.min(), signed=True), format_percent(by_combo.max(), signed=True)
    span = (f"{low} for each of the {len(by_combo)} parameter sets" if low == high
            else f"from {low} to {high} across {len(by_combo)} parameter sets")  # fmt: skip
    held = holdout[holdout["held_out"].astype(str) == event_id] if len(holdout) else holdout
    if held.empty or pd.isna(held["combo"].iloc[0]):
        return f"{head} {span}."
    combo = held["combo"].iloc[0]
    traded = int((rows.loc[rows["combo"] == combo, "n_trades"] > 0).sum()) if "n_trades" in rows else 0
    return (
        f"{head} {span}; with the parameters chosen on the other events ({combo}) "
        f"{format_percent(held['test_score'].iloc[0], signed=True)}, traded in {traded} of {pairs} pairs."
    )


def key_findings(run: Any) -> list[Finding]:
    """One :class:`Finding` per event of a :class:`~backtest.pipeline.RunResult`, in file order."""
    names: Mapping[str, str] = run.event_names()
    kinds = dict(zip(run.events["event_id"].astype(str), run.events["kind"].astype(str), strict=True))
    alignment = run.symbol_alignment
    out = []
    for event_id, name in names.items():
        rows = alignment[alignment["event_id"].astype(str) == event_id]
        days = sorted({pd.Timestamp(d).strftime("%Y-%m-%d") for d in rows["reaction_session"].dropna()})
        title = f"{name} ({kinds.get(event_id, '')}, day 0 {' / '.join(days) or 'none'})"
        sentences = [
            reaction_sentence(event_id, run.study.abnormal_returns, run.study.car),
            recovery_sentence(event_id, run.recovery.table, int(run.settings.horizon)),
            strategy_sentence(event_id, run.settings.strategy, run.trade.results, run.trade.holdout),
        ]
        out.append(Finding(event_id, title, " ".join(s for s in sentences if s)))
    return out


def holdout_sentence(strategy: str, results: pd.DataFrame, aggregate: pd.DataFrame,
                     holdout: pd.DataFrame) -> str:  # fmt: skip
    """The grid's choice out of sample beside the in-sample bests (all pairs, traded pairs only)."""
    if len(aggregate) < 2:
        return ""
    all_pairs = aggregate["mean_excess_vs_buy_hold"].astype(float)
    best = int(np.nanargmax(all_pairs.fillna(-np.inf).to_numpy()))
    text = (
        f"In-sample best over all {int(aggregate['pairs'].iloc[best])} pairs "
        f"({aggregate['combo'].iloc[best]}): "
        f"{format_percent(all_pairs.iloc[best], signed=True)} mean excess vs buy-and-hold, chosen after "
        "seeing every event."
    )
    if not holdout.empty:
        pooled = pooled_holdout_score(results, holdout)
        text = (
            f"Chosen without the event it is measured on (leave-one-event-out), {strategy} averaged "
            f"{format_percent(pooled, signed=True)} excess vs buy-and-hold over all pairs. " + text
        )
    traded = aggregate.get("mean_excess_vs_buy_hold_traded")
    if traded is not None and traded.notna().any():
        i = int(np.nanargmax(traded.astype(float).fillna(-np.inf).to_numpy()))
        text += (
            f" Counting only pairs where the rule traded, the best cell ({aggregate['combo'].iloc[i]}, "
            f"{int(aggregate['traded'].iloc[i])} pairs) shows {format_percent(traded.iloc[i], signed=True)}: "
            "a selected, in-sample figure."
        )
    return text
