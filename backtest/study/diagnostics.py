"""Guards against the known traps of event studies, as columns of the tidy result.

Each function is a pure function of arrays shaped ``(n_pairs, ...)``; the engine
adds their output to ``EventStudyResult.car`` and ``.fits`` (a caveat is data
first, then a warning line and a note in the report):

* **drift** — the part of each CAR that is the extrapolated intercept. Under the
  market (or factor, constant-mean) model ``AR_t = R_t - alpha - beta'x_t``, so a
  CAR over ``L`` days with an AR holds ``-alpha * L`` whatever happened on those
  days (MacKinlay 1997, JEL 35(1), eq. 4 summed over the window); for a stock that
  ran up during its estimation window this term can be most of the CAR.
* **benchmark moved** — the benchmark's own return on day 0 (and over each CAR
  window) against its estimation-window history: ``z = (sum R_m - L mean) /
  (sd sqrt(L))``. Beyond :data:`BENCHMARK_Z` the event moved the market itself and
  the market model has absorbed part of the event (the targets may be a large share
  of the index).
* **clean estimation windows** — estimation days near other events of the same
  symbol are left out of the fit (an earlier crash in the window inflates sigma and
  moves beta for every later event; MacKinlay 1997, section 5: the estimation
  window must not contain the event's or other events' effects).
* **overlap** — CAR windows of the same symbol in different events that share
  sessions: their CARs share ARs and are not independent observations
  (Kolari-Pynnönen 2010 on event-date clustering).
* **data gaps** — a pair without prices in its event window is named with the data gaps
  (missing days, not closures) its window falls into.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from backtest.study.statistics import p_value
from backtest.study.windows import Window

#: |z| of the benchmark's return beyond which it is flagged as moved by the event.
BENCHMARK_Z = 3.0
#: Drift is flagged when it is at least this share of |CAR| (or decides its sign or 5 % significance).
DRIFT_SHARE = 0.5
#: Default sessions around other events of the same symbol left out of the estimation sample.
DEFAULT_EXCLUDE: Window = (-5, 5)


def symbol_groups(symbol: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """Each distinct symbol (sorted) and its positions (ascending): one sort, not one scan per symbol.

    >>> [(str(s), i.tolist()) for s, i in symbol_groups(np.array(["B", "A", "B"]))]
    [('A', [1]), ('B', [0, 2])]
    """
    first_codes, found = pd.factorize(np.asarray(symbol, dtype=object))
    by_name = np.argsort(found)  # sort the distinct names only, not every row's (np.unique)
    names = found[by_name]
    rank = np.empty(len(by_name), dtype=np.int64)
    rank[by_name] = np.arange(len(by_name))
    codes = rank[first_codes]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    for k, name in enumerate(names):
        yield name, order[bounds[k]:bounds[k + 1]]


def near_other_events(symbol: np.ndarray, event_id: np.ndarray, pos0: np.ndarray, est: Window,
                      other_symbol: np.ndarray, other_event: np.ndarray, other_pos0: np.ndarray,
                      around: Window) -> tuple[np.ndarray, list[str]]:
    """Estimation days of each pair that lie within ``around`` sessions of another event's day 0.

    Parameters
    ----------
    symbol, event_id, pos0 : (n,) arrays
        The pairs and their day-0 positions on their calendar's session index.
    est : (int, int)
        Estimation window in relative days.
    other_symbol, other_event, other_pos0 : (m,) arrays
        Every event x symbol of the events file on the same calendar (positions on
        the same session index); a pair's own event is never excluded.
    around : (int, int)
        Relative sessions around each other event's day 0 to leave out, e.g. (-5, 5).

    Returns
    -------
    mask : (n, L1) bool
        True on the estimation days to leave out.
    events : list of str
        Per pair, the other events excluded (comma-separated, "" when none).

    >>> mask, ids = near_other_events(np.array(["A"]), np.array(["e2"]), np.array([300]), (-250, -11),
    ...     np.array(["A", "A", "B"]), np.array(["e1", "e2", "e1"]), np.array([100, 300, 100]), (-1, 1))
    >>> int(mask.sum()), ids
    (3, ['e1'])
    """
    n, l1 = len(pos0), est[1] - est[0] + 1
    mask = np.zeros((n, l1), dtype=bool)
    events = [""] * n
    # one object per distinct text: pickle sends a repeated object once (symbols with the same
    # events share texts; 65 of a study's 1,350 MB of outputs at 400,000 pairs, before)
    seen: dict[str, str] = {}
    for s, mine in symbol_groups(symbol):
        theirs = np.flatnonzero(other_symbol == s)
        if len(theirs) == 0:
            continue
        # day d is near event j when j's day 0 lies in [d + around[0], d + around[1]], i.e.
        # d in [q_j - around[1], q_j - around[0]]: intersect that span with each estimation
        # window [p_i + est[0], p_i + est[1]], (pairs x other events), never (x days) too
        p, q = pos0[mine][:, None], other_pos0[theirs][None, :]
        start = np.maximum(q - around[1], p + est[0]) - (p + est[0])  # as estimation-day columns
        stop = np.minimum(q - around[0], p + est[1]) - (p + est[0])
        hit = (start <= stop) & (other_event[theirs][None, :] != event_id[mine][:, None])
        rows, cols = np.nonzero(hit)
        edges = np.zeros((len(mine), l1 + 1), dtype=np.int64)  # +1 where a span opens, -1 after it
        np.add.at(edges, (rows, start[rows, cols]), 1)
        np.add.at(edges, (rows, stop[rows, cols] + 1), -1)
        mask[mine] = np.cumsum(edges[:, :l1], axis=1) > 0
        for row in np.flatnonzero(hit.any(axis=1)):
            text = ", ".join(dict.fromkeys(str(e) for e in other_event[theirs][hit[row]]))
            events[mine[row]] = seen.setdefault(text, text)
    return mask, events


def _distinct_runs(codes: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct runs of ``codes`` (run ``r`` starts at ``first[r]``, ends at the next):
    ``rep`` (one run of each) and ``which`` (run -> its distinct run's position in ``rep``).

    Runs are told apart by a 64-bit polynomial hash, then checked element by element, so equal
    hashes of different runs (vanishingly rare) fall back to an exact sort of the runs.

    >>> rep, which = _distinct_runs(np.array([1, 2, 3, 1, 2]), np.array([0, 2, 3]))
    >>> rep.tolist(), which.tolist()
    ([0, 1], [0, 1, 0])
    """
    length = np.diff(np.r_[first, len(codes)])
    run = np.repeat(np.arange(len(first)), length)
    rank = np.arange(len(codes)) - first[run]
    powers = np.cumprod(np.full(int(length.max()), 0x9E3779B97F4A7C15, dtype=np.uint64))  # wraps mod 2**64
    digest = np.add.reduceat((codes.astype(np.uint64) + np.uint64(1)) * powers[rank], first)
    digest ^= length.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    _, rep, which = np.unique(digest, return_index=True, return_inverse=True)
    which = np.asarray(which).ravel()
    start = first[rep][which]  # each run's representative
    if np.array_equal(length[rep][which], length) and np.array_equal(codes[start[run] + rank], codes):
        return rep, which
    return _exact_distinct_runs(codes, first)


