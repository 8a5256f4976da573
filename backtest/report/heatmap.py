"""Parameter-grid heatmap as deterministic SVG (see :mod:`backtest.report.charts` for the style).

One cell per parameter combination, never an average: the first two varying grid
parameters are the axes, every further one gives one labelled panel per value (or per
combination of values), all panels on one colour scale.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.formatting import format_percent
from backtest.report.charts import _empty, _style, _title, as_svg

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _tick(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _grid_values(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Grid columns with ``None``/NaN shown as ``"none"`` (e.g. stop=none is a grid value, not a gap)."""
    out = frame.copy()
    for key in keys:
        out[key] = [("none" if pd.isna(v) else v) for v in out[key].astype(object)]
    return out


def heatmap_figure(
    aggregate: pd.DataFrame,
    x: str,
    y: str | None,
    metric: str,
    title: str,
    facets: Sequence[str] = (),
) -> Figure:
    """Heatmap of ``metric`` (a fraction, shown as a signed percent) over two grid parameters.

    With ``y=None`` the grid has one varying parameter and the heatmap has one row.
    Every further varying parameter goes to ``facets``: one panel per combination of
    their values (panel title ``stop = none, take_profit = 0.1``), all on one colour
    scale, so no cell is an average over hidden parameters. ``title`` is shown to the
    reader: give a human label (``report.tables.metric_label``), not the column name.
    """
    if aggregate.empty or metric not in aggregate:
        return _empty("no parameter grid")
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    y_key = "_row" if y is None else y
    frame = aggregate.assign(_row="all") if y is None else aggregate
    frame = _grid_values(frame, [x, y_key, *facets])
    panels: list[tuple[str, pd.DataFrame]] = []
    if facets:
        for values, part in frame.groupby(list(facets), sort=False):
            values = values if isinstance(values, tuple) else (values,)
            label = ", ".join(f"{k} = {_tick(v)}" for k, v in zip(facets, values, strict=True))
            panels.append((label, part))
    else:
        panels.append(("", frame))
    tables = [
        part.pivot_table(index=y_key, columns=x, values=metric, aggfunc="first", sort=False, dropna=False)
        for _label, part in panels
    ]
    every = np.concatenate([t.to_numpy(dtype=float).ravel() for t in tables])
    finite = np.abs(every[np.isfinite(every)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 0.01
    n_rows, n_cols = tables[0].shape
    ncols = min(len(panels), 3 if n_cols <= 4 else 2)
    nrows = math.ceil(len(panels) / ncols)
    width = max(4.5, 1.4 + 1.0 * n_cols)
    height = max(2.0, 0.9 + 0.5 * n_rows)
    with _style():
        fig = Figure(figsize=(width * ncols + 0.8, height * nrows + 0.7), layout="constrained")
        fig.get_layout_engine().set(w_pad=0.1, h_pad=0.08)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        norm = Normalize(-limit, limit)
        image = None
        for ax, (label, _part), table in zip(axes, panels, tables, strict=False):
            values = table.to_numpy(dtype=float)
            image = ax.imshow(values, cmap="RdYlGn", norm=norm, aspect="auto")
            ax.grid(False)
            ax.set_xticks(range(values.shape[1]), [_tick(v) for v in table.columns])
            ax.set_yticks(range(values.shape[0]), [_tick(v) for v in table.index])
            ax.set_xlabel(x)
            ax.set_ylabel("" if y is None else y)
            for (i, j), value in np.ndenumerate(values):
                text = format_percent(value, digits=1, signed=True)
                color = "white" if np.isfinite(value) and abs(value) > 0.6 * limit else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color, parse_math=False)
            if label:
                _title(ax, label)
        fig.colorbar(
            image, ax=axes[: len(panels)], format=FuncFormatter(lambda v, _pos: format_percent(v, 0, True))
        )
        # wrapped to the figure's width (about 11 characters per inch at the title's size)
        fig.suptitle(
            textwrap.fill(title, width=max(30, int(fig.get_figwidth() * 11))),
            x=0.01,
            ha="left",
            fontsize=9.5,
            parse_math=False,
        )
        return fig


heatmap_chart = as_svg(heatmap_figure)
