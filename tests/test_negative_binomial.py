"""Negative binomial (NB2) with alpha estimated jointly with the coefficients.

Oracles: R's ``MASS::glm.nb`` and Stata's ``nbreg`` on the RAND HIE data (the values
statsmodels ships in ``discrete/tests/results/results_discrete.py``), statsmodels'
``NegativeBinomial(loglike_method="nb2")`` and ``GLM`` at the estimated alpha on
generated data, the block-count invariance, the Poisson boundary.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    PenalizedGLM,
    get_family,
)
from dask_glmdist.families import NegativeBinomial
from dask_glmdist.solvers.ancillary import ALPHA_FLOOR, AncillaryBoundaryWarning


@pytest.fixture(scope="module")
def generated(nb_sample):
    X, y = nb_sample()
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2").fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    return X, y, ref


def fit_ml(X, y, family="negative_binomial", **kw):
    return BiasReducedGLM(family=family, method="ML", tol=1e-10, **kw).fit(X, y)


def test_randhie_equals_r_glm_nb_and_stata():
    from statsmodels.discrete.tests.results.results_discrete import RandHIE

    data = sm.datasets.randhie.load()
    y, X = np.asarray(data.endog, float), np.asarray(data.exog, float)
    r = RandHIE.negativebinomial_nb2_bfgs  # constant last; alpha, its std. err.: Stata
    m = fit_ml(X, y, n_partitions=4)
    assert_allclose(m.params_, np.r_[r.params[9], r.params[:9]], rtol=0, atol=1e-7)
    assert_allclose(m.bse_, np.r_[r.bse[9], r.bse[:9]], rtol=1e-7)  # glm.nb's
    assert_allclose(m.nb_alpha_, r.params[10], rtol=1e-8)
    assert_allclose(m.nb_alpha_bse_, r.bse[10], rtol=1e-5)  # Stata prints 6 digits
    assert_allclose(m.nb_alpha_bse_ / m.nb_alpha_, r.lnalpha_std_err, rtol=1e-5)
    assert_allclose([m.loglik_, m.aic_, m.bic_], [r.llf, r.aic, r.bic], rtol=1e-12)


def test_generated_equals_statsmodels(generated):
    X, y, ref = generated
    m = fit_ml(X, y, n_partitions=3)
    assert_allclose(m.params_, ref.params[:4], rtol=0, atol=1e-8)
    assert_allclose(m.nb_alpha_, ref.params[4], rtol=0, atol=1e-8)
    assert_allclose(m.nb_alpha_bse_, ref.bse[4], rtol=1e-7)
    assert_allclose(m.loglik_, ref.llf, rtol=1e-12)
    assert_allclose(m.aic_, ref.aic, rtol=1e-12)  # alpha counts: -2 loglik + 2 (p + 1)
    # beta's standard errors and the deviance: R's glm.nb, the GLM at the estimated alpha
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.NegativeBinomial(alpha=m.nb_alpha_)
                 ).fit(tol=1e-13)
    assert_allclose(m.bse_, glm.bse, rtol=1e-7)
    assert_allclose(m.deviance_, glm.deviance, rtol=1e-10)
    assert_allclose(m.null_deviance_, glm.null_deviance, rtol=1e-10)
    assert m.family_ == NegativeBinomial(alpha=m.nb_alpha_)
    header = m.summary().attrs["header"]
    assert header["NB alpha"] == m.nb_alpha_ and header["NB alpha std. err."] == m.nb_alpha_bse_


def test_block_count_invariance(generated):
    X, y, _ = generated
    one, many = fit_ml(X, y, n_partitions=1), fit_ml(X, y, n_partitions=7)
    assert_allclose(many.params_, one.params_, rtol=0, atol=1e-10)
    assert_allclose(many.nb_alpha_, one.nb_alpha_, rtol=1e-10)
    assert_allclose(many.nb_alpha_bse_, one.nb_alpha_bse_, rtol=1e-9)


def test_api_string_class_and_fixed_alpha(generated):
    X, y, _ = generated
    a = fit_ml(X, y, family=NegativeBinomial())
    b = fit_ml(X, y, family=get_family("negative_binomial"))
    assert_allclose(a.nb_alpha_, b.nb_alpha_, rtol=1e-12)
    fixed = fit_ml(X, y, family=get_family("negative_binomial", alpha=0.5))
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.NegativeBinomial(alpha=0.5)
                 ).fit(tol=1e-13)
    assert fixed.nb_alpha_ == 0.5 and np.isnan(fixed.nb_alpha_bse_)
    assert_allclose(fixed.params_, glm.params, atol=1e-8)
    assert_allclose(fixed.aic_, glm.aic, rtol=1e-12)  # alpha fixed: not counted
    # passes: estimating alpha adds a pass or two to the fit at the same alpha
    at = fit_ml(X, y, family=get_family("negative_binomial", alpha=a.nb_alpha_))
    assert a.n_rounds_ <= at.n_rounds_ + 3


def test_poisson_data_alpha_on_boundary():
    rng = np.random.default_rng(3)  # binomial counts: underdispersed, alpha's MLE is 0
    X = rng.normal(size=(2000, 2))
    y = rng.binomial(6, 1.0 / (1.0 + np.exp(-0.2 - X @ [0.3, -0.2]))).astype(float)
    with pytest.warns(AncillaryBoundaryWarning, match="reduces to the Poisson model"):
        m = fit_ml(X, y)
    assert m.nb_alpha_ == ALPHA_FLOOR and np.isnan(m.nb_alpha_bse_)
    p = fit_ml(X, y, family="poisson")
    assert_allclose(m.params_, p.params_, atol=1e-7)
    assert_allclose(m.loglik_, p.loglik_, atol=1e-5)


def test_refusals_and_bad_y(generated):
    X, y, _ = generated
    with pytest.raises(ValueError, match="method='mBR' with the negative_binomial"):
        BiasReducedGLM(family="negative_binomial").fit(X, y)
    for est in (DebiasedLassoRegressor(family=NegativeBinomial()),):
        with pytest.raises(ValueError, match="does not estimate the negative_binomial"):
            est.fit(X, y)
    with pytest.raises(ValueError, match="y must be non-negative"):
        fit_ml(X, -y)
    # fixed alpha works in the other estimators as before
    est = PenalizedGLM(family=NegativeBinomial(alpha=0.7), alpha=0.0).fit(X, y)
    assert est.coef_.shape == (3,)


def test_all_zero_y_is_separation_as_for_poisson(nb_sample):
    X, _ = nb_sample(n=300)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit_ml(X, np.zeros(300))
    assert any("y is 0 in every row" in str(w.message) for w in rec)


def test_offset_equals_statsmodels_and_null_deviance(nb_sample):
    X, y, off = nb_sample(n=1200, alpha=0.5, seed=5, coef=(0.4, -0.3), intercept=0.3,
                          offset=True)
    m = BiasReducedGLM(family="negative_binomial", method="ML", tol=1e-10,
                       n_partitions=3).fit(X, y, offset=off)
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2", offset=off).fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    assert_allclose(m.params_, ref.params[:3], atol=1e-8)
    assert_allclose(m.nb_alpha_, ref.params[3], atol=1e-8)
    assert_allclose(m.nb_alpha_bse_, ref.bse[3], rtol=1e-7)
    glm = sm.GLM(y, sm.add_constant(X), offset=off,
                 family=sm.families.NegativeBinomial(alpha=m.nb_alpha_)).fit(tol=1e-13)
    assert_allclose(m.null_deviance_, glm.null_deviance, rtol=1e-9)
