"""Recovery metrics of one price (or abnormal-index) path: a pure function of arrays.

``path_metrics(dates, values)`` takes the path from the pre-event session (day -1)
to the horizon and returns a :class:`PathMetrics`. Nothing here reads files,
calendars or other paths, so the function can be mapped over many windows
(e.g. with Dask) unchanged.

Conventions
-----------
* Position ``i`` of the arrays is relative day ``i - 1``: ``values[0]`` is the
  close of day -1 (the pre-event close ``P_pre``), ``values[1]`` the reaction
  session (day 0), ``values[k + 1]`` day +k. Values beyond the horizon are ignored.
* **Missing sessions**: a NaN value is a session without a price (halt, one-sided
  holiday). It is carried forward from the previous value for every level
  metric and counted in ``n_missing``. Carrying forward never creates a new
  trough or a new recovery: the carried value was already seen the day before.
  A NaN on day -1 is filled from ``prior_value`` (the last value before the
  window); without one the path cannot be measured.
* **Direction**: ``"drawdown"`` (shock events) measures the fall below ``P_pre``
  and the climb back; ``"give_back"`` (relief events) mirrors it: the
  ``trough_*`` fields then hold the *peak* (highest value from day 0 on),
  ``max_drawdown`` holds the largest run-up (>= 0), and "recovered" means the
  whole jump was given back (value back at or below ``P_pre``).
* **No move**: a path that never goes below ``P_pre`` (give-back: never above)
  from day 0 on has ``moved = False``; it "recovers" on day 0 trivially and is
  left out of the Kaplan-Meier summary (counted as ``n_no_move`` there).
* **Not measurable**: without a pre-event value, or without any session after
  day -1, ``unmeasured`` says which (``"no_pre_event_close"``,
  ``"no_session_after"``) and every measure is undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

from backtest.errors import ParameterError

Direction = Literal["drawdown", "give_back"]
CensorReason = Literal["horizon", "end_of_data", "study_window"]
Unmeasured = Literal["no_pre_event_close", "no_session_after"]
DIRECTIONS: tuple[str, ...] = ("drawdown", "give_back")
CENSOR_REASONS: tuple[str, ...] = ("horizon", "end_of_data", "study_window")
RATIO_DAYS: tuple[int, ...] = (1, 5, 20, 60)


@dataclass(frozen=True)
class PathMetrics:
    """Recovery measures of one path (see :func:`path_metrics` for definitions).

    Sessions are relative days counted on the instrument's own sessions; ``None``
    / ``NaT`` / NaN mark a measure that is undefined, never a guessed number.
    """

    direction: str
    pre_event_date: pd.Timestamp
    pre_event_close: float
    reaction_return: float
    trough_date: pd.Timestamp
    trough_rel_day: int | None
    trough_close: float
    max_drawdown: float
    moved: bool | None
    recovered: bool
    recovery_sessions: int | None
    recovery_days: int | None
    recovery_date: pd.Timestamp
    censored_by: str | None
    relapsed: bool | None
    recovered_after_trough: bool | None
    recovery_from_trough_sessions: int | None
    trough_censored_by: str | None
    last_date_seen: pd.Timestamp
    last_rel_day: int | None
    duration_sessions: int | None
    half_life_sessions: int | None
    half_life_date: pd.Timestamp
    n_missing: int
    unmeasured: str | None
    ratios: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Flat dict, one ``ratio_<k>`` entry per recovery-ratio day."""
        row = {f.name: getattr(self, f.name) for f in _FIELDS if f.name != "ratios"}
        row.update({f"ratio_{k}": v for k, v in self.ratios.items()})
        return row


_FIELDS = fields(PathMetrics)
_DAY = np.timedelta64(1, "D")


def check_horizon(horizon: object, name: str = "horizon") -> int:
    """Parse a horizon in sessions: a whole number >= 1.

    >>> check_horizon(20)
    20
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise ParameterError(f"{name} {horizon!r}: must be a whole number of sessions; use e.g. 60")
    if horizon <= 0:
        raise ParameterError(
            f"{name} {horizon}: must be at least 1 session after the reaction session; use e.g. 60"
        )
    return int(horizon)


def _carry_forward(values: np.ndarray, prior_value: float) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaNs with the last finite value (``prior_value`` before the first).

    >>> _carry_forward(np.array([np.nan, 2.0, np.nan, np.inf, 5.0]), 1.0)[0]
    array([1., 2., 2., 2., 5.])
    """
    missing = ~np.isfinite(values)
    if not missing.any():
        return values, missing
    seen = np.maximum.accumulate(np.where(missing, -1, np.arange(values.size)))  # last finite position
    filled = np.where(seen >= 0, values[np.maximum(seen, 0)], prior_value)
    return filled, missing


