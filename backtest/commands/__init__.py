"""CLI commands, one module each; discovered by :mod:`backtest.cli`."""
