"""Bad input to the penalised GLMs: a clear error naming the problem, before any pass."""

import dask.array as da
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from dask_glmdist import (
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    penalized_glm_path,
)
from dask_glmdist.solvers.pqn import ALL_ZERO_WEIGHTS


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 0.5).astype(float)
    return X, y


@pytest.mark.parametrize("params, match", [
    ({"alpha": -0.1}, "alpha"),
    ({"l1_ratio": -0.01}, "l1_ratio"),
    ({"l1_ratio": 1.5}, "l1_ratio"),
    ({"max_abs_coef": 0.0}, "max_abs_coef"),
    ({"max_abs_coef": -1.0}, "max_abs_coef"),
    ({"tol": 0.0}, "tol"),
    ({"max_iter": 0}, "max_iter"),
    ({"family": "student"}, "family"),
])
@pytest.mark.parametrize("cls", [PenalizedGLM, PenalizedLogisticRegression, PenalizedGLMCV])
def test_invalid_parameters(xy, cls, params, match):
    if "family" in params and cls is PenalizedLogisticRegression:
        params = {"link": "identity"}
        match = "link"
    if cls is PenalizedGLMCV and "alpha" in params:
        params = {"alphas": [0.1, -0.1]}
        match = "alphas"
    X, y = xy
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        cls(**params).fit(X, y)


def test_link_not_allowed_for_family(xy):
    X, y = xy
    with pytest.raises(ValueError, match="link 'inverse' is not allowed for the binomial"):
        PenalizedGLM("binomial", "inverse").fit(X, y)


@pytest.mark.parametrize("where", ["X", "y", "w"])
def test_nonfinite_values(xy, where):
    X, y = xy
    X, y, w = X.copy(), y.copy(), np.ones_like(y)
    {"X": X, "y": y, "w": w}[where][3] = np.nan if where != "w" else np.inf
    with pytest.raises(ValueError, match="NaN|infinity|finite"):
        PenalizedGLM("binomial", alpha=0.1).fit(X, y, sample_weight=w)


def test_nonfinite_dask_input_is_caught_in_the_first_pass(xy):
    X, y = xy
    X = X.copy()
    X[150, 1] = np.inf
    Xd = da.from_array(X, chunks=(50, 3))
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[3\]\)"):
        PenalizedGLM("binomial", alpha=0.1).fit(Xd, da.from_array(y, chunks=50))


def test_wrong_y_for_the_family(xy):
    X, _ = xy
    with pytest.raises(ValueError, match=r"binomial family: y must lie in \[0, 1\]"):
        PenalizedGLM("binomial").fit(X, np.arange(200.0))
    with pytest.raises(ValueError, match="poisson family: y must be non-negative"):
        PenalizedGLM("poisson", alpha=0.1).fit(X, -np.ones(200))
    with pytest.raises(ValueError, match="poisson family: y must be non-negative"):
        PenalizedGLM("poisson").fit(da.from_array(X, chunks=(100, 3)),
                                    da.from_array(-np.ones(200), chunks=100))


def test_negative_and_all_zero_weights(xy):
    X, y = xy
    with pytest.raises(ValueError, match="negative"):
        PenalizedGLM(alpha=0.1).fit(X, y, sample_weight=-np.ones(200))
    with pytest.raises(ValueError, match="all sample weights are zero|at least one non-zero"):
        PenalizedGLM(alpha=0.1).fit(X, y, sample_weight=np.zeros(200))


@pytest.mark.parametrize("fit", [
    lambda X, y, w: PenalizedGLM(alpha=0.1).fit(X, y, sample_weight=w),
    lambda X, y, w: PenalizedLogisticRegression().fit(X, y, sample_weight=w),
    lambda X, y, w: PenalizedGLMCV(alphas=[0.1], cv=2).fit(X, y, sample_weight=w),
    lambda X, y, w: penalized_glm_path(X, y, alphas=[0.1], sample_weight=w),
])
def test_all_zero_weights_one_message_for_numpy_and_dask(xy, fit):
    """scikit-learn's sentence for NumPy input; dask input (seen only in the first pass)
    starts with the same sentence in every penalised estimator."""
    X, y = xy
    w = np.zeros(200)
    with pytest.raises(ValueError) as numpy_error:
        fit(X, y, w)
    assert str(numpy_error.value) == "Sample weights must contain at least one non-zero number."
    chunks = (50,)
    with pytest.raises(ValueError) as dask_error:
        fit(da.from_array(X, chunks=chunks + (3,)), da.from_array(y, chunks=chunks),
            da.from_array(w, chunks=chunks))
    assert str(dask_error.value) == ALL_ZERO_WEIGHTS
    assert str(dask_error.value).startswith(str(numpy_error.value)[:-1])


def test_classifier_needs_two_classes(xy):
    X, _ = xy
    with pytest.raises(ValueError, match="exactly 2 classes"):
        PenalizedLogisticRegression().fit(X, np.arange(200) % 3)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        PenalizedLogisticRegression().fit(X, np.ones(200))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        PenalizedLogisticRegression().fit(X, np.linspace(0, 1, 200))


def test_shapes_and_empty_input(xy):
    X, y = xy
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        PenalizedGLM().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2D array|reshape"):
        PenalizedGLM().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="0 sample|minimum of 2"):
        PenalizedGLM().fit(X[:0], y[:0])
    model = PenalizedGLM(alpha=0.1).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        model.predict(X[:, :2])


def test_inference_refused_for_penalised_fits(xy):
    X, y = xy
    with pytest.raises(AttributeError, match="penalised"):
        PenalizedGLM(alpha=0.1).fit(X, y).summary()


def test_cv_needs_enough_blocks(xy):
    X, y = xy
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 row blocks"):
        PenalizedGLMCV(cv=5).fit(da.from_array(X, chunks=(100, 3)),
                                 da.from_array(y, chunks=100))
    with pytest.raises(ValueError, match="cv=4 folds need at least 4 row blocks"):
        PenalizedGLMCV(cv=4, n_partitions=2).fit(X, y)


def test_path_bad_alphas(xy):
    X, y = xy
    with pytest.raises(ValueError, match="alphas must be finite and >= 0"):
        penalized_glm_path(X, y, alphas=[0.1, np.nan])
    with pytest.raises(ValueError, match="alphas is empty"):
        penalized_glm_path(X, y, alphas=[])
    with pytest.raises(InvalidParameterError, match="l1_ratio"):
        penalized_glm_path(X, y, l1_ratio=2.0)
