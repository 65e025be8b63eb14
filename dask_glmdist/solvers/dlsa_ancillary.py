"""DLSA with the family's ancillary parameter estimated (NB2's ``alpha``).

The DLSA estimator of :mod:`dask_glmdist.estimators.dlsa` with ``t = log(alpha)`` as
one more coordinate: every block estimates ``(beta_k, t_k)`` by maximum likelihood and
returns the joint *observed* information ``H_k`` of ``(beta, t)`` at its estimate and
``H_k (beta_k, t_k)``; the master solves ``(sum_k H_k) theta = sum_k H_k theta_k`` (the
paper's WLSE, eq. 2.2, in ``p + 1`` coordinates); a refinement round is one joint Newton
step of ``(beta, t)`` on the global log-likelihood from the blocks' scores and observed
informations at the current estimate, so that ``refine_steps`` to convergence reaches
the global maximum likelihood estimate.

**Why log(alpha).** The WLSE is the maximiser of the sum of the blocks' quadratic
(second-order Taylor) approximations of their log-likelihoods; its distance from the
global MLE is driven by how far from quadratic those are. In ``alpha`` the NB
log-likelihood is strongly skewed (``alpha > 0``; the curvature falls steeply as
``alpha`` grows); in ``log(alpha)`` it is close to quadratic -- Stata's ``nbreg``
maximises in ``ln(alpha)`` and reports its Wald interval there for that reason, and
the package's IWLS update (:mod:`~dask_glmdist.solvers.ancillary`) steps in it. The
log scale also keeps the combined ``alpha`` positive without a constraint, and it
decides what a block without overdispersion contributes (below). Measured on the
test designs: ``docs/dlsa.md``.

**A block without overdispersion** (its local ``alpha`` runs to 0: the Poisson limit)
is held at :data:`~dask_glmdist.solvers.ancillary.ALPHA_FLOOR` with its coefficients
at the (then Poisson) local MLE; its information on ``t`` there, ``-alpha S`` with
``S < 0`` the ``alpha``-score at the floor, is of the order of the floor: the block
carries its full information on ``beta`` and, to rounding, none on ``alpha``. It
cannot drag the combined ``alpha`` to the floor (which a finite information at
``alpha = 0`` in the ``alpha`` scale would, with ``log`` of it unbounded); the price
is that the one-round ``alpha`` rests on the blocks that do show overdispersion. The
blocks are named in an :class:`~dask_glmdist.solvers.ancillary.AncillaryBoundaryWarning`;
the refinement rounds, on the global likelihood, take all rows into account. A block
whose local ML fit separates (Firth fallback) carries no information on ``alpha``
either (its ``alpha`` is not identified where the means run to 0).

**Standard errors** (the conventions of :class:`~dask_glmdist.BiasReducedGLM` and R's
``glm.nb``): the coefficients' covariance is the inverse of the combined *expected*
information of ``beta`` at the estimated ``alpha`` -- the exact ``beta`` block of the
inverse joint expected information, since NB2's ``beta`` and ``alpha`` are orthogonal
in expected information (the cross term ``E[-mu (y - mu) / (1 + alpha mu)^2] = 0``);
``alpha``'s is statsmodels'/Stata's, from the combined joint *observed* information,
``se(alpha) = alpha se(t)`` (exact at the MLE, where the ``t``-score is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._array import get_namespace
from ..linalg import PSDFactor
from .ancillary import ALPHA_FLOOR, MAX_LOG_STEP, START, ancillary_sums, at_floor, next_ancillary
from .local import evaluate, fit_local

__all__ = ["JointEstimate", "combine_joint", "fit_local_ancillary", "joint_information",
           "joint_step", "profiled_information", "refined_joint", "select_alpha", "t_se"]

#: Newton steps of the profile in ``log(alpha)`` at fixed coefficients, per local round
_PROFILE_STEPS = 50
#: alternations (coefficients at fixed alpha, alpha at fixed coefficients) of a local fit
_MAX_ALTERNATIONS = 100


def _loglik(family, alpha, y, mu, m) -> float:
    return float(family.with_ancillary(alpha).loglik(y, mu, m, scale=1.0))


def profile_alpha(family, y, mu, m, alpha: float, tol: float) -> float:
    """The maximiser in ``alpha`` of the block's log-likelihood at fixed means ``mu``:
    Newton steps in ``log(alpha)`` (:func:`~.ancillary.next_ancillary`), halved until the
    log-likelihood does not fall; held at the floor when it keeps rising towards 0."""
    ll = _loglik(family, alpha, y, mu, m)
    for _ in range(_PROFILE_STEPS):
        sums = ancillary_sums(family.with_ancillary(alpha), y, mu, m)
        new = next_ancillary(sums, alpha)
        for _half in range(30):
            cand = _loglik(family, new, y, mu, m)
            if np.isfinite(cand) and cand >= ll - 1e-12 * (abs(ll) + 1.0):
                break
            new = math.sqrt(alpha * new)  # half the step in log(alpha)
        else:
            return alpha
        done = abs(math.log(new / alpha)) <= tol or (at_floor(new) and at_floor(alpha))
        alpha, ll = new, cand
        if done:
            break
    return alpha


def fit_local_ancillary(X, y, m, family, *, fit_intercept, tol, max_iter, offset=None):
    """The block's maximum likelihood estimate of ``(beta, alpha)``: the coefficients by
    the safeguarded local Fisher scoring at fixed ``alpha``
    (:func:`~dask_glmdist.solvers.local.fit_local`, warm-started), ``alpha`` by its
    profile at fixed coefficients, alternated until both settle (the two are nearly
    orthogonal, so a few alternations do).

    Returns ``(fit, alpha)``: the :class:`~.local.LocalFit` at ``alpha`` (the family
    fixed there) and ``alpha``, or ``None`` for ``alpha`` when the ML fit at the starting
    value separates (no local ``alpha``; the caller falls back as for any family).
    """
    fam = family.with_ancillary(START)
    fit = fit_local(X, y, m, fam, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                    offset=offset)
    if not fit.mle_exists:
        return fit, None
    alpha, first = START, True
    for _ in range(_MAX_ALTERNATIONS):
        mu = evaluate(X, y, m, fit.theta, fam, fit_intercept, with_info=False,
                      offset=offset).mu
        if first:  # the moment estimate at the first fitted means, then the profile
            alpha = next_ancillary(ancillary_sums(fam, y, mu, m), alpha, first=True)
            first = False
        new = profile_alpha(family, y, mu, m, alpha, tol)
        fam = family.with_ancillary(new)
        old = fit.theta
        fit = fit_local(X, y, m, fam, fit_intercept=fit_intercept, tol=tol,
                        max_iter=max_iter, theta0=old, offset=offset)
        moved = float(np.max(np.abs(fit.theta - old)))
        settled = abs(math.log(new / alpha)) <= tol or (at_floor(new) and at_floor(alpha))
        alpha = new
        if not fit.mle_exists or (settled and moved <= tol * (1.0 + np.max(np.abs(old)))):
            break
    return fit, alpha


def joint_information(X, y, m, theta, family, alpha: float, fit_intercept: bool,
                      offset=None) -> tuple[np.ndarray, np.ndarray]:
    """The observed information of ``(beta, t = log alpha)`` of a block at ``(theta,
    alpha)`` and the score there (host arrays of size ``p + 1``)."""
    xp = get_namespace(X)
    fam = family.with_ancillary(alpha)
    state = evaluate(X, y, m, theta, fam, fit_intercept, offset=offset)
    s = ancillary_sums(fam, y, state.mu, m, X, fit_intercept=fit_intercept, xp=xp, joint=True)
    return _in_log_alpha(s, alpha), np.r_[state.score, alpha * s["score"]]


def _in_log_alpha(s: dict, alpha: float) -> np.ndarray:
    """The observed information of ``(beta, log alpha)`` from the sums of
    :func:`~.ancillary.ancillary_sums` (``joint=True``) at ``alpha``."""
    k = s["obs_gram"].shape[0]
    J = np.zeros((k + 1, k + 1))
    J[:k, :k] = s["obs_gram"]
    J[:k, k] = J[k, :k] = -alpha * np.asarray(s["cross"], dtype=np.float64)
    J[k, k] = -(alpha * alpha * s["hess"] + alpha * s["score"])
    return J


@dataclass
class JointEstimate:
    """The combined ``(beta, alpha)``, the joint observed information of
    ``(beta, log alpha)`` it rests on, and ``alpha``'s standard error."""

    beta: np.ndarray
    alpha: float
    information: np.ndarray
    se: float = float("nan")


