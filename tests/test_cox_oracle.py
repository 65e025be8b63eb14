"""DLSACoxRegression against statsmodels' PHReg: one block is the global Cox fit; K blocks
refined to convergence are PHReg with the block as a stratum; the one-round estimate is
the information-weighted combination of the blocks' own PHReg fits."""

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg

from dask_glmdist import DLSACoxRegression

COEF_TOL, SE_TOL = 1e-8, 1e-6


def survival_data(n=400, p=3, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(0.5, -0.3, p)
    t = rng.exponential(1.0 / np.exp(X @ beta))
    c = rng.exponential(2.0, size=n)
    d = np.minimum(t, c)
    if ties:  # times on a grid: many ties
        d = np.ceil(d * 20) / 20
    return X, d, (t <= c).astype(float)


def _phreg(X, d, e, ties, **kw):
    return PHReg(d, X, status=e, ties=ties, **kw).fit(disp=False)


def _close(model, ref, coef_tol=COEF_TOL, se_tol=SE_TOL):
    np.testing.assert_allclose(model.coef_, ref.params, atol=coef_tol, rtol=0)
    np.testing.assert_allclose(model.bse_, ref.bse, atol=se_tol, rtol=0)
    assert model.loglik_ == pytest.approx(ref.llf, abs=1e-8)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_one_block_is_phreg(ties):
    X, d, e = survival_data()
    model = DLSACoxRegression(ties=ties, n_partitions=1, tol=1e-12).fit(X, d, e)
    _close(model, _phreg(X, d, e, ties))
    assert model.n_blocks_ == 1 and model.converged_
    assert model.n_events_ == e.sum() and model.n_obs_ == len(d)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_one_block_with_strata_entry_offset_is_phreg(ties):
    X, d, e = survival_data(seed=1)
    rng = np.random.default_rng(1)
    strata = rng.choice(["a", "b", "c"], size=len(d))
    entry = d * rng.uniform(0.0, 0.5, size=len(d)) * (rng.random(len(d)) < 0.5)
    offset = rng.normal(scale=0.3, size=len(d))
    model = DLSACoxRegression(ties=ties, n_partitions=1, tol=1e-12).fit(
        X, d, e, strata=strata, entry=entry, offset=offset)
    _close(model, _phreg(X, d, e, ties, strata=strata, entry=entry, offset=offset))


def test_integer_weights_are_replicated_rows_breslow():
    """Case weights (Breslow ties): the fit of the rows replicated (PHReg has no weights)."""
    X, d, e = survival_data(seed=2)
    w = np.random.default_rng(2).integers(1, 4, size=len(d)).astype(float)
    model = DLSACoxRegression(ties="breslow", n_partitions=1, tol=1e-12).fit(
        X, d, e, sample_weight=w)
    rep = np.repeat(np.arange(len(d)), w.astype(int))
    _close(model, _phreg(X[rep], d[rep], e[rep], "breslow"))
    assert model.n_obs_ == len(d) and model.n_events_ == pytest.approx((w * e).sum())


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_blocks_refined_are_phreg_stratified_by_block(ties):
    X, d, e = survival_data(n=600, seed=3)
    block = np.repeat(np.arange(4), 150)
    model = DLSACoxRegression(ties=ties, n_partitions=4, refine_steps=20, tol=1e-12).fit(
        X, d, e)
    _close(model, _phreg(X, d, e, ties, strata=block))
    assert model.n_iter_ == 1 + len(model.refine_step_sizes_)
    assert model.n_rounds_ == 2 + len(model.refine_step_sizes_)
    # with strata as well: (block, stratum) strata
    s = np.random.default_rng(3).integers(0, 2, size=len(d))
    model = DLSACoxRegression(ties=ties, n_partitions=4, refine_steps=20, tol=1e-12).fit(
        X, d, e, strata=s)
    _close(model, _phreg(X, d, e, ties, strata=block * 2 + s))


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_one_round_is_the_information_weighted_combination(ties):
    X, d, e = survival_data(n=800, seed=4)
    model = DLSACoxRegression(ties=ties, n_partitions=4, refine_steps=0, tol=1e-12).fit(
        X, d, e)
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for k in range(4):
        rows = slice(200 * k, 200 * (k + 1))
        ref = _phreg(X[rows], d[rows], e[rows], ties)
        info = np.linalg.inv(ref.cov_params())
        A += info
        b += info @ ref.params
    np.testing.assert_allclose(model.coef_, np.linalg.solve(A, b), atol=1e-7, rtol=0)
    # the covariance: the inverse of the block-stratified information at the estimate
    ref = PHReg(d, X, status=e, ties=ties, strata=np.repeat(np.arange(4), 200))
    info = -ref.hessian(model.coef_)
    np.testing.assert_allclose(model.cov_params_, np.linalg.inv(info), rtol=1e-8)
    assert model.loglik_ == pytest.approx(ref.loglike(model.coef_), abs=1e-9)
    assert model.n_iter_ == 1 and model.n_rounds_ == 2


def test_block_order_does_not_matter():
    X, d, e = survival_data(n=600, seed=5)
    perm = np.concatenate([np.arange(450, 600), np.arange(0, 150), np.arange(300, 450),
                           np.arange(150, 300)])
    a = DLSACoxRegression(n_partitions=4, refine_steps=0).fit(X, d, e)
    b = DLSACoxRegression(n_partitions=4, refine_steps=0).fit(X[perm], d[perm], e[perm])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.bse_, b.bse_, rtol=1e-10)
    pd_a = a.baseline_cumulative_hazard_.iloc[:, 0].to_numpy()
    np.testing.assert_allclose(pd_a, b.baseline_cumulative_hazard_.iloc[:, 0].to_numpy(),
                               rtol=1e-10)


