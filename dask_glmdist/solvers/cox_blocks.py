"""Block functions of distributed Cox regression (:class:`~dask_glmdist.DLSACoxRegression`).

A row block carries the covariates ``X`` (n, p), the survival response ``y`` (n, 2 or 3:
time, event indicator and, for left truncation, the entry time), the prior weights
``w``, the ``offset`` and the strata labels (the blocks' ``groups``: only equality of
labels within a block matters to the partial likelihood; the labels themselves name
the baseline hazards). Every block function first turns its block into the one-block
rows of :mod:`dask_glmdist.solvers.cox` (:func:`block_rows`): rows with a missing or
invalid value are reported (the first pass raises naming the columns) or, under
``missing="drop"``, dropped -- the same rows in every pass.

The mathematics of one block (partial likelihood, score, information, the local Newton
fit, event tables, risk sums) is in :mod:`dask_glmdist.solvers.cox`; here it is only
applied per block and summed:

* :func:`cox_local_block` (round 1): the block's own Cox fit ``theta_k``, its
  information ``I_k`` at ``theta_k`` and ``I_k theta_k`` (for the WLSE), its log partial
  likelihood at 0 (the null model), which columns carry information in it, and its
  event table per stratum label;
* :func:`cox_sums_block` (refinement and final rounds): log partial likelihood, score
  and information of the block at a common ``theta`` -- summed over the blocks these
  are those of the block-stratified partial likelihood -- and, in the final round, the
  block's risk sums at the pooled event times (Breslow's baseline at the pooled mean
  covariates, summed in round 1).

Neither function is additive over rows: risk sets span a block's rows, so every block
is seen whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._array import to_host
from .._blocks import BlockSummary, Problems
from ..block_graph import reads_groups
from .cox import (
    CoxRows,
    cox_derivatives,
    event_table,
    fit_cox_local,
    informative_columns,
    risk_sums,
)

__all__ = [
    "CoxLocalSummary",
    "CoxSums",
    "block_rows",
    "cox_local_block",
    "cox_sums_block",
    "merge_event_tables",
    "stratum_rows",
]

#: block statuses of the first round (``CoxLocalSummary.blocks[i]["status"]``)
USED = "used"                  # in the one-round combination
NO_EVENTS = "no_events"        # no event: contributes nothing to the partial likelihood
MONOTONE = "monotone"          # the local estimate runs off to +-inf (monotone likelihood)
FEW_EVENTS = "few_events"      # fewer events than parameters it informs
SINGULAR = "singular"          # collinear columns: the local information is singular
NOT_CONVERGED = "not_converged"
NO_WEIGHT = "zero_weight"      # every weight is 0


# --------------------------------------------------------------------------------------
# one block's rows
# --------------------------------------------------------------------------------------


def _missing_labels(strata) -> np.ndarray:
    return np.asarray(pd.isna(strata), dtype=bool)


def _vectors(time, event, w, entry, offset, strata) -> list:
    """``(name, values, missing mask)`` of the survival columns that are given."""
    out = [("durations", time, np.isnan(time)), ("event", event, np.isnan(event))]
    for name, v in (("sample_weight", w), ("entry", entry), ("offset", offset)):
        if v is not None:
            out.append((name, v, np.isnan(v)))
    if strata is not None:
        out.append(("strata", strata, _missing_labels(strata)))
    return out


def _missing_rows(X, vectors) -> tuple[np.ndarray, dict]:
    """Rows with a missing value, and ``{"missing_in: column": count}``."""
    miss_x = np.isnan(X)
    bad = miss_x.any(axis=1)
    counts = {}
    for name, _, m in vectors:
        bad |= m
        if m.any():
            counts[name] = int(m.sum())
    return bad, miss_x, counts


def _missing_problems(X, vectors, names) -> dict:
    """``{"missing_rows": rows, "missing_in: column": count}`` (the design's convention)."""
    bad, miss_x, counts = _missing_rows(X, vectors)
    if not bad.any():
        return {}
    out = {"missing_rows": int(bad.sum())}
    for j in np.flatnonzero(miss_x.any(axis=0)):
        out[f"missing_in: {names[j]}"] = int(miss_x[:, j].sum())
    out.update({f"missing_in: {k}": v for k, v in counts.items()})
    return out


def _value_problems(X, time, event, w, entry, offset, names) -> dict:
    """``{"bad_y: message": 1}`` for invalid (non-missing) values, naming the column."""
    msgs = []
    inf_x = np.isinf(X).any(axis=0)
    msgs += [f"column {names[j]!r} of X has infinite values" for j in np.flatnonzero(inf_x)]
    if np.isinf(time).any():
        msgs.append("durations have infinite values")
    if (time < 0).any():
        msgs.append("durations have negative values")
    if ((event != 0) & (event != 1) & ~np.isnan(event)).any():
        msgs.append("event has values other than 0/1 (or False/True)")
    if w is not None and np.isinf(w).any():
        msgs.append("sample_weight has infinite values")
    if w is not None and (w < 0).any():
        msgs.append("sample_weight has negative values")
    if entry is not None and ((entry > time) | ((entry >= time) & (event == 1))).any():
        msgs.append("some entry times are after their durations, or not before the time "
                    "of their event (a row is at risk at t when entry < t <= duration)")
    if offset is not None and np.isinf(offset).any():
        msgs.append("offset has infinite values")
    return {f"bad_y: {m}": 1 for m in msgs}


@dataclass
class BlockRows:
    """A block's valid rows: the arrays (after ``missing="drop"``) and what was wrong.

    ``problems``: what is wrong, in :class:`~dask_glmdist._blocks.Problems`' kinds
    (``"missing_rows"`` and ``"missing_in: column"`` counts, ``"bad_y: message"``);
    ``dropped``: rows dropped for a missing value.
    """

    X: np.ndarray
    time: np.ndarray
    event: np.ndarray
    w: np.ndarray | None
    entry: np.ndarray | None
    offset: np.ndarray | None
    strata: np.ndarray | None
    problems: dict = field(default_factory=dict)
    dropped: int = 0

    def rows(self, keep=None) -> CoxRows:
        """The one-block rows of :mod:`~dask_glmdist.solvers.cox` (``keep``: a row mask)."""
        def pick(a):
            return a if a is None or keep is None else a[keep]
        return CoxRows.build(pick(self.X), pick(self.time), pick(self.event),
                             weight=pick(self.w), strata=pick(self.strata),
                             entry=pick(self.entry), offset=pick(self.offset))

    @property
    def n_obs(self) -> int:
        """Rows with a positive weight."""
        return int(self.X.shape[0] if self.w is None else np.count_nonzero(self.w > 0))


def block_rows(X, y, w, *, offset=None, groups=None, names=(), missing="raise") -> BlockRows:
    """A block's arrays checked: rows with a missing value dropped (``missing="drop"``)
    or counted; other invalid values (negative durations, events other than 0/1, entry
    not before the duration, negative weights) counted, naming the column."""
    # blocks of another namespace (CuPy) are copied to the host in the task: the partial
    # likelihood's sorts and segment sums run in NumPy
    X = np.asarray(to_host(X), dtype=np.float64)
    y = np.asarray(to_host(y), dtype=np.float64)
    time, event = y[:, 0], y[:, 1]
    entry = y[:, 2] if y.shape[1] > 2 else None
    w = None if w is None else np.asarray(to_host(w), dtype=np.float64)
    offset = None if offset is None else np.asarray(to_host(offset), dtype=np.float64)
    strata = None if groups is None else np.asarray(to_host(groups))
    names = list(names) or [f"x{j}" for j in range(X.shape[1])]
    dropped = 0
    vectors = _vectors(time, event, w, entry, offset, strata)
    if missing == "drop":
        bad = _missing_rows(X, vectors)[0]
        if bad.any():
            keep = ~bad
            dropped = int(bad.sum())
            X, time, event = X[keep], time[keep], event[keep]
            w, entry, offset, strata = (None if a is None else a[keep]
                                        for a in (w, entry, offset, strata))
            vectors = _vectors(time, event, w, entry, offset, strata)
    problems = _missing_problems(X, vectors, names)
    if not problems:
        problems = _value_problems(X, time, event, w, entry, offset, names)
    return BlockRows(X, time, event, w, entry, offset, strata, problems, dropped)


def stratum_rows(b: BlockRows) -> dict:
    """``{stratum label: CoxRows}`` of the block (one entry, label None, without strata)."""
    if b.strata is None:
        return {None: b.rows()}
    labels = pd.unique(b.strata)
    return {_plain(lab): b.rows(b.strata == lab) for lab in labels}


def _plain(label):
    """A label as a plain Python value (NumPy scalars compare and hash alike)."""
    return label.item() if isinstance(label, np.generic) else label


# --------------------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------------------


def merge_event_tables(parts) -> tuple[np.ndarray, np.ndarray]:
    """Event tables ``(times, deaths)`` merged: the distinct times, deaths added."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    t = np.concatenate([p[0] for p in parts])
    d = np.concatenate([p[1] for p in parts])
    times, inv = np.unique(t, return_inverse=True)
    return times, np.bincount(inv, weights=d, minlength=len(times))


def _settle_events(events):
    if events is None:
        return None
    return {k: [merge_event_tables(v)] for k, v in events.items()}


@dataclass
class CoxLocalSummary(BlockSummary):
    """Round 1 summed over blocks: the WLSE's sums over the blocks used in it, counts,
    per-block records, each column's informativeness and the event tables by stratum.

    ``informative``: how many blocks a column varies in; ``events``: ``{stratum label:
    [(times, deaths), ...]}`` (merged in :meth:`settle`); ``x_sum``, ``w_sum``: the
    weighted sum of the covariates and the sum of weights (the pooled mean, at which
    the baseline hazard is reported); ``information_null``: the
    block-stratified information at 0 (its diagonal: the scale against which a
    coordinate whose information collapses is judged to run off to infinity; the whole
    matrix: which columns are collinear within the risk sets).
    """

    n: int = 0
    n_dropped: int = 0
    n_events: float = 0.0
    information: np.ndarray | None = None
    information_theta: np.ndarray | None = None
    loglik_null: float = 0.0
    information_null: np.ndarray | None = None
    informative: np.ndarray | None = None
    blocks: list = field(default_factory=list)
    events: dict | None = None
    x_sum: np.ndarray | None = None
    w_sum: float = 0.0

    def settle(self):
        self.events = _settle_events(self.events)
        return self


@dataclass
class CoxSums(BlockSummary):
    """Log partial likelihood, score and information summed over blocks at one theta;
    with ``times``, the risk sums at the pooled event times by stratum label."""

    loglik: float = 0.0
    score: np.ndarray | None = None
    information: np.ndarray | None = None
    risk: dict | None = None


# --------------------------------------------------------------------------------------
# the block functions
# --------------------------------------------------------------------------------------


def _local_fit(rows: CoxRows, *, ties, tol, max_iter, at_start=None):
    """The block's own Cox fit on all of ``rows``' columns: ``(status, fit)``."""
    try:
        fit = fit_cox_local(rows, ties=ties, tol=tol, max_iter=max_iter, at_start=at_start)
    except np.linalg.LinAlgError:
        return SINGULAR, None
    if fit.infinite:
        return MONOTONE, fit
    kept = [j for j in range(rows.p) if j not in set(getattr(fit, "dropped", []))]
    info = np.asarray(fit.information, dtype=np.float64)[np.ix_(kept, kept)]
    if not np.all(np.isfinite(fit.theta)) or np.linalg.matrix_rank(info) < len(kept):
        return SINGULAR, fit
    return (USED if fit.converged else NOT_CONVERGED), fit


@reads_groups
def cox_local_block(X, y, w, *, block_index, ties, tol, max_iter, names=(), missing="raise",
                    offset=None, groups=None) -> CoxLocalSummary:
    """Round 1 on one block: its own Cox fit, information and event tables."""
    b = block_rows(X, y, w, offset=offset, groups=groups, names=names, missing=missing)
    p = b.X.shape[1]
    if b.problems:
        return CoxLocalSummary(problems=Problems.at(block_index, b.problems))
    record = {"index": int(block_index), "n": b.n_obs, "dropped": b.dropped}
    zero = np.zeros((p, p))
    base = dict(n=b.n_obs, n_dropped=b.dropped, information=zero,
                information_theta=np.zeros(p), informative=np.zeros(p, dtype=int))
    if b.n_obs == 0:
        return CoxLocalSummary(**base, blocks=[{**record, "status": NO_WEIGHT}], events={})
    rows = b.rows()
    base.update(x_sum=rows.weight @ rows.X, w_sum=float(rows.weight.sum()))
    n_events = float(rows.n_events)
    record["n_events"] = n_events
    events = {label: [event_table(r)] for label, r in stratum_rows(b).items()}
    events = {k: v for k, v in events.items() if len(v[0][0])}
    base.update(n_events=n_events, events=events)
    if n_events == 0:
        return CoxLocalSummary(**base, blocks=[{**record, "status": NO_EVENTS,
                                                "informative": []}])
    loglik0, score0, info0 = cox_derivatives(rows, np.zeros(p), ties=ties)
    free = informative_columns(rows, info0)
    record["informative"] = np.flatnonzero(free).tolist()
    base.update(loglik_null=float(loglik0), informative=free.astype(int),
                information_null=np.asarray(info0, dtype=np.float64).copy())
    if not free.any():  # every column constant: the block informs nothing
        return CoxLocalSummary(**base, blocks=[{**record, "status": USED, "n_iter": 0}])
    if np.count_nonzero(rows.event) < free.sum():  # events, not their weights
        return CoxLocalSummary(**base, blocks=[{**record, "status": FEW_EVENTS}])
    status, theta, info, fit = _local_fit_block(b, rows, free, ties=ties, tol=tol,
                                                max_iter=max_iter,
                                                at_zero=(loglik0, score0, info0))
    record.update(status=status, n_iter=0 if fit is None else int(fit.n_iter))
    if fit is not None and fit.infinite:
        record["infinite"] = [int(np.flatnonzero(free)[j]) for j in fit.infinite]
    if status != USED:
        return CoxLocalSummary(**base, blocks=[record])
    base.update(information=info, information_theta=info @ theta)
    return CoxLocalSummary(**base, blocks=[record])


def _local_fit_block(b: BlockRows, rows: CoxRows, free, *, ties, tol, max_iter, at_zero=None):
    """The block's fit on its informative columns ``free`` (the others drop out of its
    partial likelihood): ``(status, theta, I, fit)`` with theta and I embedded in all p
    columns (zero elsewhere: ``I theta`` does not depend on them)."""
    p = rows.p
    if not free.all():
        rows = BlockRows(b.X[:, free], b.time, b.event, b.w, b.entry, b.offset,
                         b.strata).rows()
        at_zero = None  # (evaluated on all the columns)
    status, fit = _local_fit(rows, ties=ties, tol=tol, max_iter=max_iter, at_start=at_zero)
    theta, info = np.zeros(p), np.zeros((p, p))
    if status in (USED, NOT_CONVERGED):
        idx = np.flatnonzero(free)
        theta[idx] = fit.theta
        info[np.ix_(idx, idx)] = fit.information
    return status, theta, info, fit


@reads_groups
def cox_sums_block(X, y, w, theta, times=None, center=None, *, block_index, ties, names=(),
                   missing="raise", offset=None, groups=None) -> CoxSums:
    """The block's log partial likelihood, score and information at ``theta``; with
    ``times`` (``{stratum label: event times}``), its risk sums there by label, at the
    covariates ``center`` (see :func:`~dask_glmdist.solvers.cox.risk_sums`)."""
    b = block_rows(X, y, w, offset=offset, groups=groups, names=names, missing=missing)
    p = b.X.shape[1]
    if b.problems:  # met in round 1 already; kept so that no pass uses such a block
        return CoxSums(problems=Problems.at(block_index, b.problems))
    theta = np.asarray(theta, dtype=np.float64)
    if b.n_obs == 0:
        return CoxSums(score=np.zeros(p), information=np.zeros((p, p)), risk={})
    rows = b.rows()
    if rows.n_events > 0:
        ll, score, info = cox_derivatives(rows, theta, ties=ties)
    else:
        ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    risk = None
    if times is not None:
        risk = {}
        for label, r in stratum_rows(b).items():
            t = times.get(label)
            if t is not None and len(t):
                risk[label] = np.asarray(risk_sums(r, theta, t, center), dtype=np.float64)
    return CoxSums(loglik=float(ll), score=np.asarray(score, dtype=np.float64),
                   information=np.asarray(info, dtype=np.float64), risk=risk)
