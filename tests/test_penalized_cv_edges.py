"""PenalizedGLMCV warns (once) when the chosen alpha is at the edge of its grid."""

import warnings

import numpy as np
import pytest

from dask_glmdist import PenalizedGLMCV


def _data(signal, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    eta = 2 * X[:, 0] - X[:, 1] if signal else np.full(n, -0.4)
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)


def _fit(X, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PenalizedGLMCV(**kw).fit(X, y)
    edge = [str(w.message) for w in caught if "edge of alphas_" in str(w.message)]
    return model, edge


@pytest.mark.parametrize("criterion", ["cv", "bic"])
def test_smallest_alpha_warns_and_says_how_to_extend(criterion):
    X, y = _data(signal=True)
    model, edge = _fit(X, y, criterion=criterion, n_alphas=4, eps=0.3, cv=3)
    assert model.alpha_ == model.alphas_[-1]
    assert len(edge) == 1
    assert f"{criterion.upper()} chose the smallest alpha of the grid" in edge[0]
    assert "a smaller eps, currently 0.3, or pass alphas reaching below" in edge[0]


def test_largest_alpha_of_the_default_grid_says_every_coefficient_is_zero():
    X, y = _data(signal=False)
    model, edge = _fit(X, y, criterion="bic", n_alphas=5)
    assert model.alpha_ == model.alphas_[0] and not model.coef_.any()
    assert len(edge) == 1
    assert "BIC chose the largest alpha of the grid" in edge[0]
    assert "every coefficient is 0" in edge[0]


def test_largest_given_alpha_with_features_kept_says_extend_upwards():
    X, y = _data(signal=True)
    model, edge = _fit(X, y, criterion="bic", alphas=[0.01, 0.005, 0.001])
    assert model.alpha_ == 0.01 and model.coef_.any()
    assert len(edge) == 1
    assert "BIC chose the largest alpha of the grid" in edge[0]
    assert "Extend the grid upwards (pass alphas reaching above 0.01)" in edge[0]


def test_inner_alpha_does_not_warn():
    X, y = _data(signal=True)
    model, edge = _fit(X, y, n_alphas=20, cv=3)
    assert 0 < list(model.alphas_).index(model.alpha_) < 19
    assert edge == []
