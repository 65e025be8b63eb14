"""DLSACoxRegression on awkward data: covariates on very different scales, huge covariate
values, tiny case weights, a coefficient infinite in all of the data, mixed-type strata
labels. Oracles: statsmodels' PHReg (and exact invariances: rescaling a column rescales
its coefficient)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from statsmodels.duration.hazard_regression import PHReg

from dask_glmdist import DLSACoxRegression
from dask_glmdist.solvers.cox import CoxRows, fit_cox_local


def _data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = rng.exponential(np.exp(-X @ np.array([0.5, -0.3])))
    c = rng.exponential(2.0, size=n)
    return X, np.minimum(t, c), (t <= c).astype(float)


def _phreg(X, y, d, **kw):
    return PHReg(y, X, status=d, ties="efron", **kw).fit(disp=False)


# -- units: each column judged on its own scale ----------------------------------------


def test_columns_on_very_different_scales_are_estimated():
    """Income in dollars next to a fraction: the small column is not 'constant'. Rescaling
    a column divides its coefficient (and SE) by the factor: PHReg on the unscaled data."""
    X, y, d = _data()
    scale = np.array([3e4, 0.1])
    ref = _phreg(X, y, d)
    for k in (1, 4):
        model = DLSACoxRegression(n_partitions=k, refine_steps=10, tol=1e-10).fit(
            X * scale, y, d)
        if k == 1:
            np.testing.assert_allclose(model.coef_ * scale, ref.params, rtol=0, atol=1e-8)
            np.testing.assert_allclose(model.bse_ * scale, ref.bse, rtol=1e-6)
    fit = fit_cox_local(CoxRows.build(X * scale, y, d))
    assert fit.dropped == [] and fit.converged
    np.testing.assert_allclose(fit.theta * scale, ref.params, rtol=0, atol=1e-8)


def test_convergence_is_judged_in_standard_errors():
    """Every column in tiny units (coefficients ~1e-9, SEs ~1e-11): a Newton step of
    1e-9 is many standard errors, not convergence."""
    X, y, d = _data(seed=1)
    scale = 3e8
    ref = _phreg(X, y, d)
    model = DLSACoxRegression(n_partitions=1).fit(X * scale, y, d)
    np.testing.assert_allclose(model.coef_ * scale, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.bse_ * scale, ref.bse, rtol=1e-6)
    fit = fit_cox_local(CoxRows.build(X * scale, y, d))
    np.testing.assert_allclose(fit.theta * scale, ref.params, rtol=0, atol=1e-8)
    # K blocks refined: the block-stratified MLE, in SEs
    blocks = np.repeat(np.arange(4), len(y) // 4)
    ref_k = _phreg(X, y, d, strata=blocks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DLSACoxRegression(n_partitions=4, refine_steps=10).fit(X * scale, y, d)
    assert model.converged_
    np.testing.assert_allclose(model.coef_ * scale, ref_k.params, rtol=0, atol=1e-8)


# -- huge covariate values: the baseline at the mean covariates -------------------------


def test_huge_covariate_values_give_a_finite_baseline():
    """X[:, 0] = 1e6 + z: shifting a covariate changes neither the coefficients nor the
    baseline at the mean covariates, nor any prediction (exp(x'beta) would overflow)."""
    X, y, d = _data()
    shift = np.array([1e6, 0.0])
    a = DLSACoxRegression(n_partitions=4).fit(X, y, d)
    b = DLSACoxRegression(n_partitions=4).fit(X + shift, y, d)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(b.baseline_mean_, a.baseline_mean_ + shift, rtol=1e-14)
    np.testing.assert_allclose(b.baseline_cumulative_hazard_.to_numpy(),
                               a.baseline_cumulative_hazard_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.predict(X[:5] + shift), a.predict(X[:5]), rtol=1e-6)
    np.testing.assert_allclose(b.predict_survival_function(X[:5] + shift).to_numpy(),
                               a.predict_survival_function(X[:5]).to_numpy(), rtol=1e-6)
    assert np.all(np.isfinite(b.predict_partial_hazard(X[:5] + shift)))


def test_prediction_far_from_the_mean_overflows_honestly():
    X, y, d = _data()
    model = DLSACoxRegression(n_partitions=2).fit(X, y, d)
    far = model.baseline_mean_ + np.array([1e4, 0.0]) * np.sign(model.coef_[0])
    first = model.baseline_cumulative_hazard_.index[0]
    times = [first / 2, first, 1.0]
    with np.errstate(over="ignore"):
        assert model.predict_partial_hazard(far[None, :])[0] == np.inf
    sf = model.predict_survival_function(far[None, :], times=times).to_numpy()[:, 0]
    np.testing.assert_array_equal(sf, [1.0, 0.0, 0.0])
    ch = model.predict_cumulative_hazard(far[None, :], times=times).to_numpy()[:, 0]
    np.testing.assert_array_equal(ch, [0.0, np.inf, np.inf])


# -- case weights of any scale -----------------------------------------------------------


def test_weights_one_over_n_use_every_block():
    """Weights 1/n: the same coefficients as unweighted (the partial likelihood's
    maximiser does not depend on a common factor of the weights), every block in the
    one-round combination; the information scales with the weights, so the SEs by
    sqrt(n) (case weights, as R's coxph and lifelines' non-robust SEs)."""
    X, y, d = _data(n=1200, seed=3)
    w = np.full(len(y), 1.0 / len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = DLSACoxRegression(n_partitions=4, refine_steps=0).fit(X, y, d)
        b = DLSACoxRegression(n_partitions=4, refine_steps=0).fit(X, y, d, sample_weight=w)
    assert list(b.wlse_blocks_) == [0, 1, 2, 3] and b.block_diagnostics_.empty
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.bse_, a.bse_ * np.sqrt(len(y)), rtol=1e-8)
    assert b.n_events_ == pytest.approx(d.mean())


# -- a coefficient infinite in all of the data ------------------------------------------


def _monotone_data(n=800, seed=0):
    """No event among the rows with g == 0: beta_g = +inf (monotone partial likelihood)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    g = (rng.random(n) < 0.5).astype(float)
    t = rng.exponential(np.exp(-z @ np.array([0.5, -0.3])))
    c = rng.exponential(2.0, size=n)
    return np.c_[z, g], np.minimum(t, c), ((t <= c) & (g == 1)).astype(float)


def _fit_recording(model, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*args)
    return model, [(w.category, str(w.message)) for w in caught]


def test_monotone_likelihood_in_all_the_data_is_flagged():
    from dask_glmdist.diagnostics import SeparationWarning

    X, y, d = _monotone_data()
    model, caught = _fit_recording(DLSACoxRegression(n_partitions=4, refine_steps=30), X, y, d)
    assert any(issubclass(c, SeparationWarning) and "x2 (+inf)" in m for c, m in caught)
    # every block's local estimate runs off too: the start is 0, said as such
    assert any("No row block has a usable local fit" in m for _, m in caught)
    assert not model.converged_
    assert list(model.param_flags_) == ["x2"] and model.param_flags_["x2"].sign == 1
    assert np.isnan(model.bse_[2]) and np.all(np.isfinite(model.bse_[:2]))
    table = model.summary()
    assert table.loc["x2", "coef"] == np.inf and np.isnan(table.loc["x2", "p_value"])
    # the other coefficients: the block-stratified MLE with g's rows as they are (PHReg,
    # which does not flag it, stops at a large finite beta_g: the others agree)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' ConvergenceWarning: beta_g -> inf
        ref = _phreg(X, y, d, strata=np.repeat(np.arange(4), 200))
    np.testing.assert_allclose(model.coef_[:2], ref.params[:2], atol=1e-6)
    # fewer rounds: not yet decided, but not converged either
    short, caught = _fit_recording(DLSACoxRegression(n_partitions=4, refine_steps=10), X, y, d)
    assert any(issubclass(c, ConvergenceWarning) and "[x2] may run off to infinity" in m
               for c, m in caught)
    assert not short.converged_ and short.param_flags_ == {}


def test_a_large_finite_coefficient_is_not_flagged():
    """A hazard ratio of e^6 per SD: large, finite, converged."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 2))
    t = rng.exponential(np.exp(-X @ np.array([6.0, 0.3])))
    d = (t <= 5.0).astype(float)
    y = np.minimum(t, 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DLSACoxRegression(n_partitions=4, refine_steps=30).fit(X, y, d)
    assert model.converged_ and model.param_flags_ == {}
    ref = _phreg(X, y, d, strata=np.repeat(np.arange(4), 500))
    np.testing.assert_allclose(model.coef_, ref.params, atol=1e-6)


# -- strata labels of mixed types --------------------------------------------------------


def test_mixed_type_strata_labels():
    X, y, d = _data(n=600, seed=5)
    codes = np.random.default_rng(5).integers(0, 3, size=len(y))
    labels = np.array([0, 1, "solo"], dtype=object)[codes]
    ref = _phreg(X, y, d, strata=codes)
    model = DLSACoxRegression(n_partitions=1, tol=1e-12).fit(X, y, d, strata=labels)
    np.testing.assert_allclose(model.coef_, ref.params, rtol=0, atol=1e-8)
    assert set(model.baseline_cumulative_hazard_.columns) == {0, 1, "solo"}
    by_code = DLSACoxRegression(n_partitions=1, tol=1e-12).fit(X, y, d, strata=codes)
    for code, label in enumerate([0, 1, "solo"]):
        np.testing.assert_allclose(model.baseline_cumulative_hazard_[label].to_numpy(),
                                   by_code.baseline_cumulative_hazard_[code].to_numpy(),
                                   rtol=1e-10)
    sf = model.predict_survival_function(X[:6], times=[0.5, 1.0], strata=labels[:6])
    ok = by_code.predict_survival_function(X[:6], times=[0.5, 1.0], strata=codes[:6])
    np.testing.assert_allclose(sf.to_numpy(), ok.to_numpy(), rtol=1e-10)
    # and over blocks: the same labels in several blocks
    four = DLSACoxRegression(n_partitions=4, refine_steps=20).fit(X, y, d, strata=labels)
    four_codes = DLSACoxRegression(n_partitions=4, refine_steps=20).fit(X, y, d, strata=codes)
    np.testing.assert_allclose(four.coef_, four_codes.coef_, rtol=0, atol=1e-10)
