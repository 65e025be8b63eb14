"""The Tweedie family: ``V(mu) = mu^p`` for a fixed variance power ``p``.

The Tweedie exponential dispersion models (Jorgensen 1987) have ``Var(y) = phi mu^p``:

* ``p = 0``: the normal distribution (``y`` real);
* ``p = 1``: the over-dispersed (quasi-) Poisson, ``y / phi`` Poisson (``y >= 0``);
* ``1 < p < 2``: the compound Poisson-gamma distributions, a point mass at ``y = 0`` and
  a continuous density on ``y > 0`` (insurance claims, rainfall);
* ``p = 2``: the gamma and ``p = 3`` the inverse Gaussian distribution; every ``p > 2``
  is a continuous distribution on ``y > 0``.

No Tweedie distribution exists for ``0 < p < 1`` (Jorgensen 1987); ``p < 0`` (the
extreme stable distributions, mean on the whole line but ``mu > 0``) is not supported.
The power is fixed (not estimated) and the dispersion ``phi`` is always estimated:
``Tweedie(power=1)`` is the quasi-Poisson model, ``Tweedie(power=2)`` the gamma model.

The unit deviance (``p`` not 0, 1 or 2; its limits there)::

    d(y, mu) = 2 [ y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p) ]

Log-likelihood: the density has no closed form for ``p`` other than 0, 2 and 3. For
``1 < p < 2`` it is Dunn & Smyth's (2005) series, evaluated exactly as a Wright Bessel
function (``scipy.special.log_wright_bessel``, as statsmodels' ``Tweedie.loglike_obs``):

    log f(y) = (y theta - kappa) / phi - log y + log W(-alpha', 0, x),  y > 0
    log f(0) = -kappa / phi,

with ``theta = mu^(1-p) / (1-p)``, ``kappa = mu^(2-p) / (2-p)``, ``alpha' = (2-p)/(1-p)``
and ``x = ((p-1) phi / y)^alpha' / ((2-p) phi)``. For ``p = 1`` (a density only on the
lattice ``phi N``) and ``p > 2`` other than 3 it is NaN, so are ``loglik_``, ``aic_`` and
``bic_`` (R's ``statmod::tweedie`` reports an AIC of NA for every power); no warning.
"""

from __future__ import annotations

import math

import numpy as np

from ._array import get_namespace, to_host
from .families import (
    POSITIVE,
    REAL,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Log,
    _floating,
    _full,
    _quiet,
    _xlogx_ratio,
)

__all__ = ["Tweedie"]

#: the powers whose density is another built-in family's (log-likelihood, dispersion model)
_TWINS = {0.0: Gaussian, 2.0: Gamma, 3.0: InverseGaussian}


