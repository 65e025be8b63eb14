"""Estimates that do not exist (issue 11, items 1 and 2).

Under separation the unpenalised estimate of some coefficients is +-infinite. The fit
must say which (firthmodels' linear-programming check, Konis 2007, is the oracle),
``summary()`` must show them as +-inf without a standard error, and the others are
the limits as those grow: the fit of the rows the separation leaves (statsmodels on
the data without the separated rows and column). Probit and cloglog fits used to
stop there "converged", their gradients underflowed.
"""

import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import (
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    SeparationWarning,
    penalized_glm_path,
)

firthmodels = pytest.importorskip("firthmodels")  # the oracle; Python >= 3.11


def _carrier(rng, n=1500):
    """A rare level (1%) whose responses are all 1: quasi-complete separation."""
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n),
                         (rng.random(n) < 0.01).astype(float)])
    y = (rng.normal(size=n) < -1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1]).astype(float)
    y[X[:, 2] == 1] = 1.0
    return X, y


def _ties(rng, n=800):
    """y = 1 when x0 > 0 and 0 when x0 < 0; random at x0 = 0 (quasi-complete)."""
    x0 = rng.integers(-3, 4, n).astype(float)
    y = np.where(x0 > 0, 1.0, np.where(x0 < 0, 0.0, (rng.random(n) < 0.5) * 1.0))
    return np.c_[x0, rng.normal(size=n)], y


def _complete(rng, n=500):
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(float)


def _lp_directions(X, y):
    """firthmodels' directions, intercept first (it puts the intercept last)."""
    d = firthmodels.detect_separation(X, y).directions
    return np.r_[d[-1], d[:-1]]


@pytest.mark.parametrize("data", [_carrier, _ties, _complete])
@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_infinite_parameters_are_those_of_the_lp_check(data, link):
    X, y = data(np.random.default_rng(4))
    lp = _lp_directions(X, y)
    assert lp.any()
    with pytest.warns(SeparationWarning, match="does not exist") as caught:
        model = PenalizedLogisticRegression(link=link, n_partitions=3).fit(X, y)
    assert not model.converged_
    names = model._param_names()
    flags = model.param_flags_
    flagged = np.array([n in flags for n in names])
    sign = np.array([flags[n].sign if n in flags else 0 for n in names])
    inf = np.array([n in flags and flags[n].kind == "infinite" for n in names])
    np.testing.assert_array_equal(flagged, lp != 0)
    # where the fit commits to a sign it is the LP's (complete separation: the LP
    # picks one direction of a cone, in which some signs are not determined; those
    # are flagged "unidentified")
    np.testing.assert_array_equal(sign[inf], lp[inf])
    assert inf.any()
    if not lp.all():   # quasi-complete: the direction is unique, so are the signs
        np.testing.assert_array_equal(inf, lp != 0)
    for n in np.array(names)[flagged]:
        assert n in str(caught[0].message)
    table = model.summary()
    np.testing.assert_array_equal(table["coef"].to_numpy()[inf], np.inf * sign[inf])
    assert table["std_err"][flagged].isna().all() and table["p_value"][flagged].isna().all()
    assert np.all(np.isfinite(table["std_err"][~flagged]))
    assert all("inf" in table.attrs["notes"][n] for n in np.array(names)[inf])
    assert np.all(np.isnan(model.bse_[flagged]))
    assert np.all(np.isnan(model.cov_params_[flagged])) and np.all(
        np.isnan(model.cov_params_[:, flagged]))


def test_the_finite_estimates_are_the_fit_of_the_rows_left():
    """A dummy that is 1 on exactly one row (item 1): its coefficient is +inf; the
    others equal the fit without that row and column, standard errors included."""
    rng = np.random.default_rng(5)
    n = 2000
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < expit(0.2 + X[:, 0] - 0.5 * X[:, 1])).astype(float)
    rare = np.zeros(n)
    rare[7], y[7] = 1.0, 1.0
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "rare": rare})
    with pytest.warns(SeparationWarning, match=r"\[rare \(\+inf\)\]"):
        model = PenalizedLogisticRegression(n_partitions=3).fit(df, y)
    assert list(model.param_flags_) == ["rare"]
    keep = np.arange(n) != 7
    ref = sm.GLM(y[keep], sm.add_constant(X[keep]), family=sm.families.Binomial()).fit(
        tol=1e-12)
    np.testing.assert_allclose(model.params_[:3], ref.params, atol=1e-6)
    np.testing.assert_allclose(model.bse_[:3], ref.bse, rtol=1e-4)
    table = model.summary()
    assert table.loc["rare", "coef"] == np.inf and np.isnan(table.loc["rare", "std_err"])
    np.testing.assert_allclose(table["std_err"][:3], ref.bse, rtol=1e-4)
    with pytest.raises(ValueError, match="rare"):
        model.wald_test(np.eye(4)[[0, 3]])


