"""The round engine: every pass a fit makes over its row blocks goes through one object.

A fit is a sequence of *rounds*. In a round a pure, module-level block function runs
on every row block and returns a small summary; the summaries are combined in a tree
``split_every`` at a time and the result reaches the client (:func:`._blocks.map_reduce`,
the primitive). :class:`RoundEngine` holds what every round of one fit shares -- the
blocked data, ``split_every``, the fit's progress display -- and counts the rounds, so
that the estimator reads its ``n_rounds_`` (passes over the data) from one place::

    engine = RoundEngine(data, split_every=self.split_every)
    sums = engine.run(sums_block, family=family, label="sums")
    ...
    self.n_rounds_ = engine.count

Engines over a subset of the blocks (a cross-validation fold's training blocks,
:meth:`RoundEngine.subset`) share the count and the blocks' graph
(:class:`~dask_glmdist.block_graph.BlockGraph`) of the engine they come from: the rounds
of the whole fit are counted once.

Block functions take their settings as keyword arguments (broadcast once per round);
positional extras after ``(X, y, w)`` are arrays broadcast as one graph key each.

A *rider* (:meth:`RoundEngine.ride`) is a small iteration of its own that needs the
data too -- the intercept-only model with an offset, whose Newton steps the fit
statistics would otherwise make in passes of their own: its block function runs on
the blocks of every round of the fit, in the same computation (each block read once),
until the rider says it is done. Riders add no round to the count.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _progress
from ._blocks import BlockedData, _active_client, run_round, sum_summaries
from .block_graph import BlockGraph

__all__ = ["RoundEngine"]


@dataclass
class _Count:
    """The rounds of one fit (shared by the engines of its subsets)."""

    value: int = 0


class RoundEngine:
    """The rounds of one fit over its row blocks.

    Parameters
    ----------
    data : BlockedData
        The fit's row blocks (X, y, weights, offset).
    split_every : int, default=8
        How many summaries are combined at a time in the reduction tree.

    Attributes
    ----------
    data, split_every :
        As given.
    display :
        The progress display of the fit running when the engine was made (None when
        the fit shows none); every round is counted in it.
    count : int
        Rounds (passes over the data) made so far by this engine and the engines of
        its subsets.
    """

    def __init__(self, data: BlockedData, *, split_every: int = 8, _count=None, _graph=None):
        self.data = data
        self.split_every = max(2, int(split_every))
        self.display = _progress.active_display()
        self._count = _count if _count is not None else _Count()
        self._graph = _graph
        self.riders: list = []

    @property
    def graph(self) -> BlockGraph:
        """The blocks' task graph, built at the first round and kept for the others."""
        if self._graph is None:
            self._graph = BlockGraph(self.data, _active_client())
        return self._graph

    @property
    def count(self) -> int:
        return self._count.value

    @property
    def n_blocks(self) -> int:
        return self.data.n_blocks

    def run(self, block_fn, *args, label: str = "round", combine=sum_summaries, **settings):
        """One round: ``block_fn(X_k, y_k, w_k, *args, block_index=k, **settings)`` on
        every block, the summaries combined by ``combine``; returns the combined summary.
        """
        self._count.value += 1
        riders = [r for r in self.riders if not r.done]
        out = run_round(self.graph, block_fn, args, settings, combine=combine,
                        split_every=self.split_every, label=label, display=self.display,
                        riders=[r.block() for r in riders])
        if not riders:
            return out
        out, sums = out
        for rider, s in zip(riders, sums, strict=True):
            rider.update(s)
        return out

    def ride(self, rider) -> None:
        """Let ``rider`` ride along on this engine's rounds (not those of its subsets).

        ``rider.block()`` gives ``(block_fn, args, settings)`` for the next round (its
        sums are added over the blocks), ``rider.update(sums)`` takes them, and the
        rider stops riding once ``rider.done``.
        """
        self.riders.append(rider)

    def rider(self, kind):
        """The rider of type ``kind`` on this engine, or None."""
        return next((r for r in self.riders if isinstance(r, kind)), None)

    def subset(self, blocks) -> RoundEngine:
        """An engine over the row blocks ``blocks`` (indices) of this one's data: the same
        block keys and graph, no copy; the count is shared."""
        return RoundEngine(subset_blocks(self.data, blocks), split_every=self.split_every,
                           _count=self._count, _graph=self.graph.subset(blocks))


def subset_blocks(data: BlockedData, idx) -> BlockedData:
    """The row blocks ``idx`` of ``data``: the same block keys, no copy."""
    import dask.array as da

    def pick(a):
        if a is None:
            return None
        return da.concatenate([a.blocks[int(i)] for i in idx], axis=0)
    reports = None if data.reports is None else [data.reports[int(i)] for i in idx]
    return BlockedData(pick(data.X), pick(data.y), pick(data.sample_weight), pick(data.offset),
                       reports, positive_class=data.positive_class, groups=pick(data.groups))
