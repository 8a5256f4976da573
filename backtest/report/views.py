"""Display tables only the report shows: leave-one-event-out, Kaplan-Meier summary, chart values.

Built like :mod:`backtest.report.tables` (numbers in ``Table.frame``, kinds for the cells);
:func:`with_names` puts the registry's company name beside every ``symbol`` column.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from backtest.report.tables import ColumnKind, Table, generic_table


def with_names(table: Table) -> Table:
    """``table`` with a ``name`` column (registry company name) right after ``symbol``, if absent."""
    frame = table.frame
    if "symbol" not in frame or "name" in frame:
        return table
    from backtest.instruments import company_name

    at = list(frame.columns).index("symbol") + 1
    frame = frame.copy()
    frame.insert(at, "name", [company_name(str(s)) for s in frame["symbol"]])
    return Table(table.name, table.title, frame, table.kinds, table.marks, table.hidden, table.note,
                 table.labels)  # fmt: skip


def holdout_table(holdout: pd.DataFrame, names: Mapping[str, str]) -> Table:
    """Leave-one-event-out per held-out event (``TradeResult.holdout``)."""
    frame = holdout.assign(event=[names.get(str(e), str(e)) for e in holdout["held_out"]])
    columns = ["event", "combo", "test_score", "test_pairs", "train_score", "best_combo_on_event",
               "best_score_on_event"]  # fmt: skip
    kinds: dict[str, ColumnKind] = {"test_pairs": "integer"} | {
        c: "signed_percent" for c in ("test_score", "train_score", "best_score_on_event")
    }
    labels = {
        "event": "held-out event", "combo": "chosen on the others", "test_score": "out of sample",
        "test_pairs": "pairs", "train_score": "on the others", "best_combo_on_event": "event's own best",
        "best_score_on_event": "its value",
    }  # fmt: skip
    return Table(
        "holdout",
        "Leave-one-event-out: what the grid's choice is worth on an event it did not see",
        frame[columns].reset_index(drop=True),
        kinds,
        labels=labels,
        note="Mean excess return vs buy-and-hold. For each event in turn, the parameters with the "
        "highest mean over all pairs of the other events ('on the others', in-sample) are measured on "
        "that event's pairs ('out of sample'; all pairs, an untraded one counts with minus buy-and-hold's "
        "return). The event's own best is chosen after seeing it (in-sample), shown only for comparison.",
    )


SURVIVAL_LABELS = {
    "n": "paths", "n_recovered": "recovered", "n_censored": "censored", "n_no_move": "no move",
    "n_unmeasured": "not measurable", "km_median_sessions": "median sessions (KM)",
    "median_max_drawdown": "median largest move", "share_recovered_5": "by day 5",
    "share_recovered_20": "by day 20", "share_recovered_60": "by day 60",
}  # fmt: skip


def survival_table(summary: pd.DataFrame) -> Table:
    """Kaplan-Meier summary per path and direction (``RecoveryResult.survival``), shares with their se."""
    shares = [c for c in summary.columns if c.startswith("share_recovered_") and not c.endswith("_se")]
    columns = ["path", "direction", "n", "n_recovered", "n_censored", "n_no_move", "n_unmeasured",
               "km_median_sessions", "median_max_drawdown", *shares]  # fmt: skip
    frame = summary.copy()
    for column in shares:  # "61.11 % ± 14.70" reads better than two columns
        frame[column] = [
            "—" if pd.isna(v) else f"{100 * v:.1f} % ± {100 * se:.1f}"
            for v, se in zip(summary[column], summary[f"{column}_se"], strict=True)
        ]
    shown = generic_table("survival", "", frame, columns)
    kinds = dict(shown.kinds) | {c: "text" for c in shares}
    labels = SURVIVAL_LABELS | {c: f"by day {c.rsplit('_', 1)[1]}" for c in shares}
    return Table(
        "survival",
        "Kaplan-Meier: share of paths recovered by day, censoring included",
        shown.frame,
        kinds,
        labels=labels,
        note="Kaplan-Meier estimate (statsmodels SurvfuncRight) of the share of paths back at the "
        "pre-event level (drawdown: the close back up; give_back: the jump given back), counted "
        "from day 0 and reached after the trough; ± one Greenwood standard error. Paths that never "
        "moved are left out (they would 'recover' on day 0); censored paths count until last seen.",
    )


def values_tables(frame: pd.DataFrame, value: str, kind: ColumnKind, names: Mapping[str, str],
                  columns: str = "symbol") -> list[Table]:  # fmt: skip
    """The values behind a chart: one table per event, rows = relative day, one column per series."""
    out = []
    for event_id in [e for e in names if e in set(frame["event_id"].astype(str))]:
        part = frame[frame["event_id"].astype(str) == event_id]
        wide = part.pivot_table(index="rel_day", columns=columns, values=value, aggfunc="first", sort=False)
        wide = wide.sort_index().reset_index()
        wide.columns = [str(c) for c in wide.columns]
        kinds: dict[str, ColumnKind] = {c: kind for c in wide.columns}
        kinds["rel_day"] = "integer"
        out.append(Table(f"values_{event_id}", names[event_id], wide, kinds, labels={"rel_day": "day"}))
    return out
