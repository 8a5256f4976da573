"""Grid slices put back together give the one-call TradeResult, whatever the cut."""

from __future__ import annotations

import numpy as np
import pytest

import strategies
from backtest.inputs import load_inputs
from backtest.trade import run_strategy
from backtest.trading.grid import expand_grid
from backtest.trading.slices import combine, grid_slices, grid_sums, run_slice
from backtest.trading.windows import build_units


@pytest.fixture(scope="module")
def inputs():
    return load_inputs(symbols=["NVDA", "MU"], event_ids=["deepseek_r1", "us_tariffs_liberation_day"])


@pytest.mark.parametrize(("name", "grid"), [
    ("buy_the_dip", {"hold": [1, 5, 10], "threshold": [0.03, 0.05], "stop": [None, 0.08]}),
    ("hedged_dip", {"hold": [1, 5]}),  # two legs: the hedge leg's trades are remapped too
])
@pytest.mark.parametrize("n_slices", [2, 5, 100])
def test_slices_recombine_to_the_single_call(inputs, name, grid, n_slices):
    args = (inputs.prices, inputs.alignment, inputs.calendars)
    whole = run_strategy(name, *args, grid=grid, horizon=20)
    strat = strategies.get(name)
    combos = expand_grid(strat, grid)
    units = build_units(*args, horizon=20, lookback=strat.lookback, hedge=strat.hedge)
    slices = grid_slices(len(units), len(combos), n_slices)
    assert len(slices) > 1
    parts = [run_slice((units[u], combos.iloc[c]), strategy=strat, fees=0.001, slippage=0.0005,
                       fill="next_open") for u, c in slices]
    got = combine(parts, slices, units, combos)
    for table in ("results", "aggregate", "trades", "equity"):
        assert getattr(got, table).to_csv() == getattr(whole, table).to_csv(), table
    assert len(whole.trades) > 0
    np.testing.assert_array_equal(got.value, whole.value)


def test_grid_slices_cover_every_column_once():
    slices = grid_slices(3, 7, 5)
    cells = sorted((u, c) for us, cs in slices
                   for u in range(us.start, us.stop) for c in range(cs.start, cs.stop))
    assert cells == [(u, c) for u in range(3) for c in range(7)]


def test_grid_sums_give_the_aggregate_means_without_the_per_column_rows(inputs):
    # The sums of 5 slices, added, give the means TradeResult.aggregate takes over all rows
    # (pandas' groupby means: an independent computation), to rounding.
    grid = {"hold": [1, 5, 10], "threshold": [0.03, 0.05], "stop": [None, 0.08]}
    args = (inputs.prices, inputs.alignment, inputs.calendars)
    whole = run_strategy("buy_the_dip", *args, grid=grid, horizon=20).aggregate.set_index("combo")
    strat = strategies.get("buy_the_dip")
    units = build_units(*args, horizon=20, lookback=strat.lookback, hedge=strat.hedge)
    combos = expand_grid(strat, grid)
    sums = grid_sums(strat, units, combos, fees=0.001, slippage=0.0005, fill="next_open", n_slices=5)
    assert list(sums.index) == list(whole.index) and len(sums) == 12  # grid order, one row each
    assert sums["pairs"].tolist() == whole["pairs"].tolist() == [4] * 12
    assert sums["trades"].tolist() == whole["trades"].tolist() and whole["trades"].sum() > 0
    for column in ("mean_return", "positive_share", "win_rate", "mean_excess_vs_buy_hold"):
        np.testing.assert_allclose(sums[column], whole[column], rtol=1e-12, atol=1e-15, err_msg=column)
    by_event = grid_sums(strat, units, combos, fees=0.001, slippage=0.0005, fill="next_open",
                         n_slices=5, by=("event_id", "combo"))
    assert len(by_event) == 2 * 12 and (by_event["pairs"] == 2).all()  # two symbols per event


def test_grid_sums_in_batches_equal_one_gather(inputs):
    # 48 slices come back in three batches of 16, each added into the running sums: the
    # totals equal those of one gather of 3 slices (counts exactly, sums to rounding).
    grid = {"hold": [1, 2, 5, 10], "threshold": [0.01, 0.03, 0.05], "stop": [None, 0.05, 0.08, 0.12]}
    strat = strategies.get("buy_the_dip")
    units = build_units(inputs.prices, inputs.alignment, inputs.calendars, horizon=20,
                        lookback=strat.lookback, hedge=strat.hedge)
    combos = expand_grid(strat, grid)
    assert len(grid_slices(len(units), len(combos), 48)) > 16  # more than one batch
    few = grid_sums(strat, units, combos, fees=0.001, slippage=0.0005, fill="next_open", n_slices=3)
    many = grid_sums(strat, units, combos, fees=0.001, slippage=0.0005, fill="next_open", n_slices=48)
    assert list(many.index) == list(few.index) == list(combos["combo"])
    for column in ("pairs", "traded", "positive", "trades", "excess_n"):
        assert many[column].tolist() == few[column].tolist(), column
    for column in ("return_sum", "wins", "excess_sum", "mean_return"):
        np.testing.assert_allclose(many[column], few[column], rtol=1e-12, atol=1e-15, err_msg=column)
