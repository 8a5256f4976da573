"""Exchange schedules of pandas-market-calendars, kept on disk between runs.

Building a library schedule costs seconds for some exchanges whatever the span (XKRX
computes its lunar holidays over the library's whole range), and every command needs it.
The schedule of a calendar and span of years is a pure function of the installed
pandas-market-calendars and exchange-calendars, so it is written once as parquet under the
user cache dir (``platformdirs.user_cache_dir("backtest")/calendars``, or
``$BACKTEST_CALENDAR_CACHE``), one file per calendar, span and library versions, atomically
(a temporary file renamed into place), and read back by later runs. An unreadable file is
ignored and rebuilt.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

CACHE_ENV = "BACKTEST_CALENDAR_CACHE"
_TZ_KEY = b"backtest_timezone"
Built = tuple[pd.DataFrame, str]  # schedule (market_open, market_close in UTC) and time zone


def cache_dir() -> Path:
    """``$BACKTEST_CALENDAR_CACHE`` if set, else the user cache dir + ``/calendars``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("backtest", appauthor=False)) / "calendars"


@functools.cache  # installed versions do not change while a process runs; each look-up reads dist-info
def _versions() -> str:
    parts = []
    for name in ("pandas_market_calendars", "exchange_calendars"):
        try:
            parts.append(metadata.version(name))
        except metadata.PackageNotFoundError:
            parts.append("none")
    return "-".join(parts)


def schedule_path(calendar: str, years: tuple[int, int]) -> Path:
    """The file of ``calendar``'s schedule for ``years`` under the installed library versions."""
    return cache_dir() / f"{calendar}_{years[0]}-{years[1]}_{_versions()}.parquet"


def is_cached(calendar: str) -> bool:
    """Whether some schedule of ``calendar`` is on disk (its name was checked when it was built)."""
    return any(cache_dir().glob(f"{calendar}_*_{_versions()}.parquet"))


def cached_schedule(calendar: str, years: tuple[int, int], build: Callable[[], Built]) -> Built:
    """The schedule from disk, else ``build()`` it and write it for the next run."""
    import pyarrow.parquet as pq

    path = schedule_path(calendar, years)
    try:
        table = pq.read_table(path)
        return table.to_pandas(), table.schema.metadata[_TZ_KEY].decode()
    except (OSError, KeyError, ValueError, TypeError):
        pass  # missing or unreadable: rebuild
    schedule, tz = build()
    _write(schedule, tz, path)
    return schedule, tz


def _write(schedule: pd.DataFrame, tz: str, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(schedule)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _TZ_KEY: tz.encode()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError:
        pass  # a read-only cache dir only costs the next run the build
