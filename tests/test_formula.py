"""Formulas and categorical columns on pandas and dask DataFrames (dask_glmdist.design).

Oracles: statsmodels' formula API (smf.glm: the same parameter names, coefficients to
1e-8, standard errors to 1e-6), the fit of the same design given as a numeric matrix,
and invariances (pandas vs dask, partitions, persisted vs not).
"""

import warnings

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from dask_glmdist import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)

FORMULA = "y ~ C(g) + h + np.log(x) + x:C(m)"


def _frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "g": rng.choice(list("abcde"), n),
        "h": rng.choice(["u", "v", "w"], n),
        "x": rng.uniform(0.5, 3.0, n),
        "m": rng.integers(1, 4, n),
    })
    eta = (-0.5 + 0.3 * (df.g == "b") - 0.4 * (df.g == "e") + 0.5 * np.log(df.x)
           + 0.2 * df.x * (df.m == 2))
    df["y"] = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    df["count"] = rng.poisson(np.exp(eta))
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


@pytest.fixture(scope="module")
def frame():
    return _frame()


@pytest.fixture(scope="module")
def statsmodels_logit(frame):
    return smf.glm(FORMULA, frame, family=sm.families.Binomial()).fit(tol=1e-12)


def _ml_estimators(formula):
    return [
        BiasReducedGLM(family="binomial", method="ML", formula=formula, tol=1e-12),
        DLSARegressor(family="binomial", formula=formula, refine_steps=20, tol=1e-12),
        DLSALogisticRegression(formula=formula, refine_steps=20, tol=1e-12),
        PenalizedGLM(family="binomial", alpha=0.0, formula=formula, tol=1e-12),
        PenalizedLogisticRegression(alpha=0.0, formula=formula, tol=1e-12),
    ]


@pytest.mark.parametrize("est", _ml_estimators(FORMULA), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("kind", ["pandas", "dask"])
def test_formula_fit_equals_statsmodels_formula_api(frame, statsmodels_logit, est, kind):
    data = frame if kind == "pandas" else dd.from_pandas(frame, npartitions=4)
    est.fit(data)
    table = est.summary()
    ref = statsmodels_logit
    assert list(table.index) == list(ref.params.index)  # 'Intercept', 'C(g)[T.b]', ...
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=0, atol=1e-6)
    if kind == "dask":
        assert est.n_blocks_ == 4


def test_poisson_formula_with_offset_and_weights_columns(frame):
    ref = smf.glm("count ~ C(g) + np.log(x)", frame, family=sm.families.Poisson(),
                  offset=np.log(frame.x), var_weights=frame.w).fit(tol=1e-12)
    df = frame.assign(logx=np.log(frame.x))
    for data in (df, dd.from_pandas(df, npartitions=3)):
        est = BiasReducedGLM(family="poisson", method="ML", formula="count ~ C(g) + np.log(x)",
                             tol=1e-12).fit(data, sample_weight="w", offset="logx")
        np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
        np.testing.assert_allclose(est.bse_, ref.bse, rtol=0, atol=1e-6)
        pred = est.predict(data, offset="logx")
        pred = pred.compute() if hasattr(pred, "compute") else pred
        np.testing.assert_allclose(pred, ref.fittedvalues, rtol=1e-8)


def test_formula_equals_the_fit_of_the_encoded_matrix(frame):
    """Estimators without a statsmodels formula twin: the same design as a matrix."""
    from formulaic import model_matrix

    mm = model_matrix("C(g) + h + np.log(x) + x:C(m)", frame)
    X = mm.drop(columns="Intercept").to_numpy()
    for make in (lambda f: DebiasedLassoRegressor(family="binomial", alpha=0.01, formula=f),
                 lambda f: PenalizedGLMCV(family="binomial", criterion="bic", n_alphas=5,
                                          formula=f)):
        a = make(FORMULA).fit(dd.from_pandas(frame, npartitions=4))
        b = make(None).fit(dd.from_array(X, chunksize=750),
                           dd.from_array(frame.y.to_numpy(), chunksize=750))
        np.testing.assert_allclose(a.params_, b.params_, rtol=0, atol=1e-10)
        assert a._param_names()[1:] == list(mm.columns[1:])


