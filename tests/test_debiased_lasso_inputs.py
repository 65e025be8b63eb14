"""DebiasedLassoRegressor: input kinds, invariances, weights, degenerate blocks,
array-API blocks (CuPy stand-in), and scikit-learn model selection."""

import array_api_strict as xps
import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from conftest import block_chunks
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dask_glmdist import DebiasedLassoRegressor
from dask_glmdist.families import get_family
from dask_glmdist.solvers.debiased_lasso import LassoSpec, debiased_lasso_block


@pytest.fixture(scope="module")
def sparse_logistic():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(6000, 12))
    beta = np.zeros(12)
    beta[[0, 3, 7]] = [1.0, -0.8, 0.5]
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.3 + X @ beta)))).astype(float)
    return X, y, beta


@pytest.fixture(scope="module")
def sparse_gaussian():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(4000, 15))
    beta = np.zeros(15)
    beta[:3] = [2.0, -1.0, 0.5]
    y = 1.0 + X @ beta + 1.5 * rng.normal(size=4000)
    return X, y, beta


def test_numpy_dask_array_and_dataframe_with_unknown_chunks_agree(sparse_logistic):
    X, y, _ = sparse_logistic
    ref = DebiasedLassoRegressor(family="binomial", n_partitions=4).fit(X, y)
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), 5))  # column chunks are merged
    yd = da.from_array(y, chunks=(Xd.chunks[0],))
    got = DebiasedLassoRegressor(family="binomial").fit(Xd, yd)
    np.testing.assert_allclose(got.params_, ref.params_, atol=1e-12, rtol=0)
    np.testing.assert_allclose(got.cov_params_, ref.cov_params_, atol=1e-14, rtol=0)
    pred = got.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), ref.predict(X), atol=1e-12)

    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = dd.from_pandas(df.assign(target=y), npartitions=4)
    Xu = ddf[list(df.columns)]
    assert any(np.isnan(c) for c in Xu.to_dask_array().chunks[0])
    frame = DebiasedLassoRegressor(family="binomial").fit(Xu, ddf["target"])
    Xk = Xu.to_dask_array(lengths=True)
    yk = ddf["target"].to_dask_array(lengths=True)
    known = DebiasedLassoRegressor(family="binomial").fit(Xk, yk)
    np.testing.assert_allclose(frame.params_, known.params_, atol=1e-12, rtol=0)
    assert list(frame.feature_names_in_) == list(df.columns)
    assert list(frame.summary().index) == ["intercept", *df.columns]


def test_rows_permuted_within_blocks_change_nothing(sparse_logistic):
    X, y, _ = sparse_logistic
    k = 3
    b = np.cumsum([0, *block_chunks(len(y), k)])
    rng = np.random.default_rng(0)
    perm = np.concatenate([b[i] + rng.permutation(b[i + 1] - b[i]) for i in range(k)])
    for method in ["debiased", "naive", "naive_unregularized"]:
        a = DebiasedLassoRegressor(family="binomial", method=method, n_partitions=k).fit(X, y)
        c = DebiasedLassoRegressor(family="binomial", method=method,
                                   n_partitions=k).fit(X[perm], y[perm])
        np.testing.assert_allclose(a.params_, c.params_, atol=1e-10, rtol=0)


def test_block_order_invariance_of_the_symmetric_joins(sparse_gaussian):
    """'full' Theta and the naive means do not depend on the order of the blocks;
    'mosaic' does (block k computes rows of its share), as in statsmodels."""
    X, y, _ = sparse_gaussian
    sizes = block_chunks(len(y), 4)
    b = np.cumsum([0, *sizes])
    order = [2, 0, 3, 1]
    idx = np.concatenate([np.arange(b[i], b[i + 1]) for i in order])
    chunks = tuple(sizes[i] for i in order)
    for kw in [{"nodewise": "full"}, {"method": "naive"}, {"method": "naive_unregularized"}]:
        a = DebiasedLassoRegressor(alpha=0.05, n_partitions=4, **kw).fit(X, y)
        Xd = da.from_array(X[idx], chunks=(chunks, -1))
        c = DebiasedLassoRegressor(alpha=0.05, **kw).fit(
            Xd, da.from_array(y[idx], chunks=(chunks,)))
        np.testing.assert_allclose(a.params_, c.params_, atol=1e-12, rtol=0)


def test_distributed_local_cluster_matches_threads(sparse_logistic):
    distributed = pytest.importorskip("distributed")
    X, y, _ = sparse_logistic
    ref = DebiasedLassoRegressor(family="binomial", n_partitions=4).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            Xd = da.from_array(X, chunks=(block_chunks(len(y), 4), -1)).persist()
            yd = da.from_array(y, chunks=(Xd.chunks[0],)).persist()
            got = DebiasedLassoRegressor(family="binomial").fit(Xd, yd)
    np.testing.assert_allclose(got.params_, ref.params_, atol=1e-12, rtol=0)


