"""Per-block GLM pieces and the safeguarded local Fisher-scoring fit.

Everything here runs *inside* a block function, on the block's own arrays (NumPy,
CuPy or any array-API namespace); only p-sized results are moved to the host.

Parameters are ordered ``theta = [intercept, *coef]`` when an intercept is fitted.
The block's score ``U = X~^T r`` and information ``A = X~^T W X~`` come from the GLM
block kernel (:mod:`.glm_kernel`, which defines them). An iteration costs two passes
over the block: the linear predictor (with the deviance for the step-halving test)
and the kernel's tiled score/information pass.

The local fit is Fisher scoring (Newton for canonical links) from R's ``mustart``,
with step halving on the deviance. With ``jeffreys_power=a > 0`` it maximises the
Jeffreys-prior penalised likelihood l(beta) + a log det I(beta) instead (a = 1/2 is
Firth's method for canonical links), using the adjusted score
U* = U + X~^T t,   t_i = a h_i (2 d'_i / d_i - d_i V'(mu_i) / V(mu_i)),
with hat values h_i = w_i x~_i^T A^{-1} x~_i (Kosmidis & Firth 2009; Kosmidis et al.,
bounded-memory adjusted scores, eq. for mJPL). Its estimates are always finite,
which is what a block whose maximum likelihood estimate does not exist needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._array import get_namespace, to_host
from ..linalg import PSDFactor
from .glm_kernel import (
    adjustment_terms,
    block_terms,
    design_t_vec,
    linear_predictor,
    quad_rows,
    score_and_information,
    tiles,
    working_weights,
)
from .recession import reference_indicators

__all__ = [
    "BlockState",
    "evaluate",
    "fit_local",
    "high_leverage_curvature",
    "LEVERAGE",
    "LocalFit",
    "recession_counts",
    "rows_information",
]


@dataclass
class BlockState:
    """Deviance and (optionally) score/information of one block at ``theta``."""

    theta: np.ndarray
    eta: object
    mu: object
    deviance: float
    score: np.ndarray | None = None
    information: np.ndarray | None = None
    pearson: float | None = None
    factor: PSDFactor | None = field(default=None, repr=False)


def evaluate(X, y, m, theta, family, fit_intercept, *, eta=None, mu=None, with_info=True,
             workspace=None, offset=None):
    """Deviance, score, information and Pearson chi^2 of a block at ``theta``.

    Two passes over X: the linear predictor, then the tiled score/information pass.
    Returns ``None`` when ``theta`` leaves the family's domain (e.g. a negative mean).
    ``eta``/``mu`` may be passed to evaluate at a mean that no ``theta`` produced
    (the ``mustart`` of the first iteration). ``workspace`` (a dict) lets repeated
    calls on one block reuse scratch memory. ``offset``: added to the linear predictor.
    """
    xp = get_namespace(X)
    if eta is None:
        eta = linear_predictor(X, theta, fit_intercept, xp, offset)
        if not bool(xp.all(family.valid_eta(eta))):
            return None
        mu = None
    terms = block_terms(family, y, m, eta, mu)
    dev = float(family.deviance(y, terms.mu, m))
    if not np.isfinite(dev):
        return None
    state = BlockState(theta, eta, terms.mu, dev)
    if with_info:
        state.score, state.information = score_and_information(
            X, terms.score_residuals, terms.weights, fit_intercept, xp, workspace
        )
        state.pearson = terms.pearson(xp)
    return state


#: rows whose hat value exceeds this get the curvature the quasi-Fisher matrix leaves out
LEVERAGE = 0.25


def high_leverage_curvature(X, y, m, eta, h, family, fit_intercept: bool, adjustment, *,
                            phi: float = 1.0):
    """The rows with hat value above :data:`LEVERAGE` and the curvature they miss.

    An adjusted-score iteration (bias reduction, the Jeffreys penalty) that steps with
    the information ``X~^T W X~`` leaves out the derivative of the adjustment. For a
    row that alone determines a parameter -- a one-row dummy, hat value 1 -- that
    derivative is as large as the row's own information (logit: ``h_i w_i``), so the
    step overshoots the root by its own length and the iteration circles it. The
    missing curvature of row i is ``c_i = max(-g_i'(eta_i) - w_i, 0)`` with
    ``g_i(eta) = m_i (y_i - mu) d / V + phi t_i(eta)`` its adjusted score at fixed hat
    value (central difference), ``t`` given by ``adjustment(eta, mu, d, h)``; adding
    ``X~_S^T C X~_S`` to the information makes the step Newton's along those rows.
    At most ``n_params / LEVERAGE`` rows qualify, so the others cost nothing.

    Returns ``(rows, c)`` on the host -- the rows ``x~_i`` (intercept column first when
    fitted) and ``c_i`` -- or ``None`` when no row qualifies. Any array namespace.
    """
    xp = get_namespace(X)
    sel = h > LEVERAGE
    if m is not None:
        sel = sel & (m > 0)
    (idx,) = xp.nonzero(sel)
    if int(idx.shape[0]) == 0:
        return None
    Xs, ys, es, hs = (to_host(xp.take(v, idx, axis=0)) for v in (X, y, eta, h))
    ms = None if m is None else to_host(xp.take(m, idx, axis=0))

    def g(e):
        mu, d = family.link.inverse_and_deriv(e)
        V = family.variance(mu)
        score = (ys - mu) * d / V * (1.0 if ms is None else ms)
        return score + phi * adjustment(e, mu, d, hs)

    delta = 1e-4 * (1.0 + np.abs(es))
    ok = np.asarray(family.valid_eta(es + delta)) & np.asarray(family.valid_eta(es - delta))
    with np.errstate(all="ignore"):
        slope = (g(es + delta) - g(es - delta)) / (2.0 * delta)
        mu, d = family.link.inverse_and_deriv(es)
        w = working_weights(family, es, mu, ms, d)
        c = np.where(ok & np.isfinite(slope), np.maximum(-slope - w, 0.0), 0.0)
    rows = np.column_stack([np.ones(len(es)), Xs]) if fit_intercept else Xs
    return rows, c


def _jeffreys_direction(X, y, m, state: BlockState, family, fit_intercept, power, xp):
    """The penalised score ``U + X~^T t`` and the factor of the matrix to step with.

    Hat values come from the block's own information at ``state``; rows with high
    leverage add their missing curvature (:func:`high_leverage_curvature`).
    """
    eta, mu = state.eta, state.mu
    d = family.link.inverse_deriv(eta)
    h = working_weights(family, eta, mu, m, d) * quad_rows(X, state.factor.inverse(),
                                                           fit_intercept, xp)
    t = adjustment_terms(family, eta, mu, d, h, "mJPL", power)
    score = state.score + design_t_vec(X, t, fit_intercept, xp)
    rows = high_leverage_curvature(
        X, y, m, eta, h, family, fit_intercept,
        lambda e, mu_, d_, h_: adjustment_terms(family, e, mu_, d_, h_, "mJPL", power))
    if rows is None or not np.any(rows[1] > 0):
        return score, state.factor
    Xt, c = rows
    return score, PSDFactor(state.information + Xt.T @ (c[:, None] * Xt))


@dataclass
class LocalFit:
    """Result of a block's local fit (all host NumPy)."""

    theta: np.ndarray
    information: np.ndarray
    score: np.ndarray
    deviance: float
    pearson: float
    n_iter: int
    converged: bool
    rank: int
    mle_exists: bool = True
    message: str = ""
    weight_spread: float = 1.0
    #: when the ML fit was declared flat (``mle_exists`` False): the rows whose linear
    #: predictor was still moving by more than 0.1 per step (a device boolean array) --
    #: the rows the separation fits perfectly -- and the last scoring step (host)
    diverging_rows: object = None
    divergence: np.ndarray | None = None


def working_weight_spread(state: BlockState, family) -> float:
    """Largest working weight over the mean of the others (prior weights aside).

    Weights w = d^2 / V(mu) grow without bound when a fitted mean reaches the edge of
    the family's range under a link that does not flatten there (an identity-link
    Poisson mean at 0, say): the block's information is then dominated by single
    rows and is not a usable summary.
    """
    xp = get_namespace(state.eta)
    w = working_weights(family, state.eta, state.mu, None)
    n = int(w.shape[0])
    if n < 2:
        return 1.0
    top = float(xp.max(w))
    rest = (float(xp.sum(w)) - top) / (n - 1)
    return top / rest if rest > 0 else (np.inf if top > 0 else 1.0)


def _objective(state: BlockState, power: float) -> float:
    if power == 0.0:
        return state.deviance
    return state.deviance - 2.0 * power * state.factor.logdet()


def mustart_working(y, m, family, offset=None):
    """Working weights ``w0`` and ``w0 * z0`` at R's ``mustart`` (the first IRLS step).

    ``z0 = eta0 - offset + (y - mu0) / d0`` with ``mu0 = family.starting_mu(y, m)``; the
    first iterate solves ``(X~^T W0 X~) theta = X~^T W0 z0``.
    """
    mu0 = family.starting_mu(y, m)
    eta0 = family.link.link(mu0)
    d0 = family.link.inverse_deriv(eta0)
    md = d0 / family.variance(mu0)
    if m is not None:
        md = m * md
    w0 = md * d0
    return w0, md * (y - mu0) + w0 * (eta0 if offset is None else eta0 - offset)


def _start(X, y, m, family, fit_intercept, xp, workspace, offset=None):
    """R's mustart: one IRLS step from mu0 (falling back to the intercept-only fit).

    Returns the block's state, with score and information, at the first iterate.
    """
    w0, wz0 = mustart_working(y, m, family, offset)
    # IRLS: theta1 = (X~^T W X~)^{-1} X~^T W z0 with z0 = eta0 + (y - mu0) / d0
    rhs, A0 = score_and_information(X, wz0, w0, fit_intercept, xp, workspace)
    theta = PSDFactor(A0).solve(rhs)
    state = evaluate(X, y, m, theta, family, fit_intercept, workspace=workspace, offset=offset)
    if state is not None:
        return state
    theta = np.zeros(X.shape[1] + int(fit_intercept))
    if fit_intercept:
        ybar = float(xp.sum(y if m is None else m * y) / (y.shape[0] if m is None else xp.sum(m)))
        theta[0] = float(to_host(family.link.link(xp.asarray([ybar], dtype=X.dtype)))[0])
    return evaluate(X, y, m, theta, family, fit_intercept, workspace=workspace, offset=offset)


def independent_parameters(A: np.ndarray) -> np.ndarray:
    """Indices of a maximal set of linearly independent parameters of the PSD ``A``,
    chosen greedily in order (the intercept first)."""
    keep: list[int] = []
    for j in range(A.shape[0]):
        trial = keep + [j]
        if A[j, j] > 0 and PSDFactor(A[np.ix_(trial, trial)]).full_rank:
            keep = trial
    return np.asarray(keep, dtype=int)


def _fit_independent_columns(X, y, m, family, A, fit_intercept, tol, max_iter, power,
                             offset=None):
    """:func:`fit_local` on the independent columns, reported for all of them."""
    xp = get_namespace(X)
    keep = independent_parameters(A)
    fi = int(fit_intercept)
    if fit_intercept and (keep.size == 0 or keep[0] != 0):
        keep = np.concatenate([[0], keep])  # the reduced fit keeps its intercept column
    cols = keep[fi:] - fi
    sub = fit_local(xp.take(X, xp.asarray(cols), axis=1), y, m, family,
                    fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                    jeffreys_power=power, offset=offset)
    theta = np.zeros(A.shape[0])
    theta[keep] = sub.theta
    state = evaluate(X, y, m, theta, family, fit_intercept, offset=offset)
    return LocalFit(
        theta=theta,
        information=state.information,
        score=state.score,
        deviance=state.deviance,
        pearson=state.pearson,
        n_iter=sub.n_iter,
        converged=sub.converged,
        rank=PSDFactor(state.information).rank,
        mle_exists=sub.mle_exists,
        message=sub.message,
        weight_spread=working_weight_spread(state, family),
    )


def _scoring_step(X, y, m, state: BlockState, family, fit_intercept, power, xp):
    """The (Jeffreys-penalised when ``power > 0``) Fisher-scoring step at ``state``."""
    if not power:
        return state.factor.solve(state.score)
    score, factor = _jeffreys_direction(X, y, m, state, family, fit_intercept, power, xp)
    return factor.solve(score)


def _initial_state(X, y, m, family, fit_intercept, theta0, xp, workspace,
                   offset=None) -> BlockState:
    """The block's state (with its information's factor) at ``theta0`` or R's mustart."""
    if theta0 is None:
        state = _start(X, y, m, family, fit_intercept, xp, workspace, offset)
    else:
        state = evaluate(X, y, m, np.asarray(theta0), family, fit_intercept, workspace=workspace,
                         offset=offset)
    if state is None:
        raise ValueError(
            f"no valid starting value for the {family.name} model with the "
            f"{family.link.name} link: its mean leaves the family's range at both the "
            "IRLS start and the intercept-only start (fit an intercept, or use a link "
            "whose mean is always valid, e.g. 'log')"
        )
    state.factor = PSDFactor(state.information)
    return state


def _line_search(X, y, m, family, fit_intercept, state: BlockState, step, obj, power,
                 workspace, offset=None):
    """Step halving on the (penalised) deviance: the accepted state and its objective,
    or ``(None, obj)`` when no step length along ``step`` decreases it."""
    t = 1.0
    for _half in range(50):
        cand = evaluate(X, y, m, state.theta + t * step, family, fit_intercept,
                        workspace=workspace, offset=offset)
        if cand is not None:
            cand.factor = PSDFactor(cand.information)
            cobj = _objective(cand, power)
            # the penalised objective uses the pseudo-determinant: a step that makes
            # the information lose rank (a fitted probability of a one-row dummy
            # rounded to 0 or 1) drops the -inf term instead of paying it
            lost_rank = power and cand.factor.rank < state.factor.rank
            if not lost_rank and cobj <= obj + 1e-11 * (abs(obj) + 1.0):
                return cand, cobj
        t *= 0.5
    return None, obj


def _vanished_rows(state: BlockState, family, m):
    """Rows whose working weight has fallen below ``VANISHED`` of the largest one: their
    fitted means sit at the edge of the family's range (a device boolean array)."""
    xp = get_namespace(state.eta)
    w = working_weights(family, state.eta, state.mu, m)
    return w <= VANISHED * float(xp.max(w))


#: a working weight below this fraction of the largest one has vanished in float64 sums
VANISHED = 1e-10


def _local_result(state: BlockState, family, n_iter, converged, mle_exists, max_iter,
                  diverging=None, divergence=None) -> LocalFit:
    """The :class:`LocalFit` of a finished iteration."""
    message = ""
    if not converged:
        message = (
            "the likelihood keeps increasing along a direction (separation or a "
            "response at the boundary): the maximum likelihood estimate does not exist"
            if not mle_exists
            else f"did not converge in {max_iter} iterations"
        )
    return LocalFit(
        theta=state.theta,
        information=state.information,
        score=state.score,
        deviance=state.deviance,
        pearson=state.pearson,
        n_iter=n_iter,
        converged=converged,
        rank=state.factor.rank,
        mle_exists=mle_exists,
        message=message,
        weight_spread=working_weight_spread(state, family),
        diverging_rows=diverging if not mle_exists else None,
        divergence=divergence if not mle_exists else None,
    )


def fit_local(
    X,
    y,
    m,
    family,
    *,
    fit_intercept: bool = True,
    tol: float = 1e-8,
    max_iter: int = 100,
    jeffreys_power: float = 0.0,
    theta0: np.ndarray | None = None,
    offset=None,
) -> LocalFit:
    """Fit a GLM on one block by safeguarded Fisher scoring.

    Convergence: the scoring step satisfies max|step| <= tol * (1 + max|theta|); that
    last (tiny) step is taken, and the score/information of the point it started
    from are returned (they differ by O(tol)). The likelihood is declared flat -- the
    maximum likelihood estimate is at infinity (separation) -- when for three scoring
    steps in a row the deviance stops changing (relative change below tol) while the
    linear predictor of some row still moves by more than 0.1, or when ``max_iter``
    runs out for a fixed-dispersion family.

    An ML fit whose information loses rank on the way (the weights of rows whose
    means it pushes to the edge of the range vanish) has not converged either: its
    estimate is at infinity along its drift.

    With ``jeffreys_power > 0`` the step solves the penalised score with the
    information plus the curvature of high-leverage rows
    (:func:`high_leverage_curvature`; without it a one-row dummy's coefficient
    circles its root and the fit never converges). A rank-deficient block (columns
    constant or collinear within it) is fitted on a maximal set of independent
    columns, the others' coefficients 0 (the same fit: the pseudo-determinant of the
    full information is a constant times the determinant of the reduced one); the
    penalised iterations on the singular information stall instead.
    """
    xp = get_namespace(X)
    power = float(jeffreys_power)
    workspace: dict = {}
    state = _initial_state(X, y, m, family, fit_intercept, theta0, xp, workspace, offset)
    if power and not state.factor.full_rank and theta0 is None:
        return _fit_independent_columns(X, y, m, family, state.information, fit_intercept,
                                        tol, max_iter, power, offset)
    theta_start, rank_start = state.theta, state.factor.rank
    obj = _objective(state, power)
    flat, n_iter, converged = 0, 1, False
    move = last_step = None
    for _ in range(max_iter):
        step = _scoring_step(X, y, m, state, family, fit_intercept, power, xp)
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(state.theta))):
            state.theta = state.theta + step
            converged = True
            break
        new, cobj = _line_search(X, y, m, family, fit_intercept, state, step, obj, power,
                                 workspace, offset)
        if new is None:  # no descent along the scoring direction: at the optimum to rounding
            converged = True
            break
        n_iter += 1
        # Separation: the deviance has stalled but the linear predictor still moves by
        # O(1) on some rows (it runs off to infinity). Slowly (linearly) converging
        # non-canonical links also stall the deviance, but with vanishing moves.
        stalled = abs(obj - cobj) <= tol * (abs(cobj) + 0.1)
        move = xp.abs(new.eta - state.eta)
        flat = flat + 1 if (stalled and float(xp.max(move)) > 0.1) else 0
        last_step = new.theta - state.theta
        state, obj = new, cobj
        if flat >= 3 and not power:
            break
    if not (converged or power > 0 or not (family.fixed_dispersion or family.separable)):
        return _local_result(state, family, n_iter, False, False, max_iter, move > 0.1,
                             last_step)
    if (converged and not power and (family.fixed_dispersion or family.separable)
            and state.factor.rank < rank_start):
        # the information lost rank on the way: the weights of some rows vanished, their
        # means pushed to the edge of the range, and the steps, solved on what is left,
        # became small -- the estimate is at infinity along the drift
        return _local_result(state, family, n_iter, False, False, max_iter,
                             _vanished_rows(state, family, m), state.theta - theta_start)
    return _local_result(state, family, n_iter, converged, True, max_iter)


