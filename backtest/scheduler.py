"""Where the units of work run: in this process, on a local Dask cluster, or on a remote one.

One module owns the scale-out so that the numerics never see it:

* :func:`parse_scheduler` reads ``--scheduler`` (``inline``, ``local:N``, ``tcp://HOST:PORT``);
* :func:`open_scheduler` starts (``local:N``: a ``distributed.LocalCluster`` of N worker
  processes, one thread each) or connects to (``tcp://``) a Dask scheduler and closes what it
  started; a ``dask.distributed.Client`` passed from Python is used as is and left open;
* :meth:`Mapper.map` runs a pure unit of work over a list of inputs and returns the outputs in
  input order, with a rich progress bar fed from the futures. The warnings a unit raises on a
  worker are recorded there and raised again here, in unit order, so a run on a cluster warns
  exactly like the inline run.

Every mapped unit is a task of the scheduler (its shared inputs too, never scattered data), so a
worker that dies mid-run is replaced and its tasks recomputed elsewhere; the result is identical.

Example
-------
>>> with open_scheduler("inline") as mapper:
...     mapper.map(abs, [-1, 2, -3])
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backtest.errors import ParameterError, SchedulerError

INLINE = "inline"
LOCAL = re.compile(r"^local:(\d+)$")
REMOTE = re.compile(r"^(tcp|tls|ws|wss|ucx)://[^\s:/]+:\d+/?$")
CONNECT_TIMEOUT = "10s"
INSTALL_HINT = "install the extra: pip install 'backtest[dask]'"
#: Units per worker: enough for the bar to move and for a replaced worker to catch up.
UNITS_PER_WORKER = 4

Scheduler = Any  # "inline" | "local:N" | "tcp://HOST:PORT" | dask.distributed.Client | Mapper | None


def parse_scheduler(value: Any, option: str = "--scheduler") -> Any:
    """Check a scheduler given as text (or pass a ``Client``/:class:`Mapper` through).

    >>> parse_scheduler("local:2"), parse_scheduler(None)
    ('local:2', 'inline')
    >>> parse_scheduler("local:0")
    Traceback (most recent call last):
    ...
    backtest.errors.ParameterError: --scheduler 'local:0': needs at least 1 worker, e.g. local:2
    """
    if value is None:
        return INLINE
    if not isinstance(value, str):
        return value
    text = value.strip()
    match = LOCAL.match(text)
    if match and int(match.group(1)) < 1:
        raise ParameterError(f"{option} {value!r}: needs at least 1 worker, e.g. local:2")
    if text == INLINE or match or REMOTE.match(text):
        return text
    raise ParameterError(
        f"{option} {value!r}: use inline, local:N (N worker processes) or tcp://HOST:PORT of a Dask scheduler"
    )


def _call(func: Callable, item: bytes, shared: dict[str, Any]) -> tuple[Any, list[tuple[type, str]]]:
    """Run one unit on a worker (its input as :func:`_pickled` made it); return its output and
    the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func(_unpickled(item), **shared)
    return value, [(w.category, str(w.message)) for w in caught]


def _pickled(value: Any) -> bytes:
    """A unit's input as the bytes the task carries. Dask's scheduler unpickles every task it is
    given and pickles it again for the worker; a local cluster's scheduler does that in this
    process, beside the workers, and a unit's tables (pandas' string columns) cost it more than
    bytes: at 400,000 pairs, about a seventh of this process's CPU while the units ran. Dask's
    own pickling (cloudpickle where plain pickle cannot, e.g. a class defined in a script)."""
    from distributed.protocol.pickle import dumps

    return dumps(value)


def _unpickled(data: bytes) -> Any:
    """What :func:`_pickled` made, on the worker."""
    from distributed.protocol.pickle import loads

    return loads(data)


