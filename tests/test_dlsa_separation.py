"""Estimates that do not exist, and combinations that cannot be trusted, are said so.

Oracles: firthmodels.detect_separation (Konis's linear program) says which parameters
are infinite; statsmodels on the rows that the infinite parameters do not fit
perfectly gives the maximum likelihood estimate of the others."""

import warnings

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import (
    BiasReducedGLM,
    DLSALogisticRegression,
    DLSARegressor,
    SeparationWarning,
)
from dask_glmdist.families import Binomial
from dask_glmdist.solvers.local import fit_local

firthmodels = pytest.importorskip("firthmodels")  # the oracle; Python >= 3.11
FirthLogisticRegression = firthmodels.FirthLogisticRegression
detect_separation = firthmodels.detect_separation


def glm(y, X):
    return sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)


def fit_recording(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    return model, caught


def messages(caught, category):
    return [str(w.message) for w in caught if issubclass(w.category, category)]


@pytest.fixture(scope="module")
def empty_level():
    """Carriers A-E (A the reference), E never cancels: its coefficient's MLE is -inf."""
    rng = np.random.default_rng(7)
    n = 3000
    carrier = rng.choice(5, size=n, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    x = rng.normal(size=n)
    eta = -1.5 + np.array([0.0, 0.4, -0.3, 0.6, -2.0])[carrier] + 0.5 * x
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    y[carrier == 4] = 0.0
    X = np.column_stack([(carrier == k).astype(float) for k in range(1, 5)] + [x])
    return X, y


def test_category_without_events_is_infinite(empty_level):
    X, y = empty_level
    oracle = detect_separation(X, y)
    assert list(oracle.directions) == [0, 0, 0, -1, 0, 0]  # x3 (carrier E) -inf
    for steps in (0, 1):
        model, caught = fit_recording(DLSALogisticRegression(n_partitions=4,
                                                             refine_steps=steps), X, y)
        table = model.summary()
        assert table.loc["x3", "coef"] == -np.inf
        assert table.loc["x3", ["std_err", "z", "p_value", "ci_lower", "ci_upper"]].isna().all()
        assert table.drop(index="x3")["std_err"].notna().all()
        # the one rule: a flagged parameter has no standard error in bse_/cov_params_
        assert np.isnan(model.bse_[4]) and np.isnan(model.cov_params_[4]).all()
        assert np.isfinite(np.delete(model.bse_, 4)).all()
        assert model.param_flags_["x3"].kind == "infinite" and model.param_flags_["x3"].sign == -1
        sep = messages(caught, SeparationWarning)
        assert len(sep) == 1 and "[x3 (-inf)]" in sep[0]
        assert 'BiasReducedGLM(method="mBR")' in sep[0]
        assert np.isfinite(model.coef_).all()  # predictions still work
    # the refinement leaves carrier E's rows out: the others reach their MLE
    keep = X[:, 3] == 0
    ref = glm(y[keep], np.delete(X[keep], 3, axis=1))
    model = DLSALogisticRegression(n_partitions=4, refine_steps=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, y)
    np.testing.assert_allclose(np.delete(model.params_, 4), ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.delete(model.bse_, 4), ref.bse, rtol=1e-6)
    assert model.refine_step_sizes_[-1] < 1e-7


@pytest.mark.parametrize("n_partitions", [1, 4])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_one_row_dummy(n_partitions, label):
    """A column that is 1 on one row (a carrier with one flight) is separated: flagged,
    finite coefficients, no crash; the others reach the MLE without that row."""
    rng = np.random.default_rng(3)
    n = 800
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [1.0, -0.5, 0.3])))).astype(float)
    dummy = np.zeros(n)
    dummy[517] = 1.0
    y[517] = label
    X = np.column_stack([X, dummy])
    sign = 1 if label else -1
    assert detect_separation(X, y).directions[3] == sign
    model, caught = fit_recording(
        DLSALogisticRegression(n_partitions=n_partitions, refine_steps=20), X, y)
    assert np.isfinite(model.params_).all()
    assert model.param_flags_["x3"].kind == "infinite" and model.param_flags_["x3"].sign == sign
    assert model.summary().loc["x3", "coef"] == sign * np.inf
    assert len(messages(caught, SeparationWarning)) == 1
    # before: the Firth fit of the dummy's block ran to max_iter, a false warning
    assert not messages(caught, ConvergenceWarning) and model.converged_
    keep = np.arange(n) != 517
    ref = glm(y[keep], X[keep, :3])
    np.testing.assert_allclose(model.params_[:4], ref.params, rtol=0, atol=1e-8)


