"""Hostile inputs through the CLI: every one must end cleanly (a result, or one line and exit 2).

Run: ``python benchmarks/hostile_inputs.py [--only CLASS] [--subprocess] > table.md``. Each
case calls the CLI's ``main(argv)`` (``--subprocess``: ``python -m backtest.cli`` in a fresh
process each, slower) in a scratch working directory and is *clean* when
the exit code is the expected one, nothing on stderr is a traceback, an error is exactly one
``error: ...`` line, and no matplotlib glyph warning appears. Prints a Markdown table (class,
command, exit code, first line of stderr, clean) and exits 1 if any case is not clean.

As root, file permissions do not stop reads, so "unreadable" files are ``/proc/self/mem``
(reading it fails with EIO) and read-only directories are made immutable (``chattr +i``),
which stops root too; as another user ``chmod`` does it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
HEADER = "event_id,name,announced_at,kind\n"
OK_ROW = "e1,Fine,2025-01-27T08:00:00-05:00,shock\n"
BARS = "date,open,high,low,close,adj_close,volume\n"


PRICE_FILES = {
    "b1": BARS + "2025-01-02,1\x00,1,1,1,1,1\n",
    "b2": BARS + "2025-01-02,-1,1,1,1,1,1\n",
    "b3": BARS + "2025-01-02,1,1,1,1,1,1\n2025-01-02,1,1,1,1,1,1\n",
    "b4": "<!DOCTYPE html><html><body>Will be right back</body></html>\n",
    "b5": BARS,
    "b6": os.urandom(2048),
    "b7": BARS + "2025-01-02," + "9" * 2_000_000 + ",1,1,1,1,1\n",
    "b8": BARS + "2025-01-03,1,1,1,1,1,1\n2025-01-02,1,1,1,1,1,1\n",
    "b9": BARS + "2025-01-02,inf,inf,inf,inf,,1\n",
    "b10": BARS + '2025-01-02,"1,1,1,1,1,1\n',
}


def _write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


def _bars_dir(base: Path, name: str, nvda: str) -> str:
    """A csv dir with the snapshot's SPY and a hostile NVDA.csv."""
    from backtest.sources.snapshot import snapshot_dir

    directory = base / name
    directory.mkdir()
    shutil.copy(Path(snapshot_dir()) / "SPY.csv", directory / "SPY.csv")
    _write(directory / "NVDA.csv", nvda)
    return str(directory)


