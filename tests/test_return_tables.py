"""Return tables: raw returns from the snapshot's closes, scoreboard, LaTeX and Excel exports, CLI.

Expected numbers come from the shipped CSV files read with the csv module (hand
computation: close of day b / close of day a-1 - 1) or are written out by hand.
"""

from __future__ import annotations

import csv
import io
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from backtest.cli import main
from backtest.errors import ParameterError
from backtest.report.export import dumps_results
from backtest.return_tables import ReturnTables, build_return_tables
from backtest.return_tables.build import raw_window_returns, scoreboard
from backtest.return_tables.display import pivot, raw_table, scoreboard_table
from backtest.return_tables.export import PERCENT_FORMAT, flat_pivot, workbook_bytes
from backtest.return_tables.latex import abnormal_latex, latex_document_body

SETTINGS = {"car_windows": [[0, 0], [0, 1], [-1, 1], [0, 5], [0, 20]], "horizon": 60}


def snapshot_close(symbol: str, date: str) -> float:
    """The close of one day, read straight from the shipped CSV (independent of the package code)."""
    name = symbol.replace("^", "_") + ".csv"
    text = resources.files("backtest").joinpath("data", "prices", name).read_text(encoding="utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        if row["date"] == date:
            return float(row["close"])
    raise KeyError(date)


@pytest.fixture(scope="module")
def run_tables() -> dict[str, pd.DataFrame]:
    """The tables a default run keeps, from the four shipped events x four targets (no strategy)."""
    from backtest.alignment import align_symbols
    from backtest.calendars import ExchangeCalendars
    from backtest.events import load_events
    from backtest.inputs import symbols_to_load
    from backtest.recovery import recovery
    from backtest.return_tables.closes import session_closes
    from backtest.sources import get_source, load_prices
    from backtest.study import event_study

    events = load_events(resources.files("backtest").joinpath("data", "events.csv"))
    prices = load_prices(symbols_to_load(events, None), get_source("snapshot"))
    with pytest.warns(Warning):  # Kioxia's short history: market-adjusted fallback, reported
        calendars = ExchangeCalendars.from_prices(prices)
        alignment = align_symbols(events, calendars, None)
        study = event_study(prices, alignment, calendars, event_window=(-5, 20))
        recovered = recovery(prices, alignment, calendars, horizon=60, study=study)
    closes = session_closes(prices, alignment, calendars, first_day=-2, last_day=60)
    return {"events": events, "session_closes": closes, "car": study.car, "tests": study.tests,
            "recovery": recovered.table}  # fmt: skip


@pytest.fixture(scope="module")
def shipped(run_tables: dict[str, pd.DataFrame]) -> ReturnTables:
    return build_return_tables(run_tables, SETTINGS)


def _raw(tables: ReturnTables, event_id: str, symbol: str, window: str) -> pd.Series:
    raw = tables.raw
    rows = raw[(raw["event_id"] == event_id) & (raw["symbol"] == symbol) & (raw["window"] == window)]
    assert len(rows) == 1
    return rows.iloc[0]


# ----------------------------------------------------------------------------- raw returns


def test_nvda_deepseek_raw_returns_equal_the_snapshot_closes(shipped: ReturnTables) -> None:
    day_minus_1 = snapshot_close("NVDA", "2025-01-24")
    expected_day0 = snapshot_close("NVDA", "2025-01-27") / day_minus_1 - 1
    assert round(expected_day0 * 100, 2) == -16.97  # the published figure
    row = _raw(shipped, "deepseek_r1", "NVDA", "[0,0]")
    assert row["return"] == pytest.approx(expected_day0, rel=1e-12)
    # [0,+5]: day 5 is 2025-02-03 on Nasdaq (27, 28, 29, 30, 31 Jan, 3 Feb); SPY on the same dates
    stock = snapshot_close("NVDA", "2025-02-03") / day_minus_1 - 1
    bench = snapshot_close("SPY", "2025-02-03") / snapshot_close("SPY", "2025-01-24") - 1
    row = _raw(shipped, "deepseek_r1", "NVDA", "[0,+5]")
    assert str(row["end_date"].date()) == "2025-02-03"
    assert row["return"] == pytest.approx(stock, rel=1e-12)
    assert row["benchmark_return"] == pytest.approx(bench, rel=1e-12)
    assert row["excess"] == pytest.approx(stock - bench, rel=1e-12)
    # [-1,+1]: from the close of day -2 (2025-01-23) to day +1 (2025-01-28)
    row = _raw(shipped, "deepseek_r1", "NVDA", "[-1,+1]")
    expected = snapshot_close("NVDA", "2025-01-28") / snapshot_close("NVDA", "2025-01-23") - 1
    assert row["return"] == pytest.approx(expected, rel=1e-12)


def test_krx_windows_use_seoul_sessions(shipped: ReturnTables) -> None:
    # KRX was closed 27-30 Jan 2025 (Lunar New Year): day 0 is 31 Jan, day -1 is 24 Jan.
    row = _raw(shipped, "deepseek_r1", "000660.KS", "[0,+1]")
    expected = snapshot_close("000660.KS", "2025-02-03") / snapshot_close("000660.KS", "2025-01-24") - 1
    bench = snapshot_close("^KS11", "2025-02-03") / snapshot_close("^KS11", "2025-01-24") - 1
    assert str(row["start_date"].date()) == "2025-01-31"
    assert row["return"] == pytest.approx(expected, rel=1e-12)
    assert row["benchmark_return"] == pytest.approx(bench, rel=1e-12)
    assert not row["benchmark_stale"]


def test_window_past_the_data_is_missing_not_filled(shipped: ReturnTables) -> None:
    # Meta Compute (2026-07-01): Seoul data end 2026-09-28, before day +60
    row = _raw(shipped, "meta_compute", "000660.KS", "[0,+60]")
    assert np.isnan(row["return"]) and not row["complete"]


def _closes(close: list[float], bench: list[float], bench_dates: list[str] | None = None) -> pd.DataFrame:
    dates = pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"][: len(close)])
    return pd.DataFrame({
        "event_id": "e", "symbol": "X", "benchmark": "M", "rel_day": np.arange(-1, len(close) - 1),
        "date": dates, "close": close, "benchmark_close": bench,
        "benchmark_date": pd.to_datetime(bench_dates) if bench_dates else dates,
    })  # fmt: skip


def test_raw_window_returns_by_hand() -> None:
    closes = _closes([100.0, 90.0, np.nan, 99.0], [10.0, 10.5, 10.2, 11.0])
    out = raw_window_returns(closes, [(0, 0), (0, 2), (1, 1)])
    assert out["return"].tolist()[:2] == pytest.approx([-0.10, -0.01])  # 90/100-1, 99/100-1 (gap inside)
    assert out["benchmark_return"].tolist()[:2] == pytest.approx([0.05, 0.10])
    assert out["excess"].tolist()[:2] == pytest.approx([-0.15, -0.11])
    assert np.isnan(out["return"].iloc[2]) and not out["complete"].iloc[2]  # the close of day 1 is missing
    assert out["complete"].tolist()[:2] == [True, True]


def test_stale_benchmark_close_is_flagged() -> None:
    closes = _closes([100.0, 90.0], [10.0, 10.0], bench_dates=["2025-01-02", "2025-01-02"])
    assert raw_window_returns(closes, [(0, 0)])["benchmark_stale"].tolist() == [True]


def test_window_outside_the_stored_closes_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match=r"--windows \[0,\+5\].*day -1 to day 2.*--horizon"):
        raw_window_returns(_closes([100.0, 90.0, 95.0, 99.0], [10.0] * 4), [(0, 5)])


