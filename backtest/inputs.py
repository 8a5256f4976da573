"""The inputs every job starts from: events, prices, reconciled calendars, alignment.

One function, :func:`load_inputs`, so that ``backtest study``, ``recovery``,
``trade``, ``events`` and ``run`` read the same files the same way:

``events.csv`` -> the symbols to load (each event's own, or the requested ones,
plus their benchmarks and any extra series) -> prices from one source ->
calendars reconciled with those prices -> reaction session per event x symbol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from backtest.alignment import align_symbols, event_symbols
from backtest.calendars import ExchangeCalendars
from backtest.errors import ParameterError
from backtest.instruments import benchmark_of, get_instrument
from backtest.sources import PriceSource, get_source, load_prices, unit_prices


@dataclass(frozen=True)
class Inputs:
    """What a job needs before any numerics: see :func:`load_inputs`."""

    events_path: Path
    events: pd.DataFrame
    symbols: list[str] | None  # as requested; None = each event's own symbols
    prices: dict[str, pd.DataFrame]  # targets, their benchmarks and extra series
    calendars: ExchangeCalendars
    alignment: pd.DataFrame  # align_symbols(): one row per event x symbol
    #: align_symbols() of every event of the file (also those --event leaves out): the other
    #: events whose days are kept out of the estimation windows.
    all_alignment: pd.DataFrame | None = None
    source: PriceSource | None = None  # where the prices came from

    def unit_prices(self, remote: bool) -> Mapping[str, pd.DataFrame]:
        """The prices as units of work get them (:func:`backtest.sources.unit_prices`)."""
        return unit_prices(self.prices, self.source, remote)


def targets(events: pd.DataFrame, symbols: Sequence[str] | None = None) -> list[str]:
    """The symbols the events are studied on: ``symbols``, else each event's own, else the defaults.

    >>> import pandas as pd
    >>> targets(pd.DataFrame({"symbols": [("NVDA",), ()]}))
    ['NVDA', '000660.KS', '005930.KS', '285A.T']
    """
    given = list(symbols) if symbols else None  # an empty list means "not given", as everywhere
    return list(dict.fromkeys(s for _, event in events.iterrows() for s in event_symbols(event, given)))


def symbols_to_load(
    events: pd.DataFrame,
    symbols: Sequence[str] | None = None,
    *,
    benchmarks: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Targets, then each target's benchmark (registry default unless overridden), then ``extra``.

    >>> import pandas as pd
    >>> symbols_to_load(pd.DataFrame({"symbols": [()]}), ["NVDA", "285A.T"], extra=["SOXX"])
    ['NVDA', '285A.T', 'SPY', '^N225', 'SOXX']
    """
    overrides = dict(benchmarks or {})
    wanted = targets(events, symbols)
    market = [benchmark_of(s, overrides) for s in wanted]
    return list(dict.fromkeys([*wanted, *(b for b in market if b), *extra]))


def select_events(
    events: pd.DataFrame, event_ids: Sequence[str] | None, path: object = "events"
) -> pd.DataFrame:
    """Keep only ``event_ids`` (all events when None or empty); an unknown id lists the known ones."""
    if not event_ids:
        return events
    known = list(events["event_id"])
    unknown = [e for e in event_ids if e not in known]
    if unknown:
        raise ParameterError(f"--event {unknown[0]!r}: no such event_id in {path}; known: {', '.join(known)}")
    return events[events["event_id"].isin(event_ids)].reset_index(drop=True)


def open_source(
    source: str = "snapshot",
    *,
    csv_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    path: str | Path | None = None,
) -> PriceSource:
    """Build a price source from command-line style options.

    Raises
    ------
    ParameterError
        ``source="csv"`` without ``csv_dir``, ``source="parquet"`` without ``path``,
        a directory option for another source,
        or an unknown source name.
    """
    if csv_dir and source != "csv":
        raise ParameterError(f"--csv-dir applies to --source csv, not --source {source}; add --source csv")
    if cache_dir and source != "yahoo":
        raise ParameterError(f"--cache-dir applies to --source yahoo, not --source {source}; drop it")
    if path and source != "parquet":
        raise ParameterError(f"--path applies to --source parquet, not --source {source}; add that")
    if source == "parquet":
        return get_source("parquet", path=path)
    if source == "csv":
        if not csv_dir:
            raise ParameterError("--source csv needs --csv-dir DIR (a directory of SYMBOL.csv files)")
        return get_source("csv", directory=csv_dir)
    if source == "yahoo":
        return get_source("yahoo", cache_dir=cache_dir)
    return get_source(source)


def offline_symbols(source: PriceSource) -> list[str] | None:
    """Symbols a source can serve, or None when it can fetch any (yahoo)."""
    return None if source.name == "yahoo" else source.symbols()


def load_inputs(
    events: str | Path | None = None,
    symbols: Sequence[str] | None = None,
    *,
    source: str | PriceSource = "snapshot",
    csv_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    path: str | Path | None = None,
    closures: str | Path | None = None,
    event_ids: Sequence[str] | None = None,
    benchmarks: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> Inputs:
    """Read the events, load the prices, reconcile the calendars and align every event.

    Parameters
    ----------
    events : path, optional
        Events CSV; default ``./events.csv``, else the packaged copy.
    symbols : list of str, optional
        Symbols for every event; default each event's own ``symbols``, else the four targets.
    source, csv_dir, cache_dir, path : price source and its options (see :func:`open_source`).
    closures : path, optional
        Closures overrides applied on top of the packaged ``closures.csv``.
    event_ids : list of str, optional
        Keep only these events (unknown ids are an error listing the known ones).
    benchmarks : mapping, optional
        Benchmark per symbol, overriding the registry.
    extra : list of str
        Further series to load (e.g. factor series).

    Example
    -------
    >>> inputs = load_inputs(symbols=["NVDA"], event_ids=["deepseek_r1"])
    >>> inputs.alignment.loc[0, ["symbol", "reaction_session"]].tolist()
    ['NVDA', Timestamp('2025-01-27 00:00:00')]
    """
    from backtest.events import default_events_path, load_events

    for symbol in symbols or ():
        get_instrument(symbol)  # an unknown suffix fails here, before any loading
    price_source = source if not isinstance(source, str) else open_source(
        source, csv_dir=csv_dir, cache_dir=cache_dir, path=path
    )
    path = Path(events) if events is not None else default_events_path()
    # --symbols replaces every event's own symbols: only those need prices, not the file's.
    available = None if symbols else offline_symbols(price_source)
    every = load_events(path, available=available)
    table = select_events(every, event_ids, path)
    wanted = list(symbols) if symbols else None
    prices = load_prices(symbols_to_load(table, wanted, benchmarks=benchmarks, extra=extra), price_source)
    calendars = ExchangeCalendars.from_prices(prices, overrides=closures)
    alignment = align_symbols(table, calendars, wanted)
    everything = alignment if len(every) == len(table) else align_symbols(every, calendars, wanted)
    return Inputs(path, table, wanted, prices, calendars, alignment, everything, price_source)