def test_all_zero_response():
    """y all 0: the intercept's MLE is -inf and nothing else is estimable."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 3))
    y = np.zeros(2000)  # (firthmodels refuses one class; -e_intercept is a recession direction)
    for steps in (0, 2):
        model, caught = fit_recording(
            DLSARegressor(family="binomial", n_partitions=2, refine_steps=steps), X, y)
        table = model.summary()
        assert table.loc["intercept", "coef"] == -np.inf
        assert table["std_err"].isna().all() and table["p_value"].isna().all()
        assert model.param_flags_["intercept"].kind == "infinite"
        assert {f.kind for n, f in model.param_flags_.items() if n != "intercept"} == {
            "unidentified"}
        assert len(messages(caught, SeparationWarning)) == 1
        assert model.n_iter_ == 1  # nothing to refine


@pytest.fixture(scope="module")
def rare_event():
    """One positive in 100,000 rows, 10 blocks: nine blocks have no event at all."""
    rng = np.random.default_rng(11)
    n = 100_000
    X = rng.normal(size=(n, 3))
    y = np.zeros(n)
    y[34_567] = 1.0
    return X, y, glm(y, X)


def test_rare_event_one_round_is_not_trusted(rare_event):
    """Before: intercept -7.85 +- 0.24 (MLE -13.0 +- 1.99), only the Firth-blocks warning;
    refine_steps=2 gave -9.78 +- 0.28 with its last step 0.95 and no warning. The Firth
    fits of the event-free blocks carry almost all of the information."""
    X, y, ref = rare_event
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=10, refine_steps=0), X, y)
    assert abs(model.params_[0] - ref.params[0]) > 2 * ref.bse[0]  # far from the MLE...
    assert model.summary()["std_err"].isna().all()   # its (tiny) se is not shown...
    assert np.isnan(model.bse_).all() and np.isnan(model.cov_params_).all()  # ...nor kept
    assert all(f.kind == "unreliable" for f in model.param_flags_.values())
    (msg,) = messages(caught, UserWarning)[-1:]
    assert "cannot be trusted for [intercept (9" in msg and "refine_steps=20" in msg


def test_unconverged_refinement_warns_with_the_step_in_standard_errors(rare_event):
    X, y, ref = rare_event
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=10, refine_steps=2), X, y)
    (msg,) = [m for m in messages(caught, ConvergenceWarning) if "refinement" in m]
    last = model.refine_step_se_[-1]
    assert last > 1 and f"{last:.2f} standard errors" in msg and "refine_steps=2" in msg
    assert not model.converged_
    assert model.summary()["std_err"].isna().all()
    # run to convergence: the global MLE, trusted again
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=10, refine_steps=40), X, y)
    assert not [m for m in messages(caught, ConvergenceWarning) if "refinement" in m]
    assert not model.param_flags_ and model.refine_step_sizes_[-1] < 1e-7
    # converged_ then says whether the local fits did (the Firth fits of the event-free
    # blocks converge slowly: their ConvergenceWarning)
    local_ok = not (model.block_diagnostics_.problem == "not_converged").any()
    assert model.converged_ == local_ok
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.bse_, ref.bse, rtol=1e-5)


def test_poisson_group_without_counts_is_infinite():
    """A Poisson group whose counts are all 0: its log-rate is -inf; the others reach the
    statsmodels fit without that group's rows."""
    rng = np.random.default_rng(9)
    n = 4000
    group = (rng.random(n) < 0.03).astype(float)
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(0.5 + 0.3 * x)).astype(float)
    y[group == 1] = 0.0
    X = np.column_stack([x, group])
    model, caught = fit_recording(DLSARegressor(family="poisson", n_partitions=4,
                                                refine_steps=20), X, y)
    assert model.param_flags_["x1"].kind == "infinite" and model.param_flags_["x1"].sign == -1
    assert len(messages(caught, SeparationWarning)) == 1
    keep = group == 0
    ref = sm.GLM(y[keep], sm.add_constant(x[keep]), family=sm.families.Poisson()).fit(
        tol=1e-13)
    np.testing.assert_allclose(model.params_[:2], ref.params, rtol=0, atol=1e-8)


