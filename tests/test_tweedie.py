"""The Tweedie family (fixed power) against statsmodels, scikit-learn and glum.

* the family: variance, unit deviance (scikit-learn's ``mean_tweedie_deviance``,
  statsmodels' ``Tweedie``), the limits p = 0, 1, 2, 3 (gaussian, Poisson, gamma, inverse
  gaussian), the compound Poisson-gamma density (statsmodels, and its own moments by
  quadrature: mass 1, mean mu, variance phi mu^p);
* every estimator: BiasReducedGLM ML and DLSA = statsmodels' GLM (coefficients, bse with
  the Pearson scale, deviance); PenalizedGLM = scikit-learn's TweedieRegressor (alpha = 0
  and ridge, the same objective D / (2 S) + alpha / 2 ||coef||^2) and glum (elastic net);
* bad input and degenerate data.
"""

import pickle
import warnings

import array_api_strict as xps
import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm
from conftest import block_chunks
from numpy.testing import assert_allclose
from scipy import integrate

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    get_family,
)
from dask_glmdist._array import to_host
from dask_glmdist.families import Gamma, Gaussian, InverseGaussian, Poisson, Tweedie

POWERS = (1.2, 1.5, 1.8, 2.5)
ALL_POWERS = (0.0, 1.0, 1.2, 1.5, 1.8, 2.0, 2.5, 3.0)


def _simulate(p, n=2000, seed=0, phi=1.2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    mu = np.exp(0.3 + X @ np.array([0.4, -0.25, 0.1]))
    if p == 0:
        return X, mu + rng.normal(size=n)
    if p == 1:
        return X, rng.poisson(mu).astype(float)
    if p < 2:  # compound Poisson-gamma
        lam = mu ** (2 - p) / (phi * (2 - p))
        shape, scale = (2 - p) / (p - 1), phi * (p - 1) * mu ** (p - 1)
        N = rng.poisson(lam)
        return X, np.where(N > 0, rng.gamma(np.maximum(N * shape, 1e-300), scale), 0.0)
    return X, rng.gamma(2.0, mu / 2.0)


def _weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 2.0, n)


def _sm_family(p):
    return sm.families.Tweedie(var_power=p, link=sm.families.links.Log())


@pytest.fixture(scope="module", params=POWERS)
def case(request):
    p = request.param
    X, y = _simulate(p)
    ref = sm.GLM(y, sm.add_constant(X), family=_sm_family(p)).fit(tol=1e-14, maxiter=200)
    return p, X, y, ref


# ----------------------------------------------------------------------------------
# the family
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", ALL_POWERS)
def test_variance_and_deviance_against_sklearn_and_statsmodels(p):
    from sklearn.metrics import mean_tweedie_deviance

    X, y = _simulate(p, n=300)
    mu = np.exp(0.2 + 0.3 * X[:, 0])
    fam, smf = Tweedie(p), _sm_family(p)
    assert_allclose(fam.variance(mu), smf.variance(mu), rtol=1e-13)
    assert_allclose(fam.variance_deriv(mu), smf.variance.deriv(mu), rtol=1e-13)
    m = _weights(len(y))
    with np.errstate(all="ignore"):  # statsmodels' p = 1 deviance at y = 0
        want = smf.deviance(y, mu, var_weights=m)
    assert_allclose(fam.deviance(y, mu, m), want, rtol=1e-12)
    assert_allclose(fam.deviance(y, mu, m) / m.sum(),
                    mean_tweedie_deviance(y, mu, sample_weight=m, power=p), rtol=1e-12)


@pytest.mark.parametrize("p,twin", [(0.0, Gaussian), (1.0, Poisson), (2.0, Gamma),
                                    (3.0, InverseGaussian)])
def test_limits_are_the_builtin_families(p, twin):
    X, y = _simulate(p, n=300)
    y = np.abs(y) + (p >= 2)
    mu = np.exp(0.2 + 0.3 * X[:, 0])
    fam, other = Tweedie(p), twin(link="log")
    assert_allclose(fam.unit_deviance(y, mu), other.unit_deviance(y, mu), rtol=1e-12, atol=1e-14)
    assert_allclose(fam.variance(mu), other.variance(mu), rtol=1e-15)
    if p != 1.0:  # the quasi-Poisson (p = 1) has a free dispersion and no likelihood
        assert_allclose(fam.loglik(y, mu, scale=0.7), other.loglik(y, mu, scale=0.7),
                        rtol=1e-13)
        nu = np.array([0.5, 2.0])
        for a, b in zip(fam.dispersion_derivs(nu), other.dispersion_derivs(nu), strict=True):
            assert_allclose(a, b, rtol=1e-15)
    else:
        assert np.isnan(fam.loglik(y, mu))


