"""DLSA against independent oracles: statsmodels GLM, closed-form OLS, a direct
coordinate-descent solve of the adaptive-lasso problem, firthmodels."""

import warnings

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm
from conftest import block_chunks

from dask_glmdist import DLSALogisticRegression, DLSARegressor
from dask_glmdist._blocks import Problems
from dask_glmdist.selection import adaptive_lasso_path

SM_FAMILIES = {
    ("binomial", "logit"): sm.families.Binomial(sm.families.links.Logit()),
    ("binomial", "probit"): sm.families.Binomial(sm.families.links.Probit()),
    ("poisson", "log"): sm.families.Poisson(),
    ("gamma", "inverse"): sm.families.Gamma(),
    ("gamma", "log"): sm.families.Gamma(sm.families.links.Log()),
    ("gaussian", "identity"): sm.families.Gaussian(),
    ("inverse_gaussian", "log"): sm.families.InverseGaussian(sm.families.links.Log()),
}


def simulate(family, link, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) @ np.linalg.cholesky(0.3 + 0.7 * np.eye(4)).T
    eta = 0.2 + X @ np.array([0.5, -0.3, 0.0, 0.2])
    if family == "binomial":
        mu = {"logit": 1 / (1 + np.exp(-eta)), "probit": 0.5 * (1 + np.tanh(0.8 * eta))}[link]
        y = (rng.random(n) < mu).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gamma":
        mu = np.exp(0.3 * eta) if link == "log" else 1.0 / (1.5 + 0.3 * np.tanh(eta))
        y = rng.gamma(3.0, mu / 3.0)
    elif family == "inverse_gaussian":
        y = rng.wald(np.exp(0.3 * eta), 4.0)
    else:
        y = eta + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("family,link", list(SM_FAMILIES))
def test_one_partition_is_statsmodels_glm(family, link):
    X, y = simulate(family, link)
    ref = sm.GLM(y, sm.add_constant(X), family=SM_FAMILIES[family, link]).fit(tol=1e-13,
                                                                             maxiter=200)
    model = DLSARegressor(family=family, link=link, n_partitions=1).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-7)
    np.testing.assert_allclose(model.cov_params_, ref.cov_params(), rtol=0, atol=1e-8)
    assert model.converged_


def test_one_partition_classifier_is_statsmodels_logit(hetero_logistic):
    X, y, _ = hetero_logistic
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    clf = DLSALogisticRegression(n_partitions=1).fit(X, y)
    np.testing.assert_allclose(clf.params_, ref.params, atol=1e-8, rtol=0)
    np.testing.assert_allclose(clf.bse_, ref.bse, atol=1e-6, rtol=0)
    table = clf.summary()
    np.testing.assert_allclose(table["z"], ref.tvalues, rtol=1e-6)
    np.testing.assert_allclose(table["p_value"], ref.pvalues, rtol=1e-5, atol=1e-300)
    np.testing.assert_allclose(clf.conf_int().to_numpy(), ref.conf_int(), atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 7, 16])
def test_gaussian_dlsa_is_ols_for_any_partitioning(k, rng):
    n, p = 3000, 6
    X = rng.normal(size=(n, p)) + rng.integers(0, 3, size=(n, 1))  # heterogeneous rows
    y = X @ rng.normal(size=p) + 1.5 + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    ref = sm.WLS(y, sm.add_constant(X), weights=w).fit()
    model = DLSARegressor(n_partitions=k).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-10)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-10)


