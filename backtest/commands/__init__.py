"""CLI commands, one module each; discovered by :mod:`backtest.cli`.

:data:`SUMMARIES` holds each command's one-line help so that ``backtest --help`` lists the
commands without importing them (a command module pulls in pandas, scipy and vectorbt); the
CLI imports only the module of the command being run. A module missing from the table is
still found, only imported to list it.
"""

from __future__ import annotations

#: Command name -> its line in ``backtest --help``.
SUMMARIES: dict[str, str] = {
    "data": "list or fetch price data",
    "events": "validate an events file and print each exchange's reaction session",
    "recovery": "drawdown and recovery time after each event (prices and abnormal returns)",
    "run": "run the event study, recovery and strategy backtest; write tables and an HTML report",
    "study": "event study: abnormal returns, CARs and significance tests",
    "tables": "return tables (raw, excess, abnormal, scoreboard) as Excel and LaTeX from a results.json",
    "trade": "backtest a trading rule (buy_the_dip, short_the_shock, ...) around each event",
}