def alpha_se(J: np.ndarray, alpha: float) -> float:
    """``alpha se(log alpha)`` from the joint observed information ``J`` (``log alpha``
    last); NaN on the boundary or where ``J`` is not positive definite there."""
    return float("nan") if at_floor(alpha) else alpha * t_se(J)


def _schur_t(J: np.ndarray) -> float:
    """The information on ``log alpha`` with the coefficients profiled out."""
    b = J[:-1, -1]
    try:
        return float(J[-1, -1] - b @ np.linalg.solve(J[:-1, :-1], b))
    except np.linalg.LinAlgError:
        return float("nan")


def combine_joint(J: np.ndarray, Jtheta: np.ndarray) -> JointEstimate:
    """The WLSE ``J^{-1} Jtheta`` in ``(beta, log alpha)``, by eliminating ``log alpha``
    (its information is of the order of the floor when every block is on the boundary:
    the solve stays exact where a factor of the whole ``J`` would call it singular)."""
    Jbb, b, rb, rt = J[:-1, :-1], J[:-1, -1], Jtheta[:-1], Jtheta[-1]
    factor = PSDFactor(Jbb)
    u, v = factor.solve(b), factor.solve(rb)
    s = J[-1, -1] - float(b @ u)
    t = (rt - float(b @ v)) / s if s > 0 else math.log(ALPHA_FLOOR)
    t = min(max(t, math.log(ALPHA_FLOOR)), -math.log(ALPHA_FLOOR))
    alpha = max(math.exp(t), ALPHA_FLOOR)
    return JointEstimate(beta=v - u * t, alpha=alpha, information=J, se=alpha_se(J, alpha))


