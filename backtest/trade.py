"""Event-driven strategy backtests: run a rule from :mod:`strategies` over events x symbols x a grid.

Execution defaults that avoid the classic vectorbt traps:

* a decision taken at a session's close fills at the **next session's open**
  (``fill="close"`` only when asked), so no rule trades on a close it has not seen;
* fees 10 bp and slippage 5 bp per fill; daily frequency, annualization on
  **252 sessions**;
* shorts sized to the cash, which is locked as collateral (no hidden leverage);
* stops checked on each session's **open, high and low** (see
  :mod:`backtest.trading.simulate`);
* **one column per event x symbol x parameter set**, so overlapping events never
  share cash or positions; statistics per column (``TradeResult.results``);
  the across-events table (``TradeResult.aggregate``) says what it aggregates.

Example
-------
>>> from backtest.trade import run_strategy
>>> import pandas as pd
>>> idx = pd.bdate_range("2025-01-01", periods=6, name="date")
>>> bars = pd.DataFrame({"open": [100, 100, 92, 93, 95, 96.0], "high": [101, 100, 95, 96, 97, 98.0],
...     "low": [99, 89, 91, 92, 94, 95.0], "close": [100, 90, 94, 95, 96, 97.0], "volume": 1.0}, index=idx)
>>> alignment = pd.DataFrame({"event_id": ["e1"], "symbol": ["SPY"], "calendar": ["NYSE"],
...     "reaction_session": [idx[1]], "kind": ["shock"]})
>>> res = run_strategy("buy_the_dip", {"SPY": bars}, alignment, None, grid={"hold": [2]}, horizon=4)
>>> round(float(res.results.loc[0, "total_return"]), 4)   # in at 92 x 1.0005, out at 95 x 0.9995
0.0295
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

import strategies
from backtest.errors import DataError, ParameterError
from backtest.trading.columns import distinct_columns
from backtest.trading.grid import expand_grid, parse_grid
from backtest.trading.result import TradeResult
from backtest.trading.simulate import Fill, expand_bars, fill_rows, simulate_leg
from backtest.trading.stats import performance, trade_stats
from backtest.trading.windows import Unit, build_units
from strategies.base import Strategy

__all__ = ["TradeResult", "parse_grid", "run_strategy", "run_units", "unit_signals"]

FILLS: tuple[str, ...] = ("next_open", "close")


def _check_costs(fees: float, slippage: float, fill: str, horizon: int) -> None:
    for name, value in (("fees", fees), ("slippage", slippage)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 0.1:
            raise ParameterError(f"{name}={value!r}: expected a fraction in [0, 0.1), e.g. 0.001 for 10 bp")
    if fill not in FILLS:
        raise ParameterError(f"fill={fill!r}: use next_open (default) or close")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= 1000:
        raise ParameterError(f"horizon={horizon!r}: expected a whole number of sessions in [1, 1000]")


def unit_signals(strategy: Strategy, unit_bars: object, combos: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Decisions of ``strategy`` for one event x symbol and every combination (a pure function of arrays).

    Returns ``(entries, exits, sl_stop, tp_stop)`` shaped ``(n_sessions, n_combos)``
    and ``(n_combos,)``; decisions before the reaction session are dropped (a rule
    cannot trade before its event).
    """
    n_combos = len(combos)
    params = {spec.name: combos[spec.name].to_numpy() for spec in strategy.params}
    sig = strategy.signals(unit_bars, params)
    n = len(unit_bars)
    out = []
    for name, arr, shape in (
        ("entries", sig.entries, (n, n_combos)),
        ("exits", sig.exits, (n, n_combos)),
        ("sl_stop", sig.sl_stop, (n_combos,)),
        ("tp_stop", sig.tp_stop, (n_combos,)),
    ):
        arr = np.asarray(arr)
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise ParameterError(
                f"strategy {strategy.name!r} returned {name} of shape {arr.shape}; "
                f"expected {shape} (sessions x combinations); fix its signals()"
            ) from None
        out.append(np.array(arr, dtype=bool if name in ("entries", "exits") else float))
    out[0][: unit_bars.reaction] = False
    out[1][: unit_bars.reaction] = False
    return tuple(out)


