"""The dispersion equations of :mod:`~dask_glmdist.solvers.chunked_iwls` (ML, mBR, mJPL).

The gaussian, gamma and inverse gaussian families estimate the dispersion phi. With
q_i the weighted unit deviance (sum q_i = D), k the number of parameters,
nu_i = m_i / phi and a1, a2, a3 from
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

import numpy as np

__all__ = ["solve_dispersion", "next_dispersion"]


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

    With ``sums=None`` the prior weights are constant (1) or the family's sums do not
    depend on the weights (``family.closed_form_dispersion``: gaussian, inverse
    gaussian): the equation is solved exactly. Otherwise ``sums = (S1, S2, S3)`` were
    evaluated at ``phi0`` and one Fisher-scoring step from ``phi0`` is returned.
    """
    if n_pos <= 0 or D <= 0:
        return 0.0
    if family.closed_form_dispersion:
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


def next_dispersion(s, phi, family, method, power, dispersion, k, n_pos, pass_sums):
    """The dispersion at the state of pass summary ``s`` (``phi``: the previous one).

    Pearson's moment estimator; or the method's equation, solved exactly, or by one
    Fisher-scoring step on the pass sums (weighted gamma; the first estimate is the
    moment one, at which the next pass evaluates the sums).
    """
    moment = s.pearson / (n_pos - k)
    if dispersion == "pearson" or (pass_sums and s.S is None):
        return moment
    return solve_dispersion(
        family, method, power, k, s.deviance, n_pos,
        phi0=phi if np.isfinite(phi) else moment,
        sums=tuple(s.S) if pass_sums else None,
    )
