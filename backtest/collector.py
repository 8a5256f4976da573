"""Python's garbage collector kept off the objects that outlive a job.

A full collection scans every tracked object. When a job starts, those are mostly the
imported libraries (pandas, scipy, statsmodels: hundreds of thousands of objects) and, in a
notebook or a test session, the caller's own; they outlive the job anyway. statsmodels'
``multipletests`` calls ``gc.collect()`` on every Holm adjustment and a run makes hundreds of
them: scanning those objects each time was about 40 % of ``backtest run``'s CPU time.
:func:`frozen_heap` moves them to the collector's permanent generation for the job
(``gc.freeze``) and back afterwards (``gc.unfreeze``), so the caller's collector is as it was.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_depth = 0  # nested jobs (the CLI around run_all): the outermost unfreezes


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Objects alive on entry are not scanned by collections inside the block.

    >>> with frozen_heap():
    ...     gc.get_freeze_count() > 0
    True
    """
    global _depth
    gc.freeze()  # again when nested: what was imported since the outer block joins them
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()


def quiet_import(name: str, *, freeze: bool = False) -> ModuleType:
    """``importlib.import_module(name)`` with the collector off while it runs.

    Importing vectorbt makes some 470,000 objects; the collections they set off took 0.1-0.8 s
    of its 1.5-3.5 s (more with a larger heap), and an import leaves little cyclic garbage.
    Inside :func:`frozen_heap`, or with ``freeze`` (a process that keeps its imports to the end:
    the CLI's second one), what it made is frozen too (out of later scans); a caller's own
    session is left as it was.

    >>> quiet_import("json").__name__, gc.isenabled()
    ('json', True)
    """
    if name in sys.modules:
        return sys.modules[name]
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(name)
    finally:
        if freeze or _depth:  # inside frozen_heap: unfrozen with the rest at the block's end
            gc.freeze()
        if enabled:
            gc.enable()
