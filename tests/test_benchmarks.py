"""The benchmark package's configurations run (quick sizes, in this process): their tables
have the expected columns and rows, and our estimates are close to the oracles."""

import argparse
import importlib

import numpy as np
import pytest

pytest.importorskip("psutil")

from benchmarks import adapters, problems, runner  # noqa: E402
from benchmarks.runner import main  # noqa: E402

COMMON = ["--quick", "--inprocess", "--max-wait", "0", "--repeats", "1"]


def run(name, tmp_path, *argv):
    mod = importlib.import_module(f"benchmarks.{name}")
    args, results, rep = main(mod, [*COMMON, "--out", str(tmp_path / f"{name}.md"), *argv],
                              echo=False)
    assert (tmp_path / f"{name}.md").read_text().startswith("# ")
    return results, rep.lines


def table(lines, first_col):
    """The Markdown table whose header starts with ``first_col``: (header, rows)."""
    i = next(i for i, ln in enumerate(lines) if ln.startswith(f"| {first_col} |"))
    rows = []
    for ln in lines[i + 2 :]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return [c.strip() for c in lines[i].strip("|").split("|")], rows


def theta_diff(a, b):
    return float(np.max(np.abs(np.asarray(a["theta"]) - np.asarray(b["theta"]))))


def test_dlsa_logistic(tmp_path):
    res, lines = run("dlsa_logistic", tmp_path, "--n", "6000", "--methods", "ideal_seq",
                     "ideal_tiled", "dlsa_threads_dask", "tdlsa_threads_dask", "sklearn_lbfgs",
                     "statsmodels_irls", "proto_tiled_dlsa")
    r = res[6000]
    head, rows = table(lines, "case")
    assert len(head) == 10 and len(rows) == len(r) == 7
    assert theta_diff(r["ideal_seq"], r["ideal_tiled"]) < 1e-10
    assert theta_diff(r["ideal_seq"], r["statsmodels_irls"]) < 1e-8
    assert theta_diff(r["ideal_seq"], r["tdlsa_threads_dask"]) < 1e-2
    assert theta_diff(r["ideal_seq"], r["dlsa_threads_dask"]) < 0.1


def test_brglm(tmp_path):
    res, lines = run("brglm", tmp_path, "--sizes", "3000", "--zarr-sizes", "--links", "logit",
                     "--methods", "ML", "mBR2", "mBR1", "qr_pass", "statsmodels", "firth")
    r = res[(3000, "logit")]
    head, rows = table(lines, "case")
    assert len(head) == 13 and len(rows) == 6
    assert all("times" in r[m] for m in ("ML", "mBR2", "mBR1", "qr_pass", "statsmodels"))
    assert theta_diff(r["ML"], r["statsmodels"]) < 1e-8
    assert theta_diff(r["mBR1"], r["mBR2"]) < 1e-6
    if "theta" in r["firth"]:  # firthmodels installed
        assert theta_diff(r["mBR2"], r["firth"]) < 1e-5


def test_debiased_lasso(tmp_path):
    res, lines = run("debiased_lasso", tmp_path, "--n", "2000", "--ps", "12", "--partitions",
                     "4", "--sm-mode", "full", "--methods", "ours", "ours_naive", "--skip",
                     "sm_joblib")
    r = res[12]
    head, rows = table(lines, "case")
    assert len(head) == 8 and len(rows) == 3  # ours, naive, statsmodels sequential
    assert np.max(np.abs(np.subtract(r["ours"]["coef"], r["sm_seq"]["coef"]))) < 1e-3


def test_penalized(tmp_path):
    res, lines = run("penalized", tmp_path, "--n", "3000", "--ps", "10", "--methods",
                     "ours_threads", "sk_liblinear")
    head, rows = table(lines, "solver")
    assert len(head) == 11 and len(rows) == 5  # ours, 2 calibrations, 2 tolerances
    ours, sk = (res[10][m]["alphas"][0]["fits"] for m in ("ours_threads", "sk_liblinear"))
    assert ours[0]["converged"] and ours[0]["kkt"] < 1e-6
    assert (sk[-1]["F"] - ours[0]["F"]) / ours[0]["F"] > -1e-9  # ours is optimal


def test_formula(tmp_path):
    res, lines = run("formula", tmp_path, "--n", "2000", "--files", "2", "--data-dir",
                     str(tmp_path), "--methods", "read_pass", "dlsa_formula", "dlsa_array",
                     "brglm_formula", "statsmodels_formula")
    head, rows = table(lines, "case")
    assert len(head) == 9 and len(rows) == 5
    by_label = {row[0][:3]: row for row in rows if row[0].startswith("(a) B")}
    assert all(float(row[8]) < 1e-8 for row in by_label.values())  # brglm vs statsmodels


