"""Price files as users have them: a Yahoo/yfinance export, no adj_close, close-only, any case.

Each file is the shipped snapshot's data rewritten in another shape, so the study must give
the snapshot's numbers: NVDA's DeepSeek day-0 abnormal return -13.33 % (p < 0.01) and its
day-0 return -16.97 % (PROVENANCE.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from backtest.cli import main
from backtest.sources.csvfile import read_bars_csv
from backtest.sources.snapshot import snapshot_dir

STUDY = ["study", "--event", "deepseek_r1", "--symbols", "NVDA", "--car", "0:0"]


def _snapshot(symbol: str) -> pd.DataFrame:
    return pd.read_csv(snapshot_dir() / f"{symbol}.csv", dtype=str)


def _adjusted(symbol: str) -> pd.DataFrame:
    """The snapshot's bars after the adj_close scaling, as a file without adj_close would hold them."""
    bars = read_bars_csv(snapshot_dir() / f"{symbol}.csv")
    return bars.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d"))


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err, [str(w.message) for w in caught]


def _csv(directory: Path) -> list[str]:
    return ["--source", "csv", "--csv-dir", str(directory)]


def test_yfinance_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for symbol in ("NVDA", "SPY"):
        frame = _snapshot(symbol)
        # yfinance's history().to_csv(): title-case header, a time and offset on every date,
        # and extra columns
        frame["date"] = frame["date"] + " 00:00:00-05:00"
        frame = frame.rename(columns={"date": "Date", "open": "Open", "high": "High", "low": "Low",
                                      "close": "Close", "adj_close": "Adj Close", "volume": "Volume"})
        frame["Dividends"] = "0.0"
        frame.to_csv(tmp_path / f"{symbol}.csv", index=False)
    code, out, err, caught = _cli([*STUDY, *_csv(tmp_path)], capsys)
    assert code == 0, err
    assert "-13.33 %***" in out
    assert "adj_close" not in err + "".join(caught)  # Adj Close was found and used


def test_file_without_adj_close_says_the_close_was_used(tmp_path: Path, capsys) -> None:
    for symbol in ("NVDA", "SPY"):
        _adjusted(symbol)[["date", "open", "high", "low", "close", "volume"]].to_csv(
            tmp_path / f"{symbol}.csv", index=False
        )
    code, out, err, caught = _cli([*STUDY, *_csv(tmp_path)], capsys)
    assert code == 0, err
    assert "-13.33 %***" in out
    said = [m for m in [*caught, *err.splitlines()] if "no adj_close column" in m]
    assert said and "NVDA.csv" in said[0] and "returns use the close" in said[0]


def test_close_only_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for symbol in ("NVDA", "SPY"):
        _adjusted(symbol)[["date", "close"]].to_csv(tmp_path / f"{symbol}.csv", index=False)
    code, out, err, _ = _cli([*STUDY, *_csv(tmp_path)], capsys)
    assert code == 0, err
    assert "-13.33 %***" in out
    code, out, err, _ = _cli(["recovery", "--event", "deepseek_r1", "--symbols", "NVDA", "--wide",
                              *_csv(tmp_path)], capsys)  # fmt: skip
    assert code == 0, err
    line = next(x for x in out.splitlines() if " NVDA " in x and " price " in x)
    assert "-16.97 %" in line and "not recovered (horizon)" in line
    # a rule that fills at the open and checks stops on high/low says so, in one line, exit 2
    code, out, err, _ = _cli(["trade", "buy_the_dip", "--event", "deepseek_r1", "--symbols", "NVDA",
                              *_csv(tmp_path)], capsys)  # fmt: skip
    errors = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert code == 2 and len(errors) == 1
    assert errors[0].startswith("error: buy_the_dip needs open, high and low prices")
    assert "NVDA has close prices only" in errors[0]


def test_half_a_range_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _adjusted("NVDA")[["date", "open", "close"]].to_csv(tmp_path / "NVDA.csv", index=False)
    _adjusted("SPY").to_csv(tmp_path / "SPY.csv", index=False)
    code, _, err, _ = _cli([*STUDY, *_csv(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "NVDA.csv:1" in err and "no high, low" in err


def test_tickers_in_any_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err, _ = _cli(["study", "--event", "deepseek_r1", "--symbols", "nvda", "--car", "0:0"], capsys)
    assert code == 0, err
    assert "NVDA" in out and "-13.33 %***" in out and "nvda" not in out
    # a file named in lower case is found for NVDA (and for nvda)
    for symbol in ("NVDA", "SPY"):
        (tmp_path / f"{symbol.lower()}.csv").write_bytes((snapshot_dir() / f"{symbol}.csv").read_bytes())
    code, out, err, _ = _cli([*STUDY[:3], "--symbols", "nvda", "--car", "0:0", *_csv(tmp_path)], capsys)
    assert code == 0, err
    assert "-13.33 %***" in out
