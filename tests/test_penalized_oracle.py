"""PenalizedGLM against independent references.

* alpha = 0: statsmodels GLM (coefficients 1e-8, standard errors 1e-6 relative).
* lasso / elastic net: scikit-learn's LogisticRegression (saga), ElasticNet and
  PoissonRegressor on the same objective (objective 1e-9 relative, coefficients 1e-6),
  and the KKT conditions checked from scratch with NumPy.
* box: scipy's L-BFGS-B on the same objective (the L1 part by splitting
  beta = beta+ - beta-), separated data.
* invariances: the number and order of partitions, dask input with unknown chunks.
"""

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import sklearn
import statsmodels.api as sm
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, LogisticRegression, PoissonRegressor
from sklearn.utils.fixes import parse_version

from dask_glmdist import PenalizedGLM, PenalizedLogisticRegression, SeparationWarning

# scikit-learn < 1.8 reads l1_ratio only with penalty="elasticnet" (1.8 deprecates penalty)
ELASTIC_NET = ({"penalty": "elasticnet"} if parse_version(sklearn.__version__)
               < parse_version("1.8") else {})

def _design(rng, n, p, rho=0.3):
    Z = rng.normal(size=(n, p))
    X = Z.copy()
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    return X


@pytest.fixture(scope="module")
def logistic_data():
    rng = np.random.default_rng(7)
    n, p = 4000, 12
    X = _design(rng, n, p)
    beta = np.r_[1.0, -0.8, 0.6, 0, 0, 0.4, np.zeros(p - 6)]
    y = (rng.random(n) < expit(0.3 + X @ beta)).astype(float)
    return X, y


def _logistic_objective(theta, X, y, alpha, l1_ratio, w=None):
    eta = theta[0] + X @ theta[1:]
    loss = np.logaddexp(0.0, eta) - y * eta
    mean = np.average(loss, weights=w)
    c = theta[1:]
    return mean + alpha * ((1 - l1_ratio) / 2 * c @ c + l1_ratio * np.abs(c).sum())


def _kkt(theta, grad_smooth, l1, bound=np.inf):
    """Largest KKT violation from scratch (coefficients only; grad includes the ridge)."""
    out = []
    for b, g in zip(theta, grad_smooth, strict=True):
        if abs(b) >= bound * (1 - 1e-12):
            out.append(max(np.sign(b) * (g + np.sign(b) * l1), 0.0))
        elif b != 0:
            out.append(abs(g + np.sign(b) * l1))
        else:
            out.append(max(abs(g) - l1, 0.0))
    return max(out)


# --------------------------------------------------------------------------------------
# alpha = 0: statsmodels GLM
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, link, sm_family", [
    ("binomial", None, sm.families.Binomial()),
    ("binomial", "probit", sm.families.Binomial(sm.families.links.Probit())),
    ("poisson", None, sm.families.Poisson()),
    ("gamma", "log", sm.families.Gamma(sm.families.links.Log())),
    ("gamma", None, sm.families.Gamma()),
    ("gaussian", None, sm.families.Gaussian()),
])
def test_unpenalised_equals_statsmodels_glm(family, link, sm_family):
    rng = np.random.default_rng(11)
    n, p = 3000, 6
    X = _design(rng, n, p)
    eta = 0.2 + X @ np.linspace(-0.4, 0.4, p)
    if family == "binomial":
        y = (rng.random(n) < (expit(eta) if link is None else
                              __import__("scipy").stats.norm.cdf(eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gamma":
        y = rng.gamma(3.0, np.exp(0.5 + 0.3 * eta) / 3.0)
    else:
        y = eta + rng.normal(size=n)
    w = rng.integers(1, 4, size=n).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' DomainWarning for gamma-inverse
        ref = sm.GLM(y, sm.add_constant(X), family=sm_family, var_weights=w).fit(
            tol=1e-14, maxiter=200)
    model = PenalizedGLM(family, link, n_partitions=3).fit(X, y, sample_weight=w)
    assert model.converged_
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-6)
    table = model.summary()
    np.testing.assert_allclose(table["z"], ref.tvalues, rtol=1e-5)
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=1e-9)


def test_offset_equals_statsmodels():
    rng = np.random.default_rng(3)
    n = 2000
    X = rng.normal(size=(n, 3))
    exposure = rng.uniform(0.5, 3.0, size=n)
    y = rng.poisson(exposure * np.exp(0.1 + X @ [0.3, -0.2, 0.0])).astype(float)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(),
                 offset=np.log(exposure)).fit(tol=1e-14)
    model = PenalizedGLM("poisson", n_partitions=4).fit(X, y, offset=np.log(exposure))
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-6)


