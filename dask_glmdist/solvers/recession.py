"""Does the estimate run off to infinity? Which parameters, and with which sign?

When the maximum likelihood estimate does not exist (separated classes, a group whose
responses all sit at the edge of their range), the objective keeps decreasing along a
*recession direction* u: ``F(theta + t u)`` is non-increasing in t. Iterations towards
such an "estimate" look converged -- the objective stops changing, while the
coefficients keep creeping (probit and cloglog fits even pass the KKT test, their
gradients having underflowed). Left there, the stopping point would be reported as an
estimate, with a standard error.

Two checks settle it.

* **Coordinate directions, exactly, in the first pass**: every block counts the rows
  that forbid a single parameter to run off alone to +inf or to -inf
  (:func:`~dask_glmdist.solvers.local.recession_counts`); summed over the blocks, a
  parameter with no such row and some row depending on it is infinite
  (:func:`infinite_parameters`): a category without any event, a one-row dummy, the
  intercept of an all-zero response.
* **Other directions, by a probe**: the PQN engine treats a stop in which the steps did
  not shrink as a suspicion and settles it in one round (:func:`recession_block`):
  along the direction in which the iterations drifted, restricted to the parameters
  that moved materially, it evaluates the deviance at ``theta + t u`` for ``t`` = 1 and
  10 (standardised units of the linear predictor). At a finite minimum the deviance
  grows along any direction (by ``t^2 u'Iu / 2`` against a gradient of at most
  ``tol``); not growing confirms the direction. (Further out an approximate direction
  can cross rows near the separating hyperplane, so the distance is kept moderate.)

The same round sums the weighted Gram of the rows that the direction leaves unchanged
(``|x~_i u| ~ 0``): the parameters those rows do not identify run off or are not
determined (Konis 2007, section 4.3: the support of the recession cone). The others
are finite: the limits as the runaway ones grow. :func:`classify_runaway` says which
of the parameters that the finite rows leave free have a *determined* sign:

* a coordinate runaway with a row of its own -- a row on which no other coordinate
  runaway is non-zero, which only its own growth fits better -- runs off with the
  counts' sign; one all of whose rows another runaway also fits (a dummy under an
  intercept that runs off because every response is 0) could run off either way;
* another parameter runs off with the probe direction's sign when that component is
  clearly non-zero (above ``DRIFT_SHARE`` of the largest, the direction's threshold);

every other one is :data:`UNDETERMINED`: the directions in which the estimates run
off determine neither its value nor its sign (the slopes when every response is 0; a
coefficient whose drift is negligible under complete separation; a bounded one, which
cannot run off, but whose value in its box the rows left do not decide).

This reproduces the linear-programming check of Konis (2007) and of R's
``detectseparation`` (``firthmodels.detect_separation``) without an LP over the rows,
except that a sign it leaves undetermined may be determined (the LP would tell).
"""

from __future__ import annotations

import numpy as np

from .._array import get_namespace, to_host
from .glm_kernel import linear_predictor, score_and_information

__all__ = ["PROBE_STEPS", "UNDETERMINED", "infinite_parameters", "recession_block",
           "confirms_recession", "classify_runaway"]

PROBE_STEPS = np.array([0.0, 1.0, 10.0])  # 0: the deviance at theta itself
UNMOVED_ETA = 1e-6     # |x~_i u| below this: the row is on the boundary of the cone
NULL_TOL = 1e-10       # eigenvalue (on the unit-diagonal scale of the full Gram)
SUPPORT_TOL = 1e-3     # loading of a parameter on the null space
UNDETERMINED = 2       # classify_runaway's code: not determined (nor its sign)


def recession_block(X, y, m, theta, direction, steps, *, family, fit_intercept, block_index,
                    coordinate=None, offset=None):
    """Deviance at ``theta + t direction`` for every t, and the Gram of the unmoved rows.

    Returns ``deviance`` and ``invalid`` (rows whose linear predictor leaves the
    family's domain) per step, and ``gram``: ``X~^T M_0 X~`` (intercept border first)
    over the rows with ``|x~_i direction| <= UNMOVED_ETA`` and positive weight. With
    ``coordinate`` (a boolean mask of the parameters, the coordinate runaways) also
    ``own``: per parameter, the rows with positive weight on which it is the only
    non-zero one of those parameters.
    """
    xp = get_namespace(X)
    E = linear_predictor(X, np.stack([theta, direction], axis=1), fit_intercept, xp)
    eta0 = E[:, 0] if offset is None else E[:, 0] + offset
    du = E[:, 1]
    T = xp.asarray(np.asarray(steps, dtype=np.float64), dtype=X.dtype)
    H = eta0[:, None] + du[:, None] * T[None, :]
    ok = family.valid_eta(H)
    mu = family.link.inverse(xp.where(ok, H, xp.zeros_like(H)))
    ud = family.unit_deviance(xp.asarray(y, dtype=X.dtype)[:, None], mu)
    w = xp.ones_like(du) if m is None else xp.asarray(m, dtype=X.dtype)
    ud = xp.where(ok & (w[:, None] > 0), w[:, None] * ud, xp.zeros_like(ud))
    unmoved = xp.astype((xp.abs(du) <= UNMOVED_ETA) & (w > 0), X.dtype) * w
    _, gram = score_and_information(X, xp.zeros_like(w), unmoved, True, xp)
    out = {"deviance": to_host(xp.sum(ud, axis=0)),
           "invalid": to_host(xp.sum(xp.astype(~ok, X.dtype), axis=0)),
           "gram": to_host(gram)}
    if coordinate is not None:
        out["own"] = _own_rows(X, w, np.asarray(coordinate, dtype=bool), fit_intercept, xp)
    return out


