"""Prices-level event study: alignment rows + bars -> :class:`EventStudyResult`.

For each event x symbol row of ``align_symbols``' output, relative day 0 is its
reaction session and relative days count the sessions of the instrument's own
exchange calendar (reconciled, so closures are never counted). Returns follow
the rule in :mod:`backtest.study.returns`; the benchmark (and factor) returns
are read on the instrument's sessions. The rows go in blocks of pairs through
:func:`backtest.study.pairs.study_pairs` (on the scheduler's workers, each reading its own
symbols), and the tables are built from what the blocks send back
(:func:`backtest.study.panel.result_tables`).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import DataWarning, ParameterError, StudyError
from backtest.instruments import benchmark_of, get_instrument
from backtest.scheduler import open_scheduler
from backtest.sources import SourcePrices, subset_prices
from backtest.study import diagnostics as dg
from backtest.study.models import NEEDS_MARKET, Model
from backtest.study.pairs import (
    PairDiagnostics,
    PairsDone,
    PairsInput,
    WindowSetup,
    computed_in_order,
    cover_windows,
    pair_blocks,
    relabel,
    study_pairs,
)
from backtest.study.panel import Panel, arrays_and_tests, block_spec, result_tables
from backtest.study.result import EventStudyResult
from backtest.study.sufficient import ScopeStats, combine, in_order
from backtest.study.synchrony import FACTOR_ALIGNMENTS, FactorAlignment
from backtest.study.traps import trap_columns, with_diagnostics
from backtest.study.windows import Window, check_windows, parse_car_windows, parse_model, parse_window

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((0, 0), (0, 1), (-1, 1), (0, 5), (0, 20))
ALIGNMENT_COLUMNS: tuple[str, ...] = ("event_id", "symbol", "calendar", "reaction_session")


def _benchmarks(symbols: Sequence[str], overrides: Mapping[str, str] | None, model: str) -> list[str]:
    out = {}
    for symbol in dict.fromkeys(symbols):  # one registry lookup per symbol, not per pair
        bench = benchmark_of(symbol, overrides)
        if not bench and model in NEEDS_MARKET:
            other = "QQQ" if symbol == "SPY" else "SPY"
            raise StudyError(
                f"symbol {symbol!r} has no benchmark in the instrument registry; pass "
                f"benchmarks={{'{symbol}': '{other}'}} (CLI: --benchmark {symbol}={other}) "
                "or use model 'constant_mean'"
            )
        out[symbol] = bench
    return [out[symbol] for symbol in symbols]


def _need_prices(prices: Mapping[str, pd.DataFrame], symbol: str, role: str) -> None:
    if symbol not in prices:
        raise StudyError(
            f"no prices for {role} {symbol!r}; load it too (the prices must include every symbol, "
            "benchmark and factor)"
        )
    # a dataset the units read themselves is checked by its reader, on the worker
    if not isinstance(prices, SourcePrices) and "close" not in prices[symbol].columns:
        raise StudyError(f"prices of {symbol!r} have no 'close' column")


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
    symbols = align["symbol"].astype(str).tolist()
    bench = _benchmarks(symbols, benchmarks, model)
    for symbol, b in dict.fromkeys(zip(symbols, bench, strict=True)):  # each pair of names once
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

    setup = WindowSetup(est, evt, tuple(cars), regressors, tuple(factor_list), return_kind,
                        factor_alignment, around, model)
    event_ids = align["event_id"].astype(str).to_numpy(dtype=object)
    codes_all, _ = pd.factorize(event_ids)
    rows = align[["event_id", "symbol", "calendar", "reaction_session"]].assign(benchmark=bench,
                                                                                code=codes_all)
    # the other events' columns the units read (half the table's: each unit copies its part)
    others = (align if other_events is None else other_events)[["event_id", "symbol", "calendar",
                                                                 "reaction_session"]]
    cover_windows(calendars, rows, setup)  # before any unit: every unit sees the same sessions
    blocks = pair_blocks(len(align), symbols)
    # each unit gets the prices and the other events of its own symbols only; the other events'
    # rows grouped once (a scan of them per block cost 3 s at 400,000 pairs)
    others_of = dict(dg.symbol_groups(others["symbol"].astype(str).to_numpy(dtype=object)))
    none = np.zeros(0, dtype=np.int64)
    symbol_of, bench_of = np.array(symbols, dtype=object), np.array(bench, dtype=object)
    units = []
    for idx in blocks:
        mine = list(dict.fromkeys(symbol_of[idx]))
        wanted = [*mine, *(b for b in dict.fromkeys(bench_of[idx]) if b), *factor_list]
        theirs = np.sort(np.concatenate([others_of.get(symbol, none) for symbol in mine]))
        units.append(PairsInput(rows.iloc[idx], subset_prices(prices, wanted), others.iloc[theirs]))
    spec = block_spec(model, evt, cars, min_estimation, return_kind)
    # what a block sends back: its table arrays and its pairs' CAR tests, computed on its worker
    send_back = functools.partial(arrays_and_tests, car_cols=spec.car_cols, return_kind=return_kind)
    with open_scheduler(scheduler) as mapper:
        done = mapper.map(study_pairs, units, label="study blocks", calendars=calendars, setup=setup,
                          spec=spec, keep=send_back)
    order = np.concatenate(blocks)
    has_data_blocks = np.concatenate([d.has_data for d in done])  # block order
    has_data = in_order([has_data_blocks], order)
    if not has_data.any():
        raise StudyError(
            "no event x symbol pair has a return in its event window "
            f"{evt[0]}:{evt[1]}; the prices do not cover the events"
            + dg.gaps_hit(calendars.gaps, symbols, np.concatenate([d.lost_dates for d in done]))
            + " (check the dates and the price source)"
        )
    keep = np.flatnonzero(has_data)
    # the blocks sent the kept pairs' arrays only: each goes straight to its place among them
    rows = _places(order[has_data_blocks])
    kept = [d.kept for d in done if d.stats is not None]
    # a second thread: numpy's and Arrow's long loops release the GIL, so the merge of the
    # blocks' statistics, the CAR arrays' rows and the overlap lists run beside the warnings,
    # the other rows and the tables
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="study") as helper:
        merged = helper.submit(_merged_stats, done, codes_all, keep)
        computed = helper.submit(computed_in_order, [arrays for arrays, _ in kept], rows)
        if len(keep) < len(has_data):
            lost = np.flatnonzero(~has_data)
            lost_dates = in_order([d.lost_dates for d in done], _places(order[~has_data_blocks]))
            hits = dg.gaps_hit_rows(calendars.gaps, [symbols[i] for i in lost], lost_dates)
            dropped = [f"{symbols[i]} in {event_ids[i]}{hit}" for i, hit in zip(lost, hits, strict=True)]
            warnings.warn(f"no prices in the event window for {', '.join(dropped)}; left out of the study",
                          DataWarning, stacklevel=2)
        n_ar_missing = in_order([d.n_ar_missing for d in done], order)
        partial = has_data & (n_ar_missing > 0)
        if partial.any():
            l2 = evt[1] - evt[0] + 1
            listed = [f"{symbols[i]} in {event_ids[i]} ({int(n_ar_missing[i])} of {l2})"
                      for i in np.flatnonzero(partial)]
            warnings.warn("missing returns in the event window (counted in n_missing; a gap inside the "
                          "data is left out of the CARs, a CAR running past the data is NaN): "
                          f"{', '.join(listed)}", DataWarning, stacklevel=2)
        _warn_shared_day0(align)
        if model == "factor" and factor_alignment == "date":
            _warn_foreign_factors(align, factor_list)

        def rejoin(values: list) -> np.ndarray:
            return in_order(values, rows)

        diagnostics = PairDiagnostics(**{
            f.name: _rejoin_field([getattr(d.diagnostics, f.name) for d in done], rows)
            for f in fields(PairDiagnostics)})
        tests = {name: rejoin([part[name] for _, part in kept]) for name in kept[0][1]}
        kind = align["kind"].astype(str).to_numpy(dtype=object)[keep] if "kind" in align else None
        # the estimation arrays stayed in the units: the tables read the event windows only
        panel = Panel(event_ids[keep], symbol_of[keep], bench_of[keep], np.empty((len(keep), 0)),
                      np.empty((len(keep), 0, len(regressors))), rejoin([d.evt_r for d in done]),
                      rejoin([d.evt_bench for d in done])[..., None], rejoin([d.evt_dates for d in done]),
                      regressors, None, kind, diagnostics.excluded)
        out = computed.result()
        # the trap diagnostics (overlap lists, drift) need no table: they run beside the tables
        traps = helper.submit(trap_columns, out, panel, diagnostics, evt, cars, tests)
        settings = {"model": model, "estimation_window": est, "event_window": evt, "car_windows": cars,
                    "min_estimation": min_estimation, "return_kind": return_kind,
                    "benchmarks": dict(benchmarks or {}), "factors": factor_list, "source": "prices",
                    "exclude_events": around, "factor_alignment": factor_alignment, "dimson": dimson}
        result = result_tables(panel, out, merged.result(), model=model, estimation=est, event=evt,
                               car_windows=cars, min_estimation=min_estimation, settings=settings,
                               tests=tests)
        result = with_diagnostics(result, traps.result(), panel.kind)
    if not robustness:
        return result
    from backtest.study.robustness import model_robustness

    view = model_robustness(prices, alignment, calendars, estimation_window=est, event_window=evt,
                            car_windows=cars, min_estimation=min_estimation, benchmarks=benchmarks,
                            factors=factors, return_kind=return_kind, exclude_events=around,
                            other_events=other_events, factor_alignment=factor_alignment,
                            scheduler=scheduler, known={model: result} if dimson == 0 else None)
    return replace(result, robustness=view)


def _places(chosen: np.ndarray) -> np.ndarray:
    """Where each of ``chosen`` (distinct row numbers, in block order) goes in row order among them."""
    places = np.empty(len(chosen), dtype=np.int64)
    places[np.argsort(chosen, kind="stable")] = np.arange(len(chosen))
    return places


def _rejoin_field(values: list, rows: np.ndarray) -> Any:
    """One diagnostics field of the units in row order (``rows``: :func:`in_order`'s places)."""
    if isinstance(values[0], list):
        return in_order([np.array(part, dtype=object) for part in values], rows).tolist()
    return in_order(values, rows)


def _merged_stats(done: Sequence[PairsDone], codes_all: np.ndarray, keep: np.ndarray) -> ScopeStats:
    """The units' statistics merged, with the event codes of the kept pairs."""
    parts = [d.stats for d in done if d.stats is not None]
    # one merge at the end, as run_blocks does
    stats = parts[0] if len(parts) == 1 else combine(parts)
    post, _ = pd.factorize(codes_all[keep])  # the event codes of the kept pairs only
    new_code = np.full(int(codes_all.max()) + 1, -1, dtype=np.int64)
    new_code[codes_all[keep]] = post
    if not np.array_equal(new_code, np.arange(len(new_code))):
        stats = relabel(stats, new_code)
    return stats
