"""The study on aligned arrays: blocks of pairs -> tidy tables -> EventStudyResult.

``assemble`` cuts a :class:`Panel` into blocks of pairs, runs the unit of work
(:func:`backtest.study.block.study_block`) on each, reduces their per-event sufficient
statistics and builds the tidy tables: abnormal returns, CARs, fits, the tests table
(:func:`backtest.study.scope_tests.tests_table`) and AAR/CAAR. Both the prices-level
``event_study`` and ``study_returns`` end here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import ShortHistoryWarning
from backtest.study import diagnostics as dg
from backtest.study import statistics as st
from backtest.study.block import (  # noqa: F401  (compute and Computed re-exported)
    BLOCK_SIZE,
    BlockInput,
    BlockSpec,
    Computed,
    compute,
    concat_computed,
    run_blocks,
    slices,
    table_arrays,
)
from backtest.study.crosscorr import day_numbers
from backtest.study.result import EventStudyResult
from backtest.study.scope_tests import tests_table
from backtest.study.sufficient import ScopeStats, scope_stats
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
    n_excluded: np.ndarray | None = None  # estimation days left out on purpose (near other events)


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


def event_pools(codes: np.ndarray, n_events: int, kind: np.ndarray | None
                ) -> list[tuple[str, np.ndarray]]:
    """:func:`pools` as event codes: (name, codes of the events it pools); kind is per event."""
    if kind is None:
        return [("all", np.arange(n_events))]
    first = np.full(n_events, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the first pair of each event
    event_kind = np.asarray(kind)[first]
    return [(name, np.arange(n_events) if isinstance(idx, slice) else
             np.flatnonzero(event_kind == name.removeprefix("all ")))
            for name, idx in pools(kind, len(codes))]


def scope_tests(event_id: np.ndarray, out: Computed, car_cols: Sequence[tuple[int, int]],
                labels: Sequence[str], est_dates: np.ndarray | None = None,
                kind: np.ndarray | None = None) -> pd.DataFrame:
    """Cross-sectional tests for every event (scope = event_id) and pooled (:func:`pools`).

    Columns: scope, window, test, statistic, p_value, null, df, n, caar (mean CAR of the
    scope's pairs with a CAR), rbar (the Kolari-Pynnönen ``r̄`` on ``bmp_kp`` rows, NaN on
    the others), note (why a statistic is NaN or its p-value approximate), p_holm and p_bh.
    ``r̄`` of an event aligns estimation residuals on ``est_dates`` (relative day if None); the
    pooled scope counts pairs of different events as uncorrelated
    (:func:`~backtest.study.statistics.pooled_rbar`). All pairs as one block: see
    :func:`assemble` for the block-wise path.
    """
    codes, uniques = pd.factorize(np.asarray(event_id))
    stats = scope_stats(out, codes, car_cols, est_dates)
    scopes = event_pools(codes, len(uniques), kind)
    return tests_table(stats, list(uniques), scopes, out.car, codes, car_cols, labels)[0]


def _repeat(labels: np.ndarray, each: int, times: int = 1) -> pd.api.extensions.ExtensionArray:
    """``np.tile(np.repeat(labels, each), times)`` as pandas' string array, built from the
    distinct labels (converting a long object array to strings costs more than the study)."""
    codes, uniques = pd.factorize(labels, use_na_sentinel=False)  # a missing label is one too
    positions = np.repeat(codes.astype(np.int32), each)  # int32: half the memory to fault in
    positions = np.tile(positions, times) if times > 1 else positions
    distinct = pd.Series(uniques).array
    if not isinstance(distinct, pd.arrays.ArrowStringArray):
        return distinct.take(positions)
    # Arrow's default pool (mimalloc) faults fresh memory in slowly: 10 million rows took
    # 0.45-0.8 s from it, 0.15 s from the system allocator
    taken = pc.take(pa.array(distinct), positions, memory_pool=pa.system_memory_pool())
    return pd.array(taken, dtype=distinct.dtype)


def _aar_table(scopes: Sequence[str], stats: ScopeStats, rel_days: np.ndarray) -> pd.DataFrame:
    """AAR and CAAR per scope and event day, from the reduced sums (NaN-propagating CAAR)."""
    n = stats.ar_cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        aar = np.where(n > 0, stats.ar_sum / np.where(n > 0, n, 1), np.nan)
    # NaN propagates: no CAAR after a day without any AR in the scope
    return pd.DataFrame({"scope": np.repeat(np.array(scopes, dtype=object), len(rel_days)),
                         "rel_day": np.tile(rel_days, len(scopes)), "aar": aar.ravel(),
                         "caar": np.cumsum(aar, axis=1).ravel(), "n": n.ravel()})


def block_spec(model: str, event: Window, car_windows: Sequence[Window], min_estimation: int,
               return_kind: str) -> BlockSpec:
    """The settings every block of a study shares (CAR windows as event-window columns)."""
    return BlockSpec(model, min_estimation, tuple((a - event[0], b - event[0]) for a, b in car_windows),
                     return_kind, -event[0] if event[0] <= 0 <= event[1] else None)


def assemble(panel: Panel, *, model: str, estimation: Window, event: Window,
             car_windows: Sequence[Window], min_estimation: int, return_kind: str,
             settings: dict, block_size: int = BLOCK_SIZE, mapper: Any = None) -> EventStudyResult:
    """Run the study block by block on ``panel`` and build the result tables.

    Pairs go through :func:`~backtest.study.block.study_block` ``block_size`` at a time;
    the per-event statistics reduce across blocks, so the result does not depend on
    ``block_size``. ``mapper`` (:class:`backtest.scheduler.Mapper`) says where the blocks
    run (:func:`backtest.study.blocks.map_blocks`). Emits one ShortHistoryWarning naming
    every pair whose estimation window is shorter than asked for (and the model actually used).
    """
    from backtest.study.blocks import map_blocks

    spec = block_spec(model, event, car_windows, min_estimation, return_kind)
    codes, _ = pd.factorize(np.asarray(panel.event_id))
    est_days = None if panel.est_dates is None else day_numbers(panel.est_dates)
    stats, parts = map_blocks([BlockInput(panel.est_r[b], panel.est_x[b], panel.evt_r[b], panel.evt_x[b],
                                          codes[b], None if est_days is None else est_days[b])
                               for b in slices(len(codes), block_size)], spec, table_arrays, mapper)
    return result_tables(panel, concat_computed(parts), stats, model=model, estimation=estimation,
                         event=event, car_windows=car_windows, min_estimation=min_estimation,
                         settings=settings)


def pair_tests(out: Computed, car_cols: Sequence[tuple[int, int]], return_kind: str) -> dict[str, np.ndarray]:
    """Per pair and CAR window (``(n, W)``): the CAR's two-sided p (``t = CAR / sqrt(Var CAR)`` on
    ``df`` of the fit, MacKinlay 1997 eq. 7-8), the p of the CAR without the intercept's drift
    and the BHAR's drift (:mod:`backtest.study.diagnostics`).

    Functions of each pair's own arrays only: the engine computes them with the pair's block,
    on its worker, instead of over every pair on the client.
    """
    tests = car_tests(out)
    drift = dg.car_drift(out.fit.alpha[:, None], out.n_days, out.car, tests["car_se"], tests["df"],
                         tests["p_value"])
    bhar_drift = np.stack([dg.bhar_drift(out.normal, out.ar, out.fit.alpha, a, b, return_kind)
                           for a, b in car_cols], 1)
    # what costs time; the standard error, t and df are cheaper to compute again than to send
    return {"p_value": tests["p_value"], "p_drift_free": drift["p_drift_free"], "bhar_drift": bhar_drift}


def car_tests(out: Computed, p_value: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The CAR table's ``car_se``, ``t_stat``, ``df`` and ``p_value`` columns as ``(n, W)`` arrays
    (``p_value`` as given, if computed already)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        car_se = np.sqrt(out.car_var)
        t_stat = out.car / car_se
    df = np.repeat(out.fit.df[:, None].astype(float), out.car.shape[1], axis=1)
    df = np.where(df >= 1, df, np.nan)
    if p_value is None:
        p_value = np.where(np.isfinite(df), st.p_value(t_stat, np.where(np.isfinite(df), df, 1.0)), np.nan)
    return {"car_se": car_se, "t_stat": t_stat, "df": df, "p_value": p_value}


def arrays_and_tests(block: Any, *, car_cols: Sequence[tuple[int, int]],
                     return_kind: str) -> tuple[Computed, dict[str, np.ndarray]]:
    """What a worker sends back of a block for the tables: :func:`table_arrays` and :func:`pair_tests`."""
    out = table_arrays(block)
    return out, pair_tests(out, car_cols, return_kind)


def result_tables(panel: Panel, out: Computed, stats: ScopeStats, *, model: str, estimation: Window,
                  event: Window, car_windows: Sequence[Window], min_estimation: int,
                  settings: dict, tests: dict[str, np.ndarray] | None = None) -> EventStudyResult:
    """The result tables from the blocks' per-pair arrays ``out`` and reduced ``stats``
    (``tests``: :func:`pair_tests` of ``out``, if the blocks computed them already).

    Reads of ``panel`` only the identifiers, ``kind``, ``n_excluded`` and the event-window
    arrays: its estimation arrays may be empty ``(n, 0)`` (the blocks already used them).
    """
    car_cols = [(a - event[0], b - event[0]) for a, b in car_windows]
    labels = [window_label(w) for w in car_windows]
    codes, uniques = pd.factorize(np.asarray(panel.event_id))
    n = len(panel.evt_r)
    l1 = estimation[1] - estimation[0] + 1
    rel_days = np.arange(event[0], event[1] + 1)
    fit = out.fit

    notes = np.full(n, "", dtype=object)
    # days left out on purpose (near other events) are not a short history; a fallback always is
    planned = l1 - (0 if panel.n_excluded is None else panel.n_excluded)
    short = (fit.n_est < planned) | out.fallback
    for i in np.flatnonzero(short):  # messages only for the (few) short pairs
        what = (f"below min_estimation {min_estimation}: market-adjusted model used"
                if out.fallback[i] else f"{model} model fitted on what exists")
        notes[i] = (f"{panel.symbol[i]} in {panel.event_id[i]}: {int(fit.n_est[i])} of {l1} "
                    f"estimation returns, {what}")
    if short.any():
        warnings.warn("short estimation history: " + "; ".join(notes[short]),
                      ShortHistoryWarning, stacklevel=3)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="study-tests") as helper:
        # the tests (sorts and sums per scope) run beside the tidy tables: numpy's and Arrow's
        # long loops release the GIL
        scopes = event_pools(codes, len(uniques), panel.kind)
        tested = helper.submit(tests_table, stats, list(uniques), scopes, out.car, codes, car_cols, labels)
        fits, abnormal, car = _tidy_tables(panel, out, tests, model=model, event=event,
                                           car_windows=car_windows, labels=labels, notes=notes)
        table, scope_sums = tested.result()
    aar = _aar_table(list(dict.fromkeys(table["scope"])), scope_sums, rel_days)
    return EventStudyResult(abnormal, car, table, fits, aar, dict(settings))


def _tidy_tables(panel: Panel, out: Computed, tests: dict[str, np.ndarray] | None, *, model: str,
                 event: Window, car_windows: Sequence[Window], labels: Sequence[str],
                 notes: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The fits, abnormal-return and CAR tables of :func:`result_tables`."""
    n, l2 = panel.evt_r.shape
    rel_days = np.arange(event[0], event[1] + 1)
    fit = out.fit
    used = np.where(out.fallback, "market_adjusted", model)
    fits = pd.DataFrame({
        "event_id": panel.event_id, "symbol": panel.symbol, "benchmark": panel.benchmark,
        "model_requested": model, "model_used": used, "n_estimation": fit.n_est.astype(int),
        "df": fit.df.astype(int), "alpha": fit.alpha,
        "beta": fit.beta[:, 0] if fit.beta.shape[1] else np.nan, "sigma2": fit.sigma2,
        "warning": notes,
    }, copy=False)
    if model == "factor" or len(panel.regressors) > 1:  # factors, or Dimson lags and leads
        for j, name in enumerate(panel.regressors):
            fits[f"beta_{name}"] = fit.beta[:, j]
        market = [j for j, name in enumerate(panel.regressors) if name.startswith("market")]
        if len(market) > 1:  # Dimson (1979): the sum of the lag, current and lead slopes
            fits["beta_dimson"] = fit.beta[:, market].sum(axis=1)

    ar_se = np.sqrt(out.ar_var)
    car_running = np.cumsum(out.ar, axis=1)  # NaN from the first missing day on
    bench_r = panel.evt_x[..., 0] if panel.evt_x.shape[2] else np.full((n, l2), np.nan)
    abnormal = pd.DataFrame({
        "event_id": _repeat(panel.event_id, l2), "symbol": _repeat(panel.symbol, l2),
        "benchmark": _repeat(panel.benchmark, l2), "rel_day": np.tile(rel_days, n),
        "date": panel.evt_dates.ravel(), "return": panel.evt_r.ravel(),
        "benchmark_return": bench_r.ravel(), "normal_return": out.normal.ravel(),
        "ar": out.ar.ravel(), "ar_se": ar_se.ravel(), "car": car_running.ravel(),
        "missing": ~np.isfinite(out.ar).ravel(),
    }, copy=False)  # no copy into consolidated blocks: the arrays are this table's alone

    w = len(car_windows)
    columns = car_tests(out, None if tests is None else tests["p_value"])
    car_se, t_stat, df_pairs, p = columns["car_se"], columns["t_stat"], columns["df"], columns["p_value"]
    lengths = np.array([b - a + 1 for a, b in car_windows])
    car = pd.DataFrame({
        "event_id": _repeat(panel.event_id, w), "symbol": _repeat(panel.symbol, w),
        "window": _repeat(np.asarray(labels, dtype=object), 1, n),
        "start": np.tile([a for a, _ in car_windows], n),
        "end": np.tile([b for _, b in car_windows], n), "car": out.car.ravel(),
        "car_se": car_se.ravel(), "t_stat": t_stat.ravel(), "df": df_pairs.ravel(),
        "p_value": p.ravel(), "bhar": out.bhar.ravel(), "n_days": out.n_days.ravel(),
        "n_missing": (lengths[None, :] - out.n_days).ravel(), "complete": out.complete.ravel(),
        "model_used": _repeat(used.astype(object), w), "n_estimation": np.repeat(fit.n_est.astype(int), w),
    }, copy=False)
    return fits, abnormal, car