def _own_rows(X, w, coordinate, fit_intercept, xp) -> np.ndarray:
    """Per parameter in ``coordinate``, the rows (positive weight) on which it is the
    only non-zero parameter of ``coordinate`` (0 elsewhere)."""
    fi = int(fit_intercept)
    cols = np.flatnonzero(coordinate[fi:])
    nz = xp.astype(xp.take(X, xp.asarray(cols), axis=1) != 0, X.dtype)
    others = xp.sum(nz, axis=1)
    active = xp.astype(w > 0, X.dtype)
    out = np.zeros(coordinate.shape[0])
    if fi and coordinate[0]:   # the intercept is non-zero on every row
        out[0] = float(xp.sum(active * xp.astype(others == 0, X.dtype)))
    elif cols.size:
        out[cols + fi] = to_host((active * xp.astype(others == 1, X.dtype)) @ nz)
    return out


def infinite_parameters(counts) -> dict:
    """``{parameter index: sign}`` of the parameters whose MLE is +-inf along their own
    coordinate.

    ``counts`` are the recession counts summed over the blocks
    (:func:`~dask_glmdist.solvers.local.recession_counts`): no row forbids the
    parameter to run off alone in that direction, and some row depends on it.
    """
    if counts is None:
        return {}
    out = {}
    for j in np.flatnonzero(counts[2] > 0):
        if counts[0, j] == 0:
            out[int(j)] = 1
        elif counts[1, j] == 0:
            out[int(j)] = -1
    return out


def confirms_recession(probe: dict) -> bool:
    """The reduced :func:`recession_block` output at :data:`PROBE_STEPS` shows a
    direction along which the deviance does not grow (every point valid)."""
    dev = np.asarray(probe["deviance"], dtype=np.float64)
    if np.any(probe["invalid"] > 0) or not np.all(np.isfinite(dev)):
        return False
    return not np.any(dev[1:] > dev[0] + 1e-10 * max(abs(dev[0]), 1.0))


def classify_runaway(probe: dict, gram: np.ndarray, direction, unpenalised,
                     fit_intercept: bool, coordinate: dict | None = None) -> np.ndarray:
    """Per parameter: +1/-1 (runs off to +-inf), :data:`UNDETERMINED`, or 0 (finite).

    ``probe`` is the reduced :func:`recession_block` output along a confirmed
    recession ``direction`` (non-zero only on parameters with neither a penalty nor a
    bound: only they can run off); ``gram`` the first-pass Gram (intercept border
    first); ``unpenalised`` marks the parameters without a penalty (which determines
    the others): a bounded one that the rows left do not identify is
    :data:`UNDETERMINED` (any value in its box fits as well in the limit);
    ``coordinate`` is :func:`infinite_parameters`' ``{index: sign}`` for parameters
    that can run off. The rules are the module's.
    """
    direction = np.asarray(direction, dtype=np.float64)
    free = np.asarray(unpenalised, dtype=bool)
    fi = int(fit_intercept)
    G, Gb = (gram, probe["gram"]) if fi else (gram[1:, 1:], probe["gram"][1:, 1:])
    d = np.sqrt(np.clip(np.diag(G), 0.0, None))
    d = np.where(d > 0, d, 1.0)
    idx = np.flatnonzero(free)
    B = (Gb / d[:, None] / d[None, :])[np.ix_(idx, idx)]
    vals, vecs = np.linalg.eigh(0.5 * (B + B.T))
    null = vecs[:, vals <= NULL_TOL * max(float(np.max(np.diag(B), initial=0.0)), 1.0)]
    off = np.zeros(direction.shape[0], dtype=bool)
    if null.size:
        off[idx] = np.max(np.abs(null), axis=1) > SUPPORT_TOL
    off |= (direction != 0) & free
    out = np.where(off, UNDETERMINED, 0).astype(np.int8)
    out[off & (direction != 0)] = np.sign(direction[off & (direction != 0)])
    for j, sign in (coordinate or {}).items():
        out[j] = sign if probe["own"][j] > 0 else UNDETERMINED
    return out