def test_sample_weights(sparse_gaussian):
    """Integer weights equal repeated rows (one block); scaling all weights changes
    nothing; zero weights equal dropping the rows (one block)."""
    X, y, _ = sparse_gaussian
    X, y = X[:600], y[:600]
    rng = np.random.default_rng(1)
    w = rng.integers(0, 4, size=len(y)).astype(float)
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    a = DebiasedLassoRegressor(alpha=0.05, n_partitions=1).fit(X, y, sample_weight=w)
    b = DebiasedLassoRegressor(alpha=0.05, n_partitions=1).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-10, rtol=0)
    np.testing.assert_allclose(a.cov_params_ / a.dispersion_, b.cov_params_ / b.dispersion_,
                               rtol=1e-8)
    c = DebiasedLassoRegressor(alpha=0.05, n_partitions=3).fit(X, y, sample_weight=w)
    d = DebiasedLassoRegressor(alpha=0.05, n_partitions=3).fit(X, y, sample_weight=7.5 * w)
    np.testing.assert_allclose(c.params_, d.params_, atol=1e-12, rtol=0)
    keep = w > 0
    e = DebiasedLassoRegressor(alpha=0.05, n_partitions=1).fit(X[keep], y[keep],
                                                           sample_weight=w[keep])
    np.testing.assert_allclose(a.params_, e.params_, atol=1e-12, rtol=0)
    assert a.dispersion_ == pytest.approx(e.dispersion_, rel=1e-10)


def test_grouped_binomial_equals_expanded_rows(sparse_logistic):
    """Proportions with sample_weight = trials are the same fit as the 0/1 rows."""
    X, y, _ = sparse_logistic
    Xg = np.round(X[:, :3] * 2) / 2  # few distinct rows
    keys, inverse = np.unique(Xg, axis=0, return_inverse=True)
    trials = np.bincount(inverse.ravel()).astype(float)
    props = np.bincount(inverse.ravel(), weights=y) / trials
    a = DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=1).fit(Xg, y)
    b = DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=1).fit(
        keys, props, sample_weight=trials)
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-9, rtol=0)
    np.testing.assert_allclose(a.bse_, b.bse_, rtol=1e-7)


def test_dummy_constant_within_a_block_is_handled_and_reported(sparse_gaussian):
    """A dummy that is 0 throughout one block: its mosaic node-wise row cannot be
    formed there, so it comes from the pooled Gram, with a warning naming it."""
    X, y, beta = sparse_gaussian
    X = X.copy()
    d = (np.arange(len(y)) % 3 == 0).astype(float)
    d[:1000] = 0.0  # block 0 (rows 0..999 of 4) never has the dummy
    X[:, 0] = d  # row 1 of Theta (x0) belongs to block 0's share in the mosaic
    y = 1.0 + X @ beta + 1.5 * np.random.default_rng(2).normal(size=len(y))
    with pytest.warns(UserWarning, match="x0"):
        m = DebiasedLassoRegressor(alpha=0.02, n_partitions=4).fit(X, y)
    assert np.all(np.isfinite(m.params_)) and np.all(np.isfinite(m.bse_))
    assert abs(m.coef_[0] - beta[0]) < 4 * m.bse_[1]
    with pytest.warns(UserWarning, match=r"Columns \[x0\] are constant within row blocks "
                      r"\[0\]"):
        full = DebiasedLassoRegressor(alpha=0.02, n_partitions=4, nodewise="full").fit(X, y)
    assert "node-wise rows of ['x0'] from the blocks' mean" in full.block_diagnostics_.detail[0]
    assert abs(full.coef_[0] - beta[0]) < 4 * full.bse_[1]
    with pytest.warns(UserWarning, match="left out of the average"):
        nu = DebiasedLassoRegressor(method="naive_unregularized", n_partitions=4).fit(X, y)
    assert nu.n_blocks_used_ == 3 and np.all(np.isfinite(nu.params_))  # block 0 left out


@pytest.mark.parametrize("family,link", [("binomial", "logit"), ("binomial", "probit"),
                                         ("poisson", "log"), ("gaussian", "identity")])
@pytest.mark.parametrize("method,nodewise", [("debiased", "mosaic"), ("debiased", "full"),
                                             ("naive_unregularized", "mosaic")])
def test_block_function_is_array_api_generic(family, link, method, nodewise):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 5))
    eta = 0.3 + X @ np.array([0.8, -0.5, 0.0, 0.0, 0.3])
    y = {"binomial": lambda: rng.binomial(1, 1 / (1 + np.exp(-eta))),
         "poisson": lambda: rng.poisson(np.exp(0.5 * eta)),
         "gaussian": lambda: eta + rng.normal(size=400)}[family]().astype(float)
    w = rng.uniform(0.5, 2.0, size=400)
    fam = get_family(family, link)
    l1 = np.r_[0.0, np.full(5, 0.02)]
    spec = LassoSpec(method, nodewise, l1, np.zeros(6), l1, True, 1e-8, 100, 3, 2,
                     family == "gaussian")
    ref = debiased_lasso_block(X, y, w, family=fam, spec=spec, block_index=1)
    got = debiased_lasso_block(xps.asarray(X), xps.asarray(y), xps.asarray(w), family=fam,
                               spec=spec, block_index=1)
    assert set(got) == set(ref)
    for key, value in ref.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(got[key], value, rtol=1e-9, atol=1e-12)
    Xbad = X.copy()
    Xbad[3, 2] = np.inf
    bad = debiased_lasso_block(xps.asarray(Xbad), xps.asarray(y), None, family=fam, spec=spec,
                               block_index=2)
    assert bad["problems"] == {"nonfinite_X": 1}


