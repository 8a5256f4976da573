"""Stop precomputation (backtest.trading.stops) and the from_orders simulation built on it.

Hand-built paths for the order plan; vectorbt's own ``Portfolio.from_signals``
(stops evaluated inside its simulator) as the outside reference for the
simulated values and trade records; and a new process that must load the
simulators from numba's disk cache instead of compiling them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from backtest.trade import run_strategy
from backtest.trading.simulate import TRADE_FIELDS, simulate_leg
from backtest.trading.stops import plan_orders, stop_exit_price

NAN = np.nan
SLIP = 0.0005


def plan(rows, entries, exits, *, short=False, sl=NAN, tp=NAN, slippage=SLIP):
    """One column. ``rows``: (open, high, low, close, price) per row; entries/exits: row numbers."""
    o, h, lo, c, p = (np.array([[r[k]] for r in rows], dtype=float) for k in range(5))
    n = len(rows)
    e = np.zeros((n, 1), bool)
    x = np.zeros((n, 1), bool)
    e[list(entries), 0] = True
    x[list(exits), 0] = True
    return plan_orders(
        e,
        x,
        (o, h, lo, c, p),
        short=np.array([short]),
        sl_stop=np.array([sl]),
        tp_stop=np.array([tp]),
        slippage=slippage,
    )


def orders(p):
    """(row, size sign, price) of each planned order."""
    rows = np.flatnonzero(~np.isnan(p.size[:, 0]))
    return [(int(i), int(np.sign(p.size[i, 0])), float(p.price[i, 0])) for i in rows]


def open_row(price):
    return (price, price, price, price, price)


def day_row(o, h, lo, c):
    return (o, h, lo, c, c)


def test_stop_loss_on_the_entry_session_low():
    # Session 1 entered at its open 100: fill 100 * 1.0005 = 100.05; 8 % stop -> level 100.05 * 0.92
    # = 92.046. The same session's low 91 reaches it: stop exit on that day row at the level.
    rows = [open_row(100), day_row(100, 101, 99, 100), open_row(100), day_row(100, 100, 91, 95)]
    p = plan(rows, entries=[2], exits=[], sl=0.08)
    assert orders(p) == [(2, 1, 100.0), (3, -1, pytest.approx(100.05 * 0.92))]
    assert p.stop[:, 0].tolist() == [False, False, False, True]


def test_gap_through_the_stop_exits_at_the_open():
    # Entered at 100 (fill 100.05, level 92.046); the next session opens at 80, under the level:
    # the exit fills at the open row's price 80, not at the level.
    rows = [open_row(100), day_row(100, 101, 99, 100), open_row(80), day_row(80, 81, 79, 80)]
    p = plan(rows, entries=[0], exits=[], sl=0.08)
    assert orders(p) == [(0, 1, 100.0), (2, -1, 80.0)]


def test_take_profit_on_the_high_and_close_only_levels_are_not_enough():
    # Fill 100.05, take-profit 5 % -> 105.0525. Row 1's close 104 misses it, its high 106 hits it.
    rows = [open_row(100), day_row(100, 106, 99, 104), open_row(104), day_row(104, 104, 104, 104)]
    p = plan(rows, entries=[0], exits=[3], tp=0.05)
    assert orders(p) == [(0, 1, 100.0), (1, -1, pytest.approx(100.05 * 1.05))]  # exit on row 3: nothing left


def test_short_stop_is_above_and_target_below_the_fill():
    # Short at 100: fill 100 * (1 - 0.0005) = 99.95. Stop 10 % -> 109.945 (hit by the high 111);
    # take-profit 10 % -> 89.955 (hit by the low 89 in the second case).
    up = [open_row(100), day_row(100, 111, 99, 105)]
    down = [open_row(100), day_row(100, 101, 89, 95)]
    assert orders(plan(up, [0], [], short=True, sl=0.1)) == [(0, 1, 100.0), (1, -1, pytest.approx(109.945))]
    assert orders(plan(down, [0], [], short=True, tp=0.1)) == [(0, 1, 100.0), (1, -1, pytest.approx(89.955))]
    assert orders(plan(down, [0], [], short=True, sl=0.1)) == [(0, 1, 100.0)]  # the stop is never touched


def test_stop_loss_wins_when_one_bar_reaches_both_levels():
    # Fill 100.05: stop 5 % -> 95.0475, target 5 % -> 105.0525; the bar spans 90..110.
    rows = [open_row(100), day_row(100, 110, 90, 100)]
    assert orders(plan(rows, [0], [], sl=0.05, tp=0.05))[1] == (1, -1, pytest.approx(100.05 * 0.95))


def test_a_stop_exit_replaces_the_rows_decisions_and_re_entry_waits():
    # Stopped on row 1 (low 90 under 92.046): the entry decision on the same row is dropped; the
    # entry on row 2 opens a new position with a new fill price (95.0475) and a new level.
    rows = [open_row(100), day_row(100, 100, 90, 95), open_row(95), day_row(95, 96, 94, 95)]
    p = plan(rows, entries=[0, 1, 2], exits=[], sl=0.08)
    assert orders(p) == [(0, 1, 100.0), (1, -1, pytest.approx(92.046)), (2, 1, 95.0)]


def test_signal_rules_without_stops():
    # Row 0: entry and exit together cancel. Row 1: exit while flat does nothing. Row 2: entry.
    # Row 3: a second entry while in the position does nothing. Row 4: exit. Row 5: entry at a NaN
    # price is not filled, so the exit on row 6 has nothing to close.
    rows = [open_row(100)] * 5 + [open_row(NAN), open_row(100)]
    p = plan(rows, entries=[0, 2, 3, 5], exits=[0, 1, 4, 6])
    assert orders(p) == [(2, 1, 100.0), (4, -1, 100.0)]
    assert not p.stop.any()


def test_stop_exit_price_kernel():
    # Long stop-loss 8 % from 100: level 92; bar 99/100/90 -> 92; gap open 85 -> 85; bar 95..99 -> none.
    assert stop_exit_price(False, 100.0, 0.08, 99.0, 100.0, 90.0, True) == pytest.approx(92.0)
    assert stop_exit_price(False, 100.0, 0.08, 85.0, 86.0, 80.0, True) == 85.0
    assert np.isnan(stop_exit_price(False, 100.0, 0.08, 99.0, 99.0, 95.0, True))
    # Long take-profit 10 %: level 110; gap open 112 -> 112. Short take-profit 10 %: level 90.
    assert stop_exit_price(False, 100.0, 0.1, 112.0, 113.0, 111.0, False) == 112.0
    assert stop_exit_price(True, 100.0, 0.1, 95.0, 96.0, 89.0, False) == pytest.approx(90.0)


def _reference(bars2, entries2, exits2, short, sl, tp, cash, fees, slippage):
    """vectorbt's own signal simulator, stops inside: the behaviour the plan must reproduce."""
    import vectorbt as vbt

    o2, h2, l2, c2, p2 = bars2
    # Options as numpy values of the same types the engine's fallback uses, so numba compiles
    # vectorbt's signal simulator once for the whole module (~5 s).
    pf = vbt.Portfolio.from_signals(
        c2,
        entries2,
        exits2,
        price=p2,
        open=o2,
        high=h2,
        low=l2,
        direction=np.where(short, 1, 0).astype(np.int64)[None, :],  # ShortOnly / LongOnly
        size=np.asarray(np.inf),  # all the cash
        fees=np.asarray(float(fees)),
        slippage=np.asarray(float(slippage)),
        sl_stop=np.asarray(sl, dtype=float)[None, :],
        tp_stop=np.asarray(tp, dtype=float)[None, :],
        stop_entry_price=np.asarray(2),  # StopEntryPrice.FillPrice
        stop_exit_price=np.asarray(1),  # StopExitPrice.StopMarket
        use_stops=True,
        lock_cash=np.asarray(True),
        init_cash=np.asarray(cash, dtype=float),
        accumulate=np.asarray(0),  # AccumulationMode.Disabled
        upon_opposite_entry=np.asarray(0),  # OppositeEntryMode.Ignore
        freq="1D",
    )
    return pf.value().to_numpy(), pf.assets().to_numpy(), pf.trades.records


