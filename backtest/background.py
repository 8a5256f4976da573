"""A second process for a step that needs none of the others' results: the machine's other core.

``backtest run`` spends about 3 s on the strategy step alone: importing vectorbt (which brings
plotly, scikit-learn and IPython) and simulating the grid. That step needs only the prices and
the alignment, not the study or recovery. So the CLI starts one spawned worker process as the
command starts (:func:`second_process`); the worker imports what the step needs while this
process imports its own libraries, then runs the step while this one runs the study, inference
and recovery. The report's charts are shared the same way: the worker draws them from the first,
this process from the last, while it writes the tables. The results are the same, byte for
byte: the worker runs the same functions on the same inputs.

:func:`submit` hands a call to that worker, or, with no worker running (Python API, tests, a
Dask scheduler doing the mapping, ``--help``), runs it here when its result is asked for, where
it ran before. Each call runs once, in one process: the worker claims a call as it starts it,
and this process takes back one the worker has not started when it asks for its result, or
while it waits for the worker's (a slot per call, in memory both share, says who has it). The
warnings a call raises (and its error) are raised here when the result is taken, in order, so
the run warns exactly as before. A worker that dies (killed, out of memory) is not a failure:
the call runs again here.

Example
-------
>>> submit(abs, -2).result()  # no worker running: computed here
2
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a worker starts: every command imports this module
    from concurrent.futures import Future, ProcessPoolExecutor

Preload = tuple[tuple[str, ...], tuple[str, ...]]

#: Command -> the modules its worker imports: as it starts (what the first call it gets needs,
#: the strategy step's), then once that call is handed over (the charts'). Not the workbook's
#: (openpyxl): this process takes the workbook back while it waits for the strategy.
PRELOAD: dict[str, Preload] = {
    "run": (("backtest.trade", "vectorbt"), ("backtest.report.figures", "matplotlib.figure",
                                             "matplotlib.backends.backend_svg")),
}

#: A call whose data (arrays, tables) exceed this runs here: copying it to the worker would cost
#: more time and memory than the other core saves. The default job ships about 1 MB.
MAX_SHIPPED_BYTES = 256 * 2**20

#: Readings of the runnable tasks before :func:`free_core` calls the other core busy.
READINGS = 3

#: Calls handed to one worker that either process can claim (later ones are the worker's).
SLOTS = 1024
_QUEUED, _STARTED, _TAKEN = 0, 1, 2  # a slot's states: claimed by the worker, or taken back here

_executor: ProcessPoolExecutor | None = None
_handed: list[Pending] = []  # the calls the running worker was given, in order
_then: tuple[str, ...] = ()  # what it imports after the first call it is given
_slots: Any = None  # multiprocessing Array of SLOTS states, shared with the worker


def _import(modules: Sequence[str]) -> None:
    """Import ``modules`` in the worker without the collector, then freeze what they made
    (:func:`~backtest.collector.quiet_import`): vectorbt's import is on the way to the strategy."""
    from backtest.collector import quiet_import

    for name in modules:
        quiet_import(name, freeze=True)


def _start(slots: Any, modules: Sequence[str]) -> None:
    """The worker's initializer: the shared slots, then the first imports."""
    global _slots
    _slots = slots
    _import(modules)


def _claim(slot: int | None, state: int) -> bool:
    """Mark a queued call started (by the worker) or taken back (here); False if the other
    process has it. A call without a slot is the worker's; with the worker stopped, this one's."""
    if _slots is None:
        return state == _TAKEN
    if slot is None:
        return state == _STARTED
    with _slots.get_lock():
        if _slots[slot] != _QUEUED:
            return False
        _slots[slot] = state
        return True


