"""The main job as one function: events + prices -> alignment, event study, recovery, strategy.

:func:`run_all` calls, in order, ``load_events`` -> ``load_prices`` (targets and
their market benchmarks) -> ``ExchangeCalendars.from_prices`` -> ``align_events`` /
``align_symbols`` -> ``event_study`` -> ``recovery`` -> ``run_strategy`` and returns a
:class:`RunResult`. Recovery follows the abnormal path as far as the price path (the
horizon): when the event window ends earlier, a second ``event_study`` with the same
model and estimation window supplies its abnormal returns (:func:`recovery_event_window`);
the reported CARs and tests keep the user's event window.

It prints nothing: ``backtest run`` renders the result, the report package writes
files. Warnings raised on the way (``BacktestWarning``) are collected in
``RunResult.warnings`` so that the report can state them.

The provenance block records what a reader needs to reproduce a run: the price
source, the date range and a SHA-256 of the price data used (canonical CSV of every
symbol's bars, symbols sorted, floats in ``repr``), the events file and its SHA-256,
and the package version.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from backtest import __version__, background
from backtest.collector import frozen_heap
from backtest.errors import BacktestWarning
from backtest.run_result import RunResult
from backtest.scheduler import Mapper, open_scheduler
from backtest.study.engine import DEFAULT_CAR_WINDOWS

Fill = Literal["next_open", "close"]
Progress = Callable[[str], None]

STEPS: tuple[str, ...] = (
    "events", "prices", "calendars", "alignment", "event study", "recovery", "strategy",
)  # fmt: skip

# A small grid per strategy so that the report's heatmap has something to show.
DEFAULT_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "buy_the_dip": {"threshold": (0.03, 0.05, 0.10), "hold": (5, 10, 20)},
}


@dataclass(frozen=True)
class RunSettings:
    """Every setting of a run (all of them appear in the report header and the JSON).

    ``symbols=None`` uses each event's own symbols, or the four default targets.
    ``grid=None`` uses the strategy's small default grid.
    """

    events: str | None = None
    event_ids: tuple[str, ...] | None = None
    symbols: tuple[str, ...] | None = None
    source: str = "snapshot"
    csv_dir: str | None = None
    cache_dir: str | None = None
    path: str | None = None  # --source parquet: the dataset's directory or fsspec URL
    closures: str | None = None
    model: str = "market"
    benchmarks: tuple[tuple[str, str], ...] | None = None  # (symbol, benchmark) overrides
    return_kind: Literal["simple", "log"] = "simple"
    factors: tuple[str, ...] | None = None
    estimation_window: tuple[int, int] = (-250, -11)
    event_window: tuple[int, int] = (-5, 20)
    car_windows: tuple[tuple[int, int], ...] = DEFAULT_CAR_WINDOWS
    min_estimation: int = 60
    exclude_events: tuple[int, int] | None = (-5, 5)  # None keeps other events' days in the fit
    factor_alignment: Literal["close", "open", "date"] = "close"
    dimson: int = 0
    horizon: int = 60
    strategy: str = "buy_the_dip"
    grid: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    fees: float = 0.001
    slippage: float = 0.0005
    fill: Fill = "next_open"

    def to_dict(self) -> dict[str, Any]:
        """JSON-native dict (tuples become lists, the grid a mapping)."""
        out = asdict(self)
        out["grid"] = None if self.grid is None else {name: list(values) for name, values in self.grid}
        return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def price_sha256(prices: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of the price data: canonical CSV of each symbol's bars, symbols sorted.

    >>> bars = pd.DataFrame({"close": [1.5]}, index=pd.DatetimeIndex(["2025-01-02"], name="date"))
    >>> price_sha256({"X": bars}) == price_sha256({"X": bars.copy()})
    True
    """
    digest = hashlib.sha256()
    for symbol in sorted(prices):
        digest.update(f"# {symbol}\n".encode())
        text = prices[symbol].to_csv(float_format=repr, lineterminator="\n", date_format="%Y-%m-%d")
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resolve_grid(settings: RunSettings) -> dict[str, list[Any]]:
    """The grid to run: the user's, else :data:`DEFAULT_GRIDS` (``{}`` = the strategy's defaults)."""
    import strategies

    strategy = strategies.get(settings.strategy)  # unknown names raise with the closest match
    if settings.grid is None:
        return {name: list(values) for name, values in DEFAULT_GRIDS.get(strategy.name, {}).items()}
    return {name: list(values) for name, values in settings.grid}


def _check_size(
    settings: RunSettings, pairs: int, grid: dict[str, list[Any]], max_memory: int | None
) -> None:
    """Refuse a job whose arrays would not fit the budget, before allocating any of them."""
    from backtest.budget import DEFAULT_BUDGET, check_job

    check_job(
        pairs=pairs,
        budget=DEFAULT_BUDGET if max_memory is None else max_memory,
        estimation_window=settings.estimation_window,
        event_window=settings.event_window,
        horizon=max(settings.horizon, settings.event_window[1]),  # recovery's path runs this far
        combos=math.prod(len(values) for values in grid.values()),
    )


