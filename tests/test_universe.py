"""The synthetic universe of benchmarks/universe.py: readable, on-calendar, fat-tailed, with listings."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import universe

from backtest.sources.parquet import ParquetSource


def test_universe_is_a_valid_dataset_with_the_promised_features(tmp_path):
    symbols = universe.write(tmp_path, n_symbols=40, years=3, n_events=6, seed=3)
    source = ParquetSource(tmp_path / "prices")
    assert universe.stock_symbols(tmp_path / "prices") == sorted(symbols) and len(symbols) == 40
    assert {"SPY", "^KS11", "^N225"} <= set(source.symbols())
    assert sum(s.endswith(".KS") for s in symbols) == 10 and sum(s.endswith(".T") for s in symbols) == 6
    bars = {s: source.load(s) for s in symbols}  # validated and calendar-checked on load (warnings = errors)
    firsts = pd.Series({s: b.index[0] for s, b in bars.items()})
    lasts = pd.Series({s: b.index[-1] for s, b in bars.items()})
    assert (firsts > firsts.min() + pd.Timedelta(days=30)).any()  # some list late
    assert (lasts < lasts.max() - pd.Timedelta(days=30)).any()  # some delist early
    returns = np.concatenate([b["close"].pct_change().dropna().to_numpy() for b in bars.values()])
    # t(4) innovations: excess kurtosis well above a normal's 0 (its standard error here is ~0.05)
    assert stats.kurtosis(returns) > 1.0
    table = pd.read_csv(tmp_path / "events.csv")
    assert len(table) == 6 and set(table["kind"]) <= {"shock", "relief"}


def test_same_seed_same_bars(tmp_path):
    for name in ("a", "b"):
        universe.write(tmp_path / name, n_symbols=5, years=2, n_events=2, seed=1)
    a, b = ParquetSource(tmp_path / "a" / "prices"), ParquetSource(tmp_path / "b" / "prices")
    assert a.symbols() == b.symbols()
    for symbol in a.symbols():
        pd.testing.assert_frame_equal(a.load(symbol), b.load(symbol))
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()
