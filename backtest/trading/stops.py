"""Order plan: entry/exit decisions and stop-loss / take-profit exits turned into per-row orders.

vectorbt's ``Portfolio.from_signals`` evaluates stops inside its simulator,
which numba compiles again in every new process (~6 s; it is not disk-cached).
The stops do not depend on cash: a stop level is a fraction of the entry *fill
price* (the row's order price moved against the order by the slippage), and
whether it is hit depends only on the bars. So this module walks each column
once, in a small ``@numba.njit(cache=True)`` kernel, and writes the orders that
``from_signals`` would send; :mod:`backtest.trading.simulate` hands them to
``Portfolio.from_orders``, which vectorbt runs on its Rust engine (or, without
``vectorbt-rust``, a numba simulator that *is* disk-cached).

Rules (those of vectorbt 1.2's ``simulate_from_signals_nb`` with ``accumulate``
off, conflicts ignored, ``stop_entry_price=FillPrice``,
``stop_exit_price=StopMarket``, ``upon_stop_exit=Close``), per column and row ``i``:

1. In a position with a stop set, the stop is checked first, on the row's bar
   (``O``, ``H``, ``L``). Long, stop-loss ``s`` from fill price ``F``: level
   ``S = F (1 - s)``; if ``O <= S`` the exit fills at ``O`` (a gap through the
   stop), else if ``L <= S <= H`` at ``S``. Take-profit ``t``: ``S = F (1 + t)``;
   ``S <= O`` -> ``O``, else if ``L <= S <= H`` -> ``S``. Shorts mirror it (stop
   ``F (1 + s)``, target ``F (1 - t)``). The stop-loss wins when both are hit. A
   stop exit replaces the row's own decisions.
2. Otherwise an entry and an exit on the same row cancel; an exit closes an open
   position at the row's price; an entry opens one when flat (all the cash,
   ``size = +inf``), fill price ``F = P (1 + slippage)`` for a buy, ``P (1 -
   slippage)`` for a short sale. A ``NaN`` price leaves the order unfilled.

Stops are therefore checked from the row after the entry fill: with two rows
per session (see :mod:`backtest.trading.simulate`) that includes the day row of
the session entered at its open.

A small plan (the default job's: 8,000 cells) is walked by the interpreter running the kernel's
own code: numba's first call in a process (its typing context, the cached machine code) costs
about 0.3 s, the interpreter 28 ms there. A process does so until it has planned
:data:`PYTHON_BUDGET` cells, then calls the compiled kernel (as :mod:`backtest.study.ranks`).

The plan assumes every entry fills in full and every exit closes the position
(true whenever the column has cash; a short cover can fall short only if the
price more than doubles against the locked collateral). The simulator checks
this after the run and falls back to ``from_signals`` if it does not hold.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np


@dataclass
class OrderPlan:
    """Orders for ``Portfolio.from_orders``, shape ``(n_rows, n_columns)``.

    ``size``: ``+inf`` = enter with all the cash (long buy or short sale,
    depending on the column's direction), ``-inf`` = close the position,
    ``NaN`` = no order. ``price``: order price before slippage (the row's price,
    or the stop level on a stop exit). ``stop``: rows where a stop exit fills.
    """

    size: np.ndarray
    price: np.ndarray
    stop: np.ndarray


@numba.njit(cache=True)
def stop_exit_price(
    short: bool, fill_price: float, stop: float, open_: float, high: float, low: float, below: bool
) -> float:
    """Fill price of a stop exit on one bar, or ``NaN`` if the bar does not reach it.

    ``below=True``: the stop-loss (under the fill price for a long, above it for
    a short); ``below=False``: the take-profit. A bar that opens beyond the level
    exits at its open.

    >>> stop_exit_price(False, 100.0, 0.08, 99.0, 100.0, 90.0, True)   # level 92, low 90
    92.0
    >>> stop_exit_price(False, 100.0, 0.08, 85.0, 86.0, 80.0, True)    # gapped below 92: the open
    85.0
    >>> stop_exit_price(True, 100.0, 0.05, 101.0, 104.0, 99.0, True)   # short, level 105 not reached
    nan
    """
    if short != below:  # long stop-loss or short take-profit: level under the fill price
        level = fill_price * (1 - stop)
        if open_ <= level:
            return open_
    else:
        level = fill_price * (1 + stop)
        if level <= open_:
            return open_
    if low <= level <= high:
        return level
    return np.nan


@numba.njit(cache=True)
def _plan_nb(entries, exits, price, open_, high, low, close, short, sl_stop, tp_stop, slippage):
    n, m = price.shape
    size = np.full((n, m), np.nan)
    out_price = price.copy()
    stop_rows = np.zeros((n, m), dtype=np.bool_)
    for col in range(m):
        in_position = False
        fill = np.nan
        sl = np.nan
        tp = np.nan
        for i in range(n):
            if in_position and (not np.isnan(sl) or not np.isnan(tp)):
                o, h, lo, c = open_[i, col], high[i, col], low[i, col], close[i, col]
                if np.isnan(o):
                    o = c
                if np.isnan(lo):
                    lo = min(o, c)
                if np.isnan(h):
                    h = max(o, c)
                exit_price = np.nan
                if not np.isnan(sl):
                    exit_price = stop_exit_price(short[col], fill, sl, o, h, lo, True)
                if np.isnan(exit_price) and not np.isnan(tp):
                    exit_price = stop_exit_price(short[col], fill, tp, o, h, lo, False)
                if not np.isnan(exit_price):
                    size[i, col] = -np.inf
                    out_price[i, col] = exit_price
                    stop_rows[i, col] = True
                    in_position = False
                    continue
            if entries[i, col] == exits[i, col] or np.isnan(price[i, col]):
                continue  # nothing, or an entry and an exit that cancel
            if in_position and exits[i, col]:
                size[i, col] = -np.inf
                in_position = False
            elif not in_position and entries[i, col]:
                size[i, col] = np.inf
                in_position = True
                fill = price[i, col] * (1 - slippage) if short[col] else price[i, col] * (1 + slippage)
                sl = sl_stop[col]
                tp = tp_stop[col]
    return size, out_price, stop_rows


def plan_orders(
    entries: np.ndarray,
    exits: np.ndarray,
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    short: np.ndarray,
    sl_stop: np.ndarray,
    tp_stop: np.ndarray,
    slippage: float,
) -> OrderPlan:
    """Turn decisions already on their fill rows, plus stops, into one order per row and column.

    Parameters
    ----------
    entries, exits : ndarray of bool, shape (n_rows, n_columns)
        Entry / exit orders on the rows where they fill.
    bars : tuple of ndarray
        ``(open, high, low, close, price)`` per row and column (``price`` = the
        order price of a decision filled on that row).
    short : ndarray of bool, shape (n_columns,)
        Column trades short.
    sl_stop, tp_stop : ndarray of float, shape (n_columns,)
        Stop-loss / take-profit as fractions of the entry fill price; ``NaN`` = none.
    slippage : float
        Fraction by which every fill price moves against the order.

    Returns
    -------
    OrderPlan

    Notes
    -----
    See the module docstring for the rules; they reproduce vectorbt's
    ``simulate_from_signals_nb`` (stop price ``get_stop_price_nb``).

    Example
    -------
    Long from row 0 at 100 (fill 100 with no slippage), 8 % stop (level 92); row
    1's low 90 reaches it; the exit signal on row 2 then has nothing to close:

    >>> import numpy as np
    >>> o = np.array([[100.0], [99.0], [95.0]]); h = o + 1; lo = np.array([[99.0], [90.0], [94.0]])
    >>> plan = plan_orders(np.array([[True], [False], [False]]), np.array([[False], [False], [True]]),
    ...     (o, h, lo, o, o), short=np.array([False]), sl_stop=np.array([0.08]),
    ...     tp_stop=np.array([np.nan]), slippage=0.0)
    >>> plan.size[:, 0].tolist(), plan.price[:, 0].tolist(), plan.stop[:, 0].tolist()
    ([inf, -inf, nan], [100.0, 92.0, 95.0], [False, True, False])
    """
    global _planned_in_python
    o, h, lo, c, p = (np.ascontiguousarray(a, dtype=np.float64) for a in bars)
    plan = _plan_nb
    if _planned_in_python + p.size <= PYTHON_BUDGET:
        _planned_in_python += p.size
        plan = _plan_python()
    size, price, stop = plan(
        np.ascontiguousarray(entries, dtype=np.bool_),
        np.ascontiguousarray(exits, dtype=np.bool_),
        p,
        o,
        h,
        lo,
        c,
        np.ascontiguousarray(short, dtype=np.bool_),
        np.ascontiguousarray(sl_stop, dtype=np.float64),
        np.ascontiguousarray(tp_stop, dtype=np.float64),
        float(slippage),
    )
    return OrderPlan(size, price, stop)


#: Cells (rows x columns) a process plans in the interpreter before the compiled kernel takes
#: over: about what numba's first call costs (0.3 s) at the interpreter's 3.5 us a cell.
PYTHON_BUDGET = 2**16
_planned_in_python = 0


@functools.cache
def _plan_python() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_plan_nb`'s own code for the interpreter, calling :func:`stop_exit_price`'s own code:
    the same plan, bit for bit (the tests compare the two), with nothing compiled or loaded."""
    code = _plan_nb.py_func
    names = {**code.__globals__, "stop_exit_price": stop_exit_price.py_func}
    return types.FunctionType(code.__code__, names, code.__name__)
