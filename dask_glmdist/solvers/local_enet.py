"""Elastic-net GLM fit on one row block: proximal Newton with coordinate descent.

Runs inside a block function. The objective is the block's *averaged* negative
log-likelihood (dispersion 1) plus statsmodels' elastic-net penalty,

    F(theta) = D(theta) / (2 S) + sum_j l2_j theta_j^2 / 2 + sum_j l1_j |theta_j|,

where D is the deviance (``-2 loglik`` up to a constant), ``S`` the number of rows
(or the sum of the prior weights), ``l1 = alpha * l1_ratio`` and
``l2 = alpha * (1 - l1_ratio)`` (0 for the intercept). Each iteration forms the
score ``X~^T r`` and information ``A = X~^T W X~`` of the block (one tiled pass,
:func:`dask_glmdist.solvers.local.evaluate`), minimises the penalised quadratic model

    g^T d + d^T H d / 2 + sum_j l1_j |theta_j + d_j|,   g = -X~^T r / S + l2 theta,
                                                        H = A / S + diag(l2),

by coordinate descent on the p x p matrix H, and takes the largest step
``t = 2^-i`` along d that satisfies the Armijo condition
``F(theta + t d) <= F(theta) + 1e-4 t Delta``, ``Delta = g^T d + l1^T(|theta + d| - |theta|)``
(proximal Newton; Lee, Sun & Saunders 2014). The loss along d costs one product
``X~ d`` and then O(n) per trial. With the gaussian identity model the quadratic model
is exact: one pass forms ``X~^T M X~``, ``X~^T M y`` and ``y^T M y`` (``M`` the prior
weights) and the problem is solved on those p x p sums alone.

The penalised minimiser need not exist when some parameters are unpenalised (the
intercept; any feature with ``alpha_j = 0``): if the response is at the edge of the
family's range throughout the block (binomial y all 0 or all 1, Poisson y all 0) the
loss keeps decreasing as the intercept runs to -inf/+inf, and with separation along
unpenalised coefficients likewise. The fit then reports ``exists=False`` with the
reason instead of returning the point where it stopped: checked before iterating
(a constant boundary response with a fitted intercept) and while iterating (the same
rule as :func:`dask_glmdist.solvers.local.fit_local`: for three iterations the
objective stalls while the linear predictor of some row still moves by more than 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._array import get_namespace, to_host
from .glm_kernel import least_squares_fit, least_squares_sums, linear_predictor
from .gram_cd import MAX_SWEEPS, lasso_cd
from .local import _start, evaluate

__all__ = ["EnetFit", "fit_local_enet"]

ARMIJO = 1e-4


@dataclass
class EnetFit:
    """Result of a block's penalised fit (all host NumPy).

    ``gradient`` is the gradient of the smooth part of F at ``theta`` (averaged loss
    plus ridge); ``information`` is the unscaled ``X~^T W X~`` at ``theta``.
    """

    theta: np.ndarray
    gradient: np.ndarray
    information: np.ndarray
    weight_sum: float
    objective: float
    n_iter: int
    converged: bool
    xy: np.ndarray | None = None   # gaussian identity: X~^T M y
    yy: float | None = None        # and y^T M y
    exists: bool = True            # False: the penalised minimiser is at infinity
    message: str = ""              # why it does not exist
    constant_y: float | None = None  # y's value when it is one edge value throughout


def _penalised(dev, theta, S, l1, l2):
    return dev / (2.0 * S) + 0.5 * float(l2 @ (theta * theta)) + float(l1 @ np.abs(theta))


def fit_local_enet(X, y, m, family, l1, l2, *, fit_intercept: bool, tol: float = 1e-8,
                   max_iter: int = 100, cd_tol: float | None = None,
                   offset=None, xp=None) -> EnetFit:
    """Minimise the block's penalised averaged loss F (module docstring).

    Converged when the proximal Newton step satisfies
    ``max |d| <= tol * (1 + max |theta|)``; the returned gradient and information are
    evaluated at the returned ``theta``. ``offset``: added to the linear predictor (the
    least-squares case fits ``y - offset``, exactly the same problem). ``xp``: the
    block's array namespace, when the caller has it.
    """
    xp = get_namespace(X) if xp is None else xp
    l1 = np.asarray(l1, dtype=np.float64)
    l2 = np.asarray(l2, dtype=np.float64)
    cd_tol = tol * 1e-3 if cd_tol is None else cd_tol
    if family.least_squares:
        y = y if offset is None else y - offset
        return _fit_least_squares(X, y, m, l1, l2, fit_intercept, cd_tol, xp)
    S = float(X.shape[0]) if m is None else float(xp.sum(m))
    if not S > 0:
        raise ValueError("the sample weights of this row block sum to 0")
    workspace: dict = {}
    start = _enet_start(X, y, m, family, l1.shape[0], S, fit_intercept, xp, workspace, offset)
    if isinstance(start, EnetFit):  # no minimiser: the response is at its edge
        return start
    theta, state = start
    F = _penalised(state.deviance, theta, S, l1, l2)
    converged = False
    flat = 0
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        g = -state.score / S + l2 * theta
        H = state.information / S
        H[np.diag_indices_from(H)] += l2
        x, _sweeps = lasso_cd(H, H @ theta - g, l1, x0=theta, tol=cd_tol)
        d = x - theta
        if np.max(np.abs(d)) <= tol * (1.0 + np.max(np.abs(theta))):
            converged = True
            break
        delta = float(g @ d) + float(l1 @ (np.abs(x) - np.abs(theta)))
        Xd = linear_predictor(X, d, fit_intercept, xp)
        accepted = _line_search(X, y, m, family, state, theta, d, Xd, delta, F, S, l1, l2, xp)
        if accepted is None:  # no decrease along d: at the optimum to rounding
            converged = True
            break
        cand, eta, mu, Fc = accepted
        # the objective has stalled but the linear predictor still moves by O(1) on
        # some rows: it runs off to infinity along an unpenalised direction
        stalled = abs(F - Fc) <= tol * (abs(Fc) + 0.1)
        moving = float(xp.max(xp.abs(eta - state.eta))) > 0.1
        flat = flat + 1 if (stalled and moving) else 0
        theta, F = cand, Fc
        state = evaluate(X, y, m, theta, family, fit_intercept, eta=eta, mu=mu,
                         workspace=workspace, offset=offset)
        if flat >= 3 or not np.all(np.isfinite(theta)):
            return _no_minimiser(
                theta.shape[0], S,
                "the penalised loss keeps decreasing along unpenalised coefficients "
                "(separation, or a response at the edge of its range): the local "
                "estimate is at infinity", n_iter)
    gradient = -state.score / S + l2 * theta
    return EnetFit(theta=theta, gradient=gradient, information=state.information,
                   weight_sum=S, objective=F, n_iter=n_iter, converged=converged)


def _enet_start(X, y, m, family, k, S, fit_intercept, xp, workspace, offset):
    """The starting ``(theta, state)``: the intercept at the link of the weighted mean
    response (less the mean offset), slopes 0; IRLS from the family's starting means
    when that mean is invalid for the link. An :class:`EnetFit` without a minimiser
    when the response sits at the edge of the family's range in every row."""
    theta = np.zeros(k)
    if fit_intercept:
        ybar = float(xp.sum(y if m is None else m * y)) / S
        mu0 = xp.asarray([ybar], dtype=X.dtype)
        if not bool(xp.all(family.valid_mu(mu0))):  # an all-0 (or all-1) response
            fit = _no_minimiser(
                k, S,
                f"y is {ybar:g} in every row (the edge of the {family.name} family's range), "
                f"so the unpenalised intercept runs to {'-' if ybar <= 0 else '+'}infinity")
            fit.constant_y = ybar
            return fit
        theta[0] = float(to_host(family.link.link(mu0))[0])
        if offset is not None:  # the mean offset moves the start's intercept
            theta[0] -= float(xp.sum(offset if m is None else m * offset)) / S
    state = evaluate(X, y, m, theta, family, fit_intercept, workspace=workspace,
                     offset=offset)
    if state is None:  # the mean at zero coefficients is invalid for this link
        state = _start(X, y, m, family, fit_intercept, xp, workspace, offset)
        if state is None:
            raise ValueError(
                f"no valid starting value for the {family.name} model with the "
                f"{family.link.name} link on this block"
            )
        theta = state.theta
    return theta, state


