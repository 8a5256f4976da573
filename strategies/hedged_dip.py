"""``hedged_dip``: ``buy_the_dip`` on the stock, short its market benchmark in equal value.

The engine splits the capital in two halves: one buys the stock, the other
shorts the instrument's market benchmark (``Instrument.benchmark``, e.g. SPY
for NVDA, ^KS11 for SK Hynix), both filled in the same sessions and closed
together (when the stock leg stops out intraday, the hedge is closed at that
session's close). The result is the value of both legs together.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strategies import register
from strategies.base import Bars, Signals, Strategy
from strategies.buy_the_dip import HOLD, STOP, TAKE_PROFIT, THRESHOLD, dip_signals


@register
class HedgedDip(Strategy):
    """Buy the dip on the stock and short the market benchmark in equal value, same sessions."""

    name = "hedged_dip"
    summary = "buy_the_dip on the stock + short its market benchmark in equal value, same sessions"
    direction = "long"
    hedge = True
    params = (THRESHOLD, HOLD, STOP, TAKE_PROFIT)

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        return dip_signals(bars, params)
