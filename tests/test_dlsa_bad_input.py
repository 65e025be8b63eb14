"""Bad input gets a clear error naming the problem, for in-memory and dask input.

For dask input the value checks ride along in the first data pass: the blocks report
what they found and the fit raises one error naming the row blocks."""

import re

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import DLSALogisticRegression, DLSARegressor


@pytest.fixture
def data(rng):
    X = rng.normal(size=(400, 3))
    y = (rng.random(400) < 0.5).astype(float)
    return X, y


def as_dask(X, y, k=4):
    Xd = da.from_array(X, chunks=(len(X) // k, -1))
    return Xd, da.from_array(y, chunks=(Xd.chunks[0],))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_X(data, bad):
    X, y = data
    X = X.copy()
    X[250, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        DLSALogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[2\]\)"):
        DLSALogisticRegression().fit(*as_dask(X, y))


def test_nonfinite_y(data):
    X, y = data
    y = y.copy()
    y[10] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        DLSARegressor().fit(X, y)
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(row blocks \[0\]\)"):
        DLSARegressor().fit(*as_dask(X, y))
    with pytest.raises(ValueError, match="NaN"):
        DLSALogisticRegression().fit(*as_dask(X, y))


def test_three_classes(data):
    X, y = data
    y3 = y.copy()
    y3[:5] = 2
    with pytest.raises(ValueError, match="Only binary classification is supported.*got 3"):
        DLSALogisticRegression().fit(X, y3)
    with pytest.raises(ValueError, match="Only binary classification is supported.*got 3"):
        DLSALogisticRegression().fit(*as_dask(X, y3))


def test_one_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="got 1 class"):
        DLSALogisticRegression().fit(X, np.zeros(len(X)))


def test_negative_counts_for_poisson(data):
    X, _ = data
    y = np.arange(len(X), dtype=float) % 5
    y[300] = -1
    with pytest.raises(ValueError, match="poisson.*non-negative"):
        DLSARegressor(family="poisson").fit(X, y)
    with pytest.raises(ValueError, match=r"non-negative.*row blocks \[3\]"):
        DLSARegressor(family="poisson").fit(*as_dask(X, y))


def test_binomial_response_outside_unit_interval(data):
    X, y = data
    with pytest.raises(ValueError, match=r"binomial.*\[0, 1\]"):
        DLSARegressor(family="binomial").fit(X, 2 * y)


def test_negative_sample_weight(data):
    X, y = data
    w = np.ones(len(y))
    w[3] = -1
    with pytest.raises(ValueError, match="[Nn]egative"):
        DLSALogisticRegression().fit(X, y, sample_weight=w)
    Xd, yd = as_dask(X, y)
    with pytest.raises(ValueError, match=r"sample_weight contains negative values"):
        DLSALogisticRegression().fit(Xd, yd, sample_weight=da.from_array(w, chunks=Xd.chunks[0]))


def test_lengths_differ(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DLSALogisticRegression().fit(X, y[:-1])
    Xd, _ = as_dask(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DLSALogisticRegression().fit(Xd, da.from_array(y[:-1]))


def test_one_dimensional_X(data):
    X, y = data
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        DLSALogisticRegression().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        DLSALogisticRegression().fit(da.from_array(X[:, 0]), da.from_array(y))


def test_one_level_string_column(data):
    """A string column is a categorical; one level in all the data cannot be coded."""
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["city"] = "Paris"
    with pytest.raises(ValueError, match=r"Column 'city' has one level \('Paris'\)"):
        DLSALogisticRegression().fit(df, y)
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(ValueError, match=r"Column 'city' has one level \('Paris'\)"):
        DLSALogisticRegression().fit(ddf, dd.from_pandas(pd.Series(y), npartitions=2))


def test_empty_input():
    with pytest.raises(ValueError, match="0 sample"):
        DLSARegressor().fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match=r"empty \(0 rows\)"):
        DLSARegressor().fit(da.zeros((0, 3), chunks=(1, 3)), da.zeros(0, chunks=1))


def test_blocks_too_small_for_their_columns(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Row block 0 has 2 rows but the model has 4 .*fewer "
                                         r"partitions"):
        DLSALogisticRegression(n_partitions=200).fit(X, y)
    Xd = da.from_array(X, chunks=((3, 397), -1))
    with pytest.raises(ValueError, match="Row block 0 has 3 rows.*fewer partitions"):
        DLSALogisticRegression().fit(Xd, da.from_array(y, chunks=(Xd.chunks[0],)))


def test_blocks_too_small_discovered_in_the_pass(data):
    """With unknown chunk sizes the blocks report their own size in the first pass."""
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["y"] = y
    ddf = dd.from_pandas(df, npartitions=1).repartition(divisions=[0, 2, 399])
    with pytest.raises(ValueError, match=r"1 row block\(s\) \(row blocks \[0\]\) has fewer rows "
                                         r"than model parameters; use fewer partitions"):
        DLSALogisticRegression().fit(ddf[["a", "b", "c"]], ddf["y"])


def test_unaligned_in_memory_y_with_unknown_chunks(data):
    X, y = data
    ddf = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=2)
    with pytest.raises(ValueError, match="unknown row-chunk sizes.*dask Series"):
        DLSALogisticRegression().fit(ddf, y)


def test_unidentified_parameter(data):
    """The package's one rank rule and message (design_checks.check_identified), on the
    combined information."""
    X, y = data
    with pytest.warns(UserWarning, match="collinear within the block"):
        with pytest.raises(ValueError, match=re.escape(
                "DLSARegressor: the design is rank deficient over the rows with positive "
                "weight: x3 (a linear combination of ['x0', 'x1'])")):
            DLSARegressor().fit(np.column_stack([X, X[:, 0] + X[:, 1]]), y)
    with pytest.warns(UserWarning, match="constant within the block"):
        with pytest.raises(ValueError, match=re.escape(
                "x1 (constant: a multiple of the intercept)")):
            DLSALogisticRegression().fit(np.column_stack([X[:, 0], np.full(len(y), 3.0)]), y)
        with pytest.raises(ValueError, match=re.escape(
                "x1 (zero on every row with positive weight)")):
            DLSALogisticRegression(fit_intercept=False).fit(
                np.column_stack([X[:, 0], np.zeros(len(y))]), y)


def test_invalid_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="refine_steps"):
        DLSALogisticRegression(refine_steps=-1).fit(X, y)
    with pytest.raises(ValueError, match="penalty"):
        DLSALogisticRegression(penalty="l1").fit(X, y)
    with pytest.raises(ValueError, match="link 'logit' is not allowed for the poisson family"):
        DLSARegressor(family="poisson", link="logit").fit(X, y)