@dataclass
class Mapper:
    """Maps pure units over the scheduler it was opened on (``client=None``: inline)."""

    client: Any = None
    progress: bool = True

    @property
    def workers(self) -> int:
        """Worker processes behind the mapper (1 inline)."""
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def chunks(self, n_items: int) -> int:
        """How many units to cut ``n_items`` into: 1 inline, a few per worker on a cluster."""
        return 1 if self.client is None else max(1, min(n_items, UNITS_PER_WORKER * self.workers))

    def map(self, func: Callable, items: Sequence[Any], *, label: str = "units", **shared: Any) -> list[Any]:
        """``[func(item, **shared) for item in items]``, on the scheduler; outputs in input order.

        ``shared`` inputs travel once per worker as tasks of their own. An exception raised
        by a unit (a ``BacktestError``, say) is raised here, as inline; a unit the scheduler
        gives up on (it ended every worker that ran it) or drops (the scheduler was lost) is a
        :class:`~backtest.errors.SchedulerError`.
        """
        if self.client is None:
            return [func(item, **shared) for item in items]
        from concurrent.futures import CancelledError

        from distributed import KilledWorker, as_completed

        token = uuid.uuid4().hex[:8]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # dask's "large object in graph" advice
            shared_tasks = {
                name: self.client.submit(_unpickled, _pickled(value), key=f"{label}-{name}-{token}",
                                         pure=False)
                for name, value in shared.items()
            }
            futures = [
                self.client.submit(_call, func, _pickled(item), shared_tasks, key=f"{label}-{i}-{token}",
                                   pure=False)
                for i, item in enumerate(items)
            ]
        # each output comes back as soon as its unit is done and the workers drop it: a worker
        # holds the units it runs, not every output it made until the last unit ends
        position = {future.key: i for i, future in enumerate(futures)}
        outputs: list[Any] = [None] * len(futures)
        with self._bar(label, len(futures)) as advance:
            # on this client's event loop: as_completed defaults to the current client's (a
            # `with Client()` elsewhere), where waiting on these futures can miss their end
            try:
                for future, output in as_completed(futures, with_results=True, loop=self.client.loop):
                    if isinstance(output, CancelledError):  # given as the output, not raised
                        raise SchedulerError(
                            f"{label}: the Dask scheduler dropped unit {position[future.key] + 1} of "
                            f"{len(futures)} ({type(output).__name__}): the connection to it was lost, or it "
                            "was restarted; start it (and its workers) again and rerun"
                        )
                    outputs[position[future.key]] = output
                    future.release()
                    advance()
            except KilledWorker as exc:  # the scheduler gave up on a unit: its own words, and the fix
                unit = position.get(exc.task)
                raise SchedulerError(
                    f"{label}: unit {'?' if unit is None else unit + 1} of {len(futures)} ended the worker "
                    f"process that ran it {exc.allowed_failures + 1} times in a row, so the Dask scheduler "
                    "gave up (most often the worker ran out of memory: give each worker more, e.g. "
                    "'dask worker --memory-limit 8GiB', or start fewer per machine)"
                ) from None
        values = []
        for value, caught in outputs:
            for category, message in caught:
                warnings.warn(message, category, stacklevel=2)
            values.append(value)
        return values

    @contextmanager
    def _bar(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        if not self.progress:
            yield lambda: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
        with bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)


def _local_cluster(dd: Any, workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes, one thread each, without the allocator
    setting Dask gives its workers.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``; setting it also turns
    off glibc's adaptive mmap threshold (mallopt(3)), so every block's multi-megabyte arrays
    are mapped and faulted in afresh. Without it the study's units ran 1.3-1.7x faster at the
    same peak memory per worker (``benchmarks/bench_scale.py``, 100,000 pairs: ``local:1``
    44.8 s -> 28.7 s, ``local:2`` 26.6 s -> 20.6 s, 448 vs 456 MB per worker).
    """
    import dask

    if _reimporting_main():
        # A worker process re-running an unguarded script, which asks for a cluster of its own:
        # stop it quietly; the process that started it explains (below), in one message.
        raise SystemExit(2)
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    dask_value = str(environ.pop("MALLOC_TRIM_THRESHOLD_", ""))
    # a nanny writes its settings into this process's environment, which later workers inherit:
    # drop the value an earlier cluster of this process left there (not one the user set)
    if dask_value and os.environ.get("MALLOC_TRIM_THRESHOLD_") == dask_value:
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), _quiet("distributed.nanny"):
            return dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
    except RuntimeError as exc:  # distributed: "Nanny failed to start."
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        raise SchedulerError(
            f"--scheduler local:{workers}: the worker processes did not start ({exc})"
            + (f"; each worker re-imports the script {os.path.basename(script)}, so the code that "
               "starts the cluster must run under if __name__ == \"__main__\":" if script else "")
        ) from None


def _reimporting_main() -> bool:
    """True in a process that multiprocessing's spawn started, while it still imports the
    parent's main script (the check ``multiprocessing.spawn`` makes before it refuses to start
    a process): a script that starts a local cluster outside an ``if __name__ == "__main__":``
    block gets here in each worker."""
    import multiprocessing

    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """``logger`` silenced in the block: a worker that fails to start is explained by the
    :class:`SchedulerError` raised after it, not by Dask's traceback of each attempt."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ParameterError(f"--scheduler needs dask.distributed; {INSTALL_HINT}") from None
    return distributed


