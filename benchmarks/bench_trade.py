"""Benchmark: buy_the_dip over a 1,000-combination grid x 4 symbols x 4 events (16,000 columns).

Run: ``python benchmarks/bench_trade.py``. Prints the first call (includes numba
compilation of vectorbt's simulator, which vectorbt does not cache on disk) and
the best of several warm calls. Goal: warm under 2 s.

Setting NUMBA_CACHE_DIR (as tests/conftest.py does) keeps the compiled helpers
that vectorbt marks ``cache=True`` between processes; ``simulate_from_signal_func_nb``
takes function arguments and is compiled again in every new process.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))


def main(repeats: int = 3) -> dict[str, float]:
    import numpy as np

    from backtest.alignment import align_symbols
    from backtest.calendars import ExchangeCalendars
    from backtest.errors import BacktestWarning
    from backtest.events import load_events
    from backtest.instruments import DEFAULT_TARGETS, get_instrument
    from backtest.sources import load_prices
    from backtest.trade import run_strategy

    symbols = list(DEFAULT_TARGETS)
    prices = load_prices(symbols + sorted({get_instrument(s).benchmark for s in symbols}))
    calendars = ExchangeCalendars.from_prices(prices)
    alignment = align_symbols(load_events(), calendars, symbols)
    grid = {
        "hold": list(range(1, 11)),
        "threshold": [round(float(x), 3) for x in np.linspace(0.01, 0.10, 10)],
        "stop": [None] + [round(float(x), 3) for x in np.linspace(0.02, 0.18, 9)],
    }
    n_combos = int(np.prod([len(v) for v in grid.values()]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BacktestWarning)  # short data windows of the 2026 event
        start = time.perf_counter()
        first = run_strategy("buy_the_dip", prices, alignment, calendars, grid=grid)
        first_s = time.perf_counter() - start
        warm = []
        for _ in range(repeats):
            start = time.perf_counter()
            run_strategy("buy_the_dip", prices, alignment, calendars, grid=grid)
            warm.append(time.perf_counter() - start)
    pairs = alignment[["event_id", "symbol"]].drop_duplicates().shape[0]
    print(f"grid {n_combos} combinations x {pairs} event-symbol pairs = {len(first.results)} columns")
    print(f"first call (numba compile + run): {first_s:.2f} s")
    print(f"warm call (best of {repeats}):          {min(warm):.2f} s  (goal < 2 s)")
    return {"first": first_s, "warm": min(warm), "columns": float(len(first.results))}


if __name__ == "__main__":
    main()
