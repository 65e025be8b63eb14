"""DLSA logistic regression against an ideal blocked Newton and its peers (see README)."""

import importlib
from concurrent.futures import ThreadPoolExecutor

import dask
import dask.array as da
import numpy as np
import scipy.linalg
from scipy.special import expit
from threadpoolctl import threadpool_limits

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, main, mb, med, run_all

TITLE = "Benchmark: DLSA logistic regression vs ideal blocked Newton and peers"
QUICK = {"n": [20_000]}
MEDIUM = {"n": [100_000]}
MEDIUM_CASES = ["ideal_tiled", "dlsa_threads_dask", "sklearn_lbfgs", "statsmodels_irls",
                "daskml_newton"]
DATA = "logistic, p=50 AR(1) rho=0.5 features + intercept, sd(eta)=1.2, intercept -0.5"
OPTIONS = {"n": [1_000_000, 4_000_000], "partitions": 10, "mem_limit_gb": 16.0}


def newton_terms(Xk, yk, theta, tile=None):
    """Score U and information A over [intercept, beta] of one block at theta (None: the
    IRLS start mu0 = (y + 1/2) / 2), in ``tile``-row tiles (one reused buffer; None: the
    whole block): eta, mu, w, the SYRK of sqrt(w) X, score and border in one GEMM."""
    n, p = Xk.shape
    tile = tile or n
    G, sb, rs, ws = np.zeros((p, p)), np.zeros((p, 2)), 0.0, 0.0
    buf = np.empty((min(tile, n), p))
    for s in range(0, n, tile):
        x = Xk[s : s + tile]
        m, yy = x.shape[0], yk[s : s + tile]
        if theta is None:  # IRLS right-hand side at mu0: w0 z0 = (y - mu0) + w0 eta0
            mu = (yy + 0.5) / 2.0
            w = mu * (1.0 - mu)
            r = (yy - mu) + w * np.log(mu / (1.0 - mu))
        else:
            eta = x @ theta[1:]
            eta += theta[0]
            mu = expit(eta, out=eta)
            w, r = mu * (1.0 - mu), yy - mu
        xs = np.multiply(x, np.sqrt(w)[:, None], out=buf[:m])
        G += xs.T @ xs  # numpy dispatches A.T @ A to BLAS SYRK
        sb += x.T @ np.stack([r, w], axis=1)
        rs, ws = rs + float(r.sum()), ws + float(w.sum())
    A = np.empty((p + 1, p + 1))
    A[1:, 1:], A[0, 0] = G, ws
    A[0, 1:] = A[1:, 0] = sb[:, 1]
    return np.concatenate([[rs], sb[:, 0]]), A


def _solve(A, U):
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(A, check_finite=False), U,
                                  check_finite=False)


def ideal_newton(blocks, pool=None, tile=None, tol=1e-8, max_iter=50):
    """Exact global logistic MLE by Newton from 0 over the row blocks; (theta, passes)."""
    theta = np.zeros(blocks[0][0].shape[1] + 1)
    mapper = pool.map if pool else map
    for it in range(1, max_iter + 1):
        parts = list(mapper(lambda b, th=theta: newton_terms(b[0], b[1], th, tile), blocks))
        step = _solve(sum(a for _, a in parts), sum(u for u, _ in parts))
        theta = theta + step
        if np.max(np.abs(step)) <= tol:
            return theta, it
    return theta, max_iter


def proto_local(Xk, yk, tol, tile=4096):
    """PROTOTYPE local fit: IRLS start, then Newton steps until max|step| <= tol (1 +
    max|theta|), tiled kernel; (theta, information, Gram passes)."""
    U, A = newton_terms(Xk, yk, None, tile)
    theta, passes = _solve(A, U), 1
    while True:
        U, A = newton_terms(Xk, yk, theta, tile)
        passes += 1
        step = _solve(A, U)
        theta = theta + step
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(theta))) or passes > 50:
            return theta, A, passes


class Data(Case):
    def problem(self):
        return problems.dlsa_logistic(seed=self.p.seed)

    def pooled(self, f):
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(2) as pool:
            return f(pool)


class Ideal(Data):
    pool, tile = False, None

    def fit(self):
        blocks = problems.split(self.X, self.y, self.p.partitions)
        theta, it = (self.pooled(lambda pool: ideal_newton(blocks, pool, self.tile))
                     if self.pool else ideal_newton(blocks))
        return {"theta": theta.tolist(), "n_iter": f"{it} Newton passes"}


