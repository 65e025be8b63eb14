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
(:class:`_ChunkedIWLS`).

**Dispersion** (gaussian, gamma, inverse gaussian). With q_i the weighted unit deviance
(sum q_i = D), nu_i = m_i / phi and a1, a2, a3 from
:meth:`~dask_glmdist.families.Family.dispersion_derivs`:
``S1 = sum m a1``, ``S2 = sum m^2 a2``, ``S3 = sum m^3 a3``; the score is
``u = (D - S1) / (2 phi^2)``, the information ``i = S2 / (2 phi^4)`` and the
adjusted equation ``u + A = 0`` with

* ML:       A = 0                                                  (maximum likelihood);
* mBR:      A = (k - 2) / (2 phi) + S3 / (2 phi^2 S2)               (Kosmidis et al. 2020);
* mJPL(a):  A = a (-(k + 4) / phi + S3 / (phi^2 S2))                (d/dphi of a log|i(beta, phi)|).

For the gaussian and inverse gaussian families these give D/n, D/(n - k) and
D/(n + 2a(k + 2)); gamma needs a root search, done exactly on the host when the prior
weights are constant and by one Fisher-scoring step per iteration (on sums the pass
returns) otherwise. ``dispersion="pearson"`` uses sum m (y - mu)^2 / V(mu) / (n - k).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg.blas
from sklearn.exceptions import ConvergenceWarning

from .._array import get_namespace, to_host
from .._blocks import BlockedData, check_block, map_reduce, sum_summaries
from .._progress import report
from ..diagnostics import SeparationWarning, warn
from ..linalg import (
    gram_inverse_from_r,
    gram_solve_from_r,
    logdet_gram_from_r,
    qr_r,
    r_column_rank_problems,
    r_solve,
    tsqr_combine,
)
from .local import high_leverage_curvature

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
TILE_ROWS = 1024  # fewest rows per QR tile (see tile_rows)
BOUNDARY = 1e-8  # during ML iterations: a fitted mean this close to the value y takes
FINAL_BOUNDARY = 10 * np.finfo(np.float64).eps  # at the estimate: R's glm "numerically 0 or 1"


# --------------------------------------------------------------------------------------
# per-row pieces
# --------------------------------------------------------------------------------------


def adjustment_terms(family, eta, mu, d, h, method: str, power: float):
    """``t_i = w_i xi_i``, the per-row adjustment: the adjusted score is X~^T (r + phi t)/phi.

    ``h`` are the hat values. mBR: ``h d' / (2 d)``; mJPL(a):
    ``a h (2 d' / d - d V'(mu) / V(mu))``.
    """
    xp = get_namespace(eta)
    d2 = family.link.inverse_deriv2(eta)
    d_safe = xp.where(d != 0, d, xp.ones_like(d))
    if method == "mBR":
        return h * d2 / (2.0 * d_safe)
    return power * h * (2.0 * d2 / d_safe - d * family.variance_deriv(mu) / family.variance(mu))


def _boundary_rows(family, y, mu, m, xp, tol=BOUNDARY) -> int:
    """Rows whose fitted mean has (numerically) reached the value of y at the range's edge.

    Under separation (binomial) or an all-zero group (Poisson) the maximum likelihood
    fit drives those means to 0 or 1; ordinary fits keep them inside.
    """
    if family.name == "binomial":
        hit = ((mu <= tol) & (y == 0)) | ((mu >= 1.0 - tol) & (y == 1))
    elif family.name in ("poisson", "negative_binomial"):
        hit = (mu <= tol) & (y == 0)
    else:
        return 0
    if m is not None:
        hit = hit & (m > 0)
    return int(xp.sum(xp.astype(hit, xp.int64)))


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


def _eta(X, beta, fit_intercept, xp, offset):
    if fit_intercept:
        eta = X @ xp.asarray(beta[1:], dtype=X.dtype) + float(beta[0])
    else:
        eta = X @ xp.asarray(beta, dtype=X.dtype)
    return eta if offset is None else eta + offset


def _as_dtype(xp, v, dtype):
    if v is None or v.dtype == dtype:
        return v
    return xp.astype(v, dtype)