def test_sparse_input(tmp_path):
    res, lines = run("sparse_input", tmp_path, "--n", "2000", "--ks", "2")
    head, rows = table(lines, "model")
    assert len(head) == 6 and len(rows) == 6
    assert all(float(row[5]) < 1e-10 for row in rows)


def test_scale_out(tmp_path):
    """Same rows at every blocking; the summary table; a saved reference checks at 0."""
    from benchmarks import scale_out
    ref = tmp_path / "ref.json"
    res, lines = run("scale_out", tmp_path, "--n", "3000", "--blocks", "2", "6", "--estimators",
                     "dlsa", "ml", "--save-reference", str(ref))
    head, rows = table(lines, "estimator")
    assert head[:5] == ["estimator", "rounds", "2 blocks (s)", "6 blocks (s)", "6 vs 2"]
    assert [r[0] for r in rows] == ["DLSA", "BiasReducedGLM ML"]
    assert table(lines, "scheduler")[1][0][:2] == ["trivial round, threaded", "2"]
    assert any(ln.startswith("- target, DLSA: 6 blocks within 1.5x") for ln in lines)
    ml2, ml6 = res[("threads", "ml", 2)], res[("threads", "ml", 6)]
    assert theta_diff(ml2, ml6) < 1e-8  # the same rows, only the blocking differs
    saved = scale_out.load(ref)
    assert set(saved) == {"dlsa@2", "dlsa@6", "ml@2", "ml@6"}
    assert scale_out.ref_diff(ml6, "threads", "ml", 6, saved) == 0.0
    X2, X6 = (np.asarray(problems.scale_out().dask(3000, k)[0]) for k in (2, 6))
    np.testing.assert_array_equal(X2, X6)


class _Old:
    n_passes_, scale_, df_residual_ = 7, 1.5, 10


class _New:
    n_rounds_, dispersion_, df_resid_, n_passes_ = 3, 2.0, 9, 99


@pytest.mark.parametrize("model, want", [(_Old(), (7, 1.5, 10)), (_New(), (3, 2.0, 9))])
def test_attr_reads_old_and_new_names(model, want):
    got = tuple(adapters.attr(model, n) for n in ("n_rounds_", "dispersion_", "df_resid_"))
    assert got == want


class _Data(runner.Case):
    def problem(self):
        return problems.dlsa_logistic(p=3)


@pytest.mark.parametrize("data", ["numpy", "design", "dask"])
def test_case_builds_the_problem_rows(data):
    """``Case.setup`` holds the same rows whatever ``data`` says ([1, X] for "design")."""
    p = argparse.Namespace(n=101, partitions=4, cores=2)
    case = _Data(p, data=data)
    case.setup()
    X, y = (np.asarray(a) for a in (case.X, case.y))
    want_X, want_y = problems.dlsa_logistic(p=3).numpy(101, 4)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(X[:, 1:] if data == "design" else X, want_X)
    if data == "design":
        assert np.all(X[:, 0] == 1.0)
    if data == "dask":
        assert case.X.chunks[0] == tuple(runner.block_sizes(101, 4))


def test_spec_keywords_override_the_case_settings():
    """A Spec's keywords decide the worker's BLAS threads and the missing-library check
    (sm_joblib's blas="unset" used to be read from the class and ignored)."""
    spec = runner.Spec("x", runner.Case, {"blas": "unset", "needs": "no_such_module_xyz"})
    env = runner._command(spec, {"cores": 3, "venv": "/nowhere"})[1]
    assert not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(env)
    cores = runner._command(runner.Spec("x", runner.Case, {"blas": "cores"}), {"cores": 3})[1]
    assert cores["OMP_NUM_THREADS"] == "3"
    assert runner.available(spec, {}) == "no_such_module_xyz: not installed"


