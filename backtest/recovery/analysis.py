"""Recovery analysis over event windows: prices + alignment + calendars -> RecoveryResult.

For every event x symbol row of the alignment (``align_symbols`` output) this
module cuts the window from day -1 to the horizon on the instrument's reconciled
sessions, and measures two paths with :func:`~backtest.recovery.paths.path_metrics`:

* ``path = "price"``: the adjusted close;
* ``path = "abnormal"``: the level ``1 + CAR(0, k)``, where ``CAR(0, k)`` is the sum
  of abnormal returns from day 0 to day k (``1`` on day -1). A path therefore
  "recovers" when the cumulative abnormal return since the reaction session is
  back to >= 0, its ``max_drawdown`` is the lowest ``CAR(0, k)``, and its ratios
  are ``(CAR_k - CAR_min) / (0 - CAR_min)``. The additive ``1 + CAR`` (not a
  compounded index) keeps the numbers equal to the event study's CARs.
  The abnormal returns come from ``study.abnormal_returns`` when an
  :class:`EventStudyResult` is passed (censored with ``censored_by =
  "study_window"`` where its event window ends before the horizon); otherwise
  they are market-adjusted, ``AR_k = R_k - R_m,k`` against the instrument's
  benchmark (MacKinlay 1997, JEL 35(1), section 4.2), from the same sessions.

Missing prices: a session of the calendar without a price row, inside the
instrument's data, is carried forward (one rule everywhere, counted in
``n_missing``); sessions after the instrument's last row are the end of the data
(the path is censored there). Day -1 missing is filled from the last earlier close;
an event whose day -1 comes before the instrument's first close has no pre-event close
and is recorded as not measurable (``measurable = False``), not as censored.
On the market-adjusted abnormal path, a session where the stock or the benchmark
has no price is carried forward the same way (the next observed day's AR then
spans both days, so CAR is unchanged); the path ends with the benchmark's data.
An event study's missing ARs are gaps inside the path and the end of the data
when they run to the end of its window.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from backtest.errors import DataError, DataWarning, ParameterError
from backtest.instruments import benchmark_of
from backtest.recovery.block import (
    PATH_COLUMNS,
    BlockSessions,
    Closes,
    PathColumns,
    StudyARs,
    as_ns,
    block_spans,
    carried,
)
from backtest.recovery.paths import RATIO_DAYS, check_horizon, path_metrics
from backtest.recovery.result import RecoveryResult
from backtest.recovery.status import recovery_statuses
from backtest.recovery.survival import summarize
from backtest.scheduler import grouped_order, open_scheduler, split
from backtest.sources import subset_prices

ALIGNMENT_COLUMNS: tuple[str, ...] = ("event_id", "symbol", "calendar", "reaction_session", "kind")
KIND_DIRECTION: dict[str, str] = {"shock": "drawdown", "relief": "give_back"}


def _check_alignment(alignment: pd.DataFrame) -> None:
    missing = [c for c in ALIGNMENT_COLUMNS if c not in alignment.columns]
    if missing:
        raise ParameterError(
            f"alignment lacks column(s) {', '.join(missing)}; build it with backtest.alignment.align_symbols"
        )
    kinds = set(alignment["kind"].astype(str)) - set(KIND_DIRECTION)
    if kinds:
        raise ParameterError(
            f"alignment: unknown event kind(s) {', '.join(sorted(kinds))}; use one of shock, relief"
        )


def _market_adjusted(stock: np.ndarray, stock_prior: float, bench: Closes, dates: np.ndarray) -> np.ndarray:
    """``1 + CAR(0, k)`` on ``dates`` (int64 ns, day -1 first) from market-adjusted ARs; NaN if missing."""
    bench_values, bench_prior = bench.on(dates)
    keep = int(np.searchsorted(dates, bench.seen_dates[-1], side="right"))  # dates up to the benchmark's last
    if keep == 0:  # the benchmark ends before day -1
        return np.array([])
    s, b = carried(stock, stock_prior)[:keep], carried(bench_values, bench_prior)[:keep]
    ar = np.diff(s) / s[:-1] - np.diff(b) / b[:-1]
    level = np.concatenate([[1.0], 1.0 + np.cumsum(ar)])
    level[(~np.isfinite(stock[:keep])) | (~np.isfinite(bench_values[:keep]))] = math.nan
    level[0] = 1.0 if np.isfinite(s[0]) and np.isfinite(b[0]) else math.nan
    return level


def _row(ident: dict[str, object], path: str, metrics: Any, reason: str = "") -> dict[str, object]:
    row = {**ident, "path": path, **metrics.to_dict()}
    unmeasured = row.pop("unmeasured")
    row["measurable"] = unmeasured is None
    row["unmeasured_reason"] = (reason or str(unmeasured).replace("_", " ")) if unmeasured else None
    return row


def _abnormal_reason(metrics: Any, day_before: pd.Timestamp, bench: str, prices: Mapping[str, pd.DataFrame],
                     from_study: bool) -> str:
    """Why an abnormal path is not measurable while its price path is ("" when it is measurable)."""
    if metrics.unmeasured is None:
        return ""
    if from_study or bench not in prices:
        return "nothing after the event in the event study's abnormal returns"
    close = prices[bench]["close"].dropna()
    if close.index.min() > day_before:
        return f"no pre-event close of the benchmark: {bench} prices start {close.index.min().date()}"
    return f"nothing after the event for the benchmark: {bench} prices end {close.index.max().date()}"


def _pair_blocks(alignment: pd.DataFrame, prices: Mapping[str, pd.DataFrame], study_ars: pd.DataFrame | None,
                 benchmarks: Mapping[str, str] | None, n_blocks: int) -> list[tuple]:
    """Blocks of event x symbol rows, each with only the prices (and study ARs) it reads."""
    blocks = []
    for rows in split(len(alignment), n_blocks):
        block = alignment.iloc[rows]
        symbols = list(dict.fromkeys(map(str, block["symbol"])))
        wanted = [*symbols, *(b for b in (benchmark_of(s, benchmarks) for s in symbols) if b)]
        ars = None if study_ars is None else study_ars[study_ars["symbol"].isin(symbols)]
        blocks.append((block, subset_prices(prices, wanted), ars))
    return blocks


def _pair_keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([frame["event_id"].astype(str), frame["symbol"].astype(str)])


def _by_symbol(alignment: pd.DataFrame) -> np.ndarray | None:
    """Row order grouping the alignment by symbol (stable), or None if a pair repeats."""
    if _pair_keys(alignment).duplicated().any():
        return None
    return grouped_order(alignment["symbol"].astype(str))


def _in_alignment_order(alignment: pd.DataFrame, rows: list[dict[str, object]],
                        paths: pd.DataFrame) -> tuple[list[dict[str, object]], pd.DataFrame]:
    """Rows and paths of blocks cut by symbol, back in the alignment's order (stable within a pair)."""
    pairs = _pair_keys(alignment)
    ident = pd.DataFrame({"event_id": [r["event_id"] for r in rows], "symbol": [r["symbol"] for r in rows]})
    row_at = pairs.get_indexer(_pair_keys(ident))
    path_at = pairs.get_indexer(_pair_keys(paths))
    return ([rows[i] for i in np.argsort(row_at, kind="stable")],
            paths.iloc[np.argsort(path_at, kind="stable")].reset_index(drop=True))


