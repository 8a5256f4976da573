"""Benchmark: the block-wise event-study engine against the numpy floor, and its scaling.

Synthetic market-model data: events of 100 instruments sharing the market days, 250-day
estimation windows (-260..-11), event window -5..+20, five CAR windows, a -2 % day-0 shock,
0.5 % missing returns; events 40 sessions apart so their estimation windows overlap (the
Kolari-Pynnonen r-bar aligns them on calendar days).

``python benchmarks/bench_study.py [--pairs 10000] [--rounds 7]``
    Engine (:func:`backtest.study.block.run_blocks` + :func:`backtest.study.scope_tests.tests_table`:
    fit, ARs, CARs with the full variance, BHARs, ranks, all eight tests and the four classic
    ones (Brown-Warner 1980, Lamb, sign, rank-sign) for every event and the pooled scope, with the
    Holm/BH columns) against the floor (:mod:`floor`: OLS market model, ARs, CARs, their
    variance and t only), run alternately A B A B in one process; medians and their ratio.
``python benchmarks/bench_study.py --scale [--sizes 1000 10000 100000 1000000]``
    Each size in a fresh process: engine time (data generation excluded: blocks are generated
    one at a time and only the engine calls are timed) and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from floor import floor
from timing import alternating_medians

from backtest.study.block import BlockInput, BlockSpec, run_blocks, slices, study_block
from backtest.study.panel import event_pools
from backtest.study.scope_tests import tests_table
from backtest.study.sufficient import combine

PAIRS_PER_EVENT = 100
ESTIMATION, EVENT = (-260, -11), (-5, 20)
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5), (0, 20))
CAR_COLS = tuple((a - EVENT[0], b - EVENT[0]) for a, b in CAR_WINDOWS)
LABELS = [f"[{a},{b}]" for a, b in CAR_WINDOWS]
SPEC = BlockSpec("market", 60, CAR_COLS, "simple", -EVENT[0])
EVENTS_PER_BLOCK = 20  # 2,000 pairs


def synthetic(first_event: int, n_events: int) -> BlockInput:
    """Pairs of events ``first_event ..``: returns, market, event codes, estimation day numbers."""
    rng = np.random.default_rng(first_event)
    n = n_events * PAIRS_PER_EVENT
    l1, l2 = ESTIMATION[1] - ESTIMATION[0] + 1, EVENT[1] - EVENT[0] + 1
    market = np.repeat(rng.normal(0.0003, 0.01, (n_events, l1 + l2)), PAIRS_PER_EVENT, axis=0)
    beta = rng.uniform(0.5, 1.8, (n, 1))
    stock = 0.0002 + beta * market + rng.normal(0.0, 0.02, (n, l1 + l2))
    stock[:, l1 - EVENT[0]] -= 0.02
    stock[rng.random(stock.shape) < 0.005] = np.nan
    scope = np.repeat(np.arange(first_event, first_event + n_events), PAIRS_PER_EVENT)
    est_days = (scope * 40)[:, None] + np.arange(l1)[None, :]  # session numbers, 40 apart
    x = market[..., None]
    return BlockInput(stock[:, :l1], x[:, :l1], stock[:, l1:], x[:, l1:], scope, est_days.astype(np.int64))


def engine(data: BlockInput) -> pd.DataFrame:
    """The engine on one panel: blocks of 2,048 pairs, reduction, all tests."""
    def blocks():
        for b in slices(len(data.scope)):
            yield BlockInput(data.est_r[b], data.est_x[b], data.evt_r[b], data.evt_x[b], data.scope[b],
                             data.est_days[b])
    stats, cars = run_blocks(blocks(), SPEC, lambda block: block.computed.car)
    n_events = int(data.scope.max()) + 1
    table, _ = tests_table(stats, [f"e{i}" for i in range(n_events)], event_pools(data.scope, n_events, None),
                           np.concatenate(cars), data.scope, CAR_COLS, LABELS)
    return table


def compare(pairs: int, rounds: int) -> dict:
    data = synthetic(0, pairs // PAIRS_PER_EVENT)
    runs = {"engine": lambda: engine(data),
            "floor": lambda: floor(data.est_r, data.est_x[..., 0], data.evt_r, data.evt_x[..., 0], CAR_COLS)}
    med = alternating_medians(runs, rounds)
    return {"pairs": pairs, "engine_s": med["engine"], "floor_s": med["floor"],
            "ratio": med["engine"] / med["floor"], "pairs_per_s": pairs / med["engine"]}


def scale_child(pairs: int) -> dict:
    n_events = pairs // PAIRS_PER_EVENT
    elapsed, parts, cars, scopes = 0.0, [], [], []
    for first in range(0, n_events, EVENTS_PER_BLOCK):
        data = synthetic(first, min(EVENTS_PER_BLOCK, n_events - first))
        start = time.perf_counter()
        block = study_block(data, SPEC)
        elapsed += time.perf_counter() - start
        parts.append(block.stats)
        cars.append(block.computed.car)
        scopes.append(data.scope)
        del block, data
    start = time.perf_counter()
    stats = combine(parts)
    scope = np.concatenate(scopes)
    tests_table(stats, [f"e{i}" for i in range(n_events)], event_pools(scope, n_events, None),
                np.concatenate(cars), scope, CAR_COLS, LABELS)
    elapsed += time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"pairs": pairs, "engine_s": elapsed, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(scale_child(args.child)))
        return
    if not args.scale:
        res = compare(args.pairs, args.rounds)
        print(f"{res['pairs']:,} pairs, all tests: engine {res['engine_s']:.3f} s "
              f"({res['pairs_per_s']:,.0f} pairs/s), numpy floor {res['floor_s']:.3f} s, "
              f"ratio {res['ratio']:.1f}x (medians of {args.rounds} alternating runs)")
        return
    rows = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size)], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout))
        r = rows[-1]
        print(f"{r['pairs']:>9,} pairs: engine {r['engine_s']:7.2f} s, "
              f"{r['pairs'] / r['engine_s']:>9,.0f} pairs/s, peak memory {r['peak_mb']:7.0f} MB", flush=True)
    by = {r["pairs"]: r for r in rows}
    if 100_000 in by and 1_000_000 in by:
        ratio = by[1_000_000]["engine_s"] / (10 * by[100_000]["engine_s"])
        print(f"1M time / (10 x 100k time) = {ratio:.2f} (linear = 1.00)")


if __name__ == "__main__":
    main()
