"""``backtest recovery`` end to end on the shipped events and the embedded snapshot."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from backtest.cli import main
from backtest.errors import DataWarning


def test_recovery_table_for_samsung(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--symbols", "005930.KS", "--horizon", "5"]) == 0
    out = capsys.readouterr().out
    # DeepSeek on KRX (reaction 2025-01-31 after the Lunar New Year closure), 005930.KS.csv closes:
    # 01-24 52399.832 -> 01-31 51131.3086 (-2.42 %, PROVENANCE), first close back >= 52399.832 on
    # 02-06 (+4 sessions, 6 calendar days); trough 49765.1992 on 02-03 (+1): -5.03 %
    line = next(x for x in out.splitlines() if "deepseek_r1" in x and "price" in x)
    assert "-2.42 %" in line and "+4 (2025-02-06, 6 d)" in line
    assert "+1 (2025-02-03)" in line and "-5.03 %" in line
    # relief event labelled as a give-back
    assert any("us_tariff_pause" in x and "give_back" in x for x in out.splitlines())
    assert "Kaplan-Meier" in out


def test_never_recovered_shows_censoring(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--symbols", "NVDA"]) == 0
    out = capsys.readouterr().out
    # NVDA after DeepSeek: no close >= 142.2481 between 2025-01-27 and day +60 (2025-04-23)
    line = next(x for x in out.splitlines() if "deepseek_r1" in x and "price" in x)
    assert "no (censored 2025-04-23, +60, horizon)" in line


def test_event_after_the_data_is_censored_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,name,announced_at,timezone,kind,symbols\n"
        "late,After the data,2026-09-14T08:00:00+09:00,Asia/Tokyo,shock,285A.T\n",
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("default", DataWarning)
        code = main(["recovery", "--events", str(events)])
    captured = capsys.readouterr()
    assert code == 0
    # 285A.T.csv ends 2026-09-04: explicit censoring, not a blank or a traceback
    assert "warning: event late: 285A.T prices end on 2026-09-04" in captured.err
    assert "nothing after the event, data end 2026-09-04" in captured.out


@pytest.mark.parametrize("horizon", ["0", "-3", "ten"])
def test_bad_horizon_is_a_usage_error(horizon: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["recovery", "--horizon", horizon])
    assert code == 2
    err = capsys.readouterr().err
    assert "--horizon" in err and "use e.g. 60" in err and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1  # one line, no usage dump


def test_missing_events_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--events", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "backtest recovery --horizon 20" in out


def test_unknown_symbol_and_csv_without_dir_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--symbols", "NVDA", "FOO.XX"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --symbols:") and "FOO.XX" in err
    assert main(["recovery", "--source", "csv"]) == 2
    assert "--csv-dir" in capsys.readouterr().err