def test_predict_and_score_take_the_frame(frame, statsmodels_logit):
    ddf = dd.from_pandas(frame, npartitions=4)
    est = DLSALogisticRegression(formula=FORMULA, refine_steps=20, tol=1e-12).fit(ddf)
    proba = est.predict_proba(ddf)
    np.testing.assert_allclose(proba.compute().to_numpy()[:, 1],
                               statsmodels_logit.fittedvalues, rtol=1e-8)
    assert isinstance(proba, dd.DataFrame) and proba.npartitions == ddf.npartitions
    acc = est.score(ddf)
    assert acc == pytest.approx(np.mean((statsmodels_logit.fittedvalues > 0.5) == frame.y))
    reg = BiasReducedGLM(family="binomial", method="ML", formula=FORMULA).fit(frame)
    d2 = 1 - statsmodels_logit.deviance / statsmodels_logit.null_deviance
    assert reg.score(frame) == pytest.approx(d2, abs=1e-9)
    assert reg.score(ddf) == pytest.approx(d2, abs=1e-9)


# -- parquet: levels that differ between partitions ----------------------------------


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    """Four files; level 'e' of g is absent from the first, level 'z' only in the last."""
    df = _frame(4000, seed=1)
    df.loc[:999, "g"] = df.loc[:999, "g"].replace("e", "a")
    df.loc[3990:, "g"] = "z"
    path = tmp_path_factory.mktemp("pq")
    for k in range(4):
        df.iloc[k * 1000:(k + 1) * 1000].to_parquet(path / f"part{k}.parquet")
    return path, df


def test_parquet_levels_from_every_partition(parquet_dir):
    path, df = parquet_dir
    formula = "y ~ C(g) + np.log(x)"
    ref = smf.glm(formula, df, family=sm.families.Binomial()).fit(tol=1e-12)
    lazy = dd.read_parquet(path)
    for data in (lazy, lazy.persist()):
        est = BiasReducedGLM(family="binomial", method="ML", formula=formula,
                             tol=1e-12).fit(data)
        assert est.design_.levels["g"] == ["a", "b", "c", "d", "e", "z"]
        assert list(est.summary().index) == list(ref.params.index)
        np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
        assert est.n_blocks_ == 4  # the files


def test_unseen_level_at_predict_names_column_and_level(parquet_dir):
    path, df = parquet_dir
    est = PenalizedGLM(family="binomial", formula="y ~ C(g) + x").fit(df)
    new = df.head(5).assign(g=["a", "b", "q", "a", "q"])
    with pytest.raises(ValueError, match=r"Column 'g' has level\(s\) \['q'\]"):
        est.predict(new)
    with pytest.raises(ValueError, match=r"Column 'g' has level\(s\) \['q'\]"):
        est.predict(dd.from_pandas(new, npartitions=1)).compute()


