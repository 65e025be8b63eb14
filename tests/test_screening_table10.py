"""The DLSA paper's Table 10 (coverage of the 15 true features by the top 40 of each
screening measure at (N, p, K) = (2000, 1000, 5)): the full Monte Carlo (slow) within
3 binomial standard errors of the paper's rates, and a few cheap replications."""

import numpy as np
import pytest

from benchmarks.screening_table10 import (
    MEASURES,
    PAPER,
    binomial_se,
    coverage,
    covered,
    simulate,
)


def test_simulation_design():
    rng = np.random.default_rng(0)
    blocks = simulate(rng, 2, "logistic", N=1000, p=50, K=5)
    assert [b[0].shape for b in blocks] == [(200, 50)] * 5
    # setting 2: block k's covariates have mean k/K and AR(1) correlations in [0.2, 0.3]
    for k, (X, y) in enumerate(blocks, start=1):
        assert abs(X.mean() - k / 5) < 0.05
        lag1 = np.mean([np.corrcoef(X[:, j], X[:, j + 1])[0, 1] for j in range(49)])
        assert 0.1 < lag1 < 0.4
        assert set(np.unique(y)) <= {0.0, 1.0}
    assert covered(np.r_[np.full(15, 2.0), np.zeros(985)])
    assert not covered(np.r_[np.full(14, 2.0), 0.0, np.full(985, 0.5)])


def test_cheap_replications():
    """Sure screening by Pearson at the paper's size; every measure runs on the design."""
    assert coverage(1, "linear", reps=3, seed=1, measures=("pearson",)) == {"pearson": 1.0}
    rates = coverage(1, "linear", reps=1, seed=1, N=600, p=60, K=3)
    assert set(rates) == set(MEASURES) and rates["pearson"] == 1.0


# Cells of the 100-replication run (benchmarks/results_screening.md) farther than 3
# binomial SEs from the paper: SIS (Pearson) is exactly the global correlation, yet covers
# 0.93 vs 0.99 (logistic) and 0.05 vs 0.98 (Setting 2), so the design simulated from the
# paper's text is not the one behind Table 10 (in Setting 2 a common mean shift k/K of all
# covariates and of y enters every pooled correlation, and the AR(1) among 15 adjacent true
# features masks negative coefficients); distance correlation with a binary y covers less
# even on one block of all rows; SIRS and Kendall cover MORE than the paper in Setting 1.
NOT_REPRODUCED = {(1, "linear", "sirs"), (1, "linear", "kendall"), (1, "logistic", "pearson"),
                  (1, "logistic", "sirs"), (1, "logistic", "kendall"),
                  (1, "logistic", "dc")} | {
    (2, model, m) for model in ("linear", "logistic") for m in MEASURES}
ABOVE_THE_PAPER = {(1, model, m) for model in ("linear", "logistic") for m in ("sirs", "kendall")}


@pytest.mark.slow
@pytest.mark.parametrize("setting", [1, 2])
@pytest.mark.parametrize("model", ["linear", "logistic"])
def test_table10_coverage_rates(setting, model):
    reps = 100
    rates = coverage(setting, model, reps=reps, seed=0)
    far = [m for m, paper in zip(MEASURES, PAPER[(setting, model)], strict=True)
           if abs(rates[m] - paper) > 3 * binomial_se(paper, reps) + 1e-9]
    assert set(far) <= {m for s, mo, m in NOT_REPRODUCED if (s, mo) == (setting, model)}, (
        far, rates)
    for s_, mo, m in ABOVE_THE_PAPER:
        if (s_, mo) == (setting, model):
            assert rates[m] >= PAPER[(setting, model)][MEASURES.index(m)], (m, rates)
