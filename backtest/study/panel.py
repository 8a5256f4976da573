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
from backtest.study.crosscorr import day_numbers
from backtest.study.models import (
    NormalFit,
    bhar_window,
    car_window,
    fit_model,
    outside_data,
    predict,
    select_fit,
    window_complete,
)
from backtest.study.result import EventStudyResult
from backtest.study.windows import Window, window_label


@dataclass(frozen=True)
class Panel:
    """Returns of ``n`` event x instrument pairs aligned on relative days.

    ``est_*`` cover the estimation window (``L1`` days), ``evt_*`` the event
    window (``L2`` days); ``*_x`` hold the regressors ``(n, L, k)``, market first.
    NaN = missing. ``evt_dates`` and ``est_dates`` are the session dates ``(n, L2)`` and
    ``(n, L1)`` (NaT beyond the calendar); without ``est_dates`` the Kolari-Pynnönen ``r̄``
    aligns the pairs of an event on the relative day instead of the calendar date.
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
    est_dates: np.ndarray | None = None
    kind: np.ndarray | None = None  # event kind per pair ("shock"/"relief"): pooled scopes apart


def pools(kind: np.ndarray | None, n: int) -> list[tuple[str, np.ndarray | slice]]:
    """Pooled scopes: ``"all"``, or ``"all shock"`` / ``"all relief"`` when kinds differ.

    Shocks and reliefs move prices in opposite directions; pooling their CARs would let
    the signs cancel, so each kind is pooled on its own.

    >>> [name for name, _ in pools(np.array(["shock", "relief", "shock"], dtype=object), 3)]
    ['all shock', 'all relief']
    >>> [name for name, _ in pools(None, 3)]
    ['all']
    """
    kinds = [] if kind is None else list(pd.unique(kind))
    if len(kinds) <= 1:
        return [("all", slice(None))]
    return [(f"all {k}", np.flatnonzero(kind == k)) for k in kinds]


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
    complete: np.ndarray      # (n, W) bool — window inside the data with day 0 (else CAR NaN)
    bhar: np.ndarray          # (n, W)
    u: np.ndarray             # (n, L1 + L2) standardized ranks


def compute(est_r: np.ndarray, est_x: np.ndarray, evt_r: np.ndarray, evt_x: np.ndarray, *,
            model: str, min_estimation: int, car_cols: Sequence[tuple[int, int]],
            return_kind: str = "simple", day0_col: int | None = None) -> Computed:
    """Fit, predict and cumulate for all pairs at once (see module docstring).

    Pairs with fewer than ``min_estimation`` usable estimation days fall back to the
    market-adjusted model. ``car_cols`` are CAR windows as event-window column ranges;
    ``day0_col`` the column of day 0. A window that runs beyond the pair's data, or holds
    day 0 without an AR, gets a NaN CAR and BHAR (:func:`~backtest.study.models.window_complete`).
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
    outside = outside_data(ar, np.isfinite(fit.est_resid).any(axis=1))
    cars, variances, days, bhars, whole = [], [], [], [], []
    for first, last in car_cols:
        ok = window_complete(ar, outside, first, last, day0_col)
        car, var, n_days = car_window(fit, ar, d, first, last, ok)
        cars.append(car)
        variances.append(var)
        days.append(n_days)
        whole.append(ok)
        bhars.append(np.where(ok, bhar_window(evt_r, normal, ar, first, last, return_kind), np.nan))
    u = st.rank_u(fit.est_resid, ar)
    return Computed(fit, fallback, normal, ar, ar_var, np.stack(cars, 1), np.stack(variances, 1),
                    np.stack(days, 1), np.stack(whole, 1), np.stack(bhars, 1), u)