def _line_search(X, y, m, family, state, theta, d, Xd, delta, F, S, l1, l2, xp):
    """The largest ``t = 2^-i`` meeting the Armijo condition: ``(theta, eta, mu, F)``
    there, or None when no step decreases F."""
    t = 1.0
    for _half in range(60):
        eta = state.eta + t * Xd
        if bool(xp.all(family.valid_eta(eta))):
            mu = family.link.inverse(eta)
            dev = float(family.deviance(y, mu, m))
            if np.isfinite(dev):
                cand = theta + t * d
                Fc = _penalised(dev, cand, S, l1, l2)
                if Fc <= F + ARMIJO * t * delta + 1e-13 * (abs(F) + 1.0):
                    return cand, eta, mu, Fc
        t *= 0.5
    return None


def _no_minimiser(p: int, S: float, message: str, n_iter: int = 0) -> EnetFit:
    """The result of a block whose penalised minimiser does not exist."""
    zeros = np.zeros(p)
    return EnetFit(theta=zeros, gradient=zeros, information=np.zeros((p, p)), weight_sum=S,
                   objective=float("nan"), n_iter=n_iter, converged=False, exists=False,
                   message=message)


def _fit_least_squares(X, y, m, l1, l2, fit_intercept, cd_tol, xp) -> EnetFit:
    """The gaussian identity case from one pass: the sums ``X~^T M X~``, ``X~^T M y``,
    ``y^T M y`` determine the objective, its minimiser and the gradient exactly."""
    sums = least_squares_sums(X, y, m, fit_intercept, xp)
    A, xy, yy, S = sums["gram"], sums["gy"], sums["yy"], sums["weight"]
    H = A / S
    H[np.diag_indices_from(H)] += l2
    theta, sweeps = lasso_cd(H, xy / S, l1, tol=cd_tol)
    rss, gradient = least_squares_fit(A, xy, yy, S, l2, theta)
    return EnetFit(theta=theta, gradient=gradient, information=A, weight_sum=S,
                   objective=_penalised(rss, theta, S, l1, l2), n_iter=1,
                   converged=sweeps < MAX_SWEEPS, xy=xy, yy=yy)
