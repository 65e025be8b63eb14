"""Benchmark: DLSA logistic regression against an ideal blocked Newton and its peers.

What it measures
----------------
Logistic regression with an intercept and p = 50 correlated features (AR(1)
correlation 0.5 between neighbouring columns; fixed true coefficients scaled so
that the linear predictor has standard deviation 1.2, intercept -0.5, so the
probabilities are not extreme). For every N (``--n``, default 1e6 and 4e6) the same
seeded data (generated block by block, ``--partitions`` row blocks, default 10) are
fitted by

* ``dlsa_threads_dask``   DLSALogisticRegression(n_partitions=10), refine_steps=0, on
                          the threaded scheduler, X given as
                          ``da.from_array(X, chunks=(N // 10, -1))``
                          (the reference for the "/ DLSA" ratios);
* ``dlsa_threads_numpy``  the same with X, y given as NumPy arrays;
* ``dlsa_cluster``        the same on ``distributed.LocalCluster(n_workers=2,
                          threads_per_worker=1, processes=True)``; the blocks are
                          generated on the workers (``da.from_delayed`` + ``persist``,
                          not timed), so only the fit is timed;
* ``tdlsa_threads_dask``  DLSALogisticRegression(refine_steps=1) (TDLSA), threaded;
* ``ideal_seq``           an "ideal blocked Newton" in plain NumPy: the exact global
                          MLE by Newton iterations from 0, each iteration looping over
                          the same row blocks (eta, mu, w, Gram as the SYRK of
                          sqrt(w) X, score and intercept border in one 2-column GEMM),
                          blocks in sequence, BLAS on both cores; stops when
                          max|step| <= 1e-8;
* ``ideal_pool``          the same with a 2-thread ThreadPoolExecutor over the blocks
                          (BLAS limited to 1 thread per call);
* ``ideal_tiled``         ideal_pool with every block processed in 4096-row tiles
                          (eta, mu, w, scaling into one reused 4096 x p buffer, SYRK
                          accumulated): the same kernel, cache-blocked. The fastest of
                          the three is "ideal" in the ratios, and its estimate is the
                          global MLE every other method is compared with; the target
                          lines also give the ratio to the faster of ideal_seq and
                          ideal_pool (the untiled definition);
* ``sklearn_lbfgs``       sklearn LogisticRegression(C=inf, solver="lbfgs",
                          max_iter=1000, tol=1e-8) (``penalty=None`` is deprecated in
                          scikit-learn 1.8+; C=inf is the same unpenalised model);
* ``statsmodels_irls``    statsmodels GLM(y, [1, X], family=Binomial()).fit() (IRLS);
                          skipped at an N where its memory, extrapolated linearly
                          from a smaller N in the same run, would exceed
                          ``--mem-limit-gb``;
* ``daskml_lbfgs``, ``daskml_newton``   dask-ml LogisticRegression on the threaded
                          scheduler (dask input with N//10-row chunks), unpenalised
                          (lbfgs: penalty=None, tol = 1e-8 * N so its stopping rule on
                          the *summed* gradient matches scikit-learn's tol=1e-8 on the
                          mean; newton: tol=1e-8 on the coefficient change);
* ``daskml_lbfgs_cluster``, ``daskml_newton_cluster``  the same on the LocalCluster.

Diagnostics (rows marked "diag", not peers): ``dlsa_threads_blas1`` (DLSA threaded
with BLAS limited to one thread per call, i.e. no oversubscription of 2 dask threads
x 2 BLAS threads), ``dlsa_blas1_tol4`` (the same with the local fits stopped at
tol=1e-4: Newton's last step is taken, so the local estimates move by ~tol^2),
``proto_tiled_dlsa`` (a PROTOTYPE of DLSA round 1 -- not the library -- whose local
Newton fits process each block in 4096-row tiles like ``ideal_tiled``, tol=1e-4: what
the kernel could give) and ``dlsa_profile`` (DLSA on NumPy input, synchronous
scheduler, under cProfile: where the time goes, and how many local iterations each
block needs).

Every method runs in its own fresh subprocess (this script re-invoked with
``--worker METHOD``), which generates the data, records its RSS after data
generation (baseline), then fits ``--repeats`` times while a background thread
samples the RSS every 5 ms (for the LocalCluster: client plus all worker processes).
Reported: wall time of the fit (median of the repeats; also min and the first,
cold, run), the peak RSS above baseline (the memory the method itself needs, max
over the repeats) and the absolute peak, iterations, and max |theta - MLE| over
intercept and coefficients.

How to run
----------
::

    PYTHONPATH=/work/main python benchmarks/bench_dlsa_logistic.py --quick
    PYTHONPATH=/work/main python benchmarks/bench_dlsa_logistic.py \
        --n 1000000 4000000 --partitions 10 --repeats 3 \
        --out benchmarks/results_dlsa_logistic.md

``--methods`` selects a subset (the ideal Newton always runs first: it provides the
MLE). ``--quick`` is a smoke run (N = 20,000, 1 repeat). Needs psutil; dask-ml is
optional ("dask-ml: not available (...)" is printed without it).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
from _harness import (
    CpuMeter,
    MemorySampler,
    Report,
    _blas_info,
    _mb,
    _versions,
    block_sizes,
    wait_quiet,
)

P = 50
RHO = 0.5
ETA_SD = 1.2
INTERCEPT = -0.5
MARK = "@@RESULT@@"
VERSION_MODULES = ("numpy", "scipy", "dask", "distributed", "sklearn", "statsmodels",
                   "dask_ml", "threadpoolctl")  # listed in the report header

PEERS = [
    "ideal_seq",
    "ideal_pool",
    "ideal_tiled",
    "dlsa_threads_dask",
    "dlsa_threads_numpy",
    "dlsa_cluster",
    "tdlsa_threads_dask",
    "sklearn_lbfgs",
    "statsmodels_irls",
    "daskml_lbfgs",
    "daskml_newton",
    "daskml_lbfgs_cluster",
    "daskml_newton_cluster",
]
DIAGNOSTICS = ["dlsa_threads_blas1", "dlsa_blas1_tol4", "proto_tiled_dlsa", "dlsa_profile"]
ALL_METHODS = PEERS + DIAGNOSTICS
LABELS = {
    "ideal_seq": "ideal blocked Newton (sequential blocks, BLAS 2 thr)",
    "ideal_pool": "ideal blocked Newton (2-thread pool, BLAS 1 thr)",
    "ideal_tiled": "ideal blocked Newton, 4096-row tiles (2-thread pool, BLAS 1 thr)",
    "dlsa_threads_dask": "DLSA threaded, dask input",
    "dlsa_threads_numpy": "DLSA threaded, numpy input",
    "dlsa_cluster": "DLSA LocalCluster 2x1",
    "tdlsa_threads_dask": "TDLSA (refine_steps=1) threaded, dask input",
    "sklearn_lbfgs": "sklearn lbfgs (C=inf, tol=1e-8)",
    "statsmodels_irls": "statsmodels GLM IRLS",
    "daskml_lbfgs": "dask-ml lbfgs threaded",
    "daskml_newton": "dask-ml newton threaded",
    "daskml_lbfgs_cluster": "dask-ml lbfgs LocalCluster 2x1",
    "daskml_newton_cluster": "dask-ml newton LocalCluster 2x1",
    "dlsa_threads_blas1": "diag: DLSA threaded, dask input, BLAS 1 thr",
    "dlsa_blas1_tol4": "diag: DLSA threaded, dask input, BLAS 1 thr, tol=1e-4",
    "proto_tiled_dlsa": "diag: PROTOTYPE (not the library) DLSA round 1, tiled kernel, tol=1e-4",
    "dlsa_profile": "diag: DLSA numpy input, sync scheduler, cProfile",
}


# --------------------------------------------------------------------------------------
# data: seeded, block by block (identical in every process and on every worker)
# --------------------------------------------------------------------------------------


def true_params(p: int = P, seed: int = 0) -> np.ndarray:
    """[intercept, beta]: fixed draws scaled so that sd(x^T beta) = ETA_SD."""
    rng = np.random.default_rng([seed, 999])
    beta = rng.uniform(-1.0, 1.0, p)
    idx = np.arange(p)
    sigma = RHO ** np.abs(idx[:, None] - idx[None, :])
    beta *= ETA_SD / math.sqrt(float(beta @ sigma @ beta))
    return np.concatenate([[INTERCEPT], beta])


def fill_block(X: np.ndarray, seed: int, k: int, theta: np.ndarray) -> np.ndarray:
    """Fill X (n_k x p, C order) with block k's AR(1) design; return block k's y (0/1)."""
    rng = np.random.default_rng([seed, k])
    n, p = X.shape
    c = math.sqrt(1.0 - RHO**2)
    step = 65536  # row tiles, so that the column recursion stays in cache
    for s in range(0, n, step):
        t = X[s : s + step]
        rng.standard_normal(out=t)
        for j in range(1, p):
            t[:, j] *= c
            t[:, j] += RHO * t[:, j - 1]
    eta = X @ theta[1:]
    eta += theta[0]
    u = rng.random(n)
    return (u * (1.0 + np.exp(-eta)) < 1.0).astype(np.float64)  # u < expit(eta)


def make_block(n: int, p: int, seed: int, k: int):
    """Block k as a new (X_k, y_k) pair (for generation on the workers)."""
    X = np.empty((n, p))
    y = fill_block(X, seed, k, true_params(p, seed))
    return X, y


def make_data(n: int, p: int, k: int, seed: int):
    """All blocks in one C-ordered array (no full-size temporaries)."""
    theta = true_params(p, seed)
    X = np.empty((n, p))
    y = np.empty(n)
    start = 0
    for b, nb in enumerate(block_sizes(n, k)):
        y[start : start + nb] = fill_block(X[start : start + nb], seed, b, theta)
        start += nb
    return X, y


def row_blocks(X, y, k):
    out, start = [], 0
    for nb in block_sizes(X.shape[0], k):
        out.append((X[start : start + nb], y[start : start + nb]))
        start += nb
    return out


# --------------------------------------------------------------------------------------
# the ideal blocked Newton
# --------------------------------------------------------------------------------------


def _newton_block_terms(Xk, yk, theta):
    """Score, information pieces of one block at theta (fastest NumPy kernels)."""
    from scipy.special import expit

    eta = Xk @ theta[1:]
    eta += theta[0]
    mu = expit(eta, out=eta)
    w = mu * (1.0 - mu)
    r = yk - mu
    sw = np.sqrt(w)
    Xs = Xk * sw[:, None]
    G = Xs.T @ Xs  # numpy dispatches A.T @ A to BLAS SYRK
    del Xs
    sb = Xk.T @ np.stack([r, w], axis=1)  # score and intercept border in one pass
    return G, sb[:, 0], sb[:, 1], float(r.sum()), float(w.sum())


def _newton_block_terms_tiled(Xk, yk, theta, tile: int = 4096):
    """The same terms, the block processed in cache-sized row tiles (one reused buffer)."""
    from scipy.special import expit

    p = Xk.shape[1]
    G = np.zeros((p, p))
    sb = np.zeros((p, 2))
    rsum = wsum = 0.0
    buf = np.empty((min(tile, Xk.shape[0]), p))
    for s in range(0, Xk.shape[0], tile):
        x = Xk[s : s + tile]
        n = x.shape[0]
        eta = x @ theta[1:]
        eta += theta[0]
        mu = expit(eta, out=eta)
        w = mu * (1.0 - mu)
        r = yk[s : s + n] - mu
        xs = np.multiply(x, np.sqrt(w)[:, None], out=buf[:n])
        G += xs.T @ xs
        sb += x.T @ np.stack([r, w], axis=1)
        rsum += float(r.sum())
        wsum += float(w.sum())
    return G, sb[:, 0], sb[:, 1], rsum, wsum


def ideal_newton(blocks, pool=None, tol: float = 1e-8, max_iter: int = 50, tiled=False):
    """Exact global logistic MLE by Newton over row blocks; returns (theta, passes)."""
    import scipy.linalg

    p = blocks[0][0].shape[1]
    theta = np.zeros(p + 1)
    terms = _newton_block_terms_tiled if tiled else _newton_block_terms
    for it in range(1, max_iter + 1):
        if pool is None:
            parts = [terms(Xk, yk, theta) for Xk, yk in blocks]
        else:
            parts = list(pool.map(lambda b, th=theta: terms(b[0], b[1], th), blocks))
        A = np.empty((p + 1, p + 1))
        U = np.empty(p + 1)
        A[1:, 1:] = sum(t[0] for t in parts)
        U[1:] = sum(t[1] for t in parts)
        border = sum(t[2] for t in parts)
        A[0, 1:] = border
        A[1:, 0] = border
        U[0] = sum(t[3] for t in parts)
        A[0, 0] = sum(t[4] for t in parts)
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(A, check_finite=False), U,
                                      check_finite=False)
        theta = theta + step
        if np.max(np.abs(step)) <= tol:
            return theta, it
    return theta, max_iter


# --------------------------------------------------------------------------------------
# methods: setup (not timed) and fit (timed); each returns dict(theta=..., n_iter=...)
# --------------------------------------------------------------------------------------


def _dlsa_result(model):
    return {
        "theta": model.params_.tolist(),
        "n_iter": f"{model.n_iter_} pass(es); local iters/block {model.local_n_iter_.tolist()}",
    }


class Method:
    """Base: data in this process as NumPy."""

    pids: tuple = ()

    def __init__(self, args):
        self.args = args

    def setup(self):
        a = self.args
        self.X, self.y = make_data(a.n, P, a.partitions, a.seed)

    def fit(self):
        raise NotImplementedError

    def teardown(self):
        pass


class Ideal(Method):
    def __init__(self, args, pooled, tiled=False):
        super().__init__(args)
        self.pooled, self.tiled = pooled, tiled

    def setup(self):
        super().setup()
        import scipy.linalg  # noqa: F401  (import cost is not part of the fit)
        import scipy.special  # noqa: F401
        import threadpoolctl  # noqa: F401

    def fit(self):
        blocks = row_blocks(self.X, self.y, self.args.partitions)
        if not self.pooled:
            theta, it = ideal_newton(blocks)
        else:
            from concurrent.futures import ThreadPoolExecutor

            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(2) as pool:
                theta, it = ideal_newton(blocks, pool, tiled=self.tiled)
        return {"theta": theta.tolist(), "n_iter": f"{it} Newton passes"}


class DLSAThreads(Method):
    def __init__(self, args, dask_input, refine_steps=0, blas1=False, tol=1e-8):
        super().__init__(args)
        self.dask_input, self.refine_steps, self.blas1 = dask_input, refine_steps, blas1
        self.tol = tol

    def setup(self):
        super().setup()
        import dask
        import dask.array as da

        import dask_glmdist  # noqa: F401  (import cost is not part of the fit)

        dask.config.set(scheduler="threads")
        n, k = self.args.n, self.args.partitions
        if self.dask_input:
            # da.from_array copies its input (dask >= 2025); keep only the copy, so that
            # the baseline holds the data once, as for every other method
            self.Xin = da.from_array(self.X, chunks=(n // k, -1))
            self.yin = da.from_array(self.y, chunks=(n // k,))
            self.X = self.y = None
        else:
            self.Xin, self.yin = self.X, self.y

    def fit(self):
        from dask_glmdist import DLSALogisticRegression

        model = DLSALogisticRegression(n_partitions=self.args.partitions,
                                       refine_steps=self.refine_steps, tol=self.tol)
        if self.blas1:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, user_api="blas"):
                model.fit(self.Xin, self.yin)
        else:
            model.fit(self.Xin, self.yin)
        out = _dlsa_result(model)
        if self.refine_steps:
            out["n_iter"] += f"; refine steps {np.round(model.refine_step_sizes_, 12).tolist()}"
        return out


def _proto_local_newton(Xk, yk, tol, tile=4096):
    """Logistic local fit: IRLS start from mu0 = (y + 1/2) / 2, then Newton steps (taken)
    until max|step| <= tol (1 + max|theta|); every pass in cache-sized row tiles."""
    import scipy.linalg

    def terms(theta):
        p = Xk.shape[1]
        G, sb, rs, ws = np.zeros((p, p)), np.zeros((p, 2)), 0.0, 0.0
        buf = np.empty((min(tile, Xk.shape[0]), p))
        for s in range(0, Xk.shape[0], tile):
            x = Xk[s : s + tile]
            n = x.shape[0]
            yy = yk[s : s + n]
            if theta is None:  # IRLS right-hand side at mu0: w0 z0 = (y - mu0) + w0 eta0
                mu = (yy + 0.5) / 2.0
                w = mu * (1.0 - mu)
                r = (yy - mu) + w * np.log(mu / (1.0 - mu))
            else:
                eta = x @ theta[1:]
                eta += theta[0]
                mu = 1.0 / (1.0 + np.exp(-eta))
                w = mu * (1.0 - mu)
                r = yy - mu
            xs = np.multiply(x, np.sqrt(w)[:, None], out=buf[:n])
            G += xs.T @ xs
            sb += x.T @ np.stack([r, w], axis=1)
            rs += float(r.sum())
            ws += float(w.sum())
        A = np.empty((p + 1, p + 1))
        A[1:, 1:] = G
        A[0, 1:] = A[1:, 0] = sb[:, 1]
        A[0, 0] = ws
        return np.concatenate([[rs], sb[:, 0]]), A

    def solve(A, b):
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(A), b)

    U, A = terms(None)
    theta, passes = solve(A, U), 1
    while True:
        U, A = terms(theta)
        passes += 1
        step = solve(A, U)
        theta = theta + step
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(theta))) or passes > 50:
            return theta, A, passes


class ProtoTiledDLSA(Method):
    """What DLSA round 1 costs with a cache-tiled local kernel: a PROTOTYPE for the
    performance notes (logistic only; no input checks, no step halving, no Firth
    fallback), NOT the library. 2-thread pool over the blocks, BLAS 1 thread."""

    def setup(self):
        super().setup()
        import scipy.linalg  # noqa: F401
        import threadpoolctl  # noqa: F401

    def fit(self):
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        blocks = row_blocks(self.X, self.y, self.args.partitions)
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(2) as pool:
            res = list(pool.map(lambda b: _proto_local_newton(b[0], b[1], 1e-4), blocks))
        A = sum(r[1] for r in res)
        theta = np.linalg.solve(A, sum(r[1] @ r[0] for r in res))
        return {"theta": theta.tolist(),
                "n_iter": f"Gram passes/block {[r[2] for r in res]}"}


class DLSAProfile(Method):
    """DLSA on the synchronous scheduler under cProfile: where the time goes."""

    def setup(self):
        super().setup()
        import dask

        from dask_glmdist import DLSALogisticRegression

        k = self.args.partitions  # warm-up on a small slice: no import time in the profile
        with dask.config.set(scheduler="sync"):
            DLSALogisticRegression(n_partitions=k, refine_steps=0).fit(
                self.X[: 2000 * k], self.y[: 2000 * k])

    def fit(self):
        import cProfile
        import io
        import pstats

        import dask

        from dask_glmdist import DLSALogisticRegression

        model = DLSALogisticRegression(n_partitions=self.args.partitions, refine_steps=0)
        prof = cProfile.Profile()
        with dask.config.set(scheduler="sync"):
            prof.enable()
            model.fit(self.X, self.y)
            prof.disable()
        stats = pstats.Stats(prof)
        total = max(v[3] for v in stats.stats.values())
        wanted = {
            ("dlsa.py", "fit"), ("dlsa.py", "dlsa_local_block"), ("_base.py", "prepare_blocks"),
            ("validation.py", "validate_data"), ("_blocks.py", "check_block"),
            ("local.py", "fit_local"), ("local.py", "_start"), ("local.py", "evaluate"),
            ("local.py", "_gram"), ("local.py", "_design_t_vec"), ("local.py", "eta_of"),
            ("families.py", "deviance"), ("families.py", "inverse_and_deriv"),
            ("families.py", "inverse_deriv"), ("families.py", "starting_mu"),
            ("families.py", "variance"), ("linalg.py", "__init__"), ("dlsa.py", "_response"),
            ("families.py", "valid_eta"), ("families.py", "check_y"),
        }
        rows = []
        for (fname, _line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
            if (os.path.basename(fname), func) in wanted:
                rows.append((ct, tt, nc, f"{os.path.basename(fname)}:{func}"))
        rows.sort(reverse=True)
        lines = [f"cProfile, synchronous scheduler, total {total:.3f} s "
                 "(cumulative s / own s / calls / function):"]
        lines += [f"  {ct:8.3f} {tt:8.3f} {nc:6d}  {name}" for ct, tt, nc, name in rows]
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
        top = [ln for ln in buf.getvalue().splitlines() if ln.strip()][-13:]
        lines += ["  top functions by own time:"] + ["    " + ln for ln in top]
        out = _dlsa_result(model)
        out["notes"] = "\n".join(lines)
        return out


class Sklearn(Method):
    def fit(self):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000, tol=1e-8)
        model.fit(self.X, self.y)
        theta = np.concatenate([model.intercept_, model.coef_.ravel()])
        return {"theta": theta.tolist(), "n_iter": f"{int(model.n_iter_[0])} lbfgs iters"}


class Statsmodels(Method):
    def setup(self):
        super().setup()
        import statsmodels.api  # noqa: F401

        # statsmodels needs the constant in the design: build it once, drop the original
        # (so the baseline holds the data once, as for the other methods)
        exog = np.empty((self.X.shape[0], self.X.shape[1] + 1))
        exog[:, 0] = 1.0
        exog[:, 1:] = self.X
        del self.X
        self.exog = exog

    def fit(self):
        import statsmodels.api as sm

        res = sm.GLM(self.y, self.exog, family=sm.families.Binomial()).fit()
        it = res.fit_history.get("iteration", "?")
        return {"theta": np.asarray(res.params).tolist(), "n_iter": f"{it} IRLS iters"}


def _daskml_kwargs(solver, n):
    if solver == "lbfgs":
        return {"solver": "lbfgs", "penalty": None, "tol": 1e-8 * n, "max_iter": 1000}
    return {"solver": "newton", "tol": 1e-8, "max_iter": 50}


class _PassCounter:
    """Counts dask graph computations (= passes over the data) on the local schedulers."""

    def __init__(self):
        from dask.callbacks import Callback

        counter = self

        class _CB(Callback):
            def _start(self, dsk):
                counter.n += 1

        self.n = 0
        self.cb = _CB()


class DaskML(Method):
    def __init__(self, args, solver):
        super().__init__(args)
        self.solver = solver

    def setup(self):
        super().setup()
        import dask
        import dask.array as da
        import dask_ml.linear_model  # noqa: F401

        dask.config.set(scheduler="threads")
        n, k = self.args.n, self.args.partitions
        self.Xin = da.from_array(self.X, chunks=(n // k, -1))  # a copy (see DLSAThreads)
        self.yin = da.from_array(self.y, chunks=(n // k,))
        self.X = self.y = None

    def fit(self):
        from dask_ml.linear_model import LogisticRegression

        kw = _daskml_kwargs(self.solver, self.args.n)
        counter = _PassCounter()
        with counter.cb:
            model = LogisticRegression(**kw).fit(self.Xin, self.yin)
        theta = np.concatenate([[float(model.intercept_)], np.ravel(model.coef_)])
        return {"theta": theta.tolist(), "n_iter": f"{counter.n} dask computes",
                "notes": f"dask-ml LogisticRegression({kw})"}


class Cluster(Method):
    """Data generated on the workers of a 2-process LocalCluster and persisted there."""

    def setup(self):
        import dask
        import dask.array as da
        import psutil
        from distributed import Client, LocalCluster, wait

        a = self.args
        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=None)
        self.client = Client(self.cluster)
        xs, ys = [], []
        for k, nb in enumerate(block_sizes(a.n, a.partitions)):
            blk = dask.delayed(make_block, nout=2, pure=True)(nb, P, a.seed, k)
            xs.append(da.from_delayed(blk[0], shape=(nb, P), dtype=np.float64))
            ys.append(da.from_delayed(blk[1], shape=(nb,), dtype=np.float64))
        X = da.concatenate(xs, axis=0)
        y = da.concatenate(ys, axis=0)
        self.Xd, self.yd = dask.persist(X, y)
        wait([self.Xd, self.yd])
        self.client.run(self._warm_imports)  # import cost is not part of the fit
        self.pids = tuple(p.pid for p in psutil.Process().children(recursive=True))

    @staticmethod
    def _warm_imports():
        import dask_glmdist  # noqa: F401

        try:
            import dask_ml.linear_model  # noqa: F401
        except ImportError:
            pass

    def teardown(self):
        self.client.close()
        self.cluster.close()


class DLSACluster(Cluster):
    def fit(self):
        from dask_glmdist import DLSALogisticRegression

        model = DLSALogisticRegression(n_partitions=self.args.partitions, refine_steps=0)
        model.fit(self.Xd, self.yd)
        return _dlsa_result(model)


class DaskMLCluster(Cluster):
    def __init__(self, args, solver):
        super().__init__(args)
        self.solver = solver

    def fit(self):
        from dask_ml.linear_model import LogisticRegression

        kw = _daskml_kwargs(self.solver, self.args.n)
        model = LogisticRegression(**kw).fit(self.Xd, self.yd)
        theta = np.concatenate([[float(model.intercept_)], np.ravel(model.coef_)])
        return {"theta": theta.tolist(), "n_iter": "n/a",
                "notes": f"dask-ml LogisticRegression({kw})"}


def make_method(name, args) -> Method:
    table = {
        "ideal_seq": lambda: Ideal(args, pooled=False),
        "ideal_pool": lambda: Ideal(args, pooled=True),
        "ideal_tiled": lambda: Ideal(args, pooled=True, tiled=True),
        "dlsa_threads_dask": lambda: DLSAThreads(args, dask_input=True),
        "dlsa_threads_numpy": lambda: DLSAThreads(args, dask_input=False),
        "dlsa_threads_blas1": lambda: DLSAThreads(args, dask_input=True, blas1=True),
        "dlsa_blas1_tol4": lambda: DLSAThreads(args, dask_input=True, blas1=True, tol=1e-4),
        "proto_tiled_dlsa": lambda: ProtoTiledDLSA(args),
        "tdlsa_threads_dask": lambda: DLSAThreads(args, dask_input=True, refine_steps=1),
        "dlsa_cluster": lambda: DLSACluster(args),
        "dlsa_profile": lambda: DLSAProfile(args),
        "sklearn_lbfgs": lambda: Sklearn(args),
        "statsmodels_irls": lambda: Statsmodels(args),
        "daskml_lbfgs": lambda: DaskML(args, "lbfgs"),
        "daskml_newton": lambda: DaskML(args, "newton"),
        "daskml_lbfgs_cluster": lambda: DaskMLCluster(args, "lbfgs"),
        "daskml_newton_cluster": lambda: DaskMLCluster(args, "newton"),
    }
    return table[name]()


# --------------------------------------------------------------------------------------
# worker: one method, one N, in a fresh process
# --------------------------------------------------------------------------------------


def run_worker(args) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")
    method = make_method(args.worker, args)
    t0 = time.perf_counter()
    method.setup()
    setup_s = time.perf_counter() - t0
    gc.collect()
    time.sleep(0.3)
    probe = MemorySampler(method.pids)
    baseline, baseline_self = probe.sample()
    repeats = 1 if args.worker == "dlsa_profile" else args.repeats
    times, peaks, peaks_self, other, waited, result = [], [], [], [], 0.0, None
    for _ in range(repeats):
        if sum(times) > args.fit_budget:  # slow peers: fewer repeats (see --fit-budget)
            break
        gc.collect()
        waited += wait_quiet(method.pids, max_wait=args.max_wait)
        with MemorySampler(method.pids) as mem, CpuMeter(method.pids) as cpu:
            t = time.perf_counter()
            result = method.fit()
            times.append(time.perf_counter() - t)
        peaks.append(mem.peak)
        peaks_self.append(mem.peak_self)
        other.append(cpu.other_cores)
    method.teardown()
    out = {
        "method": args.worker,
        "n": args.n,
        "measured": datetime.datetime.now().isoformat(timespec="seconds"),
        "times": times,
        "other_cores": other,
        "waited_s": waited,
        "setup_s": setup_s,
        "baseline": baseline,
        "baseline_self": baseline_self,
        "peak": max(peaks),
        "peak_self": max(peaks_self),
        "processes": 1 + len(method.pids),
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        **result,
    }
    print(MARK + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------
# parent: run every method in its own process, print and tabulate
# --------------------------------------------------------------------------------------


def _dask_ml_available() -> str | None:
    try:
        import dask_ml.linear_model  # noqa: F401

        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


def run_method(name, n, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--n", str(n),
           "--partitions", str(args.partitions), "--repeats", str(args.repeats),
           "--seed", str(args.seed), "--max-wait", str(args.max_wait),
           "--fit-budget", str(args.fit_budget)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {args.timeout} s"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: N=20000, 1 repeat")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=ALL_METHODS)
    parser.add_argument("--skip", nargs="+", choices=ALL_METHODS, default=[])
    parser.add_argument("--mem-limit-gb", type=float, default=16.0,
                        help="skip a method whose extrapolated peak would exceed this")
    parser.add_argument("--timeout", type=float, default=300.0, help="per method process, s")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="before each fit, wait up to this long for the machine to be "
                        "quiet (other processes < 0.15 cores)")
    parser.add_argument("--fit-budget", type=float, default=60.0,
                        help="no further repeats once a method's fits took this long (s)")
    parser.add_argument("--cache", help="directory: save every method's result there as "
                        "JSON and reuse saved results instead of re-running (so that a "
                        "long benchmark can be run in parts and reported in one table)")
    parser.add_argument("--out", help="also write the report (markdown) to this file")
    parser.add_argument("--cached-only", action="store_true",
                        help="with --cache: only report saved results, run nothing")
    parser.add_argument("--worker", choices=ALL_METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.n = args.n[0]
        run_worker(args)
        return
    if args.quick:
        args.n, args.repeats = [20_000], 1
    methods = [m for m in ALL_METHODS if m in args.methods and m not in args.skip]
    for m in ("ideal_tiled", "ideal_pool", "ideal_seq"):  # the MLE comes from the ideal
        if m not in methods:
            methods.append(m)
    methods.sort(key=lambda m: (not m.startswith("ideal"), ALL_METHODS.index(m)))
    dml_reason = _dask_ml_available()

    rep = Report(args.out)
    rep("# Benchmark: DLSA logistic regression vs ideal blocked Newton and peers")
    rep()
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {platform.platform()}")
    rep(f"- versions: {_versions(VERSION_MODULES)}")
    rep(f"- BLAS: {_blas_info()}")
    rep(f"- command: `{' '.join([os.path.basename(sys.argv[0])] + sys.argv[1:])}`")
    rep(f"- data: logistic, p={P} AR(1) rho={RHO} features + intercept, sd(eta)={ETA_SD}, "
        f"intercept {INTERCEPT}, seed {args.seed}; {args.partitions} row blocks; "
        f"time = median of {args.repeats} fit(s) in a fresh process per method")
    rep("- memory: peak RSS sampled every 5 ms during the fit; 'above base' = peak minus "
        "RSS after data generation (for LocalCluster: client + worker processes)")
    rep("- the machine is shared: before every fit the worker waits (up to --max-wait s) "
        "for other processes to use < 0.15 cores; 'other load' = the largest CPU use "
        "(in cores) by other processes during any of a method's timed fits -- results "
        "with other load >~ 0.2 are disturbed (the measure is coarse for fits < 0.5 s)")
    if args.cache:
        rep(f"- results saved in / reused from {args.cache}: each method was measured in its "
            "own fresh process; '[saved result, measured ...]' gives when")
    if dml_reason:
        rep(f"- dask-ml: not available ({dml_reason})")
    rep()
    mem_per_row: dict = {}
    for n in args.n:
        rep(f"## N = {n:,}")
        rep()
        results: dict = {}
        for name in methods:
            if name.startswith("daskml") and dml_reason:
                rep(f"- {name}: dask-ml: not available ({dml_reason})")
                continue
            if name in mem_per_row:
                est = mem_per_row[name] * n
                if est > args.mem_limit_gb * 2**30:
                    rep(f"- {name}: skipped at N={n:,}: its peak memory extrapolated from a "
                        f"smaller N is {est / 2**30:.1f} GiB > --mem-limit-gb "
                        f"{args.mem_limit_gb:g}")
                    continue
            t0 = time.perf_counter()
            cached = None
            if args.cache:
                cached = os.path.join(args.cache, f"{name}_n{n}_k{args.partitions}_"
                                      f"r{args.repeats}_s{args.seed}.json")
            if cached and os.path.exists(cached):
                with open(cached) as fh:
                    res, err = json.load(fh), None
                res["cached"] = True
            elif args.cached_only:
                rep(f"- {name}: not run (--cached-only and no saved result)")
                continue
            else:
                res, err = run_method(name, n, args)
            if err:
                rep(f"- {name}: {err}")
                continue
            if cached and not res.get("cached"):
                os.makedirs(args.cache, exist_ok=True)
                with open(cached, "w") as fh:
                    json.dump(res, fh)
            results[name] = res
            mem_per_row[name] = max(mem_per_row.get(name, 0), res["peak"] / n)
            rep(f"- {name}: median {statistics.median(res['times']):.3f} s "
                f"(runs {', '.join(f'{t:.3f}' for t in res['times'])}), "
                f"peak above base {_mb(res['peak'] - res['baseline'])} MB, "
                f"peak {_mb(res['peak'])} MB, {res['n_iter']}; other processes' load "
                f"during the fits {', '.join(f'{c:.2f}' for c in res['other_cores'])} cores "
                + (f"[saved result, measured {res['measured']}]" if res.get("cached") else
                   f"[process {time.perf_counter() - t0:.0f} s, waited {res['waited_s']:.0f} s "
                   "for a quiet machine]"))
        report_table(rep, n, results)
    if args.out:
        print(f"report written to {args.out}")


def report_table(rep, n, results) -> None:
    if not results:
        return
    ideal_names = [m for m in ("ideal_seq", "ideal_pool", "ideal_tiled") if m in results]
    med = {m: statistics.median(r["times"]) for m, r in results.items()}
    ideal = min(ideal_names, key=lambda m: med[m]) if ideal_names else None
    mle = np.asarray(results[ideal]["theta"]) if ideal else None
    ref = "dlsa_threads_dask" if "dlsa_threads_dask" in results else None
    rep()
    rep(f"### Results, N = {n:,} (ideal = {ideal}; global MLE from it; "
        f"'/ DLSA' relative to {ref})")
    rep()
    rep("| method | time median (s) | min (s) | / ideal | / DLSA | peak above base (MB) | "
        "peak RSS (MB) | max abs(theta - MLE) | iterations | other load (cores) |")
    rep("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for m in ALL_METHODS:
        if m not in results:
            continue
        r = results[m]
        err = np.max(np.abs(np.asarray(r["theta"]) - mle)) if mle is not None else float("nan")
        r_ideal = med[m] / med[ideal] if ideal else float("nan")
        r_dlsa = med[m] / med[ref] if ref else float("nan")
        procs = f" ({r['processes']} procs)" if r["processes"] > 1 else ""
        rep(f"| {LABELS[m]} | {med[m]:.3f} | {min(r['times']):.3f} | {r_ideal:.2f} | "
            f"{r_dlsa:.2f} | {_mb(r['peak'] - r['baseline'])} | {_mb(r['peak'])}{procs} | "
            f"{err:.1e} | {r['n_iter']} | {max(r['other_cores']):.2f} |")
    rep()
    # target checks
    untiled = [m for m in ("ideal_seq", "ideal_pool") if m in results]
    ideal_untiled = min(untiled, key=lambda m: med[m]) if untiled else None
    peers = [m for m in PEERS if m in results and m.startswith(("sklearn", "statsmodels",
                                                                  "daskml"))]
    for dl in ("dlsa_threads_dask", "dlsa_threads_numpy"):
        if dl not in results:
            continue
        for ref_ideal, what in ((ideal_untiled, "faster of ideal_seq / ideal_pool, as briefed"),
                                ("ideal_tiled", "cache-tiled ideal")):
            if ref_ideal in results:
                ratio = med[dl] / med[ref_ideal]
                rep(f"- target 1, {dl}: time <= 1.2 x ideal ({what}, {ref_ideal} "
                    f"{med[ref_ideal]:.3f} s): {ratio:.2f} x -> "
                    f"{'MET' if ratio <= 1.2 else 'NOT MET'}")
        dlsa_mem = results[dl]["peak"] - results[dl]["baseline"]
        lower = [m for m in peers if results[m]["peak"] - results[m]["baseline"] <= dlsa_mem]
        rep(f"- target 2, {dl}: peak memory above base ({_mb(dlsa_mem)} MB) below every "
            "peer's -> "
            + ("MET" if not lower else "NOT MET; at or below it: "
               + ", ".join(f"{m} {_mb(results[m]['peak'] - results[m]['baseline'])} MB"
                           for m in lower)))
        ideal_mem = ", ".join(f"{m} {_mb(results[m]['peak'] - results[m]['baseline'])} MB"
                              for m in ideal_names)
        rep(f"  (peers: sklearn, statsmodels, dask-ml; for reference the ideal Newton: "
            f"{ideal_mem})")
    for m in ALL_METHODS:
        if m in results and results[m].get("notes"):
            rep()
            rep(f"Notes, {m}:")
            rep("```")
            rep(results[m]["notes"])
            rep("```")
    rep()


if __name__ == "__main__":
    main()
