"""The prices-level unit of work of the event study: rows of pairs -> windows -> one block.

:func:`event_study <backtest.study.engine.event_study>` cuts the event x instrument rows into
blocks (:func:`pair_blocks`: one block in row order when they fit, else grouped by symbol so
that a block reads few symbols) and maps :func:`study_pairs` over them, inline or on a Dask
worker (:mod:`backtest.scheduler`). A unit gets its rows and the prices of only the symbols
they read: loaded bars inline, a :class:`~backtest.sources.SourcePrices` on a cluster with a
Parquet dataset, so the worker reads those partitions itself and the client never builds or
ships the ``(pairs x estimation days)`` arrays. The unit builds the windows
(:func:`pair_windows`, the one panel-building code of the study), runs
:func:`~backtest.study.block.study_block` and sends back only what the result needs
(:class:`PairsDone`): the per-pair table arrays, the per-event sufficient statistics and the
per-pair diagnostics, all ``O(pairs x event days)`` at most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.instruments import get_instrument
from backtest.scheduler import grouped_order
from backtest.study import diagnostics as dg
from backtest.study.block import BLOCK_SIZE, Block, BlockInput, BlockSpec, Computed, study_block
from backtest.study.crosscorr import day_numbers
from backtest.study.models import NormalFit
from backtest.study.returns import returns_panel, session_returns
from backtest.study.sufficient import ScopeStats, combine, in_order
from backtest.study.synchrony import FactorAlignment, aligned_levels
from backtest.study.windows import Window


@dataclass(frozen=True)
class WindowSetup:
    """What every unit of one study shares to build its windows."""

    estimation: Window
    event: Window
    car_windows: tuple[Window, ...]
    regressors: tuple[str, ...]
    factors: tuple[str, ...]
    return_kind: str
    factor_alignment: FactorAlignment
    exclude_events: Window | None
    model: str


@dataclass(frozen=True)
class Windows:
    """Aligned returns of ``n`` rows (see :class:`backtest.study.panel.Panel`) and where day 0 sits."""

    est_r: np.ndarray
    est_x: np.ndarray
    evt_r: np.ndarray
    evt_x: np.ndarray
    evt_dates: np.ndarray
    est_dates: np.ndarray
    pos0: np.ndarray               # day 0 as a position in its calendar's sessions
    excluded: np.ndarray           # estimation days left out near other events
    excluded_events: list[str]


def _gather(values: np.ndarray, pos0: np.ndarray, window: Window, col: np.ndarray) -> np.ndarray:
    rows = pos0[:, None] + np.arange(window[0], window[1] + 1)[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    taken = values[np.clip(rows, 0, values.shape[0] - 1), col[:, None]]
    return np.where(inside, taken, np.nan)


def _lag(regressor: str) -> int:
    """``market_lag2`` -> 2, ``market_lead1`` -> -1, anything else -> 0."""
    for side, sign in (("_lag", 1), ("_lead", -1)):
        if side in regressor:
            return sign * int(regressor.rsplit(side, 1)[1])
    return 0


def _time_align(panel: np.ndarray, names: Sequence[str], prices: Mapping[str, pd.DataFrame],
                calendars: ExchangeCalendars, calendar: str, return_kind: str,
                rule: FactorAlignment) -> np.ndarray:
    """``panel`` with the returns of series from another exchange replaced by time-aligned ones."""
    foreign = [(j, name) for j, name in enumerate(names) if get_instrument(name).calendar != calendar]
    if not foreign:
        return panel
    panel = panel.copy()
    target = calendars.schedule(calendar)
    for j, name in foreign:
        source = calendars.schedule(get_instrument(name).calendar)
        levels = aligned_levels(prices[name]["close"], source, target, rule)
        panel[:, j] = session_returns(levels, target.index, return_kind).to_numpy()  # type: ignore[arg-type]
    return panel


def _near_other_events(others: pd.DataFrame, calendar: str, sessions: pd.DatetimeIndex,
                       rows: pd.DataFrame, pos0: np.ndarray, est: Window, around: Window
                       ) -> tuple[np.ndarray, list[str]]:
    """Estimation days of ``rows`` near the day 0 of the same symbol's other events (see diagnostics)."""
    theirs = others[others["calendar"].astype(str) == calendar]
    other_pos = sessions.get_indexer(pd.DatetimeIndex(pd.to_datetime(theirs["reaction_session"])))
    ok = other_pos >= 0
    return dg.near_other_events(
        rows["symbol"].astype(str).to_numpy(), rows["event_id"].astype(str).to_numpy(), pos0, est,
        theirs["symbol"].astype(str).to_numpy()[ok], theirs["event_id"].astype(str).to_numpy()[ok],
        other_pos[ok], around)


