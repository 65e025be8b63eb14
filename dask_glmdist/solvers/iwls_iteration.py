"""The iteration of :func:`~dask_glmdist.solvers.chunked_iwls.fit_chunked_iwls`.

An iterate, the update it proposes (ML, mBR or mJPL; one or two data passes per
iteration) and the line search that accepts the next iterate. The data passes are
made by the ``run`` callable the fit hands in (a pass of
:func:`~dask_glmdist.solvers.chunked_iwls.iwls_block` over the row blocks); the
mathematics of the update is in the docstring of
:mod:`~dask_glmdist.solvers.chunked_iwls`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..diagnostics import short_list
from ..linalg import (
    gram_inverse_from_r,
    gram_solve_from_r,
    logdet_gram_from_r,
    r_solve,
    tsqr_combine,
)
from .ancillary import next_ancillary
from .iwls_dispersion import next_dispersion

if TYPE_CHECKING:
    from .chunked_iwls import IWLSSums

logger = logging.getLogger("dask_glmdist")

__all__ = ["Iterate", "ChunkedIWLS", "InformationCollapsed", "check_not_collapsed"]


OVERSHOOT = 0.5  # a step reversed by more than this fraction of itself is shortened


@dataclass
class Iterate:
    """An accepted iterate: the coefficients, the pass summary there (R, deviance and,
    for mBR/mJPL, the adjustment ``X~^T t``) and the update it proposes."""

    beta: np.ndarray | None
    s: IWLSSums
    phi: float
    new: np.ndarray | None = None
    phi_new: float = float("nan")
    lagged: bool = False  # the adjustment used the previous iterate's hat values
    alpha: float | None = None      # the family's estimated ancillary parameter here
    alpha_new: float | None = None  # ... and the value proposed with ``new``
    alpha_first: bool = False       # the first pass at fitted means: a moment estimate

    @property
    def R(self) -> np.ndarray:
        return self.s.R


class ChunkedIWLS:
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

    **An estimated ancillary parameter** (``ancillary``: NB2's ``alpha``,
    :mod:`~dask_glmdist.solvers.ancillary`): every pass also returns its score and
    curvature; the proposal adds its Newton step in ``log(alpha)`` to the coefficients'
    step, the candidate moves both by the same fraction, and the line search's objective
    is ``-2 loglik`` (comparable across values of ``alpha``, the deviance is not). Only
    ML (the fit refuses mBR and mJPL with it).

    **One pass per iteration**: an iteration whose one-pass step overshoots is redone
    with two passes (the overshoot may come from the previous iterate's hat values,
    which no step length changes); the next iteration makes one pass again.
    """

    def __init__(self, run, family, *, method, power, passes, dispersion, names,
                 k, n_pos, pass_sums, tol, ancillary=False):
        self.ancillary = ancillary
        self.family, self.method, self.power, self.k, self.tol = family, method, power, k, tol
        self.names, self.n_pos, self.pass_sums = names, n_pos, pass_sums
        self.dispersion = dispersion
        self.adjusted = method != "ML"
        self.estimate_phi = not family.fixed_dispersion
        self.passes = passes
        self.mode = passes  # passes per iteration now (2 while redoing a one-pass step)
        self.run = run
        self.cramped = 0  # consecutive iterations cramped by the edge of the range

    # ---- proposal -------------------------------------------------------------------------
    def propose(self, it: Iterate) -> Iterate:
        """Fill in the update proposed at ``it`` (a hat-value pass first if needed)."""
        k = self.k
        R = it.R[:k + 1, :k + 1]
        Rxx = R[:k, :k]
        check_not_collapsed(Rxx, self.names, self.method)
        beta_ml = r_solve(Rxx, R[:k, k])
        phi_new = it.phi
        if it.beta is not None and self.estimate_phi:
            phi_new = next_dispersion(it.s, it.phi, self.family, self.method, self.power,
                                       self.dispersion, k, self.n_pos, self.pass_sums)
        new = beta_ml
        scale = phi_new if self.estimate_phi else 1.0
        if self.adjusted and it.beta is not None:
            if it.s.adj is None and self.mode == 2:
                a = self.run("IWLS adjustment", beta=it.beta, qr=False, hat_R=Rxx,
                             phi=scale if np.isfinite(scale) else 1.0)
                it.s.adj = a.adj
                it.s.Rc = a.Rc if a.Rc is not None else it.s.Rc
            if it.s.Rc is not None:
                # high-leverage rows: (X~^T W X~ + C) step = the adjusted score
                score = Rxx.T @ (Rxx @ (beta_ml - it.beta)) + scale * it.s.adj
                new = it.beta + gram_solve_from_r(tsqr_combine(Rxx, it.s.Rc), score)
            elif it.s.adj is not None:
                new = beta_ml + scale * gram_solve_from_r(Rxx, it.s.adj)
        it.new, it.phi_new = new, phi_new
        it.alpha_new = it.alpha
        if self.ancillary and it.beta is not None:
            it.alpha_new = next_ancillary(it.s.ancillary, it.alpha, first=it.alpha_first)
        return it

    # ---- line search -----------------------------------------------------------------------
    def next_iterate(self, it: Iterate, fallback) -> Iterate:
        """The accepted iterate after ``it`` (see the class docstring)."""
        c = self._first_step(it, fallback) if it.beta is None else self._line_search(it)
        if c.new is None and self.adjusted:  # (ML: the loop proposes, catching a collapse)
            self.propose(c)
        self.mode = self.passes
        return c

    def _first_step(self, it: Iterate, fallback) -> Iterate:
        """From mustart: the IWLS step, or the intercept-only start if it leaves the range."""
        for cand in (it.new, fallback):
            c = self.evaluate(it, cand, it.alpha_new)
            if c is not None:
                c.alpha_first = self.ancillary
                return c
        raise ValueError(
            f"no valid starting value for the {self.family.name} model with the "
            f"{self.family.link.name} link: its mean leaves the family's range at both the "
            "IWLS start and the intercept-only start; pass start= or use a link whose mean "
            "is always valid (e.g. 'log')."
        )

    def _line_search(self, it: Iterate) -> Iterate:
        objective = self._objective(it)
        direction = it.new - it.beta
        alpha, halvings, dampings = 1.0, 0, 0
        out_of_range = 0
        while True:
            c = self.evaluate(it, it.beta + alpha * direction, self._alpha_at(it, alpha))
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
                it.s.adj = it.s.Rc = None
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

    def _leaves_range(self, it: Iterate, how: str) -> None:
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
            f"{short_list(lead)} (the largest components of the update in standard errors). Use "
            "a link whose mean is always valid (e.g. 'log'), or remove those columns."
        )

    def _alpha_at(self, it: Iterate, step: float):
        """The ancillary parameter moved by the fraction ``step`` of its proposed log-step."""
        if not self.ancillary:
            return None
        return it.alpha * (it.alpha_new / it.alpha) ** step

    def _objective(self, it: Iterate, phi=None):
        if self.ancillary:
            return -2.0 * it.s.loglik
        phi = it.phi_new if phi is None else phi
        return _objective(it.s, it.R, self.method, self.mode, phi, self.power,
                          self.estimate_phi)

    def _overshoot(self, c: Iterate, taken) -> float | None:
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

    def evaluate(self, it: Iterate, cand, alpha=None) -> Iterate | None:
        """The pass at a candidate (and ``alpha``, the ancillary parameter's value there);
        None if its mean leaves the family's range."""
        one_pass = self.adjusted and self.mode == 1
        extra = {} if alpha is None else dict(
            family=self.family.with_ancillary(alpha), ancillary=True, loglik=True)
        s = self.run(
            "IWLS pass", beta=cand, phi=it.phi_new if np.isfinite(it.phi_new) else 1.0,
            hat_R=it.R[:self.k, :self.k] if one_pass else None,
            hat_beta=it.beta if one_pass else None,
            hat_start=one_pass and it.beta is None, dispersion_sums=self.pass_sums, **extra,
        )
        if "invalid_mean" in s.problems or s.deviance is None or not np.isfinite(
                s.deviance) or (alpha is not None and not np.isfinite(s.loglik)):
            return None
        return Iterate(beta=cand, s=s, phi=it.phi_new, lagged=one_pass, alpha=alpha)


