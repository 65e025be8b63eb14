"""BiasReducedGLM: invariances and inputs.

The estimate must not depend on how the rows are split into blocks, on their order,
or on the pass variant; grouped binomial data must give the expanded 0/1 fit; every
input type (NumPy, pandas, dask arrays and DataFrames with unknown chunk sizes, zarr
storage, a LocalCluster) must give the same numbers; block functions run on any
array-API namespace.
"""

import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import BiasReducedGLM
from dask_glmdist.families import get_family
from dask_glmdist.solvers.chunked_iwls import PassSpec, iwls_block
from dask_glmdist.solvers.iwls_edges import on_edge_block, outside_gram_block


@pytest.fixture
def probit_data(rng):
    n = 3000
    X = np.column_stack([rng.normal(size=n), rng.uniform(-1, 1, size=n),
                         (rng.random(n) < 0.2).astype(float)])
    eta = -0.4 + X @ [0.7, -0.5, 0.6]
    y = (rng.normal(size=n) < eta).astype(float)
    return X, y


@pytest.mark.parametrize("method", ["ML", "mBR", "mJPL"])
def test_chunking_and_row_order_do_not_matter(probit_data, method, rng):
    X, y = probit_data
    kw = dict(link="probit", method=method, tol=1e-12)
    one = BiasReducedGLM(**kw, n_partitions=1).fit(X, y)
    uneven = (7, 1, 900, 13, 1000, 1079)  # blocks smaller than the parameter count too
    Xd = da.from_array(X, chunks=(uneven, -1))
    many = BiasReducedGLM(**kw).fit(Xd, da.from_array(y, chunks=(uneven,)))
    perm = rng.permutation(len(y))
    permuted = BiasReducedGLM(**kw, n_partitions=5).fit(X[perm], y[perm])
    for other in (many, permuted):
        np.testing.assert_allclose(other.params_, one.params_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(other.bse_, one.bse_, rtol=1e-10)
        np.testing.assert_allclose(other.deviance_, one.deviance_, rtol=1e-10)
    assert many.n_blocks_ == 6


@pytest.mark.parametrize(("family", "link", "method"), [
    ("binomial", "probit", "mBR"), ("binomial", "cloglog", "mJPL"),
    ("poisson", "log", "mBR"), ("gamma", "log", "mBR"), ("gamma", "inverse", "mJPL"),
])
def test_one_pass_equals_two_pass(family, link, method, rng):
    n = 1500
    X = rng.normal(size=(n, 3))
    eta = X @ [0.4, -0.3, 0.2]
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(3.0, np.exp(0.1 * eta) / 3.0)
    two = BiasReducedGLM(family, link, method=method, passes=2, tol=1e-12).fit(X, y)
    one = BiasReducedGLM(family, link, method=method, passes=1, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(one.params_, two.params_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(one.dispersion_, two.dispersion_, rtol=1e-8)
    assert one.n_rounds_ / one.n_iter_ < two.n_rounds_ / two.n_iter_


@pytest.mark.parametrize("method", ["ML", "mBR", "mJPL"])
def test_grouped_binomial_equals_expanded(method, rng):
    """Proportions with sample_weight = trials give the fit of the expanded 0/1 rows."""
    g = 60
    Xg = np.column_stack([rng.normal(size=g), rng.uniform(size=g)])
    trials = rng.integers(1, 9, size=g)
    successes = rng.binomial(trials, 1 / (1 + np.exp(-(0.2 + Xg @ [0.9, -1.0]))))
    grouped = BiasReducedGLM(link="cloglog", method=method, tol=1e-12).fit(
        Xg, successes / trials, sample_weight=trials.astype(float))
    rows = np.repeat(np.arange(g), trials)
    y01 = np.concatenate([np.r_[np.ones(s), np.zeros(t - s)] for s, t in zip(
        successes, trials, strict=True)])
    expanded = BiasReducedGLM(link="cloglog", method=method, tol=1e-12).fit(Xg[rows], y01)
    np.testing.assert_allclose(grouped.params_, expanded.params_, atol=1e-9)
    np.testing.assert_allclose(grouped.bse_, expanded.bse_, rtol=1e-8)


def test_zero_weight_rows_are_left_out(rng):
    n = 500
    X = rng.normal(size=(n, 2))
    y = rng.gamma(2.0, np.exp(X @ [0.3, -0.2]) / 2.0)
    w = np.ones(n)
    w[::5] = 0.0
    full = BiasReducedGLM("gamma", "log", method="mBR").fit(X, y, sample_weight=w)
    kept = BiasReducedGLM("gamma", "log", method="mBR").fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(full.params_, kept.params_, atol=1e-10)
    np.testing.assert_allclose(full.dispersion_, kept.dispersion_, rtol=1e-10)
    assert full.df_resid_ == kept.df_resid_


def test_dask_dataframe_with_unknown_chunks(probit_data):
    X, y = probit_data
    df = pd.DataFrame(X, columns=["age", "dose", "carrier"])
    df["y"] = y
    ddf = dd.from_pandas(df, npartitions=4)
    ref = BiasReducedGLM(link="probit", tol=1e-12).fit(df[["age", "dose", "carrier"]], y)
    model = BiasReducedGLM(link="probit", tol=1e-12).fit(ddf[["age", "dose", "carrier"]],
                                                         ddf["y"])
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-10)
    assert list(model.summary().index) == ["intercept", "age", "dose", "carrier"]
    assert list(model.feature_names_in_) == ["age", "dose", "carrier"]
    mu = model.predict(ddf[["age", "dose", "carrier"]])
    assert isinstance(mu, dd.Series)  # an expression on the frame: assignable to it
    np.testing.assert_allclose(mu.compute(), ref.predict(df[["age", "dose", "carrier"]]),
                               rtol=1e-9)
    np.testing.assert_allclose(model.score(ddf[["age", "dose", "carrier"]], ddf["y"]),
                               ref.score(df[["age", "dose", "carrier"]], y), rtol=1e-9)


def test_zarr_backed_input_is_read_per_pass(probit_data, tmp_path):
    """A storage-backed dask array works, and the graph holds no data of its own."""
    import zarr  # a test dependency: storage-backed input must not go untested
    X, y = probit_data
    zx = zarr.open_array(tmp_path / "X.zarr", mode="w", shape=X.shape, chunks=(700, 3),
                         dtype="f8")
    zx[:] = X
    zy = zarr.open_array(tmp_path / "y.zarr", mode="w", shape=y.shape, chunks=(700,),
                         dtype="f8")
    zy[:] = y
    Xd, yd = da.from_zarr(str(tmp_path / "X.zarr")), da.from_zarr(str(tmp_path / "y.zarr"))
    model = BiasReducedGLM(link="probit", tol=1e-12).fit(Xd, yd)
    ref = BiasReducedGLM(link="probit", tol=1e-12, n_partitions=1).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-10)
    assert model.n_blocks_ == 5


def test_local_cluster_matches_threaded(probit_data):
    distributed = pytest.importorskip("distributed")
    X, y = probit_data
    Xd = da.from_array(X, chunks=(800, -1))
    yd = da.from_array(y, chunks=(800,))
    ref = BiasReducedGLM(link="probit", method="mJPL", tol=1e-12).fit(Xd, yd)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        model = BiasReducedGLM(link="probit", method="mJPL", tol=1e-12).fit(Xd, yd)
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-12)


