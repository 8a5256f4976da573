"""The result object of :func:`backtest.trade.run_strategy`; tables are built on first access."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from backtest.trading.windows import Unit

AGGREGATE_DOC = """Per combination across all event x symbol pairs: ``pairs`` (columns run),
``traded`` (pairs with at least one trade), ``mean_return``/``median_return``/``worst_return``/
``best_return`` of the per-pair total returns over **all** pairs (a pair where the rule never
fired counts with its return 0), ``mean_return_traded`` (mean over the traded pairs only; NaN
when none traded), ``positive_share`` (share of pairs with a total return > 0), ``trades``,
``win_rate`` and ``avg_trade`` pooled over all trades, ``mean_excess_vs_buy_hold`` (all pairs:
an untraded pair counts with minus the buy-and-hold return) and ``mean_excess_vs_buy_hold_traded``
(traded pairs only), ``mean_excess_vs_benchmark`` (all pairs with a benchmark)."""


@dataclass
class TradeResult:
    """Backtest output. ``results``: one row per combo x symbol x event (fractions; see
    :mod:`backtest.trading.stats` for the formulas). ``aggregate``: per combination across
    events x symbols. ``trades``: trade log. ``equity``: tidy equity curves (value 1 at the
    reaction close)."""

    strategy: str
    results: pd.DataFrame
    units: list[Unit]
    combos: pd.DataFrame
    value: np.ndarray = field(repr=False)
    buy_hold_value: np.ndarray = field(repr=False)
    legs: dict[str, dict[str, np.ndarray]] = field(repr=False)
    settings: dict = field(default_factory=dict)

    @cached_property
    def aggregate(self) -> pd.DataFrame:
        """One row per parameter combination across events x symbols (columns: see ``AGGREGATE_DOC``)."""
        res = self.results
        wins = res["win_rate"].fillna(0) * res["n_trades"]
        sums = res["avg_trade"].fillna(0) * res["n_trades"]
        traded = res["n_trades"] > 0
        frame = res.assign(
            _wins=wins,
            _sums=sums,
            _pos=res["total_return"] > 0,
            _traded=traded,
            _ret_traded=res["total_return"].where(traded),
            _excess_traded=res["excess_vs_buy_hold"].where(traded),
        )
        params = [c for c in self.combos.columns if c != "combo"]
        g = frame.groupby("combo", sort=False)
        out = pd.DataFrame(
            {
                "pairs": g.size(),
                "traded": g["_traded"].sum(),
                "mean_return": g["total_return"].mean(),
                "mean_return_traded": g["_ret_traded"].mean(),
                "median_return": g["total_return"].median(),
                "worst_return": g["total_return"].min(),
                "best_return": g["total_return"].max(),
                "positive_share": g["_pos"].mean(),
                "trades": g["n_trades"].sum(),
                "mean_excess_vs_buy_hold": g["excess_vs_buy_hold"].mean(),
                "mean_excess_vs_buy_hold_traded": g["_excess_traded"].mean(),
                "mean_excess_vs_benchmark": g["excess_vs_benchmark"].mean(),
            }
        )
        trades = out["trades"].to_numpy()
        safe = np.where(trades > 0, trades, 1)
        out["win_rate"] = np.where(trades > 0, g["_wins"].sum().to_numpy() / safe, np.nan)
        out["avg_trade"] = np.where(trades > 0, g["_sums"].sum().to_numpy() / safe, np.nan)
        out = out.reset_index()
        return self.combos.merge(out, on="combo")[["combo", *params, *out.columns[1:]]]

    def __repr__(self) -> str:
        from backtest.display import short_repr

        return short_repr(
            "TradeResult", strategy=self.strategy, combos=len(self.combos), pairs=len(self.units),
            events=len({u.event_id for u in self.units}), trades=int(self.results["n_trades"].sum()),
        )  # fmt: skip

    def summary(self):  # -> backtest.display.Summary
        """Leave-one-event-out first, then every parameter combination (all-pairs columns first)."""
        from backtest.display import Summary
        from backtest.report.findings import holdout_sentence
        from backtest.report.tables import strategy_table
        from backtest.report.views import holdout_table

        events = list(dict.fromkeys(u.event_id for u in self.units))
        tables = [holdout_table(self.holdout, {e: e for e in events})] if len(self.holdout) else []
        lead = holdout_sentence(self.strategy, self.results, self.aggregate, self.holdout)
        return Summary(f"Strategy {self.strategy}", [*tables, strategy_table(self.aggregate, self.strategy)],
                       lead=lead)  # fmt: skip

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def plot(self, kind: str = "equity", names: dict[str, str] | None = None):  # -> matplotlib Figure
        """A report chart as a matplotlib figure: ``"equity"`` (the parameters chosen without each
        event vs buy-and-hold) or ``"heatmap"`` (mean excess over all pairs per combination)."""
        from backtest.errors import ParameterError
        from backtest.report.figures import equity_chart, heatmap_chart

        params = [c for c in self.combos.columns if c != "combo"]
        names = names or {e: e for e in dict.fromkeys(u.event_id for u in self.units)}
        if kind == "equity":
            chart = equity_chart(self, names, params, list(dict.fromkeys(u.symbol for u in self.units)))
        elif kind == "heatmap":
            chart = heatmap_chart(self, params)
        else:
            raise ParameterError(f"plot kind {kind!r}: use 'equity' or 'heatmap'")
        if chart.draw is None:
            raise ParameterError(f"no {kind} chart: {chart.caption}")
        return chart.draw()

    @cached_property
    def holdout(self) -> pd.DataFrame:
        """Leave-one-event-out: parameters chosen on the other events, measured on each held-out one.

        See :func:`backtest.trading.holdout.leave_one_event_out` (empty with one event).
        """
        from backtest.trading.holdout import leave_one_event_out

        return leave_one_event_out(self.results, self.combos)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per trade and leg: dates, ``entry_at``/``exit_at`` (open/close/stop/end), prices, pnl."""
        n_c = len(self.combos)
        frames = []
        for leg, rec in self.legs.items():
            if not len(rec["col"]):
                continue
            unit = rec["col"] // n_c
            combo = rec["col"] % n_c
            is_open = rec["status"] == 0
            last = np.array([u.bars.n_valid - 1 for u in self.units])[unit]
            entry_s = rec["entry_idx"] // 2
            exit_s = np.where(is_open, last, rec["exit_idx"] // 2)  # open trades: valued at the last bar
            dates = np.stack([u.dates.to_numpy() for u in self.units])
            exit_at = np.where(rec["exit_idx"] % 2 == 0, "open", "close").astype(object)
            stopped = rec["stopped"]
            exit_at[stopped] = "stop"
            exit_at[is_open] = "end"
            reaction = self.units[0].bars.reaction
            frames.append(
                pd.DataFrame(
                    {
                        "event_id": [self.units[u].event_id for u in unit],
                        "symbol": [
                            self.units[u].symbol if leg == "stock" else self.units[u].benchmark for u in unit
                        ],
                        "combo": self.combos["combo"].to_numpy()[combo],
                        "leg": leg,
                        "direction": self._direction(leg),
                        "entry_date": dates[unit, entry_s],
                        "entry_rel_day": entry_s - reaction,
                        "entry_at": np.where(rec["entry_idx"] % 2 == 0, "open", "close"),
                        "entry_price": rec["entry_price"],
                        "exit_date": dates[unit, exit_s],
                        "exit_rel_day": exit_s - reaction,
                        "exit_at": exit_at,
                        "exit_price": rec["exit_price"],
                        "size": rec["size"],
                        "fees": rec["entry_fees"] + rec["exit_fees"],
                        "pnl": rec["pnl"],
                        "return": rec["return"],
                        "status": np.where(is_open, "open", "closed"),
                    }
                )
            )
        if not frames:
            return pd.DataFrame(
                columns=[
                    "event_id",
                    "symbol",
                    "combo",
                    "leg",
                    "direction",
                    "entry_date",
                    "entry_rel_day",
                    "entry_at",
                    "entry_price",
                    "exit_date",
                    "exit_rel_day",
                    "exit_at",
                    "exit_price",
                    "size",
                    "fees",
                    "pnl",
                    "return",
                    "status",
                ]
            )
        return pd.concat(frames, ignore_index=True).sort_values(
            ["event_id", "symbol", "combo", "entry_date"], kind="stable", ignore_index=True
        )

    def _direction(self, leg: str) -> str:
        direction = self.settings.get("direction", "long")
        if leg == "hedge":
            return "short" if direction == "long" else "long"
        return direction

    @cached_property
    def equity(self) -> pd.DataFrame:
        """Tidy curves from the reaction close (value 1) to the last session with data."""
        n_c = len(self.combos)
        reaction = self.units[0].bars.reaction
        frames = []
        for i, u in enumerate(self.units):
            rows = np.arange(reaction, u.bars.n_valid)
            strat = self.value[rows][:, i * n_c : (i + 1) * n_c].copy()
            strat[0] = 1.0
            hold = self.buy_hold_value[rows, i].copy()
            hold[0] = 1.0
            frames.append(
                pd.DataFrame(
                    {
                        "event_id": u.event_id,
                        "symbol": u.symbol,
                        "combo": np.tile(self.combos["combo"].to_numpy(), len(rows)),
                        "date": np.repeat(u.dates.to_numpy()[rows], n_c),
                        "rel_day": np.repeat(rows - reaction, n_c),
                        "strategy_value": strat.ravel(),
                        "buy_hold_value": np.repeat(hold, n_c),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)
