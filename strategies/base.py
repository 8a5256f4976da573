"""The strategy interface: what a trading rule around one event must provide.

A strategy is a small class with a name, a direction, a tuple of :class:`Param`
specs and one method, :meth:`Strategy.signals`. Given one instrument's bars
around one event (:class:`Bars`, row ``reaction`` = the reaction session) and a
slice of a parameter grid (one array per parameter, one value per combination),
it returns entry and exit *decisions* (:class:`Signals`), one column per
combination.

Timing rule: a ``True`` on row ``t`` is a decision taken with the information
known at the close of session ``t``. The engine (:mod:`backtest.trade`) turns it
into a fill at the next session's open (default) or at that close
(``fill="close"``); strategies never pick fill prices, so they cannot trade on
a price they have not seen yet.

Example
-------
>>> import numpy as np
>>> from strategies import get
>>> bars = Bars.from_arrays(close=[100.0, 90.0, 92.0, 95.0, 97.0], reaction=1)
>>> sig = get("buy_the_dip").signals(bars, {"threshold": np.array([0.05, 0.2]),
...     "hold": np.array([2, 2]), "stop": np.array([np.nan, np.nan]),
...     "take_profit": np.array([np.nan, np.nan])})
>>> sig.entries[:, 0].nonzero()[0].tolist(), sig.exits[:, 0].nonzero()[0].tolist()
([1], [3])
>>> bool(sig.entries[:, 1].any())   # a 10 % drop is not a 20 % dip
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from backtest.errors import ParameterError, closest_match

Direction = Literal["long", "short"]
ParamKind = Literal["int", "float"]


@dataclass(frozen=True)
class Param:
    """Specification of one strategy parameter: type, default and valid range.

    ``low``/``high`` are inclusive bounds (``None`` = unbounded); ``optional``
    allows ``None`` (written ``none`` on the command line), which reaches the
    strategy as ``NaN`` for a float parameter.
    """

    name: str
    kind: ParamKind
    default: float | int | None
    low: float | None = None
    high: float | None = None
    optional: bool = False
    doc: str = ""

    def describe(self) -> str:
        """One line for help texts, e.g. ``hold: int in [1, 250], default 5``."""
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        none = " or none" if self.optional else ""
        default = "none" if self.default is None else f"{self.default:g}"
        return f"{self.name}: {self.kind} in [{low}, {high}]{none}, default {default}"

    def parse(self, text: str, context: str) -> float | int | None:
        """Convert command-line text (``"5"``, ``"0.05"``, ``"none"``) and validate it."""
        raw = text.strip()
        if raw.lower() in ("none", "null", "off"):
            return self.validate(None, context)
        try:
            value: float | int = float(raw) if self.kind == "float" else int(raw)
        except ValueError:
            raise ParameterError(
                f"{context}: {self.name}={raw!r} is not "
                f"{'a number' if self.kind == 'float' else 'an integer'}; "
                f"expected {self.describe()}"
            ) from None
        return self.validate(value, context)

    def validate(self, value: object, context: str) -> float | int | None:
        """Check type and range of a Python value; returns it normalised (int or float or None)."""
        if value is None or (isinstance(value, float) and math.isnan(value) and self.optional):
            if not self.optional:
                raise ParameterError(f"{context}: {self.name} cannot be none; expected {self.describe()}")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParameterError(
                f"{context}: {self.name}={value!r} has the wrong type; expected {self.describe()}"
            )
        if self.kind == "int":
            if float(value) != int(value):
                raise ParameterError(
                    f"{context}: {self.name}={value!r} is not an integer; expected {self.describe()}"
                )
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(
                    f"{context}: {self.name}={value!r} is not finite; expected {self.describe()}"
                )
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ParameterError(
                f"{context}: {self.name}={value:g} is out of range; expected {self.describe()}"
            )
        return value


@dataclass(frozen=True)
class Bars:
    """One instrument's daily bars around one event, as float arrays of shape ``(n_sessions,)``.

    Row ``reaction`` is the reaction session (``rel_day`` 0); ``rel_day = row -
    reaction``. Rows from ``n_valid`` on are padding after the end of the data
    (flat bars at the last close): the engine never fills an order there.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    reaction: int
    n_valid: int

    @classmethod
    def from_arrays(
        cls,
        close: Sequence[float],
        reaction: int,
        open: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
        low: Sequence[float] | None = None,
        n_valid: int | None = None,
    ) -> Bars:
        """Build bars from lists; missing open/high/low default to the close (flat bars)."""
        c = np.asarray(close, dtype=float)
        o = c.copy() if open is None else np.asarray(open, dtype=float)
        h = np.maximum(o, c) if high is None else np.asarray(high, dtype=float)
        lo = np.minimum(o, c) if low is None else np.asarray(low, dtype=float)
        return cls(o, h, lo, c, int(reaction), len(c) if n_valid is None else int(n_valid))

    def __len__(self) -> int:
        return len(self.close)

    def reaction_return(self) -> float:
        """Close-to-close return of the reaction session: ``C_0 / C_-1 - 1``."""
        return float(self.close[self.reaction] / self.close[self.reaction - 1] - 1.0)