def _reversal(Rxx, taken, proposed) -> float:
    """How far the update proposed at the candidate reverses the step taken to it.

    ``r = <R taken, R proposed> / ||R taken||^2`` in the information metric: for an
    iteration whose error contracts by the factor mu along the step, the full step gives
    ``r = mu``; ``r < 0`` means the step overshot the root.
    """
    a, b = Rxx @ taken, Rxx @ proposed
    denom = float(a @ a)
    return float(a @ b) / denom if denom > 0 else 0.0


def check_not_collapsed(Rxx, names, method) -> None:
    """R_xx with an exactly zero or non-finite diagonal: the information about a
    parameter vanished (the weights of the rows that carry it underflowed)."""
    d = np.diag(Rxx)
    bad = [int(j) for j in np.flatnonzero(~(np.abs(d) > 0))]
    if not bad:
        return
    if method == "ML":
        raise InformationCollapsed(bad)
    raise FloatingPointError(
        f"IWLS ({method}): the information about parameters {[names[j] for j in bad]} "
        "vanished: the fitted means of the rows that carry them reached the edge of "
        "the family's range (weights 0). The adjusted estimate does not exist for this "
        "model; try method='mJPL', another link, or remove those columns."
    )


class InformationCollapsed(Exception):
    def __init__(self, columns):
        super().__init__(columns)
        self.columns = columns


def _objective(s, R, method, passes, phi, power, estimate_phi):
    """What a step must not increase: the deviance (ML), the penalised deviance (mJPL)."""
    if method == "ML":
        return s.deviance
    if method == "mJPL" and passes == 2:
        k = R.shape[0] - 1
        scale = phi if (estimate_phi and np.isfinite(phi) and phi > 0) else 1.0
        return s.deviance / scale - 2.0 * power * logdet_gram_from_r(R[:k, :k])
    return None
