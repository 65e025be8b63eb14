"""The regularisation path of the PQN-fitted penalised GLMs: every alpha of a decreasing
sequence fitted in turn over the row blocks, each warm-started from the previous
solution (its loss, gradient and information are already known, so no start round is
needed), like scikit-learn's ``enet_path``; the default alpha grid; the effective
degrees of freedom of an elastic-net solution.

Used by :func:`~dask_glmdist.estimators.penalized_path.penalized_glm_path`,
:class:`~dask_glmdist.estimators.penalized_path.PenalizedGLMCV` and
:class:`~dask_glmdist.estimators.penalized_logistic_cv.PenalizedLogisticRegressionCV`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._progress import report
from ..rounds import RoundEngine
from .ancillary import ALPHA_FLOOR
from .pqn import (
    DataSums,
    Penalty,
    PQNResult,
    constant_mean_state,
    data_sums,
    fit_pqn,
    penalty_scale,
)

__all__ = ["GLMPath", "alpha_grid", "effective_df", "path_on_blocks"]


@dataclass
class GLMPath:
    """Solutions along a decreasing sequence of alphas.

    The return value of :func:`penalized_glm_path`, not an estimator (no ``fit`` or
    ``predict``, so no trailing underscores): its per-alpha ``deviance``, ``n_iter``,
    ``n_rounds`` and ``converged`` mean what ``deviance_``, ``n_iter_``, ``n_rounds_``
    and ``converged_`` mean for one fit, and ``n_pos`` is ``n_obs_``
    (docs/contract.md).

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        Decreasing.
    coef : ndarray of shape (n_alphas, n_features)
    intercept : ndarray of shape (n_alphas,)
        Zeros without intercept.
    objective, deviance, pearson : ndarray of shape (n_alphas,)
        Objective, deviance and Pearson statistic at each solution.
    df : ndarray of shape (n_alphas,)
        Effective degrees of freedom: the parameters off zero and off the box bound
        for the lasso; for the elastic net the trace of the ridge-shrunk hat matrix
        over those parameters, ``tr((A + S l2)^-1 A)``.
    n_iter, n_rounds : ndarray of int, shape (n_alphas,)
        Iterations and rounds over the data for each alpha (the first pass of sums is
        counted once, with the first alpha).
    converged : ndarray of bool, shape (n_alphas,)
    kkt : ndarray of shape (n_alphas,)
        Largest KKT violation at each solution, per standardised coefficient (as
        ``PenalizedGLM.kkt_violation_``).
    n_obs : int
    weight_sum : float
    n_pos : int
        Rows with positive weight.
    messages : list of str
        Why the fit at each alpha stopped without converging ("" when it converged).
    runaway : list
        Per alpha, None, or (when the estimate does not exist there) per parameter
        +1/-1 for those that run off to +-inf and 2 for those the data do not
        determine (``[intercept, *coef]`` order).
    ancillary : ndarray of shape (n_alphas,) or None
        A family whose ancillary parameter is estimated (``family="negative_binomial"``):
        its estimate at each alpha (re-estimated along the path, warm-started from the
        previous one; solvers/pqn_ancillary.py); None otherwise.

    See Also
    --------
    penalized_glm_path : Computes it.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import penalized_glm_path
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(2000, 4))
    >>> y = X[:, 0] + rng.normal(size=2000)
    >>> path = penalized_glm_path(X, y, family="gaussian", alphas=[0.5, 0.1])
    >>> path.coef.shape, bool(path.converged.all())
    ((2, 4), True)
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    objective: np.ndarray
    deviance: np.ndarray
    pearson: np.ndarray
    df: np.ndarray
    n_iter: np.ndarray
    n_rounds: np.ndarray
    converged: np.ndarray
    kkt: np.ndarray
    n_obs: int
    weight_sum: float
    n_pos: int
    states: list | None = None
    messages: list | None = None
    runaway: list | None = None
    ancillary: np.ndarray | None = None


def alpha_grid(sums: DataSums, family, fit_intercept, l1_ratio, n_alphas, eps,
               scale=None) -> np.ndarray:
    """``n_alphas`` log-spaced alphas from ``alpha_max`` down to ``eps * alpha_max``.

    ``alpha_max = max_j |dF/dcoef_j| / (s_j l1_ratio)`` at the intercept-only fit, the
    smallest alpha whose lasso solution is all zero (scikit-learn's convention; an
    ``l1_ratio`` below 1e-3 is treated as 1e-3 here); ``s = scale`` are the penalty
    factors (1 when None; the standard deviations with ``standardize=True``). It is
    raised by a relative 1e-13, so that the gradient of a later pass, summed in another
    order (another grouping of the row blocks), cannot exceed it by rounding: the
    first alpha's coefficients are exactly zero. With an estimated ancillary parameter
    (NB alpha) the gradient is taken at its lower bound :data:`~.ancillary.ALPHA_FLOOR`:
    at a constant mean the NB2 score is the Poisson one over ``1 + alpha mu``, largest
    as ``alpha -> 0``, so that ``alpha_max`` holds for every estimate of NB alpha.
    """
    if family.ancillary_estimated:
        family = family.with_ancillary(ALPHA_FLOOR)
    state = constant_mean_state(sums, family, fit_intercept)
    if state is None:
        raise ValueError(
            "the default alpha grid needs the intercept-only fit, whose mean is outside "
            f"the {family.name} family's range here; pass alphas explicitly"
        )
    grad = state.score[int(fit_intercept):] / sums.weight
    if scale is not None:
        grad = grad / scale[int(fit_intercept):]
    alpha_max = float(np.max(np.abs(grad), initial=0.0)) / max(float(l1_ratio), 1e-3)
    alpha_max *= 1.0 + 1e-13
    if alpha_max <= 0:
        alpha_max = 1.0
    return np.geomspace(alpha_max, alpha_max * eps, n_alphas)