def run_strategy(
    strategy: str | Strategy,
    prices: Mapping[str, pd.DataFrame],
    alignment: pd.DataFrame,
    calendars: object,
    *,
    grid: Mapping[str, Sequence] | None = None,
    fees: float = 0.001,
    slippage: float = 0.0005,
    fill: Literal["next_open", "close"] = "next_open",
    horizon: int = 60,
    benchmarks: Mapping[str, str] | None = None,
    scheduler: object = None,
) -> TradeResult:
    """Backtest ``strategy`` on every event x symbol of ``alignment`` and every grid combination.

    Parameters
    ----------
    strategy : str or Strategy
        A registered name (see ``strategies.available()``) or an instance.
    prices : mapping of str to DataFrame
        Adjusted daily bars per symbol, including each symbol's market benchmark.
    alignment : DataFrame
        :func:`backtest.alignment.align_symbols` output (event_id, symbol, calendar,
        reaction_session, kind, ...).
    calendars : ExchangeCalendars or None
        Session calendars for the windows; ``None`` uses each symbol's own price index.
    grid : mapping, optional
        Parameter name -> values; the others keep their defaults. ``None`` -> defaults only.
    fees, slippage : float
        Fractions per fill (0.001 = 10 bp; slippage moves each fill price against the order).
    fill : {"next_open", "close"}
        When a decision taken at a session's close fills.
    horizon : int
        Sessions after the reaction session in each window.
    benchmarks : mapping, optional
        Benchmark per symbol (hedge leg, "vs benchmark"), overriding the registry.
    scheduler : str or dask.distributed.Client, optional
        Where the grid slices run (:func:`backtest.trading.slices.run_grid`): ``"inline"``
        (default), ``"local:N"``, ``"tcp://HOST:PORT"`` or a client; same result everywhere.

    Returns
    -------
    TradeResult

    Raises
    ------
    ParameterError
        Unknown strategy or parameter, bad or repeated value, empty grid, bad costs.
    DataError
        A symbol or benchmark without prices, close-only prices (no open, high, low), or no
        event x symbol with data.
    """
    strat = strategies.get(strategy) if isinstance(strategy, str) else strategy
    _check_costs(fees, slippage, fill, horizon)
    _check_ohlc(strat.name, prices, alignment)
    combos = expand_grid(strat, grid)
    units = build_units(
        prices, alignment, calendars, horizon=horizon, lookback=strat.lookback, hedge=strat.hedge,
        benchmarks=benchmarks,
    )
    if not units:
        raise DataError(
            "no event x symbol pair has prices around its reaction session; check --events/--symbols"
        )
    from backtest.trading.slices import run_grid

    return run_grid(strat, units, combos, fees=fees, slippage=slippage, fill=fill, scheduler=scheduler)


def _check_ohlc(name: str, prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame) -> None:
    """One line when a traded symbol has close-only prices: fills and stops need open, high and low."""
    from backtest.validate import is_close_only

    symbols = dict.fromkeys(str(s) for s in alignment["symbol"])
    close_only = [s for s in symbols if s in prices and is_close_only(prices[s])]
    if close_only:
        raise DataError(
            f"{name} needs open, high and low prices (fills at the open, stops on high and low); "
            f"{', '.join(close_only)} {'has' if len(close_only) == 1 else 'have'} close prices only: give "
            "files with open,high,low,close (the event study and recovery work on the close alone)"
        )


