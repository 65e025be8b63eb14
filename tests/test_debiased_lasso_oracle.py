"""DebiasedLassoRegressor against statsmodels' DistributedModel and closed forms.

statsmodels is the parity oracle: the same row partitions must give the same numbers
(``fit_intercept=False``; statsmodels has no intercept option). Its coordinate descent
stops after at most 50 sweeps (``cnvrg_tol=1e-10``), so the designs here are well
conditioned enough for it to converge, and the main fits get ``maxiter=500``.
"""

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.base.distributed_estimation as sde
from statsmodels.base.distributed_estimation import (
    DistributedModel,
    _est_regularized_naive,
    _est_unregularized_naive,
    _join_naive,
)
from statsmodels.stats.regularized_covariance import RegularizedInvCovariance

from dask_glmdist import DebiasedLassoRegressor

PARITY = 1e-6


def _sizes(n, k):
    sizes = [n // k] * k
    for i in range(n % k):
        sizes[i] += 1
    return np.cumsum([0] + sizes)


def _partitions(X, y, k):
    b = _sizes(X.shape[0], k)
    for i in range(k):
        yield y[b[i]:b[i + 1]], X[b[i]:b[i + 1]]


def _design(rng, n, p, rho=0.3):
    """AR(1)-correlated gaussian features."""
    Z = rng.normal(size=(n, p))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    return X


def _beta(p):
    beta = np.zeros(p)
    beta[:4] = [1.0, -0.8, 0.5, 0.3]
    return beta


@pytest.fixture(scope="module")
def gaussian_data():
    rng = np.random.default_rng(20261124)
    X = _design(rng, 3000, 9)
    y = X @ _beta(9) + rng.normal(size=3000)
    return X, y


@pytest.fixture(scope="module")
def logistic_data():
    rng = np.random.default_rng(7)
    X = _design(rng, 4000, 9)
    eta = X @ _beta(9)
    y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def _statsmodels(X, y, k, alpha, *, family=None, method="debiased", threshold=0.0, L1_wt=1.0):
    init = {} if family is None else {"family": family}
    model_class = None if family is None else sm.GLM
    # zero_tol=0: statsmodels' coordinate descent otherwise freezes at 0, for good, any
    # coefficient that touches 0 after the first sweep, and can stop short of the
    # optimum (test_statsmodels_freezing_zeros_stops_short below)
    fit_kwds = {"alpha": alpha, "L1_wt": L1_wt, "maxiter": 500, "zero_tol": 0.0}
    if method == "debiased":
        est_kwds = {"score_kwds": {"scale": 1}} if family is None else {}
        dm = DistributedModel(k, model_class=model_class, init_kwds=init,
                              estimation_kwds=est_kwds, join_kwds={"threshold": threshold})
    elif method == "naive":
        dm = DistributedModel(k, model_class=model_class, init_kwds=init,
                              estimation_method=_est_regularized_naive,
                              join_method=_join_naive, join_kwds={"threshold": threshold})
    else:
        fit_kwds = {}
        dm = DistributedModel(k, model_class=model_class, init_kwds=init,
                              estimation_method=_est_unregularized_naive,
                              join_method=_join_naive, join_kwds={"threshold": threshold})
    return np.asarray(dm.fit(_partitions(X, y, k), fit_kwds=fit_kwds).params)


# ----------------------------------------------------------------------------------
# parity with statsmodels
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 4])  # p = 9: not divisible by 4 (mosaic shares 3,3,3,0)
@pytest.mark.parametrize("method", ["debiased", "naive", "naive_unregularized"])
@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_gaussian_parity(gaussian_data, k, method, threshold):
    X, y = gaussian_data
    ref = _statsmodels(X, y, k, 0.05, method=method, threshold=threshold)
    ours = DebiasedLassoRegressor(alpha=0.05, method=method, threshold=threshold,
                                  fit_intercept=False, n_partitions=k).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=PARITY)
    if threshold:
        assert np.any(ours.coef_ == 0) and np.array_equal(ours.coef_ == 0, ref == 0)


