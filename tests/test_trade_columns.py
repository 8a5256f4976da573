"""Distinct columns: a grid whose combinations repeat columns gives what each combination gives alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.trade import run_strategy
from backtest.trading.columns import distinct_columns


def bars(closes, start="2025-01-01", swing=0.02):
    close = np.asarray(closes, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    idx = pd.bdate_range(start, periods=len(close), name="date")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * (1 + swing),
                         "low": np.minimum(open_, close) * (1 - swing), "close": close, "volume": 1.0},
                        index=idx)


# Two symbols around one event: A drops 8 % on the reaction day (acts for thresholds 2 % and 5 %,
# not 10 %), B drops 3 % (acts for 2 % only); then a wobbly path that touches some stops.
PRICES = {
    "AAA": bars([100, 92, 90, 95, 91, 97, 99, 96, 100, 102, 101, 103]),
    "BBB": bars([50, 48.5, 49, 47, 48, 51, 50, 52, 49, 53, 54, 55], swing=0.03),
    "SPY": bars([400, 396, 398, 401, 399, 403, 404, 402, 405, 407, 406, 408], swing=0.005),  # benchmark
}
ALIGNMENT = pd.DataFrame({"event_id": ["e1", "e1"], "symbol": ["AAA", "BBB"], "calendar": ["NYSE"] * 2,
                          "reaction_session": [PRICES["AAA"].index[1]] * 2, "kind": ["shock"] * 2})
GRID = {"threshold": [0.02, 0.05, 0.1], "hold": [1, 3], "stop": [None, 0.03, 0.06]}


@pytest.mark.parametrize("strategy", ["buy_the_dip", "short_the_shock"])
def test_grid_equals_each_combination_run_alone(strategy):
    grid = run_strategy(strategy, PRICES, ALIGNMENT, None, grid=GRID, horizon=8)
    # Expected: every combination simulated on its own (no column to share with another).
    alone, trades = [], []
    for t in GRID["threshold"]:
        for h in GRID["hold"]:
            for s in GRID["stop"]:
                one = run_strategy(strategy, PRICES, ALIGNMENT, None,
                                   grid={"threshold": [t], "hold": [h], "stop": [s]}, horizon=8)
                alone.append(one.results.assign(_order=len(alone)))
                trades.append(one.trades)
    expected = (pd.concat(alone).sort_values(["symbol", "_order"], kind="stable")
                .drop(columns="_order").reset_index(drop=True))
    pd.testing.assert_frame_equal(grid.results, expected, check_exact=True)
    # The fixture exercises sharing: some pairs do not act, stops change the result of others.
    results = grid.results
    assert (results["n_trades"] == 0).any() and (results["n_trades"] > 0).any()
    traded = results[results["n_trades"] > 0]
    assert traded.groupby(["symbol", "hold"])["total_return"].nunique().max() > 1
    # Trade log: the same trades, column by column.
    expected_log = pd.concat([t for t in trades if len(t)]).sort_values(
        ["event_id", "symbol", "combo", "entry_date"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(grid.trades, expected_log, check_exact=True)
    assert (grid.trades["exit_at"] == "stop").any()


def test_distinct_columns_groups_identical_columns_only():
    entries = np.zeros((4, 6), bool)
    entries[1, [0, 1, 2, 4]] = True  # column 3 and 5 never enter
    exits = np.zeros((4, 6), bool)
    exits[2, [0, 1, 3]] = True
    exits[3, [2, 4]] = True
    unit = np.array([0, 0, 0, 0, 1, 0])
    sl = np.array([0.1, 0.1, 0.1, 0.2, 0.1, np.nan])
    d = distinct_columns(unit, entries, exits, sl, np.full(6, np.nan))
    # 0 and 1 are the same; 2 exits later; 3 and 5 never enter (stops and exits do not matter);
    # 4 is the same decisions as 2 on another window.
    assert d.first.tolist() == [0, 2, 3, 4]
    assert d.inverse.tolist() == [0, 0, 1, 2, 3, 2]
    records = {"col": np.array([0, 1, 1, 2]), "pnl": np.array([1.0, 2.0, 3.0, 4.0])}  # by distinct column
    out = d.expand_records(records)
    assert out["col"].tolist() == [0, 1, 2, 2, 3, 5]
    assert out["pnl"].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
