"""The contract's fit statistics cost no pass of their own where the method has them:
BiasReducedGLM's statistics ride on its IWLS final-statistics pass, least-squares fits
(PenalizedGLM, DebiasedLassoRegressor, gaussian identity) read them off their sums.
Every statistic equals the separate statistics pass's and statsmodels'."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm

import dask_glmdist.fit_statistics as fit_statistics
from dask_glmdist import BiasReducedGLM, DebiasedLassoRegressor, PenalizedGLM
from dask_glmdist._blocks import as_blocked
from dask_glmdist.fit_statistics import information_criteria
from dask_glmdist.rounds import RoundEngine

STATS = ("deviance", "pearson_chi2", "null_deviance", "loglik", "aic", "bic")
SM_FAMILIES = {"binomial": sm.families.Binomial(), "poisson": sm.families.Poisson(),
               "gaussian": sm.families.Gaussian(), "gamma": sm.families.Gamma()}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n = 2400
    X = rng.normal(size=(n, 3)) + [0.5, 0.0, -1.0]
    eta = 0.2 + X @ [0.4, -0.3, 0.2]
    return {
        "X": X, "w": rng.uniform(0.5, 2.0, n), "offset": rng.normal(scale=0.3, size=n),
        "binomial": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float),
        "poisson": rng.poisson(np.exp(eta)).astype(float),
        "gaussian": 3.0 + X @ [1.0, -0.5, 0.0] + rng.normal(size=n),
        "gamma": rng.gamma(2.0, np.exp(eta) / 2.0),
    }


def _record_passes(monkeypatch):
    parts = []
    real = fit_statistics._run
    monkeypatch.setattr(fit_statistics, "_run", lambda *a: parts.append(a[4]) or real(*a))
    return parts


def _fit(est, data, family, kw):
    d = {"X": data["X"], "y": data[family]}
    d.update({k: data[k] for k in kw})
    chunks = len(d["X"]) // 3
    arrays = {k: da.from_array(v, chunks=chunks if v.ndim == 1 else (chunks, -1))
              for k, v in d.items()}
    fit_kw = {"sample_weight": arrays.get("w"), "offset": arrays.get("offset")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(arrays["X"], arrays["y"], **fit_kw)


def _separate_pass(est, data, family, kw, theta):
    """The statistics pass of its own, run explicitly at ``theta``."""
    engine = RoundEngine(as_blocked(data["X"], data[family], sample_weight=data.get("w")
                                    if "w" in kw else None,
                                    offset=data["offset"] if "offset" in kw else None,
                                    n_partitions=3))
    st = fit_statistics.fit_statistics(engine, est.family_, theta,
                                       fit_intercept=est.fit_intercept)
    aic, bic = information_criteria(st.loglik, theta.shape[0], st.n_obs, est.family_)
    return {"deviance": st.deviance, "pearson_chi2": st.pearson,
            "null_deviance": st.null_deviance, "loglik": st.loglik, "aic": aic, "bic": bic,
            "n_obs": st.n_obs}


def _check_against_pass(est, ref):
    for name in STATS:
        np.testing.assert_allclose(getattr(est, name + "_"), ref[name], rtol=1e-10,
                                   err_msg=name)
    assert est.n_obs_ == ref["n_obs"]


def _check_against_statsmodels(est, data, family, kw):
    """deviance, null deviance, R's log-likelihood and AIC: statsmodels' GLM fit."""
    exog = sm.add_constant(data["X"]) if est.fit_intercept else data["X"]
    ref = sm.GLM(data[family], exog, family=SM_FAMILIES[family],
                 var_weights=data["w"] if "w" in kw else None,
                 offset=data["offset"] if "offset" in kw else None).fit(tol=1e-14)
    np.testing.assert_allclose(est.params_, ref.params, atol=1e-6)
    fixed = family in ("binomial", "poisson")
    n = len(data[family])
    loglik = SM_FAMILIES[family].loglike(
        data[family], ref.mu, var_weights=data["w"] if "w" in kw else 1.0,
        scale=1.0 if fixed else ref.deviance / n)   # R's logLik(glm)
    np.testing.assert_allclose(est.deviance_, ref.deviance, rtol=1e-8)
    np.testing.assert_allclose(est.null_deviance_, ref.null_deviance, rtol=1e-8)
    np.testing.assert_allclose(est.loglik_, loglik, rtol=1e-8)
    np.testing.assert_allclose(est.aic_, -2 * loglik + 2 * (len(ref.params) + int(not fixed)),
                               rtol=1e-8)
    if fixed or "w" not in kw:   # statsmodels' llf is R's there
        np.testing.assert_allclose(est.loglik_, ref.llf, rtol=1e-8)


# BiasReducedGLM: (method, family, fit inputs, statistics passes of their own)
BRGLM_CASES = [
    ("ML", "binomial", (), []),
    ("mBR", "binomial", ("w",), []),
    ("ML", "poisson", ("offset",), []),
    ("ML", "gaussian", ("w",), []),          # R's dispersion: the gaussian closed form
    ("ML", "gamma", (), ["loglik"]),         # no closed form: the log-likelihood's pass
]


@pytest.mark.parametrize("method, family, kw, passes", BRGLM_CASES,
                         ids=[f"{c[0]}-{c[1]}-{'-'.join(c[2])}" for c in BRGLM_CASES])
def test_brglm_statistics_ride_on_the_final_iwls_pass(data, monkeypatch, method, family, kw,
                                                      passes):
    parts = _record_passes(monkeypatch)
    link = "log" if family == "gamma" else None
    est = _fit(BiasReducedGLM(family, link, method=method, tol=1e-12, n_partitions=3),
               data, family, kw)
    assert parts == passes
    # the IWLS passes only: the iterations' and the final statistics pass
    assert est.n_rounds_ == est.history_[-1]["passes"] + 1 + len(passes)
    monkeypatch.undo()
    _check_against_pass(est, _separate_pass(est, data, family, kw, est.params_))
    if method == "ML" and family != "gamma":
        _check_against_statsmodels(est, data, family, kw)


LS_CASES = [
    ("penalized", ()), ("penalized", ("w",)), ("penalized-noint", ()),
    ("ols", ()), ("ols", ("w",)),
    ("debiased", ()), ("debiased", ("w",)), ("debiased", ("offset",)),
    ("debiased-noint", ()), ("naive_unregularized", ()),
]


def _ls_estimator(kind):
    fi = not kind.endswith("noint")
    if kind.startswith("penalized"):
        return PenalizedGLM("gaussian", alpha=0.01, fit_intercept=fi, n_partitions=3)
    if kind == "ols":
        return PenalizedGLM("gaussian", alpha=0.0, n_partitions=3)
    if kind == "naive_unregularized":
        return DebiasedLassoRegressor(method=kind, n_partitions=3)
    return DebiasedLassoRegressor(alpha=0.01, fit_intercept=fi, n_partitions=3)


@pytest.mark.parametrize("kind, kw", LS_CASES, ids=[f"{k}-{'-'.join(w)}" for k, w in LS_CASES])
def test_least_squares_statistics_need_no_pass(data, monkeypatch, kind, kw):
    parts = _record_passes(monkeypatch)
    est = _fit(_ls_estimator(kind), data, "gaussian", kw)
    assert parts == [] and est.n_rounds_ == 1   # the sums' pass (the debiased lasso's round)
    monkeypatch.undo()
    theta = np.r_[est.intercept_, est.coef_] if est.fit_intercept else est.coef_
    _check_against_pass(est, _separate_pass(est, data, "gaussian", kw, theta))
    if kind == "ols":
        _check_against_statsmodels(est, data, "gaussian", kw)


def test_least_squares_sums_that_cancel_take_the_pass(monkeypatch):
    """Columns far from 0 (a large intercept cancelling them): the RSS from the sums
    would lose digits (1e-9 here), so the statistics pass is made."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 3)) + 1e3
    y = (X - 1e3) @ [1.0, -0.5, 0.2] + rng.normal(size=3000)
    parts = _record_passes(monkeypatch)
    est = PenalizedGLM("gaussian", alpha=0.0, n_partitions=3).fit(X, y)
    assert parts[0] == "model" and est.n_rounds_ == 1 + len(parts)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(est.deviance_, ref.ssr, rtol=1e-8)
    np.testing.assert_allclose(est.loglik_, ref.llf, rtol=1e-8)


