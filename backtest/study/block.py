"""The unit of work of the event study: one block of event x instrument pairs.

A block is a few thousand pairs; :func:`study_block` is a pure function of its arrays
(no I/O, no global state), so the same call runs inline, in a process pool or on a Dask
worker, and time stays linear and memory bounded at any number of pairs.

What a block takes (:class:`BlockInput`, ``n`` pairs):

* ``est_r (n, L1)``, ``est_x (n, L1, k)``: estimation-window returns and regressors
  (market first), NaN = missing;
* ``evt_r (n, L2)``, ``evt_x (n, L2, k)``: the same over the event window;
* ``scope (n,)`` int: the pair's event as a global code ``0..E-1`` (the driver factorizes
  the event ids once; pairs of one event may sit in several blocks);
* ``est_days (n, L1)`` int64 day numbers of the estimation sessions
  (:func:`~backtest.study.crosscorr.day_numbers`, ``NO_DAY`` = none), or None to align the
  Kolari-Pynnönen ``r̄`` on the relative day.

The settings shared by every block are a :class:`BlockSpec` (model, ``min_estimation``,
CAR windows as event-window columns, return kind, day-0 column).

What a block returns (:class:`Block`): ``computed``, the per-pair arrays of
:class:`Computed` (fit, ARs and their variance, CARs, BHARs, standardized ranks), and
``stats``, a :class:`~backtest.study.sufficient.ScopeStats` with one row per event present
in the block: the sums, counts and centred sums of squares every cross-sectional test needs
(:mod:`backtest.study.sufficient` lists them), the Corrado ranks' day sums and the
Kolari-Pynnönen ``r̄`` day sums on calendar dates.

How blocks reduce: :func:`~backtest.study.sufficient.combine` concatenates the blocks'
``ScopeStats`` and merges rows of the same event (sums add; centred sums of squares merge
with Chan, Golub and LeVeque 1979). Its size is ``O(events x days)``, independent of the
number of pairs. :func:`~backtest.study.scope_tests.tests_table` turns the reduced statistics
(and the pairs' CARs, which the signed-rank test needs) into the tests table. The driver
:func:`run_blocks` loops over blocks inline, keeping what the caller asks for.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> m = rng.normal(0, 0.01, (4, 120))
>>> r = 1.1 * m + rng.normal(0, 0.01, (4, 120))
>>> spec = BlockSpec(model="market", min_estimation=60, car_cols=((5, 5),), day0_col=5)
>>> block = study_block(BlockInput(r[:, :100], m[:, :100, None], r[:, 100:], m[:, 100:, None],
...                                np.array([0, 0, 1, 1])), spec)
>>> block.computed.car.shape, block.stats.scope.tolist()
((4, 1), [0, 1])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from backtest.study import statistics as st
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
from backtest.study.sufficient import ScopeStats, combine, scope_stats

#: Pairs per block: large enough to amortize numpy's per-call cost, small enough that a
#: block's temporaries (about 40 KB per pair) stay in the caches' reach.
BLOCK_SIZE = 2048

Kept = TypeVar("Kept")


@dataclass(frozen=True)
class BlockInput:
    """Arrays of one block of ``n`` pairs (see the module docstring)."""

    est_r: np.ndarray
    est_x: np.ndarray
    evt_r: np.ndarray
    evt_x: np.ndarray
    scope: np.ndarray
    est_days: np.ndarray | None = None


@dataclass(frozen=True)
class BlockSpec:
    """Settings shared by every block of a study."""

    model: str
    min_estimation: int
    car_cols: tuple[tuple[int, int], ...]
    return_kind: str = "simple"
    day0_col: int | None = None


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


@dataclass(frozen=True)
class Block:
    """What :func:`study_block` returns: per-pair arrays and per-event sufficient statistics."""

    computed: Computed
    stats: ScopeStats


def compute(est_r: np.ndarray, est_x: np.ndarray, evt_r: np.ndarray, evt_x: np.ndarray, *,
            model: str, min_estimation: int, car_cols: Sequence[tuple[int, int]],
            return_kind: str = "simple", day0_col: int | None = None) -> Computed:
    """Fit, predict and cumulate for all pairs of a block at once (no loop per pair).

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


def study_block(block: BlockInput, spec: BlockSpec) -> Block:
    """The unit of work: :func:`compute` on one block, plus its per-event sufficient statistics."""
    out = compute(block.est_r, block.est_x, block.evt_r, block.evt_x, model=spec.model,
                  min_estimation=spec.min_estimation, car_cols=spec.car_cols,
                  return_kind=spec.return_kind, day0_col=spec.day0_col)
    return Block(out, scope_stats(out, np.asarray(block.scope), spec.car_cols, block.est_days))


def run_blocks(blocks: Iterable[BlockInput], spec: BlockSpec,
               keep: Callable[[Block], Kept] = lambda b: b.computed) -> tuple[ScopeStats, list[Kept]]:
    """Inline driver: run :func:`study_block` on each block, then reduce the statistics.

    ``keep`` picks what to hold on to from each block (default: its :class:`Computed`
    arrays; a large run keeps only the CARs). Memory is the kept parts, the blocks'
    statistics (``O(events x days)``) and one block's temporaries.

    Returns
    -------
    stats : ScopeStats
        Reduced over all blocks, one row per event (sorted by code).
    kept : list
        ``keep(block)`` per block, in order.
    """
    parts: list[ScopeStats] = []
    kept: list[Kept] = []
    for block_input in blocks:
        block = study_block(block_input, spec)
        parts.append(block.stats)
        kept.append(keep(block))
    if not parts:
        raise ValueError("run_blocks: no blocks")  # callers check for pairs first; a bug if reached
    # one merge at the end: the blocks' statistics are small, and merging as they come would
    # copy the growing total once per block
    return (parts[0] if len(parts) == 1 else combine(parts)), kept


def table_arrays(block: Block) -> Computed:
    """What the result tables need of a block: its :class:`Computed` without the estimation
    residuals and ranks (``(n, 0)``), which the statistics already summarize."""
    out = block.computed
    none = np.empty((out.car.shape[0], 0))
    return replace(out, u=none, fit=replace(out.fit, est_resid=none))


def slices(n: int, size: int = BLOCK_SIZE) -> list[slice]:
    """Row ranges of ``n`` pairs in blocks of ``size``.

    >>> slices(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    return [slice(i, min(i + size, n)) for i in range(0, max(n, 1), size)]


def concat_computed(parts: Sequence[Computed]) -> Computed:
    """Stack the per-pair arrays of several blocks (in block order)."""
    if len(parts) == 1:
        return parts[0]
    fit = NormalFit(**{name: np.concatenate([getattr(p.fit, name) for p in parts])
                       for name in NormalFit.__dataclass_fields__})
    fields = [f for f in Computed.__dataclass_fields__ if f != "fit"]
    return Computed(fit, **{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})
