"""Coordinate descent for L1-penalised quadratics given by a small Gram matrix.

Everything here works on host NumPy arrays of size p x p (never on the data): the
penalised local fits and the node-wise lasso regressions of the debiased lasso only
need a block's Gram matrix, so their coordinate descent costs O(p^2) per sweep
whatever the number of rows.

The problem solved by :func:`lasso_cd` is

    minimise_x   1/2 x^T H x - b^T x + sum_j l1_j |x_j|,

with H symmetric positive semi-definite (a ridge term goes on H's diagonal). The
coordinate update is the soft-thresholded one-dimensional minimiser
``x_j = S(b_j - sum_{k != j} H_jk x_k, l1_j) / H_jj`` (Friedman, Hastie & Tibshirani
2010). The negative gradient ``c = b - H x`` is kept up to date, so a coordinate
that does not move costs O(1) and one that moves costs O(p). Sweeps alternate
between all coordinates and the active (non-zero) set, as glmnet does.

:func:`nodewise_lasso` solves many node-wise lasso problems on one Gram at once,
vectorised across the problems (one coordinate of every problem per step); a few
problems (a block's share of the rows) are swept one by one instead, with the same
arithmetic and so the same result, without NumPy's cost per call.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_SWEEPS", "lasso_cd", "nodewise_lasso"]

MAX_SWEEPS = 10_000
# nodewise_lasso sweeps up to this many problems one by one (Python floats), more
# problems vectorised across them (one NumPy step per coordinate)
SCALAR_PROBLEMS = 10


def _soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def _sweep(rows, x, c, idx, dl, ll, ul) -> float:
    """One cyclic pass over the coordinates ``idx`` (the list ``x`` and the residual
    ``c = b - H x`` updated in place; ``rows`` the rows of H, ``ul`` the box or None);
    the largest move. Scalars are Python floats: the same IEEE arithmetic as NumPy's,
    without a NumPy scalar per operation."""
    big = 0.0
    for j in idx:
        h = dl[j]
        xj = x[j]
        z = c.item(j) + h * xj
        t = ll[j]
        if z > t:
            new = (z - t) / h
        elif z < -t:
            new = (z + t) / h
        else:
            new = 0.0
        if ul is not None:
            u = ul[j]
            if new > u:
                new = u
            elif new < -u:
                new = -u
        delta = new - xj
        if delta != 0.0:
            x[j] = new
            c -= delta * rows[j]
            if abs(delta) > big:
                big = abs(delta)
    return big


def _largest(x: list) -> float:
    """``max |x_j|`` (NaN when some ``x_j`` is NaN, as ``np.max``; 0 when empty)."""
    top = max(map(abs, x), default=0.0)
    return float("nan") if any(map(math.isnan, x)) else top


def lasso_cd(H, b, l1, x0=None, *, bound=None, tol: float = 1e-12,
             max_sweeps: int = MAX_SWEEPS):
    """Minimise ``1/2 x'Hx - b'x + sum l1_j |x_j|`` (optionally over a box) by cyclic CD.

    With ``bound`` the minimum is over ``|x_j| <= bound_j``: the one-dimensional
    minimiser of a convex quadratic plus ``l1_j |x_j|`` over an interval is the
    unconstrained one clipped to the interval, so each coordinate update is simply
    clipped and the iteration still decreases the objective monotonically.

    Parameters
    ----------
    H : ndarray of shape (p, p)
        Symmetric positive semi-definite. Coordinates with ``H_jj <= 0`` (a column
        that is zero in the data) stay at 0.
    b : ndarray of shape (p,)
    l1 : ndarray of shape (p,)
        Non-negative L1 weights (0 leaves a coordinate unpenalised).
    x0 : ndarray of shape (p,), default=None
        Warm start (zeros if None); clipped into the box.
    bound : ndarray of shape (p,), default=None
        Positive bounds on ``|x_j|`` (``inf`` for none); ``None``: no box.
    tol : float
        Converged when a full sweep moves no coordinate by more than
        ``tol * max(1, max |x|)``.
    max_sweeps : int

    Returns
    -------
    x : ndarray of shape (p,)
    sweeps : int
        Sweeps made (``max_sweeps`` means not converged).
    """
    H = np.ascontiguousarray(H, dtype=np.float64)
    p = b.shape[0]
    x = np.zeros(p) if x0 is None else np.array(x0, dtype=np.float64)
    diag = np.diag(H).copy()
    usable = diag > 0
    x[~usable] = 0.0
    ul = None
    if bound is not None:
        bound = np.asarray(bound, dtype=np.float64)
        x = np.clip(x, -bound, bound)
        ul = bound.tolist()
    c = b - H @ x
    all_idx = np.flatnonzero(usable).tolist()
    dl = diag.tolist()
    ll = np.asarray(l1, dtype=np.float64).tolist()
    rows = list(H)      # row views, indexed once
    xs = x.tolist()
    sweeps = 0
    full = True
    while sweeps < max_sweeps:
        idx = all_idx if full else [j for j in all_idx if xs[j] != 0.0]
        sweeps += 1
        big = _sweep(rows, xs, c, idx, dl, ll, ul)
        if big <= tol * max(1.0, _largest(xs) if p else 1.0):
            if full:
                return np.array(xs), sweeps
            full = True  # the active set has converged: check every coordinate once more
        else:
            full = False
    return np.array(xs), sweeps


def nodewise_lasso(G, rows, alpha, *, tol: float = 1e-12, max_sweeps: int = MAX_SWEEPS):
    """Node-wise lasso regressions of columns ``rows`` on the others, from the Gram.

    For each ``j`` in ``rows`` (with ``G = X^T X / n`` for some design ``X``),

        gamma_j = argmin  ||x_j - X_{-j} gamma||^2 / (2 n) + sum_{k != j} alpha_k |gamma_k|,
        tau_j^2 = ||x_j - X_{-j} gamma_j||^2 / n + sum_{k != j} alpha_k |gamma_jk|,

    both computed from ``G`` alone (Meinshausen & Buehlmann 2006; van de Geer et al.
    2014). Row j of the node-wise approximate inverse of ``G`` is
    ``(e_j - gamma_j) / tau_j^2``.

    Parameters
    ----------
    G : ndarray of shape (p, p)
    rows : sequence of int
    alpha : ndarray of shape (p,)
        Penalty of each coefficient (alpha_j itself is unused for problem j).
    tol, max_sweeps : as in :func:`lasso_cd`, per problem.

    Returns
    -------
    gamma : ndarray of shape (len(rows), p)
        ``gamma[i, rows[i]] == 0``.
    tau2 : ndarray of shape (len(rows),)
    sweeps : int
    """
    G = np.ascontiguousarray(G, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.intp)
    q, p = rows.shape[0], G.shape[0]
    if q == 0:
        return np.zeros((0, p)), np.zeros(0), 0
    B = G[rows].copy()          # right-hand sides: G[j, :] for problem j
    C = B.copy()                # negative gradients B - gamma G, updated in place
    diag = np.diag(G)
    alpha = np.asarray(alpha, dtype=np.float64)
    usable = np.flatnonzero(diag > 0)
    if q <= SCALAR_PROBLEMS and np.all(np.isfinite(G)):
        gamma, sweeps = _nodewise_scalar(G, rows, C, diag, alpha, usable, tol, max_sweeps)
    else:
        gamma, sweeps = _nodewise_vectorised(G, rows, C, diag, alpha, usable, tol, max_sweeps)
    # tau^2 = G_jj - 2 G_j. gamma + gamma' G gamma + sum alpha |gamma|, with gamma G = B - C
    quad = np.einsum("ij,ij->i", B - C, gamma)
    lin = np.einsum("ij,ij->i", B, gamma)
    tau2 = diag[rows] - 2.0 * lin + quad + np.abs(gamma) @ alpha
    return gamma, tau2, sweeps


def _nodewise_scalar(G, rows, C, diag, alpha, usable, tol, max_sweeps):
    """Few problems: each swept on its own by :func:`_sweep` (the same arithmetic as
    :func:`_nodewise_vectorised`, coordinate by coordinate), stopped together."""
    g_rows, dl, ll = list(G), diag.tolist(), alpha.tolist()
    gamma = [[0.0] * G.shape[0] for _ in rows]
    others = [[k for k in usable.tolist() if k != j] for j in rows.tolist()]
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        big = max(_sweep(g_rows, g, c, idx, dl, ll, None)
                  for g, c, idx in zip(gamma, C, others, strict=True))
        if big <= tol * max(1.0, _largest([v for g in gamma for v in g])):
            break
    return np.array(gamma), sweeps


def _nodewise_vectorised(G, rows, C, diag, alpha, usable, tol, max_sweeps):
    """Many problems: one coordinate of every problem per step."""
    gamma = np.zeros((rows.shape[0], G.shape[0]))
    owners: dict = {}   # coordinate j -> the problems regressing column j (kept at 0)
    for i, j in enumerate(rows.tolist()):
        owners.setdefault(j, []).append(i)
    sweeps = 0
    while sweeps < max_sweeps:
        sweeps += 1
        big = 0.0
        for k in usable.tolist():
            h = diag[k]
            old = gamma[:, k]
            new = _soft(C[:, k] + h * old, alpha[k]) / h
            if k in owners:
                new[owners[k]] = 0.0
            delta = new - old
            if delta.any():
                gamma[:, k] = new
                C -= delta[:, None] * G[k]
                big = max(big, float(np.abs(delta).max()))
        if big <= tol * max(1.0, float(np.abs(gamma).max())):
            break
    return gamma, sweeps
