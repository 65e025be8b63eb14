"""The coordinate descents on a Gram matrix (dask_glmdist.solvers.gram_cd)."""

import numpy as np
import pytest

from dask_glmdist.solvers import gram_cd
from dask_glmdist.solvers.gram_cd import lasso_cd, nodewise_lasso


def _gram(n=200, p=9, seed=0, zero_column=False):
    rng = np.random.default_rng(seed)
    X = np.c_[np.ones(n), rng.standard_normal((n, p))]
    X[:, 3] += 0.8 * X[:, 2]  # correlated columns: several sweeps
    if zero_column:
        X[:, 5] = 0.0
    return X.T @ X / n, X


@pytest.mark.parametrize("zero_column", [False, True])
@pytest.mark.parametrize("rows", [[0], [2, 3], [1, 4, 7], list(range(10))])
def test_nodewise_scalar_and_vectorised_sweeps_agree_exactly(monkeypatch, rows, zero_column):
    """The two ways of sweeping the node-wise problems do the same arithmetic."""
    G, _ = _gram(zero_column=zero_column)
    alpha = np.r_[0.0, np.linspace(0.01, 0.08, 9)]
    monkeypatch.setattr(gram_cd, "SCALAR_PROBLEMS", 100)
    scalar = nodewise_lasso(G, rows, alpha, tol=1e-11)
    monkeypatch.setattr(gram_cd, "SCALAR_PROBLEMS", -1)
    vectorised = nodewise_lasso(G, rows, alpha, tol=1e-11)
    assert scalar[2] == vectorised[2] > 1
    np.testing.assert_array_equal(scalar[0], vectorised[0])
    np.testing.assert_array_equal(scalar[1], vectorised[1])


def test_lasso_cd_meets_the_optimality_conditions():
    G, X = _gram()
    y = X[:, 1] - 0.5 * X[:, 3] + 0.1
    b = X.T @ y / X.shape[0]
    l1 = np.r_[0.0, np.full(9, 0.05)]
    x, sweeps = lasso_cd(G, b, l1, tol=1e-13)
    assert sweeps < gram_cd.MAX_SWEEPS
    grad = b - G @ x  # KKT: grad_j = l1_j sign(x_j) on the support, |grad_j| <= l1_j off it
    on = x != 0
    np.testing.assert_allclose(grad[on], l1[on] * np.sign(x[on]), atol=1e-10)
    assert np.all(np.abs(grad[~on]) <= l1[~on] + 1e-10)
    boxed, _ = lasso_cd(G, b, l1, bound=np.full(10, 0.2), tol=1e-13)
    assert np.max(np.abs(boxed)) <= 0.2
