"""``buy_and_hold``: the baseline. Decide to buy at the reaction close, hold to the end of the window.

>>> import numpy as np
>>> from strategies import get
>>> from strategies.base import Bars
>>> sig = get("buy_and_hold").signals(Bars.from_arrays(close=[10.0, 9.0, 9.5], reaction=1), {})
>>> sig.entries[:, 0].tolist(), bool(sig.exits.any())
([False, True, False], False)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from strategies import register
from strategies.base import Bars, Signals, Strategy, rows_matrix


@register
class BuyAndHold(Strategy):
    """Buy after the reaction session whatever happened; hold to the end of the horizon."""

    name = "buy_and_hold"
    summary = "baseline: buy at the first fill after the reaction session, hold to the end of the horizon"
    direction = "long"
    params = ()

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        n = len(bars)
        return Signals(rows_matrix(np.array([bars.reaction]), n), np.zeros((n, 1), dtype=bool))
