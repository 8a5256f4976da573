"""Order simulation on vectorbt: pure functions of arrays, one column per event x symbol x combination.

Each daily session is split into two rows before it goes to vectorbt:

* an *open* row (open = high = low = close = the session's open), where orders
  decided at the previous close fill (``fill="next_open"``) and where an
  overnight gap through a stop exits at the open;
* a *day* row (the session's real open, high, low, close), where a stop touched
  by the intraday low (or high, for shorts) exits at the stop price and where
  ``fill="close"`` orders fill at the close.

This lets stops be checked on the very session the position was opened at
the open (stops are checked only on rows after the fill row) and keeps the
daily value path exact: the value after the day row is the session's closing
value. Fills pay ``slippage`` (price moved against the order) and ``fees``
(fraction of the traded value); stops exit at the stop price plus slippage
(stop-market), measured from the entry fill price. Entries use all the
column's cash; shorts lock the cash as collateral (no leverage).

Stops are resolved before the simulation (:mod:`backtest.trading.stops`: they
depend on the fill price and the bars, not on cash) and the resulting orders go
through vectorbt's ``Portfolio.from_orders`` instead of ``from_signals`` (whose
numba simulator is compiled again in every new process). vectorbt runs both on its
Rust engine (``vectorbt[rust]``, a dependency): nothing is compiled on first use;
without it, numba compiles ``from_orders`` once and caches it on disk. Fills, fees,
trade records and values are the ones ``from_signals`` gives for the same decisions
(same vectorbt order execution).
Values, positions and trades come from the order records through vectorbt's own
functions (:func:`portfolio_arrays`), without the ``Portfolio``'s pandas objects; a
column whose last order closes its position is simulated only up to that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Fill = Literal["next_open", "close"]
TRADE_FIELDS = (
    "col",
    "size",
    "entry_idx",
    "entry_price",
    "entry_fees",
    "exit_idx",
    "exit_price",
    "exit_fees",
    "pnl",
    "return",
    "status",
)


@dataclass
class LegResult:
    """Arrays of one simulation: ``value`` and ``held`` are daily (n_sessions, n_columns); ``trades``
    maps trade-record field names to 1-D arrays with row indices in the two-rows-per-session space."""

    value: np.ndarray
    held: np.ndarray
    trades: dict[str, np.ndarray]
    entry_rows: np.ndarray  # (2 * n_sessions, n_columns) bool: rows where an entry filled
    exit_rows: np.ndarray


def expand_bars(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two rows per session: (open, high, low, close, order price), each (2 * n_sessions, n_columns)."""
    n, m = close.shape
    out = [np.empty((2 * n, m)) for _ in range(5)]
    o2, h2, l2, c2, p2 = out
    for arr in out:
        arr[0::2] = open_
    o2[1::2], h2[1::2], l2[1::2], c2[1::2], p2[1::2] = open_, high, low, close, close
    return o2, h2, l2, c2, p2


def fill_rows(decisions: np.ndarray, n_valid: np.ndarray, fill: Fill) -> np.ndarray:
    """Map decisions taken at session ``t``'s close to the row they fill on.

    ``next_open``: the open row of session ``t + 1``; ``close``: the day row of
    session ``t``. A decision that would fill on padding (after the data) is dropped.

    >>> d = np.array([[True], [False], [True]])
    >>> fill_rows(d, np.array([3]), "next_open")[:, 0].astype(int).tolist()
    [0, 0, 1, 0, 0, 0]
    >>> fill_rows(d, np.array([3]), "close")[:, 0].astype(int).tolist()
    [0, 1, 0, 0, 0, 1]
    """
    n, m = decisions.shape
    out = np.zeros((2 * n, m), dtype=bool)
    session = np.arange(n)[:, None]
    if fill == "next_open":
        ok = decisions[:-1] & (session[1:] < n_valid[None, :])
        out[2::2] = ok
    else:
        out[1::2] = decisions & (session < n_valid[None, :])
    return out


