"""``buy_the_dip``: buy after a reaction-day drop of at least ``threshold``, hold ``hold`` sessions.

Rule: if the reaction session's close-to-close return ``C_0 / C_-1 - 1 <=
-threshold``, decide to buy at the reaction close (the engine fills at the next
open by default) and decide to sell ``hold`` sessions later; an optional
stop-loss ``stop`` and take-profit ``take_profit`` (fractions of the entry fill
price) are checked by the engine on every session's open, high and low.

>>> import numpy as np
>>> from strategies import get
>>> from strategies.base import Bars
>>> bars = Bars.from_arrays(close=[100.0, 94.0, 96.0, 99.0], reaction=1)
>>> sig = get("buy_the_dip").signals(bars, {"threshold": np.array([0.05]), "hold": np.array([1]),
...     "stop": np.array([np.nan]), "take_profit": np.array([np.nan])})
>>> np.nonzero(sig.entries[:, 0])[0].tolist(), np.nonzero(sig.exits[:, 0])[0].tolist()
([1], [2])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strategies import register
from strategies.base import Bars, Param, Signals, Strategy, rows_matrix

THRESHOLD = Param("threshold", "float", 0.05, 0.0, 1.0, doc="minimum reaction-day drop (0.05 = 5 %)")
HOLD = Param("hold", "int", 5, 1, 250, doc="sessions to hold after the entry")
STOP = Param("stop", "float", None, 1e-4, 1.0, optional=True, doc="stop-loss below the entry fill price")
TAKE_PROFIT = Param(
    "take_profit", "float", None, 1e-4, 10.0, optional=True, doc="take-profit above the entry fill price"
)


def dip_signals(bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
    """Shared rule of ``buy_the_dip``, ``hedged_dip`` and ``short_the_shock``.

    Acts when the reaction-day return ``C_0 / C_-1 - 1 <= -threshold``; the long or
    short side comes from the strategy's ``direction``, not from the signals.
    """
    threshold = np.asarray(params["threshold"], dtype=float)
    hold = np.asarray(params["hold"], dtype=np.int64)
    act = bars.reaction_return() <= -threshold
    entry = np.where(act, bars.reaction, -1)
    exit_ = np.where(act, bars.reaction + hold, -1)
    n = len(bars)
    return Signals(
        rows_matrix(entry, n),
        rows_matrix(exit_, n),
        np.asarray(params["stop"], dtype=float),
        np.asarray(params["take_profit"], dtype=float),
    )


@register
class BuyTheDip(Strategy):
    """Buy after a reaction-day drop of at least ``threshold``; hold ``hold`` sessions."""

    name = "buy_the_dip"
    summary = "buy after a reaction-day drop >= threshold, hold N sessions; optional stop / take-profit"
    direction = "long"
    params = (THRESHOLD, HOLD, STOP, TAKE_PROFIT)

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        return dip_signals(bars, params)
