"""Read one bars CSV file (the snapshot's header) into the common bar frame.

Header: ``date,open,high,low,close,adj_close,volume``; ``adj_close`` and ``volume``
may be empty. Errors name the file, the line and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError, where
from backtest.sources import BAR_COLUMNS
from backtest.validate import validate_bars

CSV_HEADER: tuple[str, ...] = ("date", "open", "high", "low", "close", "adj_close", "volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")


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
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{where(path)} not a readable CSV file ({exc}); fix or remove it") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{where(path)} empty file; expected header {','.join(CSV_HEADER)}") from None
    header = tuple(c.strip() for c in raw.columns)
    if header != CSV_HEADER:
        raise DataError(
            f"{where(path, 1)} header is {','.join(header)}; expected {','.join(CSV_HEADER)}"
        )
    raw.columns = list(CSV_HEADER)
    # File line of every row (header = line 1), kept through the removal of blank lines.
    blank = (raw.apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()
    lines = (np.arange(len(raw)) + 2)[~blank]
    raw = raw[~blank].reset_index(drop=True)
    if raw.empty:
        raise DataError(f"{where(path)} no data rows under the header")

    dates = pd.to_datetime(raw["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where(path, int(lines[row]), 'date')} {raw['date'].iloc[row]!r} is not a date; use YYYY-MM-DD"
        )
    values = {}
    for column in (*_PRICE_COLUMNS, "adj_close", "volume"):
        text = raw[column].str.strip()
        numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = (numbers.isna() & (text != "")).to_numpy().copy()
        if column in _PRICE_COLUMNS:
            bad |= (text == "").to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where(path, int(lines[row]), column)} {raw[column].iloc[row]!r} is not a number; "
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
        bad = values[column] <= 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where(path, int(lines[row]), column)} {raw[column].iloc[row]!r}: prices must be positive"
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
    return validate_bars(frame[list(BAR_COLUMNS)], symbol, path, first_line=lines)
