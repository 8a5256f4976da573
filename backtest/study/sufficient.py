"""Per-scope sufficient statistics of the cross-sectional tests, and how they merge.

A :class:`ScopeStats` holds, for each scope (an event, or a pool of events), the sums and
counts the tests of :mod:`backtest.study.statistics` are functions of, so that blocks of
pairs computed apart (:mod:`backtest.study.block`) reduce to exactly the statistics of
all their pairs. Per scope and CAR window (``W``), estimation day (``L1``), event day
(``L2``) or rank day (``L1 + L2``):

==================================  ========================================================
``car_n, car_sum, car_m2``          count, sum and centred sum of squares of the CARs
                                    (cross-sectional t, CAAR, Brown-Warner numerator)
``car_pos``                         CARs above zero (generalized sign)
``scar_n, scar_sum, scar_m2``       the same for ``SCAR = CAR / sd(CAR)`` (BMP, BMP-KP)
``patell_n, patell_sum, patell_var``  pairs with ``df > 2``, sum of SCAR, sum of ``df/(df-2)``
``est_cnt, est_sum``                estimation residuals per relative day (Brown-Warner ``Ā_t``)
``u_cnt, u_sum``                    ranks and ``sum (U - 1/2)`` per rank day (Corrado ``S_U``)
``win_cnt, win_sum, win_pairs``     the same on each window's days for pairs whose window is
                                    complete (windows' columns side by side), pairs with a rank
``share_n, share_sum``              pairs with estimation ARs, sum of their positive shares
``ar_cnt, ar_sum``                  ARs per event day (AAR / CAAR table)
``rb_m, rb_sq``                     pairs entering ``r̄``, ``sum z^2`` (Kolari-Pynnönen)
``rb_scope, rb_day, rb_n, rb_sum``  tidy rows: per scope and calendar day, ``N_t`` and ``sum z``
``bw_n, bw_car, bw_s2``             pairs with a CAR and ``S_i^2``, their CAR and ``S_i^2`` sums
                                    (Brown-Warner 1980)
``bw_k, bw_m``                      pairs with ``S_i^2`` and the sum of their ``M_i`` (``M̄``)
``lamb_n, lamb_car, lamb_f``        pairs with a CAR and a prediction-error factor, their sums
                                    (Lamb 1995; ``Ā_t`` is ``est_sum / est_cnt``)
``rs_sum, rs_win``                  ``sum sign(U - 1/2)`` per rank day and on each window's days
                                    (Corrado-Zivney rank-sign; counts as ``u_cnt``, ``win_cnt``)
==================================  ========================================================

Counts and sums add; centred sums of squares merge as
``M2 = sum_b M2_b + sum_b n_b (mean_b - mean)^2`` (Chan, Golub and LeVeque 1979, eq. 2.1),
which keeps the two-pass accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from backtest.study.classics import variance_from_centred
from backtest.study.crosscorr import MIN_OVERLAP, NO_DAY, centred_rows, day_numbers, unit_filled
from backtest.study.statistics import positive_share

CENTRED: tuple[tuple[str, str, str], ...] = (("car_n", "car_sum", "car_m2"),
                                             ("scar_n", "scar_sum", "scar_m2"))
DAY_ROWS: tuple[str, ...] = ("rb_scope", "rb_day", "rb_n", "rb_sum")


@dataclass(frozen=True)
class ScopeStats:
    """Sufficient statistics of ``s`` scopes (see the module docstring); rows sorted by ``scope``."""

    scope: np.ndarray
    car_n: np.ndarray
    car_sum: np.ndarray
    car_m2: np.ndarray
    car_pos: np.ndarray
    scar_n: np.ndarray
    scar_sum: np.ndarray
    scar_m2: np.ndarray
    patell_n: np.ndarray
    patell_sum: np.ndarray
    patell_var: np.ndarray
    est_cnt: np.ndarray
    est_sum: np.ndarray
    u_cnt: np.ndarray
    u_sum: np.ndarray
    win_cnt: np.ndarray
    win_sum: np.ndarray
    win_pairs: np.ndarray
    share_n: np.ndarray
    share_sum: np.ndarray
    ar_cnt: np.ndarray
    ar_sum: np.ndarray
    rb_m: np.ndarray
    rb_sq: np.ndarray
    rb_scope: np.ndarray
    rb_day: np.ndarray
    rb_n: np.ndarray
    rb_sum: np.ndarray
    bw_n: np.ndarray
    bw_car: np.ndarray
    bw_s2: np.ndarray
    bw_k: np.ndarray
    bw_m: np.ndarray
    lamb_n: np.ndarray
    lamb_car: np.ndarray
    lamb_f: np.ndarray
    rs_sum: np.ndarray
    rs_win: np.ndarray

    def __reduce__(self) -> tuple:
        # between processes the counts (and the sums of signs) travel in the smallest integer
        # type that holds them: a third of a study's output bytes are these statistics
        return (_widened, ({f.name: _narrow(getattr(self, f.name)) for f in fields(self)},
                           {f.name: getattr(self, f.name).dtype.str for f in fields(self)}))


def _narrow(values: np.ndarray) -> np.ndarray:
    """``values`` in the smallest integer type that holds them exactly, else unchanged: integer
    arrays, and float arrays of whole numbers without -0.0 (which an integer cannot carry).

    >>> _narrow(np.array([0.0, 3.0, -2.0])).dtype.name, _narrow(np.array([0.5])).dtype.name
    ('int8', 'float64')
    """
    if values.size == 0 or values.dtype.kind not in "iuf":
        return values
    if values.dtype.kind == "f":
        whole = np.isfinite(values).all() and np.array_equal(values, np.trunc(values))
        if not whole or np.signbit(values[values == 0]).any():
            return values
    low, high = values.min(), values.max()
    for small in (np.int8, np.int16, np.int32):
        info = np.iinfo(small)
        if info.min <= low and high <= info.max:
            return values.astype(small) if np.dtype(small).itemsize < values.itemsize else values
    return values


def _widened(arrays: dict[str, np.ndarray], dtypes: dict[str, str]) -> ScopeStats:
    """:class:`ScopeStats` from :meth:`ScopeStats.__reduce__`: each array back in its own type
    (exactly: every value of a narrowed array is a whole number its own type holds)."""
    return ScopeStats(**{name: values.astype(dtypes[name], copy=False) for name, values in arrays.items()})


def in_order(parts: Sequence[np.ndarray], rows: np.ndarray, dtype: np.dtype | None = None) -> np.ndarray:
    """``np.concatenate(parts)`` with its ``j``-th row at ``rows[j]`` (a permutation): blocks' rows
    put in their places with one copy, not a concatenation and then a gather (``dtype``: the
    result's, else ``np.concatenate``'s).

    >>> in_order([np.array([10, 20]), np.array([30])], np.array([2, 0, 1])).tolist()
    [20, 30, 10]
    """
    first = parts[0]
    dtype = np.result_type(*{part.dtype for part in parts}) if dtype is None else dtype
    out = np.empty((len(rows), *first.shape[1:]), dtype=dtype)
    start = 0
    for part in parts:
        out[rows[start:start + len(part)]] = part
        start += len(part)
    return out


class _Groups:
    """Rows grouped by an integer key: sorted once, summed per group with ``reduceat``."""

    def __init__(self, key: np.ndarray) -> None:
        key = np.asarray(key)
        self.order = None if key.size < 2 or bool(np.all(key[1:] >= key[:-1])) else \
            np.argsort(key, kind="stable")
        srt = key if self.order is None else key[self.order]
        first = np.flatnonzero(np.concatenate([[True], srt[1:] != srt[:-1]])) if srt.size else \
            np.zeros(0, dtype=np.int64)
        self.starts = first
        self.keys = srt[first]
        self.inverse = np.empty(key.size, dtype=np.int64)
        ranks = np.cumsum(np.concatenate([[False], srt[1:] != srt[:-1]])) if srt.size else srt
        if self.order is None:
            self.inverse[:] = ranks
        else:
            self.inverse[self.order] = ranks

    def sum(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype == bool:
            x = x.astype(np.int64)
        if self.keys.size == 0:
            return np.zeros((0, *x.shape[1:]), dtype=x.dtype)
        if self.keys.size == x.shape[0]:  # every group one row (one pair per event): no reduction
            return x.copy() if self.order is None else x[self.order]
        return np.add.reduceat(x if self.order is None else x[self.order], self.starts, axis=0)


class _KeyRanges:
    """Rows of several parts, each part's rows sorted by a key (``ranged``), summed per group
    key (``key``: ``ranged`` or finer) a range of keys at a time: the bits of
    ``_Groups(concatenated key).sum(concatenated values)`` without copying every part's rows
    into one array (per-day fields of 196 blocks x 200 events: about 700 MB at 400,000 pairs).

    The rows of a key keep their order in the concatenation, and ``reduceat`` sums each group
    apart, so a range of keys sums to the bits the whole does.
    """

    def __init__(self, ranged: Sequence[np.ndarray], key: Sequence[np.ndarray] | None = None,
                 rows_per_range: int = 2048) -> None:
        key = ranged if key is None else key
        distinct = np.unique(np.concatenate(ranged)) if ranged else np.zeros(0, dtype=np.int64)
        # rows per distinct ranged key, over all parts, cut into ranges of about rows_per_range
        per_key = sum((np.searchsorted(r, distinct, "right") - np.searchsorted(r, distinct, "left")
                       for r in ranged), np.zeros(len(distinct), dtype=np.int64))
        ends = np.cumsum(per_key)
        cuts = np.unique(np.searchsorted(ends, np.arange(rows_per_range, ends[-1] if len(ends) else 0,
                                                          rows_per_range), "left") + 1)
        ascending = all(bool(np.all(r[1:] >= r[:-1])) for r in ranged)
        # parts not sorted (a relabelled merge) go in one range: the whole concatenation
        bounds = [distinct[i] for i in cuts if i < len(distinct)] if ascending else []
        # each part's slice of each range: [lo, hi) of its sorted rows
        self._slices = [np.searchsorted(r, bounds) for r in ranged]
        self._ranges = len(bounds) + 1
        self._groups = [_Groups(np.concatenate(self._cut(key, j))) for j in range(self._ranges)]
        self.keys = np.concatenate([g.keys for g in self._groups])

    def _cut(self, parts: Sequence[np.ndarray], j: int) -> list[np.ndarray]:
        out = []
        for part, edges in zip(parts, self._slices, strict=True):
            lo = edges[j - 1] if j > 0 else 0
            hi = edges[j] if j < len(edges) else len(part)
            out.append(part[lo:hi])
        return out

    def sum(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """Per group key: the sum of its rows of ``parts`` (aligned with the keys' parts)."""
        sums = [g.sum(np.concatenate(self._cut(parts, j))) for j, g in enumerate(self._groups)]
        return np.concatenate(sums)


def _centred(g: _Groups, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group and column: count, sum and centred sum of squares of the finite ``x``."""
    valid = np.isfinite(x)
    n = g.sum(valid)
    total = g.sum(np.where(valid, x, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    dev = np.where(valid, x - mean[g.inverse], 0.0)
    return n, total, g.sum(dev * dev)


def scope_stats(out, scope: np.ndarray, car_cols: Sequence[tuple[int, int]],
                est_days: np.ndarray | None = None) -> ScopeStats:
    """Sufficient statistics of one block's pairs, one row per scope code in ``scope``.

    ``out`` is the block's :class:`~backtest.study.block.Computed`; ``est_days`` the
    estimation sessions as dates or day numbers (None: relative day) for ``r̄``.
    """
    g = _Groups(scope)
    car = out.car
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(out.car_var)
    car_n, car_sum, car_m2 = _centred(g, car)
    scar_n, scar_sum, scar_m2 = _centred(g, scar)
    df = out.fit.df[:, None].astype(float)
    use = np.isfinite(scar) & (df > 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        patell_var = g.sum(np.where(use, df / (df - 2.0), 0.0))
    resid = out.fit.est_resid
    offset = resid.shape[1]
    est_ok = np.isfinite(resid)
    u = out.u
    u_ok = np.isfinite(u)
    u_dev = np.where(u_ok, u - 0.5, 0.0)
    u_sign = np.sign(u_dev)  # Corrado-Zivney (1992) G_it = sign(U_it - 1/2)
    win_ok, win_val, win_sign, win_any = [], [], [], []
    for j, (first, last) in enumerate(car_cols):
        cols = slice(first + offset, last + offset + 1)
        ok = u_ok[:, cols] & out.complete[:, j : j + 1]
        win_ok.append(ok)
        win_val.append(np.where(ok, u_dev[:, cols], 0.0))
        win_sign.append(np.where(ok, u_sign[:, cols], 0.0))
        win_any.append(ok.any(axis=1))
    share = positive_share(resid)
    ar_ok = np.isfinite(out.ar)
    centred = centred_rows(resid)  # one centring for r̄ and Brown-Warner's S_i^2
    m, s2 = variance_from_centred(centred)
    have, z = unit_filled(centred)
    del centred  # the deviations (n x L1) end here, before the day sums' temporaries
    rb = _rbar_days(g, have, z, est_days)
    del have, z
    has_s2 = np.isfinite(s2)
    bw_use = np.isfinite(car) & has_s2[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        pe = out.car_var / out.fit.sigma2[:, None]  # Lamb's factor Var(CAR_i) / sigma_i^2
    lamb_use = np.isfinite(car) & np.isfinite(pe)
    return ScopeStats(
        g.keys.astype(np.int64), car_n, car_sum, car_m2, g.sum(car > 0), scar_n, scar_sum, scar_m2,
        g.sum(use), g.sum(np.where(use, scar, 0.0)), patell_var,
        g.sum(est_ok), g.sum(np.where(est_ok, resid, 0.0)),
        g.sum(u_ok), g.sum(u_dev),
        g.sum(np.concatenate(win_ok, axis=1)), g.sum(np.concatenate(win_val, axis=1)),
        g.sum(np.stack(win_any, axis=1)),
        g.sum(np.isfinite(share)), g.sum(np.where(np.isfinite(share), share, 0.0)),
        g.sum(ar_ok), g.sum(np.where(ar_ok, out.ar, 0.0)), *rb,
        g.sum(bw_use), g.sum(np.where(bw_use, car, 0.0)), g.sum(np.where(bw_use, s2[:, None], 0.0)),
        g.sum(has_s2), g.sum(np.where(has_s2, m, 0)),
        g.sum(lamb_use), g.sum(np.where(lamb_use, car, 0.0)), g.sum(np.where(lamb_use, pe, 0.0)),
        g.sum(u_sign), g.sum(np.concatenate(win_sign, axis=1)))


def _rbar_days(g: _Groups, have: np.ndarray, z: np.ndarray,
               est_days: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Kolari-Pynnönen day sums (:func:`~backtest.study.crosscorr.rbar_from_unit`) per scope,
    from :func:`~backtest.study.crosscorr.unit_filled` (``have``, ``z``)."""
    if est_days is None:
        days = np.broadcast_to(np.arange(z.shape[1], dtype=np.int64), z.shape)
    else:
        days = day_numbers(est_days)
        have &= days != NO_DAY
    rows = have.sum(axis=1) >= max(MIN_OVERLAP, 2)
    have &= rows[:, None]
    s = g.keys.size
    zz = np.where(have, z, 0.0)  # have may be narrower than unit_filled's (dates, short rows)
    sq = g.sum(np.einsum("nl,nl->n", zz, zz))
    if not have.any():
        empty = np.zeros(0, dtype=np.int64)
        return g.sum(rows), sq, empty, empty, empty, np.zeros(0)
    low = int(np.where(have, days, np.iinfo(np.int64).max).min())
    span = int(np.where(have, days, np.iinfo(np.int64).min).max()) - low + 1
    if s * span <= max(4 * int(have.sum()), 1 << 16):  # a dense scope x day grid: no sort, no gather
        key = np.where(have, g.inverse[:, None] * span + (days - low), s * span).ravel()
        n_t = np.bincount(key, minlength=s * span + 1)[:-1]
        total = np.bincount(key, weights=zz.ravel(), minlength=s * span + 1)[:-1]
        cells = np.flatnonzero(n_t)
        n_t, total = n_t[cells], total[cells]
    else:  # scopes far apart in time: sort the cells that exist
        key = (np.broadcast_to(g.inverse[:, None], z.shape)[have] * span + (days[have] - low))
        cells_g = _Groups(key)  # no sort when the keys already ascend (one pair per scope)
        cells, inverse = cells_g.keys, cells_g.inverse
        n_t = np.bincount(inverse, minlength=cells.size)
        total = np.bincount(inverse, weights=z[have], minlength=cells.size)
    return (g.sum(rows), sq, g.keys[cells // span].astype(np.int64), cells % span + low, n_t, total)


def combine(parts: Sequence[ScopeStats], groups: np.ndarray | None = None) -> ScopeStats:
    """Merge scope rows: across blocks (``groups`` None: rows of one scope code merge) or into
    pools (``groups``: the output code of each row of the concatenated parts).

    With ``groups`` the calendar-day ``r̄`` rows are dropped: a pool's ``r̄`` is not a merge of
    day sums but :func:`~backtest.study.crosscorr.pooled_rbar` of its events' ``r̄``.
    """
    centred = {m2 for _, _, m2 in CENTRED}
    summed = [f.name for f in fields(ScopeStats) if f.name not in centred | set(DAY_ROWS) | {"scope"}]
    # the per-day fields (scopes x days) and calendar-day rows of many blocks are summed a range
    # of scopes at a time, not concatenated first (about 700 MB at 400,000 pairs)
    ranged = [] if groups is not None else \
        [name for name in summed if getattr(parts[0], name).ndim == 2 and not any(name in c for c in CENTRED)]
    apart = set(ranged) | (set() if groups is not None else set(DAY_ROWS))
    cat = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
           for f in fields(ScopeStats) if f.name not in apart}
    key = cat["scope"] if groups is None else np.asarray(groups, dtype=np.int64)
    g = _Groups(key)
    out = {name: g.sum(cat[name]) for name in summed if name not in ranged}
    if ranged:
        scopes = _KeyRanges([p.scope for p in parts])
        out.update({name: scopes.sum([getattr(p, name) for p in parts]) for name in ranged})
    for n_name, s_name, m2_name in CENTRED:
        n_b, s_b = cat[n_name], cat[s_name]
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(n_b > 0, s_b / n_b - (out[s_name] / out[n_name])[g.inverse], 0.0)
        out[m2_name] = g.sum(cat[m2_name] + n_b * shift * shift)
    if groups is None:
        scope_of = [p.rb_scope.astype(np.int64, copy=False) for p in parts]
        days = [p.rb_day for p in parts if p.rb_day.size]
        low = int(min(d.min() for d in days)) if days else 0
        span = int(max(d.max() for d in days)) - low + 1 if days else 1
        # a calendar-day row is two numbers: longer ranges, fewer slices
        day_keys = [r * span + (p.rb_day - low) for r, p in zip(scope_of, parts, strict=True)]
        cells = _KeyRanges(scope_of, day_keys, rows_per_range=1 << 16)
        out.update(rb_scope=cells.keys // span, rb_day=cells.keys % span + low,
                   rb_n=cells.sum([p.rb_n for p in parts]), rb_sum=cells.sum([p.rb_sum for p in parts]))
    else:
        empty = np.zeros(0, dtype=np.int64)
        out.update(rb_scope=empty, rb_day=empty, rb_n=empty, rb_sum=np.zeros(0))
    return ScopeStats(scope=g.keys.astype(np.int64), **out)


def scope_rbar(stats: ScopeStats) -> np.ndarray:
    """Kolari-Pynnönen ``r̄`` per scope row from the calendar-day sums (NaN when undefined).

    ``r̄ = sum_t [(sum_i z_it)^2 - sum_i z_it^2] / sum_t (N_t^2 - N_t)`` over the pairs with
    at least ``MIN_OVERLAP`` residuals (:func:`~backtest.study.crosscorr.mean_residual_correlation`).
    """
    row = np.searchsorted(stats.scope, stats.rb_scope)
    s = stats.scope.size
    n_t = stats.rb_n.astype(float)
    pairs = np.bincount(row, weights=n_t * (n_t - 1.0), minlength=s)
    square = np.bincount(row, weights=stats.rb_sum * stats.rb_sum, minlength=s)
    with np.errstate(invalid="ignore", divide="ignore"):
        rbar = (square - stats.rb_sq) / pairs
    return np.where((stats.rb_m >= 2) & (pairs > 0), rbar, np.nan)


def subset(stats: ScopeStats, rows: np.ndarray) -> ScopeStats:
    """The scope rows ``rows`` (positions) of ``stats``, with their calendar-day rows."""
    keep_days = np.isin(stats.rb_scope, stats.scope[rows])
    return replace(stats, **{f.name: getattr(stats, f.name)[keep_days if f.name in DAY_ROWS else rows]
                             for f in fields(ScopeStats)})
