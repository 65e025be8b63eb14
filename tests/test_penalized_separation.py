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
import firthmodels
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from dask_glmdist import PenalizedGLM, PenalizedLogisticRegression, SeparationWarning


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
    flagged = np.array([model.param_flags_[n].sign if n in model.param_flags_ else 0
                        for n in names])
    np.testing.assert_array_equal(flagged != 0, lp != 0)
    if not lp.all():   # quasi-complete: the direction is unique, so are the signs
        np.testing.assert_array_equal(flagged, lp)
    for n in np.array(names)[lp != 0]:
        assert n in str(caught[0].message)
    table = model.summary()
    inf = lp != 0
    np.testing.assert_array_equal(table["coef"].to_numpy()[inf], np.inf * flagged[inf])
    assert table["std_err"][inf].isna().all() and table["p_value"][inf].isna().all()
    assert np.all(np.isfinite(table["std_err"][~inf]))
    assert all("inf" in table.attrs["notes"][n] for n in np.array(names)[inf])
    assert np.all(np.isnan(model.bse_[inf]))


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