def measure_pairs(
    block: tuple[pd.DataFrame, Mapping[str, pd.DataFrame], pd.DataFrame | None],
    *,
    calendars: Any,
    horizon: int,
    benchmarks: Mapping[str, str] | None,
    ratio_days: tuple[int, ...],
    drift_free: bool,
    models: Mapping[tuple[str, str], str],
) -> tuple[list[dict[str, object]], list[pd.DataFrame]]:
    """Recovery rows and day-by-day paths of a block of pairs: the mappable unit of :func:`recovery`.

    ``block`` is ``(alignment rows, their prices, the study's abnormal returns or None)``;
    the output of consecutive blocks concatenates to the output of all rows at once.
    """
    alignment, prices, study_ars = block
    ar_source = "study" if study_ars is not None else "market_adjusted"
    items = list(alignment.itertuples(index=False))
    reactions = [pd.Timestamp(item.reaction_session).tz_localize(None).normalize() for item in items]
    closes: dict[str, Closes | None] = {}  # each instrument's arrays, built once for the block
    for symbol in dict.fromkeys(str(item.symbol) for item in items):
        closes[symbol] = Closes.of(symbol, prices.get(symbol))
    lasts = [None if closes[str(item.symbol)] is None else closes[str(item.symbol)].last for item in items]
    sessions = BlockSessions(calendars, block_spans(reactions, [str(item.calendar) for item in items], lasts))
    ars = None if study_ars is None else StudyARs(study_ars, "ar_drift_free" if drift_free else "ar")
    rows: list[dict[str, object]] = []
    paths = PathColumns()
    bench_of: dict[str, str | None] = {}
    for item, reaction in zip(items, reactions, strict=True):
        symbol, event_id = str(item.symbol), str(item.event_id)
        stock = closes[symbol]
        if stock is None:
            raise DataError(f"symbol {symbol!r} (event {event_id}) has no close prices; load its bars first")
        direction = KIND_DIRECTION[str(item.kind)]
        first_date, last_date = stock.first, stock.last
        dates, has_day0 = sessions.window(str(item.calendar), reaction, last_date, horizon)
        dates_ns = as_ns(dates)
        if symbol not in bench_of:  # the registry lookup, once per symbol
            bench_of[symbol] = benchmark_of(symbol, benchmarks)
        bench = bench_of[symbol]
        ident = {"event_id": event_id, "symbol": symbol, "kind": str(item.kind),
                 "calendar": str(item.calendar), "reaction_session": reaction,
                 "benchmark": bench if study_ars is None else "", "ar_source": ar_source,
                 "ar_model": "market_adjusted" if study_ars is None else ""}
        if not has_day0:
            warnings.warn(
                f"event {event_id}: {symbol} prices end on {last_date.date()}, before the reaction "
                f"session {reaction.date()}; recorded as censored with no observation",
                DataWarning,
                stacklevel=2,
            )
            # Explicit censoring: nothing observed after the event, last date seen = end of the data.
            values, prior = stock.on(dates_ns)
            empty = replace(path_metrics(dates, values, horizon=horizon, direction=direction,
                                         prior_value=prior, ratio_days=ratio_days),
                            unmeasured="no_session_after", censored_by="end_of_data",
                            trough_censored_by="end_of_data", last_rel_day=-1, last_date_seen=last_date)
            reason = f"nothing after the event: prices end {last_date.date()}"
            rows += [_row(ident, "price", empty, reason), _row(ident, "abnormal", empty, reason)]
            continue
        if dates_ns[0] < stock.seen_dates[0]:
            warnings.warn(
                f"event {event_id}: {symbol} prices start on {first_date.date()}, after the pre-event "
                f"session {pd.Timestamp(dates[0]).date()}; recorded as not measurable",
                DataWarning,
                stacklevel=2,
            )
            values, _ = stock.on(dates_ns)
            inside = (dates_ns >= stock.seen_dates[0]) & (dates_ns <= stock.seen_dates[-1])  # inside the data
            empty = replace(path_metrics(dates, values, horizon=horizon, direction=direction,
                                         ratio_days=ratio_days),
                            n_missing=int((~np.isfinite(values[inside])).sum()))
            reason = f"no pre-event close: prices start {first_date.date()}"
            rows += [_row(ident, "price", empty, reason), _row(ident, "abnormal", empty, reason)]
            continue
        values, prior = stock.on(dates_ns)
        price = path_metrics(dates, values, horizon=horizon, direction=direction, prior_value=prior,
                             ratio_days=ratio_days)
        rows.append(_row(ident, "price", price))

        level = None
        if ars is not None:
            mine = ars.rows(event_id, symbol)
            if mine is not None:
                level, truncated = ars.level(mine, len(dates))
                used = ars.benchmark(mine)
                if used is not None:
                    ident["benchmark"] = used
                suffix = ", drift-free" if drift_free else ""
                ident["ar_model"] = models.get((event_id, symbol), "") + suffix
            else:
                warnings.warn(f"event {event_id}: the event study has no abnormal returns for {symbol}; "
                              "abnormal path skipped", DataWarning, stacklevel=2)
        elif not bench or bench not in prices:
            warnings.warn(f"event {event_id}: no prices for {symbol}'s benchmark {bench or '(none)'}; "
                          "abnormal path skipped (load the benchmark or pass benchmarks=)",
                          DataWarning, stacklevel=2)
        else:
            if bench not in closes:
                closes[bench] = Closes.of(bench, prices[bench])
            level = (np.array([]) if closes[bench] is None  # a benchmark without closes ends before day -1
                     else _market_adjusted(values, prior, closes[bench], dates_ns))
            truncated = "end_of_data"
        if level is not None:
            abnormal = path_metrics(dates[: len(level)], level, horizon=horizon, direction=direction,
                                    ratio_days=ratio_days, truncated_by=truncated)
            reason = _abnormal_reason(abnormal, pd.Timestamp(dates[0]), bench, prices, study_ars is not None)
            rows.append(_row(ident, "abnormal", abnormal, reason))
        paths.add(event_id, symbol, dates, values, prior, price.pre_event_close, level)

    return rows, paths.frames()


