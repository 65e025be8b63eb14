"""The Cox partial likelihood of one block (dask_glmdist.solvers.cox) against statsmodels'
PHReg (log-likelihood, score, Hessian, fit) and lifelines' weighted Efron fit."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from dask_glmdist.solvers.cox import (
    CoxRows,
    cox_derivatives,
    event_table,
    fit_cox_local,
    risk_sums,
)

DATA = Path(__file__).parent / "data"


def _data(seed=1, n=300, entry=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) + 5.0  # off-centre: the information must not cancel
    t = np.ceil(rng.exponential(np.exp(-(X - 5) @ np.array([0.5, -0.3, 0.2]))) * 5) / 5
    event = rng.random(n) < 0.7
    kw = {"strata": rng.integers(0, 3, n), "offset": 0.1 * rng.normal(size=n)}
    if entry:  # continuous entries: no entry equals an event time
        kw["entry"] = np.where(rng.random(n) < 0.5, rng.uniform(0, 0.8, n) * t, 0.0)
    return X, t, event, kw


CASES = [(), ("strata",), ("offset",), ("entry",), ("strata", "entry", "offset")]


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("use", CASES)
def test_derivatives_and_fit_match_phreg(ties, use):
    X, t, event, kw = _data(entry="entry" in use)
    kw = {k: kw[k] for k in use}
    model = sm.PHReg(t, X, status=event.astype(float), ties=ties, **kw)
    res = model.fit(tol=1e-12)
    rows = CoxRows.build(X, t, event, **kw)
    beta = res.params
    ll, score, info = cox_derivatives(rows, beta, ties)
    assert ll == pytest.approx(model.loglike(beta), abs=1e-10)
    np.testing.assert_allclose(score, model.score(beta), atol=1e-10)
    np.testing.assert_allclose(info, -model.hessian(beta), rtol=1e-10)
    fit = fit_cox_local(rows, ties)
    assert fit.converged and fit.infinite == [] and fit.dropped == []
    np.testing.assert_allclose(fit.theta, beta, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(fit.information))), res.bse,
                               rtol=1e-8)


def test_integer_weights_are_replicated_rows_with_breslow():
    X, t, event, _ = _data(seed=3)
    w = np.random.default_rng(3).integers(1, 4, X.shape[0])
    rep = np.repeat(np.arange(X.shape[0]), w)
    res = sm.PHReg(t[rep], X[rep], status=event[rep].astype(float), ties="breslow").fit(tol=1e-12)
    fit = fit_cox_local(CoxRows.build(X, t, event, weight=w), "breslow")
    np.testing.assert_allclose(fit.theta, res.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(fit.information))), res.bse,
                               rtol=1e-8)


def test_weighted_efron_matches_lifelines():
    """R's and lifelines' convention: a tied group's terms carry the mean weight of its deaths."""
    spec = importlib.util.spec_from_file_location("make", DATA / "make_cox_weighted_lifelines.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    X, t, event, w = make.data()
    ref = json.loads((DATA / "cox_weighted_lifelines.json").read_text())
    fit = fit_cox_local(CoxRows.build(X, t, event, weight=w), "efron")
    np.testing.assert_allclose(fit.theta, ref["coef"], atol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(fit.information))), ref["se"],
                               rtol=1e-10)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-9)


def test_zero_weight_rows_count_nowhere():
    X, t, event, _ = _data(seed=4)
    w = np.ones(X.shape[0])
    w[::7] = 0.0
    keep = w > 0
    a = fit_cox_local(CoxRows.build(X, t, event, weight=w))
    b = fit_cox_local(CoxRows.build(X[keep], t[keep], event[keep]))
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-12)


def test_monotone_likelihood_is_flagged_for_the_separating_covariate_only():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 2))
    t = np.argsort(np.argsort(-X[:, 0])) + 1.0  # the larger x0, the earlier the event
    fit = fit_cox_local(CoxRows.build(X, t))
    assert not fit.converged and fit.infinite == [0]
    assert np.isfinite(fit.theta).all()


def test_covariate_without_information_is_dropped():
    rng = np.random.default_rng(5)
    X = np.c_[rng.normal(size=(80, 1)), np.full(80, 2.0)]
    fit = fit_cox_local(CoxRows.build(X, rng.exponential(size=80)))
    assert fit.converged and fit.dropped == [1] and fit.theta[1] == 0.0
    assert fit.information[1, 1] == pytest.approx(0.0, abs=1e-12)


def test_no_events_gives_no_information():
    X = np.random.default_rng(6).normal(size=(10, 2))
    fit = fit_cox_local(CoxRows.build(X, np.arange(1.0, 11.0), np.zeros(10)))
    assert fit.n_events == 0 and fit.dropped == [0, 1] and not fit.infinite
    assert fit.loglik == 0.0 and not fit.information.any()


def test_breslow_baseline_is_right_continuous_phreg():
    """Breslow's H0 at each event time includes that time's jump (statsmodels' PHReg
    reports the value just before it: the same numbers one place later)."""
    X, t, event, _ = _data(seed=7)
    res = sm.PHReg(t, X, status=event.astype(float)).fit()
    rows = CoxRows.build(X, t, event)
    u, d = event_table(rows)
    H = np.cumsum(d / risk_sums(rows, res.params, u))
    times, before = res.baseline_cumulative_hazard[0][:2]
    np.testing.assert_array_equal(times, u)
    np.testing.assert_allclose(H[:-1], before[1:], rtol=1e-12)


def test_risk_sums_respect_entry_times():
    rows = CoxRows.build(np.zeros((3, 1)), [2.0, 3.0, 4.0], entry=[0.0, 2.5, 1.0])
    np.testing.assert_allclose(risk_sums(rows, [0.0], [1.0, 2.0, 2.5, 3.0, 4.0]),
                               [1.0, 2.0, 1.0, 2.0, 1.0])


@pytest.mark.parametrize("kw, message", [
    ({"event": [0, 2, 1]}, "event must be 0/1"),
    ({"weight": [1.0, -1.0, 1.0]}, "non-negative"),
    ({"entry": [0.0, 5.0, 0.0]}, "must not exceed"),
    ({"entry": [1.0, 0.0, 0.0]}, "enter before its event"),
    ({"time": [1.0, np.nan, 2.0]}, "durations contains NaN"),
])
def test_bad_rows_are_refused_naming_the_problem(kw, message):
    args = {"time": [1.0, 2.0, 3.0], **kw}
    time = args.pop("time")
    with pytest.raises(ValueError, match=message):
        CoxRows.build(np.zeros((3, 1)), time, **args)
