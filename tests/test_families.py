"""Families and links against statsmodels, and on array_api_strict arrays."""

from __future__ import annotations

import copy
import pickle

import array_api_strict as xps
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from statsmodels.genmod import families as smf
from statsmodels.genmod.families import links as sml

from dask_glmdist import families as F
from dask_glmdist._array import get_namespace, to_host
from dask_glmdist.families import (
    FAMILY_NAMES,
    LINK_NAMES,
    Binomial,
    Gamma,
    Gaussian,
    InverseGaussian,
    Logit,
    NegativeBinomial,
    Poisson,
    get_family,
    get_link,
)
from dask_glmdist.solvers.glm_kernel import block_terms


def score_weight_parts(fam, y, eta, m=None):
    """Mean, working weights and score residuals at ``eta`` (the GLM block kernel)."""
    xp = get_namespace(y, eta)
    eta = xp.asarray(eta, dtype=xp.float64) if not xp.isdtype(eta.dtype, "real floating") \
        else eta
    y = xp.astype(y, eta.dtype)
    if m is not None:
        m = xp.astype(m, eta.dtype)
    t = block_terms(fam, y, m, eta)
    return t.mu, t.weights, t.score_residuals

RTOL = 1e-10
N = 40

SM_LINKS = {
    "identity": sml.Identity,
    "log": sml.Log,
    "logit": sml.Logit,
    "probit": sml.Probit,
    "cloglog": sml.CLogLog,
    "cauchit": sml.Cauchy,
    "inverse": sml.InversePower,
    "inverse_squared": sml.InverseSquared,
    "sqrt": sml.Sqrt,
}
# statsmodels computes these inverse_deriv2 generically from the link's deriv/deriv2
SM_GENERIC_D2 = {"log", "logit", "cloglog"}

ALPHA = 0.7


def sm_family(name, link):
    lk = SM_LINKS[link]()
    if name == "gaussian":
        return smf.Gaussian(link=lk)
    if name == "binomial":
        return smf.Binomial(link=lk)
    if name == "poisson":
        return smf.Poisson(link=lk)
    if name == "gamma":
        return smf.Gamma(link=lk)
    if name == "inverse_gaussian":
        return smf.InverseGaussian(link=lk)
    return smf.NegativeBinomial(link=lk, alpha=ALPHA)


def our_family(name, link):
    if name == "negative_binomial":
        return get_family(name, link, alpha=ALPHA)
    return get_family(name, link)


COMBOS = [
    ("gaussian", "identity"),
    ("gaussian", "log"),
    ("gaussian", "inverse"),
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("binomial", "cauchit"),
    ("binomial", "log"),
    ("poisson", "log"),
    ("poisson", "identity"),
    ("poisson", "sqrt"),
    ("gamma", "inverse"),
    ("gamma", "log"),
    ("gamma", "identity"),
    ("inverse_gaussian", "inverse_squared"),
    ("inverse_gaussian", "log"),
    ("inverse_gaussian", "inverse"),
    ("inverse_gaussian", "identity"),
    ("negative_binomial", "log"),
]
COMBO_IDS = [f"{f}-{lk}" for f, lk in COMBOS]


def make_data(name, link, weighted, seed=0):
    """Valid (y, mu, eta, weights) for a family/link pair (eta via statsmodels' link)."""
    rng = np.random.default_rng(seed)
    if name == "binomial":
        mu = rng.uniform(0.05, 0.6 if link == "log" else 0.95, N)
        if weighted:
            m = rng.integers(1, 12, N).astype(float)
            y = rng.binomial(m.astype(int), mu) / m  # proportions, incl. 0 and 1
        else:
            m = None
            y = rng.binomial(1, mu).astype(float)
    else:
        if name == "gaussian" and link == "identity":
            mu = rng.normal(0.0, 2.0, N)
        else:
            mu = rng.uniform(0.3, 4.0, N)
        m = rng.uniform(0.5, 3.0, N) if weighted else None
        if name == "gaussian":
            y = mu + rng.normal(0.0, 1.0, N)
        elif name == "poisson":
            y = rng.poisson(mu).astype(float)
        elif name == "negative_binomial":
            k = 1.0 / ALPHA
            y = rng.negative_binomial(k, k / (k + mu)).astype(float)
        elif name == "gamma":
            y = rng.gamma(2.0, mu / 2.0)
        else:
            y = rng.wald(mu, 3.0)
    eta = SM_LINKS[link]()(mu)
    return y, mu, eta, m