def tile_rows(n_columns: int) -> int:
    """Rows per QR tile: about 64K numbers (at least 1,024 rows), so [R; tile] stays in cache.

    At 52 columns that is 1,260 rows; tiles of 1,024 to 2,048 rows were equally fast
    here and 2.5x faster than one ``geqrf`` of a 100,000-row block. Narrow designs get
    taller tiles, which keeps the per-tile Python overhead small.
    """
    return max(TILE_ROWS, 65_536 // max(n_columns, 1))


def iwls_block(X, y, m, spec: PassSpec, *, block_index, offset=None) -> dict:
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
    n, p = int(X.shape[0]), int(X.shape[1])
    k = p + int(fi)
    out: dict = {"n": n}
    dtype = X.dtype
    y, m, offset = _as_dtype(xp, y, dtype), _as_dtype(xp, m, dtype), _as_dtype(xp, offset, dtype)
    if spec.validate:
        problems = check_block(X, y, m, family=family)
        if offset is not None and not bool(xp.all(xp.isfinite(offset))):
            problems["nonfinite_offset"] = 1
        if problems:
            where = [(block_index, sorted(problems))]
            return {**out, "problems": problems, "problem_blocks": where}
    # ---- row-wise quantities, whole block ------------------------------------------------
    if spec.beta is None:  # R's mustart: means from y alone
        mu = family.starting_mu(y, m)
        eta = family.link.link(mu)
        d = family.link.inverse_deriv(eta)
        out["sum_my"] = float(xp.sum(y if m is None else m * y))
        out["sum_m"] = float(n if m is None else xp.sum(m))
    else:
        eta = _eta(X, spec.beta, fi, xp, offset)
        if not bool(xp.all(family.valid_eta(eta))):
            return {**out, "problems": {"invalid_mean": 1}}
        mu, d = family.link.inverse_and_deriv(eta)
    var = family.variance(mu)
    mv = 1.0 / var if m is None else m / var
    resid = y - mu
    out["deviance"] = float(family.deviance(y, mu, m))
    out["pearson"] = float(xp.sum(mv * resid * resid))
    out["n_pos"] = n if m is None else int(xp.sum(xp.astype(m > 0, xp.int64)))
    if spec.beta is not None and family.fixed_scale:
        out["boundary"] = _boundary_rows(family, y, mu, m, xp, spec.boundary_tol)
    if spec.loglik:
        out["loglik"] = float(family.loglik(y, mu, m, scale=spec.phi))
    if spec.dispersion_sums and m is not None:
        mh = to_host(m)
        mh = mh[mh > 0]
        a1, a2, a3 = family.dispersion_derivs(mh / spec.phi)
        out["S"] = np.array([np.sum(mh * a1), np.sum(mh**2 * a2), np.sum(mh**3 * a3)])
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
        cols = ([sw[:, None]] if fi else []) + [X * sw[:, None], swz[:, None]]
        S = xp.concat(cols, axis=1)
        h = None
        if want_adj:
            if sw_hat is not None:
                S_hat = xp.concat(([sw_hat[:, None]] if fi else []) + [X * sw_hat[:, None]],
                                  axis=1)
            else:
                S_hat = S[:, :k]
            G = S_hat @ xp.asarray(np.linalg.inv(spec.hat_R), dtype=dtype)
            h = xp.sum(G * G, axis=1)
        R = qr_r(S) if spec.qr else None
    if spec.qr:
        out["R"] = R
    if want_adj:
        t = adjustment_terms(family, eta, mu, d, h, spec.method, spec.power)
        xt = to_host(X.T @ t)
        out["adj"] = np.concatenate([[float(xp.sum(t))], xt]) if fi else xt
        Rc = _leverage_correction(X, y, m, eta, h, spec, xp)
        if Rc is not None:
            out["Rc"] = Rc
    return out


def _leverage_correction(X, y, m, eta, h, spec: PassSpec, xp):
    """R factor of ``sqrt(c_i) x~_i`` over the rows with hat value above ``LEVERAGE``.

    ``c_i = max(-g_i'(eta_i) - w_i, 0)`` with ``g_i(eta) = m_i (y_i - mu) d / V + phi t_i``
    the row's adjusted score at fixed hat value (central difference): the curvature the
    quasi-Fisher iteration matrix ``X~^T W X~`` leaves out. For a row that alone
    determines a parameter (hat value 1) it is as large as ``w_i`` (logit:
    ``c_i = h_i w_i``), and without it the step overshoots (:class:`_ChunkedIWLS`).
    At most ``k / LEVERAGE`` rows qualify, so this costs nothing on other rows.
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
        d = family.link.inverse_deriv(family.link.link(mu))
    elif spec.hat_beta is not None:
        eta = _eta(X, spec.hat_beta, spec.fit_intercept, xp, offset)
        if not bool(xp.all(family.valid_eta(eta))):
            return None  # cannot happen for an accepted iterate; fall back to own weights
        mu, d = family.link.inverse_and_deriv(eta)
    else:
        return None
    mv = 1.0 / family.variance(mu) if m is None else m / family.variance(mu)
    return xp.sqrt(mv) * xp.abs(d)


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


def combine_iwls(*parts: dict) -> dict:
    """Tree node: stack-and-QR the R factors (``R``, ``Rc``), add everything else."""
    out = sum_summaries(*[{key: v for key, v in p.items() if key not in ("R", "Rc")}
                          for p in parts])
    for key in ("R", "Rc"):
        Rs = [p[key] for p in parts if key in p]
        if Rs:
            out[key] = tsqr_combine(*Rs)
    return out


# --------------------------------------------------------------------------------------
# dispersion
# --------------------------------------------------------------------------------------


def _dispersion_adjustment(method, power, k, phi, S2, S3):
    if method == "mBR":
        return (k - 2) / (2.0 * phi) + S3 / (2.0 * phi**2 * S2)
    if method == "mJPL":
        return power * (-(k + 4) / phi + S3 / (phi**2 * S2))
    return 0.0


def _sums_constant_weight(family, phi, n_pos, m_const=1.0):
    a1, a2, a3 = family.dispersion_derivs(m_const / phi)
    return (n_pos * m_const * float(a1), n_pos * m_const**2 * float(a2),
            n_pos * m_const**3 * float(a3))


def solve_dispersion(family, method, power, k, D, n_pos, *, phi0, sums=None):
    """Dispersion from the method's own estimating equation (module docstring).

    With ``sums=None`` the prior weights are constant (1) or the family is gaussian /
    inverse gaussian, whose sums do not depend on the weights: the equation is solved
    exactly. Otherwise ``sums = (S1, S2, S3)`` were evaluated at ``phi0`` and one
    Fisher-scoring step from ``phi0`` is returned.
    """
    if n_pos <= 0 or D <= 0:
        return 0.0
    if family.name in ("gaussian", "inverse_gaussian"):
        denom = {"ML": n_pos, "mBR": n_pos - k, "mJPL": n_pos + 2.0 * power * (k + 2)}[method]
        return D / denom if denom > 0 else float("nan")

    def fisher_step(phi, S1, S2, S3):
        u = (D - S1) / (2.0 * phi**2)
        info = S2 / (2.0 * phi**4)
        return (u + _dispersion_adjustment(method, power, k, phi, S2, S3)) / info

    if sums is not None:
        delta = fisher_step(phi0, *sums)
        new = phi0 + delta
        return new if new > 0 else 0.5 * phi0
    phi = phi0 if phi0 > 0 else D / n_pos
    for _ in range(200):
        delta = fisher_step(phi, *_sums_constant_weight(family, phi, n_pos))
        new = phi + delta
        while new <= 0:
            delta *= 0.5
            new = phi + delta
        if abs(new - phi) <= 1e-15 * phi:
            return new
        phi = new
    return phi


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
    boundary_rows: int
    history: list = field(default_factory=list)
    infinite: dict = field(default_factory=dict)  # ML: parameter index -> sign of its run


def _check_identified(R: np.ndarray, names: list[str]) -> None:
    bad = r_column_rank_problems(R)
    if bad:
        raise ValueError(
            "The design is rank deficient: parameters "
            f"{[names[j] for j in bad]} are (numerically) linear combinations of the earlier "
            "columns over all rows (a column constant everywhere, duplicated or collinear "
            "columns, or one with zero weight). Remove the redundant columns."
        )


class _Separation:
    """Watches ML iterations for the signature of infinite estimates.

    Separation (binomial) or an all-zero group (Poisson): fitted means of some rows
    have reached the edge of the range, and for ``patience`` iterations in a row the
    largest |coefficient| and the largest standard error grew while the steps did not
    shrink (each at least half the previous one). A converging fit's steps shrink fast
    (quadratically for canonical links), so its early growth does not qualify.
    """

    def __init__(self, patience: int = 5):
        self.patience = patience
        self.size, self.se, self.step, self.boundary, self.bse = [], [], [], [], []

    def record(self, beta, bse, step, boundary_rows):
        self.size.append(float(np.max(np.abs(beta))))
        self.se.append(float(np.max(bse)))
        self.step.append(float(step))
        self.boundary.append(int(boundary_rows))
        self.bse.append(np.asarray(bse, dtype=float))

    def growing(self) -> list[int]:
        """Parameters whose standard errors grew by over 10% across the window."""
        if len(self.bse) < 2:
            return []
        first, last = self.bse[-min(len(self.bse), self.patience + 1)], self.bse[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(first > 0, last / first, np.inf)
        return [int(j) for j in np.argsort(-ratio) if ratio[j] > 1.1]

    def diverging(self) -> bool:
        k = self.patience
        if len(self.size) < k + 1 or min(self.boundary[-k:]) == 0:
            return False
        size, se, step = (v[-(k + 1):] for v in (self.size, self.se, self.step))
        return all(
            b > a for v in (size, se) for a, b in zip(v, v[1:], strict=False)
        ) and all(b >= 0.5 * a for a, b in zip(step, step[1:], strict=False))


OVERSHOOT = 0.5  # a step reversed by more than this fraction of itself is shortened


class _Passes:
    """The data passes of one fit, and how many were made."""

    def __init__(self, data, family, fit_intercept, method, power, split_every):
        self.data, self.split_every = data, split_every
        self.base = dict(family=family, fit_intercept=fit_intercept, method=method,
                         power=power)
        self.count = 0

    def __call__(self, label: str, **kw) -> dict:
        self.count += 1
        return map_reduce(
            iwls_block, self.data, PassSpec(**self.base, **kw), combine=combine_iwls,
            split_every=self.split_every, label=label,
        )


@dataclass
class _Iterate:
    """An accepted iterate: the coefficients, the pass summary there (R, deviance and,
    for mBR/mJPL, the adjustment ``X~^T t``) and the update it proposes."""

    beta: np.ndarray | None
    s: dict
    phi: float
    new: np.ndarray | None = None
    phi_new: float = float("nan")
    lagged: bool = False  # the adjustment used the previous iterate's hat values

    @property
    def R(self) -> np.ndarray:
        return self.s["R"]


class _ChunkedIWLS:
    """The iteration of :func:`fit_chunked_iwls`: proposal, line search, pass schedule.

    **Proposal.** At an iterate, ``new = beta_ML + phi (X~^T W X~)^{-1} X~^T t`` with
    ``X~^T t`` from a hat-value pass at the iterate (two passes per iteration) or
    carried by the iterate's own pass with the previous iterate's hat values (one).

    **Line search.** A candidate ``beta + alpha (new - beta)`` is evaluated by a pass
    (and, with two passes, its hat-value pass, which the next iteration then uses).
    It is rejected, and ``alpha`` shortened, when its mean leaves the family's range,
    when it increases the deviance (ML) or the penalised deviance (two-pass mJPL), or
    (mBR, mJPL) when the update proposed *at the candidate* reverses the step just
    taken by more than ``OVERSHOOT`` of it in the information metric: the quasi-Fisher
    iteration is not a contraction there (the high-leverage correction of the module
    docstring removes the usual cause; the adjusted score of a cauchit row, for one,
    is not monotone). With ``r`` the measured reversal ratio, ``alpha / (1 - r)`` is
    the secant estimate of the step that lands on the root along the step's
    direction; it is tried next. Three iterations in a row whose steps had to be
    shortened below 1/1000 to keep the mean in range mean that the estimate lies on
    the edge of the range: an error names the parameters that lead there.

    **One pass per iteration**: an iteration whose one-pass step overshoots is redone
    with two passes (the overshoot may come from the previous iterate's hat values,
    which no step length changes); the next iteration makes one pass again.
    """

    def __init__(self, run: _Passes, family, *, method, power, passes, dispersion, names,
                 k, n_pos, pass_sums, tol):
        self.family, self.method, self.power, self.k, self.tol = family, method, power, k, tol
        self.names, self.n_pos, self.pass_sums = names, n_pos, pass_sums
        self.dispersion = dispersion
        self.adjusted = method != "ML"
        self.estimate_phi = not family.fixed_scale
        self.passes = passes
        self.mode = passes  # passes per iteration now (2 while redoing a one-pass step)
        self.run = run
        self.cramped = 0  # consecutive iterations cramped by the edge of the range

    # ---- proposal -------------------------------------------------------------------------
    def propose(self, it: _Iterate) -> _Iterate:
        """Fill in the update proposed at ``it`` (a hat-value pass first if needed)."""
        k = self.k
        R = it.R[:k + 1, :k + 1]
        Rxx = R[:k, :k]
        _check_not_collapsed(Rxx, self.names, self.method)
        beta_ml = r_solve(Rxx, R[:k, k])
        phi_new = it.phi
        if it.beta is not None and self.estimate_phi:
            phi_new = _next_dispersion(it.s, it.phi, self.family, self.method, self.power,
                                       self.dispersion, k, self.n_pos, self.pass_sums)
        new = beta_ml
        scale = phi_new if self.estimate_phi else 1.0
        if self.adjusted and it.beta is not None:
            if "adj" not in it.s and self.mode == 2:
                a = self.run("IWLS adjustment", beta=it.beta, qr=False, hat_R=Rxx,
                             phi=scale if np.isfinite(scale) else 1.0)
                it.s.update({key: a[key] for key in ("adj", "Rc") if key in a})
            if "Rc" in it.s:
                # high-leverage rows: (X~^T W X~ + C) step = the adjusted score
                score = Rxx.T @ (Rxx @ (beta_ml - it.beta)) + scale * it.s["adj"]
                new = it.beta + gram_solve_from_r(tsqr_combine(Rxx, it.s["Rc"]), score)
            elif "adj" in it.s:
                new = beta_ml + scale * gram_solve_from_r(Rxx, it.s["adj"])
        it.new, it.phi_new = new, phi_new
        return it

    # ---- line search -----------------------------------------------------------------------
    def next_iterate(self, it: _Iterate, fallback) -> _Iterate:
        """The accepted iterate after ``it`` (see the class docstring)."""
        c = self._first_step(it, fallback) if it.beta is None else self._line_search(it)
        if c.new is None and self.adjusted:  # (ML: the loop proposes, catching a collapse)
            self.propose(c)
        self.mode = self.passes
        return c

    def _first_step(self, it: _Iterate, fallback) -> _Iterate:
        """From mustart: the IWLS step, or the intercept-only start if it leaves the range."""
        for cand in (it.new, fallback):
            c = self.evaluate(it, cand)
            if c is not None:
                return c
        raise ValueError(
            f"no valid starting value for the {self.family.name} model with the "
            f"{self.family.link.name} link: its mean leaves the family's range at both the "
            "IWLS start and the intercept-only start; pass start= or use a link whose mean "
            "is always valid (e.g. 'log')."
        )

    def _line_search(self, it: _Iterate) -> _Iterate:
        objective = self._objective(it)
        direction = it.new - it.beta
        alpha, halvings, dampings = 1.0, 0, 0
        out_of_range = 0
        while True:
            c = self.evaluate(it, it.beta + alpha * direction)
            worse = c is not None and objective is not None and (
                self._objective(c, it.phi_new) > objective + 1e-9 * (abs(objective) + 1.0))
            if c is None or worse:
                halvings += 1
                out_of_range += c is None
                if halvings <= 40:
                    alpha *= 0.5
                    continue
                if c is None:
                    self._leaves_range(it, "for every step size")
                break  # no descent along the direction: at the optimum to rounding
            if not self.adjusted:
                break
            r = self._overshoot(c, alpha * direction)
            if r is None:
                break
            if self.mode == 1:  # redo this iteration with two passes
                logger.info("IWLS: a one-pass step overshot (by %.2f); this iteration "
                            "with two passes", -r)
                self.mode, it.lagged = 2, False
                for key in ("adj", "Rc"):
                    it.s.pop(key, None)
                self.propose(it)
                objective, direction, alpha = self._objective(it), it.new - it.beta, 1.0
                continue
            if dampings >= 8:
                break
            dampings += 1
            alpha /= min(1.0 - r, 16.0)
        if halvings or dampings:
            logger.info("IWLS: step halved %d time(s), shortened %d time(s) after "
                        "overshooting", halvings, dampings)
        # creeping to the edge of the range: the estimate is on it
        self.cramped = self.cramped + 1 if out_of_range >= 10 else 0
        if self.cramped >= 3:
            self._leaves_range(it, "for all but steps below 1/1000 of the update in three "
                               "iterations in a row")
        return c

    def _leaves_range(self, it: _Iterate, how: str) -> None:
        """Raise: the update leads out of the family's range, naming its main parameters."""
        se = np.sqrt(np.clip(np.diag(gram_inverse_from_r(it.R[:self.k, :self.k])), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.abs(it.new - it.beta) / se
        size = np.where(np.isfinite(size), size, 0.0)
        lead = [self.names[j] for j in np.argsort(-size) if size[j] >= 0.5 * size.max()]
        raise ValueError(
            f"The {self.family.name} model's mean leaves its range under the "
            f"{self.family.link.name} link {how} from the current estimate: the "
            f"{self.method} estimate lies on the edge of the range, along parameters "
            f"{lead[:10]} (the largest components of the update in standard errors). Use "
            "a link whose mean is always valid (e.g. 'log'), or remove those columns."
        )

    def _objective(self, it: _Iterate, phi=None):
        phi = it.phi_new if phi is None else phi
        return _objective(it.s, it.R, self.method, self.mode, phi, self.power,
                          self.estimate_phi)

    def _overshoot(self, c: _Iterate, taken) -> float | None:
        """The reversal ratio r < -OVERSHOOT if the step ``taken`` to ``c`` overshot, else None.

        The update proposed at ``c`` is computed (and kept for the next iteration); a
        step overshot when that update reverses it by more than ``OVERSHOOT`` of its
        length (:func:`_reversal`) and ``c`` has not converged. The next step length is
        ``alpha / (1 - r)``.
        """
        self.propose(c)
        size = float(np.max(np.abs(c.new - c.beta)))
        if not np.isfinite(size) or size <= self.tol * (1.0 + float(np.max(np.abs(c.beta)))):
            return None
        r = _reversal(c.R[:self.k, :self.k], taken, c.new - c.beta)
        return r if r < -OVERSHOOT else None

    def evaluate(self, it: _Iterate, cand) -> _Iterate | None:
        """The pass at a candidate; None if its mean leaves the family's range."""
        one_pass = self.adjusted and self.mode == 1
        s = self.run(
            "IWLS pass", beta=cand, phi=it.phi_new if np.isfinite(it.phi_new) else 1.0,
            hat_R=it.R[:self.k, :self.k] if one_pass else None,
            hat_beta=it.beta if one_pass else None,
            hat_start=one_pass and it.beta is None, dispersion_sums=self.pass_sums,
        )
        if "invalid_mean" in s.get("problems", {}) or not np.isfinite(s.get("deviance",
                                                                            np.nan)):
            return None
        return _Iterate(beta=cand, s=s, phi=it.phi_new, lagged=one_pass)


def _reversal(Rxx, taken, proposed) -> float:
    """How far the update proposed at the candidate reverses the step taken to it.

    ``r = <R taken, R proposed> / ||R taken||^2`` in the information metric: for an
    iteration whose error contracts by the factor mu along the step, the full step gives
    ``r = mu``; ``r < 0`` means the step overshot the root.
    """
    a, b = Rxx @ taken, Rxx @ proposed
    denom = float(a @ a)
    return float(a @ b) / denom if denom > 0 else 0.0


def _check_not_collapsed(Rxx, names, method) -> None:
    """R_xx with an exactly zero or non-finite diagonal: the information about a
    parameter vanished (the weights of the rows that carry it underflowed)."""
    d = np.diag(Rxx)
    bad = [int(j) for j in np.flatnonzero(~(np.abs(d) > 0))]
    if not bad:
        return
    if method == "ML":
        raise _InformationCollapsed(bad)
    raise FloatingPointError(
        f"IWLS ({method}): the information about parameters {[names[j] for j in bad]} "
        "vanished: the fitted means of the rows that carry them reached the edge of "
        "the family's range (weights 0). The adjusted estimate does not exist for this "
        "model; try method='mJPL', another link, or remove those columns."
    )


class _InformationCollapsed(Exception):
    def __init__(self, columns):
        super().__init__(columns)
        self.columns = columns


def fit_chunked_iwls(
    data: BlockedData,
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
    split_every: int = 8,
) -> IWLSResult:
    """Fit a GLM by ML, mBR or mJPL with IWLS over the row blocks of ``data``.

    Convergence: ``max |beta_{t+1} - beta_t| <= tol (1 + max |beta_t|)`` and, when the
    dispersion enters the update, ``|phi_{t+1} - phi_t| <= tol phi_t`` (with one pass
    per iteration, also for the step that led to beta_t). ``passes``: data passes per
    iteration (:class:`_ChunkedIWLS`). Steps that leave
    the family's range are halved; so are steps that increase the deviance (ML) or the
    penalised deviance (two-pass mJPL); mBR/mJPL steps that overshoot are shortened.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if passes not in (1, 2):
        raise ValueError(f"passes must be 1 or 2, got {passes!r}")
    k = data.n_features + int(fit_intercept)
    names = param_names or [f"b{j}" for j in range(k)]
    estimate_phi = not family.fixed_scale
    weighted = data.sample_weight is not None
    pass_sums = estimate_phi and dispersion == "auto" and weighted and family.name == "gamma"
    start_time = time.perf_counter()
    run = _Passes(data, family, fit_intercept, method, power, split_every)

    # ---- iteration 0: the start (mustart, or the user's coefficients) -----------------
    beta = None if start is None else np.asarray(start, dtype=np.float64)
    s = run("IWLS start", beta=beta, validate=True)
    if s.get("problems", {}):
        _raise_block_problems(s, beta is not None)
    n_obs, n_pos = int(s["n"]), int(s["n_pos"])
    if n_obs == 0 or n_pos == 0:
        raise ValueError("Found no rows with positive weight; at least one is required.")
    if n_pos <= k and estimate_phi:
        raise ValueError(
            f"{n_pos} rows with positive weight for {k} parameters: the dispersion of the "
            f"{family.name} family cannot be estimated; at least {k + 1} rows are needed."
        )
    _check_identified(s["R"][:k, :k], names)
    fallback = None
    if beta is None:  # intercept-only fallback start if the first step leaves the range
        fallback = np.zeros(k)
        if fit_intercept and s["sum_m"] > 0:
            ybar = np.asarray([s["sum_my"] / s["sum_m"]])
            fallback[0] = float(family.link.link(family.starting_mu(ybar))[0])
    iwls = _ChunkedIWLS(run, family, method=method, power=power, passes=passes,
                        dispersion=dispersion, names=names, k=k, n_pos=n_pos,
                        pass_sums=pass_sums, tol=tol)
    # phi is NaN until a pass at real coefficients estimates it (the mustart pass has
    # fitted means equal to y for some families: no dispersion to read off it)
    phi = float("nan") if estimate_phi else 1.0
    it = _Iterate(beta=beta, s=s, phi=phi)
    history: list[dict] = []
    monitor = _Separation()
    converged = separated = False
    collapsed: list[int] = []
    cov_unscaled = np.full((k, k), np.nan)
    n_iter, taken = 0, np.inf
    while True:
        try:
            if it.new is None:
                iwls.propose(it)
        except _InformationCollapsed as exc:  # ML: weights underflowed (separation)
            separated, collapsed = True, exc.columns
            break
        new, phi_new = it.new, it.phi_new
        n_iter += 1
        Rxx = it.R[:k, :k]
        cov_unscaled = gram_inverse_from_r(Rxx)
        bse = np.sqrt(np.clip(np.diag(cov_unscaled), 0, None) * (phi_new if estimate_phi else 1))
        size = float("inf") if it.beta is None else float(np.max(np.abs(new - it.beta)))
        history.append({"iteration": n_iter, "deviance": it.s["deviance"], "max_step": size,
                        "dispersion": phi_new, "passes": run.count})
        report(iteration=n_iter, deviance=float(it.s["deviance"]), step=size)
        logger.info("IWLS %s iteration %d: deviance %.10g, max |step| %.3g, %d passes, "
                    "%.2f s", method, n_iter, it.s["deviance"], size, run.count,
                    time.perf_counter() - start_time)
        if not np.all(np.isfinite(new)):  # the information collapsed (ML on separated data)
            if method != "ML":
                bad = [names[j] for j in np.flatnonzero(~np.isfinite(new))]
                raise FloatingPointError(
                    f"IWLS ({method}) produced non-finite estimates of {bad} at iteration "
                    f"{n_iter}."
                )
            separated, collapsed = True, [int(j) for j in np.flatnonzero(~np.isfinite(new))]
            break
        # phi computed exactly from the current state settles with beta; Fisher steps on
        # pass sums (weighted gamma) must settle themselves
        phi_settled = not pass_sums or (
            np.isfinite(it.phi) and abs(phi_new - it.phi) <= tol * max(it.phi, 1e-300))
        # a one-pass proposal is small also where the lag offsets the error: the step
        # that led here must be small as well
        small = tol * (1.0 + np.max(np.abs(it.beta))) if it.beta is not None else -1.0
        if size <= small and phi_settled and (not it.lagged or taken <= small):
            converged = True
            break
        if method == "ML" and it.beta is not None and family.fixed_scale:
            monitor.record(new, bse, size, it.s.get("boundary", 0))
            if monitor.diverging():
                separated = True
                break
        if n_iter >= max_iter:
            break
        previous = it.beta
        it = iwls.next_iterate(it, fallback)
        taken = float(np.max(np.abs(it.beta - previous))) if previous is not None else np.inf
    # the update proposed at the last iterate, unless it does not exist
    beta, phi = (it.beta, it.phi) if collapsed else (it.new, it.phi_new)
    # ---- the estimate's deviance, log-likelihood and boundary rows (no QR) ---------------
    if estimate_phi and not np.isfinite(phi):
        phi = it.s["pearson"] / (n_pos - k)
    exact_fit = estimate_phi and not phi > 0  # zero residual deviance: loglik is +inf
    final = run("IWLS final statistics", beta=beta, qr=False, loglik=not exact_fit,
                phi=phi if estimate_phi else 1.0,
                boundary_tol=BOUNDARY if separated else FINAL_BOUNDARY)
    if "problems" in final:
        raise ValueError(
            "The final estimate puts fitted means outside the family's range; use a link "
            "whose mean is always valid (e.g. 'log')."
        )
    boundary = int(final.get("boundary", 0))
    running = (collapsed or monitor.growing()) if method == "ML" else []
    growing = [names[j] for j in running]
    _warn(method, family, converged, separated, boundary, max_iter, growing)
    warned = separated or (method == "ML" and boundary > 0 and not converged)
    infinite = {j: int(np.sign(beta[j])) for j in running} if warned else {}
    logger.info("IWLS %s: %d iterations, %d passes, %.2f s", method, n_iter, run.count,
                time.perf_counter() - start_time)
    return IWLSResult(
        beta=beta, cov_unscaled=cov_unscaled, dispersion=float(phi),
        deviance=float(final["deviance"]), pearson=float(final["pearson"]),
        loglik=float(final.get("loglik", np.inf)), n_obs=n_obs, n_pos=n_pos, n_iter=n_iter,
        n_passes=run.count, converged=converged, separated=separated,
        boundary_rows=boundary, history=history, infinite=infinite,
    )


def _next_dispersion(s, phi, family, method, power, dispersion, k, n_pos, pass_sums):
    """The dispersion at the state of pass summary ``s`` (``phi``: the previous one).

    Pearson's moment estimator; or the method's equation, solved exactly, or by one
    Fisher-scoring step on the pass sums (weighted gamma; the first estimate is the
    moment one, at which the next pass evaluates the sums).
    """
    moment = s["pearson"] / (n_pos - k)
    if dispersion == "pearson" or (pass_sums and "S" not in s):
        return moment
    return solve_dispersion(
        family, method, power, k, s["deviance"], n_pos,
        phi0=phi if np.isfinite(phi) else moment,
        sums=tuple(s["S"]) if pass_sums else None,
    )


def _objective(s, R, method, passes, phi, power, estimate_phi):
    """What a step must not increase: the deviance (ML), the penalised deviance (mJPL)."""
    if method == "ML":
        return s["deviance"]
    if method == "mJPL" and passes == 2:
        k = R.shape[0] - 1
        scale = phi if (estimate_phi and np.isfinite(phi) and phi > 0) else 1.0
        return s["deviance"] / scale - 2.0 * power * logdet_gram_from_r(R[:k, :k])
    return None


def _raise_block_problems(s: dict, user_start: bool) -> None:
    from .._blocks import raise_for_problems

    problems = dict(s.get("problems", {}))
    if "invalid_mean" in problems:
        raise ValueError(
            "The starting coefficients (start=) put fitted means outside the family's "
            "range; choose a start with valid means."
            if user_start else "The starting means are outside the family's range."
        )
    where: dict = {}
    for index, keys in s.get("problem_blocks", []):
        for key in keys:
            where.setdefault(key, []).append(index)
    raise_for_problems(problems, where)


def _warn(method, family, converged, separated, boundary, max_iter, growing):
    if separated or (method == "ML" and boundary > 0 and not converged):
        which = f" of {growing[:10]}" if growing else ""
        warn(
            "The maximum likelihood estimate appears to be infinite: over the last "
            "iterations the estimates and their standard errors kept growing while "
            f"{boundary} fitted mean(s) reached the boundary of the {family.name} range "
            "(separated data, or an all-zero group). The reported coefficients and "
            f"standard errors{which} are artefacts of stopping. Use method='mBR' or "
            "method='mJPL', whose estimates are always finite.",
            SeparationWarning,
        )
    elif not converged:
        warn(
            f"IWLS ({method}) did not converge in max_iter={max_iter} iterations; "
            "increase max_iter or loosen tol.",
            ConvergenceWarning,
        )
    elif method == "ML" and boundary > 0:
        what = "probabilities 0 or 1" if family.name == "binomial" else "means 0"
        warn(
            f"{boundary} fitted {what} occurred (numerically, as R's glm reports them); "
            "the estimate converged, but check for near-separation.",
            UserWarning,
        )