# --------------------------------------------------------------------------------------
# separation: directions in which the likelihood increases without bound
# --------------------------------------------------------------------------------------

def recession_counts(X, y, m, family, fit_intercept: bool,
                     reference_groups=()) -> np.ndarray | None:
    """Per-parameter counts that decide whether ``theta_j -> +-inf`` alone is a
    direction of recession of the log-likelihood.

    Returns a host array of shape (3, n_params): row 0 counts the rows (with positive
    prior weight) whose likelihood would *fall* as ``theta_j -> +inf`` with the other
    parameters fixed -- rows with ``x_ij > 0`` and a response below the top of its
    range, or ``x_ij < 0`` and a response above the bottom -- row 1 the same for
    ``-inf``, row 2 the rows with ``x_ij != 0``. A parameter with a zero count in row 0
    (row 1) and a positive count in row 2 is separated: every row that depends on it is
    fitted better the larger (smaller) it is, so the maximum likelihood estimate of
    that parameter is ``+inf`` (``-inf``) -- a category without any event, a one-row
    dummy, an all-zero response (the intercept). The counts add up over row blocks, so
    the sums decide the same for the whole data set. ``None`` for families and links
    without such directions (``family.separable``: a response on an edge of the mean
    domain that the link reaches only at an infinite linear predictor).

    With ``reference_groups`` (and an intercept) the array has 6 rows: rows 3-5,
    column k, are the same counts for the reference cell of group k, a "virtual
    column" (:func:`~dask_glmdist.solvers.recession.reference_indicators`).
    """
    if not family.separable:
        return None
    xp = get_namespace(X)
    active = xp.ones_like(y) if m is None else xp.astype(m > 0, X.dtype)
    low_rows, up_rows = family.edge_rows(y)
    low = xp.astype(low_rows, X.dtype) * active
    up = xp.astype(up_rows, X.dtype) * active
    mid = active - low - up
    kinds = xp.stack([low, up, mid], axis=1)  # (n, 3)
    p = int(X.shape[1])
    pos = np.zeros((3, p))
    neg = np.zeros((3, p))
    for a, b in tiles(int(X.shape[0]), isinstance(X, np.ndarray)):
        Xt = X[a:b, :]
        kt = kinds[a:b, :].T
        pos += to_host(kt @ xp.astype(Xt > 0, X.dtype))
        neg += to_host(kt @ xp.astype(Xt < 0, X.dtype))
    plus = pos[0] + neg[1] + pos[2] + neg[2]
    minus = neg[0] + pos[1] + pos[2] + neg[2]
    support = pos.sum(axis=0) + neg.sum(axis=0)
    out = np.stack([plus, minus, support])
    if fit_intercept:
        n_low, n_up, n_mid = (float(xp.sum(v)) for v in (low, up, mid))
        first = np.array([[n_low + n_mid], [n_up + n_mid], [n_low + n_up + n_mid]])
        out = np.concatenate([first, out], axis=1)
        if reference_groups:
            R = reference_indicators(X, reference_groups, xp)
            virtual = np.zeros_like(out)
            virtual[:, :R.shape[1]] = recession_counts(R, y, m, family, False)
            out = np.concatenate([out, virtual], axis=0)
    return out


def rows_information(X, y, m, theta, family, fit_intercept: bool, rows,
                     offset=None) -> np.ndarray:
    """The information ``X~_S^T W X~_S`` at ``theta`` of the rows ``S`` (a boolean mask)."""
    xp = get_namespace(X)
    eta = linear_predictor(X, theta, fit_intercept, xp, offset)
    mu, d = family.link.inverse_and_deriv(eta)
    w = working_weights(family, eta, mu, m, d)
    w = xp.where(rows, w, xp.zeros_like(w))
    return score_and_information(X, xp.zeros_like(w), w, fit_intercept, xp)[1]