def simulate_leg(
    bars2: tuple[np.ndarray, ...],
    entries2: np.ndarray,
    exits2: np.ndarray,
    *,
    short: np.ndarray,
    sl_stop: np.ndarray,
    tp_stop: np.ndarray,
    init_cash: np.ndarray,
    fees: float,
    slippage: float,
) -> LegResult:
    """Run one vectorbt simulation over all columns (one call, no cash sharing).

    ``bars2`` is :func:`expand_bars`' output; ``entries2``/``exits2`` are already on
    their fill rows. ``short``, ``sl_stop``, ``tp_stop``, ``init_cash`` have one
    value per column (``NaN`` stop = none).

    Decisions and stops become per-row orders (:func:`~backtest.trading.stops.plan_orders`)
    that go through ``Portfolio.from_orders`` (vectorbt's Rust engine; without it, a numba
    simulator cached on disk in ``NUMBA_CACHE_DIR``), so a new process compiles nothing. If
    the plan's assumption fails (an entry not filled, or a short cover that
    could not close the position for lack of collateral), the leg is simulated
    again with ``Portfolio.from_signals``, which gives the same fills by
    construction but compiles on first use in each process.
    """
    from backtest.collector import quiet_import
    from backtest.trading.stops import plan_orders

    quiet_import("vectorbt")  # a process's first leg: its 470,000 objects not scanned on the way
    from vectorbt.portfolio.enums import trade_dt

    o2, h2, l2, c2, p2 = (np.ascontiguousarray(a, dtype=float) for a in bars2)
    entries2 = np.ascontiguousarray(entries2, dtype=bool)
    exits2 = np.ascontiguousarray(exits2, dtype=bool)
    short = np.asarray(short, dtype=bool)
    plan = plan_orders(
        entries2,
        exits2,
        (o2, h2, l2, c2, p2),
        short=short,
        sl_stop=sl_stop,
        tp_stop=tp_stop,
        slippage=slippage,
    )
    planned = ~np.isnan(plan.size)
    # Columns without a single order keep their cash: simulate only the others (same numbers, less work).
    active = np.flatnonzero(planned.any(axis=0))
    init_cash = np.broadcast_to(np.asarray(init_cash, dtype=float), short.shape)
    value2 = np.repeat(init_cash[None, :], c2.shape[0], axis=0)
    assets2 = np.zeros(c2.shape)
    records = np.zeros(0, dtype=trade_dt)
    if active.size:
        spans = _row_spans(plan.size[:, active], planned[:, active])
        parts = [_orders_part(c2, plan, planned, short, init_cash, active[pos], rows, fees, slippage)
                 for pos, rows in spans]
        if all(part is not None for part in parts):
            for (pos, rows), (value, assets, recs) in zip(spans, parts, strict=True):
                cols = active[pos]
                value2[:rows, cols] = value
                value2[rows:, cols] = value[-1]  # flat after its last order: the cash stays
                assets2[:rows, cols] = assets
                recs["col"] = pos[recs["col"]]
            records = np.concatenate([part[2] for part in parts])
            records = records[np.argsort(records["col"], kind="stable")]
        else:

            def sub(a: np.ndarray) -> np.ndarray:
                return np.ascontiguousarray(a[:, active])

            pf = _from_signals(
                tuple(sub(a) for a in (o2, h2, l2, c2, p2)),
                sub(entries2),
                sub(exits2),
                short[active],
                np.asarray(sl_stop, dtype=float)[active],
                np.asarray(tp_stop, dtype=float)[active],
                init_cash[active],
                fees,
                slippage,
            )
            value2[:, active], assets2[:, active], records = portfolio_arrays(
                pf.order_records, sub(c2), init_cash[active]
            )
    return _leg_result(value2, assets2, records, active, exits2)