def _random_case(seed, n_sessions=40, m=300):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (n_sessions, m)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.02, (n_sessions, m)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.02, (n_sessions, m))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.02, (n_sessions, m))))
    from backtest.trading.simulate import expand_bars

    bars2 = expand_bars(open_, high, low, close)
    entries2 = rng.random((2 * n_sessions, m)) < 0.08
    exits2 = rng.random((2 * n_sessions, m)) < 0.08
    short = rng.random(m) < 0.4
    sl = np.where(rng.random(m) < 0.7, rng.choice([1e-4, 0.01, 0.03, 0.08], m), NAN)
    tp = np.where(rng.random(m) < 0.5, rng.choice([1e-4, 0.02, 0.05, 0.15], m), NAN)
    cash = rng.choice([0.5, 1.0], m)
    return bars2, entries2, exits2, short, sl, tp, cash


@pytest.fixture(params=["python", "compiled"])
def way(request, monkeypatch):
    """The plan walked by the interpreter or by the compiled kernel: the budget set to all or none."""
    from backtest.trading import stops

    monkeypatch.setattr(stops, "PYTHON_BUDGET", 2**62 if request.param == "python" else -1)
    monkeypatch.setattr(stops, "_planned_in_python", 0)
    return request.param


def test_the_interpreter_and_the_compiled_kernel_plan_the_same_orders(monkeypatch):
    from backtest.trading import stops

    for seed in (1, 2, 3):
        bars2, entries2, exits2, short, sl, tp, _cash = _random_case(seed, m=120)
        plans = []
        for budget in (2**62, -1):
            monkeypatch.setattr(stops, "PYTHON_BUDGET", budget)
            plan = plan_orders(entries2, exits2, bars2, short=short, sl_stop=sl, tp_stop=tp, slippage=0.0005)
            plans.append(plan)
        for field in ("size", "price", "stop"):
            np.testing.assert_array_equal(getattr(plans[0], field), getattr(plans[1], field))
    # the budget picks: the interpreter until it has planned PYTHON_BUDGET cells
    used = []
    monkeypatch.setattr(stops, "_plan_python", lambda: lambda *a: used.append("python") or stops._plan_nb(*a))
    monkeypatch.setattr(stops, "PYTHON_BUDGET", entries2.size + 10)
    monkeypatch.setattr(stops, "_planned_in_python", 0)
    for _ in range(2):
        plan_orders(entries2, exits2, bars2, short=short, sl_stop=sl, tp_stop=tp, slippage=0.0)
    assert used == ["python"]