def test_predict_checks_features(data):
    X, y = data
    clf = DLSALogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="X has 2 features"):
        clf.predict(da.from_array(X[:, :2]))


def test_fitted_means_at_the_edge_of_the_range():
    """An identity-link Poisson block whose likelihood peaks at a zero mean has unbounded
    information: a clear error naming the block, not a silently dominated combination."""
    rng = np.random.default_rng(20)
    x = np.concatenate([rng.uniform(0, 1, 400), rng.uniform(3, 4, 400)])
    y = rng.poisson(0.02 + 0.5 * np.abs(x - 1.0) ** 2).astype(float)
    with pytest.raises(ValueError, match=r"edge of the family's range.*'log'.*row blocks \[0\]"):
        DLSARegressor(family="poisson", link="identity", n_partitions=2).fit(x[:, None], y)
    DLSARegressor(family="poisson", n_partitions=2).fit(x[:, None], y)  # the log link is fine


def test_all_zero_sample_weights(data):
    """Before (dask): 'parameters [...] are not identified (a column constant everywhere, or
    collinear columns)' -- the problem is the weights."""
    X, y = data
    Xd, yd = as_dask(X, y)
    w = da.zeros(len(y), chunks=(Xd.chunks[0],))
    for est in (DLSALogisticRegression(), DLSARegressor(family="poisson")):
        with pytest.raises(ValueError, match="All sample weights are zero"):
            est.fit(Xd, yd, sample_weight=w)
        with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
            est.fit(X, y, sample_weight=np.zeros(len(y)))


def test_a_block_of_zero_weights_contributes_nothing(data):
    X, y = data
    Xd, yd = as_dask(X, y)
    w = np.ones(len(y))
    w[100:200] = 0.0  # block 1
    model = DLSARegressor(family="poisson").fit(Xd, yd, sample_weight=da.from_array(
        w, chunks=(Xd.chunks[0],)))
    keep = w > 0
    ref = DLSARegressor(family="poisson").fit(
        da.from_array(X[keep], chunks=((100, 100, 100), -1)), da.from_array(y[keep], chunks=100))
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-12, rtol=0)
    assert model.converged_
    assert model.block_diagnostics_.query("problem == 'zero_weight'")["block"].tolist() == [1]
