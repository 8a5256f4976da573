"""Engine tests: hand-checked fills, look-ahead, stops on intraday lows, shorts, hedges, grids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError, DataWarning, ParameterError
from backtest.trade import run_strategy

FEES, SLIP = 0.001, 0.0005


def frame(open_, high, low, close, start="2025-01-01"):
    idx = pd.bdate_range(start, periods=len(close), name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=idx, dtype=float
    )


def align(bars, symbol="SPY", reaction_row=1, event_id="e1"):
    return pd.DataFrame(
        {
            "event_id": [event_id],
            "symbol": [symbol],
            "calendar": ["NYSE"],
            "reaction_session": [bars.index[reaction_row]],
            "kind": ["shock"],
        }
    )


@pytest.fixture(scope="module", autouse=True)
def warm_vectorbt():
    """Compile vectorbt's simulation once per test session (numba); later calls are warm."""
    bars = frame([100, 100, 92, 93], [101, 100, 95, 96], [99, 89, 91, 92], [100, 90, 94, 95])
    run_strategy("buy_the_dip", {"SPY": bars}, align(bars), None, grid={"stop": [0.5]}, horizon=2)


# Hand-checked path (SPY has no benchmark, so no benchmark bars are needed).
# row:    0    1 (reaction)  2    3    4    5
# open:  100  100            92   93   95   96
# high:  101  100            95   96   97   98
# low:    99   89            91   92   94   95
# close: 100   90            94   95   96   97
HAND = frame(
    [100, 100, 92, 93, 95, 96],
    [101, 100, 95, 96, 97, 98],
    [99, 89, 91, 92, 94, 95],
    [100, 90, 94, 95, 96, 97],
)


