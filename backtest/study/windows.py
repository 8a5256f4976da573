"""Parse and check event-study windows (relative trading days, inclusive).

>>> parse_window("-250:-11", "estimation_window")
(-250, -11)
>>> parse_car_windows("0:0,0:+5", "car_windows")
((0, 0), (0, 5))
>>> window_label((0, 5))
'[0,+5]'
"""

from __future__ import annotations

from collections.abc import Sequence

from backtest.errors import ParameterError, closest_match
from backtest.study.models import MODELS

Window = tuple[int, int]


def _int(text: object, name: str) -> int:
    try:
        if isinstance(text, bool):
            raise ValueError
        if isinstance(text, float) and not text.is_integer():
            raise ValueError
        return int(str(text).strip().replace("+", "")) if isinstance(text, str) else int(text)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{name}: {text!r} is not a whole number of trading days; write e.g. -250:-11"
        ) from None


def parse_window(value: object, name: str) -> Window:
    """``(first, last)`` from ``"first:last"`` or a pair; both ends inclusive.

    Raises
    ------
    ParameterError
        When it is not two integers or runs backwards (first > last).
    """
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) != 2:
            raise ParameterError(f"{name}: {value!r} is not a window; write first:last, e.g. -5:20")
    elif isinstance(value, Sequence) and len(value) == 2:
        parts = list(value)
    else:
        raise ParameterError(f"{name}: {value!r} is not a window; give two days, e.g. (-5, 20)")
    first, last = _int(parts[0], name), _int(parts[1], name)
    if first > last:
        raise ParameterError(
            f"{name}: ({first}, {last}) runs backwards; write the earlier day first: {last}:{first}"
        )
    return first, last


def parse_car_windows(value: object, name: str = "car_windows") -> tuple[Window, ...]:
    """CAR windows from ``"0:0,0:1"`` or a sequence of pairs."""
    if isinstance(value, str):
        items: list[object] = [v for v in value.split(",") if v.strip()]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise ParameterError(f"{name}: {value!r} is not a list of windows; write e.g. 0:0,0:1,-1:1")
    if not items:
        raise ParameterError(f"{name}: no window given; write e.g. 0:0,0:1,-1:1")
    return tuple(parse_window(v, name) for v in items)


def check_windows(estimation: Window, event: Window, cars: Sequence[Window],
                  names: tuple[str, str, str] = ("estimation_window", "event_window", "car_windows")
                  ) -> None:
    """Raise ParameterError unless estimation ends before the event window and CARs lie inside it."""
    if estimation[1] >= event[0]:
        raise ParameterError(
            f"{names[0]} {window_label(estimation)} overlaps {names[1]} {window_label(event)}; "
            f"end the estimation window before day {event[0]}, e.g. "
            f"{event[0] - 1 - (estimation[1] - estimation[0])}:{event[0] - 1} (same length)"
        )
    for car in cars:
        if car[0] < event[0] or car[1] > event[1]:
            raise ParameterError(
                f"{names[2]}: {window_label(car)} is not inside {names[1]} {window_label(event)}; "
                "widen the event window or shorten the CAR window"
            )


def parse_model(model: object) -> str:
    """Check a model name; an unknown one lists the known ones and the closest match."""
    if model in MODELS:
        return str(model)
    close = closest_match(str(model), MODELS)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ParameterError(f"model {model!r} is unknown; use one of {', '.join(MODELS)}.{hint}")


def window_label(window: Window) -> str:
    """``(0, 5) -> "[0,+5]"``, ``(-1, 1) -> "[-1,+1]"``."""

    def fmt(day: int) -> str:
        return f"+{day}" if day > 0 else str(day)

    return f"[{fmt(window[0])},{fmt(window[1])}]"