def cover_windows(calendars: ExchangeCalendars, rows: pd.DataFrame, setup: WindowSetup) -> None:
    """Widen ``calendars`` so every calendar's sessions reach the windows of ``rows``.

    The client calls it on all rows before the units run, so that every unit (whatever rows
    it holds) sees the same sessions and the same day-0 positions.
    """
    est, evt = setup.estimation, setup.event
    for _, idx in rows.groupby("calendar", sort=False).groups.items():
        day0 = pd.DatetimeIndex(pd.to_datetime(rows.loc[idx, "reaction_session"]))
        # the schedule must reach the windows: at most 2 calendar days per session, plus a month
        calendars.cover(day0.min() + pd.Timedelta(days=2 * min(est[0], evt[0], 0) - 31),
                        day0.max() + pd.Timedelta(days=2 * max(evt[1], 0) + 31))


def pair_windows(prices: Mapping[str, pd.DataFrame], rows: pd.DataFrame, calendars: ExchangeCalendars,
                 setup: WindowSetup, others: pd.DataFrame) -> Windows:
    """Estimation and event windows of ``rows`` (columns symbol, benchmark, calendar,
    reaction_session, event_id), on each instrument's own calendar sessions.

    Row ``i`` depends only on its own symbol's, benchmark's and factors' prices, so any subset
    of rows gives the same arrays as all rows at once. ``others`` are the events whose days
    are left out of the estimation windows (``setup.exclude_events``).
    """
    from backtest.errors import StudyError

    est, evt, k = setup.estimation, setup.event, len(setup.regressors)
    rows = rows.reset_index(drop=True)
    symbols, bench = rows["symbol"].tolist(), rows["benchmark"].tolist()
    n, l1, l2 = len(rows), est[1] - est[0] + 1, evt[1] - evt[0] + 1
    est_r, evt_r = np.full((n, l1), np.nan), np.full((n, l2), np.nan)
    est_x, evt_x = np.full((n, l1, k), np.nan), np.full((n, l2, k), np.nan)
    evt_dates = np.full((n, l2), np.datetime64("NaT"), dtype="datetime64[ns]")
    est_dates = np.full((n, l1), np.datetime64("NaT"), dtype="datetime64[ns]")
    pos0_all = np.zeros(n, dtype=np.int64)
    excluded = np.zeros(n, dtype=np.int64)
    excluded_events = [""] * n
    cover_windows(calendars, rows, setup)
    for calendar, idx_rows in rows.groupby("calendar", sort=False).groups.items():
        idx = np.asarray(idx_rows)
        day0 = pd.DatetimeIndex(pd.to_datetime(rows.loc[idx, "reaction_session"]))
        sessions = calendars.sessions(str(calendar))
        pos0 = sessions.get_indexer(day0)
        if (pos0 < 0).any():
            bad = day0[pos0 < 0][0]
            raise StudyError(f"reaction session {bad.date()} is not a session of {calendar}; "
                             "rebuild the alignment with the same calendars")
        names = list(dict.fromkeys([symbols[i] for i in idx] + [bench[i] for i in idx if bench[i]]
                                   + list(setup.factors)))
        panel = returns_panel(prices, names, sessions, setup.return_kind).to_numpy()  # type: ignore[arg-type]
        if setup.factor_alignment != "date":
            panel = _time_align(panel, names, prices, calendars, str(calendar), setup.return_kind,
                                setup.factor_alignment)
        col = {name: j for j, name in enumerate(names)}
        own = np.array([col[symbols[i]] for i in idx])
        est_r[idx], evt_r[idx] = _gather(panel, pos0, est, own), _gather(panel, pos0, evt, own)
        has_b = np.array([bool(bench[i]) for i in idx])
        bcol = np.array([col[bench[i]] if bench[i] else 0 for i in idx])
        for j, name in enumerate(setup.regressors):
            market = name.startswith("market")
            lag = _lag(name)
            c = bcol if market else np.full(len(idx), col[name])
            mask = has_b[:, None] if market else True
            est_x[idx, :, j] = np.where(mask, _gather(panel, pos0 - lag, est, c), np.nan)
            evt_x[idx, :, j] = np.where(mask, _gather(panel, pos0 - lag, evt, c), np.nan)
        for window, dates in ((evt, evt_dates), (est, est_dates)):
            rel = pos0[:, None] + np.arange(window[0], window[1] + 1)[None, :]
            inside = (rel >= 0) & (rel < len(sessions))
            dates[idx] = np.where(inside, sessions.to_numpy()[np.clip(rel, 0, len(sessions) - 1)],
                                  np.datetime64("NaT"))
        pos0_all[idx] = pos0
        if setup.exclude_events is not None:
            mask, ids = _near_other_events(others, str(calendar), sessions, rows.loc[idx], pos0, est,
                                           setup.exclude_events)
            excluded[idx] = (mask & np.isfinite(est_r[idx])).sum(axis=1)
            est_r[idx] = np.where(mask, np.nan, est_r[idx])
            for i, text in zip(idx, ids, strict=True):
                excluded_events[i] = text
    return Windows(est_r, est_x, evt_r, evt_x, evt_dates, est_dates, pos0_all, excluded, excluded_events)