def test_hand_checked_fills_fees_slippage_and_trade_log():
    # Reaction return 90/100 - 1 = -10 % <= -5 %: decide to buy at the close of row 1.
    # Fill at the next open (row 2, 2025-01-03): 92 * (1 + 0.0005) = 92.046; all cash 1.0 buys
    #   size = 1 / (92.046 * 1.001) (fee 0.1 % of the traded value) = 1 / 92.138046.
    # hold=2: decide to sell at the close of row 1 + 2 = 3; fill at the open of row 4 (2025-01-07):
    #   95 * (1 - 0.0005) = 94.9525; proceeds size * 94.9525, minus 0.1 % fee.
    # Final value = 94.9525 / 92.138046 * 0.999 = 1.0295158...; total return 2.95 %.
    res = run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, grid={"hold": [2]}, horizon=4)
    cost = 92.046 * 1.001
    final = 94.9525 / cost * 0.999
    row = res.results.iloc[0]
    assert row["total_return"] == pytest.approx(final - 1, abs=1e-12)
    assert row["n_trades"] == 1 and row["win_rate"] == 1.0
    # Held in sessions rel 1 and 2 (rows 2, 3); out at the open of rel 3; 4 sessions evaluated.
    assert row["exposure"] == pytest.approx(0.5) and row["sessions"] == 4
    # Buy-and-hold: same entry, valued at the last close 97: 97 / 92.138046 - 1.
    assert row["buy_hold_return"] == pytest.approx(97 / cost - 1, abs=1e-12)
    # Daily values: 94/cost, 95/cost, final, final -> max drawdown final / (95/cost) - 1.
    values = np.array([1.0, 94 / cost, 95 / cost, final, final])
    assert row["max_drawdown"] == pytest.approx(final / (95 / cost) - 1, abs=1e-12)
    r = values[1:] / values[:-1] - 1
    assert row["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert row["annualized_return"] == pytest.approx(final ** (252 / 4) - 1, rel=1e-9)
    trade = res.trades.iloc[0]
    assert str(trade["entry_date"].date()) == "2025-01-03" and trade["entry_at"] == "open"
    assert trade["entry_price"] == pytest.approx(92.046)
    assert str(trade["exit_date"].date()) == "2025-01-07" and trade["exit_at"] == "open"
    assert trade["exit_price"] == pytest.approx(94.9525)
    assert trade["fees"] == pytest.approx(0.001 * (92.046 + 94.9525) / cost, abs=1e-12)
    assert trade["status"] == "closed"


def test_fill_at_close_on_request():
    # fill="close": in at the reaction close 90 * 1.0005 = 90.045, out at row 3's close 95 * 0.9995.
    res = run_strategy(
        "buy_the_dip", {"SPY": HAND}, align(HAND), None, grid={"hold": [2]}, horizon=4, fill="close"
    )
    expected = 95 * 0.9995 / (90.045 * 1.001) * 0.999 - 1
    assert res.results.iloc[0]["total_return"] == pytest.approx(expected, abs=1e-12)
    assert res.trades.iloc[0]["entry_at"] == "close"


def test_no_look_ahead_with_default_fill():
    # Reaction close 90 (a 10 % dip), next open gaps back to 99 and stays there. Buying at the
    # reaction close would earn 99/90 - 1 = +10 %; with the default next-open fill the rule buys at
    # 99 and earns only -(costs): (99 * 0.9995) / (99 * 1.0005 * 1.001) * 0.999 - 1 = -0.30 %.
    bars = frame([100, 100, 99, 99, 99], [100, 100, 99, 99, 99], [100, 90, 99, 99, 99], [100, 90, 99, 99, 99])
    base = run_strategy("buy_the_dip", {"SPY": bars}, align(bars), None, grid={"hold": [2]}, horizon=3)
    peek = run_strategy(
        "buy_the_dip", {"SPY": bars}, align(bars), None, grid={"hold": [2]}, horizon=3, fill="close"
    )
    assert base.results.iloc[0]["total_return"] == pytest.approx(
        0.9995 / 1.0005 / 1.001 * 0.999 - 1, abs=1e-12
    )
    assert base.results.iloc[0]["total_return"] < 0
    assert peek.results.iloc[0]["total_return"] > 0.09


def test_stop_on_intraday_low_the_close_misses():
    # Entry at the open of row 2: 100 * 1.0005 = 100.05. stop=0.08 -> stop price 100.05 * 0.92 = 92.046.
    # Row 3 trades down to 90 intraday but closes at 99: every close stays above 92.046, so a
    # close-only stop never fires; the low does. Exit at 92.046 less 5 bp slippage (stop-market).
    bars = frame(
        [100, 100, 100, 99, 99, 99],
        [100, 100, 101, 100, 100, 100],
        [100, 89, 99, 90, 98, 98],
        [100, 90, 100, 99, 99, 99],
    )
    res = run_strategy(
        "buy_the_dip", {"SPY": bars}, align(bars), None, grid={"hold": [3], "stop": [None, 0.08]}, horizon=4
    )
    by_combo = res.trades.set_index("combo")
    stopped = by_combo.loc["hold=3 stop=0.08"]
    assert stopped["exit_at"] == "stop" and str(stopped["exit_date"].date()) == str(bars.index[3].date())
    assert stopped["exit_price"] == pytest.approx(100.05 * 0.92 * 0.9995)
    held = by_combo.loc["hold=3 stop=none"]
    assert held["exit_at"] == "open" and held["exit_price"] == pytest.approx(99 * 0.9995)
    totals = res.results.set_index("combo")["total_return"]
    assert totals["hold=3 stop=0.08"] == pytest.approx(100.05 * 0.92 * 0.9995 / (100.05 * 1.001) * 0.999 - 1)


def test_stop_on_the_entry_session_and_on_a_gap():
    # Entry at the open of row 2 (100.05 with slippage); the same session's low 91 is below the
    # 8 % stop (92.046): exit that day. A second symbol gaps to 80 at the open of row 3: exit at 80.
    same_day = frame(
        [100, 100, 100, 95, 95], [100, 100, 100, 96, 96], [100, 89, 91, 94, 94], [100, 90, 95, 95, 95]
    )
    gap = frame(
        [100, 100, 100, 80, 80], [100, 100, 101, 81, 81], [100, 89, 99, 79, 79], [100, 90, 100, 80, 80]
    )
    prices = {"SPY": same_day, "QQQ": gap}
    alignment = pd.concat([align(same_day, "SPY"), align(gap, "QQQ")], ignore_index=True)
    with pytest.raises(DataError, match="benchmark 'SPY'"):
        run_strategy("buy_the_dip", {"QQQ": gap}, align(gap, "QQQ"), None, grid={"stop": [0.08]}, horizon=3)
    res = run_strategy("buy_the_dip", prices, alignment, None, grid={"stop": [0.08]}, horizon=3)
    trades = res.trades.set_index("symbol")
    assert trades.loc["SPY", "exit_at"] == "stop" and trades.loc["SPY", "exit_rel_day"] == 1
    assert trades.loc["QQQ", "exit_at"] == "stop" and trades.loc["QQQ", "exit_rel_day"] == 2
    assert trades.loc["QQQ", "exit_price"] == pytest.approx(80 * 0.9995)  # gap: the open, with slippage


def test_short_is_not_levered_and_profits_from_a_fall():
    # Short at the open of row 2: 92 * (1 - 0.0005) = 91.954; cover at the open of row 4: 85 * 1.0005.
    bars = frame(
        [100, 100, 92, 88, 85, 85],
        [100, 100, 93, 89, 86, 86],
        [100, 89, 90, 87, 84, 84],
        [100, 90, 90, 87, 85, 85],
    )
    res = run_strategy("short_the_shock", {"SPY": bars}, align(bars), None, grid={"hold": [2]}, horizon=4)
    trade = res.trades.iloc[0]
    assert trade["direction"] == "short"
    # Sized to the cash: size * price * (1 + fee) = 1, no leverage.
    assert trade["size"] * trade["entry_price"] * 1.001 == pytest.approx(1.0)
    size = 1 / (91.954 * 1.001)
    expected = size * (91.954 - 85 * 1.0005) - size * 85 * 1.0005 * 0.001 - size * 91.954 * 0.001
    assert res.results.iloc[0]["total_return"] == pytest.approx(expected, abs=1e-12)


def test_hedged_dip_cancels_a_common_move():
    # Stock and benchmark both rise 10 % after the entry: the long stock half and the short SPY half
    # cancel, leaving about the costs (4 fills x ~15 bp on half the capital each).
    stock = frame(
        [100, 100, 100, 110, 110],
        [100, 100, 100, 110, 110],
        [100, 89, 100, 110, 110],
        [100, 90, 100, 110, 110],
    )
    bench = frame(
        [400, 400, 400, 440, 440],
        [400, 400, 400, 440, 440],
        [400, 390, 400, 440, 440],
        [400, 395, 400, 440, 440],
    )
    res = run_strategy(
        "hedged_dip", {"QQQ": stock, "SPY": bench}, align(stock, "QQQ"), None, grid={"hold": [3]}, horizon=3
    )
    total = res.results.iloc[0]["total_return"]
    assert -0.004 < total < 0
    legs = res.trades.set_index("leg")
    assert legs.loc["hedge", "symbol"] == "SPY" and legs.loc["hedge", "direction"] == "short"
    assert legs.loc["hedge", "entry_date"] == legs.loc["stock", "entry_date"]
    assert res.results.iloc[0]["benchmark_return"] == pytest.approx(440 * 1 / (400 * 1.0005 * 1.001) - 1)


def test_overlapping_events_do_not_share_cash():
    # Two events on the same symbol one session apart: each column has its own cash, so the
    # second event's result equals a run of that event alone.
    bars = HAND
    two = pd.concat(
        [align(bars, reaction_row=1, event_id="a"), align(bars, reaction_row=2, event_id="b")],
        ignore_index=True,
    )
    both = run_strategy("buy_and_hold", {"SPY": bars}, two, None, horizon=3)
    alone = run_strategy("buy_and_hold", {"SPY": bars}, two.iloc[[1]], None, horizon=3)
    assert both.results.iloc[1]["total_return"] == alone.results.iloc[0]["total_return"]
    assert both.results.iloc[0]["total_return"] != both.results.iloc[1]["total_return"]


def test_grid_is_one_column_per_combo_and_aggregate_counts_pairs():
    res = run_strategy(
        "buy_the_dip",
        {"SPY": HAND},
        align(HAND),
        None,
        grid={"hold": [1, 2, 3], "threshold": [0.05, 0.2]},
        horizon=4,
    )
    assert len(res.results) == 6 and len(res.aggregate) == 6
    no_trade = res.results[res.results["threshold"] == 0.2]  # a 10 % drop is not a 20 % dip
    assert (no_trade["total_return"] == 0).all() and (no_trade["n_trades"] == 0).all()
    assert no_trade["win_rate"].isna().all() and no_trade["sharpe"].isna().all()  # undefined, not 0
    assert set(res.equity["combo"]) == set(res.results["combo"])
    assert (res.equity.groupby("combo")["rel_day"].min() == 0).all()


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"hodl": [1]}, "did you mean 'hold'"),
        ({"hold": []}, "empty"),
        ({"hold": [1.5]}, "not an integer"),
        ({"hold": ["5"]}, "wrong type"),
        ({"threshold": [2.0]}, "out of range"),
        ({"stop": [-0.1]}, "out of range"),
    ],
)
def test_bad_grid_raises_parameter_error(grid, match):
    with pytest.raises(ParameterError, match=match):
        run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, grid=grid, horizon=4)


