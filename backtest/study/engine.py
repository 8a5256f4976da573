"""Prices-level event study: alignment rows + bars -> :class:`EventStudyResult`.

For each event x symbol row of ``align_symbols``' output, relative day 0 is its
reaction session and relative days count the sessions of the instrument's own
exchange calendar (reconciled, so closures are never counted). Returns follow
the rule in :mod:`backtest.study.returns`; the benchmark (and factor) returns
are read on the instrument's sessions. The numerics run on all pairs at once
(:func:`backtest.study.panel.compute`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import DataWarning, ParameterError, StudyError
from backtest.instruments import benchmark_of, get_instrument
from backtest.scheduler import open_scheduler
from backtest.study import diagnostics as dg
from backtest.study.models import NEEDS_MARKET, Model
from backtest.study.panel import Panel, assemble
from backtest.study.result import EventStudyResult
from backtest.study.returns import returns_panel, session_returns
from backtest.study.synchrony import FACTOR_ALIGNMENTS, FactorAlignment, aligned_levels
from backtest.study.windows import Window, check_windows, parse_car_windows, parse_model, parse_window

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((0, 0), (0, 1), (-1, 1), (0, 5), (0, 20))
ALIGNMENT_COLUMNS: tuple[str, ...] = ("event_id", "symbol", "calendar", "reaction_session")


def _benchmarks(symbols: Sequence[str], overrides: Mapping[str, str] | None, model: str) -> list[str]:
    out = []
    for symbol in symbols:
        bench = benchmark_of(symbol, overrides)
        if not bench and model in NEEDS_MARKET:
            other = "QQQ" if symbol == "SPY" else "SPY"
            raise StudyError(
                f"symbol {symbol!r} has no benchmark in the instrument registry; pass "
                f"benchmarks={{'{symbol}': '{other}'}} (CLI: --benchmark {symbol}={other}) "
                "or use model 'constant_mean'"
            )
        out.append(bench)
    return out


def _need_prices(prices: Mapping[str, pd.DataFrame], symbol: str, role: str) -> None:
    if symbol not in prices:
        raise StudyError(
            f"no prices for {role} {symbol!r}; load it too (the prices must include every symbol, "
            "benchmark and factor)"
        )
    if "close" not in prices[symbol].columns:
        raise StudyError(f"prices of {symbol!r} have no 'close' column")


def _gather(values: np.ndarray, pos0: np.ndarray, window: Window, col: np.ndarray) -> np.ndarray:
    rows = pos0[:, None] + np.arange(window[0], window[1] + 1)[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    taken = values[np.clip(rows, 0, values.shape[0] - 1), col[:, None]]
    return np.where(inside, taken, np.nan)


def _warn_shared_day0(align: pd.DataFrame) -> None:
    """Events reacting on the same session for one symbol are one observation, not two."""
    same = align[align.duplicated(["symbol", "reaction_session"], keep=False)]
    if same.empty:
        return
    listed = [
        f"{symbol} on {pd.Timestamp(day).date()} ({', '.join(map(str, group['event_id']))})"
        for (symbol, day), group in same.groupby(["symbol", "reaction_session"], sort=True)
    ]
    warnings.warn(
        "events sharing a reaction session give the same CARs and count twice in the pooled tests: "
        + "; ".join(listed) + "; merge them into one event or study them apart (--event)",
        DataWarning,
        stacklevel=3,
    )


def _warn_foreign_factors(align: pd.DataFrame, factors: Sequence[str]) -> None:
    """A factor from another exchange is read on the instrument's own sessions: not synchronous."""
    pairs = sorted({
        (str(symbol), factor)
        for symbol in align["symbol"]
        for factor in factors
        if get_instrument(factor).timezone != get_instrument(str(symbol)).timezone
    })
    if pairs:
        warnings.warn(
            "factors from another market are matched on the instrument's own session dates, not "
            "synchronous (their close is hours apart and their holidays differ): "
            + ", ".join(f"{f} for {s}" for s, f in pairs)
            + "; prefer a factor listed on the instrument's own exchange",
            DataWarning,
            stacklevel=3,
        )


