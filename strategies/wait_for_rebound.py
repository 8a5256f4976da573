"""``wait_for_rebound``: after a shock, buy after the first up close; exit after N sessions or on a stop.

Rule: if the reaction-day return ``C_0 / C_-1 - 1 <= -threshold`` (``threshold=0``:
any down reaction), look for the first session ``t`` in ``1..max_wait`` with
``C_t > C_{t-1}``; decide to buy at that close and to sell ``hold`` sessions
later. No up close within ``max_wait`` sessions: no trade.

>>> import numpy as np
>>> from strategies import get
>>> from strategies.base import Bars
>>> bars = Bars.from_arrays(close=[100.0, 90.0, 88.0, 89.0, 91.0, 92.0], reaction=1)
>>> sig = get("wait_for_rebound").signals(bars, {"threshold": np.array([0.05, 0.05]),
...     "max_wait": np.array([5, 1]), "hold": np.array([1, 1]), "stop": np.array([np.nan, np.nan])})
>>> np.nonzero(sig.entries[:, 0])[0].tolist(), np.nonzero(sig.exits[:, 0])[0].tolist()
([3], [4])
>>> bool(sig.entries[:, 1].any())   # the first up close (row 3) is 2 sessions after: too late
False
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strategies import register
from strategies.base import Bars, Param, Signals, Strategy, rows_matrix
from strategies.buy_the_dip import HOLD, STOP


@register
class WaitForRebound(Strategy):
    """After a down reaction, buy after the first up close within ``max_wait`` sessions."""

    name = "wait_for_rebound"
    summary = (
        "after a down reaction >= threshold, buy after the first up close; exit after N sessions or stop"
    )
    direction = "long"
    params = (
        Param("threshold", "float", 0.0, 0.0, 1.0, doc="minimum reaction-day drop (0 = any down day)"),
        Param("max_wait", "int", 10, 1, 250, doc="sessions after the reaction to wait for an up close"),
        HOLD,
        STOP,
    )

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        threshold = np.asarray(params["threshold"], dtype=float)
        max_wait = np.asarray(params["max_wait"], dtype=np.int64)
        hold = np.asarray(params["hold"], dtype=np.int64)
        r, n = bars.reaction, len(bars)
        close = bars.close[: bars.n_valid]
        ups = np.nonzero(close[r + 1 :] > close[r:-1])[0] if len(close) > r + 1 else np.array([], dtype=int)
        first = int(ups[0]) + 1 if ups.size else n  # sessions after the reaction
        act = (bars.reaction_return() <= -threshold) & (first <= max_wait)
        entry = np.where(act, r + first, -1)
        exit_ = np.where(act, r + first + hold, -1)
        return Signals(rows_matrix(entry, n), rows_matrix(exit_, n), np.asarray(params["stop"], dtype=float))
