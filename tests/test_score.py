"""``score`` on every input ``fit`` accepts: lazy on dask input (unknown chunk sizes
included), equal to the in-memory score of the same model; one contract per kind
(accuracy for classifiers, D^2 for regressors)."""

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, d2_tweedie_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)

N, FEATURES = 900, ["a", "b", "c"]


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 3))
    p = 1 / (1 + np.exp(-(0.3 + X @ [0.8, -0.6, 0.2])))
    df = pd.DataFrame(X, columns=FEATURES)
    df["label"] = (rng.random(N) < p).astype(int)
    df["count"] = rng.poisson(np.exp(0.2 + X @ [0.3, -0.2, 0.1])).astype(float)
    df["w"] = rng.uniform(0.5, 2.0, N)
    ddf = dd.from_pandas(df, npartitions=4)
    ddf = ddf[ddf["a"] > -2.5]  # a filtered frame: unknown chunk sizes
    kept = df[df["a"] > -2.5]
    return ddf, kept


def _identity_pipeline(est):
    return make_pipeline(FunctionTransformer(), est)


CASES = [
    (DLSALogisticRegression(), "label"),
    (DLSARegressor(family="binomial"), "label"),
    (DLSARegressor(family="poisson"), "count"),
    (DLSARegressor(), "count"),
    (PenalizedLogisticRegression(alpha=0.01), "label"),
    (PenalizedGLM(family="poisson", alpha=0.01), "count"),
    (PenalizedGLMCV(family="poisson", n_alphas=3, criterion="bic"), "count"),
    (BiasReducedGLM(), "label"),
    (DebiasedLassoRegressor(family="poisson"), "count"),
    (_identity_pipeline(DLSALogisticRegression()), "label"),
    (_identity_pipeline(PenalizedGLM(family="poisson")), "count"),
]


@pytest.mark.parametrize("est, target", CASES, ids=lambda c: type(c).__name__
                         if not isinstance(c, str) else c)
def test_score_on_unknown_chunks_equals_in_memory_score(frame, est, target):
    ddf, kept = frame
    X, y, w = ddf[FEATURES], ddf[target], ddf["w"]
    assert any(np.isnan(c) for c in X.to_dask_array().chunks[0])
    model = est.fit(kept[FEATURES], kept[target])  # the model: the same for both scores
    for weights, ref_weights in [(None, None), (w, kept["w"].to_numpy())]:
        got = model.score(X, y, sample_weight=weights)
        ref = model.score(kept[FEATURES], kept[target].to_numpy(), sample_weight=ref_weights)
        assert isinstance(got, float)
        assert abs(got - ref) <= 1e-12, (got, ref)
    # dask arrays with unknown chunks, y and weights as arrays
    Xa, ya = X.to_dask_array(), y.to_dask_array()
    assert abs(model.score(Xa, ya, sample_weight=w.to_dask_array()) - model.score(
        kept[FEATURES], kept[target], sample_weight=kept["w"])) <= 1e-12


def test_classifier_score_is_accuracy_with_string_labels(frame):
    ddf, kept = frame
    labels = np.where(kept["label"] == 1, "yes", "no")
    model = DLSALogisticRegression().fit(kept[FEATURES], labels)
    ylab = ddf["label"].map(lambda v: "yes" if v == 1 else "no", meta=("label", object))
    ref = accuracy_score(labels, model.predict(kept[FEATURES]),
                         sample_weight=kept["w"].to_numpy())
    got = model.score(ddf[FEATURES], ylab, sample_weight=ddf["w"])
    assert abs(got - ref) <= 1e-12


def test_dlsa_regressor_scores_deviance_explained(frame):
    """One contract for every regressor: D^2 (R^2 for the gaussian family)."""
    _, kept = frame
    X, y = kept[FEATURES], kept["count"].to_numpy()
    pois = DLSARegressor(family="poisson").fit(X, y)
    np.testing.assert_allclose(pois.score(X, y), d2_tweedie_score(y, pois.predict(X), power=1),
                               rtol=1e-12)
    gauss = DLSARegressor().fit(X, y)
    np.testing.assert_allclose(gauss.score(X, y), r2_score(y, gauss.predict(X)), rtol=1e-12)


def test_dask_score_with_known_chunks_and_in_memory_y(frame):
    _, kept = frame
    X, y = kept[FEATURES].to_numpy(), kept["count"].to_numpy()
    model = DLSARegressor(family="poisson").fit(X, y)
    Xd = da.from_array(X, chunks=(200, 3))
    assert abs(model.score(Xd, y) - model.score(X, y)) <= 1e-12  # aligned by known sizes


def test_in_memory_y_with_unknown_chunks_is_a_clear_error(frame):
    ddf, kept = frame
    reg = DLSARegressor(family="poisson").fit(kept[FEATURES], kept["count"])
    clf = DLSALogisticRegression().fit(kept[FEATURES], kept["label"])
    for model, target in [(reg, "count"), (clf, "label")]:
        with pytest.raises(ValueError, match="unknown row-chunk sizes, so an in-memory y cannot"):
            model.score(ddf[FEATURES], kept[target].to_numpy())
    with pytest.raises(TypeError, match="y is a dask collection but X is not"):
        reg.score(kept[FEATURES], ddf["count"])


def test_score_with_an_empty_partition(frame):
    _, kept = frame
    df = kept.reset_index(drop=True).assign(row=lambda d: np.arange(len(d)))
    ddf = dd.from_pandas(df, npartitions=3)
    first = int(ddf.partitions[0]["row"].max().compute())
    ddf = ddf[ddf["row"] > first]  # the first partition is now empty
    assert ddf.map_partitions(len).compute().tolist()[0] == 0
    rest = df.iloc[first + 1:]
    clf = DLSALogisticRegression().fit(rest[FEATURES], rest["label"])
    reg = PenalizedGLM(family="poisson").fit(rest[FEATURES], rest["count"])
    for model, target in [(clf, "label"), (reg, "count")]:
        got = model.score(ddf[FEATURES], ddf[target], sample_weight=ddf["w"])
        ref = model.score(rest[FEATURES], rest[target], sample_weight=rest["w"])
        assert abs(got - ref) <= 1e-12
