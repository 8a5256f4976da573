"""frozen_heap: objects alive on entry are out of the collector's scans, and back afterwards."""

from __future__ import annotations

import gc

from backtest.collector import frozen_heap


def test_objects_alive_on_entry_are_frozen_until_the_outermost_block_ends() -> None:
    before = gc.get_freeze_count()
    with frozen_heap():
        outer = gc.get_freeze_count()
        assert outer > before  # the test session's own objects at least
        late = [[] for _ in range(1000)]  # tracked containers made inside the block
        with frozen_heap():
            assert gc.get_freeze_count() >= outer + 1000  # the nested block adds them
        assert gc.get_freeze_count() >= outer + 1000  # the inner exit keeps the outer's freeze
        del late
    assert gc.get_freeze_count() == 0  # the caller's collector as it was


def test_cyclic_garbage_made_inside_is_still_collected() -> None:
    with frozen_heap():
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1


def test_quiet_import_runs_without_the_collector_and_restores_it(monkeypatch) -> None:
    import importlib
    import sys

    from backtest.collector import quiet_import

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    enabled_while_importing: list[bool] = []
    real_import = importlib.import_module

    def watching(name: str):
        enabled_while_importing.append(gc.isenabled())
        return real_import(name)

    monkeypatch.setattr(importlib, "import_module", watching)
    assert quiet_import("colorsys").__name__ == "colorsys"
    assert enabled_while_importing == [False] and gc.isenabled()
    assert gc.get_freeze_count() == 0  # outside frozen_heap and without freeze: nothing frozen
    assert quiet_import("colorsys") is sys.modules["colorsys"] and enabled_while_importing == [False]


def test_quiet_import_inside_frozen_heap_freezes_what_it_made() -> None:
    import sys

    from backtest.collector import quiet_import

    sys.modules.pop("colorsys", None)  # imported again below
    with frozen_heap():
        before = gc.get_freeze_count()
        made = [[] for _ in range(100)]  # made after the block's freeze, before the import
        quiet_import("colorsys")
        assert gc.get_freeze_count() >= before + 100
        del made
    assert gc.get_freeze_count() == 0