@contextmanager
def open_scheduler(
    scheduler: Scheduler = INLINE, *, announce: Callable[[str], None] | None = None, progress: bool = True
) -> Iterator[Mapper]:
    """A :class:`Mapper` on ``scheduler``; closes the cluster or connection it opened.

    Parameters
    ----------
    scheduler : str, Client or Mapper
        ``"inline"`` (default), ``"local:N"``, ``"tcp://HOST:PORT"``, a
        ``dask.distributed.Client`` (left open) or a :class:`Mapper` (passed through).
    announce : callable, optional
        Receives one line with the dashboard address of a cluster this call starts or joins.
    progress : bool
        Show a progress bar (on stderr) while units run on a cluster.

    Raises
    ------
    ParameterError
        An unknown scheduler, or dask.distributed missing.
    SchedulerError
        A ``tcp://`` scheduler that cannot be reached, or ``local:N`` workers that do not start
        (a script that starts them outside ``if __name__ == "__main__":`` is told so).
    """
    scheduler = parse_scheduler(scheduler)
    if isinstance(scheduler, Mapper):
        yield scheduler
        return
    if scheduler == INLINE:
        yield Mapper(None, progress)
        return
    dd = _distributed()
    if isinstance(scheduler, dd.Client):
        yield Mapper(scheduler, progress)
        return
    match = LOCAL.match(scheduler)
    if match:
        cluster = _local_cluster(dd, int(match.group(1)))
        # Outputs straight from the workers: by default the scheduler relays them, and a local
        # cluster's scheduler runs in this process, so each output crossed a socket twice here
        # (400,000 study pairs on local:2: map 41.0 -> 34.0 s). A remote scheduler keeps Dask's
        # setting (distributed.client.direct-to-workers): its workers may be out of reach.
        client = dd.Client(cluster, direct_to_workers=True)
        where = f"local cluster of {match.group(1)} worker process(es)"
    else:
        cluster = None
        try:
            client = dd.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SchedulerError(
                f"--scheduler {scheduler}: no Dask scheduler answers there ({reason[:120]}); start one with "
                f"'dask scheduler' and workers with 'dask worker {scheduler}', or use --scheduler local:2"
            ) from None
        where = f"Dask scheduler {scheduler}"
    try:
        if announce is not None:
            announce(f"{where}; dashboard: {client.dashboard_link}")
        if cluster is None:
            _check_workers(client, scheduler, announce)
        yield Mapper(client, progress)
    finally:
        # closing after a lost scheduler, distributed logs its reconnection's tracebacks: the
        # error on its way out (a SchedulerError from Mapper.map) already says what happened
        with _quiet("distributed.client") if sys.exc_info()[0] is not None else contextlib.nullcontext():
            client.close()
        if cluster is not None:
            cluster.close()


def _backtest_version() -> str:
    import backtest

    return backtest.__version__


def _check_workers(client: Any, address: str, announce: Callable[[str], None] | None) -> None:
    """Before any unit: wait for a first worker if the scheduler has none yet (saying so, instead
    of a bar that never moves), then check that every worker runs this version of backtest (a
    worker without it failed each unit with ModuleNotFoundError)."""
    if not client.scheduler_info(n_workers=-1).get("workers"):
        if announce is not None:
            announce(f"Dask scheduler {address} has no workers yet; waiting for the first "
                     f"('dask worker {address}' starts them)")
        client.wait_for_workers(1)
    mine = _backtest_version()
    try:
        theirs = client.run(_backtest_version)
    except Exception as exc:  # whatever fails there (a missing module, most often), the fix is the same
        reason = (str(exc).splitlines() or [""])[0][:120]
        if type(exc) is not Exception:  # distributed wraps a worker's own error in a bare Exception
            reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
        raise SchedulerError(
            f"--scheduler {address}: the workers cannot run backtest ({reason}); "
            f"install backtest {mine} with its dask extra on every worker machine"
        ) from None
    other = {worker: version for worker, version in theirs.items() if version != mine}
    if other:
        worker, version = next(iter(sorted(other.items())))
        raise SchedulerError(
            f"--scheduler {address}: {len(other)} of {len(theirs)} workers run backtest {version} "
            f"(e.g. {worker}), this client {mine}; install the same version everywhere"
        )


def split(n_items: int, n_chunks: int) -> list[slice]:
    """``n_chunks`` contiguous slices covering ``range(n_items)``, sizes differing by at most one.

    >>> split(5, 2)
    [slice(0, 3, None), slice(3, 5, None)]
    """
    n_chunks = max(1, min(n_chunks, n_items))
    base, extra = divmod(n_items, n_chunks)
    edges = [0]
    for i in range(n_chunks):
        edges.append(edges[-1] + base + (1 if i < extra else 0))
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def grouped_order(keys: Sequence[Any]) -> Any:
    """Positions that put equal keys next to each other, first-seen key first, stable within a key.

    Cutting ``grouped_order(symbols)`` into blocks gives blocks that read few symbols.

    >>> grouped_order(["A", "B", "A", "B"]).tolist()
    [0, 2, 1, 3]
    """
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(np.asarray(keys, dtype=object))
    return np.argsort(codes, kind="stable")
