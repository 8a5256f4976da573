"""``backtest data list`` and ``backtest data fetch``: tables, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_sources import COVERAGE, HEADER
from test_yahoo import history, yf_download_like

import backtest.sources.yahoo as yahoo
from backtest.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_list_prints_all_snapshot_symbols_with_dates(capsys):
    code, out, err = run(capsys, "data", "list")
    assert code == 0 and err == ""
    for symbol, (first, last, rows) in COVERAGE.items():
        line = next(ln for ln in out.splitlines() if f" {symbol} " in ln)
        assert first in line and last in line and f" {rows} " in line, line
    assert "SK Hynix" in out and "KRX" in out and "snapshot" in out


def test_list_csv_directory(tmp_path, capsys):
    (tmp_path / "ABC.csv").write_text(f"{HEADER}\n2025-01-24,10,12,8,10,10,1\n2025-01-27,10,12,8,11,11,1\n")
    code, out, _ = run(capsys, "data", "list", "--source", "csv", "--csv-dir", str(tmp_path))
    assert code == 0
    line = next(ln for ln in out.splitlines() if " ABC " in ln)
    assert "2025-01-24" in line and "2025-01-27" in line and " 2 " in line and "csv" in line
    # --dir is an alias of --csv-dir (the name `backtest run` and `backtest recovery` use)
    assert run(capsys, "data", "list", "--source", "csv", "--dir", str(tmp_path))[1] == out


def test_missing_csv_directory(tmp_path, capsys):
    code, _, err = run(capsys, "data", "list", "--source", "csv", "--dir", str(tmp_path / "nope"))
    assert_one_line_error(code, err, str(tmp_path / "nope"), "csv directory not found")


def test_csv_without_dir_and_dir_without_csv(capsys):
    assert_one_line_error(
        *run(capsys, "data", "list", "--source", "csv")[::2], "--source csv needs --csv-dir"
    )
    assert_one_line_error(
        *run(capsys, "data", "list", "--dir", "x")[::2], "--csv-dir applies to --source csv"
    )
    assert_one_line_error(
        *run(capsys, "data", "list", "--source", "csv", "--dir", "x", "--cache-dir", "y")[::2],
        "--cache-dir applies to --source yahoo",
    )


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("date,open,high,low,price\n2025-01-24,1,2,0.5,1\n", "BAD.csv:1:", "no close column"),
        (
            f"{HEADER}\n2025-01-24,1,2,0.5,1,1,1\n2025-01-27,1,2,x,1,1,1\n",
            "BAD.csv:3:",
            "'x' is not a number",
        ),
        (f"{HEADER}\n2025-01-24,1,2,0.5,1,1,1\n2025-01-24,1,2,0.5,1,1,1\n", "BAD.csv:3:", "duplicate date"),
    ],
)
def test_malformed_csv(tmp_path, capsys, text, where, what):
    (tmp_path / "BAD.csv").write_text(text)
    code, _, err = run(capsys, "data", "list", "--source", "csv", "--dir", str(tmp_path))
    assert_one_line_error(code, err, str(tmp_path / where), what)


def test_fetch_bad_symbols_fail_before_download(tmp_path, capsys, monkeypatch):
    def no_network(*args):
        raise AssertionError("must not download")

    monkeypatch.setattr(yahoo, "yfinance_download", no_network)
    code, _, err = run(capsys, "data", "fetch", "NVDA", "7203.XX", "--cache-dir", str(tmp_path))
    assert_one_line_error(code, err, "'7203.XX'", "unknown exchange suffix '.XX'")
    code, _, err = run(capsys, "data", "fetch", "^FOO", "--cache-dir", str(tmp_path))
    assert_one_line_error(code, err, "'^FOO' is not in the registry")
    code, _, err = run(capsys, "data", "fetch", "NVDA", "--start", "2025-02-30", "--cache-dir", str(tmp_path))
    assert_one_line_error(code, err, "--start '2025-02-30': not a date")


def test_fetch_writes_the_cache_and_list_reads_it(tmp_path, capsys, monkeypatch):
    calls = []

    def downloader(symbols, start, end):
        calls.append((symbols, start, end))
        return yf_download_like({"NVDA": history("NVDA")} if symbols == ["NVDA"] else dict.fromkeys(symbols))

    monkeypatch.setattr(yahoo, "yfinance_download", downloader)
    code, out, err = run(capsys, "data", "fetch", "NVDA", "--cache-dir", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "NVDA.parquet").is_file()
    assert "NVDA" in out and "2025-01-22" in out and "2025-02-04" in out
    code, out, _ = run(capsys, "data", "list", "--source", "yahoo", "--cache-dir", str(tmp_path))
    assert code == 0 and "NVIDIA Corporation" in out and "2025-02-04" in out

    # an unknown ticker: one error line, exit 2, the good symbol still cached, old cache untouched
    before = (tmp_path / "NVDA.parquet").read_bytes()
    code, out, err = run(capsys, "data", "fetch", "ZZZZ", "--cache-dir", str(tmp_path))
    assert_one_line_error(code, err, "no data for 'ZZZZ'")
    assert (tmp_path / "NVDA.parquet").read_bytes() == before
    # no --start/--end: from 2015-01-01 (DEFAULT_START) to the latest
    assert calls == [(["NVDA"], "2015-01-01", None), (["ZZZZ"], "2015-01-01", None)]


def test_fetch_network_failure_is_one_line(tmp_path, capsys, monkeypatch):
    def down(symbols, start, end):
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yahoo, "yfinance_download", down)
    monkeypatch.setattr(yahoo.time, "sleep", lambda seconds: None)  # default sleep, no real waiting
    code, _, err = run(capsys, "data", "fetch", "SPY", "--cache-dir", str(tmp_path))
    assert_one_line_error(code, err, "SPY failed after 4 attempt(s)", "Could not resolve host")


def test_help_has_examples(capsys):
    for command in ("list", "fetch"):
        code = main(["data", command, "--help"])
        assert code == 0
        assert "examples:" in capsys.readouterr().out


def test_console_script_shows_no_traceback(tmp_path):
    script = Path(sys.executable).with_name("backtest")
    done = subprocess.run(
        [str(script), "data", "list", "--source", "csv", "--dir", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope'}: csv directory not found; pass an existing directory with --csv-dir "
        f"(files named SYMBOL.csv with header {HEADER})"
    ]


def test_the_console_script_exits_at_once_with_everything_printed(capsys):
    # The script skips the interpreter's teardown (os._exit): what main printed must be flushed
    # first, and its exit code kept.
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "backtest"]
    assert script.value == "backtest.cli:entry"
    assert main(["data", "list"]) == 0
    expected = capsys.readouterr().out
    assert expected.count("\n") > 5
    code = "import sys; from backtest.cli import entry; sys.argv = ['backtest', *sys.argv[1:]]; entry()"
    done = subprocess.run([sys.executable, "-c", code, "data", "list"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert (done.returncode, done.stdout) == (0, expected)
    bad = subprocess.run([sys.executable, "-c", code, "data", "list", "--source", "nope"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "error: backtest data list: argument --source: invalid choice: 'nope' (choose from 'snapshot', "
        "'csv', 'yahoo', 'parquet'); see 'backtest data list --help'"
    ]
