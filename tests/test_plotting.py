"""dask_glmdist.plotting: what each picture draws (points, intervals, lines, labels),
checked against the fitted attributes and independent numbers, on the Agg backend."""

import subprocess
import sys
import threading
import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from dask_glmdist import (  # noqa: E402
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSACoxRegression,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    penalized_glm_path,
)
from dask_glmdist.datasets import make_dlsa_example  # noqa: E402
from dask_glmdist.plotting import (  # noqa: E402
    calibration_table,
    plot_block_estimates,
    plot_calibration,
    plot_coefficients,
    plot_cv_curve,
    plot_dlsa_path,
    plot_penalized_path,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    coef = np.array([1.0, 0.0, -0.5, 0.25])
    y = 0.3 + X @ coef + rng.normal(size=3000)
    return X, y, coef


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6000, 3))
    y = (rng.random(6000) < 1 / (1 + np.exp(-(0.2 + X @ [1.0, -0.7, 0.0])))).astype(int)
    return X, y


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _segments(container):
    """The interval segments of an errorbar: ``(n, 2, 2)`` endpoints."""
    return np.asarray(container.lines[2][0].get_segments())


def _labelled(ax):
    return {line.get_label(): line for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def _vlines(ax):
    """x positions of the vertical lines (axvline: constant x, y in axes units 0..1)."""
    out = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if len(x) == 2 and x[0] == x[1] and list(line.get_ydata()) == [0, 1]:
            out.append(float(x[0]))
    return out


def test_the_package_imports_without_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import dask_glmdist, dask_glmdist.plotting as p\n"
            "try:\n    p._pyplot()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert 'pip install "dask-glmdist[plot]"' in out


# --------------------------------------------------------------------------------------
# forest plot
# --------------------------------------------------------------------------------------


def test_forest_plot_draws_every_interval_the_second_model_and_the_truth(gaussian):
    X, y, coef = gaussian
    one = DLSARegressor(n_partitions=6).fit(X, y)
    mle = DLSARegressor(n_partitions=6, refine_steps=5).fit(X, y)
    ax = plot_coefficients(one, others={"global MLE": mle}, truth=coef, alpha=0.1)
    names = ["intercept", "x0", "x1", "x2", "x3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    bars = _errorbars(ax)
    assert [c.get_label() for c in bars] == ["DLSARegressor(dlsa)", "global MLE"]
    for model, c in zip((one, mle), bars, strict=True):
        points = c.lines[0]
        np.testing.assert_array_equal(points.get_xdata(), model.params_)
        seg = _segments(c)
        assert seg.shape == (5, 2, 2)
        ci = model.conf_int(0.1).to_numpy()
        np.testing.assert_allclose(np.sort(seg[:, :, 0], axis=1), ci, rtol=0, atol=1e-12)
        # the first parameter on top: y decreasing in summary() order
        assert np.all(np.diff(points.get_ydata()) < 0)
    truth = _labelled(ax)["truth"]
    np.testing.assert_array_equal(truth.get_xdata(), [np.nan, *coef])
    assert 0.0 in _vlines(ax)


def test_forest_plot_of_hazard_ratios():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 2))
    t = rng.exponential(1.0 / np.exp(X @ [0.5, -0.3]))
    c = rng.exponential(2.0, size=600)
    model = DLSACoxRegression(n_partitions=3).fit(X, np.minimum(t, c), (t <= c).astype(float))
    ax = plot_coefficients(model, hazard_ratio=True, truth={"x0": 0.5, "x1": -0.3})
    (bar,) = _errorbars(ax)
    np.testing.assert_allclose(bar.lines[0].get_xdata(), np.exp(model.coef_), rtol=1e-14)
    np.testing.assert_allclose(np.sort(_segments(bar)[:, :, 0], axis=1),
                               np.exp(model.conf_int().to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(_labelled(ax)["truth"].get_xdata(), np.exp([0.5, -0.3]))
    assert ax.get_xscale() == "log" and 1.0 in _vlines(ax)
    assert "hazard ratio" in ax.get_xlabel()


def test_forest_plot_refuses_a_model_without_inference_and_a_bad_truth(gaussian):
    X, y, _ = gaussian
    with pytest.raises(ValueError, match="has no standard errors"):
        plot_coefficients(PenalizedGLM("gaussian", alpha=0.1).fit(X, y))
    model = DLSARegressor(n_partitions=4).fit(X, y)
    with pytest.raises(ValueError, match="truth has 3 values but the model has 5"):
        plot_coefficients(model, truth=[1, 2, 3])
    named = DLSARegressor(n_partitions=4).fit(pd.DataFrame(X, columns=list("abcd")), y)
    with pytest.raises(ValueError, match=r"others\['named'\] has parameters \['a'"):
        plot_coefficients(model, others={"named": named})
    with pytest.raises(TypeError, match="summary"):
        plot_coefficients(object())


# --------------------------------------------------------------------------------------
# SDLSA path
# --------------------------------------------------------------------------------------


def test_dlsa_path_lines_and_dbic_minimum_at_the_chosen_model(hetero_logistic):
    X, y, _ = hetero_logistic
    model = DLSALogisticRegression(penalty="adaptive_lasso", n_partitions=10).fit(X, y)
    fig = plot_dlsa_path(model)
    top, bottom = fig.axes
    names = [f"x{j}" for j in range(8)]
    lines = _labelled(top)
    assert list(lines) == names  # one line per feature
    for j, name in enumerate(names):
        np.testing.assert_array_equal(lines[name].get_ydata(), model.coef_path_[j])
    crit = _labelled(bottom)["DBIC"]
    np.testing.assert_array_equal(crit.get_ydata(), model.criterion_path_)
    x_best = crit.get_xdata()[int(np.argmin(crit.get_ydata()))]
    assert _vlines(top) == [x_best] and _vlines(bottom) == [x_best]
    # the chosen knot is the fitted model: coef_ there
    knot = int(np.flatnonzero(lines["x0"].get_xdata() == x_best)[0])
    np.testing.assert_array_equal(model.coef_path_[:, knot], model.coef_.ravel())
    # the x axis: 0 (all slopes zero) .. 1 (the WLSE)
    x = crit.get_xdata()
    assert x[0] == 0.0 and x[-1] == pytest.approx(1.0, abs=1e-12)


def test_dlsa_path_refuses_a_model_without_a_path(gaussian):
    X, y, _ = gaussian
    with pytest.raises(ValueError, match="penalty='adaptive_lasso'"):
        plot_dlsa_path(DLSARegressor(n_partitions=4).fit(X, y))


# --------------------------------------------------------------------------------------
# penalised path and CV curve
# --------------------------------------------------------------------------------------


def test_penalized_path_draws_a_line_per_feature(gaussian):
    X, y, _ = gaussian
    path = penalized_glm_path(X, y, family="gaussian", n_alphas=12)
    ax = plot_penalized_path(path)
    lines = _labelled(ax)
    assert list(lines) == ["x0", "x1", "x2", "x3"]
    for j, line in enumerate(lines.values()):
        np.testing.assert_array_equal(line.get_xdata(), path.alphas)
        np.testing.assert_array_equal(line.get_ydata(), path.coef[:, j])
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()


@pytest.fixture(scope="module")
def cv_models(gaussian):
    X, y, _ = gaussian
    kw = dict(n_alphas=20, cv=5, n_partitions=10)
    with warnings.catch_warnings():  # the CV minimum at the grid's edge: not the point here
        warnings.simplefilter("ignore", UserWarning)
        return (PenalizedGLMCV("gaussian", **kw).fit(X, y),
                PenalizedGLMCV("gaussian", one_standard_error_rule=True, **kw).fit(X, y))


def test_penalized_path_of_a_cv_model_marks_alpha_(cv_models):
    model = cv_models[0]
    ax = plot_penalized_path(model)
    assert [n for n in _labelled(ax) if n.startswith("x")] == ["x0", "x1", "x2", "x3"]
    assert _vlines(ax) == [model.alpha_]


def test_cv_curve_with_standard_errors_and_the_two_alphas(cv_models):
    plain, one_se = cv_models
    for model in cv_models:
        ax = plot_cv_curve(model)
        (bar,) = _errorbars(ax)
        np.testing.assert_array_equal(bar.lines[0].get_xdata(), model.alphas_)
        np.testing.assert_array_equal(bar.lines[0].get_ydata(), model.cv_deviance_mean_)
        seg = _segments(bar)
        assert seg.shape == (20, 2, 2)
        se = model.cv_deviance_.std(axis=0, ddof=1) / np.sqrt(5)
        np.testing.assert_allclose(seg[:, 1, 1] - seg[:, 0, 1], 2 * se, rtol=1e-10)
        minimum, within = _vlines(ax)
        assert minimum == model.alphas_[np.argmin(model.cv_deviance_mean_)]
        assert within >= minimum
    # the lines are the two fits' choices: the minimum, and the one-standard-error rule
    assert _vlines(plot_cv_curve(plain)) == [plain.alpha_, one_se.alpha_]
    assert one_se.alpha_ > plain.alpha_


def test_cv_curve_of_an_information_criterion(gaussian):
    X, y, _ = gaussian
    model = PenalizedGLMCV("gaussian", criterion="bic", n_alphas=10).fit(X, y)
    ax = plot_cv_curve(model)
    np.testing.assert_array_equal(_labelled(ax)["BIC"].get_ydata(), model.criterion_values_)
    assert _vlines(ax) == [model.alpha_]


def test_path_and_cv_refusals(gaussian, hetero_logistic):
    X, y, _ = gaussian
    single = PenalizedGLM("gaussian", alpha=0.01).fit(X, y)
    with pytest.raises(ValueError, match="single fit at one alpha"):
        plot_penalized_path(single)
    with pytest.raises(ValueError, match="no such choice"):
        plot_cv_curve(single)
    sdlsa = DLSALogisticRegression(penalty="adaptive_lasso", n_partitions=4).fit(
        *hetero_logistic[:2])
    with pytest.raises(ValueError, match="plot_dlsa_path"):
        plot_penalized_path(sdlsa)


# --------------------------------------------------------------------------------------
# per-block estimates
# --------------------------------------------------------------------------------------


def test_block_estimates_are_the_blocks_own_fits_and_the_combined_one():
    X, y, _ = make_dlsa_example(5000, 5, example=1, setting=2, random_state=1, as_dask=False)
    model = DLSARegressor(n_partitions=5).fit(X, y)
    ax = plot_block_estimates(model, "x3", alpha=0.05)
    blocks, combined = _errorbars(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == (
        ["combined"] + [f"block {k}" for k in range(5)])
    seg = _segments(blocks)
    assert seg.shape == (5, 2, 2)
    for k, rows in enumerate(np.array_split(np.arange(5000), 5)):  # statsmodels per block
        ols = sm.OLS(y[rows], sm.add_constant(X[rows])).fit()
        assert blocks.lines[0].get_xdata()[k] == pytest.approx(ols.params[4], abs=1e-10)
        half = 1.959963984540054 * ols.bse[4]  # Wald (normal) intervals
        np.testing.assert_allclose(np.sort(seg[k, :, 0]), ols.params[4] + np.array([-1, 1])
                                   * half, atol=1e-8)
    assert combined.lines[0].get_xdata()[0] == model.params_[4]
    np.testing.assert_allclose(np.sort(_segments(combined)[0, :, 0]),
                               model.conf_int().iloc[4], rtol=1e-13)
    # by position too
    ax2 = plot_block_estimates(model, 4)
    np.testing.assert_array_equal(_errorbars(ax2)[0].lines[0].get_xdata(),
                                  model.local_params_[:, 4])


def test_block_estimates_refusals(gaussian):
    X, y, _ = gaussian
    with pytest.raises(ValueError, match="local_params_"):
        plot_block_estimates(BiasReducedGLM("gaussian").fit(X, y), "x0")
    model = DLSARegressor(n_partitions=3).fit(X, y)
    with pytest.raises(ValueError, match="not a parameter of the model"):
        plot_block_estimates(model, "age")
    with pytest.raises(ValueError, match="out of range"):
        plot_block_estimates(model, 7)


# --------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------


def _groupby_reference(p, y, table):
    """Bins by the table's edges, means by pandas' groupby on the rows themselves."""
    bins = np.searchsorted(table["upper"].to_numpy()[:-1], p, side="right")
    assert np.all(table["lower"].to_numpy()[bins] <= p)
    return pd.DataFrame({"bin": bins, "p": p, "y": y}).groupby("bin").agg(
        n=("y", "size"), observed=("y", "mean"), mean_predicted=("p", "mean"))


def test_calibration_points_are_the_bins_observed_means(logistic):
    X, y = logistic
    model = DLSALogisticRegression(n_partitions=4).fit(X, y)
    table = calibration_table(model, X, y)
    p = model.predict_proba(X)[:, 1]
    ref = _groupby_reference(p, y, table)
    assert len(table) == 10
    np.testing.assert_array_equal(table["n"], ref["n"])
    np.testing.assert_array_equal(table["observed"], ref["observed"])  # exact
    np.testing.assert_allclose(table["mean_predicted"], ref["mean_predicted"], rtol=1e-12)
    assert np.all(np.abs(table["n"] - 600) <= 30)  # deciles, to within a fine bin
    ax = plot_calibration(model, X, y)
    (bar,) = _errorbars(ax)
    np.testing.assert_array_equal(bar.lines[0].get_xdata(), table["mean_predicted"])
    np.testing.assert_array_equal(bar.lines[0].get_ydata(), table["observed"])
    assert _segments(bar).shape == (10, 2, 2)
    assert [list(line.get_xdata()) for line in ax.get_lines()][0] == [0.0, 1.0]  # diagonal


def test_calibration_on_dask_input_is_one_pass_and_agrees(logistic):
    X, y = logistic
    model = DLSALogisticRegression(n_partitions=4).fit(X, y)
    expected = calibration_table(model, X, y, n_bins=7)
    reads = []
    lock = threading.Lock()

    def read(block):
        with lock:
            reads.append(block.shape[0])
        return block

    Xd = da.from_array(X, chunks=(1000, 3)).map_blocks(read, dtype=float)
    got = calibration_table(model, Xd, da.from_array(y, chunks=1000), n_bins=7)
    assert sorted(r for r in reads if r) == [1000] * 6  # every block read once, in one computation
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    np.testing.assert_array_equal(got["observed"], expected["observed"])
    frame = dd.from_pandas(pd.DataFrame(X, columns=["x0", "x1", "x2"]), npartitions=3)
    yd = dd.from_pandas(pd.Series(y), npartitions=3)
    got = calibration_table(model, frame, yd, n_bins=7)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_calibration_of_a_binomial_regressor_uses_its_mean(logistic):
    X, y = logistic
    model = DebiasedLassoRegressor(family="binomial").fit(X, y)
    table = calibration_table(model, X, y, n_bins=5)
    ref = _groupby_reference(model.predict(X), y, table)
    np.testing.assert_array_equal(table["observed"], ref["observed"])
    np.testing.assert_array_equal(table["n"], ref["n"])


def test_calibration_refusals(gaussian, logistic):
    X, y, _ = gaussian
    with pytest.raises(TypeError, match="binomial family"):
        plot_calibration(DLSARegressor(n_partitions=3).fit(X, y), X, y)
    X, y = logistic
    model = DLSALogisticRegression(n_partitions=3).fit(X, y)
    bad = y.copy()
    bad[:5] = 2
    with pytest.raises(ValueError, match="5 row"):
        plot_calibration(model, X, bad)
    with pytest.raises(ValueError, match="n_bins"):
        calibration_table(model, X, y, n_bins=0)