def sm_weights(m):
    return 1.0 if m is None else m


# ----------------------------------------------------------------------------------
# links
# ----------------------------------------------------------------------------------


def link_eta(name, rng):
    if name in ("inverse", "inverse_squared", "sqrt"):
        return rng.uniform(0.2, 4.0, N)
    if name == "cloglog":  # 1 - mu < eps beyond eta ~ 3.6
        return rng.uniform(-4.0, 2.5, N)
    return rng.uniform(-4.0, 4.0, N)


@pytest.mark.parametrize("name", LINK_NAMES)
def test_link_against_statsmodels(name):
    rng = np.random.default_rng(1)
    eta = link_eta(name, rng)
    ours, sm = get_link(name), SM_LINKS[name]()
    mu = ours.inverse(eta)
    assert_allclose(mu, sm.inverse(eta), rtol=RTOL)
    assert_allclose(ours.link(mu), sm(mu), rtol=RTOL, atol=1e-12)
    assert_allclose(ours.link(mu), eta, rtol=1e-9, atol=1e-9)
    assert_allclose(ours.inverse_deriv(eta), sm.inverse_deriv(eta), rtol=RTOL)
    mu2, d = ours.inverse_and_deriv(eta)
    assert_allclose(mu2, mu, rtol=1e-15)
    assert_allclose(d, ours.inverse_deriv(eta), rtol=1e-15)
    d2 = ours.inverse_deriv2(eta)
    # generic statsmodels d2 goes through mu = g^{-1}(eta): a few ulps of mu amplified
    tol = 1e-7 if name in SM_GENERIC_D2 else RTOL
    assert_allclose(d2, sm.inverse_deriv2(eta), rtol=tol, atol=1e-12)
    h = 1e-5
    fd = (ours.inverse_deriv(eta + h) - ours.inverse_deriv(eta - h)) / (2 * h)
    assert_allclose(d2, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["logit", "probit", "cloglog", "cauchit"])
def test_unit_links_clip_and_never_nan(name):
    lk = get_link(name)
    eta = np.concatenate([np.linspace(-1e3, 1e3, 201), [-1e300, 1e300]])
    eps = np.finfo(float).eps
    with np.errstate(over="ignore"):  # overflow to inf / underflow to 0 only
        mu = lk.inverse(np.concatenate([eta, [-np.inf, np.inf]]))
        assert np.all((mu >= eps) & (mu <= 1 - eps))
        for fn in (lk.inverse_deriv, lk.inverse_deriv2):
            assert np.all(np.isfinite(fn(eta)))
    assert np.all(np.isfinite(lk.link(np.array([0.0, 1.0, 0.5]))))
    fam = Binomial(link=name)
    mu, w, r = score_weight_parts(fam, np.ones_like(eta[:201]), eta[:201])
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(r)) and np.all(w >= 0)


def test_log_link_floor_and_extremes():
    lk = get_link("log")
    eta = np.array([-800.0, -40.0, 0.0, 1.0])
    mu = lk.inverse(eta)
    assert mu[0] == np.finfo(float).eps and mu[1] == np.finfo(float).eps
    assert_allclose(mu[2:], np.exp(eta[2:]), rtol=1e-15)
    eta = np.linspace(-700.0, 700.0, 101)
    _, w, r = score_weight_parts(Poisson(), np.zeros_like(eta), eta)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(r))


def test_cauchit_lower_tail_accurate():
    eta = np.array([-1e8, -1e12])
    assert_allclose(get_link("cauchit").inverse(eta), -1.0 / (np.pi * eta), rtol=1e-12)


