"""Row-blocked inputs and the one execution primitive: map over blocks, reduce in a tree.

Every estimator in this package is a sequence of *rounds*. In a round a pure,
module-level block function runs on each row block ``(X_k, y_k, w_k)`` wherever that
block lives and returns a small *summary* (a dict of p-sized vectors, p x p
matrices, counts and short per-block records). Summaries are combined pairwise in
a tree (``split_every`` at a time) and only the final summary reaches the client,
as NumPy. The data are never concatenated and never computed as a whole.

A summary is a typed dataclass (:class:`BlockSummary`: it knows how to add itself to
another of its kind and carries its :class:`Problems`), or, where not converted yet, a
dict. Both follow one convention so that :func:`sum_summaries` can combine any of them:
arrays and numbers are added, lists are concatenated (per-block records), and the
problems (counts and the blocks they come from) are merged by adding them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import dask
import dask.array as da
import dask.threaded
import numpy as np
import pandas as pd
import scipy.sparse
from dask.callbacks import Callback
from threadpoolctl import threadpool_limits

from . import _progress
from ._array import get_namespace

logger = logging.getLogger("dask_glmdist")

__all__ = [
    "BlockedData",
    "as_blocked",
    "map_reduce",
    "sum_summaries",
    "check_block",
    "raise_for_problems",
    "Problems",
    "BlockSummary",
    "is_dask_collection",
    "check_numeric_columns",
    "compute_reduced",
    "explain_lost_data",
    "frame_to_array",
    "frame_blocks",
    "stack_blocks",
    "vector_dtype",
    "join_to_frame",
    "vector_like",
    "dense_blocks",
    "SPARSE_FORMAT",
]

# the scipy.sparse format in-memory input is converted to: its row slices are cheap
SPARSE_FORMAT = "csr"


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def is_dask_collection(obj) -> bool:
    """True for dask arrays, DataFrames and Series."""
    return dask.is_dask_collection(obj)


def _is_dask_frame(obj) -> bool:
    return (is_dask_collection(obj) and not isinstance(obj, da.Array)
            and getattr(obj, "ndim", None) == 2 and hasattr(obj, "dtypes"))


def _is_dask_series(obj) -> bool:
    return (is_dask_collection(obj) and not isinstance(obj, da.Array)
            and getattr(obj, "ndim", None) == 1 and hasattr(obj, "dtype"))


@dataclass
class BlockedData:
    """Row blocks of a design matrix, a response, optional prior weights and offset.

    ``X`` has exactly one column chunk; ``y``, ``sample_weight`` and ``offset`` share
    ``X``'s row chunking. Row counts may be unknown (``nan``): block functions report their own.
    """

    X: da.Array
    y: da.Array | None
    sample_weight: da.Array | None
    offset: da.Array | None = None
    # one delayed dict per block from building it (a design from a frame): problems
    # found there (missing values) join the block's summary in every pass
    reports: list | None = None
    # in-memory input: the weights as validated (what in-memory checks of y look at)
    host_weight: np.ndarray | None = None
    # a classifier's labels: y is coded 1.0 for this class, 0.0 for the other, in the
    # task that reads the block (no task of its own per block and round)
    positive_class: object = None
    # cluster ids of the rows (``fit(..., groups=)``): only cluster-robust covariance
    # passes read them (:mod:`dask_glmdist.sandwich`)
    groups: da.Array | None = None

    @property
    def n_blocks(self) -> int:
        return self.X.numblocks[0]

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def block_rows(self) -> tuple:
        """Rows per block (``nan`` where unknown)."""
        return self.X.chunks[0]


def default_n_partitions(n_rows: int, n_params: int) -> int:
    """One block per available core, but never blocks of fewer than 20 rows per parameter.

    Tiny data are fitted as one block (where DLSA is the global fit) rather than
    split into blocks too small for a stable local estimate.
    """
    cores = max(1, dask.system.CPU_COUNT or os.cpu_count() or 1)
    return max(1, min(cores, n_rows // (20 * max(1, n_params))))


def check_numeric_columns(X) -> None:
    """Raise naming the non-numeric columns of a pandas or dask DataFrame (from its dtypes).

    Strings, datetimes and categoricals must be encoded as numbers first; the error
    names them instead of failing on the first value that does not convert.
    """
    dtypes = getattr(X, "dtypes", None)
    if not isinstance(dtypes, pd.Series):  # not a DataFrame (an array has one dtype)
        return
    bad = {str(c): str(t) for c, t in dtypes.items() if not (
        pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))}
    if bad:
        names = list(bad)
        shown = names[:10] + ([f"... {len(names) - 10} more"] if len(names) > 10 else [])
        kinds = sorted(set(bad.values()))
        raise ValueError(
            f"X has non-numeric columns {shown} (dtype{'s' * (len(kinds) > 1)} "
            f"{', '.join(kinds)}); encode them as numbers "
            "(e.g. one-hot for categories, a number for dates) before fitting."
        )


def _feature_names_of_dask_frame(X) -> np.ndarray:
    check_numeric_columns(X)
    return np.asarray([str(c) for c in X.columns], dtype=object)


def _partition_as_float(part) -> np.ndarray:
    """A pandas partition as a float64 array (ints, bools, nullable types; NA -> NaN)."""
    return part.to_numpy(dtype=np.float64, na_value=np.nan)


def frame_to_array(frame, as_float: bool = True) -> da.Array:
    """A dask DataFrame/Series as a dask array with one row block per partition.

    Built from the partitions themselves (``to_delayed``), not ``to_dask_array``: a
    projection of an un-persisted ``read_parquet`` frame may be fused into fewer
    blocks there, and differently for different column selections, so X and y taken
    from the same frame would no longer line up. Here every selection of one frame has
    its partitions as blocks (sizes unknown until computed).
    """
    meta = frame._meta
    two_d = getattr(meta, "ndim", 1) == 2
    shape = (math.nan, len(meta.columns)) if two_d else (math.nan,)
    if as_float:
        fn, dtype = _partition_as_float, np.float64
    else:
        fn, dtype = _partition_as_numpy, object if two_d else vector_dtype(meta.dtype)
    return stack_blocks([dask.delayed(fn, pure=True)(p) for p in frame_partitions(frame)],
                        shape, dtype)


def stack_blocks(parts: list, shape: tuple, dtype) -> da.Array:
    """Delayed NumPy blocks (sizes unknown: ``nan`` in ``shape``) as one dask array."""
    arrs = [da.from_delayed(p, shape=shape, dtype=dtype) for p in parts]
    if len(arrs) == 1:
        return arrs[0]
    return da.concatenate(arrs, axis=0, allow_unknown_chunksizes=True)


def vector_dtype(dtype):
    """The NumPy dtype of a pandas column's values as blocks hold them: bools, numbers
    (nullable ones as float64, NA -> NaN), or objects (strings, labels)."""
    if pd.api.types.is_bool_dtype(dtype):
        return np.bool_
    if pd.api.types.is_numeric_dtype(dtype):
        return np.float64 if pd.api.types.is_extension_array_dtype(dtype) else dtype
    return object


def _partition_as_numpy(part) -> np.ndarray:
    dtype = part.dtype
    if pd.api.types.is_extension_array_dtype(dtype):
        if pd.api.types.is_bool_dtype(dtype) and not part.isna().any():
            return part.to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(dtype):
            return part.to_numpy(dtype=np.float64, na_value=np.nan)
        return part.to_numpy(dtype=object)
    return part.to_numpy()


def frame_partitions(frame) -> list:
    """One delayed pandas object per partition of a dask DataFrame/Series.

    The graph is optimised (column projection reaches ``read_parquet``), but the reads
    dask-expr would fuse are kept apart: it reads a narrow projection of many files as
    fewer, larger partitions (12 monthly files as 3 when 5 of 20 columns are read, and
    a different number for a different selection), and the blocks of a fit are the
    frame's partitions (``n_blocks_`` = ``npartitions``; DLSA's local fits are per
    block).
    """
    try:
        from dask.dataframe.dask_expr import new_collection
        from dask.dataframe.dask_expr.io.io import FusedIO

        expr = frame.optimize(fuse=False).expr
        for node in list(expr.walk()):
            if isinstance(node, FusedIO):  # reads of several partitions fused into one
                expr = expr.substitute(node, node.operand("_expr"))
        return list(new_collection(expr).to_delayed(optimize_graph=False))
    except (ImportError, AttributeError, TypeError):  # a dask without dask-expr's planner
        return list(frame.to_delayed())


_JOINED = {"y": "__glmdist_y__", "sample_weight": "__glmdist_w__", "offset": "__glmdist_o__",
           "groups": "__glmdist_g__"}


def join_to_frame(frame, **vectors):
    """``frame`` with the dask Series among ``vectors`` (y, sample_weight, offset) as
    columns, so that one ``to_delayed`` gives every block's rows of all of them.

    Selections of one un-persisted ``read_parquet`` frame may be fused into different
    numbers of partitions when turned into blocks separately (``df[cols]`` into 4,
    ``df["y"]`` into 2); joined first they are one frame with one partitioning.
    Returns ``(frame, {name: column name or the vector unchanged})``.
    """
    out = {}
    cols = {}
    for what, v in vectors.items():
        if _is_dask_frame(v) and len(v.columns) == 1:
            v = v[v.columns[0]]
        if _is_dask_series(v):
            cols[_JOINED[what]] = v
            out[what] = _JOINED[what]
        else:
            out[what] = v
    if not cols:
        return frame, out
    if frame.npartitions != max(c.npartitions for c in cols.values()) or any(
            c.npartitions != frame.npartitions for c in cols.values()):
        raise ValueError(
            "y, sample_weight, offset and groups must come partitioned like X (e.g. columns "
            "of the "
            f"same DataFrame): X has {frame.npartitions} partitions, "
            + ", ".join(f"{k} {c.npartitions}" for k, c in zip(
                [w for w, n in out.items() if n in cols], cols.values(), strict=True))
            + "."
        )
    try:
        return frame.assign(**cols), out
    except Exception as exc:  # partitions that dask cannot line up
        raise ValueError(
            "y, sample_weight, offset or groups cannot be aligned with X partition by partition "
            f"({exc}); take them from the same DataFrame as X, or pass column names."
        ) from exc


def _split_partition(part, x_columns, y_col, w_col, o_col, y_kind, g_col=None, index=None):
    X = part[x_columns].to_numpy(dtype=np.float64, na_value=np.nan)
    y = None if y_col is None else _column_as_numpy(part[y_col], y_kind)
    w = None if w_col is None else _column_as_numpy(part[w_col], "float")
    o = None if o_col is None else _column_as_numpy(part[o_col], "float")
    # missing ids are met when the block is first read: before the fit's long part
    g = None if g_col is None else check_cluster_ids(_partition_as_numpy(part[g_col]), index)
    return X, y, w, o, g


def check_cluster_ids(ids, block_index=None) -> np.ndarray:
    """Cluster ids (``groups``) as an array, refused when one is missing (naming the
    row block where known)."""
    ids = np.asarray(ids)
    missing = int(np.count_nonzero(pd.isna(ids)))
    if missing:
        where = "" if block_index is None else f" in row block {block_index}"
        raise ValueError(
            f"groups has {missing} missing cluster id(s){where}; every row needs one (drop "
            "those rows, or give them ids of their own)."
        )
    return ids


def _column_as_numpy(col, kind):
    if kind == "float":
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return _partition_as_numpy(col)


def frame_blocks(X, y=None, sample_weight=None, offset=None, groups=None):
    """A numeric dask DataFrame X and its dask Series as row blocks from one graph.

    Returns ``(X, y, sample_weight, offset, groups)`` as dask arrays, one row block per
    partition of the joined frame (sizes unknown); vectors that are not dask Series
    come back unchanged.
    """
    joined, names = join_to_frame(X, y=y, sample_weight=sample_weight, offset=offset,
                                  groups=groups)
    x_columns = list(X.columns)
    cols = {k: (v if isinstance(v, str) else None) for k, v in names.items()}
    y_col = cols["y"]
    y_dtype = vector_dtype(joined._meta[y_col].dtype) if y_col else None
    split = dask.delayed(_split_partition, pure=True, nout=5)
    built = [split(p, x_columns, y_col, cols["sample_weight"], cols["offset"],
                   "raw" if y_dtype is object else "num", cols["groups"], k)
             for k, p in enumerate(frame_partitions(joined))]

    def stack(i, shape, dtype):
        return stack_blocks([b[i] for b in built], shape, dtype)

    Xd = stack(0, (math.nan, len(x_columns)), np.float64)
    yd = stack(1, (math.nan,), y_dtype) if y_col else names["y"]
    wd = stack(2, (math.nan,), np.float64) if cols["sample_weight"] else names["sample_weight"]
    od = stack(3, (math.nan,), np.float64) if cols["offset"] else names["offset"]
    gd = stack(4, (math.nan,), object) if cols["groups"] else names["groups"]
    return Xd, yd, wd, od, gd


def dask_design(X):
    """A dask DataFrame or array as a float 2-D dask array with one column chunk.

    Returns ``(X_array, feature_names_or_None)``. Nothing is computed.
    """
    names = None
    if _is_dask_frame(X):
        names = _feature_names_of_dask_frame(X)
        X = frame_to_array(X)
    if not isinstance(X, da.Array):
        raise TypeError(f"expected a dask array or DataFrame, got {type(X).__name__}")
    X = dense_blocks(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead; reshape your data with "
            "X.reshape(-1, 1) if it has a single feature."
        )
    if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
    if X.dtype != np.float64:
        # blocks compute in float64 (cast per block, a cheap elementwise task): float32
        # data at float64 tolerances stall the solvers and look like separation
        X = X.astype(np.float64)
    if not math.isnan(X.shape[1]) and X.shape[1] == 0:
        raise ValueError("X has 0 features; at least one is required.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if not any(math.isnan(c) for c in X.chunks[0]) and X.shape[0] == 0:
        raise ValueError("X is empty (0 rows); at least one row is required.")
    return X, names


def vector_like(v, X: da.Array, what: str) -> da.Array:
    """``v`` (y or weights) as a 1-D dask array chunked like ``X``'s rows."""
    if _is_dask_series(v) or _is_dask_frame(v):
        if _is_dask_frame(v):
            if len(v.columns) != 1:
                raise ValueError(
                    f"{what} must be 1-D; got a DataFrame with {len(v.columns)} columns"
                )
            v = v[v.columns[0]]
        v = frame_to_array(v, as_float=False)
    elif not isinstance(v, da.Array):
        v = np.asarray(v)
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise ValueError(f"{what} must be 1-D, got shape {v.shape}")
        unknown = any(math.isnan(c) for c in X.chunks[0])
        if unknown:
            raise ValueError(
                f"X has unknown row-chunk sizes, so an in-memory {what} cannot be aligned "
                f"with it; pass {what} as a dask Series/array partitioned like X."
            )
        if v.shape[0] != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"X has {X.shape[0]} rows, {what} has {v.shape[0]}."
            )
        return _blocks_of_views(v, X.chunks[0])
    if v.ndim == 2 and not math.isnan(v.shape[1]) and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got a {v.ndim}-D array")
    known = not any(math.isnan(c) for c in X.chunks[0] + v.chunks[0])
    if known:
        if v.shape[0] != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"X has {X.shape[0]} rows, {what} has {v.shape[0]}."
            )
        if v.chunks[0] != X.chunks[0]:
            v = v.rechunk((X.chunks[0],))
    elif v.numblocks[0] != X.numblocks[0]:
        raise ValueError(
            f"{what} has {v.numblocks[0]} row blocks but X has {X.numblocks[0]}; with unknown "
            "chunk sizes both must come partitioned alike (e.g. from the same DataFrame)."
        )
    return v


