"""A fit's row blocks as a graph built once, and the few tasks each round adds to it.

A fit makes its rounds over the same row blocks: only the block function and its small
arguments (θ) change from one round to the next. :class:`BlockGraph` therefore turns
the blocked data (X, y, weights, offset and the design's per-block reports) into a
low-level task graph once per fit -- Dask's expression optimisation, key flattening
and culling run once, not once per round -- and records, per block, where each of its
arrays comes from:

* an array already in this process (a persisted collection under a local scheduler, a
  view of in-memory input) is put into the round's tasks as it is, so a round's graph
  holds only its own tasks, whatever the number of blocks;
* anything else (a Parquet read, a future on a ``distributed`` cluster) is a key the
  round's tasks refer to.

A round is then a handful of tasks (:meth:`BlockGraph.round`): one per *block group*
-- runs of consecutive blocks that together reach :func:`target_block_bytes`, or, for
blocks already on a ``distributed`` cluster, each worker's blocks in one group per
worker thread (data never move) -- that runs the block function on the blocks of its
group and combines the summaries; a reduction tree over the groups; and one key for the
array arguments, one for the settings, so θ is sent once per round, not once per block.
A block function marked :func:`additive` (its summary of a stack of rows is the sum of
the summaries of the parts: the Gram, score and deviance passes) sees the rows in slabs
of about :data:`SLAB_ROWS` rows instead -- long blocks cut into views, short ones
stacked -- so that its temporaries stay small and its fixed cost is paid per slab, not
per block; it is run block by block again only when it reports a problem, so that the
error names the block. Groups and slabs change only the order in which sums are added,
never what is computed: DLSA's local fits, and every other function not marked
additive, still see each block whole.

Block sizes unknown before the first pass (Parquet partitions) are learned from it:
every group reports its blocks' row counts, and the groups of the later rounds are
formed from them.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace

import dask
import numpy as np
from dask._task_spec import Alias, DataNode, Task, TaskRef, convert_legacy_graph, parse_input
from dask.base import collections_to_expr

__all__ = ["BlockGraph", "additive", "target_block_bytes", "TARGET_BLOCK_BYTES"]

#: rows per call of an additive block function on NumPy blocks: the row-wise
#: temporaries (64 KiB a vector) stay in cache and in the heap -- measured, a binomial IWLS
#: pass over a 100,000 x 20 block: 21.6 ms whole, 16.8 ms in 8,192-row slabs (16.3 at
#: 16,384, 18.1 at 4,096); under distributed's MALLOC_TRIM_THRESHOLD_ (which makes every
#: larger temporary a fresh mmap) 27.9 -> 23.4 ms, 6,673 -> 2,798 page faults
SLAB_ROWS = 8192

#: default of the ``dask_glmdist.target-block-bytes`` setting (``dask.config``): small
#: row blocks are processed in groups of at least this many bytes of X per task
TARGET_BLOCK_BYTES = 8 * 2**20


def target_block_bytes() -> int:
    """The least bytes of X per task: ``dask.config`` ``"dask_glmdist.target-block-bytes"``
    (default :data:`TARGET_BLOCK_BYTES`; 0 runs every block in a task of its own)."""
    value = dask.config.get("dask_glmdist.target-block-bytes", TARGET_BLOCK_BYTES)
    return int(dask.utils.parse_bytes(value) if isinstance(value, str) else value)


def additive(block_fn):
    """Mark ``block_fn`` as additive over rows: its summary of several blocks stacked
    is the sum (the round's ``combine``) of theirs, so a group of small blocks can be
    summarised in one call. Returns ``block_fn``."""
    block_fn.additive = True
    return block_fn


def reads_groups(block_fn):
    """Mark ``block_fn`` as reading the rows' cluster ids: it is called with
    ``groups=`` (the block's ids) when the fit has them. Returns ``block_fn``."""
    block_fn.reads_groups = True
    return block_fn


@dataclass(frozen=True)
class Block:
    """One row block as a round's task sees it.

    ``X``, ``y``, ``w``, ``offset``, ``groups``, ``report``: the array (or the design's
    report) itself, a :class:`TaskRef` to the key computing it, or None. ``rows``: its row
    count (``nan`` until known); ``where``: the worker holding it (distributed).
    """

    index: int
    X: object
    y: object
    w: object
    offset: object
    groups: object
    report: object
    rows: float
    where: str | None = None


# --------------------------------------------------------------------------------------
# building the data graph once
# --------------------------------------------------------------------------------------


def _materialise(collections) -> dict:
    """The optimised low-level graph of ``collections`` (Task objects, aliases resolved
    later): what ``dask.compute`` would build, built once. The collections are optimised
    together, so a task that X, y and w share (the block built from a frame partition)
    stays one task: every block is read and encoded once per round."""
    expr = collections_to_expr(collections, True).optimize()
    return convert_legacy_graph(dict(expr.__dask_graph__()))


def _source(dsk: Mapping, key, local: bool):
    """How a round's task gets ``key``: its value if it is data in this process (and
    the scheduler is local), else a reference to it."""
    seen = 0
    while isinstance(dsk.get(key), Alias) and seen < 100:
        key, seen = dsk[key].target, seen + 1
    node = dsk.get(key)
    if local and isinstance(node, DataNode) and not _is_future(node.value):
        return node.value
    return TaskRef(key)


def _is_future(obj) -> bool:
    return type(obj).__name__ == "Future" and hasattr(obj, "key")


def _block_keys(arr) -> list:
    return [k[0] if isinstance(k, list) else k for k in arr.__dask_keys__()]


def _needed(dsk: Mapping, refs) -> dict:
    """The part of ``dsk`` that the keys ``refs`` depend on (a cull, once per graph)."""
    out, stack = {}, [r.key for r in refs]
    while stack:
        key = stack.pop()
        if key in out or key not in dsk:
            continue
        node = out[key] = dsk[key]
        stack.extend(node.dependencies)
    return out


def _placement(client, arr, refs) -> dict:
    """Worker holding each key already on the cluster (the futures of a persisted ``arr``),
    else nothing."""
    if client is None or not refs:
        return {}
    graph = arr.__dask_graph__()
    futures = [graph.get(r.key) for r in refs]
    if not all(_is_future(f) for f in futures):
        return {}
    try:
        who = client.who_has(futures)
    except Exception:  # noqa: BLE001 -- placement only helps grouping: none is fine
        return {}
    return {k: sorted(v)[0] for k, v in who.items() if v}


def _threads(client) -> dict:
    """Threads of each worker of the cluster."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # a distributed that lists every worker anyway
        info = client.scheduler_info()
    return {w: int(v.get("nthreads", 1)) for w, v in info.get("workers", {}).items()}


class BlockGraph:
    """The row blocks of one fit as a graph built once (see the module docstring).

    Parameters
    ----------
    data : BlockedData
        The fit's blocked X, y, weights, offset and design reports.
    client : distributed.Client or None
        The active client (None under a local scheduler).
    """

    def __init__(self, data, client=None):
        self.client = client
        self._bundles = None
        self.positive_class = data.positive_class
        arrays = [data.X, data.y, data.sample_weight, data.offset, data.groups]
        colls = [a for a in arrays if a is not None] + list(data.reports or [])
        full = _materialise(colls)
        local = client is None
        keys = [_block_keys(a) if a is not None else [None] * data.n_blocks for a in arrays]
        reports = [r.key for r in data.reports] if data.reports is not None else (
            [None] * data.n_blocks)
        blocks, refs = [], []
        for k, rows in enumerate(data.block_rows):
            parts = [None if ks[k] is None else _source(full, ks[k], local) for ks in keys]
            rep = None if reports[k] is None else _source(full, reports[k], local)
            refs += [p for p in (*parts, rep) if isinstance(p, TaskRef)]
            blocks.append(Block(k, *parts, rep, float(rows)))
        self.dsk = _needed(full, refs)
        where = _placement(client, data.X, [b.X for b in blocks if isinstance(b.X, TaskRef)])
        if where:
            blocks = [replace(b, where=where.get(b.X.key)) if isinstance(b.X, TaskRef) else b
                      for b in blocks]
        self.threads = _threads(client) if where else {}
        self.blocks = blocks
        self.n_features = data.n_features

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def subset(self, idx) -> BlockGraph:
        """The graph of the blocks ``idx`` (positions in this one): the same keys."""
        sub = copy.copy(self)
        sub.blocks = [self.blocks[int(i)] for i in idx]
        refs = [p for b in sub.blocks for p in (b.X, b.y, b.w, b.offset, b.groups, b.report)
                if isinstance(p, TaskRef)]
        sub.dsk = _needed(self.dsk, refs)
        sub.threads = {w: t for w, t in self.threads.items()
                       if any(b.where == w for b in sub.blocks)}
        sub._bundles = None
        return sub

    def learn_rows(self, rows: Mapping) -> None:
        """Record the row counts ``{block index: rows}`` a pass has reported."""
        if all(not math.isnan(b.rows) for b in self.blocks):
            return
        self.blocks = [replace(b, rows=float(rows.get(b.index, b.rows))) for b in self.blocks]

    def groups(self, target: int | None = None) -> list[list[Block]]:
        """The blocks in groups, one task each.

        Blocks already on a cluster's workers: each worker's blocks in as many groups as
        it has threads (a task costs milliseconds there; data never move). Elsewhere:
        runs of consecutive blocks smaller than ``target`` bytes of X grouped up to
        ``target``; a larger block, or one of unknown size, is a group of its own.
        """
        target = target_block_bytes() if target is None else target
        if self.threads and all(b.where in self.threads for b in self.blocks):
            return self._worker_groups()
        row_bytes = 8 * max(1, self.n_features)
        out: list = []
        group, total = [], 0.0
        for b in self.blocks:
            size = b.rows * row_bytes
            if target <= 0 or math.isnan(size) or size >= target:
                if group:
                    out.append(group)
                    group, total = [], 0.0
                out.append([b])
                continue
            group.append(b)
            total += size
            if total >= target:
                out.append(group)
                group, total = [], 0.0
        if group:
            out.append(group)
        return out

    def _worker_groups(self) -> list[list[Block]]:
        out = []
        for worker, threads in self.threads.items():
            mine = [b for b in self.blocks if b.where == worker]
            if mine:
                parts = np.array_split(np.arange(len(mine)), min(threads, len(mine)))
                out += [[mine[i] for i in part] for part in parts]
        return sorted(out, key=lambda g: g[0].index)

    def _group_blocks(self) -> list:
        """Each group's blocks as its task takes them: a list of ``(index, X, y, w,
        offset, groups, report)``. On a cluster, the lists are made once per graph on the workers
        holding the blocks (a list of the same arrays, no copy), so that a round's task
        refers to one key, not to every block (a round over 1,000 blocks: 0.34 -> 0.03 s
        of latency on a 2-worker LocalCluster)."""
        groups = self.groups()
        lists = [parse_input([(b.index, b.X, b.y, b.w, b.offset, b.groups, b.report)
                              for b in g])
                 for g in groups]
        if not self.threads:
            return lists
        if self._bundles is None or len(self._bundles) != len(groups):
            token = uuid.uuid4().hex[:16]
            dsk = {(f"glmdist-blocks-{token}", g): Task((f"glmdist-blocks-{token}", g), list,
                                                       blocks)
                   for g, blocks in enumerate(lists)}
            self._bundles = self.client.get({**self.dsk, **dsk}, list(dsk), sync=False)
        return [TaskRef(f.key) for f in self._bundles]

    def round(self, block_fn, args, settings, *, combine, split_every, riders=()):
        """The graph of one round: ``(dsk, keys, group_keys)`` where ``keys`` are the
        reduced summary and rider sums' keys and ``group_keys`` maps each group's key to
        its number of blocks (for progress)."""
        token = uuid.uuid4().hex[:16]
        dsk = dict(self.dsk)
        shared = [args, settings, [(fn, a, kw) for fn, a, kw in riders]]
        shared_keys = []
        for i, value in enumerate(shared):
            key = f"glmdist-shared-{token}-{i}"
            dsk[key] = DataNode(key, value)
            shared_keys.append(TaskRef(key))
        group_keys, parts = {}, []
        for g, (group, blocks) in enumerate(zip(self.groups(), self._group_blocks(),
                                                strict=True)):
            key = (f"glmdist-{getattr(block_fn, '__name__', 'block')}-{token}", g)
            dsk[key] = Task(key, run_group, block_fn, blocks, *shared_keys, combine,
                            self.positive_class)
            group_keys[key] = len(group)
            parts.append(TaskRef(key))
        level = 0
        while len(parts) > 1:
            nxt = []
            for i in range(0, len(parts), split_every):
                key = (f"glmdist-reduce-{token}", level, i)
                dsk[key] = Task(key, combine_groups, combine, *parts[i : i + split_every])
                nxt.append(TaskRef(key))
            parts, level = nxt, level + 1
        return dsk, parts[0].key, group_keys


# --------------------------------------------------------------------------------------
# what runs in a round's tasks
# --------------------------------------------------------------------------------------


def _empty(index: int) -> dict:
    return {"n": 0, "empty_blocks": [index]}


def _call(fn, index, X, y, w, offset, groups, args, settings):
    """``fn`` on one block (empty blocks skipped); an error names the block."""
    if X.shape[0] == 0:
        return _empty(index)
    kw = settings if offset is None else {**settings, "offset": offset}
    if groups is not None and getattr(fn, "reads_groups", False):
        kw = {**kw, "groups": groups}
    try:
        return fn(X, y, w, *args, block_index=index, **kw)
    except Exception as exc:
        note = f"raised in row block {index} by {getattr(fn, '__name__', 'a block')}"
        # add_note (PEP 678) by hand: the same exception type on Python 3.10 too
        exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
        raise


def _has_problems(summary) -> bool:
    problems = (summary.get("problems") if isinstance(summary, Mapping)
                else getattr(summary, "problems", None))
    return bool(problems)


def _stack(blocks):
    """Blocks ``(index, X, y, w, offset, groups)`` stacked into one (the first one's
    index)."""
    if len(blocks) == 1:
        return blocks[0]
    cols = []
    for j in range(1, 6):
        vals = [b[j] for b in blocks]
        if any(v is None for v in vals):
            cols.append(None)
            continue
        xp = _namespace(vals[0])
        cols.append(xp.concat(vals, axis=0) if hasattr(xp, "concat") else np.concatenate(vals))
    return (blocks[0][0], *cols)


def _slabs(blocks):
    """The rows of a group's non-empty blocks as the calls of an additive block function
    see them: NumPy blocks longer than :data:`SLAB_ROWS` cut into views of that many rows,
    consecutive short ones (under a quarter of it) stacked up to it; others whole."""
    pending, rows = [], 0
    for b in blocks:
        n = b[1].shape[0]
        if n == 0:
            continue
        if not isinstance(b[1], np.ndarray) or SLAB_ROWS // 4 <= n < SLAB_ROWS:
            yield b[:6]
            continue
        if n < SLAB_ROWS:
            pending.append(b[:6])
            rows += n
            if rows >= SLAB_ROWS:
                yield _stack(pending)
                pending, rows = [], 0
            continue
        for a in range(0, n, SLAB_ROWS):
            yield tuple(v if v is None or i == 0 else v[a : a + SLAB_ROWS]
                        for i, v in enumerate(b[:6]))
    if pending:
        yield _stack(pending)


def _run_additive(fn, blocks, args, settings, combine):
    """An additive block function over a group's slabs (:func:`_slabs`), combined; None
    when a slab reports a problem (the caller runs it block by block: the problems
    then name their blocks)."""
    parts = [_call(fn, *s, args, settings) for s in _slabs(blocks)]
    parts += [_empty(b[0]) for b in blocks if b[1].shape[0] == 0]
    out = combine(*parts) if len(parts) > 1 else parts[0]
    return None if _has_problems(out) else out


def _namespace(a):
    from ._array import get_namespace

    return get_namespace(a)


def _run_blocks(fn, blocks, args, settings, combine):
    out = [_call(fn, *b[:6], args, settings) for b in blocks]
    return combine(*out) if len(out) > 1 else out[0]


def _coded(block, positive):
    """A block with its labels y coded 1.0 (``positive``) / 0.0."""
    index, X, y, w, offset, groups, report = block
    y = np.asarray(y == positive, dtype=np.float64) if isinstance(y, np.ndarray) else (
        _namespace(X).astype(y == positive, X.dtype))
    return index, X, y, w, offset, groups, report


def _run(fn, blocks, args, settings, combine):
    """``fn`` over a group's blocks, combined: in slabs where it is additive (block by
    block when a slab reports a problem)."""
    out = None
    if getattr(fn, "additive", False):
        out = _run_additive(fn, blocks, args, settings, combine)
    return _run_blocks(fn, blocks, args, settings, combine) if out is None else out


def run_group(block_fn, blocks, args, settings, riders, combine, positive=None):
    """One group's task: the block function (and the riders') on its blocks, added;
    a classifier's labels (``positive``: the class coded 1) are coded here. An additive
    block function (a rider's too) sees the rows in slabs (:func:`_slabs`).

    Returns ``(summary, [rider sums], {block index: rows})``.
    """
    from ._blocks import _with_report, sum_summaries

    if positive is not None:
        blocks = [_coded(b, positive) for b in blocks]
    out = _run(block_fn, blocks, args, settings, combine)
    for b in blocks:
        if b[6] is not None:
            out = _with_report(out, b[6])
    rides = [_run(fn, blocks, a, kw, sum_summaries) for fn, a, kw in riders]
    return out, rides, {b[0]: b[1].shape[0] for b in blocks}


def combine_groups(combine, *parts):
    """A reduction node: groups' summaries combined, rider sums added, row counts kept."""
    from ._blocks import sum_summaries

    summary = combine(*[p[0] for p in parts])
    rides = [sum_summaries(*r) for r in zip(*[p[1] for p in parts], strict=True)]
    rows = {}
    for p in parts:
        rows.update(p[2])
    return summary, rides, rows
