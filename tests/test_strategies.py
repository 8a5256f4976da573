"""Contract every registered strategy must pass, plus registry behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import strategies
from backtest.errors import ParameterError
from backtest.trading.grid import expand_grid
from strategies.base import Bars, Param


def _bars(seed: int = 0, n: int = 30, reaction: int = 1) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    close[reaction] = close[reaction - 1] * 0.85  # a 15 % shock on the reaction session
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    return Bars(open_, np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99, close, reaction, n)


def _params(strategy, grid=None):
    combos = expand_grid(strategy, grid)
    return combos, {p.name: combos[p.name].to_numpy() for p in strategy.params}


@pytest.fixture(params=strategies.available())
def strategy(request):
    return strategies.get(request.param)


class TestStrategyContract:
    """Every strategy in ``strategies.available()`` (built-ins and plug-ins) must pass these."""

    def test_metadata(self, strategy):
        assert strategy.name and strategy.summary and strategy.direction in ("long", "short")
        assert strategy.lookback >= 1
        for spec in strategy.params:
            assert isinstance(spec, Param)
            # The default is valid under its own spec.
            assert spec.validate(spec.default, "default") == spec.default

    def test_shapes_and_dtypes(self, strategy):
        bars = _bars()
        combos, params = _params(strategy)
        sig = strategy.signals(bars, params)
        n_c = sig.entries.shape[1]
        assert n_c in (1, len(combos))
        assert sig.entries.shape == sig.exits.shape == (len(bars), n_c)
        assert sig.entries.dtype == bool and sig.exits.dtype == bool
        assert np.broadcast_to(sig.sl_stop, (len(combos),)).shape == (len(combos),)

    def test_no_decisions_before_the_reaction_session(self, strategy):
        bars = _bars(reaction=3)
        _, params = _params(strategy)
        sig = strategy.signals(bars, params)
        assert not sig.entries[:3].any() and not sig.exits[:3].any()

    def test_acts_on_a_large_shock_with_defaults(self, strategy):
        # A 15 % reaction-day drop followed by up closes: every built-in rule trades with its defaults.
        close = np.array([100, 85, 86, 87, 88, 89, 90, 91, 92, 93.0])
        sig = strategy.signals(Bars.from_arrays(close, reaction=1), _params(strategy)[1])
        assert sig.entries.any()

    @pytest.mark.parametrize("cut", [2, 5, 9])
    def test_no_look_ahead(self, strategy, cut):
        # Decisions on rows <= cut must not change when the bars after cut change.
        bars = _bars(seed=1)
        other = _bars(seed=2)
        mixed = Bars(
            *(
                np.concatenate([getattr(bars, f)[: cut + 1], getattr(other, f)[cut + 1 :]])
                for f in ("open", "high", "low", "close")
            ),
            bars.reaction,
            bars.n_valid,
        )
        grid = {p.name: [p.default] for p in strategy.params}
        _, params = _params(strategy, grid)
        a, b = strategy.signals(bars, params), strategy.signals(mixed, params)
        assert (a.entries[: cut + 1] == b.entries[: cut + 1]).all()
        assert (a.exits[: cut + 1] == b.exits[: cut + 1]).all()

    def test_deterministic(self, strategy):
        _, params = _params(strategy)
        a, b = strategy.signals(_bars(), params), strategy.signals(_bars(), params)
        assert (a.entries == b.entries).all() and (a.exits == b.exits).all()


def test_registry_lists_the_built_ins():
    assert {"buy_the_dip", "wait_for_rebound", "short_the_shock", "hedged_dip", "buy_and_hold"} <= set(
        strategies.available()
    )
    assert strategies.get("short_the_shock").direction == "short"
    assert strategies.get("hedged_dip").hedge


def test_unknown_name_lists_known_and_closest():
    with pytest.raises(ParameterError) as info:
        strategies.get("wait_for_rebond")
    message = str(info.value)
    assert "did you mean 'wait_for_rebound'" in message and "buy_the_dip" in message and "\n" not in message


def test_unknown_messages_read_as_one_sentence():
    # "<problem>; known: a, b (did you mean x?); see 'backtest trade --list'"
    with pytest.raises(ParameterError) as info:
        strategies.get("nosuch")
    message = str(info.value)
    assert message.startswith("unknown strategy 'nosuch'; known: ") and "did you mean" not in message
    assert message.endswith("; see 'backtest trade --list'") and "buy_and_hold, buy_the_dip" in message
    with pytest.raises(ParameterError) as info:
        strategies.get("buy_the_dip").param("hodl")
    assert str(info.value) == (
        "strategy 'buy_the_dip': unknown parameter 'hodl'; known: threshold, hold, stop, take_profit "
        "(did you mean 'hold'?); see 'backtest trade --list'"
    )
    with pytest.raises(ParameterError) as info:
        strategies.get("buy_and_hold").param("hold")
    assert str(info.value) == "buy_and_hold takes no parameters; drop --grid"


RULE_MODULE = """
import numpy as np
from strategies import register
from strategies.base import Param, Signals, Strategy, rows_matrix


