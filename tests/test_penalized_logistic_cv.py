"""PenalizedLogisticRegressionCV: the classifier form of PenalizedGLMCV.

Oracles: PenalizedGLMCV on the 0/1 coding (same alpha_, same coefficients) and
PenalizedLogisticRegression at the chosen alpha; accuracy as sklearn computes it.
"""

import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from dask_glmdist import (
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    PenalizedLogisticRegressionCV,
)


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 2] *= 50.0
    y = np.where(X[:, 0] - 0.5 * X[:, 1] + 0.01 * X[:, 2] > rng.logistic(size=n),
                 "late", "on time")
    return X, y


@pytest.mark.parametrize("kw", [dict(cv=3), dict(criterion="bic", standardize=True)])
def test_equals_penalized_glm_cv_on_the_01_coding(kw):
    X, y = _data()
    clf = PenalizedLogisticRegressionCV(n_alphas=8, eps=1e-2, **kw).fit(X, y)
    assert clf.classes_.tolist() == ["late", "on time"]
    y01 = (y == "on time").astype(float)          # the second class is the positive one
    ref = PenalizedGLMCV(n_alphas=8, eps=1e-2, **kw).fit(X, y01)
    assert clf.alpha_ == ref.alpha_
    np.testing.assert_array_equal(clf.alphas_, ref.alphas_)
    np.testing.assert_allclose(clf.coef_[0], ref.coef_, rtol=0, atol=0)
    assert clf.intercept_.shape == (1,) and clf.intercept_[0] == ref.intercept_
    one = PenalizedLogisticRegression(alpha=clf.alpha_, tol=1e-10,
                                      standardize=kw.get("standardize", False)).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), one.predict_proba(X), atol=1e-7)
    assert clf.score(X, y) == accuracy_score(y, clf.predict(X))


def test_dask_labels_and_lazy_predictions():
    X, y = _data(seed=1)
    Xd, yd = da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500)
    clf = PenalizedLogisticRegressionCV(n_alphas=5, cv=3).fit(Xd, yd)
    mem = PenalizedLogisticRegressionCV(n_alphas=5, cv=3, n_partitions=6).fit(X, y)
    assert clf.n_blocks_ == 6 and clf.alpha_ == mem.alpha_
    np.testing.assert_allclose(clf.coef_, mem.coef_, rtol=1e-10, atol=1e-13)
    proba = clf.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape[1] == 2
    np.testing.assert_array_equal(clf.predict(Xd).compute(), mem.predict(X))


def test_more_than_two_classes_is_an_error():
    X, y = _data()
    y3 = y.astype(object)
    y3[:10] = "cancelled"
    with pytest.raises(ValueError, match="Only binary classification is supported: "
                       "PenalizedLogisticRegressionCV"):
        PenalizedLogisticRegressionCV(n_alphas=3, cv=3).fit(X, y3)
