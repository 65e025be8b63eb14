"""Checks of the design from its weighted Gram matrix, before any iteration.

The first pass over the data gives the weighted Gram ``G = X~^T M X~`` of the
design with its intercept border (``X~ = [1, X]``, M the prior weights). Two
properties of the fit can be read off it on the client, at no further cost:

* **identification** -- :func:`redundant_columns`: columns that are (numerically)
  linear combinations of earlier ones (a constant column next to the intercept, a
  duplicated or all-zero column, a column that is zero on every row with positive
  weight). The unpenalised estimate is then not unique.
* **scale** -- :func:`column_scales`: the weighted standard deviation of every column
  (its root mean square without an intercept), by which a solver can work in the
  coordinates of the standardised columns; :func:`scale_problems` names the
  columns whose values are too large or too small for float64 sums of squares.

The test for redundancy is R's (``lm``'s pivoting QR), done on the Gram: column j
is redundant when the part of it orthogonal to the columns kept before it has a
squared length below ``tol`` times its own (centred, when there is an intercept)
squared length -- a sequential Cholesky factorisation that skips such columns. On
the Gram the tolerance is ``1e-10`` (``1e-5`` on R's scale, R's own is ``1e-7``):
sums of squares carry twice the digits' loss of a QR factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

__all__ = ["Redundancy", "redundant_columns", "describe_redundant", "check_identified",
           "column_scales", "standard_deviations", "constant_columns", "scale_problems",
           "CONSTANT_TOL", "COLLINEAR_TOL", "SAFE_SCALE"]

CONSTANT_TOL = 1e-12   # centred / uncentred sum of squares: the column is constant
COLLINEAR_TOL = 1e-10  # squared relative residual on the earlier (centred) columns
SAFE_SCALE = 1e100     # column root mean squares outside [1/SAFE, SAFE] are refused


@dataclass(frozen=True)
class Redundancy:
    """A parameter whose column is a linear combination of earlier ones.

    ``index`` is the parameter's position (``[intercept, *coef]`` order when an
    intercept is fitted); ``kind`` is ``"zero"`` (no weight on any non-zero value),
    ``"constant"`` (a multiple of the intercept) or ``"collinear"``; ``partners``
    are the positions of the earlier parameters it is a combination of.
    """

    index: int
    kind: str
    partners: tuple = ()

    def describe(self, names) -> str:
        name = names[self.index]
        if self.kind == "zero":
            return f"{name} (zero on every row with positive weight)"
        if self.kind == "constant":
            return f"{name} (constant: a multiple of the intercept)"
        partners = [names[k] for k in self.partners]
        listed = (str(partners) if len(partners) <= 6 else
                  str(partners[:6])[:-1] + f", ... ({len(partners)} in all)]")
        return f"{name} (a linear combination of {listed})"


def _centred(gram: np.ndarray, fit_intercept: bool):
    """The Gram of the coefficients' columns, centred on the intercept when fitted.

    Returns ``(C, U)``: the centred and the uncentred p x p matrices (equal without
    an intercept).
    """
    U = gram[1:, 1:]
    if not fit_intercept or gram[0, 0] <= 0:
        return U.copy(), U
    g = gram[1:, 0]
    return U - np.outer(g, g) / gram[0, 0], U


def redundant_columns(gram: np.ndarray, fit_intercept: bool, *,
                      tol: float = COLLINEAR_TOL) -> list[Redundancy]:
    """Parameters that the (weighted) design does not identify, from its Gram.

    Parameters
    ----------
    gram : ndarray of shape (p + 1, p + 1)
        ``X~^T M X~`` with the intercept border first (as the first pass returns it,
        whether or not an intercept is fitted).
    fit_intercept : bool
    tol : float
        Relative squared residual below which a column counts as a combination of
        the earlier ones. Raised to the rounding error of the centring when a column's
        mean is large against its spread (``1e3 eps`` times the column's ratio of
        uncentred to centred sum of squares).

    Returns
    -------
    list of Redundancy
        In column order; empty when the design has full column rank.
    """
    gram = np.asarray(gram, dtype=np.float64)
    p = gram.shape[0] - 1
    fi = int(fit_intercept)
    C, U = _centred(gram, fit_intercept)
    out: list[Redundancy] = []
    diag_u = np.diag(U)
    diag_c = np.clip(np.diag(C), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        varying = diag_c > CONSTANT_TOL * diag_u
        ratio = np.where(varying, diag_u / np.where(varying, diag_c, 1.0), 1.0)
    tols = np.maximum(tol, 1e3 * np.finfo(np.float64).eps * ratio)
    kept: list[int] = []
    L = np.zeros((p, p))          # Cholesky factor of the kept columns (scaled)
    d = np.sqrt(np.where(diag_c > 0, diag_c, 1.0))
    S = C / d[:, None] / d[None, :]
    for j in range(p):
        if not diag_u[j] > 0:
            out.append(Redundancy(j + fi, "zero"))
            continue
        if fit_intercept and diag_c[j] <= CONSTANT_TOL * diag_u[j]:
            out.append(Redundancy(j + fi, "constant", (0,)))
            continue
        m = len(kept)
        col = S[kept, j]
        if m:
            ell = _forward(L[:m, :m], col)
            resid = S[j, j] - float(ell @ ell)
        else:
            ell, resid = np.zeros(0), S[j, j]
        if resid <= tols[j] * S[j, j]:
            coef = _backward(L[:m, :m], ell)
            big = np.abs(coef) > 1e-3 * max(float(np.max(np.abs(coef), initial=0.0)), 1e-300)
            partners = tuple(kept[i] + fi for i in np.flatnonzero(big))
            out.append(Redundancy(j + fi, "collinear", partners))
            continue
        L[m, :m] = ell
        L[m, m] = np.sqrt(resid)
        kept.append(j)
    return out


def describe_redundant(redundant: list[Redundancy], names) -> str:
    """``x3 (a linear combination of ['x0']); x5 (constant: ...)``: the first five."""
    from ..diagnostics import short_list

    listed = "; ".join(r.describe(names) for r in redundant[:5])
    if len(redundant) > 5:
        every = short_list(names[r.index] for r in redundant)
        listed += f"; ... ({len(redundant)} columns in all: {every})"
    return listed


def check_identified(gram: np.ndarray, names, fit_intercept: bool, who: str, *,
                     n_pos: int | None = None,
                     remedy: str = "The estimate is not unique. Remove the redundant columns.",
                     ) -> None:
    """Raise one ``ValueError`` naming every parameter the design does not identify.

    The one rank check of the package (R's ``lm`` rule on the Gram, see
    :func:`redundant_columns`) and its one message; ``gram`` has the intercept border
    first, ``names`` are the parameters in ``[intercept, *coef]`` order when an
    intercept is fitted, ``n_pos`` the number of rows with positive weight.
    """
    redundant = redundant_columns(gram, fit_intercept)
    if not redundant:
        return
    few = (f" (only {n_pos} rows with positive weight for {len(names)} parameters)"
           if n_pos is not None and n_pos < len(names) else "")
    raise ValueError(
        f"{who}: the design is rank deficient over the rows with positive weight{few}: "
        f"{describe_redundant(redundant, names)}. {remedy}"
    )


def _forward(L, b):
    return solve_triangular(L, b, lower=True, check_finite=False)


def _backward(L, b):
    return solve_triangular(L.T, b, lower=False, check_finite=False)


def column_scales(gram: np.ndarray, weight: float, fit_intercept: bool) -> np.ndarray:
    """Scale of every parameter's column, ``[intercept, *coef]`` order (1 for the intercept).

    The weighted standard deviation when an intercept is fitted (the root mean square
    without one), so that ``coef_j * scale_j`` is the coefficient of the standardised
    column; the root mean square for a constant column and 1 for an all-zero one.
    """
    gram = np.asarray(gram, dtype=np.float64)
    C, U = _centred(gram, fit_intercept)
    w = max(float(weight), 1e-300)
    rms = np.sqrt(np.clip(np.diag(U), 0.0, None) / w)
    sd = np.sqrt(np.clip(np.diag(C), 0.0, None) / w)
    s = np.where(sd > np.sqrt(CONSTANT_TOL) * rms, sd, rms)
    s = np.where((s > 0) & np.isfinite(s), s, 1.0)
    return np.concatenate([[1.0], s]) if fit_intercept else s


def standard_deviations(gram: np.ndarray, weight: float, fit_intercept: bool) -> np.ndarray:
    """``standardize=True``: every parameter's penalty factor, ``[intercept, *coef]`` order.

    The column's weighted population standard deviation (divisor: the sum of the
    weights, as glmnet and glum), about its mean whether or not an intercept is fitted
    (glmnet's ``standardize=TRUE`` with ``intercept=FALSE`` scales without centring).
    A constant column gets its root mean square and an all-zero one 1: next to an
    intercept their coefficients are 0 whatever the factor (see
    :func:`constant_columns` for the case without one).
    """
    s = column_scales(gram, weight, True)
    return s if fit_intercept else s[1:]


def constant_columns(gram: np.ndarray) -> np.ndarray:
    """Columns of X (counted from 0) that are constant and not all zero over the rows
    with positive weight (zero standard deviation, non-zero root mean square)."""
    C, U = _centred(np.asarray(gram, dtype=np.float64), True)
    diag_u, diag_c = np.diag(U), np.clip(np.diag(C), 0.0, None)
    return np.flatnonzero((diag_u > 0) & (diag_c <= CONSTANT_TOL * diag_u))


def scale_problems(gram: np.ndarray, weight: float) -> list[tuple[int, float]]:
    """Columns whose values float64 cannot square and sum safely: ``[(j, rms), ...]``.

    ``j`` counts the columns of X from 0. A column's root mean square must lie in
    ``[1 / SAFE_SCALE, SAFE_SCALE]`` (or be 0): beyond, sums of squares over many rows
    overflow, or squares underflow into subnormal numbers that have lost their
    precision.
    """
    diag = np.diag(np.asarray(gram, dtype=np.float64))[1:]
    with np.errstate(over="ignore", invalid="ignore"):
        rms = np.sqrt(diag / max(float(weight), 1e-300))
    bad = ~np.isfinite(rms) | (rms > SAFE_SCALE) | ((rms > 0) & (rms < 1.0 / SAFE_SCALE))
    return [(int(j), float(rms[j])) for j in np.flatnonzero(bad)]
