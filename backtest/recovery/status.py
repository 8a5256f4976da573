"""The recovery vocabulary: one status per event x symbol x path, the same words everywhere.

The terminal, the report, the CSV and the JSON all read the ``status`` column of
``RecoveryResult.table``; nothing else words a recovery. A shock (``direction =
"drawdown"``) is *recovered* when the close is back at the pre-event close (day -1); a
relief (``"give_back"``) is *given back* when the jump is gone (close back at or below it).

========================================  =====================================================
status (shock / relief)                   meaning
========================================  =====================================================
``not measurable (why)``                  no pre-event close, or nothing after the event
``no move``                               never below the pre-event close (relief: never above)
``recovered`` / ``given back``            back after the move, and stayed there to the horizon
``recovered, fell again`` /               back, then below the pre-event close again later
``given back, rose again``
``not recovered (horizon)`` /             not back within the sessions seen; why in brackets
``not given back (end of data)``          (``horizon``, ``end of data``, ``study window``)
``fell after day 0, recovered`` /         day 0 closed on the right side of the pre-event close;
``rose after day 0, not given back ...``  the move came later and is counted from its trough
========================================  =====================================================

>>> row = {"measurable": True, "moved": True, "direction": "drawdown", "recovered": True,
...        "recovery_sessions": 0, "relapsed": True, "recovered_after_trough": False,
...        "trough_censored_by": "horizon"}
>>> recovery_status(row)
'fell after day 0, not recovered (horizon)'
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

#: Statuses (their first words) of rows without a move to time: no bar, no sessions, no extreme day.
NOT_TIMED: tuple[str, ...] = ("no move", "not measurable")

_WORDS = {  # direction -> (back, not back, moved later, came back past it again)
    "drawdown": ("recovered", "not recovered", "fell after day 0", "fell again"),
    "give_back": ("given back", "not given back", "rose after day 0", "rose again"),
}


def _flag(row: Mapping[str, object], name: str) -> bool | None:
    """A boolean field of a row; None for a missing one (numpy, pandas NA and None alike)."""
    value = row.get(name)
    return None if value is None or pd.isna(value) else bool(value)


def _reason(value: object) -> str:
    return f" ({str(value).replace('_', ' ')})" if isinstance(value, str) and value else ""


def recovery_status(row: Mapping[str, object]) -> str:
    """The status words of one recovery row (a ``RecoveryResult.table`` row; see the module table).

    >>> base = {"measurable": True, "moved": True, "direction": "give_back", "recovered": False,
    ...         "censored_by": "end_of_data"}
    >>> recovery_status(base), recovery_status({**base, "moved": False})
    ('not given back (end of data)', 'no move')
    """
    if _flag(row, "measurable") is False:
        reason = row.get("unmeasured_reason")
        return f"not measurable ({reason})" if isinstance(reason, str) and reason else "not measurable"
    if _flag(row, "moved") is False:
        return "no move"
    back, not_back, later, again = _WORDS.get(str(row.get("direction")), _WORDS["drawdown"])
    sessions = row.get("recovery_sessions")
    if _flag(row, "recovered") and sessions is not None and not pd.isna(sessions) and int(sessions) == 0:
        # Day 0 was already on the right side: the move came later, so time it from its trough.
        if _flag(row, "recovered_after_trough"):
            return f"{later}, {back}"
        return f"{later}, {not_back}{_reason(row.get('trough_censored_by'))}"
    if _flag(row, "recovered"):
        return f"{back}, {again}" if _flag(row, "relapsed") else back
    return f"{not_back}{_reason(row.get('censored_by'))}"


def timed(status: str) -> bool:
    """True when a status has a move whose recovery is timed (not ``no move`` / ``not measurable``).

    >>> timed("recovered"), timed("not measurable (no pre-event close: prices start 2024-01-02)")
    (True, False)
    """
    return not status.startswith(NOT_TIMED)


def moved_later(status: str) -> bool:
    """True when day 0 was on the right side and the move came later (timed from its trough)."""
    return status.startswith(tuple(words[2] for words in _WORDS.values()))


def recovery_statuses(table: pd.DataFrame) -> list[str]:
    """:func:`recovery_status` of every row of a recovery table."""
    return [recovery_status(row) for row in table.to_dict("records")]
