"""BiasReducedGLM against independent references.

* ML: statsmodels GLM for every family and link (coefficients 1e-8, standard errors 1e-6).
* ML, mBR, mJPL (a = 1/2 and 1) with the dispersion by each method's own equation:
  R's brglm2 0.9 (``glm(method = "brglmFit")``), values stored in
  ``tests/data/brglm2_reference.json`` by ``tests/data/make_brglm2_reference.py``.
* Logistic mBR: firthmodels' Firth logistic regression.
* mBR = mJPL(1/2) for canonical links, and not for probit/cloglog.
* Stationarity computed in memory from statsmodels' links and variance functions:
  the mJPL penalised log-likelihood has zero gradient (finite differences) and the mBR
  adjusted score (full hat matrix) is zero at the fit.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from dask_glmdist import BiasReducedGLM

SMF = sm.families
SML = sm.families.links

REFERENCE = json.loads((Path(__file__).parent / "data" / "brglm2_reference.json").read_text())
R_FAMILY = {"Gamma": "gamma", "inverse.gaussian": "inverse_gaussian"}
R_LINK = {"1/mu^2": "inverse_squared"}
R_TYPE = {"ML": ("ML", 0.5), "AS_mean": ("mBR", 0.5), "MPL_Jeffreys": ("mJPL", 0.5),
          "MPL_Jeffreys_a1": ("mJPL", 1.0)}


def _simulate(family, link, rng, n=600):
    X = np.column_stack([rng.normal(size=n), rng.uniform(-1, 1, size=n),
                         (rng.random(n) < 0.3).astype(float)])
    eta = {"logit": 0.2 + X @ [0.8, -0.5, 0.4], "probit": 0.1 + X @ [0.5, -0.3, 0.3],
           "cloglog": -0.3 + X @ [0.4, -0.3, 0.3], "cauchit": 0.1 + X @ [0.8, -0.5, 0.4],
           "log": 0.3 + X @ [0.3, -0.2, 0.2], "identity": 2.0 + X @ [0.3, -0.2, 0.2],
           "inverse": 1.0 + X @ [0.1, -0.1, 0.1], "sqrt": 2.0 + X @ [0.3, -0.2, 0.2],
           "inverse_squared": 1.0 + X @ [0.1, -0.1, 0.1]}[link]
    if family == "binomial":
        mu = {"logit": lambda e: 1 / (1 + np.exp(-e)),
              "probit": lambda e: SML.Probit().inverse(e),
              "cloglog": lambda e: 1 - np.exp(-np.exp(e)),
              "cauchit": lambda e: 0.5 + np.arctan(e) / np.pi}[link](eta)
        y = (rng.random(n) < mu).astype(float)
    elif family == "poisson":
        mu = {"log": np.exp, "identity": lambda e: e, "sqrt": lambda e: e**2}[link](eta)
        y = rng.poisson(mu).astype(float)
    elif family == "gamma":
        mu = {"log": np.exp, "identity": lambda e: e, "inverse": lambda e: 1 / e}[link](eta)
        y = rng.gamma(4.0, mu / 4.0)
    elif family == "inverse_gaussian":
        mu = {"log": np.exp, "inverse_squared": lambda e: 1 / np.sqrt(e),
              "inverse": lambda e: 1 / e}[link](eta)
        y = rng.wald(mu, 8.0)
    else:
        mu = {"identity": lambda e: e, "log": np.exp}[link](eta)
        y = mu + 0.5 * rng.normal(size=n)
    return X, y


SM_FAMILY = {"binomial": SMF.Binomial, "poisson": SMF.Poisson, "gamma": SMF.Gamma,
             "inverse_gaussian": SMF.InverseGaussian, "gaussian": SMF.Gaussian}
SM_LINK = {"logit": SML.Logit, "probit": SML.Probit, "cloglog": SML.CLogLog,
           "cauchit": SML.Cauchy, "log": SML.Log, "identity": SML.Identity,
           "inverse": SML.InversePower, "sqrt": SML.Sqrt,
           "inverse_squared": SML.InverseSquared}
ML_CASES = [
    ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
    ("binomial", "cauchit"), ("poisson", "log"), ("poisson", "sqrt"),
    ("gamma", "inverse"), ("gamma", "log"), ("gamma", "identity"),
    ("inverse_gaussian", "inverse_squared"), ("inverse_gaussian", "log"),
    ("gaussian", "identity"), ("gaussian", "log"),
]


def _statsmodels(family, link, X, y, **kw):
    fam = SM_FAMILY[family](SM_LINK[link]())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, sm.add_constant(X), family=fam, **kw).fit(tol=1e-14, maxiter=500)


@pytest.mark.parametrize(("family", "link"), ML_CASES)
def test_ml_equals_statsmodels(family, link, rng):
    X, y = _simulate(family, link, rng)
    ref = _statsmodels(family, link, X, y)
    model = BiasReducedGLM(family, link, method="ML", dispersion="pearson", n_partitions=3,
                           tol=1e-12).fit(X, y)
    assert model.converged_
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-6, atol=0)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-8)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=1e-9)
    np.testing.assert_allclose(model.pearson_chi2_, ref.pearson_chi2, rtol=1e-8)
    # the log-likelihood is R's logLik: at the dispersion deviance / n where it is estimated
    fam = SM_FAMILY[family](SM_LINK[link]())
    scale = 1.0 if family in ("binomial", "poisson") else ref.deviance / len(y)
    ll = fam.loglike(y, ref.mu, scale=scale)
    np.testing.assert_allclose(model.loglik_, ll, rtol=1e-8)
    np.testing.assert_allclose(model.predict(X[:7]), ref.predict(sm.add_constant(X)[:7]),
                               rtol=1e-8)


def test_ml_with_weights_and_offset_equals_statsmodels(rng):
    n = 800
    X = rng.normal(size=(n, 2))
    exposure = rng.uniform(0.5, 3.0, size=n)
    y = rng.poisson(exposure * np.exp(0.2 + X @ [0.4, -0.3])).astype(float)
    m = rng.integers(1, 4, size=n).astype(float)
    ref = sm.GLM(y, sm.add_constant(X), family=SMF.Poisson(), offset=np.log(exposure),
                 var_weights=m).fit(tol=1e-14)
    model = BiasReducedGLM("poisson", method="ML", n_partitions=4, tol=1e-12).fit(
        X, y, sample_weight=m, offset=np.log(exposure))
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-9)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-7)
    np.testing.assert_allclose(model.predict(X[:5], offset=np.log(exposure[:5])),
                               ref.mu[:5], rtol=1e-9)


REF_CASES = [(name, typ) for name, ds in REFERENCE["datasets"].items()
             for typ in ds["fits"] if typ in R_TYPE]


@pytest.mark.parametrize("passes", [2, 1])
@pytest.mark.parametrize(("name", "rtype"), REF_CASES)
def test_equals_brglm2(name, rtype, passes):
    """Coefficients, standard errors and the dispersion of R's brglm2."""
    ds = REFERENCE["datasets"][name]
    fit = ds["fits"][rtype]
    method, power = R_TYPE[rtype]
    X, y = np.asarray(ds["X"], dtype=float), np.asarray(ds["y"], dtype=float)
    w = None if ds["weights"] is None else np.asarray(ds["weights"], dtype=float)
    model = BiasReducedGLM(
        R_FAMILY.get(ds["family"], ds["family"]), R_LINK.get(ds["link"], ds["link"]),
        method=method, jeffreys_power=power, passes=passes, n_partitions=3,
        tol=1e-12, max_iter=500, dispersion="method",
    )
    if fit.get("diverged"):  # ML on the separated probit data: brglm2 runs off to ~1e3
        with pytest.warns(UserWarning, match=r"maximum likelihood estimate does not exist: "
                                             r"its parameters \[x1 \(\+inf\)\] are infinite"):
            model.fit(X, y, sample_weight=w)
        assert not model.converged_ and model.separation_detected_
        # brglm2's ML ran off along R's x2 (our x1) to +978; the other two are finite
        assert fit["coefficients"]["x2"] > 900
        assert {k: (f.kind, f.sign) for k, f in model.param_flags_.items()} == {
            "x1": ("infinite", 1)}
        return
    model.fit(X, y, sample_weight=w)
    assert model.converged_
    coef = np.array(list(fit["coefficients"].values()))
    se = np.array(list(fit["se"].values()))
    np.testing.assert_allclose(model.params_, coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.bse_, se, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(model.cov_params_, np.asarray(fit["vcov"]), rtol=1e-6,
                               atol=1e-12)
    np.testing.assert_allclose(model.dispersion_, fit["dispersion"], rtol=1e-8)
    np.testing.assert_allclose(model.deviance_, fit["deviance"], rtol=1e-8)


def test_logistic_mbr_equals_firthmodels(rng):
    firthmodels = pytest.importorskip("firthmodels")

    n = 400
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X @ [1.0, -0.7, 0.4])))).astype(float)
    ref = firthmodels.FirthLogisticRegression(gtol=1e-10, xtol=1e-10, max_iter=500).fit(X, y)
    for passes in (2, 1):
        model = BiasReducedGLM(method="mBR", passes=passes, n_partitions=4, tol=1e-12).fit(X, y)
        np.testing.assert_allclose(model.params_, np.r_[ref.intercept_, ref.coef_.ravel()],
                                   atol=1e-6)
    # standard errors: the inverse expected information at the estimate, in memory
    X1 = sm.add_constant(X)
    p = 1 / (1 + np.exp(-(X1 @ model.params_)))
    cov = np.linalg.inv(X1.T @ ((p * (1 - p))[:, None] * X1))
    np.testing.assert_allclose(model.cov_params_, cov, rtol=1e-7)


