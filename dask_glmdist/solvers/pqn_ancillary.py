"""A family's ancillary parameter (NB2's ``alpha``) estimated inside the PQN engine.

**The objective.** With ``alpha`` fixed the engine minimises ``D(beta) / (2 S) + P(beta)``
(:mod:`.pqn`). The deviance is ``2 (l_sat(alpha) - l(beta, alpha))``, and the saturated
log-likelihood ``l_sat`` depends on ``alpha``: the deviances at two values of ``alpha``
are not comparable, and minimising ``D`` over ``alpha`` is not maximum likelihood. With
``alpha`` free the objective is the penalised negative log-likelihood per unit weight,

    F(beta, alpha) = -l(beta, alpha) / S + P(beta),

``alpha`` unpenalised. At a fixed ``alpha`` it differs from the fixed-``alpha``
objective by the constant ``l_sat(alpha) / S``, so its minimiser in ``beta`` is the
fixed-``alpha`` solution there (profile consistency), and at ``P = 0`` its minimiser is
the maximum likelihood estimate of ``(beta, alpha)`` (statsmodels'
``NegativeBinomial(loglike_method="nb2")``, R's ``glm.nb``).

**One round per iteration** (no extra pass). The ladder round evaluates every trial step
``s`` at ``(beta - s d, alpha e^{s dt})``: the coefficients' proximal Newton direction
``d`` (at the current ``alpha``) and the Newton step ``dt`` in ``log(alpha)``
(:func:`~.ancillary.next_ancillary`, from the score and curvature of the previous round)
are one block-diagonal step -- ``alpha`` and the coefficients are orthogonal in expected
information (NB2) -- and the line search shortens both together. Each step's column
returns the log-likelihood and the score and curvature in ``alpha`` along with its
score in the coefficients, all from the same pass (:func:`ladder_terms`). The Armijo
decrement adds ``dF/dt dt = -alpha S_alpha dt / S`` to the coefficients' one.

**Convergence**: the coefficients' tests, the KKT violation including ``alpha``'s
(``|alpha S_alpha| / S``, the gradient in ``log(alpha)``; on the boundary
:data:`~.ancillary.ALPHA_FLOOR` only a gradient pushing upwards counts), and a proposed
step in ``log(alpha)`` below ``tol`` (a flat likelihood near the Poisson boundary has a
small gradient far from its optimum, as BiasReducedGLM's test of the same step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._array import get_namespace, to_host
from .._blocks import BlockSummary
from ..block_graph import additive
from .ancillary import START, ancillary_sums, at_floor, next_ancillary
from .glm_kernel import linear_predictor

__all__ = ["AncillaryPart", "JointSums", "column_terms", "initial_value", "joint_block"]


def column_terms(family, values, y, m, H, xp):
    """``eta_terms`` of every column of ``H`` (``(n, L)``), column ``j`` at
    ``family.with_ancillary(values[j])`` (``values`` None: ``family`` as it is)."""
    if values is None:
        return family.eta_terms(y, H)
    cols = [family.with_ancillary(float(a)).eta_terms(y, H[:, j:j + 1])
            for j, a in enumerate(values)]
    return tuple(xp.concat([c[i] for c in cols], axis=1) for i in range(6))


def ladder_terms(family, values, y, m, mu) -> dict:
    """Per column ``j`` of ``mu`` (at ``values[j]``): the log-likelihood and the sums of
    the score and curvature in the ancillary parameter (host arrays of length L)."""
    L = len(values)
    out = {"loglik": np.empty(L), "anc_score": np.empty(L), "anc_hess": np.empty(L)}
    for j, a in enumerate(values):
        fam = family.with_ancillary(float(a))
        col = mu[:, j]
        out["loglik"][j] = float(to_host(fam.loglik(y, col, m)))
        s = ancillary_sums(fam, y, col, m)
        out["anc_score"][j], out["anc_hess"][j] = s["score"], s["hess"]
    return out


def initial_value(sums, fit_intercept: bool) -> float:
    """The moment estimate ``sum m ((y - mu)^2 - mu) / sum m mu^2`` at the constant mean
    of the start (the intercept-only mean, or ``mu = 1`` without intercept: log link),
    from the first pass's sums (no pass); clipped as :func:`~.ancillary.next_ancillary`."""
    W, sy, syy = sums.weight, float(sums.gy[0]), float(sums.yy)
    mu = sy / W if fit_intercept else 1.0
    moments = {"moment_num": syy - 2.0 * mu * sy + mu * mu * W - mu * W,
               "moment_den": mu * mu * W}
    return next_ancillary(moments, START, first=True)