def event_study(prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame,
                calendars: ExchangeCalendars, *, model: Model = "market",
                estimation_window: Window | str = (-250, -11), event_window: Window | str = (-5, 20),
                car_windows: Sequence[Window] | str = DEFAULT_CAR_WINDOWS, min_estimation: int = 60,
                benchmarks: Mapping[str, str] | None = None, factors: Sequence[str] | None = None,
                return_kind: Literal["simple", "log"] = "simple",
                exclude_events: Window | str | None = dg.DEFAULT_EXCLUDE,
                other_events: pd.DataFrame | None = None,
                factor_alignment: FactorAlignment = "close", dimson: int = 0,
                robustness: bool = False, scheduler: Any = None) -> EventStudyResult:
    """Abnormal returns, CARs and cross-sectional tests for every event x symbol.

    Parameters
    ----------
    prices : mapping of symbol to bars
        Adjusted daily bars (``close`` is used); must include benchmarks and factors.
    alignment : DataFrame
        ``backtest.alignment.align_symbols`` output (event_id, symbol, calendar, reaction_session, ...).
    calendars : ExchangeCalendars
        Reconciled calendars; relative days are sessions of each instrument's calendar.
    model : {"market", "market_adjusted", "constant_mean", "factor"}
    estimation_window, event_window : (int, int) or "first:last"
        Relative sessions, inclusive; the estimation window must end before the event window.
    car_windows : sequence of (int, int) or "0:0,0:1,..."
        Inside the event window.
    min_estimation : int
        A pair with fewer usable estimation returns falls back to the market-adjusted model.
    benchmarks : {symbol: benchmark}, optional
        Overrides the registry's ``Instrument.benchmark``.
    factors : sequence of str, optional
        Factor model: regressors after the benchmark (e.g. ``["SOXX"]`` for market + SOXX).
    return_kind : {"simple", "log"}
    exclude_events : (int, int) or "first:last" or None
        Sessions around the day 0 of the symbol's other events (default -5:5) left out of the
        estimation sample, counted in ``fits.n_excluded``; None keeps them.
    other_events : DataFrame, optional
        ``align_symbols`` output of every event of the events file (default: ``alignment``),
        the events whose days are left out of the estimation windows.
    factor_alignment : {"close", "open", "date"}
        How a benchmark or factor from another exchange meets the instrument's sessions: its
        last close before the session's close (default), before its open (intraday variant),
        or the naive same-date join (:mod:`backtest.study.synchrony`).
    dimson : int
        Market lags and leads for Dimson (1979) betas (0 = none; market and factor models):
        regressors ``R_m,t-j .. R_m,t+j``; ``fits.beta_dimson`` is the sum of their slopes.
    robustness : bool
        Also run the study under each normal-return model (market, market-adjusted,
        constant-mean, + factor when ``factors``) into ``result.robustness``.
    scheduler : str or dask.distributed.Client, optional
        Where the blocks of pairs are computed (:func:`backtest.study.blocks.map_blocks`):
        ``"inline"`` (default), ``"local:N"``, ``"tcp://HOST:PORT"`` or a client; same result.

    Returns
    -------
    EventStudyResult
        With ``model_used`` and ``n_estimation`` per pair, and the trap diagnostics
        (:mod:`backtest.study.diagnostics`): per CAR ``drift``, ``drift_share``,
        ``car_drift_free``, ``drift_dominates``, ``bhar_drift``, ``benchmark_car``,
        ``benchmark_z``, ``benchmark_moved``, ``overlap_events``, ``n_gap``; per pair
        ``n_excluded``, ``excluded_events``, ``n_gap_estimation``, ``benchmark_day0_return``,
        ``benchmark_day0_z``, ``overlap_events``.

    Raises
    ------
    ParameterError
        Bad windows (backwards, overlapping), unknown model, missing factors.
    StudyError
        No benchmark, no prices for a symbol, or no pair with a return in its event window.

    Warns
    -----
    ShortHistoryWarning
        A pair has fewer estimation returns than the window (and maybe fell back).
    DataWarning
        Pairs dropped for lack of prices, or missing returns inside event windows.

    Notes
    -----
    Market model ``R_it = alpha_i + beta_i R_mt + e_it`` fitted by OLS on the estimation
    window; ``Var(AR)`` and ``Var(CAR)`` include the parameter-estimation error
    (MacKinlay 1997, JEL 35(1), eq. 7-8).

    Examples
    --------
    >>> from backtest.alignment import align_symbols
    >>> from backtest.events import load_events
    >>> from backtest.sources import load_prices
    >>> prices = load_prices(["NVDA", "SPY"])
    >>> cals = ExchangeCalendars.from_prices(prices)
    >>> events = load_events()
    >>> rows = align_symbols(events[events.event_id == "deepseek_r1"], cals, ["NVDA"])
    >>> res = event_study(prices, rows, cals, car_windows=[(0, 0)])
    >>> float(res.car["car"].iloc[0]) < -0.10
    True
    """
    model = parse_model(model)
    est = parse_window(estimation_window, "estimation_window")
    evt = parse_window(event_window, "event_window")
    cars = parse_car_windows(car_windows)
    check_windows(est, evt, cars)
    if isinstance(min_estimation, bool) or not isinstance(min_estimation, (int, np.integer)) \
            or min_estimation < 3:
        raise ParameterError(f"min_estimation {min_estimation!r}: give a whole number of at least 3")
    if return_kind not in ("simple", "log"):
        raise ParameterError(f"return_kind {return_kind!r}: use 'simple' or 'log'")
    around = None if exclude_events is None else parse_window(exclude_events, "exclude_events")
    if factor_alignment not in FACTOR_ALIGNMENTS:
        raise ParameterError(
            f"factor_alignment {factor_alignment!r}: use one of {', '.join(FACTOR_ALIGNMENTS)}")
    if isinstance(dimson, bool) or not isinstance(dimson, (int, np.integer)) or not 0 <= dimson <= 5:
        raise ParameterError(f"dimson {dimson!r}: give the number of lags and leads, 0 to 5 (e.g. 1)")
    if dimson and model not in ("market", "factor"):
        raise ParameterError(f"dimson applies to the market and factor models, not {model!r}; drop it")
    factor_list = [f for f in (factors or ())]
    if model == "factor" and not factor_list:
        raise ParameterError("model 'factor' needs factors, e.g. factors=['SOXX'] (CLI: --factors SOXX)")
    missing_cols = [c for c in ALIGNMENT_COLUMNS if c not in getattr(alignment, "columns", ())]
    if missing_cols:
        raise ParameterError(
            f"alignment: missing column(s) {', '.join(missing_cols)}; pass align_symbols(...) output"
        )
    if len(alignment) == 0:
        raise StudyError("alignment has no event x symbol rows; check the events and --symbols")

    align = alignment.reset_index(drop=True)
    symbols = [str(s) for s in align["symbol"]]
    bench = _benchmarks(symbols, benchmarks, model)
    for symbol, b in zip(symbols, bench, strict=True):
        _need_prices(prices, symbol, "symbol")
        if b:
            _need_prices(prices, b, f"benchmark of {symbol}:")
    for f in factor_list:
        _need_prices(prices, f, "factor")
        if model == "factor" and f in bench:
            owner = symbols[bench.index(f)]
            raise ParameterError(
                f"factors: {f!r} is already the benchmark of {owner}; factors come after the "
                "benchmark, e.g. factors=['SOXX'] for market + SOXX"
            )
    regressors = tuple(dict.fromkeys(["market", *factor_list])) if model == "factor" else ("market",)
    regressors += tuple(f"market_{side}{j}" for j in range(1, dimson + 1) for side in ("lag", "lead"))
    k = len(regressors)

    n, l1, l2 = len(align), est[1] - est[0] + 1, evt[1] - evt[0] + 1
    est_r, evt_r = np.full((n, l1), np.nan), np.full((n, l2), np.nan)
    est_x, evt_x = np.full((n, l1, k), np.nan), np.full((n, l2, k), np.nan)
    evt_dates = np.full((n, l2), np.datetime64("NaT"), dtype="datetime64[ns]")
    est_dates = np.full((n, l1), np.datetime64("NaT"), dtype="datetime64[ns]")
    pos0_all = np.zeros(n, dtype=np.int64)
    excluded = np.zeros(n, dtype=np.int64)
    excluded_events = [""] * n
    others = align if other_events is None else other_events
    for calendar, rows in align.groupby("calendar", sort=False).groups.items():
        idx = np.asarray(rows)
        day0 = pd.DatetimeIndex(pd.to_datetime(align.loc[idx, "reaction_session"]))
        # the schedule must reach the windows: at most 2 calendar days per session, plus a month
        calendars.cover(day0.min() + pd.Timedelta(days=2 * min(est[0], evt[0], 0) - 31),
                        day0.max() + pd.Timedelta(days=2 * max(evt[1], 0) + 31))
        sessions = calendars.sessions(str(calendar))
        pos0 = sessions.get_indexer(day0)
        if (pos0 < 0).any():
            bad = day0[pos0 < 0][0]
            raise StudyError(f"reaction session {bad.date()} is not a session of {calendar}; "
                             "rebuild the alignment with the same calendars")
        names = list(dict.fromkeys([symbols[i] for i in idx] + [bench[i] for i in idx if bench[i]]
                                   + factor_list))
        panel = returns_panel(prices, names, sessions, return_kind).to_numpy()
        if factor_alignment != "date":
            panel = _time_align(panel, names, prices, calendars, str(calendar), return_kind, factor_alignment)
        col = {name: j for j, name in enumerate(names)}
        own = np.array([col[symbols[i]] for i in idx])
        est_r[idx], evt_r[idx] = _gather(panel, pos0, est, own), _gather(panel, pos0, evt, own)
        has_b = np.array([bool(bench[i]) for i in idx])
        bcol = np.array([col[bench[i]] if bench[i] else 0 for i in idx])
        for j, name in enumerate(regressors):
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
        if around is not None:
            mask, ids = _near_other_events(others, str(calendar), sessions, align.loc[idx], pos0, est, around)
            excluded[idx] = (mask & np.isfinite(est_r[idx])).sum(axis=1)
            est_r[idx] = np.where(mask, np.nan, est_r[idx])
            for i, text in zip(idx, ids, strict=True):
                excluded_events[i] = text

    event_ids = align["event_id"].astype(str).to_numpy(dtype=object)
    has_data = np.isfinite(evt_r).any(axis=1)
    if not has_data.any():
        raise StudyError(
            "no event x symbol pair has a return in its event window "
            f"{evt[0]}:{evt[1]}; the prices do not cover the events"
            + _gaps_hit(calendars, symbols, evt_dates) + " (check the dates and the price source)"
        )
    if not has_data.all():
        dropped = [f"{symbols[i]} in {event_ids[i]}"
                   + _gaps_hit(calendars, [symbols[i]], evt_dates[i : i + 1])
                   for i in np.flatnonzero(~has_data)]
        warnings.warn(f"no prices in the event window for {', '.join(dropped)}; left out of the study",
                      DataWarning, stacklevel=2)
    # an AR needs the return and, except under constant mean, every regressor
    ar_missing = ~np.isfinite(evt_r)
    if model != "constant_mean":
        ar_missing |= ~np.all(np.isfinite(evt_x), axis=-1)
    partial = has_data & ar_missing.any(axis=1)
    if partial.any():
        listed = [f"{symbols[i]} in {event_ids[i]} ({int(ar_missing[i].sum())} of {l2})"
                  for i in np.flatnonzero(partial)]
        warnings.warn("missing returns in the event window (counted in n_missing; a gap inside the "
                      "data is left out of the CARs, a CAR running past the data is NaN): "
                      f"{', '.join(listed)}", DataWarning, stacklevel=2)
    _warn_shared_day0(align)
    if model == "factor" and factor_alignment == "date":
        _warn_foreign_factors(align, factor_list)
    keep = np.flatnonzero(has_data)
    kind = align["kind"].astype(str).to_numpy(dtype=object)[keep] if "kind" in align else None
    panel = Panel(event_ids[keep], np.array(symbols, dtype=object)[keep],
                  np.array(bench, dtype=object)[keep], est_r[keep], est_x[keep], evt_r[keep],
                  evt_x[keep], evt_dates[keep], regressors, est_dates[keep], kind, excluded[keep])
    settings = {"model": model, "estimation_window": est, "event_window": evt, "car_windows": cars,
                "min_estimation": min_estimation, "return_kind": return_kind,
                "benchmarks": dict(benchmarks or {}), "factors": factor_list, "source": "prices",
                "exclude_events": around, "factor_alignment": factor_alignment, "dimson": dimson}
    with open_scheduler(scheduler) as mapper:
        result = assemble(panel, model=model, estimation=est, event=evt, car_windows=cars,
                          min_estimation=min_estimation, return_kind=return_kind, settings=settings,
                          mapper=mapper)
    gaps = _gap_counts(calendars, panel, cars, evt)
    result = with_diagnostics(result, panel, pos0_all[keep], excluded[keep],
                              [excluded_events[i] for i in keep], gaps, evt, cars, return_kind)
    if not robustness:
        return result
    from backtest.study.robustness import model_robustness

    view = model_robustness(prices, alignment, calendars, estimation_window=est, event_window=evt,
                            car_windows=cars, min_estimation=min_estimation, benchmarks=benchmarks,
                            factors=factors, return_kind=return_kind, exclude_events=around,
                            other_events=other_events, factor_alignment=factor_alignment)
    return replace(result, robustness=view)


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


