"""DebiasedLassoRegressor(standardize=True): every block standardises by its own
standard deviations (one round, no extra pass).

Oracle: when every block has the same columns (so its standard deviations are the
global ones) the fit equals the fit on the standardised columns ``X / sd`` with
``standardize=False``, transformed back -- every method, both node-wise joins, the
rows the master forms from the pooled Gram (an empty block) included.
"""

import warnings

import dask.array as da
import numpy as np
import pytest
from scipy.special import expit

from dask_glmdist import DebiasedLassoRegressor

SCALES = np.array([1.0, 100.0, 0.01, 5.0, 1.0])
# means of at most 2 sds: the local fits' coordinate descent does not profile out the
# intercept, and columns whose mean is hundreds of sds crawl there (standardised or not)
SHIFTS = np.array([0.0, 100.0, 0.02, 0.0, -2.0])


def _tiled(family, K=4, n0=600, seed=0):
    """K blocks with the same X (different y): each block's sds are the global ones."""
    rng = np.random.default_rng(seed)
    Z0 = rng.normal(size=(n0, SCALES.size))
    X = np.tile(Z0 * SCALES + SHIFTS, (K, 1))
    eta = 0.2 + np.tile(Z0, (K, 1)) @ np.array([0.5, 0.3, -0.4, 0.0, 0.0])
    y = {"gaussian": eta + rng.normal(size=eta.size),
         "binomial": (rng.random(eta.size) < expit(eta)).astype(float)}[family]
    return X, y, (Z0 * SCALES + SHIFTS).std(axis=0)


def _fit(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DebiasedLassoRegressor(**kw).fit(X, y)


@pytest.mark.parametrize("family", ["gaussian", "binomial"])
@pytest.mark.parametrize("method,nodewise", [("debiased", "mosaic"), ("debiased", "full"),
                                             ("naive", "mosaic")])
def test_equals_the_fit_on_standardised_columns(family, method, nodewise):
    X, y, sd = _tiled(family)
    kw = dict(alpha=0.05, family=family, method=method, nodewise=nodewise, n_partitions=4)
    a = _fit(X, y, standardize=True, **kw)
    b = _fit(X / sd, y, **kw)
    d = np.r_[1.0, sd]
    # per standardised coefficient
    np.testing.assert_allclose(a.params_ * d, b.params_, rtol=0, atol=1e-8)
    if method == "debiased":
        np.testing.assert_allclose(a.bse_ * d, b.bse_, rtol=1e-7)
        np.testing.assert_allclose(a.summary()["z"].to_numpy(), b.summary()["z"].to_numpy(),
                                   rtol=1e-6)
    # and without standardize the units change the fit (a milder rescaling than SCALES,
    # which the unstandardised node-wise lasso cannot solve in reasonable time)
    c = _fit(X / sd * np.array([1.0, 3.0, 0.3, 1.0, 1.0]), y, **kw)
    assert np.max(np.abs(c.params_[1:] * np.array([1.0, 3.0, 0.3, 1.0, 1.0])
                         - b.params_[1:])) > 1e-3


def test_rows_formed_on_the_master_use_the_blocks_standard_deviations():
    """An empty block forms no mosaic rows; the master forms them from the pooled Gram."""
    X, y, sd = _tiled("gaussian")
    chunks = (600, 600, 0, 600, 600)
    Xd = da.from_array(X, chunks=(chunks, (5,)))
    yd = da.from_array(y, chunks=(chunks,))
    a = _fit(Xd, yd, alpha=0.05, standardize=True)
    b = _fit(da.from_array(X / sd, chunks=(chunks, (5,))), yd, alpha=0.05)
    assert a.n_blocks_ == 5 and a.n_blocks_used_ == 4
    d = np.r_[1.0, sd]
    np.testing.assert_allclose(a.params_ * d, b.params_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.bse_ * d, b.bse_, rtol=1e-7)


def test_units_of_a_column_do_not_matter():
    X, y, _ = _tiled("binomial", seed=1)
    X2 = X.copy()
    X2[:, 2] *= 1000.0
    a = _fit(X, y, family="binomial", alpha=0.05, standardize=True, n_partitions=4)
    b = _fit(X2, y, family="binomial", alpha=0.05, standardize=True, n_partitions=4)
    np.testing.assert_allclose(b.coef_[2] * 1000.0, a.coef_[2], rtol=1e-7)
    np.testing.assert_allclose(b.bse_[3] * 1000.0, a.bse_[3], rtol=1e-7)
    np.testing.assert_allclose(np.delete(b.params_, 3), np.delete(a.params_, 3), rtol=1e-7,
                               atol=1e-10)


def test_blocks_use_their_own_standard_deviations():
    """Unequal blocks: the fit is the per-block one, not that of the globally
    standardised columns (documented); one block is both."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2400, 3)) * np.repeat([[1.0], [3.0]], 1200, axis=0)
    y = X @ [0.5, -0.2, 0.0] + rng.normal(size=2400)
    sd = X.std(axis=0)
    one = _fit(X, y, alpha=0.05, standardize=True, n_partitions=1)
    ref = _fit(X / sd, y, alpha=0.05, n_partitions=1)
    np.testing.assert_allclose(one.params_ * np.r_[1.0, sd], ref.params_, atol=1e-8)
    two = _fit(X, y, alpha=0.05, standardize=True, n_partitions=2)
    ref2 = _fit(X / sd, y, alpha=0.05, n_partitions=2)
    assert np.max(np.abs(two.params_ * np.r_[1.0, sd] - ref2.params_)) > 1e-6
