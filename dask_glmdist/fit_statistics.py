"""Fit statistics at the final estimate: one light pass shared by every estimator.

The fitted contract (``docs/contract.md``) reports, at the estimate the fit stopped
at, the deviance, Pearson's chi^2, the log-likelihood and the null deviance. Methods
whose last pass was not at that estimate (DLSA's combination or last refinement step)
or that do not form these sums (the PQN engine, the debiased lasso) get them from
:func:`fit_statistics`: one pass of :func:`fit_statistics_block` (a few more, counted,
only where noted below), built on the family's own ``deviance``, ``loglik``,
``variance`` and link -- no family is singled out by name.

Conventions (R's ``glm``):

* ``null_deviance``: the deviance of the intercept-only model (with the offset, when
  there is one: R refits it), or, without an intercept, the deviance at
  ``linkinv(offset)`` (``linkinv(0)`` without an offset). Without an offset its mean is
  the weighted mean ``ybar`` of ``y``, which the pass learns only at its end; the pass
  evaluates the deviance at a reference constant ``c0`` instead and uses that for any
  GLM deviance (a quasi-deviance ``2 int (y - t)/V(t) dt``) ``d(y, ybar) - d(y, c0)`` is
  linear in ``y``, so ``D(ybar) = D(c0) - sum(w) d(ybar, c0)`` exactly. With an offset
  the intercept solves the intercept-only score equation: scalar Newton steps. Where
  the method lets them (:func:`ride_null_model`: BiasReducedGLM, PenalizedGLM) they ride
  on the fit's own rounds (:class:`NullIntercept`), so that the statistics pass
  only confirms the converged intercept; otherwise the first rides on the statistics
  pass, further ones take tiny passes of their own.
* ``loglik``: at the dispersion R's ``logLik(glm)`` uses: 1 for binomial/Poisson-like
  families, ``deviance / n_obs`` where the family estimates it (for the gaussian family
  the maximum-likelihood value, as statsmodels' ``llf`` for the identity link). When the
  deviance at the estimate is not known beforehand, a family with estimated
  dispersion takes it from the family's closed form in the deviance
  (:meth:`~dask_glmdist.families.Family.loglik_from_deviance`: gaussian), else from
  one more pass.

No pass of its own where the method has the sums anyway: :class:`FinalStatistics`
rides on a solver's last round when that is at the final estimate (BiasReducedGLM),
and :func:`least_squares_statistics` reads them off the sums that solved a
least-squares model (PenalizedGLM, DebiasedLassoRegressor with the gaussian identity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._array import get_namespace
from .block_graph import additive
from .solvers.glm_kernel import log_weight_sum

__all__ = ["FinalStatistics", "FitStatistics", "NullIntercept", "fit_statistics",
           "fit_statistics_block", "float64_blocks", "information_criteria",
           "least_squares_statistics", "ride_null_model"]

_NEWTON_TOL = 1e-12
_NEWTON_MAX = 30
_CANCELLATION = 1e3  # D(c0) this many times D(ybar): evaluate at ybar in a pass of its own
_LS_CANCELLATION = 1e4  # y'My this many times the RSS: least-squares sums not used


@dataclass
class FitStatistics:
    """Sums at the final estimate (see the module docstring for the conventions)."""

    deviance: float
    pearson: float
    loglik: float
    null_deviance: float
    n_obs: int          # rows with non-zero weight (R's nobs)
    weight: float       # sum of the prior weights


def _response01(y, classes):
    if classes is None:
        return y
    return (y == classes[1]).astype(np.float64)


@additive
def fit_statistics_block(X, y, m, theta, *, family, fit_intercept, parts, null, scale,
                         classes=None, block_index, offset=None):
    """One block's sums for :func:`fit_statistics`.

    ``parts``: ``"model"`` (deviance, Pearson chi^2, log-likelihood at ``scale`` when
    ``scale`` is not None, ``log_weight = sum log m`` over the rows with ``m > 0`` for
    :meth:`~dask_glmdist.families.Family.loglik_from_deviance`, and the null sums),
    ``"loglik"`` (the log-likelihood only) or ``"null"`` (the null sums only).
    ``null``: ``("constant", c0)`` (the deviance at ``c0``), ``("intercept", b0)``
    (deviance, score and information of the intercept-only model with the offset at
    intercept ``b0``) or ``("none", None)`` (the deviance at ``linkinv(offset)``).
    """
    xp = get_namespace(y)
    y = xp.asarray(_response01(y, classes), dtype=xp.float64)
    w = xp.ones_like(y) if m is None else xp.asarray(m, dtype=xp.float64)
    o = None if offset is None else xp.asarray(offset, dtype=xp.float64)
    out = {"n_obs": int(xp.sum(xp.astype(w != 0, xp.int64))), "weight": float(xp.sum(w)),
           "wy": float(xp.sum(w * y))}
    if parts in ("model", "loglik"):
        theta = np.asarray(theta, dtype=np.float64)
        coef = xp.asarray(theta[int(fit_intercept):], dtype=xp.float64)
        eta = X @ coef + (float(theta[0]) if fit_intercept else 0.0)
        eta = xp.asarray(eta, dtype=xp.float64) if o is None else xp.asarray(eta) + o
        mu = family.link.inverse(eta)
        if scale is not None:
            out["loglik"] = float(family.loglik(y, mu, w, scale=scale))
        if parts == "loglik":
            return out
        out["log_weight"] = log_weight_sum(None if m is None else w, xp)
        out["deviance"] = float(family.deviance(y, mu, w))
        out["pearson"] = float(xp.sum(w * (y - mu) ** 2 / family.variance(mu)))
    kind, value = null
    if kind == "constant":
        out["null_deviance"] = float(family.deviance(y, xp.full_like(y, value), w))
    elif kind == "none":
        eta0 = xp.zeros_like(y) if o is None else o
        out["null_deviance"] = float(family.deviance(y, family.link.inverse(eta0), w))
    else:
        eta0 = xp.full_like(y, value) if o is None else o + value
        mu0 = family.link.inverse(eta0)
        d = family.link.inverse_deriv(eta0)
        v = family.variance(mu0)
        out["null_deviance"] = float(family.deviance(y, mu0, w))
        out["null_score"] = float(xp.sum(w * (y - mu0) * d / v))
        out["null_information"] = float(xp.sum(w * d * d / v))
    return out


class NullIntercept:
    """The intercept-only model with the offset, by Newton steps riding on a fit's
    rounds (:meth:`~dask_glmdist.rounds.RoundEngine.ride`): one step per round, from
    intercept ``b0``, until the step is below tolerance or the model leaves the
    family's range. ``start``: the last intercept at which the model was evaluated
    and valid (None: none; the statistics then start from the estimate's intercept,
    as without a rider). :func:`fit_statistics` starts its own Newton steps there:
    the rider moves where they start, not where they end."""

    def __init__(self, family, classes=None, b0: float = 0.0):
        self.family, self.classes = family, classes
        self.b0 = float(b0)
        self.start: float | None = None
        self.done = False

    def block(self):
        return _null_rider_block, (None,), dict(
            family=self.family, fit_intercept=True, parts="null",
            null=("intercept", self.b0), scale=None, classes=self.classes)

    def update(self, s) -> None:
        info, score = s.get("null_information", np.nan), s.get("null_score", np.nan)
        if not (info > 0 and np.isfinite(score) and np.isfinite(s.get("null_deviance",
                                                                        np.nan))):
            self.done = True
            return
        self.start = self.b0
        step = score / info
        if abs(step) <= _NEWTON_TOL * (1.0 + abs(self.b0)):
            self.done = True
            return
        self.b0 += step


def _null_rider_block(X, y, m, theta, **settings) -> dict:
    """:func:`fit_statistics_block` for a rider: a model it cannot evaluate here (a mean
    outside the family's range) stops the rider instead of the fit."""
    try:
        with np.errstate(all="ignore"):
            return fit_statistics_block(X, y, m, theta, **settings)
    except Exception:  # noqa: BLE001 -- the statistics pass evaluates it again and says why
        return {"null_information": np.nan}


def ride_null_model(engine, family, *, fit_intercept: bool, classes=None) -> None:
    """Let the intercept-only model with the offset ride on ``engine``'s rounds (when
    the data have an offset and the model an intercept; else nothing to do)."""
    if family.ancillary_estimated:  # the null model's family is known only at the estimate
        return
    if fit_intercept and engine.data.offset is not None and engine.rider(NullIntercept) is None:
        engine.ride(NullIntercept(family, classes))


def _run(engine, family, theta, fit_intercept, parts, null, scale, classes, label):
    theta = None if theta is None else np.asarray(theta, dtype=np.float64)
    return engine.run(fit_statistics_block, theta, family=family, fit_intercept=fit_intercept,
                      parts=parts, null=null, scale=scale, classes=classes, label=label)


def _reference_mean(family, theta, fit_intercept, reference) -> float:
    """A constant mean near ``ybar`` (the caller's guess, else ``linkinv(intercept)``)."""
    c0 = reference
    if c0 is None:
        c0 = float(np.asarray(family.link.inverse(np.array([float(theta[0])])))[0])
    return c0 if np.isfinite(c0) and bool(np.all(family.valid_mu(np.array([c0])))) else None


def _null_spec(engine, family, theta, fit_intercept, reference, rider, riding=False):
    """``(null, c0)``: the null model the statistics pass evaluates (see
    :func:`fit_statistics_block`). With an offset, the intercept-only model's Newton
    steps go on from where the :class:`NullIntercept` ``rider`` got to (``riding``: the
    pass is in the same round as the rider, so from the intercept it evaluates there)."""
    if not fit_intercept:
        return ("none", None), None
    if engine.data.offset is not None:
        if riding and rider is not None and not rider.done:
            b0 = rider.b0
        elif rider is not None and rider.start is not None:
            b0 = rider.start
        else:
            b0 = theta[0]
        return ("intercept", float(b0)), None
    c0 = _reference_mean(family, theta, fit_intercept, reference)
    return (("constant", c0), c0) if c0 is not None else (("none", None), None)


class FinalStatistics:
    """The statistics pass riding on the last round of a fit
    (:meth:`~dask_glmdist.rounds.RoundEngine.ride`), for a solver whose last round is
    at the final estimate anyway (BiasReducedGLM's IWLS final statistics): the solver
    calls :meth:`attach` with that estimate just before that round, and
    :func:`fit_statistics` takes the sums from it instead of making a pass of its own
    (the same block function: the same values). It falls back to that pass when the
    riding evaluation fails or is not finite (an estimate the solver then refuses).
    """

    def __init__(self, family, *, fit_intercept: bool, classes=None):
        self.family, self.fit_intercept, self.classes = family, fit_intercept, classes
        self.engine = self.theta = self.reference = self.sums = None
        self.null, self.c0, self.scale = ("none", None), None, None
        self.done = True

    def attach(self, engine, theta, *, reference=None) -> None:
        """Ride on ``engine``'s next round, at ``theta``; ``reference``: a constant mean
        near ``ybar`` (e.g. from the solver's first pass), for the null deviance."""
        self.engine, self.theta = engine, np.asarray(theta, dtype=np.float64)
        self.reference, self.sums, self.done = reference, None, False
        engine.ride(self)

    def block(self):
        self.null, self.c0 = _null_spec(self.engine, self.family, self.theta,
                                        self.fit_intercept, self.reference,
                                        self.engine.rider(NullIntercept), riding=True)
        # the deviance at theta is not known yet: R's dispersion needs it
        self.scale = 1.0 if self.family.fixed_dispersion else None
        return _final_rider_block, (self.theta,), dict(
            family=self.family, fit_intercept=self.fit_intercept, parts="model",
            null=self.null, scale=self.scale, classes=self.classes)

    def update(self, s) -> None:
        self.done = True
        # the markers of empty blocks (a partition a filter emptied) are not statistics
        finite = all(np.isfinite(v) for k, v in s.items()
                     if k not in ("n_obs", "empty_blocks", "problems"))
        self.sums = s if "failed" not in s and "deviance" in s and finite else None

    def detach(self) -> None:
        if self.engine is not None and self in self.engine.riders:
            self.engine.riders.remove(self)


def _final_rider_block(X, y, m, theta, **settings) -> dict:
    """:func:`fit_statistics_block` riding on a solver's round: an estimate it cannot
    evaluate leaves the solver to say why (and the statistics to a pass of their own)."""
    try:
        with np.errstate(all="ignore"):
            return fit_statistics_block(X, y, m, theta, **settings)
    except Exception:  # noqa: BLE001 -- the statistics pass evaluates it again and says why
        return {"failed": 1}


def fit_statistics(engine, family, theta, *, fit_intercept: bool, deviance=None, n_obs=None,
                   reference=None, classes=None, label: str = "fit statistics",
                   final: FinalStatistics | None = None) -> FitStatistics:
    """Deviance, Pearson chi^2, log-likelihood and null deviance at ``theta``.

    One pass in general, none where ``final`` rode on the solver's last round at
    ``theta`` (:class:`FinalStatistics`). ``deviance``: the deviance at ``theta``
    when the method already has it (its log-likelihood's dispersion is then known
    before the pass; otherwise a family with estimated dispersion needs its closed
    form :meth:`~dask_glmdist.families.Family.loglik_from_deviance` or one more pass).
    ``reference``: a constant mean near ``ybar`` for the null deviance (default
    ``linkinv(theta[0])``). With an offset and an intercept, the intercept-only
    refit's Newton steps after the first take one tiny pass each. ``classes``: for
    labels coded in the blocks (the positive class is ``classes[1]``).
    """
    theta = np.asarray(theta, dtype=np.float64)
    rider = engine.rider(NullIntercept)
    if rider is not None:
        engine.riders.remove(rider)
    if final is not None:
        final.detach()
    n_pos = None if deviance is None else n_obs
    if final is not None and final.sums is not None:
        s, null, c0, known, n_pos = final.sums, final.null, final.c0, final.scale, None
    else:
        null, c0 = _null_spec(engine, family, theta, fit_intercept, reference, rider)
        known = 1.0 if family.fixed_dispersion else (None if n_pos is None else deviance / n_pos)
        s = _run(engine, family, theta, fit_intercept, "model", null, known, classes, label)
    n_obs, weight = int(s["n_obs"]), float(s["weight"])
    loglik = s.get("loglik")
    if known is None or (n_pos is not None and n_pos != n_obs):  # scale from this pass
        loglik = _loglik_at_deviance(engine, family, theta, s, fit_intercept, classes, label)
    null_deviance = _null_deviance(engine, family, s, null, c0, classes, label)
    return FitStatistics(deviance=float(s["deviance"]), pearson=float(s["pearson"]),
                         loglik=float(loglik), null_deviance=null_deviance,
                         n_obs=n_obs, weight=weight)


def _loglik_at_deviance(engine, family, theta, s, fit_intercept, classes, label) -> float:
    """The log-likelihood at R's dispersion ``deviance / n_obs`` of the statistics pass
    ``s``: the family's closed form where it has one, else one more pass."""
    n_obs = int(s["n_obs"])
    scale = float(s["deviance"]) / n_obs
    ll = family.loglik_from_deviance(float(s["deviance"]), n_obs, scale,
                                     float(s.get("log_weight", 0.0)))
    if ll is not None:
        return float(ll)
    return _run(engine, family, theta, fit_intercept, "loglik", ("none", None), scale,
                classes, label)["loglik"]


def _null_deviance(engine, family, s, null, c0, classes, label) -> float:
    """The null deviance from the statistics pass ``s`` (more passes where needed)."""
    kind, value = null
    if kind == "none":
        return float(s["null_deviance"])
    if kind == "constant":
        ybar = float(s["wy"]) / float(s["weight"])
        at_c0 = float(s["null_deviance"])
        gap = float(s["weight"]) * float(family.deviance(np.array([ybar]), np.array([c0])))
        result = at_c0 - gap
        if np.isfinite(result) and at_c0 <= _CANCELLATION * max(result, 0.0) + 1e-300:
            return max(result, 0.0)
        r = _run(engine, family, None, True, "null", ("constant", ybar), None, classes,
                 label + " (null model)")
        return float(r["null_deviance"])
    b0 = float(value)
    for _ in range(_NEWTON_MAX):
        if not s["null_information"] > 0:
            break
        step = s["null_score"] / s["null_information"]
        if abs(step) <= _NEWTON_TOL * (1.0 + abs(b0)):
            return float(s["null_deviance"])
        b0 += step
        s = _run(engine, family, None, True, "null", ("intercept", b0), None, classes,
                 label + " (null model)")
    return float(s["null_deviance"])


def float64_blocks(data) -> bool:
    """Whether the blocks hold float64 data: sums a method forms in the data's own dtype
    (:func:`~dask_glmdist.solvers.glm_kernel.least_squares_sums`) are then as exact as
    the statistics pass, which always works in float64."""
    arrays = (data.X, data.y, data.sample_weight, data.offset)
    return all(a is None or a.dtype == np.float64 for a in arrays)


def least_squares_statistics(family, theta, *, gram, gy, yy, n_pos: int, fit_intercept: bool,
                             log_weight: float = 0.0,
                             weight: float = float("nan")) -> FitStatistics | None:
    """The statistics of a least-squares family (``family.least_squares``: deviance =
    Pearson chi^2 = the weighted residual sum of squares) at ``theta`` from the sums
    that solved it, without a pass: ``gram = X~^T M X~``, ``gy = X~^T M y``,
    ``yy = y^T M y`` (laid out as ``theta``; with an offset, the sums of ``y - offset``,
    so that the null model is R's intercept-only refit with the offset),
    ``n_pos`` rows with ``m > 0`` and ``log_weight = sum log m`` over them.

    ``RSS = yy - 2 theta'gy + theta'gram theta`` and the null deviance
    ``yy - (1'My)^2 / 1'M1`` (``yy`` without an intercept) cancel: their rounding error
    is about ``1e-15`` of the size of their terms (``yy``, ``|theta|'|gram||theta|``;
    measured: 1e-15 to 4e-16 times yy/RSS, for yy/RSS from 1e2 to 1e10), so they are
    used only where that size is at most :data:`_LS_CANCELLATION` (1e4) times each
    (the error then stays below ~1e-11 of the value, as the statistics pass's); else
    (and for an exact fit, or a family without the log-likelihood's closed form) None:
    the caller makes the statistics pass.
    """
    theta = np.asarray(theta, dtype=np.float64)
    gram, gy = np.asarray(gram, dtype=np.float64), np.asarray(gy, dtype=np.float64)
    rss = float(yy) - 2.0 * float(theta @ gy) + float(theta @ (gram @ theta))
    if fit_intercept:
        null = float(yy) - float(gy[0]) ** 2 / float(gram[0, 0])
    elif float(np.asarray(family.link.inverse(np.zeros(1)))[0]) == 0.0:
        null = float(yy)   # the deviance at linkinv(0) = 0
    else:
        return None
    size = max(float(yy), float(np.abs(theta) @ (np.abs(gram) @ np.abs(theta))))
    if not (rss > 0 and null > 0 and size <= _LS_CANCELLATION * min(rss, null)):
        return None
    loglik = family.loglik_from_deviance(rss, int(n_pos), rss / int(n_pos), float(log_weight))
    if loglik is None:
        return None
    return FitStatistics(deviance=rss, pearson=rss, loglik=float(loglik), null_deviance=null,
                         n_obs=int(n_pos), weight=float(weight))


def information_criteria(loglik: float, n_params: int, n_obs: int, family) -> tuple:
    """``(aic, bic)`` as R's ``AIC``/``BIC`` of a ``glm``: the dispersion counts as a
    parameter where the family estimates it; BIC's ``log(n_obs)``, rows with non-zero
    weight."""
    k = n_params + int(not family.fixed_dispersion)
    return -2.0 * loglik + 2.0 * k, -2.0 * loglik + math.log(max(n_obs, 1)) * k
