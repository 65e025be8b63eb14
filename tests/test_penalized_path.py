"""The PQN engine's rounds, the warm-started path and the choice of alpha.

* one compute() per iteration (a dask callback counts graph executions);
* the path equals separate fits at every alpha, in fewer rounds;
* PenalizedGLMCV's held-out deviances equal a by-hand cross-validation over the same
  blocks, and scikit-learn's LassoCV mse_path_ for the gaussian model; AIC/BIC from the
  path.
"""

import dask
import numpy as np
import pytest
from dask.callbacks import Callback
from scipy.special import expit
from sklearn.linear_model import ElasticNet, LassoCV

from dask_glmdist import (
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    penalized_glm_path,
)


class CountComputes(Callback):
    """Counts graph executions (one per compute() under the local schedulers)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _start(self, dsk):
        self.n += 1


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(17)
    n, p = 6000, 10
    X = rng.normal(size=(n, p))
    y = (rng.random(n) < expit(-0.2 + X[:, :3] @ [1.0, -0.7, 0.5])).astype(float)
    return X, y


@pytest.mark.parametrize("est", [
    PenalizedLogisticRegression(alpha=0.003, n_partitions=4),
    PenalizedGLM("poisson", alpha=0.0, n_partitions=3),
    PenalizedLogisticRegression(alpha=0.0, max_abs_coef=0.6, n_partitions=2),
])
def test_one_compute_per_iteration(data, est):
    X, y = data
    if est.__class__ is PenalizedGLM:
        y = np.random.default_rng(0).poisson(np.exp(0.2 + 0.3 * X[:, 0])).astype(float)
    with CountComputes() as counter:
        est.fit(X, y)
    assert est.converged_
    # the first round is the pass of sums (it also evaluates the start); every
    # iteration after it -- line search included -- is exactly one compute; then the
    # fit-statistics pass
    assert counter.n == est.n_rounds_ == est.n_iter_ + 1 + 1
    assert est.n_iter_ <= 10


def test_one_compute_per_iteration_on_a_local_cluster(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    ref = PenalizedLogisticRegression(alpha=0.003, n_partitions=4).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster):
        model = PenalizedLogisticRegression(alpha=0.003, n_partitions=4).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-10)
    assert model.n_rounds_ == ref.n_rounds_


def test_path_equals_separate_fits_in_fewer_rounds(data):
    X, y = data
    path = penalized_glm_path(X, y, n_alphas=6, eps=1e-2, n_partitions=3)
    assert np.all(np.diff(path.alphas) < 0)
    assert np.all(path.converged)
    assert np.all(path.coef[0] == 0)                 # alpha_max: everything is zero
    separate_rounds = 0
    for i, alpha in enumerate(path.alphas):
        m = PenalizedGLM("binomial", alpha=alpha, n_partitions=3).fit(X, y)
        np.testing.assert_allclose(path.coef[i], m.coef_, atol=1e-8)
        np.testing.assert_allclose(path.intercept[i], m.intercept_, atol=1e-8)
        np.testing.assert_allclose(path.objective[i], m.objective_, rtol=1e-12)
        separate_rounds += m.n_rounds_
        nnz = np.sum(m.coef_ != 0)
        assert path.df[i] == nnz + 1                 # lasso df: active set + intercept
    assert path.n_rounds.sum() < separate_rounds
    # just above alpha_max nothing enters; just below, something does
    a_max = path.alphas[0]
    assert np.all(PenalizedGLM("binomial", alpha=a_max * 1.001).fit(X, y).coef_ == 0)
    assert np.any(PenalizedGLM("binomial", alpha=a_max * 0.99).fit(X, y).coef_ != 0)


def test_gaussian_path_equals_sklearn_elastic_net():
    rng = np.random.default_rng(2)
    n, p = 2000, 8
    X = rng.normal(size=(n, p))
    y = 0.5 + X[:, :3] @ [1.0, -0.5, 0.25] + rng.normal(size=n)
    path = penalized_glm_path(X, y, family="gaussian", alphas=[0.5, 0.1, 0.01], l1_ratio=0.8)
    assert path.n_rounds.sum() == 1                  # everything from one pass of sums
    for i, a in enumerate(path.alphas):
        ref = ElasticNet(alpha=a, l1_ratio=0.8, tol=1e-14, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(path.coef[i], ref.coef_, atol=1e-7)


def _blocks(n, k):
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    edges = np.r_[0, np.cumsum(sizes)]
    return [np.arange(edges[i], edges[i + 1]) for i in range(k)]


def test_cv_equals_cross_validation_by_hand(data):
    X, y = data
    alphas = [0.02, 0.005, 0.001]
    model = PenalizedGLMCV(alphas=alphas, cv=3, n_partitions=6).fit(X, y)
    blocks = _blocks(len(y), 6)
    expected = np.zeros((3, len(alphas)))
    for f in range(3):
        test = np.concatenate([blocks[b] for b in range(6) if b % 3 == f])
        train = np.setdiff1d(np.arange(len(y)), test)
        for j, a in enumerate(alphas):
            m = PenalizedGLM("binomial", alpha=a).fit(X[train], y[train])
            mu = expit(X[test] @ m.coef_ + m.intercept_)
            dev = -2 * np.sum(y[test] * np.log(mu) + (1 - y[test]) * np.log1p(-mu))
            expected[f, j] = dev / len(test)
    np.testing.assert_allclose(model.cv_deviance_, expected, rtol=1e-8)
    best = int(np.argmin(expected.mean(axis=0)))
    assert model.alpha_ == alphas[best]
    ref = PenalizedGLM("binomial", alpha=alphas[best]).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-8)
    assert model.predict(X[:5]).shape == (5,)


def test_cv_gaussian_equals_sklearn_lasso_cv():
    rng = np.random.default_rng(8)
    n, p = 3000, 12
    X = rng.normal(size=(n, p))
    y = X[:, :3] @ [1.0, -1.0, 0.5] + 2.0 * rng.normal(size=n)
    alphas = np.array([0.3, 0.1, 0.03, 0.01])
    model = PenalizedGLMCV("gaussian", alphas=alphas, cv=4, n_partitions=4).fit(X, y)
    folds = [(np.setdiff1d(np.arange(n), b), b) for b in _blocks(n, 4)]
    ref = LassoCV(alphas=alphas, cv=folds, tol=1e-14, max_iter=100_000).fit(X, y)
    # LassoCV: mse_path_[alpha, fold] is the held-out mean squared error = deviance / n
    np.testing.assert_allclose(model.cv_deviance_, ref.mse_path_.T, rtol=1e-7)
    assert model.alpha_ == ref.alpha_
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-7)


@pytest.mark.parametrize("criterion", ["aic", "bic"])
def test_information_criteria(data, criterion):
    X, y = data
    model = PenalizedGLMCV(criterion=criterion, n_alphas=8).fit(X, y)
    path = model.path_
    k = 2.0 if criterion == "aic" else np.log(len(y))
    nnz = (path.coef != 0).sum(axis=1) + 1
    np.testing.assert_allclose(model.criterion_values_, path.deviance + k * nnz, rtol=1e-12)
    best = int(np.argmin(model.criterion_values_))
    assert model.alpha_ == path.alphas[best]
    np.testing.assert_allclose(model.coef_, path.coef[best])
    # BIC penalises more: it never picks a larger model than AIC
    other = PenalizedGLMCV(criterion="aic" if criterion == "bic" else "bic",
                           n_alphas=8).fit(X, y)
    small, large = (model, other) if criterion == "bic" else (other, model)
    assert np.sum(small.coef_ != 0) <= np.sum(large.coef_ != 0)


def test_cv_under_dask_input_uses_blocks_as_folds(data):
    da = pytest.importorskip("dask.array")
    X, y = data
    Xd = da.from_array(X, chunks=(1000, X.shape[1]))
    yd = da.from_array(y, chunks=1000)
    a = PenalizedGLMCV(alphas=[0.01, 0.002], cv=3).fit(Xd, yd)
    b = PenalizedGLMCV(alphas=[0.01, 0.002], cv=3, n_partitions=6).fit(X, y)
    np.testing.assert_allclose(a.cv_deviance_, b.cv_deviance_, rtol=1e-10)
    with dask.config.set(scheduler="sync"):
        c = PenalizedGLMCV(alphas=[0.01, 0.002], cv=3).fit(Xd, yd)
    np.testing.assert_allclose(c.params_, a.params_, atol=1e-12)
