"""PenalizedGLM with the negative binomial's alpha estimated jointly with the
coefficients (the PQN engine, solvers/pqn_ancillary.py).

Oracles: statsmodels' ``NegativeBinomial(loglike_method="nb2")`` and BiasReducedGLM(ML)
at ``alpha=0``; with an elastic-net penalty, the KKT conditions of the penalised negative
log-likelihood in (coefficients, alpha) computed in NumPy/SciPy on the full data, the
fixed-alpha fit at the estimate (profile consistency) and glum's fit at that alpha (its
``NegativeBinomialDistribution(theta)`` is NB2 with ``theta`` = alpha, and its objective
``D / (2 sum w) + penalty`` is ours); block-count invariance; the Poisson boundary.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy.special import gammaln

from dask_glmdist import (
    BiasReducedGLM,
    PenalizedGLM,
    PenalizedGLMCV,
    get_family,
    penalized_glm_path,
)
from dask_glmdist.solvers.ancillary import ALPHA_FLOOR, AncillaryBoundaryWarning

LAM, RHO = 0.02, 0.5


def nb_data(n=1500, p=3, alpha=0.7, seed=1):
    from conftest import _nb_sample

    return _nb_sample(n, alpha, seed, coef=np.r_[0.3, -0.2, 0.1, np.zeros(p - 3)])


def nb2_loglik(y, mu, a):
    """NB2 log-likelihood, written out (independent of the family's code)."""
    k = 1.0 / a
    return np.sum(gammaln(y + k) - gammaln(k) - gammaln(y + 1) + k * np.log(k / (k + mu))
                  + y * np.log(mu / (k + mu)))


@pytest.fixture(scope="module")
def unpenalised():
    X, y = nb_data()
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2").fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    m = PenalizedGLM("negative_binomial", n_partitions=3).fit(X, y)
    return X, y, ref, m


@pytest.fixture(scope="module")
def penalised():
    X, y = nb_data(p=6)
    m = PenalizedGLM("negative_binomial", alpha=LAM, l1_ratio=RHO, n_partitions=3).fit(X, y)
    return X, y, m


def test_unpenalised_equals_statsmodels_and_brglm(unpenalised):
    X, y, ref, m = unpenalised
    assert m.converged_
    assert_allclose(m.params_, ref.params[:4], rtol=0, atol=1e-7)
    assert_allclose(m.nb_alpha_, ref.params[4], rtol=0, atol=1e-7)
    assert_allclose(m.nb_alpha_bse_, ref.bse[4], rtol=1e-6)
    assert_allclose(m.loglik_, ref.llf, rtol=1e-12)
    assert_allclose(m.aic_, ref.aic, rtol=1e-12)   # alpha counted
    b = BiasReducedGLM("negative_binomial", method="ML", tol=1e-10).fit(X, y)
    assert_allclose(m.params_, b.params_, rtol=0, atol=1e-7)
    assert_allclose([m.nb_alpha_, m.nb_alpha_bse_], [b.nb_alpha_, b.nb_alpha_bse_], rtol=1e-6)
    assert_allclose(m.bse_, b.bse_, rtol=1e-7)      # glm.nb's: the GLM at the estimate
    assert_allclose([m.loglik_, m.deviance_, m.null_deviance_],
                    [b.loglik_, b.deviance_, b.null_deviance_], rtol=1e-9)
    assert m.family_ == get_family("negative_binomial", alpha=m.nb_alpha_)
    header = m.summary().attrs["header"]
    assert header["NB alpha"] == m.nb_alpha_ and header["NB alpha std. err."] == m.nb_alpha_bse_
    # the objective is the negative log-likelihood per row (not the deviance)
    assert_allclose(m.objective_, -m.loglik_ / len(y), rtol=1e-12)


def test_penalised_kkt_conditions(penalised):
    X, y, m = penalised
    assert m.converged_ and np.isnan(m.nb_alpha_bse_) and not hasattr(m, "bse_")
    n, a = len(y), m.nb_alpha_
    Xt = np.column_stack([np.ones(n), X])
    mu = np.exp(Xt @ m.params_)
    # alpha: the derivative of the log-likelihood (central difference in log alpha)
    h = 1e-5
    g_t = (nb2_loglik(y, mu, a * np.exp(h)) - nb2_loglik(y, mu, a * np.exp(-h))) / (2 * h)
    assert abs(g_t / n) < 1e-7
    # coefficients: gradient of -loglik / n + penalty (NB2, log link)
    grad = -Xt.T @ ((y - mu) / (1.0 + a * mu)) / n
    assert abs(grad[0]) < 1e-8
    b, g = m.params_[1:], grad[1:]
    nz = b != 0
    assert nz.sum() >= 3 and (~nz).sum() >= 1
    assert_allclose(g[nz] + LAM * RHO * np.sign(b[nz]) + LAM * (1 - RHO) * b[nz], 0,
                    atol=1e-8)
    assert np.all(np.abs(g[~nz]) <= LAM * RHO + 1e-10)
    assert_allclose(m.objective_, -nb2_loglik(y, mu, a) / n
                    + LAM * (RHO * np.abs(b).sum() + (1 - RHO) / 2 * b @ b), rtol=1e-12)


def test_penalised_profile_consistency_and_glum(penalised):
    X, y, m = penalised
    fixed = PenalizedGLM(get_family("negative_binomial", alpha=m.nb_alpha_), alpha=LAM,
                         l1_ratio=RHO, n_partitions=3).fit(X, y)
    assert_allclose(fixed.params_, m.params_, rtol=0, atol=1e-7)
    from glum import GeneralizedLinearRegressor
    from glum._distribution import NegativeBinomialDistribution

    g = GeneralizedLinearRegressor(family=NegativeBinomialDistribution(theta=m.nb_alpha_),
                                   link="log", alpha=LAM, l1_ratio=RHO, gradient_tol=1e-12,
                                   max_iter=1000).fit(X, y)
    assert_allclose(np.r_[g.intercept_, g.coef_], m.params_, rtol=0, atol=1e-7)
    # passes: estimating alpha costs a few rounds more than the fit at a fixed alpha
    assert m.n_rounds_ <= fixed.n_rounds_ + 4


def test_block_count_invariance(penalised):
    X, y, m = penalised
    one = PenalizedGLM("negative_binomial", alpha=LAM, l1_ratio=RHO, n_partitions=1).fit(X, y)
    many = PenalizedGLM("negative_binomial", alpha=LAM, l1_ratio=RHO, n_partitions=7).fit(X, y)
    for other in (one, many):
        assert_allclose(other.params_, m.params_, rtol=0, atol=1e-9)
        assert_allclose(other.nb_alpha_, m.nb_alpha_, rtol=1e-9)


def test_offset_weights_and_standardize(nb_sample):
    X, y, off = nb_sample(n=1200, alpha=0.5, seed=5, coef=(0.4, -0.3), intercept=0.3,
                          offset=True)
    rng = np.random.default_rng(6)
    m = PenalizedGLM("negative_binomial", n_partitions=3).fit(X, y, offset=off)
    ref = sm.NegativeBinomial(y, sm.add_constant(X), loglike_method="nb2", offset=off).fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    assert_allclose(m.params_, ref.params[:3], atol=1e-7)
    assert_allclose([m.nb_alpha_, m.nb_alpha_bse_], ref.params[3:].tolist() + [ref.bse[3]],
                    rtol=1e-6)
    # integer weights are repeated rows
    w = rng.integers(0, 3, 1200)
    kw = dict(alpha=LAM, l1_ratio=RHO, standardize=True)
    a = PenalizedGLM("negative_binomial", **kw).fit(X, y, sample_weight=w)
    rep = np.repeat(np.arange(1200), w)
    b = PenalizedGLM("negative_binomial", **kw).fit(X[rep], y[rep])
    assert_allclose(a.params_, b.params_, atol=1e-8)
    assert_allclose(a.nb_alpha_, b.nb_alpha_, rtol=1e-8)


def test_no_overdispersion_alpha_on_boundary():
    rng = np.random.default_rng(3)  # binomial counts: underdispersed, alpha's MLE is 0
    X = rng.normal(size=(2000, 2))
    y = rng.binomial(6, 1.0 / (1.0 + np.exp(-0.2 - X @ [0.3, -0.2]))).astype(float)
    with pytest.warns(AncillaryBoundaryWarning, match="reduces to the Poisson model"):
        m = PenalizedGLM("negative_binomial").fit(X, y)
    assert m.nb_alpha_ == ALPHA_FLOOR and np.isnan(m.nb_alpha_bse_) and m.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AncillaryBoundaryWarning)
        b = BiasReducedGLM("negative_binomial", method="ML", tol=1e-10).fit(X, y)
    p = PenalizedGLM("poisson").fit(X, y)
    assert_allclose(m.params_, p.params_, atol=1e-7)
    assert_allclose(m.params_, b.params_, atol=1e-7)
    assert_allclose(m.loglik_, b.loglik_, rtol=1e-12)


