"""A user's own ``Family`` fits correctly in every estimator.

* a Tweedie (p = 1.5) family written from scratch -- variance mu^1.5, its own unit
  deviance, log link -- against statsmodels' ``Tweedie(var_power=1.5)`` GLM and
  scikit-learn's / glum's penalised Tweedie regressions;
* renamed copies of the built-in families (same mathematics, another ``name``) give
  exactly the built-in results: nothing in the package decides on a family's name.
"""

import warnings

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm
from conftest import block_chunks

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
)
from dask_glmdist.families import POSITIVE, Binomial, Family, Gamma, Gaussian, Poisson

P = 1.5


class Tweedie15(Family):
    """Tweedie family with power 1.5 (compound Poisson-gamma), log link."""

    name = "tweedie15"
    canonical_link = "log"
    allowed_links = ("log",)
    fixed_dispersion = False
    domain = POSITIVE

    def variance(self, mu):
        return mu * mu**0.5

    def variance_deriv(self, mu):
        return 1.5 * mu**0.5

    def unit_deviance(self, y, mu):
        # 2 [y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)], p = 1.5
        sm_ = mu**0.5
        return 2.0 * (-4.0 * y**0.5 + 2.0 * y / sm_ + 2.0 * sm_)

    def starting_mu(self, y, weights=None):
        return 1.0 * y + 0.1


def _tweedie_data(n=3000, seed=0, phi=1.2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) @ np.linalg.cholesky(0.3 + 0.7 * np.eye(3)).T
    mu = np.exp(0.3 + X @ np.array([0.4, -0.25, 0.1]))
    lam = mu ** (2 - P) / (phi * (2 - P))          # compound Poisson-gamma
    shape, scale = (2 - P) / (P - 1), phi * (P - 1) * mu ** (P - 1)
    N = rng.poisson(lam)
    y = np.where(N > 0, rng.gamma(np.maximum(N * shape, 1e-300), scale), 0.0)
    return X, y


@pytest.fixture(scope="module")
def tweedie():
    X, y = _tweedie_data()
    fam = sm.families.Tweedie(var_power=P, link=sm.families.links.Log())
    ref = sm.GLM(y, sm.add_constant(X), family=fam).fit(tol=1e-14, maxiter=200)
    return X, y, ref


def _check_glm(model, ref):
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-7)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=0, atol=1e-6)


def test_dlsa_one_block_is_statsmodels_tweedie(tweedie):
    X, y, ref = tweedie
    _check_glm(DLSARegressor(family=Tweedie15(), n_partitions=1).fit(X, y), ref)


def test_dlsa_refined_is_statsmodels_tweedie(tweedie):
    X, y, ref = tweedie
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), 3))
    yd = da.from_array(y, chunks=block_chunks(len(y), 4))
    model = DLSARegressor(family=Tweedie15(), refine_steps=50, tol=1e-12).fit(Xd, yd)
    _check_glm(model, ref)


def test_brglm_ml_is_statsmodels_tweedie(tweedie):
    X, y, ref = tweedie
    model = BiasReducedGLM(family=Tweedie15(), method="ML", dispersion="pearson",
                           tol=1e-12).fit(X, y)
    _check_glm(model, ref)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=1e-10)


def test_penalized_unpenalised_is_statsmodels_tweedie(tweedie):
    X, y, ref = tweedie
    model = PenalizedGLM(family=Tweedie15(), alpha=0.0, tol=1e-12).fit(X, y)
    _check_glm(model, ref)


def test_penalized_ridge_is_sklearn_tweedie(tweedie):
    from sklearn.linear_model import TweedieRegressor

    X, y, _ = tweedie
    # both minimise D / (2 n) + alpha / 2 ||coef||^2
    ref = TweedieRegressor(power=P, alpha=0.05, link="log", solver="newton-cholesky",
                           tol=1e-12, max_iter=1000).fit(X, y)
    model = PenalizedGLM(family=Tweedie15(), alpha=0.05, l1_ratio=0.0, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-8)


def test_penalized_elastic_net_is_glum_tweedie(tweedie):
    glum = pytest.importorskip("glum")
    X, y, _ = tweedie
    # both minimise D / (2 n) + alpha (rho ||coef||_1 + (1 - rho) / 2 ||coef||^2)
    ref = glum.GeneralizedLinearRegressor(
        family=glum.TweedieDistribution(P), link="log", alpha=0.02, l1_ratio=0.5,
        gradient_tol=1e-12, max_iter=1000).fit(X, y)
    model = PenalizedGLM(family=Tweedie15(), alpha=0.02, l1_ratio=0.5, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-7)