@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("method", ["debiased", "naive", "naive_unregularized"])
def test_binomial_parity(logistic_data, k, method):
    X, y = logistic_data
    ref = _statsmodels(X, y, k, 0.02, family=sm.families.Binomial(), method=method,
                       threshold=0.05)
    ours = DebiasedLassoRegressor(alpha=0.02, family="binomial", method=method, threshold=0.05,
                                  fit_intercept=False, n_partitions=k).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=PARITY)


def test_poisson_parity():
    rng = np.random.default_rng(3)
    X = _design(rng, 3000, 6)
    y = rng.poisson(np.exp(0.5 * X @ _beta(6))).astype(float)
    ref = _statsmodels(X, y, 3, 0.02, family=sm.families.Poisson())
    ours = DebiasedLassoRegressor(alpha=0.02, family="poisson", fit_intercept=False,
                                  n_partitions=3).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=PARITY)


def test_parity_with_dask_input_and_a_user_constant_column(gaussian_data):
    """statsmodels' intercept is a penalised constant column; the same here."""
    import dask.array as da

    X, y = gaussian_data
    Xc = np.column_stack([np.ones(len(y)), X])
    ref = _statsmodels(Xc, y + 2.0, 3, 0.05)
    b = _sizes(len(y), 3)
    chunks = tuple(np.diff(b).tolist())
    Xd = da.from_array(Xc, chunks=(chunks, Xc.shape[1]))
    yd = da.from_array(y + 2.0, chunks=(chunks,))
    ours = DebiasedLassoRegressor(alpha=0.05, fit_intercept=False).fit(Xd, yd)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=PARITY)


def test_gaussian_default_score_scale_is_statsmodels_bug(gaussian_data):
    """statsmodels' OLS default scales the score by 1/sigma^2 but not Theta: not us."""
    X, y = gaussian_data
    y3 = 3.0 * y  # sigma^2 = 9: the bug shrinks the debiasing step ninefold
    buggy = np.asarray(DistributedModel(3).fit(_partitions(X, y3, 3),
                                               fit_kwds={"alpha": 0.05}).params)
    right = _statsmodels(X, y3, 3, 0.05)
    ours = DebiasedLassoRegressor(alpha=0.05, fit_intercept=False, n_partitions=3).fit(X, y3)
    np.testing.assert_allclose(ours.coef_, right, atol=PARITY)
    assert np.max(np.abs(ours.coef_ - buggy)) > 1e-3


def test_elastic_net_gradient_fixes_statsmodels_ridge_constant(gaussian_data, monkeypatch):
    """l1_ratio < 1: statsmodels adds alpha (1 - L1_wt) to the gradient (and then divides
    it by n) instead of alpha (1 - L1_wt) beta. With that corrected the numbers agree."""
    X, y = gaussian_data
    ours = DebiasedLassoRegressor(alpha=0.05, l1_ratio=0.5, fit_intercept=False,
                                  n_partitions=3).fit(X, y)
    buggy = _statsmodels(X, y, 3, 0.05, L1_wt=0.5)
    assert np.max(np.abs(ours.coef_ - buggy)) > 1e-3

    def fixed_grad(mod, params, alpha, L1_wt, score_kwds):  # the caller divides by nobs
        return -mod.score(np.asarray(params), **score_kwds) + (
            mod.nobs * alpha * (1 - L1_wt) * np.asarray(params))

    monkeypatch.setattr(sde, "_calc_grad", fixed_grad)
    fixed = _statsmodels(X, y, 3, 0.05, L1_wt=0.5)
    np.testing.assert_allclose(ours.coef_, fixed, rtol=0, atol=PARITY)


def _weighted_nodewise_weight(exog, nodewise_row, idx, alpha):
    """statsmodels' node-wise weight with the per-feature penalty it fails on."""
    n, p = exog.shape
    ind = [i for i in range(p) if i != idx]
    a = alpha[ind] if not np.isscalar(alpha) else alpha
    resid = exog[:, idx] - exog[:, ind] @ nodewise_row
    return np.sqrt(resid @ resid / n + np.sum(a * np.abs(nodewise_row)))


