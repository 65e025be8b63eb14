"""PQN block functions on a strict array-API namespace (the CuPy path without a GPU),
and the penalised estimators in scikit-learn pipelines and model selection."""

import dataclasses

import array_api_strict as xps
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dask_glmdist import PenalizedGLM, PenalizedGLMCV, PenalizedLogisticRegression
from dask_glmdist.families import get_family
from dask_glmdist.solvers.penalized_cv import fold_sums_block, heldout_block
from dask_glmdist.solvers.pqn import irls_start_block, ladder_block, sums_block
from dask_glmdist.solvers.recession import PROBE_STEPS, recession_block


@pytest.fixture(scope="module")
def block():
    rng = np.random.default_rng(3)
    n, p = 9000, 5   # more rows than one tile, so the tiled Gram is exercised
    X = rng.normal(size=(n, p))
    eta = 0.2 + X @ np.linspace(-0.3, 0.3, p)
    w = rng.integers(0, 3, size=n).astype(float)
    off = rng.normal(scale=0.1, size=n)
    return X, eta, w, off


def _response(family, eta, rng):
    if family.name == "binomial":
        return (rng.random(eta.shape[0]) < expit(eta)).astype(float)
    if family.name == "poisson":
        return rng.poisson(np.exp(eta)).astype(float)
    if family.name == "gamma":
        return rng.gamma(2.0, np.exp(0.5 + 0.2 * eta) / 2.0)
    return eta + rng.normal(size=eta.shape[0])


def _same(got, ref):
    if dataclasses.is_dataclass(ref):
        got, ref = vars(got), vars(ref)
    assert set(got) == set(ref)
    for key, value in ref.items():
        if isinstance(value, dict) or dataclasses.is_dataclass(value):
            _same(got[key], value)
        elif isinstance(value, (np.ndarray, float, int)):
            np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("family, link", [("binomial", None), ("binomial", "probit"),
                                          ("poisson", None), ("gamma", "log"),
                                          ("gaussian", None)])
@pytest.mark.parametrize("weights", [False, True])
def test_block_functions_on_strict_array_api(block, family, link, weights):
    X, eta, w, off = block
    fam = get_family(family, link)
    y = _response(fam, eta, np.random.default_rng(0))
    w = w if weights else None
    k = X.shape[1] + 1
    theta = np.r_[0.1, np.linspace(-0.2, 0.2, k - 1)]
    d = np.r_[0.05, np.linspace(0.1, -0.1, k - 1)]
    steps = np.array([1.0, 0.5, 0.25, 0.0])
    xw = None if w is None else xps.asarray(w)
    for kwargs in ({}, {"offset": off}):
        xkw = {key: xps.asarray(v) for key, v in kwargs.items()}
        ref = ladder_block(X, y, w, theta, d, steps, family=fam, fit_intercept=True,
                           block_index=0, **kwargs)
        got = ladder_block(xps.asarray(X), xps.asarray(y), xw, theta, d, steps, family=fam,
                           fit_intercept=True, block_index=0, **xkw)
        _same(got, ref)
        ref = irls_start_block(X, y, w, family=fam, fit_intercept=False, block_index=0,
                               **kwargs)
        got = irls_start_block(xps.asarray(X), xps.asarray(y), xw, family=fam,
                               fit_intercept=False, block_index=0, **xkw)
        _same(got, ref)
    ref = sums_block(X, y, w, family=fam, fit_intercept=True, validate=True, block_index=0)
    got = sums_block(xps.asarray(X), xps.asarray(y), xw, family=fam, fit_intercept=True,
                     validate=True, block_index=0)
    _same(got, ref)
    fold_of = np.array([1])
    ref = fold_sums_block(X, y, w, family=fam, fit_intercept=True, fold_of=fold_of,
                          block_index=0)
    got = fold_sums_block(xps.asarray(X), xps.asarray(y), xw, family=fam, fit_intercept=True,
                          fold_of=fold_of, block_index=0)
    _same(got, ref)
    coordinate = np.zeros(k, dtype=bool)
    coordinate[[1, 3]] = True
    for coord in (None, coordinate):
        ref = recession_block(X, y, w, theta, d, PROBE_STEPS, family=fam, fit_intercept=True,
                              block_index=0, coordinate=coord)
        got = recession_block(xps.asarray(X), xps.asarray(y), xw, theta, d, PROBE_STEPS,
                              family=fam, fit_intercept=True, block_index=0,
                              coordinate=coord)
        _same(got, ref)
    thetas = {1: np.stack([theta, 0.5 * theta])}
    ref = heldout_block(X, y, w, thetas, family=fam, fit_intercept=True, fold_of=fold_of,
                        block_index=0)
    got = heldout_block(xps.asarray(X), xps.asarray(y), xw, thetas, family=fam,
                        fit_intercept=True, fold_of=fold_of, block_index=0)
    _same(got, ref)


