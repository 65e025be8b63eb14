"""The ``dask-glmdist`` command: the demo's report, its oracle, and argument errors."""

import contextlib
import io

import numpy as np
import pytest
import statsmodels.api as sm

from dask_glmdist.cli import main
from dask_glmdist.datasets import make_dlsa_example

SMALL = ["demo", "--n", "20000", "--partitions", "4", "--flights", "100000",
         "--sparse-n", "60000"]


def _section(text: str, title: str, next_title: str) -> list[str]:
    start = text.index(title)
    return text[start:text.index(next_title, start)].splitlines()[1:]


def _coefficient_table(text: str) -> dict[str, list[float]]:
    """Rows of the printed coefficient table: name -> [truth, DLSA, TDLSA, SDLSA, MLE]."""
    rows = {}
    for line in _section(text, "Coefficients", "DLSA summary()"):
        parts = line.split()
        if len(parts) == 6 and parts[0] != "truth":
            rows[parts[0]] = [float(v) for v in parts[1:]]
    return rows


@pytest.fixture(scope="module")
def small_demo():
    """The small demo's stdout (its report) and stderr (the fits' progress)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(SMALL)
    assert rc == 0
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def small_demo_output(small_demo):
    return small_demo[0]


def test_demo_shows_one_progress_display_per_fit(small_demo):
    """Not a terminal: plain lines, no carriage returns, a final line for each of the
    12 fits (4 DLSA, 3 BiasReducedGLM, 2 debiased lasso and the reference MLE, the
    lasso and the BIC path), each fit's lines together."""
    out, err = small_demo
    assert "\r" not in out + err
    displays, current = [], []
    for line in err.splitlines():
        current.append(line)
        if ": done in " in line:
            displays.append(current)
            current = []
    assert current == []
    assert [d[-1].split(": ", 1)[0] for d in displays] == (
        ["DLSALogisticRegression"] * 4
        + [f"BiasReducedGLM({m})" for m in ("ML", "mBR", "mJPL")]
        + ["DebiasedLassoRegressor(naive)",
           "DebiasedLassoRegressor(debiased)",
           "BiasReducedGLM(ML)",
           "PenalizedLogisticRegression", "PenalizedGLMCV"])
    for d in displays:  # one display per fit, never two at once
        assert {line.split(": ", 1)[0] for line in d} == {d[-1].split(": ", 1)[0]}
    assert len(err) < 8_000  # throttled: a line a second at most, while a fit runs


def test_demo_prints_every_section(small_demo_output):
    text = small_demo_output
    for heading in ["N = 20,000 rows, K = 4 row blocks, seed 0",
                    "Coefficients", "DLSA summary()", "Selected model",
                    "Accuracy and timings", "Total wall time"]:
        assert heading in text
    for step in ["[1/5] simulating", "[2/5] fitting DLSA", "[3/5] fitting TDLSA",
                 "[4/5] fitting SDLSA", "[5/5] fitting global MLE"]:
        assert step in text
    summary = _section(text, "DLSA summary()", "Selected model")
    assert summary[0].split() == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    accuracy = _section(text, "Accuracy and timings", "Total wall time")
    assert [line.split()[0] for line in accuracy[1:5]] == ["DLSA", "TDLSA", "SDLSA", "global"]


def test_demo_selects_the_true_model(small_demo_output):
    # Example 2: x0, x3 and x6 are the non-zero coefficients; at N = 20,000 the DBIC
    # finds exactly them for seed 0 (it does for 99 of the seeds 0..99).
    lines = dict(
        line.strip().split(":", 1) for line in
        _section(small_demo_output, "Selected model", "Accuracy and timings") if ":" in line
    )
    assert lines["selected variables"].strip() == "x0, x3, x6"
    assert lines["truly non-zero"].strip() == "x0, x3, x6"
    assert lines["correct model"].strip() == "yes"


def test_demo_global_mle_matches_statsmodels(small_demo_output):
    X, y, theta = make_dlsa_example(20000, 4, example=2, setting=2, random_state=0,
                                    as_dask=False)
    oracle = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12).params
    table = _coefficient_table(small_demo_output)
    names = ["intercept"] + [f"x{j}" for j in range(8)]
    assert list(table) == names
    printed = np.array([table[n] for n in names])
    np.testing.assert_allclose(printed[:, 0], np.r_[0.0, theta])  # the truth column
    np.testing.assert_allclose(printed[:, 4], oracle, atol=6e-5)  # global MLE, 4 decimals
    np.testing.assert_allclose(printed[:, 2], oracle, atol=1e-3)  # TDLSA: one step away
    sdlsa = printed[:, 3]
    assert np.all((sdlsa[1:] != 0) == (theta != 0))


def _act_two_table(text: str) -> dict[str, list[float]]:
    """Act 2's table: name -> [truth, ML, mBR, mJPL coef, ML, mBR, mJPL se]."""
    rows = {}
    for line in _section(text, "Coefficients and standard errors", "The small carrier"):
        parts = line.split()
        if len(parts) == 8 and parts[0] != "truth":
            rows[parts[0]] = [float(v) for v in parts[1:]]
    return rows


