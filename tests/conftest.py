"""Shared test set-up.

numba (through vectorbt) compiles on first use; the package keeps its disk cache in the user
cache directory (``backtest.numba_cache_dir``), so that cost is paid once per machine, not per run.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
