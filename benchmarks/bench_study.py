"""Benchmark: the event-study core on 10,000 event x instrument pairs (synthetic data).

Market model on 250-day estimation windows (-260..-11), event window -5..+20, five CAR
windows, abnormal returns, CARs with the full prediction-error variance, BHARs and all
eight cross-sectional tests for 100 events x 100 instruments (plus the pooled scope).
No Python loop runs per pair: ``compute`` works on (n_pairs, n_days) arrays and the
tests loop over scopes (events) and windows only.

Run: ``python benchmarks/bench_study.py`` (prints first-call and best warm time).
Goal: under 0.25 s warm on a 2-core machine.
"""

from __future__ import annotations

import time

import numpy as np

from backtest.study.panel import compute, scope_tests

N_EVENTS, N_INSTRUMENTS = 100, 100
ESTIMATION, EVENT = (-260, -11), (-5, 20)
CAR_WINDOWS = ((0, 0), (0, 1), (-1, 1), (0, 5), (0, 20))


def synthetic(seed: int = 0) -> tuple[np.ndarray, ...]:
    """Market-model returns with a -2 % day-0 shock and 0.5 % missing returns."""
    rng = np.random.default_rng(seed)
    n = N_EVENTS * N_INSTRUMENTS
    l1, l2 = ESTIMATION[1] - ESTIMATION[0] + 1, EVENT[1] - EVENT[0] + 1
    market = rng.normal(0.0003, 0.01, (N_EVENTS, l1 + l2))
    market = np.repeat(market, N_INSTRUMENTS, axis=0)  # pairs of an event share the market days
    beta = rng.uniform(0.5, 1.8, (n, 1))
    stock = 0.0002 + beta * market + rng.normal(0.0, 0.02, (n, l1 + l2))
    stock[:, l1 - EVENT[0]] -= 0.02
    stock[rng.random(stock.shape) < 0.005] = np.nan
    event_id = np.repeat(np.array([f"e{i}" for i in range(N_EVENTS)], dtype=object), N_INSTRUMENTS)
    x = market[..., None]
    # Calendar dates of the estimation days (Kolari-Pynnonen rbar aligns on them); events are
    # 40 sessions apart, so their estimation windows overlap as in a real sample.
    days = np.busday_offset("2010-01-04", np.arange(N_EVENTS * 40 + l1), roll="forward")
    start = np.repeat(np.arange(N_EVENTS) * 40, N_INSTRUMENTS)
    est_dates = days[start[:, None] + np.arange(l1)[None, :]].astype("datetime64[ns]")
    return event_id, stock[:, :l1], x[:, :l1], stock[:, l1:], x[:, l1:], est_dates


def run(event_id: np.ndarray, est_r: np.ndarray, est_x: np.ndarray, evt_r: np.ndarray,
        evt_x: np.ndarray, est_dates: np.ndarray) -> None:
    cols = [(a - EVENT[0], b - EVENT[0]) for a, b in CAR_WINDOWS]
    out = compute(est_r, est_x, evt_r, evt_x, model="market", min_estimation=60, car_cols=cols,
                  day0_col=-EVENT[0])
    scope_tests(event_id, out, cols, [str(w) for w in CAR_WINDOWS], est_dates)


def main() -> None:
    data = synthetic()
    start = time.perf_counter()
    run(*data)
    first = time.perf_counter() - start
    warm = []
    for _ in range(7):
        start = time.perf_counter()
        run(*data)
        warm.append(time.perf_counter() - start)
    n = N_EVENTS * N_INSTRUMENTS
    print(f"{n} pairs, estimation {ESTIMATION}, event window {EVENT}, {len(CAR_WINDOWS)} CAR windows")
    print(f"first call: {first:.3f} s; warm: best {min(warm):.3f} s, median {sorted(warm)[3]:.3f} s")


if __name__ == "__main__":
    main()
