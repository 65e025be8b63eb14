"""BiasReducedGLM: bad input gets a clear error naming the problem, before the fit runs
(in-memory input) or from the first pass (dask input, checked by the blocks)."""

import dask.array as da
import numpy as np
import pytest

from dask_glmdist import BiasReducedGLM


@pytest.fixture
def data(rng):
    X = rng.normal(size=(300, 3))
    y = (rng.random(300) < 0.5).astype(float)
    return X, y


def as_dask(*arrays, k=3):
    X = arrays[0]
    Xd = da.from_array(X, chunks=(len(X) // k, -1))
    return (Xd, *[da.from_array(a, chunks=(Xd.chunks[0],)) for a in arrays[1:]])


def test_binomial_y_outside_unit_interval(data):
    X, y = data
    y = y.copy()
    y[3] = 1.5
    with pytest.raises(ValueError, match="binomial.*between 0 and 1|binomial.*\\[0, 1\\]"):
        BiasReducedGLM().fit(X, y)
    with pytest.raises(ValueError, match=r"binomial.*\(row blocks \[0\]\)"):
        BiasReducedGLM().fit(*as_dask(X, y))


def test_negative_counts(data):
    X, _ = data
    y = np.arange(300.0) % 4
    y[200] = -1
    with pytest.raises(ValueError, match="poisson.*non-negative|poisson.*negative"):
        BiasReducedGLM("poisson").fit(X, y)
    with pytest.raises(ValueError, match=r"poisson.*\(row blocks \[2\]\)"):
        BiasReducedGLM("poisson").fit(*as_dask(X, y))


def test_non_positive_gamma_response(data):
    X, _ = data
    y = np.linspace(0.5, 3.0, 300)
    y[5] = 0.0
    with pytest.raises(ValueError, match="gamma family: y must be strictly positive"):
        BiasReducedGLM("gamma").fit(X, y)
    with pytest.raises(ValueError, match=r"strictly positive \(row blocks \[0\]\)"):
        BiasReducedGLM("gamma", "log").fit(*as_dask(X, y))


@pytest.mark.parametrize(("bad", "message"), [
    (-1.0, "sample_weight contains negative values"),
    (np.nan, "NaN"),
])
def test_bad_weights(data, bad, message):
    X, y = data
    w = np.ones(300)
    w[250] = bad
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM().fit(X, y, sample_weight=w)
    dask_message = ("sample_weight contains negative values" if bad == -1.0
                    else "sample_weight contains NaN or infinity")
    with pytest.raises(ValueError, match=dask_message + r" \(row blocks \[2\]\)"):
        BiasReducedGLM().fit(*as_dask(X, y, w))


def test_nonfinite_X(data):
    X, y = data
    X = X.copy()
    X[120, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        BiasReducedGLM().fit(X, y)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[1\]\)"):
        BiasReducedGLM().fit(*as_dask(X, y))


def test_bad_offset(data):
    X, y = data
    with pytest.raises(ValueError, match=r"offset must have shape \(300,\)"):
        BiasReducedGLM().fit(X, y, offset=np.zeros(299))
    off = np.zeros(300)
    off[7] = np.nan
    with pytest.raises(ValueError, match="offset contains NaN or infinity"):
        BiasReducedGLM().fit(X, y, offset=off)
    with pytest.raises(ValueError, match=r"offset contains NaN or infinity \(row blocks \[0\]\)"):
        BiasReducedGLM().fit(*as_dask(X, y), offset=da.from_array(off, chunks=100))


def test_collinear_columns_are_named(data):
    X, y = data
    X = np.column_stack([X, X[:, 0] - 2 * X[:, 2]])
    with pytest.raises(ValueError, match=r"BiasReducedGLM: the design is rank deficient .*: "
                                         r"x3 \(a linear combination of \['x0', 'x2'\]\)"):
        BiasReducedGLM().fit(X, y)


@pytest.mark.parametrize("method", ["ML", "mBR"])
def test_rank_check_is_the_package_rule(method, rng):
    """The one rank check of the package (design_checks.check_identified, R's lm rule):
    x3 = x0 + 1e-6 noise is refused as by PenalizedGLM, DLSA and the debiased lasso
    (it fitted, with standard errors of 5e4 on x0 and x3); a constant column and, without
    an intercept, an all-zero one are named with their kind; dask blocks the same."""
    from dask_glmdist import PenalizedGLM

    n = 2000
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - X[:, 1])))).astype(float)
    near = np.column_stack([X, X[:, 0] + 1e-6 * rng.normal(size=n)])
    message = r"x3 \(a linear combination of \['x0'\]\)"
    with pytest.raises(ValueError, match=message):
        PenalizedGLM(alpha=0.0).fit(near, y)
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(method=method, n_partitions=2).fit(near, y)
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(method=method).fit(*as_dask(near, y, k=4))
    const = np.column_stack([X, np.full(n, 3.0)])
    with pytest.raises(ValueError, match=r"x3 \(constant: a multiple of the intercept\)"):
        BiasReducedGLM(method=method).fit(const, y)
    zero = np.column_stack([X, np.zeros(n)])
    with pytest.raises(ValueError, match=r"x3 \(zero on every row with positive weight\)"):
        BiasReducedGLM(method=method, fit_intercept=False).fit(zero, y)
    # a column that is zero on the rows with positive weight
    w = np.ones(n)
    w[X[:, 2] > 0] = 0.0
    part = np.column_stack([X, np.where(X[:, 2] > 0, X[:, 0], 0.0)])
    with pytest.raises(ValueError, match=r"x3 \(zero on every row with positive weight\)"):
        BiasReducedGLM(method=method).fit(part, y, sample_weight=w)


@pytest.mark.parametrize(("params", "message"), [
    ({"method": "firth"}, "'method' parameter"),
    ({"jeffreys_power": 0.0}, "'jeffreys_power' parameter"),
    ({"passes": 3}, "'passes' parameter"),
    ({"dispersion": "deviance"}, "'dispersion' parameter"),
    ({"family": "tweedie"}, "'family' parameter"),
    ({"link": "logit", "family": "poisson"}, "link 'logit' is not allowed for the poisson"),
    ({"tol": 0}, "'tol' parameter"),
    ({"start": [0.0, 1.0]}, r"start must hold 4 finite values"),
])
def test_bad_parameters(data, params, message):
    X, y = data
    y = y + 1.0 if params.get("family") == "poisson" else y
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(**params).fit(X, y)


def test_start_with_invalid_means(data):
    X, y = data
    y = y + 1.0
    with pytest.raises(ValueError, match="start=.*outside the family's range"):
        BiasReducedGLM("poisson", "identity", start=[-5.0, 0, 0, 0]).fit(X, y)


def test_too_few_rows_for_the_dispersion(rng):
    X = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match="dispersion of the gamma family cannot be estimated"):
        BiasReducedGLM("gamma", "log").fit(X, np.exp(rng.normal(size=4)))


def test_all_weights_zero(data):
    X, y = data
    with pytest.raises(ValueError, match="at least one non-zero"):
        BiasReducedGLM().fit(X, y, sample_weight=np.zeros(300))
    with pytest.raises(ValueError, match="no rows with positive weight"):
        BiasReducedGLM().fit(*as_dask(X, y, np.zeros(300)))
