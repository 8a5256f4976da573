"""backtest: market-event studies and strategy backtests across exchanges.

``events.csv`` -> reaction sessions per exchange (:mod:`backtest.alignment`) ->
abnormal returns and tests (:mod:`backtest.study`) -> recovery
(:mod:`backtest.recovery`) and strategy backtests (:mod:`backtest.trade`) ->
tables and reports.
"""

from __future__ import annotations

__version__ = "0.1.0"