def _gap_days(calendars: ExchangeCalendars, gaps: pd.DataFrame) -> dict[str, np.ndarray]:
    """The sessions inside each symbol's data gaps (``gaps``, a part of ``calendars.gaps``), sorted."""
    spans: dict[str, list[np.ndarray]] = {}
    for calendar, part in gaps.groupby("calendar", sort=False):
        # a gap lies inside the data, so inside the sessions covered: one lookup per calendar
        sessions = calendars.sessions(str(calendar)).to_numpy(dtype="datetime64[ns]")
        lo = np.searchsorted(sessions, part["first"].to_numpy(dtype="datetime64[ns]"), side="left")
        hi = np.searchsorted(sessions, part["last"].to_numpy(dtype="datetime64[ns]"), side="right")
        for symbol, a, b in zip(part["symbol"].astype(str), lo, hi, strict=True):
            spans.setdefault(symbol, []).append(sessions[a:b])
    return {symbol: np.unique(np.concatenate(parts)) for symbol, parts in spans.items()}


def gap_counts(calendars: ExchangeCalendars, symbol: np.ndarray, benchmark: np.ndarray,
               est_dates: np.ndarray, evt_dates: np.ndarray, car_windows: Sequence[Window],
               evt: Window) -> tuple[np.ndarray, np.ndarray]:
    """Sessions of each pair's estimation window and CAR windows inside a data gap of the
    symbol or its benchmark (``calendars.gaps``): ``(n,)`` and ``(n, W)``.

    One pass per (symbol, benchmark) of the pairs, never one per pair.
    """
    n = len(symbol)
    n_est, n_car = np.zeros(n, dtype=np.int64), np.zeros((n, len(car_windows)), dtype=np.int64)
    gaps = calendars.gaps
    if gaps.empty or n == 0:
        return n_est, n_car
    symbol, benchmark = np.asarray(symbol).astype(str), np.asarray(benchmark).astype(str)
    days = _gap_days(calendars, gaps[gaps["symbol"].astype(str).isin({*symbol, *benchmark})])  # these pairs'
    if not days:
        return n_est, n_car
    cols = [(a - evt[0], b - evt[0] + 1) for a, b in car_windows]
    groups = pd.DataFrame({"s": symbol, "b": benchmark}).groupby(["s", "b"], sort=False).indices
    for (own, bench), idx in groups.items():
        hit = [days[s] for s in (own, bench) if s in days]
        if not hit:
            continue
        gap_days = np.union1d(hit[0], hit[1]) if len(hit) > 1 else hit[0]
        # NaT (a window past the sessions) is never a gap day, as DatetimeIndex.isin has it
        n_est[idx] = np.isin(est_dates[idx].astype("datetime64[ns]"), gap_days).sum(axis=1)
        in_evt = np.isin(evt_dates[idx].astype("datetime64[ns]"), gap_days)
        n_car[idx] = np.stack([in_evt[:, a:b].sum(axis=1) for a, b in cols], axis=1) if cols else 0
    return n_est, n_car