# ----------------------------------------------------------------------------- scoreboard


def test_scoreboard_ranks_moves_and_picks_the_lowest_car() -> None:
    dates = pd.to_datetime(["2025-01-02", "2025-01-03"])
    closes = pd.concat([
        pd.DataFrame({"event_id": e, "symbol": "X", "benchmark": "M", "rel_day": [-1, 0], "date": dates,
                      "close": [100.0, c], "benchmark_close": [10.0, 10.0], "benchmark_date": dates})
        for e, c in (("a", 95.0), ("b", 80.0), ("c", 110.0))
    ], ignore_index=True)  # fmt: skip
    car = pd.DataFrame({
        "event_id": ["a", "a", "b", "b", "c"], "symbol": "X",
        "window": ["[0,0]", "[0,+5]", "[0,0]", "[0,+5]", "[0,0]"],
        "car": [-0.04, -0.07, -0.15, np.nan, 0.08], "p_value": [0.3, 0.02, 0.001, np.nan, 0.1],
        "complete": [True, True, True, False, True],
    })  # fmt: skip
    recovery = pd.DataFrame({
        "event_id": ["a", "b", "c", "a"], "symbol": "X", "path": ["price", "price", "price", "abnormal"],
        "measurable": True, "moved": [True, True, False, True], "recovered": [True, False, True, True],
        "relapsed": [False, False, False, False], "censored_by": [None, "horizon", None, None],
        "recovery_sessions": pd.array([3, None, 0, 1], dtype="Int64"),
    })  # fmt: skip
    events = pd.DataFrame({"event_id": ["a", "b", "c"], "kind": ["shock", "shock", "relief"]})
    board = scoreboard(closes, car, recovery, events)
    assert board["event_id"].tolist() == ["a", "b", "c"]
    assert board["day0_return"].tolist() == pytest.approx([-0.05, -0.20, 0.10])
    assert board["day0_rank"].tolist() == [3, 1, 2]  # by size: 20 %, 10 %, 5 %
    assert board["worst_window"].tolist() == ["[0,+5]", "[0,0]", "[0,0]"]  # NaN CAR of b [0,+5] skipped
    assert board["worst_car"].tolist() == pytest.approx([-0.07, -0.15, 0.08])
    assert board["recovery_status"].tolist() == ["recovered", "not recovered (horizon)", "no move"]
    assert board["recovery_sessions"].tolist()[0] == 3
    assert board["recovery_sessions"].isna().tolist()[1:] == [True, True]  # no timing without a move