def test_predictions_written_back_to_parquet(parquet_dir, tmp_path):
    path, df = parquet_dir
    lazy = dd.read_parquet(path)
    est = DLSALogisticRegression(formula="y ~ C(g) + np.log(x) + h").fit(lazy)
    out = lazy.assign(p=est.predict_proba(lazy).iloc[:, 1], label=est.predict(lazy))
    out.to_parquet(tmp_path / "pred")
    back = pd.read_parquet(tmp_path / "pred")
    np.testing.assert_allclose(back["p"], est.predict_proba(df)[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(back["label"], est.predict(df))


def test_x_and_y_selected_from_one_parquet_frame_line_up(parquet_dir):
    """Column projections of an un-persisted read_parquet frame: one block per file."""
    path, df = parquet_dir
    lazy = dd.read_parquet(path)
    X, y = lazy[["x", "m"]], lazy["y"]
    est = DLSALogisticRegression().fit(X, y)
    assert est.n_blocks_ == 4
    ref = DLSALogisticRegression().fit(df[["x", "m"]].to_numpy(), df.y.to_numpy())
    np.testing.assert_allclose(est.params_, ref.params_, atol=1e-6)
    assert lazy.assign(p=est.predict_proba(X).iloc[:, 1]).p.sum().compute() > 0


# -- missing values --------------------------------------------------------------------


def _with_missing(frame):
    df = frame.copy()
    df.loc[[3, 10, 11], "x"] = np.nan
    df["g"] = df["g"].astype(object)
    df.loc[[10, 40], "g"] = None
    return df


def test_missing_raise_names_rows_and_columns(frame):
    df = _with_missing(frame)
    for data in (df, dd.from_pandas(df, npartitions=3)):
        with pytest.raises(ValueError, match=r"4 rows have missing values.*x: 3, g: 2.*"
                                             r"missing='drop'"):
            DLSARegressor(family="binomial", formula="y ~ C(g) + x").fit(data)


def test_missing_drop_equals_statsmodels(frame):
    df = _with_missing(frame)
    ref = smf.glm("y ~ C(g) + x", df, family=sm.families.Binomial(),
                  missing="drop").fit(tol=1e-12)
    for data in (df, dd.from_pandas(df, npartitions=3)):
        est = BiasReducedGLM(family="binomial", method="ML", formula="y ~ C(g) + x",
                             missing="drop", tol=1e-12).fit(data)
        np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
        np.testing.assert_allclose(est.bse_, ref.bse, rtol=0, atol=1e-6)
        assert est.n_obs_ == ref.nobs == len(df) - 4
        pred = est.predict(data)
        pred = pred.compute() if hasattr(pred, "compute") else pred
        assert np.isnan(pred[[3, 10, 11, 40]]).all() and np.isfinite(np.delete(
            pred, [3, 10, 11, 40])).all()


# -- DataFrames without a formula ------------------------------------------------------


def test_frame_with_string_columns_is_encoded(frame):
    X = frame[["g", "h", "x"]]
    est = BiasReducedGLM(family="binomial", method="ML", tol=1e-12).fit(X, frame.y)
    ref = smf.glm("y ~ g + h + x", frame, family=sm.families.Binomial()).fit(tol=1e-12)
    assert est.summary().index[0] == "intercept"
    assert list(est.summary().index[1:]) == list(ref.params.index[1:])  # g[T.b], ...
    np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
    dX = dd.from_pandas(X, npartitions=3)
    dest = BiasReducedGLM(family="binomial", method="ML", tol=1e-12).fit(
        dX, dd.from_pandas(frame.y, npartitions=3))
    np.testing.assert_allclose(dest.params_, ref.params, rtol=0, atol=1e-8)


def test_mixed_int_bool_float_frame_is_cast():
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame({"i": rng.integers(0, 5, n), "b": rng.random(n) < 0.3,
                       "f": rng.normal(size=n)})
    y = rng.binomial(1, 0.4, n)
    ddf = dd.from_pandas(df, npartitions=2)
    est = DLSALogisticRegression().fit(ddf, dd.from_pandas(pd.Series(y), npartitions=2))
    ref = DLSALogisticRegression().fit(df.astype(float).to_numpy(), y, )
    np.testing.assert_allclose(est.params_, ref.params_, atol=1e-6)


# -- formula errors --------------------------------------------------------------------


def test_formula_errors(frame):
    with pytest.raises(ValueError, match="do not pass y"):
        BiasReducedGLM(family="binomial", formula="y ~ x").fit(frame, frame.y)
    with pytest.raises(ValueError, match="has no response"):
        BiasReducedGLM(family="binomial", formula="x + g").fit(frame)
    with pytest.raises(ValueError, match="has no intercept.*fit_intercept=False"):
        BiasReducedGLM(family="binomial", formula="y ~ 0 + g + x").fit(frame)
    with pytest.raises(ValueError, match="has an intercept but fit_intercept=False"):
        BiasReducedGLM(family="binomial", formula="y ~ g + x", fit_intercept=False).fit(frame)
    with pytest.raises(ValueError, match=r"stateful transform\(s\) \['center\(x\)'\]"):
        BiasReducedGLM(family="binomial", formula="y ~ center(x)").fit(frame)
    with pytest.raises(ValueError, match="Cannot evaluate.*nope"):
        BiasReducedGLM(family="binomial", formula="y ~ nope").fit(frame)
    with pytest.raises(TypeError, match="needs a pandas or dask DataFrame"):
        BiasReducedGLM(family="binomial", formula="y ~ x").fit(frame[["x"]].to_numpy())


def test_formula_without_intercept_equals_statsmodels(frame):
    f = "y ~ 0 + C(g) + x"
    ref = smf.glm(f, frame, family=sm.families.Binomial()).fit(tol=1e-12)
    est = BiasReducedGLM(family="binomial", method="ML", formula=f, fit_intercept=False,
                         tol=1e-12).fit(dd.from_pandas(frame, npartitions=2))
    assert list(est.summary().index) == list(ref.params.index)
    np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)


def test_one_graph_reads_each_partition_once_per_pass(frame):
    """Design, response and weights of a block come from one task per partition."""
    ddf = dd.from_pandas(frame, npartitions=3)
    from dask_glmdist.design import dask_blocks, learn_design

    design = learn_design(ddf, FORMULA, fit_intercept=True, y_given=False)
    X, y, w, _, _, _ = dask_blocks(ddf, design, None, "w", None, response=True, missing="raise")
    graph = {**dict(X.__dask_graph__()), **dict(y.__dask_graph__()),
             **dict(w.__dask_graph__())}
    builds = {k for k in graph if "build_block" in str(k)}
    assert len(builds) == 3


def test_string_labels_on_the_left_hand_side(frame):
    df = frame.assign(label=np.where(frame.y == 1, "flown", "cancelled"))
    ref = smf.glm("y ~ C(g) + x", frame, family=sm.families.Binomial()).fit(tol=1e-12)
    for data in (df, dd.from_pandas(df, npartitions=3)):
        for est in (DLSALogisticRegression(formula="label ~ C(g) + x", refine_steps=20,
                                           tol=1e-12),
                    PenalizedLogisticRegression(alpha=0.0, formula="label ~ C(g) + x",
                                                tol=1e-12)):
            est.fit(data)
            assert list(est.classes_) == ["cancelled", "flown"]
            np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)
            labels = est.predict(data)
            labels = labels.compute() if hasattr(labels, "compute") else labels
            np.testing.assert_array_equal(
                labels, np.where(ref.fittedvalues > 0.5, "flown", "cancelled"))