def test_one_row_dummy_among_rare_events():
    """The one-row dummy sits in a block with one event: its Firth local fit used to run
    the dummy's coefficient to +4e4 (the pseudo-determinant dropped the row's vanishing
    information), and the fit then failed with 'parameters ['x3'] are not identified'.
    Then: 301 iterations, not converged, 1e-5 from firthmodels. Now the one-row row's
    curvature is in the step; the rare event keeps the convergence linear (firthmodels
    too needs ~50 iterations here)."""
    rng = np.random.default_rng(0)
    n = 20_000
    X = np.column_stack([rng.normal(size=(n, 3)), (np.arange(n) == 7).astype(float)])
    y = np.zeros(n)
    y[[5, 15_000]] = 1.0
    Xb, yb = X[:10_000], y[:10_000]
    local = fit_local(Xb, yb, None, Binomial(), jeffreys_power=0.5, tol=1e-12, max_iter=300)
    assert local.converged and local.n_iter <= 80
    assert np.max(np.abs(firth_score(Xb, yb, local.theta))) < 1e-9
    # (firthmodels stops with its own penalised score at 8e-9 here)
    np.testing.assert_allclose(local.theta, firth(Xb, yb), rtol=0, atol=2e-8)
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=2), X, y)
    assert model.param_flags_["x3"].kind == "infinite" and np.isfinite(model.params_).all()
    # (the one refinement round has not converged on the rare event: that warning stays)
    assert not [m for m in messages(caught, ConvergenceWarning) if "Local fits" in m]


def firth_score(X, y, theta):
    """Firth's penalised logistic score X~^T (y - mu + h (1/2 - mu)), in closed form."""
    Xt = np.column_stack([np.ones(len(y)), X])
    mu = 1 / (1 + np.exp(-Xt @ theta))
    w = mu * (1 - mu)
    h = w * np.einsum("ij,jk,ik->i", Xt, np.linalg.inv(Xt.T @ (w[:, None] * Xt)), Xt)
    return Xt.T @ (y - mu + h * (0.5 - mu))


