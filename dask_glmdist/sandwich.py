"""Sandwich (heteroscedasticity- and cluster-robust) covariance of a GLM estimate.

At the estimate ``beta`` (η = X̃β + offset, μ = g⁻¹(η), d = dμ/dη, d' = d²μ/dη²,
prior weights m) each row contributes to the score, per unit dispersion,

    sᵢ = uᵢ x̃ᵢ,   uᵢ = mᵢ (yᵢ − μᵢ) dᵢ / V(μᵢ),

and to the observed information

    hᵢ = mᵢ [dᵢ²/V(μᵢ) − (yᵢ − μᵢ)(d'ᵢ/V(μᵢ) − dᵢ² V'(μᵢ)/V(μᵢ)²)]

(for a canonical link d = V, the bracket's second term vanishes and this is the
expected information of the IWLS fit). The sandwich is

    cov = B⁻¹ M B⁻¹,   B = Σᵢ hᵢ x̃ᵢx̃ᵢᵀ,
    M = c Σᵢ sᵢsᵢᵀ (``"HC0"``: c = 1, ``"HC1"``: c = n / (n − k)),
    M = c Σ_g (Σ_{i∈g} sᵢ)(Σ_{i∈g} sᵢ)ᵀ (``"cluster"``: c = G/(G − 1) · (n − 1)/(n − k)),

with n rows of non-zero weight, k parameters and G clusters -- statsmodels' GLM
``fit(cov_type=...)`` (observed-information bread; its cluster correction), except that
statsmodels' GLM applies no correction for ``"HC1"`` (it equals its ``"HC0"``), where
this is the usual n / (n − k) of White's HC1 (R's ``sandwich::vcovHC(type = "HC1")``).
The dispersion cancels: the sandwich needs no estimate of it. R's ``sandwich`` package
uses the expected information as the bread; for canonical links (logit, Poisson log,
gamma inverse) the two are the same.

Everything is one pass at the estimate (:func:`sandwich_block`, or
:func:`cluster_sandwich_block` for clusters) -- the B and M sums add over blocks; a
cluster's score sum is added by cluster id across every block it spans
(:class:`ClusterSums`, reduced in the tree with the other sums: the rows never move).
The pass rides on a pass the fit makes at the estimate anyway where there is one
(:class:`Sandwich` is a rider of the fit's :class:`~dask_glmdist.rounds.RoundEngine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._array import get_namespace, to_host
from ._blocks import BlockSummary, check_cluster_ids
from .block_graph import additive, reads_groups
from .diagnostics import warn
from .solvers.glm_kernel import linear_predictor, score_and_information

__all__ = ["COV_TYPES", "ClusterSums", "Sandwich", "SandwichSums", "check_cov_type",
           "cluster_sandwich_block", "sandwich_block", "sandwich_covariance"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


class ClusterSums:
    """Score sums by cluster id: ``keys`` (sorted, unique) and ``sums`` (one row each).

    Adding two merges them by key, so the clusters' sums over any blocks are the same
    whatever the blocks and their order. The merge is deferred: ``a + b`` keeps the
    parts, and :meth:`settled` adds them into one table of the node's sorted ids once
    per reduction node (one part at a time: no copy of all of them together).
    """

    __slots__ = ("_parts",)

    def __init__(self, keys: np.ndarray, sums: np.ndarray):
        self._parts = [(keys, sums)]

    @classmethod
    def of_rows(cls, ids: np.ndarray, scores: np.ndarray) -> ClusterSums:
        """The rows' ``scores`` (n, k) summed by their cluster ``ids`` (n,)."""
        return cls(*_sum_by_key(ids, scores))

    def __add__(self, other: ClusterSums) -> ClusterSums:
        if not isinstance(other, ClusterSums):
            return NotImplemented
        out = ClusterSums.__new__(ClusterSums)
        out._parts = self._parts + other._parts
        return out

    def settled(self) -> ClusterSums:
        """The parts merged into one (sorted keys, their sums)."""
        if len(self._parts) == 1:
            return self
        try:
            keys = np.unique(np.concatenate([k for k, _ in self._parts]))
        except TypeError as exc:  # e.g. ints in one block, strings in another
            raise TypeError(
                "groups: the cluster ids of different blocks cannot be compared "
                f"({exc}); give every block ids of one type."
            ) from exc
        sums = np.zeros((keys.shape[0], self._parts[0][1].shape[1]))
        for k, part in self._parts:
            sums[np.searchsorted(keys, k)] += part   # k: unique within its part
        self._parts = [(keys, sums)]
        return self

    @property
    def keys(self) -> np.ndarray:
        return self.settled()._parts[0][0]

    @property
    def sums(self) -> np.ndarray:
        """The sums, one row per cluster (``keys`` order)."""
        return self.settled()._parts[0][1]

    @property
    def n_clusters(self) -> int:
        return int(self.keys.shape[0])

    def meat(self) -> np.ndarray:
        """``Σ_g s_g s_gᵀ``."""
        return self.sums.T @ self.sums

    def __getstate__(self):
        return self.settled()._parts

    def __setstate__(self, parts):
        self._parts = parts


