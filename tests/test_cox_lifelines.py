"""DLSACoxRegression against lifelines' CoxPHFitter on the Rossi recidivism data.

lifelines cannot be installed next to pandas 3: its numbers were recorded by
tests/data/make_cox_lifelines_reference.py (lifelines 0.30.3, Efron ties) into
tests/data/cox_lifelines_reference.json.
"""

import json
import os

import numpy as np
import pandas as pd
import pytest

from dask_glmdist import DLSACoxRegression

HERE = os.path.join(os.path.dirname(__file__), "data")
COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(os.path.join(HERE, "rossi.csv"))


@pytest.fixture(scope="module")
def ref():
    with open(os.path.join(HERE, "cox_lifelines_reference.json")) as f:
        return json.load(f)


def _check_fit(model, r, names, coef_tol=1e-8, se_tol=1e-8):
    coef = np.array([r["coef"][c] for c in names])
    se = np.array([r["se"][c] for c in names])
    np.testing.assert_allclose(model.coef_, coef, atol=coef_tol, rtol=0)
    np.testing.assert_allclose(model.bse_, se, atol=se_tol, rtol=0)
    assert model.loglik_ == pytest.approx(r["loglik"], abs=1e-8)


def _baseline_check(model, r, names, column_ours, column_ll):
    """Both baselines are at the mean covariates (lifelines' ``_norm_mean``)."""
    mean = np.array([r["norm_mean"][c] for c in names])
    np.testing.assert_allclose(model.baseline_mean_, mean, rtol=1e-14)
    ours = model.baseline_cumulative_hazard_[column_ours]
    ll = pd.Series(r["baseline_cumulative_hazard"][column_ll]["value"],
                   index=r["baseline_cumulative_hazard"][column_ll]["time"])
    np.testing.assert_allclose(ours.to_numpy(), ll.reindex(ours.index.to_numpy()).to_numpy(),
                               rtol=1e-6)


def _partial_hazard_check(model, df, r):
    """exp((x - mean)'beta), as lifelines' predict_partial_hazard (the coefficients agree
    to 1e-8, times |x - mean| up to ~20)."""
    np.testing.assert_allclose(model.predict_partial_hazard(df.iloc[:3]),
                               r["partial_hazard_first3"], rtol=1e-7)
    np.testing.assert_allclose(model.predict(df.iloc[:3]), r["partial_hazard_first3"],
                               rtol=1e-7)
    np.testing.assert_allclose(model.predict_log_partial_hazard(df.iloc[:3]),
                               r["log_partial_hazard_first3"], rtol=0, atol=1e-7)


def test_one_block_is_lifelines(rossi, ref):
    model = DLSACoxRegression(n_partitions=1).fit(rossi, "week", "arrest")
    r = ref["all"]
    _check_fit(model, r, COVARIATES)
    assert list(model.feature_names_in_) == COVARIATES
    _baseline_check(model, r, COVARIATES, "baseline cumulative hazard",
                    "baseline cumulative hazard")
    _partial_hazard_check(model, rossi[COVARIATES], r)
    assert model.score(rossi, "week", "arrest") == pytest.approx(r["concordance"], abs=1e-12)
    sf = model.predict_survival_function(rossi.iloc[:3], times=r["survival_first3"]["times"])
    np.testing.assert_allclose(sf.to_numpy().T, r["survival_first3"]["values"], rtol=1e-6)


def test_four_blocks_refined_are_lifelines_stratified_by_block(rossi, ref):
    """Rows split into 4 blocks, refined to convergence: lifelines' fit with the block
    as a stratum."""
    order = np.argsort(np.arange(len(rossi)) % 4, kind="stable")
    df = rossi.iloc[order].reset_index(drop=True)
    # block 1 has no arrest among the married: its local estimate of mar runs off to
    # -inf (monotone likelihood); it is left out of the one-round combination only
    with pytest.warns(UserWarning, match=r"Row block\(s\) \[1\] were left out"):
        model = DLSACoxRegression(n_partitions=4, refine_steps=20, tol=1e-12).fit(
            df, "week", "arrest")
    assert model.n_blocks_ == 4
    diag = model.block_diagnostics_
    assert list(diag["block"]) == [1]
    # the local fit stops on the flat likelihood (theta_mar ~ -37, no information left
    # along it): flagged as running off to infinity, naming mar
    assert diag["problem"].iloc[0] == "monotone" and diag["columns"].iloc[0] == ["mar"]
    assert list(model.wlse_blocks_) == [0, 2, 3]
    _check_fit(model, ref["blocks"], COVARIATES)
    assert model.converged_
    with pytest.warns(UserWarning, match="rests on the other blocks only"):
        one_round = DLSACoxRegression(n_partitions=4, refine_steps=0).fit(df, "week",
                                                                           "arrest")
    # one round on blocks of 108 rows (about 28 events for 7 covariates): 1.35 standard
    # errors from the block-stratified MLE in the worst coordinate
    assert np.max(np.abs(one_round.coef_ - model.coef_) / model.bse_) < 2.0


def test_strata_within_the_block_are_lifelines_strata(rossi, ref):
    names = [c for c in COVARIATES if c != "wexp"]
    model = DLSACoxRegression(n_partitions=1).fit(rossi, "week", "arrest", strata="wexp")
    r = ref["strata_wexp"]
    _check_fit(model, r, names)
    assert list(model.baseline_cumulative_hazard_.columns) == [0, 1]
    for label in (0, 1):
        _baseline_check(model, r, names, label, str(label))
    _partial_hazard_check(model, rossi[names], r)
    sf = model.predict_survival_function(rossi.iloc[:3], times=r["survival_first3"]["times"],
                                         strata="wexp")
    np.testing.assert_allclose(sf.to_numpy().T, r["survival_first3"]["values"], rtol=1e-6)


def test_case_weights_are_lifelines_weights(rossi, ref):
    df = rossi.assign(w=1.0 + np.arange(len(rossi)) % 3)
    model = DLSACoxRegression(n_partitions=1).fit(df, "week", "arrest", sample_weight="w")
    _check_fit(model, ref["weighted"], COVARIATES)
    assert model.n_events_ == pytest.approx(float((df["w"] * df["arrest"]).sum()))