def recovery(
    prices: Mapping[str, pd.DataFrame],
    alignment: pd.DataFrame,
    calendars: Any,
    *,
    horizon: int = 60,
    study: Any | None = None,
    benchmarks: Mapping[str, str] | None = None,
    ratio_days: tuple[int, ...] = RATIO_DAYS,
    drift_free: bool = False,
    scheduler: Any = None,
) -> RecoveryResult:
    """Depth and speed of recovery after each event, on prices and on abnormal returns.

    Parameters
    ----------
    prices : mapping of symbol to bars
        Adjusted daily bars (``close`` column, session-date index). Without an event
        study, the benchmarks must be included for the abnormal path.
    alignment : pandas.DataFrame
        ``backtest.alignment.align_symbols`` output (event_id, symbol, calendar,
        reaction_session, kind).
    calendars : ExchangeCalendars
        Reconciled calendars; relative days count their sessions.
    horizon : int
        Last relative day examined, >= 1 (default 60 sessions).
    study : EventStudyResult, optional
        Source of the abnormal returns; market-adjusted returns when None.
    benchmarks : mapping of symbol to benchmark symbol, optional
        Overrides the registry benchmark for the market-adjusted path.
    ratio_days : tuple of int
        Days of the recovery ratios (columns ``ratio_<k>``).
    drift_free : bool
        With a study: follow its ARs without the extrapolated intercept (``ar_drift_free``,
        ``R - beta'x``), so a run-up fitted as alpha in the estimation window does not
        pass for an abnormal fall. The ``ar_model`` column says which path was followed.
    scheduler : str or dask.distributed.Client, optional
        Where the blocks of pairs (:func:`measure_pairs`) run: ``"inline"`` (default),
        ``"local:N"``, ``"tcp://HOST:PORT"`` or a client (:mod:`backtest.scheduler`).

    Returns
    -------
    RecoveryResult

    Raises
    ------
    ParameterError
        A horizon < 1 or an alignment without the needed columns.
    DataError
        A symbol of the alignment that has no prices.
    CalendarError
        A reaction session that is not a session of its calendar.

    Warns
    -----
    DataWarning
        An event after the end of a symbol's data (kept as a censored row with no
        observation), an event before its data start (kept as a row that is not
        measurable), or a benchmark without prices (abnormal path skipped).

    Notes
    -----
    Definitions of every measure: :func:`~backtest.recovery.paths.path_metrics`;
    the abnormal level and the missing-price rule: module docstring.

    Examples
    --------
    Samsung after DeepSeek (KRX reopened on 2025-01-31 after the Lunar New Year):

    >>> from backtest.calendars import ExchangeCalendars
    >>> from backtest.sources import load_prices
    >>> prices = load_prices(["005930.KS", "^KS11"])
    >>> alignment = pd.DataFrame({"event_id": ["deepseek_r1"], "symbol": ["005930.KS"],
    ...     "calendar": ["XKRX"], "reaction_session": [pd.Timestamp("2025-01-31")], "kind": ["shock"]})
    >>> res = recovery(prices, alignment, ExchangeCalendars.from_prices(prices), horizon=5)
    >>> price = res.table.iloc[0]
    >>> f"{price['max_drawdown']:.4f}", int(price["recovery_sessions"]), str(price["recovery_date"].date())
    ('-0.0503', 4, '2025-02-06')
    """
    horizon = check_horizon(horizon)
    if any(isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0 for k in ratio_days):
        raise ParameterError(f"ratio_days {ratio_days!r}: use whole relative days >= 0, e.g. (1, 5, 20, 60)")
    _check_alignment(alignment)
    ar_source = "study" if study is not None else "market_adjusted"
    study_ars = study.abnormal_returns if study is not None else None
    if drift_free and (study_ars is None or "ar_drift_free" not in study_ars.columns):
        raise ParameterError("drift_free needs an event study with drift-free ARs: "
                             "pass study=event_study(...)")
    fits = getattr(study, "fits", None)  # any object with abnormal_returns serves; fits name the model
    models = {} if fits is None else {(str(e), str(s)): str(m) for e, s, m in zip(
        fits["event_id"], fits["symbol"], fits["model_used"], strict=True)}
    rows: list[dict[str, object]] = []
    path_frames: list[pd.DataFrame] = []
    with open_scheduler(scheduler) as mapper:
        n_blocks = mapper.chunks(len(alignment))
        # blocks by symbol, so each reads (or is sent) few symbols' bars; put back in order below
        order = _by_symbol(alignment) if n_blocks > 1 else None
        parts = mapper.map(measure_pairs, _pair_blocks(alignment if order is None else alignment.iloc[order],
                                                       prices, study_ars, benchmarks, n_blocks),
                           label="recovery pairs", calendars=calendars, horizon=horizon,
                           benchmarks=benchmarks, ratio_days=ratio_days, drift_free=drift_free,
                           models=models)
    for part_rows, part_paths in parts:
        rows += part_rows
        path_frames += part_paths
    paths = (pd.concat(path_frames, ignore_index=True) if path_frames
             else pd.DataFrame(columns=list(PATH_COLUMNS)))
    if order is not None:
        rows, paths = _in_alignment_order(alignment, rows, paths)

    table = _tidy_table(rows, ratio_days)
    settings = {"horizon": horizon, "ratio_days": tuple(ratio_days), "ar_source": ar_source}
    return RecoveryResult(table=table, paths=paths, survival=summarize(table), settings=settings)


