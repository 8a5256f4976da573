"""``backtest recovery`` end to end on the shipped events and the embedded snapshot."""

from __future__ import annotations

import re
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
    cells = re.split(r"\s{2,}", line.strip())
    # day 0, max move, extreme on day, status, back after, back from extreme, ..., back on
    assert cells[2:8] == ["Samsung Electronics", "price", "-2.42 %", "-5.03 %", "1", "recovered"]
    assert cells[8] == "4" and "2025-02-06" in cells
    # a relief event is measured as a give-back, in its own words
    assert any("us_tariff_pause" in x and "given back" in x for x in out.splitlines())
    assert "Kaplan-Meier" in out


def test_never_recovered_shows_censoring(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recovery", "--symbols", "NVDA"]) == 0
    out = capsys.readouterr().out
    # NVDA after DeepSeek: no close >= 142.2481 between 2025-01-27 and day +60 (2025-04-23)
    line = next(x for x in out.splitlines() if "deepseek_r1" in x and "price" in x)
    assert "not recovered (horizon)" in line and line.rstrip().endswith("2025-04-23")  # last seen


def _events_csv(tmp_path: Path, *rows: str) -> Path:
    events = tmp_path / "events.csv"
    events.write_text("event_id,name,announced_at,timezone,kind,symbols\n" + "".join(r + "\n" for r in rows),
                      encoding="utf-8")
    return events


def test_event_after_the_data_is_not_measurable_next_to_a_measured_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events_csv(
        tmp_path,
        "late,After the data,2026-09-14T08:00:00+09:00,Asia/Tokyo,shock,285A.T",
        # 285A.T.csv: 2026-08-19 is day 0 of a measurable window (day -1 2026-08-18 close 57150)
        "cut,Inside the data,2026-08-19T08:00:00+09:00,Asia/Tokyo,shock,285A.T",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("default", DataWarning)
        code = main(["recovery", "--events", str(events), "--horizon", "5"])
    captured = capsys.readouterr()
    assert code == 0
    # 285A.T.csv ends 2026-09-04: explicit, not a blank or a traceback
    assert "warning: event late: 285A.T prices end on 2026-09-04" in captured.err
    assert "not measurable (nothing after the event: prices end 2026-09-04)" in captured.out


def test_event_before_the_data_alone_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # NVDA.csv starts 2024-01-02; an event on 2023-06-01 has no pre-event close and nothing else
    # can be measured: exit 2 with one line, not an empty table that exits 0
    events = _events_csv(
        tmp_path, "early,Before the data,2023-06-01T08:00:00-04:00,America/New_York,shock,NVDA"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("default", DataWarning)
        code = main(["recovery", "--events", str(events)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: nothing to measure") and captured.err.count("\n") == 1
    assert "NVDA in early: no pre-event close: prices start 2024-01-02" in captured.err
    assert "censored" not in captured.err and captured.out == ""


def test_empty_group_prints_a_dash_not_not_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a relief event before the data (not measurable) next to a measurable shock: the give_back
    # rows of the summary have n = 0 -> KM median "-" ("not reached" would claim a censored sample)
    events = _events_csv(
        tmp_path,
        "early,Before the data,2023-06-01T08:00:00-04:00,America/New_York,relief,NVDA",
        "ds,DeepSeek,2025-01-26T18:00:00-05:00,America/New_York,shock,NVDA",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("default", DataWarning)
        code = main(["recovery", "--events", str(events), "--horizon", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "not measurable (no pre-event close: prices start 2024-01-02)" in out
    summary = [x for x in out.splitlines() if x.split()[1:2] == ["give_back"]]
    assert len(summary) == 2  # price and abnormal summary rows
    for line in summary:
        cells = re.split(r"\s{2,}", line.strip())
        # path, direction, n, recovered, censored, no move, unmeasured, median, KM median, ...
        assert cells[2:9] == ["0", "0", "0", "0", "1", "—", "—"]


def test_huge_horizon_is_cut_at_the_data_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 285A.T from 2026-08-19: the data hold 12 sessions after it (08-20 .. 09-04, 285A.T.csv)
    events = _events_csv(tmp_path, "cut,Inside the data,2026-08-19T08:00:00+09:00,Asia/Tokyo,shock,285A.T")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        code = main(["recovery", "--events", str(events), "--horizon", "100000"])
    captured = capsys.readouterr()
    assert code == 0
    assert ("warning: --horizon 100000 exceeds the data (at most 12 sessions after a reaction session): "
            "the paths are censored at the end of the data") in captured.err
    # no per-pair listing of the sessions past the data (it used to say "(99990 of 100002)")
    assert "of 100002" not in captured.err and "missing returns" not in captured.err
    assert len(captured.err.splitlines()) <= 2  # the line above (+ a short-history note at most)
    # the price path ends on 2026-09-04 (+12), censored by the end of the data, not the horizon
    line = next(x for x in captured.out.splitlines() if "price" in x and "285A.T" in x)
    assert "not recovered (end of data)" in line and line.rstrip().endswith("2026-09-04")


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