@dataclass(frozen=True)
class PairDiagnostics:
    """Per-pair diagnostics the unit computes where the estimation windows are (``n`` pairs, ``W``
    CAR windows): what :func:`~backtest.study.traps.with_diagnostics` adds to the tables."""

    pos0: np.ndarray               # (n,) day 0 in its calendar's sessions
    excluded: np.ndarray           # (n,) estimation days left out near other events
    excluded_events: list[str]
    n_gap_estimation: np.ndarray   # (n,)
    n_gap_car: np.ndarray          # (n, W)
    benchmark_car: np.ndarray      # (n, W) the benchmark's return over each CAR window
    benchmark_z: np.ndarray        # (n, W)
    benchmark_day0: np.ndarray     # (n,)
    benchmark_day0_z: np.ndarray   # (n,)


def pair_diagnostics(w: Windows, calendars: ExchangeCalendars, symbol: np.ndarray, benchmark: np.ndarray,
                     setup: WindowSetup) -> PairDiagnostics:
    """The diagnostics of :class:`PairDiagnostics` from the windows of the pairs."""
    evt = setup.event
    car_cols = [(a - evt[0], b - evt[0]) for a, b in setup.car_windows]
    n_est, n_car = gap_counts(calendars, symbol, benchmark, w.est_dates, w.evt_dates, setup.car_windows, evt)
    bench_est = w.est_x[..., 0] if w.est_x.shape[2] else np.full(w.est_r.shape, np.nan)
    bench_evt = w.evt_x[..., 0] if w.evt_x.shape[2] else np.full(w.evt_r.shape, np.nan)
    bench_ret, bench_z = dg.benchmark_move(bench_est, bench_evt, car_cols)
    day0 = -evt[0] if evt[0] <= 0 <= evt[1] else None
    n = len(symbol)
    day0_ret, day0_z = (dg.benchmark_move(bench_est, bench_evt, [(day0, day0)]) if day0 is not None
                        else (np.full((n, 1), np.nan), np.full((n, 1), np.nan)))
    return PairDiagnostics(w.pos0, w.excluded, w.excluded_events, n_est, n_car, bench_ret, bench_z,
                           day0_ret[:, 0], day0_z[:, 0])


@dataclass(frozen=True)
class PairsInput:
    """One unit: its rows (event_id, symbol, benchmark, calendar, reaction_session, and ``code``,
    the event's global code), the prices of their symbols and the other events of their symbols."""

    rows: pd.DataFrame
    prices: Mapping[str, pd.DataFrame]
    others: pd.DataFrame


@dataclass(frozen=True)
class PairsDone:
    """What a unit sends back: per row of its input ``has_data`` (False: no return in the event
    window) and ``n_ar_missing``; per row with data (``m`` of them, in input order) everything
    else; the rows without data only their event-window dates, for the warning that names them."""

    stats: ScopeStats | None       # per-event statistics of the pairs with data (None: none)
    kept: Any                      # keep(block) of the pairs with data
    has_data: np.ndarray           # (n,) bool
    n_ar_missing: np.ndarray       # (n,) event-window days without an AR
    evt_r: np.ndarray              # (m, L2)
    evt_bench: np.ndarray          # (m, L2) the benchmark's returns (NaN without one)
    evt_dates: np.ndarray          # (m, L2)
    diagnostics: PairDiagnostics   # of the m rows
    lost_dates: np.ndarray         # (n - m, L2) event-window dates of the rows without data


