"""The study's blocks of event x instrument pairs, mapped over a scheduler.

:func:`backtest.study.block.study_block` is the unit of work: a pure function of one
block's arrays that returns the block's per-pair arrays and its per-event sufficient
statistics. :func:`map_blocks` runs the blocks wherever the scheduler puts them
(:mod:`backtest.scheduler`), keeps on the worker only what the tables need, and reduces the
statistics with the same single merge as the inline driver
:func:`~backtest.study.block.run_blocks`, so the tests table (Kolari-Pynnönen ``r̄`` included)
comes from ``O(events x days)`` statistics, never from gathered residuals, and its bytes equal
the inline run's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backtest.study.block import Block, BlockInput, BlockSpec, run_blocks, study_block
from backtest.study.sufficient import ScopeStats, combine


def _block_unit(block: BlockInput, *, spec: BlockSpec,
                keep: Callable[[Block], Any]) -> tuple[ScopeStats, Any]:
    """On the worker: one block, and only its statistics and ``keep(block)`` travel back."""
    done = study_block(block, spec)
    return done.stats, keep(done)


def map_blocks(blocks: Sequence[BlockInput], spec: BlockSpec, keep: Callable[[Block], Any],
               mapper: Any = None) -> tuple[ScopeStats, list[Any]]:
    """:func:`~backtest.study.block.run_blocks` with the blocks run on ``mapper``'s workers.

    Inline (``mapper`` None or inline, or a single block) this is ``run_blocks(blocks, spec, keep)``.
    """
    if mapper is None or mapper.client is None or len(blocks) < 2:
        return run_blocks(blocks, spec, keep)
    done = mapper.map(_block_unit, blocks, label="study blocks", spec=spec, keep=keep)
    return combine([stats for stats, _ in done]), [kept for _, kept in done]  # run_blocks' one merge
