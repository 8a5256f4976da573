"""Placebo (randomization) inference: how unusual was the event day for these instruments?

Every statistic of the study (day-0 AR, CAR per window, CAAR and the cross-sectional test
statistics) is recomputed on every eligible non-event date of the instruments' own history,
with the same model re-fitted on that date's own estimation window and the same windows.
The event's value is then ranked among them. Cross-correlation, fat tails and volatility
clustering are in the placebo distribution by construction: nothing is assumed about them.

All dates are computed at once: the windows of ``n`` pairs x ``D`` dates are laid out as
``n * D`` pseudo-pairs and go through :func:`backtest.study.panel.compute` (the study's own
numerics); the test statistics reduce over the pairs of each date in one vectorized step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.study import classics
from backtest.study import statistics as st
from backtest.study.history import PairHistory, gather
from backtest.study.panel import Computed, compute
from backtest.study.windows import Window, window_label

#: Test statistics with a placebo distribution (bmp_kp: see :func:`date_statistics`).
PLACEBO_TESTS: tuple[str, ...] = (
    "cross_sectional_t", "brown_warner", "patell_z", "bmp", "corrado_rank", "generalized_sign",
    "wilcoxon", "brown_warner_1980", "lamb", "sign", "rank_sign",
)


@dataclass(frozen=True)
class PlaceboDraws:
    """One event's statistics on its own date (column 0) and on every eligible placebo date.

    ``dates`` ``(1 + D,)`` day 0 of the first pair; ``ar0`` ``(n, 1 + D)``; ``car`` ``(n, 1 + D, W)``;
    ``tests`` maps ``"caar"`` and each name of :data:`PLACEBO_TESTS` to ``(1 + D, W)``.
    """

    symbols: np.ndarray
    dates: np.ndarray
    ar0: np.ndarray
    car: np.ndarray
    tests: dict[str, np.ndarray]
    n_events: int = 1  # leading columns that are events (a joint run of events sharing pairs)


def candidate_positions(history: PairHistory, evt: Window) -> tuple[np.ndarray, np.ndarray]:
    """Day-0 positions ``(n, D)`` of every candidate placebo date, and the dates ``(D,)``.

    A candidate date is any session of any of the pairs' exchanges; each pair's day 0 is its
    own first session on or after that date (the reaction-session rule for news before the
    open). Dates giving the same positions for all pairs count once. Dates whose event window
    overlaps the event window of any event of the study for that symbol are left out.
    """
    all_dates = np.unique(history.dates[~np.isnat(history.dates)])
    pos = np.empty((len(history.symbol), len(all_dates)), dtype=int)
    for i in range(len(history.symbol)):  # per pair, not per date
        own = history.dates[i][~np.isnat(history.dates[i])]
        pos[i] = np.searchsorted(own, all_dates)
    pos, first = np.unique(pos, axis=1, return_index=True)
    return pos, all_dates[first]


def _blocked(history: PairHistory, pos: np.ndarray, evt: Window, events_pos: list[np.ndarray]) -> np.ndarray:
    # event windows [p + a, p + b] and [q + a, q + b] overlap iff |p - q| <= b - a
    width = evt[1] - evt[0]
    out = np.zeros(pos.shape[1], dtype=bool)
    for i, own in enumerate(events_pos):
        if own.size:
            out |= (np.abs(pos[i][:, None] - own[None, :]) <= width).any(axis=1)
    return out


def _inside(history: PairHistory, pos: np.ndarray, evt: Window) -> np.ndarray:
    # cheap pre-filter before any window is cut: day 0 and the event window's last day have a
    # return for every pair (the sessions run far beyond the data on both sides)
    t = history.returns.shape[1]
    ok = np.ones(pos.shape[1], dtype=bool)
    for day in (0, evt[1]):
        rows = pos + day
        inside = (rows >= 0) & (rows < t)
        taken = np.take_along_axis(history.returns, np.clip(rows, 0, t - 1), axis=1)
        ok &= (inside & np.isfinite(taken)).all(axis=0)
    return ok


def placebo_draws(history: PairHistory, *, model: str, estimation: Window, event: Window,
                  car_windows: Sequence[Window], min_estimation: int, return_kind: str,
                  other_events: list[np.ndarray], events_day0: np.ndarray | None = None) -> PlaceboDraws:
    """Statistics of one event (the pairs of ``history``) on its date and every placebo date.

    ``events_day0`` ``(n, E)``: the day-0 positions of ``E`` events sharing these pairs
    (default: ``history.day0``, one event); their placebo dates are the same, so they run
    together and :func:`select_event` takes one out.

    Eligibility of a date ``d``: (1) its event window overlaps no event window of the study
    for any of the pairs (``other_events``: each pair's day-0 positions of every study event
    with that symbol, its own included); (2) every pair has an AR on day 0 and a complete
    CAR in every window (:func:`~backtest.study.models.window_complete`) with a variance (a
    model fitted on at least one estimation return). The model follows
    the study's rule on each date: the requested one, market-adjusted below ``min_estimation``
    estimation returns (as on the event date).
    """
    pos, _ = candidate_positions(history, event)
    pos = pos[:, ~_blocked(history, pos, event, other_events) & _inside(history, pos, event)]
    own = history.day0[:, None] if events_day0 is None else np.asarray(events_day0)
    pos = np.concatenate([own, pos], axis=1)  # first columns: the events themselves
    n, d = pos.shape
    est_r = gather(history.est_returns, pos, *estimation).reshape(n * d, -1)
    est_x = gather(history.regressors, pos, *estimation).reshape(n * d, est_r.shape[1], -1)
    evt_r = gather(history.returns, pos, *event).reshape(n * d, -1)
    evt_x = gather(history.regressors, pos, *event).reshape(n * d, evt_r.shape[1], -1)
    car_cols = [(a - event[0], b - event[0]) for a, b in car_windows]
    day0 = -event[0]
    out = compute(est_r, est_x, evt_r, evt_x, model=model, min_estimation=min_estimation,
                  car_cols=car_cols, return_kind=return_kind, day0_col=day0)
    car = out.car.reshape(n, d, -1)
    ok = np.isfinite(car).all(axis=(0, 2)) & np.isfinite(out.ar[:, day0].reshape(n, d)).all(axis=0)
    ok &= np.isfinite(out.car_var.reshape(n, d, -1)).all(axis=(0, 2))  # a fitted model, not none
    ok[: own.shape[1]] = True
    keep = np.flatnonzero(ok)
    rows = (np.arange(n)[:, None] * d + keep[None, :]).ravel()  # pair-major, eligible dates only
    stats = date_statistics(_take(out, rows), n, len(keep), car_cols, est_r.shape[1])
    t = history.dates.shape[1]
    day0_dates = history.dates[0, np.clip(pos[0], 0, t - 1)]
    return PlaceboDraws(history.symbol, day0_dates[keep], out.ar[:, day0].reshape(n, d)[:, keep],
                        car[:, keep], stats, own.shape[1])


def select_event(draws: PlaceboDraws, e: int) -> PlaceboDraws:
    """The draws of event ``e`` of a joint run: its own column first, then the placebo dates."""
    cols = np.r_[e, draws.n_events : len(draws.dates)]
    return PlaceboDraws(draws.symbols, draws.dates[cols], draws.ar0[:, cols], draws.car[:, cols],
                        {k: v[cols] for k, v in draws.tests.items()})


def _take(out: Computed, rows: np.ndarray) -> Computed:
    fit = type(out.fit)(**{f: getattr(out.fit, f)[rows] for f in out.fit.__dataclass_fields__})
    return Computed(fit, **{f: getattr(out, f)[rows] for f in Computed.__dataclass_fields__ if f != "fit"})


def date_statistics(out: Computed, n: int, d: int, car_cols: Sequence[tuple[int, int]],
                    offset: int) -> dict[str, np.ndarray]:
    """CAAR and test statistics of each of ``d`` dates (scope = the ``n`` pairs of a date).

    ``out`` holds ``n * d`` pseudo-pairs ordered pair-major (pair ``i``, date ``j`` at row
    ``i * d + j``). Same formulas as :mod:`backtest.study.statistics` and
    :mod:`backtest.study.classics`, reduced over the pairs for all dates at once. BMP-KP has
    no placebo version: its ``r̄`` rescaling is what the placebo distribution replaces (it
    measures the cross-correlation the placebo dates carry by construction).
    """
    w = len(car_cols)
    lengths = np.array([b - a + 1 for a, b in car_cols], dtype=float)
    car = out.car.reshape(n, d, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(out.car_var.reshape(n, d, w))
        pe = out.car_var.reshape(n, d, w) / out.fit.sigma2.reshape(n, d)[..., None]
    flat = car.reshape(n, d * w)
    res: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        res["caar"] = np.nanmean(car, axis=0) if n else np.full((d, w), np.nan)
        res["cross_sectional_t"] = st.cross_sectional_t(flat)[0].reshape(d, w)
        res["bmp"] = st.bmp(scar.reshape(n, d * w))[0].reshape(d, w)
        df = out.fit.df.reshape(n, d).astype(float)[..., None]
        use = np.isfinite(scar) & (df > 2)
        res["patell_z"] = (np.where(use, scar, 0.0).sum(axis=0)
                           / np.sqrt(np.where(use, df / (df - 2.0), 0.0).sum(axis=0)))
        e = out.fit.est_resid.reshape(n, d, -1)
        cnt = np.isfinite(e).sum(axis=0)
        abar = np.where(cnt > 0, np.nansum(e, axis=0) / cnt, np.nan)  # (d, L1)
        s_abar = np.nanstd(abar, axis=1, ddof=1)[:, None]
        res["brown_warner"] = res["caar"] / (np.sqrt(lengths)[None, :] * s_abar)
        res["lamb"] = res["caar"] / (s_abar * np.sqrt(np.nanmean(pe, axis=0)))
        s2 = np.nanvar(e, axis=2, ddof=1)[..., None]  # (n, d, 1)
        res["brown_warner_1980"] = res["caar"] / (np.sqrt(lengths[None, :] * s2.sum(axis=0)) / n)
        share = st.positive_share(out.fit.est_resid).reshape(n, d)
        p_hat = np.nanmean(share, axis=0)[:, None]
        wins = (car > 0).sum(axis=0)
        res["generalized_sign"] = (wins - n * p_hat) / np.sqrt(n * p_hat * (1.0 - p_hat))
    res["sign"] = classics.sign_test(flat)[0].reshape(d, w)
    res["wilcoxon"] = st.wilcoxon(flat)[0].reshape(d, w)
    u = out.u.reshape(n, d, -1)
    shifted = [(a + offset, b + offset) for a, b in car_cols]
    res["corrado_rank"] = _rank_by_date(u, shifted)
    res["rank_sign"] = _rank_by_date(classics.rank_sign_u(u), shifted)
    return res


def _rank_by_date(u: np.ndarray, windows: Sequence[tuple[int, int]]) -> np.ndarray:
    # Corrado (1989) / Corrado-Zivney (1992) statistic per date: u (n, d, L1 + L2)
    n_t = np.isfinite(u).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = np.where(n_t > 0, np.nansum(u - 0.5, axis=0) / np.sqrt(n_t), np.nan)  # (d, L)
        s_u = np.sqrt(np.nanmean(ubar**2, axis=1))
        cols = []
        for first, last in windows:  # per window, not per date
            block = ubar[:, first : last + 1]
            cols.append(np.nansum(block, axis=1) / (np.sqrt(np.isfinite(block).sum(axis=1)) * s_u))
    return np.stack(cols, axis=1)


def empirical_p(observed: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided placebo p-value and the event's rank in its own direction.

    ``p = (1 + #{j : |S_j| >= |S_0|}) / (1 + M)`` over the ``M`` placebo dates with a finite
    statistic (Phipson-Smyth 2010, SAGMB 9(1), eq. 2: a permutation p-value is never 0);
    exact size under the null that the event date is exchangeable with the placebo dates.
    ``rank = 1 + #{j : S_j <= S_0}`` for a negative ``S_0`` (most negative first), else
    ``1 + #{j : S_j >= S_0}``: "ranks 1st of M + 1".

    Parameters
    ----------
    observed : (...,) array
    draws : (M, ...) array

    Returns
    -------
    p, rank, m : arrays shaped like ``observed``

    >>> p, rank, m = empirical_p(np.array([-3.0]), np.array([[1.0], [-2.0], [0.5], [2.5]]))
    >>> float(p[0]), int(rank[0]), int(m[0])
    (0.2, 1, 4)
    """
    ok = np.isfinite(draws)
    m = ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        extreme = (ok & (np.abs(draws) >= np.abs(observed))).sum(axis=0)
        below = (ok & (draws <= observed)).sum(axis=0)
        above = (ok & (draws >= observed)).sum(axis=0)
        p = np.where(np.isfinite(observed) & (m > 0), (1.0 + extreme) / (1.0 + m), np.nan)
    rank = np.where(observed < 0, 1 + below, 1 + above)
    return p, rank, m


