"""DLSACoxRegression through the library's design: ``formula=`` (the right-hand side) and
string/categorical columns without one -- against the hand-built design matrix and
statsmodels' ``PHReg.from_formula`` on the Rossi recidivism data."""

import warnings
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg

from dask_glmdist import DLSACoxRegression

ROSSI = Path(__file__).parent / "data" / "rossi.csv"
COEF_TOL, SE_TOL = 1e-8, 1e-6
FORMULA = "fin + age + C(race)"


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(ROSSI)


def _close(model, ref):
    """Coefficients and standard errors by name (patsy puts categorical terms first)."""
    names = list(model.summary().index)
    assert sorted(names) == sorted(ref.model.exog_names)
    order = [list(ref.model.exog_names).index(n) for n in names]
    np.testing.assert_allclose(model.coef_, ref.params[order], atol=COEF_TOL, rtol=0)
    np.testing.assert_allclose(model.bse_, ref.bse[order], atol=SE_TOL, rtol=0)


def _hand_design(df):
    return np.column_stack([df["fin"], df["age"], (df["race"] == 1).astype(float)])


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_formula_is_the_hand_built_design_and_phreg(rossi, ties):
    model = DLSACoxRegression(formula=FORMULA, ties=ties, n_partitions=1, tol=1e-12).fit(
        rossi, "week", "arrest")
    hand = DLSACoxRegression(ties=ties, n_partitions=1, tol=1e-12).fit(
        _hand_design(rossi), rossi["week"], rossi["arrest"])
    ref = PHReg.from_formula("week ~ fin + age + C(race)", rossi, status="arrest",
                             ties=ties).fit(disp=False)
    assert list(model.summary().index) == ["fin", "age", "C(race)[T.1]"]
    np.testing.assert_allclose(model.coef_, hand.coef_, atol=1e-12, rtol=0)
    np.testing.assert_allclose(model.baseline_mean_, hand.baseline_mean_, atol=1e-12)
    _close(model, ref)
    assert list(model.feature_names_in_) == list(rossi.columns)
    # predictions through the stored design == those of the hand-built matrix
    np.testing.assert_allclose(model.predict(rossi.head(20)),
                               hand.predict(_hand_design(rossi.head(20))), rtol=1e-12)
    np.testing.assert_allclose(
        model.predict_survival_function(rossi.head(5), times=[10, 30]).to_numpy(),
        hand.predict_survival_function(_hand_design(rossi.head(5)), times=[10, 30]).to_numpy(),
        rtol=1e-12)


def test_leading_tilde_and_column_names_for_strata_entry_weights(rossi):
    df = rossi.assign(w=1.0 + (rossi["prio"] % 3), off=0.1 * rossi["mar"],
                      entry=np.where(rossi["paro"] == 1, 0.5, 0.0))
    kw = dict(strata="wexp", entry="entry", sample_weight="w", offset="off")
    model = DLSACoxRegression(formula="~ fin + age + C(race)", n_partitions=1,
                              ties="breslow").fit(df, "week", "arrest", **kw)
    hand = DLSACoxRegression(n_partitions=1, ties="breslow").fit(
        _hand_design(df), df["week"], df["arrest"], **{k: df[v] for k, v in kw.items()})
    np.testing.assert_allclose(model.coef_, hand.coef_, atol=1e-10, rtol=0)
    np.testing.assert_allclose(model.bse_, hand.bse_, atol=1e-10, rtol=0)


# -- dask: Parquet files whose categorical levels differ --------------------------------


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory, rossi):
    """Three files, each holding two of the three levels of a categorical ``prio_cat``
    (low, mid, high by prio), each file's column with its own categories only."""
    df = rossi.copy()
    df["prio_cat"] = np.where(df["prio"] <= 1, "low", np.where(df["prio"] <= 4, "mid", "high"))
    rng = np.random.default_rng(0)
    files = {"low": (0, 2), "mid": (0, 1), "high": (1, 2)}
    df["file"] = [files[c][rng.integers(2)] for c in df["prio_cat"]]
    df = df.sort_values("file", kind="stable").reset_index(drop=True)
    path = tmp_path_factory.mktemp("rossi_parquet")
    for k in range(3):
        part = df[df["file"] == k].copy()
        part["prio_cat"] = pd.Categorical(part["prio_cat"])  # this file's levels only
        part.to_parquet(path / f"part{k}.parquet")
    return path, df