@pytest.mark.parametrize("p", [1.2, 1.5, 1.8])
def test_compound_poisson_loglik(p):
    X, y = _simulate(p, n=400)
    mu = np.exp(0.3 + 0.4 * X[:, 0])
    m = _weights(len(y))
    fam = Tweedie(p)
    # statsmodels evaluates the series with scipy's log_wright_bessel, which loses ~5e-6
    # per row at p = 1.2 (its a = 4; checked against the series summed term by term)
    assert_allclose(fam.loglik(y, mu, m, scale=1.3),
                    _sm_family(p).loglike(y, mu, var_weights=m, scale=1.3),
                    rtol=1e-12 if p >= 1.5 else 1e-5)
    # the density itself: point mass at 0 plus the continuous part has mass 1, mean mu
    # and variance phi mu^p (independent of the series implementation)
    mu0, phi = 1.7, 0.8

    def dens(t):
        return np.exp(float(fam.loglik(np.array([t]), np.array([mu0]), scale=phi)))

    p0 = dens(0.0)
    assert_allclose(p0, np.exp(-mu0 ** (2 - p) / (phi * (2 - p))), rtol=1e-14)
    # t = u^4: smooth at 0, where the density behaves as t^((2-p)/(p-1) - 1)
    moments = [integrate.quad(lambda u, k=k: 4 * u**3 * u ** (4 * k) * dens(u**4), 0, np.inf,
                              limit=200, epsabs=1e-13, epsrel=1e-11)[0] for k in range(3)]
    assert_allclose(p0 + moments[0], 1.0, rtol=1e-8)
    assert_allclose(moments[1], mu0, rtol=1e-8)
    assert_allclose(moments[2] - mu0**2, phi * mu0**p, rtol=1e-7)