def firth(X, y):
    ref = FirthLogisticRegression(gtol=1e-12, xtol=1e-12, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    return np.r_[ref.intercept_, ref.coef_.ravel()]


@pytest.fixture(scope="module")
def one_row_level():
    """A level seen on one row (a carrier with one flight) among 4,000 ordinary rows."""
    rng = np.random.default_rng(1)
    n = 4000
    X = np.column_stack([rng.normal(size=(n, 5)), (np.arange(n) == 1234).astype(float)])
    eta = -0.5 + X[:, :3] @ [0.7, -0.3, 0.2]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    y[1234] = 0.0
    return X, y


def test_firth_local_fit_of_a_one_row_level_converges(one_row_level):
    """Before: the Jeffreys-penalised local fit circled the dummy's root between two
    points 7e-5 apart, ran to max_iter (101 iterations) and stopped 5e-4 from
    firthmodels; its step now carries the row's missing curvature (the high-leverage
    correction BiasReducedGLM uses)."""
    X, y = one_row_level
    b = slice(1000, 2000)
    local = fit_local(X[b], y[b], None, Binomial(), jeffreys_power=0.5, tol=1e-10)
    assert local.converged and local.n_iter <= 10
    np.testing.assert_allclose(local.theta, firth(X[b], y[b]), rtol=0, atol=1e-8)
    br = BiasReducedGLM(family="binomial", method="mJPL", tol=1e-12, n_partitions=1)
    br.fit(X[b], y[b])
    np.testing.assert_allclose(local.theta, br.params_, rtol=0, atol=1e-8)


def test_one_row_level_gives_no_false_convergence_warning(one_row_level):
    """Before: 'Local fits of row block(s) [1] did not converge in max_iter=100
    iterations' on every fit with a one-row level (and with max_iter=1000 too)."""
    X, y = one_row_level
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=4), X, y)
    assert not messages(caught, ConvergenceWarning)
    assert model.converged_ and model.local_n_iter_.max() <= 12
    assert model.param_flags_["x5"].kind == "infinite" and model.param_flags_["x5"].sign == -1


@pytest.fixture(scope="module")
def two_column_separation():
    """y = 1{x0 + x1 > 0}: complete separation along a combination of two columns, which
    no single column's counts show."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(float)


@pytest.mark.parametrize("refine_steps", [0, 1, 5])
def test_separation_along_a_combination_of_columns(two_column_separation, refine_steps):
    """Before: only the Firth-blocks UserWarning (and a refinement ConvergenceWarning),
    x0/x1 flagged 'unidentified' and the others 'unreliable'; never that the MLE does not
    exist. The blocks' diverging directions agree (refine_steps 0, 1), the refinement's
    steps do not shrink (5): one probe pass confirms the direction of recession."""
    X, y = two_column_separation
    assert detect_separation(X, y).separation  # Konis's linear program
    model, caught = fit_recording(
        DLSALogisticRegression(n_partitions=4, refine_steps=refine_steps), X, y)
    (sep,) = messages(caught, SeparationWarning)
    assert "along a combination of columns, [x0 (+inf), x1 (+inf)]" in sep
    assert "do not fix the sign of [intercept, x2, x3]" in sep
    assert not messages(caught, ConvergenceWarning)
    assert not [m for m in messages(caught, UserWarning) if "cannot be trusted" in m]
    flags = {name: (f.kind, f.sign) for name, f in model.param_flags_.items()}
    assert flags == {"x0": ("infinite", 1), "x1": ("infinite", 1),
                     "intercept": ("unidentified", 0), "x2": ("unidentified", 0),
                     "x3": ("unidentified", 0)}
    table = model.summary()
    assert table.loc[["x0", "x1"], "coef"].tolist() == [np.inf, np.inf]
    assert table["std_err"].isna().all() and np.isnan(model.bse_).all()
    assert not model.converged_
    assert model.n_rounds_ == 1 + refine_steps + 1 + 1  # the probe, the statistics pass


def _nearly_separated(gap):
    """x0 separates the classes but for four rows, one per block, each of which another
    column separates within its block (every block is separated, the data are not)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    X[:, 0] = np.sign(X[:, 0]) * (0.5 + np.abs(X[:, 0]))
    y = (X[:, 0] > 0).astype(float)
    for k, (x0, x2, label) in enumerate([(-gap, 4, 1), (-gap, -4, 1), (gap, 4, 0),
                                         (gap, -4, 0)]):
        X[100 * k + 3] = [x0, 0.0, x2, 0.0]
        y[100 * k + 3] = label
    return X, y