def recovery_event_window(settings: RunSettings) -> tuple[int, int] | None:
    """Event window of the study behind recovery's abnormal path, or None if the user's reaches.

    Recovery follows both paths (price and abnormal) to ``settings.horizon``. When the
    user's event window ends before the horizon, the abnormal returns for recovery come
    from a second study with the same model and estimation window and this event window:
    from ``min(start, -1)`` (but after the estimation window) to the horizon. The
    reported CARs and tests keep the user's window.

    >>> recovery_event_window(RunSettings())  # default event window -5:+20, horizon 60
    (-5, 60)
    >>> recovery_event_window(RunSettings(event_window=(0, 20), estimation_window=(-250, -1)))
    (0, 60)
    >>> recovery_event_window(RunSettings(horizon=20)) is None
    True
    """
    start, end = settings.event_window
    if settings.horizon <= end:
        return None
    first = min(start, max(-1, settings.estimation_window[1] + 1))
    return first, settings.horizon


@contextmanager
def _recorded() -> Iterator[list[warnings.WarningMessage]]:
    """Record the warnings raised in the block (every one, not only the first per place)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _reemit(caught: Sequence[warnings.WarningMessage], prefix: str = "") -> None:
    for item in caught:
        message = item.message
        if prefix and issubclass(item.category, BacktestWarning):
            message = item.category(prefix + str(message))
        warnings.warn_explicit(message, item.category, item.filename, item.lineno)


def _events_path(settings: RunSettings) -> Path:
    from backtest.events import default_events_path

    if settings.events is None:
        return default_events_path()
    return Path(settings.events)


def run_all(
    settings: RunSettings | None = None,
    progress: Progress | None = None,
    max_memory: int | None = None,
    scheduler: Any = None,
    meanwhile: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run the whole job; ``progress(step)`` is called before each step of :data:`STEPS`.

    ``meanwhile(result)``, if given, is called at the strategy step with the result so far (its
    ``trade`` None): with a second process running that step (:mod:`backtest.background`), the
    caller does work that needs no strategy result (``backtest run`` writes the other tables)
    instead of waiting for it.

    ``max_memory`` (bytes; default :data:`backtest.budget.DEFAULT_BUDGET`) bounds the
    estimated size of the job, checked once the events are aligned and before the numerics.
    ``scheduler`` says where the units of work run (:mod:`backtest.scheduler`: ``"inline"``,
    ``"local:N"``, ``"tcp://HOST:PORT"`` or a ``dask.distributed.Client``); the result is the
    same on every scheduler.

    Raises
    ------
    BacktestError
        Any input problem found by a step (events file, prices, calendars, parameters).
    """
    settings = settings or RunSettings()
    step = progress or (lambda _name: None)
    with warnings.catch_warnings(record=True) as caught, frozen_heap():
        warnings.simplefilter("always", BacktestWarning)
        with open_scheduler(scheduler, progress=False) as mapper:
            result = _run(settings, step, max_memory, mapper, meanwhile)
    seen: list[str] = []
    for item in caught:
        if issubclass(item.category, BacktestWarning):
            text = f"{item.category.__name__}: {item.message}"
            if text not in seen:
                seen.append(text)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    # the traps the study flags (columns of its tables) are stated with the warnings
    result.warnings = seen + [f"EventStudyNote: {note}" for note in result.study.trap_notes()]
    return result


