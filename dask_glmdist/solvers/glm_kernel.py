"""The GLM block kernel: the per-block mathematics every method shares, written once.

Runs *inside* a block function, on the block's own arrays (NumPy, CuPy or any
array-API namespace, float32 or float64); only p-sized results move to the host.
Parameters are ordered ``theta = [intercept, *coef]`` when an intercept is fitted and
``X~ = [1, X]``. Notation as in :mod:`dask_glmdist.families`: for prior weights m,
``d = dmu/deta`` and variance ``V(mu)``

* linear predictor             eta = X~ theta + offset;
* working weights              w_i = m_i d_i^2 / V(mu_i);
* score residuals              r_i = m_i (y_i - mu_i) d_i / V(mu_i);
* score (unscaled)             U = X~^T r;
* expected information         A = X~^T W X~;
* deviance                     D = sum_i m_i unit_deviance(y_i, mu_i);
* Pearson chi^2                X2 = sum_i m_i (y_i - mu_i)^2 / V(mu_i).

The model's score and information are ``U / phi`` and ``A / phi``. The Gram is the
SYRK of ``sqrt(W) X``, walking NumPy blocks in row tiles of :data:`TILE_ROWS` so
that scaling, SYRK and score share one trip through memory.

Also here: the per-row adjustments of the adjusted-score methods (mean bias reduction,
the Jeffreys penalty) and the sums that solve the least-squares model
(``family.least_squares``) without iterating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._array import get_namespace, to_host

__all__ = [
    "TILE_ROWS",
    "BlockTerms",
    "adjustment_terms",
    "block_terms",
    "design_t_vec",
    "least_squares_fit",
    "least_squares_sums",
    "linear_predictor",
    "log_weight_sum",
    "quad_rows",
    "score_and_information",
    "tiles",
    "working_weights",
]

#: rows per tile of every tiled pass over a NumPy block: the score/information SYRK
#: and (at least this many rows, :func:`~.chunked_iwls.tile_rows`) the QR of IWLS.
#: Measured (one thread, float64): SYRK of 100,000 x 52 took 29-30 ms for tiles of
#: 1,024 to 8,192 rows; the IWLS QR pass 88 ms with 1,024 or 2,048 and 106 ms with
#: 4,096; at 200 columns SYRK 98-101 ms, QR 291 ms (1,024) and 270 ms (2,048).
TILE_ROWS = 2048


def tiles(n: int, numpy_block: bool, rows: int = TILE_ROWS) -> list[tuple[int, int]]:
    """Row ranges of the tiles of an ``n``-row block (one tile for other namespaces)."""
    step = rows if numpy_block else max(n, 1)
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def linear_predictor(X, theta, fit_intercept: bool, xp, offset=None):
    """``X~ theta + offset`` on the block's device.

    ``theta`` (host) has shape ``(k,)``, or ``(k, L)`` for ``L`` parameter vectors at
    once (then ``eta`` is ``(n, L)`` and the offset is added to every column).
    """
    theta = np.asarray(theta)
    fi = int(fit_intercept)
    eta = X @ xp.asarray(theta[fi:], dtype=X.dtype)
    if fi:
        eta = eta + (float(theta[0]) if theta.ndim == 1
                     else xp.asarray(theta[0], dtype=X.dtype)[None, :])
    if offset is not None:
        eta = eta + (offset if eta.ndim == 1 else offset[:, None])
    return eta


def design_t_vec(X, v, fit_intercept: bool, xp) -> np.ndarray:
    """``X~^T v`` as a host vector."""
    xv = to_host(X.T @ v)
    if fit_intercept:
        return np.concatenate([[float(xp.sum(v))], xv])
    return xv


def score_and_information(X, r, w, fit_intercept: bool, xp, workspace=None):
    """Score ``X~^T r`` and information ``X~^T diag(w) X~`` as host arrays, in one pass.

    ``r`` is ``(n,)`` or ``(n, L)`` (then the score is ``(k, L)``). NumPy blocks are
    walked in tiles of :data:`TILE_ROWS` rows: each tile is scaled by ``sqrt(w)`` into a
    small reused buffer (``workspace``, a dict, keeps it across calls), its SYRK
    (``Xs.T @ Xs``) is accumulated, and one product ``X^T [r, w]`` gives the score and
    the Gram's intercept border while the tile is still in cache. Other namespaces (a
    GPU) take the block as one tile.
    """
    n, p = int(X.shape[0]), int(X.shape[1])
    numpy_block = isinstance(X, np.ndarray)
    R = r[:, None] if r.ndim == 1 else r
    L = int(R.shape[1])
    rw_all = xp.concat([R, w[:, None]], axis=1)
    gram = np.zeros((p, p))
    cols = np.zeros((p, L + 1))
    parts = tiles(n, numpy_block)
    if numpy_block:
        rows = parts[0][1] - parts[0][0] if parts else 0
        workspace = {} if workspace is None else workspace
        buf = workspace.get("scaled")
        if buf is None or buf.shape != (rows, p) or buf.dtype != X.dtype:
            buf = workspace["scaled"] = np.empty((rows, p), dtype=X.dtype)
        sw = np.sqrt(w)
    for a, b in parts:
        Xt = X[a:b, :]
        if numpy_block:
            Xs = np.multiply(Xt, sw[a:b, None], out=buf[: b - a])
        else:
            Xs = Xt * xp.sqrt(w[a:b])[:, None]
        gram += to_host(Xs.T @ Xs)
        cols += to_host(Xt.T @ rw_all[a:b, :])
    score = cols[:, :L]
    if not fit_intercept:
        return (score[:, 0] if r.ndim == 1 else score), gram
    if r.ndim == 1:
        top, wsum = [float(xp.sum(r))], float(xp.sum(w))
    else:  # the column sums of [r, w] in one reduction
        sums = to_host(xp.sum(rw_all, axis=0))
        top, wsum = sums[:L], float(sums[L])
    A = np.empty((p + 1, p + 1))
    A[1:, 1:] = gram
    A[0, 1:] = A[1:, 0] = cols[:, L]
    A[0, 0] = wsum
    score = np.concatenate([np.reshape(top, (1, L)), score], axis=0)
    return (score[:, 0] if r.ndim == 1 else score), A


def quad_rows(X, B: np.ndarray, fit_intercept: bool, xp):
    """Per-row ``x~_i^T B x~_i`` on the device (``B`` symmetric, host)."""
    if fit_intercept:
        Bxx = xp.asarray(B[1:, 1:], dtype=X.dtype)
        b0 = xp.asarray(B[1:, 0], dtype=X.dtype)
        return xp.sum((X @ Bxx) * X, axis=1) + 2.0 * (X @ b0) + float(B[0, 0])
    Bd = xp.asarray(B, dtype=X.dtype)
    return xp.sum((X @ Bd) * X, axis=1)


def working_weights(family, eta, mu, m, d=None):
    """``w = m d^2 / V(mu)`` (``m`` None: 1)."""
    if d is None:
        d = family.link.inverse_deriv(eta)
    w = d * d / family.variance(mu)
    return w if m is None else m * w


@dataclass
class BlockTerms:
    """The row-wise quantities of a block at one linear predictor (device arrays)."""

    eta: object
    mu: object
    d: object       # dmu/deta
    mv: object      # m / V(mu)
    resid: object   # y - mu

    @property
    def weights(self):
        """Working weights ``w = m d^2 / V``."""
        md = self.mv * self.d
        return md * self.d

    @property
    def score_residuals(self):
        """Score residuals ``r = m (y - mu) d / V``."""
        return (self.mv * self.d) * self.resid

    def pearson(self, xp) -> float:
        """Pearson's ``sum m (y - mu)^2 / V``."""
        return float(xp.sum(self.mv * self.resid * self.resid))


