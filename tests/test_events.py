"""Loading and validating events files.

Expected instants are hand conversions: EST = UTC-5 in January, EDT = UTC-4 from
2025-03-09 (second Sunday of March) to 2025-11-02, KST = UTC+9 (no DST).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtest.errors import CalendarError, EventsError, UnknownSymbolError
from backtest.events import COLUMNS, default_events_path, load_events

REPO = Path(__file__).resolve().parents[1]
HEADER = "event_id,name,announced_at,timezone,kind,description,source,symbols\n"


def _write(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_packaged_copy_is_byte_identical_to_repo_events_csv():
    packaged = REPO / "backtest" / "data" / "events.csv"
    assert (REPO / "events.csv").read_bytes() == packaged.read_bytes()


def test_shipped_events():
    events = load_events(REPO / "events.csv")
    assert list(events.columns) == list(COLUMNS)
    assert list(events["event_id"]) == [
        "deepseek_r1", "us_tariffs_liberation_day", "us_tariff_pause", "meta_compute",
    ]
    expected_utc = {
        "deepseek_r1": "2025-01-26 23:00",  # 18:00 EST + 5 h
        "us_tariffs_liberation_day": "2025-04-02 20:00",  # 16:00 EDT + 4 h
        "us_tariff_pause": "2025-04-09 17:18",  # 13:18 EDT + 4 h
        "meta_compute": "2026-07-01 12:00",  # 08:00 EDT + 4 h
    }
    for row in events.itertuples():
        assert row.announced_at == pd.Timestamp(expected_utc[row.event_id], tz="UTC")
        assert row.description and row.source.startswith("https://")
        assert row.symbols == ()
    assert not events["date_only"].any()
    assert list(events["kind"]) == ["shock", "shock", "relief", "shock"]
    assert str(events["announced_at"].dt.tz) == "UTC"


def test_default_path_prefers_local_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_events_path().parts[-3:] == ("backtest", "data", "events.csv")
    assert len(load_events()) == 4
    _write(tmp_path / "events.csv", HEADER + "x,X,2025-04-02T16:00:00-04:00,,shock,,,\n")
    assert default_events_path() == Path("events.csv")
    assert list(load_events()["event_id"]) == ["x"]


def test_bare_date_is_midnight_in_the_event_timezone(tmp_path):
    path = _write(
        tmp_path / "e.csv",
        HEADER
        + "seoul,S,2025-04-03,Asia/Seoul,shock,,,\n"
        + "utc,U,2025-04-03,,relief,,,\n"
        + "naive,N,2025-04-03T09:30,America/New_York,shock,,,\n",
    )
    events = load_events(path).set_index("event_id")
    # 00:00 KST = 15:00 UTC the day before.
    assert events.loc["seoul", "announced_at"] == pd.Timestamp("2025-04-02 15:00", tz="UTC")
    assert events.loc["utc", "announced_at"] == pd.Timestamp("2025-04-03 00:00", tz="UTC")
    assert events.loc["utc", "timezone"] == "UTC"
    # A wall time without offset is read in the event's zone: 09:30 EDT = 13:30 UTC.
    assert events.loc["naive", "announced_at"] == pd.Timestamp("2025-04-03 13:30", tz="UTC")
    assert list(events["date_only"]) == [True, True, False]


def test_minimal_columns_extra_columns_and_symbols_are_kept(tmp_path):
    path = _write(
        tmp_path / "e.csv",
        "kind,event_id,announced_at,name,analyst,symbols\n"
        "shock,a,2025-04-02T20:00:00Z,A,kim,NVDA 000660.KS\n",
    )
    events = load_events(path)
    assert events.loc[0, "analyst"] == "kim"
    assert events.loc[0, "symbols"] == ("NVDA", "000660.KS")
    assert events.loc[0, "timezone"] == "UTC" and events.loc[0, "source"] == ""
    assert list(events.columns) == [*COLUMNS, "analyst"]


def test_trailing_commas_in_the_header_are_harmless(tmp_path):
    path = _write(tmp_path / "e.csv", "event_id,name,announced_at,kind,,\na,A,2025-04-02,relief,,\n")
    events = load_events(path)
    assert list(events.columns) == list(COLUMNS) and events.loc[0, "kind"] == "relief"


def test_bom_and_crlf_are_accepted(tmp_path):
    text = (REPO / "events.csv").read_text(encoding="utf-8")
    path = _write(tmp_path / "e.csv", text, bom=True, crlf=True)
    loaded = load_events(path)
    reference = load_events(REPO / "events.csv")
    assert list(loaded.columns) == list(reference.columns)
    assert loaded["announced_at"].equals(reference["announced_at"])
    assert list(loaded["description"]) == list(reference["description"])


def test_line_numbers_count_file_lines_across_quoted_newlines(tmp_path):
    path = _write(
        tmp_path / "e.csv",
        HEADER + 'a,A,2025-04-02,,shock,"two\nlines",,\n\nb,B,not-a-time,,shock,,,\n',
    )
    # header = line 1, row a = lines 2-3, blank line 4, row b = line 5.
    with pytest.raises(EventsError, match=r"e\.csv:5: column 'announced_at':"):
        load_events(path)


BAD_INPUTS = [
    # (file text, error class, expected "line: column" fragment)
    ("event_id,name,announced_at\na,A,2025-04-02\n", EventsError, ":1: column 'kind':"),
    ("", EventsError, "empty file"),
    (HEADER, EventsError, "empty file"),
    (HEADER + "a,A,2025-04-02,,shock,,,\na,B,2025-04-03,,shock,,,\n", EventsError, ":3: column 'event_id':"),
    (HEADER + "a,A,April 2nd,,shock,,,\n", EventsError, ":2: column 'announced_at':"),
    (HEADER + "a,A,2025-02-30,,shock,,,\n", EventsError, ":2: column 'announced_at':"),
    (HEADER + "a,A,2025-04-02,Korea/Seoul,shock,,,\n", EventsError, ":2: column 'timezone':"),
    (HEADER + "a,A,2025-04-02,,shock,,,NVDA 7203.XX\n", UnknownSymbolError, ":2: column 'symbols':"),
    (HEADER + "a,A,1999-12-31T12:00:00Z,,shock,,,\n", CalendarError, ":2: column 'announced_at':"),
    (HEADER + "a,A,2036-01-02,,shock,,,\n", CalendarError, ":2: column 'announced_at':"),
    (HEADER + "a,A,2025-04-02,,panic,,,\n", EventsError, ":2: column 'kind':"),
    (HEADER + "a,A,2025-04-02,,shock,,reuters,\n", EventsError, ":2: column 'source':"),
    (HEADER + "a b,A,2025-04-02,,shock,,,\n", EventsError, ":2: column 'event_id':"),
    ("event_id,name,announced_at,kind,kind\na,A,2025-04-02,shock,x\n", EventsError, ":1: column 'kind':"),
    (HEADER + "a,A,2025-04-02,,shock,,,,extra\n", EventsError, ":2:"),
    # 02:30 on 2025-03-09 does not exist in New York (clocks jump 02:00 -> 03:00).
    (HEADER + "a,A,2025-03-09T02:30,America/New_York,shock,,,\n", EventsError, ":2: column 'announced_at':"),
]


@pytest.mark.parametrize(("text", "error", "fragment"), BAD_INPUTS)
def test_bad_input_is_one_line_naming_file_line_and_column(tmp_path, text, error, fragment):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(error) as info:
        load_events(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert fragment in message
    assert "\n" not in message


def test_missing_file():
    with pytest.raises(EventsError, match="not found"):
        load_events("no/such/events.csv")
