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

Everything is one pass of :func:`sandwich_block` at the estimate -- the B and M sums
add over blocks; a cluster's score sum is added by cluster id across every block it
spans (:class:`ClusterSums`, reduced in the tree with the other sums: the rows never
move). The pass rides on a pass the fit makes at the estimate anyway where there is one
(:class:`Sandwich` is a rider of the fit's :class:`~dask_glmdist.rounds.RoundEngine`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._array import get_namespace, to_host
from ._blocks import BlockSummary
from .block_graph import additive, reads_groups
from .diagnostics import warn

__all__ = ["COV_TYPES", "ClusterSums", "Sandwich", "SandwichSums", "check_cov_type",
           "sandwich_block", "sandwich_covariance"]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


class ClusterSums:
    """Score sums by cluster id: ``keys`` (sorted, unique) and ``sums`` (one row each).

    Adding two merges them by key, so the clusters' sums over any blocks are the same
    whatever the blocks and their order. The merge is deferred: ``a + b`` keeps the
    parts, and :meth:`settled` sorts them together once (a reduction node adding eight
    parts sorts once, not seven times).
    """

    __slots__ = ("_parts",)

    def __init__(self, keys: np.ndarray, sums: np.ndarray):
        self._parts = [(keys, sums)]

    @classmethod
    def of_rows(cls, ids: np.ndarray, scores: np.ndarray) -> ClusterSums:
        """The sums of the rows ``scores`` (n, k) by their cluster ``ids`` (n,)."""
        return cls(*_sum_by_key(ids, scores))

    def __add__(self, other: ClusterSums) -> ClusterSums:
        if not isinstance(other, ClusterSums):
            return NotImplemented
        out = ClusterSums.__new__(ClusterSums)
        out._parts = self._parts + other._parts
        return out

    def settled(self) -> ClusterSums:
        """The parts merged into one (sorted keys, their sums)."""
        if len(self._parts) > 1:
            keys = [k for k, _ in self._parts]
            try:
                keys = np.concatenate(keys)
                self._parts = [_sum_by_key(keys, np.concatenate([s for _, s in self._parts]))]
            except TypeError as exc:  # e.g. ints in one block, strings in another
                raise TypeError(
                    "groups: the cluster ids of different blocks cannot be compared "
                    f"({exc}); give every block ids of one type."
                ) from exc
        return self

    @property
    def keys(self) -> np.ndarray:
        return self.settled()._parts[0][0]

    @property
    def sums(self) -> np.ndarray:
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


def _sum_by_key(ids: np.ndarray, rows: np.ndarray):
    """``(keys, sums)``: the sorted unique ``ids`` and the sums of their ``rows``."""
    if not ids.size:
        return ids, np.zeros((0, rows.shape[1]))
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return ids[starts], np.add.reduceat(rows[order], starts, axis=0)


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


def _design(xp, X, fit_intercept: bool):
    X = xp.asarray(X, dtype=xp.float64)
    if not fit_intercept:
        return X
    return xp.concat([xp.ones((X.shape[0], 1), dtype=xp.float64), X], axis=1)


def _cluster_ids(groups, n: int, block_index) -> np.ndarray:
    ids = np.asarray(groups)
    if ids.shape != (n,):
        raise ValueError(f"groups has {ids.shape[0]} rows in row block {block_index}, X {n}.")
    missing = int(np.count_nonzero(pd.isna(ids)))
    if missing:
        raise ValueError(
            f"groups has {missing} missing cluster id(s) in row block {block_index}; every "
            "row needs one (drop those rows, or give them ids of their own)."
        )
    return ids


@additive
@reads_groups
def sandwich_block(X, y, m, theta, *, family, fit_intercept: bool, cluster: bool,
                   classes=None, block_index=None, offset=None, groups=None) -> SandwichSums:
    """One block's :class:`SandwichSums` at ``theta`` (``[intercept, *coef]``)."""
    xp = get_namespace(X)
    if classes is not None:
        y = xp.asarray(y == classes[1], dtype=xp.float64)
    y = xp.asarray(y, dtype=xp.float64)
    Xt = _design(xp, X, fit_intercept)
    eta = Xt @ xp.asarray(np.asarray(theta, dtype=np.float64))
    if offset is not None:
        eta = eta + xp.asarray(offset, dtype=xp.float64)
    link = family.link
    mu, d = link.inverse_and_deriv(eta)
    d2 = link.inverse_deriv2(eta)
    v, dv = family.variance(mu), family.variance_deriv(mu)
    r = y - mu
    u = r * d / v
    h = d * d / v - r * (d2 / v - d * d * dv / (v * v))
    if m is not None:
        m = xp.asarray(m, dtype=xp.float64)
        u, h = m * u, m * h
    n_obs = int(X.shape[0]) if m is None else int(xp.sum(xp.astype(m != 0, xp.int64)))
    scores = u[:, None] * Xt
    out = SandwichSums(n_obs=n_obs, bread=to_host(Xt.T @ (h[:, None] * Xt)))
    if cluster:
        if groups is None:
            raise ValueError("cov_type='cluster' needs the rows' cluster ids (groups).")
        ids = _cluster_ids(groups, int(X.shape[0]), block_index)
        out.clusters = ClusterSums.of_rows(ids, to_host(scores))
    else:
        out.meat = to_host(scores.T @ scores)
    return out


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
                    cluster=self.cov_type == "cluster", classes=self.classes)

    def attach(self, engine, theta, *, reference=None) -> None:  # noqa: ARG002 -- as FinalStatistics
        """Ride on ``engine``'s next round, at ``theta``."""
        self.engine, self.theta = engine, np.asarray(theta, dtype=np.float64)
        self._sums, self.done = None, False
        engine.ride(self)

    def block(self):
        return sandwich_block, (self.theta,), self._settings()

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
        return engine.run(sandwich_block, theta, label="sandwich covariance",
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
    if cov_type == "cluster" and groups < 2:
        warn(f"cov_type='cluster' with {groups} cluster: no covariance (NaN).", RuntimeWarning)
    return cov, groups