def study_pairs(unit: PairsInput, *, calendars: ExchangeCalendars, setup: WindowSetup, spec: BlockSpec,
                keep: Callable[[Block], Any]) -> PairsDone:
    """The unit of work: build the windows of ``unit.rows`` from ``unit.prices`` and study them."""
    rows = unit.rows
    w = pair_windows(unit.prices, rows, calendars, setup, unit.others)
    has_data = np.isfinite(w.evt_r).any(axis=1)
    # an AR needs the return and, except under constant mean, every regressor
    ar_missing = ~np.isfinite(w.evt_r)
    if setup.model != "constant_mean":
        ar_missing |= ~np.all(np.isfinite(w.evt_x), axis=-1)
    stats, kept = None, None
    take = np.flatnonzero(has_data)
    if take.size:
        block = study_block(BlockInput(w.est_r[take], w.est_x[take], w.evt_r[take], w.evt_x[take],
                                       rows["code"].to_numpy()[take], day_numbers(w.est_dates[take])), spec)
        stats, kept = block.stats, keep(block)
    symbol, benchmark = rows["symbol"].to_numpy(dtype=object), rows["benchmark"].to_numpy(dtype=object)
    evt_bench = w.evt_x[..., 0] if w.evt_x.shape[2] else np.full(w.evt_r.shape, np.nan)
    diagnostics = pair_diagnostics(w, calendars, symbol, benchmark, setup)
    if take.size < len(rows):  # rows without data send their dates only (not sent, not copied)
        evt_bench, evt_r, evt_dates = evt_bench[take], w.evt_r[take], w.evt_dates[take]
        diagnostics = PairDiagnostics(**{f.name: _rows_of(getattr(diagnostics, f.name), take)
                                         for f in fields(PairDiagnostics)})
    else:
        evt_r, evt_dates = w.evt_r, w.evt_dates
    return PairsDone(stats, kept, has_data, ar_missing.sum(axis=1), evt_r, evt_bench, evt_dates,
                     diagnostics, w.evt_dates[~has_data])


def _rows_of(values: Any, rows: np.ndarray) -> Any:
    """``values`` (an array or a list) at ``rows``."""
    return [values[i] for i in rows] if isinstance(values, list) else values[rows]


def pair_blocks(n: int, symbols: Sequence[str], block_size: int | None = None) -> list[np.ndarray]:
    """Row positions of each block: all rows in order when they fit in one block, else rows
    grouped by symbol (stable) and cut every ``block_size``, so a block reads few symbols.

    The cut depends only on the rows, never on the scheduler: every scheduler merges the same
    blocks' statistics in the same order, so the results are identical bytes.

    >>> [b.tolist() for b in pair_blocks(4, ["A", "B", "A", "B"], 2)]
    [[0, 2], [1, 3]]
    """
    block_size = BLOCK_SIZE if block_size is None else block_size
    if n <= block_size:
        return [np.arange(n)]
    order = grouped_order(symbols)
    return [order[i : i + block_size] for i in range(0, n, block_size)]


def computed_in_order(parts: Sequence[Computed], rows: np.ndarray) -> Computed:
    """The blocks' :class:`Computed` arrays, every field's row ``j`` (in block order) at ``rows[j]``."""
    fit = NormalFit(**{f.name: in_order([getattr(p.fit, f.name) for p in parts], rows)
                       for f in fields(NormalFit)})
    return Computed(fit, **{f.name: in_order([getattr(p, f.name) for p in parts], rows)
                            for f in fields(Computed) if f.name != "fit"})


def relabel(stats: ScopeStats, new_code: np.ndarray) -> ScopeStats:
    """``stats`` with event code ``c`` renamed ``new_code[c]`` (rows sorted by the new codes)."""
    out = ScopeStats(**{f.name: getattr(stats, f.name) for f in fields(ScopeStats)
                        if f.name not in ("scope", "rb_scope")},
                     scope=new_code[stats.scope], rb_scope=new_code[stats.rb_scope.astype(np.int64)])
    if np.all(np.diff(out.scope) > 0):
        return out
    return combine([out])  # codes changed order: combine sorts the rows again