@pytest.mark.parametrize(("family", "link", "equal"), [
    ("binomial", "logit", True), ("poisson", "log", True),
    ("binomial", "probit", False), ("binomial", "cloglog", False),
])
def test_mbr_equals_jeffreys_for_canonical_links(family, link, equal, rng):
    X, y = _simulate(family, link, rng, n=300)
    mbr = BiasReducedGLM(family, link, method="mBR", tol=1e-13, n_partitions=2).fit(X, y)
    mjpl = BiasReducedGLM(family, link, method="mJPL", tol=1e-13, n_partitions=2).fit(X, y)
    gap = np.max(np.abs(mbr.params_ - mjpl.params_))
    if equal:
        assert gap < 1e-10
    else:
        assert gap > 1e-5


def _sm_pieces(family, link, X1, beta, m=None):
    """Working weights and link/variance derivatives from statsmodels' objects."""
    lk = SM_LINK[link]()
    fam = SM_FAMILY[family](lk)
    eta = X1 @ beta
    mu = lk.inverse(eta)
    d = lk.inverse_deriv(eta)
    d2 = lk.inverse_deriv2(eta)
    V = fam.variance(mu)
    dV = fam.variance.deriv(mu)
    m = np.ones_like(eta) if m is None else m
    w = m * d**2 / V
    return fam, mu, d, d2, V, dV, w


