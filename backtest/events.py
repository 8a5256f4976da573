"""The events table: load and validate ``events.csv``.

Columns (header = line 1; order free; extra columns are kept as text):

============  ========  ==========================================================
column        required  meaning
============  ========  ==========================================================
event_id      yes       unique slug (letters, digits, ``_``, ``-``, ``.``)
name          yes       short headline
announced_at  yes       ISO 8601 instant with a UTC offset (``2025-04-02T16:00:00-04:00``),
                        a local time without offset, or a bare date (``2025-04-02``)
timezone      no        IANA zone for values without an offset; default ``UTC``
kind          yes       ``shock`` or ``relief``
description   no        one or two sentences
source        no        URL of the report the timestamp comes from
symbols       no        space-separated symbols; empty = the default universe
============  ========  ==========================================================

A bare date means 00:00 of that date in the event's time zone (``date_only`` is
True). Every error names the file, the line and the column.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from backtest.calendars import CALENDAR_END, CALENDAR_START
from backtest.csvrows import read_rows
from backtest.errors import BacktestError, CalendarError, EventsError, UnknownSymbolError, shown, where
from backtest.instruments import get_instrument, normalize_symbol

EventKind = Literal["shock", "relief"]
KINDS: tuple[str, ...] = ("shock", "relief")
REQUIRED_COLUMNS: tuple[str, ...] = ("event_id", "name", "announced_at", "kind")
OPTIONAL_COLUMNS: tuple[str, ...] = ("timezone", "description", "source", "symbols")
COLUMNS: tuple[str, ...] = (
    "event_id", "name", "announced_at", "timezone", "kind",
    "description", "source", "symbols", "date_only",
)
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL_RE = re.compile(r"^https?://\S+$")


def default_events_path() -> Path:
    """``./events.csv`` when it exists, else the packaged copy ``backtest/data/events.csv``."""
    local = Path("events.csv")
    if local.is_file():
        return local
    return Path(str(resources.files("backtest") / "data" / "events.csv"))


def _zone(name: str, path: Path, line: int) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise EventsError(
            f"{where(path, line, 'timezone')} {shown(name)} is not an IANA time zone; use e.g. "
            "America/New_York, Asia/Seoul, Asia/Tokyo or UTC"
        ) from None


def parse_announced_at(text: str, zone: ZoneInfo, path: Path, line: int) -> tuple[pd.Timestamp, bool]:
    """Parse one ``announced_at`` cell into a UTC Timestamp and a date-only flag.

    Examples
    --------
    >>> parse_announced_at("2025-04-02T16:00:00-04:00", ZoneInfo("UTC"), Path("e.csv"), 2)
    (Timestamp('2025-04-02 20:00:00+0000', tz='UTC'), False)
    >>> parse_announced_at("2025-04-03", ZoneInfo("Asia/Seoul"), Path("e.csv"), 2)
    (Timestamp('2025-04-02 15:00:00+0000', tz='UTC'), True)
    """
    column = "announced_at"
    date_only = bool(_DATE_RE.match(text))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise EventsError(
            f"{where(path, line, column)} {shown(text)} is not an ISO 8601 time; use e.g. "
            "2025-04-02T16:00:00-04:00 or a bare date 2025-04-02"
        ) from None
    if value.tzinfo is None:
        local = value.replace(tzinfo=zone)
        # A wall time that does not exist or is ambiguous (DST change) does not round-trip.
        back = local.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None)
        other = value.replace(tzinfo=zone, fold=1).utcoffset()
        if back != value or other != local.utcoffset():
            raise EventsError(
                f"{where(path, line, column)} {shown(text)} does not exist or is ambiguous in {zone.key} "
                "(daylight-saving change); give the UTC offset explicitly"
            )
        value = local
    stamp = pd.Timestamp(value).tz_convert("UTC")
    lo = CALENDAR_START.tz_localize("UTC")
    hi = (CALENDAR_END + pd.Timedelta(days=1)).tz_localize("UTC")
    if not lo <= stamp < hi:
        raise CalendarError(
            f"{where(path, line, column)} {shown(text)} is outside the range the calendars cover "
            f"({CALENDAR_START.date()} to {CALENDAR_END.date()}, UTC); check the year"
        )
    return stamp, date_only


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    header, rows = read_rows(path, "events", EventsError)
    if not header:
        raise EventsError(
            f"{where(path, 1)} empty file; expected a header with {', '.join(REQUIRED_COLUMNS)}"
        )
    return header, rows


def load_events(path: str | Path | None = None, *, available: Collection[str] | None = None) -> pd.DataFrame:
    """Load and validate an events file.

    Parameters
    ----------
    path : path, optional
        CSV file; ``None`` uses :func:`default_events_path`.
    available : collection of str, optional
        Symbols the price source can load (e.g. the snapshot's); a symbol in the
        ``symbols`` column outside it is an error naming its line. ``None``: any symbol.

    Returns
    -------
    DataFrame
        One row per event, in file order: ``event_id``, ``name``, ``announced_at``
        (Timestamp, UTC), ``timezone``, ``kind`` (``shock``/``relief``),
        ``description``, ``source``, ``symbols`` (tuple of str; empty = default
        universe), ``date_only`` (bool), then any extra columns as text.

    Raises
    ------
    EventsError
        Missing file or required column, empty file, duplicate ``event_id``,
        unparseable ``announced_at``, unknown time zone or kind, bad URL.
    UnknownSymbolError
        A symbol in ``symbols`` that the instrument registry cannot place, or
        that is not in ``available``.
    CalendarError
        An announcement outside 2000-01-01..2035-12-31, the range the calendars cover.

    Examples
    --------
    >>> events = load_events()
    >>> events.loc[events.event_id == "us_tariff_pause", "announced_at"].iloc[0]
    Timestamp('2025-04-09 17:18:00+0000', tz='UTC')
    """
    path = Path(path) if path is not None else default_events_path()
    header, rows = _read_rows(path)
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise EventsError(
                f"{where(path, 1, column)} missing required column; the header needs "
                f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})"
            )
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise EventsError(f"{where(path, 1, duplicated[0])} column appears twice; keep one")
    if "date_only" in header:
        raise EventsError(
            f"{where(path, 1, 'date_only')} is computed from announced_at; remove the column"
        )
    if not rows:
        raise EventsError(f"{where(path)} empty file: no events under the header; add at least one row")
    extras = [h for h in header if h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS and h]
    records = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        if len(cells) > len(header):
            raise EventsError(
                f"{where(path, line)} {len(cells)} fields but the header has {len(header)}; "
                "quote values that contain commas"
            )
        cell = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
        records.append(_parse_row(cell, path, line, seen, extras, available))
    frame = pd.DataFrame.from_records(records, columns=[*COLUMNS, *extras])
    frame["announced_at"] = pd.DatetimeIndex(frame["announced_at"]).tz_convert("UTC")
    frame["date_only"] = frame["date_only"].astype(bool)
    return frame


def _parse_row(
    cell: dict[str, str],
    path: Path,
    line: int,
    seen: dict[str, int],
    extras: list[str],
    available: Collection[str] | None,
) -> dict:
    event_id = cell["event_id"]
    if not _SLUG_RE.match(event_id):
        raise EventsError(
            f"{where(path, line, 'event_id')} {shown(event_id)} is not a slug; use letters, digits, _ - ."
        )
    if event_id in seen:
        raise EventsError(
            f"{where(path, line, 'event_id')} duplicate event_id {shown(event_id)} (first on line "
            f"{seen[event_id]}); event ids must be unique"
        )
    seen[event_id] = line
    if not cell["name"]:
        raise EventsError(f"{where(path, line, 'name')} empty; give the event a short name")
    timezone = cell.get("timezone", "") or "UTC"
    zone = _zone(timezone, path, line)
    if not cell["announced_at"]:
        raise EventsError(f"{where(path, line, 'announced_at')} empty; give an ISO 8601 time or a date")
    announced, date_only = parse_announced_at(cell["announced_at"], zone, path, line)
    kind = cell["kind"].lower()
    if kind not in KINDS:
        raise EventsError(
            f"{where(path, line, 'kind')} {shown(cell['kind'])} is not a kind; use shock or relief"
        )
    source = cell.get("source", "")
    if source and not _URL_RE.match(source):
        raise EventsError(f"{where(path, line, 'source')} {shown(source)} is not a URL; use http(s)://...")
    symbols = tuple(normalize_symbol(s) for s in cell.get("symbols", "").replace(",", " ").split())
    for symbol in symbols:
        try:
            get_instrument(symbol)
        except BacktestError as exc:
            raise UnknownSymbolError(f"{where(path, line, 'symbols')} {exc}") from None
        if available is not None and symbol not in available:
            raise UnknownSymbolError(
                f"{where(path, line, 'symbols')} {shown(symbol)} has no prices in this source (it has "
                f"{', '.join(sorted(available))}); use --source yahoo or --source csv, or remove it"
            )
    record = {
        "event_id": event_id,
        "name": cell["name"],
        "announced_at": announced,
        "timezone": timezone,
        "kind": kind,
        "description": cell.get("description", ""),
        "source": source,
        "symbols": symbols,
        "date_only": date_only,
    }
    record.update({column: cell[column] for column in extras})
    return record


def event_names(events: pd.DataFrame) -> dict[str, str]:
    """``event_id -> name`` of an events table, in file order (titles of per-event blocks and charts)."""
    return dict(zip(events["event_id"].astype(str), events["name"].astype(str), strict=True))
