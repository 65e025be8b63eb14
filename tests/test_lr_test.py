"""Likelihood-ratio tests between nested fits (``lr_test``), R's ``anova(..., test="Chisq")``.

Oracles: statsmodels' GLM log-likelihoods (``2 (llf_full - llf_restricted)`` is the
deviance difference for binomial and Poisson); R's convention for families with
estimated dispersion computed by hand from statsmodels' deviances and the full model's
Pearson scale; statsmodels' ``OLS.compare_f_test`` for the gaussian F test (R's
``anova(test="F")``); every unpenalised maximum-likelihood estimator on dask input.
"""

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedLogisticRegression,
    get_family,
)
from dask_glmdist.families import POSITIVE, Family
from dask_glmdist.inference import LRTestResult, lr_test

N = 1200
BETA = np.array([0.3, 0.15, 0.08, 0.0])


def _data(family, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 4))
    eta = 0.2 + X @ BETA
    if family == "poisson":
        y = rng.poisson(np.exp(eta))
    elif family == "binomial":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta)))
    elif family == "gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    else:
        y = eta + rng.normal(scale=0.8, size=N)
    return X, y.astype(float)


SM_FAMILIES = {"poisson": sm.families.Poisson(), "binomial": sm.families.Binomial(),
               "gamma": sm.families.Gamma(sm.families.links.Log()),
               "gaussian": sm.families.Gaussian()}


def _sm_pair(family, X, y, k_restricted=2):
    Xc = sm.add_constant(X)
    fam = SM_FAMILIES[family]
    full = sm.GLM(y, Xc, family=fam).fit(tol=1e-13)
    restricted = sm.GLM(y, Xc[:, :1 + k_restricted], family=fam).fit(tol=1e-13)
    return full, restricted


def _dask(X, y):
    return da.from_array(X, chunks=(300, 4)), da.from_array(y, chunks=300)


def _pair(est, X, y, k_restricted=2):
    return clone(est).fit(X, y), clone(est).fit(X[:, :k_restricted], y)


ML_ESTIMATORS = {
    "poisson": [BiasReducedGLM(family="poisson", method="ML"),
                PenalizedGLM(family="poisson", alpha=0),
                DLSARegressor(family="poisson", refine_steps=20)],
    "binomial": [BiasReducedGLM(family="binomial", method="ML"),
                 PenalizedLogisticRegression(alpha=0),
                 DLSALogisticRegression(refine_steps=20)],
}