def _gaps_hit(calendars: ExchangeCalendars, symbols: Sequence[str], dates: np.ndarray) -> str:
    """", inside a data gap: NVDA 2025-02-03..2025-06-30 (FILE)" for gaps the windows fall into."""
    gaps = calendars.gaps
    if gaps.empty:
        return ""
    lo, hi = pd.Timestamp(np.nanmin(dates)), pd.Timestamp(np.nanmax(dates))
    hit = gaps[gaps["symbol"].isin(symbols) & (gaps["first"] <= hi) & (gaps["last"] >= lo)]
    listed = [f"{g.symbol} {g.first.date()}..{g.last.date()} ({g.origin})" for g in hit.itertuples()]
    return f", inside a data gap: {'; '.join(listed)}" if listed else ""


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


def _gap_counts(calendars: ExchangeCalendars, panel: Panel, cars: Sequence[Window],
                evt: Window) -> tuple[np.ndarray, np.ndarray]:
    """Sessions of each pair's estimation window and CAR windows inside a data gap of the
    symbol or its benchmark (``calendars.gaps``): ``(n,)`` and ``(n, W)``."""
    n = len(panel.symbol)
    n_est, n_car = np.zeros(n, dtype=np.int64), np.zeros((n, len(cars)), dtype=np.int64)
    gaps = calendars.gaps
    if gaps.empty:
        return n_est, n_car
    days: dict[str, pd.DatetimeIndex] = {}
    for g in gaps.itertuples():
        span = calendars.sessions(str(g.calendar), g.first, g.last)
        days[str(g.symbol)] = days.get(str(g.symbol), pd.DatetimeIndex([])).union(span)
    for i in range(n):
        hit = [days[s] for s in (str(panel.symbol[i]), str(panel.benchmark[i])) if s in days]
        if not hit:
            continue
        gap_days = hit[0].union(hit[1]) if len(hit) > 1 else hit[0]
        n_est[i] = int(pd.DatetimeIndex(panel.est_dates[i]).isin(gap_days).sum())
        in_evt = pd.DatetimeIndex(panel.evt_dates[i]).isin(gap_days)
        n_car[i] = [int(in_evt[a - evt[0] : b - evt[0] + 1].sum()) for a, b in cars]
    return n_est, n_car


