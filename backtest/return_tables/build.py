"""Tidy return tables: raw and excess returns per window, abnormal returns per window, scoreboard.

Everything here is long (one row per event x symbol x window) and in fractions; the
wide pivots and the cell text live in :mod:`backtest.return_tables.display`.

* **Raw return** over the window ``[a, b]`` (sessions relative to day 0 on the symbol's
  own exchange): the buy-and-hold return from the close of day ``a - 1`` to the close of
  day ``b``, ``R_[a,b] = P_b / P_(a-1) - 1``; the benchmark's over the same dates, and the
  **excess** ``R_i - R_m`` — the market-adjusted buy-and-hold abnormal return (Barber and
  Lyon 1997, JFE 43(3), eq. 3), compounding first and differencing second. Always simple
  returns, whatever the study's return kind.
* **Abnormal return** per window: the study's CAR (MacKinlay 1997, JEL 35(1), eq. 7-8)
  with its standard error, t statistic and p-value per pair, and per event the mean CAR
  (CAAR) with the statistic of the cross-sectional test chosen (``--test``).
* **Scoreboard**: per symbol and event, the day-0 move and its rank among the symbol's
  events, the lowest CAR over the windows, and the price path's recovery status.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from backtest.errors import ParameterError, did_you_mean
from backtest.recovery.status import moved_later, recovery_statuses, timed
from backtest.study.windows import window_label

Window = tuple[int, int]

RAW_COLUMNS: tuple[str, ...] = (
    "event_id", "symbol", "benchmark", "window", "start", "end", "start_date", "end_date",
    "return", "benchmark_return", "excess", "complete", "benchmark_stale",
)  # fmt: skip
ABNORMAL_COLUMNS: tuple[str, ...] = (
    "event_id", "symbol", "window", "start", "end", "car", "car_se", "t_stat", "p_value", "complete",
    "model_used",
)  # fmt: skip
POOLED_COLUMNS: tuple[str, ...] = ("event_id", "window", "test", "caar", "statistic", "p_value", "n")
SCOREBOARD_COLUMNS: tuple[str, ...] = (
    "symbol", "event_id", "kind", "day0_return", "day0_excess", "day0_rank", "worst_window", "worst_car",
    "worst_p_value", "recovery_status", "recovery_sessions",
)  # fmt: skip


def raw_window_returns(closes: pd.DataFrame, windows: Sequence[Window]) -> pd.DataFrame:
    """Raw, benchmark and excess returns per event x symbol x window (columns :data:`RAW_COLUMNS`).

    ``closes`` is :func:`~backtest.return_tables.closes.session_closes` output; it must
    hold relative day ``a - 1`` to ``b`` of every window (else :class:`ParameterError`).
    A window whose first or last close is missing has NaN returns and ``complete = False``;
    ``benchmark_stale`` is True when the benchmark had no close on one of the two dates and
    its last earlier close was used.

    >>> closes = pd.DataFrame({
    ...     "event_id": "e", "symbol": "X", "benchmark": "M", "rel_day": [-1, 0, 1],
    ...     "date": pd.to_datetime(["2025-01-24", "2025-01-27", "2025-01-28"]),
    ...     "close": [100.0, 80.0, 88.0], "benchmark_close": [50.0, 49.0, 50.0],
    ...     "benchmark_date": pd.to_datetime(["2025-01-24", "2025-01-27", "2025-01-28"])})
    >>> raw_window_returns(closes, [(0, 0), (0, 1)])[["window", "return", "excess"]].round(4)
      window  return  excess
    0  [0,0]   -0.20   -0.18
    1  [0,+1]  -0.12   -0.12
    """
    if closes.empty:
        return pd.DataFrame({column: [] for column in RAW_COLUMNS})
    check_window_range(closes, windows)
    rows = []
    for (event_id, symbol), pair in closes.groupby(["event_id", "symbol"], sort=False):
        by_day = pair.set_index("rel_day")
        for start, end in windows:
            base, last = by_day.loc[start - 1], by_day.loc[end]
            ret = last["close"] / base["close"] - 1.0
            bench = last["benchmark_close"] / base["benchmark_close"] - 1.0
            stale = any(pd.notna(d["benchmark_date"]) and d["benchmark_date"] != d["date"]
                        for d in (base, last))  # fmt: skip
            rows.append({
                "event_id": event_id, "symbol": symbol, "benchmark": pair["benchmark"].iloc[0],
                "window": window_label((start, end)), "start": start, "end": end,
                "start_date": by_day.loc[start, "date"], "end_date": last["date"],
                "return": ret, "benchmark_return": bench, "excess": ret - bench,
                "complete": bool(np.isfinite(ret)), "benchmark_stale": stale,
            })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(RAW_COLUMNS))
    return out.astype({"start": "int64", "end": "int64", "complete": bool, "benchmark_stale": bool})


def check_window_range(closes: pd.DataFrame, windows: Sequence[Window], name: str = "--windows") -> None:
    """Raise :class:`ParameterError` when a window needs a close outside the stored days."""
    low, high = int(closes["rel_day"].min()), int(closes["rel_day"].max())
    outside = [w for w in windows if w[0] - 1 < low or w[1] > high]
    if outside:
        labels = ", ".join(window_label(w) for w in outside)
        raise ParameterError(
            f"{name} {labels}: the stored closes run from day {low} to day {high}, so windows can "
            f"span [{low + 1},{high}]; for other days rerun 'backtest run' with a longer --horizon "
            "(later) or --event-window (earlier)"
        )


def abnormal_window_returns(car: pd.DataFrame, windows: Sequence[Window]) -> pd.DataFrame:
    """The study's CAR rows for ``windows`` (columns :data:`ABNORMAL_COLUMNS`), in window order.

    Windows the study did not compute are left out (their standard errors need the
    estimation data); :func:`missing_car_windows` names them.
    """
    labels = [window_label(w) for w in windows]
    part = car[car["window"].astype(str).isin(labels)].copy()
    part["window"] = part["window"].astype(str)
    order = {label: i for i, label in enumerate(labels)}
    part["_order"] = part["window"].map(order)
    part = part.sort_values(["_order"], kind="stable").drop(columns="_order")
    keys = car[["event_id", "symbol"]].drop_duplicates()
    part = keys.merge(part, on=["event_id", "symbol"], how="inner")  # pairs in the study's order
    return part[list(ABNORMAL_COLUMNS)].reset_index(drop=True)


def missing_car_windows(car: pd.DataFrame, windows: Sequence[Window]) -> list[str]:
    """Labels of ``windows`` that have no CAR in the study's table."""
    known = set(car["window"].astype(str))
    return [window_label(w) for w in windows if window_label(w) not in known]