# --------------------------------------------------------------------------------------
# lasso and elastic net: scikit-learn on the same objective
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha, l1_ratio", [(0.02, 1.0), (0.002, 1.0), (0.01, 0.5),
                                             (0.05, 0.0)])
def test_logistic_elastic_net_equals_sklearn(logistic_data, alpha, l1_ratio):
    X, y = logistic_data
    n = len(y)
    model = PenalizedLogisticRegression(alpha=alpha, l1_ratio=l1_ratio,
                                        n_partitions=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LogisticRegression(C=1.0 / (alpha * n), l1_ratio=l1_ratio, solver="saga",
                                 tol=1e-13, max_iter=20_000, **ELASTIC_NET).fit(X, y)
    theta_ref = np.r_[ref.intercept_, ref.coef_.ravel()]
    theta = model.params_
    f_ref = _logistic_objective(theta_ref, X, y, alpha, l1_ratio)
    f = _logistic_objective(theta, X, y, alpha, l1_ratio)
    assert f <= f_ref * (1 + 1e-9)
    assert abs(f - f_ref) <= 1e-9 * f_ref
    np.testing.assert_allclose(theta, theta_ref, atol=1e-6)
    np.testing.assert_allclose(model.objective_, f, rtol=1e-12)
    # the KKT conditions, from scratch
    mu = expit(theta[0] + X @ theta[1:])
    g = X.T @ (mu - y) / n + alpha * (1 - l1_ratio) * theta[1:]
    assert abs(np.mean(mu - y)) < 1e-8       # tol = 1e-8 on the KKT violation
    assert _kkt(theta[1:], g, alpha * l1_ratio) < 1e-8
    assert model.kkt_violation_ < 1e-8
    # the objective path is non-increasing
    assert np.all(np.diff(model.objective_path_) <= 1e-15)


@pytest.mark.parametrize("alpha, l1_ratio", [(0.05, 1.0), (0.01, 0.3)])
def test_gaussian_equals_sklearn_elastic_net(alpha, l1_ratio):
    rng = np.random.default_rng(5)
    n, p = 3000, 15
    X = _design(rng, n, p, rho=0.5)
    y = 1.0 + X[:, :4] @ [1.0, -1.0, 0.5, 0.25] + rng.normal(size=n)
    model = PenalizedGLM("gaussian", alpha=alpha, l1_ratio=l1_ratio).fit(X, y)
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(X, y)

    def obj(b0, c):
        r = y - b0 - X @ c
        return r @ r / (2 * n) + alpha * ((1 - l1_ratio) / 2 * c @ c
                                          + l1_ratio * np.abs(c).sum())

    f, f_ref = obj(model.intercept_, model.coef_), obj(ref.intercept_, ref.coef_)
    assert abs(f - f_ref) <= 1e-9 * f_ref
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_allclose(model.objective_, f, rtol=1e-10)
    assert model.n_rounds_ == 1  # solved from one pass of sums (its statistics too)


@pytest.mark.parametrize("family, cls, link", [
    ("poisson", PoissonRegressor, None),
])
def test_ridge_equals_sklearn_glm(family, cls, link):
    rng = np.random.default_rng(9)
    n, p = 3000, 8
    X = _design(rng, n, p)
    y = rng.poisson(np.exp(0.3 + X[:, :3] @ [0.4, -0.3, 0.2])).astype(float)
    alpha = 0.01
    model = PenalizedGLM(family, alpha=alpha, l1_ratio=0.0).fit(X, y)
    ref = cls(alpha=alpha, tol=1e-14, max_iter=10_000, solver="newton-cholesky").fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-7)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-7)


def test_poisson_lasso_kkt_and_objective():
    rng = np.random.default_rng(21)
    n, p = 3000, 10
    X = _design(rng, n, p)
    y = rng.poisson(np.exp(0.5 + X[:, :2] @ [0.5, -0.4])).astype(float)
    alpha = 0.01
    model = PenalizedGLM("poisson", alpha=alpha).fit(X, y)
    theta = model.params_
    mu = np.exp(theta[0] + X @ theta[1:])
    g = X.T @ (mu - y) / n
    assert abs(np.mean(mu - y)) < 1e-8
    assert _kkt(theta[1:], g, alpha) < 1e-8
    assert 0 < np.sum(model.coef_ != 0) < p
    # perturbing any coordinate cannot lower the objective
    def obj(t):
        eta = t[0] + X @ t[1:]
        return np.mean(np.exp(eta) - y * eta) + alpha * np.abs(t[1:]).sum()
    f0 = obj(theta)
    for j in range(p + 1):
        for h in (1e-4, -1e-4):
            t = theta.copy()
            t[j] += h
            assert obj(t) >= f0 - 1e-13