class Proto(Data):
    def fit(self):
        blocks = problems.split(self.X, self.y, self.p.partitions)
        res = self.pooled(lambda pool: list(pool.map(lambda b: proto_local(*b, 1e-4), blocks)))
        theta = np.linalg.solve(sum(r[1] for r in res), sum(r[1] @ r[0] for r in res))
        return {"theta": theta.tolist(), "n_iter": f"Gram passes/block {[r[2] for r in res]}"}


class DLSA(Data):
    """DLSA, threaded or (``data`` "cluster") on a LocalCluster 2x1, blocks made on workers."""

    threads, dask_input, scheduler = True, True, "threads"
    refine_steps, blas1, tol = 0, False, 1e-8

    def setup(self):
        super().setup()
        if self.data == "cluster":
            return
        dask.config.set(scheduler=self.scheduler)
        if self.dask_input:  # da.from_array copies: keep only the copy (data held once)
            rows = self.p.n // self.p.partitions
            self.X, self.y = da.from_array(self.X, chunks=(rows, -1)), \
                da.from_array(self.y, chunks=(rows,))

    def fit(self):
        with threadpool_limits(1 if self.blas1 else None, user_api="blas"):
            m = adapters.ours("DLSALogisticRegression", self.X, self.y, tol=self.tol,
                              n_partitions=self.p.partitions, refine_steps=self.refine_steps)
            steps = np.asarray(adapters.attr(m, "refine_step_sizes_", []))
            local = np.asarray(adapters.attr(m, "local_n_iter_", [])).tolist()
            refine = f"; refine steps {np.round(steps, 12).tolist()}" if steps.size else ""
            return {"theta": np.asarray(m.params_).tolist(),
                    "n_iter": f"{adapters.passes(m)} pass(es); local iters/block {local}{refine}"}


class Profile(DLSA):
    """DLSA on NumPy input, synchronous scheduler, under cProfile: where the time goes."""

    dask_input, scheduler, repeats = False, "sync", 1

    def setup(self):
        super().setup()
        k = self.p.partitions  # warm-up on a slice: no import time in the profile
        adapters.ours("DLSALogisticRegression", self.X[: 2000 * k], self.y[: 2000 * k],
                      n_partitions=k, refine_steps=0)

    def fit(self):
        out = {}
        pattern = r"dask_glmdist.*(fit|block|check|prepare|_gram|evaluate|deviance|inverse)"
        text = runner.profiled(lambda: out.update(DLSA.fit(self)), ("cumulative", pattern),
                               ("tottime", 12), top=21)
        return {**out, "notes": "cProfile, synchronous scheduler\n" + text}


class Peer(Data):
    """sklearn lbfgs, or (``data`` "design": [1, X] built once) statsmodels GLM IRLS."""

    def fit(self):
        if self.data == "design":
            r = adapters.statsmodels_glm(self.y, self.X, "binomial")
            return {"theta": r["theta"], "n_iter": f"{r['n_iter']} IRLS iters"}
        r = adapters.sklearn_logistic(self.X, self.y, C=np.inf, solver="lbfgs", max_iter=1000,
                                      tol=1e-8)
        return {"theta": r["theta"], "n_iter": f"{r['n_iter']} lbfgs iters"}


class DaskML(DLSA):
    """dask-ml LogisticRegression, threaded or on a LocalCluster 2x1."""

    needs, solver = "dask_ml", "lbfgs"

    def fit(self):
        kw = ({"solver": "lbfgs", "penalty": None, "tol": 1e-8 * self.p.n, "max_iter": 1000}
              if self.solver == "lbfgs" else {"solver": "newton", "tol": 1e-8, "max_iter": 50})
        # lbfgs: tol on the summed gradient = sklearn's tol=1e-8 on the mean
        return adapters.daskml_logistic(self.X, self.y, count=self.data != "cluster", **kw)


