"""What a parameter grid's choice is worth out of sample: leave-one-event-out.

The best cell of a grid is chosen on the very events it is then measured on, so its
number is biased upwards (the "in-sample best"). Leave-one-event-out removes that bias
for the choice itself: for each event ``e`` in turn, the parameters are chosen on all the
other events (highest mean excess return over buy-and-hold across their event x symbol
pairs, every pair counted, untraded ones included) and measured on ``e`` alone, which the
choice never saw. This is the cross-validation of Stone (1974), JRSS B 36(2), with one
event as the left-out fold; as in any such scheme the folds share a market regime, so the
held-out figure is a fairer, not an unbiased, forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Per-pair column scored to choose the parameters and measure the choice.
HOLDOUT_METRIC = "excess_vs_buy_hold"

HOLDOUT_COLUMNS: tuple[str, ...] = (
    "held_out", "combo", "train_events", "train_pairs", "train_score", "test_pairs", "test_score",
    "best_combo_on_event", "best_score_on_event",
)  # fmt: skip


def _mean_by_combo(frame: pd.DataFrame, order: list[str], metric: str) -> pd.Series:
    """Mean of ``metric`` per combo over the frame's pairs, in grid order (NaN pairs left out)."""
    return frame.groupby("combo", sort=False)[metric].mean().reindex(order)


def _first_best(scores: pd.Series) -> tuple[str | None, float]:
    """(combo, score) of the highest score, the first in grid order on a tie; (None, NaN) if none."""
    values = scores.to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return None, float("nan")
    position = int(np.nanargmax(np.where(np.isfinite(values), values, -np.inf)))
    return str(scores.index[position]), float(values[position])


def leave_one_event_out(
    results: pd.DataFrame, combos: pd.DataFrame, metric: str = HOLDOUT_METRIC
) -> pd.DataFrame:
    """Choose the parameters on all events but one, measure them on the held-out event.

    Parameters
    ----------
    results : pandas.DataFrame
        ``TradeResult.results``: one row per combo x event x symbol with ``combo``,
        ``event_id`` and ``metric`` (a fraction per pair).
    combos : pandas.DataFrame
        ``TradeResult.combos``; its ``combo`` order breaks ties (first wins).
    metric : str
        Per-pair column to average; the default is the excess return over buy-and-hold
        over the same window.

    Returns
    -------
    pandas.DataFrame
        One row per held-out event (events in first-seen order): ``held_out``, ``combo``
        (chosen on the other events), ``train_events``, ``train_pairs``, ``train_score``
        (the choice's mean over the other events' pairs: in-sample), ``test_pairs``,
        ``test_score`` (its mean over the held-out event's pairs: out of sample),
        ``best_combo_on_event`` / ``best_score_on_event`` (the held-out event's own
        in-sample best, for comparison). Empty with fewer than two events.

    Notes
    -----
    For event ``e`` with pairs ``P_e``: ``c*(e) = argmax_c mean_{p not in P_e} x_{c,p}``,
    ``test_score(e) = mean_{p in P_e} x_{c*(e),p}`` (Stone 1974, JRSS B 36(2), leave-one-out
    with events as folds).

    Examples
    --------
    Two events, two combos: ``a`` wins on event 1, ``b`` on event 2, so each held-out event
    gets the other event's winner.

    >>> results = pd.DataFrame({"combo": ["a", "b", "a", "b"], "event_id": ["e1", "e1", "e2", "e2"],
    ...                         "excess_vs_buy_hold": [0.05, 0.01, -0.02, 0.03]})
    >>> out = leave_one_event_out(results, pd.DataFrame({"combo": ["a", "b"]}))
    >>> out[["held_out", "combo", "test_score"]].to_numpy().tolist()
    [['e1', 'b', 0.01], ['e2', 'a', -0.02]]
    """
    order = [str(c) for c in combos["combo"]]
    frame = results.assign(combo=results["combo"].astype(str), event_id=results["event_id"].astype(str))
    events = list(dict.fromkeys(frame["event_id"]))
    rows: list[dict[str, object]] = []
    if len(events) < 2:
        return pd.DataFrame(columns=list(HOLDOUT_COLUMNS))
    for event in events:
        held = frame["event_id"] == event
        train, test = frame[~held], frame[held]
        chosen, train_score = _first_best(_mean_by_combo(train, order, metric))
        test_rows = test[test["combo"] == chosen] if chosen is not None else test.iloc[0:0]
        best, best_score = _first_best(_mean_by_combo(test, order, metric))
        rows.append(
            {
                "held_out": event,
                "combo": chosen,
                "train_events": len(events) - 1,
                "train_pairs": int(train[train["combo"] == chosen][metric].notna().sum()),
                "train_score": train_score,
                "test_pairs": int(test_rows[metric].notna().sum()),
                "test_score": float(test_rows[metric].mean()) if len(test_rows) else float("nan"),
                "best_combo_on_event": best,
                "best_score_on_event": best_score,
            }
        )
    return pd.DataFrame(rows, columns=list(HOLDOUT_COLUMNS))


def pooled_holdout_score(results: pd.DataFrame, holdout: pd.DataFrame, metric: str = HOLDOUT_METRIC) -> float:
    """Mean of ``metric`` over every held-out pair, each under the combo chosen without its event.

    Comparable with the in-sample best's mean over all pairs (same pairs, same weights).

    >>> results = pd.DataFrame({"combo": ["a", "b", "a", "b"], "event_id": ["e1", "e1", "e2", "e2"],
    ...                         "excess_vs_buy_hold": [0.05, 0.01, -0.02, 0.03]})
    >>> holdout = leave_one_event_out(results, pd.DataFrame({"combo": ["a", "b"]}))
    >>> round(pooled_holdout_score(results, holdout), 4)   # (0.01 - 0.02) / 2
    -0.005
    """
    if holdout.empty:
        return float("nan")
    chosen = dict(zip(holdout["held_out"].astype(str), holdout["combo"], strict=True))
    keep = results["combo"].astype(str).to_numpy() == results["event_id"].astype(str).map(chosen).to_numpy()
    values = results.loc[keep, metric].astype(float)
    return float(values.mean()) if values.notna().any() else float("nan")
