"""The fitted contract (docs/contract.md): the same attributes, with the same meaning,
on every estimator; the same fit statistics where the models are the same."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    PenalizedLogisticRegressionCV,
)
from dask_glmdist.families import Log

CONTRACT = ("params_", "coef_", "intercept_", "dispersion_", "deviance_", "null_deviance_",
            "loglik_", "aic_", "bic_", "n_obs_", "df_resid_", "n_iter_", "n_rounds_",
            "converged_")
INFERENCE = ("cov_params_", "bse_")

ESTIMATORS = [
    DLSARegressor("poisson", n_partitions=3),
    DLSALogisticRegression(n_partitions=3),
    BiasReducedGLM("poisson", n_partitions=3),
    PenalizedGLM("poisson", n_partitions=3),
    PenalizedLogisticRegression(n_partitions=3),
    PenalizedGLMCV("poisson", n_alphas=3, cv=3, n_partitions=3),
    PenalizedLogisticRegressionCV(n_alphas=3, cv=3, n_partitions=3),
    DebiasedLassoRegressor(alpha=0.01, family="poisson", n_partitions=3),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1200, 3))
    eta = 0.3 + X @ [0.4, -0.2, 0.1]
    y_count = rng.poisson(np.exp(eta)).astype(float)
    y_label = (rng.random(1200) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y_count, y_label


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_estimator_has_the_contract(data, est):
    X, y_count, y_label = data
    classifier = "Logistic" in type(est).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y_label if classifier else y_count)
    k = X.shape[1] + 1
    for name in CONTRACT:
        assert hasattr(est, name), name
    assert est.params_.shape == (k,)
    for name in ("dispersion_", "deviance_", "null_deviance_", "loglik_", "aic_", "bic_"):
        assert isinstance(getattr(est, name), float) and np.isfinite(getattr(est, name)), name
    for name in ("n_obs_", "df_resid_", "n_iter_", "n_rounds_"):
        assert isinstance(getattr(est, name), (int, np.integer)), name
    assert est.n_obs_ == len(X) and est.df_resid_ == len(X) - k
    assert est.dispersion_ == 1.0
    assert est.n_rounds_ >= 2 and est.n_iter_ >= 1
    assert isinstance(est.converged_, (bool, np.bool_))
    assert 0 < est.deviance_ < est.null_deviance_
    np.testing.assert_allclose(est.aic_, -2 * est.loglik_ + 2 * k, rtol=1e-12)
    np.testing.assert_allclose(est.bic_, -2 * est.loglik_ + np.log(len(X)) * k, rtol=1e-12)
    # inference where the fit has it (unpenalised; the CV classes choose a penalty)
    if hasattr(est, "cov_params_"):
        assert est.cov_params_.shape == (k, k) and est.bse_.shape == (k,)
    else:
        assert "CV" in type(est).__name__
    for old in ("scale_", "df_residual_", "n_passes_", "dispersion_estimate_"):
        assert not hasattr(est, old), old
    # score: D^2 for regressors, accuracy for classifiers
    s = est.score(X, y_label if classifier else y_count)
    assert 0 < s <= 1


def _poisson_offset(rng, n=3000):
    X = rng.normal(size=(n, 2))
    offset = np.log(rng.uniform(0.5, 3.0, size=n))
    y = rng.poisson(np.exp(0.2 + X @ [0.3, -0.2] + offset)).astype(float)
    return X, y, offset


def _gamma(rng, n=3000):
    X = rng.normal(size=(n, 2))
    y = rng.gamma(2.0, np.exp(0.5 + X @ [0.3, -0.2]) / 2.0)
    return X, y, None


@pytest.mark.parametrize("case", ["poisson-offset", "gamma"])
def test_the_same_model_has_the_same_statistics_everywhere(case):
    """DLSA (refined to convergence), BiasReducedGLM ML and PenalizedGLM(alpha=0) on
    the same data: the fit statistics agree with each other and with statsmodels
    (R's conventions for the log-likelihood's dispersion, AIC and BIC)."""
    rng = np.random.default_rng(11)
    if case == "gamma":
        X, y, offset = _gamma(rng)
        family, link, sm_family = "gamma", Log(), sm.families.Gamma(sm.families.links.Log())
    else:
        X, y, offset = _poisson_offset(rng)
        family, link, sm_family = "poisson", None, sm.families.Poisson()
    ref = sm.GLM(y, sm.add_constant(X), family=sm_family, offset=offset).fit(tol=1e-14)
    k, n = X.shape[1] + 1, len(y)
    fits = [
        BiasReducedGLM(family, link, method="ML", tol=1e-12, n_partitions=3),
        PenalizedGLM(family, link, tol=1e-12, n_partitions=3),
        DLSARegressor(family, link, refine_steps=30, tol=1e-12, n_partitions=3),
    ]
    kw = {} if offset is None else {"offset": offset}
    fixed = family == "poisson"
    scale = 1.0 if fixed else ref.deviance / n
    loglik = sm_family.loglike(y, ref.mu, scale=scale)  # R's logLik(glm)
    n_par = k + int(not fixed)
    for est in fits:
        est.fit(X, y, **kw)
        name = type(est).__name__
        np.testing.assert_allclose(est.params_, ref.params, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(est.deviance_, ref.deviance, rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(est.null_deviance_, ref.null_deviance, rtol=1e-8,
                                   err_msg=name)
        np.testing.assert_allclose(est.dispersion_, ref.scale, rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(est.loglik_, loglik, rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(est.aic_, -2 * loglik + 2 * n_par, rtol=1e-8,
                                   err_msg=name)
        np.testing.assert_allclose(est.bic_, -2 * loglik + np.log(n) * n_par, rtol=1e-8,
                                   err_msg=name)
        assert est.df_resid_ == ref.df_resid and est.n_obs_ == ref.nobs, name
        np.testing.assert_allclose(est.bse_, ref.bse, rtol=1e-6, err_msg=name)
    if fixed:  # statsmodels' llf, aic and bic_llf are R's where the dispersion is 1
        np.testing.assert_allclose(fits[0].loglik_, ref.llf, rtol=1e-10)
        np.testing.assert_allclose(fits[0].aic_, ref.aic, rtol=1e-10)
        np.testing.assert_allclose(fits[0].bic_, ref.bic_llf, rtol=1e-10)


def test_brglm_ml_dispersion_defaults_to_pearson():
    """Before: the ML dispersion, so standard errors 10-25% below R's/statsmodels'."""
    X, y, _ = _gamma(np.random.default_rng(5), n=400)
    ref = sm.GLM(y, sm.add_constant(X),
                 family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-14)
    model = BiasReducedGLM("gamma", "log", method="ML").fit(X, y)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-6)
    own = BiasReducedGLM("gamma", "log", method="ML", dispersion="method").fit(X, y)
    assert own.dispersion_ < model.dispersion_


def test_summary_has_a_model_header_and_is_still_the_frame(data):
    X, y, _ = data
    model = PenalizedGLM("poisson", n_partitions=3).fit(X, y)
    table = model.summary()
    header = table.attrs["header"]
    assert header["Family"] == "poisson" and header["Link"] == "log"
    assert header["No. observations"] == model.n_obs_
    assert header["Df residuals"] == model.df_resid_
    assert header["Deviance"] == model.deviance_ and header["AIC"] == model.aic_
    assert header["Converged"] is True
    text = repr(table)
    for label in ("Family:", "Log-likelihood:", "AIC:", "Covariance type:", "Converged:"):
        assert label in text
    assert text.index("Family:") < text.index("coef")
    assert "<th>Deviance</th>" in table._repr_html_()
    assert table.loc["x0", "coef"] == model.params_[1]
    assert isinstance(table, pd.DataFrame) and (table * 2).shape == table.shape
    np.testing.assert_allclose(table["coef"].to_numpy(), model.params_)


def test_refusals_raise_attribute_error_saying_why(data):
    X, y, _ = data
    penalised = PenalizedGLM("poisson", alpha=0.01, n_partitions=3).fit(X, y)
    with pytest.raises(AttributeError, match="penalised"):
        penalised.summary()
    naive = DebiasedLassoRegressor(alpha=0.01, family="poisson", method="naive",
                                   n_partitions=3).fit(X, y)
    with pytest.raises(AttributeError, match="no valid standard errors"):
        naive.summary()
    with pytest.raises(AttributeError, match="chooses alpha itself"):
        PenalizedGLMCV().alpha  # noqa: B018
    assert not hasattr(PenalizedGLMCV(), "alpha")


def test_link_objects_are_accepted_everywhere(data):
    X, y, labels = data
    from dask_glmdist.families import Logit
    for est in (DLSARegressor("poisson", Log(), n_partitions=3),
                BiasReducedGLM("poisson", Log(), n_partitions=3),
                PenalizedGLM("poisson", Log(), n_partitions=3),
                DebiasedLassoRegressor(alpha=0.01, family="poisson", link=Log(), n_partitions=3)):
        est.fit(X, y)
        assert est.family_.link.name == "log"
    PenalizedLogisticRegression(Logit(), n_partitions=3).fit(X, labels)


PREDICTIONS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "score")


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_offset_in_every_fit_and_prediction(data, est):
    """``offset`` in every GLM ``fit`` and prediction method (docs/contract.md): a
    prediction without it is that of the linear predictor alone."""
    import inspect

    cls = type(est)
    for name in ("fit", *PREDICTIONS):
        if hasattr(cls, name):
            assert "offset" in inspect.signature(getattr(cls, name)).parameters, name
    X, y_count, y_label = data
    classifier = "Logistic" in cls.__name__
    off = np.full(len(X), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y_label if classifier else y_count, offset=off)
    eta = X @ np.ravel(est.coef_) + np.ravel(est.intercept_)[0]
    mean = est.predict_proba(X, offset=off)[:, 1] if classifier else est.predict(X, offset=off)
    np.testing.assert_allclose(mean, est.family_.link.inverse(eta + off), rtol=1e-12)


def test_the_path_records_what_the_contract_means_at_each_alpha(data):
    """GLMPath is not an estimator (docs/contract.md); its per-alpha deviance,
    converged and n_pos are those of PenalizedGLM at that alpha."""
    from dask_glmdist import penalized_glm_path

    X, y, _ = data
    alphas = [0.05, 0.01]
    path = penalized_glm_path(X, y, family="poisson", alphas=alphas, tol=1e-12,
                              n_partitions=3)
    for i, alpha in enumerate(alphas):
        est = PenalizedGLM("poisson", alpha=alpha, tol=1e-12, n_partitions=3).fit(X, y)
        np.testing.assert_allclose(path.deviance[i], est.deviance_, rtol=1e-9)
        assert path.converged[i] == est.converged_ and path.n_pos == est.n_obs_
        assert path.n_iter[i] >= 1 and path.n_rounds[i] >= path.n_iter[i]