def _sum_by_key(ids: np.ndarray, rows: np.ndarray, weights=None, intercept=False):
    """``(keys, sums)``: the sorted unique ``ids`` and, for each, the sum of
    ``weights_i rows_i`` (n, k) over its rows -- with ``intercept``, of ``weights_i`` in a
    first column too -- as the product of a sparse (keys x rows) indicator carrying the
    weights with ``rows`` as they are in memory (no scaled or reordered copy)."""
    import scipy.sparse

    n = ids.shape[0]
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if n else (
        np.zeros(0, dtype=np.intp))
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)[order]
    indicator = scipy.sparse.csr_matrix((w, order, np.r_[starts, n]),
                                        shape=(starts.shape[0], n))
    sums = np.asarray(indicator @ rows)
    if intercept:
        first = np.add.reduceat(w, starts) if n else np.zeros(0)
        sums = np.concatenate([first[:, None], sums], axis=1)
    return ordered[starts], sums


@dataclass
class SandwichSums(BlockSummary):
    """One block's (or the blocks') sums of the sandwich (module docstring)."""

    n_obs: int = 0
    bread: np.ndarray | None = None       # Σ h x̃ x̃ᵀ
    meat: np.ndarray | None = None        # Σ s sᵀ (HC)
    clusters: ClusterSums | None = None   # Σ_{i in g} s_i by cluster (cluster)

    def settle(self) -> SandwichSums:
        if self.clusters is not None:
            self.clusters.settled()
        return self


def _signed_gram(X, h, fit_intercept: bool, xp) -> np.ndarray:
    """``X~^T diag(h) X~`` for weights of any sign (host array)."""
    hX = X * h[:, None]
    gram = to_host(X.T @ hX)
    if not fit_intercept:
        return gram
    border = to_host(xp.sum(hX, axis=0))
    out = np.empty((gram.shape[0] + 1,) * 2)
    out[1:, 1:], out[0, 1:], out[1:, 0], out[0, 0] = gram, border, border, float(xp.sum(h))
    return out


def _cluster_ids(groups, n: int, block_index) -> np.ndarray:
    ids = check_cluster_ids(groups, block_index)
    if ids.shape != (n,):
        raise ValueError(f"groups has {ids.shape[0]} rows in row block {block_index}, X {n}.")
    return ids