def test_offset_as_dask_array(rng):
    n = 900
    X = rng.normal(size=(n, 2))
    off = rng.normal(scale=0.3, size=n)
    y = rng.poisson(np.exp(0.2 + off + X @ [0.3, -0.4])).astype(float)
    ref = BiasReducedGLM("poisson", n_partitions=3, tol=1e-12).fit(X, y, offset=off)
    Xd = da.from_array(X, chunks=(300, -1))
    model = BiasReducedGLM("poisson", tol=1e-12).fit(
        Xd, da.from_array(y, chunks=300), offset=da.from_array(off, chunks=300))
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-12)
    without = BiasReducedGLM("poisson", tol=1e-12).fit(X, y)
    assert np.max(np.abs(without.params_ - ref.params_)) > 1e-3


def test_start_values_reach_the_same_estimate(probit_data):
    X, y = probit_data
    ref = BiasReducedGLM(link="probit", tol=1e-12).fit(X, y)
    started = BiasReducedGLM(link="probit", tol=1e-12, start=np.zeros(4)).fit(X, y)
    np.testing.assert_allclose(started.params_, ref.params_, atol=1e-10)
    close = BiasReducedGLM(link="probit", tol=1e-12, start=ref.params_).fit(X, y)
    assert close.n_iter_ <= 2