def test_bad_costs_and_unknown_strategy():
    with pytest.raises(ParameterError, match="fees"):
        run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, fees=0.5, horizon=4)
    with pytest.raises(ParameterError, match="fill"):
        run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, fill="open", horizon=4)
    with pytest.raises(ParameterError, match="did you mean 'short_the_shock'"):
        run_strategy("short_the_shok", {"SPY": HAND}, align(HAND), None, horizon=4)


def test_take_profit_on_intraday_high():
    # Entry 100.05 (open 100 + 5 bp); take_profit=0.05 -> target 105.0525. Row 3's high 107 reaches
    # it while the close (101) does not: exit at the target less 5 bp slippage.
    bars = frame(
        [100, 100, 100, 101, 101, 101],
        [100, 100, 101, 107, 102, 102],
        [100, 89, 99, 100, 100, 100],
        [100, 90, 100, 101, 101, 101],
    )
    res = run_strategy(
        "buy_the_dip", {"SPY": bars}, align(bars), None, grid={"take_profit": [0.05]}, horizon=4
    )
    trade = res.trades.iloc[0]
    assert trade["exit_at"] == "stop" and trade["exit_rel_day"] == 2
    assert trade["exit_price"] == pytest.approx(100.05 * 1.05 * 0.9995)


def test_data_ending_inside_the_window_warns_and_values_open_trades_at_the_last_bar():
    # Six bars, reaction at row 1, horizon 10: only 4 sessions after the reaction have data.
    with pytest.warns(DataWarning, match="fewer than 10 sessions"):
        res = run_strategy("buy_and_hold", {"SPY": HAND}, align(HAND), None, horizon=10)
    row = res.results.iloc[0]
    assert row["sessions"] == 4
    assert row["total_return"] == pytest.approx(97 / (92.046 * 1.001) - 1, abs=1e-12)  # open, at last close
    trade = res.trades.iloc[0]
    assert trade["status"] == "open" and trade["exit_at"] == "end"
    assert trade["exit_date"] == HAND.index[-1] and trade["exit_rel_day"] == 4
    assert res.equity["date"].max() == HAND.index[-1]