def _exact_distinct_runs(codes: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_distinct_runs` by sorting the runs themselves (padded rows; slow on millions)."""
    length = np.diff(np.r_[first, len(codes)])
    run = np.repeat(np.arange(len(first)), length)
    padded = np.full((len(first), int(length.max())), -1, dtype=np.int64)
    padded[run, np.arange(len(codes)) - first[run]] = codes
    _, rep, which = np.unique(padded, axis=0, return_index=True, return_inverse=True)
    return rep, np.asarray(which).ravel()


def overlapping_events(symbol: np.ndarray, event_id: np.ndarray, pos0: np.ndarray,
                       windows: Sequence[Window]) -> np.ndarray:
    """Per pair and window, the other events of the same symbol whose same window shares a session.

    Returns
    -------
    ndarray (n, W) of str
        Comma-separated event ids in row order, "" when the window is the pair's alone.

    >>> overlapping_events(np.array(["A", "A"]), np.array(["lib", "pause"]), np.array([10, 14]),
    ...                    [(0, 0), (0, 5)]).tolist()
    [['', 'pause'], ['', 'lib']]
    """
    n = len(pos0)
    out = np.full((n, len(windows)), "", dtype=object)
    if n < 2:
        return out
    # codes by hashing (any distinct codes do: the texts follow row order), not by sorting strings
    sym, _ = pd.factorize(np.asarray(symbol, dtype=object))
    ids = np.asarray(event_id, dtype=object)
    if pd.api.types.infer_dtype(ids, skipna=False) != "string":  # ids as text, as in the output
        ids = ids.astype(str).astype(object)
    ev, names = pd.factorize(ids)
    pos = np.asarray(pos0, dtype=np.int64)
    widths = [b - a for a, b in windows]
    # one sorted key per pair, symbol bands far enough apart that no window reaches the next band
    band = int(pos.max() - pos.min()) + 2 * max(max(widths), 0) + 2
    key = sym.astype(np.int64) * band + (pos - pos.min())
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    for w, width in enumerate(widths):
        # [p_i + a, p_i + b] and [p_j + a, p_j + b] share a session iff |p_i - p_j| <= b - a:
        # the j of row i are one run of the sorted keys
        lo = np.searchsorted(sorted_key, key - width, "left")
        hi = np.searchsorted(sorted_key, key + width, "right")
        counts = hi - lo
        row = np.repeat(np.arange(n), counts)
        col = order[np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)]
        other = ev[col] != ev[row]
        row, col = row[other], col[other]
        if not len(row):
            continue
        by_row = np.lexsort((col, row))  # each row's events in row order
        row, codes = row[by_row], ev[col[by_row]]
        first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        # rows with the same events get the same text: join each distinct list once
        rep, which = _distinct_runs(codes, first)
        length = np.diff(np.r_[first, len(row)])
        # an event a symbol has twice is listed once
        runs = zip(first[rep].tolist(), length[rep].tolist(), strict=True)
        texts = np.array([", ".join(dict.fromkeys(names[codes[f:f + k]].tolist())) for f, k in runs],
                         dtype=object)
        out[row[first], w] = texts[which]
    return out


def car_drift(alpha: np.ndarray, n_days: np.ndarray, car: np.ndarray, car_se: np.ndarray,
              df: np.ndarray, p_car: np.ndarray, p_free: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The intercept's part of each CAR and whether it decides the result.

    ``drift = -alpha * L`` with ``L`` the days with an AR (the AR subtracts ``alpha``
    every day: MacKinlay 1997, eq. 4 summed over the window); ``drift_share = drift / CAR``;
    ``car_drift_free = CAR - drift``. ``drift_dominates`` when ``|drift| >= 0.5 |CAR|``
    (so whenever the drift-free CAR has the other sign), or ``|drift| >= 0.25 |CAR|`` and the
    drift-free CAR is on the other side of 5 % significance (same standard error and df; NaN
    df = normal null): a tiny drift that nudges p across 0.05 is not flagged.

    Parameters
    ----------
    alpha : (n, 1) or (n, W); n_days, car, car_se, df, p_car : (n, W)
    p_free : (n, W), optional
        The drift-free CAR's p (``p_drift_free`` of an earlier call), if computed already.

    >>> out = car_drift(np.array([[0.012]]), np.array([[21]]), np.array([[-0.59]]),
    ...                 np.array([[0.252]]), np.array([[238.0]]), np.array([[0.02]]))
    >>> round(float(out["drift"][0, 0]), 3), bool(out["drift_dominates"][0, 0])
    (-0.252, True)
    """
    drift = np.where(np.isfinite(car), 0.0 - alpha * n_days, np.nan)  # 0 - x: no -0.0 for alpha 0
    free = car - drift
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(np.abs(car) > 0, drift / car, np.nan)
        p_free = p_value(free / car_se, df) if p_free is None else p_free  # given: computed before
    size = np.abs(drift)
    dominates = np.isfinite(car) & (
        (size >= DRIFT_SHARE * np.abs(car))  # includes every sign flip
        | ((size >= DRIFT_SHARE / 2 * np.abs(car)) & ((p_car < 0.05) != (p_free < 0.05)))
    )
    return {"drift": drift, "drift_share": share, "car_drift_free": free, "drift_dominates": dominates,
            "p_drift_free": p_free}


def bhar_drift(normal: np.ndarray, ar: np.ndarray, alpha: np.ndarray, first: int, last: int,
               kind: str) -> np.ndarray:
    """The intercept's part of the BHAR over columns ``first..last`` (compounded analogue of drift).

    ``BHAR = prod(1 + R) - prod(1 + NR)`` (Barber-Lyon 1997); without the intercept the
    normal path is ``prod(1 + NR - alpha)``, so the intercept contributes
    ``prod(1 + NR - alpha) - prod(1 + NR)`` (log returns: ``exp(sum nr - L alpha) - exp(sum nr)``).

    >>> round(float(bhar_drift(np.array([[0.01, 0.01]]), np.array([[0.0, 0.0]]), np.array([0.01]),
    ...                        0, 1, "simple")[0]), 6)   # 1 - 1.01**2
    -0.0201
    """
    valid = np.isfinite(ar[:, first : last + 1])
    nr = np.where(valid, normal[:, first : last + 1], 0.0)
    a = np.where(valid, alpha[:, None], 0.0)
    if kind == "log":
        out = np.exp((nr - a).sum(axis=1)) - np.exp(nr.sum(axis=1))
    else:
        out = np.prod(1.0 + nr - a, axis=1) - np.prod(1.0 + nr, axis=1)
    return np.where(valid.any(axis=1), out, np.nan)


def benchmark_move(est_m: np.ndarray, evt_m: np.ndarray, car_cols: Sequence[tuple[int, int]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's return over each CAR window and its z against its estimation history.

    ``z = (sum_w R_m - L mean) / (sd sqrt(L))`` with ``mean``, ``sd`` (ddof 1) of the
    benchmark's estimation-window returns and ``L`` the window days with a benchmark
    return: the benchmark's own standardized CAR under a constant-mean model.

    Returns
    -------
    ret, z : (n, W) arrays (NaN without a benchmark or without history)

    >>> est = np.array([[0.01, -0.01, 0.01, -0.01]])       # mean 0, sd 0.011547
    >>> ret, z = benchmark_move(est, np.array([[-0.079]]), [(0, 0)])
    >>> round(float(z[0, 0]), 2)
    -6.84
    """
    valid = np.isfinite(est_m)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, est_m, 0.0).sum(axis=1) / n
        dev = np.where(valid, est_m - mean[:, None], 0.0)
        sd = np.sqrt((dev**2).sum(axis=1) / (n - 1))
        sd = np.where(n >= 3, sd, np.nan)
    rets, zs = [], []
    for first, last in car_cols:
        block = evt_m[:, first : last + 1]
        ok = np.isfinite(block)
        days = ok.sum(axis=1)
        ret = np.where(days > 0, np.where(ok, block, 0.0).sum(axis=1), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (ret - days * mean) / (sd * np.sqrt(days))
        rets.append(ret)
        zs.append(np.where(days > 0, z, np.nan))
    return np.stack(rets, 1), np.stack(zs, 1)


def gap_text(gaps: pd.DataFrame) -> str:
    """", inside a data gap: NVDA 2025-02-03..2025-06-30 (FILE)" for ``gaps`` (rows of
    :attr:`ExchangeCalendars.gaps <backtest.calendars.ExchangeCalendars.gaps>`)."""
    listed = [f"{g.symbol} {g.first.date()}..{g.last.date()} ({g.origin})" for g in gaps.itertuples()]
    return f", inside a data gap: {'; '.join(listed)}" if listed else ""


def gaps_hit(gaps: pd.DataFrame, symbols: Sequence[str], dates: np.ndarray) -> str:
    """The ``gaps`` of ``symbols`` that the dates' span falls into, as :func:`gap_text`: why pairs
    have no price in their event windows."""
    if gaps.empty:
        return ""
    lo, hi = pd.Timestamp(np.nanmin(dates)), pd.Timestamp(np.nanmax(dates))
    return gap_text(gaps[gaps["symbol"].isin(symbols) & (gaps["first"] <= hi) & (gaps["last"] >= lo)])


def gaps_hit_rows(gaps: pd.DataFrame, symbols: Sequence[str], dates: np.ndarray) -> list[str]:
    """:func:`gaps_hit` of each row: ``symbols[i]``'s gaps that ``dates[i]``'s span falls into.

    The rows' spans meet their symbols' gaps in one join; only rows with a hit build a text.
    """
    out = [""] * len(symbols)
    if gaps.empty or not len(symbols):
        return out
    stamps = dates.astype("datetime64[ns]").view(np.int64)
    missing = stamps == np.iinfo(np.int64).min  # NaT spans meet no gap
    low = np.where(missing, np.iinfo(np.int64).max, stamps).min(axis=1)
    high = np.where(missing, np.iinfo(np.int64).min, stamps).max(axis=1)
    gaps = gaps.reset_index(drop=True)
    rows = pd.DataFrame({"symbol": np.asarray(symbols, dtype=object), "row": np.arange(len(symbols)),
                         "low": low, "high": high})
    spans = pd.DataFrame({"symbol": gaps["symbol"].astype(str).to_numpy(dtype=object),
                          "gap": np.arange(len(gaps)),
                          "first": gaps["first"].to_numpy(dtype="datetime64[ns]").view(np.int64),
                          "last": gaps["last"].to_numpy(dtype="datetime64[ns]").view(np.int64)})
    hit = rows.merge(spans, on="symbol")
    hit = hit[(hit["first"] <= hit["high"]) & (hit["last"] >= hit["low"])]
    for row, part in hit.sort_values(["row", "gap"]).groupby("row", sort=False)["gap"]:
        out[int(row)] = gap_text(gaps.iloc[part.to_numpy()])
    return out
