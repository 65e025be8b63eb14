"""DLSACoxRegression's inputs: NumPy, pandas (column names), dask arrays, dask DataFrames
(column names, dask Series, un-persisted Parquet with unknown partition sizes) give the
same fit; predictions are lazy for dask input."""

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import DLSACoxRegression


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    n = 600
    X = rng.normal(size=(n, 2))
    t = rng.exponential(1.0 / np.exp(X @ [0.6, -0.4]))
    c = rng.exponential(2.0, size=n)
    return pd.DataFrame({
        "a": X[:, 0], "b": X[:, 1], "time": np.ceil(np.minimum(t, c) * 10) / 10,
        "dead": (t <= c), "w": rng.integers(1, 3, size=n).astype(float),
        "site": rng.choice(["x", "y"], size=n),
    })


def _reference(df, **kw):
    return DLSACoxRegression(n_partitions=3, refine_steps=3).fit(
        df[["a", "b"]].to_numpy(), df["time"].to_numpy(), df["dead"].to_numpy(),
        sample_weight=df["w"].to_numpy(), strata=df["site"].to_numpy(), **kw)


def _same(model, ref):
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.bse_, ref.bse_, rtol=1e-10)
    assert model.loglik_ == pytest.approx(ref.loglik_, rel=1e-12)
    pd.testing.assert_frame_equal(model.baseline_cumulative_hazard_,
                                  ref.baseline_cumulative_hazard_, rtol=1e-10)


def test_pandas_column_names(frame):
    ref = _reference(frame)
    model = DLSACoxRegression(n_partitions=3, refine_steps=3).fit(
        frame, "time", "dead", sample_weight="w", strata="site")
    _same(model, ref)
    assert list(model.feature_names_in_) == ["a", "b"]
    assert list(model.summary().index) == ["a", "b"]
    assert list(model.baseline_cumulative_hazard_.columns) == ["x", "y"]


def test_dask_dataframe_column_names_and_series(frame):
    ref = _reference(frame)
    ddf = dd.from_pandas(frame, npartitions=3, sort=False)
    assert ddf.npartitions == 3
    with dask.config.set(scheduler="sync"):
        model = DLSACoxRegression(refine_steps=3).fit(ddf, "time", "dead",
                                                      sample_weight="w", strata="site")
        _same(model, ref)
        assert model.n_blocks_ == 3 and list(model.feature_names_in_) == ["a", "b"]
        other = DLSACoxRegression(refine_steps=3).fit(
            ddf[["a", "b"]], ddf["time"], ddf["dead"], sample_weight=ddf["w"],
            strata=ddf["site"])
        _same(other, ref)
        # predictions: a dask Series on the frame's index, assignable back
        out = ddf.assign(h=model.predict(ddf))
        np.testing.assert_allclose(out["h"].compute().to_numpy(), model.predict(frame),
                                   rtol=1e-12)
        sf = model.predict_survival_function(ddf, times=[0.5, 1.0], strata="site")
        mem = model.predict_survival_function(frame, times=[0.5, 1.0], strata="site")
        np.testing.assert_allclose(sf.compute().to_numpy(), mem.to_numpy().T, rtol=1e-12)


def test_dask_arrays_with_known_and_unknown_chunks(frame):
    ref = _reference(frame)
    X = da.from_array(frame[["a", "b"]].to_numpy(), chunks=(200, 2))
    vec = {k: da.from_array(frame[k].to_numpy(), chunks=200) for k in ("time", "dead", "w")}
    site = da.from_array(frame["site"].to_numpy().astype(object), chunks=200)
    with dask.config.set(scheduler="sync"):
        model = DLSACoxRegression(refine_steps=3).fit(
            X, vec["time"], vec["dead"], sample_weight=vec["w"], strata=site)
        _same(model, ref)
        eta = model.predict_log_partial_hazard(X)
        assert isinstance(eta, da.Array)
        np.testing.assert_allclose(
            eta.compute(), (frame[["a", "b"]].to_numpy() - model.baseline_mean_) @ model.coef_)
        sf = model.predict_survival_function(X, times=[0.5], strata=site)
        assert isinstance(sf, da.Array) and sf.shape[1] == 1
        mem = model.predict_survival_function(frame[["a", "b"]].to_numpy(), times=[0.5],
                                              strata=frame["site"].to_numpy())
        np.testing.assert_allclose(sf.compute()[:, 0], mem.to_numpy()[0], rtol=1e-12)


def test_unpersisted_parquet(frame, tmp_path):
    ref = _reference(frame)
    for k in range(3):
        frame.iloc[200 * k: 200 * (k + 1)].to_parquet(tmp_path / f"part{k}.parquet")
    ddf = dd.read_parquet(str(tmp_path))
    model = DLSACoxRegression(refine_steps=3).fit(ddf, "time", "dead", sample_weight="w",
                                                  strata="site")
    _same(model, ref)


def test_event_none_means_every_row_is_an_event(frame):
    a = DLSACoxRegression(n_partitions=2).fit(frame[["a", "b"]], frame["time"])
    b = DLSACoxRegression(n_partitions=2).fit(frame[["a", "b"]], frame["time"],
                                              np.ones(len(frame)))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert a.n_events_ == len(frame)


def test_missing_values_raise_or_drop(frame):
    df = frame.drop(columns=["site", "w"])
    df.loc[[3, 10], "a"] = np.nan
    df.loc[[5], "time"] = np.nan
    with pytest.raises(ValueError, match=r"3 rows have missing values.*a: 2.*durations: 1"):
        DLSACoxRegression(n_partitions=2).fit(df, "time", "dead")
    kept = df.dropna()
    a = DLSACoxRegression(n_partitions=2, missing="drop").fit(df, "time", "dead")
    b = DLSACoxRegression(n_partitions=2).fit(kept, "time", "dead")
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert a.n_dropped_ == 3 and a.n_obs_ == len(kept)
    ddf = dd.from_pandas(df, npartitions=2, sort=False)
    with pytest.raises(ValueError, match=r"3 rows have missing values"):
        DLSACoxRegression().fit(ddf, "time", "dead")
    c = DLSACoxRegression(missing="drop").fit(ddf, "time", "dead")
    assert c.n_dropped_ == 3 and c.n_obs_ == len(kept)


def test_blocks_of_another_array_namespace_are_fitted_on_the_host():
    """CuPy blocks (array_api_strict here) are copied to the host in the task: the
    block's summary equals that of the same NumPy block."""
    xps = pytest.importorskip("array_api_strict")
    from dask_glmdist.solvers.cox_blocks import cox_local_block, cox_sums_block

    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 2))
    y = np.c_[rng.exponential(np.exp(-X @ [0.5, -0.3])), rng.random(120) < 0.8]
    w = rng.uniform(0.5, 2.0, 120)
    kw = {"block_index": 0, "ties": "efron"}
    a = cox_local_block(X, y, w, tol=1e-10, max_iter=50, **kw)
    b = cox_local_block(xps.asarray(X), xps.asarray(y), xps.asarray(w), tol=1e-10, max_iter=50,
                        **kw)
    np.testing.assert_array_equal(a.information_theta, b.information_theta)
    theta = np.array([0.4, -0.2])
    a, b = (cox_sums_block(*args, theta, **kw) for args in
            ((X, y, w), (xps.asarray(X), xps.asarray(y), xps.asarray(w))))
    assert a.loglik == b.loglik
    np.testing.assert_array_equal(a.score, b.score)
