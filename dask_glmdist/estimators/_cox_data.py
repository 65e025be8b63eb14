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

A ``formula`` (the right-hand side only), or a DataFrame with string/categorical
columns, goes through the library's design (:mod:`dask_glmdist.design`: levels from
every partition, treatment coding, stored as ``design_``), learned as for a model with
an intercept -- so categorical terms are coded against a reference level -- whose
intercept column is then left out (the baseline hazard takes its place). A missing
value in a column the formula reads is named by that column; under ``missing="drop"``
the row goes, with its durations, event, strata ... (the design marks it NaN, the
blocks drop it like any other missing value).
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
from ..design import _split_formula as split_formula
from ..design import build_block, learn_design, uses_design
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
    formula = getattr(est, "formula", None)
    if formula is not None and not _is_frame(X):
        raise TypeError("A formula needs a pandas or dask DataFrame holding the columns it "
                        f"names; got {type(X).__name__}.")
    columns = _named_columns(X, vectors)
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    if hasattr(est, "design_"):
        del est.design_
    if formula is not None or (_is_frame(X) and uses_design(est, X[columns])):
        return _design_blocks(est, X, vectors, n_partitions=n_partitions)
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
    return _memory_rows(Xa, v, names, getattr(est, "missing", "raise"), n_partitions)


def _memory_rows(Xa, v, names, missing, n_partitions):
    """In-memory covariate rows and survival vectors (``v``) checked and into row blocks:
    ``(BlockedData, names, n_dropped)``."""
    n = Xa.shape[0]
    event = np.ones(n) if v["event"] is None else v["event"]
    y = np.column_stack([v["durations"], event] + (
        [] if v["entry"] is None else [v["entry"]]))
    b = block_rows(Xa, y, v["sample_weight"], offset=v["offset"], groups=v["strata"],
                   names=names, missing=missing)
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
    frame, cols = _joined(X, vectors)
    split = dask.delayed(_split_partition, pure=True, nout=5)
    built = [split(p, columns, cols) for p in frame_partitions(frame)]
    return _stacked(built, len(columns), cols), list(est.feature_names_in_)


def _joined(X, vectors):
    """``(frame, {name: column or None})``: dask Series given for the survival arguments
    joined to ``X`` as columns, so every block's columns come from one partition."""
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
    return (X.assign(**extra) if extra else X), cols


def _stacked(built, p, cols):
    """The partitions' ``(X, y, w, offset, strata, ...)`` as a BlockedData of dask arrays
    (row counts unknown)."""
    from .._blocks import BlockedData

    def stack(i, shape, dtype):
        return stack_blocks([b[i] for b in built], shape, dtype)

    width = 2 + (cols["entry"] is not None)
    return BlockedData(
        stack(0, (math.nan, p), np.float64),
        stack(1, (math.nan, width), np.float64),
        stack(2, (math.nan,), np.float64) if cols["sample_weight"] else None,
        stack(3, (math.nan,), np.float64) if cols["offset"] else None,
        groups=stack(4, (math.nan,), object) if cols["strata"] else None,
    )


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


# --------------------------------------------------------------------------------------
# through a design (formula, categorical columns)
# --------------------------------------------------------------------------------------


def _check_formula(formula) -> None:
    """A right-hand side with its intercept implied (which the baseline replaces)."""
    response, rhs = split_formula(formula)
    if response is not None:
        raise ValueError(
            f"The formula {formula!r} has a left-hand side ({response}); a Cox model's "
            "formula is the right-hand side only ('fin + age + C(race)'): give the "
            "durations and events to fit, e.g. fit(df, 'week', 'arrest'), as lifelines' "
            "formula=.")
    if not any(str(t) == "1" for t in rhs):
        raise ValueError(
            f"The formula {formula!r} removes the intercept ('0 +' or '- 1'); a Cox model "
            "has none (the baseline hazard takes its place, and categorical terms are "
            "coded against a reference level as with one): write the formula without it.")


