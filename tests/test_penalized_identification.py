"""Designs that do not identify every parameter (issue 11, item 10).

* alpha = 0: a constant, duplicated, all-zero (or zero-weighted) column is refused
  before iterating, with the column named -- the unpenalised estimate is not unique.
* a ridge part identifies the solution: the fit equals scikit-learn's on the design
  with the redundancy removed (a duplicated column becomes ``sqrt(2) x``, whose ridge
  coefficient is shared equally), with a warning naming the column.
* the pure lasso: constant columns get 0; duplicated ones leave the solution
  non-unique -- a warning names them, and the fit equals the reduced design's lasso.
"""

import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from dask_glmdist import PenalizedGLM, PenalizedGLMCV, PenalizedLogisticRegression


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 600
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < expit(-0.3 + X[:, 0] - 0.5 * X[:, 1])).astype(float)
    return X, y


def _designs(X):
    n = len(X)
    return {
        "constant": (np.c_[X, np.full(n, 2.0)], r"x3 \(constant: a multiple of the intercept\)"),
        "duplicate": (np.c_[X, X[:, 0]], r"x3 \(a linear combination of \['x0'\]\)"),
        "zero": (np.c_[X, np.zeros(n)], r"x3 \(zero on every row with positive weight\)"),
        "combination": (np.c_[X, X[:, 1] - 2 * X[:, 2]],
                        r"x3 \(a linear combination of \['x1', 'x2'\]\)"),
    }


@pytest.mark.parametrize("kind", ["constant", "duplicate", "zero", "combination"])
def test_unpenalised_fit_refuses_a_rank_deficient_design(data, kind):
    X, y = data
    Xb, named = _designs(X)[kind]
    with pytest.raises(ValueError, match="rank deficient.*" + named + ".*not unique"):
        PenalizedLogisticRegression().fit(Xb, y)
    with pytest.raises(ValueError, match=named):   # the gaussian fit from the sums alone
        PenalizedGLM("gaussian").fit(Xb, X[:, 0] + y)
    with pytest.raises(ValueError, match=named):   # a box does not identify it either
        PenalizedLogisticRegression(max_abs_coef=3.0).fit(Xb, y)


def test_refused_on_dask_input_with_names_and_zero_weights(data):
    """Dask input with unknown chunk sizes, named columns; a column that is non-zero
    only on rows of zero weight is zero for the fit."""
    X, y = data
    df = pd.DataFrame(np.c_[X, np.where(np.arange(len(y)) < 5, 1.0, 0.0)],
                      columns=["a", "b", "c", "rare"])
    w = np.where(np.arange(len(y)) < 5, 0.0, 1.0)
    ddf = dd.from_pandas(df.assign(y=y, w=w), npartitions=3)
    ddf = ddf[ddf["a"] > -100]                          # unknown chunk sizes
    with pytest.raises(ValueError, match=r"rare \(zero on every row with positive weight\)"):
        PenalizedGLM("poisson").fit(ddf[["a", "b", "c", "rare"]], ddf["y"],
                                    sample_weight=ddf["w"])


def test_full_rank_designs_pass(data):
    """Correlated but identified columns, and a column with a large mean, are kept."""
    from dask_glmdist.solvers.design_checks import redundant_columns

    X, y = data
    rng = np.random.default_rng(0)
    near = X[:, 0] + 1e-3 * rng.normal(size=len(y))
    Xb = np.c_[X, near, 1e4 + rng.normal(size=len(y))]
    gram = np.c_[np.ones(len(y)), Xb].T @ np.c_[np.ones(len(y)), Xb]
    assert redundant_columns(gram, True) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PenalizedLogisticRegression().fit(Xb, y)


def _sklearn_ridge(X, y, alpha):
    ref = LogisticRegression(C=1.0 / (alpha * len(y)), l1_ratio=0.0, solver="newton-cholesky",
                             tol=1e-12, max_iter=1000).fit(X, y)
    return np.r_[ref.intercept_, ref.coef_.ravel()]


def test_ridge_identifies_the_solution_and_warns(data):
    X, y = data
    alpha = 0.01
    Xb, _ = _designs(X)["duplicate"]
    with pytest.warns(UserWarning, match=r"x3 \(a linear combination of \['x0'\]\).*ridge"):
        model = PenalizedLogisticRegression(alpha=alpha, l1_ratio=0.0, n_partitions=2,
                                            tol=1e-10).fit(Xb, y)
    # sum_j c_j^2 over two equal coefficients c = a / sqrt(2) is a^2 for the column sqrt(2) x0
    ref = _sklearn_ridge(np.c_[np.sqrt(2) * X[:, 0], X[:, 1:]], y, alpha)
    expected = np.r_[ref[0], ref[1] / np.sqrt(2), ref[2:], ref[1] / np.sqrt(2)]
    np.testing.assert_allclose(model.params_, expected, atol=1e-8)
    assert "x3" in model.param_flags_ and model.param_flags_["x3"].kind == "unidentified"
    with pytest.raises(AttributeError, match="penalised"):
        model.summary()                     # no standard errors for a penalised fit
    # a constant column: coefficient 0, the rest is the fit without it
    Xc, _ = _designs(X)["constant"]
    with pytest.warns(UserWarning, match=r"x3 \(constant"):
        model = PenalizedLogisticRegression(alpha=alpha, l1_ratio=0.0, tol=1e-10).fit(Xc, y)
    np.testing.assert_allclose(model.params_, np.r_[_sklearn_ridge(X, y, alpha), 0.0],
                               atol=1e-8)


def test_lasso_with_a_duplicated_column_warns_that_the_solution_is_not_unique(data):
    X, y = data
    alpha = 0.01
    Xb, _ = _designs(X)["duplicate"]
    with pytest.warns(UserWarning, match=r"lasso solution is not unique.*\[x0, x3\]"):
        model = PenalizedLogisticRegression(alpha=alpha, tol=1e-10).fit(Xb, y)
    reduced = PenalizedLogisticRegression(alpha=alpha, tol=1e-10).fit(X, y)
    # any split of the reduced coefficient with the same sign is a solution
    c = model.coef_.ravel()
    assert np.sign(c[0]) * np.sign(c[3]) >= 0
    np.testing.assert_allclose(c[0] + c[3], reduced.coef_.ravel()[0], atol=1e-7)
    np.testing.assert_allclose(model.objective_, reduced.objective_, rtol=1e-10)
    # constant and zero columns leave the lasso unique: coefficient 0
    Xz = np.c_[X, np.zeros(len(y)), np.ones(len(y))]
    with pytest.warns(UserWarning, match="Constant and all-zero columns get coefficient 0"):
        model = PenalizedLogisticRegression(alpha=alpha, tol=1e-10).fit(Xz, y)
    np.testing.assert_allclose(model.params_, np.r_[reduced.params_, 0.0, 0.0], atol=1e-8)


def test_cv_and_path_check_the_design_once(data):
    X, y = data
    Xb, _ = _designs(X)["duplicate"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PenalizedGLMCV(n_alphas=4, cv=3, l1_ratio=0.5).fit(Xb, y)
    msgs = [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert len(msgs) == 1 and "x3 (a linear combination of ['x0'])" in msgs[0]
    with pytest.raises(ValueError, match="rank deficient"):
        PenalizedGLMCV(alphas=[0.1, 0.0], cv=3).fit(Xb, y)
