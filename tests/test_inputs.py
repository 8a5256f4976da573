"""Shared input loading (backtest.inputs) and the options every command shares."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtest.cli import main
from backtest.errors import ParameterError, UnknownSymbolError
from backtest.inputs import load_inputs, select_events, symbols_to_load

HEADER = "event_id,name,announced_at,timezone,kind,symbols\n"


def _events(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_symbols_to_load_adds_benchmarks_once_and_honours_overrides():
    events = pd.DataFrame({"symbols": [("NVDA", "MU"), ()]})
    # event 1: NVDA, MU (both benchmarked on SPY); event 2: the four default targets
    assert symbols_to_load(events) == [
        "NVDA", "MU", "000660.KS", "005930.KS", "285A.T", "SPY", "^KS11", "^N225",
    ]
    assert symbols_to_load(events, ["NVDA"], benchmarks={"NVDA": "QQQ"}, extra=["SOXX"]) == [
        "NVDA", "QQQ", "SOXX",
    ]


def test_select_events_keeps_order_and_rejects_unknown_ids():
    events = pd.DataFrame({"event_id": ["a", "b", "c"]})
    assert select_events(events, ["c", "a"])["event_id"].tolist() == ["a", "c"]
    assert select_events(events, None) is events
    with pytest.raises(ParameterError, match=r"no such event_id.*known: a, b, c"):
        select_events(events, ["zz"])


def test_an_event_symbol_missing_from_the_snapshot_names_the_line(tmp_path):
    path = _events(
        tmp_path,
        "one,One,2025-01-27,UTC,shock,NVDA",
        "two,Two,2025-02-03,UTC,shock,AAPL",  # line 3: AAPL is not in the embedded snapshot
    )
    with pytest.raises(UnknownSymbolError, match=r"events\.csv:3: column 'symbols': 'AAPL' has no prices"):
        load_inputs(path)


def test_load_inputs_aligns_on_the_exchanges_own_sessions(tmp_path):
    # DeepSeek: KRX was closed 2025-01-27..30, so Korea reacts on 2025-01-31 (PROVENANCE.md)
    inputs = load_inputs(None, ["NVDA", "000660.KS"], event_ids=["deepseek_r1"])
    sessions = dict(zip(inputs.alignment["symbol"], inputs.alignment["reaction_session"], strict=True))
    assert sessions == {"NVDA": pd.Timestamp("2025-01-27"), "000660.KS": pd.Timestamp("2025-01-31")}
    assert sorted(inputs.prices) == ["000660.KS", "NVDA", "SPY", "^KS11"]


def test_csv_source_without_a_directory_is_a_parameter_error():
    with pytest.raises(ParameterError, match="--source csv needs --csv-dir"):
        load_inputs(None, ["NVDA"], source="csv")


@pytest.mark.parametrize("command", ["study", "recovery", "run"])
def test_every_analysis_command_reports_the_events_line(command, tmp_path, capsys):
    path = _events(tmp_path, "two,Two,2025-02-03,UTC,shock,AAPL")
    argv = [command, "--events", str(path)]
    if command == "run":
        argv += ["--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "events.csv:2: column 'symbols': 'AAPL' has no prices" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["study", "--estimation", "-11:-250"], "runs backwards"),
        (["run", "--event-window", "5"], "not a whole number of sessions"),
        (["trade", "buy_the_dip", "--slippage", "abc"], "is not a number"),
        (["recovery", "--source", "bloomberg"], "invalid choice"),
        (["study", "--no-such-option"], "unrecognized arguments"),
    ],
)
def test_usage_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err


def test_windows_accept_colon_or_comma(capsys):
    from backtest.commands._options import window, windows

    assert window("-250:-11") == window("-250,-11") == (-250, -11)
    assert windows("0:0,-1:1") == ((0, 0), (-1, 1))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["study", "--csv-dir", "somewhere"], "--csv-dir applies to --source csv"),
        (["trade", "buy_the_dip", "--cache-dir", "somewhere"], "--cache-dir applies to --source yahoo"),
        (["study", "--min-estimation", "2"], "below the minimum 3"),
    ],
)
def test_options_for_another_source_or_out_of_range_are_rejected(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err


def test_recovery_takes_factors_for_the_factor_model(capsys):
    import warnings

    from backtest.errors import BacktestWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BacktestWarning)
        code = main(["recovery", "--event", "deepseek_r1", "--symbols", "NVDA", "--model", "factor",
                     "--factors", "SOXX"])
    out = capsys.readouterr().out
    # NVDA's DeepSeek day-0 close-to-close return, from PROVENANCE.md: -16.97 %
    assert code == 0 and "-16.97 %" in out


def test_symbols_option_replaces_the_events_own_symbols(tmp_path):
    # AAPL is not in the snapshot, but --symbols NVDA replaces the event's own list
    path = _events(tmp_path, "one,One,2025-01-27,UTC,shock,AAPL")
    inputs = load_inputs(path, ["NVDA"])
    assert inputs.alignment["symbol"].tolist() == ["NVDA"]


def test_csv_directory_accepts_index_files_named_with_a_caret(tmp_path):
    import shutil

    from backtest.sources import get_source
    from backtest.sources.snapshot import snapshot_dir

    shutil.copy(snapshot_dir() / "_N225.csv", tmp_path / "^N225.csv")
    bars = get_source("csv", directory=tmp_path).load("^N225")
    # ^N225 on 2025-01-27 fell 0.92 % close to close (PROVENANCE.md event-day table)
    change = bars["close"].pct_change().loc["2025-01-27"]
    assert change == pytest.approx(-0.0092, abs=0.00005)
