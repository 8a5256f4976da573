"""Benchmark: the trade grid against raw vectorbt on the same 16,000 columns.

``buy_the_dip`` over a 1,000-combination grid (hold 1..10 x threshold 1 %..10 % x stop
none, 2 %..18 %) x 16 event-symbol pairs (4 symbols x 4 events of the embedded data) =
16,000 columns.

``python benchmarks/bench_trade.py [--rounds 7]`` (default)
    In one process, alternately (A B A B ..., medians and their ratio, after one warm-up call
    of each so that numba compilation is not timed):

    * **tool**: :func:`backtest.trade.run_strategy`, the path of ``backtest trade``: cut the
      windows on the exchange calendars, the strategy's decisions for every combination,
      the simulation (fills at the next open, stops checked on each session's open, high
      and low), per-column statistics, baselines and the tidy results table;
    * **raw vectorbt**: ``vbt.Portfolio.from_signals`` alone, fed ready-made matrices of the
      same 16,000 columns: the same decisions moved to the next session (fill at the open:
      ``price=open``), open/high/low/close, ``sl_stop`` where the combination has a stop
      (vectorbt checks it against open, high and low, exit at the stop price or at a gapped
      open), the same fees (10 bp) and slippage (5 bp). Building those matrices is not timed.
      As near as raw vectorbt allows: with one row per session it checks a stop only from
      the session after the entry fill, where the tool also checks the entry session's high
      and low; the script prints how many columns give the same total return.

    Also printed, not part of the ratio: :func:`backtest.trade.run_units` alone (windows
    already cut).
``python benchmarks/bench_trade.py --cold``
    Numba compilation costs: one fresh process on an empty ``NUMBA_CACHE_DIR`` (first call
    compiles), then a second fresh process on the cache the first one filled (what every
    later ``backtest trade`` / ``backtest run`` pays). The temporary cache is deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

CHILD_FLAG = "--child"
FEES, SLIPPAGE = 0.001, 0.0005
GRID = {
    "hold": list(range(1, 11)),
    "threshold": [round(float(x), 3) for x in np.linspace(0.01, 0.10, 10)],
    "stop": [None] + [round(float(x), 3) for x in np.linspace(0.02, 0.18, 9)],
}


def inputs() -> dict:
    """Prices, calendars and alignment of the default symbols and events (embedded data)."""
    from backtest.alignment import align_symbols
    from backtest.calendars import ExchangeCalendars
    from backtest.events import load_events
    from backtest.instruments import DEFAULT_TARGETS, get_instrument
    from backtest.sources import load_prices

    symbols = list(DEFAULT_TARGETS)
    prices = load_prices(symbols + sorted({get_instrument(s).benchmark for s in symbols}))
    calendars = ExchangeCalendars.from_prices(prices)
    return {"prices": prices, "calendars": calendars,
            "alignment": align_symbols(load_events(), calendars, symbols)}


def tool(data: dict):
    """The ``backtest trade buy_the_dip --grid ...`` path, from prices to the results table."""
    from backtest.errors import BacktestWarning
    from backtest.trade import run_strategy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BacktestWarning)  # short data windows of the 2026 event
        return run_strategy("buy_the_dip", data["prices"], data["alignment"], data["calendars"], grid=GRID,
                            fees=FEES, slippage=SLIPPAGE)


def raw_matrices(data: dict) -> dict:
    """The same columns as ready-made matrices for ``from_signals`` (decisions moved to the fill session)."""
    import strategies
    from backtest.errors import BacktestWarning
    from backtest.trade import unit_signals
    from backtest.trading.grid import expand_grid
    from backtest.trading.windows import build_units

    strat = strategies.get("buy_the_dip")
    combos = expand_grid(strat, GRID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BacktestWarning)
        units = build_units(data["prices"], data["alignment"], data["calendars"], horizon=60,
                            lookback=strat.lookback, hedge=False)
    signals = [unit_signals(strat, u.bars, combos) for u in units]
    entries, exits = (np.concatenate([s[k] for s in signals], axis=1) for k in (0, 1))
    # Next-open fill: a decision at session t's close trades at session t + 1's open.
    entries, exits = (np.vstack([np.zeros((1, a.shape[1]), bool), a[:-1]]) for a in (entries, exits))
    bars = {f: np.repeat(np.column_stack([getattr(u.bars, f) for u in units]), len(combos), axis=1)
            for f in ("open", "high", "low", "close")}
    sl_stop = np.concatenate([s[2] for s in signals])[None, :]
    return {"units": units, "combos": combos, "strategy": strat, "entries": entries, "exits": exits,
            "sl_stop": sl_stop, **bars}


def raw_vectorbt(m: dict):
    """Raw ``Portfolio.from_signals`` on the prepared matrices (stops on open, high and low)."""
    import vectorbt as vbt
    from vectorbt.portfolio.enums import StopEntryPrice, StopExitPrice

    return vbt.Portfolio.from_signals(
        m["close"], m["entries"], m["exits"], price=m["open"], open=m["open"], high=m["high"], low=m["low"],
        sl_stop=m["sl_stop"], stop_entry_price=StopEntryPrice.FillPrice,
        stop_exit_price=StopExitPrice.StopMarket, fees=FEES, slippage=SLIPPAGE, freq="1D",
    )


def compare(rounds: int = 7) -> dict[str, float]:
    """Tool vs raw vectorbt, alternating in this process; returns the medians and the ratio."""
    from backtest.trade import run_units

    data = inputs()
    m = raw_matrices(data)

    def units_only():
        return run_units(m["strategy"], m["units"], m["combos"], fees=FEES, slippage=SLIPPAGE,
                         fill="next_open")

    # Warm-up (numba: from_signals compiles in every process; the tool's kernels load from the cache).
    result, pf = tool(data), raw_vectorbt(m)
    units_only()
    same = np.isclose(result.results["total_return"].to_numpy(), pf.total_return().to_numpy(),
                      rtol=1e-12, atol=1e-12)
    has_stop = ~np.isnan(m["sl_stop"][0])
    runs = {"tool": tool, "raw vectorbt": raw_vectorbt, "run_units": units_only}
    args = {"tool": data, "raw vectorbt": m, "run_units": None}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, func in runs.items():
            start = time.perf_counter()
            func() if args[name] is None else func(args[name])
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    load = os.getloadavg()[0]
    print(f"buy_the_dip: {len(m['combos']):,} combinations x {len(m['units'])} event-symbol pairs = "
          f"{m['entries'].shape[1]:,} columns, {m['entries'].shape[0]} sessions each")
    print(f"same total return as raw vectorbt: {same[~has_stop].mean():.1%} of the columns without a stop, "
          f"{same[has_stop].mean():.1%} with one (vectorbt checks a stop from the session after the fill)")
    print(f"medians of {rounds} alternating runs, load average {load:.2f}:")
    print(f"  tool (run_strategy, windows to results table) {med['tool']:.3f} s")
    print(f"  raw vectorbt from_signals                     {med['raw vectorbt']:.3f} s")
    print(f"  run_units (windows already cut)               {med['run_units']:.3f} s")
    ratio = med["tool"] / med["raw vectorbt"]
    print(f"ratio tool / raw vectorbt: {ratio:.2f}x (goal <= 2); "
          f"run_units / raw vectorbt: {med['run_units'] / med['raw vectorbt']:.2f}x")
    return {**med, "ratio": ratio, "load": load}


def measure(repeats: int = 3) -> dict[str, float]:
    """Time one process: import, first call, best warm call (run inside the child process)."""
    start = time.perf_counter()
    import vectorbt  # noqa: F401  (imported here to time it apart from the first call)

    import_s = time.perf_counter() - start
    data = inputs()
    start = time.perf_counter()
    first = tool(data)
    first_s = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        tool(data)
        warm.append(time.perf_counter() - start)
    return {"import_vectorbt": import_s, "first": first_s, "warm": min(warm),
            "columns": float(len(first.results)), "combos": float(len(first.combos)),
            "pairs": float(len(first.units))}


def _child(cache_dir: str, repeats: int) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, __file__, CHILD_FLAG, str(repeats)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold(repeats: int = 3) -> dict[str, float]:
    """Run the cold and the disk-cached process; print and return their timings."""
    with tempfile.TemporaryDirectory(prefix="bench-numba-") as cache_dir:
        empty = _child(cache_dir, repeats)
        cached = _child(cache_dir, repeats)
    print(f"grid {empty['combos']:.0f} combinations x {empty['pairs']:.0f} event-symbol pairs "
          f"= {empty['columns']:.0f} columns")
    print(f"fresh process, EMPTY numba cache: import vectorbt {empty['import_vectorbt']:.2f} s")
    print(f"  first call (compile + run):     {empty['first']:.2f} s")
    print(f"  warm call (best of {repeats}):         {empty['warm']:.2f} s")
    print(f"fresh process, cache filled by the run above: import vectorbt {cached['import_vectorbt']:.2f} s")
    print(f"  first call (cache load + run):  {cached['first']:.2f} s")
    print(f"  warm call (best of {repeats}):         {cached['warm']:.2f} s")
    return {"cold_first": empty["first"], "cold_warm": empty["warm"], "cached_first": cached["first"],
            "cached_warm": cached["warm"], "columns": empty["columns"]}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--rounds", type=int, default=7, help="alternating runs (default 7)")
        parser.add_argument("--cold", action="store_true", help="numba compilation costs instead")
        opts = parser.parse_args()
        cold() if opts.cold else compare(opts.rounds)