def data_horizon(prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame, calendars: Any) -> int:
    """Most sessions that any event x symbol's prices hold after its reaction session.

    A horizon beyond this reaches past the end of every path's data: every
    path is censored at the end of the data before it, so a study's event window
    need not go further. Symbols without prices count 0 (``recovery`` reports them).

    >>> from backtest.calendars import ExchangeCalendars
    >>> from backtest.sources import load_prices
    >>> prices = load_prices(["285A.T"])  # 285A.T.csv: last row 2026-09-04
    >>> rows = pd.DataFrame({"event_id": ["e"], "symbol": ["285A.T"], "calendar": ["JPX"],
    ...     "reaction_session": [pd.Timestamp("2026-08-19")], "kind": ["shock"]})
    >>> data_horizon(prices, rows, ExchangeCalendars.from_prices(prices))  # 2026-08-20 .. 09-04
    12
    """
    _check_alignment(alignment)
    most = 0
    for item in alignment.itertuples(index=False):
        bars = prices.get(str(item.symbol))
        if bars is None or "close" not in bars.columns or bars["close"].dropna().empty:
            continue
        reaction = pd.Timestamp(item.reaction_session).tz_localize(None).normalize()
        last = bars["close"].dropna().index.max()
        if reaction < last:
            most = max(most, len(calendars.sessions(str(item.calendar), reaction, last)) - 1)
    return most


