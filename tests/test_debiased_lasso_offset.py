"""DebiasedLassoRegressor with an offset: every piece of the round takes it.

Oracles: statsmodels' ``DistributedModel`` with the offsets of each partition
(``init_kwds_generator``); statsmodels' GLM with ``offset`` for one block at alpha=0
(the debiased estimate is then the MLE and its covariance the inverse information);
and, for the gaussian identity model, the same fit of ``y - offset`` (the same
problem: the closed form's sufficient statistics are those of ``y - offset``)."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.base.distributed_estimation import DistributedModel

from dask_glmdist import DebiasedLassoRegressor

N = 3000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 4))
    off = np.log(rng.uniform(0.5, 3.0, size=N))
    eta = 0.2 + X @ [0.4, -0.3, 0.0, 0.1]
    y_count = rng.poisson(np.exp(eta + off)).astype(float)
    y_bin = (rng.random(N) < 1 / (1 + np.exp(-(eta + off)))).astype(float)
    y_gauss = X @ [1.0, -0.5, 0.0, 0.2] + 3.0 * off + rng.normal(size=N)
    y_pos = np.exp(0.5 + X @ [0.2, -0.1, 0.0, 0.1] + off) + 0.3 * rng.normal(size=N)
    return X, off, {"poisson": y_count, "binomial": y_bin, "gaussian": y_gauss,
                    "gaussian-log": y_pos}


def _statsmodels(X, y, off, k, family, alpha):
    b = np.linspace(0, len(y), k + 1).astype(int)
    parts = ((y[b[i]:b[i + 1]], X[b[i]:b[i + 1]]) for i in range(k))
    kwds = ({"family": family, "offset": off[b[i]:b[i + 1]]} for i in range(k))
    dm = DistributedModel(k, model_class=sm.GLM, init_kwds={"family": family})
    fit = dm.fit(parts, fit_kwds={"alpha": alpha, "L1_wt": 1.0, "maxiter": 500,
                                  "zero_tol": 0.0}, init_kwds_generator=kwds)
    return np.asarray(fit.params)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
@pytest.mark.parametrize("k", [1, 3])
def test_offset_parity_with_statsmodels_distributed_model(data, family, k):
    X, off, ys = data
    sm_family = {"poisson": sm.families.Poisson(), "binomial": sm.families.Binomial()}[family]
    ref = _statsmodels(X, ys[family], off, k, sm_family, 0.02)
    ours = DebiasedLassoRegressor(alpha=0.02, family=family, fit_intercept=False,
                                  n_partitions=k).fit(X, ys[family], offset=off)
    np.testing.assert_allclose(ours.coef_, ref, rtol=0, atol=1e-8)
    without = _statsmodels(X, ys[family], np.zeros(N), k, sm_family, 0.02)
    assert np.abs(without - ref).max() > 0.01  # the offset matters


@pytest.mark.parametrize(("family", "link", "sm_family"), [
    ("poisson", None, sm.families.Poisson()),
    ("binomial", None, sm.families.Binomial()),
    ("gaussian", "log", sm.families.Gaussian(sm.families.links.Log())),  # Pearson pass
])
def test_one_block_unpenalised_is_the_glm_with_offset(data, family, link, sm_family):
    X, off, ys = data
    y = ys["gaussian-log" if link == "log" else family]
    ref = sm.GLM(y, sm.add_constant(X), family=sm_family, offset=off).fit(tol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = DebiasedLassoRegressor(alpha=0.0, family=family, link=link, n_partitions=1,
                                   tol=1e-12).fit(X, y, offset=off)
    np.testing.assert_allclose(m.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(m.bse_, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(m.dispersion_, ref.scale, rtol=1e-8)
    np.testing.assert_allclose(m.deviance_, ref.deviance, rtol=1e-10)
    np.testing.assert_allclose(m.null_deviance_, ref.null_deviance, rtol=1e-8)
    np.testing.assert_allclose(m.predict(X, offset=off),
                               ref.predict(sm.add_constant(X), offset=off), rtol=1e-8)


@pytest.mark.parametrize("method", ["debiased", "naive", "naive_unregularized"])
def test_gaussian_identity_offset_is_the_fit_of_y_minus_offset(data, method):
    X, off, ys = data
    y = ys["gaussian"]
    kw = dict(alpha=0.05, method=method, n_partitions=3)
    a = DebiasedLassoRegressor(**kw).fit(X, y, offset=3.0 * off)
    b = DebiasedLassoRegressor(**kw).fit(X, y - 3.0 * off)
    np.testing.assert_allclose(a.params_, b.params_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.dispersion_, b.dispersion_, rtol=1e-12)
    np.testing.assert_allclose(a.deviance_, b.deviance_, rtol=1e-10)
    if method != "naive":
        np.testing.assert_allclose(a.bse_, b.bse_, rtol=1e-12)
    np.testing.assert_allclose(a.predict(X, offset=3.0 * off), b.predict(X) + 3.0 * off,
                               rtol=1e-12)
    np.testing.assert_allclose(a.score(X, y, offset=3.0 * off),
                               1 - np.sum((y - a.predict(X, offset=3.0 * off)) ** 2)
                               / np.sum((y - y.mean()) ** 2), rtol=1e-12)


def test_offset_as_a_column_with_a_formula(data):
    X, off, ys = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=ys["poisson"], off=off)
    f = DebiasedLassoRegressor(alpha=0.02, family="poisson", formula="y ~ a + b + c + d",
                               n_partitions=3).fit(df, offset="off")
    m = DebiasedLassoRegressor(alpha=0.02, family="poisson", n_partitions=3).fit(
        X, ys["poisson"], offset=off)
    np.testing.assert_allclose(f.params_, m.params_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.predict(df, offset="off"), m.predict(X, offset=off),
                               rtol=1e-12)