def _terms(X, y, m, theta, family, fit_intercept, classes, offset):
    """``(xp, X, u, bread, n_obs)`` of a block at ``theta``: the rows' score weights
    ``u = m r d / V`` and the bread, the IWLS information ``X~^T W X~`` (``W = m d^2/V``)
    plus, for a non-canonical link, the observed information's signed correction
    ``-X~^T diag(m r (d'/V - d^2 V'/V^2)) X~`` (zero for a canonical link: ``d = V``)."""
    xp = get_namespace(X)
    if classes is not None:
        y = xp.asarray(y == classes[1], dtype=xp.float64)
    y = xp.asarray(y, dtype=xp.float64)
    X = xp.asarray(X, dtype=xp.float64)
    eta = linear_predictor(X, theta, fit_intercept, xp,
                           None if offset is None else xp.asarray(offset, dtype=xp.float64))
    link = family.link
    mu, d = link.inverse_and_deriv(eta)
    v = family.variance(mu)
    r = y - mu
    u, w = r * d / v, d * d / v
    c = None if family.has_canonical_link else r * (
        link.inverse_deriv2(eta) / v - w * family.variance_deriv(mu) / v)
    if m is not None:
        m = xp.asarray(m, dtype=xp.float64)
        u, w, c = m * u, m * w, None if c is None else m * c
    n_obs = int(X.shape[0]) if m is None else int(xp.sum(xp.astype(m != 0, xp.int64)))
    _, bread = score_and_information(X, u, w, fit_intercept, xp)
    if c is not None:
        bread = bread - _signed_gram(X, c, fit_intercept, xp)
    return xp, X, u, bread, n_obs


@additive
def sandwich_block(X, y, m, theta, *, family, fit_intercept: bool, classes=None,
                   block_index=None, offset=None) -> SandwichSums:
    """One block's :class:`SandwichSums` at ``theta`` (``[intercept, *coef]``) for
    HC0/HC1: the bread (:func:`_terms`) and the meat ``X~^T diag(u^2) X~``."""
    xp, X, u, bread, n_obs = _terms(X, y, m, theta, family, fit_intercept, classes, offset)
    _, meat = score_and_information(X, u, u * u, fit_intercept, xp)
    return SandwichSums(n_obs=n_obs, bread=bread, meat=meat)


@reads_groups
def cluster_sandwich_block(X, y, m, theta, *, family, fit_intercept: bool, classes=None,
                           block_index=None, offset=None, groups=None) -> SandwichSums:
    """One block's :class:`SandwichSums` for clusters: the bread (:func:`_terms`) and the
    block's score sums by cluster id. It sees whole blocks (the rows summed by id in one
    sort per block, straight from ``X``)."""
    if groups is None:
        raise ValueError("cov_type='cluster' needs the rows' cluster ids (groups).")
    ids = _cluster_ids(groups, int(X.shape[0]), block_index)
    _, X, u, bread, n_obs = _terms(X, y, m, theta, family, fit_intercept, classes, offset)
    try:
        keys, sums = _sum_by_key(ids, to_host(X), to_host(u), intercept=fit_intercept)
    except TypeError as exc:  # ids of types that cannot be ordered, e.g. 1 and "a"
        raise TypeError(
            f"groups: the cluster ids in row block {block_index} cannot be ordered ({exc}); "
            "give ids of one type (all numbers or all strings)."
        ) from exc
    return SandwichSums(n_obs=n_obs, bread=bread, clusters=ClusterSums(keys, sums))


class Sandwich:
    """The sandwich pass of a fit: a rider on the pass the fit makes at its estimate
    (:meth:`attach`, as :class:`~dask_glmdist.fit_statistics.FinalStatistics`), or a
    pass of its own (:meth:`sums`) where the fit makes none there.

    Parameters
    ----------
    family : Family
    cov_type : {"HC0", "HC1", "cluster"}
    fit_intercept : bool
    classes : array of two labels, optional
        For labels not coded in the blocks (the positive class is ``classes[1]``).
    """

    def __init__(self, family, cov_type: str, *, fit_intercept: bool, classes=None):
        self.family, self.cov_type = family, cov_type
        self.fit_intercept, self.classes = fit_intercept, classes
        self.engine = self.theta = self._sums = None
        self.done = True

    def _settings(self) -> dict:
        return dict(family=self.family, fit_intercept=self.fit_intercept,
                    classes=self.classes)

    @property
    def _block_fn(self):
        return cluster_sandwich_block if self.cov_type == "cluster" else sandwich_block

    def attach(self, engine, theta, *, reference=None) -> None:  # noqa: ARG002 -- as FinalStatistics
        """Ride on ``engine``'s next round, at ``theta``."""
        self.engine, self.theta = engine, np.asarray(theta, dtype=np.float64)
        self._sums, self.done = None, False
        engine.ride(self)

    def block(self):
        return self._block_fn, (self.theta,), self._settings()

    def update(self, s) -> None:
        self.done = True
        self._sums = s if isinstance(s, SandwichSums) else None

    def sums(self, engine, theta) -> SandwichSums:
        """The sums at ``theta``: those that rode on a pass at ``theta``, else one pass."""
        theta = np.asarray(theta, dtype=np.float64)
        if self.engine is not None and self in self.engine.riders:
            self.engine.riders.remove(self)
        if self._sums is not None and np.array_equal(theta, self.theta):
            return self._sums
        self.theta = theta
        return engine.run(self._block_fn, theta, label="sandwich covariance",
                          **self._settings())


