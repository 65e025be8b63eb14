"""Where an IWLS estimate meets the edge of the family's range.

Binomial, Poisson and negative binomial means have an edge (0, and 1 for the binomial)
that the response can sit on. Under separation (binomial) or an all-zero group
(Poisson) the maximum likelihood fit drives the fitted means of some rows to that
edge, and the estimate runs off to infinity: this module watches the ML iterations
for that signature (:class:`SeparationMonitor`) and words the outcome
(:func:`warn_outcome`).
"""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..diagnostics import SeparationWarning, warn

__all__ = ["BOUNDARY", "FINAL_BOUNDARY", "boundary_rows", "SeparationMonitor", "warn_outcome"]

BOUNDARY = 1e-8  # during ML iterations: a fitted mean this close to the value y takes
FINAL_BOUNDARY = 10 * np.finfo(np.float64).eps  # at the estimate: R's glm "numerically 0 or 1"


def boundary_rows(family, y, mu, m, xp, tol=BOUNDARY) -> int:
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


class SeparationMonitor:
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


def warn_outcome(method, family, converged, separated, boundary, max_iter, growing):
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