def test_ladder_block_matches_direct_evaluation(block):
    """Deviance, score and information at every step against a direct computation."""
    X, eta, _, _ = block
    fam = get_family("poisson")
    y = _response(fam, eta, np.random.default_rng(1))
    theta = np.r_[0.1, np.zeros(X.shape[1])]
    d = np.r_[-0.1, np.linspace(-0.2, 0.2, X.shape[1])]
    steps = np.array([1.0, 0.5, 0.0])
    out = ladder_block(X, y, None, theta, d, steps, family=fam, fit_intercept=True,
                       block_index=0)
    Xt = np.column_stack([np.ones(len(y)), X])
    for i, s in enumerate(steps):
        mu = np.exp(Xt @ (theta - s * d))
        dev = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - (y - mu))
        np.testing.assert_allclose(out.deviance[i], dev, rtol=1e-12)
        np.testing.assert_allclose(out.score[:, i], Xt.T @ (y - mu), rtol=1e-10,
                                   atol=1e-8)
        if i == 0:
            np.testing.assert_allclose(out.information, Xt.T @ (mu[:, None] * Xt),
                                       rtol=1e-10)
    assert np.all(np.isnan(out.pearson))      # fixed dispersion: not needed
    gam = get_family("gamma", "log")
    yg = _response(gam, eta, np.random.default_rng(2))
    out = ladder_block(X, yg, None, theta, d, steps, family=gam, fit_intercept=True,
                       block_index=0)
    for i, s in enumerate(steps):
        mu = np.exp(Xt @ (theta - s * d))
        np.testing.assert_allclose(out.pearson[i], np.sum((yg - mu) ** 2 / mu**2),
                                   rtol=1e-12)
        np.testing.assert_allclose(out.deviance[i],
                                   2 * np.sum(-np.log(yg / mu) + (yg - mu) / mu), rtol=1e-11)
    # a step that leaves the domain (identity-link Poisson mean below 0) is flagged
    fam_id = get_family("poisson", "identity")
    theta = np.r_[1.0, np.zeros(X.shape[1])]
    d = np.r_[3.0, np.zeros(X.shape[1])]
    out = ladder_block(X, np.ones(len(y)), None, theta, d, np.array([1.0, 0.25]),
                       family=fam_id, fit_intercept=True, block_index=0)
    assert out.invalid[0] == len(y) and out.invalid[1] == 0


def test_own_rows_of_coordinate_runaways():
    """``own``: rows on which a coordinate runaway is the only non-zero one of them."""
    X = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    y = np.zeros(4)
    fam = get_family("binomial")
    theta, u = np.zeros(4), np.r_[0.0, -1.0, -1.0, 0.0]
    coord = np.array([False, True, True, False])
    out = recession_block(X, y, None, theta, u, PROBE_STEPS, family=fam, fit_intercept=True,
                          block_index=0, coordinate=coord)
    np.testing.assert_array_equal(out["own"], [0, 1, 1, 0])   # rows 0 and 2
    coord[0] = True     # the intercept is non-zero on every row: no column has its own
    out = recession_block(X, y, None, theta, u, PROBE_STEPS, family=fam, fit_intercept=True,
                          block_index=0, coordinate=coord)
    np.testing.assert_array_equal(out["own"], [1, 0, 0, 0])   # row 3


