"""Proximal quasi-Newton (PQN) engine: exact penalised GLM fits, one round per iteration.

The problem, over all row blocks together, is

    minimise  F(theta) = D(theta) / (2 S) + sum_j l2_j theta_j^2 / 2 + sum_j l1_j |theta_j|
    subject to |theta_j| <= u_j,

with ``theta = [intercept, *coef]``, D the deviance at dispersion 1 (``-2 loglik`` up
to a constant), ``S`` the number of rows (or the sum of the prior weights m),
``l1 = alpha * l1_ratio``, ``l2 = alpha * (1 - l1_ratio)`` and ``u = max_abs_coef``
(0, 0 and infinity for the intercept). It is scikit-learn's and glum's scaling:
``D / (2 S)`` is the averaged negative log-likelihood for binomial and Poisson models
and half the mean squared error for the gaussian one.

One iteration is one round of map over blocks + tree sum (Tran, Ernst et al.,
fedpydeseq2's ``fed_PQN``, generalised to GLM families, the elastic net and one
shared parameter vector):

1. The master broadcasts the iterate ``theta``, a direction ``d`` and a ladder of step
   sizes ``s_i = s_0 2^-i``. Every block forms ``eta0 = X~ theta`` and ``delta = X~ d``
   (one pass, two columns: ``eta(s) = eta0 - s delta`` is linear in s, so the whole
   ladder costs these two mat-vecs, not one per step) and returns, for every step,
   its deviance, Pearson statistic and score ``X~^T r(s)``, plus the information
   ``X~^T W X~`` at the first step, all in the same tiled pass.
2. The master takes the largest step meeting the Armijo condition
   ``F(theta - s d) <= F(theta) - c s Delta`` (``Delta`` the proximal Newton decrement).
3. It computes the next direction by proximal Newton: with the gradient g of the
   smooth part and the scaling ``H = I/S + diag(l2) + tau I`` (I the Fisher
   information),

       z = argmin_{|z| <= u}  g^T (z - theta) + (z - theta)^T H (z - theta) / 2 + l1^T |z|

   by coordinate descent on the p x p matrix H (:func:`.gram_cd.lasso_cd`, which
   clips each coordinate update to the box), and ``d = theta - z``. Coordinates at a
   bound whose gradient pushes outwards (the binding set of Bertsekas' projected
   Newton method that the seed's projected scaling removes) are held there by the
   clipped updates; solving the box exactly inside the model keeps every trial
   point ``theta - s d = (1 - s) theta + s z`` feasible, so no step is clipped and
   ``eta(s)`` stays linear in s.
4. ``tau`` is a ridge on the scaling, the seed's stabiliser for the first steps: it
   adds ``tau`` times each diagonal entry (Levenberg-Marquardt, so it does not depend
   on the scale of the columns), starts at ``1e-3``, and is divided by 10 after every
   full step and multiplied by 10 after every shortened one (then it vanishes and the
   iteration is proximal Newton with Fisher scaling, quadratically convergent for
   canonical links).

The information returned with the ladder is taken at its first step; when a shorter
step is accepted the next scaling is the previous matrix (the "quasi" in PQN; the
first step overshot, and the information out there can be useless) -- the gradient,
the objective and so the solution and the stopping test are always exact.
Iteration stops when the relative change of F is below ``tol`` and the largest
violation of the KKT conditions (the minimum-norm subgradient of F, projected on the
box) is below ``tol`` as well. When the estimate does not exist (separation, see
:mod:`.recession`) the result says which parameters run off; when the iterations are
held at the edge of the family's range (a link whose mean can leave it, and an
optimum outside it) the fit is refused.

A family whose ancillary parameter is estimated (NB2's ``alpha``,
``family.ancillary_estimated``) is estimated with the coefficients in the same rounds:
the smooth part is then ``-loglik / S`` (the deviance does not compare across values of
``alpha``), and every ladder step moves ``alpha`` too (:mod:`.pqn_ancillary`).

The first round evaluates the start. From a cold start with constant mean
(intercept-only, or all-zero coefficients without intercept) it needs only one pass
of sums -- the weighted Gram ``X~^T M X~`` and ``X~^T M y``, with the recession counts
that decide which parameters run off alone -- because the score and
information at a constant mean are those sums times scalars. For the gaussian
identity model those sums *are* the problem: it is solved on the master with no
further pass.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from .._array import get_namespace, to_host
from .._blocks import BlockSummary, Problems, check_block
from .._progress import report
from ..block_graph import additive
from ..linalg import PSDFactor
from ..rounds import RoundEngine
from .ancillary import START
from .design_checks import column_scales, standard_deviations
from .glm_kernel import (
    least_squares_fit,
    least_squares_sums,
    linear_predictor,
    log_weight_sum,
    score_and_information,
)
from .gram_cd import MAX_SWEEPS, lasso_cd
from .local import mustart_working, recession_counts
from .pqn_ancillary import AncillaryPart, column_terms, initial_value, ladder_terms
from .recession import (
    PROBE_STEPS,
    classify_runaway,
    confirms_recession,
    infinite_parameters,
    recession_block,
)

logger = logging.getLogger("dask_glmdist")

__all__ = ["Penalty", "PQNResult", "fit_pqn", "ladder_block", "sums_block"]

ARMIJO = 1e-4
LONG_LADDER = 4        # steps 1 .. 1/8: the first iteration and after a short step
SHORT_LADDER = 1       # the full step alone once full steps are being accepted
MIN_STEP = 2.0 ** -40  # below this the line search has failed
RIDGE_START = 1e-3
RIDGE_FLOOR = 1e-12
FLAT_STEP = 1e-2       # a step this large (relative) at a stalled objective: no optimum
STALL_STEP = 2.0 ** -12  # a line search this short at a near-solution: a numerical floor
SHRINK = 0.5           # a converging step is at most this fraction of the previous one
FLAT_ITERATIONS = 3    # flat objective, steps not shrinking: this many, then probe
DRIFT_SHARE = 1e-2     # of the largest drift: that parameter moved materially
# Held at the edge of the range: EDGE_ITERATIONS updates in a row that, within
# EDGE_RECENT iterations of a line search cut short by rows leaving the family's range,
# moved less than EDGE_STEP of the update or left the objective unchanged (to tol)
EDGE_STEP = 1e-3
EDGE_ITERATIONS = 3
EDGE_RECENT = 5
AT_EDGE = "the estimate lies on the edge of the range of the family's mean"
STALLED = ("no further decrease of the objective is possible in floating point (or "
           "fitted means sit at the edge of their range)")
SEPARATION = (
    "the objective keeps decreasing along a direction in which the coefficients grow "
    "without bound (e.g. separated classes): the unpenalised estimate does not exist; "
    "use max_abs_coef or alpha > 0"
)


def max_iter_message(max_iter: int) -> str:
    return f"the iteration limit max_iter={max_iter} was reached"


ALL_ZERO_WEIGHTS = (
    "Sample weights must contain at least one non-zero number: every row of the input "
    "has sample_weight 0, so there is nothing to fit."
)


# --------------------------------------------------------------------------------------
# the penalty (host, p-sized)
# --------------------------------------------------------------------------------------


@dataclass
class Penalty:
    """Elastic-net weights and box of every parameter (``[intercept, *coef]`` order)."""

    l1: np.ndarray
    l2: np.ndarray
    bound: np.ndarray  # inf where unbounded
    intercept: bool = False  # parameter 0 is a free intercept

    @classmethod
    def elastic_net(cls, n_features, alpha, l1_ratio, max_abs_coef, fit_intercept,
                    scale=None):
        """The penalty ``alpha (rho |s_j c_j| + (1 - rho) / 2 (s_j c_j)^2)`` on every
        coefficient ``c_j`` (not the intercept), with ``s = scale`` (``[intercept,
        *coef]`` order; 1 when None): with the columns' standard deviations it is the
        penalty on the coefficients of the standardised columns (``standardize=True``).
        The box ``|c_j| <= max_abs_coef`` stays on the coefficients themselves.
        """
        k = n_features + int(fit_intercept)
        s = np.ones(k) if scale is None else np.asarray(scale, dtype=np.float64)
        l1 = float(alpha) * float(l1_ratio) * s
        l2 = float(alpha) * (1.0 - float(l1_ratio)) * s * s
        bound = np.full(k, np.inf if max_abs_coef is None else float(max_abs_coef))
        if fit_intercept:
            l1[0] = l2[0] = 0.0
            bound[0] = np.inf
        return cls(l1, l2, bound, bool(fit_intercept))

    def scaled(self, scale) -> Penalty:
        """The penalty on ``theta * scale`` (the coefficients of columns ``X / scale``)."""
        return Penalty(self.l1 / scale, self.l2 / (scale * scale), self.bound * scale,
                       self.intercept)

    @property
    def free(self) -> np.ndarray:
        """The parameters with neither a penalty nor a bound (only they can run off)."""
        return (self.l1 == 0) & (self.l2 == 0) & ~np.isfinite(self.bound)

    @property
    def boxed(self) -> bool:
        return bool(np.any(np.isfinite(self.bound)))

    def value(self, theta) -> float:
        return 0.5 * float(self.l2 @ (theta * theta)) + float(self.l1 @ np.abs(theta))

    def values(self, thetas) -> np.ndarray:
        """Penalty of each row of ``thetas``."""
        return 0.5 * (thetas * thetas) @ self.l2 + np.abs(thetas) @ self.l1

    def kkt_violation(self, theta, grad) -> np.ndarray:
        """Per parameter, the distance of ``-grad`` from the subdifferential + normal cone.

        ``grad`` is the gradient of the smooth part. Zero for every parameter exactly
        at a solution.
        """
        l1, u = self.l1, self.bound
        v = np.where(theta > 0, grad + l1, np.where(theta < 0, grad - l1, 0.0))
        at_zero = theta == 0
        v = np.where(at_zero, np.sign(grad) * np.maximum(np.abs(grad) - l1, 0.0), v)
        eps = 1e-12 * np.maximum(np.where(np.isfinite(u), u, 1.0), 1.0)
        upper = np.isfinite(u) & (theta >= u - eps)
        lower = np.isfinite(u) & (theta <= -u + eps)
        v = np.where(upper, np.maximum(grad + l1, 0.0), v)   # F may only fall outwards
        v = np.where(lower, np.minimum(grad - l1, 0.0), v)
        return np.abs(v)


def penalty_scale(sums: DataSums, fit_intercept: bool, standardize: bool):
    """The penalty factors of ``standardize=True`` (the columns' standard deviations,
    from the first-pass sums); None otherwise."""
    if not standardize:
        return None
    return standard_deviations(sums.gram, sums.weight, fit_intercept)


# --------------------------------------------------------------------------------------
# block functions (run where the blocks live; array-namespace generic) and their summaries
# --------------------------------------------------------------------------------------


@dataclass
class DataSums(BlockSummary):
    """First-pass sums (weighted Gram with intercept border, y sums, counts).

    A block's summary of :func:`sums_block` and, added over the blocks, the data's
    (``None`` arrays: a block that only reports problems). ``a - b``: the sums of the
    rows of ``a`` that are not in ``b`` (a cross-validation fold's training sums).
    """

    gram: np.ndarray | None = None
    gy: np.ndarray | None = None
    yy: float = 0.0
    weight: float = 0.0
    n_obs: int = 0
    n_pos: int = 0
    recession: np.ndarray | None = None  # summed recession counts (None: cannot separate)
    log_weight: float = 0.0  # least-squares families: sum log m (glm_kernel.log_weight_sum)

    def __sub__(self, other: DataSums) -> DataSums:
        counts = None if self.recession is None else self.recession - other.recession
        return DataSums(gram=self.gram - other.gram, gy=self.gy - other.gy,
                        yy=self.yy - other.yy, weight=self.weight - other.weight,
                        n_obs=self.n_obs - other.n_obs, n_pos=self.n_pos - other.n_pos,
                        recession=counts, log_weight=self.log_weight - other.log_weight)


@additive
def sums_block(X, y, m, *, family, fit_intercept, validate, block_index, offset=None,
               reference_groups=()):
    """Weighted Gram ``X~^T M X~`` (intercept border always kept) and the y sums.

    ``X~^T M [1, y]`` is the Gram's first column and ``gy``; with the sums the score
    and information at any constant mean follow on the master. For families that can
    separate, also the recession counts (``recession``,
    :func:`~dask_glmdist.solvers.local.recession_counts`) that decide exactly which
    parameters run off to infinity along their own coordinate. Also checks the block
    when ``validate`` (dask input: the first pass is where its values are seen).
    """
    xp = get_namespace(X)
    n = int(X.shape[0])
    if validate:
        problems = check_block(X, y, m, family=family)
        if offset is not None and not bool(xp.all(xp.isfinite(offset))):
            problems["nonfinite_offset"] = 1
        if problems:
            return DataSums(n_obs=n, problems=Problems.at(block_index, problems))
    counts = recession_counts(X, xp.asarray(y, dtype=X.dtype), m, family, fit_intercept,
                              reference_groups)
    log_weight = log_weight_sum(m, xp) if family.least_squares else 0.0
    return DataSums(n_obs=n, recession=counts, log_weight=log_weight,
                    **least_squares_sums(X, y, m, True, xp))


@dataclass
class Ladder(BlockSummary):
    """The smooth part at every step of a ladder (:func:`ladder_block`): per step the
    deviance, Pearson statistic, ``invalid`` rows (linear predictor outside the
    family's domain) and score (columns), and the information at the first step."""

    deviance: np.ndarray | None = None
    pearson: np.ndarray | None = None
    invalid: np.ndarray | None = None
    score: np.ndarray | None = None
    information: np.ndarray | None = None
    # an estimated ancillary parameter (pqn_ancillary.py), per step: the log-likelihood
    # and the sums of its score and curvature in the parameter
    loglik: np.ndarray | None = None
    anc_score: np.ndarray | None = None
    anc_hess: np.ndarray | None = None


@dataclass
class StartSums(BlockSummary):
    """One IRLS step from R's mustart (:func:`irls_start_block`)."""

    information: np.ndarray | None = None
    rhs: np.ndarray | None = None


@additive
def ladder_block(X, y, m, theta, direction, steps, *, family, fit_intercept, block_index,
                 offset=None, values=None):
    """Deviance, Pearson statistic and score at ``theta - s d`` for every step s, and
    the information at the first step, in one tiled pass over the block.

    ``direction`` None (or all zero) evaluates at ``theta`` only (one step).
    Returns ``invalid`` counts per step: rows whose linear predictor leaves the
    family's domain (those steps are unusable). ``values``: step ``i`` is evaluated at
    ``family.with_ancillary(values[i])`` (an estimated ancillary parameter), and also
    gives the log-likelihood and the parameter's score and curvature
    (:func:`.pqn_ancillary.ladder_terms`).
    """
    xp = get_namespace(X)
    steps = np.asarray(steps, dtype=np.float64)
    L = steps.shape[0]
    d = np.zeros_like(theta) if direction is None else direction
    S = xp.asarray(steps, dtype=X.dtype)
    E = linear_predictor(X, np.stack([theta, d], axis=1), fit_intercept, xp)
    eta0 = E[:, 0] if offset is None else E[:, 0] + offset
    H = eta0[:, None] - E[:, 1][:, None] * S[None, :]
    del E
    yt = xp.asarray(y, dtype=X.dtype)[:, None]
    ok, mu, dmu, t, v, ud = column_terms(family, values, yt, m, H, xp)
    bad = ~ok
    invalid = to_host(xp.sum(xp.astype(bad, X.dtype), axis=0))
    if bool(xp.any(bad)):  # evaluate those rows at theta instead (the step is unusable)
        H = xp.where(ok, H, xp.zeros_like(H) + eta0[:, None])
        _, mu, dmu, t, v, ud = column_terms(family, values, yt, m, H, xp)
    del H
    extra = {} if values is None else ladder_terms(family, values, yt[:, 0], m, mu)
    resid = yt - mu
    # Pearson's statistic is only used for an estimated dispersion
    pr = None if family.fixed_dispersion else resid * resid / v
    if m is not None:
        mt = xp.asarray(m, dtype=X.dtype)[:, None]
        pos = mt > 0
        zero = xp.zeros_like(ud)
        ud = xp.where(pos, mt * ud, zero)
        if pr is not None:
            pr = xp.where(pos, mt * pr, zero)
        t = mt * t
    dev = to_host(xp.sum(ud, axis=0))
    pearson = np.full(L, np.nan) if pr is None else to_host(xp.sum(pr, axis=0))
    w0 = t[:, 0] * dmu[:, 0]
    r = t * resid    # the score residuals r(s) of every step
    del mu, dmu, v, t, resid, ud, pr
    score, info = score_and_information(X, r, w0, fit_intercept, xp)
    return Ladder(deviance=dev, pearson=pearson, invalid=invalid, score=score,
                  information=info, **extra)


@additive
def irls_start_block(X, y, m, *, family, fit_intercept, block_index, offset=None):
    """``X~^T W0 X~`` and ``X~^T W0 z0`` at R's ``mustart`` (one IRLS step, no theta)."""
    xp = get_namespace(X)
    w0, wz0 = mustart_working(y, m, family, offset)
    b, A = score_and_information(X, wz0, w0, fit_intercept, xp)
    return StartSums(information=A, rhs=b)


# --------------------------------------------------------------------------------------
# the master
# --------------------------------------------------------------------------------------


@dataclass
class SmoothState:
    """The smooth part at one point: what the next direction and a warm start need."""

    theta: np.ndarray
    deviance: float
    pearson: float
    score: np.ndarray        # X~^T r (unscaled; the log-likelihood's gradient at phi = 1)
    information: np.ndarray  # X~^T W X~ (unscaled)
    # an estimated ancillary parameter (pqn_ancillary.py): its value here (the family's
    # for the other fields), the log-likelihood and the sums of the parameter's score and
    # curvature
    ancillary: float | None = None
    loglik: float = float("nan")
    anc_score: float = float("nan")
    anc_hess: float = float("nan")

    def scaled(self, scale) -> SmoothState:
        """The same point in the coordinates ``theta * scale`` (columns ``X / scale``)."""
        return replace(self, theta=self.theta * scale, score=self.score / scale,
                       information=self.information / np.outer(scale, scale))

    def with_ladder(self, r: Ladder, i: int, ancillary=None) -> SmoothState:
        """The ancillary fields from step ``i`` of the ladder round ``r`` (unchanged
        for a fixed family)."""
        if r.loglik is None:
            return self
        return replace(self, ancillary=ancillary, loglik=float(r.loglik[i]),
                       anc_score=float(r.anc_score[i]), anc_hess=float(r.anc_hess[i]))


@dataclass
class PQNResult:
    """Outcome of :func:`fit_pqn` (all host NumPy)."""

    theta: np.ndarray
    objective: float
    state: SmoothState
    weight_sum: float
    n_obs: int
    n_pos: int
    n_iter: int
    n_rounds: int
    converged: bool
    kkt: float
    objective_path: list = field(default_factory=list)
    message: str = ""
    drift: np.ndarray | None = None    # standardised change over the last iterations
    # None, or when the estimate does not exist: per parameter +1/-1 (runs off to
    # +-inf), recession.UNDETERMINED (not determined by the data, nor its sign) or 0
    # (finite). ``message`` is then SEPARATION, or the iteration limit when it was
    # reached first (the finite estimates have not converged either).
    runaway: np.ndarray | None = None
    ancillary: float | None = None     # the estimated ancillary parameter (pqn_ancillary)


def data_sums(engine: RoundEngine, family, *, fit_intercept, validate,
              reference_groups=()) -> DataSums:
    """The sums round (also the validation pass for dask input); ``reference_groups``:
    :func:`~dask_glmdist.solvers.recession.reference_groups`."""
    s = engine.run(sums_block, family=family, fit_intercept=fit_intercept,
                   validate=validate, label="pqn sums", reference_groups=reference_groups)
    s.problems.raise_if_any()
    if s.weight <= 0:
        raise ValueError(ALL_ZERO_WEIGHTS)
    return s


def _strip(gram, gy, fit_intercept):
    return (gram, gy) if fit_intercept else (gram[1:, 1:], gy[1:])


def constant_mean_state(sums: DataSums, family, fit_intercept) -> SmoothState | None:
    """The smooth state at the intercept-only MLE (or at theta = 0 without intercept).

    At a constant mean mu0 the score is ``(d/V)(X~^T M y - mu0 X~^T M 1)`` and the
    information ``(d^2/V) X~^T M X~``. The deviance there is not a function of the
    sums for every family; it is left NaN and the first ladder evaluates it (step 0).
    Returns None when the constant mean is outside the family's range.
    """
    k = sums.gram.shape[0] - 1 + int(fit_intercept)
    theta = np.zeros(k)
    if fit_intercept:
        ybar = sums.gy[0] / sums.weight
        mu0 = np.array([ybar])
        if not bool(np.all(family.valid_mu(mu0))):
            return None
        theta[0] = float(np.asarray(family.link.link(mu0))[0])
        eta = np.array([theta[0]])
    else:
        eta = np.array([0.0])
        if not bool(np.all(family.valid_eta(eta))):
            return None
    mu, dmu = family.link.inverse_and_deriv(eta)
    mu, dmu = float(mu[0]), float(dmu[0])
    v = float(np.asarray(family.variance(np.array([mu])))[0])
    if not (np.isfinite(mu) and v > 0):
        return None
    score = (dmu / v) * (sums.gy - mu * sums.gram[:, 0])
    info = (dmu * dmu / v) * sums.gram
    score, info = score[1 - int(fit_intercept):], info if fit_intercept else info[1:, 1:]
    return SmoothState(theta, np.nan, np.nan, score, info)


def solve_direction(theta, grad, information, S, pen: Penalty, ridge, cd_tol):
    """Proximal Newton point z and decrement for the scaling ``(I/S + l2)(1 + ridge)`` on
    the diagonal (a relative ridge).

    Returns ``(z, decrement)`` with ``decrement = g^T (z - theta) + l1^T (|z| - |theta|)``
    (<= 0; 0 exactly at a solution).
    """
    Hs = information / S
    floor = 1e-12 * max(float(np.max(np.diag(Hs), initial=0.0)), 1e-300)
    Hs[np.diag_indices_from(Hs)] += pen.l2
    if ridge > 0:  # Levenberg-Marquardt: relative to each diagonal entry (scale-free)
        diag = np.diag(Hs).copy()
        Hs[np.diag_indices_from(Hs)] += ridge * np.maximum(diag, floor)
    z, _ok = _quadratic_min(Hs, Hs @ theta - grad, pen, theta, cd_tol)
    dec = float(grad @ (z - theta)) + float(pen.l1 @ (np.abs(z) - np.abs(theta)))
    return z, dec


def _quadratic_min(H, b, pen: Penalty, x0, cd_tol):
    """argmin ``x'Hx/2 - b'x + l1'|x|`` over the box.

    A linear solve when there is neither an L1 part nor a box (minimum-norm for a
    singular H), else coordinate descent. A free intercept is profiled out first
    (``x_0 = (b_0 - H_0r x_r) / H_00``, leaving the Schur complement of ``H_00``):
    this is centring the columns, without which coordinate descent crawls on
    uncentred data. Returns ``(x, converged)``.
    """
    if not pen.boxed and not np.any(pen.l1 > 0):
        return PSDFactor(H).solve(b), True
    bound = pen.bound if pen.boxed else None
    if pen.intercept and H[0, 0] > 0:
        h, h00 = H[1:, 0], H[0, 0]
        Hr = H[1:, 1:] - np.outer(h, h) / h00
        br = b[1:] - h * (b[0] / h00)
        xr, sweeps = lasso_cd(Hr, br, pen.l1[1:], x0=None if x0 is None else x0[1:],
                              bound=None if bound is None else bound[1:], tol=cd_tol)
        x = np.concatenate([[(b[0] - h @ xr) / h00], xr])
    else:
        x, sweeps = lasso_cd(H, b, pen.l1, x0=x0, bound=bound, tol=cd_tol)
    if sweeps >= MAX_SWEEPS:
        logger.info("PQN: coordinate descent stopped at %d sweeps", sweeps)
    return x, sweeps < MAX_SWEEPS


def fit_pqn(engine: RoundEngine, family, pen: Penalty, *, fit_intercept: bool, tol: float,
            max_iter: int, sums: DataSums | None = None, warm: SmoothState | None = None,
            theta0=None, label: str = "PQN", ancillary0: float | None = None) -> PQNResult:
    """Minimise the penalised objective (module docstring) over the blocks of
    ``engine.data``; ``n_rounds`` of the result counts the engine's rounds made here.

    The iteration runs in the coordinates of the standardised columns
    (``theta_j * scale_j``, :func:`.design_checks.column_scales` from the first-pass
    sums; the penalty's weights and box transform with them), so that its tolerances
    and the coordinate descent do not depend on the units of the columns. The blocks
    always see the original coefficients; the result is in the original coordinates,
    except ``kkt`` (per standardised coefficient).

    Parameters
    ----------
    sums : DataSums, optional
        The first-pass sums (computed here when missing).
    warm : SmoothState, optional
        The smooth state at a feasible warm start (e.g. the previous solution of a
        path); no start round is then needed.
    theta0 : ndarray, optional
        A warm start whose state is unknown (one evaluation round).
    ancillary0 : float, optional
        ``family.ancillary_estimated``: the start of the ancillary parameter with
        ``theta0`` (default: the moment estimate at a constant-mean start, else
        :data:`~.ancillary.START`; a ``warm`` state carries its own). The parameter is
        then estimated with the coefficients (:mod:`.pqn_ancillary`): the objective is
        the penalised negative log-likelihood per unit weight, and the result's
        ``ancillary`` is the estimate.
    """
    data, first = engine.data, engine.count
    if sums is None:
        sums = data_sums(engine, family, fit_intercept=fit_intercept, validate=True)
    scale = column_scales(sums.gram, sums.weight, fit_intercept)
    pen_s = pen.scaled(scale)
    if family.least_squares and data.offset is None:
        start = warm.theta if warm is not None else theta0
        return _fit_gaussian_identity(sums, pen_s, scale, fit_intercept, tol,
                                      engine.count - first, start)

    def run(theta_s, direction_s, steps, values=None):
        kw = {} if values is None else {"values": tuple(float(a) for a in values)}
        r = engine.run(ladder_block, theta_s / scale,
                       None if direction_s is None else direction_s / scale, steps,
                       family=family, fit_intercept=fit_intercept,
                       label=f"{label} round {engine.count - first + 1}", **kw)
        return replace(r, score=r.score / scale[:, None],
                       information=r.information / np.outer(scale, scale))

    state, include_start, fixed = _start_state(engine, run, family, pen, sums, scale,
                                               fit_intercept, warm, theta0, ancillary0)
    anc = None
    if family.ancillary_estimated:
        anc = AncillaryPart(state.ancillary, sums.weight, state.anc_score, state.anc_hess)
    res = _iterate(run, state, pen_s, sums.weight, tol=tol, max_iter=max_iter,
                   include_start=include_start, label=label, anc=anc)
    if anc is not None:
        fixed = family.with_ancillary(anc.value)
    if res.message == AT_EDGE:
        raise ValueError(_edge_message(fixed, res.kkt, label))
    _settle_separation(engine, fixed, fit_intercept, res, pen_s, scale, sums, label)
    if res.runaway is not None and res.message != max_iter_message(max_iter):
        res.message = SEPARATION   # what stopped it (a stall at the edge of the range)
    res.theta = res.theta / scale
    res.state = res.state.scaled(1.0 / scale)
    res.n_obs, res.n_pos, res.n_rounds = sums.n_obs, sums.n_pos, engine.count - first
    return res


def _start_state(engine, run, family, pen, sums, scale, fit_intercept, warm, theta0,
                 ancillary0):
    """``(state, include_start, fixed)``: the smooth state at the start (standardised),
    whether its objective is still to be evaluated, and the family with an estimated
    ancillary parameter fixed at its start (``family`` itself otherwise)."""
    data = engine.data
    constant = warm is None and theta0 is None and data.offset is None
    if warm is not None:
        a0 = warm.ancillary
    elif ancillary0 is not None:
        a0 = float(ancillary0)
    else:
        a0 = initial_value(sums, fit_intercept) if constant else START
    fixed = family.with_ancillary(a0) if family.ancillary_estimated else family
    if warm is not None:
        return warm.scaled(scale), False, fixed
    state = constant_mean_state(sums, fixed, fit_intercept) if constant else None
    if state is not None:
        return replace(state.scaled(scale), ancillary=fixed.ancillary), True, fixed
    theta = _start_theta(engine, fixed, pen, fit_intercept, sums, theta0)
    values = (a0,) if family.ancillary_estimated else None
    return _evaluate_start(run, theta * scale, fixed, values), False, fixed


def unpenalised_covariance(res: PQNResult, family, k: int):
    """``(cov_params, dispersion)`` of an unpenalised, unconstrained fit: the inverse
    information at the estimate times the Pearson dispersion (1 for a family whose
    scale is fixed; NaN without residual degrees of freedom, and a NaN matrix when the
    information is singular)."""
    df = res.n_pos - k
    if family.fixed_dispersion:
        phi = 1.0
    else:
        phi = res.state.pearson / df if df > 0 else np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            cov = np.linalg.inv(res.state.information)
        except np.linalg.LinAlgError:
            cov = np.full((k, k), np.nan)
    return phi * cov, phi


def _edge_message(family, kkt, label) -> str:
    link = family.link.name
    better = family.domain.safe_link
    return (
        f"{label}: the iterations are held at the edge of the {family.name} model's range "
        f"under the {link} link: every update points out of it (the line search keeps "
        "rejecting steps whose fitted means leave the range) while the objective still "
        f"decreases outwards (largest KKT violation {kkt:.3g}). The estimate lies on the "
        f"boundary of the {link} link's valid range: it is not a maximum likelihood "
        "estimate and has no valid standard errors (the data call for a linear predictor "
        f"that the {link} link does not allow). Use a link whose mean is always valid "
        f"(link='{better}')."
    )


def _evaluate_start(run, theta_s, family, values=None) -> SmoothState:
    r = run(theta_s, None, np.zeros(1), values)
    if r.invalid[0] > 0 or not np.isfinite(r.deviance[0]):
        raise ValueError(
            f"no valid starting value for the {family.name} model with the "
            f"{family.link.name} link: its mean leaves the family's range at the "
            "start (fit an intercept, or use a link whose mean is always valid)"
        )
    return SmoothState(theta_s, float(r.deviance[0]), float(r.pearson[0]),
                       r.score[:, 0], r.information).with_ladder(r, 0, family.ancillary)


def _iterate(run, state: SmoothState, pen: Penalty, S: float, *, tol, max_iter,
             include_start, label, anc: AncillaryPart | None = None) -> PQNResult:
    """The PQN iterations from ``state`` (all in standardised coordinates).

    ``include_start``: the start's objective is not known yet; the first ladder
    evaluates it too (its step 0). Every iteration is one ladder round: a line search
    along the proximal Newton direction, then the stopping tests, then the next
    direction (the steps of :class:`_Iteration`).
    """
    it = _Iteration(run, state, pen, S, tol=tol, include_start=include_start, label=label,
                    anc=anc)
    while it.n_iter < max_iter:
        if it.at_solution():
            break
        it.n_iter += 1
        found = it.line_search()
        if found is None:
            if it.search_failed():
                break
            continue
        change, moved = it.accept(*found)
        if it.stops(change, moved):
            break
        it.next_direction()
    return it.result(max_iter)


class _Iteration:
    """The state of the PQN iterations and their named steps (see :func:`_iterate`)."""

    def __init__(self, run, state: SmoothState, pen: Penalty, S: float, *, tol,
                 include_start, label, anc: AncillaryPart | None = None):
        self.run, self.pen, self.S, self.tol, self.label = run, pen, S, tol, label
        self.anc = anc   # an estimated ancillary parameter (pqn_ancillary.py)
        self.state = state
        self.theta = state.theta
        self.include_start = include_start
        self.F = (self._smooth(state) + pen.value(self.theta) if not include_start
                  else np.nan)
        self.info = state.information
        self.grad = -state.score / S + pen.l2 * self.theta
        self.ridge = RIDGE_START
        self.cd_tol = min(1e-10, tol * 1e-3)
        self.path = [] if include_start else [self.F]
        self.converged = False
        self.message = ""
        self.ladder = LONG_LADDER
        self.n_iter = 0
        self.flat = self.stall = 0
        self.recent = [self.theta]   # the last accepted iterates (for the drift at a stop)
        self.moves: list = []
        self.drift = None
        self.kkt = self._kkt(self.theta, self.grad)
        self.s0 = 1.0
        self.edge = 0             # updates in a row held at the edge of the range
        self.last_cut = -EDGE_RECENT - 1   # the last line search cut short by the range
        self.next_direction()

    def next_direction(self) -> None:
        """The proximal Newton point ``z`` and decrement at the current iterate (with
        the ancillary parameter's Newton step and its decrement)."""
        self.z, self.dec = solve_direction(self.theta, self.grad, self.info, self.S,
                                           self.pen, self.ridge, self.cd_tol)
        if self.anc is not None:
            self.dec += self.anc.propose()

    def _smooth(self, state_or_ladder, i=None):
        """The smooth part of F: ``D / (2 S)``, or ``-loglik / S`` with an estimated
        ancillary parameter (pqn_ancillary.py); per step for a ladder round."""
        x = state_or_ladder
        if self.anc is None:
            return (x.deviance if i is None else x.deviance[i]) / (2.0 * self.S)
        return -(x.loglik if i is None else x.loglik[i]) / self.S

    def _kkt(self, theta, grad) -> float:
        kkt = float(np.max(self.pen.kkt_violation(theta, grad), initial=0.0))
        return kkt if self.anc is None else max(kkt, self.anc.kkt())

    def _values(self, steps):
        return None if self.anc is None else self.anc.values(steps)

    def at_solution(self) -> bool:
        """A zero proximal Newton step: stop (evaluating the start when it is unknown)."""
        if self.dec <= -1e-300 or (self.anc is not None and self.anc.step != 0.0):
            return False
        if self.include_start:  # the start is the solution: evaluate its objective
            r = self.run(self.theta, None, np.zeros(1), self._values(np.zeros(1)))
            self.F = float(self._smooth(r, 0)) + self.pen.value(self.theta)
            self.path.append(self.F)
            self.state = SmoothState(self.theta, float(r.deviance[0]),
                                     float(r.pearson[0]), r.score[:, 0],
                                     r.information).with_ladder(r, 0, self.state.ancillary)
            if self.anc is not None:   # alpha's score at the start: go on unless settled
                self.include_start = False
                self.anc.accept(r, 0, np.zeros(1))
                self.kkt = self._kkt(self.theta, self.grad)
                self.next_direction()
                if self.dec <= -1e-300 or self.anc.step != 0.0:
                    return False
        self.converged = self.kkt <= self.tol
        self.message = "" if self.converged else (
            f"the proximal Newton step is zero but the largest KKT violation is "
            f"{self.kkt:.3g} > tol")
        return True

    def line_search(self):
        """One ladder round along ``d = theta - z``; the first step meeting Armijo's
        condition as ``(r, i, steps, cand, Fs)``, or None when none does."""
        d = self.theta - self.z
        steps = self.s0 * 0.5 ** np.arange(self.ladder)
        if self.include_start:
            steps = np.concatenate([steps, [0.0]])
        r = self.run(self.theta, d, steps, self._values(steps))
        smooth = self._smooth(r, slice(None))
        ok = (r.invalid == 0) & np.isfinite(smooth)
        cand = self.theta[None, :] - steps[:, None] * d[None, :]
        Fs = np.where(ok, smooth, np.inf) + self.pen.values(cand)
        if self.include_start:
            self.F = float(Fs[-1])
            self.path.append(self.F)
            Fs, steps = Fs[:-1], steps[:-1]
            self.include_start = False
        self.steps = steps
        slack = 1e-14 * max(abs(self.F), 1.0)
        good = np.flatnonzero(Fs <= self.F + ARMIJO * steps * self.dec + slack)
        rejected = good[0] if good.size else steps.shape[0]
        if np.any(r.invalid[:rejected] > 0):
            self.last_cut = self.n_iter
        if good.size == 0:
            return None
        return r, int(good[0]), steps, cand, Fs

    def search_failed(self) -> bool:
        """No step decreased F: shorten the ladder and stiffen the scaling; True to stop.

        Either a numerical floor (stop once the KKT conditions hold to sqrt(tol)) or,
        after 40 halvings, a failure.
        """
        self.s0 = self.steps[-1] * 0.5
        self.ladder = LONG_LADDER
        self.ridge = min(self.ridge * 10.0, 1e6)
        if self.s0 < MIN_STEP or (self.s0 < STALL_STEP and self.kkt <= np.sqrt(self.tol)):
            self.converged = self.kkt <= np.sqrt(self.tol)
            self.message = self._stalled()
            self.drift = self.theta - self.recent[0]
            return True
        return False

    def accept(self, r, i, steps, cand, Fs):
        """Move to the accepted step ``i``; returns the relative change of F and the
        largest change of a parameter."""
        s = float(steps[i])
        theta_new = cand[i]
        F_new = float(Fs[i])
        score = r.score[:, i]
        # The ladder's information is at its first step: exact when that step is
        # taken. A shorter accepted step means the first one overshot, and the
        # information out there can be useless (a Poisson mean of e^100): keep the last.
        if i == 0 and np.all(np.isfinite(r.information)) and r.invalid[0] == 0:
            self.info = r.information
        state = SmoothState(theta_new, float(r.deviance[i]), float(r.pearson[i]), score,
                            self.info)
        if self.anc is not None:
            self.anc.accept(r, i, steps)
            state = state.with_ladder(r, i, self.anc.value)
        self.state = state
        self.grad = -score / self.S + self.pen.l2 * theta_new
        self.kkt = self._kkt(theta_new, self.grad)
        change = abs(self.F - F_new) / max(abs(self.F), abs(F_new), 1.0)
        moved = float(np.max(np.abs(theta_new - self.theta), initial=0.0))
        self.theta, self.F = theta_new, F_new
        self.recent = (self.recent + [self.theta])[-(FLAT_ITERATIONS + 1):]
        self.moves.append(moved)
        self.path.append(self.F)
        logger.info("%s iteration %d: objective %.15g, KKT %.3g, step %.3g", self.label,
                    self.n_iter, self.F, self.kkt, s)
        report(iteration=self.n_iter, objective=self.F, KKT=self.kkt)
        full = i == 0 and self.s0 == 1.0
        self.ridge = self.ridge * 0.1 if full else min(self.ridge * 10.0, 1e6)
        if self.ridge < RIDGE_FLOOR:
            self.ridge = 0.0
        self.ladder = SHORT_LADDER if full else LONG_LADDER
        self.s0 = 1.0
        held = (self.n_iter - self.last_cut <= EDGE_RECENT
                and (s < EDGE_STEP or change <= self.tol))
        self.edge = self.edge + 1 if held else 0
        return change, moved

    def stops(self, change, moved) -> bool:
        """The stopping tests after an accepted step."""
        tol = self.tol
        if self.edge >= EDGE_ITERATIONS and self.kkt > np.sqrt(tol):
            # the update keeps pointing out of the range: the best point inside it is on
            # its edge, where the objective still falls outwards
            self.message = AT_EDGE
            return True
        if self.anc is not None:
            self.anc.propose()
            if not self.anc.settled(self.tol):   # alpha still moves: progress
                self.flat = self.stall = 0
                return False
        size = 1.0 + float(np.max(np.abs(self.theta), initial=0.0))
        if change <= tol and self.kkt <= tol:
            # At a solution the Newton steps shrink fast (quadratically, or linearly
            # for non-canonical links) and the last one is small. Steps that do not
            # shrink while the objective has stopped changing are the signature of a
            # direction along which the coefficients run off to infinity (separation);
            # the caller settles it in one round (recession.py).
            moves = self.moves
            shrinking = len(moves) < 2 or moved <= SHRINK * moves[-2]
            if moved <= FLAT_STEP * size and (shrinking or moved <= 1e-10 * size):
                self.converged = True
                return True
            self.flat += 1
            if self.flat >= FLAT_ITERATIONS:
                self.converged = True   # unless the probe finds a recession direction
                self.drift = self.theta - self.recent[0]
                return True
        elif change <= 1e-14 and moved <= FLAT_STEP * size:
            # the objective no longer moves but the KKT test is not met: rounding, or
            # means clipped at the edge of their range, whose deviance is flat
            self.flat = 0
            self.stall += 1
            if self.stall >= 3:
                self.converged = self.kkt <= np.sqrt(tol)
                self.message = self._stalled()
                self.drift = self.theta - self.recent[0]
                return True
        else:
            self.flat = self.stall = 0
        return False

    def _stalled(self) -> str:
        """Why no progress is possible: unconverged, with updates recently cut short by
        rows leaving the range, the edge of the range holds the iterations."""
        recent = self.n_iter - self.last_cut <= EDGE_RECENT
        return AT_EDGE if recent and not self.converged else STALLED

    def result(self, max_iter) -> PQNResult:
        if not self.converged and not self.message:
            self.message = max_iter_message(max_iter)
        if self.message:
            logger.info("%s stopped after %d iterations: %s (KKT %.3g)", self.label,
                        self.n_iter, self.message, self.kkt)
        return PQNResult(theta=self.theta, objective=self.F, state=self.state,
                         weight_sum=self.S, n_obs=-1, n_pos=-1, n_iter=self.n_iter,
                         n_rounds=0, converged=self.converged, kkt=self.kkt,
                         objective_path=self.path,
                         message=self.message, drift=self.drift,
                         ancillary=None if self.anc is None else self.anc.value)


def drift_direction(drift, pen: Penalty) -> np.ndarray | None:
    """The direction to probe: the drift of the free parameters (neither penalised nor
    bounded) that moved materially, scaled to a largest component of 1; None if none.

    Parameters with an infinite estimate grow along the drift; the others have
    converged, their changes exponentially small (below ``DRIFT_SHARE`` of the
    largest).
    """
    u = np.where(pen.free, drift, 0.0)
    big = float(np.max(np.abs(u), initial=0.0))
    if not big > 1e-8:
        return None
    u = np.where(np.abs(u) > DRIFT_SHARE * big, u, 0.0)
    return u / big


def _settle_separation(engine: RoundEngine, family, fit_intercept, res: PQNResult,
                       pen_s: Penalty, scale, sums: DataSums, label) -> None:
    """Decide whether the estimate runs off (recession.py), in rounds of ``engine``.

    The first pass's counts name the parameters that run off along their own
    coordinate, exactly; a suspicious stop (``res.drift``) adds the direction of the
    drift, which a probe round must confirm. The probe along the confirmed direction
    (coordinate runaways included) classifies every parameter: ``res`` gets
    ``runaway`` and ``converged=False``. No round when neither applies; two when the
    drift is not confirmed but coordinate runaways exist.
    """
    free = pen_s.free
    coord = {j: s for j, s in infinite_parameters(sums.recession).items() if free[j]}
    exact = np.zeros(len(free))
    exact[list(coord)] = list(coord.values())
    candidates = []   # (direction, whether the probe must confirm it)
    u = None if res.drift is None else drift_direction(res.drift, pen_s)
    if u is not None:
        u = np.where(exact != 0, exact, u)
        if not (coord and np.array_equal(u, exact)):
            candidates.append((u, True))
    if coord:   # exact: no confirmation needed
        candidates.append((exact, False))
    mask = exact != 0 if coord else None
    for u, check in candidates:
        r = engine.run(recession_block, res.theta / scale, u / scale, PROBE_STEPS,
                       family=family, fit_intercept=fit_intercept, coordinate=mask,
                       label=f"{label} separation check")
        confirmed = not check or confirms_recession(r)
        logger.info("%s: the %s %s a recession direction", label,
                    "drift" if check else "coordinate direction",
                    "is" if confirmed else "is not")
        if confirmed:
            unpenalised = (pen_s.l1 == 0) & (pen_s.l2 == 0)
            res.runaway = classify_runaway(r, sums.gram, u, unpenalised, fit_intercept, coord)
            res.converged = False
            break


def _start_theta(engine: RoundEngine, family, pen, fit_intercept, sums, theta0):
    """theta0 if given, else one IRLS step from R's mustart (penalised, in the box)."""
    if theta0 is not None:
        return np.clip(np.asarray(theta0, dtype=np.float64), -pen.bound, pen.bound)
    s = engine.run(irls_start_block, family=family, fit_intercept=fit_intercept,
                   label="PQN start")
    S = sums.weight
    H = s.information / S
    H[np.diag_indices_from(H)] += pen.l2 + 1e-10 * max(float(np.mean(np.diag(H))), 1e-300)
    theta, _ = _quadratic_min(H, s.rhs / S, pen, None, 1e-12)
    return theta


def _fit_gaussian_identity(sums, pen_s, scale, fit_intercept, tol, rounds,
                           theta0) -> PQNResult:
    """The least-squares solution from the sums, in standardised coordinates."""
    A, xy = _strip(sums.gram, sums.gy, fit_intercept)
    As, xys = A / np.outer(scale, scale), xy / scale
    S = sums.weight
    H = As / S
    H[np.diag_indices_from(H)] += pen_s.l2
    start = None if theta0 is None else np.asarray(theta0, dtype=np.float64) * scale
    x, ok = _quadratic_min(H, xys / S, pen_s, start, min(1e-12, tol * 1e-4))
    rss, grad = least_squares_fit(As, xys, sums.yy, S, pen_s.l2, x)
    rss = max(rss, 0.0)
    kkt = float(np.max(pen_s.kkt_violation(x, grad), initial=0.0))
    F = rss / (2.0 * S) + pen_s.value(x)
    theta = x / scale
    # Pearson = RSS for the gaussian family
    state = SmoothState(theta, rss, rss, xy - A @ theta, A.copy())
    message = "" if ok else (
        f"coordinate descent on the least-squares problem did not converge in "
        f"{MAX_SWEEPS} sweeps (largest KKT violation {kkt:.3g})")
    return PQNResult(theta=theta, objective=F, state=state, weight_sum=S, n_obs=sums.n_obs,
                     n_pos=sums.n_pos, n_iter=1, n_rounds=rounds, converged=ok,
                     kkt=kkt, objective_path=[F], message=message)