def _dense_block(Xb):
    """One block as a NumPy array: a scipy.sparse block is densified (inside its task)."""
    return Xb.toarray() if scipy.sparse.issparse(Xb) else Xb


def dense_blocks(X: da.Array) -> da.Array:
    """``X`` with its scipy.sparse blocks densified block by block (lazily).

    A dask array of sparse blocks (``da.from_array(csr, chunks=...)``,
    ``map_blocks(scipy.sparse.csr_matrix)``) is known by its ``_meta``; each block is
    densified inside its own task, so at most the blocks being worked on are ever dense
    and the whole matrix never is. Dense arrays are returned as they are.
    """
    if not scipy.sparse.issparse(getattr(X, "_meta", None)):
        return X
    return X.map_blocks(_dense_block, dtype=X.dtype, meta=np.empty((0,) * X.ndim, X.dtype))


def _blocks_of_views(A, sizes) -> da.Array:
    """A dask array whose row blocks are views of the in-memory ``A`` (``sizes`` rows each).

    Unlike ``da.from_array`` this neither copies nor hashes ``A`` (seconds and a
    second copy of the data at millions of rows), and each block is a value of the
    graph, not a task slicing ``A`` (so rounds take it as it is: no task per block); every
    call gets fresh keys. A scipy.sparse ``A`` (CSR) gives row slices that stay sparse
    until :func:`dense_blocks` densifies each one inside its task.
    """
    from dask.highlevelgraph import HighLevelGraph

    name = f"glmdist-rows-{uuid.uuid4().hex}"
    sizes = [int(s) for s in sizes]
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    tail = (0,) * (A.ndim - 1)
    layer = {(name, k, *tail): A[edges[k]: edges[k + 1]] for k in range(len(sizes))}
    chunks = (tuple(sizes), *((n,) for n in A.shape[1:]))
    meta = A[:0] if scipy.sparse.issparse(A) else np.empty((0,) * A.ndim, A.dtype)
    return da.Array(HighLevelGraph.from_collections(name, layer, dependencies=()), name,
                    chunks, meta=meta)