def test_empty_partitions_count_as_blocks_and_folds_skip_them():
    """A filter that empties a partition: ``n_blocks_`` counts every block of the input,
    and the cross-validation (whose per-fold sums used to crash on the empty block's
    summary) equals the fit of the same rows without the empty partition."""
    rng = np.random.default_rng(4)
    n = 1200
    df = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])
    df["y"] = (rng.random(n) < expit(df["a"] - df["b"])).astype(float)
    df["k"] = np.arange(n)
    ddf = dd.from_pandas(df, npartitions=4)
    ddf = ddf[ddf["k"] >= 300]      # the first partition is now empty
    cv = PenalizedGLMCV(alphas=[0.01, 0.0], cv=3).fit(ddf[["a", "b"]], ddf["y"])
    single = PenalizedLogisticRegression().fit(ddf[["a", "b"]], ddf["y"])
    assert cv.n_blocks_ == single.n_blocks_ == 4
    ref = PenalizedLogisticRegression().fit(df[["a", "b"]][300:], df["y"][300:])
    np.testing.assert_allclose(single.params_, ref.params_, atol=1e-10)
    kept = dd.from_pandas(df[300:], npartitions=3)
    ref_cv = PenalizedGLMCV(alphas=[0.01, 0.0], cv=3).fit(kept[["a", "b"]], kept["y"])
    np.testing.assert_allclose(cv.params_, ref_cv.params_, atol=1e-10)
    assert cv.n_blocks_ == 4 and ref_cv.n_blocks_ == 3
    with pytest.raises(ValueError, match=r"fold 1 \(row blocks \[1\]\) has no rows"):
        PenalizedGLMCV(alphas=[0.0], cv=3).fit(ddf[ddf["k"] >= 900][["a", "b"]],
                                               ddf[ddf["k"] >= 900]["y"])


def test_grid_search_over_alpha_and_l1_ratio():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 8))
    y = (rng.random(3000) < expit(X[:, 0] - X[:, 1])).astype(int)
    pipe = make_pipeline(StandardScaler(), PenalizedLogisticRegression(n_partitions=2))
    search = GridSearchCV(pipe, {"penalizedlogisticregression__alpha": [1e-3, 0.3],
                                 "penalizedlogisticregression__l1_ratio": [0.5, 1.0]},
                          cv=3, scoring="neg_log_loss")
    search.fit(X, y)
    assert search.best_params_["penalizedlogisticregression__alpha"] == 1e-3
    reg = GridSearchCV(PenalizedGLM("gaussian"), {"alpha": [0.01, 10.0]}, cv=3)
    reg.fit(X, X[:, 0] + rng.normal(size=3000))
    assert reg.best_params_["alpha"] == 0.01


@pytest.mark.parametrize("obj, sections", [
    ("PenalizedGLM", ["Parameters", "Attributes", "See Also", "References", "Examples"]),
    ("PenalizedLogisticRegression",
     ["Parameters", "Attributes", "See Also", "References", "Examples"]),
    ("PenalizedGLMCV", ["Parameters", "Attributes", "See Also", "References", "Examples"]),
    ("penalized_glm_path", ["Parameters", "Returns", "See Also", "References", "Examples"]),
    ("GLMPath", ["Attributes", "See Also", "Examples"]),
])
def test_docstrings_exist_at_runtime(obj, sections):
    """Issue 11 item 5: a docstring built by concatenation is not a docstring."""
    import dask_glmdist

    doc = getattr(dask_glmdist, obj).__doc__
    assert doc is not None
    for section in sections:
        assert f"\n    {section}\n    {'-' * len(section)}\n" in doc, section
