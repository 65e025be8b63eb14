"""DLSACoxRegression on bad input and awkward blocks: clear errors naming the problem,
warnings naming the blocks left out of the one-round combination, never a silent
wrong number."""

import dask.array as da
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from statsmodels.duration.hazard_regression import PHReg

from dask_glmdist import DLSACoxRegression


def data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = rng.exponential(1.0 / np.exp(X @ [0.5, -0.5]))
    c = rng.exponential(2.0, size=n)
    return X, np.minimum(t, c), (t <= c).astype(float)


@pytest.mark.parametrize("kw, match", [
    ({"ties": "exact"}, "ties"), ({"refine_steps": -1}, "refine_steps"),
    ({"missing": "keep"}, "missing"), ({"tol": 0}, "tol")])
def test_parameters_are_validated(kw, match):
    X, d, e = data()
    with pytest.raises(InvalidParameterError, match=match):
        DLSACoxRegression(**kw).fit(X, d, e)


@pytest.mark.parametrize("change, match", [
    (lambda d, e, w, s: (-d, e, w, s), "durations have negative values"),
    (lambda d, e, w, s: (d, e * 2, w, s), "event has values other than 0/1"),
    (lambda d, e, w, s: (d, e, -w, s), "sample_weight has negative values"),
    (lambda d, e, w, s: (d, e, w, d + 1), "entry times are after their durations"),
])
def test_invalid_values_are_named(change, match):
    X, d, e = data()
    d, e, w, entry = change(d, e, np.ones_like(d), np.zeros_like(d))
    with pytest.raises(ValueError, match=match):
        DLSACoxRegression(n_partitions=2).fit(X, d, e, sample_weight=w, entry=entry)
    # dask input: found by the blocks in the first pass, naming them
    Xd = da.from_array(X, chunks=(300, 2))
    with pytest.raises(ValueError, match=match + r".*row blocks \[0, 1\]"):
        DLSACoxRegression().fit(Xd, da.from_array(d, chunks=300), da.from_array(e, 300),
                                sample_weight=da.from_array(w, 300),
                                entry=da.from_array(entry, 300))


def test_nan_in_a_dask_block_is_named_with_its_column():
    X, d, e = data()
    X[400, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 rows have missing values.*x1: 1"):
        DLSACoxRegression().fit(da.from_array(X, chunks=(300, 2)),
                                da.from_array(d, chunks=300), da.from_array(e, chunks=300))


def test_no_events_at_all():
    X, d, _ = data()
    with pytest.raises(ValueError, match="There are no events"):
        DLSACoxRegression(n_partitions=2).fit(X, d, np.zeros_like(d))


def test_a_covariate_constant_within_every_block_is_named():
    X, d, e = data()
    X = np.column_stack([X, np.repeat([1.0, 2.0], 300)])  # a "centre" characteristic
    with pytest.raises(ValueError, match=r"\[x2\] are constant within every row block"):
        DLSACoxRegression(n_partitions=2).fit(X, d, e)


def test_a_block_without_events_contributes_nothing():
    X, d, e = data()
    e[:200] = 0.0  # block 0 has no event
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[0\] have no events"):
        model = DLSACoxRegression(n_partitions=3, refine_steps=20, tol=1e-12).fit(X, d, e)
    ref = PHReg(d, X, status=e, ties="efron", strata=np.repeat([0, 1, 2], 200)).fit()
    np.testing.assert_allclose(model.coef_, ref.params, atol=1e-8)
    assert list(model.wlse_blocks_) == [1, 2]
    # its rows are in the baseline's risk sets
    assert model.block_diagnostics_["problem"].tolist() == ["no_events"]


def test_a_block_with_monotone_likelihood_is_left_out_of_the_one_round_estimate():
    X, d, e = data()
    # in block 1 the row that fails has the largest x0 of its risk set at every event
    # time: the local estimate of x0 runs off to +inf
    rows = np.arange(300, 600)
    X[rows, 0] = np.where(np.arange(300) < 150, 2.0 - np.arange(300) / 300, -1.0)
    d[rows] = np.where(np.arange(300) < 150, 0.01 + np.arange(300) / 1000, 5.0)
    e[rows] = (np.arange(300) < 150).astype(float)
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[1\] were left out"):
        model = DLSACoxRegression(n_partitions=2, refine_steps=0).fit(X, d, e)
    assert list(model.wlse_blocks_) == [0]
    diag = model.block_diagnostics_
    assert diag["problem"].tolist() == ["monotone"] and diag["columns"].iloc[0] == ["x0"]
    # the refinement rounds use block 1's rows too: the block-stratified MLE is finite
    refined = DLSACoxRegression(n_partitions=2, refine_steps=30, tol=1e-12)
    with pytest.warns(UserWarning, match="left out"):
        refined.fit(X, d, e)
    ref = PHReg(d, X, status=e, ties="efron", strata=np.repeat([0, 1], 300)).fit()
    np.testing.assert_allclose(refined.coef_, ref.params, atol=1e-8)
    assert refined.converged_


def test_no_usable_local_fit_and_no_refinement_is_an_error():
    X, d, e = data(n=40)
    with pytest.raises(ValueError, match="The one-round estimate does not exist"), \
            pytest.warns(UserWarning):
        DLSACoxRegression(n_partitions=20, refine_steps=0).fit(X, d, e)


def test_strata_must_be_given_to_predict_survival_when_fitted_with_them():
    X, d, e = data()
    s = np.arange(len(d)) % 2
    model = DLSACoxRegression(n_partitions=2).fit(X, d, e, strata=s)
    with pytest.raises(ValueError, match="fitted with strata"):
        model.predict_survival_function(X[:3], times=[1.0])
    with pytest.raises(ValueError, match="not seen in fit"):
        model.predict_survival_function(X[:3], times=[1.0], strata=[0, 1, 7])
    plain = DLSACoxRegression(n_partitions=2).fit(X, d, e)
    with pytest.raises(ValueError, match="fitted without strata"):
        plain.predict_survival_function(X[:3], times=[1.0], strata=[0, 1, 1])


def test_column_names_need_a_frame_and_must_exist():
    X, d, e = data()
    with pytest.raises(TypeError, match="column names need X"):
        DLSACoxRegression().fit(X, "time")
    import pandas as pd
    df = pd.DataFrame(X, columns=["a", "b"]).assign(t=d)
    with pytest.raises(ValueError, match="names no column"):
        DLSACoxRegression().fit(df, "time")