CASES = {
    "ideal_seq": Spec("ideal blocked Newton (sequential blocks, BLAS 2 thr)", Ideal),
    "ideal_pool": Spec("ideal blocked Newton (2-thread pool, BLAS 1 thr)", Ideal, {"pool": True}),
    "ideal_tiled": Spec("ideal blocked Newton, 4096-row tiles (2-thread pool, BLAS 1 thr)",
                        Ideal, {"pool": True, "tile": 4096}),
    "dlsa_threads_dask": Spec("DLSA threaded, dask input", DLSA),
    "dlsa_threads_numpy": Spec("DLSA threaded, numpy input", DLSA, {"dask_input": False}),
    "dlsa_cluster": Spec("DLSA LocalCluster 2x1", DLSA, {"data": "cluster"}),
    "tdlsa_threads_dask": Spec("TDLSA (refine_steps=1) threaded, dask input", DLSA,
                               {"refine_steps": 1}),
    "sklearn_lbfgs": Spec("sklearn lbfgs (C=inf, tol=1e-8)", Peer),
    "statsmodels_irls": Spec("statsmodels GLM IRLS", Peer,
                             {"data": "design", "needs": "statsmodels"}),
    "daskml_lbfgs": Spec("dask-ml lbfgs threaded", DaskML),
    "daskml_newton": Spec("dask-ml newton threaded", DaskML, {"solver": "newton"}),
    "daskml_lbfgs_cluster": Spec("dask-ml lbfgs LocalCluster 2x1", DaskML, {"data": "cluster"}),
    "daskml_newton_cluster": Spec("dask-ml newton LocalCluster 2x1", DaskML,
                                  {"solver": "newton", "data": "cluster"}),
    "dlsa_threads_blas1": Spec("diag: DLSA threaded, dask input, BLAS 1 thr", DLSA,
                               {"blas1": True}),
    "dlsa_blas1_tol4": Spec("diag: DLSA threaded, dask input, BLAS 1 thr, tol=1e-4", DLSA,
                            {"blas1": True, "tol": 1e-4}),
    "proto_tiled_dlsa": Spec("diag: PROTOTYPE (not the library) DLSA round 1, tiled kernel, "
                             "tol=1e-4", Proto),
    "dlsa_profile": Spec("diag: DLSA numpy input, sync scheduler, cProfile", Profile),
}
DEFAULT = list(CASES)
IDEALS = ["ideal_seq", "ideal_pool", "ideal_tiled"]
PEERS = ["sklearn_lbfgs", "statsmodels_irls", "daskml_lbfgs", "daskml_newton",
         "daskml_lbfgs_cluster", "daskml_newton_cluster"]


def run(args, rep):
    names = [m for m in CASES if m in args.methods or m in IDEALS[-1:]]  # the MLE
    mem, out = {}, {}
    for n in args.n:
        rep(f"## N = {n:,}\n")
        out[n] = {k: v for k, v in run_all(rep, names, args, mem=mem, n=n).items() if "times" in v}
        table(rep, n, out[n])
    return out


def _ideal(res, names=IDEALS):
    return min([m for m in names if m in res], key=lambda m: med(res[m]), default=None)


def table(rep, n, res) -> None:
    t, ideal = {m: med(r) for m, r in res.items()}, _ideal(res)
    ref = "dlsa_threads_dask" if "dlsa_threads_dask" in res else None
    rep(f"\n### Results, N = {n:,} (ideal = {ideal}; global MLE from it; '/ DLSA' relative to "
        f"{ref})\n")
    mle = res[ideal]["theta"] if ideal else None
    rep.cases(res, CASES, {
        "/ ideal": lambda m, r: f"{t[m] / t[ideal]:.2f}" if ideal else "nan",
        "/ DLSA": lambda m, r: f"{t[m] / t[ref]:.2f}" if ref else "nan",
        "max abs(theta - MLE)": lambda m, r: f"{runner.maxdiff(r['theta'], mle):.1e}"
        if ideal else "nan", "iterations": "n_iter"})
    untiled, peers = _ideal(res, IDEALS[:2]), [m for m in PEERS if m in res]
    above = {m: r["peak"] - r["baseline"] for m, r in res.items()}
    for dl in [m for m in ("dlsa_threads_dask", "dlsa_threads_numpy") if m in res]:
        for ideal_m in [m for m in (untiled, "ideal_tiled") if m in res]:
            ratio = t[dl] / t[ideal_m]
            rep(f"- target 1, {dl}: time <= 1.2 x ideal ({ideal_m} {t[ideal_m]:.3f} s): "
                f"{ratio:.2f} x -> {'MET' if ratio <= 1.2 else 'NOT MET'}")
        lower = [f"{m} {mb(above[m])} MB" for m in peers if above[m] <= above[dl]]
        rep(f"- target 2, {dl}: peak memory above base ({mb(above[dl])} MB) below every "
            "peer's -> " + ("MET" if not lower else "NOT MET; at or below it: " + ", ".join(lower)))
    rep()


def rows(results, args):
    """Combined-table rows: DLSA (dask input) against the peers, oracle = the ideal MLE."""
    return [runner.combined_row("DLSALogisticRegression", f"logistic N={n:,} p=50",
                                res["dlsa_threads_dask"], {m: res[m] for m in PEERS if m in res},
                                res[ideal]["theta"], f"MLE ({ideal})")
            for n, res in results.items()
            if "dlsa_threads_dask" in res and (ideal := _ideal(res))]


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
