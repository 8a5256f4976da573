"""Bring your own returns: an event study on a returns panel (dates x instruments).

The rows of the panel are the trading days; relative days count rows. Windows
are either relative days around an event date (``estimation=(-250, -11)``,
``event=(-5, 20)``, ``event_date="2020-03-16"``) or calendar date ranges
(``estimation=("2019-04-01", "2020-03-13")``, ``event=("2020-03-16", "2020-03-20")``;
day 0 is then the first row of the event window unless ``event_date`` says otherwise).
Missing values (NaN) are missing returns: left out of the fit, counted in the event window.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from backtest.errors import DataWarning, ParameterError, StudyError
from backtest.study.models import Model
from backtest.study.panel import Panel, assemble
from backtest.study.result import EventStudyResult
from backtest.study.windows import (
    Window,
    check_windows,
    parse_car_windows,
    parse_model,
    parse_window,
)

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((0, 0), (0, 1), (-1, 1), (0, 5), (0, 20))


def _is_day(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _timestamp(value: object, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: {value!r} is not a date; write e.g. 2020-03-16") from None
    if stamp is pd.NaT:
        raise ParameterError(f"{name}: {value!r} is not a date; write e.g. 2020-03-16")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _date_range(value: object, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        raise ParameterError(f"{name}: {value!r} is not a window; give (first, last) days or dates")
    first, last = _timestamp(value[0], name), _timestamp(value[1], name)
    if first > last:
        raise ParameterError(
            f"{name}: {first.date()}..{last.date()} runs backwards; write the earlier date first"
        )
    return first, last


def _rows_between(index: pd.DatetimeIndex, first: pd.Timestamp, last: pd.Timestamp, name: str
                  ) -> tuple[int, int]:
    lo, hi = index.searchsorted(first, "left"), index.searchsorted(last, "right") - 1
    if hi < lo:
        raise ParameterError(
            f"{name}: no row of the returns panel between {first.date()} and {last.date()}; "
            f"the panel covers {index[0].date()}..{index[-1].date()}"
        )
    return int(lo), int(hi)


def _panel_index(returns: pd.DataFrame) -> pd.DatetimeIndex:
    try:
        index = pd.DatetimeIndex(pd.to_datetime(returns.index))
    except (TypeError, ValueError):
        raise ParameterError("returns: the index must hold dates (one row per trading day)") from None
    if index.tz is not None:
        index = index.tz_localize(None)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ParameterError("returns: dates must be ascending and unique; sort and drop duplicates")
    return index


def _aligned(frame: pd.DataFrame | pd.Series, index: pd.DatetimeIndex, name: str) -> pd.DataFrame:
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "market")
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"{name}: give a pandas Series or DataFrame indexed by date")
    out = frame.copy()
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index))
    if out.index.tz is not None:
        out.index = out.index.tz_localize(None)
    if out.index.has_duplicates:
        raise ParameterError(f"{name}: duplicate dates; keep one row per trading day")
    try:
        return out.reindex(index).astype(float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: every column must hold numbers (fractions, NaN = missing)") from None


#: Median |return| above which a panel looks like percent: no stock moves 20 % on a typical day.
PERCENT_MEDIAN = 0.2
#: Values the percent check looks at: an even sample of a large panel tells percent from fractions.
FRACTION_SAMPLE = 100_000


def _check_fractions(values: np.ndarray, name: str) -> None:
    """Warn when the median non-zero ``|value|`` exceeds :data:`PERCENT_MEDIAN` (percent given).

    Looks at an evenly strided sample of at most :data:`FRACTION_SAMPLE` values: a median
    of 0.2 against the 0.01 of daily fractions needs no exact order statistic.
    """
    flat = np.ravel(values)
    step = max(1, flat.size // FRACTION_SAMPLE)
    sample = np.abs(flat[::step])
    sample = sample[np.isfinite(sample) & (sample > 0)]
    median = float(np.median(sample)) if sample.size else 0.0
    if median > PERCENT_MEDIAN:
        warnings.warn(
            f"{name}: the median |return| is {median:.3g}; the returns look like "
            "percent. Give fractions (divide by 100: 1.5 % is 0.015)", DataWarning, stacklevel=3)


def _day0_rows(index: pd.DatetimeIndex, names: Sequence[str], event_date: object) -> np.ndarray:
    """Row of day 0 per instrument: the first row on or after its event date (one pass for all)."""
    if not isinstance(event_date, Mapping):
        day0 = _timestamp(event_date, "event_date")
        stamps = pd.DatetimeIndex([day0])
    else:
        missing = [name for name in names if name not in event_date]
        if missing:
            raise ParameterError(f"event_date: no date for {missing[0]!r}")
        values = [event_date[name] for name in names]
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(values))
        except (TypeError, ValueError):  # name the bad value
            stamps = pd.DatetimeIndex([_timestamp(v, "event_date") for v in values])
        if stamps.hasnans:
            bad = values[int(np.flatnonzero(stamps.isna())[0])]
            raise ParameterError(f"event_date: {bad!r} is not a date; write e.g. 2020-03-16")
        if stamps.tz is not None:
            stamps = stamps.tz_localize(None)
    pos = index.searchsorted(stamps, "left")
    if (pos >= len(index)).any():
        late = stamps[int(np.flatnonzero(pos >= len(index))[0])]
        raise ParameterError(f"event_date {late.date()} is after the last row {index[-1].date()}")
    return np.broadcast_to(pos, (len(names),)).astype(np.int64)


def study_returns(returns: pd.DataFrame, market: pd.Series | pd.DataFrame, *,
                  estimation: tuple = (-250, -11), event: tuple = (-5, 20),
                  event_date: object | Mapping[str, object] | None = None,
                  car_windows: Sequence[Window] | str | None = None, model: Model = "market",
                  min_estimation: int = 60, factors: pd.DataFrame | None = None,
                  return_kind: Literal["simple", "log"] = "simple",
                  event_id: str = "event") -> EventStudyResult:
    """Event study on your own returns panel.

    Parameters
    ----------
    returns : DataFrame
        Dates x instruments, returns as fractions (simple or log), NaN = missing. A panel
        whose median non-zero ``|return|`` exceeds 0.2 (20 %) looks like percent: DataWarning.
    market : Series or DataFrame
        One market return series for all instruments, or one column per instrument
        (same column names as ``returns``).
    estimation, event : (int, int) or (date, date)
        Relative trading days (rows) around ``event_date``, or calendar date ranges.
    event_date : date or {instrument: date}, optional
        Day 0 (the first row on or after it). Required for relative windows.
    car_windows : sequence of (int, int) or "0:0,0:1", optional
        Relative to day 0. Default: the whole event window plus those of
        ``[0,0], [0,+1], [-1,+1], [0,+5], [0,+20]`` that fit in it.
    model : {"market", "market_adjusted", "constant_mean", "factor"}
    min_estimation : int
        Fewer usable estimation returns -> market-adjusted model (with a ShortHistoryWarning).
    factors : DataFrame, optional
        Extra regressors (dates x factors) of the factor model, after the market.
    return_kind : {"simple", "log"}
        Only changes the BHAR (compounding).
    event_id : str
        Label of the event in the result.

    Returns
    -------
    EventStudyResult

    Raises
    ------
    ParameterError
        Windows backwards, overlapping, outside the panel; unknown model; mixed window kinds.
    StudyError
        No instrument has a return in the event window.

    Warns
    -----
    DataWarning
        ``returns`` or ``market`` look like percent (median non-zero ``|r|`` above 0.2).
    ShortHistoryWarning
        An instrument has fewer estimation returns than the window.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> days = pd.bdate_range("2024-01-01", periods=80)
    >>> rng = np.random.default_rng(0)
    >>> mkt = pd.Series(rng.normal(0, 0.01, 80), index=days)
    >>> stock = 0.0005 + 1.2 * mkt + rng.normal(0, 0.01, 80)
    >>> res = study_returns(pd.DataFrame({"A": stock}), mkt, estimation=(-70, -6), event=(-5, 5),
    ...                     event_date=days[75], car_windows=[(0, 0)])
    >>> res.car[["symbol", "window", "model_used", "n_estimation"]].to_string(index=False)
    'symbol window model_used  n_estimation\\n     A  [0,0]     market            65'
    """
    model = parse_model(model)
    if return_kind not in ("simple", "log"):
        raise ParameterError(f"return_kind {return_kind!r}: use 'simple' or 'log'")
    if not isinstance(returns, pd.DataFrame) or returns.shape[1] == 0:
        raise ParameterError("returns: give a DataFrame of dates x instruments")
    index = _panel_index(returns)
    names = [str(c) for c in returns.columns]
    try:
        r = returns.set_axis(index).astype(float)
    except (TypeError, ValueError):
        raise ParameterError("returns: every column must hold numbers (fractions, NaN = missing)") from None
    r.columns = names
    mkt = _aligned(market, index, "market")
    mkt.columns = [str(c) for c in mkt.columns]
    rv, mv = np.ascontiguousarray(r.to_numpy().T), np.ascontiguousarray(mkt.to_numpy().T)
    _check_fractions(rv, "returns")
    _check_fractions(mv, "market")
    bench_names = names
    if set(names) <= set(mkt.columns):
        mcol = mkt.columns.get_indexer(names)  # one market column per instrument
    else:
        if mkt.shape[1] != 1:
            missing = ", ".join(n for n in names if n not in mkt.columns)
            raise ParameterError(
                f"market: no column for {missing}; give one market series or one column per instrument"
            )
        label = str(mkt.columns[0]) if mkt.columns[0] not in (None, "None", 0, "0") else "market"
        bench_names = [label] * len(names)
        mcol = np.zeros(len(names), dtype=np.int64)  # one series, read by every instrument
    regressors = ["market"]
    extra = np.zeros((0, len(index)))
    if model == "factor":
        if factors is None or factors.shape[1] == 0:
            raise ParameterError("model 'factor' needs factors=DataFrame of extra regressors")
        fac = _aligned(factors, index, "factors")
        regressors += [str(c) for c in fac.columns]
        extra = np.ascontiguousarray(fac.to_numpy().T)

    relative = all(_is_day(v) for v in (*estimation, *event)) if (
        isinstance(estimation, Sequence) and isinstance(event, Sequence)) else False
    if relative or isinstance(estimation, str):
        est_w, evt_w = parse_window(estimation, "estimation"), parse_window(event, "event")
        if event_date is None:
            raise ParameterError("event_date: needed with relative windows; give the date of day 0")
        pos0 = _day0_rows(index, names, event_date)
    else:
        if any(_is_day(v) for v in (*estimation, *event)):
            raise ParameterError("estimation and event: give both as relative days or both as dates")
        e1, e2 = _rows_between(index, *_date_range(estimation, "estimation"), "estimation")
        v1, v2 = _rows_between(index, *_date_range(event, "event"), "event")
        day0 = v1 if event_date is None else int(index.searchsorted(_timestamp(event_date, "event_date")))
        est_w, evt_w = (e1 - day0, e2 - day0), (v1 - day0, v2 - day0)
        pos0 = np.full(len(names), day0)
    if car_windows is None:
        inside = [w for w in DEFAULT_CAR_WINDOWS if evt_w[0] <= w[0] and w[1] <= evt_w[1] and w != evt_w]
        cars = (evt_w, *inside)
    else:
        cars = parse_car_windows(car_windows)
    check_windows(est_w, evt_w, cars, ("estimation", "event", "car_windows"))

    own = np.arange(len(names))
    # pad every series once with missing rows, so that any window is one contiguous slice
    before = max(0, -int(pos0.min()) - min(est_w[0], evt_w[0]))
    after = max(0, int(pos0.max()) + max(est_w[1], evt_w[1]) + 1 - len(index))

    def padded(values: np.ndarray, fill: object = np.nan) -> np.ndarray:
        return np.pad(values, ((0, 0), (before, after)), constant_values=fill) if before or after else values

    rv, mv, extra = padded(rv), padded(mv), padded(extra)
    day_values = padded(index.to_numpy()[None, :], np.datetime64("NaT"))[0]

    def gather(values: np.ndarray, window: Window, col: np.ndarray = own) -> np.ndarray:
        # values: (series, padded rows); row pos0 + window[0] of each pair starts its window
        views = np.lib.stride_tricks.sliding_window_view(values, window[1] - window[0] + 1, axis=-1)
        start = pos0 + window[0] + before
        return views[start] if col is None else views[col, start]

    def regs(window: Window) -> np.ndarray:
        parts = [gather(mv, window, mcol)]
        parts += [gather(extra, window, np.full(len(names), j)) for j in range(extra.shape[0])]
        return np.stack(parts, axis=2)

    evt_r = gather(rv, evt_w)
    if not np.isfinite(evt_r).any():
        raise StudyError(f"event window {evt_w}: no instrument has a return there; check the dates")

    def dates(window: Window) -> np.ndarray:
        return gather(day_values, window, None)

    panel = Panel(np.full(len(names), event_id, dtype=object), np.array(names, dtype=object),
                  np.array(bench_names, dtype=object), gather(rv, est_w), regs(est_w),
                  evt_r, regs(evt_w), dates(evt_w), tuple(regressors), dates(est_w))
    settings = {"model": model, "estimation_window": est_w, "event_window": evt_w,
                "car_windows": cars, "min_estimation": min_estimation, "return_kind": return_kind,
                "source": "returns"}
    return assemble(panel, model=model, estimation=est_w, event=evt_w, car_windows=cars,
                    min_estimation=min_estimation, return_kind=return_kind, settings=settings)
