"""Small dense linear algebra: guarded solves with p x p information matrices, R factors.

Information matrices of a block can be singular (a column constant within the block,
collinear columns) even when the combined information is not. :class:`PSDFactor`
therefore scales the matrix to unit diagonal, tries a Cholesky factorisation and
falls back to an eigen-decomposition pseudo-inverse, reporting the numerical rank.

R factors (the QR route, numerically sounder than normal equations): :func:`qr_r`
factorises a tall block without forming Q, :func:`tsqr_combine` is one node of the
TSQR tree, and the ``*_from_r`` helpers solve least-squares problems and invert
``R^T R`` by triangular solves.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

__all__ = [
    "inv_psd",
    "PSDFactor",
    "qr_r",
    "tsqr_combine",
    "positive_diagonal",
    "r_solve",
    "gram_solve_from_r",
    "gram_inverse_from_r",
    "logdet_gram_from_r",
]

_RCOND = 1e-10

# LAPACK's Cholesky factor and solve for float64, called directly (what scipy's
# cho_factor / cho_solve call, without their per-call argument handling)
_POTRF, _POTRS = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potrs"), dtype=np.float64)


def _cho_factor(S: np.ndarray):
    """Lower Cholesky factor of the float64 matrix ``S`` (``scipy.linalg.cho_factor``'s
    result; the upper triangle is left as is), or None when ``S`` is not positive definite."""
    if S.size == 0:
        return scipy.linalg.cho_factor(S, lower=True, check_finite=False)[0]
    c, info = _POTRF(S, lower=1, overwrite_a=0, clean=0)
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of potrf")
    return c if info == 0 else None


def _cho_solve(c: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cho_solve((c, True), b)`` for float64 ``c`` and ``b``."""
    if b.size == 0:
        return scipy.linalg.cho_solve((c, True), b, check_finite=False)
    x, info = _POTRS(c, b, lower=1, overwrite_b=0)
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of potrs")
    return x


class PSDFactor:
    """Factorisation of a symmetric positive semi-definite matrix ``A``.

    Cholesky of the unit-diagonal scaling ``D^{-1/2} A D^{-1/2}`` when it is well
    conditioned (relative pivot size above ``rcond``), otherwise an eigen-decomposition
    whose eigenvalues below ``rcond * max`` are treated as zero (a pseudo-inverse).
    Zero rows/columns are part of the null space.
    """

    def __init__(self, A: np.ndarray, rcond: float = _RCOND):
        A = np.asarray(A, dtype=np.float64)
        A = 0.5 * (A + A.T)
        p = A.shape[0]
        diag = np.diag(A).copy()
        scale_ok = diag > 0
        d = np.where(scale_ok, np.sqrt(np.where(scale_ok, diag, 1.0)), 1.0)
        self._d = d
        S = A / d[:, None] / d[None, :]
        self._chol = None
        if scale_ok.all():
            c = _cho_factor(S)
            if c is not None and np.min(np.diag(c)) ** 2 > rcond:
                self._chol = (c, True)
        else:
            S[~scale_ok, :] = 0.0
            S[:, ~scale_ok] = 0.0
        if self._chol is not None:
            self.rank = p
            self.null_space = np.zeros((p, 0))
        else:
            vals, vecs = np.linalg.eigh(S)
            keep = vals > rcond * max(vals.max(initial=0.0), 1e-300)
            self._vals, self._vecs, self._keep = vals, vecs, keep
            self.rank = int(keep.sum())
            self.null_space = vecs[:, ~keep]

    @property
    def full_rank(self) -> bool:
        return self._chol is not None

    def solve(self, b: np.ndarray) -> np.ndarray:
        """Minimum-norm (in the scaled metric) solution of ``A x = b``."""
        b = np.asarray(b, dtype=np.float64)
        bs = b / (self._d if b.ndim == 1 else self._d[:, None])
        if self._chol is not None:
            xs = _cho_solve(self._chol[0], bs)
        else:
            V, keep = self._vecs[:, self._keep], self._keep
            coef = V.T @ bs
            coef = coef / (self._vals[keep] if bs.ndim == 1 else self._vals[keep][:, None])
            xs = V @ coef
        return xs / (self._d if b.ndim == 1 else self._d[:, None])

    def inverse(self) -> np.ndarray:
        """(Pseudo-)inverse of ``A``."""
        inv = self.solve(np.eye(len(self._d)))
        return 0.5 * (inv + inv.T)

    def logdet(self) -> float:
        """log det A over its non-null eigen-space."""
        if self._chol is not None:
            log_pivots = np.log(np.diag(self._chol[0]))
            return float(2.0 * np.sum(log_pivots) + 2.0 * np.sum(np.log(self._d)))
        vals = self._vals[self._keep]
        return float(np.sum(np.log(vals)) + 2.0 * np.sum(np.log(self._d)))


