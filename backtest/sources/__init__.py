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
