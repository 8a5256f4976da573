"""The return-table result object, built from a run's tidy tables (in memory or from results.json).

:func:`build_return_tables` needs only tables that ``backtest run`` keeps — ``session_closes``,
``car``, ``tests``, ``recovery`` and ``events`` — so ``backtest tables`` rebuilds everything
from a ``results.json`` without the prices and without re-running the study.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from backtest.errors import DataError, ParameterError
from backtest.return_tables.build import (
    Window,
    abnormal_window_returns,
    missing_car_windows,
    pooled_window_tests,
    raw_window_returns,
    scoreboard,
)
from backtest.study.windows import window_label

Statistic = Literal["t", "se"]
STATISTICS: tuple[str, ...] = ("t", "se")
DEFAULT_STARS: tuple[float, ...] = (0.01, 0.05, 0.10)
DEFAULT_TEST = "cross_sectional_t"
NEEDED_TABLES: tuple[str, ...] = ("session_closes", "car", "tests", "recovery", "events")


def parse_stars(value: object, name: str = "--stars") -> tuple[float, ...]:
    """Significance levels for the stars, e.g. ``"0.01,0.05,0.1"`` -> ``(0.01, 0.05, 0.1)`` (ascending).

    The smallest level earns the most stars (three levels: ``***``, ``**``, ``*``).

    >>> parse_stars("0.1, 0.05,0.01"), parse_stars([0.05])
    ((0.01, 0.05, 0.1), (0.05,))
    """
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    try:
        levels = sorted(float(item) for item in items)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} {value!r}: not a list of numbers; use e.g. 0.01,0.05,0.1") from None
    if not levels or any(not 0.0 < level < 1.0 for level in levels) or len(set(levels)) != len(levels):
        raise ParameterError(f"{name} {value!r}: give distinct levels between 0 and 1, e.g. 0.01,0.05,0.1")
    return tuple(levels)


def parse_statistic(value: object, name: str = "--stat") -> str:
    """``"t"`` (t statistic) or ``"se"`` (standard error) in the parentheses."""
    if value not in STATISTICS:
        raise ParameterError(f"{name} {value!r} is unknown; use t (t statistic) or se (standard error)")
    return str(value)


def default_windows(settings: Mapping[str, object]) -> tuple[Window, ...]:
    """The study's CAR windows, then ``[0, horizon]`` (the recovery horizon) when not among them.

    >>> default_windows({"car_windows": [[0, 0], [0, 5]], "horizon": 60})
    ((0, 0), (0, 5), (0, 60))
    """
    windows = [(int(a), int(b)) for a, b in settings["car_windows"]]  # type: ignore[union-attr]
    horizon = (0, int(settings["horizon"]))  # type: ignore[call-overload]
    return tuple(windows if horizon in windows else [*windows, horizon])


@dataclass(frozen=True)
class ReturnTables:
    """Return tables of a run; tidy frames, fractions.

    Attributes
    ----------
    raw : DataFrame
        Per event x symbol x window: return, benchmark_return, excess (see
        :func:`~backtest.return_tables.build.raw_window_returns`).
    abnormal : DataFrame
        Per event x symbol x window the study computed: car, car_se, t_stat, p_value.
    pooled : DataFrame
        Per event x window: CAAR and the chosen cross-sectional test's statistic and p-value.
    scoreboard : DataFrame
        Per symbol x event: day-0 move and rank, worst CAR window, recovery status.
    names : dict
        Display names: event_id -> event name, symbol -> instrument name.
    settings : dict
        windows (labels), statistic (``t`` | ``se``), stars (levels), test, and
        ``abnormal_missing`` (windows without a CAR in the study: raw only).
    """

    raw: pd.DataFrame
    abnormal: pd.DataFrame
    pooled: pd.DataFrame
    scoreboard: pd.DataFrame
    names: dict[str, str] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables by file name (what the CSVs hold)."""
        return {
            "raw_returns": self.raw,
            "abnormal_window_returns": self.abnormal,
            "pooled_window_tests": self.pooled,
            "scoreboard": self.scoreboard,
        }

    def pivot(self, name: str) -> pd.DataFrame:
        """Symbols in rows, events x windows in columns (``raw``, ``benchmark``, ``excess``, ``abnormal``)."""
        from backtest.return_tables.display import pivot

        return pivot(self, name)

    def to_latex(self) -> str:
        """Every table as LaTeX (booktabs, stars, t or SE in parentheses beneath each estimate)."""
        from backtest.return_tables.latex import latex_document_body

        return latex_document_body(self)

    def to_excel(self, path: str | Path) -> Path:
        """Write the Excel workbook (one sheet a table, percent formats, frozen headers) to ``path``."""
        from backtest.return_tables.export import workbook_bytes

        path = Path(path)
        path.write_bytes(workbook_bytes(self))
        return path

    def summary(self) -> str:
        """The raw-return table and the scoreboard as Markdown text (the cells the terminal shows)."""
        from backtest.report import _markdown
        from backtest.return_tables.display import raw_table, scoreboard_table

        return "\n".join(_markdown(table) for table in (raw_table(self), scoreboard_table(self)))

    def __repr__(self) -> str:
        pairs = len(self.raw[["event_id", "symbol"]].drop_duplicates()) if len(self.raw) else 0
        windows = ", ".join(self.settings.get("windows", []))  # type: ignore[arg-type]
        return (
            f"ReturnTables({pairs} event x symbol pairs, windows {windows}, "
            f"statistic {self.settings.get('statistic')}, test {self.settings.get('test')})"
        )


