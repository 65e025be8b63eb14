"""Binomial BiasReducedGLM: predict_proba / decision_function, so that probability and
ranking scorers work; neither exists for other families (sklearn's available_if)."""

import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import KFold, cross_val_score

from dask_glmdist import BiasReducedGLM


def _data(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X[:, 0] - 0.5 * X[:, 1])))).astype(float)
    return X, y


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_predict_proba_is_one_minus_mean_and_mean(link):
    X, y = _data()
    est = BiasReducedGLM(family="binomial", link=link).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba[:, 1], est.predict(X), rtol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)
    lazy = est.predict_proba(da.from_array(X, chunks=(300, 3)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), proba, rtol=1e-15)
    offset = np.linspace(-1, 1, len(y))
    np.testing.assert_allclose(est.predict_proba(X, offset=offset)[:, 1],
                               est.predict(X, offset=offset), rtol=1e-15)


def test_roc_auc_and_log_loss_scoring_equal_the_metrics_of_the_probabilities():
    X, y = _data()
    folds = KFold(3, shuffle=True, random_state=0)
    est = BiasReducedGLM(family="binomial")
    auc = cross_val_score(est, X, y, scoring="roc_auc", cv=folds, error_score="raise")
    nll = cross_val_score(est, X, y, scoring="neg_log_loss", cv=folds, error_score="raise")
    for k, (train, test) in enumerate(folds.split(X)):
        p = BiasReducedGLM(family="binomial").fit(X[train], y[train]).predict_proba(X[test])
        assert auc[k] == pytest.approx(roc_auc_score(y[test], p[:, 1]), rel=1e-14)
        assert nll[k] == pytest.approx(-log_loss(y[test], p), rel=1e-12)


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
def test_not_available_for_other_families(family):
    est = BiasReducedGLM(family=family)
    assert not hasattr(est, "predict_proba")
    assert not hasattr(est, "decision_function")
    with pytest.raises(AttributeError, match="predict_proba"):
        est.predict_proba(np.zeros((2, 3)))
