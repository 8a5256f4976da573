"""Shared test set-up.

numba (through vectorbt) compiles on first use; a persistent cache directory
keeps that cost out of every test run after the first.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
