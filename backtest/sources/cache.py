"""On-disk parquet cache of downloaded bars, one file per symbol.

Location, first match wins: the ``directory`` argument (CLI ``--cache-dir``),
the environment variable ``BACKTEST_CACHE_DIR``, the user's cache directory
(``platformdirs.user_cache_dir("backtest")/prices``).

Writes are atomic: the frame goes to a temporary file in the same directory,
which is then renamed over the old file with :func:`os.replace`; a crash in the
middle leaves the previous file intact. Empty frames are refused, so a failed
or empty download never replaces good data. A file that cannot be read is
reported as a :class:`~backtest.errors.CacheError` naming the file and the fix,
never silently skipped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from backtest.errors import CacheError, DataError, where
from backtest.files import current_umask
from backtest.sources import BAR_COLUMNS
from backtest.validate import validate_bars

CACHE_ENV = "BACKTEST_CACHE_DIR"
SUFFIX = ".parquet"


def default_cache_dir() -> Path:
    """``$BACKTEST_CACHE_DIR`` if set, else the platform's user cache dir + ``/prices``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("backtest", appauthor=False)) / "prices"


def _filename(symbol: str) -> str:
    return symbol.replace("^", "_") + SUFFIX


def _symbol(filename: str) -> str:
    stem = filename[: -len(SUFFIX)]
    return "^" + stem[1:] if stem.startswith("_") else stem


def _write_file(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as parquet (a seam for crash tests)."""
    frame.to_parquet(path, engine="pyarrow", index=True)


class PriceCache:
    """Parquet files ``<directory>/<SYMBOL>.parquet`` holding validated bars.

    Parameters
    ----------
    directory : str or Path, optional
        Cache directory; default :func:`default_cache_dir`. Created on first write.

    Example
    -------
    >>> import tempfile
    >>> from backtest.sources import get_source
    >>> cache = PriceCache(tempfile.mkdtemp())
    >>> _ = cache.write("NVDA", get_source("snapshot").load("NVDA"))
    >>> cache.symbols(), len(cache.read("NVDA"))
    (['NVDA'], 686)
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        if self.directory.exists() and not self.directory.is_dir():  # fail before any download
            raise CacheError(
                f"{self.directory}: the cache directory is a file; pass a directory with --cache-dir "
                f"(or {CACHE_ENV})"
            )

    def path(self, symbol: str) -> Path:
        """Cache file of ``symbol`` (``^`` written as ``_``)."""
        return self.directory / _filename(symbol)

    def symbols(self) -> list[str]:
        """Symbols with a cache file, sorted.

        """
        if not self.directory.is_dir():
            return []
        return sorted(_symbol(p.name) for p in self.directory.glob("*" + SUFFIX) if p.is_file())

    def read(self, symbol: str) -> pd.DataFrame | None:
        """Cached bars of ``symbol``, or None when there is no cache file.

        Raises
        ------
        CacheError
            When the file is corrupt, truncated or not shaped like bars.
        DataError
            When the bars in it fail validation.
        """
        path = self.path(symbol)
        if not path.is_file():
            return None
        fix = f"delete it and re-fetch with: backtest data fetch {symbol} --source yahoo"
        if not os.access(path, os.R_OK):
            raise CacheError(
                f"{where(path)} cannot read the cache file (permission denied); fix its permissions "
                "(chmod u+r) or use another --cache-dir"
            )
        try:
            frame = pd.read_parquet(path, engine="pyarrow")
        except PermissionError:
            raise CacheError(
                f"{where(path)} cannot read the cache file (permission denied); fix its permissions "
                "(chmod u+r) or use another --cache-dir"
            ) from None
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CacheError(f"{where(path)} corrupt cache file ({reason}); {fix}") from None
        if list(frame.columns) != list(BAR_COLUMNS) or not isinstance(frame.index, pd.DatetimeIndex):
            raise CacheError(
                f"{where(path)} not a bars cache file (columns {', '.join(map(str, frame.columns))}); {fix}"
            )
        frame = frame.astype(float)
        frame.index.name = "date"
        try:
            return validate_bars(frame, symbol, path)
        except DataError as exc:
            raise CacheError(f"{exc} ({fix})") from None

    def write(self, symbol: str, frame: pd.DataFrame) -> Path:
        """Atomically replace the cache file of ``symbol`` with ``frame``; return its path.

        Raises
        ------
        DataError
            When ``frame`` is empty or fails validation (the old file is kept).
        """
        path = self.path(symbol)
        if frame is None or len(frame) == 0:
            raise DataError(
                f"{where(path)} refusing to cache an empty download of {symbol}; kept the old file"
            )
        validate_bars(frame, symbol, f"download of {symbol}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise _write_error(exc, path, symbol) from None
        os.close(handle)
        temp = Path(temp_name)
        try:
            _write_file(frame[list(BAR_COLUMNS)].astype(float), temp)
            with temp.open("rb") as written:  # on disk before the rename makes it visible
                os.fsync(written.fileno())
            os.chmod(temp, 0o666 & ~current_umask())  # mkstemp creates 0600; a cache file follows the umask
            os.replace(temp, path)
        except OSError as exc:
            raise _write_error(exc, path, symbol) from None
        finally:
            temp.unlink(missing_ok=True)
        return path


def _write_error(exc: OSError, path: Path, symbol: str) -> CacheError:
    """A failed cache write as one line: permission problems are called so; the old file is kept."""
    reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc)).lower()
    fix = (
        "fix the cache directory's permissions or use another --cache-dir"
        if isinstance(exc, PermissionError)
        else "free some space or use another --cache-dir"
    )
    return CacheError(f"{where(path)} cannot write the cache file of {symbol} ({reason}); {fix}")