def build_cases(base: Path) -> list[tuple[str, list[str], int]]:
    """(class, argv after 'backtest', expected exit code)."""
    ev = lambda name, body: _write(base / name, HEADER + body)  # noqa: E731
    unreadable = "/proc/self/mem" if ROOT else _write(base / "noread.csv", HEADER + OK_ROW)
    if not ROOT:
        os.chmod(unreadable, 0)
    afile = _write(base / "afile.txt", "not a directory")
    adir = base / "adir"
    adir.mkdir()
    readonly = base / "readonly"
    readonly.mkdir()
    home = base / "home"
    home.mkdir()
    _write(home / "thesis.tex", "precious")
    good = ev("good.csv", OK_ROW)
    cjk = ev(
        "cjk.csv",
        "kr,딥시크 충격 🚀,2025-01-27T08:00:00-05:00,shock\njp,ディープシーク 深度求索 📉,"
        "2025-04-02T16:00:00-04:00,shock\n",
    )
    closures_open = _write(
        base / "closures_open.csv", 'calendar,date,action,note\nXKRX,2026-06-03,add_closure,"vote\n'
    )
    closures_nul = _write(
        base / "closures_nul.csv", "calendar,date,action,note\nXKRX,2026-06-03,add_closure,v\x00\n"
    )
    os.symlink(base / "nowhere.csv", base / "dangling.csv")
    noread_bars = _bars_dir(base, "bars_noread", BARS + "2025-01-02,1,1,1,1,1,1\n")
    if not ROOT:
        os.chmod(Path(noread_bars) / "NVDA.csv", 0)
    else:  # a directory where the file should be: also an OSError on a user-named path
        os.remove(Path(noread_bars) / "NVDA.csv")
        (Path(noread_bars) / "NVDA.csv").mkdir()
    cache = base / "cache"
    cache.mkdir()
    _write(cache / "NVDA.parquet", b"PAR1 this is not parquet")
    big_grid = [
        "hold=" + ",".join(str(i) for i in range(1, 101)),
        "threshold=" + ",".join(f"0.{i:03d}" for i in range(1, 101)),
        "stop=" + ",".join(f"0.{i:03d}" for i in range(1, 101)),
    ]

    cases: list[tuple[str, list[str], int]] = [
        # -- file system: one line naming the path and the fix, exit 2, in under a second
        ("file system", ["events", unreadable], 2),
        ("file system", ["events", str(adir)], 2),
        ("file system", ["events", str(base / "missing.csv")], 2),
        ("file system", ["events", str(base / "dangling.csv")], 2),
        ("file system", ["study", "--events", unreadable], 2),
        ("file system", ["events", good, "--closures", str(adir)], 2),
        ("file system", ["events", good, "--closures", unreadable], 2),
        ("file system", ["run", "--quiet", "--out", afile], 2),
        ("file system", ["run", "--quiet", "--out", afile + "/sub"], 2),
        ("file system", ["run", "--quiet", "--out", str(readonly / "out")], 2),
        ("file system", ["run", "--quiet", "--out", str(home)], 2),
        ("file system", ["run", "--quiet", "--out", "."], 2),
        ("file system", ["study", "--csv", str(base / "missing_dir" / "car.csv")], 2),
        ("file system", ["study", "--json", str(adir)], 2),
        ("file system", ["study", "--csv", str(readonly / "car.csv")], 2),
        ("file system", ["study", "--source", "csv", "--csv-dir", noread_bars, "--symbols", "NVDA"], 2),
        ("file system", ["data", "list", "--source", "csv", "--csv-dir", afile], 2),
        ("file system", ["study", "--source", "csv", "--csv-dir", str(base / "nodir")], 2),
        ("file system", ["run", "--quiet", "--out", str(base / "held")], 2),  # another run holds it
        # -- sizes: refused before allocating, with the size and the option that raises the limit
        ("sizes", ["study", "--window", "0:1000000000"], 2),
        ("sizes", ["study", "--estimation", "-1000000000:-11"], 2),
        ("sizes", ["study", "--car", "0:99999999"], 2),
        ("sizes", ["run", "--quiet", "--out", str(base / "o1"), "--grid", *big_grid], 2),
        ("sizes", ["run", "--quiet", "--out", str(base / "o2"), "--max-memory", "1K"], 2),
        ("sizes", ["run", "--quiet", "--out", str(base / "o3"), "--max-memory", "lots"], 2),
        ("sizes", ["trade", "buy_the_dip", "--horizon", "100000000"], 2),
        ("sizes", ["trade", "buy_the_dip", "--grid", *big_grid], 2),
        ("sizes", ["study", "--window", "-5:9000", "--max-memory", "1M"], 2),
        # -- terminal markup from files: printed as written
        ("markup", ["events", ev("m1.csv", 'e1,"Crash [/]",2025-01-27,shock\n'), "--symbols", "NVDA"], 0),
        (
            "markup",
            [
                "events",
                ev("m2.csv", "e1,[link=https://example.com]x[/link],2025-01-27,shock\n"),
                "--symbols",
                "NVDA",
            ],
            0,
        ),
        (
            "markup",
            ["events", ev("m3.csv", "e1,[bold red]loud :smile:,2025-01-27,shock\n"), "--symbols", "NVDA"],
            0,
        ),
        ("markup", ["events", ev("m4.csv", "e1,\x1b[31mred\x1b[0m,2025-01-27,shock\n")], 2),
        # -- yahoo: downloader and cache failures in one line naming the symbol / the file
        ("yahoo", ["study", "--source", "yahoo", "--cache-dir", str(cache), "--symbols", "NVDA"], 2),
        ("yahoo", ["data", "list", "--source", "yahoo", "--cache-dir", afile], 2),
        (
            "yahoo",
            [
                "data",
                "fetch",
                "NVDA",
                "--source",
                "yahoo",
                "--cache-dir",
                str(base / "c2"),
                "--end",
                "2020-01-01",
                "--start",
                "2021-01-01",
            ],
            2,
        ),
        ("yahoo", ["data", "fetch", "NVDA", "--source", "yahoo", "--cache-dir", str(base / "c4")], 2),
        ("yahoo", ["study", "--source", "yahoo", "--cache-dir", afile, "--symbols", "NVDA"], 2),
        ("yahoo", ["data", "fetch", "NOT/A/TICKER", "--source", "yahoo", "--cache-dir", str(base / "c3")], 2),
        # -- silently accepted before: now refused (or neutralized) with file/line/column
        ("accepted", ["events", ev("s1.csv", "e1,Crash\x00,2025-01-27,shock\n")], 2),
        (
            "accepted",
            [
                "events",
                _write(
                    base / "s2.csv",
                    "event_id,name,announced_at,kind,description\ne1,A,2025-01-27,shock,bell\x07\n",
                ),
            ],
            2,
        ),
        ("accepted", ["events", ev("s3.csv", "e\x001,A,2025-01-27,shock\n")], 2),
        ("accepted", ["events", good, "--closures", closures_open], 2),
        ("accepted", ["events", good, "--closures", closures_nul], 2),
        ("accepted", ["study", "--benchmark", "NVDA=NVDA", "--symbols", "NVDA"], 2),
        ("accepted", ["study", "--benchmark", "NVDA=QQQ", "--benchmark", "NVDA=SPY"], 2),
        (
            "accepted",
            ["events", ev("s4.csv", "e1,\"=cmd|' /C calc'!A0\",2025-01-27,shock\n"), "--symbols", "NVDA"],
            0,
        ),
        (
            "accepted",
            ["events", ev("s5.csv", "e1,<script>alert(1)</script>,2025-01-27,shock\n"), "--symbols", "NVDA"],
            0,
        ),
        # -- misleading messages, corrected
        ("messages", ["events", ev("q1.csv", 'e1,"Open quote,2025-01-27,shock\ne2,B,2025-01-28,shock\n')], 2),
        ("messages", ["study", "--window", "-300:20"], 2),
        ("messages", ["study", "--window", "20:-300"], 2),
        ("messages", ["events", ev("q2.csv", "e1," + "x" * 2_000_000 + ",2025-01-27,shock\n")], 2),
        # -- noise: CJK and emoji names
        ("noise", ["events", cjk, "--symbols", "NVDA", "000660.KS", "285A.T"], 0),
        (
            "noise",
            ["run", "--quiet", "--events", cjk, "--symbols", "NVDA", "--out", str(base / "cjk_out")],
            0,
        ),
        # -- events files of every other shape
        ("events", ["events", _write(base / "empty.csv", "")], 2),
        ("events", ["events", _write(base / "bom.csv", "\ufeff")], 2),
        ("events", ["events", _write(base / "header.csv", HEADER)], 2),
        ("events", ["events", _write(base / "random.bin", os.urandom(4096))], 2),
        ("events", ["events", _write(base / "utf16.csv", (HEADER + OK_ROW).encode("utf-16"))], 2),
        (
            "events",
            [
                "events",
                _write(base / "latin1.csv", (HEADER + "e1,Caf\xe9,2025-01-27,shock\n").encode("latin-1")),
            ],
            2,
        ),
        ("events", ["events", ev("dup.csv", OK_ROW + OK_ROW)], 2),
        ("events", ["events", ev("tz.csv", "e1,A,2025-01-27T08:00,shock\n")], 0),
        (
            "events",
            [
                "events",
                _write(
                    base / "mars.csv",
                    "event_id,name,announced_at,kind,timezone\ne1,A,2025-01-27T08:00,shock,Mars/Olympus\n",
                ),
            ],
            2,
        ),
        ("events", ["events", ev("y1900.csv", "e1,A,1900-01-01,shock\n")], 2),
        ("events", ["events", ev("feb30.csv", "e1,A,2025-02-30,shock\n")], 2),
        ("events", ["events", ev("kind.csv", "e1,A,2025-01-27,crash\n")], 2),
        (
            "events",
            [
                "events",
                _write(
                    base / "js.csv",
                    "event_id,name,announced_at,kind,source\ne1,A,2025-01-27,shock,javascript:alert(1)\n",
                ),
            ],
            2,
        ),
        (
            "events",
            [
                "events",
                _write(
                    base / "sym.csv",
                    "event_id,name,announced_at,kind,symbols\ne1,A,2025-01-27,shock,NVDA;rm -rf\n",
                ),
            ],
            2,
        ),
        ("events", ["events", ev("path.csv", "../../etc/passwd,A,2025-01-27,shock\n")], 2),
        (
            "events",
            [
                "events",
                _write(
                    base / "wide.csv",
                    HEADER.strip() + "," + ",".join(f"c{i}" for i in range(10000)) + "\n" + OK_ROW,
                ),
            ],
            0,
        ),
        ("events", ["events", ev("fields.csv", "e1,A,2025-01-27,shock,extra,more\n")], 2),
        (
            "events",
            [
                "events",
                _write(
                    base / "dst.csv",
                    "event_id,name,announced_at,kind,timezone\n"
                    "e1,A,2025-03-09T02:30:00,shock,America/New_York\n",
                ),
            ],
            2,
        ),
        # -- price CSV files (--source csv)
        # -- options and grids
        ("options", ["trade", "buy_the_dip", "--grid", "hold=0"], 2),
        ("options", ["trade", "buy_the_dip", "--grid", "hold=1,1"], 2),
        ("options", ["trade", "buy_the_dip", "--grid", "stop=abc"], 2),
        ("options", ["trade", "buy_the_dip", "--grid", "nosuch=1"], 2),
        ("options", ["trade", "buy_the_dip", "--grid", "="], 2),
        ("options", ["trade", "buy_the_dip", "--fees", "1"], 2),
        ("options", ["study", "--model", "capm"], 2),
        ("options", ["run", "--quiet", "--strategy", "nope", "--out", str(base / "o4")], 2),
        ("options", ["study", "--symbols", "../../x"], 2),
        ("options", ["study", "--event", "nope"], 2),
        ("options", ["study", "--car", ""], 2),
        ("options", ["study", "--min-estimation", "0"], 2),
        ("options", ["events", "--symbols", "NVDA\x00"], 2),
    ]
    # -- price CSV files (--source csv): one hostile NVDA.csv each
    for name, text in PRICE_FILES.items():
        csv_dir = _bars_dir(base, name, text)
        cases.append(("prices", ["study", "--source", "csv", "--csv-dir", csv_dir, "--symbols", "NVDA"], 2))
    # made immutable last: stops root from creating files in it
    if ROOT:
        subprocess.run(["chattr", "+i", str(readonly)], check=False)
    else:
        os.chmod(readonly, 0o555)
    return cases


