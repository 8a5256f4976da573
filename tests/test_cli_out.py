"""``--out DIR`` on events, study, recovery and trade: the same formats as ``backtest run``.

Each table lands as CSV and Parquet, and ``results.json`` holds them all with the settings;
the three must agree with each other, and the numbers with PROVENANCE.md's day-0 moves.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from backtest.cli import main
from backtest.report import load_results


def _out(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([*argv, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "--quiet" in argv or f"to {out}/" in captured.err  # where the files went
    doc = load_results(out / "results.json")
    for name, frame in doc.tables.items():
        csv = pd.read_csv(out / f"{name}.csv")
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert list(csv.columns) == list(frame.columns) == list(parquet.columns)
        assert len(csv) == len(frame) == len(parquet)
    return doc.tables


def test_events_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = _out(["events"], tmp_path / "e", capsys)
    assert set(tables) == {"events", "alignment"}
    krx = tables["alignment"].set_index(["event_id", "exchange"]).loc[("deepseek_r1", "KRX")]
    assert str(krx["reaction_session"].date()) == "2025-01-31"  # after the Lunar New Year closure


def test_study_out_has_the_per_day_abnormal_returns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = _out(["study", "--event", "deepseek_r1", "--symbols", "NVDA"], tmp_path / "s", capsys)
    assert {"car", "tests", "fits", "abnormal_returns", "aar"} <= set(tables)
    ar = tables["abnormal_returns"]
    day0 = ar[(ar["symbol"] == "NVDA") & (ar["rel_day"] == 0)].iloc[0]
    assert day0["return"] == pytest.approx(-0.1697, abs=5e-5)  # PROVENANCE.md: NVDA 2025-01-27
    assert day0["ar"] == pytest.approx(-0.1333, abs=5e-5)
    parquet = pd.read_parquet(tmp_path / "s" / "abnormal_returns.parquet")
    assert parquet["rel_day"].tolist() == ar["rel_day"].tolist()  # a window of -5..+20 per pair
    assert sorted(set(parquet["rel_day"])) == list(range(-5, 21))


def test_recovery_out_says_what_the_terminal_says(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["recovery", "--event", "deepseek_r1", "--wide", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    table = load_results(tmp_path / "r" / "results.json").tables["recovery"]
    csv = pd.read_csv(tmp_path / "r" / "recovery.csv")
    assert csv["status"].tolist() == table["status"].tolist()
    for row in table.itertuples():  # the same words on screen, on the row of the same pair
        line = next(x for x in out.splitlines() if f" {row.symbol} " in x and f" {row.path} " in x)
        assert f"  {row.status}  " in line
    nvda = table[(table["symbol"] == "NVDA") & (table["path"] == "price")].iloc[0]
    assert nvda["status"] == "not recovered (horizon)"  # no close >= 142.25 up to +60 (2025-04-23)


def test_trade_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trade", "buy_the_dip", "--symbols", "NVDA", "--event", "deepseek_r1"]
    tables = _out(argv, tmp_path / "t", capsys)
    assert {"strategy_results", "strategy_aggregate", "trades", "equity"} <= set(tables)
    trade = tables["trades"].iloc[0]
    assert str(trade["entry_date"].date()) == "2025-01-28" and trade["entry_at"] == "open"


def test_run_writes_parquet_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = _out(["run", "--event", "deepseek_r1", "--symbols", "NVDA", "--quiet"], tmp_path / "run", capsys)
    car = pd.read_parquet(tmp_path / "run" / "car.parquet")
    pd.testing.assert_series_equal(car["car"], tables["car"]["car"], check_names=False)
