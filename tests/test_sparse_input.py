"""scipy.sparse input (e.g. OneHotEncoder's default output) and pipelines on pandas frames.

Oracle: the same values given dense. Sparse row blocks are densified one block at a time
inside their tasks, so every estimator's fit, predictions and score equal the dense fit's.
"""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    _blocks,
)

N, K = 1200, 3

ESTIMATORS = [
    DLSALogisticRegression(n_partitions=K),
    DLSALogisticRegression(n_partitions=K, refine_steps=1, penalty="adaptive_lasso"),
    DLSARegressor(family="binomial", n_partitions=K),
    BiasReducedGLM(n_partitions=K),
    PenalizedGLM(family="binomial", alpha=0.005, n_partitions=K),
    PenalizedLogisticRegression(alpha=0.005, l1_ratio=0.5, n_partitions=K),
    PenalizedGLMCV(family="binomial", n_alphas=4, cv=K, n_partitions=K),
    DebiasedLassoRegressor(family="binomial", n_partitions=K),
]


def _frame(n=N, seed=0):
    """Two string categoricals (6 and 5 levels) and a number; a binary response."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "carrier": rng.choice(list("ABCDEF"), size=n),
        "origin": rng.choice(["EWR", "JFK", "LGA", "ISP", "HPN"], size=n),
        "distance": rng.normal(size=n),
    })
    eta = (0.4 * (frame["carrier"] < "C") - 0.5 * (frame["origin"] == "JFK")
           + 0.8 * frame["distance"])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta.to_numpy()))).astype(np.int64)
    return frame, y


def _one_hot(frame):
    """The frame one-hot encoded (first level dropped) as CSR and dense: the same values."""
    enc = ColumnTransformer([("oh", OneHotEncoder(drop="first"), ["carrier", "origin"])],
                            remainder="passthrough")
    Xs = enc.fit_transform(frame)
    assert sp.issparse(Xs)
    return sp.csr_matrix(Xs), Xs.toarray()


def _outputs(est, X):
    out = {"params": est.params_ if hasattr(est, "params_") else est.coef_,
           "predict": np.asarray(est.predict(X), dtype=float)}
    if is_classifier(est):
        out["proba"] = est.predict_proba(X)
    return out


def _assert_same(a, b, atol=1e-10):
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key], dtype=float),
                                   np.asarray(b[key], dtype=float), rtol=0, atol=atol,
                                   err_msg=key)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_sparse_fit_equals_dense_fit(est):
    frame, y = _frame()
    Xs, Xd = _one_hot(frame)
    dense = clone(est).fit(Xd, y)
    sparse = clone(est).fit(Xs, y)
    _assert_same(_outputs(dense, Xd), _outputs(sparse, Xs))
    assert sparse.score(Xs, y) == pytest.approx(dense.score(Xd, y), abs=1e-12)
    # a sparse X at predict time for a dense fit, and the other way round
    np.testing.assert_allclose(dense.predict(Xs), dense.predict(Xd), atol=1e-12)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_every_sparse_format_is_accepted(fmt):
    frame, y = _frame()
    Xs, Xd = _one_hot(frame)
    est = DLSALogisticRegression(n_partitions=K)
    a = clone(est).fit(Xd, y)
    b = clone(est).fit(Xs.asformat(fmt), y)
    _assert_same(_outputs(a, Xd), _outputs(b, sp.csr_array(Xs).asformat(fmt)))


def test_sparse_blocks_are_densified_one_block_at_a_time(monkeypatch):
    """Each densification sees one row block, never the whole matrix."""
    frame, y = _frame()
    Xs, Xd = _one_hot(frame)
    seen = []

    def recording(Xb):
        seen.append(Xb.shape[0])
        return Xb.toarray() if sp.issparse(Xb) else Xb

    monkeypatch.setattr(_blocks, "_dense_block", recording)
    PenalizedLogisticRegression(alpha=0.01, n_partitions=4).fit(Xs, y)
    assert seen and max(seen) == N // 4
    seen.clear()
    DLSARegressor(family="binomial").fit(da.from_array(Xs, chunks=(250, -1)), y)
    assert seen and max(seen) == 250


def _dask_inputs(Xs, Xd, y, chunk):
    chunks = (chunk, -1)
    return {
        "dense": da.from_array(Xd, chunks=chunks),
        "from_array(csr)": da.from_array(Xs, chunks=chunks),
        "map_blocks(csr_matrix)": da.from_array(Xd, chunks=chunks).map_blocks(sp.csr_matrix),
        "csr, 2 column chunks": da.from_array(Xs, chunks=(chunk, 6)),
    }, da.from_array(y, chunks=chunk)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_dask_array_of_sparse_blocks_equals_dense(est):
    frame, y = _frame()
    Xs, Xd = _one_hot(frame)
    inputs, yd = _dask_inputs(Xs, Xd, y, N // K)
    est = clone(est).set_params(n_partitions=None)
    ref = clone(est).fit(inputs["dense"], yd)
    ref_out = {k: da.compute(v)[0] if isinstance(v, da.Array) else v
               for k, v in _outputs(ref, inputs["dense"]).items()}
    # the in-memory fit with the same blocks is the same fit
    _assert_same(ref_out, _outputs(clone(est).set_params(n_partitions=K).fit(Xd, y), Xd))
    for name, X in list(inputs.items())[1:]:
        fitted = clone(est).fit(X, yd)
        out = {k: da.compute(v)[0] if isinstance(v, da.Array) else v
               for k, v in _outputs(fitted, X).items()}
        _assert_same(ref_out, out)
        assert fitted.score(X, yd) == pytest.approx(ref.score(inputs["dense"], yd), abs=1e-12)
        if hasattr(fitted, "n_blocks_"):
            assert fitted.n_blocks_ == K, name


def _pipeline(est, sparse_output=True, encoder=None):
    encoder = encoder or OneHotEncoder(drop="first", sparse_output=sparse_output)
    return Pipeline([
        ("enc", ColumnTransformer([("oh", encoder, ["carrier", "origin"])],
                                  remainder="passthrough")),
        ("model", est),
    ])


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_pipeline_with_one_hot_encoder_on_pandas(est):
    frame, y = _frame()
    new, _ = _frame(200, seed=1)
    sparse = _pipeline(clone(est)).fit(frame, y)
    assert sp.issparse(sparse[:-1].transform(frame))  # the default output is sparse
    dense = _pipeline(clone(est), sparse_output=False).fit(frame, y)
    _assert_same(_outputs(dense[-1], dense[:-1].transform(new)),
                 _outputs(sparse[-1], sparse[:-1].transform(new)))
    np.testing.assert_allclose(sparse.predict(new), dense.predict(new), atol=1e-10)
    assert sparse.score(frame, y) == pytest.approx(dense.score(frame, y), abs=1e-12)


@pytest.mark.filterwarnings("ignore:PenalizedLogisticRegression. the data do not identify")
def test_pipeline_with_default_one_hot_encoder_and_a_ridge():
    """OneHotEncoder() as it comes (every level, sparse): the ridge makes the fit unique."""
    frame, y = _frame()
    est = PenalizedLogisticRegression(alpha=0.01, l1_ratio=0.0, n_partitions=K)
    sparse = _pipeline(clone(est), encoder=OneHotEncoder()).fit(frame, y)
    assert sp.issparse(sparse[:-1].transform(frame))
    dense = _pipeline(clone(est), encoder=OneHotEncoder(sparse_output=False)).fit(frame, y)
    np.testing.assert_allclose(sparse[-1].coef_, dense[-1].coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(frame), dense.predict_proba(frame),
                               rtol=0, atol=1e-10)


def test_grid_search_over_a_sparse_pipeline():
    frame, y = _frame()
    grid = {"model__alpha": [0.001, 0.01, 0.1]}
    est = PenalizedLogisticRegression(n_partitions=2)
    searches = [GridSearchCV(_pipeline(clone(est), sparse_output=s), grid, cv=3,
                             scoring="roc_auc").fit(frame, y) for s in (True, False)]
    sparse, dense = searches
    assert sparse.best_params_ == dense.best_params_
    np.testing.assert_allclose(sparse.cv_results_["mean_test_score"],
                               dense.cv_results_["mean_test_score"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(frame), dense.predict_proba(frame),
                               rtol=0, atol=1e-10)