def test_wait_for_rebound_buys_after_the_first_up_close():
    # Reaction row 1 (-10 %), rows 2 and 3 close lower (89, 88), row 4 closes up (91): decide at
    # row 4's close, fill at row 5's open (92 * 1.0005); hold=1 -> out at row 6's open (95 * 0.9995).
    bars = frame(
        [100, 100, 90, 89, 88, 92, 95, 95],
        [100, 100, 90, 89, 91, 93, 96, 96],
        [100, 89, 88, 87, 87, 91, 94, 94],
        [100, 90, 89, 88, 91, 93, 95, 95],
    )
    res = run_strategy("wait_for_rebound", {"SPY": bars}, align(bars), None, grid={"hold": [1]}, horizon=6)
    trade = res.trades.iloc[0]
    assert trade["entry_rel_day"] == 4 and trade["exit_rel_day"] == 5
    assert res.results.iloc[0]["total_return"] == pytest.approx(
        95 * 0.9995 / (92 * 1.0005 * 1.001) * 0.999 - 1
    )


def test_benchmark_shorter_than_the_window():
    # QQQ (benchmark SPY) has 8 bars, SPY only 6: buy_the_dip reports NaN vs the benchmark (with a
    # warning); hedged_dip cuts the window at SPY's last bar (4 sessions after the reaction).
    stock = frame(
        [100, 100, 92, 93, 95, 96, 97, 98],
        [101, 100, 95, 96, 97, 98, 99, 99],
        [99, 89, 91, 92, 94, 95, 96, 97],
        [100, 90, 94, 95, 96, 97, 98, 98],
    )
    prices = {"QQQ": stock, "SPY": HAND}
    with pytest.warns(DataWarning, match="do not cover the window"):
        plain = run_strategy("buy_the_dip", prices, align(stock, "QQQ"), None, horizon=6)
    assert np.isnan(plain.results.iloc[0]["benchmark_return"]) and plain.results.iloc[0]["sessions"] == 6
    with pytest.warns(DataWarning) as record:
        hedged = run_strategy("hedged_dip", prices, align(stock, "QQQ"), None, horizon=6)
    assert any("hedged rule stops" in str(w.message) for w in record)
    assert hedged.results.iloc[0]["sessions"] == 4


