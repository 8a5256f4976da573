"""The study on aligned arrays: fit, abnormal returns, CARs, tests -> EventStudyResult.

``compute`` is the per-block unit of work: a pure function of arrays shaped
``(n_pairs, n_days)`` with no Python loop per pair (it can be mapped over blocks
of pairs, e.g. with Dask). ``assemble`` turns its output into the tidy tables.
Both the prices-level ``event_study`` and ``study_returns`` end here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import ShortHistoryWarning
from backtest.study import statistics as st
from backtest.study.models import NormalFit, bhar_window, car_window, fit_model, predict, select_fit
from backtest.study.result import EventStudyResult
from backtest.study.windows import Window, window_label


@dataclass(frozen=True)
class Panel:
    """Returns of ``n`` event x instrument pairs aligned on relative days.

    ``est_*`` cover the estimation window (``L1`` days), ``evt_*`` the event
    window (``L2`` days); ``*_x`` hold the regressors ``(n, L, k)``, market first.
    NaN = missing. ``evt_dates`` are the session dates ``(n, L2)`` (NaT beyond the calendar).
    """

    event_id: np.ndarray
    symbol: np.ndarray
    benchmark: np.ndarray
    est_r: np.ndarray
    est_x: np.ndarray
    evt_r: np.ndarray
    evt_x: np.ndarray
    evt_dates: np.ndarray
    regressors: tuple[str, ...]


@dataclass(frozen=True)
class Computed:
    """Arrays produced by :func:`compute` (``W`` CAR windows)."""

    fit: NormalFit
    fallback: np.ndarray      # (n,) bool — market-adjusted used instead of the requested model
    normal: np.ndarray        # (n, L2)
    ar: np.ndarray            # (n, L2)
    ar_var: np.ndarray        # (n, L2)
    car: np.ndarray           # (n, W)
    car_var: np.ndarray       # (n, W)
    n_days: np.ndarray        # (n, W) ARs present in each window
    bhar: np.ndarray          # (n, W)
    u: np.ndarray             # (n, L1 + L2) standardized ranks


def compute(est_r: np.ndarray, est_x: np.ndarray, evt_r: np.ndarray, evt_x: np.ndarray, *,
            model: str, min_estimation: int, car_cols: Sequence[tuple[int, int]],
            return_kind: str = "simple") -> Computed:
    """Fit, predict and cumulate for all pairs at once (see module docstring).

    Pairs with fewer than ``min_estimation`` usable estimation days fall back to the
    market-adjusted model. ``car_cols`` are CAR windows as event-window column ranges.
    """
    fit = fit_model(model, est_r, est_x)
    fallback = np.zeros(est_r.shape[0], dtype=bool)
    if model != "market_adjusted" and est_x.shape[2] > 0:
        # falling back needs a market series: pairs without one keep the requested model
        has_market = np.isfinite(est_x[..., 0]).any(axis=1)
        fallback = (fit.n_est < min_estimation) & has_market
        if fallback.any():
            fit = select_fit(fallback, fit, fit_model("market_adjusted", est_r, est_x))
    normal, ar, ar_var, d = predict(fit, evt_r, evt_x)
    cars, variances, days, bhars = [], [], [], []
    for first, last in car_cols:
        car, var, n_days = car_window(fit, ar, d, first, last)
        cars.append(car)
        variances.append(var)
        days.append(n_days)
        bhars.append(bhar_window(evt_r, normal, ar, first, last, return_kind))
    u = st.rank_u(fit.est_resid, ar)
    return Computed(fit, fallback, normal, ar, ar_var, np.stack(cars, 1), np.stack(variances, 1),
                    np.stack(days, 1), np.stack(bhars, 1), u)


def scope_tests(event_id: np.ndarray, out: Computed, car_cols: Sequence[tuple[int, int]],
                labels: Sequence[str]) -> pd.DataFrame:
    """Cross-sectional tests for every event (scope = event_id) and for all pairs (``"all"``).

    One loop per scope (event), none per pair.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = out.car / np.sqrt(out.car_var)
    offset = out.fit.est_resid.shape[1]
    unit = st.unit_residuals(out.fit.est_resid)
    share = st.positive_share(out.fit.est_resid)
    codes, uniques = pd.factorize(np.asarray(event_id))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    scopes: list[tuple[str, np.ndarray | slice]] = [
        (str(e), order[bounds[j] : bounds[j + 1]]) for j, e in enumerate(uniques)
    ]
    scopes.append(("all", slice(None)))
    cols: dict[str, list] = {k: [] for k in ("scope", "window", "test", "statistic", "df", "n")}
    for scope, idx in scopes:
        results = st.run_tests(out.car[idx], scar[idx], out.fit.df[idx], out.fit.est_resid[idx],
                               out.u[idx], car_cols, offset, unit[idx], share[idx])
        for test, (stat, df, n) in results.items():
            cols["scope"] += [scope] * len(labels)
            cols["window"] += list(labels)
            cols["test"] += [test] * len(labels)
            cols["statistic"].append(stat)
            cols["df"].append(df)
            cols["n"].append(n)
    stat = np.concatenate(cols["statistic"])
    df = np.concatenate(cols["df"]).astype(float)
    table = pd.DataFrame({
        "scope": cols["scope"], "window": cols["window"], "test": cols["test"], "statistic": stat,
        "p_value": st.p_value(stat, df),
        "null": [f"t({int(v)})" if np.isfinite(v) else "N(0,1)" for v in df],
        "df": df, "n": np.concatenate(cols["n"]).astype(int),
    })
    return table


