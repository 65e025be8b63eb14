"""DebiasedLassoRegressor on degenerate blocks and designs (issue 11): never a confident
number the data cannot support -- a block left out with one warning, an exact answer
or a clear error naming the block, column or response."""

import logging
import re
import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dask_glmdist import DebiasedLassoRegressor, SeparationWarning


def _logistic(rng, n, p=5):
    X = rng.normal(size=(n, p))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-0.5 * X[:, 0]))).astype(float)
    return X, y


def _dask(X, y, chunks, w=None):
    Xd = da.from_array(X, chunks=(chunks, -1))
    out = [Xd, da.from_array(y, chunks=(chunks,))]
    if w is not None:
        out.append(da.from_array(w, chunks=(chunks,)))
    return out


@pytest.mark.parametrize(("family", "link"), [("binomial", None), ("gaussian", None),
                                            ("gaussian", "log")])
def test_a_tiny_block_is_left_out_with_one_warning(rng, family, link):
    """A 3-row dask block next to 200-row blocks (p = 6). Before: its local fit ran off
    (binomial y all 0 there: intercept -3.8e106 with se 0.08) or overfit with an equal
    share of the average; the warnings blamed constant columns."""
    X, y = _logistic(rng, 603)
    if family == "gaussian":
        y = np.exp(1.0 + 0.3 * X[:, 0]) + rng.normal(size=603)
    y[-3:] = 0.0  # the dispersion of the log link comes from a second pass
    chunks = (200, 200, 200, 3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        m = DebiasedLassoRegressor(alpha=0.01, family=family, link=link).fit(*_dask(X, y, chunks))
    assert [str(w.message)[:62] for w in seen] == [
        "Row blocks [3] were left out of the estimate: they have fewer "]
    assert "than 64 rows with positive weight (row block 3 has 3; the median block has " \
           "200)" in str(seen[0].message)
    assert m.n_blocks_ == 4 and m.n_blocks_used_ == 3 and m.n_obs_ == 600
    diag = m.block_diagnostics_
    assert diag[diag.problem == "left_out"].block.tolist() == [3]
    # the estimate is that of the other blocks' rows: exactly so with every block's
    # node-wise rows, and up to the mosaic's choice of rows otherwise
    ref = DebiasedLassoRegressor(alpha=0.01, family=family, link=link).fit(
        *_dask(X[:600], y[:600], chunks[:3]))
    assert np.all(np.abs(m.params_ - ref.params_) < 0.25 * ref.bse_)
    with pytest.warns(UserWarning, match="left out"):
        full = DebiasedLassoRegressor(alpha=0.01, family=family, link=link, nodewise="full").fit(
            *_dask(X, y, chunks))
    ref = DebiasedLassoRegressor(alpha=0.01, family=family, link=link, nodewise="full").fit(
        *_dask(X[:600], y[:600], chunks[:3]))
    np.testing.assert_allclose(full.params_, ref.params_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(full.bse_, ref.bse_, rtol=1e-10)


def test_a_smaller_block_with_enough_rows_per_parameter_is_used(rng):
    """A last partition of 130 rows (over 20 per parameter) next to blocks of 1000 is
    an ordinary block, though under half the median."""
    X, y = _logistic(rng, 2130)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = DebiasedLassoRegressor(alpha=0.02, family="binomial").fit(
            *_dask(X, y, (1000, 1000, 130)))
    assert m.n_blocks_ == m.n_blocks_used_ == 3 and m.n_obs_ == 2130
    assert m.block_diagnostics_.empty and m.param_flags_ == {}


def test_blocks_whose_local_estimate_does_not_exist_are_an_error(rng):
    """One positive in 20,000 rows over 10 blocks: 9 blocks have y all 0 and no local
    intercept. Before: intercept -1e108 with se 1.0 (MLE -12.2 +- 2.4). Leaving those
    blocks out would select blocks by their response (the one left would give about
    log(1/2000) = -7.6)."""
    X = rng.normal(size=(20_000, 3))
    y = np.zeros(20_000)
    y[123] = 1.0
    with pytest.raises(ValueError, match=r"local estimates of row blocks \[1, 2, 3, 4, 5, 6, "
                       r"7, 8, \.\.\. \(9 in all\)\] do not exist \(row block 1: y is 0 in every "
                       r"row \(the edge of the binomial family's range\), so the unpenalised "
                       r"intercept runs to -infinity\)"):
        DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=10).fit(X, y)
    with pytest.raises(ValueError, match=r"Invalid y: y is 0 in every row, the edge of the "
                       "poisson family's range"):
        DebiasedLassoRegressor(alpha=0.01, family="poisson", n_partitions=4).fit(
            X, np.zeros(20_000))
    with pytest.raises(ValueError, match=r"Invalid y: y is 1 in every row, the edge of the "
                       "binomial family's range"):
        DebiasedLassoRegressor(family="binomial").fit(*_dask(X, np.ones(20_000), 5000))
    # so is separation along an unpenalised coefficient (alpha = 0)
    Xs, ys = _logistic(rng, 600)
    ys[200:400] = (Xs[200:400, 0] > 0).astype(float)
    with pytest.raises(ValueError, match=r"row blocks \[1\] do not exist \(row block 1: the "
                       "penalised loss keeps decreasing along unpenalised coefficients"):
        DebiasedLassoRegressor(alpha=0.0, family="binomial", n_partitions=3).fit(Xs, ys)
    # and the local maximum likelihood fit of the naive unregularized average (before:
    # that block was left out of the average with a warning)
    with pytest.raises(ValueError, match=r"row blocks \[1\] do not exist \(row block 1: the "
                       "likelihood keeps increasing"):
        DebiasedLassoRegressor(method="naive_unregularized", family="binomial",
                               n_partitions=3).fit(Xs, ys)


@pytest.mark.parametrize("method", ["debiased", "naive_unregularized"])
def test_duplicated_column_is_an_error_naming_it(rng, method):
    """Before: x0 = 0.498 and its copy x5 = 0.050, each se 0.018, x5 'significant'. The
    message is the package's one rank rule (design_checks.check_identified)."""
    X = rng.normal(size=(3000, 5))
    y = 0.5 * X[:, 0] + rng.normal(size=3000)
    X = np.c_[X, X[:, 0]]
    with pytest.raises(ValueError, match=rf"DebiasedLassoRegressor\(method='{method}'\): the "
                       r"design is rank deficient over the rows with positive weight: x5 \(a "
                       r"linear combination of \['x0'\]\)"):
        DebiasedLassoRegressor(alpha=0.05, method=method, n_partitions=3).fit(X, y)
    Xc = np.c_[X[:, :5], 2.0 * X[:, 0] - X[:, 1]]
    with pytest.raises(ValueError, match=r"x5 \(a linear combination of \['x0', 'x1'\]\)"):
        DebiasedLassoRegressor(alpha=0.05, method=method, n_partitions=3).fit(Xc, y)
    # without an intercept the same rule applies
    with pytest.raises(ValueError, match=r"x5 \(a linear combination of \['x0'\]\)"):
        DebiasedLassoRegressor(alpha=0.05, method=method, fit_intercept=False,
                               n_partitions=3).fit(X, y)


def test_duplicated_column_in_the_naive_average_is_a_warning(rng):
    """The naive average has no standard errors; the elastic-net penalty splits the
    estimate between the two copies."""
    X = rng.normal(size=(3000, 5))
    y = 0.5 * X[:, 0] + rng.normal(size=3000)
    with pytest.warns(UserWarning, match=r"rank deficient over the rows with positive weight: "
                      r"x5 \(a linear combination of \['x0'\]\)\. The penalty alone decides"):
        m = DebiasedLassoRegressor(alpha=0.05, l1_ratio=0.5, method="naive", n_partitions=3).fit(
            np.c_[X, X[:, 0]], y)
    ref = DebiasedLassoRegressor(alpha=0.05, l1_ratio=0.5, method="naive", n_partitions=3).fit(X, y)
    np.testing.assert_allclose(m.coef_[1:5], ref.coef_[1:], atol=0.01)


@pytest.mark.parametrize("column", [np.zeros, np.ones])
def test_constant_or_all_zero_column_is_an_error_naming_it(rng, column):
    X = rng.normal(size=(600, 4))
    X = pd.DataFrame(np.c_[X[:, :2], column(600), X[:, 2:]], columns=list("abzcd"))
    kind = "zero on every row with positive weight" if column is np.zeros else \
        "constant: a multiple of the intercept"
    with pytest.raises(ValueError, match=rf"rank deficient over the rows with positive "
                       rf"weight: z \({kind}\)"):
        DebiasedLassoRegressor(n_partitions=3).fit(X, rng.normal(size=600))


def test_zero_weights(rng):
    """Before: ZeroDivisionError in local_enet.py for a block of zero weights."""
    X, y = _logistic(rng, 900)
    w = rng.uniform(0.5, 2.0, size=900)
    w[:300] = 0.0  # block 0 of 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = DebiasedLassoRegressor(alpha=0.01, family="binomial", nodewise="full",
                                   n_partitions=3).fit(X, y, sample_weight=w)
    ref = DebiasedLassoRegressor(alpha=0.01, family="binomial", nodewise="full",
                                 n_partitions=2).fit(X[300:], y[300:], sample_weight=w[300:])
    np.testing.assert_allclose(m.params_, ref.params_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.bse_, ref.bse_, rtol=1e-10)
    assert m.block_diagnostics_.problem.tolist() == ["zero_weight"]
    with pytest.raises(ValueError, match="sample_weight is 0 in every row"):
        DebiasedLassoRegressor().fit(*_dask(X, y, 300, np.zeros(900)))