class AncillaryPart:
    """The ancillary parameter's side of the PQN iteration (module docstring).

    ``value``: the current estimate; ``score``/``hess``: the sums of its derivatives
    at the current iterate (NaN until a round has given them: no step then);
    ``step``: the proposed step in ``log(value)``.
    """

    def __init__(self, value: float, S: float, score=float("nan"), hess=float("nan")):
        self.value, self.S = float(value), float(S)
        self.score, self.hess = float(score), float(hess)
        self.step = 0.0

    def propose(self) -> float:
        """Set the Newton step in ``log(value)``; returns its Armijo decrement (<= 0)."""
        self.step = 0.0
        if not (np.isfinite(self.score) and np.isfinite(self.hess)):
            return 0.0
        sums = {"score": self.score, "hess": self.hess}
        self.step = math.log(next_ancillary(sums, self.value) / self.value)
        return -self.value * self.score * self.step / self.S

    def values(self, steps) -> np.ndarray:
        """The parameter at every step of a ladder (a fraction ``s`` of its log-step)."""
        return self.value * np.exp(np.asarray(steps, dtype=np.float64) * self.step)

    def accept(self, r, i: int, steps) -> None:
        """Move to step ``i`` of the ladder round ``r``."""
        self.value = float(self.values(steps)[i])
        self.score, self.hess = float(r.anc_score[i]), float(r.anc_hess[i])

    def kkt(self) -> float:
        """The violation of the optimality condition in ``log(value)``."""
        g = self.value * self.score / self.S   # -dF/dt
        if not np.isfinite(g):
            return float("inf")
        return max(g, 0.0) if at_floor(self.value) else abs(g)

    def settled(self, tol: float) -> bool:
        """The proposed step in ``log(value)`` is below ``tol`` (call after propose)."""
        return abs(self.step) <= tol


@dataclass
class JointSums(BlockSummary):
    """The sums of :func:`~.ancillary.ancillary_sums` with its joint pieces (the
    standard error of the unpenalised estimate, :func:`~.ancillary.ancillary_se`)."""

    sums: dict | None = None


@additive
def joint_block(X, y, m, theta, *, family, fit_intercept, block_index, offset=None):
    """One block's :class:`JointSums` at ``theta`` (``family`` at the estimate)."""
    xp = get_namespace(X)
    eta = linear_predictor(X, theta, fit_intercept, xp, offset)
    mu = family.link.inverse(eta)
    yt = xp.asarray(y, dtype=X.dtype)
    return JointSums(sums=ancillary_sums(family, yt, mu, m, X, fit_intercept=fit_intercept,
                                         xp=xp, joint=True))


class JointRider:
    """:func:`joint_block` riding on the fit's next round (the fit statistics' pass at
    the estimate): no pass of its own (:meth:`~dask_glmdist.rounds.RoundEngine.ride`)."""

    def __init__(self, engine, family, theta, fit_intercept: bool):
        self.family, self.fit_intercept = family, fit_intercept
        self.theta = np.asarray(theta, dtype=np.float64)
        self.sums, self.done = None, False
        engine.ride(self)

    def block(self):
        return joint_block, (self.theta,), dict(family=self.family,
                                                fit_intercept=self.fit_intercept)

    def update(self, s) -> None:
        self.done = True
        self.sums = s.sums if isinstance(s, JointSums) else None
