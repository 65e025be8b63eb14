"""``dask-glmdist fit`` on Parquet and CSV files: statsmodels' formula GLM as the oracle,
predictions written back as Parquet, and one-line errors with exit status 2."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from dask_glmdist import BiasReducedGLM
from dask_glmdist.cli import main

FORMULA = "y ~ x + C(g) + np.log(z)"
ROOT = Path(__file__).resolve().parents[1]


def _frame(seed: int = 0) -> pd.DataFrame:
    """240 rows in three parts of 80 whose levels of g differ: the first part has no
    'c', the last alone has 'd'; one x is missing (in the second part)."""
    rng = np.random.default_rng(seed)
    levels = [["a", "b"], ["b", "c"], ["a", "c", "d"]]
    g = np.concatenate([rng.choice(lv, size=80) for lv in levels])
    n = g.size
    x = rng.normal(size=n)
    z = rng.uniform(1.0, 3.0, size=n)
    effect = pd.Series(g).map({"a": 0.0, "b": 0.3, "c": -0.2, "d": 0.4}).to_numpy()
    y = rng.poisson(np.exp(0.2 + 0.3 * x + effect + 0.5 * np.log(z)))
    frame = pd.DataFrame({"x": x, "z": z, "g": g, "w": rng.integers(1, 4, size=n),
                          "y": y.astype(np.int64)})
    frame.loc[100, "x"] = np.nan
    return frame


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The frame, and the directories of its three Parquet and three CSV files."""
    root = tmp_path_factory.mktemp("cli_fit")
    frame = _frame()
    pq, csv = root / "parquet", root / "csv"
    pq.mkdir()
    csv.mkdir()
    for i in range(3):
        part = frame.iloc[80 * i:80 * (i + 1)]
        part.to_parquet(pq / f"part-{i}.parquet", index=False)
        part.to_csv(csv / f"part-{i}.csv", index=False)
    return frame, pq, csv


def _oracle(frame: pd.DataFrame, **kwargs):
    return smf.glm(FORMULA, data=frame, family=sm.families.Poisson(), missing="drop",
                   **kwargs).fit(tol=1e-12)


def _run(capsys, *argv):
    """Exit status, stdout and stderr less its warning lines (pytest shows deprecation
    warnings from dask's internals that a plain run does not)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    err = "".join(line for line in err.splitlines(keepends=True)
                  if not line.startswith("dask-glmdist fit: warning: "))
    return rc, out, err


@pytest.mark.parametrize("source", ["parquet directory", "csv glob"])
def test_fit_equals_statsmodels(data, tmp_path, capsys, source):
    frame, pq, csv = data
    path = pq if source == "parquet directory" else f"{csv}/*.csv"
    coef = tmp_path / "coef.csv"
    rc, out, err = _run(capsys, "fit", path, "--formula", FORMULA, "--model", "brglm",
                        "--method", "ML", "--family", "poisson", "--missing", "drop",
                        "--output", coef, "--no-progress")
    assert rc == 0, err
    assert "3 partitions" in out
    assert "blocks:     3 (one per partition)" in out
    assert "rows used:  239" in out  # the row with a missing x is dropped
    assert f"formula:    {FORMULA}" in out
    assert "BiasReducedGLM(family='poisson', method='ML', missing='drop')" in out
    table = pd.read_csv(coef, index_col="parameter")
    ref = _oracle(frame)
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    # levels c and d included (patsy puts the categorical terms first, formulaic not)
    assert sorted(table.index) == sorted(ref.params.index)
    table = table.loc[ref.params.index]
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=0, atol=1e-6)
    for name in ref.params.index:  # the printed summary is the same table
        assert name in out


def test_penalized_without_penalty_equals_statsmodels(data, tmp_path, capsys):
    frame, pq, _ = data
    coef = tmp_path / "coef.csv"
    rc, _, err = _run(capsys, "fit", pq, "--formula", FORMULA, "--model", "penalized",
                      "--family", "poisson", "--missing", "drop", "--output", coef,
                      "--no-progress")
    assert rc == 0, err
    ref = _oracle(frame)
    table = pd.read_csv(coef, index_col="parameter").loc[ref.params.index]
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["brglm", "dlsa"])
def test_cluster_robust_standard_errors_by_a_column(data, tmp_path, capsys, model):
    """--cov-type cluster --groups g: statsmodels' cluster-robust standard errors (the
    clusters, the levels of g, span the files)."""
    frame, pq, _ = data
    coef = tmp_path / "coef.csv"
    extra = ["--method", "ML"] if model == "brglm" else ["--refine-steps", "8"]
    rc, out, err = _run(capsys, "fit", pq, "--formula", "y ~ x + np.log(z)", "--model",
                        model, *extra, "--family", "poisson", "--missing", "drop",
                        "--cov-type", "cluster", "--groups", "g", "--output", coef,
                        "--no-progress")
    assert rc == 0, err
    assert "covariance: cluster (4 groups)" in out
    kept = frame.dropna()
    ref = smf.glm("y ~ x + np.log(z)", data=kept, family=sm.families.Poisson()).fit(
        tol=1e-12, cov_type="cluster", cov_kwds={"groups": pd.factorize(kept["g"])[0]})
    table = pd.read_csv(coef, index_col="parameter").loc[ref.params.index]
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=1e-6)


def test_tweedie_with_its_power(data, tmp_path, capsys):
    frame, pq, _ = data
    coef = tmp_path / "coef.csv"
    rc, out, err = _run(capsys, "fit", pq, "--formula", "z ~ x", "--model", "penalized",
                        "--family", "tweedie", "--power", "1.5", "--missing", "drop",
                        "--output", coef, "--no-progress")
    assert rc == 0, err
    assert "tweedie (power 1.5), link log" in out
    ref = smf.glm("z ~ x", data=frame.dropna(), family=sm.families.Tweedie(
        var_power=1.5, link=sm.families.links.Log())).fit(tol=1e-12)
    table = pd.read_csv(coef, index_col="parameter").loc[ref.params.index]
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=1e-6)


def test_weights_and_offset_columns(data, tmp_path, capsys):
    """--weights and --offset name columns; for the Poisson (dispersion 1) frequency
    weights give statsmodels' params and standard errors."""
    frame, _, _ = data
    frame = frame.assign(lz=np.log(frame["z"]))
    pq = tmp_path / "with_offset"
    pq.mkdir()
    for i in range(3):
        frame.iloc[80 * i:80 * (i + 1)].to_parquet(pq / f"part-{i}.parquet", index=False)
    coef, pred = tmp_path / "coef.csv", tmp_path / "pred"
    formula = "y ~ x + C(g)"
    rc, out, err = _run(capsys, "fit", pq, "--formula", formula, "--model", "brglm",
                        "--method", "ML", "--family", "poisson", "--missing", "drop",
                        "--weights", "w", "--offset", "lz", "--output", coef,
                        "--predict-out", pred, "--no-progress")
    assert rc == 0, err
    ref = smf.glm(formula, data=frame, family=sm.families.Poisson(), missing="drop",
                  freq_weights=frame["w"], offset=frame["lz"]).fit(tol=1e-12)
    table = pd.read_csv(coef, index_col="parameter").loc[ref.params.index]
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["std_err"], ref.bse, rtol=0, atol=1e-6)
    written = dd.read_parquet(pred).compute()
    model = BiasReducedGLM("poisson", method="ML", formula=formula, missing="drop").fit(
        frame, sample_weight="w", offset="lz")
    np.testing.assert_allclose(written["predicted"].to_numpy(),
                               model.predict(frame, offset="lz"), rtol=1e-6)