# --------------------------------------------------------------------------------------
# box constraints: scipy L-BFGS-B; separated data
# --------------------------------------------------------------------------------------


def _lbfgsb_logistic(X, y, alpha, l1_ratio, bound):
    """The same objective by L-BFGS-B on (b0, beta+, beta-), beta = beta+ - beta-."""
    n, p = X.shape
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)

    def f(z):
        b0, bp, bm = z[0], z[1:p + 1], z[p + 1:]
        c = bp - bm
        eta = b0 + X @ c
        mu = expit(eta)
        val = np.mean(np.logaddexp(0.0, eta) - y * eta) + l2 / 2 * c @ c + l1 * (bp + bm).sum()
        gc = X.T @ (mu - y) / n + l2 * c
        return val, np.r_[np.mean(mu - y), gc + l1, -gc + l1]

    bounds = [(None, None)] + [(0.0, bound)] * (2 * p)
    res = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(ftol=1e-16, gtol=1e-13, maxiter=50_000, maxcor=30))
    z = res.x
    return np.r_[z[0], z[1:p + 1] - z[p + 1:]], res.fun


@pytest.mark.parametrize("alpha, l1_ratio, bound", [(0.0, 1.0, 0.5), (0.003, 1.0, 0.5),
                                                    (0.01, 0.5, 0.3)])
def test_box_equals_lbfgsb(logistic_data, alpha, l1_ratio, bound):
    X, y = logistic_data
    model = PenalizedLogisticRegression(alpha=alpha, l1_ratio=l1_ratio, max_abs_coef=bound,
                                        n_partitions=4).fit(X, y)
    ref, f_ref = _lbfgsb_logistic(X, y, alpha, l1_ratio, bound)
    assert np.all(np.abs(model.coef_) <= bound)
    np.testing.assert_allclose(model.params_, ref, atol=1e-6)
    assert model.objective_ <= f_ref + 1e-12
    assert np.any(np.abs(model.coef_) == bound)  # the box binds in these settings
    assert model.converged_


def test_separated_data_bounded_with_binding_coordinates():
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] - 0.5 * X[:, 1] > 0).astype(float)   # completely separated
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        PenalizedLogisticRegression(max_iter=15).fit(X, y)   # no finite MLE
    with pytest.warns(SeparationWarning, match=r"\[x0 \(\+inf\), x1 \(-inf\)\] grow "
                      "without bound.*complete separation"):
        ml = PenalizedLogisticRegression().fit(X, y)
    assert not ml.converged_ and ml.n_iter_ < 100
    # complete separation: no row is left on the separating hyperplane, so no
    # coefficient's estimate is finite (firthmodels' LP check agrees); the separating
    # ones run off with a determined sign, the others are not determined
    firthmodels = pytest.importorskip("firthmodels")
    assert not any(firthmodels.detect_separation(X, y).is_finite)
    assert set(ml.param_flags_) == set(ml._param_names())
    kinds = {n: (f.kind, f.sign) for n, f in ml.param_flags_.items()}
    assert kinds["x0"] == ("infinite", 1) and kinds["x1"] == ("infinite", -1)
    table = ml.summary()
    assert table.loc["x0", "coef"] == np.inf and table.loc["x1", "coef"] == -np.inf
    assert table["std_err"].isna().all()
    model = PenalizedLogisticRegression(max_abs_coef=5.0).fit(X, y)
    assert model.converged_
    coef = model.coef_.ravel()
    assert np.all(np.isfinite(coef)) and np.all(np.abs(coef) <= 5.0)
    assert coef[0] == 5.0                       # the separating direction hits the bound
    ref, _ = _lbfgsb_logistic(X, y, 0.0, 1.0, 5.0)
    np.testing.assert_allclose(model.params_, ref, atol=1e-6)
    with pytest.raises(AttributeError, match="bound"):
        model.summary()


# --------------------------------------------------------------------------------------
# invariances and input kinds
# --------------------------------------------------------------------------------------


