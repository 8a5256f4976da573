"""Snapshot and csv-directory sources: every symbol loads and validates, and bad files fail clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError, DataWarning, ParameterError, UnknownSymbolError
from backtest.instruments import get_instrument
from backtest.sources import BAR_COLUMNS, get_source, load_prices
from backtest.sources.snapshot import snapshot_dir
from backtest.validate import validate_bars

PROVENANCE = snapshot_dir() / "PROVENANCE.md"

# First date, last date and row count of every file, as stated in PROVENANCE.md (an independent record).
COVERAGE = {
    "NVDA": ("2024-01-02", "2026-09-25", 686),
    "000660.KS": ("2024-01-02", "2026-09-28", 666),
    "005930.KS": ("2024-01-02", "2026-09-28", 666),
    "285A.T": ("2024-12-18", "2026-09-04", 417),
    "SPY": ("2024-01-02", "2026-09-25", 686),
    "QQQ": ("2024-01-02", "2026-09-25", 686),
    "SOXX": ("2024-01-02", "2026-07-08", 630),
    "^KS11": ("2024-01-02", "2026-08-27", 646),
    "^N225": ("2024-01-04", "2026-08-21", 643),
    "MU": ("2024-01-02", "2026-07-10", 632),
    "META": ("2024-01-02", "2026-07-10", 632),
    "AMD": ("2024-01-02", "2026-07-10", 632),
    "AVGO": ("2024-01-02", "2026-07-10", 632),
    "SNDK": ("2025-02-13", "2026-07-10", 352),
    "8035.T": ("2024-01-04", "2026-07-10", 615),
    "6857.T": ("2024-01-04", "2026-07-10", 615),
}
HEADER = "date,open,high,low,close,adj_close,volume"


def test_snapshot_has_the_16_documented_symbols():
    assert sorted(get_source("snapshot").symbols()) == sorted(COVERAGE)


@pytest.mark.parametrize("symbol", sorted(COVERAGE))
def test_every_snapshot_symbol_loads_and_validates(symbol):
    bars = get_source("snapshot").load(symbol)
    first, last, rows = COVERAGE[symbol]
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars.index.name == "date" and bars.index.tz is None
    assert (str(bars.index[0].date()), str(bars.index[-1].date()), len(bars)) == (first, last, rows)
    assert all(bars[c].dtype == np.float64 for c in BAR_COLUMNS)
    assert validate_bars(bars, symbol, "snapshot") is bars
    get_instrument(symbol)  # every snapshot symbol is in the registry


def _provenance_table() -> dict[tuple[str, str], float]:
    lines = [ln for ln in PROVENANCE.read_text(encoding="utf-8").splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    dates = ["20" + d for d in header[1:]]
    table = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for day, cell in zip(dates, cells[1:], strict=True):
            if re.fullmatch(r"[+-]\d+\.\d+", cell):
                table[(cells[0], day)] = float(cell)
    return table


def test_nvda_deepseek_day_return():
    # PROVENANCE.md: NVDA close 2025-01-24 142.25, 2025-01-27 118.11 -> -16.97 %.
    close = get_source("snapshot").load("NVDA")["close"]
    move = close.pct_change().loc["2025-01-27"] * 100
    assert move == pytest.approx(-16.97, abs=0.01)


def test_event_day_moves_match_the_provenance_table():
    table = _provenance_table()
    assert len(table) > 180  # 16 symbols x 13 days minus the '—' cells
    source = get_source("snapshot")
    for (symbol, day), expected in table.items():
        close = source.load(symbol)["close"]
        move = close.pct_change().loc[day] * 100
        assert move == pytest.approx(expected, abs=0.01), (symbol, day)


def test_soxx_without_adj_close_keeps_raw_close():
    # SOXX.csv row 2024-01-02: close 185.1167, adj_close empty -> no adjustment.
    bars = get_source("snapshot").load("SOXX")
    assert bars.loc["2024-01-02", "close"] == pytest.approx(185.1167, abs=1e-9)


def test_snapshot_loads_are_copies():
    source = get_source("snapshot")
    first = source.load("NVDA")
    first.loc[:, "close"] = -1.0
    assert (source.load("NVDA")["close"] > 0).all()


def test_load_prices_keeps_order():
    prices = load_prices(["SPY", "NVDA"])
    assert list(prices) == ["SPY", "NVDA"]


def test_unknown_snapshot_symbol_suggests_the_right_case():
    expected = r"'005930\.ks' is not in the embedded snapshot; did you mean '005930\.KS'\?"
    with pytest.raises(UnknownSymbolError, match=expected):
        get_source("snapshot").load("005930.ks")


def test_unknown_snapshot_symbol_and_unknown_source():
    with pytest.raises(UnknownSymbolError, match=r"'TSLA' is not in the embedded snapshot.*--source yahoo"):
        get_source("snapshot").load("TSLA")
    with pytest.raises(ParameterError, match=r"--source 'bloomberg'.*snapshot, csv, yahoo"):
        get_source("bloomberg")


# --- csv directory -------------------------------------------------------------------------------


def write(directory: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = directory / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_source_reads_a_copy_of_the_snapshot_identically(tmp_path):
    shutil.copy(snapshot_dir() / "NVDA.csv", tmp_path / "NVDA.csv")
    shutil.copy(snapshot_dir() / "_N225.csv", tmp_path / "_N225.csv")
    source = get_source("csv", directory=tmp_path)
    assert source.symbols() == ["NVDA", "^N225"]
    pd.testing.assert_frame_equal(source.load("NVDA"), get_source("snapshot").load("NVDA"))


def test_csv_adjusts_by_adj_close(tmp_path):
    # adj_close / close = 0.5 -> every price halves; volume untouched.
    write(tmp_path, "ABC.csv", ["2025-01-24,10,12,8,10,5,100", "2025-01-27,10,11,9,10,5,"])
    bars = get_source("csv", directory=tmp_path).load("ABC")
    assert bars.iloc[0].tolist() == [5.0, 6.0, 4.0, 5.0, 100.0]
    assert np.isnan(bars.iloc[1]["volume"])


def test_csv_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=f"^{re.escape(str(missing))}: csv directory not found"):
        get_source("csv", directory=missing)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"not a directory"):
        get_source("csv", directory=tmp_path / "file")
    # the message names the option every command uses for the directory
    with pytest.raises(DataError, match=r"pass an existing directory with --csv-dir "):
        get_source("csv", directory=missing)
    with pytest.raises(ParameterError, match=r"^--source csv needs --csv-dir DIR"):
        get_source("csv")


def test_csv_unknown_symbol_names_the_missing_file(tmp_path):
    write(tmp_path, "ABC.csv", ["2025-01-24,10,12,8,10,10,100"])
    with pytest.raises(UnknownSymbolError, match=r"NVDA.csv: no file for symbol 'NVDA'.*has: ABC"):
        get_source("csv", directory=tmp_path).load("NVDA")


@pytest.mark.parametrize(
    ("rows", "header", "pattern"),
    [
        (
            ["2025-01-24,10,12,8,10,1"],
            "date,open,high,low,price,volume",  # no close: a file without adj_close is fine
            r"X.csv:1: header is date,open,high,low,price,volume: no close column; expected " + HEADER,
        ),
        (
            ["2025-01-24,10,12,8,10,10,1", "2025-01-27,10,abc,8,10,10,1"],
            HEADER,
            r"X.csv:3: column 'high': 'abc' is not a number",
        ),
        (
            ["2025-01-24,10,12,8,10,10,1", "2025-01-27,10,12,8,10,10,1", "2025-01-27,10,12,8,10,10,1"],
            HEADER,
            r"X.csv:4: column 'date': duplicate date 2025-01-27",
        ),
        (
            ["2025-01-27,10,12,8,10,10,1", "2025-01-24,10,12,8,10,10,1"],
            HEADER,
            r"X.csv:3: X 2025-01-24: date out of order",
        ),
        (
            ["2025-01-24,10,12,8,10,10,1", "2025-01-27,10,9,8,10,10,1"],
            HEADER,
            r"X.csv:3: X 2025-01-27: high 9 is below max",
        ),
        (
            ["2025-01-24,10,12,8,10,10,1", "24/01/2025,10,12,8,10,10,1"],
            HEADER,
            r"X.csv:3: column 'date': '24/01/2025' is not a date",
        ),
        (["2025-01-24,10,12,8,,10,1"], HEADER, r"X.csv:2: column 'close': '' is not a number"),
        # a zero close is caught before the adjustment divides by it (no numpy warning, right column)
        (
            ["2025-01-24,10,12,8,10,10,1", "2025-01-27,10,12,8,0,10,1"],
            HEADER,
            r"X.csv:3: column 'close': '0': prices must be positive",
        ),
        # blank lines keep the file's line numbers: the duplicate is on line 5 of the file
        (
            ["2025-01-24,10,12,8,10,10,1", "", "2025-01-27,10,12,8,10,10,1", "2025-01-27,10,12,8,10,10,1"],
            HEADER,
            r"X.csv:5: column 'date': duplicate date 2025-01-27",
        ),
        (
            ["", "2025-01-24,10,12,8,10,10,1", "2025-01-27,10,9,8,10,10,1"],
            HEADER,
            r"X.csv:4: X 2025-01-27: high 9 is below max",
        ),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path, rows, header, pattern):
    write(tmp_path, "X.csv", rows, header)
    with pytest.raises(DataError, match=pattern) as info:
        get_source("csv", directory=tmp_path).load("X")
    assert "\n" not in str(info.value)
    assert str(tmp_path / "X.csv") in str(info.value)


def test_csv_rows_off_the_calendar_warn_but_load(tmp_path):
    # 2025-01-25 is a Saturday.
    write(tmp_path, "X.csv", ["2025-01-24,10,12,8,10,10,1", "2025-01-25,10,12,8,10,10,1"])
    with pytest.warns(DataWarning, match=r"2025-01-25"):
        bars = get_source("csv", directory=tmp_path).load("X")
    assert len(bars) == 2


def test_csv_source_rereads_a_changed_file(tmp_path):
    path = write(tmp_path, "X.csv", ["2025-01-24,10,12,8,10,10,1"])
    source = get_source("csv", directory=tmp_path)
    assert len(source.load("X")) == 1
    write(tmp_path, "X.csv", ["2025-01-24,10,12,8,10,10,1", "2025-01-27,10,12,8,11,11,1"])
    import os

    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert len(source.load("X")) == 2


def test_csv_file_name_that_is_no_symbol(tmp_path):
    write(tmp_path, "my prices.csv", ["2025-01-24,10,12,8,10,10,1"])
    with pytest.raises(UnknownSymbolError, match=r"my prices.csv: symbol 'my prices': not a Yahoo-style"):
        get_source("csv", directory=tmp_path).load("my prices")
