"""Size budgets: estimate a job's memory from its shape and refuse it before allocating.

A job's arrays grow with the number of event x symbol pairs, the sessions each pair
spans (estimation window + event window, the recovery/trading horizon) and the
parameter combinations of the grid. :func:`job_bytes` turns those counts into an
estimate of the bytes the numerics hold at once; :func:`check_budget` refuses a job
whose estimate exceeds the budget, naming the size and the option that raises it.

The default budget, :data:`DEFAULT_BUDGET` (4 GiB), is far above any real event
study (the default job needs under 1 MiB, 10,000 pairs about 0.4 GiB) and far below
the sizes a typing slip produces (``--window 0:1000000000``, a 10^6-combination grid).
``--max-memory 16G`` (or ``BACKTEST_MAX_MEMORY``) raises it.

>>> job_bytes(pairs=16, estimation_sessions=240, event_sessions=26, horizon=60, combos=12)
2892800
>>> parse_size("4G"), parse_size("512M"), parse_size("1.5g")
(4294967296, 536870912, 1610612736)
"""

from __future__ import annotations

import os
import re

from backtest.errors import BudgetError, ParameterError

DEFAULT_BUDGET = 4 * 2**30
BUDGET_ENV = "BACKTEST_MAX_MEMORY"
#: float64 arrays held per pair-session by the event study (returns, fitted, AR, CAR paths, tidy frames)
STUDY_ARRAYS = 16
#: arrays per column-session of the trading simulation (bars, signals, cash, position, value...)
TRADE_ARRAYS = 24
#: arrays per pair-session of the recovery paths (price, abnormal, drawdown, ratios)
RECOVERY_ARRAYS = 8
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def job_bytes(
    *, pairs: int, estimation_sessions: int = 0, event_sessions: int = 0, horizon: int = 0, combos: int = 1
) -> int:
    """Estimated peak bytes of a job's numerical arrays (8-byte floats).

    ``pairs * (STUDY_ARRAYS * (estimation + event sessions) + RECOVERY_ARRAYS * (horizon + 1))``
    for the study and recovery, plus ``pairs * combos * TRADE_ARRAYS * (horizon + 2)``
    for the trading grid (one column per pair and combination, the horizon plus the
    reaction session and the fill after it); no horizon, no recovery or trading terms.
    """
    study = STUDY_ARRAYS * (estimation_sessions + event_sessions)
    after = (RECOVERY_ARRAYS * (horizon + 1) + combos * TRADE_ARRAYS * (horizon + 2)) if horizon else 0
    return 8 * pairs * (study + after)


def parse_size(text: str, option: str = "--max-memory") -> int:
    """``"4G"`` -> bytes (K, M, G, T are powers of 1024; ``GiB`` and ``GB`` accepted alike)."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ParameterError(f"{option} {text!r}: not a size; use e.g. 4G, 512M or 16G")
    value = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if value < 1:
        raise ParameterError(f"{option} {text!r}: must be positive; use e.g. 4G")
    return int(value)


def budget_from(option_value: str | None) -> int:
    """The budget in bytes: ``--max-memory``, else ``$BACKTEST_MAX_MEMORY``, else 4 GiB."""
    if option_value:
        return parse_size(option_value)
    env = os.environ.get(BUDGET_ENV, "").strip()
    return parse_size(env, BUDGET_ENV) if env else DEFAULT_BUDGET


def human_size(size: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> human_size(7.4 * 2**30), human_size(12)
    ('7.4 GiB', '12 B')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def check_budget(estimate: int, budget: int, what: str) -> None:
    """Refuse a job whose estimated memory is over budget.

    Raises
    ------
    BudgetError
        With the estimate, what it is made of, the budget and how to raise it.
    """
    if estimate > budget:
        raise BudgetError(
            f"this job needs about {human_size(estimate)} of memory ({what}), over the "
            f"{human_size(budget)} budget; shrink the windows or the grid, or raise the limit "
            f"with --max-memory {_suggest(estimate)} (or {BUDGET_ENV})"
        )


def check_job(
    *,
    pairs: int,
    budget: int,
    estimation_window: tuple[int, int] | None = None,
    event_window: tuple[int, int] | None = None,
    horizon: int = 0,
    combos: int = 1,
) -> None:
    """:func:`check_budget` for a job described by its windows, horizon and grid size.

    Raises
    ------
    BudgetError
        When :func:`job_bytes` of the job exceeds ``budget``.
    """
    parts = [f"{pairs} event x symbol pairs"]
    sessions = {}
    for name, window in (("estimation", estimation_window), ("event window", event_window)):
        if window is not None:
            sessions[name] = window[1] - window[0] + 1
            parts.append(f"{name} {window[0]}:{window[1]}")
    if horizon:
        parts.append(f"horizon {horizon}")
    if combos > 1:
        parts.append(f"{combos:,} grid combinations")
    estimate = job_bytes(
        pairs=pairs, estimation_sessions=sessions.get("estimation", 0),
        event_sessions=sessions.get("event window", 0), horizon=horizon, combos=combos,
    )  # fmt: skip
    check_budget(estimate, budget, ", ".join(parts))


def _suggest(estimate: int) -> str:
    gib = -(-estimate // 2**30)  # ceiling
    return f"{gib}G"