def test_shipped_scoreboard_has_four_events_per_target(shipped: ReturnTables) -> None:
    board = shipped.scoreboard
    counts = board.groupby("symbol").size().to_dict()
    assert counts == {"NVDA": 4, "000660.KS": 4, "005930.KS": 4, "285A.T": 4}
    nvda = board[board["symbol"] == "NVDA"].set_index("event_id")
    assert nvda.loc["deepseek_r1", "day0_return"] == pytest.approx(
        snapshot_close("NVDA", "2025-01-27") / snapshot_close("NVDA", "2025-01-24") - 1, rel=1e-12
    )
    assert nvda["day0_rank"].min() == 1 and sorted(nvda["day0_rank"].tolist()) == [1, 2, 3, 4]


def test_terminal_tables_fit_100_columns(shipped: ReturnTables) -> None:
    from rich.console import Console

    from backtest.report.terminal import print_table

    console = Console(width=100, record=True, file=io.StringIO())
    print_table(console, raw_table(shipped), group_titles=shipped.names)
    print_table(console, scoreboard_table(shipped), group="symbol", group_columns=("name",))
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100
    text = "\n".join(lines)
    assert "event deepseek_r1 — DeepSeek R1 AI-chip sell-off" in text  # one block per event
    assert "symbol NVDA · NVIDIA Corporation" in text  # one block per symbol
    assert "(part " not in text  # no block had to be split
    cells = raw_table(shipped).formatted()
    assert cells.iloc[0, :3].tolist() == ["deepseek_r1", "NVDA", "-16.97 %"]
    assert cells.iloc[2, 1].strip() == "excess"


# ----------------------------------------------------------------------------- LaTeX


def _two_row_tables(statistic: str = "t") -> ReturnTables:
    abnormal = pd.DataFrame({
        "event_id": ["shock_1", "shock_1"], "symbol": ["A_B", "C%D"], "window": ["[0,+1]", "[0,+1]"],
        "start": [0, 0], "end": [1, 1], "car": [-0.1697, 0.0123], "car_se": [0.0335, 0.0246],
        "t_stat": [-5.0657, 0.5], "p_value": [0.004, 0.62], "complete": [True, True],
        "model_used": ["market", "market"],
    })  # fmt: skip
    pooled = pd.DataFrame(columns=["event_id", "window", "test", "caar", "statistic", "p_value", "n"])
    return ReturnTables(
        raw=pd.DataFrame(), abnormal=abnormal, pooled=pooled, scoreboard=pd.DataFrame(),
        names={"shock_1": "Shock & Awe_1", "A_B": "Acme & Co", "C%D": "C%D"},
        settings={"windows": ["[0,+1]"], "statistic": statistic, "stars": [0.01, 0.05, 0.1],
                  "test": "cross_sectional_t", "abnormal_missing": []},
    )  # fmt: skip


