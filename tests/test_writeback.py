"""Predictions go back to the frame they came from (docs/tables.md, "Predictions back to
Parquet"): ``df.assign(p=model.predict(df))`` written to Parquet un-persisted, with any
column selection, filtered or not.

The frame is a directory of small Parquet files: projected to a few of its columns,
dask-expr reads several files as one partition, and differently for different
selections, so a prediction that is not an expression on the same frame no longer lines
up ("Mismatched divisions"). Oracle: the same model's predictions on the pandas frame,
row for row (NaN where a row has a missing value under ``missing="drop"``).
"""

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)

N_FILES, ROWS = 8, 150


def _table(seed=0):
    rng = np.random.default_rng(seed)
    n = N_FILES * ROWS
    df = pd.DataFrame({
        "month": np.repeat(np.arange(1, N_FILES + 1), ROWS),
        "g": rng.choice(list("abc"), n),
        "h": rng.integers(0, 10, n),
        "x": rng.normal(size=n),
        "z": rng.uniform(0.5, 2.0, n),
        "expo": rng.uniform(0.5, 3.0, n),
    })
    df["lexpo"] = np.log(df.expo)
    eta = 0.3 + 0.5 * df.x - 0.2 * (df.g == "b") + 0.05 * df.h
    df["y"] = eta + rng.normal(size=n)
    df["cnt"] = rng.poisson(np.exp(0.1 + 0.2 * df.z + df.lexpo))
    df["lab"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    for j in range(12):  # columns the models do not read: projections are narrow
        df[f"f{j}"] = rng.normal(size=n)
    df.loc[rng.choice(n, 40, replace=False), "x"] = np.nan
    return df


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    pdf = _table()
    path = tmp_path_factory.mktemp("flights")
    for k in range(N_FILES):
        pdf.iloc[k * ROWS:(k + 1) * ROWS].reset_index(drop=True).to_parquet(
            path / f"part-{k:02d}.parquet")
    ddf = dd.read_parquet(str(path))
    # the premise: a narrow selection of an assignment fuses the files' reads
    fused = ddf.assign(q=ddf.h + 1)[["g", "q"]].optimize().npartitions
    assert fused < ddf.npartitions == N_FILES
    return pdf, str(path)


def _frame(table):
    return dd.read_parquet(table[1])  # un-persisted, as a user has it


def _written(out, tmp_path, name):
    """``out`` written to Parquet and read back (in memory, rows in order)."""
    where = tmp_path / name
    out.to_parquet(str(where))
    back = dd.read_parquet(str(where)).compute()
    assert len(back) == len(out.index)
    return back


REGRESSORS = [
    DLSARegressor(),
    BiasReducedGLM("gaussian", method="ML"),
    PenalizedGLM(family="gaussian", alpha=0.01),
    PenalizedGLMCV(family="gaussian", n_alphas=3, criterion="bic"),
    DebiasedLassoRegressor(alpha=0.01),
]


@pytest.mark.parametrize("est", REGRESSORS, ids=lambda e: type(e).__name__)
def test_formula_predictions_with_missing_rows_go_back(table, est, tmp_path):
    pdf = table[0]
    est = est.set_params(formula="y ~ x + C(g) + h", missing="drop").fit(pdf)
    expected = est.predict(pdf)
    assert np.isnan(expected).sum() == pdf.x.isna().sum() > 0
    df = _frame(table)
    pred = est.predict(df)
    assert isinstance(pred, dd.Series)
    # with another column derived from the frame (dask-expr fuses the reads there)
    for k, cols in enumerate([["g", "q", "p"], ["p"], ["month", "q", "p"]]):
        back = _written(df.assign(p=pred, q=df.h + 1)[cols], tmp_path, f"sel{k}")
        np.testing.assert_allclose(back.p.to_numpy(), expected, rtol=1e-12, atol=1e-12)
    back = _written(df.assign(r=df.y - pred)[["g", "r"]], tmp_path, "resid")
    np.testing.assert_allclose(back.r.to_numpy(), pdf.y - expected, rtol=1e-12, atol=1e-12)
    back = _written(df.assign(p=pred), tmp_path, "all")
    np.testing.assert_allclose(back.p.to_numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(back.h.to_numpy(), pdf.h.to_numpy())


def test_plain_numeric_frame(table, tmp_path):
    pdf = table[0]
    num = ["z", "h", "expo"]
    est = DLSARegressor().fit(pdf[num], pdf.y)
    df = _frame(table)
    pred = est.predict(df[num])
    assert isinstance(pred, dd.Series)
    back = _written(df.assign(p=pred, q=df.h + 1)[["g", "q", "p"]], tmp_path, "num")
    np.testing.assert_allclose(back.p.to_numpy(), est.predict(pdf[num]), rtol=1e-12)
    # a dask array in, a dask array out
    arr = est.predict(da.from_array(pdf[num].to_numpy(), chunks=(300, -1)))
    assert isinstance(arr, da.Array)
    np.testing.assert_allclose(arr.compute(), est.predict(pdf[num]), rtol=1e-12)
    # score on the frame and its column: as in memory
    assert est.score(df[num], df.y) == pytest.approx(est.score(pdf[num], pdf.y), rel=1e-12)


def test_offset_as_column_or_series_of_the_frame(table, tmp_path):
    pdf = table[0]
    est = BiasReducedGLM("poisson", method="ML", formula="cnt ~ z + C(g)").fit(
        pdf, offset="lexpo")
    expected = est.predict(pdf, offset="lexpo")
    df = _frame(table)
    out = df.assign(q=df.h + 1, by_name=est.predict(df, offset="lexpo"),
                    by_series=est.predict(df, offset=np.log(df.expo)),
                    without=est.predict(df))
    back = _written(out[["q", "by_name", "by_series", "without"]], tmp_path, "off")
    np.testing.assert_allclose(back.by_name.to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(back.by_series.to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(back.without.to_numpy(), expected / pdf.expo, rtol=1e-12)
    # without a design: the offset a dask Series of the same frame
    num = ["z", "h"]
    plain = PenalizedGLM(family="poisson", alpha=0.0).fit(pdf[num], pdf.cnt,
                                                          offset=pdf.lexpo)
    out = df.assign(p=plain.predict(df[num], offset=df.lexpo), q=df.h + 1)
    back = _written(out[["q", "p"]], tmp_path, "off_plain")
    np.testing.assert_allclose(back.p.to_numpy(),
                               plain.predict(pdf[num], offset=pdf.lexpo), rtol=1e-12)
    with pytest.raises(TypeError, match="offset"):
        plain.predict(df[num], offset=pdf.lexpo.to_numpy())


@pytest.mark.parametrize("est", [DLSALogisticRegression(), PenalizedLogisticRegression()],
                         ids=lambda e: type(e).__name__)
def test_classifier_labels_probabilities_and_scores(table, est, tmp_path):
    pdf = table[0]
    est = est.set_params(formula="lab ~ x + C(g) + h", missing="drop").fit(pdf)
    df = _frame(table)
    proba = est.predict_proba(df)
    assert isinstance(proba, dd.DataFrame) and list(proba.columns) == list(est.classes_)
    out = df.assign(label=est.predict(df), p_yes=proba.iloc[:, 1],
                    log_no=est.predict_log_proba(df)["no"],
                    eta=est.decision_function(df), q=df.h + 1)
    back = _written(out[["q", "label", "p_yes", "log_no", "eta"]], tmp_path, "clf")
    want = est.predict_proba(pdf)
    np.testing.assert_allclose(back.p_yes.to_numpy(), want[:, 1], rtol=1e-12)
    np.testing.assert_allclose(back.log_no.to_numpy(), np.log(want[:, 0]), rtol=1e-12)
    np.testing.assert_allclose(back.eta.to_numpy(), est.decision_function(pdf), rtol=1e-12)
    labels = est.predict(pdf)
    miss = pdf.x.isna().to_numpy()
    assert back.label[miss].isna().all() and pd.isna(labels[miss]).all()
    np.testing.assert_array_equal(back.label[~miss].to_numpy(), labels[~miss])
    np.testing.assert_allclose(proba.compute().to_numpy(), want, rtol=1e-12)
    assert est.score(df) == pytest.approx(est.score(pdf), rel=1e-12)


def test_binomial_regressor_probabilities(table, tmp_path):
    pdf = table[0].assign(yes=lambda d: (d.lab == "yes").astype(float))
    est = BiasReducedGLM("binomial", formula="yes ~ z + C(g)").fit(pdf)
    df = _frame(table)
    proba = est.predict_proba(df)
    assert list(proba.columns) == [0, 1]
    back = _written(df.assign(p1=proba[1], q=df.h + 1)[["g", "q", "p1"]], tmp_path, "br")
    np.testing.assert_allclose(back.p1.to_numpy(), est.predict_proba(pdf)[:, 1], rtol=1e-12)


def test_filtered_frame_needs_no_optimize(table, tmp_path):
    pdf = table[0]
    est = DLSARegressor(formula="y ~ x + C(g) + h", missing="drop").fit(pdf)
    df = _frame(table)
    sub = df[df.month <= 3]
    keep = (pdf.month <= 3).to_numpy()
    expected = est.predict(pdf[keep])
    for k, cols in enumerate([["h", "p"], None]):
        out = sub.assign(p=est.predict(sub))
        back = _written(out if cols is None else out[cols], tmp_path, f"filt{k}")
        np.testing.assert_allclose(back.p.to_numpy(), expected, rtol=1e-12, atol=1e-12)
    assert est.score(sub) == pytest.approx(est.score(pdf[keep]), rel=1e-12)
