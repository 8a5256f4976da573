"""Benchmark: the public ``study_returns`` against PyPI ``eventstudy`` on the same data.

Not a test dependency: install the peer to run it (``pip install eventstudy``); without it the
script times ``study_returns`` alone. The same returns panel goes to both: ``--pairs``
instruments (one event date each, spread over the panel) against one market series, market
model on 250 estimation days ending 11 days before the event, event window -5..+20.

* ``study_returns``: fit, ARs, CARs with the full prediction-error variance, BHARs, all eight
  cross-sectional tests and the four classic ones (Brown-Warner 1980, Lamb, sign, rank-sign)
  with the Holm/BH columns, the tidy tables (abnormal returns, CARs, fits, tests, AAR).
* ``eventstudy.Single.market_model`` per instrument: OLS, ARs, CAR, its variance, t and p
  (no cross-sectional tests, no tables).

Runs alternate A B A B in one process; printed: medians and the ratio. The trade-grid
comparison with backtesting.py and raw vectorbt is ``bench_trade.py``.

``python benchmarks/bench_peers.py [--pairs 10000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from timing import alternating_medians

from backtest.study import study_returns

ESTIMATION, EVENT = (-260, -11), (-5, 20)
N_ROWS = 1_000


def panel(pairs: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, dict[str, pd.Timestamp]]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=N_ROWS)
    market = rng.normal(0.0003, 0.01, N_ROWS)
    beta = rng.uniform(0.5, 1.8, pairs)
    returns = 0.0002 + market[:, None] * beta[None, :] + rng.normal(0.0, 0.02, (N_ROWS, pairs))
    names = [f"S{i}" for i in range(pairs)]
    day0 = rng.integers(300, N_ROWS - 30, pairs)  # every window inside the panel
    returns[day0, np.arange(pairs)] -= 0.02
    frame = pd.DataFrame(returns, index=dates, columns=names)
    return frame, pd.Series(market, index=dates, name="MKT"), dict(zip(names, dates[day0], strict=True))


def ours(returns: pd.DataFrame, market: pd.Series, day0: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study_returns(returns, market, estimation=ESTIMATION, event=EVENT, event_date=day0,
                      car_windows=[(0, 0), (0, 1), (-1, 1), (0, 5), (0, 20)])


def peer_runner(returns: pd.DataFrame, market: pd.Series, day0: dict):
    import eventstudy as es

    data = {"date": returns.index.to_numpy().astype("datetime64[D]"), "MKT": market.to_numpy()}
    data.update({name: returns[name].to_numpy() for name in returns.columns})
    es.Single._save_parameter("returns", data)
    dates = {name: np.datetime64(day.date()) for name, day in day0.items()}
    buffer = EVENT[0] - ESTIMATION[1] - 1  # days between the estimation and the event window
    size = ESTIMATION[1] - ESTIMATION[0] + 1

    def run() -> None:
        for name, date in dates.items():
            es.Single.market_model(security_ticker=name, market_ticker="MKT", event_date=date,
                                   event_window=EVENT, estimation_size=size, buffer_size=buffer)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    returns, market, day0 = panel(args.pairs)
    runs = {"study_returns": lambda: ours(returns, market, day0)}
    try:
        runs["eventstudy"] = peer_runner(returns, market, day0)
    except ImportError:
        print("PyPI eventstudy is not installed: timing study_returns alone (pip install eventstudy)")
    med = alternating_medians(runs, args.rounds)
    text = ", ".join(f"{name} {value:.3f} s" for name, value in med.items())
    print(f"{args.pairs:,} pairs (medians of {args.rounds} alternating runs): {text}")
    if "eventstudy" in med:
        print(f"study_returns is {med['eventstudy'] / med['study_returns']:.1f}x faster than eventstudy")


if __name__ == "__main__":
    main()
