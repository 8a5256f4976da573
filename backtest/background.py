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
it ran before. The warnings the call raises in the worker are raised again here when the result
is taken, in order, so the run warns exactly as before. A worker that dies (killed, out of
memory) is not a failure: the call runs again here.

Example
-------
>>> submit(abs, -2).result()  # no worker running: computed here
2
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a worker starts: every command imports this module
    from concurrent.futures import Future, ProcessPoolExecutor

Preload = tuple[tuple[str, ...], tuple[str, ...]]

#: Command -> the modules its worker imports: as it starts (what the first call it gets needs,
#: the strategy step's), then once that call is handed over (the report's).
PRELOAD: dict[str, Preload] = {
    "run": (("backtest.trade", "vectorbt"),
            ("backtest.report.figures", "matplotlib.backends.backend_svg", "backtest.return_tables.export",
             "openpyxl")),
}

#: A call whose data (arrays, tables) exceed this runs here: copying it to the worker would cost
#: more time and memory than the other core saves. The default job ships about 1 MB.
MAX_SHIPPED_BYTES = 256 * 2**20

_executor: ProcessPoolExecutor | None = None
_submitted: list[Future] = []  # what the running worker was given (to know at the end if it is idle)
_then: tuple[str, ...] = ()  # what it imports after the first call it is given


def _import(modules: Sequence[str]) -> None:
    import importlib

    for name in modules:
        importlib.import_module(name)


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


def _call(func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> tuple[Any, Caught]:
    """Run ``func`` in the worker; return its value and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func(*args, **kwargs)
    return value, [(w.category, str(w.message)) for w in caught]


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
    instant count, not an average: a run started right after another must not see its load);
    elsewhere: the one-minute load average leaves a core idle.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    if usable < 2:
        return False
    try:
        with open("/proc/loadavg") as status:
            runnable = int(status.read().split()[3].split("/")[0])
        return runnable < usable
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
    global _executor, _then
    if preload is None or _executor is not None or not _main_reloadable():
        yield
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    first, _then = preload
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threads and absent on Windows
    executor = ProcessPoolExecutor(1, mp_context=context, initializer=_import, initargs=(first,))
    _submitted.append(executor.submit(int))  # start the worker now: its imports overlap this process's
    _executor = executor
    try:
        yield
    finally:
        _executor, _then = None, ()
        # Stopped, not shut down, even when idle: the worker's interpreter took about 1 s to tear
        # down its imports (vectorbt, matplotlib), and it holds nothing that is not already here.
        _stop(executor)
        _submitted.clear()


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
                 future: Future | None) -> None:
        self._call = (func, args, kwargs)
        self._future = future

    def result(self, take_back: bool = True) -> Any:
        """The call's value; its warnings are raised here, in the order it raised them. With
        ``take_back``, a call the worker has not started yet is run here instead (so the two
        processes share a list of calls); without, this waits for the worker."""
        from concurrent.futures.process import BrokenProcessPool

        func, args, kwargs = self._call
        # Not cancelled when taken back: Python 3.11 fails on a cancelled call when the worker is
        # stopped; the worker may run it later, for nothing, until it is stopped.
        started = self._future is not None and (self._future.running() or self._future.done())
        if self._future is not None and (started or not take_back):
            try:
                value, caught = self._future.result()
            except BrokenProcessPool:  # the worker died: run the call here instead
                return func(*args, **kwargs)
            for category, message in caught:
                warnings.warn(message, category, stacklevel=2)
            return value
        return func(*args, **kwargs)


def submit(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Pending:
    """``func(*args, **kwargs)`` in the second process if one runs, else here when the result
    is asked for. ``func`` and its arguments must pickle (module-level function, plain data)."""
    global _then
    executor = _executor
    future = None
    if executor is not None and data_bytes((args, kwargs)) <= MAX_SHIPPED_BYTES:
        from concurrent.futures.process import BrokenProcessPool

        try:
            future = executor.submit(_call, func, args, kwargs)
            _submitted.append(future)
            if _then:  # the next steps' imports, once the first call is in the queue
                _submitted.append(executor.submit(_import, _then))
                _then = ()
        except BrokenProcessPool:
            future = None
    return Pending(func, args, kwargs, future)
