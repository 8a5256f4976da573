"""Input checks of ``study_returns`` and what ``backtest study`` shows (CAAR, factor betas, r̄)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.cli import main
from backtest.errors import BacktestWarning, DataWarning
from backtest.study import study_returns


def panel(scale: float) -> tuple[pd.DataFrame, pd.Series]:
    days = pd.bdate_range("2024-01-01", periods=120)
    rng = np.random.default_rng(2)
    mkt = pd.Series(rng.normal(0, 0.01, 120), index=days) * scale
    stock = pd.DataFrame({"A": 1.2 * mkt + rng.normal(0, 0.015, 120) * scale}, index=days)
    return stock, mkt


def test_percent_returns_warn():
    # the same returns in percent: median |r| of N(0, 1.8 %) in percent units is about
    # 0.67 * 1.8 = 1.2 > 0.2, in fractions 0.012 (no warning)
    stock, mkt = panel(100.0)
    with pytest.warns(DataWarning, match=r"returns: the median \|return\| is .* look like percent"):
        study_returns(stock, mkt / 100, estimation=(-100, -11), event=(-5, 5), event_date=stock.index[110],
                      car_windows=[(0, 0)])
    with pytest.warns(DataWarning, match="market: .* look like percent"):
        study_returns(stock / 100, mkt, estimation=(-100, -11), event=(-5, 5), event_date=stock.index[110],
                      car_windows=[(0, 0)])
    stock, mkt = panel(1.0)
    res = study_returns(stock, mkt, estimation=(-100, -11), event=(-5, 5), event_date=stock.index[110],
                        car_windows=[(0, 0)])  # fractions: no warning (pytest errors on one)
    assert len(res.car) == 1


def test_cli_shows_caar_factor_betas_and_rbar(capsys):
    # SOXX enters each KRX session with its last close before that session's close, so it has a
    # return on KRX sessions after a US holiday too (e.g. 2025-02-18 after Presidents' Day)
    # (the CLI prints BacktestWarnings as "warning: ..." lines on stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("always", BacktestWarning)
        code = main(["study", "--event", "deepseek_r1", "--symbols", "NVDA", "000660.KS", "005930.KS",
                     "--model", "factor", "--factors", "SOXX", "--car", "0:0,0:5"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0
    assert "missing returns in the event window" not in captured.err
    assert "beta market" in out and "beta SOXX" in out
    assert "CAAR" in out and "N (CARs)" in out
    assert "bmp_kp (r̄ " in out
    assert "exact Wilcoxon(3)" in out and "Binomial(3, " in out
