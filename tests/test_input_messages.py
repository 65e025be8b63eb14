"""Inputs the estimators cannot use get an error that names the problem, from metadata
(before any pass over dask data) where the dtypes show it."""

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)

REGRESSORS = [
    DLSARegressor(family="binomial"),
    PenalizedGLM(family="binomial"),
    PenalizedGLMCV(family="binomial", n_alphas=3),
    BiasReducedGLM(),
    DebiasedLassoRegressor(family="binomial"),
]
ALL = [*REGRESSORS, DLSALogisticRegression(), PenalizedLogisticRegression()]


def _no_compute(*args, **kwargs):
    raise AssertionError("the input was refused only after a pass over the data")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 200
    return pd.DataFrame({
        "x0": rng.normal(size=n),
        "carrier": rng.choice(["AA", "UA", "HA"], size=n),
        "x1": rng.normal(size=n),
        "time_hour": pd.date_range("2013-01-01", periods=n, freq="h"),
        "label": rng.choice(["cancelled", "flown"], size=n),
    })


@pytest.mark.parametrize("est", REGRESSORS, ids=lambda e: type(e).__name__)
def test_string_labels_for_a_binomial_regressor(frame, est):
    msg = "y must be numeric for the binomial family.*use DLSALogisticRegression"
    ddf = dd.from_pandas(frame, npartitions=2)
    with dask.config.set(scheduler=_no_compute), pytest.raises(ValueError, match=msg):
        est.fit(ddf[["x0", "x1"]], ddf["label"])
    with pytest.raises(ValueError, match=msg):
        est.fit(frame[["x0", "x1"]], frame["label"])
    with pytest.raises(ValueError, match=msg):
        est.fit(frame[["x0", "x1"]].to_numpy(), frame["label"].to_list())


def test_numeric_y_of_object_dtype_is_still_accepted(frame):
    y = pd.Series((frame["label"] == "flown").astype(float).to_list(), dtype=object)
    a = DLSARegressor(family="binomial").fit(frame[["x0", "x1"]], y)
    b = DLSARegressor(family="binomial").fit(frame[["x0", "x1"]], y.astype(float))
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_non_numeric_columns_are_named(frame, est):
    """Datetimes are named (string columns such as 'carrier' are coded as categories)."""
    msg = r"X has non-numeric columns \['time_hour'\]"
    y = (frame["label"] == "flown").astype(float)
    X = frame[["x0", "carrier", "x1", "time_hour"]]
    with pytest.raises(ValueError, match=msg):
        est.fit(X, y)
    ddf = dd.from_pandas(frame.assign(y=y), npartitions=2)
    with dask.config.set(scheduler=_no_compute), pytest.raises(ValueError, match=msg):
        est.fit(ddf[list(X.columns)], ddf["y"])
    # predict names them too
    model = est.fit(frame[["x0", "x1"]].rename(columns={"x1": "carrier"}), y)
    bad = frame[["x0", "carrier"]]
    with pytest.raises(ValueError, match=r"non-numeric columns \['carrier'\]"):
        model.predict(bad)


def test_in_memory_and_dask_messages_agree(frame):
    X = frame[["x0", "time_hour"]]
    y = (frame["label"] == "flown").astype(float)
    messages = []
    for Xi, yi in [(X, y), (dd.from_pandas(X, npartitions=2), dd.from_pandas(y, npartitions=2))]:
        with pytest.raises(ValueError) as info:
            DLSARegressor().fit(Xi, yi)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "'time_hour'" in messages[0] and "datetime64" in messages[0]
