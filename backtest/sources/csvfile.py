"""Read one bars CSV file into the common bar frame: the snapshot's header, or files as users have them.

The snapshot's header is ``date,open,high,low,close,adj_close,volume``; ``adj_close`` and
``volume`` may be empty. Also read, as a user exports them:

* Yahoo / yfinance CSV exports: ``Date,Open,High,Low,Close,Adj Close,Volume`` (any case, any
  column order, spaces or underscores; extra columns such as ``Dividends`` are ignored; a date
  with a time or offset, ``2025-01-27 00:00:00-05:00``, is read as its session date);
* files without ``adj_close``: the close is used as given, and a :class:`DataWarning` says so;
* close-only files (``date,close``): open, high and low are NaN; the event study and recovery
  use the close only, a trading rule that needs them refuses in one line.

Errors name the file, the line and the fix.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError, DataWarning, os_error, shown, where
from backtest.sources import BAR_COLUMNS
from backtest.validate import validate_bars

CSV_HEADER: tuple[str, ...] = ("date", "open", "high", "low", "close", "adj_close", "volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_RANGE_COLUMNS = ("open", "high", "low")
_ALIASES = {"adjclose": "adj_close", "adjusted_close": "adj_close", "datetime": "date"}
# "2025-01-27", or with a time and offset as yfinance writes it ("2025-01-27 00:00:00-05:00")
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T][\d:.+\-Z]*)?$")


def column_name(header: str) -> str:
    """A header cell as the column it names: ``"Adj Close"`` -> ``"adj_close"``.

    >>> [column_name(h) for h in ("Date", " Adj Close", "adj_close", "Stock Splits", "AdjClose")]
    ['date', 'adj_close', 'adj_close', 'stock_splits', 'adj_close']
    """
    name = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return _ALIASES.get(name, name)


def _columns(path: Path, header: Sequence[str]) -> dict[str, int]:
    """Position of each known column in the file's header; checks the ones needed are there."""
    names = [column_name(h) for h in header]
    positions = {name: i for i, name in reversed(list(enumerate(names))) if name in CSV_HEADER}
    missing = [c for c in ("date", "close") if c not in positions]
    if missing:
        raise DataError(
            f"{where(path, 1)} header is {','.join(header)}: no {' or '.join(missing)} column; expected "
            f"{','.join(CSV_HEADER)} (or a Yahoo export: Date,Open,High,Low,Close,Adj Close,Volume; "
            "open, high, low, adj_close and volume may be left out)"
        )
    partial = [c for c in _RANGE_COLUMNS if c not in positions]
    if partial and len(partial) < len(_RANGE_COLUMNS):
        raise DataError(
            f"{where(path, 1)} header has {', '.join(c for c in _RANGE_COLUMNS if c in positions)} but no "
            f"{', '.join(partial)}; give all of open, high, low, or none (a close-only file)"
        )
    return positions


def read_bars_csv(path: Path, symbol: str | None = None) -> pd.DataFrame:
    """Parse ``path`` and return validated, adjusted bars indexed by session date.

    When ``adj_close`` is present on a row, open/high/low/close are scaled by
    ``adj_close / close`` (split and dividend adjustment, as Yahoo does it).
    Rows must already be in ascending date order; the bars pass
    :func:`backtest.validate.validate_bars` (``symbol`` names them in errors,
    default: the file name without ``.csv``).

    Raises
    ------
    DataError
        Wrong header, unparseable date or number, duplicate or unsorted dates,
        or an impossible bar; the message names the file and the line (line 1
        is the header).
    """
    symbol = symbol if symbol is not None else Path(path).name.removesuffix(".csv")
    try:
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False
        )
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise os_error(exc, path, "cannot read the price file", "check the path", DataError) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(f"{where(path)} not a readable CSV file ({reason}); fix or remove it") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{where(path)} empty file; expected header {','.join(CSV_HEADER)}") from None
    positions = _columns(path, [str(c) for c in raw.columns])
    raw = pd.DataFrame({c: raw.iloc[:, positions[c]] if c in positions else "" for c in CSV_HEADER})
    close_only = "open" not in positions
    if "adj_close" not in positions:
        warnings.warn(
            f"{path.name}: no adj_close column; returns use the close as given (not adjusted for "
            "splits and dividends unless the file already is)",
            DataWarning,
            stacklevel=2,
        )
    # File line of every row (header = line 1), kept through the removal of blank lines.
    blank = (raw.apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()
    lines = (np.arange(len(raw)) + 2)[~blank]
    raw = raw[~blank].reset_index(drop=True)
    if raw.empty:
        raise DataError(f"{where(path)} no data rows under the header")

    day = raw["date"].str.strip().str.extract(_DATE_PREFIX, expand=False)
    dates = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where(path, int(lines[row]), 'date')} {shown(raw['date'].iloc[row])} is not a date; "
            "use YYYY-MM-DD"
        )
    values = {}
    for column in (*_PRICE_COLUMNS, "adj_close", "volume"):
        text = raw[column].str.strip()
        numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = (numbers.isna() & (text != "")).to_numpy().copy()
        if column == "close" or (column in _PRICE_COLUMNS and not close_only):
            bad |= (text == "").to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where(path, int(lines[row]), column)} {shown(raw[column].iloc[row])} is not a number; "
                "prices must be numeric (only adj_close and volume may be empty)"
            )
        values[column] = numbers.to_numpy(dtype=float)
    duplicated = dates.duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DataError(
            f"{where(path, int(lines[row]), 'date')} duplicate date {raw['date'].iloc[row]}; "
            "keep one row per session"
        )

    for column in (*_PRICE_COLUMNS, "adj_close"):
        # Checked before the adjustment divides by close: a zero close must name its own line.
        bad = values[column] <= 0  # NaN (a close-only file's open/high/low) compares False
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where(path, int(lines[row]), column)} {shown(raw[column].iloc[row])}: "
                "prices must be positive"
            )
    close = values["close"]
    # Rows without adj_close are taken as already adjusted (factor 1).
    factor = np.where(np.isnan(values["adj_close"]), 1.0, values["adj_close"] / close)
    frame = pd.DataFrame(
        {
            "open": values["open"] * factor,
            "high": values["high"] * factor,
            "low": values["low"] * factor,
            "close": close * factor,
            "volume": values["volume"],
        },
        index=pd.DatetimeIndex(dates.to_numpy(), name="date"),
    )
    bars = validate_bars(frame[list(BAR_COLUMNS)], symbol, path, first_line=lines)
    bars.attrs["origin"] = str(path)  # named in data-gap warnings (backtest.calendars)
    return bars