def blocks_like(v, X: da.Array) -> da.Array:
    """The in-memory vector ``v`` in ``X``'s (known) row blocks, as views."""
    return _blocks_of_views(np.asarray(v), X.chunks[0])


def as_blocked(
    X, y=None, sample_weight=None, n_partitions=None, n_params=None, offset=None, groups=None
) -> BlockedData:
    """Put validated in-memory arrays, or dask collections, into row blocks.

    NumPy input is split into ``n_partitions`` nearly equal row blocks (default
    :func:`default_n_partitions`). Dask input keeps its own row chunking. A scipy.sparse
    ``X`` is split the same way into sparse row slices, each densified inside its task
    (:func:`dense_blocks`): the whole matrix is never dense.
    """
    host_weight = None
    if sample_weight is not None and not is_dask_collection(sample_weight):
        host_weight = np.asarray(sample_weight)
    if isinstance(X, da.Array):
        Xd = dense_blocks(X)
    else:
        X = X.tocsr() if scipy.sparse.issparse(X) else np.asarray(X)
        n = X.shape[0]
        k = n_partitions or default_n_partitions(n, n_params or X.shape[1])
        if k > n:
            raise ValueError(f"n_partitions={k} exceeds the number of rows ({n}).")
        sizes = np.full(k, n // k)
        sizes[: n % k] += 1
        Xd = dense_blocks(_blocks_of_views(X, [int(s) for s in sizes]))
        if y is not None and not is_dask_collection(y):
            y = _blocks_of_views(np.asarray(y), [int(s) for s in sizes])
        if sample_weight is not None and not is_dask_collection(sample_weight):
            sample_weight = _blocks_of_views(np.asarray(sample_weight), [int(s) for s in sizes])
        if offset is not None and not is_dask_collection(offset):
            offset = _blocks_of_views(np.asarray(offset), [int(s) for s in sizes])
        if groups is not None and not is_dask_collection(groups):
            groups = _blocks_of_views(np.asarray(groups), [int(s) for s in sizes])
    yd = vector_like(y, Xd, "y") if y is not None else None
    wd = vector_like(sample_weight, Xd, "sample_weight") if sample_weight is not None else None
    od = vector_like(offset, Xd, "offset") if offset is not None else None
    gd = vector_like(groups, Xd, "groups") if groups is not None else None
    return BlockedData(Xd, yd, wd, od, host_weight=host_weight, groups=gd)


def check_block_sizes(data: BlockedData, n_params: int) -> None:
    """Fail early, before any pass, when a block of known size is too small."""
    for k, rows in enumerate(data.block_rows):
        if not math.isnan(rows) and 0 < rows < n_params:  # empty blocks are skipped
            raise ValueError(
                f"Row block {k} has {int(rows)} rows but the model has {n_params} parameters; "
                "every block needs at least as many rows as parameters. Use fewer partitions "
                "(n_partitions, or rechunk the dask input into larger row blocks)."
            )


# --------------------------------------------------------------------------------------
# per-block validation that rides along with the first data pass
# --------------------------------------------------------------------------------------


def check_block(X, y, w, *, family=None, n_params=None) -> dict:
    """Count what is wrong with one block; an empty dict means the block is usable.

    Runs inside the first pass on every block (array-namespace generic), so dask
    input is validated without an extra pass over the data.
    """
    xp = get_namespace(X)
    problems: dict = {}
    n = X.shape[0]
    if y is not None and y.shape[0] != n:
        problems["row_mismatch"] = 1
        return problems
    if not bool(xp.all(xp.isfinite(X))):
        problems["nonfinite_X"] = 1
    if y is not None:
        if not bool(xp.all(xp.isfinite(y))):
            problems["nonfinite_y"] = 1
        elif family is not None and "nonfinite_y" not in problems:
            msg = family.check_y(y)
            if msg:
                problems[f"bad_y: {msg}"] = 1
    if w is not None:
        if not bool(xp.all(xp.isfinite(w))):
            problems["nonfinite_weight"] = 1
        elif bool(xp.any(w < 0)):
            problems["negative_weight"] = 1
    if n_params is not None and n < n_params:
        problems["too_few_rows"] = 1
    return problems


_PROBLEM_TEXT = {
    "row_mismatch": "X and y (or sample_weight) blocks have different numbers of rows",
    "nonfinite_X": "X contains NaN or infinity",
    "nonfinite_y": "y contains NaN or infinity",
    "nonfinite_weight": "sample_weight contains NaN or infinity",
    "nonfinite_offset": "offset contains NaN or infinity",
    "negative_weight": "sample_weight contains negative values",
    "boundary_mean": (
        "the local fit puts fitted means at the edge of the family's range, where the "
        "working weights (and so the information) are unbounded; use a link that keeps "
        "the mean inside its range (e.g. 'log' for poisson, gamma and inverse gaussian, "
        "'logit' for binomial)"
    ),
    "too_few_rows": (
        "has fewer rows than model parameters; use fewer partitions "
        "(n_partitions, or rechunk the dask input into larger row blocks)"
    ),
}


def _with_report(summary, report: dict):
    """A block's summary with the problems its design found (missing values) merged in."""
    if not report:
        return summary
    return summary + report if isinstance(summary, BlockSummary) else sum_summaries(
        summary, report)


class Problems(Mapping):
    """What is wrong with the row blocks: the one way a block reports a problem.

    A read-only mapping ``{kind: count}`` (the kinds of :data:`_PROBLEM_TEXT`, ``"bad_y:
    ..."``, ``"invalid_mean"``, a design's ``"missing_rows"``...) that also knows in which
    row blocks each kind occurred (``blocks``: ``{kind: [block indices]}``). Problems add
    up over the blocks (``+``, also with a plain ``{kind: count}`` dict), so a block
    function files them under its summary's ``"problems"`` and the reduction merges them.
    """

    def __init__(self, counts=None, blocks=None):
        self._counts = dict(counts or {})
        self.blocks = {k: list(v) for k, v in (blocks or {}).items()}

    @classmethod
    def at(cls, block_index: int, counts) -> Problems:
        """The problems ``counts`` (kind -> count) found in row block ``block_index``."""
        return cls(counts, {k: [int(block_index)] for k in counts})

    def __getitem__(self, kind):
        return self._counts[kind]

    def __iter__(self):
        return iter(self._counts)

    def __len__(self):
        return len(self._counts)

    def __repr__(self):
        return f"Problems({self._counts!r}, blocks={self.blocks!r})"

    def __add__(self, other) -> Problems:
        other = other if isinstance(other, Problems) else Problems(other)
        counts = dict(self._counts)
        blocks = {k: list(v) for k, v in self.blocks.items()}
        for k, v in other.items():
            counts[k] = counts.get(k, 0) + v
        for k, v in other.blocks.items():
            blocks[k] = sorted(set(blocks.get(k, [])) | set(v))
        return Problems(counts, blocks)

    __radd__ = __add__

    def __eq__(self, other):
        return dict(self._counts) == dict(other) if isinstance(other, Mapping) else NotImplemented

    __hash__ = None

    def raise_if_any(self) -> None:
        """Raise one ``ValueError`` naming every problem and its row blocks."""
        raise_for_problems(self)


def raise_for_problems(problems: Mapping, blocks: dict | None = None) -> None:
    """Raise one ``ValueError`` naming every problem the blocks reported (and, for
    :class:`Problems`, in which row blocks)."""
    if not problems:
        return
    if blocks is None and isinstance(problems, Problems):
        blocks = problems.blocks
    from .design import missing_message

    lines = []
    missing = missing_message(problems)
    if missing:
        lines.append(missing)
    for key in sorted(problems):
        if key == "missing_rows" or key.startswith("missing_in: "):
            continue
        where = ""
        if blocks and key in blocks:
            where = f" (row blocks {sorted(blocks[key])[:10]})"
        if key == "too_few_rows":
            lines.append(f"{problems[key]} row block(s){where} " + _PROBLEM_TEXT[key])
        elif key.startswith("bad_y: "):
            lines.append(key[len("bad_y: "):] + where)
        else:
            lines.append(_PROBLEM_TEXT.get(key, key) + where)
    raise ValueError("Invalid input: " + "; ".join(lines) + ".")


# --------------------------------------------------------------------------------------
# the map / tree-reduce primitive
# --------------------------------------------------------------------------------------


def _add_values(a, b):
    """One field of two summaries added: None is nothing, lists concatenate, dicts merge
    (values added by key), anything else is added."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, list):
        return a + list(b)
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _add_values(out.get(k), v)
        return out
    return a + b


@dataclass
class BlockSummary:
    """Base of the typed block summaries: a dataclass that adds itself to another.

    A subclass declares its fields (arrays, numbers, ``None`` for what a block did not
    compute, lists of per-block records, dicts added by key); ``a + b`` adds them field
    by field (:func:`_add_values`; a subclass overrides :meth:`_merge` for a field that
    does not add, such as an R factor). Every summary carries its :class:`Problems`
    and the indices of the empty blocks the reduction met (an empty block's summary is
    the marker dict ``{"n": 0, "empty_blocks": [k]}``: it is skipped, only its index
    is kept). Adding a dict (that marker, or a design's ``{"problems": ...}`` report)
    merges only its ``problems`` and ``empty_blocks``.
    """

    problems: Problems = field(default_factory=Problems, kw_only=True)
    empty_blocks: list = field(default_factory=list, kw_only=True)

    def _merge(self, name: str, a, b):
        return _add_values(a, b)

    def __add__(self, other):
        if isinstance(other, Mapping):
            return replace(self, problems=self.problems + other.get("problems", {}),
                           empty_blocks=self.empty_blocks + list(other.get("empty_blocks",
                                                                           [])))
        if not isinstance(other, type(self)):
            return NotImplemented
        return type(self)(**{f.name: self._merge(f.name, getattr(self, f.name),
                                                 getattr(other, f.name))
                             for f in fields(self)})

    def __radd__(self, other):
        if isinstance(other, int) and other == 0:  # sum(summaries)
            return self
        return self.__add__(other)

    @classmethod
    def combine(cls, *parts):
        """Tree node of a round: the parts added (markers of empty blocks skipped)."""
        return sum_summaries(*parts)

    def settle(self):
        """The summary once a tree node has added all its parts (a hook: a field whose
        addition is deferred, such as sums by key, is completed here once per node
        rather than once per addition)."""
        return self


def sum_summaries(*parts):
    """Combine block summaries: add arrays and numbers, concatenate lists, merge problems.

    Typed summaries (:class:`BlockSummary`) add themselves; the dicts among the parts
    (empty blocks' markers, design reports) join them by their problems and empty
    blocks. Only dicts: the dict convention below.
    """
    typed = [p for p in parts if isinstance(p, BlockSummary)]
    if typed:
        out = typed[0]
        for p in parts:
            if p is not typed[0]:
                out = out + p
        return out.settle()
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            if key == "problems" and key in out:
                out[key] = Problems(out[key]) + value if not isinstance(
                    out[key], Problems) else out[key] + value
                continue
            if key not in out:
                out[key] = (
                    list(value) if isinstance(value, list)
                    else dict(value) if isinstance(value, dict)
                    else value
                )
            elif isinstance(value, list):
                out[key].extend(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    out[key][k] = out[key].get(k, 0) + v
            else:
                out[key] = out[key] + value
    return out


def map_reduce(
    block_fn,
    data: BlockedData,
    *args,
    combine=sum_summaries,
    split_every: int = 8,
    label: str = "round",
    **kwargs,
) -> dict:
    """Run ``block_fn(X_k, y_k, w_k, *args, block_index=k, **kwargs)`` on every block.

    The summaries are combined ``split_every`` at a time in a tree by ``combine`` and
    the final summary is returned (computed under the active Dask scheduler: a
    ``distributed.Client`` if one is active, else the threaded scheduler). Array
    arguments in ``args`` are broadcast once per round (one graph key each).

    Progress: the round is counted in the progress display of the fit running in this
    context (see :mod:`dask_glmdist._progress`; opened by the estimator's ``fit`` when
    its ``verbose`` is positive): the fit's display is the only one. Fits make their
    rounds through :class:`dask_glmdist.rounds.RoundEngine`, which builds the blocks'
    graph once for all its rounds; this function builds it for one round.
    """
    from .block_graph import BlockGraph

    return run_round(BlockGraph(data, _active_client()), block_fn, args, kwargs,
                     combine=combine, split_every=split_every, label=label,
                     display=_progress.active_display())


def run_round(graph, block_fn, args, kwargs, *, combine, split_every, label, display,
              riders=()):
    """One round over the blocks of ``graph`` (a :class:`~.block_graph.BlockGraph`)
    with the progress ``display`` given (None: none).

    ``riders``: ``(block_fn, args, kwargs)`` of small computations that ride along on
    the same blocks in the same computation (each block is read once for all of them);
    their sums (added) are returned after the round's: ``(summary, [rider sums])``.
    """
    split_every = max(2, int(split_every))
    dsk, key, group_keys = graph.round(block_fn, tuple(args), dict(kwargs), combine=combine,
                                       split_every=split_every, riders=riders)
    schedule = dask.base.get_scheduler() or dask.threaded.get
    start = time.perf_counter()
    n_blocks = graph.n_blocks
    counter = None  # blocks are counted as they finish under a local scheduler only
    if display is not None:
        if n_blocks > 1 and _active_client() is None:
            counter = _BlockCounter(display, group_keys)
        display.start_round(n_blocks if counter is not None else 0)
    try:
        with _blas_limits(n_blocks, schedule), explain_lost_data():
            result, rides, rows = _compute(schedule, dsk, key, counter)
    finally:
        if display is not None:
            display.end_round()
    graph.learn_rows(rows)
    if isinstance(result, Mapping) and set(result) <= {"n", "empty_blocks"}:
        raise ValueError(
            f"Found array with 0 sample(s): all {n_blocks} row block(s) are empty; at "
            "least one row is required."
        )
    logger.info("%s: %d blocks reduced in %.2f s", label, n_blocks, time.perf_counter() - start)
    return (result, rides) if riders else result


def _labels_block(X, y, w, *, block_index):
    return {"labels": np.unique(y)}


def _union(*parts):
    labels = [p["labels"] for p in parts if "labels" in p]
    out = sum_summaries(*[{k: v for k, v in p.items() if k != "labels"} for p in parts])
    return {**out, "labels": np.unique(np.concatenate(labels))} if labels else out


def block_labels(data: BlockedData) -> np.ndarray:
    """The distinct values of ``data.y`` (a classifier's labels): one pass over y."""
    return map_reduce(_labels_block, data, combine=_union, label="labels")["labels"]


def compute_reduced(*objs):
    """``dask.compute`` of small results (sums, scores) under :func:`explain_lost_data`."""
    with explain_lost_data():
        return dask.compute(*objs)


# distributed's reasons for cancelling a computation whose inputs are gone for good
_LOST_DATA_REASONS = ("lost dependencies", "already forgotten")


@contextlib.contextmanager
def explain_lost_data():
    """Say so when a computation fails because its data died with a worker.

    Data placed on the workers with ``client.scatter`` (or a persisted collection whose
    source is gone) exist nowhere else: when the worker holding them dies, distributed
    cancels every computation that needs them with only ``FutureCancelledError: ...
    lost dependencies`` (or ``already forgotten``). Data read from a source (Parquet,
    zarr) are recomputed by the scheduler instead and never get here.
    """
    try:
        yield
    except Exception as exc:
        client_module = sys.modules.get("distributed.client")  # imported if it can be it
        cancelled = getattr(client_module, "FutureCancelledError", None)
        if cancelled is None or not isinstance(exc, cancelled):
            raise
        if getattr(exc, "reason", None) not in _LOST_DATA_REASONS:
            raise
        raise RuntimeError(
            "The computation was cancelled because data it needs were lost with a worker "
            f"that died and cannot be recomputed (distributed: {exc}). Data placed on the "
            "workers with client.scatter exist nowhere else; read or persist the data from "
            "a source the workers can read again (e.g. dd.read_parquet(...).persist(), "
            "da.from_zarr(...)) instead of scattering them, or load them again and rerun."
        ) from exc


def _active_client():
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _blas_limits(n_blocks: int, schedule):
    """Hold BLAS to one thread while local threads already run blocks in parallel.

    Under the threaded scheduler every core runs a block; BLAS threads on top of
    that oversubscribe the cores (about 30% slower here). Distributed workers set
    their own limits; a single block or the synchronous scheduler keeps BLAS's own.
    """
    if n_blocks < 2 or _active_client() is not None:
        return contextlib.nullcontext()
    if schedule is not dask.threaded.get:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _compute(schedule, dsk: dict, key, counter=None):
    """The result of ``key`` in the graph ``dsk`` under the scheduler ``schedule`` (the
    active one's ``get``), counting blocks for the display."""
    with counter or contextlib.nullcontext():
        return schedule(dsk, [key])[0]


class _BlockCounter(Callback):
    """Tell the fit's progress display each time one of the round's blocks finishes.

    A Dask callback of the local schedulers (a set look-up per task, no thread); under
    a ``distributed.Client`` the display counts rounds only.
    """

    def __init__(self, display, group_keys: dict):
        super().__init__()
        self._display = display
        self._groups = group_keys  # a group's key -> its number of blocks

    def _posttask(self, key, result, dsk, state, worker_id):
        for _ in range(self._groups.get(key, 0)):
            self._display.block_done()
