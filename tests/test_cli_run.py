"""``backtest run`` end to end: the default job on the embedded snapshot, options and errors.

The default run (packaged events, the four targets, the default grid) runs once for
the session, in-process, from an empty directory (``default_run`` in ``conftest.py``).
Expected day-0 moves come from the event-day table of ``backtest/data/prices/PROVENANCE.md``
(computed from the files independently of this package).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from backtest.cli import main


def test_default_run_completes_and_prints_the_tables(default_run: dict[str, object]) -> None:
    assert default_run["code"] == 0, default_run["err"]
    out = str(default_run["out"])
    for title in (
        "Alignment: reaction session (day 0) per event and exchange",
        "Reactions: day-0 return",
        "Significance tests, all events pooled",
        "Recovery: largest move",
        "Strategy buy_the_dip: summary per parameter combination",
    ):
        assert title in out
    # PROVENANCE.md: NVDA 2025-01-27 -16.97 %, 000660.KS 2025-01-31 -9.86 % (first KRX session after
    # DeepSeek), 000660.KS 2026-07-02 -14.57 % (Meta Compute), 285A.T 2025-04-10 +22.50 % (tariff pause)
    for move in ("-16.97 %", "-9.86 %", "-14.57 %", "+22.50 %"):  # signed, as `backtest study` shows
        assert move in out
    assert "2025-01-31" in out  # KRX reaction session for DeepSeek (Lunar New Year closure)
    assert "threshold=0.03 hold=5" in out  # the default grid ran
    assert "Wrote" in out and "report.html" in out


def test_default_run_writes_report_json_and_tables(default_run: dict[str, object]) -> None:
    out_dir = Path(str(default_run["dir"]))
    for name in (
        "report.html",
        "results.json",
        "summary.md",
        "reactions.csv",
        "car.csv",
        "car.md",
        "equity.csv",
    ):
        assert (out_dir / name).is_file(), name
    doc = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["settings"]["strategy"] == "buy_the_dip"
    assert doc["settings"]["grid_run"] == {"threshold": [0.03, 0.05, 0.1], "hold": [5, 10, 20]}
    assert doc["provenance"]["events_file"] == "packaged events.csv"
    assert doc["provenance"]["source"] == "snapshot"
    events = doc["tables"]["events"]
    assert [row[0] for row in events["rows"]] == [
        "deepseek_r1", "us_tariffs_liberation_day", "us_tariff_pause", "meta_compute",
    ]  # fmt: skip
    aggregate = doc["tables"]["strategy_aggregate"]
    assert len(aggregate["rows"]) == 9  # 3 thresholds x 3 holds


def test_default_run_shows_and_writes_the_return_tables(default_run: dict[str, object]) -> None:
    out = str(default_run["out"])
    # raw returns and the scoreboard come before the abnormal-return detail
    assert out.index("Raw returns: each stock") < out.index("Shock scoreboard") < out.index("Reactions:")
    out_dir = Path(str(default_run["dir"]))
    for name in ("raw_returns.csv", "scoreboard.csv", "return_tables.xlsx", "return_tables.tex"):
        assert (out_dir / name).is_file(), name
    # the stored closes let 'backtest tables' rebuild them: NVDA 2025-01-24 -> 2025-01-27 is -16.97 %
    closes = pd.read_csv(out_dir / "session_closes.csv")
    nvda = closes[(closes["event_id"] == "deepseek_r1") & (closes["symbol"] == "NVDA")].set_index("rel_day")
    assert round((nvda.loc[0, "close"] / nvda.loc[-1, "close"] - 1) * 100, 2) == -16.97
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert html.index("Shock scoreboard") < html.index("Reactions: day-0 return")


def test_tables_command_rebuilds_the_run_tables_from_its_json(
    default_run: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = Path(str(default_run["dir"]))
    assert main(["tables", str(out_dir / "results.json"), "--out", str(tmp_path), "--quiet"]) == 0
    for name in ("raw_returns.csv", "abnormal_window_returns.csv", "scoreboard.csv", "return_tables.tex"):
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_warnings_go_to_stderr_in_cli_style(default_run: dict[str, object]) -> None:
    err = str(default_run["err"])
    # Kioxia (285A.T) listed 2024-12-18: too few estimation returns before DeepSeek
    assert "warning: short estimation history: 285A.T in deepseek_r1" in err
    assert "Traceback" not in err


def test_quiet_run_from_a_csv_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,name,announced_at,timezone,kind\n"
        "pause,90-day US tariff pause,2025-04-09T13:18:00-04:00,America/New_York,relief\n",
        encoding="utf-8",
    )
    prices = Path(str(resources.files("backtest") / "data" / "prices"))  # SYMBOL.csv files
    argv = ["run", "--events", str(events), "--symbols", "NVDA", "--grid", "hold=5"]
    argv += ["--source", "csv", "--csv-dir", str(prices), "--out", str(tmp_path / "o"), "--quiet"]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == ""
    assert (tmp_path / "o" / "report.html").is_file()
    reactions = (tmp_path / "o" / "reactions.csv").read_text(encoding="utf-8").splitlines()
    # PROVENANCE.md: NVDA 2025-04-09 +18.72 % (intraday announcement: day 0 is 2025-04-09)
    assert len(reactions) == 2 and reactions[1].startswith("pause,NVDA,NVIDIA Corporation,0.1872")
    doc = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    assert doc["provenance"]["source"] == f"csv ({prices})"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--grid", "hodl=5"], "did you mean 'hold'"),
        (["run", "--strategy", "buy_the_dipp"], "buy_the_dip"),
        (["run", "--symbols", "NVDA.XX"], "--symbols"),
        (["run", "--source", "csv"], "--csv-dir"),
        (["run", "--source", "csv", "--csv-dir", "no_such_dir"], "existing directory with --csv-dir "),
        (["run", "--horizon", "0"], "--horizon"),
        (["run", "--model", "capm"], "market_adjusted"),
        (["run", "--events", "does_not_exist.csv"], "does_not_exist.csv"),
        (["run", "--grid", "hold=5", "hold=10"], "hold is given twice"),
        (["run", "--grid", "hold=5,5"], "hold=5 is listed twice"),
        (["run", "--strategy", "buy_and_hold", "--grid", "hold=5"], "buy_and_hold takes no parameters"),
    ],
)
def test_bad_options_are_one_line_errors(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--help"])
    assert code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "backtest run --events my_events.csv" in text and "--quiet" in text


HEADER = "event_id,name,announced_at,timezone,kind,description,source,symbols\n"
DEEPSEEK = "deepseek_r1,DeepSeek R1,2025-01-26T18:00:00-05:00,America/New_York,shock,,,NVDA\n"
FUTURE_EVENT = "fut,After the data,2027-03-01T10:00:00-05:00,America/New_York,shock,,,NVDA\n"


def _csv_column(path: Path, column: str) -> list[str]:
    import csv

    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_event_after_the_data_is_skipped_and_stop_none_is_written_as_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # NVDA's snapshot bars end 2026-09-25 (PROVENANCE.md): the 2027-03-01 event is skipped with the
    # "skipped pairs" warning, the DeepSeek one runs.
    events = tmp_path / "events.csv"
    events.write_text(HEADER + DEEPSEEK + FUTURE_EVENT, encoding="utf-8")
    out = tmp_path / "o"
    argv = ["run", "--events", str(events), "--grid", "hold=1,5", "stop=none,0.08"]
    code = main([*argv, "--horizon", "20", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert "warning: skipped event x symbol pairs without data: fut/NVDA (prices end 2026-09-25" in err
    # grid order hold x stop; stop=none is the word "none", not an empty cell
    assert _csv_column(out / "strategy_aggregate.csv", "stop") == ["none", "0.08", "none", "0.08"]
    assert _csv_column(out / "strategy_results.csv", "stop") == ["none", "0.08", "none", "0.08"]
    assert _csv_column(out / "strategy_results.csv", "event_id") == ["deepseek_r1"] * 4
    # every table has a Markdown twin, the reactions too; PROVENANCE.md: NVDA 2025-01-27 -16.97 %
    reactions = (out / "reactions.md").read_text(encoding="utf-8")
    assert "| deepseek_r1 | NVDA | NVIDIA Corporation | -16.97 % |" in reactions
    page = (out / "report.html").read_text(encoding="utf-8")
    caption = page[page.index("<figcaption>Strategy buy_the_dip (") :].split("</figcaption>")[0]
    assert "stop = " in caption and "nan" not in caption and "highest mean excess" in caption


def test_run_with_only_events_after_the_data_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(HEADER + FUTURE_EVENT, encoding="utf-8")
    code = main(["run", "--events", str(events), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1


def test_strategy_without_parameters_has_no_heatmap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(HEADER + DEEPSEEK, encoding="utf-8")
    out = tmp_path / "o"
    argv = ["run", "--events", str(events), "--strategy", "buy_and_hold", "--horizon", "20"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    page = (out / "report.html").read_text(encoding="utf-8")
    note = "No parameter heatmap: buy_and_hold ran with one parameter combination (it takes no parameters)."
    assert note in page
    assert page.count("data:image/svg+xml") == 6  # price paths, CAR, placebo, recovery, Kaplan-Meier, equity
