"""When the combined DLSA estimate does not exist: separation, decided on the client.

Three situations, from the cheapest evidence to the costliest:

* **A coordinate direction** (a category without any event, a one-row dummy, an
  all-zero response): decided exactly from the recession counts the blocks return in
  the first pass (:func:`~dask_glmdist.solvers.recession.infinite_parameters`).
* **A combination of columns** (``y = 1{x0 + x1 > 0}``): no count shows it. Two signs
  raise the suspicion -- every block's local ML fit diverged and their directions
  agree (:func:`blocks_direction`), or the refinement rounds' steps do not shrink
  (:func:`refinement_drift`) -- and one pass of
  :func:`~dask_glmdist.solvers.recession.recession_block` along that direction
  settles it, and ``classify_runaway`` names the parameters, as in the PQN engine
  (:mod:`dask_glmdist.solvers.recession`).
* **Separated rows within blocks** while the global estimate exists (rare events):
  :func:`separated_share` measures how much of a parameter's combined information
  comes from rows the blocks' local fits separate.
"""

from __future__ import annotations

import numpy as np

from ..linalg import PSDFactor
from ..solvers.design_checks import column_scales
from ..solvers.pqn import DRIFT_SHARE, SHRINK  # the PQN engine's rules for drift

__all__ = [
    "AGREE_COSINE",
    "PROBE_DISTANCES",
    "blocks_direction",
    "bordered",
    "local_separation",
    "non_increasing",
    "refinement_drift",
    "separated_share",
    "standardised_direction",
]

#: the blocks' diverging directions agree when each has at least this cosine with their
#: mean (in standardised coordinates)
AGREE_COSINE = 0.9

#: distances (standardised units of the linear predictor) at which the probe evaluates
#: the deviance along a suspected direction. DLSA probes from its own estimate, which
#: may lie well short of a finite but large optimum (the one-round estimate of a
#: nearly separated data set): the deviance still falls over the first 10 units there.
#: It must fall (or stay) at every distance up to 100; further out an approximate
#: direction crosses the rows next to the separating hyperplane.
PROBE_DISTANCES = np.array([0.0, 1.0, 10.0, 100.0])


def non_increasing(deviance) -> bool:
    """Whether the probed deviances never rise from one distance to the next."""
    dev = np.asarray(deviance, dtype=np.float64)
    if not np.all(np.isfinite(dev)):
        return False
    return bool(np.all(dev[1:] <= dev[:-1] + 1e-10 * np.maximum(np.abs(dev[:-1]), 1.0)))


def local_separation(counts, divergence) -> tuple[list, bool]:
    """The directions in which a block's ML fit diverged: ``([[j, sign], ...], exact)``.

    Coordinate directions the block's own recession counts prove (``exact``), else
    the parameters that dominate the drift of the diverging fit.
    """
    if counts is not None:
        on = counts[2] > 0
        found = [[int(j), 1] for j in np.flatnonzero(on & (counts[0] == 0))]
        found += [[int(j), -1] for j in np.flatnonzero(on & (counts[1] == 0))]
        if found:
            return sorted(found), True
    if divergence is None or not np.any(divergence):
        return [], False
    big = np.abs(divergence) >= 0.1 * np.max(np.abs(divergence))
    return [[int(j), int(np.sign(divergence[j]))] for j in np.flatnonzero(big)], False


