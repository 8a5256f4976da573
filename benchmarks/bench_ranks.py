"""Benchmark: the Corrado ranks of one block, the compiled pass against a numpy argsort.

One block of 2,048 pairs x 276 days (250 estimation + 26 event days), 0.5 % missing.
A: the compiled pass (:mod:`backtest.study.ranks_compiled`: int64 keys sorted as values, one
compiled pass for the exact order, tied runs and ``U = K / (M + 1)``), what a large study uses.
B: what it replaced, a row-wise ``np.argsort``, a scatter of ``1..L`` and ``scipy.stats.rankdata``
on the rows with ties. C: the numpy way a small job uses (:func:`backtest.study.ranks._ranks_sorted`,
until a process has ranked ``NUMPY_BUDGET`` entries). All results are checked equal first; runs
alternate A B C A B C; medians and the ratios.

``python benchmarks/bench_ranks.py [--rounds 11]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from timing import alternating_medians

from backtest.study import ranks_compiled
from backtest.study.ranks import _ranks_sorted


def argsort_ranks(a: np.ndarray) -> np.ndarray:
    valid = np.isfinite(a)
    order = np.argsort(np.where(valid, a, np.inf), axis=1)
    srt = np.take_along_axis(a, order, axis=1)
    ranks = np.empty_like(a)
    ranks[np.arange(a.shape[0])[:, None], order] = np.arange(1.0, a.shape[1] + 1)
    tied = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
    if tied.any():
        ranks[tied] = stats.rankdata(np.where(valid[tied], a[tied], np.nan), axis=1, nan_policy="omit")
    return np.where(valid, ranks, np.nan) / (valid.sum(axis=1)[:, None] + 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.02, (2048, 276))
    a[rng.random(a.shape) < 0.005] = np.nan
    compiled = ranks_compiled.ranks(a, True)
    if not (np.array_equal(compiled, argsort_ranks(a), equal_nan=True)
            and np.array_equal(compiled, _ranks_sorted(a, True), equal_nan=True)):
        raise SystemExit("the rankings differ")
    runs = {"compiled": lambda: ranks_compiled.ranks(a, True), "argsort": lambda: argsort_ranks(a),
            "numpy": lambda: _ranks_sorted(a, True)}
    med = alternating_medians(runs, args.rounds)
    print(f"2,048 x 276 ranks: compiled {med['compiled'] * 1e3:.1f} ms, numpy argsort "
          f"{med['argsort'] * 1e3:.1f} ms ({med['argsort'] / med['compiled']:.1f}x), the small jobs' "
          f"numpy way {med['numpy'] * 1e3:.1f} ms ({med['numpy'] / med['compiled']:.1f}x) "
          f"(medians of {args.rounds} alternating runs)")


if __name__ == "__main__":
    main()