_INT_COLUMNS = ("trough_rel_day", "recovery_sessions", "recovery_days", "recovery_from_trough_sessions",
                "last_rel_day", "duration_sessions", "half_life_sessions", "n_missing")
_NULLABLE_BOOL_COLUMNS = ("moved", "relapsed", "recovered_after_trough")
_DATE_COLUMNS = ("reaction_session", "pre_event_date", "trough_date", "recovery_date", "last_date_seen",
                 "half_life_date")


def _tidy_table(rows: list[dict[str, object]], ratio_days: tuple[int, ...]) -> pd.DataFrame:
    head = ["event_id", "symbol", "path", "kind", "direction", "calendar", "reaction_session",
            "benchmark", "ar_source", "ar_model"]
    body = ["pre_event_date", "pre_event_close", "reaction_return", "trough_date", "trough_rel_day",
            "trough_close", "max_drawdown", "moved", "recovered", "recovery_sessions", "recovery_days",
            "recovery_date", "censored_by", "relapsed", "recovered_after_trough",
            "recovery_from_trough_sessions", "trough_censored_by", "last_date_seen", "last_rel_day",
            "duration_sessions", *[f"ratio_{k}" for k in ratio_days], "half_life_sessions",
            "half_life_date", "n_missing", "measurable", "unmeasured_reason"]
    table = pd.DataFrame(rows, columns=head + body)
    for column in _INT_COLUMNS:
        table[column] = pd.array(table[column].tolist(), dtype="Int64")
    for column in _NULLABLE_BOOL_COLUMNS:
        table[column] = pd.array(table[column].tolist(), dtype="boolean")
    table["measurable"] = table["measurable"].astype(bool)
    for column in _DATE_COLUMNS:
        table[column] = pd.to_datetime(table[column])
    table["recovered"] = table["recovered"].astype(bool)
    table["status"] = pd.array(recovery_statuses(table), dtype=object)
    return table
