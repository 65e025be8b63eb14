import numpy as np
import pytest

from dask_glmdist.linalg import PSDFactor, inv_psd


def test_full_rank_solve_inverse_logdet(rng):
    B = rng.normal(size=(50, 6))
    d = np.array([1, 1e3, 1e-3, 1, 1, 1])
    A = d[:, None] * (B.T @ B) * d[None, :]  # badly scaled but well conditioned
    b = rng.normal(size=6)
    f = PSDFactor(A)
    x, rank = f.solve(b), f.rank
    assert rank == 6
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9)
    np.testing.assert_allclose(inv_psd(A), np.linalg.inv(A), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(PSDFactor(A).logdet(), np.linalg.slogdet(A)[1], rtol=1e-12)


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


def test_tsqr_tree_equals_one_qr():
    """Any grouping of rows into R factors combines to the R of the stacked rows."""
    from dask_glmdist.linalg import gram_inverse_from_r, gram_solve_from_r, qr_r, tsqr_combine

    rng = np.random.default_rng(1)
    A = rng.normal(size=(700, 6))
    whole = qr_r(np.asfortranarray(A.copy()))
    parts = [qr_r(np.asfortranarray(A[a:b].copy())) for a, b in [(0, 3), (3, 300), (300, 700)]]
    tree = tsqr_combine(tsqr_combine(parts[0], parts[1]), parts[2])
    np.testing.assert_allclose(tree, whole, atol=1e-12)  # signs fixed: R itself is unique
    np.testing.assert_allclose(whole.T @ whole, A.T @ A, rtol=1e-12, atol=1e-10)
    b = rng.normal(size=6)
    np.testing.assert_allclose(gram_solve_from_r(whole, b), np.linalg.solve(A.T @ A, b),
                               rtol=1e-10)
    np.testing.assert_allclose(gram_inverse_from_r(whole), np.linalg.inv(A.T @ A), rtol=1e-10)


def test_dispersion_derivatives_by_finite_differences():
    """a', a'', a''' of each family's dispersion function a(zeta), zeta = -nu."""
    from scipy.special import gammaln

    from dask_glmdist.families import get_family

    a_funcs = {
        "gamma": lambda z: 2 * (-z - (-z) * np.log(-z) + gammaln(-z)),
        "gaussian": lambda z: -np.log(-z),
        "inverse_gaussian": lambda z: -np.log(-z),
    }
    h = 1e-3
    for name, a in a_funcs.items():
        for nu in (0.7, 2.3, 11.0):
            z = -nu
            d1 = (a(z + h) - a(z - h)) / (2 * h)
            d2 = (a(z + h) - 2 * a(z) + a(z - h)) / h**2
            got = get_family(name).dispersion_derivs(nu)
            np.testing.assert_allclose(got[:2], [d1, d2], rtol=1e-5)
            # the third from differences of the (checked) second: d/dzeta = -d/dnu
            a2 = get_family(name).dispersion_derivs
            d3 = -(a2(nu + h)[1] - a2(nu - h)[1]) / (2 * h)
            np.testing.assert_allclose(got[2], d3, rtol=1e-5)
