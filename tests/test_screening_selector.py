"""ScreeningSelector: scikit-learn transformer conventions, lazy dask transforms, pipelines
with DLSA (the pipeline equals DLSA fitted on the kept columns)."""

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from dask_glmdist import DLSALogisticRegression, DLSARegressor, ScreeningSelector, screen


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 30))
    y = 1.5 * X[:, 4] - X[:, 11] + 0.8 * X[:, 20] + rng.normal(size=1200)
    return X, y


@parametrize_with_checks([ScreeningSelector(n_features=2),
                          ScreeningSelector(method="dc", n_features=3)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_clone_params_and_validation(data):
    X, y = data
    sel = ScreeningSelector(method="sirs", n_features=3, n_partitions=2)
    assert clone(sel).get_params() == sel.get_params()
    for bad in ({"method": "spearman"}, {"n_features": 0}, {"n_features": 2.5},
                {"n_partitions": 0}, {"split_every": 1}):
        with pytest.raises(InvalidParameterError):
            clone(sel).set_params(**bad).fit(X, y)


@pytest.mark.parametrize("method", ["pearson", "kendall", "sirs", "dc"])
def test_keeps_the_top_scores(data, method):
    X, y = data
    sel = ScreeningSelector(method=method, n_features=3, n_partitions=3).fit(X, y)
    scores = screen(X, y, method=method, n_partitions=3)
    np.testing.assert_array_equal(sel.scores_, scores)
    assert set(np.flatnonzero(sel.get_support())) == {4, 11, 20}
    np.testing.assert_array_equal(sel.ranking_[:3], np.argsort(-scores)[:3])
    np.testing.assert_array_equal(sel.transform(X), X[:, sel.get_support()])
    assert sel.n_rounds_ == 1 and sel.n_features_in_ == 30


def test_dask_array_transform_is_lazy(data):
    X, y = data
    Xd, yd = da.from_array(X, chunks=(300, 30)), da.from_array(y, chunks=300)
    sel = ScreeningSelector(method="kendall", n_features=3).fit(Xd, yd)
    out = sel.transform(Xd)
    assert isinstance(out, da.Array) and out.shape == (1200, 3)
    np.testing.assert_array_equal(out.compute(), X[:, [4, 11, 20]])
    with pytest.raises(ValueError, match="expecting 30 features"):
        sel.transform(Xd[:, :5])


def test_dask_dataframe_names_and_lazy_transform(data):
    X, y = data
    cols = [f"x{j}" for j in range(30)]
    ddf = dd.from_pandas(pd.DataFrame(X, columns=cols), npartitions=4)
    dy = dd.from_pandas(pd.Series(y, name="y"), npartitions=4)
    sel = ScreeningSelector(method="dc", n_features=3).fit(ddf, dy)
    assert list(sel.feature_names_in_) == cols
    assert list(sel.get_feature_names_out()) == ["x4", "x11", "x20"]
    out = sel.transform(ddf)
    assert dask.is_dask_collection(out) and list(out.columns) == ["x4", "x11", "x20"]
    pd.testing.assert_frame_equal(out.compute(), ddf[["x4", "x11", "x20"]].compute())


def test_more_features_asked_than_there_are_warns(data):
    X, y = data
    with pytest.warns(UserWarning, match="all are kept"):
        sel = ScreeningSelector(n_features=40).fit(X, y)
    assert sel.get_support().all()


def test_constant_feature_ranks_last(data):
    X, y = data
    X = X[:, :5].copy()
    X[:, 4] = 1.0  # the best feature made constant
    with pytest.warns(UserWarning, match=r"constant feature\(s\) \[4\]"):
        sel = ScreeningSelector(n_features=4).fit(X, y)
    assert sel.ranking_[-1] == 4 and not sel.get_support()[4]


def test_pipeline_with_dlsa_regressor(data):
    X, y = data
    pipe = make_pipeline(ScreeningSelector(method="dc", n_features=5, n_partitions=3),
                         DLSARegressor(n_partitions=3)).fit(X, y)
    keep = pipe[0].get_support()
    direct = DLSARegressor(n_partitions=3).fit(X[:, keep], y)
    np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-12)
    np.testing.assert_allclose(pipe.predict(X), direct.predict(X[:, keep]), rtol=1e-12)


def test_pipeline_with_dlsa_logistic_on_dask(data):
    X, _ = data
    rng = np.random.default_rng(1)
    eta = 1.2 * X[:, 4] - X[:, 11] + 0.8 * X[:, 20]
    yb = (rng.random(1200) < 1 / (1 + np.exp(-eta))).astype(float)
    Xd, yd = da.from_array(X, chunks=(400, 30)), da.from_array(yb, chunks=400)
    pipe = make_pipeline(ScreeningSelector(method="sirs", n_features=4),
                         DLSALogisticRegression()).fit(Xd, yd)
    keep = pipe[0].get_support()
    assert {4, 11, 20} <= set(np.flatnonzero(keep))
    direct = DLSALogisticRegression().fit(Xd[:, keep], yd)
    np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-10)
