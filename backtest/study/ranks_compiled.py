"""The compiled pass of :mod:`backtest.study.ranks` for large blocks (see its notes).

Its own module so that numba (about 0.6 s to import and to load the cached machine code) is
loaded only by a study whose blocks are large enough to gain from it.
"""

from __future__ import annotations

import numba
import numpy as np

_LAST = np.iinfo(np.int64).max  # the key of a missing entry, after every finite value


@numba.njit(cache=True, nogil=True)
def _keys(a: np.ndarray, bits: int) -> np.ndarray:  # pragma: no cover - compiled
    n, width = a.shape
    low = (1 << bits) - 1
    keys = np.empty((n, width), dtype=np.int64)
    bitview = a.view(np.int64)
    for i in range(n):
        for j in range(width):
            if np.isfinite(a[i, j]):
                b = bitview[i, j]
                if b < 0:  # negative floats order backwards as integers: flip all but the sign
                    b ^= 0x7FFFFFFFFFFFFFFF
                keys[i, j] = (b & ~low) | j
            else:
                keys[i, j] = (_LAST & ~low) | j
    return keys


@numba.njit(cache=True, nogil=True)
def _ranks_from_keys(a: np.ndarray, keys: np.ndarray, bits: int,
                     standardize: bool) -> np.ndarray:  # pragma: no cover - compiled
    n, width = a.shape
    low = (1 << bits) - 1
    last = _LAST & ~low
    out = np.full((n, width), np.nan)
    cols = np.empty(width, dtype=np.int64)
    vals = np.empty(width)
    for i in range(n):
        m = 0
        while m < width and (keys[i, m] & ~low) != last:
            col = keys[i, m] & low
            value = a[i, col]
            k = m  # insertion into the exact order: moves only within runs of equal high bits
            while k > 0 and vals[k - 1] > value:
                vals[k] = vals[k - 1]
                cols[k] = cols[k - 1]
                k -= 1
            vals[k] = value
            cols[k] = col
            m += 1
        start = 0
        while start < m:
            stop = start + 1
            while stop < m and vals[stop] == vals[start]:
                stop += 1
            rank = (start + 1 + stop) / 2.0  # positions start..stop-1 tie: their average rank
            if standardize:
                rank = rank / (m + 1.0)
            for k in range(start, stop):
                out[i, cols[k]] = rank
            start = stop
    return out


def ranks(a: np.ndarray, standardize: bool) -> np.ndarray:
    """Row ranks of a C-contiguous float array (see :func:`backtest.study.ranks.rank_rows`)."""
    bits = max(int(a.shape[1] - 1).bit_length(), 1)
    keys = _keys(a, bits)
    keys.sort(axis=1)
    return _ranks_from_keys(a, keys, bits, standardize)
