"""Survival data into row blocks: covariates, (time, event, entry), weights, offset, strata.

:class:`~dask_glmdist.DLSACoxRegression` puts its inputs into the library's
:class:`~dask_glmdist._blocks.BlockedData` as follows:

* ``X``: the covariates (no intercept);
* ``y``: an (n, 2) float array ``[duration, event]``, or (n, 3) ``[duration, event,
  entry]`` with left truncation;
* ``sample_weight``, ``offset``: as for the GLMs;
* ``groups``: the strata labels (the round engine hands them to block functions marked
  :func:`~dask_glmdist.block_graph.reads_groups`). Only equality within a block matters
  to the partial likelihood; the labels name the baseline hazards.

In-memory input (NumPy, pandas) is checked on the client before any pass (missing
values named by column, dropped under ``missing="drop"``) and split into
``n_partitions`` blocks of views. Dask arrays keep their chunks; a dask DataFrame's
partitions are the blocks, with every column of a block taken from the same partition
(the columns named by ``durations=``, ``event=`` ... are not covariates). Dask input is
checked by the blocks in the first pass.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

from .._blocks import (
    _is_dask_frame,
    _is_dask_series,
    _partition_as_numpy,
    as_blocked,
    blocks_like,
    check_numeric_columns,
    dask_design,
    frame_partitions,
    is_dask_collection,
    raise_for_problems,
    stack_blocks,
    vector_like,
)
from ..solvers.cox_blocks import block_rows

__all__ = ["VECTORS", "cox_blocks"]

#: fit's survival arguments besides X, in the order of the arrays they become
VECTORS = ("durations", "event", "sample_weight", "strata", "entry", "offset")


def _is_frame(X) -> bool:
    return getattr(X, "ndim", None) == 2 and hasattr(X, "columns")


def _named_columns(X, vectors: dict) -> list:
    """The covariate columns of a frame: all but those named by the survival arguments."""
    named = {k: v for k, v in vectors.items() if isinstance(v, str)}
    if named and not _is_frame(X):
        raise TypeError(
            f"{', '.join(f'{k}={v!r}' for k, v in named.items())}: column names need X "
            f"to be a pandas or dask DataFrame; got {type(X).__name__}."
        )
    for k, v in named.items():
        if v not in X.columns:
            raise ValueError(f"{k}={v!r} names no column of X (its columns: "
                             f"{[str(c) for c in X.columns][:30]}).")
    used = set(named.values())
    if not _is_frame(X):
        return []
    cols = [c for c in X.columns if c not in used]
    if not cols:
        raise ValueError("X has no covariate columns besides those named by durations, "
                         "event, sample_weight, strata, entry and offset.")
    return cols


def cox_blocks(est, X, vectors: dict, *, n_partitions):
    """The row blocks of a Cox fit and the covariates' names.

    ``vectors``: ``{name: value}`` for the names in :data:`VECTORS` (None where not
    given; column names allowed with a DataFrame ``X``). Sets ``n_features_in_`` and
    ``feature_names_in_`` on ``est``. Returns ``(BlockedData, names, n_dropped)``;
    ``n_dropped`` counts the rows dropped on the client (``missing="drop"``).
    """
    if vectors["durations"] is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y "
                         "is None: give durations, the follow-up time of every row.")
    columns = _named_columns(X, vectors)
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    if is_dask_collection(X):
        return _dask_blocks(est, X, vectors, columns) + (0,)
    if any(is_dask_collection(v) for v in vectors.values()):
        raise TypeError("durations, event, ... are dask collections but X is not; pass all "
                        "as dask collections (or all in memory).")
    return _memory_blocks(est, X, vectors, columns, n_partitions)


# --------------------------------------------------------------------------------------
# in memory
# --------------------------------------------------------------------------------------


def _memory_vector(X, v, n, what, *, labels=False):
    if v is None:
        return None
    if isinstance(v, str):
        v = X[v]
    v = v.to_numpy() if hasattr(v, "to_numpy") else np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{what} must have shape ({n},), one value per row of X; got "
                         f"{v.shape}.")
    if labels:
        return v
    if v.dtype == object or pd.api.types.is_extension_array_dtype(v.dtype):
        v = pd.to_numeric(pd.Series(v), errors="raise").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)
    try:
        return np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be numeric; got dtype {v.dtype}.") from exc


def _memory_design(est, X, columns):
    """In-memory covariates as float64 (NaN for missing), named."""
    if columns:
        frame = X[columns]
        check_numeric_columns(frame)
        est.feature_names_in_ = np.asarray([str(c) for c in columns], dtype=object)
        est.n_features_in_ = len(columns)
        return frame.to_numpy(dtype=np.float64, na_value=np.nan), list(
            est.feature_names_in_)
    Xa = validate_data(est, X, dtype=np.float64, ensure_all_finite=False,
                       ensure_min_samples=2)
    return Xa, [f"x{j}" for j in range(Xa.shape[1])]


def _memory_blocks(est, X, vectors, columns, n_partitions):
    Xa, names = _memory_design(est, X, columns)
    n = Xa.shape[0]
    v = {k: _memory_vector(X, vectors[k], n, k, labels=k == "strata") for k in VECTORS}
    event = np.ones(n) if v["event"] is None else v["event"]
    y = np.column_stack([v["durations"], event] + (
        [] if v["entry"] is None else [v["entry"]]))
    b = block_rows(Xa, y, v["sample_weight"], offset=v["offset"], groups=v["strata"],
                   names=names, missing=getattr(est, "missing", "raise"))
    if "missing_rows" in b.problems:  # scikit-learn's wording first
        try:
            raise_for_problems(b.problems)
        except ValueError as exc:
            raise ValueError(f"Input contains NaN. {exc}") from None
    raise_for_problems(b.problems)
    if b.X.shape[0] < 2:
        raise ValueError(f"Found {b.X.shape[0]} usable row(s); at least 2 are required.")
    y = np.column_stack([b.time, b.event] + ([] if b.entry is None else [b.entry]))
    data = as_blocked(b.X, None, b.w, n_partitions=n_partitions,
                      n_params=b.X.shape[1], offset=b.offset, groups=b.strata)
    data.y = blocks_like(y, data.X)
    return data, names, b.dropped


# --------------------------------------------------------------------------------------
# dask
# --------------------------------------------------------------------------------------


def _stack_response(*cols):
    ones = cols[1] is None
    arrays = [np.asarray(c, dtype=np.float64) for c in cols if c is not None]
    if ones:
        arrays.insert(1, np.ones(arrays[0].shape[0]))
    return np.column_stack(arrays)


def _dask_array_blocks(est, X, vectors):
    Xd, _ = dask_design(X)
    est.n_features_in_ = int(Xd.shape[1])
    v = {}
    for k in VECTORS:
        if vectors[k] is not None:
            v[k] = vector_like(vectors[k], Xd, k)
    parts = [v["durations"], v.get("event"), v.get("entry")]
    width = 2 + ("entry" in v)
    args = [p for p in parts if p is not None]
    y = da.map_blocks(_dask_response, *args, len(args), "event" in v, new_axis=1,
                      chunks=(Xd.chunks[0], (width,)), dtype=np.float64)
    from .._blocks import BlockedData

    return BlockedData(Xd, y, v.get("sample_weight"), v.get("offset"),
                       groups=v.get("strata")), [f"x{j}" for j in range(Xd.shape[1])]


def _dask_response(*args):
    *cols, n_cols, has_event = args
    cols = list(cols[:n_cols])
    if not has_event:
        cols.insert(1, None)
    return _stack_response(*cols)


_JOIN = {k: f"__glmdist_cox_{k}__" for k in VECTORS}


def _dask_blocks(est, X, vectors, columns):
    """Dask input as row blocks (nothing computed)."""
    if not _is_dask_frame(X):
        if any(_is_dask_series(v) for v in vectors.values()):
            raise TypeError("With a dask array X, durations, event, ... must be dask "
                            "arrays chunked like X's rows (or in memory, when X's chunks "
                            "are known).")
        return _dask_array_blocks(est, X, vectors)
    check_numeric_columns(X[columns])
    est.n_features_in_ = len(columns)
    est.feature_names_in_ = np.asarray([str(c) for c in columns], dtype=object)
    cols, extra = {}, {}
    for k, v in vectors.items():
        if v is None or isinstance(v, str):
            cols[k] = v
            continue
        if not _is_dask_series(v):
            raise TypeError(f"With a dask DataFrame X, {k} must be the name of one of its "
                            "columns or a dask Series partitioned like it; got "
                            f"{type(v).__name__}.")
        if v.npartitions != X.npartitions:
            raise ValueError(f"{k} has {v.npartitions} partitions but X has "
                             f"{X.npartitions}; take it from the same DataFrame.")
        extra[_JOIN[k]] = v
        cols[k] = _JOIN[k]
    frame = X.assign(**extra) if extra else X
    split = dask.delayed(_split_partition, pure=True, nout=5)
    built = [split(p, columns, cols) for p in frame_partitions(frame)]

    def stack(i, shape, dtype):
        return stack_blocks([b[i] for b in built], shape, dtype)

    width = 2 + (cols["entry"] is not None)
    from .._blocks import BlockedData

    data = BlockedData(
        stack(0, (math.nan, len(columns)), np.float64),
        stack(1, (math.nan, width), np.float64),
        stack(2, (math.nan,), np.float64) if cols["sample_weight"] else None,
        stack(3, (math.nan,), np.float64) if cols["offset"] else None,
        groups=stack(4, (math.nan,), object) if cols["strata"] else None,
    )
    return data, list(est.feature_names_in_)


def _float_column(part, col):
    return part[col].to_numpy(dtype=np.float64, na_value=np.nan)


def _split_partition(part, columns, cols):
    """One partition as ``(X, y, w, offset, strata)`` NumPy arrays (NaN for missing)."""
    X = part[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    y = _stack_response(*(None if cols[k] is None else _float_column(part, cols[k])
                          for k in ("durations", "event", "entry")))
    w = None if cols["sample_weight"] is None else _float_column(part, cols["sample_weight"])
    o = None if cols["offset"] is None else _float_column(part, cols["offset"])
    s = None if cols["strata"] is None else _partition_as_numpy(part[cols["strata"]])
    return X, y, w, o, s
