"""GLM families and link functions with analytic derivatives, for any array namespace.

Notation (used throughout the package):

* ``eta = X beta`` -- the linear predictor;
* ``mu = g^{-1}(eta)`` -- the mean, ``g`` the link function;
* ``d = dmu/deta`` and ``d2 = d^2 mu / deta^2`` -- derivatives of the inverse link;
* ``V(mu)`` -- the variance function, ``Var(y) = phi V(mu) / m``;
* ``m`` -- prior (variance) weights, 1 when absent;
* ``w = m d^2 / V(mu)`` -- working weights, so the expected information is
  ``X^T diag(w) X / phi``;
* ``r = m (y - mu) d / V(mu)`` -- score residuals, so the score is ``X^T r / phi``.

Every method takes arrays of one namespace (NumPy, CuPy, ``array_api_strict``...) and
computes in that namespace with array-API-standard functions only; the two special
functions needed (normal CDF / quantile, log-gamma) go through
:func:`dask_glmdist._array.special`.

Inverse links onto ``(0, 1)`` are clipped to ``[eps, 1 - eps]`` (``eps`` the machine
epsilon of the dtype) and the log link's inverse is floored at ``eps`` (as R's
``make.link("log")`` does), so no method returns NaN for a valid ``eta``. The
derivatives are the exact, unclipped ones; for moderate ``eta`` nothing is clipped.

Log-likelihoods follow statsmodels' ``family.loglike(y, mu, var_weights=m, scale=phi)``
term by term, except that rows with ``m == 0`` contribute exactly zero (statsmodels
returns ``-inf``/NaN for them in some families).
"""

from __future__ import annotations

import math

import numpy as np

from ._array import float_dtype, get_namespace, special, to_host

__all__ = [
    "Domain",
    "REAL",
    "POSITIVE",
    "UNIT",
    "Link",
    "Identity",
    "Log",
    "Logit",
    "Probit",
    "CLogLog",
    "Cauchit",
    "Inverse",
    "InverseSquared",
    "Sqrt",
    "Family",
    "Gaussian",
    "Binomial",
    "Poisson",
    "Gamma",
    "InverseGaussian",
    "NegativeBinomial",
    "Tweedie",
    "get_link",
    "get_family",
    "LINK_NAMES",
    "FAMILY_NAMES",
]

_LOG_2PI = math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------------
# small namespace helpers
# ----------------------------------------------------------------------------------


def _floating(xp, x, dtype=None):
    """``x`` as a floating array (``dtype`` if given, else its own floating dtype)."""
    if dtype is None:
        dtype = float_dtype(xp, x)
    return x if x.dtype == dtype else xp.astype(x, dtype)


def _full(xp, like, value):
    """A 0-d array holding ``value`` in ``like``'s dtype (portable ``where`` operand)."""
    if type(like) is np.ndarray:
        return np.asarray(value, dtype=like.dtype)
    return xp.asarray(value, dtype=like.dtype)


def _eps(xp, x) -> float:
    if type(x) is np.ndarray:
        return float(np.finfo(x.dtype).eps)
    return float(xp.finfo(x.dtype).eps)


def _clip(xp, x, lo=None, hi=None):
    """``xp.clip(x, lo, hi)``. A floating NumPy array goes straight to ``np.clip`` with
    the bounds in its dtype: the same values as the array-API wrapper's, without its
    per-call broadcasting of the bounds."""
    if type(x) is np.ndarray and x.dtype.kind == "f":
        cast = x.dtype.type
        return np.clip(x, None if lo is None else cast(lo), None if hi is None else cast(hi))
    return xp.clip(x, min=lo, max=hi)


def _xlogx_ratio(xp, y, mu):
    """``y log(y / mu)`` with the limit 0 at ``y == 0`` (no log(0) evaluated)."""
    pos = y > 0
    ys = xp.where(pos, y, _full(xp, y, 1.0))
    return xp.where(pos, y * xp.log(ys / mu), _full(xp, y, 0.0))


def _xlogx(xp, y):
    """``y log y`` with the limit 0 at ``y == 0``: :func:`_xlogx_ratio` at ``mu = 1``
    (the same numbers; the division by 1 is exact and left out)."""
    pos = y > 0
    ys = xp.where(pos, y, _full(xp, y, 1.0))
    return xp.where(pos, y * xp.log(ys), _full(xp, y, 0.0))


def _quiet():
    """Silence NumPy's floating-point warnings (a no-op for other namespaces): invalid
    entries are reported through the ``ok`` mask instead."""
    return np.errstate(all="ignore")


def _gammaln(x):
    """log-gamma of a Python scalar or of an array in its own namespace."""
    if isinstance(x, int | float):
        return math.lgamma(x)
    return special("gammaln", x)


# ----------------------------------------------------------------------------------
# links
# ----------------------------------------------------------------------------------

class Domain:
    """A set of valid means: ``(lower, upper)`` with open, possibly infinite ends.

    Parameters
    ----------
    name : str
        For messages (``"real"``, ``"positive"``, ``"unit"``).
    lower, upper : float
        The open bounds (``-inf`` / ``inf`` when unbounded).
    safe_link : str
        A link whose mean never leaves the domain (suggested in messages).
    """

    def __init__(self, name: str, lower: float, upper: float, safe_link: str):
        self.name, self.lower, self.upper, self.safe_link = name, lower, upper, safe_link

    @property
    def bounded(self) -> bool:
        """Whether the domain has a finite edge."""
        return math.isfinite(self.lower) or math.isfinite(self.upper)

    def contains(self, mu):
        """Boolean array: ``mu`` is finite and inside the domain."""
        xp = get_namespace(mu)
        good = xp.isfinite(mu)
        if math.isfinite(self.lower):
            good = good & (mu > self.lower)
        if math.isfinite(self.upper):
            good = good & (mu < self.upper)
        return good

    def __repr__(self) -> str:
        return self.name.upper()

    def __reduce__(self):
        return self.name.upper()  # the module's singleton: pickles and copies keep identity


#: the mean domains a family binds onto its link (``Link.valid_eta``)
REAL = Domain("real", -math.inf, math.inf, "identity")
POSITIVE = Domain("positive", 0.0, math.inf, "log")
UNIT = Domain("unit", 0.0, 1.0, "logit")