def test_missing_values_default_error_names_the_column(data, capsys):
    _, pq, _ = data
    rc, out, err = _run(capsys, "fit", pq, "--formula", FORMULA, "--model", "brglm",
                        "--family", "poisson", "--no-progress")
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-glmdist fit: error: ")
    assert "1 rows have missing values" in lines[0] and "(x: 1)" in lines[0]
    assert "--missing drop" in lines[0]


def test_predict_out_writes_the_rows_with_their_predicted_mean(data, tmp_path, capsys):
    frame, pq, _ = data
    pred = tmp_path / "pred"
    rc, out, err = _run(capsys, "fit", pq, "--formula", FORMULA, "--model", "brglm",
                        "--method", "ML", "--family", "poisson", "--missing", "drop",
                        "--predict-out", pred, "--no-progress")
    assert rc == 0, err
    assert f"written to {pred}" in out
    assert len(list(pred.glob("*.parquet"))) == 3  # one file per partition
    written = dd.read_parquet(pred).compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(written[list(frame.columns)], frame, check_dtype=False)
    model = BiasReducedGLM("poisson", method="ML", formula=FORMULA, missing="drop").fit(frame)
    expected = model.predict(frame)
    assert np.isnan(expected[100]) and np.isnan(written["predicted"][100])  # x missing
    np.testing.assert_allclose(written["predicted"].to_numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("model", ["dlsa", "debiased"])
def test_other_models_write_their_table(data, tmp_path, capsys, model):
    frame, pq, _ = data
    coef = tmp_path / "coef.csv"
    extra = ["--refine-steps", "5"] if model == "dlsa" else ["--alpha", "0.001"]
    rc, out, err = _run(capsys, "fit", pq, "--formula", FORMULA, "--model", model,
                        "--family", "poisson", "--missing", "drop", *extra, "--output", coef,
                        "--no-progress")
    assert rc == 0, err
    table, ref = pd.read_csv(coef, index_col="parameter"), _oracle(frame)
    assert sorted(table.index) == sorted(ref.params.index)
    table = table.loc[ref.params.index]
    if model == "dlsa":  # refined to the global maximum likelihood estimate
        np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)
        np.testing.assert_allclose(table["std_err"], ref.bse, rtol=0, atol=1e-6)
    else:
        assert np.all(np.isfinite(table["std_err"]))


