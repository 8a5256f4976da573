"""backtest: market-event studies and strategy backtests across exchanges.

``events.csv`` -> reaction sessions per exchange (:mod:`backtest.alignment`) ->
abnormal returns and tests (:mod:`backtest.study`) -> recovery
(:mod:`backtest.recovery`) and strategy backtests (:mod:`backtest.trade`) ->
tables and reports.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__version__ = "0.1.0"

NUMBA_CACHE_ENV = "NUMBA_CACHE_DIR"


def numba_cache_dir() -> Path:
    """Where numba keeps compiled code: ``$NUMBA_CACHE_DIR``, else the user cache dir + ``/numba``.

    Never inside the installed package: numba's default writes ``*.nbi``/``*.nbc`` files into
    ``site-packages/.../__pycache__``, which ``pip uninstall`` does not know, and the leftover bare
    ``backtest/`` folder then shadows a later (editable) install of the same package.
    """
    env = os.environ.get(NUMBA_CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("backtest", appauthor=False)) / "numba"


def _keep_numba_cache_out_of_the_package() -> None:
    # numba reads NUMBA_CACHE_DIR when it is imported; vectorbt imports it, and this package is
    # imported first. If numba is already loaded (a notebook imported vectorbt first), set its config.
    os.environ[NUMBA_CACHE_ENV] = str(numba_cache_dir())
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = os.environ[NUMBA_CACHE_ENV]


_keep_numba_cache_out_of_the_package()
