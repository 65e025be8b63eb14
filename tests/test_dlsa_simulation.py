"""A small Monte Carlo of the paper's Example 2, Setting 2 (heterogeneous blocks),
against its Table 2 (N = 20,000, K = 10): TDLSA is as efficient as the global MLE,
its Wald intervals cover at the nominal rate and SDLSA + DBIC finds the true model."""

import numpy as np
import statsmodels.api as sm

from dask_glmdist import DLSALogisticRegression
from dask_glmdist.datasets import make_dlsa_example

N, K, REPS = 20_000, 10, 100


def test_example2_setting2_monte_carlo():
    err_global, err_tdlsa, covered, correct = [], [], [], []
    for rep in range(REPS):
        X, y, theta = make_dlsa_example(N, K, example=2, setting=2, random_state=100 + rep,
                                        as_dask=False)
        glob = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-10)
        model = DLSALogisticRegression(n_partitions=K, refine_steps=1,
                                       penalty="adaptive_lasso").fit(X, y)
        tdlsa, bse = model.wlse_coef_, np.sqrt(np.diag(model.wlse_cov_params_))[1:]
        err_global.append(glob.params[1:] - theta)
        err_tdlsa.append(tdlsa - theta)
        covered.append(np.abs(tdlsa - theta) <= 1.959964 * bse)
        correct.append(np.array_equal(model.coef_.ravel() != 0, theta != 0))
    ree = (np.mean(np.square(err_global), axis=0) / np.mean(np.square(err_tdlsa), axis=0))
    coverage = np.mean(covered)
    assert np.all(ree >= 0.95), ree
    assert 0.925 <= coverage <= 0.975, coverage
    assert np.mean(correct) >= 0.90, np.mean(correct)