def data_bytes(value: Any, depth: int = 0) -> int:
    """About how many bytes of arrays and tables ``value`` holds (what pickling it copies):
    numpy arrays, pandas objects, and those inside containers, partials and plain objects.

    >>> import numpy as np
    >>> data_bytes(({"a": np.zeros(1000)}, [np.ones((10, 10))]))
    8800
    """
    if depth > 8:  # deep enough for a chart's partial's tables; guards against cycles
        return 0
    if hasattr(value, "memory_usage") and hasattr(value, "columns"):  # a DataFrame (pandas stays lazy)
        return int(value.memory_usage(index=True).sum())
    if isinstance(getattr(value, "nbytes", None), int):  # numpy arrays, pandas Series and Index
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(data_bytes(item, depth + 1) for item in value.values())
    if isinstance(value, list | tuple):
        return sum(data_bytes(item, depth + 1) for item in value)
    if isinstance(value, functools.partial):
        return data_bytes((value.args, value.keywords), depth + 1)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return data_bytes(vars(value), depth + 1)
    return 0


Caught = list[tuple[type[Warning], str]]


Outcome = tuple[Any, Caught, Exception | None]  # a call's value, its warnings, its error


def _call(slot: int | None, func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Outcome:
    """Run ``func`` in the worker unless it was taken back (see :func:`_outcome`)."""
    if not _claim(slot, _STARTED):
        return None, [], None  # run by the other process meanwhile: nobody takes this value
    return _outcome(func, args, kwargs)


def _outcome(func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Outcome:
    """Run ``func``; its value, the warnings it raised and the error it raised, for the caller
    to raise when it takes the result."""
    value, error = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = func(*args, **kwargs)
        except Exception as raised:
            error = raised
    return value, [(w.category, str(w.message)) for w in caught], error


def wants_second_process(command: str | None, argv: Sequence[str]) -> Preload | None:
    """What the worker preloads for this command line (:data:`PRELOAD`), or None when it gets
    no second process: a command without a second-process step, ``--help``, a Dask scheduler
    (which maps the step's units itself), or no free core (:func:`free_core`).

    >>> wants_second_process("run", ["run", "--out", "o"]) in (PRELOAD["run"], None)
    True
    >>> wants_second_process("run", ["run", "--scheduler", "local:2"]), wants_second_process("study", [])
    (None, None)
    """
    if command not in PRELOAD or {"-h", "--help"} & set(argv):
        return None
    words = list(argv)
    for i, word in enumerate(words):
        value = word.partition("=")[2] if word.startswith("--scheduler=") else None
        if word == "--scheduler" and i + 1 < len(words):
            value = words[i + 1]
        if value is not None and value.strip() != "inline":
            return None
    return PRELOAD[command] if free_core() else None


def free_core() -> bool:
    """True when another core is free now. On a busy machine the worker would only add the
    imports it repeats (pandas, numba, matplotlib: about 3 s of CPU) to everyone's load.

    Linux: fewer runnable tasks, this one included, than usable cores (``/proc/loadavg``, an
    instant count, not an average: a run started right after another must not see its load),
    at one of three readings 2 ms apart: a task that runs for an instant (the shell that started
    this one) declined the worker in about 1 run of 40 on an idle machine, a busy core stays busy;
    elsewhere: the one-minute load average leaves a core idle.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    if usable < 2:
        return False
    try:
        for reading in range(READINGS):
            if reading:
                time.sleep(0.002)
            with open("/proc/loadavg") as status:
                if int(status.read().split()[3].split("/")[0]) < usable:
                    return True
        return False
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0] <= usable - 1
    except (AttributeError, OSError):  # Windows: no load average
        return True


@contextmanager
def second_process(preload: Preload | None) -> Iterator[None]:
    """Run the block with a second worker process available to :func:`submit` (none if
    ``preload`` is None); the worker starts now and imports ``preload[0]``, then ``preload[1]``
    after the first call it is given, and is stopped at the end of the block."""
    global _executor, _slots, _then
    if preload is None or _executor is not None or not _main_reloadable():
        yield
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    first, _then = preload
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threads and absent on Windows
    slots = context.Array("b", SLOTS)
    executor = ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=(slots, first))
    executor.submit(int)  # start the worker now: its imports overlap this process's
    _executor, _slots = executor, slots
    try:
        yield
    finally:
        _executor, _slots, _then = None, None, ()
        # Stopped, not shut down, even when idle: the worker's interpreter took about 1 s to tear
        # down its imports (vectorbt, matplotlib), and it holds nothing that is not already here.
        _stop(executor)
        _handed.clear()


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop a busy worker now: a command that ends early (bad input: one line, exit 2) must not
    wait for the worker's imports or for a step whose result nobody will take."""
    call_queue = getattr(executor, "_call_queue", None)  # no public handles on these two
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
        process.join()
    # With the worker gone these return at once. They join the executor's threads (its manager,
    # the call queue's feeder), which otherwise release the queues' semaphores while the console
    # script exits without the interpreter's teardown (backtest.cli.entry): multiprocessing's
    # resource tracker then warned of "leaked semaphore objects" after the command's last line.
    executor.shutdown(wait=True)
    if call_queue is not None:
        call_queue.close()
        call_queue.join_thread()


def _main_reloadable() -> bool:
    """False when a spawned process could not start: it re-imports the ``__main__`` module from
    its file, and a program read from standard input (``python - < job.py``) has none."""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.exists(path)


class Pending:
    """A call handed to :func:`submit`; :meth:`result` gives its value (or raises its error)."""

    def __init__(self, func: Callable[..., Any], args: tuple, kwargs: dict[str, Any],
                 future: Future | None = None, slot: int | None = None) -> None:
        self._call = (func, args, kwargs)
        self._future = future
        self._slot = slot
        self._here: Outcome | None = None  # when taken: from the worker, or run here

    def result(self, take_back: bool = True) -> Any:
        """The call's value; its warnings are raised here, in the order it raised them. With
        ``take_back``, a call the worker has not started yet is run here instead (so the two
        processes share a list of calls); without, this waits for the worker. While it waits,
        this process runs the calls handed over after this one that the worker has not started,
        the last first (the worker skips them)."""
        from concurrent.futures.process import BrokenProcessPool

        if self._here is None and (self._future is None or (
                take_back and not self._future.done() and _claim(self._slot, _TAKEN))):
            return self._run_now()
        if self._here is None:
            assert self._future is not None
            while not self._future.done() and _take_one_back(after=self):
                pass
            try:
                self._here = self._future.result()
            except BrokenProcessPool:  # the worker died: run the call here instead
                return self._run_now()
        value, caught, error = self._here
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        if error is not None:
            raise error
        return value

    def _run_now(self) -> Any:
        func, args, kwargs = self._call
        value = func(*args, **kwargs)  # its warnings and errors go straight to the caller
        self._here = (value, [], None)
        return value

    def _run_here(self) -> bool:
        """Run the call here now if the worker has not started it; its value, warnings or error
        wait for :meth:`result`. False if the worker has it."""
        if self._here is not None or not _claim(self._slot, _TAKEN):
            return False
        self._here = _outcome(*self._call)
        return True


def _take_one_back(after: Pending) -> bool:
    """Run here the last call handed over after ``after`` that the worker has not started."""
    later = _handed[_handed.index(after) + 1:] if after in _handed else []
    return any(pending._run_here() for pending in reversed(later))


def submit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Pending:
    """``func(*args, **kwargs)`` in the second process if one runs, else here when the result
    is asked for. ``func`` and its arguments must pickle (module-level function, plain data)."""
    global _then
    executor = _executor
    if executor is None or data_bytes((args, kwargs)) > MAX_SHIPPED_BYTES:
        return Pending(func, args, kwargs)
    from concurrent.futures.process import BrokenProcessPool

    slot = len(_handed) if len(_handed) < SLOTS else None
    try:
        future = executor.submit(_call, slot, func, args, kwargs)
    except BrokenProcessPool:
        return Pending(func, args, kwargs)
    pending = Pending(func, args, kwargs, future, slot)
    _handed.append(pending)
    if _then:  # the next steps' imports, once the first call is in the queue
        executor.submit(_import, _then)
        _then = ()
    return pending