def test_constant_gaussian_y_is_an_exact_fit_said_so(rng):
    X = rng.normal(size=(600, 4))
    with pytest.warns(UserWarning, match="The residual sum of squares is 0: y is an exact "
                      "linear function of the columns"):
        m = DebiasedLassoRegressor(n_partitions=3).fit(X, np.full(600, 2.5))
    np.testing.assert_allclose(m.params_, [2.5, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(m.bse_, 0.0, atol=1e-12)


def _frame_with_an_empty_partition(rng, family):
    X, y = _logistic(rng, 3000)
    if family == "gaussian":
        y = 0.5 * X[:, 0] + rng.normal(size=3000)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["y"] = y
    df["part"] = np.repeat([0, 1, 2], 1000)
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    kept = ddf[ddf.part != 1]  # partition 1 is empty, chunk sizes unknown
    return kept[list("abcde")], kept["y"], df[df.part != 1]


@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_an_empty_partition_is_skipped(rng, family):
    """Before: refused ('fewer rows than model parameters'), then (with empty blocks
    skipped) its mosaic rows were blamed on constant columns."""
    Xd, yd, pdf = _frame_with_an_empty_partition(rng, family)
    Xm, ym = pdf[list("abcde")], pdf["y"].to_numpy()
    for kw in ({"nodewise": "full"}, {"method": "naive"},
               {"method": "naive_unregularized"}):
        m = DebiasedLassoRegressor(alpha=0.02, family=family, **kw).fit(Xd, yd)
        ref = DebiasedLassoRegressor(alpha=0.02, family=family, n_partitions=2, **kw).fit(Xm, ym)
        np.testing.assert_allclose(m.params_, ref.params_, rtol=0, atol=1e-10)
        assert m.n_blocks_ == 3 and m.n_blocks_used_ == 2 and m.n_obs_ == 2000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = DebiasedLassoRegressor(alpha=0.02, family=family).fit(Xd, yd)
    # the mosaic assigns node-wise rows by partition index: the empty partition's share
    # comes from the blocks' mean weighted Gram, so it differs from the fit without the
    # partition only in which (equally valid) node-wise rows debias
    ref = DebiasedLassoRegressor(alpha=0.02, family=family, n_partitions=2).fit(Xm, ym)
    assert np.all(np.abs(m.params_ - ref.params_) < 0.25 * ref.bse_)
    np.testing.assert_allclose(m.bse_, ref.bse_, rtol=0.2)
    assert m.block_diagnostics_.to_dict("list") == {
        "block": [1], "problem": ["empty"], "columns": [[]], "detail": ["0 rows: skipped"]}
    # known chunk sizes with an empty chunk: the same fit
    Xk = da.from_array(Xm.to_numpy(), chunks=((1000, 0, 1000), -1))
    k = DebiasedLassoRegressor(alpha=0.02, family=family).fit(
        Xk, da.from_array(ym, chunks=(Xk.chunks[0],)))
    np.testing.assert_allclose(k.params_, m.params_, rtol=0, atol=1e-12)


def test_float32_dask_input_is_the_float64_fit(rng):
    """Before the shared float64 cast: every block 'not converged'."""
    X, y = _logistic(rng, 2000)
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = DebiasedLassoRegressor(alpha=0.02, family="binomial").fit(*_dask(X32, y, 500))
    b = DebiasedLassoRegressor(alpha=0.02, family="binomial").fit(
        *_dask(X32.astype(np.float64), y, 500))
    np.testing.assert_array_equal(a.params_, b.params_)
    np.testing.assert_array_equal(a.bse_, b.bse_)


@pytest.mark.filterwarnings("ignore:Columns \\[x4\\] are constant")
def test_one_row_dummy_matches_least_squares(rng):
    """A column that is 1 on one row only: constant (0) in two of three blocks, its
    node-wise row formed from the blocks' mean Gram. Before: its estimate and standard
    error were 3 (the number of blocks) times too large: 5.12 +- 2.95 against OLS's
    1.78 +- 0.98."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 4))
    d = np.zeros(3000)
    d[1500] = 1.0
    y = X[:, 0] + 2.0 * d + rng.normal(size=3000)
    Xd = np.c_[X, d]
    ols = sm.OLS(y, sm.add_constant(Xd)).fit()
    with pytest.warns(UserWarning, match=r"Columns \[x4\] are constant within row blocks "
                      r"\[0, 2\]"):
        m = DebiasedLassoRegressor(alpha=0.02, n_partitions=3).fit(Xd, y)
    assert abs(m.params_[-1] - ols.params[-1]) < 0.1 * ols.bse[-1]
    np.testing.assert_allclose(m.bse_[-1], ols.bse[-1], rtol=0.01)
    # binomial: the maximum likelihood estimate is infinite (its sign that of the row's
    # residual); before the separation check the one-step estimate was a finite
    # 1.64 +- 2.05, now it is flagged like DLSA, PenalizedGLM and BiasReducedGLM(ML) do
    yb = (rng.random(3000) < 1.0 / (1.0 + np.exp(-X[:, 0]))).astype(float)
    sign = 1 if yb[1500] == 1 else -1
    with pytest.warns(SeparationWarning, match=re.escape(f"[x4 ({'+' if sign > 0 else '-'}inf)]")):
        mb = DebiasedLassoRegressor(alpha=0.02, family="binomial", n_partitions=3).fit(Xd, yb)
    assert {n: (f.kind, f.sign) for n, f in mb.param_flags_.items()} == {
        "x4": ("infinite", sign)}
    assert np.isnan(mb.bse_[-1]) and np.all(np.isfinite(mb.bse_[:-1]))


def test_one_warning_per_kind_over_many_blocks(rng, caplog):
    """A dummy absent from 12 of 16 blocks: one warning per kind, blocks shortened, the
    detail in block_diagnostics_ and in the DEBUG log."""
    X = rng.normal(size=(16 * 150, 3))
    d = np.zeros(len(X))
    d[12 * 150::3] = 1.0
    y = X[:, 0] + d + rng.normal(size=len(X))
    with warnings.catch_warnings(record=True) as seen, \
            caplog.at_level(logging.DEBUG, logger="dask_glmdist"):
        warnings.simplefilter("always")
        m = DebiasedLassoRegressor(alpha=0.02, n_partitions=16).fit(np.c_[X, d], y)
    texts = [str(w.message) for w in seen]
    assert len(texts) == 1, texts
    assert texts[0].startswith("Columns [x3] are constant within row blocks [0, 1, 2, 3, 4, "
                               "5, 6, 7, ... (12 in all)]")
    # x3's mosaic row belongs to block 4, which cannot form it: said in its detail
    diag = m.block_diagnostics_
    assert diag.problem.unique().tolist() == ["constant_columns"]
    assert diag.block.tolist() == list(range(12))
    assert diag.detail[4] == ("constant within the block; node-wise rows of ['x3'] from the "
                              "blocks' mean weighted Gram")
    assert sum("row block 11: constant_columns ['x3']" in r.getMessage()
               for r in caplog.records) == 1
