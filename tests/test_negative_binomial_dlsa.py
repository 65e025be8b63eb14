"""DLSARegressor with the negative binomial's alpha estimated (solvers/dlsa_ancillary.py).

Oracles: one block is the global MLE (BiasReducedGLM ML, statsmodels'
``NegativeBinomial(loglike_method="nb2")``); K blocks refined to convergence are the
global MLE; the one-round K-block estimate is within a fraction of a standard error of
it (the paper's theory); a block without overdispersion is named and harmless.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from dask_glmdist import BiasReducedGLM, DLSALogisticRegression, DLSARegressor
from dask_glmdist.families import NegativeBinomial
from dask_glmdist.solvers.ancillary import AncillaryBoundaryWarning


def nb_data(n=6000, alpha=0.7, seed=1, p=3):
    from conftest import _nb_sample

    return _nb_sample(n, alpha, seed, coef=np.linspace(0.3, -0.2, p))


@pytest.fixture(scope="module")
def generated():
    X, y = nb_data()
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2").fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    ml = BiasReducedGLM(family="negative_binomial", method="ML", tol=1e-10).fit(X, y)
    return X, y, ref, ml


def dlsa(X, y, K, refine_steps, **kw):
    return DLSARegressor(family="negative_binomial", n_partitions=K, tol=1e-10,
                         refine_steps=refine_steps, **kw).fit(X, y)


def check_is_mle(m, ref, ml, tol=1e-6):
    assert_allclose(m.params_, ref.params[:-1], rtol=0, atol=tol)
    assert_allclose(m.nb_alpha_, ref.params[-1], rtol=tol)
    assert_allclose(m.nb_alpha_bse_, ref.bse[-1], rtol=tol)   # observed joint information
    assert_allclose(m.bse_, ml.bse_, rtol=tol)                # glm.nb's (expected, alpha-hat)
    assert_allclose([m.loglik_, m.aic_, m.bic_], [ref.llf, ref.aic, ref.bic], rtol=1e-9)
    assert_allclose(m.deviance_, ml.deviance_, rtol=1e-9)


@pytest.mark.parametrize("refine_steps", [0, 1])
def test_one_block_is_the_global_mle(generated, refine_steps):
    X, y, ref, ml = generated
    m = dlsa(X, y, 1, refine_steps)
    check_is_mle(m, ref, ml)
    assert m.family_ == NegativeBinomial(alpha=m.nb_alpha_)
    header = m.summary().attrs["header"]
    assert header["NB alpha"] == m.nb_alpha_ and header["AIC"] == m.aic_


def test_refined_blocks_are_the_global_mle(generated):
    X, y, ref, ml = generated
    m = dlsa(X, y, 4, 50)
    check_is_mle(m, ref, ml)
    # joint Newton: quadratic convergence, the rounds stop once converged
    assert m.converged_ and len(m.refine_step_se_) <= 4 and m.refine_step_se_[-1] < 1e-6
    assert m.n_rounds_ == 2 + len(m.refine_step_se_)  # local fits, rounds, statistics


def test_one_round_within_a_fraction_of_a_standard_error(generated):
    X, y, ref, _ = generated
    m = dlsa(X, y, 4, 0)
    se = ref.bse
    assert np.max(np.abs(m.params_ - ref.params[:-1]) / se[:-1]) < 0.25
    assert abs(m.nb_alpha_ - ref.params[-1]) / se[-1] < 0.25
    assert_allclose(m.nb_alpha_bse_, ref.bse[-1], rtol=0.02)
    assert m.n_rounds_ == 2
    one = dlsa(X, y, 4, 1)  # TDLSA: one joint Newton step
    assert np.max(np.abs(one.params_ - ref.params[:-1]) / se[:-1]) < 1e-3
    assert abs(one.nb_alpha_ - ref.params[-1]) / se[-1] < 1e-3


def test_block_without_overdispersion_is_named_and_harmless():
    X, y = nb_data(n=8000, alpha=0.5, seed=4)
    rng = np.random.default_rng(9)
    rows = slice(2000, 4000)  # block 1 of 4: underdispersed counts (alpha-hat -> 0)
    mu = np.exp(0.5 + X[rows] @ np.linspace(0.3, -0.2, 3))
    y[rows] = rng.binomial(40, mu / 40.0)
    with pytest.warns(AncillaryBoundaryWarning, match=r"block\(s\) \[1\]: .* no overdisp"):
        m = dlsa(X, y, 4, 0)
    assert np.all(np.isfinite(m.params_)) and np.isfinite(m.nb_alpha_bse_)
    assert list(m.block_diagnostics_["problem"]) == ["alpha_boundary"]
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2").fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AncillaryBoundaryWarning)
        refined = dlsa(X, y, 4, 50)
    assert_allclose(refined.params_, ref.params[:-1], atol=1e-6)
    assert_allclose(refined.nb_alpha_, ref.params[-1], rtol=1e-6)
    assert_allclose(refined.nb_alpha_bse_, ref.bse[-1], rtol=1e-6)


def test_poisson_data_every_block_on_the_boundary():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 2))
    y = rng.binomial(6, 1.0 / (1.0 + np.exp(-0.2 - X @ [0.3, -0.2]))).astype(float)
    with pytest.warns(AncillaryBoundaryWarning, match="reduces to the Poisson model") as rec:
        m = dlsa(X, y, 3, 1)
    assert len(rec) == 1  # not also the blocks' warning: there are no other blocks
    p = DLSARegressor(family="poisson", n_partitions=3, tol=1e-10).fit(X, y)
    assert np.isnan(m.nb_alpha_bse_)
    assert_allclose(m.params_, p.params_, atol=1e-6)


def test_weights_and_offset_equal_biasreduced_ml():
    X, y = nb_data(n=3000, seed=6)
    rng = np.random.default_rng(2)
    w = rng.integers(0, 3, 3000).astype(float)
    off = rng.uniform(-0.3, 0.3, 3000)
    ml = BiasReducedGLM(family="negative_binomial", method="ML", tol=1e-10).fit(
        X, y, sample_weight=w, offset=off)
    m = DLSARegressor(family="negative_binomial", n_partitions=3, tol=1e-10,
                      refine_steps=50).fit(X, y, sample_weight=w, offset=off)
    assert_allclose(m.params_, ml.params_, atol=1e-6)
    assert_allclose([m.nb_alpha_, m.nb_alpha_bse_], [ml.nb_alpha_, ml.nb_alpha_bse_],
                    rtol=1e-6)
    assert_allclose(m.bse_, ml.bse_, rtol=1e-6)
    assert_allclose(m.loglik_, ml.loglik_, rtol=1e-9)


def test_adaptive_lasso_profiles_alpha_out():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(6000, 5))
    mu = np.exp(0.4 + X @ [0.5, -0.4, 0.0, 0.0, 0.3])
    y = rng.negative_binomial(2.0, 1.0 / (1.0 + 0.5 * mu)).astype(float)
    full = dlsa(X, y, 4, 1)
    m = dlsa(X, y, 4, 1, penalty="adaptive_lasso")
    assert_allclose(m.coef_[[2, 3]], 0.0)
    assert np.all(m.coef_[[0, 1, 4]] != 0)
    # alpha is unpenalised: the joint quadratic's maximiser at the selected coefficients
    assert abs(m.nb_alpha_ - full.nb_alpha_) < 0.05 * full.nb_alpha_bse_
    assert 0.9 < m.nb_alpha_bse_ / full.nb_alpha_bse_ <= 1.0 + 1e-9
    assert m.aic_ == pytest.approx(-2 * m.loglik_ + 2 * (6 + 1))


def test_fixed_alpha_and_the_classifier_unchanged(generated):
    X, y, _, _ = generated
    fixed = DLSARegressor(family=NegativeBinomial(alpha=0.7), n_partitions=3,
                          refine_steps=20).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.NegativeBinomial(alpha=0.7)
                 ).fit(tol=1e-13)
    assert_allclose(fixed.params_, glm.params, atol=1e-6)
    assert fixed.nb_alpha_ == 0.7 and np.isnan(fixed.nb_alpha_bse_)
    assert_allclose(fixed.aic_, glm.aic, rtol=1e-10)
    clf = DLSALogisticRegression(n_partitions=3).fit(X, y > 2)
    assert not hasattr(clf, "nb_alpha_")


def test_dask_input_and_sandwich_at_alpha_hat():
    import dask.array as da

    X, y = nb_data(n=4000, seed=8)
    ml = BiasReducedGLM(family="negative_binomial", method="ML", tol=1e-10,
                        cov_type="HC1").fit(X, y)
    m = DLSARegressor(family="negative_binomial", refine_steps=30, tol=1e-10,
                      cov_type="HC1").fit(da.from_array(X, chunks=(1000, 3)),
                                          da.from_array(y, chunks=1000))
    assert m.n_blocks_ == 4
    assert_allclose(m.params_, ml.params_, atol=1e-8)
    assert_allclose(m.bse_, ml.bse_, rtol=1e-8)
    assert_allclose(m.nb_alpha_, ml.nb_alpha_, rtol=1e-8)