def placebo_table(event_id: str, draws: PlaceboDraws, labels: Sequence[str]) -> pd.DataFrame:
    """Tidy rows: event_id, symbol ("" for event-level), statistic, window, value, rank,
    n_placebo, p_value (:func:`empirical_p`)."""
    n, w = len(draws.symbols), len(labels)
    blocks = [(np.asarray(draws.symbols, dtype=object), "ar", [window_label((0, 0))] * n,
               draws.ar0[:, 0], draws.ar0[:, 1:].T),
              (np.repeat(draws.symbols, w), "car", list(labels) * n, draws.car[:, 0].ravel(),
               np.moveaxis(draws.car[:, 1:], 1, 0).reshape(-1, n * w))]
    blocks += [(np.full(w, "", dtype=object), name, list(labels), values[0], values[1:])
               for name, values in draws.tests.items()]
    cols: dict[str, list] = {k: [] for k in ("symbol", "statistic", "window", "value", "rank",
                                             "n_placebo", "p_value")}
    for symbols, name, windows, observed, placebo in blocks:
        p, rank, m = empirical_p(observed, placebo)
        for key, part in (("symbol", symbols), ("statistic", np.full(len(observed), name, dtype=object)),
                          ("window", np.asarray(windows, dtype=object)), ("value", observed),
                          ("rank", rank), ("n_placebo", m), ("p_value", p)):
            cols[key].append(part)
    out = {k: np.concatenate(v) for k, v in cols.items()}
    return pd.DataFrame({"event_id": np.full(len(out["value"]), event_id, dtype=object), **out})


def draws_table(event_id: str, draws: PlaceboDraws, labels: Sequence[str],
                statistic: str = "caar") -> pd.DataFrame:
    """The placebo distribution of one statistic, tidy: event_id, window, date, value, is_event."""
    values = draws.tests[statistic]  # (1 + D, W)
    d, w = values.shape
    return pd.DataFrame({"event_id": event_id, "statistic": statistic,
                         "window": np.tile(list(labels), d), "date": np.repeat(draws.dates, w),
                         "value": values.ravel(), "is_event": np.repeat(np.arange(d) == 0, w)})


def window_labels(car_windows: Sequence[Window]) -> list[str]:
    """``"[0,+5]"``-style labels, as the study's tables."""
    return [window_label(w) for w in car_windows]