def path_metrics(
    dates: object,
    values: object,
    *,
    horizon: int = 60,
    direction: Direction = "drawdown",
    prior_value: float = math.nan,
    ratio_days: tuple[int, ...] = RATIO_DAYS,
    truncated_by: CensorReason = "end_of_data",
) -> PathMetrics:
    """Depth, duration and speed of recovery of one event path.

    Parameters
    ----------
    dates : array-like of dates
        Session dates from day -1 on (same length as ``values``).
    values : array-like of float
        Closes (or an abnormal-return index) from day -1 on; NaN = missing session.
    horizon : int
        Last relative day examined (>= 1). A shorter path was cut by ``truncated_by``.
    direction : {"drawdown", "give_back"}
        ``"give_back"`` mirrors every measure for relief events (module docstring).
    prior_value : float
        Last value before ``dates[0]``, used only when ``values[0]`` is NaN.
    ratio_days : tuple of int
        Relative days ``k`` of the recovery ratios.
    truncated_by : {"end_of_data", "study_window"}
        Why a path shorter than the horizon ends (the censoring reason reported).

    Returns
    -------
    PathMetrics

    Notes
    -----
    With ``P_pre`` the day -1 value, ``P_k`` the (carried-forward) value on day k
    and ``P_T`` the extreme (lowest for a drawdown, highest for a give-back) over
    days 0..H, first occurrence on ties, at day ``T``:

    * reaction return ``P_0 / P_pre - 1``;
    * ``max_drawdown = min(P_T / P_pre - 1, 0)`` (give-back: ``max(., 0)``);
      ``moved`` is ``P_T < P_pre`` (give-back: ``P_T > P_pre``), exactly, no threshold;
    * recovery: first day ``k >= 0`` with ``P_k >= P_pre`` (give-back: ``<=``);
      ``recovery_sessions = k``, ``recovery_days`` = calendar days from day 0.
      If none by the last day seen, ``recovered=False`` and ``censored_by`` says
      whether the horizon or the end of the data stopped the count.
      A path that never moved recovers on day 0 by this definition;
    * ``duration_sessions`` (the Kaplan-Meier input): sessions from day 0 to the first
      day on or after the trough with ``P_k >= P_pre`` (``recovered_after_trough``),
      else the last relative day seen. A path that was back on day 0 but fell to a
      trough later has not recovered from that fall: it counts from the trough on;
    * ``relapsed``: after the first recovery ``k``, some later day has
      ``P_j < P_pre`` again (give-back: ``>``); ``<NA>`` when never recovered.
      A trough after the recovery day (``T > k``) implies a relapse;
    * recovery from the trough: first day ``j >= T`` with ``P_j >= P_pre``
      (give-back: ``<=``); ``recovery_from_trough_sessions = j - T``. If none,
      ``recovered_after_trough=False`` and ``trough_censored_by`` gives the
      censoring reason, as ``censored_by`` does for the recovery from day 0;
    * recovery ratio ``R_k = (P_k - P_T) / (P_pre - P_T)`` (0 = at the extreme,
      1 = back to ``P_pre``): the climb back *from the trough*, so it is defined
      only when the path moved (``P_T != P_pre``), day k was observed and
      ``k >= T``; NaN otherwise (before the trough there is nothing to climb back
      from yet). ``P_T`` is the extreme of the whole window, known only in
      hindsight: ``R_k`` describes the path, it is not a tradable signal;
    * half-life: first day ``k >= T`` with ``R_k >= 0.5``.

    Examples
    --------
    A V-shape: 100 on day -1, 75 on day 0, 90 on day +1 (ratio 15/25 = 0.6),
    back to 100 on day +2.

    >>> m = path_metrics(pd.date_range("2025-01-06", periods=4), [100.0, 75.0, 90.0, 100.0], horizon=2)
    >>> m.max_drawdown, m.recovered, m.recovery_sessions, m.half_life_sessions, m.ratios[1]
    (-0.25, True, 2, 1, 0.6)
    """
    horizon = check_horizon(horizon)
    if direction not in DIRECTIONS:
        raise ParameterError(f"direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
    if not (isinstance(dates, np.ndarray) and dates.dtype.kind == "M"):  # datetime64 arrays pass as they are
        dates = pd.DatetimeIndex(pd.to_datetime(dates))
    values = np.asarray(values, dtype=float)
    if dates.size != values.size:
        raise ParameterError(f"dates ({dates.size}) and values ({values.size}) must have the same length")
    n = min(values.size, horizon + 2)
    dates, values = dates[:n], values[:n]
    filled, missing = _carry_forward(values, prior_value)
    n_missing = int(np.count_nonzero(missing))
    ratio_days = tuple(int(k) for k in ratio_days)

    if n == 0 or not np.isfinite(filled[0]):
        # No pre-event value: not measurable, and not censored either (nothing was followed).
        return _unmeasured(direction, dates, filled, "no_pre_event_close", None, None, n_missing, ratio_days)
    if n < 2:
        # The pre-event value but no reaction session: censored before day 0.
        return _unmeasured(direction, dates, filled, "no_session_after", truncated_by, -1, n_missing,
                           ratio_days)

    sign = 1.0 if direction == "drawdown" else -1.0
    pre = float(filled[0])
    post = filled[1:]  # day 0 .. last day seen
    last_rel_day = post.size - 1
    end_reason = "horizon" if last_rel_day >= horizon else truncated_by
    signed = post if sign > 0 else -post
    t = int(np.argmin(signed))  # first occurrence of the extreme
    extreme = float(post[t])
    excursion = extreme / pre - 1.0
    max_drawdown = min(excursion, 0.0) if direction == "drawdown" else max(excursion, 0.0)
    moved = bool(sign * (pre - extreme) > 0)

    at_or_beyond = signed >= sign * pre  # back at P_pre (or never left it)
    back = np.flatnonzero(at_or_beyond)
    recovered = back.size > 0
    relapsed: bool | None = None
    if recovered:
        k = int(back[0])
        recovery_date = pd.Timestamp(dates[k + 1])
        recovery_sessions, recovery_days = k, int((dates[k + 1] - dates[1]) // _DAY)  # whole days, floor
        censored_by = None
        relapsed = bool((~at_or_beyond[k + 1:]).any())
    else:
        recovery_date, recovery_sessions, recovery_days = pd.NaT, None, None
        censored_by = end_reason

    back_after = back[back >= t]
    recovered_after_trough = back_after.size > 0
    duration = int(back_after[0]) if recovered_after_trough else last_rel_day
    from_trough = int(back_after[0]) - t if recovered_after_trough else None
    trough_censored_by = None if recovered_after_trough else end_reason

    ratios: dict[int, float] = dict.fromkeys(ratio_days, math.nan)
    half_life_sessions, half_life_date = None, pd.NaT
    if moved:
        ratio_path = (post - extreme) / (pre - extreme) + 0.0  # + 0.0 turns -0.0 (give-back) into 0.0
        for k in ratio_days:
            if t <= k <= last_rel_day:
                ratios[k] = float(ratio_path[k])
        half = np.flatnonzero(ratio_path[t:] >= 0.5)
        if half.size:
            half_life_sessions = t + int(half[0])
            half_life_date = pd.Timestamp(dates[half_life_sessions + 1])

    return PathMetrics(
        direction=direction, pre_event_date=pd.Timestamp(dates[0]), pre_event_close=pre,
        reaction_return=float(post[0] / pre - 1.0), trough_date=pd.Timestamp(dates[t + 1]), trough_rel_day=t,
        trough_close=extreme, max_drawdown=float(max_drawdown), moved=moved, recovered=recovered,
        recovery_sessions=recovery_sessions, recovery_days=recovery_days, recovery_date=recovery_date,
        censored_by=censored_by, relapsed=relapsed, recovered_after_trough=recovered_after_trough,
        recovery_from_trough_sessions=from_trough, trough_censored_by=trough_censored_by,
        last_date_seen=pd.Timestamp(dates[-1]), last_rel_day=last_rel_day,
        duration_sessions=duration, half_life_sessions=half_life_sessions, half_life_date=half_life_date,
        n_missing=n_missing, unmeasured=None, ratios=ratios,
    )


def _unmeasured(
    direction: str, dates: pd.DatetimeIndex | np.ndarray, filled: np.ndarray, reason: Unmeasured,
    censored_by: str | None, last_rel_day: int | None, n_missing: int, ratio_days: tuple[int, ...],
) -> PathMetrics:
    """A path with nothing to measure: every measure undefined, ``unmeasured`` says why."""
    seen = reason == "no_session_after"  # day -1 was seen
    return PathMetrics(
        direction=direction, pre_event_date=pd.Timestamp(dates[0]) if dates.size else pd.NaT,
        pre_event_close=float(filled[0]) if seen else math.nan, reaction_return=math.nan,
        trough_date=pd.NaT, trough_rel_day=None, trough_close=math.nan, max_drawdown=math.nan, moved=None,
        recovered=False, recovery_sessions=None, recovery_days=None, recovery_date=pd.NaT,
        censored_by=censored_by, relapsed=None, recovered_after_trough=None,
        recovery_from_trough_sessions=None, trough_censored_by=censored_by,
        last_date_seen=pd.Timestamp(dates[-1]) if seen else pd.NaT, last_rel_day=last_rel_day,
        duration_sessions=None, half_life_sessions=None, half_life_date=pd.NaT,
        n_missing=n_missing, unmeasured=reason, ratios=dict.fromkeys(ratio_days, math.nan),
    )
