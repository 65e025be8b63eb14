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

* **The reference cell of a categorical, exactly, in the first pass**: moving the
  intercept by -t and every dummy of one treatment-coded factor by +t changes only the
  linear predictor of that factor's reference cell (by -t). When that cell has no
  event (every response at the lower edge) the likelihood grows along it for ever,
  although no single coordinate runs off. The design knows each factor's dummies
  (:func:`reference_groups`; numeric input without a design has no groups, and these
  directions are then not checked); the block counts treat each reference-cell
  indicator ``1 - sum(dummies)`` as a *virtual column* with the coordinate rules
  (:func:`~dask_glmdist.solvers.local.recession_counts`' ``reference_groups``), and
  :func:`separated_references` / :func:`reference_flags` read them.

This reproduces the linear-programming check of Konis (2007) and of R's
``detectseparation`` (``firthmodels.detect_separation``) without an LP over the rows,
except that a sign it leaves undetermined may be determined (the LP would tell).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._array import get_namespace, to_host
from .glm_kernel import linear_predictor, score_and_information

__all__ = ["PROBE_STEPS", "UNDETERMINED", "infinite_parameters", "recession_block",
           "confirms_recession", "classify_runaway", "ReferenceGroup", "reference_groups",
           "reference_indicators", "separated_references", "reference_flags"]

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


# --------------------------------------------------------------------------------------
# the reference cell of a treatment-coded factor (a "virtual column")
# --------------------------------------------------------------------------------------

class ReferenceGroup(NamedTuple):
    """A treatment-coded categorical main effect: its name, its reference level and the
    indices of its dummy columns in ``X`` (the intercept excluded)."""

    name: str
    level: str
    columns: tuple


def reference_groups(design, fit_intercept: bool) -> tuple:
    """The :class:`ReferenceGroup` of every treatment-coded categorical main effect of
    ``design`` (a :class:`~dask_glmdist.design.Design`), in a fit with an intercept;
    ``()`` without a design (numeric input: no groups are known) or intercept."""
    if design is None or not fit_intercept:
        return ()
    spec = design.spec
    names = list(design.column_names)
    contrasts = getattr(spec, "factor_contrasts", None) or {}
    out = []
    for term, scoped, columns in getattr(spec, "structure", ()):
        factors = list(getattr(term, "factors", ()))
        if len(factors) != 1 or len(scoped) != 1 or factors[0] not in contrasts:
            continue
        if not str(scoped[0]).endswith("-"):      # full-rank coding: no reference
            continue
        state = contrasts[factors[0]]
        if type(state.contrasts).__name__ != "TreatmentContrasts":
            continue
        base = getattr(state.contrasts, "base", None)
        levels = list(state.levels)
        level = base if base in levels else levels[0]
        if not all(c in names for c in columns):
            continue
        out.append(ReferenceGroup(str(factors[0]), str(level),
                                  tuple(names.index(c) for c in columns)))
    return tuple(out)


def reference_indicators(X, groups, xp):
    """``(n, len(groups))``: 1 on the rows in group k's reference cell (every dummy 0)."""
    cols = []
    for g in groups:
        D = xp.take(X, xp.asarray(np.asarray(g.columns, dtype=np.int64)), axis=1)
        cols.append(xp.astype(xp.sum(xp.abs(D), axis=1) == 0, X.dtype))
    return xp.stack(cols, axis=1)


def separated_references(counts, groups) -> list:
    """``[(group, sign)]``: the groups whose reference cell runs off, ``sign`` -1 when
    its linear predictor runs to -inf (no event: every response at the lower edge),
    +1 to +inf; read from rows 3-5 of the summed recession counts (the coordinate rule
    of :func:`infinite_parameters` on the virtual columns). A group is not reported
    when the intercept itself runs off alone (every response on one edge)."""
    if counts is None or not groups or counts.shape[0] < 6 or infinite_parameters(
            counts).get(0):
        return []
    virtual = infinite_parameters(counts[3:6])
    return [(g, virtual[k]) for k, g in enumerate(groups) if k in virtual]


def reference_flags(counts, groups, names, flags, *, others="unreliable") -> dict:
    """``flags`` (parameter name -> :class:`~dask_glmdist.diagnostics.ParamFlag`) with
    the parameters of every separated reference cell flagged, and one
    :class:`~dask_glmdist.diagnostics.SeparationWarning` per such factor.

    The intercept (index 0 of ``names``) runs off with the cell's sign, the factor's
    dummies with the opposite sign (a dummy already flagged keeps its flag); every
    other unflagged parameter is flagged ``others`` ("unreliable": its estimate was not
    computed with the reference cell's rows left out), unless ``others`` is None or the
    estimator's own separation handling had already flagged every one of those
    parameters infinite (it then left those rows out itself).
    """
    from ..diagnostics import ParamFlag, SeparationWarning, warn

    separated = separated_references(counts, groups)
    if not separated:
        return flags
    flags = dict(flags)
    touched = set()
    found = all(flags.get(names[j + 1]) is not None and flags[names[j + 1]].kind == "infinite"
                for g, _ in separated for j in (-1, *g.columns))
    if found:   # the estimator's own handling found the direction: its other estimates stand
        others = None
    for g, sign in separated:
        what = "no event" if sign < 0 else "every row an event"
        note = (f"infinite: the reference level {g.level!r} of {g.name} has {what}")
        cols = [names[0]] + [names[j + 1] for j in g.columns]
        for k, n in enumerate(cols):
            touched.add(n)
            if n not in flags or flags[n].kind != "infinite":  # the exact rule decides
                flags[n] = ParamFlag("infinite", note, sign if k == 0 else -sign)
        warn(f"The maximum likelihood estimate does not exist: the reference level "
             f"{g.level!r} of {g.name} has {what}, so the intercept runs off to "
             f"{'-' if sign < 0 else '+'}inf and {g.name}'s coefficients to "
             f"{'+' if sign < 0 else '-'}inf (separation). Re-level the factor to a level "
             f"with {'events' if sign < 0 else 'non-events'} (e.g. "
             f"C({g.name}, Treatment(<level>))) so that only that level's coefficient is "
             "infinite, or use BiasReducedGLM(method='mBR') for finite estimates.",
             SeparationWarning)
    if others is not None:
        note = "unreliable: fitted with a separated reference cell (see the warning)"
        for n in names:
            if n not in flags and n not in touched:
                flags[n] = ParamFlag(others, note)
    return flags