def bordered(A: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """``A`` with an intercept border first (zeros when no intercept is fitted): the
    layout of a Gram that :mod:`~dask_glmdist.solvers.design_checks` expects."""
    if fit_intercept:
        return A
    G = np.zeros((A.shape[0] + 1, A.shape[0] + 1))
    G[1:, 1:] = A
    return G


def _scales(A: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Per parameter, the (information-weighted) spread of its column: coefficient times
    scale is the change of the linear predictor per standard deviation."""
    G = bordered(A, fit_intercept)
    weight = G[0, 0] if fit_intercept else 1.0
    return column_scales(G, weight, fit_intercept)


def standardised_direction(u, A: np.ndarray, fit_intercept: bool, free) -> np.ndarray | None:
    """``u`` restricted to ``free``, its components below :data:`DRIFT_SHARE` of the largest
    (in standardised units) zeroed, scaled to a largest standardised component of 1;
    ``None`` when nothing moved."""
    s = _scales(A, fit_intercept)
    v = np.where(free, np.asarray(u, dtype=float), 0.0) * s
    big = float(np.max(np.abs(v), initial=0.0))
    if not big > 0 or not np.isfinite(big):
        return None
    v = np.where(np.abs(v) > DRIFT_SHARE * big, v, 0.0) / big
    return v / s


def blocks_direction(records, A: np.ndarray, fit_intercept: bool, free):
    """The blocks' common diverging direction, when every block with weight diverged
    and their directions agree; else ``None``.

    Returns ``(u, signs)``: the mean of the blocks' standardised unit directions (in
    the parameters' own units) and, per parameter, the sign every block agrees on
    (0 where they differ).
    """
    fitted = [r for r in records if not r.get("zero_weight")]
    if not fitted or any(r.get("direction") is None for r in fitted):
        return None
    s = _scales(A, fit_intercept)
    V = []
    for r in fitted:
        v = np.where(free, np.asarray(r["direction"], dtype=float), 0.0) * s
        norm = float(np.linalg.norm(v))
        if not norm > 0 or not np.isfinite(norm):
            return None
        V.append(v / norm)
    V = np.asarray(V)
    mean = V.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not norm > 0 or np.min(V @ mean) / norm < AGREE_COSINE:
        return None
    signs = np.where(np.all(V > 0, axis=0), 1, np.where(np.all(V < 0, axis=0), -1, 0))
    return mean / norm / s, signs


def refinement_drift(steps) -> np.ndarray | None:
    """The last two refinement steps, when the last has not shrunk (to less than
    :data:`SHRINK` of the one before); else ``None``. Fisher scoring towards a finite
    estimate shrinks its steps; towards infinity it keeps them."""
    if len(steps) < 2:
        return None
    last, before = (float(np.max(np.abs(v))) for v in (steps[-1], steps[-2]))
    if not last >= SHRINK * before:
        return None
    return steps[-1] + steps[-2]


def _marginal_variances(A: np.ndarray, keep: list) -> np.ndarray:
    """Diagonal of the inverse of ``A`` for the parameters ``keep`` (the others profiled
    out); ``inf`` where ``A`` carries no information on them."""
    other = [j for j in range(A.shape[0]) if j not in keep]
    info = A[np.ix_(keep, keep)]
    if other:
        cross = A[np.ix_(keep, other)]
        info = info - cross @ PSDFactor(A[np.ix_(other, other)]).solve(cross.T)
    factor = PSDFactor(info)
    var = np.diag(factor.inverse()).copy()
    if not factor.full_rank:
        var[np.abs(factor.null_space).max(axis=1) > 1e-3] = np.inf
    return var


def separated_share(A: np.ndarray, separated, infinite: dict) -> np.ndarray:
    """Per parameter, the share of the combined precision that comes from separated rows.

    ``separated`` is the summed information, at the blocks' Firth estimates, of the
    rows whose local ML fits diverged. The share is ``1 - var / var_without``: 0 when
    those rows add nothing, 1 when the parameter has no information without them.
    Parameters in ``infinite`` (and their rows' information) are profiled out; they
    get NaN.
    """
    share = np.zeros(A.shape[0])
    keep = [j for j in range(A.shape[0]) if j not in infinite]
    share[list(infinite)] = np.nan
    if separated is None or not keep:
        return share
    rest = A - separated
    gone = np.diag(rest) <= 1e-9 * np.diag(A)  # rounding left of a column's information
    rest[gone, :] = 0.0
    rest[:, gone] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = _marginal_variances(A, keep) / _marginal_variances(rest, keep)
    share[keep] = np.clip(1.0 - np.nan_to_num(ratio, nan=0.0), 0.0, 1.0)
    return share
