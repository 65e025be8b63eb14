"""Separation along a factor's reference cell (the intercept and the factor's dummies).

Moving the intercept by -t and every dummy of a treatment-coded factor by +t changes only
the reference cell's linear predictor; when that cell has no event the MLE has the
intercept at -inf and the dummies at +inf, although no single coordinate runs off. The
first pass counts the reference-cell indicators as virtual columns
(solvers/recession.py); every estimator flags those parameters and never reports a
confident number for them.
"""

import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    PenalizedGLM,
)
from dask_glmdist.diagnostics import SeparationWarning
from dask_glmdist.families import get_family
from dask_glmdist.solvers.local import recession_counts
from dask_glmdist.solvers.recession import ReferenceGroup, separated_references

FORMULA = "y ~ g + x"
NAMES = ["Intercept", "g[T.b]", "g[T.c]", "x"]


def _frame(mirror=False, seed=3, n=1500):
    """Rare events in levels b and c, none (mirror: only events) in the reference a."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(-3.0 + 0.5 * x)))).astype(float)
    y[g == "a"] = 0.0
    if mirror:
        y = 1.0 - y
    return pd.DataFrame({"y": y, "g": g, "x": x})


def _fit(model, df):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dd.from_pandas(df, npartitions=3))
    return [w for w in caught if issubclass(w.category, SeparationWarning)]


def _oracle(df):
    rest = df[df.g != "a"]
    return smf.glm("y ~ g + x", rest, family=sm.families.Binomial()).fit()


def _check_flags(model, caught, sign):
    flags = model.param_flags_
    for name, s in zip(NAMES[:3], (sign, -sign, -sign), strict=True):
        assert flags[name].kind == "infinite" and flags[name].sign == s, (name, flags)
    assert np.all(np.isnan(model.bse_[:3]))
    table = model.summary()
    assert list(np.sign(table["coef"].iloc[:3])) == [sign, -sign, -sign]
    assert np.all(np.isinf(table["coef"].iloc[:3]))
    assert any("reference level 'a' of g" in str(w.message) for w in caught)
    # x: either the oracle on the non-reference rows or flagged
    return flags.get("x")


def test_counts_find_the_reference_cell():
    df = _frame()
    X = np.column_stack([df.g == "b", df.g == "c", df.x]).astype(float)
    fam = get_family("binomial")
    groups = (ReferenceGroup("g", "a", (0, 1)),)
    c1 = recession_counts(X[:700], df.y.values[:700], None, fam, True, groups)
    c2 = recession_counts(X[700:], df.y.values[700:], None, fam, True, groups)
    assert c1.shape == (6, 4)
    assert separated_references(c1 + c2, groups) == [(groups[0], -1)]
    assert separated_references(c1[:3] + c2[:3], groups) == []   # no groups, no check
    # the LP check (Konis 2007) agrees: the intercept and g's dummies are infinite
    firth = pytest.importorskip("firthmodels")
    res = firth.detect_separation(X, df.y.values)
    assert list(res.directions) == [1, 1, 0, -1]   # its intercept comes last
    y = 1.0 - df.y.values
    c = recession_counts(X, y, None, fam, True, groups)
    assert separated_references(c, groups) == [(groups[0], 1)]


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("refine", [0, 20])
def test_dlsa(mirror, refine):
    df = _frame(mirror)
    m = DLSALogisticRegression(formula=FORMULA, refine_steps=refine)
    caught = _fit(m, df)
    flag = _check_flags(m, caught, 1 if mirror else -1)
    assert flag is not None and np.isnan(m.bse_[3])


@pytest.mark.parametrize("mirror", [False, True])
def test_brglm_ml(mirror):
    df = _frame(mirror)
    m = BiasReducedGLM(family="binomial", method="ML", formula=FORMULA)
    caught = _fit(m, df)
    flag = _check_flags(m, caught, 1 if mirror else -1)
    assert flag is not None and np.isnan(m.bse_[3])


def test_penalized_alpha0():
    df = _frame()
    m = PenalizedGLM(family="binomial", alpha=0, formula=FORMULA, tol=1e-10)
    caught = _fit(m, df)
    flag = _check_flags(m, caught, -1)
    if flag is None:   # its runaway handling left the reference rows out: the oracle
        ora = _oracle(df)
        assert m.params_[3] == pytest.approx(ora.params["x"], abs=1e-6)
    else:
        assert np.isnan(m.bse_[3])


def test_debiased_lasso():
    df = _frame()
    m = DebiasedLassoRegressor(family="binomial", formula=FORMULA, n_partitions=1)
    caught = _fit(m, df)
    flag = _check_flags(m, caught, -1)
    assert flag is not None and np.isnan(m.bse_[3])


def test_mbr_unaffected():
    df = _frame()
    m = BiasReducedGLM(family="binomial", method="mBR", formula=FORMULA)
    caught = _fit(m, df)
    assert not caught and not m.param_flags_
    assert np.all(np.isfinite(m.params_)) and np.all(np.isfinite(m.bse_))


def test_relevelled_factor_only_that_level():
    """With a reference level that has events, only the event-free level is infinite."""
    df = _frame()
    m = BiasReducedGLM(family="binomial", method="ML",
                       formula='y ~ C(g, Treatment("b")) + x')
    caught = _fit(m, df)
    assert not any("reference level" in str(w.message) for w in caught)
    assert [n for n, f in m.param_flags_.items() if f.kind == "infinite"] == [
        "C(g, Treatment(\"b\"))[T.a]"] or len(m.param_flags_) == 1
