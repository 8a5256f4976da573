"""``backtest trade``: bad input gives one-line errors and exit code 2; a real run on the snapshot."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from backtest.cli import main
from backtest.errors import DataWarning
from backtest.sources import get_source


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["trade", "buy_the_dop"], "did you mean 'buy_the_dip'"),
        (["trade", "buy_the_dip", "--grid", "hodl=1,5"], "did you mean 'hold'"),
        (["trade", "buy_the_dip", "--grid", "hold=abc"], "not an integer"),
        (["trade", "buy_the_dip", "--grid", "threshold=1.5"], "out of range"),
        (["trade", "buy_the_dip", "--grid"], "empty grid"),
        (["trade", "buy_the_dip", "--grid", "hold="], "no values for hold"),
        (["trade", "buy_the_dip", "--grid", "hold"], "expected NAME=V1,V2"),
        (["trade"], "name a STRATEGY"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_bad_fee_is_rejected_by_the_parser(capsys):
    code = main(["trade", "buy_the_dip", "--fees", "0.5"])
    assert code == 2
    assert "outside [0, 0.1)" in capsys.readouterr().err


def test_list_shows_parameters(capsys):
    assert main(["trade", "--list"]) == 0
    out = capsys.readouterr().out
    assert "buy_the_dip" in out and "hold: int in [1, 250]" in out


def test_real_run_nvda_deepseek(capsys):
    # NVDA fell 16.97 % on 2025-01-27 (PROVENANCE.md): buy_the_dip (5 %) buys the 2025-01-28 open and,
    # with hold=1, sells the 2025-01-29 open. Expected from the raw CSV opens, not from the engine.
    bars = get_source("snapshot").load("NVDA")
    o_in, o_out = bars.loc["2025-01-28", "open"], bars.loc["2025-01-29", "open"]
    expected = o_out * 0.9995 / (o_in * 1.0005 * 1.001) * 0.999 - 1
    code = main(["trade", "buy_the_dip", "--grid", "hold=1,5", "--symbols", "NVDA", "--trades"])
    assert code == 0
    out = capsys.readouterr().out
    assert "deepseek_r1" in out and "2025-01-28" in out
    assert f"{expected * 100:+.2f} %" in out
    assert pd.notna(expected)


def test_short_windows_warn(capsys):
    # Kioxia's data end 2026-09-04: only 44 sessions after the 2026-07-02 reaction (< 60).
    # The CLI prints BacktestWarnings as "warning: ..." on stderr (it replaces warnings.showwarning).
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        assert main(["trade", "buy_and_hold", "--symbols", "285A.T"]) == 0
    captured = capsys.readouterr()
    assert "meta_compute" in captured.out
    assert "warning: fewer than 60 sessions" in captured.err and "meta_compute/285A.T 44" in captured.err
