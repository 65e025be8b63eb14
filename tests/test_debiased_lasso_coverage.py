"""Coverage of the debiased lasso's 95% Wald intervals in a small Monte Carlo.

Sparse designs (3 of 20 coefficients non-zero, independent gaussian features), four
row blocks, the inverse-information sandwich of van de Geer et al. (2014) for the
standard errors. 150 replications each: every coefficient (and the intercept) is
covered at about the nominal 95%, the non-zero ones (where the lasso's shrinkage
must have been undone) included. Run on the synchronous scheduler for speed.
"""

import dask
import numpy as np
import pytest

from dask_glmdist import DebiasedLassoRegressor

REPS = 150


def _coverage(family, n, alpha, seed):
    rng = np.random.default_rng(seed)
    p = 20
    beta = np.zeros(p)
    beta[:3] = [1.0, -0.7, 0.5]
    truth = np.r_[0.2, beta]
    inside = []
    with dask.config.set(scheduler="sync"):
        for _ in range(REPS):
            X = rng.normal(size=(n, p))
            eta = 0.2 + X @ beta
            if family == "gaussian":
                y = eta + rng.normal(size=n)
            else:
                y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
            m = DebiasedLassoRegressor(alpha=alpha, family=family, n_partitions=4).fit(X, y)
            ci = m.conf_int().to_numpy()
            inside.append((ci[:, 0] <= truth) & (truth <= ci[:, 1]))
    return np.array(inside)


@pytest.mark.parametrize("family,n,alpha,seed", [
    ("gaussian", 2000, 0.05, 1),
    ("binomial", 4000, 0.01, 2),
])
def test_intervals_cover_at_about_the_nominal_rate(family, n, alpha, seed):
    inside = _coverage(family, n, alpha, seed)
    overall = inside.mean()
    signal = inside[:, 1:4].mean()  # the non-zero coefficients
    # 150 x 21 intervals: Monte Carlo se of the overall rate ~0.004 (more with
    # dependence across coefficients); of the 450 signal intervals ~0.01
    assert 0.93 <= overall <= 0.97, overall
    assert signal >= 0.9, signal