@pytest.mark.parametrize("est", [
    PenalizedLogisticRegression(alpha=1e-3),
    PenalizedLogisticRegression(max_abs_coef=8.0),
    PenalizedGLM("binomial", alpha=1e-3, l1_ratio=0.0),
])
def test_one_row_dummy_is_finite_with_a_penalty_or_a_bound(est):
    """Item 1: the same one-row dummy, on dask input with unknown chunk sizes."""
    rng = np.random.default_rng(6)
    n = 1200
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < expit(X[:, 0])).astype(float)
    rare = np.zeros(n)
    rare[500], y[500] = 1.0, 1.0
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "rare": rare, "y": y})
    ddf = dd.from_pandas(df, npartitions=4)
    ddf = ddf[ddf["a"] > -100]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = est.fit(ddf[["a", "b", "rare"]], ddf["y"])
    assert model.converged_ and np.all(np.isfinite(model.params_))
    assert model.param_flags_ == {}
    if est.max_abs_coef:
        assert model.params_[3] == 8.0


def test_poisson_group_of_zeros_runs_off_to_minus_infinity():
    rng = np.random.default_rng(7)
    n = 2000
    X = np.c_[rng.normal(size=n), (rng.random(n) < 0.02).astype(float)]
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    y[X[:, 1] == 1] = 0.0
    with pytest.warns(SeparationWarning, match=r"\[x1 \(-inf\)\]"):
        model = PenalizedGLM("poisson").fit(X, y)
    keep = X[:, 1] == 0
    ref = sm.GLM(y[keep], sm.add_constant(X[keep, :1]), family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(model.params_[:2], ref.params, atol=1e-6)
    assert model.summary().loc["x1", "coef"] == -np.inf


@pytest.mark.parametrize("link", ["logit", "cloglog", "probit"])
def test_no_false_alarm_on_extreme_but_finite_fits(link):
    """Strong effects put fitted means at 0/1 to 1e-10; the estimate exists."""
    rng = np.random.default_rng(8)
    n = 3000
    X = rng.normal(size=(n, 2))
    fam = sm.families.Binomial({"logit": sm.families.links.Logit(),
                                "probit": sm.families.links.Probit(),
                                "cloglog": sm.families.links.CLogLog()}[link])
    y = (rng.random(n) < fam.link.inverse(0.5 + 3.0 * X[:, 0] - 0.5 * X[:, 1])) * 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PenalizedLogisticRegression(link=link).fit(X, y)
    assert model.converged_ and model.param_flags_ == {}
    ref = sm.GLM(y, sm.add_constant(X), family=fam).fit(tol=1e-14)
    np.testing.assert_allclose(model.params_, ref.params, atol=1e-6)


# --------------------------------------------------------------------------------------
# paths and cross-validation keep the separation; signs only where the data decide them
# --------------------------------------------------------------------------------------


def _five_row_dummy():
    """A dummy that is 1 on five rows, all with y = 1: its MLE is +inf."""
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    X[:, 2] = 0.0
    X[:5, 2] = 1.0
    y = (rng.random(n) < expit(0.3 + X[:, 0] - 0.5 * X[:, 1])).astype(float)
    y[:5] = 1.0
    order = rng.permutation(n)
    return X[order], y[order]


def _fit_of_the_rows_left(X, y):
    keep = X[:, 2] == 0
    return sm.GLM(y[keep], sm.add_constant(X[keep, :2]),
                  family=sm.families.Binomial()).fit(tol=1e-12)


def test_cross_validation_keeps_the_separation_of_its_chosen_fit():
    """The path's fits used to lose the separation: alpha_=0, param_flags_ {}, x2 shown
    as 17.87 +- 4256.7 and two ConvergenceWarnings asking for more iterations."""
    X, y = _five_row_dummy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PenalizedGLMCV(alphas=[0.01, 0.0], cv=5).fit(X, y)
    assert [w.category for w in caught] == [SeparationWarning]
    assert "x2 (+inf)" in str(caught[0].message) and "all blocks: alphas [0]" in str(
        caught[0].message)
    assert model.alpha_ == 0.0 and not model.converged_
    assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
        "x2": ("infinite", 1)}
    ref = _fit_of_the_rows_left(X, y)
    np.testing.assert_allclose(model.params_[:3], ref.params, atol=1e-6)
    table = model.summary()
    assert table.loc["x2", "coef"] == np.inf and np.isnan(table.loc["x2", "std_err"])
    np.testing.assert_allclose(table["std_err"][:3], ref.bse, rtol=1e-4)
    assert np.isnan(model.cov_params_[3]).all() and np.isnan(model.cov_params_[:, 3]).all()


def test_cross_validation_says_when_only_other_alphas_are_separated():
    X, y = _five_row_dummy()
    with pytest.warns(SeparationWarning, match=r"fold 0: alphas \[0\].*x2 \(\+inf\).*"
                      r"alpha_=0.01 is not affected") as caught:
        model = PenalizedGLMCV(alphas=[0.01, 0.0], cv=5, one_standard_error_rule=True,
                               l1_ratio=0.0).fit(X, y)
    # and the (true) note that the choice is the largest alpha of this two-alpha grid
    assert [w.category for w in caught] == [SeparationWarning, UserWarning]
    assert "largest alpha of the grid" in str(caught[1].message)
    assert model.alpha_ == 0.01 and model.param_flags_ == {}