class Link:
    """Base class of link functions ``eta = g(mu)``.

    A link owned by a :class:`Family` knows the family's mean domain (``domain``, set
    at construction: ``Family`` builds its link with :meth:`bound_to`), so
    :meth:`valid_eta` answers whether ``eta`` maps to a valid mean of that family; a
    free-standing link (``domain=None``) only checks that its inverse is defined at
    ``eta``.

    Attributes
    ----------
    asymptotic_to : tuple of Domain
        The domains whose edges the inverse link approaches only as ``eta -> +-inf``
        (never at a finite ``eta``): for a family with such a domain and a response
        that can sit on an edge, the maximum likelihood estimate can be infinite
        (separation).
    """

    name = "link"
    asymptotic_to: tuple = ()
    #: the inverse link is finite wherever ``eta`` is (nothing to check on ``REAL``)
    _finite_inverse = False
    #: the inverse link maps every finite ``eta`` into ``[eps, 1 - eps]`` (nothing to
    #: check on a domain that holds the unit interval)
    _inverse_in_unit = False

    def __init__(self, domain: Domain | None = None):
        self.domain = domain

    def bound_to(self, domain: Domain) -> Link:
        """The same link owning the mean domain ``domain`` (a new instance)."""
        return type(self)(domain=domain)

    def link(self, mu):
        """The link ``eta = g(mu)``."""
        raise NotImplementedError

    def inverse(self, eta):
        """The inverse link ``mu = g^{-1}(eta)``."""
        raise NotImplementedError

    def inverse_deriv(self, eta):
        """First derivative ``d = dmu/deta`` of the inverse link."""
        raise NotImplementedError

    def inverse_deriv2(self, eta):
        """Second derivative ``d^2 mu / deta^2`` of the inverse link."""
        raise NotImplementedError

    def inverse_and_deriv(self, eta):
        """``(mu, d)`` together, sharing work where the link allows it."""
        return self.inverse(eta), self.inverse_deriv(eta)

    def _eta_ok(self, xp, eta):
        """Where the inverse link itself is defined (before the mean domain)."""
        return xp.isfinite(eta)

    def valid_eta(self, eta):
        """Boolean array: ``eta`` is finite, in the inverse link's domain and maps
        into the owning family's mean domain (e.g. ``eta > 0`` for the inverse link
        of the gamma family, ``eta < 0`` for the log link of the binomial family).

        Parameters
        ----------
        eta : array
            Linear predictor.

        Returns
        -------
        array of bool
        """
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        ok = self._eta_ok(xp, eta)
        if self.domain is None or (not self.domain.bounded and self._finite_inverse):
            return ok
        if self._inverse_in_unit and self.domain.lower <= 0.0 and self.domain.upper >= 1.0:
            return ok
        safe = xp.where(ok, eta, _full(xp, eta, 1.0))
        return ok & self.valid_mean(self.inverse(safe))

    def valid_pair(self, eta, mu):
        """``valid_eta`` when ``mu = inverse(eta)`` is already at hand (no second
        evaluation of the inverse link)."""
        xp = get_namespace(eta, mu)
        return self._eta_ok(xp, eta) & self.valid_mean(mu)

    def valid_mean(self, mu):
        """Boolean array: ``mu`` is finite and in the owning family's mean domain."""
        if self.domain is None:
            return get_namespace(mu).isfinite(mu)
        return self.domain.contains(mu)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)


class Identity(Link):
    """Identity link ``eta = mu``."""

    name = "identity"
    _finite_inverse = True

    def link(self, mu):
        xp = get_namespace(mu)
        return _floating(xp, mu)

    def inverse(self, eta):
        xp = get_namespace(eta)
        return _floating(xp, eta)

    def inverse_deriv(self, eta):
        xp = get_namespace(eta)
        return xp.ones_like(_floating(xp, eta))

    def inverse_deriv2(self, eta):
        xp = get_namespace(eta)
        return xp.zeros_like(_floating(xp, eta))