def block_terms(family, y, m, eta, mu=None, d=None) -> BlockTerms:
    """:class:`BlockTerms` at ``eta`` (``mu`` and ``d`` when already at hand)."""
    if mu is None:
        mu, d = family.link.inverse_and_deriv(eta)
    elif d is None:
        d = family.link.inverse_deriv(eta)
    v = family.variance(mu)
    mv = 1.0 / v if m is None else m / v
    return BlockTerms(eta, mu, d, mv, y - mu)


def adjustment_terms(family, eta, mu, d, h, method: str, power: float = 0.5):
    """Per-row adjustment ``t_i``: the adjusted score is ``X~^T (r + phi t)``.

    ``h`` are the hat values ``w_i x~_i^T A^{-1} x~_i``. ``method="mBR"`` (mean bias
    reduction): ``t = h d' / (2 d)``; otherwise the Jeffreys-prior penalty
    ``a log det I(beta)`` with ``a = power``: ``t = a h (2 d' / d - d V'(mu) / V(mu))``
    (``d' = d^2 mu / deta^2``; Kosmidis & Firth 2009).
    """
    xp = get_namespace(eta)
    d2 = family.link.inverse_deriv2(eta)
    d_safe = xp.where(d != 0, d, xp.ones_like(d))
    if method == "mBR":
        return h * d2 / (2.0 * d_safe)
    return power * h * (2.0 * d2 / d_safe - d * family.variance_deriv(mu) / family.variance(mu))


def least_squares_sums(X, y, m, fit_intercept: bool, xp) -> dict:
    """The sums that solve the least-squares model: ``gram = X~^T M X~``, ``gy = X~^T M y``,
    ``yy = y^T M y``, ``weight = sum m`` and ``n_pos`` (rows with ``m > 0``)."""
    w = xp.ones_like(y, dtype=X.dtype) if m is None else xp.asarray(m, dtype=X.dtype)
    yf = xp.asarray(y, dtype=X.dtype)
    my = w * yf
    gy, A = score_and_information(X, my, w, fit_intercept, xp)
    return {"gram": A, "gy": gy, "yy": float(xp.sum(my * yf)), "weight": float(xp.sum(w)),
            "n_pos": int(xp.sum(xp.astype(w > 0, X.dtype)))}


def log_weight_sum(m, xp) -> float:
    """``sum log m`` over the rows with ``m > 0`` (0 without prior weights): with the
    deviance, the gaussian log-likelihood at any dispersion
    (:meth:`~dask_glmdist.families.Family.loglik_from_deviance`)."""
    if m is None:
        return 0.0
    pos = m > 0
    logm = xp.log(xp.where(pos, m, xp.ones_like(m)))
    return float(xp.sum(xp.where(pos, logm, xp.zeros_like(logm))))


def least_squares_fit(A, xy, yy, S, l2, theta):
    """At ``theta``: the residual sum of squares ``y'My - 2 theta'X~'My + theta'A theta``
    and the gradient ``(A theta - X~'My) / S + l2 theta`` of ``RSS / (2 S) + l2 |theta|^2/2``
    (host sums of :func:`least_squares_sums`)."""
    At = A @ theta
    rss = yy - 2.0 * float(theta @ xy) + float(theta @ At)
    return rss, (At - xy) / S + l2 * theta