@pytest.mark.parametrize("data", ["hetero_logistic", "hetero_poisson"])
def test_refinement_reaches_global_mle(data, request):
    X, y, _ = request.getfixturevalue(data)
    family = "binomial" if data == "hetero_logistic" else "poisson"
    sm_family = sm.families.Binomial() if family == "binomial" else sm.families.Poisson()
    ref = sm.GLM(y, sm.add_constant(X), family=sm_family).fit(tol=1e-13)
    Xd = da.from_array(X, chunks=(block_chunks(len(y), 10), -1))
    yd = da.from_array(y, chunks=(Xd.chunks[0],))
    one_shot = DLSARegressor(family=family, refine_steps=0).fit(Xd, yd)
    refined = DLSARegressor(family=family, refine_steps=4).fit(Xd, yd)
    assert np.abs(one_shot.params_ - ref.params).max() > 1e-4  # DLSA alone is not the MLE
    np.testing.assert_allclose(refined.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(refined.bse_, ref.bse, rtol=0, atol=1e-6)
    assert refined.n_iter_ <= 5
    np.testing.assert_allclose(refined.deviance_, ref.deviance, rtol=1e-8)


def test_gamma_dispersion_after_refinement(rng):
    X, y = simulate("gamma", "log", n=6000, seed=5)
    ref = sm.GLM(y, sm.add_constant(X), family=SM_FAMILIES["gamma", "log"]).fit(tol=1e-13)
    model = DLSARegressor(family="gamma", link="log", n_partitions=5, refine_steps=6).fit(X, y)
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-8, rtol=0)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-6)
    np.testing.assert_allclose(model.bse_, ref.bse, atol=1e-6, rtol=0)


def test_binomial_proportions_with_trials(rng):
    n = 3000
    X = rng.normal(size=(n, 3))
    trials = rng.integers(1, 20, size=n)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-(0.3 + X @ [0.8, -0.5, 0.1]))))
    ref = sm.GLM(np.column_stack([succ, trials - succ]), sm.add_constant(X),
                 family=sm.families.Binomial()).fit(tol=1e-13)
    model = DLSARegressor(family="binomial", n_partitions=4, refine_steps=5).fit(
        X, succ / trials, sample_weight=trials)
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-8, rtol=0)
    np.testing.assert_allclose(model.bse_, ref.bse, atol=1e-6, rtol=0)


def test_wlse_is_information_weighted_average_of_local_mles(hetero_logistic):
    """Eq. (2.2) computed by hand from statsmodels' per-block fits."""
    X, y, _ = hetero_logistic
    chunks = block_chunks(len(y), 4)
    edges = np.cumsum((0,) + chunks)
    H, Ht = 0, 0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        r = sm.GLM(y[a:b], sm.add_constant(X[a:b]), family=sm.families.Binomial()).fit(
            tol=1e-13)
        Hk = np.linalg.inv(r.cov_params())
        H, Ht = H + Hk, Ht + Hk @ r.params
    expected = np.linalg.solve(H, Ht)
    model = DLSALogisticRegression(n_partitions=4, refine_steps=0).fit(X, y)
    np.testing.assert_allclose(model.params_, expected, atol=1e-8, rtol=0)
    # (entries ~1e-4: atol for older BLAS/NumPy, which differ by ~4e-12 there)
    np.testing.assert_allclose(model.cov_params_, np.linalg.inv(H), rtol=1e-6, atol=1e-10)


def test_block_order_does_not_matter(hetero_logistic):
    X, y, _ = hetero_logistic
    chunks = block_chunks(len(y), 10)
    edges = np.cumsum((0,) + chunks)
    order = np.random.default_rng(0).permutation(10)
    rows = np.concatenate([np.arange(edges[i], edges[i + 1]) for i in order])
    a = DLSALogisticRegression(n_partitions=10).fit(X, y)
    Xp = da.from_array(X[rows], chunks=(tuple(chunks[i] for i in order), -1))
    yp = da.from_array(y[rows], chunks=(Xp.chunks[0],))
    b = DLSALogisticRegression().fit(Xp, yp)
    np.testing.assert_allclose(a.params_, b.params_, atol=1e-12, rtol=0)
    np.testing.assert_allclose(a.cov_params_, b.cov_params_, atol=1e-14, rtol=1e-10)