@pytest.mark.parametrize("seed", [1, 2])
def test_from_orders_matches_vectorbt_from_signals_on_random_paths(seed, way):
    # Random bars (with gaps), random entry/exit rows (including both on one row), long and short
    # columns, stops from 1 bp (fires at the next open) to 8 %, targets, two cash sizes.
    bars2, entries2, exits2, short, sl, tp, cash = _random_case(seed)
    fees, slippage = 0.001, 0.0005
    leg = simulate_leg(
        bars2,
        entries2,
        exits2,
        short=short,
        sl_stop=sl,
        tp_stop=tp,
        init_cash=cash,
        fees=fees,
        slippage=slippage,
    )
    value2, assets2, records = _reference(bars2, entries2, exits2, short, sl, tp, cash, fees, slippage)
    np.testing.assert_allclose(leg.value, value2[1::2], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(leg.held, (assets2[0::2] != 0) | (assets2[1::2] != 0))
    assert len(records) > 200 and (leg.trades["status"] == 1).sum() > 100  # the paths do trade
    for name in TRADE_FIELDS:
        np.testing.assert_allclose(leg.trades[name], records[name], rtol=1e-12, err_msg=name)
    assert leg.trades["stopped"].sum() > 20  # and stops fire


def test_short_squeeze_that_cannot_be_covered_falls_back_to_from_signals():
    # A short of all the cash at 100 whose price triples: covering would need ~3x the short value
    # while only ~2x is locked, so vectorbt covers part of it and the position stays open. The
    # plan assumed a full close; the simulator notices and reruns the leg with from_signals, so
    # the later exit (row 5) still covers the remainder exactly as vectorbt's own simulator does.
    px = np.array([[100.0], [100.0], [300.0], [300.0], [280.0], [250.0]])
    bars2 = (px, px, px, px, px)
    entries2 = np.array([[True], [False], [False], [False], [False], [False]])
    exits2 = np.array([[False], [False], [True], [False], [False], [True]])
    args = (np.array([True]), np.array([NAN]), np.array([NAN]), np.array([1.0]), 0.001, 0.0005)
    leg = simulate_leg(
        bars2,
        entries2,
        exits2,
        short=args[0],
        sl_stop=args[1],
        tp_stop=args[2],
        init_cash=args[3],
        fees=args[4],
        slippage=args[5],
    )
    value2, assets2, records = _reference(bars2, entries2, exits2, *args)
    assert assets2[2, 0] < 0  # the premise: still short after the cover order on row 2
    np.testing.assert_allclose(leg.value, value2[1::2], rtol=1e-12)
    for name in TRADE_FIELDS:
        np.testing.assert_allclose(leg.trades[name], records[name], rtol=1e-12, err_msg=name)


def test_columns_without_orders_keep_their_cash():
    # Two columns; only the second trades. The first is not simulated and stays at its cash 0.5.
    px = np.full((4, 2), 100.0)
    px[2:, 1] = 110.0
    entries2 = np.zeros((4, 2), bool)
    entries2[0, 1] = True
    leg = simulate_leg(
        (px, px, px, px, px),
        entries2,
        np.zeros((4, 2), bool),
        short=np.array([False, False]),
        sl_stop=np.array([NAN, NAN]),
        tp_stop=np.array([NAN, NAN]),
        init_cash=np.array([0.5, 1.0]),
        fees=0.0,
        slippage=0.0,
    )
    assert leg.value[:, 0].tolist() == [0.5, 0.5]
    assert leg.value[:, 1] == pytest.approx([1.0, 1.1])  # all cash in at 100, valued at 110
    assert leg.trades["col"].tolist() == [1] and not leg.held[:, 0].any()


def test_a_new_process_compiles_nothing(tmp_path):
    # Fill the cache in this process (the package sets NUMBA_CACHE_DIR), then run a backtest with a
    # stop in a fresh interpreter: the plan kernel must come from the cache (a hit, no miss);
    # vectorbt's simulators run on its Rust engine (vectorbt[rust], a dependency), so neither its
    # from_orders nor its from_signals numba simulator is compiled or even loaded.
    bars = pd.DataFrame(
        {
            "open": [100, 100, 92, 93, 95, 96.0],
            "high": [101, 100, 95, 96, 97, 98.0],
            "low": [99, 89, 91, 92, 94, 95.0],
            "close": [100, 90, 94, 95, 96, 97.0],
            "volume": 1.0,
        },
        index=pd.bdate_range("2025-01-01", periods=6, name="date"),
    )
    bars.to_csv(tmp_path / "bars.csv")
    code = textwrap.dedent(
        f"""
        import pandas as pd
        from backtest.trade import run_strategy
        from backtest.trading import stops
        stops.PYTHON_BUDGET = 0  # the compiled kernel, loaded from the disk cache
        bars = pd.read_csv({str(tmp_path / "bars.csv")!r}, index_col="date", parse_dates=True)
        alignment = pd.DataFrame({{"event_id": ["e1"], "symbol": ["SPY"], "calendar": ["NYSE"],
            "reaction_session": [bars.index[1]], "kind": ["shock"]}})
        res = run_strategy("buy_the_dip", {{"SPY": bars}}, alignment, None,
                           grid={{"hold": [2], "stop": [0.05]}}, horizon=4)
        from vectorbt.portfolio import nb
        from backtest.trading import stops
        f = stops._plan_nb
        print(f.__name__, sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
        print("from_orders", len(nb.simulate_from_orders_nb.signatures))
        print("from_signals", len(nb.simulate_from_signals_nb.signatures))
        print("return", round(float(res.results.loc[0, "total_return"]), 4))
        """
    )
    bars_in = pd.read_csv(tmp_path / "bars.csv", index_col="date", parse_dates=True)
    alignment = pd.DataFrame(
        {
            "event_id": ["e1"],
            "symbol": ["SPY"],
            "calendar": ["NYSE"],
            "reaction_session": [bars_in.index[1]],
            "kind": ["shock"],
        }
    )
    run_strategy(
        "buy_the_dip", {"SPY": bars_in}, alignment, None, grid={"hold": [2], "stop": [0.05]}, horizon=4
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=True
    ).stdout.split("\n")
    assert out[0] == "_plan_nb 1 0"
    assert out[1] == "from_orders 0" and out[2] == "from_signals 0"
    # Same trade as the module doctest of backtest.trade: in at 92 x 1.0005, out at 95 x 0.9995
    # (the 5 % stop at 92.046 x 0.95 = 87.44 is never reached).
    assert out[3] == "return 0.0295"