def _run(settings: RunSettings, step: Progress, max_memory: int | None, mapper: Mapper,
         meanwhile: Callable[[RunResult], None] | None = None) -> RunResult:
    from backtest.alignment import align_events, align_symbols
    from backtest.calendars import ExchangeCalendars
    from backtest.events import load_events
    from backtest.inputs import offline_symbols, open_source, select_events, symbols_to_load
    from backtest.recovery import data_horizon, recovery
    from backtest.return_tables.closes import session_closes
    from backtest.sources import load_prices, unit_prices
    from backtest.study import event_study
    from backtest.trade import run_strategy

    step("events")
    events_path = _events_path(settings)
    source = open_source(settings.source, csv_dir=settings.csv_dir, cache_dir=settings.cache_dir,
                         path=settings.path)
    # --symbols replaces every event's own symbols: only those need prices, not the file's.
    every = load_events(events_path, available=None if settings.symbols else offline_symbols(source))
    events = select_events(every, settings.event_ids, events_path)
    grid = _resolve_grid(settings)

    step("prices")
    symbols = None if settings.symbols is None else list(settings.symbols)
    benchmarks = dict(settings.benchmarks or ())
    prices = load_prices(
        symbols_to_load(events, symbols, benchmarks=benchmarks, extra=settings.factors or ()), source
    )

    step("calendars")
    calendars = ExchangeCalendars.from_prices(prices, overrides=settings.closures)

    step("alignment")
    alignment = align_events(events, calendars, symbols)
    symbol_alignment = align_symbols(events, calendars, symbols)
    _check_size(settings, len(symbol_alignment), grid, max_memory)
    every_alignment = (symbol_alignment if len(every) == len(events)
                       else align_symbols(every, calendars, symbols))

    # The strategy needs only prices and the alignment: with a second process (backtest.background)
    # it runs there, beside the study and recovery; else here, at its step. On a cluster its
    # grid slices are mapped like the other units.
    strategy_args = (settings.strategy, prices, symbol_alignment, calendars)
    strategy_options: dict[str, Any] = {
        "grid": grid or None, "fees": settings.fees, "slippage": settings.slippage, "fill": settings.fill,
        "horizon": settings.horizon, "benchmarks": benchmarks or None,
    }  # fmt: skip
    pending_trade = (background.submit(run_strategy, *strategy_args, **strategy_options)
                     if mapper.client is None else None)

    step("event study")
    # on a cluster with a parquet dataset the units read their own symbols on the workers
    shipped = unit_prices(prices, source, mapper.client is not None)
    study_options: dict[str, Any] = {
        "model": settings.model,
        "factors": None if settings.factors is None else list(settings.factors),
        "estimation_window": settings.estimation_window,
        "car_windows": settings.car_windows,
        "min_estimation": settings.min_estimation,
        "benchmarks": benchmarks or None,
        "return_kind": settings.return_kind,
        "exclude_events": settings.exclude_events,
        "other_events": every_alignment,
        "factor_alignment": settings.factor_alignment,
        "dimson": settings.dimson,
    }
    with _recorded() as first_warnings:
        study = event_study(
            shipped, symbol_alignment, calendars, event_window=settings.event_window, robustness=True,
            scheduler=mapper, **study_options
        )
    _reemit(first_warnings)
    from backtest.study.inference import infer

    # how unusual day 0 was for these instruments: their own history, about a second
    inference = infer(study, prices, symbol_alignment, calendars, placebo=True, calendar_time=True,
                      other_events=every_alignment)

    step("recovery")
    recovery_study, window = None, recovery_event_window(settings)
    if window is not None:
        # No further than the data reach: a huge --horizon would only add missing days.
        last = min(window[1], data_horizon(prices, symbol_alignment, calendars))
        window = (window[0], last) if last > settings.event_window[1] else None
    if window is not None:
        # Same model and estimation window, event window to the horizon, so that the abnormal
        # path is followed as far as the price path. Warnings already given by the first study
        # are not repeated; new ones (e.g. data ending between the two windows' ends) are kept.
        with _recorded() as second_warnings:
            recovery_study = event_study(
                shipped, symbol_alignment, calendars, event_window=window, scheduler=mapper, **study_options
            )
        given = {(w.category, str(w.message)) for w in first_warnings}
        new = [w for w in second_warnings if (w.category, str(w.message)) not in given]
        _reemit(new, prefix=f"abnormal path for recovery (event window {window[0]}:+{window[1]}): ")
    recovered = recovery(
        shipped,
        symbol_alignment,
        calendars,
        horizon=settings.horizon,
        study=study if recovery_study is None else recovery_study,
        benchmarks=benchmarks or None,
        scheduler=mapper,
    )

    closes = session_closes(
        prices,
        symbol_alignment,
        calendars,
        first_day=min(settings.event_window[0], *(start for start, _ in settings.car_windows)) - 1,
        last_day=max(settings.horizon, *(end for _, end in settings.car_windows)),
        benchmarks=benchmarks or None,
    )

    first = min(bars.index.min() for bars in prices.values())
    last = max(bars.index.max() for bars in prices.values())
    packaged = "data" in events_path.parts and events_path.parent.name == "data" and settings.events is None
    provenance = {
        "source": {"csv": f"csv ({settings.csv_dir})", "parquet": f"parquet ({settings.path})"}.get(
            settings.source, settings.source
        ),
        "symbols_loaded": sorted(prices),
        "date_range": [first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")],
        "price_sha256": price_sha256(prices),
        "events_file": "packaged events.csv" if packaged else str(events_path),
        "events_sha256": file_sha256(events_path),
        "package_version": __version__,
    }
    result = RunResult(
        settings=settings,
        events=events,
        prices=prices,
        alignment=alignment,
        symbol_alignment=symbol_alignment,
        study=study,
        inference=inference,
        recovery=recovered,
        trade=None,
        grid=grid,
        provenance=provenance,
        recovery_study=recovery_study,
        session_closes=closes,
    )

    step("strategy")
    if meanwhile is not None:
        meanwhile(result)
    if pending_trade is not None:
        result.trade = pending_trade.result(take_back=False)  # handed over at the start: the worker has it
    else:
        result.trade = run_strategy(*strategy_args, **strategy_options, scheduler=mapper)
    return result
