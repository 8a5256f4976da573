"""``backtest events``: table, --check, --symbols, --closures and one-line errors (exit 2)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from backtest.cli import main
from backtest.errors import DataGapWarning

REPO = Path(__file__).resolve().parents[1]
EVENTS = str(REPO / "events.csv")
HEADER = "event_id,name,announced_at,timezone,kind,description,source,symbols\n"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["events", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_every_event_and_exchange(capsys):
    code, out, err = _run(capsys, EVENTS)
    assert code == 0 and err == ""
    for text in ("deepseek_r1", "us_tariffs_liberation_day", "us_tariff_pause", "meta_compute",
                 "NASDAQ", "KRX", "TSE"):
        assert text in out
    # DeepSeek: Korea reacts on Friday 2025-01-31 (Lunar New Year closure); local time 08:00 KST.
    assert "2025-01-31 Fri" in out
    assert "2025-01-27 08:00 KST" in out
    # The tariff pause is the only intraday row.
    assert out.count("yes") == 1


def test_default_file_falls_back_to_the_packaged_copy(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys, "--check")
    assert code == 0
    assert "4 events OK" in out and "events.csv" in out


def test_check_prints_one_line(capsys):
    code, out, _ = _run(capsys, EVENTS, "--check")
    assert code == 0
    assert out.strip().splitlines() == [f"{EVENTS}: 4 events OK, aligned on KRX, NASDAQ, TSE"]


def test_symbols_option_groups_nyse_and_nasdaq(capsys):
    code, out, _ = _run(capsys, EVENTS, "--symbols", "NVDA", "SPY", "8035.T")
    assert code == 0
    assert "NYSE" in out and "NASDAQ" in out and "TSE" in out and "KRX" not in out


def test_user_closures_file_is_applied(capsys, tmp_path):
    events = tmp_path / "e.csv"
    # 16:00 KST on 2026-06-02 is after the KRX close.
    events.write_text(HEADER + "k,K,2026-06-02T16:00:00+09:00,,shock,,,000660.KS\n")
    code, out, _ = _run(capsys, str(events))
    assert code == 0 and "2026-06-04 Thu" in out  # 06-03 is a packaged closure
    closures = tmp_path / "c.csv"
    closures.write_text("calendar,date,action,note\nXKRX,2026-06-03,remove_closure,pretend it traded\n")
    # The user says KRX traded; the data have no row that day: missing data, named per file.
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataGapWarning)
        code, out, err = _run(capsys, str(events), "--closures", str(closures))
    assert code == 0 and "2026-06-03 Wed" in out
    assert "000660.KS: 2026-06-03 (1 XKRX session)" in err


def test_bom_and_crlf_file(capsys, tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (REPO / "events.csv").read_bytes().replace(b"\n", b"\r\n"))
    code, out, _ = _run(capsys, str(path), "--check")
    assert code == 0 and "4 events OK" in out


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("event_id,name,announced_at\na,A,2025-04-02\n", ":1: column 'kind':"),
        ("", ":1: empty file"),
        (HEADER + "a,A,2025-04-02,,shock,,,\na,B,2025-04-03,,shock,,,\n", ":3: column 'event_id':"),
        (HEADER + "a,A,yesterday,,shock,,,\n", ":2: column 'announced_at':"),
        (HEADER + "a,A,2025-04-02,Mars/Olympus,shock,,,\n", ":2: column 'timezone':"),
        (HEADER + "a,A,2025-04-02,,shock,,,NVDA 1234.QQ\n", ":2: column 'symbols':"),
        (HEADER + "a,A,2040-04-02,,shock,,,\n", ":2: column 'announced_at':"),
    ],
)
def test_bad_input_exit_2_one_line(capsys, tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = _run(capsys, str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_bad_symbol_option_names_the_option(capsys):
    code, _, err = _run(capsys, EVENTS, "--symbols", "NVDA", "XX.YY")
    assert code == 2 and err.startswith("error: --symbols:") and len(err.strip().splitlines()) == 1


def test_missing_closures_file(capsys, tmp_path):
    code, _, err = _run(capsys, EVENTS, "--closures", str(tmp_path / "none.csv"))
    assert code == 2 and "closures file not found" in err


def test_help_has_examples(capsys):
    code = main(["events", "--help"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "examples:" in out and "backtest events my_events.csv --check" in out


def test_symbol_without_prices_in_the_source_names_its_line(capsys, tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text(HEADER + "x,X,2025-01-27,UTC,shock,,,TSLA\n", encoding="utf-8")
    code, _, err = _run(capsys, str(path), "--check")
    assert code == 2 and err.count("\n") == 1
    assert "ev.csv:2: column 'symbols': 'TSLA' has no prices in this source" in err


def test_event_beyond_the_data_warns_that_its_calendar_is_unreconciled(capsys, tmp_path):
    import warnings

    from backtest.errors import DataWarning

    path = tmp_path / "ev.csv"
    # 2030-03-04 is a Monday; NASDAQ reacts the same day (12:00 UTC is before the 14:30 UTC open).
    path.write_text(HEADER + "far,Far,2030-03-04T12:00:00Z,UTC,shock,,,NVDA\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("default", DataWarning)
        code, _, err = _run(capsys, str(path), "--check")
    assert code == 0
    # NVDA.csv ends 2026-09-25 (PROVENANCE.md), the last NASDAQ date in the snapshot
    assert "far on NASDAQ (2030-03-04; data 2024-01-02..2026-09-25)" in err