def test_cv_refuses_estimated_alpha():
    X, y = nb_data(n=200)
    with pytest.raises(ValueError, match="PenalizedGLMCV does not estimate"):
        PenalizedGLMCV(family="negative_binomial").fit(X, y)


def test_path_reestimates_alpha_at_every_penalty(penalised):
    X, y, _ = penalised
    path = penalized_glm_path(X, y, family="negative_binomial", l1_ratio=RHO, n_alphas=6,
                              n_partitions=3)
    assert path.converged.all() and path.ancillary.shape == (6,)
    assert not path.coef[0].any()   # alpha_max holds at every NB alpha (Poisson bound)
    # the first solution: the intercept-only maximum likelihood fit of (b0, alpha)
    ref = sm.NegativeBinomial(y, np.ones((len(y), 1)), loglike_method="nb2").fit(
        method="newton", disp=0, tol=1e-12, maxiter=100)
    assert_allclose([path.intercept[0], path.ancillary[0]], ref.params, rtol=1e-7)
    for i in (2, 5):
        m = PenalizedGLM("negative_binomial", alpha=path.alphas[i], l1_ratio=RHO,
                         n_partitions=3).fit(X, y)
        assert_allclose(path.coef[i], m.coef_, rtol=0, atol=1e-7)
        assert_allclose(path.ancillary[i], m.nb_alpha_, rtol=1e-7)
    fixed = penalized_glm_path(X, y, family="poisson", n_alphas=3)
    assert fixed.ancillary is None


def test_sandwich_and_bound_with_estimated_alpha(unpenalised):
    X, y, _, m = unpenalised
    hc = PenalizedGLM("negative_binomial", cov_type="HC0", n_partitions=3).fit(X, y)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.NegativeBinomial(
        alpha=hc.nb_alpha_)).fit(cov_type="HC0", tol=1e-13)
    assert_allclose(hc.bse_, glm.bse, rtol=1e-7)   # the sandwich at the estimated alpha
    assert_allclose(hc.nb_alpha_bse_, m.nb_alpha_bse_, rtol=1e-12)  # both rode one pass
    assert hc.n_rounds_ == m.n_rounds_
    box = PenalizedGLM("negative_binomial", max_abs_coef=0.15).fit(X, y)
    assert box.n_at_bound_ == 2 and np.isnan(box.nb_alpha_bse_) and box.converged_
