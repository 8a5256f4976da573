"""Instrument registry: which exchange, calendar, currency and benchmarks a symbol has.

Known symbols live in the data file ``backtest/data/instruments.csv``; any other
Yahoo-style symbol resolves from its suffix (``.KS``/``.KQ`` Korea, ``.T`` Tokyo,
no suffix = US). An unknown suffix is an error that lists the known ones.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from backtest.errors import DataError, UnknownSymbolError, where


@dataclass(frozen=True)
class Market:
    """An exchange group sharing one session calendar and time zone."""

    exchange: str  # display name, e.g. "KRX"
    calendar: str  # pandas-market-calendars name, e.g. "XKRX"
    timezone: str  # IANA name of the exchange's local time
    currency: str
    benchmark: str  # default market benchmark symbol


# Suffix -> market for symbols outside the registry (Yahoo conventions).
MARKETS: dict[str, Market] = {
    "": Market("NASDAQ", "NASDAQ", "America/New_York", "USD", "SPY"),
    ".KS": Market("KRX", "XKRX", "Asia/Seoul", "KRW", "^KS11"),
    ".KQ": Market("KRX", "XKRX", "Asia/Seoul", "KRW", "^KS11"),
    ".T": Market("TSE", "JPX", "Asia/Tokyo", "JPY", "^N225"),
}

# Exchange display name -> (calendar, timezone), for every exchange the registry uses.
EXCHANGE_TIMEZONES: dict[str, str] = {
    "NASDAQ": "America/New_York",
    "NYSE": "America/New_York",
    "KRX": "Asia/Seoul",
    "TSE": "Asia/Tokyo",
}

DEFAULT_TARGETS: tuple[str, ...] = ("NVDA", "000660.KS", "005930.KS", "285A.T")

_SYMBOL_RE = re.compile(r"^\^?[A-Za-z0-9][A-Za-z0-9\-=]*(\.[A-Za-z]{1,3})?$")


@dataclass(frozen=True)
class Instrument:
    """One tradable symbol and where it trades.

    ``benchmark`` is the default market benchmark (empty for an index or for the
    benchmark itself); ``sector_benchmark`` is empty where none exists.
    """

    symbol: str
    name: str
    exchange: str
    calendar: str
    timezone: str
    currency: str
    benchmark: str
    sector_benchmark: str
    registered: bool  # False when resolved from the suffix alone


@cache
def _registry() -> dict[str, Instrument]:
    path = resources.files("backtest") / "data" / "instruments.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["symbol"]: Instrument(
            symbol=row["symbol"],
            name=row["name"],
            exchange=row["exchange"],
            calendar=row["calendar"],
            timezone=EXCHANGE_TIMEZONES[row["exchange"]],
            currency=row["currency"],
            benchmark=row["benchmark"],
            sector_benchmark=row["sector_benchmark"],
            registered=True,
        )
        for row in rows
    }


def normalize_symbol(symbol: str) -> str:
    """A ticker as Yahoo writes it: upper case, no surrounding space (``nvda`` -> ``NVDA``).

    >>> normalize_symbol(" nvda"), normalize_symbol("285a.t"), normalize_symbol("^n225")
    ('NVDA', '285A.T', '^N225')
    """
    return symbol.strip().upper()


def known_symbols() -> list[str]:
    """Symbols listed in the registry data file, in file order."""
    return list(_registry())


def split_suffix(symbol: str) -> tuple[str, str]:
    """Split a Yahoo symbol into (root, suffix); indices (``^N225``) have no suffix.

    >>> split_suffix("005930.KS")
    ('005930', '.KS')
    >>> split_suffix("NVDA")
    ('NVDA', '')
    """
    if "." in symbol and not symbol.startswith("^"):
        root, _, suffix = symbol.rpartition(".")
        return root, "." + suffix
    return symbol, ""


def get_instrument(symbol: str) -> Instrument:
    """Return the registry entry for ``symbol``, or one resolved from its suffix.

    >>> get_instrument("000660.KS").calendar
    'XKRX'
    >>> get_instrument("7203.T").benchmark
    '^N225'

    Raises
    ------
    UnknownSymbolError
        For a malformed symbol or a suffix the tool does not know.
    """
    registry = _registry()
    if symbol in registry:
        return registry[symbol]
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol):
        raise UnknownSymbolError(
            f"symbol {symbol!r}: not a Yahoo-style ticker; use e.g. NVDA, 000660.KS or 285A.T"
        )
    if symbol.startswith("^"):
        raise UnknownSymbolError(
            f"index {symbol!r} is not in the registry; known indices: "
            + ", ".join(s for s in registry if s.startswith("^"))
        )
    _, suffix = split_suffix(symbol)
    market = MARKETS.get(suffix.upper())
    if market is None:
        known = ", ".join(repr(s) for s in MARKETS if s) + " or none (US)"
        raise UnknownSymbolError(
            f"symbol {symbol!r}: unknown exchange suffix {suffix!r}; known suffixes: {known}"
        )
    return Instrument(
        symbol=symbol,
        name=symbol,
        exchange=market.exchange,
        calendar=market.calendar,
        timezone=market.timezone,
        currency=market.currency,
        benchmark=market.benchmark,
        sector_benchmark="",
        registered=False,
    )


#: Names from the user's registry file (``--instruments FILE``) while :func:`user_names` runs.
_USER_NAMES: ContextVar[Mapping[str, str] | None] = ContextVar("backtest_user_names", default=None)


def read_names(path: str | Path) -> dict[str, str]:
    """``symbol -> name`` from a user's registry CSV: a ``symbol`` and a ``name`` column (the
    packaged ``instruments.csv`` format; its other columns are not needed for names).

    Raises
    ------
    DataError
        Unreadable file, no ``symbol``/``name`` header, or a row without one; names file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(
            f"{path}: cannot read the instruments file ({exc.strerror}); check --instruments"
        ) from None
    rows = list(csv.reader(text.splitlines()))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "symbol" not in header or "name" not in header:
        raise DataError(f"{where(path, 1)} the header needs symbol and name columns, e.g. symbol,name")
    at_symbol, at_name = header.index("symbol"), header.index("name")
    names: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [*row, *[""] * (len(header) - len(row))]
        symbol, name = normalize_symbol(cells[at_symbol]), cells[at_name].strip()
        if not symbol or not name:
            column = "symbol" if not symbol else "name"
            raise DataError(f"{where(path, line, column)} empty; give each row a symbol and its name")
        names[symbol] = name
    return names


@contextmanager
def user_names(path: str | Path | None) -> Iterator[None]:
    """Show the names of a user's registry file beside tickers while the block runs (None: no file)."""
    token = _USER_NAMES.set(read_names(path)) if path is not None else None
    try:
        yield
    finally:
        if token is not None:
            _USER_NAMES.reset(token)


def display_name(symbol: str) -> str:
    """The company or index name of ``symbol``: the user's registry file first, then the packaged
    registry; ``""`` when neither has one.

    >>> display_name("000660.KS"), display_name("7203.T")
    ('SK Hynix', '')
    """
    mine = _USER_NAMES.get()
    if mine and symbol in mine:
        return mine[symbol]
    entry = _registry().get(symbol)
    return entry.name if entry is not None and entry.name != symbol else ""


def benchmark_of(symbol: str, overrides: Mapping[str, str] | None = None) -> str:
    """``symbol``'s market benchmark: the override if one is given, else the registry's ("" = none).

    >>> benchmark_of("NVDA"), benchmark_of("NVDA", {"NVDA": "QQQ"}), benchmark_of("^N225")
    ('SPY', 'QQQ', '')
    """
    return (overrides or {}).get(symbol) or get_instrument(symbol).benchmark
