"""One and two data passes per iteration: the same estimate, on separated data too,
within max_iter=100.

With one pass per iteration the hat values are those of the previous iterate (its R
factor *and* its weights, the seed paper's eq. 13), so that they are the hat values of
a real fit; the block test checks that against an in-memory computation.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from dask_glmdist import BiasReducedGLM
from dask_glmdist.datasets import make_diverted_flights
from dask_glmdist.families import get_family
from dask_glmdist.solvers.chunked_iwls import PassSpec, iwls_block

REFERENCE = json.loads((Path(__file__).parent / "data" / "brglm2_reference.json").read_text())


@pytest.fixture(scope="module")
def diverted():
    """A rare carrier (7 flights) none of which was diverted: its ML coefficient is -inf."""
    X, y, _ = make_diverted_flights(20_000, 4, as_dask=True)
    return X, y


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_separated_data_one_pass_reaches_the_two_pass_solution(diverted, link):
    X, y = diverted
    two = BiasReducedGLM(link=link, passes=2, tol=1e-12).fit(X, y)
    one = BiasReducedGLM(link=link, passes=1, tol=1e-10, max_iter=100).fit(X, y)
    assert one.converged_ and one.n_iter_ <= 25 and one.n_rounds_ < two.n_rounds_
    np.testing.assert_allclose(one.params_, two.params_, rtol=0, atol=1e-8)


@pytest.mark.parametrize(("method", "rtype"), [("mBR", "AS_mean"), ("mJPL", "MPL_Jeffreys")])
def test_brglm2_separated_probit_in_one_pass(method, rtype):
    ds = REFERENCE["datasets"]["binomial_probit_separated"]
    X, y = np.asarray(ds["X"], dtype=float), np.asarray(ds["y"], dtype=float)
    coef = np.array(list(ds["fits"][rtype]["coefficients"].values()))
    fit = BiasReducedGLM(link="probit", method=method, passes=1, n_partitions=3, tol=1e-10,
                         max_iter=100).fit(X, y)
    assert fit.converged_ and fit.n_iter_ <= 25
    np.testing.assert_allclose(fit.params_, coef, rtol=0, atol=1e-8)


def test_one_pass_hat_values_are_those_of_the_previous_iterate(rng):
    """adj = X~^T t with h_i of the fit at beta_prev (its R and its weights) and the
    d'/(2 d) of the pass's own beta, computed here in memory."""
    n = 400
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 0.4).astype(float)
    fam = get_family("binomial", "probit")
    prev, beta = np.array([-0.2, 0.3, -0.1, 0.2]), np.array([-0.3, 0.5, -0.2, 0.1])
    X1 = np.column_stack([np.ones(n), X])
    spec = dict(family=fam, fit_intercept=True, method="mBR")
    R_prev = iwls_block(X, y, None, spec=PassSpec(**spec, beta=prev), block_index=0).R[:4, :4]
    out = iwls_block(X, y, None, spec=PassSpec(**spec, beta=beta, hat_R=R_prev, hat_beta=prev),
                     block_index=0)

    def weights(b):
        mu, d = fam.link.inverse_and_deriv(X1 @ b)
        return d * d / fam.variance(mu)

    w_prev = weights(prev)
    Wh = np.sqrt(w_prev)[:, None] * X1
    h = np.einsum("ij,ij->i", Wh @ np.linalg.inv(X1.T @ (w_prev[:, None] * X1)), Wh)
    assert abs(h.sum() - 4) < 1e-10  # a real fit's hat values
    eta = X1 @ beta
    t = h * fam.link.inverse_deriv2(eta) / (2 * fam.link.inverse_deriv(eta))
    np.testing.assert_allclose(out.adj, X1.T @ t, rtol=1e-10)
    # and the R factor is that of the pass's own beta
    R_own = iwls_block(X, y, None, spec=PassSpec(**spec, beta=beta), block_index=0).R
    np.testing.assert_allclose(out.R, R_own, rtol=1e-12, atol=1e-12)
