"""Input kinds and schedulers: dask arrays/DataFrames (unknown chunk sizes), pandas,
a real distributed LocalCluster, and array-API (stand-in for CuPy) blocks."""

import warnings

import array_api_strict as xps
import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from conftest import block_chunks

from dask_glmdist import DLSALogisticRegression, DLSARegressor
from dask_glmdist.families import get_family
from dask_glmdist.solvers.dlsa import dlsa_local_block, glm_score_block


def _frame(X, y):
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    df["target"] = y
    return df


def test_numpy_and_dask_array_agree(hetero_logistic):
    X, y, _ = hetero_logistic
    a = DLSALogisticRegression(n_partitions=5, refine_steps=1).fit(X, y)
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 5), -1))
    b = DLSALogisticRegression(refine_steps=1).fit(Xd, da.from_array(y, chunks=(Xd.chunks[0],)))
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-12, rtol=0)
    # dask input predicts lazily, and the same numbers
    proba = b.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), a.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(b.predict(Xd).compute(), a.predict(X))


def test_multiple_column_chunks_are_merged(hetero_logistic):
    X, y, _ = hetero_logistic
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), 3))
    assert Xd.numblocks[1] > 1
    yd = da.from_array(y, chunks=(Xd.chunks[0],))
    a = DLSALogisticRegression().fit(Xd, yd)
    b = DLSALogisticRegression(n_partitions=4).fit(X, y)
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-12, rtol=0)


def test_dask_dataframe_with_unknown_chunk_sizes(hetero_logistic):
    X, y, _ = hetero_logistic
    ddf = dd.from_pandas(_frame(X, y), npartitions=6)
    features = [c for c in ddf.columns if c != "target"]
    Xu = ddf[features]
    assert any(np.isnan(c) for c in Xu.to_dask_array().chunks[0])  # unknown sizes
    model = DLSALogisticRegression(refine_steps=1).fit(Xu, ddf["target"])
    # the same partitions with known sizes give the same numbers
    Xk = ddf[features].to_dask_array(lengths=True)
    yk = ddf["target"].to_dask_array(lengths=True)
    ref = DLSALogisticRegression(refine_steps=1).fit(Xk, yk)
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-12, rtol=0)
    assert model.n_blocks_ == 6
    assert list(model.feature_names_in_) == features
    assert list(model.summary().index) == ["intercept", *features]
    pred = model.predict(Xu)
    assert isinstance(pred, dd.Series)  # an expression on the frame: assignable to it
    assert pred.compute().shape == (len(y),)


def test_pandas_input_keeps_feature_names(hetero_poisson):
    X, y, _ = hetero_poisson
    df = _frame(X, y)
    model = DLSARegressor(family="poisson", n_partitions=3).fit(df.drop(columns="target"),
                                                                df["target"])
    table = model.summary()
    assert list(table.index) == ["intercept"] + [f"f{j}" for j in range(X.shape[1])]
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert list(model.conf_int(0.1).index) == list(table.index)


def test_string_labels_from_dask(hetero_logistic):
    X, y, _ = hetero_logistic
    labels = np.where(y > 0, "yes", "no").astype(object)
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), -1))
    yd = da.from_array(labels, chunks=(Xd.chunks[0],))
    clf = DLSALogisticRegression().fit(Xd, yd)
    ref = DLSALogisticRegression(n_partitions=4).fit(X, labels)
    assert list(clf.classes_) == ["no", "yes"]
    np.testing.assert_allclose(clf.params_, ref.params_, atol=1e-12, rtol=0)
    assert set(np.unique(ref.predict(X))) <= {"no", "yes"}