def test_demo_act_two_separated_flights(small_demo_output):
    """ML warns that its estimate is infinite; mBR/mJPL are finite and are what a
    one-block in-memory fit of the same rows gives."""
    import warnings

    from dask_glmdist import BiasReducedGLM
    from dask_glmdist.datasets import make_diverted_flights

    text = small_demo_output
    for step in ["[1/4] simulating the flights", "[2/4] fitting ML", "[3/4] fitting mBR",
                 "[4/4] fitting mJPL", "converged: False", "converged: True"]:
        assert step in text
    assert ("ML warned: The maximum likelihood estimate does not exist: its parameters "
            "[x5 (-inf)] are infinite") in text
    table = _act_two_table(text)
    assert list(table) == ["intercept", "distance", "departure_hour", "winter", "carrier_A",
                           "carrier_B", "carrier_rare"]
    rare = table["carrier_rare"]
    assert np.isnan(rare[4]) and rare[1] < rare[2]  # ML: runs off, flagged (no se)
    X, y, _ = make_diverted_flights(100_000, 4, as_dask=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = BiasReducedGLM(link="probit", method="mBR", n_partitions=1).fit(X, y)
    np.testing.assert_allclose([row[2] for row in table.values()], ref.params_, atol=6e-4)
    np.testing.assert_allclose([row[5] for row in table.values()], ref.bse_, atol=6e-4)


def test_demo_act_three_debiased_lasso(small_demo_output):
    """The printed debiased estimates are those of an in-memory fit on the same four
    blocks; the lasso mean is shrunk, the debiased estimate is not."""
    from dask_glmdist import DebiasedLassoRegressor
    from dask_glmdist.datasets import make_sparse_regression

    text = small_demo_output
    for step in ["Act 3: DebiasedLassoRegressor", "[1/3] fitting method='naive'",
                 "[2/3] fitting method='debiased'", "[3/3] for reference"]:
        assert step in text
    rows = {}
    for line in _section(text, "Coefficients (intercept, the 10 active", "The lasso mean"):
        parts = line.split()
        if len(parts) == 7 and parts[0] != "truth":
            rows[parts[0]] = [float(v) for v in parts[1:6]] + [parts[6] == "yes"]
    assert list(rows)[:3] == ["intercept", "x0", "x1"] and len(rows) == 15
    X, y, coef = make_sparse_regression(60_000, 100, n_informative=10, family="binomial",
                                        n_blocks=4, as_dask=False)
    ref = DebiasedLassoRegressor(alpha=0.001, family="binomial", n_partitions=4).fit(X, y)
    names = ref.summary().index
    for name, (truth, _, debiased, se, mle, _) in rows.items():
        i = list(names).index(name)
        assert truth == pytest.approx(coef[i], abs=6e-5)
        assert debiased == pytest.approx(ref.params_[i], abs=6e-5)
        assert se == pytest.approx(ref.bse_[i], abs=6e-5)
        assert abs(debiased - mle) < 0.5 * se  # one round, close to the global MLE
    active = [rows[f"x{j}"] for j in range(10)]
    assert all(abs(r[1]) < abs(r[2]) for r in active)  # the lasso mean is shrunk
    assert sum(r[5] for r in rows.values()) >= 12


def test_demo_act_four_global_lasso(small_demo_output):
    """Act 4 prints the exact global lasso of the same data (checked against an
    in-memory fit) and a BIC choice along a path."""
    import re

    from dask_glmdist import PenalizedLogisticRegression
    from dask_glmdist.datasets import make_sparse_regression

    text = small_demo_output
    for step in ["Act 4: the exact global lasso", "[1/2] fitting the global lasso",
                 "[2/2] choosing alpha by BIC"]:
        assert step in text
    m = re.search(r"(\d+) iterations, (\d+) rounds over the data, largest KKT violation "
                  r"([0-9.e+-]+)", text)
    n_iter, n_rounds, kkt = int(m.group(1)), int(m.group(2)), float(m.group(3))
    assert n_rounds == n_iter + 2 and kkt < 1e-8  # + the fit-statistics pass
    X, y, coef = make_sparse_regression(60_000, 100, n_informative=10, family="binomial",
                                        n_blocks=4, as_dask=False)
    ref = PenalizedLogisticRegression(alpha=0.001).fit(X, y)
    m = re.search(r"global lasso  alpha=1.00e-03: (\d+) features selected, (\d+) of the 10",
                  text)
    assert int(m.group(1)) == np.sum(ref.coef_ != 0)
    assert int(m.group(2)) == np.sum(ref.coef_.ravel()[:10] != 0)
    m = re.search(r"BIC choice +alpha=([0-9.e+-]+): (\d+) features selected", text)
    assert float(m.group(1)) > 0 and int(m.group(2)) >= 1
    m = re.search(r"act 3 is within ([0-9.]+) of the exact global lasso", text)
    assert float(m.group(1)) < 0.05


def test_demo_on_a_distributed_cluster(capsys):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        rc = main(["demo", "--n", "4000", "--partitions", "2", "--no-progress",
                   "--flights", "40000", "--sparse-n", "8000",
                   "--scheduler-address", cluster.scheduler_address])
    assert rc == 0
    text = capsys.readouterr().out
    assert "running on the distributed scheduler at" in text
    assert "correct model:" in text and "mBR summary()" in text
    assert "intervals cover the truth for" in text
    assert "of the exact global lasso at the same alpha" in text


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["fit", "--help"]])
def test_help_exits_zero(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: dask-glmdist" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["demo", "--n", "0"], "argument --n: must be a positive integer, got 0"),
        (["demo", "--partitions", "two"], "argument --partitions: invalid"),
        (["train"], "invalid choice: 'train'"),
        (["fit"], "the following arguments are required: DATA, --formula"),
        (["fit", "d.parquet", "--formula", "y ~ x", "--model", "glm"],
         "argument --model: invalid choice: 'glm'"),
        (["fit", "d.parquet", "--formula", "y ~ x", "--refine-steps", "-1"],
         "argument --refine-steps: must be a non-negative integer, got -1"),
    ],
)
def test_bad_arguments_exit_two_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