def inv_psd(A: np.ndarray, rcond: float = _RCOND) -> np.ndarray:
    """(Pseudo-)inverse of a PSD matrix."""
    return PSDFactor(A, rcond).inverse()


# --------------------------------------------------------------------------------------
# R factors: tall-skinny QR (TSQR) and least squares from R
# --------------------------------------------------------------------------------------


def positive_diagonal(R: np.ndarray) -> np.ndarray:
    """``R`` with rows flipped so that its diagonal is non-negative (``R^T R`` unchanged).

    QR factors are unique only up to the signs of R's rows; fixing them makes R
    itself, not just ``R^T R``, independent of how the rows were grouped.
    """
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return R * signs[:, None]


@functools.lru_cache(maxsize=64)
def _geqrf_lwork(geqrf, shape) -> int:
    work = geqrf(np.zeros(shape, dtype=geqrf.dtype, order="F"), lwork=-1)[2]
    return max(1, int(np.real(work[0])))


def qr_r(A) -> np.ndarray:
    """The upper-triangular factor R of ``A = QR`` (Q is never formed), on the host.

    NumPy input goes to LAPACK's ``geqrf`` without a copy when ``A`` is Fortran
    ordered (and may then be overwritten); other array namespaces use their own
    ``linalg.qr``. A matrix with fewer rows than columns is padded with zero rows.
    """
    n, q = A.shape
    if isinstance(A, np.ndarray):
        if n < q:
            A = np.vstack([A, np.zeros((q - n, q), dtype=A.dtype)])
        (geqrf,) = scipy.linalg.lapack.get_lapack_funcs(("geqrf",), (A,))
        qr, _, _, info = geqrf(A, lwork=_geqrf_lwork(geqrf, A.shape), overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"geqrf failed (info={info})")
        return positive_diagonal(np.triu(qr[:q]))
    from ._array import get_namespace, to_host

    xp = get_namespace(A)
    if n < q:
        A = xp.concat([A, xp.zeros((q - n, q), dtype=A.dtype)], axis=0)
    return positive_diagonal(np.triu(to_host(xp.linalg.qr(A).R)))


def tsqr_combine(*Rs: np.ndarray) -> np.ndarray:
    """R factor of the rows stacked under several R factors: one TSQR tree node.

    If ``A_k = Q_k R_k`` then ``[A_1; A_2; ...]`` has the R factor of
    ``[R_1; R_2; ...]``; exact up to rounding whatever the grouping or order.
    """
    if len(Rs) == 1:
        return Rs[0]
    return qr_r(np.asfortranarray(np.vstack(Rs)))


def r_solve(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``R x = b`` (back substitution)."""
    return scipy.linalg.solve_triangular(R, b, lower=False, check_finite=False)


def gram_solve_from_r(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``(R^T R) x = b`` by two triangular solves."""
    y = scipy.linalg.solve_triangular(R, b, trans="T", lower=False, check_finite=False)
    return scipy.linalg.solve_triangular(R, y, lower=False, check_finite=False)


def gram_inverse_from_r(R: np.ndarray) -> np.ndarray:
    """``(R^T R)^{-1} = R^{-1} R^{-T}``, symmetrised."""
    Rinv = scipy.linalg.solve_triangular(R, np.eye(R.shape[0]), lower=False, check_finite=False)
    inv = Rinv @ Rinv.T
    return 0.5 * (inv + inv.T)


def logdet_gram_from_r(R: np.ndarray) -> float:
    """``log det(R^T R) = 2 sum log |R_jj|``."""
    return float(2.0 * np.sum(np.log(np.abs(np.diag(R)))))
