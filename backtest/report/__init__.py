"""Reports of a run: display tables, CSV / Markdown / JSON files and the HTML page.

* :mod:`backtest.report.tables` — wide display tables and cell formatting (percent, stars);
* :mod:`backtest.report.export` — deterministic CSV, Markdown and JSON (+ loader);
* :mod:`backtest.report.charts` — matplotlib charts as deterministic SVG;
* :mod:`backtest.report.heatmap` — the parameter-grid heatmap (one panel per extra parameter);
* :mod:`backtest.report.html` — the self-contained HTML report.

:func:`write_report` writes everything for a :class:`~backtest.pipeline.RunResult`
into one directory:

``<table>.csv`` / ``<table>.parquet`` / ``<table>.md``
    every result table of ``RunResult.tables()`` (tidy, fractions in the CSV and Parquet);
``reactions.csv`` / ``reactions.md``
    the wide reaction table (day-0 return and AR, CAR and p-value per window);
``raw_returns.csv``, ``scoreboard.csv``, ``return_tables.xlsx``, ``return_tables.tex`` ...
    the return tables (:mod:`backtest.return_tables`; ``backtest tables`` rebuilds them from the JSON);
``summary.md``
    the display tables as the terminal shows them;
``results.json``
    all tables, the settings and the provenance (read back with :func:`load_results`);
``report.html``
    the report page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.report.export import (
    CSV_FLOAT_FORMAT,
    JSON_FILE,
    Content,
    Results,
    csv_pieces,
    load_results,
    made_when_written,
    results_pieces,
    to_csv,
    to_markdown,
    write_files,
    write_parquet,
)
from backtest.report.output import OutputSet, open_output
from backtest.report.tables import (
    Table,
    alignment_table,
    generic_table,
    reaction_table,
    recovery_summary_table,
    recovery_table,
    strategy_table,
    tests_table,
)

__all__ = ["ReportWriter", "Results", "Table", "display_tables", "load_results", "write_report"]

REPORT_FILE = "report.html"


def display_tables(run: Any, strategy: bool = True) -> dict[str, Table]:
    """The human-facing tables of a run: alignment, raw returns, scoreboard, reactions, tests,
    recovery (+ summary), strategy (raw returns and the scoreboard before the abnormal-return
    detail); without the strategy's (the last) when ``strategy`` is False."""
    from backtest.return_tables.display import raw_table, scoreboard_table

    returns = run.return_tables
    tables = {
        "alignment": alignment_table(run.alignment),
        "raw_returns": raw_table(returns),
        "scoreboard": scoreboard_table(returns),
        "reactions": reaction_table(run.study.abnormal_returns, run.study.car),
        "tests": tests_table(run.study.tests),
        "recovery": recovery_table(run.recovery.table, run.settings.horizon),
        "recovery_summary": recovery_summary_table(run.recovery.survival),
    }
    if strategy:
        tables["strategy"] = strategy_display_table(run)
    return tables


def strategy_display_table(run: Any) -> Table:
    """The strategy's display table (the last of :func:`display_tables`)."""
    return strategy_table(run.trade.aggregate, run.settings.strategy)


def _markdown(table: Table) -> str:
    cells = table.formatted()
    right = {table.header(c) for c in cells.columns if table.is_numeric(c)}
    cells.columns = [table.header(c) for c in cells.columns]
    return to_markdown(cells, table.title, table.note, right)


#: Tables with one column per strategy parameter (an optional parameter's ``None`` is NaN there).
PARAMETER_TABLES = ("strategy_results", "strategy_aggregate")


def _optional_params(strategy: str) -> list[str]:
    import strategies

    return [spec.name for spec in strategies.get(strategy).params if spec.optional]