def _adaptive_lasso_by_coordinate_descent(theta_t, M, lam, fit_intercept, sweeps=200_000):
    """Direct solve of (t - t~)' M (t - t~) + lam * sum_j |t_j| / |t~_j| (intercept free)."""
    k = len(theta_t)
    pen = np.array([0.0 if (fit_intercept and j == 0) else lam / abs(theta_t[j])
                    for j in range(k)])
    t = theta_t.copy()
    for _ in range(sweeps):
        old = t.copy()
        for j in range(k):
            # minimise M_jj u^2 + 2 u c + pen_j |u + ...| over t_j
            c = M[j] @ (t - theta_t) - M[j, j] * (t[j] - theta_t[j])
            z = theta_t[j] - c / M[j, j]
            t[j] = np.sign(z) * max(abs(z) - pen[j] / (2 * M[j, j]), 0.0)
        if np.max(np.abs(t - old)) < 1e-15:
            break
    return t


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_adaptive_lasso_matches_direct_solve(hetero_logistic, fit_intercept):
    X, y, _ = hetero_logistic
    model = DLSALogisticRegression(n_partitions=10, refine_steps=1, penalty="adaptive_lasso",
                                   fit_intercept=fit_intercept).fit(X, y)
    M = np.linalg.inv(model.wlse_cov_params_)
    theta_t = np.r_[model.wlse_intercept_, model.wlse_coef_] if fit_intercept else \
        model.wlse_coef_
    path = model.selection_path_
    for lam in [model.alpha_, 0.5 * model.alpha_, 0.37 * model.alphas_[1], 3.0]:
        direct = _adaptive_lasso_by_coordinate_descent(theta_t, M, lam, fit_intercept)
        np.testing.assert_allclose(path.coef_at(lam), direct, atol=1e-8, rtol=0)
    # the chosen estimate is the path at alpha_, and the path ends at the WLSE
    np.testing.assert_allclose(model.params_, path.coef_at(model.alpha_), atol=1e-12)
    np.testing.assert_allclose(model.coef_path_[:, -1], model.wlse_coef_, atol=1e-10)


def test_dbic_is_minimised_at_alpha_and_scales_with_log_n():
    theta = np.array([0.5, 1.0, 0.0, -0.7, 0.0])
    M = 1e4 * (0.5 * np.eye(5) + 0.5)
    path = adaptive_lasso_path(theta, M, n_obs=10_000, fit_intercept=True)
    delta = path.coef_path - theta
    quad = np.einsum("ij,jk,ik->i", delta, M, delta)
    np.testing.assert_allclose(path.criterion, quad + np.log(10_000) * path.df, rtol=1e-10)
    assert path.best_index == int(np.argmin(path.criterion))
    aic = adaptive_lasso_path(theta, M, n_obs=10_000, criterion="daic")
    np.testing.assert_allclose(aic.criterion, quad + 2 * path.df, rtol=1e-10)


def test_separated_block_falls_back_to_firth(rng):
    """A block whose classes are separated gets the Firth estimate (firthmodels oracle)."""
    firth = pytest.importorskip("firthmodels")
    n = 400
    X = rng.normal(size=(4 * n, 2))
    y = (rng.random(4 * n) < 1 / (1 + np.exp(-(X @ [1.0, -1.0])))).astype(float)
    y[:n] = (X[:n, 0] > 0).astype(float)  # block 0 completely separated by x0
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[0\].*Jeffreys"):
        model = DLSALogisticRegression(n_partitions=4, tol=1e-10).fit(X, y)
    assert np.all(np.isfinite(model.params_)) and np.all(np.isfinite(model.bse_))
    # the block's contribution is exactly the Firth fit of that block
    ref = firth.FirthLogisticRegression(gtol=1e-10, xtol=1e-10, max_iter=200).fit(X[:n], y[:n])
    from dask_glmdist.families import Binomial
    from dask_glmdist.solvers.dlsa import dlsa_local_block

    s = dlsa_local_block(X[:n], y[:n], None, family=Binomial(), fit_intercept=True, tol=1e-12,
                         max_iter=200, classes=None, block_index=0)
    theta0 = np.linalg.solve(s.information, s.information_theta)
    np.testing.assert_allclose(theta0, np.r_[ref.intercept_, ref.coef_.ravel()], atol=1e-6)
    # refinement still reaches the global MLE (which exists for the pooled data)
    ref_global = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        refined = DLSALogisticRegression(n_partitions=4, refine_steps=8).fit(X, y)
    np.testing.assert_allclose(refined.params_, ref_global.params, atol=1e-8)