@pytest.mark.parametrize(("family", "link"), [
    ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "sqrt"), ("gamma", "log"),
])
@pytest.mark.parametrize("power", [0.5, 1.0])
def test_jeffreys_penalised_loglik_is_stationary(family, link, power, rng):
    """Finite-difference gradient of l(beta) + a log det(X^T W X), all in memory."""
    X, y = _simulate(family, link, rng, n=250)
    X1 = sm.add_constant(X)
    model = BiasReducedGLM(family, link, method="mJPL", jeffreys_power=power,
                           n_partitions=3, tol=1e-13).fit(X, y)
    phi = model.dispersion_

    def penalised(beta):
        fam, mu, d, d2, V, dV, w = _sm_pieces(family, link, X1, beta)
        sign, logdet = np.linalg.slogdet(X1.T @ (w[:, None] * X1))
        return fam.loglike(y, mu, scale=phi) + power * logdet

    h = 1e-5
    grad = np.array([(penalised(model.params_ + h * e) - penalised(model.params_ - h * e))
                     / (2 * h) for e in np.eye(len(model.params_))])
    scale = np.abs(X1).sum(axis=0)  # gradient entries are sums over rows
    assert np.max(np.abs(grad) / scale) < 1e-7


@pytest.mark.parametrize(("family", "link"), [
    ("binomial", "probit"), ("binomial", "cauchit"), ("poisson", "identity"),
    ("gamma", "inverse"), ("inverse_gaussian", "log"),
])
def test_mbr_adjusted_score_is_zero(family, link, rng):
    """U + A = X^T (m (y - mu) d / V) / phi + X^T (h d' / (2 d)) with the full hat matrix."""
    X, y = _simulate(family, link, rng, n=250)
    X1 = sm.add_constant(X)
    model = BiasReducedGLM(family, link, method="mBR", n_partitions=3, tol=1e-13).fit(X, y)
    fam, mu, d, d2, V, dV, w = _sm_pieces(family, link, X1, model.params_)
    Wh = np.sqrt(w)[:, None] * X1
    H = Wh @ np.linalg.solve(X1.T @ (w[:, None] * X1), Wh.T)
    h = np.diag(H)
    adjusted = X1.T @ ((y - mu) * d / V) / model.dispersion_ + X1.T @ (h * d2 / (2 * d))
    assert np.max(np.abs(adjusted) / np.abs(X1).sum(axis=0)) < 1e-10


