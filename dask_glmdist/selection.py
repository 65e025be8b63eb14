"""Adaptive-lasso selection on the least-squares approximation, with DBIC / DAIC.

Given an unpenalised estimate ``theta~`` with information ``M`` (the inverse of its
covariance, i.e. the *summed* information, not a per-observation average), the
shrinkage DLSA estimator (Zhu, Li & Wang, eq. 3.1 and 3.4) solves

    theta_lambda = argmin  (theta - theta~)^T M (theta - theta~)
                           + lambda * sum_j |theta_j| / |theta~_j|

with the intercept unpenalised (and any parameter named in ``unpenalized``: DLSA's
infinite or unidentified ones, which shrinkage must not move). The intercept is
profiled out of the quadratic form: for fixed slopes beta its optimum is
``theta_0 = theta~_0 - M_00^{-1} M_0b (beta - beta~)``, leaving the Schur complement
``S = M_bb - M_b0 M_00^{-1} M_0b``. With ``beta_j = |beta~_j| gamma_j`` the problem is a
plain lasso in gamma with Gram ``D S D`` and correlation ``D S beta~`` (D = diag|beta~|),
whose whole path LARS gives from these p x p matrices alone; no data pass is needed.

The path is scored by

    DBIC(lambda) = (theta_lambda - theta~)^T M (theta_lambda - theta~) + log(N) * df_lambda
    DAIC(lambda) = (theta_lambda - theta~)^T M (theta_lambda - theta~) + 2 * df_lambda

(df = number of non-zero slopes plus the intercept). Because M is the summed
information, a spurious variable costs log N and dropping a true one costs O(N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import lars_path_gram

from .linalg import PSDFactor, inv_psd

__all__ = ["AdaptiveLassoPath", "adaptive_lasso_path"]


@dataclass
class AdaptiveLassoPath:
    """The adaptive-lasso path of an approximated likelihood.

    Attributes
    ----------
    alphas : ndarray of shape (n_knots,)
        Penalty levels lambda at the knots of the path, decreasing (last is 0 for
        ``method="lasso"``), on the scale of the objective in the module docstring.
    coef_path : ndarray of shape (n_knots, n_params)
        ``theta_lambda`` at each knot, intercept first when fitted.
    criterion : ndarray of shape (n_knots,)
        DBIC or DAIC along the path.
    df : ndarray of shape (n_knots,)
    best_index : int
        Knot minimising the criterion (the sparsest among ties).
    """

    alphas: np.ndarray
    coef_path: np.ndarray
    criterion: np.ndarray
    df: np.ndarray
    best_index: int
    theta_tilde: np.ndarray
    information: np.ndarray
    fit_intercept: bool
    method: str

    def coef_at(self, alpha: float) -> np.ndarray:
        """``theta_lambda`` for any lambda >= 0 (the lasso path is piecewise linear)."""
        if self.method != "lasso":
            raise ValueError("coef_at needs the lasso path (lars_method='lasso')")
        alphas = self.alphas
        if alpha >= alphas[0]:
            return self.coef_path[0].copy()
        if alpha <= alphas[-1]:
            return self.coef_path[-1].copy()
        i = int(np.searchsorted(-alphas, -alpha, side="right"))
        a0, a1 = alphas[i - 1], alphas[i]
        frac = (a0 - alpha) / (a0 - a1)
        return (1.0 - frac) * self.coef_path[i - 1] + frac * self.coef_path[i]


def _split(theta, M, unpenalized):
    """The penalised parameters' estimate, the Schur complement of the unpenalised ones in
    ``M``, and the profile ``M_uu^{-1} M_up`` (``None`` when all are penalised)."""
    pen = np.array([j for j in range(len(theta)) if j not in unpenalized], dtype=int)
    if not len(unpenalized):
        return pen, theta, M, None
    unp = np.asarray(unpenalized, dtype=int)
    M_up = M[np.ix_(unp, pen)]
    profile = PSDFactor(M[np.ix_(unp, unp)]).solve(M_up)
    return pen, theta[pen], M[np.ix_(pen, pen)] - M_up.T @ profile, profile


def _lasso_knots(beta_t, S, method):
    """Knots of the adaptive-lasso path in the penalised parameters: ``(alphas, betas)``."""
    p = beta_t.shape[0]
    active = np.abs(beta_t) > 0
    if not active.any():
        return np.zeros(1), np.zeros((1, p))
    D = np.abs(beta_t[active])
    gram = D[:, None] * S[np.ix_(active, active)] * D[None, :]
    xy = D * (S[np.ix_(active, active)] @ beta_t[active])
    # lars_path_gram minimises 1/(2 n) ||y - X g||^2 + a ||g||_1 with n = n_samples;
    # with n_samples = 1 our objective (twice that) has lambda = 2 a.
    alphas, _, gamma = lars_path_gram(
        Xy=xy, Gram=gram, n_samples=1, method=method, alpha_min=0.0, max_iter=10 * p + 10,
        eps=np.finfo(float).eps,
    )
    betas = np.zeros((gamma.shape[1], p))
    betas[:, active] = (D[:, None] * gamma).T
    return 2.0 * np.asarray(alphas), betas


def adaptive_lasso_path(
    theta_tilde: np.ndarray,
    information: np.ndarray,
    n_obs: int,
    *,
    fit_intercept: bool = True,
    method: str = "lasso",
    criterion: str = "dbic",
    unpenalized=(),
) -> AdaptiveLassoPath:
    """Whole adaptive-lasso path of the quadratic approximation, scored by DBIC/DAIC.

    The intercept (when fitted) and the parameters in ``unpenalized`` are not shrunk:
    they are profiled out of the quadratic form (for fixed penalised parameters their
    optimum is ``theta~_u - M_uu^{-1} M_up (beta - beta~)``). ``n_obs`` is the N of
    log N (the rows with positive weight).
    """
    theta_tilde = np.asarray(theta_tilde, dtype=float)
    M = np.asarray(information, dtype=float)
    M = 0.5 * (M + M.T)
    unp = sorted({0} | set(unpenalized) if fit_intercept else set(unpenalized))
    pen, beta_t, S, profile = _split(theta_tilde, M, unp)
    alphas, betas = _lasso_knots(beta_t, S, method)
    path = np.tile(theta_tilde, (betas.shape[0], 1))
    path[:, pen] = betas
    if profile is not None:
        path[:, unp] = theta_tilde[unp] - (betas - beta_t) @ profile.T
    delta = betas - beta_t
    quad = np.einsum("ij,jk,ik->i", delta, S, delta)
    df = (betas != 0).sum(axis=1) + len(unp)
    penalty = np.log(n_obs) if criterion == "dbic" else 2.0
    crit = quad + penalty * df
    best = int(np.flatnonzero(crit <= crit.min() + 1e-12 * max(1.0, abs(crit.min())))[0])
    return AdaptiveLassoPath(
        alphas=alphas,
        coef_path=path,
        criterion=crit,
        df=df,
        best_index=best,
        theta_tilde=theta_tilde,
        information=M,
        fit_intercept=fit_intercept,
        method=method,
    )


def oracle_covariance(information: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Covariance of the estimate restricted to ``selected`` parameters (zeros elsewhere).

    The adaptive lasso with a consistent criterion has the oracle property: on the
    selected support it is asymptotically the unpenalised fit of the true model, whose
    covariance is the inverse of the information restricted to that support.
    """
    k = information.shape[0]
    cov = np.zeros((k, k))
    idx = np.flatnonzero(selected)
    if idx.size:
        cov[np.ix_(idx, idx)] = inv_psd(information[np.ix_(idx, idx)])
    return cov
