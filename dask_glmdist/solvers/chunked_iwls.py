"""IWLS over row blocks by tree QR: maximum likelihood, mean bias reduction, Jeffreys penalty.

The mathematics of :class:`~dask_glmdist.BiasReducedGLM` (Kosmidis, Kenne Pagui &
Sartori 2020; Kosmidis & Firth 2021; the bounded-memory variants of Zietkiewicz &
Kosmidis).

Notation as in :mod:`dask_glmdist.families`: eta = X~ beta + offset, mu = g^{-1}(eta),
d = dmu/deta, d' = d^2mu/deta^2, prior weights m, working weights w = m d^2 / V(mu),
working variate z = eta - offset + (y - mu) / d, X~ = [1, X] with an intercept.

**The update.** Every iteration solves (eq. 10 of the bounded-memory paper)

    beta <- (X~^T W X~)^{-1} X~^T W (z + phi xi)

with hat values h_i = w_i x~_i^T (X~^T W X~)^{-1} x~_i and

* ML:          xi_i = 0;
* mBR:         w_i xi_i = h_i d'_i / (2 d_i)                        (Firth 1993 for logit);
* mJPL(a):     w_i xi_i = a h_i (2 d'_i / d_i - d_i V'(mu_i) / V(mu_i)),

the last being the gradient of a log det(X~^T W X~): mJPL maximises l(beta) + a log|i(beta)|
(a = 1/2 is Jeffreys' prior). For canonical links d' = V' d and the two coincide at
a = 1/2. We write ``t_i = w_i xi_i``, so that the update is
``beta_ML + phi (X~^T W X~)^{-1} X~^T t``.

**Chunked.** The least-squares part is a QR: every block reduces its rows of
[sqrt(W) X~ | sqrt(W) z] to a (k+1) x (k+1) R factor, walking NumPy blocks in
cache-sized tiles (QR of [R so far; next tile]); the blocks' R factors are stacked
and reduced again in a tree (TSQR). With R = [[R_xx, c], [0, r]], beta_ML solves
R_xx beta = c and X~^T W X~ = R_xx^T R_xx. The hat values need R_xx *before* the
pass that uses them:

* two passes per iteration (default): pass 1 at beta_t gives R_t; pass 2 computes
  h_i = ||R_t^{-T} sqrt(w_i) x~_i||^2 and X~^T t at the same beta_t -- the in-memory
  iteration (10);
* one pass per iteration: the hat values are those of the previous iterate,
  h_i = ||R_{t-1}^{-T} sqrt(w_i(beta_{t-1})) x~_i||^2 (seed eq. 13: R *and* weights
  of beta_{t-1}, so that they are the hat values of a real fit and sum to k; the
  block recomputes w_i(beta_{t-1}) from x~_i, a matrix-vector product). The same
  fixed point. (Hat values mixing R_{t-1} with the current weights do not sum to k
  and, on separated data, make the iteration circle around the solution: on the
  separated diverted-flights data with a logit link, 100 iterations missed it by 5e-3.)

The first iteration (from mustart) is a plain ML step. (An adjusted first step, with
hat values at the mustart weights, costs one more pass on every fit; it halved the
iterations only for a zero count on a one-row level of a Poisson model, so it was
not kept.)

**High-leverage rows.** (10) is a quasi-Fisher iteration: its matrix X~^T W X~ leaves
out the derivative of the adjustment. For a row with hat value near 1 -- a level of a
factor seen on one row only, whose dummy makes its hat value exactly 1 -- that
derivative is as large as the row's information (logit: -dt_i/deta_i = h_i w_i), the
step overshoots the root by its own length, the iteration oscillates with growing
amplitude until the row's weight underflows and R_xx is singular. The hat-value pass
therefore also returns the R factor of sqrt(c_i) x~_i over the (at most k / 0.25) rows
with h_i > 0.25, where c_i = max(-g_i' - w_i, 0) and g_i is the row's adjusted score
at fixed h_i (central difference), and the step solves
(X~^T W X~ + X~^T C X~) step = adjusted score: Newton's step along those rows, the
same fixed point. Any remaining overshoot is caught by the line search
(:class:`~dask_glmdist.solvers.iwls_iteration.ChunkedIWLS`).

**Dispersion** (gaussian, gamma, inverse gaussian): the method's own estimating
equation, or Pearson's moment estimator; see :mod:`dask_glmdist.solvers.iwls_dispersion`.

**Where things are.** This module: the block pass (:func:`iwls_block`, its tiles,
hat values and high-leverage correction) and the fit (:func:`fit_chunked_iwls`: the
start pass, the iterations, the estimate's statistics).
:mod:`~dask_glmdist.solvers.iwls_iteration`: an iterate, its proposal and the line
search. :mod:`~dask_glmdist.solvers.iwls_dispersion`: the dispersion equations.
:mod:`~dask_glmdist.solvers.iwls_edges`: the edge of the range (a response all at one
edge, infinite ML estimates, estimates on the edge).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg.blas

from .._array import get_namespace, to_host
from .._blocks import BlockSummary, Problems, check_block, sum_summaries
from .._progress import report
from ..block_graph import additive
from ..diagnostics import SeparationWarning
from ..linalg import (
    gram_inverse_from_r,
    qr_r,
    tsqr_combine,
)
from ..rounds import RoundEngine
from .ancillary import START, ancillary_se, ancillary_sums, log_step
from .design_checks import check_identified
from .glm_kernel import TILE_ROWS, adjustment_terms, block_terms, linear_predictor
from .iwls_dispersion import solve_dispersion
from .iwls_edges import (
    BOUNDARY,
    FINAL_BOUNDARY,
    SeparationMonitor,
    boundary_rows,
    check_response,
    edge_counts,
    edge_response,
    lost_parameters,
    on_edge_block,
    outside_gram_block,
    raise_on_edge,
    separation_flags,
    warn_outcome,
)
from .iwls_iteration import ChunkedIWLS, InformationCollapsed, Iterate
from .local import high_leverage_curvature
from .recession import infinite_parameters, reference_flags, separated_references

logger = logging.getLogger("dask_glmdist")

__all__ = [
    "METHODS",
    "PassSpec",
    "IWLSResult",
    "iwls_block",
    "tile_rows",
    "combine_iwls",
    "adjustment_terms",
    "solve_dispersion",
    "fit_chunked_iwls",
    "SeparationWarning",
]

METHODS = ("ML", "mBR", "mJPL")


# --------------------------------------------------------------------------------------
# per-row pieces
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# the block function
# --------------------------------------------------------------------------------------


@dataclass
class PassSpec:
    """What one pass over the blocks computes (broadcast to every block).

    ``beta`` None means R's ``mustart`` (a mean computed from y alone). ``qr``: reduce
    the R factor of [sqrt(W) X~ | sqrt(W) z]. ``hat_R``: compute hat values with this
    R_xx and return the adjustment ``X~^T t``; the weights in the hat values are those
    at ``hat_beta`` (one pass per iteration: the coefficients at which ``hat_R`` was
    reduced, so that the hat values are those of a real fit and sum to k), at the
    ``mustart`` means if ``hat_start``, else at ``beta``. ``validate``: check the
    block's values. ``loglik``: evaluate the log-likelihood at dispersion ``phi``.
    ``dispersion_sums``: return S1, S2, S3 at ``phi`` (gamma with prior weights).
    ``boundary_tol``: how close to the edge of the range a fitted mean counts as on it.
    """

    family: object
    fit_intercept: bool
    beta: np.ndarray | None = None
    phi: float = 1.0
    qr: bool = True
    hat_R: np.ndarray | None = None
    hat_beta: np.ndarray | None = None
    hat_start: bool = False
    method: str = "ML"
    power: float = 0.5
    validate: bool = False
    loglik: bool = False
    dispersion_sums: bool = False
    boundary_tol: float = BOUNDARY
    reference_groups: tuple = ()  # recession.reference_groups (the validation pass)
    ancillary: bool = False        # the family's ancillary sums (solvers.ancillary)
    ancillary_joint: bool = False  # ... with the joint pieces of its standard error


def _as_dtype(xp, v, dtype):
    if v is None or v.dtype == dtype:
        return v
    return xp.astype(v, dtype)


def tile_rows(n_columns: int) -> int:
    """Rows per QR tile: about 64K numbers (at least :data:`~.glm_kernel.TILE_ROWS`), so
    [R; tile] stays in cache.

    Tiles of 1,024 to 2,048 rows were equally fast at 52 columns and 2.5x faster than
    one ``geqrf`` of a 100,000-row block (4,096 rows: 20% slower). Narrow designs get
    taller tiles, which keeps the per-tile Python overhead small.
    """
    return max(TILE_ROWS, 65_536 // max(n_columns, 1))


@dataclass
class IWLSSums(BlockSummary):
    """One IRLS pass's sums (:func:`iwls_block`), added over the blocks; ``None``: not
    computed in this pass (or by no block).

    ``R`` and ``Rc`` are R factors: they combine by stacking and QR (TSQR), everything
    else adds.
    """

    n: int = 0
    n_pos: int = 0
    deviance: float | None = None
    pearson: float | None = None
    boundary: int = 0                 # rows at the edge of the range (fixed dispersion)
    loglik: float | None = None
    S: np.ndarray | None = None       # dispersion-equation sums (weighted gamma)
    sum_my: float | None = None       # mustart pass: sum m y and sum m
    sum_m: float | None = None
    n_low: int | None = None          # first pass: rows on the edges, recession counts
    n_up: int | None = None           # (iwls_edges.edge_counts)
    recession: np.ndarray | None = None
    R: np.ndarray | None = None       # R factor of [sqrt(w) X~, sqrt(w) z]
    adj: np.ndarray | None = None     # the adjustment X~^T t
    Rc: np.ndarray | None = None      # R factor of the leverage correction
    ancillary: dict | None = None     # sums of the ancillary parameter (NB alpha)

    def _merge(self, name: str, a, b):
        if name in ("R", "Rc") and a is not None and b is not None:
            return tsqr_combine(a, b)
        return super()._merge(name, a, b)

    @classmethod
    def combine(cls, *parts):
        """Tree node: stack-and-QR the R factors of all the parts at once, add the rest."""
        typed = [p for p in parts if isinstance(p, cls)]
        factors = {key: [getattr(p, key) for p in typed if getattr(p, key) is not None]
                   for key in ("R", "Rc")}
        out = sum_summaries(*[replace(p, R=None, Rc=None) if isinstance(p, cls) else p
                              for p in parts])
        if not typed:
            return out
        return replace(out, **{key: tsqr_combine(*Rs) if Rs else None
                               for key, Rs in factors.items()})


@additive
def iwls_block(X, y, m, *, spec: PassSpec, block_index, offset=None) -> IWLSSums:
    """One pass over one row block: R factor, adjustment, deviance and friends.

    The row-wise quantities (means, weights, working variates, deviance) are computed
    for the whole block at once. NumPy blocks are then walked in tiles of
    :func:`tile_rows` rows: each tile's scaled rows [sqrt(w), sqrt(w) X, sqrt(w) z]
    are written under the running R in one Fortran-ordered buffer and QR-factorised
    in place (LAPACK ``geqrf``); hat values are a triangular solve (``trsm``) on the
    same tile. Other namespaces (CuPy) take the block as one tile. Only
    (k+1)^2 + O(k) numbers leave the block.
    """
    xp = get_namespace(X, y, m, offset)
    family, fi = spec.family, spec.fit_intercept
    n = int(X.shape[0])
    out = IWLSSums(n=n)
    dtype = X.dtype
    y, m, offset = _as_dtype(xp, y, dtype), _as_dtype(xp, m, dtype), _as_dtype(xp, offset, dtype)
    if spec.validate:
        problems = check_block(X, y, m, family=family)
        if offset is not None and not bool(xp.all(xp.isfinite(offset))):
            problems["nonfinite_offset"] = 1
        if problems:
            out.problems = Problems.at(block_index, problems)
            return out
        out = IWLSSums(n=n, **edge_counts(X, y, m, family, fi, spec.reference_groups))
    # ---- row-wise quantities, whole block ------------------------------------------------
    if spec.beta is None:  # R's mustart: means from y alone
        mu = family.starting_mu(y, m)
        eta = family.link.link(mu)
        out.sum_my = float(xp.sum(y if m is None else m * y))
        out.sum_m = float(n if m is None else xp.sum(m))
    else:
        eta, mu = linear_predictor(X, spec.beta, fi, xp, offset), None
        if not bool(xp.all(family.valid_eta(eta))):
            out.problems = Problems.at(block_index, {"invalid_mean": 1})
            return out
    terms = block_terms(family, y, m, eta, mu)
    mu, d, mv, resid = terms.mu, terms.d, terms.mv, terms.resid
    out.deviance = float(family.deviance(y, mu, m))
    out.pearson = terms.pearson(xp)
    out.n_pos = n if m is None else int(xp.sum(xp.astype(m > 0, xp.int64)))
    if spec.beta is not None and family.fixed_dispersion:
        out.boundary = boundary_rows(family, y, mu, m, xp, spec.boundary_tol)
    if spec.loglik:
        out.loglik = float(family.loglik(y, mu, m, scale=spec.phi))
    if spec.ancillary and spec.beta is not None:
        out.ancillary = ancillary_sums(family, y, mu, m, X, fit_intercept=fi, xp=xp,
                                       joint=spec.ancillary_joint)
    if spec.dispersion_sums and m is not None:
        mh = to_host(m)
        mh = mh[mh > 0]
        a1, a2, a3 = family.dispersion_derivs(mh / spec.phi)
        out.S = np.array([np.sum(mh * a1), np.sum(mh**2 * a2), np.sum(mh**3 * a3)])
    want_adj = spec.hat_R is not None
    if not (spec.qr or want_adj):
        return out
    sqrt_mv = xp.sqrt(mv)
    sw = sqrt_mv * xp.abs(d)
    base = eta if offset is None else eta - offset
    # sqrt(w) z = sqrt(w) (eta - offset) + sqrt(m / V) (y - mu) sign(d): finite at d = 0
    swz = sw * base + sqrt_mv * resid * xp.sign(d)
    sw_hat = _hat_sqrt_weights(X, y, m, spec, xp, offset) if want_adj else None
    # ---- tiles: QR and hat values --------------------------------------------------------
    if isinstance(X, np.ndarray):
        R, h = _tiled_qr_and_hat(X, sw, swz, fi, spec.qr, spec.hat_R, sw_hat)
    else:
        R, h = _one_tile_qr_and_hat(X, sw, swz, fi, spec.qr, spec.hat_R, sw_hat, xp)
    if spec.qr:
        out.R = R
    if want_adj:
        t = adjustment_terms(family, eta, mu, d, h, spec.method, spec.power)
        xt = to_host(X.T @ t)
        out.adj = np.concatenate([[float(xp.sum(t))], xt]) if fi else xt
        Rc = _leverage_correction(X, y, m, eta, h, spec, xp)
        if Rc is not None:
            out.Rc = Rc
    return out


def _leverage_correction(X, y, m, eta, h, spec: PassSpec, xp):
    """R factor of ``sqrt(c_i) x~_i`` over the rows with high hat values.

    ``c_i = max(-g_i'(eta_i) - w_i, 0)`` with ``g_i(eta) = m_i (y_i - mu) d / V + phi t_i``
    the row's adjusted score at fixed hat value (central difference): the curvature the
    quasi-Fisher iteration matrix ``X~^T W X~`` leaves out. For a row that alone
    determines a parameter (hat value 1) it is as large as ``w_i`` (logit:
    ``c_i = h_i w_i``), and without it the step overshoots
    (:class:`~dask_glmdist.solvers.iwls_iteration.ChunkedIWLS`). The rows are those with
    hat value above :data:`~dask_glmdist.solvers.local.LEVERAGE` (at most
    ``k / LEVERAGE``), so this costs nothing on other rows.
    """
    family = spec.family
    rows = high_leverage_curvature(
        X, y, m, eta, h, family, spec.fit_intercept,
        lambda e, mu, d, hs: adjustment_terms(family, e, mu, d, hs, spec.method, spec.power),
        phi=spec.phi)
    if rows is None or not np.any(rows[1] > 0):
        return None
    Xt, c = rows
    return qr_r(np.asfortranarray(np.sqrt(c)[:, None] * Xt))


def _hat_sqrt_weights(X, y, m, spec: PassSpec, xp, offset):
    """sqrt(w) at the coefficients the hat values belong to; None: this pass's own."""
    family = spec.family
    if spec.hat_start:
        mu = family.starting_mu(y, m)
        eta = family.link.link(mu)
    elif spec.hat_beta is not None:
        eta, mu = linear_predictor(X, spec.hat_beta, spec.fit_intercept, xp, offset), None
        if not bool(xp.all(family.valid_eta(eta))):
            return None  # cannot happen for an accepted iterate; fall back to own weights
    else:
        return None
    terms = block_terms(family, y, m, eta, mu)
    return xp.sqrt(terms.mv) * xp.abs(terms.d)


def _one_tile_qr_and_hat(X, sw, swz, fit_intercept, want_qr, hat_R, sw_hat, xp):
    """:func:`_tiled_qr_and_hat` for other namespaces (CuPy): the block as one tile."""
    k = int(X.shape[1]) + int(fit_intercept)
    cols = ([sw[:, None]] if fit_intercept else []) + [X * sw[:, None], swz[:, None]]
    S = xp.concat(cols, axis=1)
    h = None
    if hat_R is not None:
        if sw_hat is not None:
            S_hat = xp.concat(([sw_hat[:, None]] if fit_intercept else [])
                              + [X * sw_hat[:, None]], axis=1)
        else:
            S_hat = S[:, :k]
        G = S_hat @ xp.asarray(np.linalg.inv(hat_R), dtype=X.dtype)
        h = xp.sum(G * G, axis=1)
    return (qr_r(S) if want_qr else None), h


def _tiled_qr_and_hat(X, sw, swz, fit_intercept, want_qr, hat_R, sw_hat=None):
    """R of [sqrt(w) X~ | sqrt(w) z] and/or hat values, walking the rows in tiles.

    The hat values use the weights ``sw_hat`` when given, else ``sw``.
    """
    n, p = X.shape
    k = p + int(fit_intercept)
    step = tile_rows(k + 1)
    rows_max = min(step, max(n, 1))
    buf = np.empty((k + 1 + rows_max, k + 1), order="F")
    buf[: k + 1] = 0.0
    h = np.empty(n) if hat_R is not None else None
    hat_R = np.asfortranarray(hat_R) if hat_R is not None else None
    hat_buf = np.empty((rows_max, k), order="F") if sw_hat is not None else None
    R = np.zeros((k + 1, k + 1))
    for a in range(0, n, step):
        b = min(a + step, n)
        rows = b - a
        tile = buf[k + 1 : k + 1 + rows]
        if fit_intercept:
            tile[:, 0] = sw[a:b]
        np.multiply(X[a:b], sw[a:b, None], out=tile[:, int(fit_intercept) : k])
        tile[:, k] = swz[a:b]
        if hat_R is not None:  # G = sqrt(W) X~ R^{-1}: h_i = ||G_i||^2 (a copy; tile kept)
            if hat_buf is None:
                scaled = tile[:, :k]
            else:
                scaled = hat_buf[:rows]
                if fit_intercept:
                    scaled[:, 0] = sw_hat[a:b]
                np.multiply(X[a:b], sw_hat[a:b, None], out=scaled[:, int(fit_intercept):])
            G = scipy.linalg.blas.dtrsm(1.0, hat_R, scaled, side=1, lower=0)
            h[a:b] = np.einsum("ij,ij->i", G, G)
        if want_qr:
            buf[: k + 1] = R
            R = qr_r(buf if rows == rows_max else buf[: k + 1 + rows])
    return (R if want_qr else None), h


def combine_iwls(*parts):
    """Tree node: stack-and-QR the R factors (``R``, ``Rc``), add everything else."""
    return IWLSSums.combine(*parts)


# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# the iteration
# --------------------------------------------------------------------------------------


@dataclass
class IWLSResult:
    """Outcome of :func:`fit_chunked_iwls` (host NumPy)."""

    beta: np.ndarray
    cov_unscaled: np.ndarray
    dispersion: float
    deviance: float
    pearson: float
    loglik: float
    n_obs: int
    n_pos: int
    n_iter: int
    n_passes: int
    converged: bool
    separated: bool
    history: list = field(default_factory=list)
    flags: dict = field(default_factory=dict)  # ML: parameter index -> ParamFlag
    family: object = None              # the family at the estimate (ancillary fixed there)
    alpha: float | None = None         # the estimated ancillary parameter (NB alpha)
    alpha_se: float = float("nan")     # ... and its standard error (solvers.ancillary)


class _Passes:
    """The data passes of one fit (through its round engine, which counts them)."""

    def __init__(self, engine: RoundEngine, family, fit_intercept, method, power,
                 reference_groups=()):
        self.engine = engine
        self.base = dict(family=family, fit_intercept=fit_intercept, method=method,
                         power=power, reference_groups=reference_groups)

    @property
    def count(self) -> int:
        return self.engine.count

    def __call__(self, label: str, **kw) -> dict:
        return self.engine.run(iwls_block, spec=PassSpec(**{**self.base, **kw}),
                               combine=combine_iwls, label=label)

    def other(self, block_fn, label: str, *args, **settings) -> dict:
        """A pass of another block function (summaries added up)."""
        return self.engine.run(block_fn, *args, label=label, **settings)


def fit_chunked_iwls(
    engine: RoundEngine,
    family,
    *,
    method: str = "mBR",
    power: float = 0.5,
    passes: int = 2,
    dispersion: str = "auto",
    fit_intercept: bool = True,
    tol: float = 1e-8,
    max_iter: int = 100,
    start: np.ndarray | None = None,
    param_names: list[str] | None = None,
    reference_groups: tuple = (),
    statistics=None,
) -> IWLSResult:
    """Fit a GLM by ML, mBR or mJPL with IWLS over the row blocks of ``engine.data``.

    Convergence: ``max |beta_{t+1} - beta_t| <= tol (1 + max |beta_t|)`` and, when the
    dispersion enters the update, ``|phi_{t+1} - phi_t| <= tol phi_t`` (with one pass
    per iteration, also for the step that led to beta_t). ``passes``: data passes per
    iteration (:class:`~.iwls_iteration.ChunkedIWLS`). Steps that leave
    the family's range are halved; so are steps that increase the deviance (ML) or the
    penalised deviance (two-pass mJPL); mBR/mJPL steps that overshoot are shortened.
    ``statistics``: a :class:`~dask_glmdist.fit_statistics.FinalStatistics` to ride on
    the final statistics pass (at the estimate), or a tuple of such riders (e.g. with a
    :class:`~dask_glmdist.sandwich.Sandwich`).

    The steps: the start pass (:func:`_start`: validation, row counts, identification),
    the iterations (:func:`_iterate`) and the estimate's statistics (:func:`_finish`).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if passes not in (1, 2):
        raise ValueError(f"passes must be 1 or 2, got {passes!r}")
    data = engine.data
    k = data.n_features + int(fit_intercept)
    names = param_names or [f"b{j}" for j in range(k)]
    clock = time.perf_counter()
    ancillary = family.ancillary_estimated
    if ancillary:
        if method != "ML":
            raise ValueError(
                f"method={method!r} with the {family.name} family's {family.ancillary_name} "
                f"estimated is not implemented; use method='ML', or fix "
                f"{family.ancillary_name} (e.g. get_family({family.name!r}, "
                f"{family.ancillary_name}=...))")
        family = family.with_ancillary(START)  # the provisional value of the first pass
    run = _Passes(engine, family, fit_intercept, method, power, reference_groups)
    first = _start(run, family, start, k, names, fit_intercept)
    # weighted, without a closed form (gamma): the dispersion equation is solved by Fisher
    # steps on pass sums
    pass_sums = (not family.fixed_dispersion and dispersion == "auto"
                 and data.sample_weight is not None
                 and not family.closed_form_dispersion)
    iwls = ChunkedIWLS(run, family, method=method, power=power, passes=passes,
                       dispersion=dispersion, names=names, k=k, n_pos=first.n_pos,
                       pass_sums=pass_sums, tol=tol, ancillary=ancillary)
    loop = _iterate(iwls, first, max_iter=max_iter, clock=clock)
    result = _finish(iwls, loop, first, max_iter=max_iter, statistics=statistics)
    logger.info("IWLS %s: %d iterations, %d passes, %.2f s", method, loop.n_iter, run.count,
                time.perf_counter() - clock)
    return result


@dataclass
class _Start:
    """The start pass: its summary, the row counts, the fallback start."""

    beta: np.ndarray | None  # None: R's mustart
    s: dict
    n_obs: int
    n_pos: int
    fallback: np.ndarray | None  # intercept-only start if the first step leaves the range
    fit_intercept: bool


def _start(run: _Passes, family, start, k: int, names, fit_intercept: bool) -> _Start:
    """The first pass (mustart, or the user's coefficients): validate the blocks, count the
    rows and check that the design identifies every parameter."""
    beta = None if start is None else np.asarray(start, dtype=np.float64)
    s = run("IWLS start", beta=beta, validate=True)
    if s.problems:
        _raise_block_problems(s, beta is not None)
    n_obs, n_pos = int(s.n), int(s.n_pos)
    if n_obs == 0 or n_pos == 0:
        raise ValueError("Found no rows with positive weight; at least one is required.")
    if n_pos <= k and not family.fixed_dispersion:
        raise ValueError(
            f"{n_pos} rows with positive weight for {k} parameters: the dispersion of the "
            f"{family.name} family cannot be estimated; at least {k + 1} rows are needed."
        )
    check_response(s, family, run.base["method"], fit_intercept, n_pos)
    _check_identified(s.R[:k, :k], names, fit_intercept, n_pos)
    fallback = None
    if beta is None:
        fallback = np.zeros(k)
        if fit_intercept and s.sum_m > 0:
            ybar = np.asarray([s.sum_my / s.sum_m])
            fallback[0] = float(family.link.link(family.starting_mu(ybar))[0])
    return _Start(beta=beta, s=s, n_obs=n_obs, n_pos=n_pos, fallback=fallback,
                  fit_intercept=fit_intercept)


def _check_identified(Rxx: np.ndarray, names, fit_intercept: bool, n_pos: int) -> None:
    """The package's one rank check (:func:`~.design_checks.check_identified`) on the
    start pass's Gram ``R^T R = X~^T W X~`` (working weights at the start: positive on
    every row with positive prior weight, so the same columns are redundant)."""
    gram = Rxx.T @ Rxx
    if not fit_intercept:  # the check takes the intercept border first
        gram = np.pad(gram, ((1, 0), (1, 0)))
    check_identified(gram, names, fit_intercept, "BiasReducedGLM", n_pos=n_pos)


@dataclass
class _Loop:
    """Where the iterations stopped, and why."""

    it: Iterate
    cov_unscaled: np.ndarray
    n_iter: int = 0
    converged: bool = False
    separated: bool = False
    collapsed: list = field(default_factory=list)  # ML: parameters whose information vanished
    history: list = field(default_factory=list)
    monitor: SeparationMonitor = field(default_factory=SeparationMonitor)


def _iterate(iwls: ChunkedIWLS, first: _Start, *, max_iter: int, clock: float) -> _Loop:
    """Iterate from the start until convergence, separation (ML) or ``max_iter``."""
    k = iwls.k
    # phi is NaN until a pass at real coefficients estimates it (the mustart pass has
    # fitted means equal to y for some families: no dispersion to read off it)
    phi = float("nan") if iwls.estimate_phi else 1.0
    alpha = START if iwls.ancillary else None
    loop = _Loop(it=Iterate(beta=first.beta, s=first.s, phi=phi, alpha=alpha),
                 cov_unscaled=np.full((k, k), np.nan))
    taken = np.inf
    while True:
        it = loop.it
        try:
            if it.new is None:
                iwls.propose(it)
        except InformationCollapsed as exc:  # ML: weights underflowed (separation)
            loop.separated, loop.collapsed = True, exc.columns
            break
        loop.n_iter += 1
        size, bse = _record(iwls, loop, clock)
        if not np.all(np.isfinite(it.new)):  # the information collapsed (ML, separated)
            loop.separated, loop.collapsed = True, _nonfinite(iwls, it.new, loop.n_iter)
            break
        if _converged(iwls, it, size, taken):
            loop.converged = True
            break
        if iwls.method == "ML" and it.beta is not None and iwls.family.fixed_dispersion:
            loop.monitor.record(it.new, bse, size, it.s.boundary)
            if loop.monitor.diverging():
                loop.separated = True
                break
        if loop.n_iter >= max_iter:
            break
        loop.it = iwls.next_iterate(it, first.fallback)
        taken = float(np.max(np.abs(loop.it.beta - it.beta))) if it.beta is not None else np.inf
    return loop


def _record(iwls: ChunkedIWLS, loop: _Loop, clock: float):
    """The covariance at the current iterate; history, progress and log of the iteration.

    Returns the size of the proposed step and the standard errors.
    """
    it, k = loop.it, iwls.k
    with np.errstate(over="ignore"):  # weights running to 0 (separation): inf, flagged later
        loop.cov_unscaled = gram_inverse_from_r(it.R[:k, :k])
    scale = it.phi_new if iwls.estimate_phi else 1
    bse = np.sqrt(np.clip(np.diag(loop.cov_unscaled), 0, None) * scale)
    size = float("inf") if it.beta is None else float(np.max(np.abs(it.new - it.beta)))
    deviance, count = float(it.s.deviance), iwls.run.count
    loop.history.append({"iteration": loop.n_iter, "deviance": it.s.deviance,
                         "max_step": size, "dispersion": it.phi_new, "passes": count,
                         **({"alpha": it.alpha_new} if iwls.ancillary else {})})
    report(iteration=loop.n_iter, deviance=deviance, step=size)
    logger.info("IWLS %s iteration %d: deviance %.10g, max |step| %.3g, %d passes, %.2f s",
                iwls.method, loop.n_iter, deviance, size, count, time.perf_counter() - clock)
    return size, bse


def _nonfinite(iwls: ChunkedIWLS, new, n_iter: int) -> list[int]:
    """The parameters whose proposed update is not finite (ML: separation); an error for
    mBR and mJPL, whose estimates are finite."""
    bad = [int(j) for j in np.flatnonzero(~np.isfinite(new))]
    if iwls.method != "ML":
        raise FloatingPointError(
            f"IWLS ({iwls.method}) produced non-finite estimates of "
            f"{[iwls.names[j] for j in bad]} at iteration {n_iter}."
        )
    return bad


def _converged(iwls: ChunkedIWLS, it: Iterate, size: float, taken: float) -> bool:
    """The proposed step is small (and, for a lagged one-pass proposal, the step that led
    here too); the dispersion has settled where Fisher steps on pass sums find it."""
    if it.beta is None:
        return False
    tol = iwls.tol
    phi_settled = not iwls.pass_sums or (
        np.isfinite(it.phi) and abs(it.phi_new - it.phi) <= tol * max(it.phi, 1e-300))
    # a one-pass proposal is small also where the lag offsets the error: the step that
    # led here must be small as well
    small = tol * (1.0 + np.max(np.abs(it.beta)))
    alpha_settled = not iwls.ancillary or (
        not it.alpha_first and log_step(it.alpha, it.alpha_new) <= tol)
    return (size <= small and phi_settled and alpha_settled
            and (not it.lagged or taken <= small))


def _finish(iwls: ChunkedIWLS, loop: _Loop, first: _Start, *, max_iter: int,
            statistics=None) -> IWLSResult:
    """The estimate's deviance, log-likelihood and boundary rows (a pass without QR, on
    which ``statistics`` rides); the warnings; the result."""
    family, method, k, it = iwls.family, iwls.method, iwls.k, loop.it
    # the update proposed at the last iterate, unless it does not exist
    beta, phi = (it.beta, it.phi) if loop.collapsed else (it.new, it.phi_new)
    alpha = (it.alpha if loop.collapsed else it.alpha_new) if iwls.ancillary else None
    riders = statistics if isinstance(statistics, tuple) else (statistics,)
    if iwls.ancillary:  # the riders evaluate at the estimated alpha
        family = family.with_ancillary(alpha)
        for rider in riders:
            if rider is not None:
                rider.family = family
    if iwls.estimate_phi and not np.isfinite(phi):
        phi = it.s.pearson / (first.n_pos - k)
    exact_fit = iwls.estimate_phi and not phi > 0  # zero residual deviance: loglik is +inf
    on_edge = family.edge_at_finite_eta
    s0 = first.s  # ybar from the mustart pass: the null model's mean
    ybar = s0.sum_my / s0.sum_m if s0.sum_m else None
    for rider in riders:
        if rider is not None:
            rider.attach(iwls.run.engine, beta, reference=ybar)
    extra = dict(family=family, ancillary=True, ancillary_joint=True) if iwls.ancillary else {}
    final = iwls.run("IWLS final statistics", beta=beta, qr=False, loglik=not exact_fit,
                     phi=phi if iwls.estimate_phi else 1.0, **extra,
                     boundary_tol=BOUNDARY if loop.separated or on_edge else FINAL_BOUNDARY)
    boundary = int(final.boundary)
    if on_edge and (final.problems or boundary > 0):
        raise_on_edge(iwls.run.other(on_edge_block, "IWLS rows on the edge", beta,
                                     family=family, fit_intercept=first.fit_intercept),
                      family, method, iwls.names, first.fit_intercept)
    if final.problems:
        raise ValueError(
            "The final estimate puts fitted means outside the family's range; use a link "
            "whose mean is always valid (e.g. 'log')."
        )
    edge = edge_response(first.s, first.n_pos)
    converged, separated, flags = loop.converged, loop.separated, {}
    if method == "ML":
        converged, separated, flags = _ml_outcome(iwls, loop, first, boundary, edge)
    warn_outcome(method, family, converged, separated, boundary, max_iter, flags,
                 iwls.names, edge)
    return IWLSResult(
        beta=beta, cov_unscaled=loop.cov_unscaled, dispersion=float(phi),
        deviance=float(final.deviance), pearson=float(final.pearson),
        loglik=np.inf if final.loglik is None else float(final.loglik), n_obs=first.n_obs,
        n_pos=first.n_pos,
        n_iter=loop.n_iter, n_passes=iwls.run.count, converged=converged,
        separated=separated, history=loop.history, flags=flags, family=family, alpha=alpha,
        alpha_se=ancillary_se(final.ancillary, alpha) if iwls.ancillary else float("nan"),
    )


def _ml_outcome(iwls: ChunkedIWLS, loop: _Loop, first: _Start, boundary: int, edge):
    """``(converged, separated, flags)`` of an ML fit.

    The recession counts of the first pass decide exactly which parameters run off
    alone; a pass then finds those that no row left identifies. Without such
    parameters, the iterations (collapsed information, growing standard errors) name
    those that run off together.
    """
    infinite = infinite_parameters(first.s.recession)
    converged, separated = loop.converged, loop.separated
    references = separated_references(first.s.recession, iwls.run.base["reference_groups"])
    if infinite or references:
        converged, separated = False, True
    separated = separated or (boundary > 0 and not converged)
    if not separated:
        return converged, False, {}
    lost = []
    if infinite:
        rest = iwls.run.other(outside_gram_block, "IWLS rows left by infinite parameters",
                              sorted(infinite), fit_intercept=first.fit_intercept)
        lost = lost_parameters(rest["gram"], infinite, first.fit_intercept)
    running = loop.collapsed or loop.monitor.growing()
    flags = separation_flags(infinite, lost, running, first.fit_intercept, edge)
    named = reference_flags(first.s.recession, iwls.run.base["reference_groups"], iwls.names,
                            {iwls.names[j]: f for j, f in flags.items()}) if references else {}
    return converged, True, {**flags, **{iwls.names.index(n): f for n, f in named.items()}}


def _raise_block_problems(s: IWLSSums, user_start: bool) -> None:
    if "invalid_mean" in s.problems:
        raise ValueError(
            "The starting coefficients (start=) put fitted means outside the family's "
            "range; choose a start with valid means."
            if user_start else "The starting means are outside the family's range."
        )
    s.problems.raise_if_any()