def test_parquet_categorical_levels_differ_between_files(parquet_dir):
    path, df = parquet_dir
    lazy = dd.read_parquet(path)
    assert lazy.npartitions == 3
    seen = [set(pd.read_parquet(path / f"part{k}.parquet")["prio_cat"]) for k in range(3)]
    assert len(set.union(*seen)) == 3 and all(len(s) == 2 for s in seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the two levels of a file: collinear within it
        model = DLSACoxRegression(formula="fin + age + C(prio_cat)", ties="breslow",
                                  refine_steps=30, tol=1e-12).fit(lazy, "week", "arrest")
    ref = PHReg.from_formula("week ~ fin + age + C(prio_cat)", df, status="arrest",
                             strata=df["file"].to_numpy()).fit(disp=False)
    assert list(model.summary().index) == [
        "fin", "age", "C(prio_cat)[T.low]", "C(prio_cat)[T.mid]"]
    assert model.n_blocks_ == 3 and model.converged_
    _close(model, ref)
    # predictions assign back to the un-persisted frame, through the design
    out = lazy.assign(risk=model.predict(lazy)).compute()
    np.testing.assert_allclose(out["risk"].to_numpy(), model.predict(df), rtol=1e-12)
    S = model.predict_survival_function(lazy, times=[10.0, 40.0]).compute()
    np.testing.assert_allclose(
        S.to_numpy(), model.predict_survival_function(df, times=[10.0, 40.0]).to_numpy().T,
        rtol=1e-12)


def test_unseen_level_at_predict_is_an_error(parquet_dir):
    path, df = parquet_dir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = DLSACoxRegression(formula="fin + C(prio_cat)").fit(
            dd.read_parquet(path), "week", "arrest")
    new = df.head(3).assign(prio_cat=["low", "none", "mid"])
    with pytest.raises(ValueError, match=r"'prio_cat' has level\(s\) \['none'\]"):
        model.predict(new)
    with pytest.raises(ValueError, match="lacks column"):
        model.predict(df.drop(columns="fin"))


# -- missing values ----------------------------------------------------------------------


def _with_missing(rossi):
    df = rossi.copy()
    df["age"] = df["age"].astype(float)
    df.loc[[3, 50], "age"] = np.nan
    df["race"] = df["race"].map({0: "0", 1: "1"})  # strings: dask keeps their type
    df.loc[[7], "race"] = None
    df.loc[[50, 90], "week"] = np.nan
    return df


@pytest.mark.parametrize("lazy", [False, True])
def test_missing_value_in_a_formula_column_is_named(rossi, lazy):
    df = _with_missing(rossi)
    X = dd.from_pandas(df, npartitions=3) if lazy else df
    with pytest.raises(ValueError, match=r"4 rows have missing values.*age: 2.*race: 1"):
        DLSACoxRegression(formula=FORMULA).fit(X, "week", "arrest")


@pytest.mark.parametrize("lazy", [False, True])
def test_missing_drop_drops_the_whole_row(rossi, lazy):
    df = _with_missing(rossi)
    X = dd.from_pandas(df, npartitions=3) if lazy else df
    model = DLSACoxRegression(formula=FORMULA, missing="drop", n_partitions=1,
                              refine_steps=30, tol=1e-12).fit(X, "week", "arrest")
    kept = df.dropna(subset=["age", "race", "week"])
    block = np.zeros(len(df), dtype=int)  # the dask frame's partitions are strata
    if lazy:
        for k in range(X.npartitions):
            block[X.partitions[k].index.compute()] = k
    ref = DLSACoxRegression(n_partitions=1, refine_steps=30, tol=1e-12).fit(
        _hand_design(kept.assign(race=kept["race"].astype(int))), kept["week"], kept["arrest"],
        strata=block[kept.index] if lazy else None)
    assert model.n_dropped_ == 4 and model.n_obs_ == len(kept)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-9, rtol=0)
    eta = model.predict_log_partial_hazard(df.head(10))  # missing="drop": NaN, not an error
    assert np.isnan(eta[[3, 7]]).all() and np.isfinite(np.delete(eta, [3, 7])).all()


# -- without a formula -------------------------------------------------------------------


@pytest.mark.parametrize("lazy", [False, True])
def test_string_column_without_formula_is_encoded(rossi, lazy):
    df = rossi[["week", "arrest", "fin", "age"]].assign(
        race=np.where(rossi["race"] == 1, "black", "other"))
    X = dd.from_pandas(df, npartitions=1) if lazy else df
    model = DLSACoxRegression(n_partitions=1, tol=1e-12).fit(X, "week", "arrest")
    hand = np.column_stack([df["fin"], df["age"], (df["race"] == "other").astype(float)])
    ref = DLSACoxRegression(n_partitions=1, tol=1e-12).fit(hand, df["week"], df["arrest"])
    assert list(model.summary().index) == ["fin", "age", "race[T.other]"]
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-12, rtol=0)
    assert model.design_.from_formula is False


# -- refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("formula, match", [
    ("week ~ fin + age", "left-hand side.*fit\\(df, 'week', 'arrest'\\)"),
    ("0 + fin + age", "removes the intercept"),
    ("fin - 1", "removes the intercept"),
    ("1", "no covariates"),
    ("fin + week", "given as durations='week'"),
    ("fin + nosuch", "nosuch"),
])
def test_bad_formulas(rossi, formula, match):
    with pytest.raises(ValueError, match=match):
        DLSACoxRegression(formula=formula).fit(rossi, "week", "arrest")


def test_formula_needs_a_frame(rossi):
    with pytest.raises(TypeError, match="needs a pandas or dask DataFrame"):
        DLSACoxRegression(formula="fin").fit(rossi[["fin"]].to_numpy(), rossi["week"])


def test_collinear_or_constant_terms_are_errors(rossi):
    with pytest.raises(ValueError, match=r"rank deficient.*I\(2 \* age\) \(a linear "
                                         r"combination of \['age'\]\)"):
        DLSACoxRegression(formula="fin + age + I(2 * age)").fit(rossi, "week", "arrest")
    with pytest.raises(ValueError, match=r"constant within every row block"):
        DLSACoxRegression(formula="fin + I(fin * 0 + 3)").fit(rossi, "week", "arrest")