def scope_tests(event_id: np.ndarray, out: Computed, car_cols: Sequence[tuple[int, int]],
                labels: Sequence[str], est_dates: np.ndarray | None = None,
                kind: np.ndarray | None = None) -> pd.DataFrame:
    """Cross-sectional tests for every event (scope = event_id) and pooled (:func:`pools`).

    One loop per scope (event), none per pair. Columns: scope, window, test, statistic,
    p_value, null, df, n, caar (mean CAR of the scope's pairs with a CAR), rbar (the
    Kolari-Pynnönen ``r̄`` on ``bmp_kp`` rows, NaN on the others) and note (why a
    statistic is NaN or its p-value approximate). ``r̄`` of an event aligns estimation
    residuals on ``est_dates`` (relative day if None); the pooled scope counts pairs of
    different events as uncorrelated (:func:`~backtest.study.statistics.pooled_rbar`).
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
    days = None if est_dates is None else day_numbers(est_dates)  # once, not per event
    rbars = [st.rbar_from_unit(unit[idx], None if days is None else days[idx]) for _, idx in scopes]
    event_kind = None if kind is None else np.asarray(kind)[order[bounds[:-1]]]  # one kind per event
    for name, idx in pools(kind, len(codes)):
        members = range(len(uniques)) if event_kind is None or name == "all" else \
            [j for j in range(len(uniques)) if f"all {event_kind[j]}" == name]
        part = [rbars[j] for j in members]
        scopes.append((name, idx))
        rbars.append(part[0] if len(part) == 1 else
                     (st.pooled_rbar([r for r, _ in part], [m for _, m in part]), 0))
    cols: dict[str, list] = {k: [] for k in ("scope", "window", "test", "statistic", "df", "n", "p",
                                             "null", "note", "caar", "rbar", "from_df")}
    w = len(labels)
    for (scope, idx), (rbar, _) in zip(scopes, rbars, strict=True):
        car = out.car[idx]
        results = st.run_tests(car, scar[idx], out.fit.df[idx], out.fit.est_resid[idx],
                               out.u[idx], car_cols, offset, unit[idx], share[idx], rbar, defer_p=True,
                               include=out.complete[idx])
        n_car, total = np.isfinite(car).sum(axis=0), np.where(np.isfinite(car), car, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            caar = np.where(n_car > 0, total / n_car, np.nan)
        for test, res in results.items():
            cols["scope"] += [scope] * w
            cols["window"] += list(labels)
            cols["test"] += [test] * w
            cols["statistic"].append(res.statistic)
            cols["df"].append(res.df)
            cols["n"].append(res.n)
            cols["p"].append(res.p_value)
            cols["from_df"].append(np.full(w, res.p_from_df))
            cols["null"] += res.null
            cols["note"] += res.note
            cols["caar"].append(caar)
            cols["rbar"].append(np.full(w, rbar if test == "bmp_kp" else np.nan))
    stat, df = np.concatenate(cols["statistic"]), np.concatenate(cols["df"]).astype(float)
    p = np.where(np.concatenate(cols["from_df"]), st.p_value(stat, df), np.concatenate(cols["p"]))
    return pd.DataFrame({
        "scope": cols["scope"], "window": cols["window"], "test": cols["test"],
        "statistic": stat, "p_value": p, "null": cols["null"], "df": df,
        "n": np.concatenate(cols["n"]).astype(int), "caar": np.concatenate(cols["caar"]),
        "rbar": np.concatenate(cols["rbar"]), "note": cols["note"],
    })


def _aar_table(event_id: np.ndarray, ar: np.ndarray, rel_days: np.ndarray,
               kind: np.ndarray | None = None) -> pd.DataFrame:
    rows = []
    scopes = [(str(e), event_id == e) for e in pd.unique(event_id)] + pools(kind, len(event_id))
    for scope, mask in scopes:
        block = ar[mask]
        n = np.isfinite(block).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = np.where(n > 0, np.where(np.isfinite(block), block, 0.0).sum(axis=0) / n, np.nan)
        # NaN propagates: no CAAR after a day without any AR in the scope
        rows.append(pd.DataFrame({"scope": scope, "rel_day": rel_days, "aar": aar,
                                  "caar": np.cumsum(aar), "n": n}))
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
                  min_estimation=min_estimation, car_cols=car_cols, return_kind=return_kind,
                  day0_col=-event[0] if event[0] <= 0 <= event[1] else None)
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
    car_running = np.cumsum(out.ar, axis=1)  # NaN from the first missing day on
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
        "n_missing": (lengths[None, :] - out.n_days).ravel(), "complete": out.complete.ravel(),
        "model_used": np.repeat(used, w), "n_estimation": np.repeat(fit.n_est.astype(int), w),
    })
    tests = scope_tests(panel.event_id, out, car_cols, labels, panel.est_dates, panel.kind)
    aar = _aar_table(panel.event_id, out.ar, rel_days, panel.kind)
    return EventStudyResult(abnormal, car, tests, fits, aar, dict(settings))
