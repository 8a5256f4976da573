"""Grid slices: a strategy backtest cut into (event x symbol units) x (combinations) pieces.

:func:`backtest.trade.run_units` is a pure function of its units and combinations, and every
column (one unit x one combination) is simulated on its own. So the grid can be cut into
rectangular slices, each slice run anywhere (:mod:`backtest.scheduler`), and the pieces put
back in the inline column order (unit-major, then combination): :func:`combine` gives the
same :class:`~backtest.trading.result.TradeResult`, bit for bit, as one call over everything.

A grid too large to hold per column (100,000 combinations over 1,000 units is 10^8 rows) is
reduced on the workers instead: :func:`grid_sums` maps :func:`slice_sums` and adds the
slices' per-combination sums, so what comes back is ``O(combinations)`` whatever the number
of units, and the means of :attr:`TradeResult.aggregate` follow from the sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtest.scheduler import open_scheduler, split
from backtest.trading.result import TradeResult
from backtest.trading.simulate import Fill
from backtest.trading.windows import Unit
from strategies.base import Strategy

Slice = tuple[slice, slice]  # (units, combinations)


def grid_slices(n_units: int, n_combos: int, n_slices: int) -> list[Slice]:
    """About ``n_slices`` rectangles covering units x combinations: units first, then combinations.

    >>> grid_slices(3, 4, 6)
    [(slice(0, 1, None), slice(0, 2, None)), (slice(0, 1, None), slice(2, 4, None)), (slice(1, 2, None), slice(0, 2, None)), (slice(1, 2, None), slice(2, 4, None)), (slice(2, 3, None), slice(0, 2, None)), (slice(2, 3, None), slice(2, 4, None))]
    """  # noqa: E501
    unit_parts = split(n_units, n_slices)
    combo_parts = split(n_combos, math.ceil(n_slices / len(unit_parts)))
    return [(u, c) for u in unit_parts for c in combo_parts]


def run_slice(piece: tuple[Sequence[Unit], pd.DataFrame], *, strategy: Strategy, fees: float,
              slippage: float, fill: Fill) -> TradeResult:
    """One slice: :func:`backtest.trade.run_units` on its units and combinations."""
    from backtest.trade import run_units

    units, combos = piece
    return run_units(strategy, units, combos.reset_index(drop=True), fees=fees, slippage=slippage, fill=fill)


def run_grid(strategy: Strategy, units: Sequence[Unit], combos: pd.DataFrame, *, fees: float,
             slippage: float, fill: Fill, scheduler: Any = None) -> TradeResult:
    """:func:`backtest.trade.run_units` over the whole grid, sliced over ``scheduler``'s workers."""
    with open_scheduler(scheduler) as mapper:
        slices = grid_slices(len(units), len(combos), mapper.chunks(len(units) * len(combos)))
        if len(slices) == 1:
            return run_slice((units, combos), strategy=strategy, fees=fees, slippage=slippage, fill=fill)
        parts = mapper.map(run_slice, [(list(units[u]), combos.iloc[c]) for u, c in slices],
                           label="grid slices", strategy=strategy, fees=fees, slippage=slippage, fill=fill)
    return combine(parts, slices, list(units), combos)


def combine(parts: Sequence[TradeResult], slices: Sequence[Slice], units: list[Unit],
            combos: pd.DataFrame) -> TradeResult:
    """Put the slices' results back in the inline order (unit-major, then combination)."""
    n_c = len(combos)
    # Global column of every local column of every part, in the parts' order.
    columns = [
        (np.arange(u.start, u.stop)[:, None] * n_c + np.arange(c.start, c.stop)[None, :]).ravel()
        for u, c in slices
    ]
    global_col = np.concatenate(columns)
    order = np.argsort(global_col, kind="stable")
    results = pd.concat([p.results for p in parts], ignore_index=True).iloc[order].reset_index(drop=True)
    value = np.concatenate([p.value for p in parts], axis=1)[:, order]
    first_of_units = [p for p, (_, c) in zip(parts, slices, strict=True) if c.start == 0]
    buy_hold = np.concatenate([p.buy_hold_value for p in first_of_units], axis=1)
    legs = {}
    for leg in parts[0].legs:
        records = {
            name: np.concatenate([p.legs[leg][name] for p in parts]) for name in parts[0].legs[leg]
        }
        local = [p.legs[leg]["col"] for p in parts]
        records["col"] = np.concatenate([cols[c] for c, cols in zip(local, columns, strict=True)])
        sort = np.argsort(records["col"], kind="stable")
        legs[leg] = {name: values[sort] for name, values in records.items()}
    return TradeResult(strategy=parts[0].strategy, results=results, units=units, combos=combos,
                       value=value, buy_hold_value=buy_hold, legs=legs, settings=dict(parts[0].settings))