def test_no_density_is_nan_without_warning():
    y, mu = np.array([0.5, 2.0]), np.array([1.0, 1.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(Tweedie(2.5).loglik(y, mu, scale=1.0))
        assert np.isnan(Tweedie(2.5).loglik_from_deviance(1.0, 2, 0.5))
        assert Tweedie(1.5).loglik_from_deviance(1.0, 2, 0.5) is None  # needs the rows


@pytest.mark.parametrize("p", [1.5, 2.5])
def test_array_api_strict(p):
    X, y = _simulate(p, n=50)
    mu = np.exp(0.2 + 0.3 * X[:, 0])
    m = _weights(len(y))
    fam = Tweedie(p)
    ys, mus, ms = xps.asarray(y), xps.asarray(mu), xps.asarray(m)
    for got, want in [(fam.variance(mus), fam.variance(mu)),
                      (fam.variance_deriv(mus), fam.variance_deriv(mu)),
                      (fam.unit_deviance(ys, mus), fam.unit_deviance(y, mu)),
                      (fam.deviance(ys, mus, ms), fam.deviance(y, mu, m)),
                      (fam.loglik(ys, mus, ms, scale=1.1), fam.loglik(y, mu, m, scale=1.1)),
                      (fam.starting_mu(ys), fam.starting_mu(y))]:
        assert isinstance(got, type(ys))
        assert_allclose(to_host(got), want, rtol=1e-14)
    assert fam.check_y(ys) is None


def test_construction_equality_and_pickle():
    fam = get_family("tweedie", power=1.5)
    assert fam == Tweedie(1.5) == pickle.loads(pickle.dumps(fam))
    assert fam != Tweedie(1.6) and fam != Tweedie(1.5, link="identity")
    assert hash(fam) == hash(Tweedie(power=1.5))
    assert repr(fam) == "Tweedie(power=1.5, link=Log())"
    assert get_family("tweedie", "identity", power=2).link.name == "identity"
    assert fam.separable and not Tweedie(2.5).separable  # zeros only for p < 2
    assert not fam.fixed_dispersion and not fam.has_canonical_link


@pytest.mark.parametrize("power,match", [
    (None, r"needs its variance power: get_family\('tweedie', power=p\)"),
    (0.5, r"no Tweedie distribution has power 0.5 in \(0, 1\)"),
    (-1.0, "not supported"),
    (np.nan, "must be finite"),
    ("1.5", "must be a number"),
])
def test_bad_power(power, match):
    with pytest.raises(ValueError, match=match):
        get_family("tweedie") if power is None else get_family("tweedie", power=power)


def test_bad_link_and_bare_name_in_an_estimator():
    with pytest.raises(ValueError, match="'logit' is not allowed for the tweedie family"):
        Tweedie(1.5, link="logit")
    X, y = _simulate(1.5, n=50)
    with pytest.raises(ValueError, match="must be a str among .* or an instance of"):
        PenalizedGLM(family="tweedie").fit(X, y)


@pytest.mark.parametrize("make", [
    lambda f: BiasReducedGLM(family=f), lambda f: PenalizedGLM(family=f),
    lambda f: DLSARegressor(family=f), lambda f: DebiasedLassoRegressor(family=f, alpha=0.1),
], ids=["brglm", "penalized", "dlsa", "debiased"])
def test_bad_response(make):
    X, y = _simulate(1.5, n=60)
    with pytest.raises(ValueError, match=r"tweedie family \(power=1.5\): y must be non-neg"):
        make(Tweedie(1.5)).fit(X, y - 1.0)
    with pytest.raises(ValueError, match=r"power=2.5\): y must be strictly positive \(y = 0"):
        make(Tweedie(2.5)).fit(X, y)


def test_all_zero_response():
    X, _ = _simulate(1.5, n=200)
    y = np.zeros(len(X))
    with pytest.raises(ValueError, match="y is 0 in every row .* does not exist"):
        BiasReducedGLM(family=Tweedie(1.5)).fit(X, y)
    with pytest.warns(UserWarning, match=r"does not exist.*intercept \(-inf\)"):
        PenalizedGLM(family=Tweedie(1.5)).fit(X, y)
    # as the Poisson family: the local fits are separated (a separable family with a
    # free dispersion), not a rank-deficient combined information
    with pytest.warns(UserWarning, match=r"does not exist: \[intercept \(-inf\)\]"):
        DLSARegressor(family=Tweedie(1.5), n_partitions=2).fit(X, y)


# ----------------------------------------------------------------------------------
# the estimators
# ----------------------------------------------------------------------------------


def _check_mle(model, ref, atol=1e-9):
    assert_allclose(model.params_, ref.params, rtol=0, atol=atol)
    assert_allclose(model.bse_, ref.bse, rtol=1e-7)
    assert_allclose(model.dispersion_, ref.scale, rtol=1e-9)  # Pearson chi2 / df_resid
    assert_allclose(model.deviance_, ref.deviance, rtol=1e-10)


def test_brglm_ml_is_statsmodels(case):
    p, X, y, ref = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BiasReducedGLM(family=Tweedie(p), method="ML", tol=1e-12).fit(X, y)
        table = model.summary()
    _check_mle(model, ref)
    assert_allclose(model.pearson_chi2_ / model.df_resid_, model.dispersion_, rtol=1e-12)
    assert list(table["std_err"]) == pytest.approx(list(ref.bse), rel=1e-7)
    llf = _sm_family(p).loglike(y, ref.mu, scale=ref.deviance / len(y))  # R's logLik scale
    if p < 2:  # scipy's series at p = 1.2: test_compound_poisson_loglik
        assert_allclose(model.loglik_, llf, rtol=1e-10 if p >= 1.5 else 1e-6)
        assert_allclose(model.aic_, -2 * model.loglik_ + 2 * (X.shape[1] + 2), rtol=1e-14)
    else:  # no density for p > 2 (other than 3)
        assert np.isnan(model.loglik_) and np.isnan(model.aic_) and np.isnan(model.bic_)


def test_dlsa_is_statsmodels(case):
    p, X, y, ref = case
    one = DLSARegressor(family=Tweedie(p), n_partitions=1).fit(X, y)
    assert_allclose(one.params_, ref.params, rtol=0, atol=1e-9)
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), 3))
    yd = da.from_array(y, chunks=block_chunks(len(y), 4))
    many = DLSARegressor(family=Tweedie(p), refine_steps=50, tol=1e-12).fit(Xd, yd)
    _check_mle(many, ref)


def test_penalized_unpenalised_is_statsmodels(case):
    p, X, y, ref = case
    _check_mle(PenalizedGLM(family=Tweedie(p), alpha=0.0, tol=1e-12).fit(X, y), ref, 1e-8)


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_penalized_is_sklearn(case, alpha):
    from sklearn.linear_model import TweedieRegressor

    p, X, y, _ = case
    w = _weights(len(y))
    # both minimise sum(w dev) / (2 sum w) + alpha / 2 ||coef||^2
    ref = TweedieRegressor(power=p, alpha=alpha, link="log", solver="newton-cholesky",
                           tol=1e-14, max_iter=1000).fit(X, y, sample_weight=w)
    model = PenalizedGLM(family=Tweedie(p), alpha=alpha, l1_ratio=0.0, tol=1e-12).fit(
        X, y, sample_weight=w)
    assert_allclose(np.r_[model.intercept_, model.coef_], np.r_[ref.intercept_, ref.coef_],
                    rtol=0, atol=1e-9)