# Another run writing into --out: holds the target until killed.
HOLDER = """
import sys, time
from backtest.report.output import open_output
with open_output(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(3600)
"""


def run_case(argv: list[str], cwd: Path, env: dict[str, str], fresh: bool) -> tuple[int, str, float]:
    start = time.perf_counter()
    if fresh:
        proc = subprocess.run(
            [sys.executable, "-m", "backtest.cli", *argv], cwd=cwd, env=env, capture_output=True,
            text=True, errors="replace", timeout=900,
        )  # fmt: skip
        return proc.returncode, proc.stderr, time.perf_counter() - start
    import contextlib
    import io
    import traceback

    from backtest.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException:  # a bug: shown as the traceback the user would see
            traceback.print_exc()
            code = 1
    return code, err.getvalue(), time.perf_counter() - start


def is_clean(code: int, expected: int, stderr: str) -> bool:
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    if code != expected or "Traceback" in stderr or "Glyph" in stderr:
        return False
    return len(errors) == 1 if code == 2 else not errors


def shown(argv: list[str], base: Path) -> str:
    text = " ".join(a if len(a) < 60 else a[:40] + "…" for a in argv).replace(str(base) + "/", "")
    return text.replace("\x00", "\\x00").replace("\x07", "\\x07").replace("\x1b", "\\x1b").replace("|", "\\|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the cases of this class")
    parser.add_argument("--subprocess", action="store_true", help="a fresh process per case")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hostile."))
    work = base / "work"
    work.mkdir()
    _write(work / "notes.txt", "a user's own file in the working directory")
    env = dict(
        os.environ,
        COLUMNS="100",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        BACKTEST_CACHE_DIR=str(base / "default_cache"),
    )
    os.environ.update(env)  # in-process cases read the same environment
    os.chdir(work)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(base / "held")], stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()  # "holding": the other run has the lock
        cases = build_cases(base)
        if args.only:
            cases = [case for case in cases if case[0] == args.only]
        print("| # | class | command | exit | first line of stderr | clean |")
        print("|---:|---|---|---:|---|---|")
        unclean = 0
        for number, (kind, argv, expected) in enumerate(cases, 1):
            code, stderr, _seconds = run_case(argv, work, env, args.subprocess)
            lines = [line for line in stderr.splitlines() if line.strip()]
            first = (lines or [""])[0].replace(str(base) + "/", "")
            first = first if len(first) <= 160 else first[:157] + "..."
            clean = is_clean(code, expected, stderr)
            unclean += not clean
            cell = first.replace("|", "\\|").replace("\x1b", "\\x1b")
            verdict = "yes" if clean else "**NO**"
            command = f"`backtest {shown(argv, base)}`"
            print(f"| {number} | {kind} | {command} | {code} | {cell} | {verdict} |", flush=True)
        print(f"\n{len(cases)} cases, {len(cases) - unclean} clean, {unclean} not clean")
        return 1 if unclean else 0
    finally:
        holder.kill()
        holder.wait()
        if ROOT:
            subprocess.run(["chattr", "-i", str(base / "readonly")], check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