def test_weight_column_is_not_a_term_and_predict_needs_the_columns(frame):
    X = frame[["g", "x", "w"]]
    a = BiasReducedGLM(family="binomial", method="ML").fit(X, frame.y, sample_weight="w")
    assert a._param_names() == ["intercept", "g[T.b]", "g[T.c]", "g[T.d]", "g[T.e]", "x"]
    b = BiasReducedGLM(family="binomial", method="ML").fit(X[["g", "x"]], frame.y,
                                                           sample_weight=frame.w)
    np.testing.assert_allclose(a.params_, b.params_, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['g'\]"):
        a.predict(frame[["x", "w"]])


def test_one_level_categorical_is_refused(frame):
    df = frame.assign(city="Paris")
    with pytest.raises(ValueError, match=r"Column 'city' has one level \('Paris'\)"):
        PenalizedGLM(family="binomial", formula="y ~ city + x").fit(
            dd.from_pandas(df, npartitions=2))


def test_parquet_categorical_column_keeps_its_category_order(tmp_path):
    """A pandas categorical written to Parquet is read back with unknown categories: the
    partitions report their category order, used as in memory (unused ones dropped)."""
    rng = np.random.default_rng(5)
    n = 3000
    df = pd.DataFrame({"g": pd.Categorical(rng.choice(list("dcba"), n),
                                           categories=list("dcbaz")),
                       "x": rng.normal(size=n)})
    df["y"] = rng.binomial(1, 0.4, n)
    for k in range(3):
        df.iloc[k * 1000:(k + 1) * 1000].to_parquet(tmp_path / f"f{k}.parquet")
    lazy = dd.read_parquet(tmp_path)
    ref = smf.glm("y ~ C(g, levels=['d', 'c', 'b', 'a']) + x", df.assign(g=df.g.astype(str)),
                  family=sm.families.Binomial()).fit(tol=1e-12)
    for data in (df, lazy):
        est = BiasReducedGLM(family="binomial", method="ML", formula="y ~ g + x",
                             tol=1e-12).fit(data)
        assert est.design_.levels["g"] == ["d", "c", "b", "a"]
        assert est._param_names() == ["Intercept", "g[T.c]", "g[T.b]", "g[T.a]", "x"]
        np.testing.assert_allclose(est.params_, ref.params, rtol=0, atol=1e-8)


def test_expression_response_and_bad_names(frame):
    df = frame.assign(z=frame["count"].astype(float))
    # (statsmodels/patsy code a boolean response as two columns and model P(False))
    ref = smf.glm("zpos ~ C(g) + x", df.assign(zpos=(df.z > 0).astype(int)),
                  family=sm.families.Binomial()).fit(tol=1e-12)
    est = BiasReducedGLM(family="binomial", method="ML", formula="I(z > 0) ~ C(g) + x",
                         tol=1e-12).fit(dd.from_pandas(df, npartitions=2))
    np.testing.assert_allclose(est.params_, ref.params.to_numpy(), rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="Cannot parse the formula"):
        BiasReducedGLM(family="binomial", formula="y ~ x +* g").fit(frame)
    with pytest.raises(ValueError, match=r"sample_weight='ww' names no column"):
        BiasReducedGLM(family="binomial", formula="y ~ x").fit(frame, sample_weight="ww")


def test_classifier_labels_come_with_the_levels_pass(frame, monkeypatch):
    """String labels of a formula's response are known before the fit's first pass: the
    classifiers make no pass for the labels alone (DLSA: the local fits, then only the
    fit-statistics pass of the fitted contract)."""
    import dask_glmdist.rounds as rounds_module

    rounds = []
    real = rounds_module.run_round
    monkeypatch.setattr(rounds_module, "run_round",
                        lambda *a, **k: rounds.append(k.get("label")) or real(*a, **k))
    df = frame.assign(label=np.where(frame.y == 1, "flown", "cancelled"))
    ddf = dd.from_pandas(df, npartitions=3)
    est = DLSALogisticRegression(formula="label ~ C(g) + x", refine_steps=0).fit(ddf)
    assert est.design_.labels == ["cancelled", "flown"]
    assert rounds == ["DLSA local fits", "DLSALogisticRegression fit statistics"]
    with pytest.raises(ValueError, match="exactly 2 classes"):
        PenalizedLogisticRegression(formula="label ~ x").fit(
            dd.from_pandas(df.assign(label=df.g), npartitions=3))


EVERY_ESTIMATOR = [
    DLSARegressor(family="binomial"),
    DLSALogisticRegression(),
    BiasReducedGLM(family="binomial"),
    PenalizedGLM(family="binomial", alpha=0.001),
    PenalizedLogisticRegression(alpha=0.001),
    PenalizedGLMCV(family="binomial", criterion="bic", n_alphas=4),
    DebiasedLassoRegressor(family="binomial", alpha=0.01),
]


def _every_estimator():
    from dask_glmdist import PenalizedLogisticRegressionCV

    return [*EVERY_ESTIMATOR, PenalizedLogisticRegressionCV(criterion="bic", n_alphas=4)]


@pytest.mark.parametrize("est", _every_estimator(), ids=lambda e: type(e).__name__)
def test_every_estimator_takes_a_formula_and_predicts_on_the_frame(frame, est):
    """Every public estimator: fit(frame) with a formula, predictions on the frame equal
    the fit of the same design as a matrix, partitioned like the frame."""
    from formulaic import model_matrix

    formula = "y ~ C(g) + np.log(x)"
    ddf = dd.from_pandas(frame, npartitions=3)
    a = est.__class__(**{**est.get_params(), "formula": formula}).fit(ddf)
    X = model_matrix("C(g) + np.log(x)", frame).drop(columns="Intercept").to_numpy()
    b = est.__class__(**est.get_params()).fit(
        dd.from_array(X, chunksize=1000), dd.from_array(frame.y.to_numpy(), chunksize=1000))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10)
    pa, pb = a.predict(ddf), b.predict(dd.from_array(X, chunksize=1000))
    assert pa.npartitions == ddf.npartitions
    np.testing.assert_allclose(pa.compute(), pb.compute(), rtol=1e-12)