def test_constant_column_in_one_block(rng):
    """A dummy absent from block 0 makes that block's information singular; Gaussian DLSA
    is still exactly OLS, and a refined logistic fit is still the global MLE."""
    n = 2000
    X = rng.normal(size=(n, 3))
    X[:, 2] = (rng.random(n) < 0.3).astype(float)
    X[:500, 2] = 0.0
    y = 1.0 + X @ [1.0, -1.0, 2.0] + rng.normal(size=n)
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[0\]: columns \[x2\] are constant"):
        model = DLSARegressor(n_partitions=4).fit(X, y)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-10, rtol=0)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-9)
    yb = (rng.random(n) < 1 / (1 + np.exp(-(X @ [1.0, -1.0, 1.0])))).astype(float)
    ref_b = sm.GLM(yb, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[0\]"):
        clf = DLSALogisticRegression(n_partitions=4, refine_steps=6).fit(X, yb)
    np.testing.assert_allclose(clf.params_, ref_b.params, atol=1e-8, rtol=0)


def test_wald_test_matches_statsmodels(hetero_logistic):
    X, y, _ = hetero_logistic
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    clf = DLSALogisticRegression(n_partitions=1).fit(X, y)
    R = np.zeros((2, 9))
    R[0, 2] = R[1, 3] = 1.0
    mine = clf.wald_test(R)
    theirs = ref.wald_test(R, scalar=True, use_f=False)
    np.testing.assert_allclose(mine["statistic"], theirs.statistic, rtol=1e-6)
    np.testing.assert_allclose(mine["p_value"], theirs.pvalue, rtol=1e-5)


def test_refinement_halves_a_step_that_leaves_the_range(hetero_logistic, monkeypatch):
    """A refinement round reporting means out of range makes the master halve that step
    (one more round) rather than fail; the fit still reaches the global MLE."""
    import dask_glmdist.solvers.dlsa as dlsa

    X, y, _ = hetero_logistic
    seen, real = [], dlsa.glm_score_block

    def flaky(X, y, m, theta, *args, block_index, **settings):
        key = tuple(np.round(theta, 12))
        if key not in seen:
            seen.append(key)
        if len(seen) > 1 and key == seen[1]:  # the first full step: "invalid"
            return dlsa.ScoreSums(n=X.shape[0], problems=Problems({"invalid_mean": 1}))
        return real(X, y, m, theta, *args, block_index=block_index, **settings)

    monkeypatch.setattr(dlsa, "glm_score_block", flaky)
    model = DLSALogisticRegression(n_partitions=10, refine_steps=8).fit(X, y)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-8, rtol=0)
    assert model.n_iter_ == 1 + len(model.refine_step_sizes_)
    # passes: local fits, refinements, one halving round, the fit-statistics pass
    assert model.n_rounds_ == 1 + len(model.refine_step_sizes_) + 1 + 1


@pytest.mark.parametrize("family", ["gaussian", "gamma"])
@pytest.mark.parametrize("refine_steps", [0, 3])
def test_rows_of_zero_weight_do_not_count_in_the_dispersion(family, refine_steps):
    """Before: N - p counted the rows of zero weight (R: df.residual = #{w > 0} - p):
    with every 4th row at weight 0 the standard errors were 0.866 x statsmodels'."""
    rng = np.random.default_rng(7)
    n = 4000
    X = rng.normal(size=(n, 3))
    eta = X @ [0.5, -0.4, 0.2]
    if family == "gaussian":
        y, link, sm_family = -0.3 + eta + rng.normal(size=n), None, sm.families.Gaussian()
    else:
        y = rng.gamma(2.0, np.exp(0.3 + 0.3 * eta) / 2.0)
        link, sm_family = "log", SM_FAMILIES["gamma", "log"]
    w = np.where(np.arange(n) % 4 == 0, 0.0, 1.0 + (np.arange(n) % 3))
    keep = w > 0
    ref = sm.GLM(y[keep], sm.add_constant(X[keep]), family=sm_family,
                 var_weights=w[keep]).fit(tol=1e-13)
    model = DLSARegressor(family=family, link=link, n_partitions=1,
                          refine_steps=refine_steps).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.dispersion_, ref.scale, rtol=1e-7)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-7)
    assert model.n_obs_ == int(keep.sum())  # R's nobs: rows with non-zero weight
    assert model.df_resid_ == ref.df_resid
