"""One warning per kind of problem per fit, and flagged parameters in summary()."""

import logging
import warnings

import numpy as np
import pytest

from dask_glmdist.diagnostics import BlockReport, ParamFlag, short_list
from dask_glmdist.inference import coef_table, wald_test


def test_short_list():
    assert short_list([1, 2, 3]) == "[1, 2, 3]"
    assert short_list(range(20), limit=3) == "[0, 1, 2, ... (20 in all)]"


def test_block_report_warns_once_per_kind_and_keeps_the_detail(caplog):
    report = BlockReport()
    for k in range(96):
        report.add("constant", k, columns=[f"month_{k % 12}"], detail="constant in block")
    report.add("fallback", 5, detail="separation")
    messages = {
        "constant": (UserWarning, "Row blocks {blocks}: columns {columns} constant"),
        "fallback": (RuntimeWarning, "Row blocks {blocks} ({n_blocks}): {detail}"),
    }
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(
            logging.DEBUG, logger="dask_glmdist"):
        warnings.simplefilter("always")
        report.emit(messages)
    assert len(caught) == 2
    first, second = (str(w.message) for w in caught)
    assert first.startswith("Row blocks [0, 1, 2, 3, 4, 5, 6, 7, ... (96 in all)]")
    assert "month_0, month_1" in first and "(12 in all)" in first
    assert second == "Row blocks [5] (1): separation"
    assert caught[1].category is RuntimeWarning
    frame = report.frame()
    assert len(frame) == 97 and list(frame.columns) == ["block", "problem", "columns", "detail"]
    assert sum("row block" in r.message for r in caplog.records) == 97


def test_flagged_parameters_in_the_coefficient_table():
    params = np.array([0.5, -11.1, 2.0])
    cov = np.diag([0.01, 34.8**2, 0.04])
    flags = {"b": ParamFlag("infinite", "the estimate does not exist", sign=-1),
             "c": ParamFlag("unidentified", "collinear with a")}
    t = coef_table(params, cov, ["a", "b", "c"], flags=flags)
    assert t.loc["a", "std_err"] == pytest.approx(0.1)
    assert t.loc["b", "coef"] == -np.inf and t.loc["c", "coef"] == 2.0
    assert t.loc[["b", "c"], ["std_err", "z", "p_value", "ci_lower", "ci_upper"]].isna().all(
        axis=None)
    text = repr(t)
    assert "Notes:" in text and "b: the estimate does not exist" in text
    assert "c: collinear with a" in text
    assert "Notes:" not in repr(coef_table(params, cov, ["a", "b", "c"]))
    R = np.array([[1.0, 0.0, 0.0]])
    assert wald_test(params, cov, R, names=["a", "b", "c"], flags=flags)["df"] == 1
    with pytest.raises(ValueError, match=r"\['b'\] without a usable standard error"):
        wald_test(params, cov, [[0.0, 1.0, 0.0]], names=["a", "b", "c"], flags=flags)
