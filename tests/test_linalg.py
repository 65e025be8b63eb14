import numpy as np
import pytest

from dask_glmdist.linalg import PSDFactor, inv_psd, logdet_psd, solve_psd


def test_full_rank_solve_inverse_logdet(rng):
    B = rng.normal(size=(50, 6))
    d = np.array([1, 1e3, 1e-3, 1, 1, 1])
    A = d[:, None] * (B.T @ B) * d[None, :]  # badly scaled but well conditioned
    b = rng.normal(size=6)
    x, rank = solve_psd(A, b)
    assert rank == 6
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9)
    np.testing.assert_allclose(inv_psd(A), np.linalg.inv(A), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(logdet_psd(A), np.linalg.slogdet(A)[1], rtol=1e-12)


@pytest.mark.parametrize("kind", ["zero_column", "collinear"])
def test_singular_matrix_gives_pseudo_inverse(rng, kind):
    X = rng.normal(size=(40, 4))
    if kind == "zero_column":
        X[:, 2] = 0.0
    else:
        X[:, 3] = X[:, 0] - 2 * X[:, 1]
    A = X.T @ X
    b = A @ rng.normal(size=4)  # consistent right-hand side
    f = PSDFactor(A)
    assert not f.full_rank and f.rank == 3 and f.null_space.shape == (4, 1)
    x = f.solve(b)
    np.testing.assert_allclose(A @ x, b, rtol=1e-8, atol=1e-8)
    # A x is all that matters for DLSA's combination, and it is unique
    np.testing.assert_allclose(A @ f.inverse() @ A, A, rtol=1e-8, atol=1e-8)
    if kind == "zero_column":
        assert x[2] == 0.0
