"""The whole return history of each event x instrument pair, for inference beyond the windows.

The study itself only reads the estimation and event windows around day 0. Placebo dates,
the bootstrap and the calendar-time portfolio need the rest of each instrument's history:
:func:`pair_history` lays it out as arrays ``(n_pairs, T)`` on each pair's own exchange
sessions (the same returns, benchmarks and factors as :func:`~backtest.study.event_study`),
and :func:`gather` cuts windows at any day-0 positions without a Python loop per date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import StudyError
from backtest.study.engine import _benchmarks
from backtest.study.returns import returns_panel


@dataclass(frozen=True)
class PairHistory:
    """Returns of ``n`` pairs over their whole history (padded with NaN / NaT to ``T``).

    Attributes
    ----------
    event_id, symbol, calendar : (n,) object
    returns : (n, T) float — the pair's own returns on its exchange's sessions
    regressors : (n, T, k) float — market (the pair's benchmark) first, then the factors
    dates : (n, T) datetime64[ns] — the sessions (NaT past the pair's calendar)
    day0 : (n,) int — position of the event's reaction session
    est_returns : (n, T) float — ``returns`` with the sessions near any event of the symbol
        left out (NaN), as the study leaves them out of every estimation window
        (``exclude_events``); estimation windows read this one
    """

    event_id: np.ndarray
    symbol: np.ndarray
    calendar: np.ndarray
    returns: np.ndarray
    regressors: np.ndarray
    dates: np.ndarray
    day0: np.ndarray
    est_returns: np.ndarray

    def take(self, rows: np.ndarray) -> PairHistory:
        """The pairs at ``rows``."""
        return PairHistory(*(getattr(self, f)[rows] for f in PairHistory.__dataclass_fields__))


def pair_history(prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame,
                 calendars: ExchangeCalendars, settings: Mapping,
                 other_events: pd.DataFrame | None = None) -> PairHistory:
    """Whole-history arrays of the pairs in ``alignment`` under a study's ``settings``.

    ``settings`` is :attr:`EventStudyResult.settings` of a prices-level study (model,
    benchmarks, factors, return_kind, exclude_events); the regressors follow the study's
    (market first), read on the instrument's own session dates. ``other_events``: every
    event x symbol of the events file (default ``alignment``), whose neighbourhoods
    (``exclude_events``) are left out of estimation windows.
    """
    if settings.get("source", "prices") != "prices":
        raise StudyError("placebo, bootstrap and calendar-time inference need a prices-level study "
                         "(event_study), not study_returns")
    align = alignment.reset_index(drop=True)
    model = settings.get("model", "market")
    factors = list(settings.get("factors") or ()) if model == "factor" else []
    symbols = [str(s) for s in align["symbol"]]
    bench = _benchmarks(symbols, settings.get("benchmarks") or None, model)
    kind = settings.get("return_kind", "simple")
    n = len(align)
    sessions = {str(c): calendars.sessions(str(c)) for c in align["calendar"].unique()}
    t_max = max(len(s) for s in sessions.values())
    k = 1 + len(factors)
    r, x = np.full((n, t_max), np.nan), np.full((n, t_max, k), np.nan)
    dates = np.full((n, t_max), np.datetime64("NaT"), dtype="datetime64[ns]")
    day0 = np.zeros(n, dtype=int)
    for calendar, rows in align.groupby("calendar", sort=False).groups.items():
        idx = np.asarray(rows)
        days = sessions[str(calendar)]
        names = list(dict.fromkeys([symbols[i] for i in idx] + [bench[i] for i in idx if bench[i]]
                                   + factors))
        panel = returns_panel(prices, names, days, kind)
        t = len(days)
        day0[idx] = days.get_indexer(pd.DatetimeIndex(pd.to_datetime(align.loc[idx, "reaction_session"])))
        dates[idx, :t] = days.to_numpy()
        for i in idx:
            r[i, :t] = panel[symbols[i]].to_numpy()
            if bench[i]:
                x[i, :t, 0] = panel[bench[i]].to_numpy()
            for j, f in enumerate(factors, start=1):
                x[i, :t, j] = panel[f].to_numpy()
    est_returns = r.copy()
    around = settings.get("exclude_events")
    if around is not None:
        others = align if other_events is None else other_events
        for i in range(n):  # per pair: a handful
            days = sessions[str(align.loc[i, "calendar"])]
            mine = others[(others["symbol"].astype(str) == symbols[i])
                          & (others["calendar"].astype(str) == str(align.loc[i, "calendar"]))]
            for q in days.get_indexer(pd.DatetimeIndex(pd.to_datetime(mine["reaction_session"]))):
                if q >= 0:
                    est_returns[i, max(0, q + around[0]) : max(0, q + around[1] + 1)] = np.nan
    if (day0 < 0).any():
        raise StudyError("a reaction session is not a session of its calendar; rebuild the alignment "
                         "with the same calendars")
    return PairHistory(align["event_id"].astype(str).to_numpy(dtype=object),
                       np.array(symbols, dtype=object),
                       align["calendar"].astype(str).to_numpy(dtype=object), r, x, dates, day0,
                       est_returns)


def gather(values: np.ndarray, pos: np.ndarray, first: int, last: int) -> np.ndarray:
    """Windows ``[pos + first, pos + last]`` of each pair's series, NaN outside it.

    Parameters
    ----------
    values : (n, T) or (n, T, k) array
    pos : (n, D) int — day-0 positions (one column per date)

    Returns
    -------
    (n, D, L) or (n, D, L, k) array, ``L = last - first + 1``

    >>> gather(np.array([[1.0, 2.0, 3.0]]), np.array([[0, 2]]), -1, 0).tolist()
    [[[nan, 1.0], [2.0, 3.0]]]
    """
    t = values.shape[1]
    rows = pos[..., None] + np.arange(first, last + 1)  # (n, D, L)
    inside = (rows >= 0) & (rows < t)
    clipped = np.clip(rows, 0, t - 1)
    taken = values[np.arange(values.shape[0])[:, None, None], clipped]
    mask = inside if values.ndim == 2 else inside[..., None]
    return np.where(mask, taken, np.nan)
