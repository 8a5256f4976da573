"""Per-column performance statistics; every column is reported on its own, never averaged here.

Evaluation span of a column: the sessions after the reaction session
(rel_day 1 .. last session with data), ``n`` sessions. The value is 1 (the
initial cash) at the reaction close, before any fill, so a ``fill="close"``
entry's fee lands in the first session's return and ``prod(1 + r_t) - 1`` is
the total return.

Formulas (``A = 252`` sessions a year, ``r_t`` daily returns of the value):

* total return ``R = V_n / V_0 - 1``; annualized ``(1 + R)^(A / n) - 1``;
* Sharpe ``mean(r) / std(r, ddof=1) * sqrt(A)`` (Sharpe 1994, J. Portfolio
  Management 21(1)); Sortino ``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(A)``
  (Sortino & Price 1994), both vectorbt's (``vectorbt.returns.dispatch``, what its
  returns accessor calls with ``freq="1D"``, ``year_freq="252 days"``); NaN when
  undefined (no variation);
* max drawdown ``min_t(V_t / max_{s<=t} V_s - 1)`` (a fraction <= 0);
* exposure: share of the ``n`` sessions with a position at some time in the session;
* win rate and average trade over the column's trades (an open trade is valued
  at the last close); NaN for a column without trades.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ANNUALIZATION = 252


def daily_returns(value: np.ndarray, init: np.ndarray, reaction: int, n_valid: np.ndarray) -> np.ndarray:
    """Returns of sessions ``reaction + 1 .. n_valid - 1`` per column; NaN on padding rows.

    >>> v = np.array([[1.0], [0.99], [1.1], [1.1]])
    >>> daily_returns(v, np.array([1.0]), 1, np.array([3])).round(4)[:, 0].tolist()
    [0.1, nan]
    """
    v = value[reaction:].copy()
    v[0] = init
    with np.errstate(invalid="ignore", divide="ignore"):
        r = v[1:] / v[:-1] - 1.0
    rows = reaction + 1 + np.arange(r.shape[0])[:, None]
    r[rows >= n_valid[None, :]] = np.nan
    return r


def performance(
    value: np.ndarray, init: np.ndarray, held: np.ndarray, reaction: int, n_valid: np.ndarray
) -> pd.DataFrame:
    """Total/annualized return, Sharpe, Sortino, max drawdown and exposure, one row per column."""
    from vectorbt.returns import dispatch

    m = value.shape[1]
    cols = np.arange(m)
    n = n_valid - reaction - 1
    total = value[n_valid - 1, cols] / init - 1.0
    returns = daily_returns(value, init, reaction, n_valid)
    # vectorbt's returns accessor (freq 1D, year_freq 252 days) without its pandas wrapping.
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = dispatch.sharpe_ratio(returns, float(ANNUALIZATION), 0.0, 1)
        sortino = dispatch.sortino_ratio(returns, float(ANNUALIZATION), 0.0)
        sharpe[~np.isfinite(sharpe)] = np.nan
        sortino[~np.isfinite(sortino)] = np.nan
    path = value[reaction:].copy()
    path[0] = init
    rows = reaction + np.arange(path.shape[0])[:, None]
    path[rows >= n_valid[None, :]] = np.nan
    drawdown = np.nanmin(path / np.fmax.accumulate(path, axis=0) - 1.0, axis=0)
    in_span = (np.arange(held.shape[0])[:, None] > reaction) & (np.arange(held.shape[0])[:, None] < n_valid)
    exposure = (held & in_span).sum(axis=0) / n
    with np.errstate(invalid="ignore"):  # a short losing more than the cash: 1 + R < 0 -> NaN
        annualized = np.power(1.0 + total, ANNUALIZATION / n) - 1.0
    return pd.DataFrame(
        {
            "total_return": total,
            "annualized_return": annualized,
            "sharpe": sharpe,
            "sortino": sortino,
            "max_drawdown": drawdown,
            "exposure": exposure,
            "sessions": n,
        }
    )


def trade_stats(col: np.ndarray, pnl: np.ndarray, ret: np.ndarray, n_columns: int) -> pd.DataFrame:
    """Number of trades, win rate (share with pnl > 0) and mean trade return per column.

    >>> trade_stats(np.array([0, 0, 2]), np.array([1.0, -1.0, 2.0]), np.array([0.1, -0.05, 0.2]), 3)
       n_trades  win_rate  avg_trade
    0         2       0.5      0.025
    1         0       NaN        NaN
    2         1       1.0      0.200
    """
    count = np.bincount(col, minlength=n_columns)
    wins = np.bincount(col, weights=(pnl > 0).astype(float), minlength=n_columns)
    total = np.bincount(col, weights=ret, minlength=n_columns)
    safe = np.where(count > 0, count, 1)
    return pd.DataFrame(
        {
            "n_trades": count,
            "win_rate": np.where(count > 0, wins / safe, np.nan),
            "avg_trade": np.where(count > 0, total / safe, np.nan),
        }
    )
