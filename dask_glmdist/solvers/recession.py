"""Does the estimate run off to infinity? One round that settles it.

When the maximum likelihood estimate does not exist (separated classes, a group whose
responses all sit at the edge of their range), the objective keeps decreasing along a
*recession direction* u: ``F(theta + t u)`` is non-increasing in t. Iterations towards
such an "estimate" look converged -- the objective stops changing, while the
coefficients keep creeping (probit and cloglog fits even pass the KKT test, their
gradients having underflowed). Left there, the stopping point would be reported as an
estimate, with a standard error.

The PQN engine therefore treats a stop in which the steps did not shrink as a
suspicion, and settles it in one round (:func:`recession_block`): along the direction
in which the iterations drifted, restricted to the parameters that moved materially,

* it evaluates the deviance at ``theta + t u`` for ``t`` = 1 and 10 (standardised
  units of the linear predictor). At a finite minimum the deviance grows along any
  direction (by ``t^2 u'Iu / 2`` against a gradient of at most ``tol``); not growing
  confirms the direction. (Further out an approximate direction can cross rows
  near the separating hyperplane, so the distance is kept moderate.);
* it sums the weighted Gram of the rows that u leaves unchanged (``|x~_i u| ~ 0``).
  The parameters whose estimate is infinite are those that these rows do not
  identify (Konis 2007, section 4.3: the support of the recession cone): the
  separating column of a rare level all of whose responses are 1, or every
  parameter under complete separation, where no row is left unchanged.

This reproduces the linear-programming check of Konis (2007) and of R's
``detectseparation`` (``firthmodels.detect_separation``) without an LP over the rows.
"""

from __future__ import annotations

import numpy as np

from .._array import get_namespace, to_host
from .local import _score_and_information

__all__ = ["PROBE_STEPS", "recession_block", "runaway_parameters"]

PROBE_STEPS = np.array([0.0, 1.0, 10.0])  # 0: the deviance at theta itself
UNMOVED_ETA = 1e-6     # |x~_i u| below this: the row is on the boundary of the cone
NULL_TOL = 1e-10       # eigenvalue (on the unit-diagonal scale of the full Gram)
SUPPORT_TOL = 1e-3     # loading of a parameter on the null space


def recession_block(X, y, m, theta, direction, steps, *, family, fit_intercept, block_index,
                    offset=None):
    """Deviance at ``theta + t direction`` for every t, and the Gram of the unmoved rows.

    Returns ``deviance`` and ``invalid`` (rows whose linear predictor leaves the
    family's domain) per step, and ``gram``: ``X~^T M_0 X~`` (intercept border first)
    over the rows with ``|x~_i direction| <= UNMOVED_ETA`` and positive weight.
    """
    xp = get_namespace(X)
    fi = int(fit_intercept)
    C = xp.asarray(np.stack([theta[fi:], direction[fi:]], axis=1), dtype=X.dtype)
    E = X @ C
    eta0 = E[:, 0] + (float(theta[0]) if fi else 0.0)
    if offset is not None:
        eta0 = eta0 + offset
    du = E[:, 1] + (float(direction[0]) if fi else 0.0)
    T = xp.asarray(np.asarray(steps, dtype=np.float64), dtype=X.dtype)
    H = eta0[:, None] + du[:, None] * T[None, :]
    ok = family.valid_eta(H)
    mu = family.link.inverse(xp.where(ok, H, xp.zeros_like(H)))
    ud = family.unit_deviance(xp.asarray(y, dtype=X.dtype)[:, None], mu)
    w = xp.ones_like(du) if m is None else xp.asarray(m, dtype=X.dtype)
    ud = xp.where(ok & (w[:, None] > 0), w[:, None] * ud, xp.zeros_like(ud))
    unmoved = xp.astype((xp.abs(du) <= UNMOVED_ETA) & (w > 0), X.dtype) * w
    _, gram = _score_and_information(X, xp.zeros_like(w), unmoved, True, xp)
    return {"deviance": to_host(xp.sum(ud, axis=0)),
            "invalid": to_host(xp.sum(xp.astype(~ok, X.dtype), axis=0)),
            "gram": to_host(gram)}


def runaway_parameters(probe: dict, gram: np.ndarray, direction, theta, free,
                       fit_intercept: bool) -> np.ndarray | None:
    """+1/-1 for the parameters whose estimate is infinite, 0 for the others; None when
    the probe does not confirm the direction (the estimate is finite).

    ``probe`` is the reduced :func:`recession_block` output at :data:`PROBE_STEPS`;
    ``gram`` the first-pass Gram (intercept border first); ``direction`` and
    ``theta`` in the same coordinates; ``free`` marks the parameters with neither a
    penalty nor a bound (only they can run off).
    """
    dev = np.asarray(probe["deviance"], dtype=np.float64)
    if np.any(probe["invalid"] > 0) or not np.all(np.isfinite(dev)):
        return None
    if np.any(dev[1:] > dev[0] + 1e-10 * max(abs(dev[0]), 1.0)):
        return None   # the deviance grows along it: not a recession direction
    fi = int(fit_intercept)
    G, Gb = (gram, probe["gram"]) if fi else (gram[1:, 1:], probe["gram"][1:, 1:])
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    d = np.where(d > 0, d, 1.0)
    idx = np.flatnonzero(free)
    B = (Gb / d[:, None] / d[None, :])[np.ix_(idx, idx)]
    vals, vecs = np.linalg.eigh(0.5 * (B + B.T))
    null = vecs[:, vals <= NULL_TOL * max(float(np.max(np.diag(B), initial=0.0)), 1.0)]
    support = np.zeros(len(theta), dtype=bool)
    if null.size:
        support[idx] = np.max(np.abs(null), axis=1) > SUPPORT_TOL
    support |= (np.asarray(direction) != 0) & free
    sign = np.where(direction != 0, np.sign(direction), np.sign(theta))
    return np.where(support, np.where(sign == 0, 1.0, sign), 0.0).astype(np.int8)