def test_latex_two_rows_match_the_hand_written_table() -> None:
    expected = r"""\begin{table}[htbp]
\centering
\caption{Cumulative abnormal returns}
\label{tab:abnormal_returns}
\begin{tabular}{lr}
\toprule
 & Shock \& Awe\_1 \\
 & [0,+1] \\
\midrule
Acme \& Co (A\_B) & -16.97*** \\
 & (-5.07) \\
C\%D & 1.23 \\
 & (0.50) \\
\bottomrule
\end{tabular}
\par\smallskip
{\footnotesize Cumulative abnormal returns (CAR) in percent; t statistic of the CAR in parentheses. \
*** p \textless{} 0.01, ** p \textless{} 0.05, * p \textless{} 0.1 (two-sided).}
\end{table}
"""
    assert abnormal_latex(_two_row_tables()) == expected.replace(" \\\n*** p", " *** p")


def test_latex_standard_errors_in_percent_beneath() -> None:
    text = abnormal_latex(_two_row_tables("se"))
    assert "Acme \\& Co (A\\_B) & -16.97*** \\\\\n & (3.35) \\\\\n" in text
    assert "standard error (in percent)" in text


def _assert_compiles_shaped(text: str) -> None:
    for env in set(re.findall(r"\\begin\{(\w+)\}", text)):
        assert text.count(f"\\begin{{{env}}}") == text.count(f"\\end{{{env}}}"), env
    body = "\n".join(line for line in text.splitlines() if not line.startswith("% "))
    body = re.sub(r"\\label\{[\w:]+\}", "", body)  # a label may hold _
    assert not re.search(r"(?<!\\)[%_#]", body), "unescaped % _ or #"
    assert not re.search(r"(?<![\\])&(?=\S)", body.replace("\\&", "")), "glued &"
    assert text.count("\\toprule") == text.count("\\midrule") == text.count("\\bottomrule")
    for tabular in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", text, re.S):
        columns, rows = len(tabular[0]), tabular[1]
        for row in re.findall(r"^(.*)\\\\$", rows, re.M):
            if "multicolumn" not in row:
                assert len(re.findall(r"(?<!\\)&", row)) == columns - 1, row


def test_shipped_latex_is_compile_shaped(shipped: ReturnTables) -> None:
    text = latex_document_body(shipped)
    _assert_compiles_shaped(text)
    assert text.count("\\begin{table}") == 4
    assert "NVIDIA Corporation (NVDA) & -16.97 &" in text  # raw table, first cell
    assert "Windows without a CAR in the study: [0,+60]." in text


# ----------------------------------------------------------------------------- Excel


def test_workbook_reopens_with_the_same_numbers_and_percent_format(shipped: ReturnTables, tmp_path) -> None:
    import openpyxl

    path = tmp_path / "tables.xlsx"
    path.write_bytes(workbook_bytes(shipped))
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == ["scoreboard", "raw returns", "excess returns", "abnormal returns", "raw tidy",
                            "abnormal tidy", "pooled tests"]  # fmt: skip
    raw = sheets["raw returns"].set_index("symbol")
    assert raw.loc["NVDA", "deepseek_r1 [0,0]"] == pytest.approx(
        snapshot_close("NVDA", "2025-01-27") / snapshot_close("NVDA", "2025-01-24") - 1, rel=1e-12
    )
    expected = flat_pivot(shipped, "abnormal").set_index("symbol")
    pd.testing.assert_frame_equal(sheets["abnormal returns"].set_index("symbol"), expected, check_dtype=False)
    book = openpyxl.load_workbook(path)
    sheet = book["raw returns"]
    assert sheet.freeze_panes == "C2"
    assert sheet["C2"].number_format == PERCENT_FORMAT and sheet["A2"].value == "NVDA"
    assert workbook_bytes(shipped) == path.read_bytes()  # same tables, same bytes (no save-time stamps)
    board = book["scoreboard"]
    header = [cell.value for cell in board[1]]
    assert board.cell(row=2, column=header.index("day0_return") + 1).number_format == PERCENT_FORMAT
    assert board.cell(row=2, column=header.index("day0_rank") + 1).number_format != PERCENT_FORMAT


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def results_file(run_tables: dict[str, pd.DataFrame], tmp_path):
    path = tmp_path / "run" / "results.json"
    path.parent.mkdir()
    path.write_text(dumps_results(run_tables, SETTINGS), encoding="utf-8")
    return path


