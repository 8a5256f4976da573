"""Display tables only the report and ``summary()`` show: leave-one-event-out, the values behind charts.

Built like :mod:`backtest.report.tables` (numbers in ``Table.frame``, kinds for the cells).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from backtest.report.tables import ColumnKind, Table


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