def _unfrozen_nodewise_row(exog, idx, alpha):
    """statsmodels' node-wise row with its coefficient freezing off (zero_tol=0)."""
    ind = [i for i in range(exog.shape[1]) if i != idx]
    a = alpha if np.isscalar(alpha) else alpha[ind]
    return sm.OLS(exog[:, idx], exog[:, ind]).fit_regularized(alpha=a, zero_tol=0.0).params


def test_vector_alpha_and_unpenalised_intercept(gaussian_data, logistic_data, monkeypatch):
    """Per-feature alpha (statsmodels crashes; with its node-wise weight corrected it
    agrees), and fit_intercept=True == a constant column with penalty 0."""
    X, y = gaussian_data
    alpha = np.linspace(0.01, 0.1, X.shape[1])
    with pytest.raises(ValueError):
        _statsmodels(X, y, 3, alpha)
    monkeypatch.setattr(sde, "_calc_nodewise_weight", _weighted_nodewise_weight)
    monkeypatch.setattr(sde, "_calc_nodewise_row", _unfrozen_nodewise_row)
    ref = _statsmodels(X, y, 3, alpha)
    ours = DebiasedLassoRegressor(alpha=alpha, fit_intercept=False, n_partitions=3).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=PARITY)

    Xc = np.column_stack([np.ones(len(y)), X])
    ref = _statsmodels(Xc, y + 2.0, 3, np.r_[0.0, alpha])
    ours = DebiasedLassoRegressor(alpha=alpha, n_partitions=3).fit(X, y + 2.0)
    np.testing.assert_allclose(ours.params_, ref, rtol=0, atol=PARITY)

    Xl, yl = logistic_data
    ref = _statsmodels(np.column_stack([np.ones(len(yl)), Xl]), yl, 4, np.r_[0.0, alpha / 3],
                       family=sm.families.Binomial())
    ours = DebiasedLassoRegressor(alpha=alpha / 3, family="binomial", n_partitions=4).fit(Xl, yl)
    np.testing.assert_allclose(ours.params_, ref, rtol=0, atol=PARITY)


def test_full_nodewise_is_the_mean_of_the_blocks_inverses(logistic_data):
    """nodewise='full': Theta = mean over blocks of statsmodels' RegularizedInvCovariance
    of the block's weighted design at its local lasso fit."""
    X, y = logistic_data
    k, a = 3, 0.02
    ours = DebiasedLassoRegressor(alpha=a, family="binomial", nodewise="full", fit_intercept=False,
                                  n_partitions=k).fit(X, y)
    thetas, params, grads = [], [], []
    for yk, Xk in _partitions(X, y, k):
        mod = sm.GLM(yk, Xk, family=sm.families.Binomial())
        b = np.asarray(mod.fit_regularized(alpha=a, maxiter=500).params)
        wexog = np.sqrt(mod.hessian_factor(b))[:, None] * Xk
        ric = RegularizedInvCovariance(wexog)
        ric.fit(alpha=a)
        thetas.append(ric.approx_inv_cov())
        params.append(b)
        grads.append(-mod.score(b) / len(yk))
    theta = np.mean(thetas, axis=0)
    np.testing.assert_allclose(ours.approx_inv_cov_, theta, rtol=0, atol=PARITY)
    expected = np.mean(params, axis=0) - theta @ np.mean(grads, axis=0)
    np.testing.assert_allclose(ours.coef_, expected, rtol=0, atol=PARITY)


def test_statsmodels_freezing_zeros_stops_short(gaussian_data):
    """Why the oracle runs with zero_tol=0: by default statsmodels' coordinate descent
    freezes any coefficient that is 0 after a sweep beyond the first, and here stops at
    a point whose objective is higher than ours (the lasso optimum: KKT holds)."""
    X, y = gaussian_data
    X, y = X[:1000], y[:1000]  # the first of 3 partitions
    n, a = len(y), 0.05
    theirs = sm.OLS(y, X).fit_regularized(alpha=a, maxiter=500).params
    ours = DebiasedLassoRegressor(alpha=a, method="naive", fit_intercept=False,
                                  n_partitions=1).fit(X, y).coef_

    def objective(b):
        return np.sum((y - X @ b) ** 2) / (2 * n) + a * np.sum(np.abs(b))

    assert objective(ours) < objective(theirs) - 1e-9
    grad = X.T @ (X @ ours - y) / n
    active = ours != 0
    np.testing.assert_allclose(grad[active], -a * np.sign(ours[active]), atol=1e-9)
    assert np.all(np.abs(grad[~active]) <= a + 1e-9)