@pytest.mark.parametrize("gap", [0.3, 0.05])
def test_nearly_separated_data_are_not_called_separated(gap):
    """Every block's local MLE is infinite and their directions agree, but the global MLE
    is finite (x0 = 6.5 and 9.7). A probe that only compared the deviance 1 and 10 units
    out with the one-round estimate's called the second one separated; the deviance must
    not rise at 100 units either."""
    X, y = _nearly_separated(gap)
    assert not detect_separation(X, y).separation
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=4, refine_steps=0), X, y)
    assert model.n_rounds_ == 3  # the probe ran (and the fit-statistics pass)...
    assert not messages(caught, SeparationWarning)  # ...and found no recession
    assert not any(f.kind == "infinite" for f in model.param_flags_.values())
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=4, refine_steps=30),
                                  X, y)
    assert not messages(caught, SeparationWarning) and not model.param_flags_
    ref = glm(y, X)
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-7)


def test_small_block_whose_local_mle_does_not_exist_is_reported_so():
    """Before: an 8-row Poisson block (6 parameters, full rank, 2 non-zero counts) was
    reported as 'columns are collinear ... rank 3 < 6': its ML fit had let six means run
    to 0, the information lost rank, and the steps solved on what was left looked
    converged. Oracle: a linear program finds the direction of recession."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(14)
    rng.binomial(1, 0.5, size=rng.normal(size=(2008, 5)).shape[0])  # (the sweep's stream)
    X = rng.normal(size=(2008, 5))[:1508]
    y = rng.poisson(np.exp(-0.3 + X @ [0.5, -0.4, 0.2, 0.0, 0.1])).astype(float)
    Xb = np.column_stack([np.ones(8), X[1000:1008]])
    yb = y[1000:1008]
    assert np.linalg.matrix_rank(Xb) == 6 and (yb > 0).sum() == 2
    zero = yb == 0  # minimise sum x_i u over the zero counts, x_i u = 0 on the others
    lp = linprog(Xb[zero].sum(axis=0), A_ub=Xb[zero], b_ub=np.zeros(zero.sum()),
                 A_eq=Xb[~zero], b_eq=np.zeros(2), bounds=[(-1, 1)] * 6)
    assert lp.status == 0 and lp.fun < -1e-3  # a recession direction: no local MLE
    chunks = ((500, 500, 8, 500),)
    model, caught = fit_recording(
        DLSARegressor(family="poisson"),
        da.from_array(X, chunks=chunks + ((5,),)), da.from_array(y, chunks=chunks))
    diag = model.block_diagnostics_
    assert diag.query("block == 2")["problem"].tolist() == ["separated"]
    assert not [m for m in messages(caught, UserWarning) if "collinear" in m]
    (msg,) = [m for m in messages(caught, UserWarning) if m.startswith("Row block(s) [2]")]
    assert "local maximum likelihood estimate does not exist" in msg


def _adaptive_lasso_direct(theta_t, M, lam, free, sweeps=100_000):
    """Coordinate descent on (t - t~)' M (t - t~) + lam sum_j |t_j| / |t~_j|, the
    parameters with ``free[j]`` unpenalised."""
    t = theta_t.copy()
    pen = np.where(free, 0.0, lam / np.abs(theta_t))
    for _ in range(sweeps):
        old = t.copy()
        for j in range(len(t)):
            c = M[j] @ (t - theta_t) - M[j, j] * (t[j] - theta_t[j])
            z = theta_t[j] - c / M[j, j]
            t[j] = np.sign(z) * max(abs(z) - pen[j] / (2 * M[j, j]), 0.0)
        if np.max(np.abs(t - old)) < 1e-15:
            break
    return t


@pytest.mark.parametrize("refine_steps", [0, 1])
def test_adaptive_lasso_leaves_infinite_parameters_alone(empty_level, refine_steps):
    """Before: the adaptive lasso shrank carrier E's coefficient (MLE -inf) to 0, so
    coef_ and predictions used 0 while summary() showed -inf. The infinite parameter is
    now profiled out of the path like the intercept, not shrunk."""
    X, y = empty_level
    plain, _ = fit_recording(DLSALogisticRegression(n_partitions=4,
                                                    refine_steps=refine_steps), X, y)
    model, caught = fit_recording(DLSALogisticRegression(
        n_partitions=4, refine_steps=refine_steps, penalty="adaptive_lasso"), X, y)
    assert len(messages(caught, SeparationWarning)) == 1
    assert model.param_flags_["x3"].kind == "infinite"
    assert model.summary().loc["x3", "coef"] == -np.inf
    assert np.all(model.coef_path_[3] < 0)  # never shrunk to 0 (it was at the path's start)
    np.testing.assert_allclose(model.wlse_coef_, plain.coef_[0], rtol=0, atol=1e-12)
    path = model.selection_path_
    free = np.isin(np.arange(6), [0, 4])  # the intercept and x3 are not penalised
    for lam in [model.alpha_, 0.3 * path.alphas[1], 5.0]:
        direct = _adaptive_lasso_direct(path.theta_tilde, path.information, lam, free)
        np.testing.assert_allclose(path.coef_at(lam), direct, rtol=0, atol=1e-7)
    if refine_steps:  # refined, x3 is apart from the rest: it keeps the unpenalised value
        np.testing.assert_allclose(model.coef_[0, 3], plain.coef_[0, 3], rtol=0, atol=1e-12)


def test_a_sign_is_given_only_where_the_data_determine_it():
    """Every y = 0 with a dummy d: the intercept alone fits every row (its rows without d
    are its own): -inf. d's rows are all fitted by the intercept as well, so d could run
    off either way (-2 + 1 * d still lowers every row): before, DLSA called it -inf.
    A positive column instead: neither sign is determined (before: a crash,
    'zero-size array to reduction operation minimum')."""
    rng = np.random.default_rng(6)
    n = 3000
    x, d, y = rng.normal(size=n), (rng.random(n) < 0.3).astype(float), np.zeros(n)
    for family in ("binomial", "poisson"):
        model, caught = fit_recording(DLSARegressor(family, n_partitions=3), np.c_[x, d], y)
        assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
            "intercept": ("infinite", -1), "x0": ("unidentified", 0),
            "x1": ("unidentified", 0)}
        (msg,) = messages(caught, SeparationWarning)
        assert "[intercept (-inf)]" in msg and "[x1] could run off either way" in msg
        model, caught = fit_recording(DLSARegressor(family, n_partitions=3),
                                      1.0 + rng.random((n, 1)), y)
        assert {f.kind for f in model.param_flags_.values()} == {"unidentified"}
        assert model.summary()["std_err"].isna().all()
        (msg,) = messages(caught, SeparationWarning)
        assert "[intercept, x0] could run off either way" in msg


@pytest.mark.parametrize("refine_steps", [0, 20])
def test_a_level_nested_in_a_level_without_events(refine_steps):
    """Two dummies without events, A's rows inside B's: B runs off to -inf (its rows
    outside A are its own); A's rows are fitted by B as well, so its sign is not
    determined (before: both -inf). The others reach the fit without B's rows."""
    rng = np.random.default_rng(7)
    n = 4000
    x = rng.normal(size=n)
    B = (rng.random(n) < 0.1).astype(float)
    A = B * (rng.random(n) < 0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(float)
    y[B == 1] = 0.0
    X = np.c_[x, A, B]
    assert list(detect_separation(X, y).directions[2:]) != [0, 0]  # both separated
    model, caught = fit_recording(
        DLSALogisticRegression(n_partitions=4, refine_steps=refine_steps), X, y)
    assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
        "x1": ("unidentified", 0), "x2": ("infinite", -1)}
    (msg,) = messages(caught, SeparationWarning)
    assert "[x2 (-inf)]" in msg and "[x1] could run off either way" in msg
    if refine_steps:
        keep = B == 0
        ref = glm(y[keep], x[keep])
        np.testing.assert_allclose(model.params_[:2], ref.params, rtol=0, atol=1e-8)
