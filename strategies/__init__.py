"""Trading rules around market events, one module each, found by name.

Built-ins live in this package (``buy_the_dip``, ``wait_for_rebound``,
``short_the_shock``, ``hedged_dip``, ``buy_and_hold``). To add a rule without
touching ``backtest/``:

* drop a module into this ``strategies/`` directory that defines a
  :class:`~strategies.base.Strategy` subclass decorated with :func:`register`; or
* ship it in your own package and declare an entry point in the group
  ``backtest.strategies`` (``mystrat = "mypkg.rules:MyStrategy"``); the entry
  point may name a Strategy subclass or instance.

A minimal user rule (``strategies/gap_fill.py``)::

    import numpy as np
    from strategies import register
    from strategies.base import Param, Signals, Strategy, rows_matrix

    @register
    class GapFill(Strategy):
        name = "gap_fill"
        summary = "buy at the reaction close if it closed below the open; hold N sessions"
        params = (Param("hold", "int", 3, 1, 250, doc="sessions to hold"),)

        def signals(self, bars, params):
            hold = params["hold"]  # one value per grid combination
            r, n = bars.reaction, len(bars)
            act = np.full(hold.shape, bars.close[r] < bars.open[r])
            return Signals(rows_matrix(np.where(act, r, -1), n), rows_matrix(np.where(act, r + hold, -1), n))

>>> import strategies
>>> "buy_the_dip" in strategies.available()
True
>>> strategies.get("buy_the_dip").direction
'long'
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from importlib.metadata import entry_points

from backtest.errors import ParameterError, PluginWarning
from strategies.base import Bars, Param, Signals, Strategy, unknown_message

__all__ = ["Bars", "Param", "Signals", "Strategy", "available", "get", "register"]

ENTRY_POINT_GROUP = "backtest.strategies"

_REGISTRY: dict[str, Strategy] = {}
_discovered = False


def register(strategy: type[Strategy] | Strategy) -> type[Strategy] | Strategy:
    """Register a Strategy subclass (usable as a class decorator) or instance under its ``name``."""
    instance = strategy() if isinstance(strategy, type) else strategy
    if not isinstance(instance, Strategy) or not instance.name:
        raise ParameterError(f"cannot register {strategy!r}: it must be a Strategy with a non-empty name")
    known = _REGISTRY.get(instance.name)
    if known is not None and type(known) is not type(instance):
        warnings.warn(
            f"strategy {instance.name!r} from {type(instance).__module__} replaces the one from "
            f"{type(known).__module__}; rename one of them to keep both",
            PluginWarning,
            stacklevel=2,
        )
    _REGISTRY[instance.name] = instance
    return strategy


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        try:
            importlib.import_module(f"{__name__}.{module_info.name}")
        except Exception as exc:  # a broken user module must not hide the built-ins
            warnings.warn(
                PluginWarning(
                    f"strategy module strategies/{module_info.name}.py failed to import "
                    f"({type(exc).__name__}: {exc}); fix or remove it"
                ),
                stacklevel=3,
            )
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register(point.load())
        except Exception as exc:
            warnings.warn(
                PluginWarning(
                    f"strategy entry point {point.name!r} ({point.value}) failed to load "
                    f"({type(exc).__name__}: {exc}); fix or uninstall it"
                ),
                stacklevel=3,
            )


def available() -> list[str]:
    """Names of every registered strategy, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> Strategy:
    """The strategy registered as ``name``.

    Raises
    ------
    ParameterError
        For an unknown name; the message lists the known names and the closest match.
    """
    _discover()
    if name not in _REGISTRY:
        raise ParameterError(unknown_message(f"unknown strategy {name!r}", name, sorted(_REGISTRY)))
    return _REGISTRY[name]