def refined_joint(joint: JointEstimate, rf) -> JointEstimate:
    """The estimate after the refinement rounds ``rf``
    (:class:`~dask_glmdist.solvers.dlsa._Refinement`): its ``alpha``, and the joint
    information of its last round (over the free coefficients; the others' rows and
    columns zero) with ``alpha``'s standard error from it."""
    if rf.joint is None:
        return JointEstimate(rf.theta.copy(), rf.alpha, joint.information, joint.se)
    k = rf.theta.shape[0]
    idx = np.r_[rf.free, k]
    J = np.zeros((k + 1, k + 1))
    J[np.ix_(idx, idx)] = rf.joint
    return JointEstimate(rf.theta.copy(), rf.alpha, J, alpha_se(rf.joint, rf.alpha))


def select_alpha(joint: JointEstimate, beta: np.ndarray, support) -> JointEstimate:
    """``log alpha`` profiled at the coefficients ``beta`` of a selected model (SDLSA):
    the maximiser of the joint quadratic form in ``log alpha`` at fixed ``beta``, with its
    standard error on the ``support`` (the oracle covariance, as the coefficients')."""
    J = joint.information
    t = math.log(joint.alpha) - float(J[-1, :-1] @ (beta - joint.beta)) / J[-1, -1]
    alpha = max(math.exp(t), ALPHA_FLOOR)
    idx = np.r_[np.flatnonzero(support), J.shape[0] - 1]
    return JointEstimate(beta, alpha, J, alpha_se(J[np.ix_(idx, idx)], alpha))


def joint_step(score: np.ndarray, A: np.ndarray, sums: dict, alpha: float, free
               ) -> tuple[np.ndarray, float, np.ndarray]:
    """One Newton step of ``(beta[free], log alpha)`` on the global log-likelihood.

    ``score``/``A``: the coefficients' score and expected information (free ones),
    ``sums``: the blocks' :func:`~.ancillary.ancillary_sums` (``joint``) at ``alpha``.
    The step solves the joint observed information; where that is not positive definite
    (far from the optimum) the coefficients take the Fisher-scoring step and ``log alpha``
    the safeguarded step of :func:`~.ancillary.next_ancillary`. The step in ``log alpha``
    is capped at :data:`~.ancillary.MAX_LOG_STEP` and stops at the floor. Returns the
    coefficients' step, the one of ``log alpha`` and the joint observed information.
    """
    sub = dict(sums, obs_gram=np.asarray(sums["obs_gram"])[np.ix_(free, free)],
               cross=np.asarray(sums["cross"])[free])
    J = _in_log_alpha(sub, alpha)
    g = np.r_[score, alpha * sums["score"]]
    try:
        L = np.linalg.cholesky(J)
        step = np.linalg.solve(L.T, np.linalg.solve(L, g))
        db, dt = step[:-1], float(step[-1])
    except np.linalg.LinAlgError:
        db = PSDFactor(A).solve(score)
        dt = math.log(next_ancillary(sums, alpha) / alpha)
    dt = min(max(dt, -MAX_LOG_STEP), MAX_LOG_STEP)
    dt = max(dt, math.log(ALPHA_FLOOR / alpha))
    return db, dt, J


def t_se(J: np.ndarray) -> float:
    """The standard error of ``log alpha`` from the joint information (NaN if none)."""
    s = _schur_t(J)
    return float(1.0 / math.sqrt(s)) if s > 0 else float("nan")


def profiled_information(J: np.ndarray) -> np.ndarray:
    """The information of the coefficients with ``log alpha`` profiled out of the
    quadratic form (its Schur complement in ``J``), the form SDLSA's path minimises."""
    b = J[:-1, -1]
    s = J[-1, -1]
    return J[:-1, :-1] - np.outer(b, b) / s if s > 0 else J[:-1, :-1].copy()