@pytest.mark.parametrize("formula", [
    FORMULA,
    "y ~ C(g) * h + x:C(m) + np.log(x)",
    "y ~ 0 + C(g) + h:x",
    "y ~ C(m) + x",
    "y ~ 1",
    "y ~ 0 + g + h + x",
    "y ~ C(g, Sum) + h + C(m, Treatment(2)) + x",
    "y ~ s + h + s:x + np.log(x)",
])
def test_block_encoding_equals_formulaic_dense_model_matrix(frame, formula):
    """A block's design (categorical main effects one-hot from their codes, the other
    terms by formulaic's sub-spec; or all by formulaic's sparse output densified, the
    intercept term left out of the spec) is formulaic's dense model matrix, value for
    value, also for a block that lacks levels, has a user-ordered categorical with an
    unused category, and missing values kept as NaN rows; full-rank and other contrasts
    (Sum, a chosen reference) included."""
    from formulaic import model_matrix

    from dask_glmdist.design import build_block, learn_design

    df = frame.copy()
    df["h"] = pd.Categorical(df["h"], categories=["w", "u", "v", "zz"])
    df["s"] = df["g"].astype("string")  # pandas' string dtype (Parquet's): not a category
    design = learn_design(df, formula, fit_intercept="0 +" not in formula, y_given=False)
    block = df[df.g.isin(["b", "c"]) & (df.m != 2)].iloc[:200].copy()
    block.loc[block.index[:3], "x"] = np.nan
    X = build_block(block, design, response=False, missing="keep")[0]
    # what a fit codes (formulaic itself does not see pandas' string dtype as categorical)
    observed = df.assign(h=df.h.cat.remove_unused_categories(), s=df.s.astype(object))
    spec = model_matrix(formula.split("~")[1], observed, na_action="ignore").model_spec
    with warnings.catch_warnings():  # pandas' deprecation notes inside formulaic
        warnings.simplefilter("ignore")
        ref = np.asarray(spec.get_model_matrix(block.assign(s=block.s.astype(object)),
                                               na_action="ignore", output="numpy"))
    ref = ref[:, 1:] if "Intercept" in spec.column_names else ref
    ref[:3] = np.nan
    assert X.shape == ref.shape and X.dtype == np.float64 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, ref)
    assert design.column_names == [c for c in spec.column_names if c != "Intercept"]


@pytest.mark.parametrize("make", [
    lambda: BiasReducedGLM(family="binomial", method="ML", formula=FORMULA),
    lambda: DLSALogisticRegression(formula=FORMULA),
], ids=["BiasReducedGLM", "DLSALogisticRegression"])
def test_each_block_is_encoded_once_per_pass(frame, monkeypatch, make):
    """X, y and the block reports share one build_block task per partition and pass
    (optimizing each collection's graph on its own used to duplicate it: 3 per pass)."""
    import dask

    from dask_glmdist import design

    calls = []
    build = design.build_block

    def counting(*args, **kwargs):
        calls.append(kwargs.get("block_index"))
        return build(*args, **kwargs)

    monkeypatch.setattr(design, "build_block", counting)
    with dask.config.set(scheduler="sync"):
        est = make().fit(dd.from_pandas(frame, npartitions=3))
    passes = getattr(est, "n_rounds_", None) or est.n_iter_
    assert est.n_blocks_ == 3
    assert len(calls) == 3 * passes and sorted(set(calls)) == [0, 1, 2]