def test_gaussian_dispersion_closed_forms(rng):
    """ML: D/n, mBR: D/(n - p), mJPL(a): D/(n + 2a(p + 2)), pearson: D/(n - p)."""
    n, p = 120, 4
    X = rng.normal(size=(n, p - 1))
    y = X @ [1.0, -0.5, 0.2] + rng.normal(size=n)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    D = ols.ssr
    expect = {("ML", 0.5): D / n, ("mBR", 0.5): D / (n - p),
              ("mJPL", 0.5): D / (n + p + 2), ("mJPL", 2.0): D / (n + 4 * (p + 2))}
    for (method, a), phi in expect.items():
        model = BiasReducedGLM("gaussian", method=method, jeffreys_power=a,
                               dispersion="method").fit(X, y)
        np.testing.assert_allclose(model.params_, ols.params, atol=1e-12)
        np.testing.assert_allclose(model.dispersion_, phi, rtol=1e-12)
    pearson = BiasReducedGLM("gaussian", method="mJPL", dispersion="pearson").fit(X, y)
    np.testing.assert_allclose(pearson.dispersion_, ols.scale, rtol=1e-12)
    np.testing.assert_allclose(pearson.bse_, ols.bse, rtol=1e-10)


def test_aic_counts_the_dispersion(rng):
    X, y = _simulate("gamma", "log", rng, n=200)
    model = BiasReducedGLM("gamma", "log", method="ML").fit(X, y)
    fam = SMF.Gamma(SML.Log())
    mu = model.predict(X)
    ll = fam.loglike(y, mu, scale=model.deviance_ / len(y))  # R's logLik(glm)
    np.testing.assert_allclose(model.aic_, -2 * ll + 2 * (X.shape[1] + 2), rtol=1e-10)
    binom = BiasReducedGLM().fit(*_simulate("binomial", "logit", rng, n=200))
    np.testing.assert_allclose(binom.aic_, -2 * binom.loglik_ + 2 * 4, rtol=1e-12)


def test_score_is_fraction_of_deviance_explained(rng):
    from sklearn.metrics import d2_tweedie_score, r2_score

    X, y = _simulate("poisson", "log", rng, n=300)
    model = BiasReducedGLM("poisson", method="ML").fit(X, y)
    np.testing.assert_allclose(model.score(X, y), d2_tweedie_score(y, model.predict(X), power=1),
                               rtol=1e-10)
    Xg, yg = _simulate("gaussian", "identity", rng, n=300)
    gauss = BiasReducedGLM("gaussian").fit(Xg, yg)
    np.testing.assert_allclose(gauss.score(Xg, yg), r2_score(yg, gauss.predict(Xg)), rtol=1e-10)


def test_mean_bias_reduction_in_a_small_monte_carlo():
    """Logistic regression, n = 80, 250 replications: ML's slopes are biased away from
    zero by about 7% (the O(1/n) bias; several Monte Carlo standard errors), mBR removes
    most of it (its bias is O(1/n^2))."""
    rng = np.random.default_rng(2026)
    beta = np.array([-0.5, 1.0, -1.0, 0.5])
    ml, mbr = [], []
    for _ in range(250):
        X = rng.normal(size=(80, 3))
        y = (rng.random(80) < 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))).astype(float)
        fit = BiasReducedGLM(method="ML", n_partitions=1).fit(X, y)
        assert fit.converged_
        ml.append(fit.params_)
        mbr.append(BiasReducedGLM(method="mBR", n_partitions=1).fit(X, y).params_)
    ml, mbr = np.array(ml), np.array(mbr)
    bias_ml, bias_mbr = ml.mean(axis=0) - beta, mbr.mean(axis=0) - beta
    mc_se = ml.std(axis=0) / np.sqrt(len(ml))
    slopes = slice(1, None)
    assert np.all(np.sign(bias_ml[slopes]) == np.sign(beta[slopes]))  # away from zero
    assert np.all(np.abs(bias_ml[slopes]) > 2.5 * mc_se[slopes])
    assert np.all(np.abs(bias_mbr[slopes]) < 0.4 * np.abs(bias_ml[slopes]))