@pytest.mark.parametrize("family,est", [(f, e) for f, es in ML_ESTIMATORS.items() for e in es],
                         ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_fixed_dispersion_equals_statsmodels_likelihood_ratio(family, est):
    X, y = _data(family)
    sm_full, sm_restricted = _sm_pair(family, X, y)
    reference = 2.0 * (sm_full.llf - sm_restricted.llf)
    full, restricted = _pair(est, *_dask(X, y))
    res = full.lr_test(restricted)
    assert isinstance(res, LRTestResult)
    assert res.df == 2 and res.test == "Chisq" and res.basis == "deviance"
    assert res.dispersion == 1.0
    np.testing.assert_allclose(res.statistic, reference, rtol=1e-7)
    np.testing.assert_allclose(res.statistic, restricted.deviance_ - full.deviance_, rtol=1e-12)
    np.testing.assert_allclose(res.deviance, (sm_restricted.deviance, sm_full.deviance),
                               rtol=1e-9)
    np.testing.assert_allclose(res.p_value, stats.chi2.sf(reference, 2), rtol=1e-6)
    assert res.df_resid == (N - 3, N - 5)


@pytest.mark.parametrize("family", ["gaussian", "gamma"])
def test_estimated_dispersion_scales_by_the_full_models_pearson_dispersion(family):
    X, y = _data(family)
    sm_full, sm_restricted = _sm_pair(family, X, y)
    scale = sm_full.pearson_chi2 / sm_full.df_resid      # R's summary.glm dispersion
    reference = (sm_restricted.deviance - sm_full.deviance) / scale
    est = BiasReducedGLM(family=family, link="log" if family == "gamma" else None,
                         method="ML")
    full, restricted = _pair(est, X, y)
    res = lr_test(full, restricted)
    np.testing.assert_allclose(res.dispersion, scale, rtol=1e-8)
    np.testing.assert_allclose(res.statistic, reference, rtol=1e-7)
    np.testing.assert_allclose(res.p_value, stats.chi2.sf(reference, 2), rtol=1e-6)
    np.testing.assert_allclose(res.difference, sm_restricted.deviance - sm_full.deviance,
                               rtol=1e-7)
    f = lr_test(full, restricted, test="F")
    np.testing.assert_allclose(f.statistic, reference / 2, rtol=1e-7)
    np.testing.assert_allclose(f.p_value, stats.f.sf(reference / 2, 2, sm_full.df_resid),
                               rtol=1e-6)


def test_gaussian_f_test_equals_ols_compare_f_test():
    X, y = _data("gaussian")
    Xc = sm.add_constant(X)
    F, p, df = sm.OLS(y, Xc).fit().compare_f_test(sm.OLS(y, Xc[:, :3]).fit())
    est = PenalizedGLM(family="gaussian", alpha=0)
    full, restricted = _pair(est, *_dask(X, y))
    res = full.lr_test(restricted, test="F")
    assert res.df == df == 2
    np.testing.assert_allclose([res.statistic, res.p_value], [F, p], rtol=1e-7)


def _nb_data():
    X, _ = _data("poisson")
    y = np.random.default_rng(5).negative_binomial(2.0, 2.0 / (2.0 + np.exp(0.2 + X @ BETA)))
    return X, y.astype(float)


def test_negative_binomial_fixed_alphas_must_agree():
    X, y = _nb_data()
    full = BiasReducedGLM(family=get_family("negative_binomial", alpha=0.45),
                          method="ML").fit(X, y)
    restricted = BiasReducedGLM(family=get_family("negative_binomial", alpha=0.5),
                                method="ML").fit(X[:, :2], y)
    with pytest.raises(ValueError, match="different families"):
        lr_test(full, restricted)
    same = BiasReducedGLM(family=get_family("negative_binomial", alpha=0.45),
                          method="ML").fit(X[:, :2], y)
    res = lr_test(full, same)
    assert res.basis == "deviance"
    np.testing.assert_allclose(res.statistic, 2 * (full.loglik_ - same.loglik_), rtol=1e-9)


@pytest.mark.skipif(not getattr(get_family("negative_binomial"), "ancillary_estimated", False),
                    reason="the negative binomial's alpha is not estimated in this checkout")
def test_negative_binomial_with_estimated_alpha_uses_the_log_likelihoods():
    """R's anova.negbin: 2 (loglik_f - loglik_r), each at its own estimated alpha; the
    oracle is statsmodels' NegativeBinomial(nb2) log-likelihoods."""
    from statsmodels.discrete.discrete_model import NegativeBinomial
    X, y = _nb_data()
    Xc = sm.add_constant(X)
    llf = [NegativeBinomial(y, Z, loglike_method="nb2").fit(method="newton", tol=1e-12,
                                                            maxiter=100, disp=0).llf
           for Z in (Xc, Xc[:, :3])]
    est = BiasReducedGLM(family="negative_binomial", method="ML")
    full, restricted = _pair(est, *_dask(X, y))
    assert full.nb_alpha_ != restricted.nb_alpha_
    res = full.lr_test(restricted)
    assert res.basis == "loglik" and res.df == 2 and res.dispersion == 1.0
    np.testing.assert_allclose(res.statistic, 2 * (llf[0] - llf[1]), rtol=1e-6)
    fixed = BiasReducedGLM(family=get_family("negative_binomial", alpha=full.nb_alpha_),
                           method="ML").fit(X[:, :2], y)
    with pytest.raises(ValueError, match="estimates alpha and the other fixes it"):
        lr_test(full, fixed)


def test_table_and_print_follow_r_anova():
    X, y = _data("poisson")
    full, restricted = _pair(BiasReducedGLM(family="poisson", method="ML"), X, y)
    res = full.lr_test(restricted)
    table = res.table()
    assert list(table.index) == ["restricted", "full"]
    assert list(table.columns) == ["df_resid", "deviance", "df", "difference", "statistic",
                                   "p_value"]
    assert table.loc["full", "p_value"] == res.p_value
    assert "Likelihood-ratio test" in str(res) and "restricted" in str(res)


def test_names_from_frames_must_nest():
    X, y = _data("poisson")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = BiasReducedGLM(family="poisson", method="ML")
    full = clone(est).fit(frame[["a", "b", "c"]], y)
    nested = clone(est).fit(frame[["a", "b"]], y)
    assert full.lr_test(nested).df == 1
    other = clone(est).fit(frame[["a", "d"]], y)
    with pytest.raises(ValueError, match=r"\['d'\] are not parameters of the full"):
        full.lr_test(other)


class QuasiPoisson(Family):
    """A family without a likelihood (no ``_loglik_obs``)."""

    name = "quasi_poisson"
    canonical_link = "log"
    allowed_links = ("log",)
    domain = POSITIVE
    response_edges = (0.0,)

    def variance(self, mu):
        return mu

    def variance_deriv(self, mu):
        return np.ones_like(mu)

    def unit_deviance(self, y, mu):
        return get_family("poisson").unit_deviance(y, mu)

    def starting_mu(self, y, weights=None):
        return y + 0.1


def _refusal_pairs():
    X, y = _data("poisson")
    Xb, yb = _data("binomial")
    ml = BiasReducedGLM(family="poisson", method="ML")
    full = clone(ml).fit(X, y)
    small = clone(ml).fit(X[:, :2], y)
    return {
        "penalised": (full, PenalizedGLM(family="poisson", alpha=0.01).fit(X[:, :2], y)),
        "bias-reduced": (full, BiasReducedGLM(family="poisson").fit(X[:, :2], y)),
        "debiased": (DebiasedLassoRegressor(family="poisson").fit(X, y), small),
        "family": (full, BiasReducedGLM(family="binomial", method="ML").fit(Xb[:, :2], yb)),
        "link": (full, BiasReducedGLM(family="poisson", link="sqrt", method="ML")
                 .fit(X[:, :2], y)),
        "rows": (full, clone(ml).fit(X[:-10, :2], y[:-10])),
        "response": (full, clone(ml).fit(X[:, :2], y + 1)),
        "fewer": (small, full),
        "quasi": (BiasReducedGLM(family=QuasiPoisson(), method="ML").fit(X, y),
                  BiasReducedGLM(family=QuasiPoisson(), method="ML").fit(X[:, :2], y)),
    }


REFUSALS = {
    "penalised": r"restricted model \(PenalizedGLM\): it is penalised \(alpha=0.01\)",
    "bias-reduced": "method='mBR' is a bias-reduced estimate",
    "debiased": "debiased lasso is a penalised estimate",
    "family": "different families or links",
    "link": "different families or links",
    "rows": r"different rows \(n_obs_ 1200 and 1190\)",
    "response": "different null deviances",
    "fewer": "restricted model has 5 parameters and the full one 3",
    "quasi": r"QuasiPoisson\(link=.*\) family: its likelihood is not available",
}


def test_refusals_name_the_problem():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = _refusal_pairs()
    for what, (full, restricted) in pairs.items():
        with pytest.raises(ValueError, match=REFUSALS[what]):
            lr_test(full, restricted)


def test_bad_test_options():
    X, y = _data("poisson")
    full, restricted = _pair(BiasReducedGLM(family="poisson", method="ML"), X, y)
    with pytest.raises(ValueError, match="test='F' is for families with estimated"):
        full.lr_test(restricted, test="F")
    with pytest.raises(ValueError, match="test must be one of"):
        full.lr_test(restricted, test="LRT")


def test_unconverged_and_unrefined_fits_warn():
    X, y = _data("poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = BiasReducedGLM(family="poisson", method="ML", max_iter=1).fit(X, y)
    restricted = BiasReducedGLM(family="poisson", method="ML").fit(X[:, :2], y)
    with pytest.warns(ConvergenceWarning, match="full model .* did not converge"), \
            pytest.warns(UserWarning, match="restricted model fits better than the full"):
        lr_test(short, restricted)   # one IWLS step from the start: a deviance far above
    one_round = DLSARegressor(family="poisson", refine_steps=0, n_partitions=4)
    full, small = _pair(one_round, X, y)
    with pytest.warns(ConvergenceWarning, match="not refined to the maximum likelihood"):
        lr_test(full, small)


@pytest.mark.skipif("cov_type" not in BiasReducedGLM().get_params(),
                    reason="cov_type not in this checkout")
def test_robust_covariance_warns_that_the_test_assumes_the_model():
    X, y = _data("poisson")
    est = BiasReducedGLM(family="poisson", method="ML", cov_type="HC1")
    full, restricted = _pair(est, X, y)
    with pytest.warns(UserWarning, match="cov_type='HC1': a likelihood-ratio test assumes"):
        res = full.lr_test(restricted)
    plain = _pair(BiasReducedGLM(family="poisson", method="ML"), X, y)
    assert res.statistic == plain[0].lr_test(plain[1]).statistic


def test_tweedie_with_its_likelihood_as_gamma_and_refused_without():
    """1 < p < 2: the compound Poisson-gamma density is evaluated (R's convention as for
    gamma, against statsmodels' Tweedie GLM); p = 2.5: no density evaluated, refused."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 3))
    mu = np.exp(0.3 + X @ [0.3, 0.2, 0.0])
    counts = rng.poisson(mu ** 0.5 / 0.5)
    y = np.array([rng.gamma(1.0, 0.5 * m ** 0.5, k).sum() for k, m in zip(counts, mu,
                                                                             strict=True)])
    Xc, links = sm.add_constant(X), sm.families.links
    sm_fits = [sm.GLM(y, Z, family=sm.families.Tweedie(var_power=1.5, link=links.Log()))
               .fit(tol=1e-13) for Z in (Xc, Xc[:, :2])]
    scale = sm_fits[0].pearson_chi2 / sm_fits[0].df_resid
    est = BiasReducedGLM(family=get_family("tweedie", power=1.5), method="ML")
    full, restricted = est.fit(X, y), clone(est).fit(X[:, :1], y)
    np.testing.assert_allclose(lr_test(full, restricted).statistic,
                               (sm_fits[1].deviance - sm_fits[0].deviance) / scale, rtol=1e-8)
    est = BiasReducedGLM(family=get_family("tweedie", power=2.5), method="ML")
    with pytest.raises(ValueError, match="Tweedie.*its likelihood is not available"):
        lr_test(est.fit(X, y + 0.1), clone(est).fit(X[:, :1], y + 0.1))
