"""Recovery analytics for event windows: how deep, how long, and did it come back.

* :mod:`backtest.recovery.paths` — pure metrics of one path (:func:`path_metrics`);
* :mod:`backtest.recovery.survival` — Kaplan-Meier summary across paths (:func:`summarize`);
* :mod:`backtest.recovery.analysis` — prices + alignment + calendars -> :class:`RecoveryResult`.
* :mod:`backtest.recovery.block` — a block of pairs' inputs as arrays indexed once (the fast path);
* :mod:`backtest.recovery.result` — :class:`RecoveryResult` and how it renders.
"""

from __future__ import annotations

from backtest.recovery.analysis import RecoveryResult, data_horizon, recovery
from backtest.recovery.paths import RATIO_DAYS, PathMetrics, check_horizon, path_metrics
from backtest.recovery.survival import km_median, km_share_recovered, summarize

__all__ = [
    "RATIO_DAYS",
    "PathMetrics",
    "RecoveryResult",
    "check_horizon",
    "data_horizon",
    "km_median",
    "km_share_recovered",
    "path_metrics",
    "recovery",
    "summarize",
]