def test_unknown_column_is_one_line_and_status_2(data, capsys):
    _, pq, _ = data
    rc, out, err = _run(capsys, "fit", pq, "--formula", "y ~ x + C(carrier)", "--missing",
                        "drop", "--no-progress")
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-glmdist fit: error: ")
    assert "carrier" in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("what", ["missing path", "empty glob", "unknown extension",
                                  "weights column", "formula syntax", "predict-out used"])
def test_bad_input_is_one_line_and_status_2(data, tmp_path, capsys, what):
    _, pq, csv = data
    args = {
        "missing path": [tmp_path / "nowhere", "--formula", "y ~ x"],
        "empty glob": [f"{csv}/*.parquet", "--formula", "y ~ x"],
        "unknown extension": [f"{tmp_path}/*.txt", "--formula", "y ~ x"],
        "weights column": [pq, "--formula", "y ~ x", "--weights", "ww"],
        "formula syntax": [pq, "--formula", "y ~ x +"],
        "predict-out used": [pq, "--formula", "y ~ x", "--predict-out", pq],
    }[what]
    message = {
        "missing path": "nowhere: no such file or directory",
        "empty glob": "no files match",
        "unknown extension": "cannot tell the format",
        "weights column": "--weights 'ww': DATA has no such column",
        "formula syntax": "cannot parse the formula 'y ~ x +'",
        "predict-out used": "exists and is not an empty directory",
    }[what]
    (tmp_path / "notes.txt").write_text("x")
    rc, out, err = _run(capsys, "fit", *args, "--no-progress")
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-glmdist fit: error: ")
    assert message in lines[0]


def test_options_that_do_not_apply_are_usage_errors(data, capsys):
    _, pq, _ = data
    for argv, message in [
        (["--alpha", "1"], "--alpha applies to --model penalized or debiased, not dlsa"),
        (["--model", "brglm", "--method", "naive"], "--method of --model brglm is one of"),
        (["--model", "debiased", "--offset", "z"], "--offset applies to --model brglm or"),
        (["--family", "tweedie"], "--power is the Tweedie family's"),
        (["--power", "1.5"], "--power is the Tweedie family's"),
        (["--cov-type", "cluster"], "--cov-type cluster needs --groups COL"),
        (["--groups", "g"], "--cov-type cluster needs --groups COL"),
        (["--model", "debiased", "--cov-type", "HC1"], "--cov-type applies to --model"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["fit", str(pq), "--formula", "y ~ x", *argv])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_files_as_the_shell_expands_a_glob(data, tmp_path, capsys):
    """Several DATA arguments (an unquoted glob the shell expanded): one frame."""
    frame, _, csv = data
    files = sorted(csv.glob("*.csv"))
    coef = tmp_path / "coef.csv"
    rc, out, err = _run(capsys, "fit", *files, "--formula", FORMULA, "--model", "penalized",
                        "--family", "poisson", "--missing", "drop", "--output", coef,
                        "--no-progress")
    assert rc == 0, err
    assert "(CSV, 3 partitions)" in out and "rows used:  239" in out
    ref = _oracle(frame)
    table = pd.read_csv(coef, index_col="parameter").loc[ref.params.index]
    np.testing.assert_allclose(table["coef"], ref.params, rtol=0, atol=1e-6)


def test_console_script_error_exit_status(data):
    """Through a process (the installed console script when there is one): an unknown
    column gives exit status 2 and one error line, no traceback. Its time is the
    interpreter's start and the imports (about 2 s of CPU)."""
    _, pq, _ = data
    script = shutil.which("dask-glmdist", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "dask_glmdist.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package
    bad = subprocess.run([*command, "fit", str(pq), "--formula", "y ~ distance",
                          "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dask-glmdist fit: error: Cannot evaluate")
    assert "`distance`" in lines[0]


def test_warnings_are_shown_one_line_each(tmp_path, capsys):
    """ML on separated data: the SeparationWarning reaches the user as one line, and the
    summary shows the infinite estimate."""
    rng = np.random.default_rng(1)
    n = 300
    g = rng.choice(["a", "b", "rare"], size=n, p=[0.45, 0.45, 0.1])
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.5 * x - 0.3)))).astype(int)
    y[g == "rare"] = 0  # no event in level 'rare': its ML estimate is -inf
    frame = pd.DataFrame({"x": x, "g": g, "y": y})
    for i in range(3):
        frame.iloc[100 * i:100 * (i + 1)].to_parquet(tmp_path / f"p{i}.parquet")
    rc = main(["fit", str(tmp_path), "--formula", "y ~ x + C(g)", "--model", "brglm",
               "--method", "ML", "--family", "binomial", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    shown = [line for line in err.splitlines() if "SeparationWarning" in line]
    assert len(shown) == 1
    assert shown[0].startswith("dask-glmdist fit: warning: SeparationWarning: The maximum "
                               "likelihood estimate does not exist")
    assert "C(g)[T.rare]" in shown[0]
    assert "-inf" in out
