"""Estimates that do not exist, and combinations that cannot be trusted, are said so.

Oracles: firthmodels.detect_separation (Konis's linear program) says which parameters
are infinite; statsmodels on the rows that the infinite parameters do not fit
perfectly gives the maximum likelihood estimate of the others."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from firthmodels import FirthLogisticRegression, detect_separation
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import (
    BiasReducedGLM,
    DLSALogisticRegression,
    DLSARegressor,
    SeparationWarning,
)
from dask_glmdist.families import Binomial
from dask_glmdist.solvers.local import fit_local


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
    assert model.bse_[0] < 0.2 * ref.bse[0]                        # ...with a tiny se
    assert model.summary()["std_err"].isna().all()                 # so none is shown
    assert all(f.kind == "unreliable" for f in model.param_flags_.values())
    (msg,) = messages(caught, UserWarning)[-1:]
    assert "cannot be trusted for [intercept (9" in msg and "refine_steps=20" in msg


def test_unconverged_refinement_warns_with_the_step_in_standard_errors(rare_event):
    X, y, ref = rare_event
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=10, refine_steps=2), X, y)
    (msg,) = [m for m in messages(caught, ConvergenceWarning) if "refinement" in m]
    last = model.refine_step_se_[-1]
    assert last > 1 and f"{last:.2f} standard errors" in msg and "refine_steps=2" in msg
    assert model.summary()["std_err"].isna().all()
    # run to convergence: the global MLE, trusted again
    model, caught = fit_recording(DLSALogisticRegression(n_partitions=10, refine_steps=40), X, y)
    assert not [m for m in messages(caught, ConvergenceWarning) if "refinement" in m]
    assert not model.param_flags_
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