def with_diagnostics(result: EventStudyResult, panel: Panel, pos0: np.ndarray, excluded: np.ndarray,
                     excluded_events: list[str], gaps: tuple[np.ndarray, np.ndarray], evt: Window,
                     cars: Sequence[Window], return_kind: str) -> EventStudyResult:
    """Add the trap diagnostics (:mod:`backtest.study.diagnostics`) to the CAR and fits tables."""
    n, w = len(panel.symbol), len(cars)
    car, fits = result.car.copy(), result.fits.copy()
    car_cols = [(a - evt[0], b - evt[0]) for a, b in cars]
    shape = (n, w)
    alpha = fits["alpha"].to_numpy(dtype=float)
    values = {c: car[c].to_numpy(dtype=float).reshape(shape) for c in ("car", "car_se", "df", "p_value")}
    drift = dg.car_drift(alpha[:, None], car["n_days"].to_numpy().reshape(shape), values["car"],
                         values["car_se"], values["df"], values["p_value"])
    l2 = panel.evt_r.shape[1]
    ab = result.abnormal_returns
    normal = ab["normal_return"].to_numpy(dtype=float).reshape(n, l2)
    ar = ab["ar"].to_numpy(dtype=float).reshape(n, l2)
    bhar_drift = np.stack([dg.bhar_drift(normal, ar, alpha, a, b, return_kind) for a, b in car_cols], 1)
    complete = car["complete"].to_numpy(dtype=bool).reshape(shape)
    bench_est = panel.est_x[..., 0] if panel.est_x.shape[2] else np.full(panel.est_r.shape, np.nan)
    bench_evt = panel.evt_x[..., 0] if panel.evt_x.shape[2] else np.full(panel.evt_r.shape, np.nan)
    bench_ret, bench_z = dg.benchmark_move(bench_est, bench_evt, car_cols)
    overlap = dg.overlapping_events(panel.symbol.astype(str), panel.event_id.astype(str), pos0, cars)
    for name in ("drift", "drift_share", "car_drift_free"):
        car[name] = drift[name].ravel()
    car["drift_dominates"] = drift["drift_dominates"].ravel()
    car["bhar_drift"] = np.where(complete, bhar_drift, np.nan).ravel()
    car["benchmark_car"] = bench_ret.ravel()
    car["benchmark_z"] = bench_z.ravel()
    car["benchmark_moved"] = (np.abs(np.nan_to_num(bench_z)) > dg.BENCHMARK_Z).ravel()
    car["overlap_events"] = [text for row in overlap for text in row]
    car["n_gap"] = gaps[1].ravel()

    day0 = -evt[0] if evt[0] <= 0 <= evt[1] else None
    day0_ret, day0_z = (dg.benchmark_move(bench_est, bench_evt, [(day0, day0)]) if day0 is not None
                        else (np.full((n, 1), np.nan), np.full((n, 1), np.nan)))
    fits["n_excluded"] = excluded
    short = (excluded > 0) & (fits["warning"].astype(str) != "")
    fits.loc[short, "warning"] = [f"{w} ({k} sessions near other events left out; exclude_events=None "
                                  "keeps them)" for w, k in zip(fits.loc[short, "warning"], excluded[short],
                                                                strict=True)]
    gap_short = (gaps[0] > 0) & (fits["warning"].astype(str) != "")
    fits.loc[gap_short, "warning"] = [f"{w} ({k} sessions in a data gap)" for w, k in
                                      zip(fits.loc[gap_short, "warning"], gaps[0][gap_short], strict=True)]
    fits["excluded_events"] = excluded_events
    fits["n_gap_estimation"] = gaps[0]
    fits["benchmark_day0_return"] = day0_ret[:, 0]
    fits["benchmark_day0_z"] = day0_z[:, 0]
    fits["overlap_events"] = dg.overlapping_events(panel.symbol.astype(str), panel.event_id.astype(str),
                                                   pos0, [evt])
    fits["overlap_events"] = [row[0] for row in fits["overlap_events"]]
    abnormal = result.abnormal_returns.copy()
    # the AR without the extrapolated intercept: R - beta'x (recovery's drift-free abnormal path)
    abnormal["ar_drift_free"] = (ar + alpha[:, None]).ravel()
    return replace(result, car=car, fits=fits, abnormal_returns=abnormal,
                   tests=_overlap_notes(result.tests, car, panel.kind))


def _overlap_notes(tests: pd.DataFrame, car: pd.DataFrame, kind: np.ndarray | None) -> pd.DataFrame:
    """Pooled scopes over events whose CAR windows share sessions say they are not independent."""
    shared = car[(car["overlap_events"] != "") & car["complete"]]
    if shared.empty:
        return tests
    tests = tests.copy()
    kinds = dict(zip(car["event_id"], np.repeat(kind, len(car) // len(kind)), strict=False)) \
        if kind is not None else {}
    for (window, scope), rows in tests.groupby(["window", "scope"]).groups.items():
        if not str(scope).startswith("all"):
            continue
        part = shared[shared["window"] == window]
        if str(scope) != "all":
            part = part[[f"all {kinds.get(e)}" == scope for e in part["event_id"]]]
        if part.empty:
            continue
        note = (f"{len(part)} CARs share sessions with another event's window of the same symbol: "
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