def test_grid_search_over_alpha_in_a_pipeline(sparse_gaussian):
    X, y, _ = sparse_gaussian
    pipe = make_pipeline(StandardScaler(), DebiasedLassoRegressor(n_partitions=2))
    search = GridSearchCV(pipe, {"debiasedlassoregressor__alpha": [0.01, 0.1, 1.0],
                                 "debiasedlassoregressor__method": ["debiased", "naive"]},
                          cv=3)
    search.fit(X, y)
    assert search.best_params_["debiasedlassoregressor__alpha"] < 1.0
    assert 0.5 < search.best_score_ < 1.0  # R^2


def test_score_is_r2_for_gaussian_and_d2_otherwise(sparse_gaussian, sparse_logistic):
    from sklearn.metrics import d2_log_loss_score, r2_score

    X, y, _ = sparse_gaussian
    m = DebiasedLassoRegressor(n_partitions=2).fit(X, y)
    assert m.score(X, y) == pytest.approx(r2_score(y, m.predict(X)), rel=1e-12)
    X, y, _ = sparse_logistic
    m = DebiasedLassoRegressor(family="binomial", n_partitions=2).fit(X, y)
    p = m.predict(X)
    assert np.all((p > 0) & (p < 1))
    assert m.score(X, y) == pytest.approx(
        d2_log_loss_score(y, np.column_stack([1 - p, p])), rel=1e-10)


def test_naive_has_no_inference_and_says_so(sparse_gaussian):
    X, y, _ = sparse_gaussian
    m = DebiasedLassoRegressor(method="naive", n_partitions=2).fit(X, y)
    with pytest.raises(AttributeError, match="no valid standard errors"):
        m.summary()
    assert not hasattr(m, "cov_params_") and not hasattr(m, "approx_inv_cov_")


def test_threshold_keeps_intercept_and_params_are_unthresholded(sparse_gaussian):
    X, y, beta = sparse_gaussian
    m = DebiasedLassoRegressor(alpha=0.05, threshold=0.2, n_partitions=4).fit(X, y)
    np.testing.assert_array_equal(m.coef_ != 0, beta != 0)
    assert m.intercept_ == m.params_[0] != 0
    np.testing.assert_array_equal(m.coef_[beta != 0], m.params_[1:][beta != 0])
    assert np.all(m.params_[1:] != 0)
    assert list(m.summary()["coef"]) == list(m.params_)


def test_progress_display_with_verbose(sparse_gaussian, capsys):
    X, y, _ = sparse_gaussian
    with dask.config.set(scheduler="threads"):
        m = DebiasedLassoRegressor(n_partitions=2, verbose=1).fit(X, y)
    # one round: the gaussian identity's fit statistics come from its sums
    assert m.n_rounds_ == 1
    assert "DebiasedLassoRegressor(debiased): done in 1 round" in capsys.readouterr().err


def _standardised_fit(X, y, **kw):
    """docs/debiased_lasso.md's recipe: fit on standardised columns (dask), then the
    estimate and its covariance in the columns' own units."""
    Xd = da.from_array(X, chunks=(len(X) // 4, -1))
    mu, sd = da.compute(Xd.mean(axis=0), Xd.std(axis=0))
    model = DebiasedLassoRegressor(**kw).fit((Xd - mu) / sd,
                                             da.from_array(y, chunks=(Xd.chunks[0],)))
    J = np.eye(len(sd) + 1)
    J[0, 1:] = -mu / sd
    J[1:, 1:] = np.diag(1.0 / sd)
    return J @ model.params_, J @ model.cov_params_ @ J.T


def test_units_matter_and_standardised_columns_remove_them():
    """The lasso is not scale invariant (issue 11 sweep; the estimator is left as it
    is, like statsmodels' DistributedModel): x0 in units 100 times larger moves the
    Poisson intercept 5.9 standard errors at the default alpha. The documented recipe
    (standardise, then transform back) gives the same estimate in any units."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4000, 3))
    y = rng.poisson(np.exp(-0.3 + X @ [0.5, -0.4, 0.2])).astype(float)
    scale = np.array([0.01, 1.0, 1.0])
    raw = DebiasedLassoRegressor(family="poisson", n_partitions=4).fit(X, y)
    shrunk = DebiasedLassoRegressor(family="poisson", n_partitions=4).fit(X * scale, y)
    assert abs(shrunk.params_[0] - raw.params_[0]) > 5 * raw.bse_[0]
    a, cov_a = _standardised_fit(X, y, family="poisson")
    b, cov_b = _standardised_fit(X * scale, y, family="poisson")
    units = np.r_[1.0, scale]
    np.testing.assert_allclose(b * units, a, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cov_b * np.outer(units, units), cov_a, rtol=1e-7)
