"""Small dense linear algebra on the client: guarded solves with p x p information matrices.

Information matrices of a block can be singular (a column constant within the block,
collinear columns) even when the combined information is not. :func:`solve_psd`
therefore scales the matrix to unit diagonal, tries a Cholesky factorisation and
falls back to an eigen-decomposition pseudo-inverse, reporting the numerical rank.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["solve_psd", "inv_psd", "logdet_psd", "PSDFactor"]

_RCOND = 1e-10


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
        S[~scale_ok, :] = 0.0
        S[:, ~scale_ok] = 0.0
        self._chol = None
        if scale_ok.all():
            try:
                c, low = scipy.linalg.cho_factor(S, lower=True, check_finite=False)
                if np.min(np.diag(c)) ** 2 > rcond:
                    self._chol = (c, low)
            except np.linalg.LinAlgError:
                pass
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
            xs = scipy.linalg.cho_solve(self._chol, bs, check_finite=False)
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


def solve_psd(A: np.ndarray, b: np.ndarray, rcond: float = _RCOND) -> tuple[np.ndarray, int]:
    """Solve ``A x = b`` for PSD ``A``; returns ``(x, rank)`` (pseudo-inverse if singular)."""
    f = PSDFactor(A, rcond)
    return f.solve(b), f.rank


def inv_psd(A: np.ndarray, rcond: float = _RCOND) -> np.ndarray:
    """(Pseudo-)inverse of a PSD matrix."""
    return PSDFactor(A, rcond).inverse()


def logdet_psd(A: np.ndarray, rcond: float = _RCOND) -> float:
    """log-determinant of a PSD matrix over its non-null eigen-space."""
    return PSDFactor(A, rcond).logdet()