def test_baseline_cumulative_hazard_is_phreg():
    X, d, e = survival_data(seed=6)
    model = DLSACoxRegression(ties="breslow", n_partitions=1, tol=1e-12).fit(X, d, e)
    ref = _phreg(X, d, e, "breslow")
    t, cumhaz, _ = ref.baseline_cumulative_hazard[0]
    ours = model.baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(ours.index.to_numpy(), t)
    # statsmodels reports the left limit H0(t-) = sum over event times before t, at
    # covariates 0; ours is H0(t) (lifelines', R's basehaz) at the mean covariates: the
    # same steps, one event time later, times exp(-mean'beta)
    np.testing.assert_allclose(model.baseline_mean_, X.mean(axis=0), rtol=1e-14)
    at_zero = ours.to_numpy() * np.exp(-model.baseline_mean_ @ model.coef_)
    left = np.concatenate([[0.0], at_zero[:-1]])
    np.testing.assert_allclose(left, cumhaz, rtol=1e-8, atol=1e-15)
    # survival of a row: exp(-H0(t) exp(x'beta)), H0 right-continuous
    sf = model.predict_survival_function(X[:2], times=t[[3, 10]])
    expect = np.exp(-np.outer(cumhaz[[4, 11]], np.exp(X[:2] @ model.coef_)))
    np.testing.assert_allclose(sf.to_numpy(), expect, rtol=1e-12)
    # the blocks' risk sums are summed: the same baseline from 3 blocks at that estimate
    three = DLSACoxRegression(ties="breslow", n_partitions=3, refine_steps=50,
                              tol=1e-12).fit(X, d, e)
    strat = _phreg(X, d, e, "breslow", strata=np.repeat([0, 1, 2], [134, 133, 133]))
    np.testing.assert_allclose(three.coef_, strat.params, atol=COEF_TOL)
    r = np.exp((X - X.mean(axis=0)) @ three.coef_)
    times = three.baseline_cumulative_hazard_.index.to_numpy()
    d_at = np.array([e[d == s].sum() for s in times])
    s0 = np.array([r[d >= s].sum() for s in times])
    np.testing.assert_allclose(three.baseline_cumulative_hazard_.iloc[:, 0].to_numpy(),
                               np.cumsum(d_at / s0), rtol=1e-10)
