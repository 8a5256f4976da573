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
from typing import Literal

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import DataWarning, ParameterError, StudyError
from backtest.instruments import benchmark_of, get_instrument
from backtest.study.models import NEEDS_MARKET, Model
from backtest.study.panel import Panel, assemble
from backtest.study.result import EventStudyResult
from backtest.study.returns import returns_panel
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
                return_kind: Literal["simple", "log"] = "simple") -> EventStudyResult:
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

    Returns
    -------
    EventStudyResult
        With ``model_used`` and ``n_estimation`` per pair.

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
    k = len(regressors)

    n, l1, l2 = len(align), est[1] - est[0] + 1, evt[1] - evt[0] + 1
    est_r, evt_r = np.full((n, l1), np.nan), np.full((n, l2), np.nan)
    est_x, evt_x = np.full((n, l1, k), np.nan), np.full((n, l2, k), np.nan)
    evt_dates = np.full((n, l2), np.datetime64("NaT"), dtype="datetime64[ns]")
    est_dates = np.full((n, l1), np.datetime64("NaT"), dtype="datetime64[ns]")
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
        col = {name: j for j, name in enumerate(names)}
        own = np.array([col[symbols[i]] for i in idx])
        est_r[idx], evt_r[idx] = _gather(panel, pos0, est, own), _gather(panel, pos0, evt, own)
        has_b = np.array([bool(bench[i]) for i in idx])
        bcol = np.array([col[bench[i]] if bench[i] else 0 for i in idx])
        for j, name in enumerate(regressors):
            c = bcol if name == "market" else np.full(len(idx), col[name])
            mask = has_b[:, None] if name == "market" else True
            est_x[idx, :, j] = np.where(mask, _gather(panel, pos0, est, c), np.nan)
            evt_x[idx, :, j] = np.where(mask, _gather(panel, pos0, evt, c), np.nan)
        for window, dates in ((evt, evt_dates), (est, est_dates)):
            rel = pos0[:, None] + np.arange(window[0], window[1] + 1)[None, :]
            inside = (rel >= 0) & (rel < len(sessions))
            dates[idx] = np.where(inside, sessions.to_numpy()[np.clip(rel, 0, len(sessions) - 1)],
                                  np.datetime64("NaT"))

    event_ids = align["event_id"].astype(str).to_numpy(dtype=object)
    has_data = np.isfinite(evt_r).any(axis=1)
    if not has_data.any():
        raise StudyError(
            "no event x symbol pair has a return in its event window "
            f"{evt[0]}:{evt[1]}; the prices do not cover the events (check the dates and the price source)"
        )
    if not has_data.all():
        dropped = [f"{symbols[i]} in {event_ids[i]}" for i in np.flatnonzero(~has_data)]
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
    if model == "factor":
        _warn_foreign_factors(align, factor_list)
    keep = np.flatnonzero(has_data)
    kind = align["kind"].astype(str).to_numpy(dtype=object)[keep] if "kind" in align else None
    panel = Panel(event_ids[keep], np.array(symbols, dtype=object)[keep],
                  np.array(bench, dtype=object)[keep], est_r[keep], est_x[keep], evt_r[keep],
                  evt_x[keep], evt_dates[keep], regressors, est_dates[keep], kind)
    settings = {"model": model, "estimation_window": est, "event_window": evt, "car_windows": cars,
                "min_estimation": min_estimation, "return_kind": return_kind,
                "benchmarks": dict(benchmarks or {}), "factors": factor_list, "source": "prices"}
    return assemble(panel, model=model, estimation=est, event=evt, car_windows=cars,
                    min_estimation=min_estimation, return_kind=return_kind, settings=settings)
