"""One round of DLSA can be standard errors away from the global MLE; the default one
refinement round (TDLSA) removes most of that and its step measures how far it was."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import DLSALogisticRegression, DLSARegressor
from dask_glmdist.datasets import make_dlsa_example


@pytest.fixture(scope="module")
def small_blocks():
    """The paper's Example 2, Setting 2, with 1,000 rows per block (40 blocks)."""
    X, y, _ = make_dlsa_example(40_000, 40, example=2, setting=2, random_state=1,
                                as_dask=False)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    return X, y, ref


def test_default_refines_once_and_reports_the_step_in_standard_errors(small_blocks):
    X, y, ref = small_blocks
    assert DLSALogisticRegression().refine_steps == 1 == DLSARegressor().refine_steps
    one_round = DLSALogisticRegression(n_partitions=40, refine_steps=0).fit(X, y)
    error = np.max(np.abs(one_round.params_ - ref.params) / ref.bse)
    assert error > 1.5  # one round alone: 2.05 standard errors off, without a word
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = DLSALogisticRegression(n_partitions=40).fit(X, y)
    assert model.n_iter_ == 2
    # the refinement step, in standard errors, is the one-round error
    np.testing.assert_allclose(model.refine_step_se_[0], error, rtol=0.02)
    np.testing.assert_allclose(model.refine_step_sizes_[0],
                               np.max(np.abs(model.params_ - one_round.params_)), rtol=1e-12)
    assert np.max(np.abs(model.params_ - ref.params) / ref.bse) < 0.1
    # a step of more than one standard error is reported
    (msg,) = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    assert f"{model.refine_step_se_[0]:.2f} standard errors" in msg
    # converged_ says so too (before: True, it looked at the local fits only)
    assert not model.converged_ and one_round.converged_


def test_a_small_last_step_is_not_reported(small_blocks):
    X, y, ref = small_blocks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DLSALogisticRegression(n_partitions=40, refine_steps=2).fit(X, y)
    assert model.refine_step_se_[1] < 0.1 < 1 < model.refine_step_se_[0]
    assert model.converged_  # a last step within one standard error has settled
    assert np.max(np.abs(model.params_ - ref.params) / ref.bse) < 1e-3