def _stack(units: Sequence[Unit], attr: str, columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Bars ``attr`` of every unit, one column per entry of ``columns`` (unit numbers)."""
    bars = [getattr(u, attr) for u in units]
    fields = ("open", "high", "low", "close")
    return tuple(np.column_stack([getattr(b, f) for b in bars])[:, columns] for f in fields)


def run_units(
    strat: Strategy, units: Sequence[Unit], combos: pd.DataFrame, *, fees: float, slippage: float, fill: Fill
) -> TradeResult:
    """Simulate already-cut windows (``units``) for every combination: the mappable unit of work.

    Pure in its inputs (arrays in :class:`~backtest.trading.windows.Unit`, the
    combinations frame of :func:`~backtest.trading.grid.expand_grid`): a caller can
    split ``units`` (or ``combos``) into chunks, map this over workers (e.g. Dask)
    and concatenate the ``results`` tables. All windows must share one length
    (same ``lookback`` and ``horizon``); inputs are trusted (validated by
    :func:`run_strategy`). Combinations that give the same column (same decisions and
    stops on the same window) are simulated once (:mod:`backtest.trading.columns`).
    """
    n_u, n_c = len(units), len(combos)
    reaction = units[0].bars.reaction
    signals = [unit_signals(strat, u.bars, combos) for u in units]
    every = [np.concatenate([s[k] for s in signals], axis=1 if k < 2 else 0) for k in range(4)]
    unit_of = np.repeat(np.arange(n_u), n_c)
    distinct = distinct_columns(unit_of, *every)
    col_unit = unit_of[distinct.first]
    entries, exits = every[0][:, distinct.first], every[1][:, distinct.first]
    sl_stop, tp_stop = every[2][distinct.first], every[3][distinct.first]
    n_valid = np.array([u.bars.n_valid for u in units])[col_unit]
    m = len(col_unit)
    short = np.full(m, strat.direction == "short")

    # Baselines, same fills and costs: buy-and-hold of the symbol and of its benchmark.
    benched = [i for i, u in enumerate(units) if u.bench is not None]
    base_bars = [
        np.column_stack([getattr(u.bars, f) for u in units] + [getattr(units[i].bench, f) for i in benched])
        for f in ("open", "high", "low", "close")
    ]
    base_valid = np.array([u.bars.n_valid for u in units] + [units[i].bench.n_valid for i in benched])
    hold_decision = np.zeros((len(units[0].bars), len(base_valid)), dtype=bool)
    hold_decision[reaction] = True

    half = 0.5 if strat.hedge else 1.0
    stock_bars = expand_bars(*_stack(units, "bars", col_unit))
    all_bars = tuple(
        np.concatenate([a, b], axis=1) for a, b in zip(stock_bars, expand_bars(*base_bars), strict=True)
    )
    m_base = len(base_valid)
    leg = simulate_leg(
        all_bars,
        np.concatenate(
            [fill_rows(entries, n_valid, fill), fill_rows(hold_decision, base_valid, fill)], axis=1
        ),
        np.concatenate(
            [fill_rows(exits, n_valid, fill), np.zeros((2 * len(hold_decision), m_base), bool)], axis=1
        ),
        short=np.concatenate([short, np.zeros(m_base, bool)]),
        sl_stop=np.concatenate([sl_stop, np.full(m_base, np.nan)]),
        tp_stop=np.concatenate([tp_stop, np.full(m_base, np.nan)]),
        init_cash=np.concatenate([np.full(m, half), np.ones(m_base)]),
        fees=fees,
        slippage=slippage,
    )
    value, held = leg.value[:, :m], leg.held[:, :m]
    legs = {"stock": _select(leg.trades, m)}
    if strat.hedge:
        hedge = simulate_leg(
            expand_bars(*_stack(units, "bench", col_unit)),
            leg.entry_rows[:, :m],
            leg.exit_rows[:, :m],
            short=np.full(m, strat.direction == "long"),
            sl_stop=np.full(m, np.nan),
            tp_stop=np.full(m, np.nan),
            init_cash=np.full(m, half),
            fees=fees,
            slippage=slippage,
        )
        value = value + hedge.value
        held = held | hedge.held
        legs["hedge"] = hedge.trades
    perf = performance(value, np.ones(m), held, reaction, n_valid)
    tstats = _combined_trade_stats(legs, m)
    base_perf = performance(leg.value[:, m:], np.ones(m_base), leg.held[:, m:], reaction, base_valid)
    buy_hold = base_perf["total_return"].to_numpy()[:n_u]
    bench_ret = np.full(n_u, np.nan)
    bench_ret[benched] = base_perf["total_return"].to_numpy()[n_u:]

    # Every column from its distinct column; the tidy table in one pass.
    inverse = distinct.inverse
    columns = {
        "event_id": _labels([u.event_id for u in units], unit_of),
        "symbol": _labels([u.symbol for u in units], unit_of),
        "benchmark": _labels([u.benchmark for u in units], unit_of),
        "combo": combos["combo"].array.take(np.tile(np.arange(n_c), n_u)),
        **{name: perf[name].to_numpy()[inverse] for name in perf.columns},
        **{name: tstats[name].to_numpy()[inverse] for name in tstats.columns},
        **{s.name: np.tile(combos[s.name].to_numpy(), n_u) for s in strat.params},
        "buy_hold_return": np.repeat(buy_hold, n_c),
        "benchmark_return": np.repeat(bench_ret, n_c),
    }
    columns["excess_vs_buy_hold"] = columns["total_return"] - columns["buy_hold_return"]
    columns["excess_vs_benchmark"] = columns["total_return"] - columns["benchmark_return"]
    return TradeResult(
        strategy=strat.name,
        results=pd.DataFrame(columns),
        units=list(units),
        combos=combos,
        value=value[:, inverse],
        buy_hold_value=leg.value[:, m : m + n_u],
        legs={name: distinct.expand_records(records) for name, records in legs.items()},
        settings={
            "strategy": strat.name,
            "fees": fees,
            "slippage": slippage,
            "fill": fill,
            "horizon": len(units[0].bars) - reaction - 1,
            "direction": strat.direction,
            "hedge": strat.hedge,
            "annualization": 252,
        },
    )


def _labels(values: list[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as the column pandas would make of them (taking from the few distinct labels
    is much faster than converting one string per row)."""
    return pd.Series(np.asarray(values)).array.take(codes)


def _select(trades: dict[str, np.ndarray], m: int) -> dict[str, np.ndarray]:
    """Trade records of the strategy's own columns (the first ``m``), without the baselines."""
    keep = trades["col"] < m
    return {k: v[keep] for k, v in trades.items()}


def _combined_trade_stats(legs: dict[str, dict[str, np.ndarray]], m: int) -> pd.DataFrame:
    stock = legs["stock"]
    if "hedge" not in legs:
        return trade_stats(stock["col"], stock["pnl"], stock["return"], m)
    keys = ["col", "entry_idx"]
    frames = [
        pd.DataFrame(
            {
                "col": t["col"],
                "entry_idx": t["entry_idx"],
                "pnl": t["pnl"],
                "cost": t["size"] * t["entry_price"],
            }
        )
        for t in (stock, legs["hedge"])
    ]
    both = (
        frames[0]
        .merge(frames[1], on=keys, how="left", suffixes=("", "_h"))
        .fillna({"pnl_h": 0.0, "cost_h": 0.0})
    )
    pnl = (both["pnl"] + both["pnl_h"]).to_numpy()
    ret = pnl / (both["cost"] + both["cost_h"]).to_numpy()
    return trade_stats(both["col"].to_numpy(), pnl, ret, m)