def learn_cox_design(est, X, vectors):
    """The design of a Cox fit: the formula's, or every covariate column's; its
    intercept column left out."""
    named = [v for v in vectors.values() if isinstance(v, str)]
    formula = getattr(est, "formula", None)
    if formula is not None:
        _check_formula(formula)
    design = learn_design(X, formula, fit_intercept=True, y_given=True,
                          split_every=getattr(est, "split_every", 8), exclude=named)
    clash = [f"{k}={v!r}" for k, v in vectors.items() if isinstance(v, str)
             and v in design.variables]
    if clash:
        raise ValueError(f"The formula reads column(s) given as {', '.join(clash)}; a "
                         "column is either a covariate or a survival argument.")
    if design.n_columns == 0:
        raise ValueError(f"The formula {design.formula!r} has no covariates (a Cox model "
                         "has no intercept); give at least one term.")
    return design


def _design_blocks(est, X, vectors, *, n_partitions):
    design = learn_cox_design(est, X, vectors)
    est.design_ = design
    est.n_features_in_ = len(X.columns)
    est.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
    names = list(design.column_names)
    missing = getattr(est, "missing", "raise")
    if not is_dask_collection(X):
        if any(is_dask_collection(v) for v in vectors.values()):
            raise TypeError("durations, event, ... are dask collections but X is not; pass "
                            "all as dask collections (or all in memory).")
        n = len(X)
        v = {k: _memory_vector(X, vectors[k], n, k, labels=k == "strata") for k in VECTORS}
        Xa, report = design_partition(X, design, v, missing)
        raise_for_problems(report.get("problems", {}))
        return _memory_rows(Xa, v, names, missing, n_partitions)
    if not _is_dask_frame(X):  # pragma: no cover -- a frame that is a dask collection
        raise TypeError(f"Expected a dask DataFrame; got {type(X).__name__}.")
    frame, cols = _joined(X, vectors)
    split = dask.delayed(_split_design_partition, pure=True, nout=6)
    d = dask.delayed(design, pure=True)
    built = [split(p, d, cols, missing) for p in frame_partitions(frame)]
    data = _stacked(built, len(names), cols)
    data.reports = [b[5] for b in built]
    return data, names, 0


def design_partition(part, design, v: dict, missing: str):
    """One partition's design rows and report: ``(X, report)``.

    ``v``: the partition's survival vectors (NumPy, None where not given). With
    ``missing="raise"``, a row with a missing value in a column the design reads is
    counted (by that column, with the vectors' own missing values) and the block comes
    back empty; otherwise such rows are NaN rows of ``X`` (dropped, or counted, by the
    blocks like any missing value).
    """
    n = len(part)
    na = {c: np.asarray(pd.isna(part[c]), dtype=bool) for c in design.variables}
    if missing == "raise" and any(m.any() for m in na.values()):
        for k, a in v.items():
            if a is not None:
                na[k] = np.asarray(pd.isna(a), dtype=bool)
        bad = np.zeros(n, dtype=bool)
        for m in na.values():
            bad |= m
        counts = {f"missing_in: {c}": int(m.sum()) for c, m in na.items() if m.any()}
        return None, {"problems": {"missing_rows": int(bad.sum()), **counts}}
    X = build_block(part, design, response=False, missing="keep")[0]
    return X, {}


def _split_design_partition(part, design, cols, missing):
    """One partition through the design: ``(X, y, w, offset, strata, report)``."""
    v = {k: None if cols[k] is None else (
        _partition_as_numpy(part[cols[k]]) if k == "strata" else _float_column(part, cols[k]))
        for k in VECTORS}
    X, report = design_partition(part, design, v, missing)
    if X is None:  # missing values reported: an empty block
        keep = np.zeros(len(part), dtype=bool)
        X = np.zeros((0, design.n_columns))
        v = {k: None if a is None else a[keep] for k, a in v.items()}
    y = _stack_response(v["durations"], v["event"], v["entry"])
    return X, y, v["sample_weight"], v["offset"], v["strata"], report
