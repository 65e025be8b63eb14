"""DebiasedLassoRegressor: bad input gets a clear error naming the problem, before the
round runs (in-memory input and known block sizes) or from the round (dask values)."""

import dask.array as da
import numpy as np
import pytest

from dask_glmdist import DebiasedLassoRegressor


@pytest.fixture
def data(rng):
    X = rng.normal(size=(300, 4))
    y = X[:, 0] + rng.normal(size=300)
    return X, y


def as_dask(*arrays, k=3):
    X = arrays[0]
    Xd = da.from_array(X, chunks=(len(X) // k, -1))
    return (Xd, *[da.from_array(a, chunks=(Xd.chunks[0],)) for a in arrays[1:]])


@pytest.mark.parametrize(("params", "message"), [
    ({"alpha": -0.1}, "alpha"),
    ({"l1_ratio": 1.5}, "l1_ratio"),
    ({"l1_ratio": -0.1}, "l1_ratio"),
    ({"threshold": -1.0}, "threshold"),
    ({"nodewise_alpha": -0.1}, "nodewise_alpha"),
    ({"family": "gamma"}, "family"),
    ({"method": "average"}, "method"),
    ({"nodewise": "rows"}, "nodewise"),
])
def test_invalid_parameters(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        DebiasedLassoRegressor(**params).fit(X, y)


@pytest.mark.parametrize(("alpha", "message"), [
    (np.full(3, 0.1), r"alpha must be a scalar or have one entry per feature \(4\)"),
    (np.full((4, 1), 0.1), r"one entry per feature \(4\); got shape \(4, 1\)"),
    (np.array([0.1, -0.1, 0.1, 0.1]), "alpha must be finite and non-negative"),
    (np.array([0.1, np.nan, 0.1, 0.1]), "alpha must be finite and non-negative"),
])
def test_bad_alpha_vector(data, alpha, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        DebiasedLassoRegressor(alpha=alpha).fit(X, y)
    with pytest.raises(ValueError, match=message.replace("alpha", "nodewise_alpha", 1)):
        DebiasedLassoRegressor(nodewise_alpha=alpha).fit(X, y)


def test_blocks_too_small(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Row block 0 has 3 rows but "
                       r"method='naive_unregularized' needs at least the 5 parameters"):
        DebiasedLassoRegressor(method="naive_unregularized", n_partitions=100).fit(X, y)
    Xd = da.from_array(X, chunks=((150, 149, 1), -1))
    yd = da.from_array(y, chunks=(Xd.chunks[0],))
    with pytest.warns(UserWarning, match=r"Row blocks \[2\] were left out of the estimate: "
                      r"they have fewer than 64 rows with positive weight \(row block 2 has 1;"):
        m = DebiasedLassoRegressor().fit(Xd, yd)
    assert m.n_blocks_ == 3 and m.n_blocks_used_ == 2 and m.n_obs_ == 299
    with pytest.raises(ValueError, match="Row block 0 has 1 rows but method='debiased' needs "
                       "at least 2 rows"):
        DebiasedLassoRegressor().fit(*as_dask(X[:3], y[:3]))
    # high-dimensional blocks (fewer rows than features) are what the lasso is for
    X2 = np.random.default_rng(0).normal(size=(60, 40))
    m = DebiasedLassoRegressor(alpha=0.1, n_partitions=3).fit(X2, X2[:, 0])
    assert np.all(np.isfinite(m.coef_))


def test_nonfinite_values(data):
    X, y = data
    Xbad = X.copy()
    Xbad[250, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DebiasedLassoRegressor().fit(Xbad, y)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[2\]\)"):
        DebiasedLassoRegressor().fit(*as_dask(Xbad, y))
    ybad = y.copy()
    ybad[10] = np.inf
    with pytest.raises(ValueError, match="infinity|NaN"):
        DebiasedLassoRegressor().fit(X, ybad)
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(row blocks \[0\]\)"):
        DebiasedLassoRegressor().fit(*as_dask(X, ybad))


def test_responses_outside_the_family(data):
    X, _ = data
    y = (np.arange(300) % 2).astype(float)
    y[7] = 2.0
    with pytest.raises(ValueError, match="binomial"):
        DebiasedLassoRegressor(family="binomial").fit(X, y)
    with pytest.raises(ValueError, match=r"binomial.*\(row blocks \[0\]\)"):
        DebiasedLassoRegressor(family="binomial").fit(*as_dask(X, y))
    counts = np.arange(300.0) % 5
    counts[200] = -1
    with pytest.raises(ValueError, match="poisson.*negative"):
        DebiasedLassoRegressor(family="poisson").fit(X, counts)
    with pytest.raises(ValueError, match=r"poisson.*\(row blocks \[2\]\)"):
        DebiasedLassoRegressor(family="poisson").fit(*as_dask(X, counts))


def test_bad_weights(data):
    X, y = data
    w = np.ones(300)
    w[3] = -1.0
    with pytest.raises(ValueError, match="sample_weight contains negative values"):
        DebiasedLassoRegressor().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=r"negative values \(row blocks \[0\]\)"):
        DebiasedLassoRegressor().fit(*as_dask(X, y, w))


def test_shapes_and_empty_input(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DebiasedLassoRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        DebiasedLassoRegressor().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="2D array"):
        DebiasedLassoRegressor().fit(X[:, 0], y)


def test_column_constant_in_every_block(data):
    X, y = data
    X = X.copy()
    X[:, 2] = 1.0  # collinear with the intercept everywhere: the package's one rank rule
    with pytest.raises(ValueError, match=r"DebiasedLassoRegressor\(method='debiased'\): the "
                       r"design is rank deficient over the rows with positive weight: x2 "
                       r"\(constant: a multiple of the intercept\)"):
        DebiasedLassoRegressor(n_partitions=3).fit(X, y)
    # a block indicator varies over the data but is constant within every block
    X[:, 2] = np.repeat(np.arange(3.0), 100)  # 3 blocks of 100 rows
    with pytest.raises(ValueError, match=r"Columns \['x2'\] are constant within every row "
                       "block used"):
        DebiasedLassoRegressor(n_partitions=3).fit(X, y)


def test_predict_checks_features(data):
    X, y = data
    m = DebiasedLassoRegressor(n_partitions=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        m.predict(X[:, :3])