def _aar_table(event_id: np.ndarray, ar: np.ndarray, rel_days: np.ndarray) -> pd.DataFrame:
    rows = []
    scopes = [(str(e), event_id == e) for e in pd.unique(event_id)] + [("all", slice(None))]
    for scope, mask in scopes:
        block = ar[mask]
        n = np.isfinite(block).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = np.where(n > 0, np.where(np.isfinite(block), block, 0.0).sum(axis=0) / n, np.nan)
        rows.append(pd.DataFrame({"scope": scope, "rel_day": rel_days, "aar": aar,
                                  "caar": np.nancumsum(aar), "n": n}))
    return pd.concat(rows, ignore_index=True)


def assemble(panel: Panel, *, model: str, estimation: Window, event: Window,
             car_windows: Sequence[Window], min_estimation: int, return_kind: str,
             settings: dict) -> EventStudyResult:
    """Run :func:`compute` and the tests on ``panel`` and build the result tables.

    Emits one ShortHistoryWarning naming every pair whose estimation window is
    shorter than asked for (and the model actually used).
    """
    car_cols = [(a - event[0], b - event[0]) for a, b in car_windows]
    labels = [window_label(w) for w in car_windows]
    out = compute(panel.est_r, panel.est_x, panel.evt_r, panel.evt_x, model=model,
                  min_estimation=min_estimation, car_cols=car_cols, return_kind=return_kind)
    n, l2 = panel.evt_r.shape
    l1 = panel.est_r.shape[1]
    rel_days = np.arange(event[0], event[1] + 1)
    fit = out.fit
    used = np.where(out.fallback, "market_adjusted", model)

    notes = np.full(n, "", dtype=object)
    short = (fit.n_est < l1) | out.fallback  # a fallback is always reported
    for i in np.flatnonzero(short):  # messages only for the (few) short pairs
        what = (f"below min_estimation {min_estimation}: market-adjusted model used"
                if out.fallback[i] else f"{model} model fitted on what exists")
        notes[i] = (f"{panel.symbol[i]} in {panel.event_id[i]}: {int(fit.n_est[i])} of {l1} "
                    f"estimation returns, {what}")
    if short.any():
        warnings.warn("short estimation history: " + "; ".join(notes[short]),
                      ShortHistoryWarning, stacklevel=3)

    fits = pd.DataFrame({
        "event_id": panel.event_id, "symbol": panel.symbol, "benchmark": panel.benchmark,
        "model_requested": model, "model_used": used, "n_estimation": fit.n_est.astype(int),
        "df": fit.df.astype(int), "alpha": fit.alpha,
        "beta": fit.beta[:, 0] if fit.beta.shape[1] else np.nan, "sigma2": fit.sigma2,
        "warning": notes,
    })
    if model == "factor":
        for j, name in enumerate(panel.regressors):
            fits[f"beta_{name}"] = fit.beta[:, j]

    ar_se = np.sqrt(out.ar_var)
    car_running = np.cumsum(np.where(np.isfinite(out.ar), out.ar, 0.0), axis=1)
    bench_r = panel.evt_x[..., 0] if panel.evt_x.shape[2] else np.full((n, l2), np.nan)
    abnormal = pd.DataFrame({
        "event_id": np.repeat(panel.event_id, l2), "symbol": np.repeat(panel.symbol, l2),
        "benchmark": np.repeat(panel.benchmark, l2), "rel_day": np.tile(rel_days, n),
        "date": panel.evt_dates.ravel(), "return": panel.evt_r.ravel(),
        "benchmark_return": bench_r.ravel(), "normal_return": out.normal.ravel(),
        "ar": out.ar.ravel(), "ar_se": ar_se.ravel(), "car": car_running.ravel(),
        "missing": ~np.isfinite(out.ar).ravel(),
    })

    w = len(car_windows)
    with np.errstate(invalid="ignore", divide="ignore"):
        car_se = np.sqrt(out.car_var)
        t_stat = out.car / car_se
    df_pairs = np.repeat(fit.df[:, None].astype(float), w, axis=1)
    df_pairs = np.where(df_pairs >= 1, df_pairs, np.nan)
    p = np.where(np.isfinite(df_pairs), st.p_value(t_stat, np.where(np.isfinite(df_pairs), df_pairs, 1.0)),
                 np.nan)
    lengths = np.array([b - a + 1 for a, b in car_windows])
    car = pd.DataFrame({
        "event_id": np.repeat(panel.event_id, w), "symbol": np.repeat(panel.symbol, w),
        "window": np.tile(labels, n), "start": np.tile([a for a, _ in car_windows], n),
        "end": np.tile([b for _, b in car_windows], n), "car": out.car.ravel(),
        "car_se": car_se.ravel(), "t_stat": t_stat.ravel(), "df": df_pairs.ravel(),
        "p_value": p.ravel(), "bhar": out.bhar.ravel(), "n_days": out.n_days.ravel(),
        "n_missing": (lengths[None, :] - out.n_days).ravel(),
        "model_used": np.repeat(used, w), "n_estimation": np.repeat(fit.n_est.astype(int), w),
    })
    tests = scope_tests(panel.event_id, out, car_cols, labels)
    aar = _aar_table(panel.event_id, out.ar, rel_days)
    return EventStudyResult(abnormal, car, tests, fits, aar, dict(settings))
