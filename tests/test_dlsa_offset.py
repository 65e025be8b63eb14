"""DLSA with an offset (log exposure): statsmodels' GLM is the oracle."""

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dask_glmdist import DLSARegressor


@pytest.fixture(scope="module")
def exposure_data():
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 3))
    exposure = rng.uniform(0.5, 5.0, size=n)
    y = rng.poisson(exposure * np.exp(0.2 + X @ [0.3, -0.2, 0.1])).astype(float)
    off = np.log(exposure)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(), offset=off).fit(
        tol=1e-13)
    return X, y, off, ref


@pytest.mark.parametrize(("k", "refine"), [(1, 0), (4, 20)])
def test_offset_fit_is_the_global_mle(exposure_data, k, refine):
    """One block (the global fit) or K blocks refined to convergence: statsmodels' GLM
    with ``offset=log(exposure)``."""
    X, y, off, ref = exposure_data
    m = DLSARegressor(family="poisson", n_partitions=k, refine_steps=refine,
                      tol=1e-12).fit(X, y, offset=off)
    np.testing.assert_allclose(m.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(m.bse_, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(m.predict(X, offset=off),
                               ref.predict(sm.add_constant(X), offset=off), rtol=1e-8)


def test_one_round_is_the_wlse_of_the_blocks_fits_with_offsets(exposure_data):
    """One round on K blocks: the WLSE of per-block statsmodels fits with their offsets."""
    X, y, off, _ = exposure_data
    K, n = 4, X.shape[0]
    H = np.zeros((4, 4))
    Ht = np.zeros(4)
    for k in range(K):
        s = slice(k * n // K, (k + 1) * n // K)
        f = sm.GLM(y[s], sm.add_constant(X[s]), family=sm.families.Poisson(),
                   offset=off[s]).fit(tol=1e-13)
        A = np.linalg.inv(f.cov_params())
        H += A
        Ht += A @ f.params
    m = DLSARegressor(family="poisson", n_partitions=K, refine_steps=0, tol=1e-12).fit(
        X, y, offset=off)
    np.testing.assert_allclose(m.params_, np.linalg.solve(H, Ht), rtol=0, atol=1e-9)
    np.testing.assert_allclose(m.cov_params_, np.linalg.inv(H), rtol=1e-8)


def test_offset_as_a_column_of_a_dask_frame(exposure_data):
    X, y, off, ref = exposure_data
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y, off=off)
    ddf = dd.from_pandas(df, npartitions=4)
    m = DLSARegressor(family="poisson", refine_steps=20, tol=1e-12).fit(
        ddf[["a", "b", "c"]], ddf["y"], offset=ddf["off"])
    np.testing.assert_allclose(m.params_, ref.params, rtol=0, atol=1e-8)
    f = DLSARegressor(family="poisson", formula="y ~ a + b + c", refine_steps=20,
                      tol=1e-12).fit(df, offset="off")
    np.testing.assert_allclose(f.params_, ref.params, rtol=0, atol=1e-8)
