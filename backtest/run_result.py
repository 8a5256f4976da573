"""What ``backtest run`` computed (:class:`RunResult`): every table, and its views for a reader.

:func:`backtest.pipeline.run_all` returns it; the report package writes it to files, the
terminal prints its display tables, and a notebook shows ``summary()`` or ``plot(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from backtest.pipeline import RunSettings

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """Everything a run computed; tables are tidy, numbers are fractions."""

    settings: RunSettings
    events: pd.DataFrame
    prices: dict[str, pd.DataFrame]
    alignment: pd.DataFrame  # event x exchange (align_events)
    symbol_alignment: pd.DataFrame  # event x symbol (align_symbols)
    study: Any  # EventStudyResult
    recovery: Any  # RecoveryResult
    trade: Any  # TradeResult (None while a second process runs it: see run_all's ``meanwhile``)
    grid: dict[str, list[Any]]
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The event study re-run to the horizon for recovery's abnormal path (same model and
    #: estimation window, event window ``recovery_event_window(settings)``); None when the
    #: user's event window already reaches the horizon (``study`` was used).
    recovery_study: Any = None
    #: Closes of each event x symbol and its benchmark on the symbol's sessions, from the day
    #: before the event window (or an earlier CAR window) to the horizon (what ``backtest tables``
    #: cuts windows from).
    session_closes: pd.DataFrame | None = None
    #: Placebo ranks and the calendar-time test of each event (backtest.study.inference).
    inference: Any = None

    def tables(self, strategy: bool = True) -> dict[str, pd.DataFrame]:
        """All result tables by name, in a fixed order (what the JSON and CSV files hold); without
        the strategy step's (the last five) when ``strategy`` is False."""
        tables = {
            "events": self.events,
            "alignment": self.alignment,
            "symbol_alignment": self.symbol_alignment,
            "abnormal_returns": self.study.abnormal_returns,
            "car": self.study.car,
            "tests": self.study.tests,
            "fits": self.study.fits,
            **({"robustness": self.study.robustness} if self.study.robustness is not None else {}),
            "recovery": self.recovery.table,
            "recovery_summary": self.recovery.survival,
            "recovery_paths": self.recovery.paths,
            **({} if self.session_closes is None else {"session_closes": self.session_closes}),
        }
        if strategy:
            trade = self.trade
            tables |= {
                "strategy_results": trade.results,
                "strategy_aggregate": trade.aggregate,
                "strategy_holdout": trade.holdout,
                "trades": trade.trades,
                "equity": trade.equity,
            }
        return tables

    @cached_property
    def return_tables(self) -> Any:  # -> backtest.return_tables.ReturnTables
        """The return tables (raw returns, scoreboard) with the default options, built once."""
        from backtest.return_tables import build_return_tables

        return build_return_tables(self.tables(strategy=False), self.settings.to_dict())

    @cached_property
    def display_tables(self) -> dict[str, Any]:  # -> dict[str, backtest.report.Table]
        """The human-facing tables (:func:`backtest.report.display_tables`), built once: the
        terminal, the Markdown summary, the report page and ``summary()`` show the same objects."""
        from backtest.report import strategy_display_table

        return {**self.study_display_tables, "strategy": strategy_display_table(self)}

    @cached_property
    def study_display_tables(self) -> dict[str, Any]:
        """:attr:`display_tables` but the strategy's (the last): all that needs no strategy result."""
        from backtest.report import display_tables

        return display_tables(self, strategy=False)

    def __repr__(self) -> str:
        from backtest.display import short_repr

        return short_repr(
            "RunResult", events=len(self.events), symbols=self.symbol_alignment["symbol"].nunique(),
            model=self.settings.model, strategy=self.settings.strategy, combos=len(self.trade.combos),
            warnings=len(self.warnings),
        )  # fmt: skip

    def summary(self):  # -> backtest.display.Summary
        """Key findings in words, then the reactions, tests, recovery and strategy tables."""
        from backtest.display import Summary
        from backtest.report.findings import holdout_sentence, key_findings
        from backtest.report.views import holdout_table

        shown = self.display_tables
        trade = self.trade
        holdout = [holdout_table(trade.holdout, self.event_names())] if len(trade.holdout) else []
        findings = [f"{f.title}. {f.text}" for f in key_findings(self)]
        lead = holdout_sentence(self.settings.strategy, trade.results, trade.aggregate, trade.holdout)
        return Summary(
            "Market-event backtest",
            [shown["reactions"], shown["tests"], shown["recovery"], *holdout, shown["strategy"]],
            notes=[*findings, *self.warnings],
            lead=lead,
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def plot(self, name: str = "car_paths"):  # -> matplotlib Figure
        """One chart of the report as a matplotlib figure (not shown): ``price_paths``, ``car_paths``,
        ``recovery``, ``survival``, ``equity`` or ``heatmap``."""
        from backtest.errors import ParameterError, did_you_mean
        from backtest.report.figures import CHART_NAMES, run_charts

        if name not in CHART_NAMES:
            raise ParameterError(f"plot {name!r}: not a chart of the report{did_you_mean(name, CHART_NAMES)}")
        chart = run_charts(self, (name,))[name]
        if chart.draw is None:
            raise ParameterError(f"no {name} chart: {chart.caption}")
        return chart.draw()

    def event_names(self) -> dict[str, str]:
        """event_id -> name, in events-file order."""
        from backtest.events import event_names

        return event_names(self.events)
