"""Return tables as analysts and papers publish them: raw and abnormal, per window, pivoted.

* :mod:`~backtest.return_tables.closes` — closes of each event x symbol and its benchmark
  on the symbol's sessions (the table ``backtest run`` stores as ``session_closes``);
* :mod:`~backtest.return_tables.build` — tidy raw / excess / abnormal returns per window,
  the per-event test rows and the shock scoreboard;
* :mod:`~backtest.return_tables.result` — :class:`ReturnTables` and :func:`build_return_tables`
  (from a run's tables, in memory or read back from ``results.json``);
* :mod:`~backtest.return_tables.display` — cross-event pivots and the terminal tables;
* :mod:`~backtest.return_tables.latex` / :mod:`~backtest.return_tables.export` — LaTeX,
  Excel and CSV files.
"""

from backtest.return_tables.result import ReturnTables, build_return_tables

__all__ = ["ReturnTables", "build_return_tables"]
