"""Price sources behind one small interface.

Every source returns, for one symbol, adjusted daily bars as a DataFrame indexed
by session date (``DatetimeIndex`` named ``date``, tz-naive, ascending, unique)
with float columns ``open, high, low, close, volume`` (volume may be NaN). Prices
are adjusted for splits and dividends: when a file has an ``adj_close`` column,
open/high/low/close are scaled by ``adj_close / close`` of the same row.

>>> from backtest.sources import get_source
>>> bars = get_source("snapshot").load("NVDA")
>>> list(bars.columns)
['open', 'high', 'low', 'close', 'volume']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, Protocol

import pandas as pd

from backtest.errors import ParameterError

SourceName = Literal["snapshot", "csv", "yahoo", "parquet"]
SOURCE_NAMES: tuple[str, ...] = ("snapshot", "csv", "yahoo", "parquet")
BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


class PriceSource(Protocol):
    """What every price source provides."""

    name: str

    def load(self, symbol: str) -> pd.DataFrame:
        """Adjusted daily bars of ``symbol`` (see module docstring for the shape)."""
        ...

    def symbols(self) -> list[str]:
        """Symbols this source can load without a download (may be empty)."""
        ...


def get_source(name: str = "snapshot", **options: object) -> PriceSource:
    """Build the price source called ``name`` (``snapshot``, ``csv``, ``yahoo`` or ``parquet``).

    ``options`` go to the source's constructor, e.g. ``get_source("csv",
    directory="my_prices")`` or ``get_source("yahoo", cache_dir=...)``.
    """
    if name == "snapshot":
        from backtest.sources.snapshot import SnapshotSource

        return SnapshotSource(**options)
    if name == "csv":
        from backtest.sources.csvdir import CsvSource

        return CsvSource(**options)
    if name == "yahoo":
        from backtest.sources.yahoo import YahooSource

        return YahooSource(**options)
    if name == "parquet":
        from backtest.sources.parquet import ParquetSource

        return ParquetSource(**options)
    raise ParameterError(
        f"--source {name!r}: unknown price source; use one of {', '.join(SOURCE_NAMES)}"
    )


def load_prices(symbols: list[str], source: PriceSource | None = None) -> dict[str, pd.DataFrame]:
    """Load several symbols from one source: ``{symbol: bars}`` in the given order."""
    source = source if source is not None else get_source("snapshot")
    return {symbol: source.load(symbol) for symbol in symbols}


class SourcePrices(Mapping):
    """``{symbol: bars}`` that reads each symbol from ``source`` on first access.

    What a unit of work gets instead of the bars when its worker can open the source
    itself (a parquet dataset on shared storage): only the location and the symbol names
    travel, and the worker reads only the partitions its unit touches.
    """

    def __init__(self, source: PriceSource, symbols: Sequence[str]) -> None:
        self.source = source
        self._symbols = list(dict.fromkeys(symbols))
        self._names = set(self._symbols)
        self._loaded: dict[str, pd.DataFrame] = {}

    def __getitem__(self, symbol: str) -> pd.DataFrame:
        if symbol not in self._names:
            raise KeyError(symbol)
        if symbol not in self._loaded:
            self._loaded[symbol] = self.source.load(symbol)
        return self._loaded[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __contains__(self, symbol: object) -> bool:  # a name check, not a read
        return symbol in self._names

    def __len__(self) -> int:
        return len(self._symbols)

    def __reduce__(self):  # the source and the names travel, never the loaded bars
        return (SourcePrices, (self.source, self._symbols))

    def subset(self, symbols: Sequence[str]) -> SourcePrices:
        return SourcePrices(self.source, [s for s in symbols if s in self._names])


def unit_prices(
    prices: Mapping[str, pd.DataFrame], source: PriceSource | None, remote: bool
) -> Mapping[str, pd.DataFrame]:
    """The prices as units of work get them.

    On a cluster (``remote``) with a dataset every worker can open (``--source parquet``),
    each unit reads its own symbols there (:class:`SourcePrices`); otherwise the loaded bars.
    """
    if remote and source is not None and source.name == "parquet":
        return SourcePrices(source, list(prices))
    return prices


def subset_prices(prices: Mapping[str, pd.DataFrame], symbols: Sequence[str]) -> Mapping[str, pd.DataFrame]:
    """The part of ``prices`` a unit of work reads: ``symbols`` that ``prices`` has (lazily, if lazy)."""
    if isinstance(prices, SourcePrices):
        return prices.subset(symbols)
    return {s: prices[s] for s in dict.fromkeys(symbols) if s in prices}