class Tweedie(Family):
    """Tweedie family with fixed variance power ``p``: ``V(mu) = mu^p``; default link log.

    Parameters
    ----------
    power : float
        The variance power: 0 (normal), 1 (quasi-Poisson), ``1 < p < 2`` (compound
        Poisson-gamma: ``y >= 0`` with exact zeros), or ``p >= 2`` (``y > 0``; 2 is the
        gamma, 3 the inverse Gaussian distribution). Required: there is no default.
    link : str, Link or None
        ``"log"`` (default) or ``"identity"``.

    Notes
    -----
    The dispersion is always estimated (Pearson's by default). The log-likelihood is
    exact for ``p`` = 0, 2 and 3 (those families' own) and for ``1 < p < 2`` (the
    series density as a Wright Bessel function); for ``p = 1`` and the other ``p > 2``
    it is NaN (module docstring), and so are ``loglik_``, ``aic_`` and ``bic_``. The
    dispersion's own estimating equation (``BiasReducedGLM(dispersion="method")``)
    exists only for ``p`` = 0, 2 and 3.

    Examples
    --------
    >>> from dask_glmdist import get_family
    >>> get_family("tweedie", power=1.5)
    Tweedie(power=1.5, link=Log())
    >>> import numpy as np
    >>> get_family("tweedie", power=1.5).variance(np.array([1.0, 4.0]))
    array([1., 8.])
    """

    name = "tweedie"
    canonical_link = "log"
    allowed_links = ("log", "identity")
    fixed_dispersion = False
    domain = POSITIVE

    def __init__(self, power=None, link=None):
        self.power = _check_power(power)
        p = self.power
        # instance attributes that depend on the power (set before binding the link)
        self.domain = REAL if p == 0 else POSITIVE
        self.response_edges = (0.0,) if 1 <= p < 2 else ()
        twin = _TWINS.get(p)
        self._twin = None if twin is None else twin()
        self.closed_form_dispersion = p in (0.0, 3.0)
        super().__init__(link=link)

    @property
    def title(self) -> str:
        return f"tweedie (power {self.power:g})"

    @property
    def has_canonical_link(self) -> bool:
        # the canonical link is mu^(1-p) / (1-p) (log only at p = 1), not the default
        return self.power == 1.0 and isinstance(self.link, Log)

    # --- variance -------------------------------------------------------------------

    def variance(self, mu):
        xp = get_namespace(mu)
        mu = _floating(xp, mu)
        p = self.power
        if p == 0:
            return xp.ones_like(mu)
        if p == 1:
            return 1.0 * mu
        if p == 2:
            return mu * mu
        return mu**p

    def variance_deriv(self, mu):
        xp = get_namespace(mu)
        mu = _floating(xp, mu)
        p = self.power
        if p == 0:
            return xp.zeros_like(mu)
        if p == 1:
            return xp.ones_like(mu)
        if p == 2:
            return 2.0 * mu
        return p * mu ** (p - 1.0)

    # --- deviance and likelihood ------------------------------------------------------

    def unit_deviance(self, y, mu):
        xp = get_namespace(y, mu)
        p = self.power
        if p == 0:
            r = y - mu
            return r * r
        if p == 1:
            with _quiet():
                return 2.0 * (_xlogx_ratio(xp, y, mu) - y + mu)
        if p == 2:
            return 2.0 * ((y - mu) / mu - xp.log(y / mu))
        # y^(2-p): 0 at y = 0 for p < 2 (p > 2 requires y > 0); y mu^(1-p): 0 at y = 0
        # even where mu has underflowed to 0 (a mean run off to the edge)
        with _quiet():
            yp = y ** (2.0 - p) / ((1.0 - p) * (2.0 - p))
            cross = xp.where(y > 0, y * mu ** (1.0 - p), _full(xp, mu, 0.0)) / (1.0 - p)
            return 2.0 * (yp - cross + mu ** (2.0 - p) / (2.0 - p))

    def _loglik_obs(self, xp, y, mu, m, scale):
        if self._twin is not None:
            return self._twin._loglik_obs(xp, y, mu, m, scale)
        if not 1.0 < self.power < 2.0:
            return xp.full_like(mu, math.nan)
        host = _compound_poisson_loglik(to_host(y), to_host(mu),
                                        None if m is None else to_host(m), scale, self.power)
        return xp.asarray(host, dtype=mu.dtype)

    def loglik_from_deviance(self, deviance, n_obs, scale, log_weight=0.0):
        if self._twin is not None:
            return self._twin.loglik_from_deviance(deviance, n_obs, scale, log_weight)
        if not 1.0 < self.power < 2.0:
            return math.nan  # no density: no pass spent on it
        return None

    def dispersion_derivs(self, nu):
        if self._twin is not None:
            return self._twin.dispersion_derivs(nu)
        raise ValueError(
            f"the tweedie family with power={self.power:g} has no dispersion estimating "
            "equation (its density is not of the form exp(-d/(2 phi)) a(phi) c(y), so the "
            "maximum likelihood dispersion needs the series density); use "
            "dispersion='pearson'"
        )

    # --- domain checks and starting values ----------------------------------------

    def _y_problem(self, xp, y):
        p = self.power
        if 1 <= p < 2 and bool(xp.any(y < 0)):
            return f"tweedie family (power={p:g}): y must be non-negative"
        if p >= 2 and bool(xp.any(y <= 0)):
            return (
                f"tweedie family (power={p:g}): y must be strictly positive (y = 0 has "
                "zero density for power >= 2; use 1 < power < 2 for data with zeros)"
            )
        return None

    def starting_mu(self, y, weights=None):
        # R's statmod::tweedie: mustart = y + 0.1 (y == 0)
        xp = get_namespace(y, weights)
        y = _floating(xp, y)
        if self.power == 0 and not isinstance(self.link, Log):
            return 1.0 * y
        return xp.where(y > 0, y, _full(xp, y, 0.1))

    # --- object protocol ---------------------------------------------------------------

    def _params(self) -> tuple:
        return (type(self), self.link.name, self.power)

    def __repr__(self) -> str:
        return f"Tweedie(power={self.power!r}, link={self.link!r})"