def test_penalized_elastic_net_is_glum(case):
    glum = pytest.importorskip("glum")
    p, X, y, _ = case
    w = _weights(len(y))
    # both minimise D / (2 S) + alpha (rho ||coef||_1 + (1 - rho) / 2 ||coef||^2)
    ref = glum.GeneralizedLinearRegressor(
        family=glum.TweedieDistribution(p), link="log", alpha=0.02, l1_ratio=0.5,
        gradient_tol=1e-12, max_iter=1000).fit(X, y, sample_weight=w)
    model = PenalizedGLM(family=Tweedie(p), alpha=0.02, l1_ratio=0.5, tol=1e-12).fit(
        X, y, sample_weight=w)
    assert_allclose(np.r_[model.intercept_, model.coef_], np.r_[ref.intercept_, ref.coef_],
                    rtol=0, atol=1e-8)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_power_zero_and_one_are_sklearn(p):
    from sklearn.linear_model import TweedieRegressor

    X, y = _simulate(p)
    ref = TweedieRegressor(power=p, alpha=0.05, link="log", solver="newton-cholesky",
                           tol=1e-14, max_iter=1000).fit(X, y)
    model = PenalizedGLM(family=Tweedie(p), alpha=0.05, l1_ratio=0.0, tol=1e-12).fit(X, y)
    assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-9)


def test_power_two_is_gamma_and_method_dispersion():
    X, y = _simulate(2.0)
    a = BiasReducedGLM(family=Tweedie(2.0), dispersion="method").fit(X, y)
    b = BiasReducedGLM(family="gamma", link="log", dispersion="method").fit(X, y)
    assert_allclose(a.params_, b.params_, rtol=1e-12)
    assert_allclose(a.dispersion_, b.dispersion_, rtol=1e-12)
    assert_allclose(a.loglik_, b.loglik_, rtol=1e-12)


def test_method_dispersion_refused_without_a_density_form():
    X, y = _simulate(1.5, n=200)
    with pytest.raises(ValueError, match="power=1.5 has no dispersion estimating equation"):
        BiasReducedGLM(family=Tweedie(1.5), dispersion="method").fit(X, y)


def test_mbr_and_the_other_estimators_run():
    X, y = _simulate(1.5)
    ml = BiasReducedGLM(family=Tweedie(1.5), method="ML").fit(X, y)
    for method in ("mBR", "mJPL"):
        fit = BiasReducedGLM(family=Tweedie(1.5), method=method).fit(X, y)
        assert np.all(np.isfinite(fit.params_)) and np.all(np.isfinite(fit.bse_))
        assert np.max(np.abs(fit.params_ - ml.params_)) < 0.01  # an O(1/n) adjustment
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 3), 3))
    yd = da.from_array(y, chunks=block_chunks(len(y), 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the grid's edge: 4 alphas only
        cv = PenalizedGLMCV(family=Tweedie(1.5), n_alphas=4, cv=3).fit(Xd, yd)
    assert np.all(np.isfinite(cv.coef_)) and cv.alpha_ > 0
    dl = DebiasedLassoRegressor(alpha=0.01, family=Tweedie(1.5)).fit(Xd, yd)
    assert np.all(np.isfinite(dl.params_)) and np.all(np.isfinite(dl.bse_))


def test_identity_link_is_statsmodels():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(2000, 2))
    mu = 2.0 + X @ np.array([0.5, -0.3])
    p, phi = 1.5, 1.0
    N = rng.poisson(mu ** (2 - p) / (phi * (2 - p)))
    y = np.where(N > 0, rng.gamma(np.maximum(N * (2 - p) / (p - 1), 1e-300),
                                  phi * (p - 1) * mu ** (p - 1)), 0.0)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Tweedie(
        var_power=p, link=sm.families.links.Identity())).fit(
        start_params=[y.mean(), 0.0, 0.0], tol=1e-14, maxiter=500)
    model = BiasReducedGLM(family=Tweedie(p, link="identity"), method="ML",
                           tol=1e-12).fit(X, y)
    _check_mle(model, ref)
