"""The second process of ``backtest run`` (backtest.background): same results, same warnings,
errors as here, and a dead worker is not a failure."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from backtest import background
from backtest.errors import BacktestWarning, ParameterError


class _Note(BacktestWarning):
    """A warning class of the package, as the strategy step raises them."""


def _pid_warning_twice(value: int) -> tuple[int, int]:
    warnings.warn("first", _Note, stacklevel=1)
    warnings.warn("second", UserWarning, stacklevel=1)
    return os.getpid(), value * 2


def _bad_parameter() -> None:
    raise ParameterError("--grid hold=x: not a number; give integers, e.g. hold=1,5")


def _dies_unless_in(pid: int) -> str:
    if os.getpid() != pid:
        os._exit(1)  # the worker dies without a word, as when the system kills it
    return "ran here"


def test_a_call_the_worker_has_not_started_is_taken_back():
    with background.second_process((("json",), ())):
        first = background.submit(os.getpid)
        queued = [background.submit(os.getpid) for _ in range(5)]
        # the last ones wait behind the first (one worker, two calls queued at most): run here
        assert queued[-1].result() == os.getpid()
        assert first.result(take_back=False) != os.getpid()


def test_without_a_worker_the_call_runs_here_when_asked():
    calls = []
    pending = background.submit(calls.append, 1)
    assert calls == []  # nothing runs before the result is asked for (where the step ran before)
    pending.result()
    assert calls == [1]


def test_the_worker_runs_the_call_and_its_warnings_come_back_in_order():
    with background.second_process((("json",), ())):
        pending = background.submit(_pid_warning_twice, 21)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pid, value = pending.result(take_back=False)
    assert pid != os.getpid() and value == 42
    assert [(w.category, str(w.message)) for w in caught] == [(_Note, "first"), (UserWarning, "second")]


def test_an_error_in_the_worker_is_raised_here_as_it_was():
    with background.second_process((("json",), ())):
        pending = background.submit(_bad_parameter)
        with pytest.raises(ParameterError, match=r"^--grid hold=x: not a number"):
            pending.result(take_back=False)


def test_a_worker_that_dies_is_replaced_by_this_process():
    with background.second_process((("json",), ())):
        assert background.submit(_dies_unless_in, os.getpid()).result(take_back=False) == "ran here"
        # the pool is broken now: later calls run here too, without an error
        assert background.submit(_dies_unless_in, os.getpid()).result() == "ran here"


def test_run_with_the_second_process_writes_the_same_bytes(tmp_path: Path, monkeypatch, capsys):
    from backtest.cli import main

    used = []
    result = background.Pending.result

    def spy(self: background.Pending, take_back: bool = True) -> object:
        used.append(self._future is not None)
        return result(self, take_back)

    monkeypatch.setattr(background.Pending, "result", spy)
    monkeypatch.setattr(background, "free_core", lambda: True)  # a busy test machine: start it anyway
    argv = ["run", "--symbols", "NVDA", "--event", "deepseek_r1", "--event", "us_tariff_pause",
            "--grid", "hold=1,5", "--quiet"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "two")]) == 0
    warned_two = capsys.readouterr().err
    handed, used[:] = list(used), []
    monkeypatch.setattr(background, "PRELOAD", {})  # no second process: the steps run here
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    # the strategy, each chart, the workbook and the LaTeX: handed over in the first run, not in the second
    assert len(handed) == len(used) >= 10 and all(handed) and not any(used)
    assert capsys.readouterr().err == warned_two
    names = sorted(p.name for p in (tmp_path / "one").iterdir() if p.suffix in {".csv", ".json", ".md"})
    assert len(names) > 20
    for name in names:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_bad_input_stops_the_worker_at_once(tmp_path: Path, capsys, monkeypatch):
    import multiprocessing

    from backtest.cli import main

    started = []
    second_process = background.second_process

    def spy(preload: object) -> object:
        started.append(preload is not None)
        return second_process(preload)

    monkeypatch.setattr(background, "free_core", lambda: True)
    monkeypatch.setattr(background, "second_process", spy)

    # the worker is still importing vectorbt when the events file turns out to be missing: the
    # command prints its one line and returns without waiting for it, and leaves no process behind
    assert main(["run", "--events", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert started == [True] and multiprocessing.active_children() == []


def test_a_busy_machine_gets_no_second_process(monkeypatch):
    monkeypatch.setattr(background, "free_core", lambda: False)
    assert background.wants_second_process("run", ["run"]) is None
    monkeypatch.setattr(background, "free_core", lambda: True)
    assert background.wants_second_process("run", ["run"]) == background.PRELOAD["run"]


def test_a_call_with_too_much_data_runs_here(monkeypatch):
    import numpy as np

    monkeypatch.setattr(background, "MAX_SHIPPED_BYTES", 1000)
    with background.second_process((("json",), ())):
        small = background.submit(_pid_of, np.zeros(10))  # 80 bytes: to the worker
        large = background.submit(_pid_of, {"bars": np.zeros(1000)})  # 8,000 bytes: stays here
        assert small.result(take_back=False) != os.getpid()
        assert large.result(take_back=False) == os.getpid()


def _pid_of(_data: object) -> int:
    return os.getpid()


def test_one_usable_core_is_never_free(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert background.free_core() is False


@pytest.mark.parametrize(("runnable", "free"), [
    ([2, 1], True),  # a task that ran for an instant: the second reading sees the core free
    ([2, 2, 2], False),  # busy at every reading: the other core is taken
    ([1], True),
])
def test_a_core_is_free_when_one_of_three_readings_says_so(monkeypatch, runnable, free):
    import io

    readings = iter(runnable)
    read: list[int] = []

    def loadavg(path: str) -> io.StringIO:
        assert path == "/proc/loadavg"
        read.append(next(readings))
        return io.StringIO(f"0.50 0.40 0.30 {read[-1]}/180 4242\n")

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(background, "open", loadavg, raising=False)
    monkeypatch.setattr(background.time, "sleep", lambda _s: None)
    assert background.free_core() is free
    assert read == runnable  # no reading after the first that finds a core free


def test_a_program_read_from_stdin_runs_without_a_worker_and_without_a_traceback():
    import subprocess
    import sys

    # a spawned worker re-imports __main__ from its file; "python -" has none ("<stdin>")
    program = (
        "import os\nfrom backtest import background\n"
        "with background.second_process((('json',), ())):\n"
        "    print(background.submit(os.getpid).result(take_back=False) == os.getpid())\n"
    )
    done = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True" and "Traceback" not in done.stderr


def test_a_program_that_exits_without_teardown_leaves_no_warning_of_leaked_semaphores(tmp_path: Path):
    import subprocess
    import sys

    # the console script ends with os._exit (backtest.cli.entry): the worker's queues must be
    # released before, or multiprocessing's resource tracker warns of them after the command;
    # whether a thread of the executor was still releasing them is a race, so five workers
    program = tmp_path / "job.py"
    program.write_text(
        "import os, threading\nfrom backtest import background\n"
        "if __name__ == '__main__':\n"
        "    for _ in range(5):\n"
        "        with background.second_process((('json',), ())):\n"
        "            ran_there = background.submit(os.getpid).result(take_back=False) != os.getpid()\n"
        "        print(ran_there, [thread.name for thread in threading.enumerate()], flush=True)\n"
        "    os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, check=True)
    # each worker ran its call, and no thread of its executor is left once it is stopped
    assert done.stdout.splitlines() == ["True ['MainThread']"] * 5
    assert done.stderr == ""


def _note_run(path: str, index: int, seconds: float = 0.0) -> int:
    import time

    time.sleep(seconds)
    with open(path, "a") as runs:
        runs.write(f"{index} {os.getpid()}\n")
    return os.getpid()


def test_a_call_taken_back_is_not_run_again_by_the_worker(tmp_path: Path):
    runs = tmp_path / "runs.txt"
    with background.second_process((("json",), ())):
        calls = [background.submit(_note_run, str(runs), i, 0.2) for i in range(6)]
        pids = [call.result() for call in reversed(calls)]  # the last ones are taken back here
        # a last call waits for the worker to reach the end of its queue (it takes them in order)
        background.submit(_note_run, str(runs), 6).result(take_back=False)
    lines = runs.read_text().split()
    ran = sorted(int(index) for index in lines[::2])
    assert ran == list(range(7))  # each call once: the worker skipped those taken back
    assert os.getpid() in pids and set(pids) - {os.getpid()}  # both processes ran some


def test_while_it_waits_for_the_worker_this_process_runs_the_calls_after_it(tmp_path: Path):
    runs = tmp_path / "runs.txt"
    with background.second_process((("json",), ())):
        first = background.submit(_note_run, str(runs), 0, 1.0)  # the worker is busy for a second
        later = [background.submit(_note_run, str(runs), i) for i in (1, 2, 3)]
        assert first.result(take_back=False) != os.getpid()
        # all three ran here while this process waited for the first, the last first
        assert [line.split()[0] for line in runs.read_text().splitlines()] == ["3", "2", "1", "0"]
        assert [call.result() for call in later] == [os.getpid()] * 3


def _warn_and_fail() -> None:
    warnings.warn("before the error", _Note, stacklevel=1)
    raise ParameterError("--grid hold=x: not a number")


def test_a_call_run_here_while_waiting_keeps_its_warnings_and_error_for_its_result(tmp_path: Path):
    with background.second_process((("json",), ())):
        first = background.submit(_note_run, str(tmp_path / "runs.txt"), 0, 1.0)
        failing = background.submit(_warn_and_fail)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first.result(take_back=False)  # runs the failing call meanwhile: nothing raised yet
            assert caught == []
            with pytest.raises(ParameterError, match="not a number"):
                failing.result()
    assert [str(w.message) for w in caught] == ["before the error"]
