"""A user's directory of bars CSV files, one per symbol (``--source csv --csv-dir DIR``).

Files use the snapshot's header ``date,open,high,low,close,adj_close,volume``, or a
Yahoo / yfinance export, a file without ``adj_close`` or a close-only file (see
:mod:`backtest.sources.csvfile`), and are named after the symbol in any case (``NVDA.csv``,
``nvda.csv``, ``005930.KS.csv``; indices with ``_`` for ``^``: ``_N225.csv``). Every file is
validated when loaded and rows off the symbol's exchange calendar are reported as a
``DataWarning``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtest.errors import DataError, ParameterError, UnknownSymbolError, where
from backtest.instruments import get_instrument
from backtest.sources.csvfile import CSV_HEADER, read_bars_csv
from backtest.sources.snapshot import filename_to_symbol, symbol_to_filename
from backtest.validate import check_calendar


class CsvSource:
    """Bars from ``directory/<SYMBOL>.csv`` files.

    Parameters
    ----------
    directory : str or Path
        Directory holding the files.

    Raises
    ------
    ParameterError
        When no ``directory`` is given.
    DataError
        When ``directory`` does not exist or is not a directory.

    Example
    -------
    >>> from backtest.sources.snapshot import snapshot_dir
    >>> CsvSource(snapshot_dir()).load("NVDA").loc["2025-01-27", "close"].round(2)
    np.float64(118.11)
    """

    name = "csv"

    def __init__(self, directory: str | Path | None = None) -> None:
        if directory is None:
            raise ParameterError("--source csv needs --csv-dir DIR (a directory of SYMBOL.csv files)")
        path = Path(directory).expanduser()
        if not path.exists():
            raise DataError(
                f"{path}: csv directory not found; pass an existing directory with --csv-dir "
                f"(files named SYMBOL.csv with header {','.join(CSV_HEADER)})"
            )
        if not path.is_dir():
            raise DataError(
                f"{path}: not a directory; --csv-dir needs the directory holding SYMBOL.csv files"
            )
        self.directory = path
        self._cache: dict[str, tuple[float, pd.DataFrame]] = {}

    def symbols(self) -> list[str]:
        """Symbols with a ``.csv`` file in the directory, sorted."""
        names = {filename_to_symbol(p.name).upper() for p in self.directory.glob("*.csv") if p.is_file()}
        return sorted(names)

    def path(self, symbol: str) -> Path:
        """File that holds ``symbol``'s bars: ``_N225.csv`` for ``^N225``, or a literal ``^N225.csv``."""
        path = self.directory / symbol_to_filename(symbol)
        literal = self.directory / f"{symbol}.csv"
        if path.is_file() or literal.is_file():
            return path if path.is_file() else literal
        # a file named in another case (nvda.csv for NVDA): tickers are case-insensitive
        wanted = {path.name.upper(), literal.name.upper()}
        matches = sorted(p for p in self.directory.glob("*.csv") if p.name.upper() in wanted)
        return matches[0] if matches else path

    def load(self, symbol: str) -> pd.DataFrame:
        """Validated adjusted bars of ``symbol`` from its file (re-read when the file changes)."""
        path = self.path(symbol)
        if not path.is_file():
            known = ", ".join(self.symbols()) or "no .csv files"
            raise UnknownSymbolError(
                f"{path}: no file for symbol {symbol!r} in the csv directory (has: {known}); "
                f"add {path.name} or use another --source"
            )
        try:
            get_instrument(symbol)
        except UnknownSymbolError as exc:
            raise UnknownSymbolError(f"{where(path)} {exc}; name files SYMBOL.csv") from None
        mtime = path.stat().st_mtime
        cached = self._cache.get(symbol)
        if cached is None or cached[0] != mtime:
            bars = read_bars_csv(path, symbol)
            check_calendar(bars, symbol, path)
            self._cache[symbol] = (mtime, bars)
            cached = self._cache[symbol]
        return cached[1].copy()
