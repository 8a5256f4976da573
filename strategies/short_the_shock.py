"""``short_the_shock``: short after a reaction-day drop of at least ``threshold``, cover after N sessions.

Rule: if ``C_0 / C_-1 - 1 <= -threshold``, decide to sell short at the reaction
close (filled at the next open by default) and to cover ``hold`` sessions
later. ``stop`` is a stop-loss *above* the entry fill price (the short loses
when the price rises), ``take_profit`` a target below it. Shorts are sized to
the cash (no leverage): the engine locks the cash as collateral.

>>> import numpy as np
>>> from strategies import get
>>> from strategies.base import Bars
>>> bars = Bars.from_arrays(close=[100.0, 90.0, 88.0, 85.0], reaction=1)
>>> sig = get("short_the_shock").signals(bars, {"threshold": np.array([0.05]), "hold": np.array([2]),
...     "stop": np.array([0.1]), "take_profit": np.array([np.nan])})
>>> np.nonzero(sig.entries[:, 0])[0].tolist(), np.nonzero(sig.exits[:, 0])[0].tolist(), sig.sl_stop.tolist()
([1], [3], [0.1])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strategies import register
from strategies.base import Bars, Signals, Strategy
from strategies.buy_the_dip import HOLD, STOP, TAKE_PROFIT, THRESHOLD, dip_signals


@register
class ShortTheShock(Strategy):
    """Short after a reaction-day drop of at least ``threshold``; cover after ``hold`` sessions."""

    name = "short_the_shock"
    summary = "short after a reaction-day drop >= threshold, cover after N sessions or on a stop"
    direction = "short"
    params = (THRESHOLD, HOLD, STOP, TAKE_PROFIT)

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        return dip_signals(bars, params)
