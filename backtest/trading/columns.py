"""Distinct columns of a grid: simulate each different column once and copy it to its twins.

Many combinations of a grid give the same column. ``buy_the_dip``'s ``threshold`` only
decides *whether* the rule acts on an event x symbol, so its 10 thresholds x 100 (hold,
stop) pairs give at most 100 different decision columns per pair, plus one that never
trades (a column that never enters ignores its stops and exits): the 16,000 columns of
``benchmarks/bench_trade.py`` hold 1,212 different ones. Columns are simulated
independently (no shared cash) and every per-column statistic reads its own column only, so
a twin's numbers are its representative's, bit for bit.

>>> entries = np.array([[0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
>>> d = distinct_columns(np.array([0, 0, 0, 0]), entries, ~entries, np.array([0.1, 0.2, 0.1, 0.1]),
...     np.full(4, np.nan))
>>> d.first.tolist(), d.inverse.tolist()   # never entering: stops and exits do not matter
([0, 2], [0, 0, 1, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NAN_BITS = np.array([np.nan]).view(np.int64)[0]


@dataclass(frozen=True)
class Distinct:
    """``first``: the first column of each distinct column, ascending; ``inverse``: the distinct
    column (an index into ``first``) of every column."""

    first: np.ndarray
    inverse: np.ndarray

    def expand_records(self, records: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Trade records of the distinct columns (``col`` = distinct index) copied to every column.

        Records come out sorted by column, each column's in their own order, as a
        simulation of all the columns would give them.
        """
        col = records["col"]
        order = np.argsort(col, kind="stable")
        count = np.bincount(col, minlength=len(self.first))
        start = np.cumsum(count) - count
        n_out = count[self.inverse]
        offset = np.arange(n_out.sum()) - np.repeat(np.cumsum(n_out) - n_out, n_out)
        take = order[np.repeat(start[self.inverse], n_out) + offset]
        out = {name: values[take] for name, values in records.items()}
        out["col"] = np.repeat(np.arange(len(self.inverse)), n_out)
        return out


def distinct_columns(
    unit: np.ndarray, entries: np.ndarray, exits: np.ndarray, sl_stop: np.ndarray, tp_stop: np.ndarray
) -> Distinct:
    """Group columns with the same window (``unit``), decisions and stops.

    Parameters
    ----------
    unit : ndarray of int, shape (m,)
        Window (event x symbol) of each column.
    entries, exits : ndarray of bool, shape (n_sessions, m)
        Decisions.
    sl_stop, tp_stop : ndarray of float, shape (m,)
        Stops (``NaN`` = none).
    """
    m = len(unit)
    traded = entries.any(axis=0)
    stops = np.column_stack([sl_stop, tp_stop]).astype(np.float64)
    bits = stops.view(np.int64).copy()
    bits[np.isnan(stops) | ~traded[:, None]] = _NAN_BITS
    n = entries.shape[0]
    width = 24 + 2 * n
    key = np.zeros((m, -(-width // 8) * 8), np.uint8)  # one row of bytes per column
    key[:, :8] = np.asarray(unit, dtype=np.int64)[:, None].view(np.uint8)
    key[:, 8:24] = bits.view(np.uint8)
    key[:, 24 : 24 + n] = entries.T.view(np.uint8)
    key[:, 24 + n : width] = (exits & traded[None, :]).T.view(np.uint8)
    words = key.view(np.uint64)
    # One 64-bit hash per column (sorting the raw keys costs more); a collision is checked and
    # then the keys are compared in full.
    mult = np.random.default_rng(0).integers(1, 2**63, words.shape[1], dtype=np.uint64) | np.uint64(1)
    _, first, inverse = np.unique(words @ mult, return_index=True, return_inverse=True)
    if not (words[first][np.ravel(inverse)] == words).all():
        full = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).reshape(m)
        _, first, inverse = np.unique(full, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return Distinct(first[order], rank[np.ravel(inverse)])
