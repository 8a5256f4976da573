"""Engine internals of :mod:`backtest.trade`: windows, grids, vectorbt simulation, statistics, result."""