def test_hand_checked_sortino_avg_trade_and_excess_vs_benchmark():
    # The hand-checked path of the first test, traded as QQQ whose benchmark is SPY.
    # SPY bars: opens 50, 50, 50, 51, 52, 53; last close 55.
    bench = frame(
        [50, 50, 50, 51, 52, 53],
        [51, 51, 51, 52, 53, 55],
        [49, 49, 49, 50, 51, 52],
        [50, 50, 51, 52, 53, 55],
    )
    res = run_strategy(
        "buy_the_dip", {"QQQ": HAND, "SPY": bench}, align(HAND, "QQQ"), None, grid={"hold": [2]}, horizon=4
    )
    row = res.results.iloc[0]
    cost = 92.046 * 1.001
    final = 94.9525 / cost * 0.999
    # Sortino (Sortino & Price 1994) = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(252) over the 4 daily
    # returns of the values 1, 94/cost, 95/cost, final, final; only r_3 = final / (95/cost) - 1 < 0:
    r = np.array([94 / cost - 1, 95 / 94 - 1, final / (95 / cost) - 1, 0.0])
    downside = math.sqrt((r[2] ** 2) / 4)
    assert row["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(252), rel=1e-9)
    # avg_trade = the one trade's pnl / its entry value (size x fill price, before fees):
    size = 1 / cost
    pnl = size * 94.9525 * (1 - 0.001) - size * 92.046 * (1 + 0.001)
    assert row["avg_trade"] == pytest.approx(pnl / (size * 92.046), rel=1e-9)
    # Benchmark bought the same way: SPY open 50 on row 2 (+5 bp slippage, 10 bp fee), valued at
    # the last close 55; excess = strategy total return minus that.
    bench_return = 55 / (50 * 1.0005 * 1.001) - 1
    assert row["benchmark_return"] == pytest.approx(bench_return, abs=1e-12)
    assert row["excess_vs_benchmark"] == pytest.approx((final - 1) - bench_return, abs=1e-12)


def test_aggregate_separates_traded_pairs_from_untraded_ones():
    # SPY: the hand-checked path (rows 0-5, a 10 % dip on row 1), then six flat bars at 97 (rows
    # 6-11). Event e1 reacts on row 1 (dip: buy_the_dip trades), e2 on row 7 (0 % move: no trade).
    flat = [97.0] * 6
    bars = frame(
        [100, 100, 92, 93, 95, 96, *flat],
        [101, 100, 95, 96, 97, 98, *flat],
        [99, 89, 91, 92, 94, 95, *flat],
        [100, 90, 94, 95, 96, 97, *flat],
    )
    alignment = pd.concat([align(bars, event_id="e1"), align(bars, reaction_row=7, event_id="e2")])
    res = run_strategy("buy_the_dip", {"SPY": bars}, alignment, None, grid={"hold": [2]}, horizon=4)
    agg = res.aggregate.iloc[0]
    cost = 92.046 * 1.001
    r1 = 94.9525 / cost * 0.999 - 1  # e1, as in the first test
    bh1 = 97 / cost - 1  # e1 buy-and-hold: same entry, last close 97
    bh2 = 97 / (97 * 1.0005 * 1.001) - 1  # e2 buy-and-hold: in at the open 97 of row 8, out at 97
    assert agg["pairs"] == 2 and agg["traded"] == 1
    assert agg["mean_return"] == pytest.approx((r1 + 0.0) / 2, abs=1e-12)  # untraded pair counts 0
    assert agg["mean_return_traded"] == pytest.approx(r1, abs=1e-12)
    assert agg["mean_excess_vs_buy_hold"] == pytest.approx(((r1 - bh1) + (0.0 - bh2)) / 2, abs=1e-12)
    assert agg["mean_excess_vs_buy_hold_traded"] == pytest.approx(r1 - bh1, abs=1e-12)


def test_aggregate_traded_columns_are_nan_when_nothing_traded():
    # threshold 0.2: the 10 % drop of the hand path is no 20 % dip, so no pair trades.
    res = run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, grid={"threshold": [0.2]}, horizon=4)
    agg = res.aggregate.iloc[0]
    assert agg["traded"] == 0 and agg["mean_return"] == 0.0
    assert np.isnan(agg["mean_return_traded"]) and np.isnan(agg["mean_excess_vs_buy_hold_traded"])


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"hold": [1, 1, 5]}, r"grid: hold=1 is listed twice"),
        ({"stop": [None, 0.08, None]}, r"grid: stop=none is listed twice"),
    ],
)
def test_repeated_grid_values_are_rejected(grid, match):
    with pytest.raises(ParameterError, match=match):
        run_strategy("buy_the_dip", {"SPY": HAND}, align(HAND), None, grid=grid, horizon=4)