@dataclass
class Signals:
    """Decisions of a strategy: boolean arrays of shape ``(n_sessions, n_combos)``.

    ``sl_stop`` / ``tp_stop`` (shape ``(n_combos,)``, fractions of the entry fill
    price, ``NaN`` = none) are evaluated by the engine on each session's open,
    high and low, not on the close only.
    """

    entries: np.ndarray
    exits: np.ndarray
    sl_stop: np.ndarray = field(default_factory=lambda: np.empty(0))
    tp_stop: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        n_combos = self.entries.shape[1]
        if self.sl_stop.size == 0:
            self.sl_stop = np.full(n_combos, np.nan)
        if self.tp_stop.size == 0:
            self.tp_stop = np.full(n_combos, np.nan)


class Strategy:
    """Base class of every trading rule; subclass it and register it (see :mod:`strategies`).

    Class attributes: ``name`` (registry key), ``summary`` (one line),
    ``direction`` (``"long"`` or ``"short"``), ``params`` (tuple of
    :class:`Param`), ``hedge`` (True: the engine also trades the instrument's
    market benchmark in the opposite direction, in equal value, over the same
    sessions), ``lookback`` (sessions before the reaction session the rule needs).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    direction: ClassVar[Direction] = "long"
    params: ClassVar[tuple[Param, ...]] = ()
    hedge: ClassVar[bool] = False
    lookback: ClassVar[int] = 1

    def signals(self, bars: Bars, params: Mapping[str, np.ndarray]) -> Signals:
        """Entry and exit decisions for every parameter combination.

        Parameters
        ----------
        bars : Bars
            One instrument around one event.
        params : mapping of str to ndarray
            One array of shape ``(n_combos,)`` per parameter (``None`` -> ``NaN``).

        Returns
        -------
        Signals
        """
        raise NotImplementedError

    def param(self, name: str) -> Param:
        """The spec of parameter ``name``; unknown names raise with the closest match."""
        for spec in self.params:
            if spec.name == name:
                return spec
        if not self.params:
            raise ParameterError(f"{self.name} takes no parameters; drop --grid")
        raise ParameterError(
            unknown_message(
                f"strategy {self.name!r}: unknown parameter {name!r}", name, [p.name for p in self.params]
            )
        )

    def __repr__(self) -> str:
        return f"<strategy {self.name}: {', '.join(p.name for p in self.params) or 'no parameters'}>"


def unknown_message(prefix: str, name: str, known: Sequence[str]) -> str:
    """``prefix; known: a, b, c (did you mean 'x'?); see 'backtest trade --list'`` (closest match by difflib).

    >>> print(unknown_message("unknown strategy 'buy_the_dp'", "buy_the_dp", ["buy_and_hold", "buy_the_dip"]))
    unknown strategy 'buy_the_dp'; known: buy_and_hold, buy_the_dip (did you mean 'buy_the_dip'?);
    see 'backtest trade --list'
    """
    close = closest_match(name, known, cutoff=0.5)
    hint = f" (did you mean {close!r}?)" if close else ""
    listing = ", ".join(known) if known else "none"
    return f"{prefix}; known: {listing}{hint}; see 'backtest trade --list'"


def rows_matrix(rows: np.ndarray, n_sessions: int) -> np.ndarray:
    """Boolean ``(n_sessions, n_combos)`` matrix with ``True`` at ``rows[j]`` in column ``j``.

    Rows outside ``[0, n_sessions)`` (e.g. ``-1`` for "no signal") are ignored.

    >>> rows_matrix(np.array([1, -1, 3]), 4).astype(int).tolist()
    [[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1]]
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((n_sessions, rows.size), dtype=bool)
    ok = (rows >= 0) & (rows < n_sessions)
    out[rows[ok], np.nonzero(ok)[0]] = True
    return out
