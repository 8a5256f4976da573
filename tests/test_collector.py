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