def test_no_intercept(rng):
    import statsmodels.api as sm

    X = rng.normal(size=(400, 3))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1])).astype(float)
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-14)
    model = BiasReducedGLM("poisson", method="ML", fit_intercept=False, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-10)
    assert model.intercept_ == 0.0 and list(model.summary().index) == ["x0", "x1", "x2"]


@pytest.mark.parametrize("hat", [False, True])
def test_block_function_on_array_api_strict(probit_data, hat):
    """The block pass is array-namespace generic (the CuPy path): same R, same adjustment."""
    xps = pytest.importorskip("array_api_strict")
    X, y = probit_data
    X, y = X[:500], y[:500]
    fam = get_family("binomial", "probit")
    beta = np.array([-0.3, 0.6, -0.4, 0.5])
    R = np.linalg.qr(np.column_stack([np.ones(500), X]))[1]
    spec = PassSpec(family=fam, fit_intercept=True, beta=beta, method="mJPL",
                    hat_R=np.abs(R) if hat else None, validate=True)
    ref = iwls_block(X, y, None, spec=spec, block_index=0)
    out = iwls_block(xps.asarray(X), xps.asarray(y), None, spec=spec, block_index=0)
    np.testing.assert_allclose(out.R, ref.R, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.deviance, ref.deviance, rtol=1e-12)
    if hat:
        np.testing.assert_allclose(out.adj, ref.adj, rtol=1e-10)
    # the first pass's edge counts, and the passes of degenerate fits
    assert (out.n_low, out.n_up) == (ref.n_low, ref.n_up)
    np.testing.assert_array_equal(out.recession, ref.recession)
    for fn, args, kw in [(outside_gram_block, ([0],), {}), (outside_gram_block, ([2],), {}),
                         (on_edge_block, (beta,), {"family": fam})]:
        a = fn(X, y, None, *args, fit_intercept=True, **kw, block_index=0)
        b = fn(xps.asarray(X), xps.asarray(y), None, *args, fit_intercept=True, **kw,
               block_index=0)
        np.testing.assert_allclose(b["gram"], a["gram"], rtol=1e-12)


@pytest.mark.parametrize("method", ["ML", "mBR"])
def test_float32_dask_input_is_fitted_in_float64(probit_data, method):
    """float32 dask blocks are cast to float64 inside the blocks: the fit of the float64
    array holding the same (rounded) values, in as many iterations."""
    X, y = probit_data
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    kw = dict(link="probit", method=method)
    ref = BiasReducedGLM(**kw).fit(da.from_array(X32.astype(np.float64), chunks=(700, -1)),
                                   da.from_array(y32.astype(np.float64), chunks=700))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = BiasReducedGLM(**kw).fit(da.from_array(X32, chunks=(700, -1)),
                                       da.from_array(y32, chunks=700))
    assert fit.converged_ and fit.n_iter_ == ref.n_iter_ and fit.n_rounds_ == ref.n_rounds_
    np.testing.assert_allclose(fit.params_, ref.params_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.bse_, ref.bse_, rtol=1e-10)
    assert fit.params_.dtype == np.float64
