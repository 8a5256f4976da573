"""Every command's tables at ``COLUMNS=100``: no line wider, no cell cut, every identifying column.

Expected day-0 moves come from the event-day table of ``backtest/data/prices/PROVENANCE.md``
(computed from the files independently of this package).
"""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest
from rich.cells import cell_len

from backtest.cli import main
from backtest.report.tables import Table
from backtest.report.terminal import print_table


@pytest.fixture
def columns_100(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short-history and data-end notes are tested elsewhere
        code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _fits(out: str, width: int = 100) -> None:
    lines = out.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, too_wide[:3]
    assert "…" not in out  # rich's mark of a cut cell


def _headers(out: str) -> set[str]:
    """Words of the header lines (the line above each rule of box characters)."""
    lines = out.splitlines()
    words: set[str] = set()
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) <= {"─", " "}:
            for header in lines[max(i - 2, 0) : i]:
                words.update(header.split())
    return words


def test_events(columns_100: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["events"], capsys)
    _fits(out)
    assert {"exchange", "day"} <= _headers(out)
    # one block per event, its id and name in the block's title; KRX reacts to DeepSeek on 01-31
    assert "event deepseek_r1 · DeepSeek R1 AI-chip sell-off" in out
    assert re.search(r"KRX\s+2025-01-27 08:00 KST\s+2025-01-31 Fri", out)


def test_study(columns_100: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["study"], capsys)
    _fits(out)
    assert {"symbol", "name", "window", "CAR"} <= _headers(out)
    # NVDA day-0 AR -13.33 % (p < 0.01; test_study_engine checks it against statsmodels)
    assert re.search(r"NVDA\s+NVIDIA Corporation\s+\[0,0\]\s+-13\.33 %\*\*\*", out)
    assert "SK Hynix" in out and "Kioxia Holdings" in out


def test_recovery(columns_100: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["recovery"], capsys)
    _fits(out)
    headers = _headers(out)
    assert {"symbol", "name", "path"} <= headers and "event" in out
    # PROVENANCE.md: NVDA -16.97 % on 2025-01-27; 285A.T +22.50 % on 2025-04-10 (tariff pause)
    assert re.search(r"NVDA\s+NVIDIA Corporation\s+price\s+-16\.97 %", out)
    assert re.search(r"285A\.T\s+Kioxia Holdings\s+price\s+\+22\.50 %", out)
    # every row of a folded part still says what it is: symbol, name and path before the numbers
    rows = [line for line in out.splitlines() if re.match(r"(NVDA|000660\.KS|005930\.KS|285A\.T)\s", line)]
    assert rows and all(re.match(r"\S+\s+\S.*?\s{2,}(price|abnormal)\s", line) for line in rows)


def test_trade(columns_100: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["trade", "buy_the_dip", "--grid", "hold=1,5", "--trades"], capsys)
    _fits(out)
    assert {"parameters", "symbol", "name", "return"} <= _headers(out)
    assert "hold=1" in out and "hold=5" in out
    # PROVENANCE: the NVDA trade after DeepSeek buys at the 2025-01-28 open
    assert "2025-01-28" in out


def test_run(default_run: dict[str, object]) -> None:
    # the session's default run, printed at COLUMNS=100 (conftest.py)
    assert default_run["code"] == 0, default_run["err"]
    out = str(default_run["out"])
    _fits(out)
    headers = _headers(out)
    # the columns that say what a row is: never dropped (they were at 120 columns)
    assert {"scope", "window", "parameters", "symbol", "name", "path"} <= headers
    for move in ("-16.97 %", "-9.86 %"):  # PROVENANCE.md: NVDA, 000660.KS day 0 after DeepSeek
        assert move in out


def test_wide_keeps_one_row_per_line(columns_100: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(["recovery", "--wide", "--event", "deepseek_r1"], capsys)
    line = next(x for x in out.splitlines() if x.startswith("deepseek_r1") and " NVDA " in x and "price" in x)
    cells = re.split(r"\s{2,}", line.strip())
    # the whole row on one line: ids, day 0, max move, ..., status, ..., last seen
    assert cells[:5] == ["deepseek_r1", "NVDA", "NVIDIA Corporation", "price", "-16.97 %"]
    assert "not recovered (horizon)" in cells and cells[-1] == "2025-04-23"
    assert cell_len(line) > 100


def test_a_too_wide_table_folds_into_parts_that_repeat_the_keys() -> None:
    from rich.console import Console

    frame = pd.DataFrame({"event_id": ["a", "a", "b"], "symbol": ["X", "Y", "X"],
                          **{f"value_{i}": [0.123456 * i, -0.5, 1.0] for i in range(8)}})  # fmt: skip
    table = Table("t", "Title", frame, {f"value_{i}": "signed_percent" for i in range(8)},
                  keys=("event_id", "symbol"))  # fmt: skip
    console = Console(width=40, record=True, force_terminal=False)
    print_table(console, table, group_titles={"a": "Event A"})
    text = console.export_text()
    _fits(text, 40)
    # blocks per event (its title), parts that each start with the symbol column
    assert "event_id a — Event A (part 1/" in text and "event_id b (part 1/" in text
    # every value shown whole: 0.123456 * 7 = 86.42 %
    assert "+86.42 %" in text and text.count("symbol") >= 4
