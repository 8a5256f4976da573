"""Parameter grids: validate against a strategy's specs and expand to one row per combination.

>>> import strategies
>>> combos = expand_grid(strategies.get("buy_the_dip"), {"hold": [1, 5], "stop": [None, 0.08]})
>>> combos["combo"].tolist()
['hold=1 stop=none', 'hold=1 stop=0.08', 'hold=5 stop=none', 'hold=5 stop=0.08']
>>> combos["stop"].tolist()
[nan, 0.08, nan, 0.08]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from backtest.errors import ParameterError
from strategies.base import Strategy


def parse_grid(tokens: Sequence[str], strategy: Strategy, option: str = "--grid") -> dict[str, list]:
    """Parse ``["hold=1,5,10", "stop=none,0.08"]`` into ``{"hold": [1, 5, 10], "stop": [None, 0.08]}``.

    Raises
    ------
    ParameterError
        Malformed token, unknown parameter, a parameter given twice (``hold=1 hold=2``),
        a value listed twice (``hold=1,1,5``), wrong type or out of range.
    """
    grid: dict[str, list] = {}
    tokens_by_name: dict[str, str] = {}
    for token in tokens:
        name, sep, values = token.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"{option} {token!r}: expected NAME=V1,V2,... e.g. hold=1,5,10")
        spec = strategy.param(name)
        if name in grid:
            raise ParameterError(
                f"{option}: {name} is given twice ({tokens_by_name[name]!r} and {token!r}); "
                f"put all its values in one token, e.g. {name}=V1,V2"
            )
        tokens_by_name[name] = token
        items = [v for v in values.split(",") if v.strip()]
        if not items:
            raise ParameterError(
                f"{option} {token!r}: no values for {name}; give at least one, e.g. {name}="
                f"{'none' if spec.default is None else format(spec.default, 'g')}"
            )
        grid[name] = [spec.parse(v, f"{option} {name}") for v in items]
        _check_unique(name, grid[name], f"{option} {token!r}")
    return grid


def _check_unique(name: str, values: Sequence, context: str) -> None:
    """Raise for a value listed twice (``hold=1,1,5`` would run the same column twice)."""
    seen: list = []
    for value in values:
        if value in seen:
            raise ParameterError(f"{context}: {name}={_label(value)} is listed twice; list each value once")
        seen.append(value)


def _label(value: object) -> str:
    return "none" if value is None else f"{value:g}"


def expand_grid(strategy: Strategy, grid: Mapping[str, Sequence] | None = None) -> pd.DataFrame:
    """Cartesian product of the grid (parameters in the strategy's order), defaults for the rest.

    Returns a DataFrame with a ``combo`` label (the grid's parameters, or
    ``"defaults"``) and one column per parameter (``None`` -> NaN).

    Raises
    ------
    ParameterError
        Unknown parameter (with the closest match), empty value list, a repeated value, wrong
        type or out of range.
    """
    grid = dict(grid or {})
    for name in grid:
        strategy.param(name)
    lists: list[list] = []
    for spec in strategy.params:
        if spec.name in grid:
            values = grid[spec.name]
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                values = [values]
            if len(values) == 0:
                raise ParameterError(
                    f"grid {spec.name}: empty list of values; give at least one ({spec.describe()})"
                )
            checked = [spec.validate(v, f"grid {spec.name}") for v in values]
            _check_unique(spec.name, checked, "grid")
            lists.append(checked)
        else:
            lists.append([spec.default])
    names = [spec.name for spec in strategy.params]
    rows = list(itertools.product(*lists)) if names else [()]
    shown = [i for i, name in enumerate(names) if name in grid]
    labels = [" ".join(f"{names[i]}={_label(row[i])}" for i in shown) or "defaults" for row in rows]
    frame = pd.DataFrame({"combo": labels})
    for i, spec in enumerate(strategy.params):
        column = [np.nan if row[i] is None else row[i] for row in rows]
        frame[spec.name] = np.asarray(column, dtype=float if spec.kind == "float" else np.int64)
    if frame["combo"].duplicated().any():
        raise ParameterError("grid: repeated values give duplicate combinations; list each value once")
    return frame