def _row_spans(size: np.ndarray, planned: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Columns (positions) and how many rows to simulate: a column whose last order closes its
    position stays flat, so rows after the last such order are not simulated (its value holds)."""
    n = size.shape[0]
    last = n - 1 - np.argmax(planned[::-1], axis=0)
    closes = size[last, np.arange(size.shape[1])] < 0
    spans = [(np.flatnonzero(closes), int(last[closes].max()) + 1 if closes.any() else 0),
             (np.flatnonzero(~closes), n)]
    return [(pos, rows) for pos, rows in spans if pos.size]


def _orders_part(
    c2: np.ndarray, plan: object, planned: np.ndarray, short: np.ndarray, init_cash: np.ndarray,
    cols: np.ndarray, rows: int, fees: float, slippage: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``Portfolio.from_orders`` on columns ``cols``, rows ``:rows``; None if the plan's assumption
    fails (an order not filled in full, or an exit that leaves a position)."""
    import vectorbt as vbt

    def sub(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a[:rows][:, cols])

    n_orders = int(planned[:rows][:, cols].sum())
    pf = vbt.Portfolio.from_orders(
        sub(c2),
        size=sub(plan.size),
        price=sub(plan.price),
        direction=np.where(short[cols], 1, 0).astype(np.int64)[None, :],  # ShortOnly / LongOnly
        fees=np.asarray(float(fees)),
        slippage=np.asarray(float(slippage)),
        lock_cash=np.asarray(True),
        init_cash=init_cash[cols],
        max_orders=n_orders,  # records preallocated: one per planned order
        freq="1D",
    )
    value, assets, records = portfolio_arrays(pf.order_records, sub(c2), init_cash[cols])
    if len(pf.order_records) != n_orders or (assets[sub(planned & (plan.size < 0))] != 0).any():
        return None
    return value, assets, records


def portfolio_arrays(
    order_records: np.ndarray, close: np.ndarray, init_cash: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Portfolio.value()``, ``.assets()`` and ``.trades.values`` of a simulation without cash sharing,
    from its order records: the same vectorbt functions the ``Portfolio`` methods call, without
    building their pandas objects (which cost more than the simulation on a large grid)."""
    from vectorbt.portfolio import dispatch
    from vectorbt.portfolio.enums import Direction
    from vectorbt.records.dispatch import col_map

    shape = close.shape
    cols = col_map(order_records["col"], shape[1])
    assets = dispatch.assets(dispatch.asset_flow(shape, order_records, cols, Direction.Both))
    init = dispatch.init_cash(np.asarray(init_cash, dtype=np.float64), np.ones(shape[1], np.int64), False)
    cash = dispatch.cash(dispatch.cash_flow(shape, order_records, cols, False), init)
    held_close = pd.DataFrame(close).ffill().bfill().to_numpy() if np.isnan(close).any() else close.copy()
    held_close[assets == 0] = 0.0  # as Portfolio.asset_value: a NaN price of a flat column counts 0
    value = dispatch.value(cash, dispatch.asset_value(held_close, assets))
    return value, assets, dispatch.get_exit_trades(order_records, close, cols)


def _leg_result(
    value2: np.ndarray, assets2: np.ndarray, records: np.ndarray, active: np.ndarray, exits2: np.ndarray
) -> LegResult:
    held = (assets2[0::2] != 0) | (assets2[1::2] != 0)
    trades = {name: np.array(records[name]) for name in TRADE_FIELDS}
    trades["col"] = active[trades["col"]]  # back to the leg's own column numbers
    # A closed trade whose exit row carries no exit signal was closed by a stop (intraday or at a gap open).
    trades["stopped"] = (trades["status"] == 1) & ~exits2[trades["exit_idx"], trades["col"]]
    entry_rows = np.zeros(value2.shape, dtype=bool)
    exit_rows = np.zeros_like(entry_rows)
    if len(records):
        entry_rows[trades["entry_idx"], trades["col"]] = True
        closed = trades["status"] == 1
        exit_rows[trades["exit_idx"][closed], trades["col"][closed]] = True
    return LegResult(value2[1::2], held, trades, entry_rows, exit_rows)


def _from_signals(
    bars2: tuple[np.ndarray, ...],
    entries2: np.ndarray,
    exits2: np.ndarray,
    short: np.ndarray,
    sl_stop: np.ndarray,
    tp_stop: np.ndarray,
    init_cash: np.ndarray,
    fees: float,
    slippage: float,
) -> object:
    """The same leg with vectorbt's own signal simulator (stops inside; compiled once per process)."""
    import vectorbt as vbt

    o2, h2, l2, c2, p2 = bars2
    return vbt.Portfolio.from_signals(
        c2,
        entries2,
        exits2,
        price=p2,
        open=o2,
        high=h2,
        low=l2,
        direction=np.where(short, 1, 0).astype(np.int64)[None, :],  # Direction.ShortOnly / LongOnly
        size=np.asarray(np.inf),
        fees=np.asarray(float(fees)),
        slippage=np.asarray(float(slippage)),
        sl_stop=np.asarray(sl_stop, dtype=float)[None, :],
        tp_stop=np.asarray(tp_stop, dtype=float)[None, :],
        stop_entry_price=np.asarray(2),
        stop_exit_price=np.asarray(1),  # FillPrice / StopMarket
        use_stops=True,
        lock_cash=np.asarray(True),
        init_cash=np.asarray(init_cash, dtype=float),
        accumulate=np.asarray(0),
        upon_opposite_entry=np.asarray(0),  # Disabled / Ignore
        freq="1D",
    )