class Log(Link):
    """Log link ``eta = log(mu)``; the inverse is floored at machine epsilon."""

    name = "log"
    asymptotic_to = (POSITIVE,)

    def link(self, mu):
        xp = get_namespace(mu)
        mu = _floating(xp, mu)
        return xp.log(_clip(xp, mu, _eps(xp, mu)))

    def inverse(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        return _clip(xp, xp.exp(eta), _eps(xp, eta))

    def inverse_deriv(self, eta):
        xp = get_namespace(eta)
        return xp.exp(_floating(xp, eta))

    inverse_deriv2 = inverse_deriv

    def inverse_and_deriv(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        d = xp.exp(eta)
        return _clip(xp, d, _eps(xp, eta)), d


class _UnitLink(Link):
    """Links onto (0, 1): ``link`` clips ``mu`` and ``inverse`` clips its result to
    ``[eps, 1 - eps]``."""

    asymptotic_to = (UNIT,)
    _inverse_in_unit = True

    def _clip(self, xp, p):
        eps = _eps(xp, p)
        return _clip(xp, p, eps, 1.0 - eps)


class Logit(_UnitLink):
    """Logit link ``eta = log(mu / (1 - mu))``."""

    name = "logit"

    def link(self, mu):
        xp = get_namespace(mu)
        p = self._clip(xp, _floating(xp, mu))
        return xp.log(p) - xp.log1p(-p)

    def _parts(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        e = xp.exp(-xp.abs(eta))
        return xp, eta, e, 1.0 + e

    def inverse(self, eta):
        xp, eta, e, ope = self._parts(eta)
        mu = xp.where(eta >= 0, 1.0 / ope, e / ope)
        return self._clip(xp, mu)

    def inverse_deriv(self, eta):
        xp, eta, e, ope = self._parts(eta)
        return e / (ope * ope)

    def inverse_deriv2(self, eta):
        xp, eta, e, ope = self._parts(eta)
        return -(e / (ope * ope)) * xp.tanh(0.5 * eta)

    def inverse_and_deriv(self, eta):
        xp, eta, e, ope = self._parts(eta)
        mu = self._clip(xp, xp.where(eta >= 0, 1.0 / ope, e / ope))
        return mu, e / (ope * ope)


class Probit(_UnitLink):
    """Probit link ``eta = Phi^{-1}(mu)``."""

    name = "probit"

    def link(self, mu):
        xp = get_namespace(mu)
        return special("ndtri", self._clip(xp, _floating(xp, mu)))

    def inverse(self, eta):
        xp = get_namespace(eta)
        return self._clip(xp, special("ndtr", _floating(xp, eta)))

    def inverse_deriv(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        return _INV_SQRT_2PI * xp.exp(-0.5 * (eta * eta))

    def inverse_deriv2(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        return -eta * self.inverse_deriv(eta)


class CLogLog(_UnitLink):
    """Complementary log-log link ``eta = log(-log(1 - mu))``."""

    name = "cloglog"

    def link(self, mu):
        xp = get_namespace(mu)
        p = self._clip(xp, _floating(xp, mu))
        return xp.log(-xp.log1p(-p))

    def _parts(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        # exp(eta) stays finite, so d and d2 underflow to 0 instead of 0 * inf
        eta = _clip(xp, eta, hi=math.log(float(xp.finfo(eta.dtype).max)) - 1.0)
        return xp, eta, xp.exp(eta)

    def inverse(self, eta):
        xp, eta, ee = self._parts(eta)
        return self._clip(xp, -xp.expm1(-ee))

    def inverse_deriv(self, eta):
        xp, eta, ee = self._parts(eta)
        return xp.exp(eta - ee)

    def inverse_deriv2(self, eta):
        xp, eta, ee = self._parts(eta)
        return xp.exp(eta - ee) * (1.0 - ee)

    def inverse_and_deriv(self, eta):
        xp, eta, ee = self._parts(eta)
        return self._clip(xp, -xp.expm1(-ee)), xp.exp(eta - ee)


class Cauchit(_UnitLink):
    """Cauchit link ``eta = tan(pi (mu - 1/2))``."""

    name = "cauchit"

    def link(self, mu):
        xp = get_namespace(mu)
        p = self._clip(xp, _floating(xp, mu))
        return xp.tan(xp.pi * (p - 0.5))

    def inverse(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        neg = eta < 0
        # lower tail as atan(1/|eta|)/pi: no cancellation in 1/2 + atan(eta)/pi
        safe = xp.where(neg, eta, _full(xp, eta, -1.0))
        mu = xp.where(neg, xp.atan(-1.0 / safe) / xp.pi, 0.5 + xp.atan(eta) / xp.pi)
        return self._clip(xp, mu)

    def inverse_deriv(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        return 1.0 / (xp.pi * (1.0 + eta * eta))

    def inverse_deriv2(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        q = 1.0 + eta * eta
        return (-2.0 / xp.pi) * eta / (q * q)


class Inverse(Link):
    """Inverse link ``eta = 1 / mu``."""

    name = "inverse"

    def link(self, mu):
        xp = get_namespace(mu)
        return 1.0 / _floating(xp, mu)

    def inverse(self, eta):
        xp = get_namespace(eta)
        return 1.0 / _floating(xp, eta)

    def inverse_deriv(self, eta):
        mu = self.inverse(eta)
        return -(mu * mu)

    def inverse_deriv2(self, eta):
        mu = self.inverse(eta)
        return 2.0 * mu * mu * mu

    def inverse_and_deriv(self, eta):
        mu = self.inverse(eta)
        return mu, -(mu * mu)

    def _eta_ok(self, xp, eta):
        return xp.isfinite(eta) & (eta != 0)


class InverseSquared(Link):
    """Inverse-squared link ``eta = 1 / mu^2`` (defined for ``eta > 0``)."""

    name = "inverse_squared"

    def link(self, mu):
        xp = get_namespace(mu)
        mu = _floating(xp, mu)
        return 1.0 / (mu * mu)

    def inverse(self, eta):
        xp = get_namespace(eta)
        return 1.0 / xp.sqrt(_floating(xp, eta))

    def inverse_deriv(self, eta):
        mu = self.inverse(eta)
        return -0.5 * (mu * mu * mu)

    def inverse_deriv2(self, eta):
        mu = self.inverse(eta)
        mu2 = mu * mu
        return 0.75 * (mu2 * mu2 * mu)

    def inverse_and_deriv(self, eta):
        mu = self.inverse(eta)
        return mu, -0.5 * (mu * mu * mu)

    def _eta_ok(self, xp, eta):
        return xp.isfinite(eta) & (eta > 0)


class Sqrt(Link):
    """Square-root link ``eta = sqrt(mu)`` (defined for ``eta > 0``)."""

    name = "sqrt"

    def link(self, mu):
        xp = get_namespace(mu)
        return xp.sqrt(_floating(xp, mu))

    def inverse(self, eta):
        xp = get_namespace(eta)
        eta = _floating(xp, eta)
        return eta * eta

    def inverse_deriv(self, eta):
        xp = get_namespace(eta)
        return 2.0 * _floating(xp, eta)

    def inverse_deriv2(self, eta):
        xp = get_namespace(eta)
        return xp.full_like(_floating(xp, eta), 2.0)

    def _eta_ok(self, xp, eta):
        return xp.isfinite(eta) & (eta > 0)


_LINKS = {
    cls.name: cls
    for cls in (Identity, Log, Logit, Probit, CLogLog, Cauchit, Inverse, InverseSquared, Sqrt)
}
LINK_NAMES = tuple(_LINKS)


def get_link(name) -> Link:
    """Return a :class:`Link` instance.

    Parameters
    ----------
    name : str, Link or Link subclass
        One of :data:`LINK_NAMES` (``"identity"``, ``"log"``, ``"logit"``,
        ``"probit"``, ``"cloglog"``, ``"cauchit"``, ``"inverse"``,
        ``"inverse_squared"``, ``"sqrt"``), or a link instance (returned as is).

    Returns
    -------
    Link
    """
    if isinstance(name, Link):
        return name
    if isinstance(name, type) and issubclass(name, Link) and name in _LINKS.values():
        return name()
    if isinstance(name, str) and name.lower() in _LINKS:
        return _LINKS[name.lower()]()
    valid = ", ".join(repr(k) for k in LINK_NAMES)
    raise ValueError(f"unknown link {name!r}; valid links are {valid}")


# ----------------------------------------------------------------------------------
# families
# ----------------------------------------------------------------------------------


class Family:
    """Base class of GLM families (exponential dispersion models).

    Parameters
    ----------
    link : str, Link or None
        The link function; ``None`` selects the family's default link. Must be one
        of the family's ``allowed_links``.

    Attributes
    ----------
    name : str
        Family name, e.g. ``"binomial"``.
    link : Link
        The link, bound to the family's mean domain.
    canonical_link : str
        Name of the default (canonical) link.
    allowed_links : tuple of str
        Names of the links the family accepts.
    fixed_dispersion : bool
        Whether the dispersion ``phi`` is fixed at 1 (``fixed_scale`` is an alias).
    domain : Domain
        The mean domain (:data:`REAL`, :data:`POSITIVE` or :data:`UNIT`).
    response_edges : tuple of float
        The edges of ``domain`` that the response itself can take (0 and 1 for the
        binomial family, 0 for counts): a row whose response is there is fitted
        ever better as its mean approaches the edge.
    closed_form_dispersion : bool
        The dispersion model has ``a(zeta) = -log(-zeta) + const`` (gaussian, inverse
        gaussian; :meth:`dispersion_derivs`): its sums do not depend on the prior
        weights and the dispersion equations have closed forms.

    Notes
    -----
    A user family subclasses this class and defines :meth:`variance`,
    :meth:`variance_deriv`, :meth:`unit_deviance` and, when ``y`` itself can be outside
    the mean domain, :meth:`starting_mu`; the attributes above describe it to every
    solver (no solver looks at ``name``). A family without :meth:`_loglik_obs` (a
    quasi-likelihood) has a NaN log-likelihood.
    """

    name = "family"
    canonical_link = "identity"
    allowed_links: tuple[str, ...] = ("identity",)
    fixed_dispersion = False
    domain = REAL
    response_edges: tuple = ()
    closed_form_dispersion = False

    @property
    def fixed_scale(self) -> bool:
        """Alias of ``fixed_dispersion``."""
        return self.fixed_dispersion

    @property
    def separable(self) -> bool:
        """The maximum likelihood estimate can be infinite: the response can sit on an
        edge of the mean domain that the link reaches only as ``eta -> +-inf``
        (binomial with logit, probit, cloglog or cauchit; Poisson and negative binomial
        with log)."""
        return bool(self.response_edges) and self.domain in self.link.asymptotic_to

    @property
    def edge_at_finite_eta(self) -> bool:
        """The mean reaches an edge where the response can sit at a finite linear
        predictor (Poisson identity or sqrt, binomial log): an estimate can lie on the
        edge rather than run off to infinity."""
        return bool(self.response_edges) and not self.separable

    @property
    def has_canonical_link(self) -> bool:
        """The link is the canonical one (``dmu/deta = V(mu)``, so scoring is Newton's
        method); ``canonical_link`` names it (and is the default link)."""
        return self.link.name == self.canonical_link

    @property
    def least_squares(self) -> bool:
        """The deviance is the weighted residual sum of squares, quadratic in the
        coefficients (gaussian, identity link): the sums ``X~^T M X~``, ``X~^T M y`` and
        ``y^T M y`` solve the model."""
        return False

    def at_edge(self, y, mu, tol):
        """Boolean array: rows whose fitted mean has reached (within ``tol``) the value
        of y on an edge of the domain (:attr:`response_edges`)."""
        xp = get_namespace(y, mu)
        hit = xp.zeros(mu.shape, dtype=xp.bool)
        lo, hi = self.domain.lower, self.domain.upper
        if lo in self.response_edges:
            hit = hit | ((mu <= lo + tol) & (y == lo))
        if hi in self.response_edges:
            hit = hit | ((mu >= hi - tol) & (y == hi))
        return hit

    def edge_rows(self, y):
        """``(low, up)`` boolean arrays: rows whose response is on the domain's lower
        (upper) edge (all False for an edge the response cannot take)."""
        xp = get_namespace(y)
        none = xp.zeros(y.shape, dtype=xp.bool)
        lo, hi = self.domain.lower, self.domain.upper
        low = (y <= lo) if lo in self.response_edges else none
        up = (y >= hi) if hi in self.response_edges else none
        return low, up

    def __init__(self, link=None):
        link = get_link(self.canonical_link if link is None else link)
        if link.name not in self.allowed_links:
            valid = ", ".join(repr(k) for k in self.allowed_links)
            raise ValueError(
                f"link {link.name!r} is not allowed for the {self.name} family; "
                f"allowed links are {valid}"
            )
        self.link = link.bound_to(self.domain)

    # --- variance -------------------------------------------------------------------

    def variance(self, mu):
        """Variance function ``V(mu)``."""
        raise NotImplementedError

    def variance_deriv(self, mu):
        """Derivative ``dV/dmu`` of the variance function."""
        raise NotImplementedError

    # --- deviance and likelihood ------------------------------------------------------

    def unit_deviance(self, y, mu):
        """Per-row unit deviance ``2 (l(y; y) - l(y; mu))`` with ``phi = m = 1``.

        Parameters
        ----------
        y, mu : array
            Responses and means, shape ``(n,)``.

        Returns
        -------
        array, shape ``(n,)``
        """
        raise NotImplementedError

    def deviance(self, y, mu, weights=None):
        """Deviance ``sum_i m_i * unit_deviance(y_i, mu_i)``.

        Parameters
        ----------
        y, mu : array
            Responses and means, shape ``(n,)``.
        weights : array or None
            Prior weights ``m`` (statsmodels ``var_weights``); rows with ``m == 0``
            contribute 0.

        Returns
        -------
        0-d array of ``mu``'s namespace
        """
        xp = get_namespace(y, mu, weights)
        mu = _floating(xp, mu)
        y = _floating(xp, y, mu.dtype)
        ud = self.unit_deviance(y, mu)
        if weights is not None:
            m = _floating(xp, weights, mu.dtype)
            ud = xp.where(m > 0, m * ud, _full(xp, ud, 0.0))
        return xp.sum(ud)

    def _loglik_obs(self, xp, y, mu, m, scale):
        """Per-row log-likelihood; ``m`` is an array with all entries > 0 or None.
        NaN unless a family defines it (a quasi-likelihood has none)."""
        return xp.full_like(mu, math.nan)

    def loglik(self, y, mu, weights=None, scale=1.0):
        """Log-likelihood, equal to statsmodels'
        ``family.loglike(y, mu, var_weights=weights, scale=scale)``.

        Parameters
        ----------
        y, mu : array
            Responses and means, shape ``(n,)``.
        weights : array or None
            Prior weights ``m``; rows with ``m == 0`` contribute 0.
        scale : float
            Dispersion ``phi`` (ignored by the binomial family, as in statsmodels).

        Returns
        -------
        0-d array of ``mu``'s namespace
        """
        xp = get_namespace(y, mu, weights)
        mu = _floating(xp, mu)
        y = _floating(xp, y, mu.dtype)
        scale = float(scale)
        if weights is None:
            return xp.sum(self._loglik_obs(xp, y, mu, None, scale))
        m = _floating(xp, weights, mu.dtype)
        pos = m > 0
        ms = xp.where(pos, m, _full(xp, m, 1.0))
        ll = self._loglik_obs(xp, y, mu, ms, scale)
        return xp.sum(xp.where(pos, ll, _full(xp, ll, 0.0)))

    def loglik_from_deviance(self, deviance, n_obs, scale, log_weight=0.0):
        """The log-likelihood at dispersion ``scale`` as a closed form of the
        ``deviance``, the number ``n_obs`` of rows with positive weight and
        ``log_weight = sum log m`` over them (no pass over the rows), or None where the
        family has none (its :meth:`loglik` needs the rows)."""
        return None

    # --- domain checks and starting values ----------------------------------------

    def valid_mu(self, mu):
        """Boolean array: ``mu`` is in the family's mean domain."""
        xp = get_namespace(mu)
        return self.domain.contains(_floating(xp, mu))

    def valid_eta(self, eta):
        """Boolean array: ``eta`` maps to a valid mean (``self.link.valid_eta``)."""
        return self.link.valid_eta(eta)

    def _y_problem(self, xp, y):
        return None

    def check_y(self, y):
        """Check the response.

        Parameters
        ----------
        y : array
            Responses.

        Returns
        -------
        str or None
            ``None`` when ``y`` is valid for the family, else a short message.
        """
        xp = get_namespace(y)
        y = _floating(xp, y)
        if bool(xp.any(~xp.isfinite(y))):
            return f"{self.name} family: y must be finite (found NaN or infinity)"
        return self._y_problem(xp, y)

    def starting_mu(self, y, weights=None):
        """Row-wise starting means, always inside the mean domain (R's ``mustart``).

        They use no block statistics, so they do not depend on the chunking.

        Parameters
        ----------
        y : array
            Responses (valid for the family).
        weights : array or None
            Prior weights (used by the binomial family only).

        Returns
        -------
        array
        """
        xp = get_namespace(y, weights)
        return 1.0 * _floating(xp, y)

    # --- the hot path ---------------------------------------------------------------

    def eta_terms(self, y, eta):
        """Everything a line-search evaluation needs at linear predictors ``eta``.

        Parameters
        ----------
        y : array, shape ``(n, 1)`` (or ``(n,)``)
            Responses (broadcast against the columns of ``eta``).
        eta : array, shape ``(n, L)`` (or ``(n,)``)
            Linear predictors, e.g. one column per trial step of a line search.

        Returns
        -------
        ok, mu, dmu, t, v, ud : arrays shaped like ``eta``
            ``ok``: eta is valid (``valid_eta``); the mean ``mu``, ``dmu = dmu/deta``,
            ``t = dmu / V(mu)`` (score residuals are ``m t (y - mu)``, working weights
            ``m t dmu``), the variance ``v`` and the unit deviance ``ud``. Where ``ok``
            is False the other values are meaningless (possibly NaN). The canonical
            binomial and Poisson models compute them with fewer transcendental
            functions and passes.
        """
        xp = get_namespace(y, eta)
        with _quiet():
            mu, dmu = self.link.inverse_and_deriv(eta)
            ok = self.link.valid_pair(eta, mu)
            v = self.variance(mu)
            return ok, mu, dmu, dmu / v, v, self.unit_deviance(xp.asarray(y), mu)

    # --- the dispersion model ----------------------------------------------------------

    def dispersion_derivs(self, nu):
        """First three derivatives of the dispersion function ``a`` at ``zeta = -nu``.

        Written as an exponential dispersion model (Kosmidis, Kenne Pagui & Sartori
        2020, Section 2), a row's log-likelihood is
        ``-q_i / (2 phi) - a(zeta_i) / 2 + const(y_i)`` with ``zeta_i = -m_i / phi``,
        ``nu_i = m_i / phi`` and ``q_i`` the row's (weighted) unit deviance. The
        dispersion score is ``sum_i (q_i - m_i a1_i) / (2 phi^2)`` and its expected
        information ``sum_i m_i^2 a2_i / (2 phi^4)``; ``a3`` enters the bias-reducing
        and Jeffreys adjustments for ``phi``.

        Parameters
        ----------
        nu : float or ndarray
            ``m / phi`` (host NumPy).

        Returns
        -------
        a1, a2, a3 : float or ndarray
        """
        if self.fixed_dispersion:
            raise ValueError(
                f"the {self.name} family has its dispersion fixed at 1; nothing to estimate"
            )
        raise ValueError(
            f"the {self.name} family defines no dispersion model (dispersion_derivs), so "
            "its dispersion has no estimating equation; use dispersion='pearson'"
        )

    # --- an ancillary parameter estimated with the coefficients --------------------------

    #: name of the family's ancillary parameter (NB's ``alpha``), or None
    ancillary_name: str | None = None
    #: the fitted attributes ``{ancillary_attribute}_`` and ``{ancillary_attribute}_bse_``
    ancillary_attribute: str | None = None

    @property
    def ancillary_estimated(self) -> bool:
        """Whether the fit estimates the ancillary parameter (by maximum likelihood,
        jointly with the coefficients): the family is then a template and solvers work
        with copies :meth:`with_ancillary` makes."""
        return False

    @property
    def ancillary(self):
        """The ancillary parameter's value (None: estimated, or the family has none)."""
        return None

    def with_ancillary(self, value) -> Family:
        """A copy with the ancillary parameter fixed at ``value``."""
        raise ValueError(f"the {self.name} family has no ancillary parameter")

    def ancillary_terms(self, y, mu) -> dict:
        """Per-row derivatives of the log-likelihood in the ancillary parameter
        (:meth:`NegativeBinomial.ancillary_terms`)."""
        raise ValueError(f"the {self.name} family has no ancillary parameter")

    # --- object protocol ---------------------------------------------------------------

    @property
    def title(self) -> str:
        """The family as a summary header names it (its name and fixed parameters)."""
        return self.name

    def _params(self) -> tuple:
        return (type(self), self.link.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Family) and self._params() == other._params()

    def __hash__(self) -> int:
        return hash(self._params())


class Gaussian(Family):
    """Gaussian family: ``V(mu) = 1``; default link identity."""

    name = "gaussian"
    canonical_link = "identity"
    allowed_links = ("identity", "log", "inverse")
    fixed_dispersion = False
    domain = REAL
    closed_form_dispersion = True

    @property
    def least_squares(self) -> bool:
        return isinstance(self.link, Identity)

    def variance(self, mu):
        xp = get_namespace(mu)
        return xp.ones_like(_floating(xp, mu))

    def variance_deriv(self, mu):
        xp = get_namespace(mu)
        return xp.zeros_like(_floating(xp, mu))

    def unit_deviance(self, y, mu):
        r = y - mu
        return r * r

    def _loglik_obs(self, xp, y, mu, m, scale):
        r = y - mu
        if m is None:
            return -0.5 * (r * r / scale + (math.log(scale) + _LOG_2PI))
        return -0.5 * (m * (r * r) / scale + xp.log(scale / m) + _LOG_2PI)

    def loglik_from_deviance(self, deviance, n_obs, scale, log_weight=0.0):
        # the sum of _loglik_obs: -(m r^2 / scale + log(scale / m) + log(2 pi)) / 2
        scale = float(scale)
        if not scale > 0:  # an exact fit (zero deviance): unbounded, R's logLik is Inf
            return math.inf
        return -0.5 * (float(deviance) / scale + n_obs * (math.log(scale) + _LOG_2PI)
                       - float(log_weight))

    def dispersion_derivs(self, nu):
        # a(zeta) = -log(-zeta) + log(2 pi)
        return 1.0 / nu, 1.0 / nu**2, 2.0 / nu**3

    def starting_mu(self, y, weights=None):
        xp = get_namespace(y, weights)
        y = _floating(xp, y)
        if isinstance(self.link, Log):
            return xp.where(y > 0, y, _full(xp, y, 0.1))
        if isinstance(self.link, Inverse):
            return xp.where(y != 0, y, _full(xp, y, 0.1))
        return 1.0 * y


class Binomial(Family):
    """Binomial family for proportions ``y`` in [0, 1] with ``m`` trials:
    ``V(mu) = mu (1 - mu)``; default link logit."""

    name = "binomial"
    canonical_link = "logit"
    allowed_links = ("logit", "probit", "cloglog", "cauchit", "log")
    fixed_dispersion = True
    domain = UNIT
    response_edges = (0.0, 1.0)

    def variance(self, mu):
        return mu * (1.0 - mu)

    def variance_deriv(self, mu):
        return 1.0 - 2.0 * mu

    def unit_deviance(self, y, mu):
        # 2 [y log(y/mu) + (1-y) log((1-y)/(1-mu))], with the y-only entropy term
        # computed at y's shape (mu may carry extra columns: a ladder of steps)
        xp = get_namespace(y, mu)
        ent = _xlogx(xp, y) + _xlogx(xp, 1.0 - y)
        return 2.0 * (ent - y * xp.log(mu) - (1.0 - y) * xp.log1p(-mu))

    def eta_terms(self, y, eta):
        if type(self.link) is not Logit:
            return super().eta_terms(y, eta)
        # logit: mu = 1/(1 + e^-eta), dmu = V(mu) (t = 1), and the unit deviance
        # 2 [ent(y) + log(1 + e^eta) - y eta] from one exp and one log1p per entry
        xp = get_namespace(y, eta)
        e = xp.exp(-xp.abs(eta))
        ope = 1.0 + e
        mu = xp.where(eta >= 0, xp.ones_like(e), e) / ope
        dmu = e / (ope * ope)
        ent = _xlogx(xp, y) + _xlogx(xp, 1.0 - y)
        ud = 2.0 * (ent + (xp.log1p(e) + xp.maximum(eta, xp.zeros_like(eta)) - y * eta))
        return xp.isfinite(eta), mu, dmu, xp.ones_like(e), dmu, ud

    def _loglik_obs(self, xp, y, mu, m, scale):
        # statsmodels (n = 1): lgamma(2) - lgamma(y + 1) - lgamma(2 - y)
        #   + y log(mu / (1 - mu)) + log(1 - mu), times var_weights; scale unused.
        # For fractional y this is *not* log C(m, m y) (see tests).
        comb = -(_gammaln(y + 1.0) + _gammaln(2.0 - y))
        ll = comb + y * xp.log(mu) + (1.0 - y) * xp.log1p(-mu)
        return ll if m is None else m * ll

    def _y_problem(self, xp, y):
        if bool(xp.any((y < 0) | (y > 1))):
            return "binomial family: y must lie in [0, 1] (proportion of successes)"
        return None

    def starting_mu(self, y, weights=None):
        xp = get_namespace(y, weights)
        y = _floating(xp, y)
        if weights is None:
            return (y + 0.5) / 2.0
        m = _floating(xp, weights, y.dtype)
        return (m * y + 0.5) / (m + 1.0)


class _CountFamily(Family):
    domain = POSITIVE
    fixed_dispersion = True
    response_edges = (0.0,)

    def _y_problem(self, xp, y):
        if bool(xp.any(y < 0)):
            return f"{self.name} family: y must be non-negative"
        return None

    def starting_mu(self, y, weights=None):
        xp = get_namespace(y, weights)
        return _floating(xp, y) + 0.1


class Poisson(_CountFamily):
    """Poisson family: ``V(mu) = mu``; default link log."""

    name = "poisson"
    canonical_link = "log"
    allowed_links = ("log", "identity", "sqrt")

    def variance(self, mu):
        return 1.0 * mu

    def variance_deriv(self, mu):
        xp = get_namespace(mu)
        return xp.ones_like(_floating(xp, mu))

    def unit_deviance(self, y, mu):
        # 2 [y log(y/mu) - (y - mu)] with the y-only part y log y - y at y's shape
        xp = get_namespace(y, mu)
        return 2.0 * ((_xlogx(xp, y) - y) - y * xp.log(mu) + mu)

    def _loglik_obs(self, xp, y, mu, m, scale):
        ll = y * xp.log(mu) - mu - _gammaln(y + 1.0)
        return ll / scale if m is None else (m / scale) * ll

    def eta_terms(self, y, eta):
        if type(self.link) is not Log:
            return super().eta_terms(y, eta)
        # log: mu = dmu = V(mu) = e^eta (t = 1); unit deviance 2 [y log y - y - y eta + mu]
        xp = get_namespace(y, eta)
        with _quiet():
            mu = xp.exp(eta)
            ud = 2.0 * ((_xlogx(xp, y) - y) - y * eta + mu)
        ok = xp.isfinite(mu) & (mu > 0)
        return ok, mu, mu, xp.ones_like(mu), mu, ud


class NegativeBinomial(_CountFamily):
    """Negative binomial (NB2) family: ``V(mu) = mu + alpha mu^2``; link log.

    Parameters
    ----------
    alpha : float or None, default=None
        Dispersion (``1 / theta`` in R's ``MASS::glm.nb``, ``alpha`` in statsmodels'
        ``NegativeBinomial``), > 0. ``None`` (the default, also what the string
        ``"negative_binomial"`` gives): ``alpha`` is *estimated* by maximum likelihood
        jointly with the coefficients, as R's ``glm.nb`` does; a number fixes it (R's
        ``negative.binomial(theta = 1 / alpha)``, statsmodels' GLM family).
    link : str, Link or None
        Only ``"log"`` is supported.

    Notes
    -----
    With ``alpha`` estimated the family is a *template*: its variance, deviance and
    likelihood need a value, and a solver works with the fixed-``alpha`` copies
    :meth:`with_ancillary` makes, asking :attr:`ancillary_estimated` whether to estimate
    it and :meth:`ancillary_terms` for the per-row derivatives of the log-likelihood in
    ``alpha`` (no solver looks at the family's name). Per row, with ``k = 1 / alpha``
    and ``q = log(1 + alpha mu) - (psi(y + k) - psi(k))``::

        dl/dalpha        = (y - mu) / (alpha (1 + alpha mu)) + k^2 q,
        d2l/dalpha2      = -(y - mu)(1 + 2 alpha mu) / (alpha (1 + alpha mu))^2 - 2 k^3 q
                           + k^2 mu / (1 + alpha mu) + k^4 (psi'(y + k) - psi'(k)),
        d2l/deta dalpha  = -mu (y - mu) / (1 + alpha mu)^2,
        d2l/deta2        = -mu (1 + alpha y) / (1 + alpha mu)^2          (log link).

    ``q`` is formed without cancellation for large ``k`` (the asymptotic series of
    ``psi``), so that the score stays accurate as ``alpha -> 0`` (the Poisson limit).
    """

    name = "negative_binomial"
    canonical_link = "log"
    allowed_links = ("log",)
    ancillary_name = "alpha"
    ancillary_attribute = "nb_alpha"

    def __init__(self, alpha=None, link=None):
        if alpha is not None:
            alpha = float(alpha)
            if not (math.isfinite(alpha) and alpha > 0):
                raise ValueError(f"negative_binomial family: alpha must be > 0, got {alpha}")
        self.alpha = alpha
        super().__init__(link=link)

    @property
    def ancillary_estimated(self) -> bool:
        return self.alpha is None

    @property
    def ancillary(self):
        return self.alpha

    def with_ancillary(self, value) -> NegativeBinomial:
        return NegativeBinomial(alpha=value, link=self.link)

    def with_alpha(self, alpha) -> NegativeBinomial:
        """A copy with ``alpha`` fixed at ``alpha`` (same link)."""
        return self.with_ancillary(alpha)

    def _fixed_alpha(self) -> float:
        if self.alpha is None:
            raise ValueError(
                "negative_binomial family with alpha estimated (alpha=None): its variance, "
                "deviance and likelihood need a value; fit an estimator with it, or use "
                "NegativeBinomial(alpha=...) / family.with_alpha(a)"
            )
        return self.alpha

    def variance(self, mu):
        return mu + self._fixed_alpha() * (mu * mu)

    def variance_deriv(self, mu):
        return 1.0 + (2.0 * self._fixed_alpha()) * mu

    def unit_deviance(self, y, mu):
        # log((y + k) / (mu + k)) as a log1p: exact also for small alpha (large k)
        xp = get_namespace(y, mu)
        k = 1.0 / self._fixed_alpha()
        return 2.0 * (_xlogx_ratio(xp, y, mu) - (y + k) * xp.log1p((y - mu) / (mu + k)))

    def _loglik_obs(self, xp, y, mu, m, scale):
        # y log(a mu) + lgamma(y + k) - lgamma(k) = y log mu + [lgamma(y + k) - lgamma(k)
        # - y log k]: the bracket without cancellation for large k (small alpha)
        a = self._fixed_alpha()
        k = 1.0 / a
        ll = (y * xp.log(mu) - (y + k) * xp.log1p(a * mu) + _lgamma_ratio(xp, y, k)
              - _at_counts(_gammaln, y, 1.0))
        return ll / scale if m is None else (m / scale) * ll

    def ancillary_terms(self, y, mu) -> dict:
        """Per-row derivatives of the log-likelihood in ``alpha`` (host NumPy, float64;
        ``m = 1``): ``score`` dl/dalpha, ``hess`` d2l/dalpha2, ``cross`` d2l/deta dalpha,
        ``eta_hess`` d2l/deta2 (observed), and ``moment_num = (y - mu)^2 - mu``,
        ``moment_den = mu^2`` (a moment estimator ``sum num / sum den`` of alpha)."""
        a = self._fixed_alpha()
        y = np.asarray(to_host(y), dtype=np.float64)
        mu = np.asarray(to_host(mu), dtype=np.float64)
        k = 1.0 / a
        r = y - mu
        one = 1.0 + a * mu
        q, dtri = _nb_psi_terms(y, mu, a)
        score = r / (a * one) + k * k * q
        hess = (-r * (1.0 + 2.0 * a * mu) / (a * one) ** 2 - 2.0 * k**3 * q
                + k * k * mu / one + k**4 * dtri)
        return {"score": score, "hess": hess, "cross": -mu * r / one**2,
                "eta_hess": -mu * (1.0 + a * y) / one**2,
                "moment_num": r * r - mu, "moment_den": mu * mu}

    @property
    def has_canonical_link(self) -> bool:
        return False  # the log link is the default, not the canonical one

    def _params(self) -> tuple:
        return (type(self), self.link.name, self.alpha)

    def __repr__(self) -> str:
        return f"NegativeBinomial(alpha={self.alpha!r}, link={self.link!r})"


def _lgamma_ratio(xp, y, k: float):
    """``lgamma(y + k) - lgamma(k) - y log k``; for ``k >= _PSI_SERIES_K`` by Stirling's
    series (terms to ``x^-5``, exact to ~1e-20 there), which keeps the NB log-likelihood
    exact to rounding as ``alpha = 1 / k -> 0`` (the plain difference of log-gammas of
    ``~1e8`` loses ~1e-7 per row)."""
    if k < _PSI_SERIES_K:
        return _at_counts(_gammaln, y, k) - _gammaln(k) - y * math.log(k)
    yk = y + k
    inv_d = -y / (k * yk)                        # 1/(y+k) - 1/k
    inv3_d = inv_d * (1.0 / yk**2 + 1.0 / (yk * k) + 1.0 / k**2)
    inv5_d = inv_d * (1.0 / yk**4 + 1.0 / (yk**3 * k) + 1.0 / (yk * k) ** 2
                      + 1.0 / (yk * k**3) + 1.0 / k**4)
    # lgamma(x) ~ (x - 1/2) log x - x + log(2 pi)/2 + 1/(12x) - 1/(360x^3) + 1/(1260x^5)
    return ((yk - 0.5) * xp.log1p(y / k) - y + inv_d / 12.0 - inv3_d / 360.0
            + inv5_d / 1260.0)


#: counts up to this value take special functions from a table of the distinct values
_COUNT_TABLE = 4096


def _at_counts(fn, y, k: float):
    """``fn(y + k)``: for a NumPy ``y`` of non-negative integer counts below
    :data:`_COUNT_TABLE`, looked up in ``fn`` of ``0 + k, 1 + k, ...`` (the same values:
    ``j + k`` is exact for integer ``j``), one special-function call per distinct
    count instead of one per row."""
    if isinstance(y, np.ndarray) and y.size > 64:
        top = float(np.max(y))
        if 0 <= top < _COUNT_TABLE and float(np.min(y)) >= 0:
            j = y.astype(np.intp)
            if np.array_equal(j, y):
                return np.asarray(fn(np.arange(int(top) + 1, dtype=np.float64) + k))[j]
    return fn(y + k)


def _trigamma(x):
    import scipy.special as sc

    return sc.polygamma(1, x)


#: above this ``k = 1 / alpha`` the digamma differences of the NB score use the
#: asymptotic series of ``psi`` (its terms to ``x^-6`` are exact to ~1e-20 there)
_PSI_SERIES_K = 1e3


def _nb_psi_terms(y, mu, a):
    """``q = log(1 + a mu) - (psi(y + k) - psi(k))`` and ``psi'(y + k) - psi'(k)``,
    ``k = 1 / a`` (host arrays). For large ``k`` both differences come from the
    asymptotic series, with ``log(1 + a mu) - log(1 + a y)`` as one ``log1p``: the score
    ``k^2 q`` then does not lose its digits to cancellation as ``a -> 0``."""
    import scipy.special as sc

    k = 1.0 / a
    yk = y + k
    if k < _PSI_SERIES_K:
        q = np.log1p(a * mu) - (_at_counts(sc.digamma, y, k) - sc.digamma(k))
        return q, _at_counts(_trigamma, y, k) - _trigamma(k)
    # psi(x) ~ log x - 1/(2x) - 1/(12x^2) + 1/(120x^4) - 1/(252x^6)
    inv_d = -y / (k * yk)                      # 1/(y+k) - 1/k
    inv2_d = inv_d * (1.0 / yk + 1.0 / k)      # 1/(y+k)^2 - 1/k^2
    inv4_d = inv2_d * (1.0 / yk**2 + 1.0 / k**2)
    inv6_d = inv2_d * (1.0 / yk**4 + 1.0 / (yk * k) ** 2 + 1.0 / k**4)
    rest = -inv_d / 2.0 - inv2_d / 12.0 + inv4_d / 120.0 - inv6_d / 252.0  # psi diff - log1p
    q = np.log1p(a * (mu - y) / (1.0 + a * y)) - rest
    # psi'(x) ~ 1/x + 1/(2x^2) + 1/(6x^3) - 1/(30x^5) + 1/(42x^7)
    inv3_d = inv_d * (1.0 / yk**2 + 1.0 / (yk * k) + 1.0 / k**2)
    inv5_d = inv_d * sum(1.0 / (yk ** (4 - j) * k**j) for j in range(5))
    inv7_d = inv_d * sum(1.0 / (yk ** (6 - j) * k**j) for j in range(7))
    tri_d = inv_d + inv2_d / 2.0 + inv3_d / 6.0 - inv5_d / 30.0 + inv7_d / 42.0
    return q, tri_d


class _PositiveFamily(Family):
    domain = POSITIVE
    fixed_dispersion = False

    def _y_problem(self, xp, y):
        if bool(xp.any(y <= 0)):
            return f"{self.name} family: y must be strictly positive"
        return None


class Gamma(_PositiveFamily):
    """Gamma family: ``V(mu) = mu^2``; default link inverse."""

    name = "gamma"
    canonical_link = "inverse"
    allowed_links = ("inverse", "log", "identity")

    def variance(self, mu):
        return mu * mu

    def variance_deriv(self, mu):
        return 2.0 * mu

    def unit_deviance(self, y, mu):
        xp = get_namespace(y, mu)
        return 2.0 * ((y - mu) / mu - xp.log(y / mu))

    def _loglik_obs(self, xp, y, mu, m, scale):
        # statsmodels: ws log(ws y / mu) - ws y / mu - lgamma(ws) - log(y), ws = m / scale
        ws = 1.0 / scale if m is None else m / scale
        ratio = y / mu
        return ws * xp.log(ws * ratio) - ws * ratio - _gammaln(ws) - xp.log(y)

    def dispersion_derivs(self, nu):
        # a(zeta) = 2 (nu - nu log nu + log Gamma(nu)), nu = -zeta
        import numpy as np
        import scipy.special as sc

        nu = np.asarray(nu, dtype=np.float64)
        a1 = 2.0 * (np.log(nu) - sc.digamma(nu))
        a2 = 2.0 * (sc.polygamma(1, nu) - 1.0 / nu)
        a3 = -2.0 * (sc.polygamma(2, nu) + 1.0 / nu**2)
        return a1, a2, a3


class InverseGaussian(_PositiveFamily):
    """Inverse Gaussian family: ``V(mu) = mu^3``; default link inverse_squared."""

    name = "inverse_gaussian"
    canonical_link = "inverse_squared"
    allowed_links = ("inverse_squared", "log", "inverse", "identity")
    closed_form_dispersion = True

    def variance(self, mu):
        return mu * mu * mu

    def variance_deriv(self, mu):
        return 3.0 * (mu * mu)

    def unit_deviance(self, y, mu):
        r = y - mu
        return r * r / (y * (mu * mu))

    def _loglik_obs(self, xp, y, mu, m, scale):
        r = y - mu
        q = r * r / (scale * y * (mu * mu))
        y3 = y * y * y
        if m is None:
            return -0.5 * (q + xp.log(scale * y3) + _LOG_2PI)
        return -0.5 * (m * q + xp.log(scale * y3 / m) + _LOG_2PI)

    def dispersion_derivs(self, nu):
        # a(zeta) = -log(-zeta) + const, as for the gaussian
        return 1.0 / nu, 1.0 / nu**2, 2.0 / nu**3


_FAMILIES = {
    cls.name: cls for cls in (Gaussian, Binomial, Poisson, Gamma, InverseGaussian, NegativeBinomial)
}
#: the families a name alone builds (the estimators' ``family`` strings)
FAMILY_NAMES = tuple(_FAMILIES)


def get_family(family, link=None, **params) -> Family:
    """Return a :class:`Family` instance.

    Parameters
    ----------
    family : str, Family or Family subclass
        One of :data:`FAMILY_NAMES` (``"gaussian"``, ``"binomial"``, ``"poisson"``,
        ``"gamma"``, ``"inverse_gaussian"``, ``"negative_binomial"``), ``"tweedie"``
        (with its ``power``: there is no default power, so ``"tweedie"`` is not in
        :data:`FAMILY_NAMES`; pass the instance to an estimator) or a family instance
        (returned as is).
    link : str, Link or None
        Link for a family given by name or class; for an instance it must be
        ``None`` or the instance's own link.
    **params
        Further constructor arguments (``alpha`` for ``"negative_binomial"``: a value
        fixes it; without one it is estimated with the coefficients; ``power`` for
        ``"tweedie"``: :class:`~dask_glmdist.tweedie.Tweedie`).

    Returns
    -------
    Family

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import get_family
    >>> get_family("poisson")
    Poisson(link=Log())
    >>> get_family("binomial", "probit")
    Binomial(link=Probit())
    >>> get_family("tweedie", power=1.5)
    Tweedie(power=1.5, link=Log())
    >>> get_family("poisson").link.inverse(np.array([0.0, 1.0]))
    array([1.        , 2.71828183])
    """
    if isinstance(family, Family):
        if link is not None and get_link(link).name != family.link.name:
            raise ValueError(
                f"link {get_link(link).name!r} conflicts with the family instance "
                f"{family!r}; pass the link to the family instead"
            )
        if params:
            raise ValueError(f"parameters {sorted(params)} cannot be applied to {family!r}")
        return family
    if isinstance(family, type) and family in _ALL_FAMILIES.values():
        return family(link=link, **params)
    if isinstance(family, str) and family.lower() in _ALL_FAMILIES:
        return _ALL_FAMILIES[family.lower()](link=link, **params)
    valid = ", ".join(repr(k) for k in _ALL_FAMILIES)
    raise ValueError(f"unknown family {family!r}; valid families are {valid}")


from .tweedie import Tweedie  # noqa: E402 -- built on Family above

#: every family by name, with those that need a parameter (``get_family("tweedie", power=p)``)
_ALL_FAMILIES = {**_FAMILIES, Tweedie.name: Tweedie}
