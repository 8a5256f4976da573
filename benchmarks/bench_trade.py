"""Benchmark: buy_the_dip over a 1,000-combination grid x 4 symbols x 4 events (16,000 columns).

Run: ``python benchmarks/bench_trade.py``. The simulation goes through vectorbt's
``Portfolio.from_orders`` plus a small stop kernel (:mod:`backtest.trading.stops`),
both numba-compiled with ``cache=True``: the first call of a process compiles them
unless ``NUMBA_CACHE_DIR`` already holds the compiled code. To show both costs the
script runs the measurement twice, each time in a fresh Python process, with
``NUMBA_CACHE_DIR`` set to a new, empty temporary directory:

1. **cold**: first call with an empty numba cache (everything is compiled and written
   to the cache), then the best of several warm calls in that process;
2. **disk-cached**: a second fresh process on the cache the first one filled (what every
   later ``backtest trade`` / ``backtest run`` pays).

Printed: import time of vectorbt, first-call time of each process and the warm time
(best of ``repeats``). Goal: warm under 2 s. The temporary cache is deleted at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

CHILD_FLAG = "--child"


def measure(repeats: int = 3) -> dict[str, float]:
    """Time one process: import, first call, best warm call (run inside the child process)."""
    import numpy as np

    start = time.perf_counter()
    import vectorbt  # noqa: F401  (imported here to time it apart from the first call)

    import_s = time.perf_counter() - start

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
    return {
        "import_vectorbt": import_s,
        "first": first_s,
        "warm": min(warm),
        "columns": float(len(first.results)),
        "combos": float(len(first.combos)),
        "pairs": float(len(first.units)),
    }


def _child(cache_dir: str, repeats: int) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, __file__, CHILD_FLAG, str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(repeats: int = 3) -> dict[str, float]:
    """Run the cold and the disk-cached process; print and return their timings."""
    with tempfile.TemporaryDirectory(prefix="bench-numba-") as cache_dir:
        cold = _child(cache_dir, repeats)
        cached = _child(cache_dir, repeats)
    print(
        f"grid {cold['combos']:.0f} combinations x {cold['pairs']:.0f} event-symbol pairs "
        f"= {cold['columns']:.0f} columns"
    )
    print(f"fresh process, EMPTY numba cache: import vectorbt {cold['import_vectorbt']:.2f} s")
    print(f"  first call (compile + run):     {cold['first']:.2f} s")
    print(f"  warm call (best of {repeats}):         {cold['warm']:.2f} s  (goal < 2 s)")
    print(f"fresh process, cache filled by the run above: import vectorbt {cached['import_vectorbt']:.2f} s")
    print(f"  first call (cache load + run):  {cached['first']:.2f} s")
    print(f"  warm call (best of {repeats}):         {cached['warm']:.2f} s")
    return {
        "cold_first": cold["first"],
        "cold_warm": cold["warm"],
        "cached_first": cached["first"],
        "cached_warm": cached["warm"],
        "columns": cold["columns"],
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main()