#: Most unit x combination columns in one slice of :func:`grid_sums` (~100 MB of matrices and results).
SLICE_COLUMNS = 100_000
#: Per-combination sums of a grid (:func:`combo_sums`): counts and sums that add across slices.
SUM_COLUMNS: tuple[str, ...] = ("pairs", "traded", "return_sum", "positive", "trades", "wins",
                                "excess_n", "excess_sum")


def combo_sums(results: pd.DataFrame, by: Sequence[str] = ("combo",)) -> pd.DataFrame:
    """Sums per combination (or per ``by`` keys, e.g. ``("event_id", "combo")`` for a holdout)
    of a results table (:attr:`TradeResult.results`): :data:`SUM_COLUMNS`, in first-seen order.

    ``pairs`` event x symbol units, ``traded`` those with a trade, ``return_sum`` the sum of
    their total returns, ``positive`` how many gained, ``trades`` and ``wins`` the trade counts,
    ``excess_n`` / ``excess_sum`` the count and sum of the finite ``excess_vs_buy_hold``.
    Sums add across slices, so ``mean_return = return_sum / pairs`` of the whole grid comes
    from the slices' sums (:func:`sums_summary`).
    """
    excess = results["excess_vs_buy_hold"]
    frame = results.assign(_traded=results["n_trades"] > 0, _pos=results["total_return"] > 0,
                           _wins=results["win_rate"].fillna(0) * results["n_trades"],
                           _excess_n=excess.notna(), _excess=excess.fillna(0.0))
    g = frame.groupby(list(by), sort=False)
    return pd.DataFrame({"pairs": g.size(), "traded": g["_traded"].sum(),
                         "return_sum": g["total_return"].sum(), "positive": g["_pos"].sum(),
                         "trades": g["n_trades"].sum(), "wins": g["_wins"].sum(),
                         "excess_n": g["_excess_n"].sum(), "excess_sum": g["_excess"].sum()})


def slice_sums(piece: tuple[Sequence[Unit], pd.DataFrame | slice], *, strategy: Strategy, fees: float,
               slippage: float, fill: Fill, by: Sequence[str] = ("combo",),
               combos: pd.DataFrame | None = None) -> pd.DataFrame:
    """One slice reduced on its worker: :func:`combo_sums` of :func:`run_slice`.

    ``piece`` is ``(units, combinations)``, or ``(units, rows)`` with ``rows`` a slice of the
    shared ``combos`` (which then travel once per worker, not once per slice).
    """
    units, rows = piece
    chosen = combos.iloc[rows] if isinstance(rows, slice) else rows
    done = run_slice((units, chosen), strategy=strategy, fees=fees, slippage=slippage, fill=fill)
    return combo_sums(done.results, by)


def sums_summary(sums: pd.DataFrame) -> pd.DataFrame:
    """The means of :attr:`TradeResult.aggregate` from :func:`combo_sums`: mean_return,
    positive_share, win_rate, mean_excess_vs_buy_hold (NaN where nothing to average)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums.assign(
            mean_return=sums["return_sum"] / sums["pairs"],
            positive_share=sums["positive"] / sums["pairs"],
            win_rate=(sums["wins"] / sums["trades"]).where(sums["trades"] > 0),
            mean_excess_vs_buy_hold=(sums["excess_sum"] / sums["excess_n"]).where(sums["excess_n"] > 0))


def grid_sums(strategy: Strategy, units: Sequence[Unit], combos: pd.DataFrame, *, fees: float,
              slippage: float, fill: Fill, scheduler: Any = None, n_slices: int | None = None,
              by: Sequence[str] = ("combo",)) -> pd.DataFrame:
    """The grid's :func:`sums_summary`, reduced slice by slice over ``scheduler``'s workers.

    Slices hold at most :data:`SLICE_COLUMNS` unit x combination columns (unless ``n_slices``
    says otherwise) and come back in batches, each added into the running sums before the next
    is gathered: memory is one slice's results per worker and ``O(combinations)`` (times events
    with ``by=("event_id", "combo")``) here, never one row per unit x combination.
    """
    keys = list(range(len(by)))
    total: pd.DataFrame | None = None
    with open_scheduler(scheduler) as mapper:
        count = n_slices or max(4 * mapper.workers, math.ceil(len(units) * len(combos) / SLICE_COLUMNS))
        slices = grid_slices(len(units), len(combos), count)
        batch = max(16, 8 * mapper.workers)
        for first in range(0, len(slices), batch):
            parts = mapper.map(slice_sums, [(list(units[u]), c) for u, c in slices[first:first + batch]],
                               label="grid slices", strategy=strategy, fees=fees, slippage=slippage,
                               fill=fill, by=tuple(by), combos=combos)
            both = pd.concat(parts if total is None else [total, *parts])
            total = both.groupby(level=keys, sort=False).sum()
    return sums_summary(total)