def effective_df(theta, information, pen: Penalty, S, fit_intercept) -> float:
    """Parameters off zero and off the bound, shrunk by the ridge part (GLMPath.df)."""
    free = (theta != 0) | (pen.l1 == 0)
    free &= ~(np.isfinite(pen.bound) & (np.abs(theta) >= pen.bound * (1 - 1e-12)))
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return 0.0
    if not np.any(pen.l2[idx] > 0):
        return float(idx.size)
    A = information[np.ix_(idx, idx)]
    M = A + S * np.diag(pen.l2[idx])
    try:
        return float(np.trace(np.linalg.solve(M, A)))
    except np.linalg.LinAlgError:
        return float(idx.size)


def path_on_blocks(engine: RoundEngine, family, alphas, *, l1_ratio, max_abs_coef,
                   fit_intercept, tol, max_iter, sums: DataSums | None = None,
                   label="path", keep_states=False, stop_at=None, standardize=False,
                   since: int | None = None) -> GLMPath:
    """Fit every alpha in turn (decreasing), each warm-started from the last solution.

    ``stop_at``: stop after this alpha (for a refit down to a chosen alpha).
    ``standardize``: the penalty factors are the standard deviations of the columns
    over ``engine.data`` (a fold's training blocks: its own, as glmnet's ``cv.glmnet``).
    ``n_rounds`` per alpha: the engine's rounds for it, the first alpha's counted from
    ``since`` (an engine count; default: now).
    """
    since = engine.count if since is None else since
    if sums is None:
        sums = data_sums(engine, family, fit_intercept=fit_intercept, validate=True)
    p = engine.data.n_features
    scale = penalty_scale(sums, fit_intercept, standardize)
    out: dict = {k: [] for k in ("theta", "objective", "deviance", "pearson", "df",
                                  "n_iter", "n_rounds", "converged", "kkt", "state",
                                  "message", "runaway", "ancillary")}
    warm = None
    for i, alpha in enumerate(alphas):
        pen = Penalty.elastic_net(p, alpha, l1_ratio, max_abs_coef, fit_intercept, scale)
        report(alpha=(i + 1, len(alphas), float(alpha)))
        res: PQNResult = fit_pqn(engine, family, pen, fit_intercept=fit_intercept, tol=tol,
                                 max_iter=max_iter, sums=sums, warm=warm,
                                 label=f"{label} alpha[{i}]")
        warm = res.state
        out["theta"].append(res.theta)
        out["objective"].append(res.objective)
        out["deviance"].append(res.state.deviance)
        out["pearson"].append(res.state.pearson)
        out["df"].append(effective_df(res.theta, res.state.information, pen, sums.weight,
                                      fit_intercept))
        out["n_iter"].append(res.n_iter)
        out["n_rounds"].append(engine.count - since)
        since = engine.count
        out["converged"].append(res.converged)
        out["kkt"].append(res.kkt)
        out["state"].append(res.state)
        out["message"].append("" if res.converged else res.message)
        out["runaway"].append(res.runaway)
        out["ancillary"].append(res.ancillary)
        if stop_at is not None and i >= stop_at:
            break
    theta = np.asarray(out["theta"])
    fi = int(fit_intercept)
    return GLMPath(
        alphas=np.asarray(alphas[: theta.shape[0]], dtype=np.float64),
        coef=theta[:, fi:],
        intercept=theta[:, 0] if fi else np.zeros(theta.shape[0]),
        objective=np.asarray(out["objective"]), deviance=np.asarray(out["deviance"]),
        pearson=np.asarray(out["pearson"]), df=np.asarray(out["df"]),
        n_iter=np.asarray(out["n_iter"]), n_rounds=np.asarray(out["n_rounds"]),
        converged=np.asarray(out["converged"]), kkt=np.asarray(out["kkt"]), n_obs=sums.n_obs,
        weight_sum=sums.weight, n_pos=sums.n_pos,
        states=out["state"] if keep_states else None, messages=out["message"],
        runaway=out["runaway"],
        ancillary=np.asarray(out["ancillary"], dtype=np.float64)
        if family.ancillary_estimated else None,
    )
