"""What :func:`~backtest.recovery.analysis.recovery` returns: the tidy tables and how they render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class RecoveryResult:
    """What :func:`recovery` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per event x symbol x path (``"price"`` | ``"abnormal"``): identifiers
        (event_id, symbol, path, kind, direction, calendar, reaction_session,
        benchmark, ar_source, ar_model: the model the abnormal path follows, e.g. ``market`` or
        ``market, drift-free``) and the :class:`PathMetrics` fields (pre_event_close,
        reaction_return, trough_date, trough_rel_day, trough_close, max_drawdown,
        moved, recovered, recovery_sessions, recovery_days, recovery_date, censored_by, relapsed,
        recovered_after_trough, recovery_from_trough_sessions, trough_censored_by,
        last_date_seen, last_rel_day, duration_sessions, half_life_sessions,
        half_life_date, n_missing, ratio_1, ratio_5, ratio_20, ratio_60) and
        ``measurable`` / ``unmeasured_reason``, and ``status``: the row in words
        (:mod:`backtest.recovery.status`, the one vocabulary every output uses). Fractions, not percent.
        Rows with ``direction = "give_back"`` (relief events) hold the *peak* in the
        ``trough_*`` columns and the largest run-up (>= 0) in ``max_drawdown``;
        ``recovered`` there means the whole jump was given back. ``recovery_*`` are
        ``<NA>``/``NaT`` exactly when ``recovered`` is False; ``censored_by`` then says
        why (``horizon``, ``end_of_data``, ``study_window``) and ``last_date_seen`` when.
        ``moved`` is False for a path that never went below the pre-event value (give-back:
        above it); such a path "recovers" on day 0 trivially and the summary leaves it out of
        the Kaplan-Meier estimate. ``relapsed``: back below the pre-event value after the
        first recovery; ``recovered_after_trough`` / ``recovery_from_trough_sessions`` /
        ``trough_censored_by``: the recovery counted from the trough day instead of day 0.
        ``measurable`` is False when the row has no pre-event value or nothing after the event;
        ``unmeasured_reason`` then says which, with the date the prices start or end
        (e.g. ``"no pre-event close: prices start 2024-01-02"``), and every measure is undefined.
    paths : pandas.DataFrame
        Tidy: event_id, symbol, rel_day, date, close (carried forward), missing,
        rebased (pre-event close = 100), cum_ar (``CAR(0, k)``; 0 on day -1).
    survival : pandas.DataFrame
        :func:`~backtest.recovery.survival.summarize` of ``table`` per path and direction
        (Kaplan-Meier shares recovered; ``summary()`` is the printable view of everything).
    settings : dict
        horizon, ratio_days, ar_source.
    """

    table: pd.DataFrame
    paths: pd.DataFrame
    survival: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        from backtest.display import short_repr

        price = self.table[self.table["path"] == "price"] if "path" in self.table else self.table
        recovered = int(price["recovered"].astype("boolean").fillna(False).astype(bool).sum())
        return short_repr(
            "RecoveryResult", pairs=len(price), recovered=recovered, horizon=self.settings.get("horizon"),
            rows=len(self.table),
        )  # fmt: skip

    def summary(self):  # -> backtest.display.Summary
        """Per event x symbol x path (status, largest move, sessions back) and the Kaplan-Meier table."""
        from backtest.display import Summary
        from backtest.report.tables import recovery_summary_table, recovery_table

        return Summary(
            "Recovery", [recovery_table(self.table, self.settings.get("horizon")),
                         recovery_summary_table(self.survival)],
            lead=f"Horizon {self.settings.get('horizon')} sessions after day 0; abnormal path from "
            f"{self.settings.get('ar_source', 'the event study')}.",
        )  # fmt: skip

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def plot(self, kind: str = "recovery", names: dict[str, str] | None = None):  # -> matplotlib Figure
        """A report chart as a matplotlib figure: ``"recovery"`` (sessions back), ``"paths"``
        (rebased closes) or ``"survival"`` (Kaplan-Meier share recovered)."""
        from backtest.errors import ParameterError
        from backtest.recovery.survival import km_curves
        from backtest.report.charts import price_paths_figure, recovery_figure
        from backtest.report.survival_chart import km_figure

        horizon = int(self.settings.get("horizon", 60))
        names = names or {e: e for e in dict.fromkeys(self.table["event_id"].astype(str))}
        draw = {
            "recovery": lambda: recovery_figure(self.table, names, horizon),
            "paths": lambda: price_paths_figure(self.paths, names),
            "survival": lambda: km_figure(km_curves(self.table), horizon),
        }
        if kind not in draw:
            raise ParameterError(f"plot kind {kind!r}: use one of {', '.join(draw)}")
        return draw[kind]()
