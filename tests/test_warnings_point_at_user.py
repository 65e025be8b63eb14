"""Every warning a fit emits points at the user's line, not into the library."""

import warnings

import dask.array as da
import numpy as np
import pytest

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    penalized_glm_path,
)


def _separated(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[:, 2] = (np.arange(n) % 50 == 0).astype(float)  # a rare level ...
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    y[X[:, 2] == 1] = 0.0  # ... without events: its ML estimate is -inf
    return X, y


def _locally_separated(seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(800, 1))
    y = np.concatenate([(X[k * 200:(k + 1) * 200, 0] > c).astype(float)
                        for k, c in enumerate([-0.6, -0.2, 0.2, 0.6])])
    return X, y  # every block separated by x0, the whole data not


def _tiny_block(seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(603, 4))
    y = X @ [1.0, -1.0, 0.5, 0.0] + rng.normal(size=603)
    return da.from_array(X, chunks=((300, 300, 3), (4,))), da.from_array(y, chunks=((300, 300, 3),))


def _separated_by_two_columns(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(float)


CASES = {
    "DLSALogisticRegression": lambda: DLSALogisticRegression(n_partitions=3).fit(*_separated()),
    "DLSALogisticRegression(combination)": lambda: DLSALogisticRegression(
        n_partitions=2).fit(*_separated_by_two_columns()),
    "BiasReducedGLM(ML)": lambda: BiasReducedGLM(method="ML").fit(*_separated()),
    "PenalizedLogisticRegression": lambda: PenalizedLogisticRegression(alpha=0.0).fit(
        *_separated()),
    "PenalizedGLMCV": lambda: PenalizedGLMCV(criterion="bic", alphas=[0.01, 0.0],
                                             max_iter=3).fit(*_separated()),
    "penalized_glm_path": lambda: penalized_glm_path(*_separated(), alphas=[0.01, 0.001],
                                                     max_iter=1),
    "penalized_glm_path (separation)": lambda: penalized_glm_path(
        *_separated(), alphas=[0.01, 0.0], n_partitions=3),
    "PenalizedGLMCV (edge of the grid)": lambda: PenalizedGLMCV(
        criterion="bic", n_alphas=3, eps=0.5).fit(*_separated_by_two_columns()),
    "PenalizedGLMCV (cv, separation)": lambda: PenalizedGLMCV(alphas=[0.01, 0.0], cv=3).fit(
        *_separated()),
    "DebiasedLassoRegressor": lambda: DebiasedLassoRegressor(alpha=0.01).fit(*_tiny_block()),
    "DebiasedLassoRegressor(separation)": lambda: DebiasedLassoRegressor(
        family="binomial", n_partitions=3).fit(*_separated()),
    "DebiasedLassoRegressor(unreliable)": lambda: DebiasedLassoRegressor(
        family="binomial", n_partitions=4).fit(*_locally_separated()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_warnings_point_at_the_calling_line(case):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CASES[case]()
    ours = list(caught)
    assert ours, f"{case} emitted no warning"
    assert {w.filename for w in ours} == {__file__}, [
        (w.filename, w.lineno, str(w.message)[:60]) for w in ours]