@register
class DroppedIn(Strategy):
    name = "test_dropped_in"
    summary = "buy at the reaction close, hold N sessions"
    params = (Param("hold", "int", 3, 1, 250),)

    def signals(self, bars, params):
        hold = params["hold"]
        r, n = bars.reaction, len(bars)
        return Signals(rows_matrix(np.full(hold.shape, r), n), rows_matrix(r + hold, n))
"""


def test_a_module_dropped_into_the_package_is_registered_by_name(tmp_path, monkeypatch):
    import sys

    (tmp_path / "test_dropped_rule.py").write_text(RULE_MODULE, encoding="utf-8")
    # strategies.__path__ is where discovery looks: the temporary directory stands in for strategies/
    monkeypatch.setattr(strategies, "__path__", [*strategies.__path__, str(tmp_path)])
    monkeypatch.setattr(strategies, "_discovered", False)
    try:
        assert "test_dropped_in" in strategies.available()
        rule = strategies.get("test_dropped_in")
        assert rule.param("hold").default == 3
        assert "strategies.test_dropped_rule" in sys.modules
    finally:
        strategies._REGISTRY.pop("test_dropped_in", None)
        sys.modules.pop("strategies.test_dropped_rule", None)
    assert "test_dropped_in" not in strategies.available()


def test_register_a_user_strategy():
    class Always(strategies.Strategy):
        name = "test_always"
        summary = "enter at the reaction close"

        def signals(self, bars, params):
            out = np.zeros((len(bars), 1), bool)
            out[bars.reaction] = True
            return strategies.Signals(out, np.zeros_like(out))

    strategies.register(Always)
    try:
        assert strategies.get("test_always").name == "test_always"
    finally:
        strategies._REGISTRY.pop("test_always")


def test_param_parse_and_validate():
    hold = strategies.get("buy_the_dip").param("hold")
    stop = strategies.get("buy_the_dip").param("stop")
    assert (
        hold.parse("5", "ctx") == 5
        and stop.parse("none", "ctx") is None
        and stop.parse("0.08", "ctx") == 0.08
    )
    for bad, match in (("x", "not an integer"), ("0", "out of range"), ("2.5", "not an integer")):
        with pytest.raises(ParameterError, match=match):
            hold.parse(bad, "ctx")
    with pytest.raises(ParameterError, match="cannot be none"):
        hold.validate(None, "ctx")
    with pytest.raises(ParameterError, match="wrong type"):
        hold.validate(True, "ctx")


class _FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self._target = name, f"fake:{name}", target

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_point_plugins_are_discovered_and_broken_ones_warn(monkeypatch):
    from backtest.errors import PluginWarning

    class FromPlugin(strategies.Strategy):
        name = "test_from_plugin"
        summary = "plug-in"

        def signals(self, bars, params):
            return strategies.Signals(np.zeros((len(bars), 1), bool), np.zeros((len(bars), 1), bool))

    points = [_FakeEntryPoint("good", FromPlugin), _FakeEntryPoint("bad", ImportError("no module named x"))]
    monkeypatch.setattr(
        strategies, "entry_points", lambda group: points if group == "backtest.strategies" else []
    )
    monkeypatch.setattr(strategies, "_discovered", False)
    try:
        with pytest.warns(PluginWarning, match="'bad'.*failed to load"):
            names = strategies.available()
        assert "test_from_plugin" in names and "buy_the_dip" in names
    finally:
        strategies._REGISTRY.pop("test_from_plugin", None)


def test_registering_a_second_rule_under_a_taken_name_warns():
    import strategies
    from backtest.errors import PluginWarning
    from strategies.base import Strategy

    original = strategies.get("buy_and_hold")

    class Impostor(type(original)):  # a different class under the same name
        pass

    try:
        with pytest.warns(PluginWarning, match="'buy_and_hold' from .* replaces the one from"):
            strategies.register(Impostor)
    finally:
        with pytest.warns(PluginWarning):  # putting the built-in back is a replacement too
            strategies.register(type(original))
    assert type(strategies.get("buy_and_hold")) is type(original)
    strategies.register(type(original))  # the same class again: no warning (filterwarnings=error)
    assert isinstance(original, Strategy)