# ----------------------------------------------------------------------------------
# closed forms and limits
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_one_partition_unregularized_is_the_global_mle(family, gaussian_data, logistic_data):
    X, y = gaussian_data if family != "binomial" else logistic_data
    if family == "poisson":
        y = np.random.default_rng(5).poisson(np.exp(0.4 * X @ _beta(X.shape[1]))).astype(float)
    fam = {"gaussian": sm.families.Gaussian(), "binomial": sm.families.Binomial(),
           "poisson": sm.families.Poisson()}[family]
    ref = sm.GLM(y, sm.add_constant(X), family=fam).fit(tol=1e-12)
    ours = DebiasedLassoRegressor(family=family, method="naive_unregularized",
                                  n_partitions=1).fit(X, y)
    np.testing.assert_allclose(ours.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.bse_, ref.bse, rtol=1e-7)


@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_one_partition_without_penalty_is_the_mle_with_its_covariance(
        family, gaussian_data, logistic_data):
    """alpha = 0, one block: the lasso is the MLE, Theta the exact inverse, so the
    debiased estimate is the MLE and its sandwich covariance the inverse information."""
    X, y = gaussian_data if family == "gaussian" else logistic_data
    fam = sm.families.Gaussian() if family == "gaussian" else sm.families.Binomial()
    ref = sm.GLM(y, sm.add_constant(X), family=fam).fit(tol=1e-12)
    ours = DebiasedLassoRegressor(alpha=0.0, family=family, n_partitions=1).fit(X, y)
    np.testing.assert_allclose(ours.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.bse_, ref.bse, rtol=1e-6)
    if family == "gaussian":
        assert ours.dispersion_ == pytest.approx(ref.scale, rel=1e-9)


def test_nodewise_theta_approaches_scaled_inverse_information(logistic_data):
    """As the node-wise alpha -> 0 the node-wise Theta -> n (X^T W X)^{-1} of the block."""
    X, y = logistic_data
    est = DebiasedLassoRegressor(alpha=0.02, family="binomial", fit_intercept=False, n_partitions=1)
    b = est.set_params(method="naive").fit(X, y).coef_
    mu = 1 / (1 + np.exp(-X @ b))
    target = len(y) * np.linalg.inv((X * (mu * (1 - mu))[:, None]).T @ X)
    errors = []
    for a in [1e-2, 1e-3, 1e-4, 0.0]:
        theta = est.set_params(method="debiased", nodewise_alpha=a).fit(X, y).approx_inv_cov_
        errors.append(np.max(np.abs(theta - target)) / np.max(np.abs(target)))
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[-1] < 1e-9


def test_vector_alpha_equal_entries_is_scalar_alpha(logistic_data):
    X, y = logistic_data
    a = DebiasedLassoRegressor(alpha=0.03, family="binomial", n_partitions=3).fit(X, y)
    b = DebiasedLassoRegressor(alpha=np.full(X.shape[1], 0.03), family="binomial",
                               n_partitions=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.cov_params_, b.cov_params_)


def test_zero_alpha_entry_leaves_that_coefficient_unpenalised(gaussian_data):
    """A heavy penalty elsewhere zeroes every other local coefficient; the feature with
    alpha 0 keeps its least-squares value (regressed with the intercept alone)."""
    X, y = gaussian_data
    alpha = np.full(X.shape[1], 100.0)
    alpha[2] = 0.0
    m = DebiasedLassoRegressor(alpha=alpha, method="naive", n_partitions=1).fit(X, y)
    assert np.all(np.delete(m.coef_, 2) == 0)
    ref = sm.OLS(y, sm.add_constant(X[:, 2])).fit().params
    np.testing.assert_allclose([m.intercept_, m.coef_[2]], ref, atol=1e-10)
