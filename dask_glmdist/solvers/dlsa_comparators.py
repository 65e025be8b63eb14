"""The DLSA paper's comparison estimators: one-shot averaging and CSL.

Zhu, Li & Wang (2021, section 4.4, Tables 1-3 and 7-8) compare DLSA with two
distributed estimators; :class:`~dask_glmdist.estimators.dlsa.DLSARegressor` and
:class:`~dask_glmdist.estimators.dlsa.DLSALogisticRegression` offer both as
``method="one_shot"`` and ``method="csl"``, so that the comparison can be repeated.

One-shot averaging (OS; Zhang, Duchi & Wainwright 2013) -- the blocks' local estimates
averaged with weights ``w_k = W_k / W`` (``W_k``: the block's sum of prior weights, its
number of rows when unweighted; equal block sizes give the plain mean the paper uses)::

    theta_os = sum_k w_k theta_k,        cov(theta_os) = phi sum_k w_k^2 A_k^{-1},

the covariance of a weighted mean of independent estimates, each with its local
inverse information ``phi A_k^{-1}`` (the paper reports no coverage for OS).

Communication-efficient surrogate likelihood (CSL; Jordan, Lee & Yang 2019, one
round) -- from the master block's local estimate ``theta_bar`` one round gives the
global score ``U(theta_bar) = sum_k U_k(theta_bar)``; then the master (a task over its
own rows only: no data moves) maximises its surrogate log-likelihood::

    l_0(theta) - <U_0(theta_bar) - (W_0 / W) U(theta_bar), theta>

(Jordan et al.'s eq. 3 for the averaged loss, times ``W_0``), by Fisher scoring with step
halving. Its covariance is Jordan et al.'s, from the master's information alone:
``phi ((W / W_0) A_0(theta_csl))^{-1}``. On blocks whose covariates differ (the paper's
Setting 2) the master's information is not the global one, which is why CSL is less
efficient there and its intervals cover less than they claim -- it is reported as the
paper reports it, a comparator with that known flaw.
"""

from __future__ import annotations

import numpy as np

from ..linalg import PSDFactor
from .dlsa import _response, glm_score_block
from .local import evaluate

__all__ = ["one_shot_average", "csl_master_block", "csl_estimate"]


def one_shot_average(records) -> tuple[np.ndarray, np.ndarray]:
    """The weighted mean of the blocks' local estimates and its covariance (over phi).

    ``records``: the first round's block records that carry a local fit
    (``theta``, ``information``, ``weight``); blocks without rows of positive weight
    carry none and have weight 0.
    """
    fitted = [r for r in records if "theta" in r]
    total = sum(r["weight"] for r in fitted)
    theta = sum((r["weight"] / total) * r["theta"] for r in fitted)
    cov = sum((r["weight"] / total) ** 2 * np.linalg.inv(r["information"]) for r in fitted)
    return np.asarray(theta, dtype=float), 0.5 * (cov + cov.T)


def _surrogate_objective(state, shift) -> float:
    """Half the master's deviance plus ``shift^T theta``: the surrogate to minimise."""
    return 0.5 * state.deviance + float(shift @ state.theta)


def csl_master_block(X, y, m, theta_bar, global_score, *, ratio, family, fit_intercept,
                     classes, tol, max_iter, block_index, offset=None):
    """The master's round of CSL: the surrogate's maximiser on the master's rows.

    Solves ``U_0(theta) = U_0(theta_bar) - ratio * global_score`` by Fisher scoring from
    ``theta_bar``, halving a step that does not lower the surrogate objective (half the
    deviance is minus the log-likelihood up to a constant). Returns the estimate, the
    master's information there, the iterations and whether they converged.
    """
    y, m = _response(X, y, m, classes)
    state = evaluate(X, y, m, theta_bar, family, fit_intercept, offset=offset)
    shift = state.score - ratio * np.asarray(global_score)
    obj = _surrogate_objective(state, shift)
    converged, n_iter = False, 0
    while n_iter < max_iter and not converged:
        n_iter += 1
        step = PSDFactor(state.information).solve(state.score - shift)
        for _ in range(60):
            trial = evaluate(X, y, m, state.theta + step, family, fit_intercept,
                             offset=offset)
            if trial is not None and _surrogate_objective(trial, shift) <= obj + 1e-12 * (
                    1.0 + abs(obj)):
                break
            step = 0.5 * step
        else:
            break
        state, obj = trial, _surrogate_objective(trial, shift)
        converged = float(np.max(np.abs(step))) <= tol * (1.0 + float(
            np.max(np.abs(state.theta))))
    return {"theta": np.asarray(state.theta, dtype=float), "information": state.information,
            "n_iter": n_iter, "converged": converged}


def csl_estimate(engine, family, classes, master: dict, weight_total: float, *,
                 fit_intercept: bool, tol: float, max_iter: int) -> dict:
    """CSL in two rounds: the global score at the master's local estimate, then the
    master's surrogate fit (a round over the master's block only).

    ``master``: the first round's record of the master block (its local ``theta``,
    ``weight`` and ``index``); ``weight_total``: ``W``, the prior weights of all blocks.
    Returns :func:`csl_master_block`'s dict with ``scaled_information``:
    ``(W / W_0) A_0(theta_csl)``, whose inverse (times phi) is the covariance.
    """
    theta_bar = master["theta"]
    g = engine.run(glm_score_block, theta_bar, family=family, fit_intercept=fit_intercept,
                   classes=classes, label="CSL global gradient")
    g.problems.raise_if_any()
    ratio = master["weight"] / weight_total
    out = engine.subset([master["index"]]).run(
        csl_master_block, theta_bar, np.asarray(g.score), ratio=ratio, family=family,
        fit_intercept=fit_intercept, classes=classes, tol=tol, max_iter=max_iter,
        label="CSL master fit",
    )
    out["scaled_information"] = out["information"] / ratio
    return out
