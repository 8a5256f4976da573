"""The embedded price snapshot: real daily bars shipped inside the package.

See ``backtest/data/prices/PROVENANCE.md`` for where every file came from.
Index symbols are stored with ``^`` replaced by ``_`` (``^N225`` -> ``_N225.csv``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from backtest.errors import UnknownSymbolError, did_you_mean
from backtest.sources.csvfile import read_bars_csv
from backtest.validate import check_calendar


def snapshot_dir() -> Path:
    """Directory of the embedded CSV files."""
    return Path(str(resources.files("backtest") / "data" / "prices"))


def symbol_to_filename(symbol: str) -> str:
    """``^N225`` -> ``_N225.csv``; other symbols keep their name."""
    return symbol.replace("^", "_") + ".csv"


def filename_to_symbol(filename: str) -> str:
    """``_N225.csv`` -> ``^N225``."""
    stem = filename[: -len(".csv")]
    return "^" + stem[1:] if stem.startswith("_") else stem


@lru_cache(maxsize=64)
def _load_cached(path: str) -> pd.DataFrame:
    # Parsed, validated and calendar-checked once per process.
    file = Path(path)
    symbol = filename_to_symbol(file.name)
    bars = read_bars_csv(file, symbol)
    check_calendar(bars, symbol, file)
    return bars


class SnapshotSource:
    """Reads the embedded files; the default source, works offline."""

    name = "snapshot"

    def __init__(self) -> None:
        self.directory = snapshot_dir()

    def symbols(self) -> list[str]:
        return sorted(filename_to_symbol(p.name) for p in self.directory.glob("*.csv"))

    def load(self, symbol: str) -> pd.DataFrame:
        path = self.directory / symbol_to_filename(symbol)
        if not path.is_file():
            known = self.symbols()
            raise UnknownSymbolError(
                f"symbol {symbol!r} is not in the embedded snapshot{did_you_mean(symbol, known)} (has: "
                f"{', '.join(known)}); use --source yahoo or --source csv"
            )
        # Callers get a copy so that the cache cannot be mutated through them.
        return _load_cached(str(path)).copy()