def test_partition_independence(logistic_data):
    X, y = logistic_data
    fits = [PenalizedLogisticRegression(alpha=0.003, n_partitions=k).fit(X, y).params_
            for k in (1, 3, 7)]
    for f in fits[1:]:
        np.testing.assert_allclose(f, fits[0], atol=1e-8)
    # a dask DataFrame with unknown chunk sizes, unequal partitions, and reversed rows
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = dd.from_pandas(df.assign(y=y), npartitions=5)
    model = PenalizedLogisticRegression(alpha=0.003).fit(ddf.drop(columns="y"), ddf["y"])
    np.testing.assert_allclose(model.params_, fits[0], atol=1e-8)
    assert list(model.feature_names_in_) == list(df.columns)
    rev = PenalizedLogisticRegression(alpha=0.003, n_partitions=3).fit(X[::-1], y[::-1])
    np.testing.assert_allclose(rev.params_, fits[0], atol=1e-8)


def test_dask_array_and_string_labels(logistic_data):
    X, y = logistic_data
    labels = np.where(y == 1, "yes", "no")
    Xd = da.from_array(X, chunks=(700, X.shape[1]))
    model = PenalizedLogisticRegression(alpha=0.003).fit(Xd, da.from_array(labels, chunks=700))
    ref = PenalizedLogisticRegression(alpha=0.003).fit(X, labels)
    assert model.classes_.tolist() == ["no", "yes"]
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-8)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], expit(X @ ref.coef_.ravel() + ref.intercept_),
                               rtol=1e-10)
    assert set(model.predict(Xd).compute()) <= {"no", "yes"}
    assert model.score(X, labels) > 0.6


def test_integer_weights_are_repeated_rows(logistic_data):
    X, y = logistic_data
    X, y = X[:600], y[:600]
    w = np.random.default_rng(1).integers(0, 4, size=len(y)).astype(float)
    a = PenalizedGLM("binomial", alpha=0.005, l1_ratio=0.7).fit(X, y, sample_weight=w)
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    b = PenalizedGLM("binomial", alpha=0.005, l1_ratio=0.7).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-9)


def test_grouped_binomial_equals_bernoulli_rows():
    rng = np.random.default_rng(4)
    n = 500
    X = rng.normal(size=(n, 3))
    m = rng.integers(1, 6, size=n)
    k = rng.binomial(m, expit(0.2 + X @ [0.5, -0.5, 0.0]))
    a = PenalizedGLM("binomial", alpha=0.004).fit(X, k / m, sample_weight=m.astype(float))
    rows = np.repeat(np.arange(n), m)
    ones = np.concatenate([np.r_[np.ones(k[i]), np.zeros(m[i] - k[i])] for i in range(n)])
    b = PenalizedGLM("binomial", alpha=0.004).fit(X[rows], ones)
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-9)


def test_warm_start_reaches_the_same_solution(logistic_data):
    X, y = logistic_data
    model = PenalizedLogisticRegression(alpha=0.003, warm_start=True).fit(X, y)
    first = model.params_.copy()
    model.fit(X, y)
    np.testing.assert_allclose(model.params_, first, atol=1e-9)
    assert model.n_iter_ <= 1


def test_start_by_an_irls_step_when_zero_is_outside_the_domain():
    """Gamma with the inverse link and no intercept: theta = 0 gives an infinite mean, so
    the engine starts from one IRLS step at R's mustart (two extra rounds)."""
    rng = np.random.default_rng(12)
    n = 2000
    X = rng.uniform(0.5, 2.0, size=(n, 3))
    mu = 1.0 / (X @ [0.3, 0.2, 0.4])
    y = rng.gamma(4.0, mu / 4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, X, family=sm.families.Gamma()).fit(tol=1e-14)
    model = PenalizedGLM("gamma", fit_intercept=False, n_partitions=3).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.params, atol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-6)
    assert model.n_rounds_ == model.n_iter_ + 4   # sums, IRLS start, its evaluation, statistics


def test_non_canonical_link_on_strong_signal_reaches_the_optimum():
    """cloglog on nearly separated data: Fisher scoring converges linearly and
    statsmodels' IRLS stops at a higher deviance; ours satisfies the KKT conditions."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 5))
    y = (rng.random(20000) < expit(X @ [3.0, -3.0, 2.0, 0.0, 0.0])).astype(float)
    model = PenalizedGLM("binomial", "cloglog").fit(X, y)
    assert model.converged_ and model.kkt_violation_ < 1e-8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(y, sm.add_constant(X),
                     family=sm.families.Binomial(sm.families.links.CLogLog())).fit(tol=1e-14)
    fam = model.family_
    Xc = sm.add_constant(X)
    dev = float(fam.deviance(y, fam.link.inverse(Xc @ model.params_)))
    dev_ref = float(fam.deviance(y, fam.link.inverse(Xc @ ref.params)))
    assert dev <= dev_ref
    np.testing.assert_allclose(dev, model.deviance_, rtol=1e-12)
