"""``backtest study`` end to end on the embedded snapshot (rendering, export, bad input)."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from backtest.cli import main
from backtest.errors import ShortHistoryWarning


def test_study_prints_car_table_and_tests(capsys, tmp_path):
    csv, js = tmp_path / "car.csv", tmp_path / "study.json"
    code = main(["study", "--event", "deepseek_r1", "--symbols", "NVDA", "000660.KS",
                 "--estimation", "-250:-11", "--window", "-5:20", "--car", "0:0,0:5",
                 "--csv", str(csv), "--json", str(js)])
    out = capsys.readouterr().out
    assert code == 0
    # NVDA day-0 AR -13.33 % with p < 0.01 (t = -5.06, see test_study_engine for the outside check)
    assert "-13.33 %***" in out and "-5.06" in out
    assert "Cross-sectional tests" in out and "t(1)" in out and "N(0,1)" in out
    for test in ("cross_sectional_t", "brown_warner", "patell_z", "bmp_kp", "corrado_rank",
                 "generalized_sign", "wilcoxon"):
        assert test in out
    table = pd.read_csv(csv)
    assert list(table["window"]) == ["[0,0]", "[0,+5]"] * 2
    assert table.loc[0, "car"] == pytest.approx(-0.1333, abs=5e-5)  # fractions in files
    data = json.loads(js.read_text())
    assert {"settings", "car", "tests", "fits"} <= set(data)
    assert data["settings"]["estimation_window"] == [-250, -11]
    assert len(data["tests"]) == 2 * 2 * 12  # scopes (event, all) x windows x tests


def test_study_reports_short_history(capsys):
    # the CLI prints BacktestWarnings as "warning: ..." lines (cli.main installs its showwarning)
    with warnings.catch_warnings():
        warnings.simplefilter("always", ShortHistoryWarning)
        code = main(["study", "--event", "deepseek_r1", "--symbols", "285A.T", "005930.KS"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0
    assert "warning: short estimation history: 285A.T in deepseek_r1: 12 of 240" in captured.err
    assert "market_adjusted" in out and "note: 285A.T" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--estimation", "-11:-250"], "runs backwards"),
        (["--estimation", "-250:-3"], "overlaps event_window"),
        (["--window", "5:-5"], "runs backwards"),
        (["--car", "0:40"], "not inside event_window"),
        (["--symbols", "SPY"], "no benchmark"),
        (["--model", "markt"], "Did you mean 'market'"),
        (["--benchmark", "NVDA"], "SYMBOL=BENCHMARK"),
        (["--event", "nope"], "no such event_id"),
        (["--estimation", "a:b"], "not a whole number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code = main(["study", "--event", "deepseek_r1", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.startswith("error: ") and "Traceback" not in err


def test_a_table_longer_than_the_terminal_cap_shows_its_first_rows_and_says_where_the_rest_is(
        capsys, monkeypatch, tmp_path):
    # Before: every row of every pair went to the terminal (an 11,122-pair study spent 138 of its
    # 167 s drawing 55,610 CAR rows). The cap is 200 rows; 3 here, on 4 pairs x 2 windows.
    import backtest.report.terminal as terminal

    monkeypatch.setattr(terminal, "TERMINAL_ROWS", 3)
    code = main(["study", "--event", "deepseek_r1", "--symbols", "NVDA", "000660.KS", "AMD", "MU",
                 "--car", "0:0,0:5", "--wide", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "The first 3 of 8 rows; all of them are in car.csv (--out DIR)." in out
    assert "The first 3 of 4 rows; all of them are in fits.csv (--out DIR)." in out
    car = pd.read_csv(tmp_path / "out" / "car.csv")
    assert len(car) == 8  # the files keep every row
    # CARs: NVDA's two rows and 000660.KS's first; fits: NVDA, 000660.KS, AMD. MU's rows: not shown
    assert all(f" {s} " in out for s in ("NVDA", "000660.KS", "AMD")) and " MU " not in out
