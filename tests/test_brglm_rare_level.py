"""A level seen on one row only (a dummy that is 1 on exactly one row).

That row alone determines the dummy's coefficient: its hat value is exactly 1, and the
derivative of the mBR/mJPL adjustment in that direction is as large as the information
(logit), so the plain quasi-Fisher step overshoots the root by its own length. The
fits must converge all the same:

* logit: mBR = mJPL (the same estimator for a canonical link) = firthmodels, and the
  closed form for the row (``h = 1``: ``y - mu + (1/2 - mu) = 0``, ``mu = (y + 1/2) / 2``),
  with one block and with several;
* other links and families: converged, finite, and a zero adjusted score computed in
  memory with the full hat matrix (mBR) or a zero finite-difference gradient of the
  penalised log-likelihood (mJPL); one pass per iteration gives the same estimate;
* where no adjusted estimate exists inside the range, an error names the column;
* ML: the coefficient is infinite, and the SeparationWarning names it.
"""

import warnings

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm

from dask_glmdist import BiasReducedGLM, SeparationWarning

ROW = 11  # the one row of the rare level
SML = sm.families.links
SM = {"probit": (sm.families.Binomial, SML.Probit), "cloglog": (sm.families.Binomial,
      SML.CLogLog), "cauchit": (sm.families.Binomial, SML.Cauchy),
      "sqrt": (sm.families.Poisson, SML.Sqrt), "identity": (sm.families.Poisson, SML.Identity),
      "log": (sm.families.Gamma, SML.Log), "inverse": (sm.families.Gamma, SML.InversePower)}


def _one_row_data(rng, family="binomial", link="logit", n=800, y_row=1.0):
    """x0 continuous, x1 a common dummy, x2 a dummy that is 1 on row ROW only."""
    X = np.column_stack([rng.normal(size=n), (rng.random(n) < 0.3).astype(float),
                         np.zeros(n)])
    X[ROW, 2] = 1.0
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-(-0.8 + 0.5 * X[:, 0] + 0.4 * X[:, 1])))
             ).astype(float)
    elif family == "poisson":
        y = rng.poisson(2.0 + 0.3 * X[:, 0] ** 2 + 0.5 * X[:, 1]).astype(float)
    else:
        y = rng.gamma(4.0, np.exp(0.3 + 0.1 * X[:, 0] + 0.2 * X[:, 1]) / 4.0)
    y[ROW] = y_row
    return X, y


def _blocked(X, y):
    chunks = (300, 5, 1, 200, 294)  # the rare row in the first of several blocks
    return da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=(chunks,))


@pytest.mark.parametrize("y_row", [1.0, 0.0])
def test_logit_mbr_equals_mjpl_and_firthmodels(y_row, rng):
    firthmodels = pytest.importorskip("firthmodels")

    X, y = _one_row_data(rng, y_row=y_row)
    ref = firthmodels.FirthLogisticRegression(gtol=1e-10, xtol=1e-10, max_iter=500).fit(X, y)
    ref_params = np.r_[ref.intercept_, ref.coef_.ravel()]
    fits = {}
    for method in ("mBR", "mJPL"):
        for where in ("one block", "several blocks"):
            data = (X, y) if where == "one block" else _blocked(X, y)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                fit = BiasReducedGLM(method=method, tol=1e-12, n_partitions=1).fit(*data)
            assert fit.converged_ and fit.n_blocks_ == (1 if where == "one block" else 5)
            fits[method, where] = fit
    base = fits["mBR", "one block"].params_
    for fit in fits.values():
        np.testing.assert_allclose(fit.params_, base, rtol=0, atol=1e-10)
    np.testing.assert_allclose(base, ref_params, rtol=0, atol=1e-6)
    # the row's own equation (hat value 1): its fitted probability is (y + 1/2) / 2
    eta = base[0] + X[ROW] @ base[1:]
    np.testing.assert_allclose(1 / (1 + np.exp(-eta)), (y_row + 0.5) / 2, rtol=1e-10)


def _adjusted_score(family, link, X1, y, beta, phi):
    """X^T (y - mu) d / V / phi + X^T (h d' / (2 d)), full hat matrix, statsmodels' links."""
    fam_cls, link_cls = SM[link]
    lk = link_cls()
    fam = fam_cls(lk)
    eta = X1 @ beta
    mu, d, d2 = lk.inverse(eta), lk.inverse_deriv(eta), lk.inverse_deriv2(eta)
    w = d**2 / fam.variance(mu)
    Wh = np.sqrt(w)[:, None] * X1
    h = np.diag(Wh @ np.linalg.solve(X1.T @ (w[:, None] * X1), Wh.T))
    return X1.T @ ((y - mu) * d / fam.variance(mu)) / phi + X1.T @ (h * d2 / (2 * d))


