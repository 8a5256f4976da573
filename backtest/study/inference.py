"""Inference that survives common-date shocks, on top of an event study.

``infer(result, prices, alignment, calendars)`` adds to an :class:`EventStudyResult`:
placebo ranks and p-values (:mod:`backtest.study.placebo`), stationary-bootstrap intervals
(:mod:`backtest.study.bootstrap`), the calendar-time portfolio test
(:mod:`backtest.study.calendar_time`) and, on request, GARCH(1,1) standardized CARs
(:mod:`backtest.study.garch`). One loop per event (a handful), none per date or pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.calendars import ExchangeCalendars
from backtest.errors import ParameterError
from backtest.study.bootstrap import bootstrap_car
from backtest.study.calendar_time import portfolio_test
from backtest.study.history import PairHistory, gather, pair_history
from backtest.study.panel import compute
from backtest.study.placebo import draws_table, placebo_draws, placebo_table, select_event
from backtest.study.result import EventStudyResult
from backtest.study.windows import window_label


@dataclass(frozen=True)
class InferenceResult:
    """Placebo, bootstrap, calendar-time and GARCH inference of an event study (tidy tables).

    Attributes
    ----------
    placebo : DataFrame
        event_id, symbol ("" for event-level rows), statistic ("ar", "car", "caar" or a test
        name), window, value, rank (1 = most extreme in the value's direction), n_placebo
        (eligible placebo dates), p_value (two-sided empirical, :func:`~backtest.study.placebo.empirical_p`).
    placebo_draws : DataFrame
        The CAAR's placebo distribution: event_id, statistic, window, date, value, is_event.
    bootstrap : DataFrame
        event_id, symbol ("" = the CAAR), window, n_pairs (pairs in the CAAR: a pair with
        fewer than ``min_estimation`` residuals has no interval), estimate, ci_low, ci_high, p_value, level,
        block (mean block length), n_dates, n_boot.
    calendar_time : DataFrame
        event_id, window, car, car_se, t_stat, df, p_value, n_pairs, beta (portfolio).
    garch : DataFrame
        GARCH(1,1) market-model fits and standardized CARs (:func:`~backtest.study.garch.garch_table`).
    settings : dict
    """

    placebo: pd.DataFrame
    placebo_draws: pd.DataFrame
    bootstrap: pd.DataFrame
    calendar_time: pd.DataFrame
    garch: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        events = sorted(set(self.placebo.get("event_id", pd.Series(dtype=object)))
                        | set(self.bootstrap.get("event_id", pd.Series(dtype=object))))
        return (f"InferenceResult({len(events)} events: {len(self.placebo)} placebo rows, "
                f"{len(self.bootstrap)} bootstrap rows, {len(self.calendar_time)} calendar-time rows, "
                f"{len(self.garch)} GARCH rows)")

    def summary(self) -> str:
        """Plain text: placebo ranks, bootstrap intervals, calendar-time and GARCH tests."""
        from backtest.study.inference_text import summary_text

        return summary_text(self)

    def plot_placebo(self, event_id: str, window: str = "[0,0]"):
        """Histogram of the CAAR's placebo distribution with the event marked (matplotlib Figure)."""
        from backtest.study.inference_text import placebo_figure

        return placebo_figure(self.placebo_draws, event_id, window)


def _events_positions(history: PairHistory, rows: np.ndarray) -> list[np.ndarray]:
    # day 0 of every study event of each pair's symbol (same calendar), the event's own included
    return [history.day0[(history.symbol == history.symbol[i]) & (history.calendar == history.calendar[i])]
            for i in rows]


def _same_pairs(history: PairHistory) -> list[tuple[list[str], list[np.ndarray]]]:
    # events grouped by their (symbol, calendar) pairs in order: [(event ids, rows of each)]
    groups: dict[tuple, tuple[list[str], list[np.ndarray]]] = {}
    for event_id in pd.unique(history.event_id):
        rows = np.flatnonzero(history.event_id == event_id)
        key = tuple(zip(history.symbol[rows], history.calendar[rows], strict=True))
        ids, members = groups.setdefault(key, ([], []))
        ids.append(str(event_id))
        members.append(rows)
    return list(groups.values())


def infer(result: EventStudyResult, prices: Mapping[str, pd.DataFrame], alignment: pd.DataFrame,
          calendars: ExchangeCalendars, *, placebo: bool = True, bootstrap: int = 0,
          level: float = 0.95, calendar_time: bool = True, garch: bool = False,
          seed: int = 0, other_events: pd.DataFrame | None = None) -> InferenceResult:
    """Placebo, bootstrap, calendar-time (and GARCH) inference for each event of ``result``.

    Parameters
    ----------
    result : EventStudyResult
        A prices-level study (its settings give the model and windows).
    prices, alignment, calendars
        The inputs the study ran on.
    placebo : bool
        Rank every statistic among the eligible non-event dates (:mod:`backtest.study.placebo`).
    bootstrap : int
        Stationary-bootstrap draws (0 = none); ``level`` the interval coverage.
    calendar_time : bool
        Equal-weighted portfolio test of each event (Jaffe 1974; Mandelker 1974).
    garch : bool
        GARCH(1,1) market model per pair (``arch``).
    seed : int
        Seed of the bootstrap (deterministic for a given seed).
    other_events : DataFrame, optional
        Every event x symbol of the events file (``align_symbols`` rows; default
        ``alignment``): their windows are kept out of the placebo dates and their
        neighbourhoods out of the estimation windows, as in the study.

    Raises
    ------
    ParameterError
        ``bootstrap`` negative or ``level`` outside (0, 1).
    StudyError
        A returns-level study (``study_returns``): no history to draw placebo dates from.
    """
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ParameterError(f"bootstrap {bootstrap!r}: give a whole number of draws, e.g. 999 (0 = none)")
    if not 0.0 < float(level) < 1.0:
        raise ParameterError(f"level {level!r}: give a coverage between 0 and 1, e.g. 0.95")
    s = result.settings
    est, evt = tuple(s["estimation_window"]), tuple(s["event_window"])
    cars = [tuple(w) for w in s["car_windows"]]
    labels = [window_label(w) for w in cars]
    car_cols = [(a - evt[0], b - evt[0]) for a, b in cars]
    day0_col = -evt[0]
    align = alignment.reset_index(drop=True)
    keep = set(zip(result.fits["event_id"].astype(str), result.fits["symbol"].astype(str), strict=True))
    align = align[[(str(e), str(y)) in keep for e, y in zip(align["event_id"], align["symbol"], strict=True)]]
    history = pair_history(prices, align, calendars, s, other_events)
    common = {"model": s["model"], "min_estimation": int(s["min_estimation"]),
              "return_kind": s["return_kind"]}
    tables: dict[str, list[pd.DataFrame]] = {k: [] for k in ("placebo", "draws", "boot", "ct", "garch")}
    if placebo:
        for ids, rows in _same_pairs(history):  # events on the same instruments share their dates
            joint = placebo_draws(history.take(rows[0]), estimation=est, event=evt, car_windows=cars,
                                  other_events=_events_positions(history, rows[0]),
                                  events_day0=np.column_stack([history.day0[r] for r in rows]), **common)
            for e, event_id in enumerate(ids):
                draws = select_event(joint, e)
                tables["placebo"].append(placebo_table(event_id, draws, labels))
                tables["draws"].append(draws_table(event_id, draws, labels))
    for event_id in pd.unique(history.event_id):  # one pass per event
        rows = np.flatnonzero(history.event_id == event_id)
        h = history.take(rows)
        pos = h.day0[:, None]
        est_r, est_x = gather(h.est_returns, pos, *est)[:, 0], gather(h.regressors, pos, *est)[:, 0]
        evt_r, evt_x = gather(h.returns, pos, *evt)[:, 0], gather(h.regressors, pos, *evt)[:, 0]
        if bootstrap:
            out = compute(est_r, est_x, evt_r, evt_x, car_cols=car_cols, day0_col=day0_col, **common)
            boot = bootstrap_car(out.car, out.fit.est_resid.T, cars, n_boot=int(bootstrap),
                                 level=level, seed=seed, min_dates=common["min_estimation"])
            tables["boot"].append(_bootstrap_frame(str(event_id), h.symbol, labels, out.car, boot,
                                                   level, int(bootstrap)))
        if calendar_time:
            ct = portfolio_test(est_r, est_x, evt_r, evt_x, car_cols=car_cols, day0_col=day0_col, **common)
            tables["ct"].append(pd.DataFrame({"event_id": str(event_id), "window": labels, "car": ct["car"],
                                              "car_se": ct["car_se"], "t_stat": ct["t_stat"], "df": ct["df"],
                                              "p_value": ct["p_value"], "n_pairs": ct["n_pairs"],
                                              "beta": ct["beta"]}))
        if garch:
            from backtest.study.garch import garch_table

            span_r = gather(h.returns, pos, est[0], evt[1])[:, 0]  # GARCH: a gap-free recursion
            span_m = gather(h.regressors, pos, est[0], evt[1])[:, 0, :, 0]
            tables["garch"].append(garch_table(list(zip(h.event_id, h.symbol, strict=True)), span_r, span_m,
                                               est[1] - est[0] + 1, evt[0] - est[0], car_cols, labels,
                                               day0_col))
    settings = {"placebo": placebo, "bootstrap": int(bootstrap), "level": float(level),
                "calendar_time": calendar_time, "garch": garch, "seed": seed}

    def cat(key: str) -> pd.DataFrame:
        frames = [f for f in tables[key] if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return InferenceResult(cat("placebo"), cat("draws"), cat("boot"), cat("ct"), cat("garch"), settings)


def _bootstrap_frame(event_id: str, symbols: np.ndarray, labels: list[str], car: np.ndarray,
                     boot: dict, level: float, n_boot: int) -> pd.DataFrame:
    n, w = car.shape
    pairs = pd.DataFrame({"symbol": np.repeat(symbols, w), "window": np.tile(labels, n),
                          "n_pairs": 1, "estimate": car.ravel(), "ci_low": boot["car_low"].ravel(),
                          "ci_high": boot["car_high"].ravel(), "p_value": boot["car_p"].ravel()})
    caar = pd.DataFrame({"symbol": "", "window": labels, "n_pairs": boot["n_pairs"], "estimate": boot["caar"],
                         "ci_low": boot["caar_low"], "ci_high": boot["caar_high"], "p_value": boot["caar_p"]})
    out = pd.concat([caar, pairs], ignore_index=True)
    out.insert(0, "event_id", event_id)
    out["level"], out["block"], out["n_dates"], out["n_boot"] = level, boot["block"], boot["n_dates"], n_boot
    return out