def test_cli_tables_rebuilds_from_results_json(results_file, capsys) -> None:
    code = main(["tables", str(results_file), "--windows", "0:0,0:5,0:60", "--stat", "se", "--stars",
                 "0.05", "--test", "bmp"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    folder = results_file.parent / "tables"  # beside the run's files, which stay
    assert (results_file.parent / "results.json").exists()
    for name in ("raw_returns.csv", "abnormal_window_returns.csv", "scoreboard.csv", "return_tables.xlsx",
                 "return_tables.tex"):  # fmt: skip
        assert (folder / name).exists(), name
    raw = pd.read_csv(folder / "raw_returns.csv")
    assert raw["window"].unique().tolist() == ["[0,0]", "[0,+5]", "[0,+60]"]
    tex = (folder / "return_tables.tex").read_text(encoding="utf-8")
    assert "* p \\textless{} 0.05 (two-sided)" in tex and "**" not in tex
    assert "bmp statistic" in tex
    assert out.out.index("Raw returns") < out.out.index("Shock scoreboard")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--stars", "0.05,2"], "--stars '0.05,2': give distinct levels between 0 and 1"),
        (["--windows", "0:90"], "--windows [0,+90]: the stored closes run from day -2 to day 60"),
        (["--test", "bpm"], "--test 'bpm' is not in the results"),
    ],
)
def test_cli_tables_bad_options_are_one_line(results_file, capsys, options, message) -> None:
    code = main(["tables", str(results_file), *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_tables_never_replaces_the_run_folder(results_file, capsys) -> None:
    code = main(["tables", str(results_file), "--out", str(results_file.parent), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "writing there would replace the run's files" in err
    assert sorted(p.name for p in results_file.parent.iterdir()) == ["results.json"]  # left as it was


def test_cli_tables_old_results_say_rerun(run_tables, tmp_path, capsys) -> None:
    path = tmp_path / "results.json"
    old = {k: v for k, v in run_tables.items() if k != "session_closes"}
    path.write_text(dumps_results(old, SETTINGS), encoding="utf-8")
    assert main(["tables", str(path)]) == 2
    assert "lack the table(s) session_closes; rerun 'backtest run'" in capsys.readouterr().err


def test_pivot_puts_symbols_in_rows_and_events_by_windows_in_columns(shipped: ReturnTables) -> None:
    wide = pivot(shipped, "excess")
    assert wide.index.tolist() == ["NVDA", "000660.KS", "005930.KS", "285A.T"]
    assert wide.columns[0] == ("deepseek_r1", "[0,0]") and wide.shape[1] == 4 * 6
    row = _raw(shipped, "us_tariff_pause", "285A.T", "[0,+20]")
    assert wide.loc["285A.T", ("us_tariff_pause", "[0,+20]")] == pytest.approx(row["excess"])


def test_result_renders_itself(shipped: ReturnTables, tmp_path) -> None:
    assert repr(shipped).startswith("ReturnTables(16 event x symbol pairs, windows [0,0], [0,+1]")
    text = shipped.summary()
    assert text.index("Raw returns") < text.index("Shock scoreboard") and "| NVDA | -16.97 % |" in text
    assert shipped.to_latex() == latex_document_body(shipped)
    path = shipped.to_excel(tmp_path / "t.xlsx")
    assert pd.read_excel(path, sheet_name="raw returns").shape == (4, 2 + 4 * 6)
