"""An offset in the logistic classes' fit and predictions (docs/contract.md).

Oracles: statsmodels' GLM Binomial with ``offset`` (maximum likelihood) and glum's
``GeneralizedLinearRegressor(family="binomial").fit(X, y, offset=...)`` (the same
elastic-net objective, scikit-learn's scaling)."""

import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dask_glmdist import (
    DLSALogisticRegression,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    PenalizedLogisticRegressionCV,
)


@pytest.fixture(scope="module")
def logit_data():
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    off = 0.8 * rng.normal(size=n)
    p = 1 / (1 + np.exp(-(0.2 + X @ [0.5, -0.4, 0.2] + off)))
    y = np.where(rng.random(n) < p, "yes", "no")
    y01 = (y == "yes").astype(float)
    ref = sm.GLM(y01, sm.add_constant(X), family=sm.families.Binomial(), offset=off).fit(
        tol=1e-14)
    return X, y, off, ref


@pytest.mark.parametrize("est", [
    DLSALogisticRegression(n_partitions=1, tol=1e-12),
    DLSALogisticRegression(n_partitions=4, refine_steps=20, tol=1e-12),
    PenalizedLogisticRegression(n_partitions=3, tol=1e-12),
], ids=["dlsa-K1", "dlsa-K4-refined", "penalized-alpha0"])
def test_maximum_likelihood_with_offset_is_statsmodels(logit_data, est):
    X, y, off, ref = logit_data
    est.fit(X, y, offset=off)
    np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(est.bse_, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(est.deviance_, ref.deviance, rtol=1e-10)
    np.testing.assert_allclose(est.null_deviance_, ref.null_deviance, rtol=1e-10)
    p1 = ref.predict(sm.add_constant(X), offset=off)
    np.testing.assert_allclose(est.predict_proba(X, offset=off)[:, 1], p1, rtol=1e-8)
    np.testing.assert_allclose(est.decision_function(X, offset=off),
                               sm.add_constant(X) @ ref.params + off, rtol=1e-8, atol=1e-10)
    labels = np.where(p1 > 0.5, "yes", "no")
    assert (est.predict(X, offset=off) == labels).all()
    assert est.score(X, y, offset=off) == np.mean(labels == y)
    # without the offset the predictions are those of the linear predictor alone
    assert np.abs(est.decision_function(X) - est.decision_function(X, offset=off)).max() > 1


@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_penalized_logistic_with_offset_is_glum(logit_data, l1_ratio):
    glum = pytest.importorskip("glum")
    X, y, off, _ = logit_data
    y01 = (y == "yes").astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = glum.GeneralizedLinearRegressor(
            family="binomial", alpha=0.02, l1_ratio=l1_ratio, gradient_tol=1e-12,
            max_iter=1000).fit(X, y01, offset=off)
        without = glum.GeneralizedLinearRegressor(
            family="binomial", alpha=0.02, l1_ratio=l1_ratio, gradient_tol=1e-12,
            max_iter=1000).fit(X, y01)
    assert np.abs(without.coef_ - ref.coef_).max() > 1e-2  # the offset matters
    ours = PenalizedLogisticRegression(alpha=0.02, l1_ratio=l1_ratio, tol=1e-12,
                                       n_partitions=3).fit(X, y, offset=off)
    np.testing.assert_allclose(ours.coef_.ravel(), ref.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_[0], ref.intercept_, rtol=0, atol=1e-9)
    # the CV class on one alpha is that fit
    cv = PenalizedLogisticRegressionCV(alphas=[0.02], l1_ratio=l1_ratio, cv=3, tol=1e-12,
                                       n_partitions=3).fit(X, y, offset=off)
    np.testing.assert_allclose(cv.coef_.ravel(), ref.coef_, rtol=0, atol=1e-9)


@pytest.mark.filterwarnings("ignore:.*CV chose the smallest alpha")
def test_logistic_cv_with_offset_is_the_binomial_glm_cv(logit_data):
    """The classifier's cross-validation with an offset is PenalizedGLMCV's on the 0/1
    response (that class took an offset before): the same folds, deviances and choice."""
    X, y, off, _ = logit_data
    y01 = (y == "yes").astype(float)
    kw = dict(n_alphas=5, cv=3, n_partitions=3, tol=1e-10)
    clf = PenalizedLogisticRegressionCV(**kw).fit(X, y, offset=off)
    reg = PenalizedGLMCV("binomial", **kw).fit(X, y01, offset=off)
    np.testing.assert_allclose(clf.cv_deviance_, reg.cv_deviance_, rtol=1e-10)
    assert clf.alpha_ == reg.alpha_
    np.testing.assert_allclose(clf.coef_.ravel(), reg.coef_, rtol=0, atol=1e-10)
    plain = PenalizedLogisticRegressionCV(**kw).fit(X, y)
    assert np.abs(plain.cv_deviance_ - clf.cv_deviance_).max() > 1e-3


def test_offset_as_a_column_with_a_formula(logit_data):
    X, y, off, ref = logit_data
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y, off=off)
    for est in (DLSALogisticRegression(formula="y ~ a + b + c", refine_steps=20, tol=1e-12),
                PenalizedLogisticRegression(formula="y ~ a + b + c", tol=1e-12)):
        est.fit(dd.from_pandas(df, npartitions=3), offset="off")
        np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
        np.testing.assert_allclose(est.predict_proba(df, offset="off")[:, 1],
                                   ref.predict(sm.add_constant(X), offset=off), rtol=1e-8)
        assert est.score(df, offset="off") == np.mean(est.predict(df, offset="off") == y)
