"""The output writer: one set, swapped in whole, locked, checked before any work."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backtest.errors import OutputError
from backtest.report import output as output_module
from backtest.report.output import MARKER, check_file_target, open_output, write_file


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _write_set(target: Path, tag: str, n: int = 25) -> None:
    with open_output(target) as out:
        for i in range(n):
            out.write_text(f"table_{i:02d}.csv", f"run,{tag}\n{i},{tag * 100}\n")


def test_set_replaces_previous_set_whole(tmp_path):
    target = tmp_path / "out"
    _write_set(target, "first", n=25)
    _write_set(target, "second", n=3)  # a smaller set: no stale file of the first survives
    assert sorted(_snapshot(target)) == [MARKER, "table_00.csv", "table_01.csv", "table_02.csv"]
    assert (target / "table_02.csv").read_text() == "run,second\n2," + "second" * 100 + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging dir, old set or lock left


def test_disk_full_halfway_leaves_previous_set_byte_identical(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _write_set(target, "good")
    before = _snapshot(target)
    real_open = Path.open
    calls = {"n": 0}

    def full_disk(self, mode="r", *args, **kwargs):
        if "w" in mode and ".tmp" in str(self.parent.name):
            calls["n"] += 1
            if calls["n"] == 21:  # the 21st file of the new set
                raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _write_set(target, "bad")
    monkeypatch.undo()
    assert calls["n"] == 21
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failing_swap_leaves_previous_set_byte_identical(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _write_set(target, "good")
    before = _snapshot(target)
    real_replace = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp"):  # moving the new set in fails; moving the old one aside worked
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(output_module.os, "replace", replace)
    with pytest.raises(OutputError, match="previous outputs are unchanged"):
        _write_set(target, "bad")
    monkeypatch.undo()
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_exception_during_the_work_keeps_previous_set(tmp_path):
    target = tmp_path / "out"
    _write_set(target, "good")
    before = _snapshot(target)
    with pytest.raises(ZeroDivisionError), open_output(target) as out:
        out.write_text("table_00.csv", "half\n")
        _ = 1 / 0
    assert _snapshot(target) == before


def test_second_writer_is_refused_while_first_holds_the_target(tmp_path):
    target = tmp_path / "out"
    with open_output(target) as first:
        first.write_text("a.csv", "from first\n")
        with pytest.raises(OutputError, match="another backtest run is writing there"):
            open_output(target)
        first.write_text("b.csv", "from first\n")
    assert _snapshot(target) == {MARKER: (target / MARKER).read_bytes(), "a.csv": b"from first\n",
                                 "b.csv": b"from first\n"}
    _write_set(target, "later", n=1)  # released: a later run gets it
    assert sorted(_snapshot(target)) == [MARKER, "table_00.csv"]


def test_concurrent_process_is_refused_and_nothing_mixes(tmp_path):
    target = tmp_path / "out"
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = textwrap.dedent(
        f"""
        import time, pathlib
        from backtest.report.output import open_output
        with open_output({str(target)!r}) as out:
            out.write_text("strategy_a.csv", "a\\n")
            pathlib.Path({str(ready)!r}).touch()
            while not pathlib.Path({str(release)!r}).exists():
                time.sleep(0.01)
            out.write_text("results.json", "a\\n")
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder])
    try:
        while not ready.exists():
            assert process.poll() is None, "holder process died"
        with pytest.raises(OutputError, match="another backtest run"):
            with open_output(target) as out:
                out.write_text("strategy_b.csv", "b\n")
    finally:
        release.touch()
        process.wait(timeout=60)
    assert process.returncode == 0
    assert sorted(_snapshot(target)) == [MARKER, "results.json", "strategy_a.csv"]


def test_target_checks(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        open_output(afile)
    with pytest.raises(OutputError, match="afile is a file, not a directory"):
        open_output(afile / "sub" / "out")
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not a backtest output directory"):
        open_output(home)
    assert (home / "thesis.tex").read_text() == "precious"
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    for target in (".", "", "..", tmp_path / "cwd"):
        with pytest.raises(OutputError, match="is the working directory or above it"):
            open_output(target)
    empty = tmp_path / "empty"
    empty.mkdir()
    _write_set(empty, "x", n=1)  # an empty directory is fine
    assert afile.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == [
        "afile", "cwd", "empty", "home"]


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _write_set(tmp_path / "out", "x", n=1)
        write_file(tmp_path / "single.csv", "a\n", "--csv")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "out" / "table_00.csv").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "single.csv").stat().st_mode & 0o777 == 0o640


def test_single_file_target_checks(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_file_target(tmp_path / "missing" / "car.csv", "--csv")
    with pytest.raises(OutputError, match="is a directory"):
        check_file_target(tmp_path, "--json")
    path = write_file(tmp_path / "car.csv", "a,b\n", "--csv")
    assert path.read_text() == "a,b\n" and sorted(p.name for p in tmp_path.iterdir()) == ["car.csv"]


def test_run_refuses_a_bad_out_before_any_work(tmp_path, monkeypatch, capsys):
    from backtest import pipeline
    from backtest.cli import main

    def no_work(*args, **kwargs):
        raise AssertionError("run_all must not start when --out is unusable")

    monkeypatch.setattr(pipeline, "run_all", no_work)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "below"):
        assert main(["run", "--quiet", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --out ") and "is a file" in err


def test_every_commands_out_lands_as_one_set(tmp_path, capsys):
    from backtest.cli import main

    target = tmp_path / "out"
    _write_set(target, "good")
    before = _snapshot(target)
    assert main(["study", "--model", "capm", "--out", str(target)]) == 2  # fails: previous set kept
    assert capsys.readouterr().err.startswith("error: model 'capm' is unknown")
    assert _snapshot(target) == before
    assert main(["events", "--symbols", "NVDA", "--out", str(target)]) == 0  # succeeds: replaced whole
    assert sorted(_snapshot(target)) == [MARKER, "alignment.csv", "alignment.parquet", "events.csv",
                                         "events.parquet", "results.json"]
