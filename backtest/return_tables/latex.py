"""LaTeX tables as event-study papers print them, via pandas' Styler.

Booktabs rules (``\\toprule``, ``\\midrule``, ``\\bottomrule``), symbols in rows, events x
windows in columns (a ``\\multicolumn`` header per event), returns in percent, significance
stars on the estimate and the t statistic or standard error in parentheses on the line
beneath it, and a note with the stars' legend under the tabular. Every name and note is
escaped (``%``, ``&``, ``_``, ``#``, ``$`` ...), so the output compiles with
``\\usepackage{booktabs}`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from backtest.return_tables.display import percent_cell, pivot, stars, stars_legend
from backtest.return_tables.result import ReturnTables

_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",
}  # fmt: skip


def escape(text: str) -> str:
    r"""Escape LaTeX's special characters in plain text.

    >>> print(escape("S&P 500 _ 5 % $"))
    S\&P 500 \_ 5 \% \$
    """
    return "".join(_ESCAPES.get(char, char) for char in str(text))


def tabular(cells: pd.DataFrame) -> str:
    """A booktabs tabular of string ``cells`` (first column left, the rest right-aligned).

    ``cells`` has two-level columns (group, column); the first column holds the row labels.
    Cells are escaped here, so they must be plain text.
    """
    styler = cells.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    column_format = "l" + "r" * (cells.shape[1] - 1)
    return styler.to_latex(hrules=True, column_format=column_format, multicol_align="c")


def table_environment(body: str, caption: str, label: str, note: str) -> str:
    """Wrap a tabular in a ``table`` environment with caption, label and a note beneath."""
    return (
        "\\begin{table}[htbp]\n\\centering\n"
        f"\\caption{{{escape(caption)}}}\n\\label{{{label}}}\n"
        f"{body}"
        f"\\par\\smallskip\n{{\\footnotesize {escape(note)}}}\n"
        "\\end{table}\n"
    )


def estimate_cells(
    estimates: pd.DataFrame,
    row_labels: Sequence[str],
    column_groups: dict[str, str],
    p_values: pd.DataFrame | None = None,
    statistics: pd.DataFrame | None = None,
    levels: Sequence[float] = (0.01, 0.05, 0.10),
) -> pd.DataFrame:
    """String cells: one line per row of ``estimates`` (percent, stars), the statistic in parentheses beneath.

    ``estimates``, ``p_values`` and ``statistics`` share index and (group, column) columns;
    ``column_groups`` maps a group key (event_id) to its header (event name); statistics
    are shown with two decimals as given (scale a standard error to percent first).
    """
    rows: list[list[str]] = []
    for row in range(estimates.shape[0]):
        line = [row_labels[row]]
        below = [""]
        for column in range(estimates.shape[1]):
            value = estimates.iat[row, column]
            mark = "" if p_values is None else stars(p_values.iat[row, column], levels)
            line.append(percent_cell(value) + (mark if percent_cell(value) else ""))
            if statistics is not None:
                stat = statistics.iat[row, column]
                text = "" if pd.isna(stat) else f"{stat:.2f}"
                below.append(f"({text})" if text else "")
        rows.append(line)
        if statistics is not None:
            rows.append(below)
    header = [("", "")] + [(column_groups.get(group, group), column) for group, column in estimates.columns]
    return pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(header))


def _row_labels(tables: ReturnTables, symbols: Sequence[str]) -> list[str]:
    return [f"{tables.names.get(s, s)} ({s})" if tables.names.get(s, s) != s else s for s in symbols]


def raw_latex(tables: ReturnTables, name: str = "raw") -> str:
    """Raw (or ``"excess"`` / ``"benchmark"``) returns: symbols x (events x windows), in percent."""
    wide = pivot(tables, name)
    cells = estimate_cells(wide, _row_labels(tables, list(wide.index)), tables.names)
    what = {"raw": "Raw returns", "excess": "Excess returns over the benchmark",
            "benchmark": "Benchmark returns"}[name]  # fmt: skip
    note = (
        f"{what} in percent over windows [a,b] of sessions relative to the reaction session (day 0): "
        "close of day b over the close of day a-1, minus 1; excess = stock minus its market benchmark "
        "over the same sessions. Empty: the window runs past the data."
    )
    return table_environment(tabular(cells), f"{what} after each event", f"tab:{name}_returns", note)


def abnormal_latex(tables: ReturnTables) -> str:
    """Cumulative abnormal returns with stars, the t statistic or SE beneath; a CAAR row per event."""
    car = tables.abnormal
    statistic = str(tables.settings["statistic"])
    levels = [float(x) for x in tables.settings["stars"]]  # type: ignore[union-attr]
    wide = pivot(tables, "abnormal")
    column = "t_stat" if statistic == "t" else "car_se"

    def same_shape(
        value: str, frame: pd.DataFrame = car, index: Sequence[str] = tuple(wide.index)
    ) -> pd.DataFrame:
        spread = frame.pivot_table(index="symbol", columns=["event_id", "window"], values=value,
                                   aggfunc="first", dropna=False)  # fmt: skip
        return spread.reindex(index=list(index), columns=wide.columns)

    estimates, p_values, stats = wide, same_shape("p_value"), same_shape(column)
    if statistic == "se":
        stats = stats * 100.0  # a return's standard error, in percent like the estimate
    labels = _row_labels(tables, list(wide.index))
    pooled = tables.pooled.assign(symbol="__mean__")
    if len(pooled):
        mean = ["__mean__"]
        estimates = pd.concat([wide, same_shape("caar", pooled, mean)])
        p_values = pd.concat([p_values, same_shape("p_value", pooled, mean)])
        # the mean row shows the test's statistic (a SE is not defined for rank and sign tests)
        stats = pd.concat([stats, same_shape("statistic", pooled, mean)])
        labels = [*labels, "Mean (CAAR)"]
    cells = estimate_cells(estimates, labels, tables.names, p_values, stats, levels)
    test = str(tables.settings["test"]).replace("_", " ")
    inner = "t statistic" if statistic == "t" else "standard error (in percent)"
    missing = list(tables.settings.get("abnormal_missing", []))  # type: ignore[call-overload]
    note = (
        f"Cumulative abnormal returns (CAR) in percent; {inner} of the CAR in parentheses"
        + (f"; mean row: CAAR with the {test} statistic in parentheses" if len(pooled) else "")
        + f". {stars_legend(levels)}."
        + (f" Windows without a CAR in the study: {', '.join(missing)}." if missing else "")
    )
    return table_environment(tabular(cells), "Cumulative abnormal returns", "tab:abnormal_returns", note)


def scoreboard_latex(tables: ReturnTables) -> str:
    """The shock scoreboard as a plain booktabs table (one row per symbol x event)."""
    board = tables.scoreboard
    levels = [float(x) for x in tables.settings["stars"]]  # type: ignore[union-attr]
    rows = []
    for row in board.itertuples(index=False):
        sessions = "" if pd.isna(row.recovery_sessions) else str(int(row.recovery_sessions))
        rows.append([
            str(row.symbol), tables.names.get(str(row.event_id), str(row.event_id)),
            percent_cell(row.day0_return), percent_cell(row.day0_excess),
            "" if pd.isna(row.day0_rank) else str(int(row.day0_rank)),
            percent_cell(row.worst_car) + stars(row.worst_p_value, levels), str(row.worst_window),
            str(row.recovery_status), sessions,
        ])  # fmt: skip
    header = [("", "Symbol"), ("", "Event"), ("Day 0", "return"), ("Day 0", "excess"), ("Day 0", "rank"),
              ("Worst CAR", "value"), ("Worst CAR", "window"), ("Recovery", "status"),
              ("Recovery", "sessions")]  # fmt: skip
    cells = pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(header))
    note = (
        "Returns in percent. Rank: size of the day-0 move among the symbol's events (1 = largest). "
        "Worst CAR: lowest cumulative abnormal return over the study's windows. Recovery of the price "
        "path; sessions from day 0 to the first close at or above the pre-event close. "
        f"{stars_legend(levels)}."
    )
    return table_environment(tabular(cells), "Shock scoreboard", "tab:scoreboard", note)


def latex_document_body(tables: ReturnTables) -> str:
    """Every table, one after another (``\\input`` it; needs ``\\usepackage{booktabs}``)."""
    parts = [
        "% backtest return tables; needs \\usepackage{booktabs}\n",
        raw_latex(tables, "raw"),
        raw_latex(tables, "excess"),
        abnormal_latex(tables),
        scoreboard_latex(tables),
    ]
    return "\n".join(parts)
