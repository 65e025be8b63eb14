"""A family's ancillary parameter estimated with the coefficients (NB2's ``alpha``).

The mathematics that every method shares when ``family.ancillary_estimated``: the
per-block sums (riding on the pass the method makes for the coefficients anyway), the
master's update of the parameter, and its standard error. What is specific to the
family -- the per-row derivatives of the log-likelihood in the parameter -- comes from
``family.ancillary_terms`` (:meth:`~dask_glmdist.families.NegativeBinomial.ancillary_terms`);
no function here knows which family it is.

**The update.** Newton's method on ``t = log(alpha)``: with ``S = sum dl/dalpha`` and
``H = sum d2l/dalpha2`` at the current coefficients,

    g_t = alpha S,    h_t = alpha^2 H + alpha S,    t <- t - g_t / h_t,

a step capped at :data:`MAX_LOG_STEP` (a factor ``e^2``) and, where ``h_t >= 0`` (the
log-likelihood not concave in ``t`` there), that cap in the direction of ``g_t``. The
log scale keeps ``alpha > 0`` without a constraint and the steps scale-free; in ``t`` the
rounding of ``H`` near the Poisson limit is multiplied by ``alpha^2``. The first
estimate is the moment estimator ``sum ((y - mu)^2 - mu) / sum mu^2`` at the first fitted
means. Because ``alpha`` and the coefficients are orthogonal in expected information
(NB2, Lawless 1987), the method's own step for the coefficients at the current
``alpha`` and this step for ``alpha`` at the current coefficients form a block-diagonal
Newton step: both come from one pass, and the method's line search takes them
together (its objective is then ``-2 loglik``, comparable across values of ``alpha``).

**The boundary.** When the data show no overdispersion the likelihood increases as
``alpha -> 0`` (the model tends to the Poisson model): ``alpha`` is held at
:data:`ALPHA_FLOOR`, the fit reports it, warns that the negative binomial reduces to the
Poisson model there, and gives no standard error (a Wald interval is meaningless on the
boundary).

**Standard error** (statsmodels' ``NegativeBinomial(loglike_method="nb2")``, Stata's
``nbreg``): the inverse of the *observed* information of ``(beta, alpha)`` at the
estimate, whose ``alpha`` entry is ``1 / (c - b^T A^{-1} b)`` with ``c = -sum d2l/dalpha2``,
``b = -X~^T (d2l/deta dalpha)`` and ``A = X~^T diag(-d2l/deta2) X~``: sums of one pass
(the method's last one). The coefficients' standard errors are R's ``glm.nb``'s: the
GLM's expected information at the estimated ``alpha``.
"""

from __future__ import annotations

import math

import numpy as np

from .._array import to_host
from ..diagnostics import warn
from .glm_kernel import score_and_information

__all__ = ["ALPHA_FLOOR", "AncillaryBoundaryWarning", "MAX_LOG_STEP", "START",
           "ancillary_se", "ancillary_sums", "at_floor", "next_ancillary", "refuse_estimated",
           "warn_if_at_floor"]


class AncillaryBoundaryWarning(UserWarning):
    """The ancillary parameter's estimate is on its boundary (NB2: ``alpha -> 0``, no
    overdispersion; the model is the Poisson model there)."""


#: the ancillary parameter is held at or above this value (NB: the Poisson limit)
ALPHA_FLOOR = 1e-8
#: the largest Newton step in ``log(alpha)``
MAX_LOG_STEP = 2.0
#: the provisional value at which the first pass (from the starting means) is made
START = 1.0


def ancillary_sums(family, y, mu, m, X=None, *, fit_intercept: bool = True, xp=None,
                   joint: bool = False) -> dict:
    """The block's sums of the ancillary parameter's derivatives (host floats) at the
    means ``mu`` (``family`` with its value fixed): ``score``, ``hess``, ``moment_num``,
    ``moment_den`` (weighted by ``m``) and, ``joint``: ``cross = X~^T (m d2l/deta dalpha)``
    and ``obs_gram = X~^T diag(-m d2l/deta2) X~`` for the standard error."""
    t = family.ancillary_terms(y, mu)
    mh = None if m is None else np.asarray(to_host(m), dtype=np.float64)
    if mh is not None:  # rows of weight 0 count nothing (and may hold anything)
        t = {key: np.where(mh > 0, mh * v, 0.0) for key, v in t.items()}
    out = {key: float(np.sum(t[key])) for key in ("score", "hess", "moment_num", "moment_den")}
    if joint:
        cross = xp.asarray(t["cross"], dtype=X.dtype)
        w = xp.asarray(-t["eta_hess"], dtype=X.dtype)
        out["cross"], out["obs_gram"] = score_and_information(X, cross, w, fit_intercept, xp)
    return out


def next_ancillary(sums: dict, value: float, *, first: bool = False) -> float:
    """The next value of the ancillary parameter from the sums at ``value``: the moment
    estimate (``first``), else a Newton step in its logarithm (module docstring)."""
    if first:
        est = sums["moment_num"] / sums["moment_den"] if sums["moment_den"] > 0 else START
        return float(min(max(est, 1e-3), 1e3)) if np.isfinite(est) else START
    g = value * sums["score"]
    h = value * value * sums["hess"] + g
    if not (np.isfinite(g) and np.isfinite(h)):
        return value
    step = -g / h if h < 0 else math.copysign(MAX_LOG_STEP, g)
    step = min(max(step, -MAX_LOG_STEP), MAX_LOG_STEP)
    return max(value * math.exp(step), ALPHA_FLOOR)


def log_step(old: float, new: float) -> float:
    """``|log(new / old)|``: how far an update moved the parameter."""
    return abs(math.log(new / old))


def at_floor(value: float) -> bool:
    """The estimate is held at :data:`ALPHA_FLOOR` (the Poisson boundary)."""
    return value <= ALPHA_FLOOR * (1.0 + 1e-9)


def ancillary_se(sums: dict, value: float) -> float:
    """The standard error of the ancillary parameter (module docstring) from joint sums
    at the estimate ``value``; NaN on the boundary or where the observed information is
    not positive definite."""
    if at_floor(value) or "obs_gram" not in sums:
        return float("nan")
    A = np.asarray(sums["obs_gram"], dtype=np.float64)
    b = -np.asarray(sums["cross"], dtype=np.float64)
    try:
        c = -sums["hess"] - float(b @ np.linalg.solve(A, b))
    except np.linalg.LinAlgError:
        return float("nan")
    return float(1.0 / math.sqrt(c)) if c > 0 and np.isfinite(c) else float("nan")


def refuse_estimated(family, estimator: str):
    """``family``, or a clear error where ``estimator`` cannot estimate its ancillary
    parameter (raised before any pass over the data)."""
    if family.ancillary_estimated:
        name = family.ancillary_name
        raise ValueError(
            f"{estimator} does not estimate the {family.name} family's {name}; fix it "
            f"(get_family({family.name!r}, {name}=...)), or estimate it with "
            f"BiasReducedGLM(method='ML')")
    return family


def warn_if_at_floor(family, value: float, estimator: str) -> None:
    """Warn when the estimate sits on the boundary (no overdispersion in the data)."""
    if at_floor(value):
        warn(f"{estimator}: the {family.name} {family.ancillary_name} estimate is at its "
             f"boundary {ALPHA_FLOOR:g} (the data show no overdispersion): the model reduces "
             "to the Poisson model; fit family='poisson' instead. No standard error is "
             f"given for {family.ancillary_name}.", AncillaryBoundaryWarning)