def _names(events: pd.DataFrame, symbols: Sequence[str]) -> dict[str, str]:
    from backtest.report.tables import company_names

    names = dict(zip(events["event_id"].astype(str), events["name"].astype(str), strict=True))
    names.update({s: name or s for s, name in zip(symbols, company_names(symbols), strict=True)})
    return names


def build_return_tables(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    windows: Sequence[Window] | None = None,
    statistic: Statistic = "t",
    stars: Sequence[float] = DEFAULT_STARS,
    test: str = DEFAULT_TEST,
) -> ReturnTables:
    """Every return table from a run's tidy tables (``RunResult.tables()`` or ``load_results``).

    Parameters
    ----------
    tables : mapping
        Must hold :data:`NEEDED_TABLES`.
    settings : mapping
        The run's settings (``car_windows``, ``horizon``), for the default windows.
    windows : sequence of (start, end), optional
        Windows in sessions relative to day 0; default :func:`default_windows`.
    statistic : {"t", "se"}
        What goes in parentheses beneath each abnormal return.
    stars : sequence of float
        Significance levels (two-sided p-values); see :func:`parse_stars`.
    test : str
        Cross-sectional test for the per-event CAAR rows (a ``tests["test"]`` name).

    Raises
    ------
    DataError
        A table is missing (a results.json from before return tables: rerun ``backtest run``).
    ParameterError
        A window outside the stored closes, an unknown statistic, test or star level.
    """
    absent = [name for name in NEEDED_TABLES if name not in tables]
    if absent:
        raise DataError(
            f"results lack the table(s) {', '.join(absent)}; rerun 'backtest run' with this version"
        )
    statistic = parse_statistic(statistic)  # type: ignore[assignment]
    levels = parse_stars(stars)
    chosen = tuple(windows) if windows else default_windows(settings)
    closes, car = tables["session_closes"], tables["car"]
    raw = raw_window_returns(closes, chosen)
    abnormal = abnormal_window_returns(car, chosen)
    pooled = pooled_window_tests(tables["tests"], chosen, test)
    board = scoreboard(closes, car, tables["recovery"], tables["events"])
    symbols = list(dict.fromkeys(raw["symbol"].astype(str)))
    return ReturnTables(
        raw=raw,
        abnormal=abnormal,
        pooled=pooled,
        scoreboard=board,
        names=_names(tables["events"], symbols),
        settings={
            "windows": list(dict.fromkeys(window_label(w) for w in chosen)),
            "statistic": statistic,
            "stars": list(levels),
            "test": test,
            "abnormal_missing": missing_car_windows(car, chosen),
        },
    )
