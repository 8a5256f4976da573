"""Yahoo Finance prices through yfinance, cached on disk as parquet.

``yf.download`` (yfinance 1.x, ``auto_adjust=True``) returns one frame with
MultiIndex columns ``(Price, Ticker)`` for one ticker and for several, prices
already split- and dividend-adjusted, a tz-naive ``Date`` index for daily bars,
and, for a ticker it cannot fetch, all-NaN columns (plus an ``Adj Close``
column) instead of an exception; a lone unknown ticker gives an empty frame.
Network failures are logged by yfinance, not raised. :func:`split_download`
turns any of these shapes into one bars frame per symbol (or None), and
:func:`yfinance_download` turns yfinance's logged network failures back into
exceptions so that :class:`YahooSource` can retry them with exponential backoff.

The downloader and the sleep function are injectable, so tests never touch
the network and never wait.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import BacktestError, DataError, DownloadError, ParameterError, UnknownSymbolError
from backtest.instruments import get_instrument
from backtest.sources import BAR_COLUMNS
from backtest.sources.cache import PriceCache
from backtest.validate import check_calendar, validate_bars

#: downloader(symbols, start, end) -> frame shaped like ``yf.download``'s output;
#: start inclusive, end exclusive (ISO dates or None), as in yfinance.
Downloader = Callable[[list[str], str | None, str | None], pd.DataFrame]

DEFAULT_START = "2015-01-01"

_FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
# yfinance messages that mean "Yahoo has no data for this ticker", not a network failure.
_MISSING_MARKERS = (
    "possibly delisted",
    "no price data found",
    "no timezone found",
    "YFPricesMissingError",
    "YFTzMissingError",
    "YFTickerMissingError",
    "Failed download",
)


def _is_transient(exc: BaseException) -> bool:
    # curl_cffi and requests errors derive from OSError; rate limits are worth a retry too, and so
    # are the ValueError / RuntimeError yfinance raises when Yahoo answers with an HTML page or a
    # truncated JSON body (a consent or error page that the next attempt usually does not get).
    return isinstance(exc, OSError | ValueError | RuntimeError) or type(exc).__name__ == "YFRateLimitError"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


def yfinance_download(symbols: list[str], start: str | None, end: str | None) -> pd.DataFrame:
    """The default downloader: ``yf.download`` with adjusted prices, quietly.

    Raises
    ------
    ConnectionError
        When yfinance logged a failure other than "no data for this ticker"
        (its way of reporting network errors), so that the caller retries.
    """
    import yfinance as yf

    collect = _Collect()
    logger = logging.getLogger("yfinance")
    logger.addHandler(collect)  # also keeps yfinance's own error lines off the user's terminal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            frame = yf.download(
                symbols,
                start=start,
                end=end,
                interval="1d",
                auto_adjust=True,
                actions=False,
                progress=False,
                threads=False,
                multi_level_index=True,
            )
    finally:
        logger.removeHandler(collect)
    failures = [m for m in collect.messages if m and not any(k in m for k in _MISSING_MARKERS)]
    if failures:
        raise ConnectionError("; ".join(failures))
    return frame


def split_download(
    frame: pd.DataFrame | None, symbols: Sequence[str], timezones: Mapping[str, str] | None = None
) -> dict[str, pd.DataFrame | None]:
    """Split a ``yf.download``-shaped frame into bars per symbol (None = no data).

    Accepts MultiIndex columns in either order (``group_by="column"`` gives
    ``(Price, Ticker)``, ``group_by="ticker"`` gives ``(Ticker, Price)``) and flat
    columns for a single symbol. Ticker matching ignores case (yfinance
    upper-cases). Rows that are all NaN (padding where another ticker traded)
    are dropped. When an ``Adj Close`` column has values, open/high/low are
    scaled by ``Adj Close / Close`` and close becomes ``Adj Close``. A tz-aware
    index is converted to the symbol's exchange time zone (``timezones``)
    before taking the date.

    Example
    -------
    >>> columns = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"], ["NVDA"]],
    ...                                      names=["Price", "Ticker"])
    >>> raw = pd.DataFrame([[118.4, 128.4, 116.7, 124.8, 818830900]], columns=columns,
    ...                    index=pd.DatetimeIndex(["2025-01-27"], name="Date"))
    >>> split_download(raw, ["NVDA"])["NVDA"]
                 open   high    low  close       volume
    date
    2025-01-27  124.8  128.4  116.7  118.4  818830900.0
    """
    result: dict[str, pd.DataFrame | None] = dict.fromkeys(symbols)
    if frame is None or len(frame) == 0 or len(frame.columns) == 0:
        return result
    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        if columns.nlevels != 2:
            raise DataError(f"yahoo: unexpected download shape ({columns.nlevels} column levels)")
        price_level = 0 if "Close" in columns.get_level_values(0) else 1
        tickers = {str(t).upper(): t for t in columns.get_level_values(1 - price_level).unique()}
        parts = {
            s: frame.xs(tickers[s.upper()], axis=1, level=1 - price_level)
            for s in symbols
            if s.upper() in tickers
        }
    elif len(symbols) == 1:
        parts = {symbols[0]: frame}
    else:
        raise DataError("yahoo: download has flat columns for several symbols; expected (Price, Ticker)")
    for symbol, part in parts.items():
        bars = _to_bars(part, (timezones or {}).get(symbol))
        result[symbol] = bars if len(bars) else None
    return result


def _to_bars(part: pd.DataFrame, timezone: str | None) -> pd.DataFrame:
    part = part.loc[:, ~part.columns.duplicated()]
    prices = pd.DataFrame(
        {
            new: pd.to_numeric(part[old], errors="coerce").astype(float) if old in part else np.nan
            for old, new in _FIELDS.items()
        },
        index=part.index,
    )
    if "Adj Close" in part and part["Adj Close"].notna().any():
        factor = part["Adj Close"].astype(float) / prices["close"]
        for column in ("open", "high", "low"):
            prices[column] = prices[column] * factor
        prices["close"] = part["Adj Close"].astype(float)
    prices = prices[prices[["open", "high", "low", "close"]].notna().any(axis=1)]
    index = pd.DatetimeIndex(prices.index)
    if index.tz is not None:
        index = index.tz_convert(timezone or "UTC").tz_localize(None)
    # same index as the csv sources: microsecond unit (pandas 3's default for dates), no freq
    prices.index = pd.DatetimeIndex(index.normalize().as_unit("us").to_numpy(), name="date")
    return prices[list(BAR_COLUMNS)]


@dataclass
class FetchResult:
    """Outcome of :meth:`YahooSource.fetch`: bars and cache file per fetched symbol, errors per failed one."""

    bars: dict[str, pd.DataFrame] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, BacktestError] = field(default_factory=dict)


def _parse_date(value: object, option: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise ParameterError(f"{option} {value!r}: not a date; use YYYY-MM-DD") from None


class YahooSource:
    """Adjusted daily bars from Yahoo Finance, read from the parquet cache when present.

    Parameters
    ----------
    cache_dir : str or Path, optional
        Cache directory (default: ``$BACKTEST_CACHE_DIR`` or the user cache dir).
    start, end : str or Timestamp, optional
        First and last date (both inclusive) to download; start defaults to
        ``DEFAULT_START`` (2015-01-01), end to the latest available.
    downloader : callable, optional
        ``downloader(symbols, start, end_exclusive) -> frame`` shaped like
        ``yf.download``'s output; default :func:`yfinance_download`.
    retries : int
        Extra attempts after a network error; waits ``backoff * 2**k`` seconds
        before retry ``k = 0, 1, ...``.
    backoff : float
        First wait in seconds.
    sleep : callable, optional
        Wait function (default ``time.sleep``); tests pass a recorder.

    Notes
    -----
    :meth:`load` never downloads a symbol that is cached: a second run works
    offline. :meth:`fetch` (``backtest data fetch``) re-downloads and replaces
    the whole cached series, because Yahoo back-adjusts history at every
    dividend and old and new adjusted prices cannot be mixed.
    """

    name = "yahoo"

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        *,
        start: object = None,
        end: object = None,
        downloader: Downloader | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not isinstance(retries, int) or retries < 0:
            raise ParameterError(f"retries={retries!r}: use a whole number >= 0")
        if not backoff >= 0:
            raise ParameterError(f"backoff={backoff!r}: use a number of seconds >= 0")
        # yfinance downloads only the last month when start is None, so there is always a start.
        self.start = _parse_date(start if start is not None else DEFAULT_START, "--start")
        self.end = _parse_date(end, "--end")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ParameterError(f"--end {self.end.date()} is before --start {self.start.date()}; swap them")
        self.cache = PriceCache(cache_dir)
        self.downloader: Downloader = downloader if downloader is not None else yfinance_download
        self.retries = retries
        self.backoff = float(backoff)
        self.sleep = sleep if sleep is not None else time.sleep
        self._checked: set[str] = set()

    def symbols(self) -> list[str]:
        """Symbols in the cache."""
        return self.cache.symbols()

    def load(self, symbol: str) -> pd.DataFrame:
        """Bars of ``symbol`` from the cache, downloading (and caching) them if absent."""
        get_instrument(symbol)
        bars = self.cache.read(symbol)
        if bars is None:
            result = self.fetch([symbol])
            if symbol in result.errors:
                raise result.errors[symbol]
            return result.bars[symbol]
        if symbol not in self._checked:
            check_calendar(bars, symbol, self.cache.path(symbol))
            self._checked.add(symbol)
        return bars

    def download(self, symbols: Sequence[str]) -> pd.DataFrame:
        """Call the downloader, retrying network errors with exponential backoff.

        Raises
        ------
        DownloadError
            When every attempt failed.
        """
        start = str(self.start.date())
        end = None if self.end is None else str((self.end + pd.Timedelta(days=1)).date())
        attempt = 0
        while True:
            try:
                return self.downloader(list(symbols), start, end)
            except Exception as exc:  # the downloader is third-party code: any failure is reported
                if not _is_transient(exc) or (
                    type(exc).__name__ != "YFRateLimitError"
                    and any(k.__name__ == "YFException" for k in type(exc).__mro__)
                ):
                    raise DownloadError(
                        f"yahoo: download of {', '.join(symbols)} failed ({_first_line(exc)}); "
                        "check the symbols and dates, or use the cache / --source snapshot"
                    ) from None
                if attempt >= self.retries:
                    raise DownloadError(
                        f"yahoo: download of {', '.join(symbols)} failed after {attempt + 1} attempt(s) "
                        f"({_first_line(exc)}); check the network and retry, "
                        "or use the cache / --source snapshot"
                    ) from None
                self.sleep(self.backoff * 2**attempt)
                attempt += 1

    def fetch(self, symbols: Sequence[str]) -> FetchResult:
        """Download ``symbols`` in one call, validate each and replace its cache file.

        A symbol without data, or whose data fail validation, is reported in
        ``errors`` and its cache file is left as it was; the others are written.

        Raises
        ------
        UnknownSymbolError
            For a malformed symbol or an unknown suffix (before any download).
        DownloadError
            When the download failed after all retries (no cache file is touched).
        """
        timezones = {symbol: get_instrument(symbol).timezone for symbol in symbols}
        parts = split_download(self.download(symbols), symbols, timezones)
        result = FetchResult()
        span = f"{self.start.date()}..{self.end.date() if self.end is not None else 'latest'}"
        for symbol, bars in parts.items():
            if bars is None:
                result.errors[symbol] = UnknownSymbolError(
                    f"yahoo: no data for {symbol!r} in {span}; check the ticker (Korea .KS/.KQ, "
                    "Tokyo .T, US no suffix) and the dates; cache left unchanged"
                )
                continue
            try:
                validate_bars(bars, symbol, f"yahoo download of {symbol}")
                result.paths[symbol] = self.cache.write(symbol, bars)
            except DataError as exc:
                result.errors[symbol] = exc
                continue
            check_calendar(bars, symbol, f"yahoo download of {symbol}")
            self._checked.add(symbol)
            result.bars[symbol] = bars
        return result