def test_path_keeps_the_separation_per_alpha():
    X, y = _five_row_dummy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = penalized_glm_path(X, y, alphas=[0.01, 0.0], n_partitions=5)
    assert [w.category for w in caught] == [SeparationWarning]
    assert "at [alphas [0]]" in str(caught[0].message)
    assert "x2 (+inf)" in str(caught[0].message)
    assert path.runaway[0] is None and path.converged[0]
    np.testing.assert_array_equal(path.runaway[1], [0, 0, 0, 1])
    ref = _fit_of_the_rows_left(X, y)
    np.testing.assert_allclose([path.intercept[1], *path.coef[1, :2]], ref.params,
                               atol=1e-6)


def test_coordinate_separation_is_exact_whatever_the_iterations():
    """The first pass's recession counts name the parameter even when the iterations
    stop early: both warnings, each for its own reason."""
    X, y = _five_row_dummy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PenalizedLogisticRegression(max_iter=2).fit(X, y)
    assert [w.category for w in caught] == [SeparationWarning, ConvergenceWarning]
    assert "x2 (+inf)" in str(caught[0].message) and "max_iter=2" in str(caught[1].message)
    assert list(model.param_flags_) == ["x2"]


@pytest.mark.parametrize("family, box", [("binomial", None), ("poisson", None),
                                         ("binomial", 3.0)])
def test_all_zero_response_intercept_runs_off_slopes_are_not_determined(family, box):
    """Every y = 0: the intercept's MLE is -inf (every direction of recession lowers it:
    the columns take both signs), the slopes are not determined -- they used to get
    +-inf with the signs of ~1e-6 noise. A box on the slopes: any value in it fits as
    well in the limit (they used to get standard errors)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4000, 3))
    y = np.zeros(4000)
    Xd = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=4)
    yd = dd.from_pandas(pd.Series(y), npartitions=4)
    with pytest.warns(SeparationWarning) as caught:
        model = PenalizedGLM(family, max_abs_coef=box).fit(Xd, yd)
    message = str(caught[0].message)
    assert "[intercept (-inf)]" in message and "[a, b, c] are not determined" in message
    assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
        "intercept": ("infinite", -1), "a": ("unidentified", 0),
        "b": ("unidentified", 0), "c": ("unidentified", 0)}
    table = model.summary()
    assert table.loc["intercept", "coef"] == -np.inf
    np.testing.assert_array_equal(table["coef"][1:], model.coef_)  # where they stopped
    assert table["std_err"].isna().all()
    # each note says what the table shows: a value where the iterations stopped, or -inf
    assert "the value shown is where the iterations stopped" in table.attrs["notes"]["a"]
    assert "is -inf" in table.attrs["notes"]["intercept"]
    assert "value shown" not in table.attrs["notes"]["intercept"]


def test_a_sign_is_given_only_where_the_data_determine_it():
    """Every y = 0 with a dummy d: the intercept alone fits every row (its rows without
    d are its own), so it runs off to -inf; d's rows are all fitted by the intercept
    as well, so d could run off either way (-2 + 1 * d still lowers every row): not
    determined. A positive column instead of the dummy: neither sign is determined."""
    rng = np.random.default_rng(6)
    n = 3000
    x = rng.normal(size=n)
    d = (rng.random(n) < 0.3).astype(float)
    y = np.zeros(n)
    with pytest.warns(SeparationWarning):
        model = PenalizedGLM("poisson").fit(np.c_[x, d], y)
    assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
        "intercept": ("infinite", -1), "x0": ("unidentified", 0), "x1": ("unidentified", 0)}
    with pytest.warns(SeparationWarning, match=r"along a direction.*\[intercept, x0\] are "
                      "not determined"):
        model = PenalizedGLM("binomial").fit(1.0 + rng.random((n, 1)), y)
    assert {f.kind for f in model.param_flags_.values()} == {"unidentified"}


def test_a_refit_never_keeps_the_previous_flags():
    X, y = _five_row_dummy()
    model = PenalizedLogisticRegression()
    with pytest.warns(SeparationWarning):
        model.fit(X, y)
    assert list(model.param_flags_) == ["x2"] and np.isnan(model.bse_[3])
    clean = np.random.default_rng(1).normal(size=X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(clean, y)
    assert model.param_flags_ == {}
    assert np.all(np.isfinite(model.bse_)) and np.all(np.isfinite(model.cov_params_))
    cv = PenalizedGLMCV(alphas=[0.0], cv=2)
    with pytest.warns(SeparationWarning):
        cv.fit(X, y)
    assert list(cv.param_flags_) == ["x2"]
    cv.fit(clean, y)
    assert cv.param_flags_ == {}