def test_cv_and_debiased_lasso_fit_a_custom_family(tweedie):
    X, y, _ = tweedie
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 3), 3))
    yd = da.from_array(y, chunks=block_chunks(len(y), 3))
    cv = PenalizedGLMCV(family=Tweedie15(), n_alphas=4, cv=3).fit(Xd, yd)
    assert np.all(np.isfinite(cv.coef_)) and cv.alpha_ > 0
    dl = DebiasedLassoRegressor(alpha=0.01, family=Tweedie15()).fit(Xd, yd)
    assert np.all(np.isfinite(dl.params_)) and np.all(np.isfinite(dl.bse_))


# ------------------------------------------------------------------------------------
# renamed copies of the built-in families
# ------------------------------------------------------------------------------------


class MyBinomial(Binomial):
    name = "mybinomial"


class MyPoisson(Poisson):
    name = "mypoisson"


class MyGaussian(Gaussian):
    name = "mygaussian"


class MyGamma(Gamma):
    name = "mygamma"


def _renamed_data(kind, seed=3, n=600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    eta = 0.2 + X @ np.array([0.5, -0.4, 0.3])
    w = None
    if kind == "binomial":     # a one-sided dummy: quasi-separation
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
        X[:, 2] = (rng.random(n) < 0.05).astype(float)
        y[X[:, 2] == 1] = 1.0
    elif kind == "poisson":    # an all-zero group
        X[:, 2] = (rng.random(n) < 0.05).astype(float)
        y = rng.poisson(np.exp(eta)).astype(float)
        y[X[:, 2] == 1] = 0.0
    elif kind == "gaussian":
        y = eta + rng.normal(size=n)
    else:
        y = rng.gamma(3.0, np.exp(0.3 * eta) / 3.0)
        w = rng.integers(1, 4, size=n).astype(float)
    return X, y, w


ESTIMATORS = {
    "dlsa": lambda fam: DLSARegressor(family=fam, n_partitions=3, refine_steps=3),
    "brglm_ml": lambda fam: BiasReducedGLM(family=fam, method="ML"),
    "brglm_mbr": lambda fam: BiasReducedGLM(family=fam, method="mBR"),
    "pqn": lambda fam: PenalizedGLM(family=fam, alpha=0.0, n_partitions=3),
    "pqn_enet": lambda fam: PenalizedGLM(family=fam, alpha=0.01, l1_ratio=0.5,
                                         n_partitions=3),
    "cv": lambda fam: PenalizedGLMCV(family=fam, n_alphas=3, cv=3, n_partitions=3),
    "debiased": lambda fam: DebiasedLassoRegressor(alpha=0.02, family=fam, n_partitions=3),
}

COPIES = {"binomial": (Binomial, MyBinomial), "poisson": (Poisson, MyPoisson),
          "gaussian": (Gaussian, MyGaussian), "gamma": (Gamma, MyGamma)}


def _fit(make, fam, X, y, w):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = make(fam).fit(X, y, sample_weight=w)
        except ValueError as exc:   # the same refusal for both
            return None, [(ValueError, str(exc).replace(fam.name, "<family>"))]
    said = [(c.category, str(c.message).replace(fam.name, "<family>")) for c in caught]
    return model, said


def _results(model):
    out = {}
    for name in ("params_", "bse_", "deviance_", "n_iter_", "n_rounds_", "converged_",
                 "alpha_", "dispersion_"):
        value = getattr(model, name, None)
        if value is not None:
            out[name] = np.asarray(value, dtype=float)
    out["flags"] = sorted((k, v.kind) for k, v in getattr(model, "param_flags_", {}).items())
    return out


@pytest.mark.parametrize("kind", list(COPIES))
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_renamed_copy_gives_the_builtin_results(kind, estimator):
    X, y, w = _renamed_data(kind)
    builtin, renamed = COPIES[kind]
    ref, said_ref = _fit(ESTIMATORS[estimator], builtin(), X, y, w)
    got, said = _fit(ESTIMATORS[estimator], renamed(), X, y, w)
    assert said == said_ref
    if ref is None:
        assert got is None
        return
    a, b = _results(ref), _results(got)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