def test_gaussian_loglik_closed_form_is_the_rows_sum(data):
    fam = BiasReducedGLM("gaussian").fit(data["X"], data["gaussian"]).family_
    y, w = data["gaussian"], data["w"]
    mu = y.mean() + 0 * y
    dev = float(fam.deviance(y, mu, w))
    for scale in (0.3, dev / len(y), 7.0):
        np.testing.assert_allclose(
            fam.loglik_from_deviance(dev, len(y), scale, float(np.sum(np.log(w)))),
            float(fam.loglik(y, mu, w, scale=scale)), rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda: BiasReducedGLM(family="gaussian", method="ML"),
    lambda: PenalizedGLM(family="gaussian", alpha=0.0),
], ids=["BiasReducedGLM", "PenalizedGLM"])
def test_exact_gaussian_fit_has_an_unbounded_loglik(make):
    """A response fitted exactly (deviance of rounding size): the likelihood is unbounded,
    loglik_ Inf and AIC -Inf, in every path (the gaussian closed form raised
    ZeroDivisionError; the statistics pass gave NaN or a finite number made of rounding)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = 1.0 + X @ [2.0, -1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = make().fit(da.from_array(X, chunks=20), da.from_array(y, chunks=20),
                       sample_weight=da.from_array(np.ones(40), chunks=20))
    assert m.deviance_ < 1e-20
    assert m.loglik_ == np.inf and m.aic_ == -np.inf and m.bic_ == -np.inf
