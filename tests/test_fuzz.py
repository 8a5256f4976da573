"""Property-based fuzzing of every reader and parser of user input.

Whatever the bytes or rows, each ends in a result or in a ``BacktestError``, never in
another exception (a traceback for the user). Bounded here (CI); the ``nightly`` marker
runs the same properties with many more examples (``pytest -m nightly tests/test_fuzz.py``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from backtest.calendars import read_overrides
from backtest.commands._options import window, windows
from backtest.errors import BacktestError
from backtest.events import load_events
from backtest.sources.csvfile import read_bars_csv
from backtest.study.windows import parse_window
from backtest.trading.grid import parse_grid

CI = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NIGHTLY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Cells that look like the real thing half the time, so the fuzzer gets past the header.
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "shock", "relief", "2025-01-27", "2025-04-02T16:00:00-04:00", "Asia/Seoul",
                     "NVDA", "XKRX", "add_closure", "remove_closure", "100", "-1", "nan", "1e308",
                     '"', '""', ",", "\x00", "=cmd|' /C calc'!A0", "2026-02-30", "9999-12-31"]),
)
EVENTS_HEADER = "event_id,name,announced_at,kind,timezone,symbols"
CLOSURES_HEADER = "calendar,date,action,note"
BARS_HEADER = "date,open,high,low,close,adj_close,volume"


def _csv(header: str, rows: list[list[str]]) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n\r') else cell

    return header + "\n" + "".join(",".join(quote(c) for c in row) + "\n" for row in rows)


def _file(data: bytes | str) -> Path:
    path = Path(tempfile.mkdtemp()) / "input.csv"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


def _ends_cleanly(call, *args) -> None:
    try:
        call(*args)
    except BacktestError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, repr(message)  # one line for the CLI
    # any other exception propagates and fails the property


def _bars_rows():
    return st.lists(st.lists(CELL, min_size=7, max_size=8), max_size=6)


def _events_rows():
    return st.lists(st.lists(CELL, min_size=4, max_size=7), max_size=5)


def _closures_rows():
    return st.lists(st.lists(CELL, min_size=3, max_size=5), max_size=5)


def _events_from_bytes(data: bytes) -> None:
    _ends_cleanly(load_events, _file(data))


def _events_from_rows(rows: list[list[str]]) -> None:
    _ends_cleanly(load_events, _file(_csv(EVENTS_HEADER, rows)))


def _bars_from_bytes(data: bytes) -> None:
    _ends_cleanly(read_bars_csv, _file(data), "NVDA")


def _bars_from_rows(rows: list[list[str]]) -> None:
    _ends_cleanly(read_bars_csv, _file(_csv(BARS_HEADER, rows)), "NVDA")


def _closures_from_bytes(data: bytes) -> None:
    _ends_cleanly(read_overrides, _file(data))


def _closures_from_rows(rows: list[list[str]]) -> None:
    _ends_cleanly(read_overrides, _file(_csv(CLOSURES_HEADER, rows)))


def _grid(tokens: list[str]) -> None:
    _ends_cleanly(parse_grid, tokens, strategies.get("buy_the_dip"))


def _window(text: str) -> None:
    # argparse types speak ArgumentTypeError (argparse prints it as one usage line, exit 2)
    for parse in (window, windows):
        try:
            parse(text)
        except argparse.ArgumentTypeError:
            pass
    _ends_cleanly(parse_window, text, "window")


PROPERTIES = {
    "events_bytes": (_events_from_bytes, st.binary(max_size=300)),
    "events_rows": (_events_from_rows, _events_rows()),
    "bars_bytes": (_bars_from_bytes, st.binary(max_size=300)),
    "bars_rows": (_bars_from_rows, _bars_rows()),
    "closures_bytes": (_closures_from_bytes, st.binary(max_size=300)),
    "closures_rows": (_closures_from_rows, _closures_rows()),
    "grid": (_grid, st.lists(st.one_of(st.text(max_size=20), st.sampled_from(
        ["hold=1,5", "stop=none,0.08", "threshold=0.05", "hold=", "=", "hold=1,1", "stop=-1", "hold=1e9",
         "threshold=nan", "hold=inf"])), max_size=4)),
    "window": (_window, st.one_of(st.text(max_size=25), st.from_regex(r"-?\d{1,12}[:,]-?\d{1,12}"))),
}


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_fuzz_bounded(name):
    check, strategy = PROPERTIES[name]
    CI(given(strategy)(check))()


@pytest.mark.nightly
@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_fuzz_nightly(name):
    check, strategy = PROPERTIES[name]
    NIGHTLY(given(strategy)(check))()