# ----------------------------------------------------------------------------------
# families
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,link", COMBOS, ids=COMBO_IDS)
def test_variance_against_statsmodels(name, link):
    _, mu, _, _ = make_data(name, link, False)
    ours, sm = our_family(name, link), sm_family(name, link)
    assert_allclose(ours.variance(mu), sm.variance(mu), rtol=RTOL)
    assert_allclose(ours.variance_deriv(mu), sm.variance.deriv(mu), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,link", COMBOS, ids=COMBO_IDS)
def test_deviance_and_loglik_against_statsmodels(name, link, weighted):
    y, mu, eta, m = make_data(name, link, weighted)
    ours, sm = our_family(name, link), sm_family(name, link)
    assert_allclose(ours.link.inverse(eta), mu, rtol=RTOL)
    dev = ours.deviance(y, mu, m)
    assert np.ndim(dev) == 0
    assert_allclose(dev, sm.deviance(y, mu, var_weights=sm_weights(m)), rtol=RTOL)
    ud = ours.unit_deviance(y, mu)
    assert_allclose(np.sum(ud * sm_weights(m)), dev, rtol=1e-13)
    assert np.all(ud >= -1e-12)
    for scale in (1.0, 1.7):
        ll = ours.loglik(y, mu, m, scale=scale)
        assert np.ndim(ll) == 0
        expected = sm.loglike(y, mu, var_weights=sm_weights(m), scale=scale)
        assert_allclose(ll, expected, rtol=RTOL)


def test_binomial_loglik_is_statsmodels_not_binomial_pmf():
    """statsmodels' Binomial.loglike with var_weights=m treats y as one trial (n = 1):
    for fractional y it differs from sum log C(m, m y) mu^(m y)... by a mu-free constant."""
    y, mu, _, m = make_data("binomial", "logit", True)
    ll = Binomial().loglik(y, mu, m)
    pmf = stats.binom.logpmf(np.round(m * y), m, mu).sum()
    assert not np.isclose(ll, pmf)
    mu2 = np.clip(mu * 1.1, 0.01, 0.99)
    diff1 = ll - pmf
    diff2 = Binomial().loglik(y, mu2, m) - stats.binom.logpmf(np.round(m * y), m, mu2).sum()
    assert_allclose(diff1, diff2, rtol=1e-10)
    # binary y, unit weights: the ordinary Bernoulli log-likelihood
    yb = (y > 0.5).astype(float)
    assert_allclose(Binomial().loglik(yb, mu), stats.bernoulli.logpmf(yb, mu).sum(), rtol=1e-12)


@pytest.mark.parametrize("name", ["gaussian", "gamma", "inverse_gaussian", "poisson", "binomial"])
def test_zero_weight_rows_contribute_nothing(name):
    link = get_family(name).link.name
    y, mu, _, m = make_data(name, link, True)
    fam = get_family(name)
    m0 = m.copy()
    m0[:5] = 0.0
    keep = slice(5, None)
    assert_allclose(
        fam.loglik(y, mu, m0, 1.3), fam.loglik(y[keep], mu[keep], m[keep], 1.3), rtol=1e-13
    )
    assert_allclose(fam.deviance(y, mu, m0), fam.deviance(y[keep], mu[keep], m[keep]), rtol=1e-13)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,link", COMBOS, ids=COMBO_IDS)
def test_kernel_weights_and_residuals(name, link, weighted):
    y, mu, eta, m = make_data(name, link, weighted)
    ours, sm = our_family(name, link), sm_family(name, link)
    mu1, w, r = score_weight_parts(ours, y, eta, m)
    d = sm.link.inverse_deriv(eta)
    v = sm.variance(mu)
    mm = sm_weights(m)
    assert_allclose(mu1, mu, rtol=RTOL)
    assert_allclose(w, mm * d**2 / v, rtol=RTOL)
    assert_allclose(r, mm * (y - mu) * d / v, rtol=RTOL, atol=1e-13)
    # r is the gradient of the log-likelihood in eta (scale 1): directional derivative
    rng = np.random.default_rng(5)
    u = rng.normal(size=N)
    h = 1e-6

    def ll(t):
        return float(ours.loglik(y, ours.link.inverse(eta + t * u), m))

    fd = (ll(h) - ll(-h)) / (2 * h)
    assert_allclose(fd, u @ r, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,link", COMBOS, ids=COMBO_IDS)
def test_starting_mu_in_domain(name, link):
    fam = our_family(name, link)
    y, _, _, m = make_data(name, link, True)
    if name == "binomial":
        y = np.concatenate([y, [0.0, 1.0]])
        m = np.concatenate([m, [1.0, 4.0]])
    elif name in ("poisson", "negative_binomial"):
        y = np.concatenate([y, [0.0, 0.0]])
        m = np.concatenate([m, [1.0, 2.0]])
    elif name == "gaussian":
        y = np.concatenate([y, [0.0, -1.0]])
        m = np.concatenate([m, [1.0, 2.0]])
    assert fam.check_y(y) is None
    for weights in (None, m):
        mu0 = fam.starting_mu(y, weights)
        assert mu0.shape == y.shape
        assert np.all(fam.valid_mu(mu0))
        eta0 = fam.link.link(mu0)
        assert np.all(np.isfinite(eta0))
        assert np.all(fam.valid_eta(eta0))
    if name == "binomial":
        assert_allclose(fam.starting_mu(y, m), (m * y + 0.5) / (m + 1))


def test_valid_eta_family_domain():
    eta = np.array([-2.0, -0.5, 0.0, 0.5, 2.0, np.nan, np.inf])
    cases = {
        ("gamma", "inverse"): [0, 0, 0, 1, 1, 0, 0],
        ("gamma", "log"): [1, 1, 1, 1, 1, 0, 0],
        ("gamma", "identity"): [0, 0, 0, 1, 1, 0, 0],
        ("poisson", "identity"): [0, 0, 0, 1, 1, 0, 0],
        ("poisson", "sqrt"): [0, 0, 0, 1, 1, 0, 0],
        ("binomial", "log"): [1, 1, 0, 0, 0, 0, 0],
        ("binomial", "logit"): [1, 1, 1, 1, 1, 0, 0],
        ("gaussian", "inverse"): [1, 1, 0, 1, 1, 0, 0],
        ("gaussian", "identity"): [1, 1, 1, 1, 1, 0, 0],
        ("inverse_gaussian", "inverse_squared"): [0, 0, 0, 1, 1, 0, 0],
    }
    for (name, link), expected in cases.items():
        fam = get_family(name, link)
        with np.errstate(all="ignore"):
            got = fam.link.valid_eta(eta)
            assert got.dtype == bool
            np.testing.assert_array_equal(got, np.array(expected, bool), err_msg=f"{name}-{link}")
            np.testing.assert_array_equal(fam.valid_eta(eta), got)
    # a free-standing link only checks its own domain
    np.testing.assert_array_equal(get_link("inverse").valid_eta(eta), [1, 1, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(Binomial().valid_mu(np.array([0.0, 0.5, 1.0])), [0, 1, 0])


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog", "cauchit"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unit_link_valid_eta_is_its_definition(link, dtype):
    # the unit links skip evaluating their (clipped) inverse in valid_eta: the answer
    # must be the definition's, finite eta inside the domain, at the extremes too
    fam = get_family("binomial", link)
    info = np.finfo(dtype)
    eta = np.array([-info.max, -1e30, -800.0, -40.0, -info.tiny, -0.0, 0.0, info.tiny, 40.0,
                    800.0, 1e30, info.max, np.nan, np.inf, -np.inf], dtype=dtype)
    with np.errstate(all="ignore"):
        ok = np.isfinite(eta)
        mu = fam.link.inverse(np.where(ok, eta, dtype(1.0)))
        np.testing.assert_array_equal(fam.valid_eta(eta), ok & fam.link.valid_mean(mu))
        for xp_eta in (xps.asarray(eta),):
            np.testing.assert_array_equal(np.asarray(fam.valid_eta(xp_eta)), ok)


def test_float32_and_integer_inputs():
    eta32 = np.linspace(-2, 2, 7, dtype=np.float32)
    for name in FAMILY_NAMES:
        fam = our_family(name, None)
        eta = eta32 + np.float32(3.0) if fam.link.name.startswith("inverse") else eta32
        mu, w, r = score_weight_parts(fam, np.ones(7, np.int64), eta)
        assert mu.dtype == w.dtype == r.dtype == np.float32
    y = np.array([0, 1, 3, 2])
    mu = np.array([0.5, 1.5, 2.0, 2.5])
    assert_allclose(Poisson().deviance(y, mu), Poisson().deviance(y.astype(float), mu))
    assert Poisson().check_y(y) is None


# ----------------------------------------------------------------------------------
# array_api_strict
# ----------------------------------------------------------------------------------


def _strict(a):
    return None if a is None else xps.asarray(a)


STRICT_ARRAY = type(xps.asarray(0.0))


def _same(a_strict, a_np):
    assert isinstance(a_strict, STRICT_ARRAY), type(a_strict)
    assert a_strict.dtype in (xps.float64, xps.bool)
    assert_allclose(to_host(a_strict), np.asarray(a_np), rtol=1e-14, atol=0)


@pytest.mark.parametrize("name,link", COMBOS, ids=COMBO_IDS)
def test_array_api_strict_matches_numpy(name, link):
    y, mu, eta, m = make_data(name, link, True)
    fam = our_family(name, link)
    ys, mus, etas, ms = _strict(y), _strict(mu), _strict(eta), _strict(m)
    lk = fam.link
    for meth in ("inverse", "inverse_deriv", "inverse_deriv2", "valid_eta"):
        _same(getattr(lk, meth)(etas), getattr(lk, meth)(eta))
    _same(lk.link(mus), lk.link(mu))
    for a, b in zip(lk.inverse_and_deriv(etas), lk.inverse_and_deriv(eta), strict=True):
        _same(a, b)
    for meth in ("variance", "variance_deriv", "valid_mu"):
        _same(getattr(fam, meth)(mus), getattr(fam, meth)(mu))
    _same(fam.valid_eta(etas), fam.valid_eta(eta))
    _same(fam.unit_deviance(ys, mus), fam.unit_deviance(y, mu))
    for wts_s, wts in ((None, None), (ms, m)):
        _same(fam.deviance(ys, mus, wts_s), fam.deviance(y, mu, wts))
        _same(fam.loglik(ys, mus, wts_s, scale=1.3), fam.loglik(y, mu, wts, scale=1.3))
        _same(fam.starting_mu(ys, wts_s), fam.starting_mu(y, wts))
        for a, b in zip(
            score_weight_parts(fam, ys, etas, wts_s),
            score_weight_parts(fam, y, eta, wts),
            strict=True,
        ):
            _same(a, b)
    assert fam.check_y(ys) is None
    bad = xps.asarray([-1.0, 0.5])
    assert (fam.check_y(bad) is None) == (name == "gaussian")
    assert "finite" in fam.check_y(xps.asarray([np.nan, 1.0]))


def test_array_api_strict_integer_and_bool_y():
    eta = xps.asarray([0.1, -0.3, 2.0])
    _, w, r = score_weight_parts(Poisson(), xps.asarray([0, 1, 5]), eta)
    assert r.dtype == xps.float64
    assert Binomial().check_y(xps.asarray([True, False, True])) is None
    dev = Binomial().deviance(xps.asarray([True, False, True]), Binomial().link.inverse(eta))
    assert dev.dtype == xps.float64


# ----------------------------------------------------------------------------------
# construction, errors and object protocol
# ----------------------------------------------------------------------------------


def test_defaults_and_attributes():
    expected = {
        "gaussian": ("identity", False),
        "binomial": ("logit", True),
        "poisson": ("log", True),
        "gamma": ("inverse", False),
        "inverse_gaussian": ("inverse_squared", False),
        "negative_binomial": ("log", True),
    }
    assert set(FAMILY_NAMES) == set(expected)
    for name, (link, fixed) in expected.items():
        fam = get_family(name)
        assert fam.name == name
        assert fam.link.name == link == fam.canonical_link
        assert fam.fixed_dispersion is fixed
    assert NegativeBinomial().alpha is None  # estimated
    assert NegativeBinomial().ancillary_estimated
    assert not NegativeBinomial(alpha=2).ancillary_estimated
    assert NegativeBinomial(alpha=2).alpha == 2.0
    assert NegativeBinomial().with_alpha(0.5) == NegativeBinomial(alpha=0.5)
    with pytest.raises(ValueError, match="alpha estimated"):
        NegativeBinomial().variance(np.ones(2))


def test_bad_link_for_family():
    with pytest.raises(ValueError, match=r"'probit' is not allowed for the poisson family.*'log'"):
        Poisson(link="probit")
    with pytest.raises(ValueError, match="allowed links are 'log', 'identity', 'sqrt'"):
        get_family("poisson", "logit")
    with pytest.raises(ValueError, match="not allowed for the gamma family"):
        Gamma(link=Logit())
    with pytest.raises(ValueError, match="negative_binomial"):
        NegativeBinomial(link="identity")


def test_unknown_names():
    with pytest.raises(ValueError, match=r"unknown family 'logistic'.*'binomial'.*'gamma'"):
        get_family("logistic")
    with pytest.raises(ValueError, match=r"unknown link 'probbit'.*'probit'"):
        get_link("probbit")
    with pytest.raises(ValueError, match="unknown link"):
        Binomial(link="probbit")
    with pytest.raises(ValueError, match="unknown family"):
        get_family(42)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        NegativeBinomial(alpha=0.0)
    with pytest.raises(ValueError, match="conflicts"):
        get_family(Binomial(), link="probit")


def test_get_family_and_get_link_accept_instances_and_classes():
    fam = Gamma(link="log")
    assert get_family(fam) is fam
    assert get_family(fam, link="log") is fam
    assert get_family(Gamma) == Gamma()
    assert get_family("Poisson") == Poisson()
    assert get_family("negative_binomial", alpha=0.5) == NegativeBinomial(alpha=0.5)
    lk = get_link("cauchit")
    assert get_link(lk) is lk
    assert get_link(F.Sqrt) == F.Sqrt()
    assert Binomial(link=lk).link == lk
    assert lk.domain is None  # the caller's link is not modified


@pytest.mark.parametrize(
    "fam,y,msg",
    [
        (Binomial(), [0.0, 1.5], "binomial family: y must lie in [0, 1]"),
        (Binomial(), [-0.1, 0.5], "binomial family: y must lie in [0, 1]"),
        (Poisson(), [0.0, -1.0], "poisson family: y must be non-negative"),
        (NegativeBinomial(), [-2.0], "negative_binomial family: y must be non-negative"),
        (Gamma(), [1.0, 0.0], "gamma family: y must be strictly positive"),
        (InverseGaussian(), [-1.0], "inverse_gaussian family: y must be strictly positive"),
        (Gaussian(), [1.0, np.inf], "gaussian family: y must be finite"),
        (Poisson(), [np.nan], "poisson family: y must be finite"),
    ],
)
def test_check_y_messages(fam, y, msg):
    got = fam.check_y(np.array(y))
    assert got is not None and got.startswith(msg)
    assert fam.check_y(xps.asarray(y)) == got


def test_check_y_accepts_valid():
    assert Binomial().check_y(np.array([0.0, 0.3, 1.0])) is None
    assert Poisson().check_y(np.array([0.0, 4.0])) is None
    assert Gamma().check_y(np.array([0.1, 4.0])) is None
    assert Gaussian().check_y(np.array([-3.0, 4.0])) is None
    assert Gamma().check_y(np.array([])) is None


def test_repr_eq_hash_pickle():
    assert repr(Binomial()) == "Binomial(link=Logit())"
    assert repr(Gamma(link="log")) == "Gamma(link=Log())"
    assert repr(NegativeBinomial(alpha=0.5)) == "NegativeBinomial(alpha=0.5, link=Log())"
    assert repr(get_link("inverse_squared")) == "InverseSquared()"
    assert Binomial() == Binomial("logit") != Binomial("probit")
    assert Poisson() != Gamma(link="log")
    assert NegativeBinomial(alpha=1.0) != NegativeBinomial(alpha=2.0)
    assert len({Binomial(), Binomial(), Binomial("probit")}) == 2
    for name, link in COMBOS:
        fam = our_family(name, link)
        for other in (pickle.loads(pickle.dumps(fam)), copy.deepcopy(fam)):
            assert other == fam and repr(other) == repr(fam)
            assert other.link.domain is fam.link.domain