def check_cov_type(est, groups) -> str:
    """An estimator's ``cov_type`` and ``groups`` of ``fit``, checked before any pass."""
    cov_type = est.cov_type
    if cov_type == "cluster" and groups is None:
        raise ValueError(
            "cov_type='cluster' needs the rows' cluster ids: fit(X, y, groups=...) with an "
            "array or Series aligned with X, or the name of a column of the frame."
        )
    if groups is not None and cov_type != "cluster":
        raise ValueError(
            f"groups are only used by cov_type='cluster' (cov_type={cov_type!r}); set "
            "cov_type='cluster' or do not pass groups."
        )
    return cov_type


#: fewer clusters than this: cluster-robust standard errors are biased downward (warned)
FEW_CLUSTERS = 30


def _enough_clusters(groups: int, k: int) -> bool:
    """Whether ``groups`` clusters support a covariance of ``k`` parameters: the meat is a
    sum of ``groups`` outer products whose scores add to zero at the estimate, so its rank
    is at most ``groups - 1``; below ``k`` some combinations of the parameters would get
    a standard error of zero (refused: NaN). With few clusters the numbers exist but are
    biased downward (warned)."""
    if groups - 1 < k:
        warn(f"cov_type='cluster' with {groups} cluster(s) for {k} parameters: the "
             f"cluster-robust covariance has rank at most {max(groups - 1, 0)} < {k}, so "
             "some combinations of the parameters would get a standard error of zero; "
             "no covariance (NaN). Use more clusters, or cov_type='HC1'.", RuntimeWarning)
        return False
    if groups < FEW_CLUSTERS:
        warn(f"cov_type='cluster' with only {groups} clusters: cluster-robust standard "
             f"errors are biased downward with fewer than about {FEW_CLUSTERS} clusters; "
             "treat them as approximate.", RuntimeWarning)
    return True


def sandwich_covariance(s: SandwichSums, cov_type: str, n_params: int, free=None):
    """``(cov, n_clusters)``: the sandwich covariance of the parameters (module
    docstring) from the summed ``s``; ``free`` (a boolean mask) leaves out parameters
    without an estimate (rows and columns NaN)."""
    k = n_params
    free = np.ones(k, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    n = s.n_obs
    if cov_type == "cluster":
        groups = s.clusters.n_clusters
        meat = s.clusters.meat()
        c = (groups / (groups - 1.0) * (n - 1.0) / (n - k)) if groups > 1 and n > k else (
            math.nan)
    else:
        groups, meat = None, s.meat
        c = 1.0 if cov_type == "HC0" else (n / (n - k) if n > k else math.nan)
    cov = np.full((k, k), np.nan)
    idx = np.flatnonzero(free)
    if groups is not None and not _enough_clusters(groups, idx.size):
        return cov, groups
    B = s.bread[np.ix_(idx, idx)]
    try:
        L = np.linalg.cholesky(0.5 * (B + B.T))
    except np.linalg.LinAlgError:
        warn("The observed information at the estimate is not positive definite, so the "
             f"{cov_type} covariance is not available (NaN); the estimate may not be a "
             "maximum of the likelihood.", RuntimeWarning)
        return cov, groups
    Binv = np.linalg.inv(L).T @ np.linalg.inv(L)
    sub = c * (Binv @ meat[np.ix_(idx, idx)] @ Binv)
    cov[np.ix_(idx, idx)] = 0.5 * (sub + sub.T)
    return cov, groups
