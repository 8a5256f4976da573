"""Alternating timings: runs A B A B … in one process, so every side sees the same load."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def alternating_medians(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per named run over ``rounds`` alternating rounds (one warm-up call each)."""
    for run in runs.values():
        run()  # warm-up: imports, compilation, first-call costs
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
