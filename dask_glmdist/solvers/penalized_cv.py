"""Cross-validation over row blocks for the penalised GLM path: the block functions
(first-pass sums filed by fold, held-out deviance of every alpha at once) and the
fold sums (a fold's training sums are the total minus its own).

Used by :class:`~dask_glmdist.estimators.penalized_path.PenalizedGLMCV` and
:class:`~dask_glmdist.estimators.penalized_logistic_cv.PenalizedLogisticRegressionCV`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._array import get_namespace, to_host
from .._blocks import BlockSummary
from ..diagnostics import short_list
from .glm_kernel import linear_predictor
from .pqn import ALL_ZERO_WEIGHTS, DataSums, sums_block


@dataclass
class FoldSums(BlockSummary):
    """First-pass sums filed by fold: ``folds`` maps a fold to its :class:`DataSums`
    (added by fold over the blocks)."""

    folds: dict = field(default_factory=dict)


@dataclass
class HeldOut(BlockSummary):
    """Held-out deviance by fold: fold -> deviance of every alpha (added by fold)."""

    deviance: dict = field(default_factory=dict)


def fold_sums_block(X, y, m, *, family, fit_intercept, fold_of, block_index,
                    offset=None) -> FoldSums:
    """The block's first-pass sums (:func:`~.pqn.sums_block`), filed under its fold."""
    s = sums_block(X, y, m, family=family, fit_intercept=fit_intercept, validate=True,
                   block_index=block_index, offset=offset)
    if s.problems:
        return FoldSums(problems=s.problems)
    return FoldSums(folds={int(fold_of[block_index]): s})


def heldout_block(X, y, m, thetas, *, family, fit_intercept, fold_of, block_index,
                  offset=None):
    """Deviance of the block under its fold's path (every alpha at once: one GEMM)."""
    xp = get_namespace(X)
    T = thetas[int(fold_of[block_index])]          # (n_alphas, k)
    E = linear_predictor(X, T.T, fit_intercept, xp, offset)
    ok = family.valid_eta(E)
    E = xp.where(ok, E, xp.zeros_like(E))
    mu = family.link.inverse(E)
    yt = xp.asarray(y, dtype=X.dtype)[:, None]
    ud = family.unit_deviance(yt, mu)
    if m is not None:
        mt = xp.asarray(m, dtype=X.dtype)[:, None]
        ud = xp.where(mt > 0, mt * ud, xp.zeros_like(ud))
    ud = xp.where(ok, ud, xp.zeros_like(ud) + np.inf)
    return HeldOut(deviance={int(fold_of[block_index]): to_host(xp.sum(ud, axis=0))})




def fold_sums(s: FoldSums, fold_of, n_folds: int) -> list[DataSums]:
    """Every fold's own sums from the summary of :func:`fold_sums_block` (checked: the
    blocks' problems, and every fold has rows with positive weight); the training sums
    of fold f are ``sum(folds) - folds[f]``."""
    s.problems.raise_if_any()
    if not sum(f.weight for f in s.folds.values()) > 0:
        raise ValueError(ALL_ZERO_WEIGHTS)
    for f in range(n_folds):
        if f not in s.folds or not s.folds[f].weight > 0:
            blocks = short_list(np.flatnonzero(fold_of == f).tolist())
            raise ValueError(
                f"cross-validation fold {f} (row blocks {blocks}) has no rows with positive "
                "weight (its blocks are empty or all their sample weights are 0): nothing "
                "to validate on. Rechunk the dask input, or lower cv."
            )
    return [s.folds[f] for f in range(n_folds)]