def none_as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Optional-parameter columns as text for the CSV / Markdown files: NaN (= ``None``) -> ``"none"``.

    Inside, ``stop=none`` is NaN in a float column; in a file an empty cell would read as
    "missing", so it is written as the grid value the user typed.

    >>> none_as_text(pd.DataFrame({"stop": [float("nan"), 0.08]}), ["stop"])["stop"].tolist()
    ['none', '0.08']
    """
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = pd.Series(
                ["none" if pd.isna(v) else CSV_FLOAT_FORMAT % v for v in out[column].tolist()],
                index=out.index,
                dtype=object,
            )
    return out


def write_report(run: Any, out_dir: str | Path | OutputSet, html: bool = True) -> list[Path]:
    """Write every output file of ``run`` into ``out_dir`` (created if needed); returns the paths.

    All files go through :func:`~backtest.report.export.write_files`, into one set. A table's
    files are made and written one at a time (a large study's are never all in memory).
    """
    if not isinstance(out_dir, OutputSet):
        with open_output(out_dir) as out:
            return write_report(run, out, html)
    writer = ReportWriter(out_dir, html)
    writer.start(run)
    return writer.finish(run)


class ReportWriter:
    """:func:`write_report` in two parts. :meth:`start` needs no result of the strategy step:
    ``backtest run`` calls it while a second process (:mod:`backtest.background`) still runs that
    step (``run_all(meanwhile=...)``), instead of waiting for it; :meth:`finish` writes the rest.
    The files and their order are the same either way.
    """

    def __init__(self, out: OutputSet, html: bool = True) -> None:
        self.out = out
        self.html = html
        self.written: list[Path] = []
        self._figures: list[Callable[..., dict[str, dict[str, Any]]]] = []
        self._return_files: Callable[[], dict[str, str | bytes]] | None = None
        self._tables_written: set[str] = set()

    def start(self, run: Any) -> None:
        """Start the charts and return tables, and write the tables, of all but the strategy."""
        from backtest.report.figures import CHART_NAMES, STRATEGY_CHARTS, start_figures
        from backtest.return_tables.export import start_return_table_files

        # The Excel and LaTeX files and the charts first: with a second process it makes them
        # (in that order) while this one writes the tables, and this one takes back what it has
        # not started, from the last.
        self._return_files = start_return_table_files(run.return_tables)
        if self.html:
            self._figures.append(start_figures(run, [n for n in CHART_NAMES if n not in STRATEGY_CHARTS]))
        tables = run.tables(strategy=False)
        self.written += write_files(self.out, _table_files(run, tables))
        self._tables_written = set(tables)

    def finish(self, run: Any) -> list[Path]:
        """Write the rest (:meth:`start` first if it was not called); returns every path written."""
        from backtest.report.figures import STRATEGY_CHARTS, start_figures
        from backtest.report.html import render_html

        if self._return_files is None:
            self.start(run)
        if self.html:
            self._figures.append(start_figures(run, STRATEGY_CHARTS))
        tables = run.tables()
        files = _table_files(run, {name: t for name, t in tables.items() if name not in self._tables_written})
        shown_tables = run.display_tables
        files["reactions.csv"] = to_csv(shown_tables["reactions"].frame)
        files["reactions.md"] = _markdown(shown_tables["reactions"])
        self.written += write_files(self.out, files)  # now, while the second process draws the charts
        assert self._return_files is not None
        files = dict(self._return_files())
        summary = "\n".join(_markdown(t) for t in shown_tables.values())
        files["summary.md"] = "# backtest run: summary\n\n" + summary
        settings = run.settings.to_dict() | {"grid_run": run.grid}
        files[JSON_FILE] = results_pieces(tables, settings, run.provenance, run.warnings)
        if self.html:
            files[REPORT_FILE] = made_when_written(lambda: render_html(run, shown_tables, self._charts()))
        self.written += write_files(self.out, files)
        return self.written

    def _charts(self) -> dict[str, dict[str, Any]]:
        """Every chart in the report's order, each svg the function that gives it: the page
        is made first, then the charts taken, the last first (this process takes back what
        the worker has not started, from the last)."""
        return {name: chart for collect in self._figures for name, chart in collect(drawn=False).items()}


def _table_files(run: Any, tables: dict[str, pd.DataFrame]) -> dict[str, Content]:
    """Each table's CSV, Markdown and Parquet, made as they are written."""
    optional = _optional_params(run.settings.strategy)
    files: dict[str, Content] = {}
    for name, frame in tables.items():
        if name in PARAMETER_TABLES:  # the JSON keeps an optional parameter's None as null
            frame = none_as_text(frame, optional)
        files[f"{name}.csv"] = csv_pieces(frame)
        files[f"{name}.md"] = made_when_written(_generic_markdown, name, frame)
        files[f"{name}.parquet"] = functools.partial(write_parquet, frame)
    return files


def _generic_markdown(name: str, frame: pd.DataFrame) -> str:
    return _markdown(generic_table(name, name.replace("_", " "), frame))