def _penalised_gradient(family, link, X1, y, beta, phi, h=1e-6):
    fam_cls, link_cls = SM[link]
    lk = link_cls()
    fam = fam_cls(lk)

    def penalised(b):
        eta = X1 @ b
        mu, d = lk.inverse(eta), lk.inverse_deriv(eta)
        w = d**2 / fam.variance(mu)
        return fam.loglike(y, mu, scale=phi) + 0.5 * np.linalg.slogdet(
            X1.T @ (w[:, None] * X1))[1]

    return np.array([(penalised(beta + h * e) - penalised(beta - h * e)) / (2 * h)
                     for e in np.eye(len(beta))])


@pytest.mark.parametrize(("family", "link", "y_row"), [
    ("binomial", "probit", 1.0), ("binomial", "probit", 0.0), ("binomial", "cloglog", 1.0),
    ("binomial", "cloglog", 0.0), ("binomial", "cauchit", 1.0), ("poisson", "sqrt", 3.0),
    ("poisson", "identity", 3.0), ("gamma", "log", 0.5), ("gamma", "inverse", 0.5),
])
@pytest.mark.parametrize("method", ["mBR", "mJPL"])
def test_other_links_converge_to_the_adjusted_estimate(family, link, y_row, method, rng):
    X, y = _one_row_data(rng, family, link, y_row=y_row)
    X1 = sm.add_constant(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = BiasReducedGLM(family, link, method=method, tol=1e-12, n_partitions=3).fit(X, y)
        one = BiasReducedGLM(family, link, method=method, passes=1, tol=1e-12).fit(*_blocked(
            X, y))
    assert two.converged_ and one.converged_ and two.n_iter_ <= 30 and one.n_iter_ <= 40
    assert np.all(np.isfinite(two.params_)) and np.all(np.isfinite(two.bse_))
    np.testing.assert_allclose(one.params_, two.params_, rtol=0, atol=1e-8)
    scale = np.abs(X1).sum(axis=0)  # score entries are sums over rows
    if method == "mBR":
        score = _adjusted_score(family, link, X1, y, two.params_, two.dispersion_)
        assert np.max(np.abs(score) / scale) < 1e-10
    else:
        grad = _penalised_gradient(family, link, X1, y, two.params_, two.dispersion_)
        assert np.max(np.abs(grad) / scale) < 1e-7


def test_no_adjusted_estimate_inside_the_range_names_the_column(rng):
    """Poisson, identity link, a zero count on the rare row: the Jeffreys penalty grows
    without bound as that row's mean goes to 0, the edge of the range."""
    X, y = _one_row_data(rng, "poisson", "identity", y_row=0.0)
    # where the iteration stops depends on rounding (how the row blocks are grouped);
    # the column without an estimate inside the range is named in any case
    with pytest.raises(ValueError, match=r"mJPL estimate lies on the edge of the range, "
                                         r"along parameters \[(intercept, )?x2\]"):
        BiasReducedGLM("poisson", "identity", method="mJPL").fit(X, y)


@pytest.mark.parametrize("method", ["mBR", "ML"])
def test_estimate_on_the_edge_is_refused_for_every_blocking(method, rng):
    """The same data under ML and mBR (for the identity link mBR's adjustment is 0):
    the estimate puts the rare row's mean exactly on 0, the edge, where it has no
    standard errors. It gave x2 = -1.79 with se 0.022 and p = 0 (mean 4e-16, no warning)
    with 2 partitions and an error not naming the column with 1, 4 or 8 (statsmodels:
    'NaN, inf or invalid value detected in weights'). Now the same error, naming x2, for
    every blocking."""
    X, y = _one_row_data(rng, "poisson", "identity", y_row=0.0)
    y = y + 1.0  # every other count positive: only the rare row is on the edge
    y[ROW] = 0.0
    message = (rf"The {method} estimate lies on the edge of the poisson family's range: the "
               r"fitted means of 1 row\(s\) \(row blocks \[\d\]\).* identity link.*"
               r"Those rows alone determine \[x2\]")
    for k in (1, 2, 4, 8):
        with pytest.raises(ValueError, match=message):
            BiasReducedGLM("poisson", "identity", method=method, n_partitions=k).fit(X, y)
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM("poisson", "identity", method=method).fit(*_blocked(X, y))


@pytest.mark.parametrize("y_row", [1.0, 0.0])
def test_ml_says_the_rare_level_coefficient_is_infinite(y_row, rng):
    X, y = _one_row_data(rng, y_row=y_row)
    sign_text = r"\+" if y_row == 1 else "-"
    with pytest.warns(SeparationWarning,
                      match=rf"parameters \[x2 \({sign_text}inf\)\] are infinite"):
        ml = BiasReducedGLM(method="ML", n_partitions=2).fit(X, y)
    sign = 1 if y_row == 1 else -1
    assert ml.separation_detected_ and not ml.converged_ and sign * ml.coef_[2] > 10
    assert list(ml.param_flags_) == ["x2"] and ml.param_flags_["x2"].sign == sign
    table = ml.summary()
    assert table.loc["x2", "coef"] == sign * np.inf
    assert table.loc["x2", ["std_err", "p_value", "ci_lower"]].isna().all()
    assert table.drop(index="x2").notna().all().all()
    mbr = BiasReducedGLM(n_partitions=2).fit(X, y)
    assert mbr.param_flags_ == {} and mbr.summary().notna().all().all()