def test_local_cluster_processes_match_threads(hetero_logistic):
    distributed = pytest.importorskip("distributed")
    X, y, _ = hetero_logistic
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), -1))
    yd = da.from_array(y, chunks=(Xd.chunks[0],))
    with dask.config.set(scheduler="threads"):
        threaded = DLSALogisticRegression(refine_steps=2, penalty="adaptive_lasso").fit(Xd, yd)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        Xp, yp = client.persist([Xd, yd])
        remote = DLSALogisticRegression(refine_steps=2, penalty="adaptive_lasso").fit(Xp, yp)
        assert client.run(lambda: 1)  # the workers are alive and were used
    np.testing.assert_allclose(remote.params_, threaded.params_, atol=1e-12, rtol=0)
    np.testing.assert_allclose(remote.cov_params_, threaded.cov_params_, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("family,link", [("binomial", "logit"), ("poisson", "log"),
                                         ("gamma", "log"), ("binomial", "probit")])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_block_functions_are_array_api_generic(family, link, fit_intercept):
    """The block functions run unchanged on array_api_strict arrays (CuPy stand-in)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 3))
    eta = 0.3 + X @ [0.4, -0.3, 0.2]
    fam = get_family(family, link)
    if family == "binomial":
        y = (rng.random(500) < 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    w = rng.uniform(0.5, 1.5, size=500)
    args = dict(family=fam, fit_intercept=fit_intercept, tol=1e-10, max_iter=100, classes=None)
    ref = dlsa_local_block(X, y, w, **args, block_index=0)
    got = dlsa_local_block(xps.asarray(X), xps.asarray(y), xps.asarray(w), **args, block_index=0)
    for key in ["information", "information_theta", "pearson", "deviance"]:
        assert isinstance(getattr(got, key), np.ndarray | float)
        np.testing.assert_allclose(getattr(got, key), getattr(ref, key), rtol=1e-10)
    theta = np.linalg.solve(ref.information, ref.information_theta)
    kw = dict(family=fam, fit_intercept=fit_intercept, classes=None, block_index=0)
    ref_s = glm_score_block(X, y, w, theta, **kw)
    got_s = glm_score_block(xps.asarray(X), xps.asarray(y), xps.asarray(w), theta, **kw)
    for key in ["score", "information", "pearson", "deviance"]:
        np.testing.assert_allclose(getattr(got_s, key), getattr(ref_s, key), rtol=1e-10,
                                   atol=1e-9)


def test_array_api_separated_block_and_validation():
    """The Jeffreys fallback and the block checks also run on array-API blocks."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(float)
    fam = get_family("binomial")
    kw = dict(family=fam, fit_intercept=True, tol=1e-10, max_iter=100, classes=None)
    ref = dlsa_local_block(X, y, None, **kw, block_index=2)
    got = dlsa_local_block(xps.asarray(X), xps.asarray(y), None, **kw, block_index=2)
    assert "fallback" in got.blocks[0] and "fallback" in ref.blocks[0]
    np.testing.assert_allclose(got.information_theta, ref.information_theta, rtol=1e-8)
    Xbad = X.copy()
    Xbad[5, 1] = np.nan
    bad = dlsa_local_block(xps.asarray(Xbad), xps.asarray(y), None, **kw, block_index=1)
    assert bad.problems == {"nonfinite_X": 1}


def test_classifier_labels_ride_along_in_the_first_pass(hetero_logistic):
    """0/1 labels on dask input cost no extra pass over y; other labels cost one (the
    fit-statistics pass at the estimate reads y once more in both cases)."""
    X, y, _ = hetero_logistic
    calls = []

    def counted(block):
        if len(block):  # dask probes with an empty block to infer the output's meta
            calls.append(len(block))
        return block

    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), -1))
    for labels, passes in [(y, 2), (np.where(y > 0, "b", "a").astype(object), 3)]:
        calls.clear()
        yd = da.from_array(labels, chunks=(Xd.chunks[0],)).map_blocks(counted, dtype=labels.dtype)
        with dask.config.set(scheduler="threads"):
            clf = DLSALogisticRegression(refine_steps=0).fit(Xd, yd)
        assert len(calls) == 4 * passes
        np.testing.assert_array_equal(clf.classes_, np.unique(labels))


def test_empty_partition_is_skipped(hetero_logistic):
    """A filter that empties a partition (unknown chunk sizes): the same fit as without it."""
    X, y, _ = hetero_logistic
    df = _frame(X[:6000], y[:6000])
    features = [c for c in df.columns if c != "target"]
    df["row"] = np.arange(6000)
    ddf = dd.from_pandas(df, npartitions=4, sort=False)
    filtered = ddf[(ddf.row < 1500) | (ddf.row >= 3000)]  # partition 1 is now empty
    assert filtered.map_partitions(len).compute().tolist() == [1500, 0, 1500, 1500]
    model = DLSALogisticRegression(refine_steps=1).fit(filtered[features], filtered["target"])
    kept = dd.from_pandas(df.iloc[np.r_[0:1500, 3000:6000]], npartitions=3, sort=False)
    ref = DLSALogisticRegression(refine_steps=1).fit(kept[features], kept["target"])
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-10, rtol=0)
    np.testing.assert_allclose(model.bse_, ref.bse_, rtol=1e-10)
    assert model.n_obs_ == 4500
    assert model.block_diagnostics_.query("problem == 'empty'")["block"].tolist() == [1]
    # n_blocks_ is every row block of the input (before: 3, the non-empty ones)
    assert model.n_blocks_ == 4 and model.local_n_iter_.tolist()[1] == 0
    assert len(model.local_n_iter_) == 4 and min(model.local_n_iter_[[0, 2, 3]]) > 0


def test_float32_dask_input_is_fitted_in_float64():
    """float32 blocks are cast to float64: the same fit as the same values in float64,
    and no false separation (before: two blocks 'separated', 23x slower)."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(20_000, 5)).astype(np.float32)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 0.5, 0.0, 2.0])))).astype(
        np.float32)
    def as_dask(dtype):
        Xd = da.from_array(X.astype(dtype), chunks=(4000, -1))
        return Xd, da.from_array(y.astype(dtype), chunks=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = DLSALogisticRegression(refine_steps=2).fit(*as_dask(np.float32))
    b = DLSALogisticRegression(refine_steps=2).fit(*as_dask(np.float64))
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-12, rtol=0)
    np.testing.assert_allclose(a.bse_, b.bse_, rtol=1e-12)
    assert a.block_diagnostics_.empty and not a.param_flags_