def test_robust_se(tmp_path):
    """The issue-15 tables; our standard errors against statsmodels on the same rows (the
    robust ones once the estimators take ``cov_type``)."""
    import inspect

    from benchmarks import robust_se
    from dask_glmdist import BiasReducedGLM
    res, lines = run("robust_se", tmp_path, "--n", "6000", "--peer-n", "6000", "--methods",
                     "brglm_nonrobust", "brglm_HC1", "brglm_cluster", "dlsa_cluster",
                     "sm_nonrobust", "sm_HC1", "sm_cluster", "peer_n_brglm_nonrobust",
                     "peer_n_brglm_HC1", "peer_n_brglm_cluster", "nb_brglm_estimated",
                     "nb_brglm_fixed", "sm_nb_fixed", "peer_n_nb_fixed", "sums_tree",
                     "sums_groupby")
    head, rows = table(lines, "estimator")
    assert head[:4] == ["estimator", "nonrobust (s)", "HC1 (s)", "cluster (s)"]
    assert [r[0] for r in rows] == ["BiasReducedGLM(method='ML')", "PenalizedGLM(alpha=0)",
                                    "DLSARegressor"]
    assert table(lines, "cov_type")[1][0][0] == "nonrobust"
    assert res["sums_tree"]["n_clusters"] == res["sums_groupby"]["n_clusters"] > 1000
    np.testing.assert_allclose(res["sums_tree"]["meat_trace"], res["sums_groupby"]["meat_trace"],
                               rtol=1e-12)
    covs = ["nonrobust", "fixed"]
    if "cov_type" in inspect.signature(BiasReducedGLM).parameters:
        covs += ["HC1", "cluster"]
        assert any(ln.startswith("- target, BiasReducedGLM(method='ML'): cluster adds")
                   for ln in lines)
    for c in covs:
        ours, peer = (("peer_n_nb_fixed", "sm_nb_fixed") if c == "fixed"
                      else (f"peer_n_brglm_{c}", f"sm_{c}"))
        np.testing.assert_allclose(res[ours]["theta"], res[peer]["theta"], rtol=1e-6, atol=1e-9)
        factor = robust_se.hc1_factor(ours, res[peer])  # statsmodels' GLM HC1 is its HC0
        np.testing.assert_allclose(res[ours]["bse"], np.multiply(res[peer]["bse"], factor),
                                   rtol=1e-6)


def test_cox(tmp_path):
    """The issue-16 tables; the global fit (one block) equals statsmodels' PHReg; the
    distributed fits are close to it (the block-stratified likelihood)."""
    res, lines = run("cox", tmp_path, "--n", "3000", "--peer-n", "1500", "--methods",
                     "dlsa_one_round", "dlsa", "dlsa_mle", "statsmodels", "peer_n_global",
                     "peer_n_statsmodels")
    head, rows = table(lines, "fit")
    assert head[:2] == ["fit", "time (s)"] and len(rows) == 5
    rounds = [res[m]["n_rounds"] for m in ("dlsa_one_round", "dlsa", "dlsa_mle")]
    assert rounds[0] < rounds[1] < rounds[2]
    assert theta_diff(res["peer_n_global"], res["peer_n_statsmodels"]) < 1e-8
    assert theta_diff(res["dlsa_mle"], res["statsmodels"]) < 0.05


def test_dlsa_comparators(tmp_path):
    res, lines = run("dlsa_comparators", tmp_path, "--sizes", "2000:4", "--reps", "2",
                     "--methods", "example2")
    r = res["example2"]["rows"]["2000:4"]
    head, rows = table(lines, "estimator")
    assert len(head) == 11 and len(rows) == 10  # REE and CP rows of 5 estimators
    assert set(r["ree"]) == {"OS", "CSL", "CSL (master 1/K)", "DLSA", "TDLSA"}
    assert all(len(v) == 8 for v in r["ree"].values())


def test_screening(tmp_path):
    """The issue-16 screening table: the measures find the 15 true features (Pearson all
    of them); ours and the in-memory peers agree."""
    res, lines = run("screening", tmp_path, "--methods", "ours_pearson", "ours_sirs",
                     "ours_kendall", "ours_dc", "generate", "numpy_pearson", "scipy_kendall")
    head, rows = table(lines, "measure")
    assert head[0] == "measure" and [r[0] for r in rows] == ["pearson", "sirs", "kendall", "dc"]
    assert res["ours_pearson"]["true_in_top15"] == 15
    for m in ("sirs", "kendall", "dc"):
        assert res[f"ours_{m}"]["true_in_top15"] >= 13
    np.testing.assert_allclose(res["ours_pearson"]["scores_head"],
                               res["numpy_pearson"]["scores_head"], atol=1e-4)
    # Kendall: the mean of 4 blocks' taus, not the tau of all rows (scipy): close only
    np.testing.assert_allclose(res["ours_kendall"]["scores_head"],
                               res["scipy_kendall"]["scores_head"], atol=0.03)
