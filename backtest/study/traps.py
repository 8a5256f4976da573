"""The traps of an event study as data: columns of its CAR and fits tables, then one note each.

:func:`trap_columns` computes the per-pair diagnostics (:mod:`backtest.study.diagnostics`:
a fitted drift that decides a CAR, a benchmark moved by the event, estimation days near other
events, overlapping event windows, data gaps) from the blocks' arrays, and
:func:`with_diagnostics` adds them to the tables of an
:class:`~backtest.study.result.EventStudyResult`; :func:`trap_notes` says them in one line each,
for the warnings, the terminal and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.study import diagnostics as dg
from backtest.study.block import Computed
from backtest.study.pairs import PairDiagnostics
from backtest.study.panel import Panel, car_tests
from backtest.study.result import EventStudyResult
from backtest.study.windows import Window, window_label


@dataclass(frozen=True)
class TrapColumns:
    """What :func:`with_diagnostics` adds to the tables: columns by name, in table order."""

    car: dict[str, Any]
    fits: dict[str, Any]
    ar_drift_free: np.ndarray       # (pairs x event days,) the abnormal-return table's column
    shared: np.ndarray              # (pairs, windows) complete CARs sharing sessions with another's
    labels: list[str]               # the CAR windows' labels


def trap_columns(out: Computed, panel: Panel, diagnostics: PairDiagnostics, evt: Window,
                 cars: Sequence[Window], tests: dict[str, np.ndarray]) -> TrapColumns:
    """The trap diagnostics (:mod:`backtest.study.diagnostics`) as the columns
    :func:`with_diagnostics` adds (:class:`TrapColumns`).

    From the blocks' arrays ``out`` and their per-pair ``tests``
    (:func:`~backtest.study.panel.pair_tests`), not from the tables: the engine computes them
    beside the result tables. The text columns come as Series, converted here.
    """
    alpha = out.fit.alpha
    values = car_tests(out, tests["p_value"])  # the CAR table's car_se, df and p_value
    drift = dg.car_drift(alpha[:, None], out.n_days, out.car, values["car_se"], values["df"],
                         values["p_value"], tests["p_drift_free"])
    bench_z = diagnostics.benchmark_z
    # the CAR windows and the whole event window (for fits) in one pass per symbol
    overlap = dg.overlapping_events(panel.symbol, panel.event_id, diagnostics.pos0, [*cars, evt])
    car = {name: drift[name].ravel()
           for name in ("drift", "drift_share", "car_drift_free", "drift_dominates")}
    car.update(bhar_drift=np.where(out.complete, tests["bhar_drift"], np.nan).ravel(),
               benchmark_car=diagnostics.benchmark_car.ravel(), benchmark_z=bench_z.ravel(),
               benchmark_moved=(np.abs(np.nan_to_num(bench_z)) > dg.BENCHMARK_Z).ravel(),
               overlap_events=pd.Series(overlap[:, :-1].ravel()), n_gap=diagnostics.n_gap_car.ravel())
    fits = {"n_excluded": diagnostics.excluded,
            "excluded_events": pd.Series(diagnostics.excluded_events),
            "n_gap_estimation": diagnostics.n_gap_estimation,
            "benchmark_day0_return": diagnostics.benchmark_day0,
            "benchmark_day0_z": diagnostics.benchmark_day0_z,
            "overlap_events": pd.Series(overlap[:, -1])}
    # the AR without the extrapolated intercept: R - beta'x (recovery's drift-free abnormal path)
    ar_drift_free = (out.ar + alpha[:, None]).ravel()
    return TrapColumns(car, fits, ar_drift_free, (overlap[:, :-1] != "") & out.complete,
                       [window_label(c) for c in cars])


def with_diagnostics(result: EventStudyResult, columns: TrapColumns,
                     kind: np.ndarray | None) -> EventStudyResult:
    """Add the trap diagnostics' columns (:func:`trap_columns`) to the CAR, fits and abnormal-return
    tables, their counts to the short-history warnings and the overlap notes to the tests
    (``kind``: the pairs' event kinds, for the pooled scopes)."""
    # shallow: pandas' copy-on-write copies a column only when it is written, so adding columns
    # leaves ``result``'s tables as they were without copying every column first
    car, fits = result.car.copy(deep=False), result.fits.copy(deep=False)
    for name, values in columns.car.items():  # as Series: a plain array is copied into the table
        car[name] = values if isinstance(values, pd.Series) else \
            pd.Series(values, index=car.index, copy=False)
    excluded, gap_days = columns.fits["n_excluded"], columns.fits["n_gap_estimation"]
    # a short history's warning says how much of it was left out on purpose, or missing
    warning = fits["warning"].to_numpy(dtype=object)
    noted = warning != ""
    for i in np.flatnonzero(noted & (excluded > 0)):
        warning[i] = (f"{warning[i]} ({excluded[i]} sessions near other events left out; "
                      "exclude_events=None keeps them)")
    for i in np.flatnonzero(noted & (gap_days > 0)):
        warning[i] = f"{warning[i]} ({gap_days[i]} sessions in a data gap)"
    fits["n_excluded"] = excluded
    fits["warning"] = warning
    for name, values in columns.fits.items():
        if name != "n_excluded":
            fits[name] = values
    abnormal = result.abnormal_returns.copy(deep=False)
    # as a Series: a plain array would be copied again into the table (78 MB at 400,000 pairs)
    abnormal["ar_drift_free"] = pd.Series(columns.ar_drift_free, index=abnormal.index, copy=False)
    return replace(result, car=car, fits=fits, abnormal_returns=abnormal,
                   tests=_overlap_notes(result.tests, columns.labels, columns.shared, kind))


def _overlap_notes(tests: pd.DataFrame, labels: Sequence[str], shared: np.ndarray,
                   kind: np.ndarray | None) -> pd.DataFrame:
    """Pooled scopes over events whose CAR windows share sessions say they are not independent
    (``shared``: ``(pairs, windows)``, a complete CAR sharing sessions; ``labels``: the windows')."""
    if not shared.any():
        return tests
    # the pooled scopes' counts per window: "all", and "all <kind>" of the pairs of each kind
    n_shared = {(label, "all"): count for label, count in zip(labels, shared.sum(axis=0), strict=True)}
    if kind is not None:
        n_shared.update({(label, f"all {k}"): count for k in pd.unique(kind)
                         for label, count in zip(labels, shared[kind == k].sum(axis=0), strict=True)})
    tests = tests.copy()
    for (window, scope), rows in tests.groupby(["window", "scope"]).groups.items():
        count = int(n_shared.get((window, scope), 0))
        if not count:
            continue
        note = (f"{count} CARs share sessions with another event's window of the same symbol: "
                "not independent (see overlap_events)")
        tests.loc[rows, "note"] = [f"{n}; {note}" if n else note for n in tests.loc[rows, "note"]]
    return tests


def trap_notes(result: EventStudyResult) -> list[str]:
    """One line per flagged trap of the result (drift, benchmark moved, overlap, gaps, exclusions)."""
    car, fits = result.car, result.fits
    if "drift_dominates" not in car:
        return []
    lines = []
    drift = car[car["drift_dominates"]]
    if len(drift):
        lines.append("CARs of which the fitted drift (-alpha x days) is half or more, or decides "
                     "the 5 % significance: " + ", ".join(
                         f"{r.symbol} {r.event_id} {r.window} (CAR {100 * r.car:+.1f} %, drift "
                         f"{100 * r.drift:+.1f} %)" for r in drift.itertuples())
                     + "; compare the market-adjusted model")
    moved = fits[np.abs(fits["benchmark_day0_z"].fillna(0.0)) > dg.BENCHMARK_Z]
    if len(moved):
        lines.append("benchmark moved by the event on day 0 (beyond "
                     f"{dg.BENCHMARK_Z:g} sd of its estimation history): " + ", ".join(
                         f"{r.benchmark} {100 * r.benchmark_day0_return:+.1f} % "
                         f"(z {r.benchmark_day0_z:+.1f}) for {r.symbol} in {r.event_id}"
                         for r in moved.itertuples())
                     + "; the market model absorbs part of the event: try another benchmark (--benchmark)")
    overlap = fits[fits["overlap_events"] != ""]
    if len(overlap):
        lines.append("event windows of the same symbol share sessions (their CARs are not independent): "
                     + ", ".join(f"{r.symbol} {r.event_id} with {r.overlap_events}"
                                 for r in overlap.itertuples()))
    gap = fits[fits["n_gap_estimation"] > 0]
    gap_car = car[car["n_gap"] > 0].drop_duplicates(["event_id", "symbol"])
    if len(gap) or len(gap_car):
        pairs = dict.fromkeys([(r.symbol, r.event_id) for r in gap.itertuples()]
                              + [(r.symbol, r.event_id) for r in gap_car.itertuples()])
        lines.append("windows touching a data gap (missing returns, counted in n_gap): "
                     + ", ".join(f"{s} in {e}" for s, e in pairs))
    return lines