def pooled_window_tests(tests: pd.DataFrame, windows: Sequence[Window], test: str) -> pd.DataFrame:
    """Per event and window: CAAR and the chosen cross-sectional test (columns :data:`POOLED_COLUMNS`)."""
    names = list(dict.fromkeys(tests["test"].astype(str)))
    if test not in names:
        raise ParameterError(f"--test {test!r} is not in the results; use one of {', '.join(names)}."
                             f"{did_you_mean(test, names)}")  # fmt: skip
    labels = [window_label(w) for w in windows]
    part = tests[(tests["test"].astype(str) == test) & tests["window"].astype(str).isin(labels)]
    part = part[~part["scope"].astype(str).str.startswith("all")]
    out = part.rename(columns={"scope": "event_id"}).assign(
        window=lambda f: f["window"].astype(str), test=test
    )
    return out[list(POOLED_COLUMNS)].reset_index(drop=True)


def scoreboard(
    closes: pd.DataFrame, car: pd.DataFrame, recovery: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    """One row per symbol x event (columns :data:`SCOREBOARD_COLUMNS`), symbols in first-seen order.

    ``day0_return`` is the raw return of the reaction session (close of day 0 over the
    close of day -1) and ``day0_rank`` its rank by size (absolute value) among the
    symbol's events, 1 = largest move; ``worst_window`` / ``worst_car`` the lowest CAR
    over the study's windows (complete ones only); ``recovery_status`` /
    ``recovery_sessions`` the price path's (:mod:`backtest.recovery.status`; sessions only
    where day 0 moved).
    """
    day0 = raw_window_returns(closes, [(0, 0)])[["event_id", "symbol", "return", "excess"]]
    day0 = day0.rename(columns={"return": "day0_return", "excess": "day0_excess"})
    done = car[car["complete"].astype(bool)].dropna(subset=["car"])
    lowest = done.loc[done.groupby(["event_id", "symbol"], sort=False)["car"].idxmin()]
    lowest = lowest[["event_id", "symbol", "window", "car", "p_value"]].rename(
        columns={"window": "worst_window", "car": "worst_car", "p_value": "worst_p_value"}
    )
    price = recovery[recovery["path"].astype(str) == "price"].copy()
    status = price["status"].tolist() if "status" in price else recovery_statuses(price)
    price["recovery_status"] = pd.Series(status, index=price.index, dtype=object)
    # sessions back from day 0 only where there was a move that day (the recovery table's rule)
    counted = pd.Series([timed(s) and not moved_later(s) for s in status], index=price.index, dtype=bool)
    price["recovery_sessions"] = price["recovery_sessions"].astype("Float64").where(counted)
    price = price[["event_id", "symbol", "recovery_status", "recovery_sessions"]]
    kinds = events[["event_id", "kind"]].astype(str)
    out = day0.merge(kinds, on="event_id", how="left").merge(lowest, on=["event_id", "symbol"], how="left")
    out = out.merge(price, on=["event_id", "symbol"], how="left")
    out["day0_rank"] = (
        out["day0_return"].abs().groupby(out["symbol"]).rank(ascending=False, method="min").astype("Int64")
    )
    symbol_order = {s: i for i, s in enumerate(dict.fromkeys(out["symbol"]))}
    event_order = {e: i for i, e in enumerate(events["event_id"].astype(str))}
    out = out.assign(_s=out["symbol"].map(symbol_order), _e=out["event_id"].map(event_order))
    out = out.sort_values(["_s", "_e"], kind="stable").drop(columns=["_s", "_e"])
    return out[list(SCOREBOARD_COLUMNS)].reset_index(drop=True)