def _check_power(power) -> float:
    hint = "get_family('tweedie', power=p) or Tweedie(power=p)"
    if power is None:
        raise ValueError(
            "the tweedie family needs its variance power: " + hint + ", with p = 0, p = 1, "
            "1 < p < 2 (compound Poisson-gamma: zeros allowed) or p >= 2 (y > 0)"
        )
    if isinstance(power, bool) or not isinstance(power, int | float | np.integer | np.floating):
        raise ValueError(f"tweedie family: power must be a number, got {power!r} ({hint})")
    p = float(power)
    if not math.isfinite(p):
        raise ValueError(f"tweedie family: power must be finite, got {p}")
    if 0 < p < 1:
        raise ValueError(
            f"tweedie family: no Tweedie distribution has power {p:g} in (0, 1); use "
            "p = 0, p = 1, 1 < p < 2 or p >= 2"
        )
    if p < 0:
        raise ValueError(
            f"tweedie family: power {p:g} < 0 (extreme stable distributions) is not "
            "supported; use p = 0, p = 1, 1 < p < 2 or p >= 2"
        )
    return p


def _compound_poisson_loglik(y, mu, m, scale, p):
    """Per-row log density of the compound Poisson-gamma law (``1 < p < 2``) on the host
    (module docstring; Dunn & Smyth 2005, eq. 4 as a Wright Bessel function)."""
    y, mu = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(mu, np.float64))
    phi = np.broadcast_to(scale if m is None else scale / np.asarray(m, np.float64), y.shape)
    a = (2.0 - p) / (p - 1.0)
    with np.errstate(all="ignore"):
        ll = (y * mu ** (1.0 - p) / (1.0 - p) - mu ** (2.0 - p) / (2.0 - p)) / phi
        pos = y > 0
        yp, phip = y[pos], phi[pos]
        log_x = -a * np.log((p - 1.0) * phip / yp) - np.log((2.0 - p) * phip)
        ll[pos] += _log_wright_series(log_x, a) - np.log(yp)
    return ll


#: the series' terms kept per row: k* +- (_SERIES_SDS sd + _SERIES_PAD) around the largest
_SERIES_SDS, _SERIES_PAD = 15.0, 15
_SERIES_CELLS = 1 << 20  # rows x terms evaluated at once


def _log_wright_series(log_x, a):
    """``log W(-a', 0, x) = log sum_{k >= 1} x^k / (k! Gamma(a k))`` for ``a > 0`` (Dunn
    & Smyth 2005, Section 4): the terms are summed (log-sum-exp) over a window around the
    largest, ``k* = (x / a^a)^(1 / (1 + a))``, in which ``log`` of the terms is concave
    with curvature ``-(1 + a) / k``; ``_SERIES_SDS`` of its widths on either side drop
    the terms left out below ``exp(-100)`` of the largest. (SciPy's
    ``log_wright_bessel`` loses up to ~5e-6 at ``a = 4``, ``p = 1.2``.)"""
    from scipy.special import gammaln, logsumexp

    kstar = np.maximum(np.exp((log_x - a * math.log(a)) / (1.0 + a)), 1.0)
    half = np.ceil(_SERIES_SDS * np.sqrt(kstar / (1.0 + a))) + _SERIES_PAD
    lo = np.maximum(np.floor(kstar) - half, 1.0)
    width = (np.floor(kstar) + half - lo + 1.0).astype(np.int64)
    out = np.empty_like(log_x)
    bucket = np.maximum(np.ceil(np.log2(np.maximum(width, 1))), 0).astype(np.int64)
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        n_terms = 1 << int(b)
        step = max(_SERIES_CELLS // n_terms, 1)
        for start in range(0, rows.size, step):
            r = rows[start:start + step]
            k = lo[r, None] + np.arange(n_terms, dtype=np.float64)[None, :]
            terms = k * log_x[r, None] - gammaln(k + 1.0) - gammaln(a * k)
            out[r] = logsumexp(terms, axis=1)
    return out
