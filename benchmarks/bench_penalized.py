"""Benchmark: PenalizedLogisticRegression (exact global L1 logistic, PQN) against its peers.

What it measures
----------------
A logistic lasso on N = ``--n`` rows (default 1,000,000) and p in ``--ps`` (default 50
and 200) standard normal features with AR(1) correlation ``--rho`` (default 0.3)
between neighbouring columns (unit variances), 10 non-zero true coefficients (+-1,
+-0.8, +-0.6, +-0.4, +-0.2 at columns 2, 7, ..., 47) and intercept -0.5. The rows form
``--partitions`` (default 10) nearly equal row blocks (``_harness.block_sizes``);
block k is generated from ``(seed, p, k)``, so every process (and every LocalCluster
worker) rebuilds exactly the same data. The penalty is alpha = f * alpha_max for f in
``--alpha-fracs`` (default 0.1, 0.01, 0.001), where alpha_max = max_j |x_j^T (y - ybar)|
/ N is the smallest alpha whose solution has all coefficients zero.

The objective, for every solver, is

    F(b0, b) = mean_i [log(1 + exp(eta_i)) - y_i eta_i] + alpha * ||b||_1,
    eta_i = b0 + x_i^T b    (intercept not penalised),

evaluated by one shared NumPy function (``loss_sum_block``, summed over the same row
blocks, for in-memory and dask data alike) on every solver's coefficients; objective
gaps are (F_peer - F_ours) / F_ours with F_ours that of ``ours_threads`` at the same
alpha (converged to tol=1e-8, i.e. optimal to ~1e-9 or better).

Solvers (each in its own fresh process per p; every process builds the data, records
its RSS -- the baseline, which contains the data --, then fits every alpha):

* ``ours_threads``   PenalizedLogisticRegression(alpha, l1_ratio=1, tol=1e-8,
                     max_iter=100, n_partitions=10).fit(X, y) on the in-memory NumPy
                     arrays (the estimator splits them into 10 row-block views, no
                     copy) under dask's default threaded scheduler (2 threads);
                     ``--repeats`` fits, median reported. INFO records of the
                     ``dask_glmdist`` logger give the wall time of every round
                     (map over blocks + tree sum), from which the share of the fit
                     spent in rounds vs on the client is reported;
* ``ours_cluster``   the same on ``distributed.LocalCluster(n_workers=2,
                     threads_per_worker=1, processes=True)``: the 10 row blocks are
                     generated on the workers (block builders submitted as futures,
                     ``da.from_delayed`` + ``da.concatenate``, then ``persist`` and
                     ``wait``, not timed), so X and y are a persisted dask array of 10
                     row chunks held by the workers, block k on worker k % 2 (generated
                     there by ``client.submit(..., workers=[...])``; left to the
                     scheduler the blocks landed 6 + 4, and the worker with 6 then
                     sets the pace of every round); the fit gets those dask arrays
                     (y as a dask array: the estimator finds the two labels by one
                     extra pass over y). Memory = client + worker processes;
* ``sk_liblinear``   scikit-learn LogisticRegression(C=1/(alpha N), l1_ratio=1,
                     solver="liblinear", intercept_scaling=1e3). liblinear penalises
                     the intercept (it is the weight of a constant column of value
                     intercept_scaling); with 1e3 its penalty is alpha*|b0|/1e3,
                     negligible (the gap shows it). Fits: tol=1e-4 (default) and tol=1e-8
                     (the cap below from max_iter=1 and max_iter=3 fits: liblinear's
                     copy of X into its own format is a fixed cost per fit);
* ``sk_saga``        the same with solver="saga" (intercept not penalised), tol=1e-4
                     (default) and tol=1e-8. Both scikit-learn solvers are capped by
                     ``--peer-budget``: a max_iter=1 fit first measures the cost of one
                     iteration (epoch), and each fit gets max_iter = min(default or
                     10000, budget / that cost); a fit stopped by that cap is marked
                     "capped" (its objective gap is what it reached);
* ``dml_proxgrad``, ``dml_admm``   dask-ml LogisticRegression(solver="proximal_grad" |
                     "admm", C=1/lamduh) on the threaded scheduler, X and y as
                     ``da.from_array`` with the same 10 row chunks. dask-ml (dask_glm)
                     minimises sum_i loss_i + lamduh * ||[b, b0]||_1 on *standardised*
                     columns by default (``normalize=True``: the penalty is then
                     sum_j sd_j |b_j| + |b0 + mean^T b|) and penalises the intercept.
                     To solve exactly our problem we pass ``solver_kwargs={"normalize":
                     False}`` and ``penalty=`` an L1 regulariser (a subclass of
                     dask_glm's L1) that leaves dask-ml's intercept (its last
                     coefficient) unpenalised, with lamduh = alpha N, i.e.
                     C = 1 / (alpha N). Tolerances are dask-ml's defaults (admm:
                     abstol=1e-4, reltol=1e-2, rho=1, max_iter=250, local L-BFGS
                     <= 200 iterations per block and round; proximal_grad: tol=1e-8 on
                     the relative change of the loss, max_iter=100). The same
                     regulariser records (time, iterate) at every proximal step (admm:
                     once per iteration; proximal_grad: every line-search trial) and
                     stops the fit when ``--peer-budget`` s are spent (the last iterate
                     is then the result). After the fit (not timed) F is evaluated on
                     up to 60 recorded iterates (plus bisection): the time at which the
                     objective gap first fell below 1e-6, and for capped runs a
                     log-linear extrapolation of the gap over the last half of the
                     trace to 1e-6 ("projection"). dask-ml's lbfgs solver supports only
                     the L2 penalty (L1's gradient raises at 0), so it is not run.
                     A run that stopped by its own test short of gap 1e-6 is followed
                     by a tight one (proximal_grad: tol=1e-14; admm: abstol=1e-10,
                     reltol=1e-8; max_iter=100000), under the same budget. NB
                     proximal_grad's backtracking accepts a step when the
                     *unpenalised* loss decreases, so near an L1 solution (where the
                     objective-decreasing steps raise the loss) it drives the step to 0
                     and stops, whatever the tol;
* ``dml_admm_rho``   (optional) admm with rho = n_k / 200 instead of dask-ml's rho=1,
                     which is tiny against the summed loss (curvature ~ n_k / 4), so
                     that the consensus soft-threshold lamduh / (rho K) = alpha N / K
                     keeps every coefficient at 0 for many iterations. n_k / 200 was
                     picked from one trial at N = 200,000, not tuned further.
                     Optional (``--methods``): ``dml_proxgrad_cluster``,
                     ``dml_admm_cluster`` (same, on the LocalCluster) and
                     ``dml_admm_shipped`` (dask-ml as shipped: penalty="l1",
                     normalize=True, penalised intercept -- a different problem, shown
                     by its objective gap). dask-ml runs with the Python of ``--venv``
                     (a virtualenv with system site packages plus dask-ml).

Reported per fit: wall time (median of ``--repeats`` for ours; peers once), iterations
and rounds over the data (ours: n_iter_ and n_rounds_; dask-ml: dask computes counted
by a scheduler callback on the threaded scheduler), objective gap, number of non-zero
coefficients, peak RSS above the baseline (sampled every 5 ms) and the CPU use of other
processes during the fit ("other load", cores; >~ 0.2 means a disturbed measurement).
Ratios: time of the fastest dask-ml / scikit-learn solver to reach a gap <= 1e-6
(measured, or lower bound / projection when no run got there) over ours.

Budgets: ``--peer-budget`` s per peer fit, ``--time-limit`` s for the whole run (a fit
that would not fit in the time left is skipped and reported as such). ``--cache DIR``
saves every solver's result (per p) as JSON and reuses it (``--rerun`` to measure again,
``--cached-only`` to only rebuild the report), so a long run can be done in parts.

How to run
----------
::

    python benchmarks/bench_penalized.py --quick     # smoke run: N=200k, p=50, 1 alpha
    python benchmarks/bench_penalized.py --out benchmarks/results_penalized.md \
        --cache /tmp/bench_penalized_cache --methods ours_threads ours_cluster \
        sk_liblinear sk_saga dml_proxgrad dml_admm dml_admm_rho

Needs psutil and distributed; dask-ml only in the ``--venv`` virtualenv, e.g.
``python -m venv --system-site-packages /tmp/dmlvenv && /tmp/dmlvenv/bin/pip install
dask-ml``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gc
import json
import logging
import math
import operator
import os
import platform
import re
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

NONZERO = [1.0, -1.0, 0.8, -0.8, 0.6, -0.6, 0.4, -0.4, 0.2, -0.2]  # at columns 2, 7, ...
INTERCEPT = -0.5
GAP = 1e-6  # "equal objective": (F_peer - F_ours) / F_ours <= GAP
MARK = "@@RESULT@@"
VERSION_MODULES = ("numpy", "scipy", "dask", "distributed", "sklearn", "threadpoolctl",
                   "psutil", "dask_glmdist")
OURS = ["ours_threads", "ours_cluster"]
SKLEARN = ["sk_liblinear", "sk_saga"]
DASKML = ["dml_proxgrad", "dml_admm"]
DASKML_EXTRA = ["dml_admm_rho", "dml_proxgrad_cluster", "dml_admm_cluster",
                "dml_admm_shipped"]
DEFAULT_METHODS = OURS + SKLEARN + DASKML
ALL_METHODS = DEFAULT_METHODS + DASKML_EXTRA
LABELS = {
    "ours_threads": "ours, threaded",
    "ours_cluster": "ours, LocalCluster 2x1",
    "sk_liblinear": "sklearn liblinear",
    "sk_saga": "sklearn saga",
    "dml_proxgrad": "dask-ml proximal_grad, threaded",
    "dml_admm": "dask-ml admm, threaded",
    "dml_proxgrad_cluster": "dask-ml proximal_grad, LocalCluster 2x1",
    "dml_admm_cluster": "dask-ml admm, LocalCluster 2x1",
    "dml_admm_shipped": "dask-ml admm as shipped (normalize, penalised intercept)",
    "dml_admm_rho": "dask-ml admm, rho = n_k / 200, threaded",
}


# --------------------------------------------------------------------------------------
# data: seeded, block by block (identical in every process and on every worker)
# --------------------------------------------------------------------------------------


def true_coef(p: int) -> np.ndarray:
    beta = np.zeros(p)
    for i, v in enumerate(NONZERO):
        if 2 + 5 * i < p:
            beta[2 + 5 * i] = v
    return beta


def fill_block(X: np.ndarray, seed: int, k: int, rho: float) -> np.ndarray:
    """Fill X (n_k x p, C order) with block k's AR(1) design; return block k's y (0/1)."""
    n, p = X.shape
    rng = np.random.default_rng([seed, p, k])
    c = math.sqrt(1.0 - rho**2)
    step = 16384  # row tiles, so that the column recursion stays in cache
    for s in range(0, n, step):
        t = X[s : s + step]
        rng.standard_normal(out=t)
        for j in range(1, p):
            t[:, j] *= c
            t[:, j] += rho * t[:, j - 1]
    eta = X @ true_coef(p)
    eta += INTERCEPT
    u = rng.random(n)
    return (u * (1.0 + np.exp(-eta)) < 1.0).astype(np.float64)  # u < expit(eta)


def make_block(n_k: int, p: int, seed: int, k: int, rho: float):
    """Block k as a new (X_k, y_k) pair (built on the LocalCluster workers)."""
    X = np.empty((n_k, p))
    y = fill_block(X, seed, k, rho)
    return X, y


def make_numpy(args):
    """All blocks in one C-ordered array (no full-size temporaries)."""
    X = np.empty((args.n, args.p))
    y = np.empty(args.n)
    start = 0
    for k, n_k in enumerate(block_sizes(args.n, args.partitions)):
        y[start : start + n_k] = fill_block(X[start : start + n_k], args.seed, k, args.rho)
        start += n_k
    return X, y


# --------------------------------------------------------------------------------------
# the shared objective
# --------------------------------------------------------------------------------------


def loss_sum_block(X, y, b0: float, coef) -> float:
    """sum_i [log(1 + exp(eta_i)) - y_i eta_i] over one row block, eta = b0 + X coef.

    The one formula every solver's objective is computed with (NumPy, float64).
    """
    eta = np.asarray(X) @ np.asarray(coef, dtype=np.float64)
    eta += b0
    return float(np.sum(np.logaddexp(0.0, eta) - np.asarray(y) * eta))


def objective(X, y, b0, coef, alpha, k: int) -> float:
    """F(b0, coef) = mean loss + alpha ||coef||_1 over the K row blocks of X.

    X, y NumPy (split into the ``block_sizes`` blocks) or dask arrays (their own
    chunks; the blocks are summed by ``loss_sum_block`` under the active scheduler).
    """
    coef = np.ravel(np.asarray(coef, dtype=np.float64))
    b0 = float(np.ravel(b0)[0]) if np.ndim(b0) else float(b0)
    n = X.shape[0]
    if isinstance(X, np.ndarray):
        parts, start = [], 0
        for n_k in block_sizes(n, k):
            parts.append(loss_sum_block(X[start : start + n_k], y[start : start + n_k],
                                        b0, coef))
            start += n_k
    else:
        import dask

        xs = X.to_delayed().ravel()
        ys = y.to_delayed().ravel()
        f = dask.delayed(loss_sum_block, pure=True)
        parts = dask.compute(*[f(a, b, b0, coef) for a, b in zip(xs, ys, strict=True)])
    return math.fsum(parts) / n + float(alpha) * float(np.sum(np.abs(coef)))


def alpha_max(X, y) -> float:
    """max_j |x_j^T (y - ybar)| / N (NumPy)."""
    r = y - y.mean()
    return float(np.max(np.abs(X.T @ r))) / X.shape[0]


def rel_gap(f, ref) -> float:
    return (f - ref) / abs(ref)


# --------------------------------------------------------------------------------------
# dask-ml: L1 regulariser with an unpenalised intercept, traced and budgeted
# --------------------------------------------------------------------------------------


class BudgetExceeded(Exception):
    pass


def traced_l1(budget: float, penalise_intercept: bool = False):
    """A dask_glm L1 regulariser (instance) that leaves the last coefficient (dask-ml's
    intercept) unpenalised, records (seconds since ``start()``, iterate) at every
    proximal step and raises BudgetExceeded once ``budget`` s are spent."""
    from dask_glm.regularizers import L1

    class TracedL1(L1):
        name = "l1_traced"

        def __init__(self):
            self.trace: list = []
            self.t0 = time.perf_counter()

        def start(self):
            self.trace = []
            self.t0 = time.perf_counter()

        def _mask(self, beta):
            m = np.ones(beta.shape[0], dtype=bool)
            if not penalise_intercept:
                m[-1] = False
            return m

        def f(self, beta):
            return np.abs(beta[self._mask(beta)]).sum()

        def proximal_operator(self, beta, t):
            beta = np.asarray(beta)
            m = self._mask(beta)
            z = beta.copy()
            z[m] = np.maximum(0, beta[m] - t) - np.maximum(0, -beta[m] - t)
            el = time.perf_counter() - self.t0
            self.trace.append((el, z.copy()))
            if el > budget:
                raise BudgetExceeded
            return z

    return TracedL1()


class DaskComputeCounter:
    """Counts dask graph computations (= passes over the data, or parts of one) on the
    local schedulers."""

    def __init__(self):
        from dask.callbacks import Callback

        counter = self

        class _CB(Callback):
            def _start(self, dsk):
                counter.n += 1

        self.n = 0
        self.cb = _CB()


# --------------------------------------------------------------------------------------
# methods: setup (not timed); run(alpha) yields one or more fit records
# --------------------------------------------------------------------------------------


class Method:
    pids: tuple = ()
    repeats = 1

    def __init__(self, args):
        self.args = args

    def setup(self):
        self.X, self.y = make_numpy(self.args)

    def data(self):
        return self.X, self.y

    def teardown(self):
        pass


class OursThreads(Method):
    def setup(self):
        super().setup()
        import dask

        import dask_glmdist  # noqa: F401  (import cost is not part of the fit)

        dask.config.set(scheduler="threads")
        self.repeats = self.args.repeats

    def fits(self, alpha, ctx):
        from dask_glmdist import PenalizedLogisticRegression

        rec = RoundLog()

        def fit():
            rec.clear()
            with rec:
                m = PenalizedLogisticRegression(alpha=alpha, l1_ratio=1.0, tol=1e-8,
                                                max_iter=100,
                                                n_partitions=self.args.partitions)
                m.fit(*self.fit_data())
            return m

        def finish(m):
            return {"b0": float(m.intercept_[0]), "coef": m.coef_.ravel(),
                    "n_iter": int(m.n_iter_), "rounds": int(m.n_rounds_),
                    "converged": bool(m.converged_), "own_objective": float(m.objective_),
                    "kkt": float(m.kkt_violation_), "round_times": rec.summary()}

        yield "PQN tol=1e-8", fit, finish, self.repeats

    def fit_data(self):
        return self.X, self.y


class RoundLog(logging.Handler):
    """Collects the INFO records of the ``dask_glmdist`` logger during a fit: the wall
    time of every round (``...: K blocks reduced in T s``)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list = []

    def emit(self, record):
        self.records.append(record.getMessage())

    def clear(self):
        self.records = []

    def __enter__(self):
        lg = logging.getLogger("dask_glmdist")
        self._level = lg.level
        lg.setLevel(logging.INFO)
        lg.addHandler(self)
        return self

    def __exit__(self, *exc):
        lg = logging.getLogger("dask_glmdist")
        lg.removeHandler(self)
        lg.setLevel(self._level)

    def summary(self):
        rounds = []
        for msg in self.records:
            m = re.match(r"(.*): (\d+) blocks reduced in ([0-9.]+) s", msg)
            if m:
                rounds.append((m.group(1), float(m.group(3))))
        return rounds


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
        # block k is generated on worker k % 2 (5 + 5 blocks; left to the scheduler the
        # 10 generating tasks landed 6 + 4, and a fit cannot move data-local work)
        addrs = sorted(self.client.scheduler_info()["workers"])
        xs, ys, parts = [], [], []
        for k, n_k in enumerate(block_sizes(a.n, a.partitions)):
            where = [addrs[k % len(addrs)]]
            blk = self.client.submit(make_block, n_k, a.p, a.seed, k, a.rho, workers=where,
                                     pure=True)
            fx = self.client.submit(operator.getitem, blk, 0, workers=where, pure=True)
            fy = self.client.submit(operator.getitem, blk, 1, workers=where, pure=True)
            parts += [blk, fx, fy]
            xs.append(da.from_delayed(dask.delayed(fx), shape=(n_k, a.p), dtype=np.float64))
            ys.append(da.from_delayed(dask.delayed(fy), shape=(n_k,), dtype=np.float64))
        X = da.concatenate(xs, axis=0)
        y = da.concatenate(ys, axis=0)
        self.Xd, self.yd = dask.persist(X, y)
        wait([self.Xd, self.yd])
        del parts, blk, fx, fy  # the persisted chunks hold the (same) arrays
        who = self.client.who_has(self.Xd)
        self.placement = sorted(collections.Counter(v[0] for v in who.values() if v).values())
        self.client.run(self._warm_imports)  # import cost is not part of the fit
        self.pids = tuple(p.pid for p in psutil.Process().children(recursive=True))

    @staticmethod
    def _warm_imports():
        try:
            import dask_glmdist  # noqa: F401
        except ImportError:
            pass
        try:
            import dask_ml.linear_model  # noqa: F401
        except ImportError:
            pass

    def data(self):
        return self.Xd, self.yd

    def alpha_max(self):
        import dask.array as da

        r = self.yd - self.yd.mean()
        return float(da.max(da.abs(self.Xd.T @ r)).compute()) / self.Xd.shape[0]

    def teardown(self):
        self.client.close()
        self.cluster.close()


class OursCluster(Cluster, OursThreads):
    def setup(self):
        Cluster.setup(self)
        self.repeats = self.args.repeats

    def fit_data(self):
        return self.Xd, self.yd


class Sklearn(Method):
    def __init__(self, args, solver):
        super().__init__(args)
        self.solver = solver

    def setup(self):
        super().setup()
        import sklearn.linear_model  # noqa: F401

    def _model(self, alpha, tol, max_iter):
        from sklearn.linear_model import LogisticRegression

        kw = dict(C=1.0 / (alpha * self.args.n), l1_ratio=1.0, solver=self.solver, tol=tol,
                  max_iter=max_iter)
        if self.solver == "liblinear":
            kw["intercept_scaling"] = 1e3
        return LogisticRegression(**kw)

    def fits(self, alpha, ctx):
        budget = self.args.peer_budget
        default_iter = 100  # scikit-learn's default max_iter
        per_iter = {}

        def finish(model):
            it = int(np.max(model.n_iter_))
            out = {"b0": float(model.intercept_[0]), "coef": model.coef_.ravel(),
                   "n_iter": it}
            cap = model.get_params()["max_iter"]
            out["capped"] = it >= cap
            return out

        def calibration(m):
            def calib():
                return self._model(alpha, 1e-4, m).fit(self.X, self.y)

            def calib_finish(model):
                out = finish(model)
                per_iter[m] = ctx["last_time"]
                return out

            return f"calibration, max_iter={m}", calib, calib_finish, 1

        yield calibration(1)
        if self.solver == "liblinear":
            # liblinear first copies X into its own sparse format (a fixed cost that
            # dominates one iteration at p = 200): a second point separates the two
            yield calibration(3)
            t1, t3 = per_iter.get(1, budget), per_iter.get(3, budget)
            # a cold first fit (page faults on liblinear's copy) can take longer than
            # the max_iter=3 one: then no split, and max_iter=3's cost / 3 per iteration
            per = max((t3 - t1) / 2.0 if t3 > t1 else t3 / 3.0, 1e-3)
            fixed = max(min(t1, t3) - per, 0.0) if t3 > t1 else 0.0
        else:
            per, fixed = max(per_iter.get(1, budget), 1e-3), 0.0
        cap = max(1, int((budget - fixed) / per))
        for tol, mx in ((1e-4, default_iter), (1e-8, 10000)):
            it = min(mx, cap)

            def fit(tol=tol, it=it):
                return self._model(alpha, tol, it).fit(self.X, self.y)

            label = f"tol={tol:g}, max_iter={it}" + (" (from budget)" if it < mx else "")
            yield label, fit, finish, 1


class DaskML(Method):
    def __init__(self, args, solver, cluster=False, shipped=False, rho=None):
        super().__init__(args)
        self.solver, self.cluster, self.shipped = solver, cluster, shipped
        self.rho = rho if rho is not None else args.admm_rho

    def setup(self):
        import dask
        import dask.array as da
        import dask_ml.linear_model  # noqa: F401

        if self.cluster:
            self._cl = Cluster(self.args)
            self._cl.setup()
            self.pids = self._cl.pids
            self.Xd, self.yd = self._cl.Xd, self._cl.yd
        else:
            super().setup()
            dask.config.set(scheduler="threads")
            sizes = tuple(block_sizes(self.args.n, self.args.partitions))
            self.Xd = da.from_array(self.X, chunks=(sizes, -1))
            self.yd = da.from_array(self.y, chunks=(sizes,))
            self.X = self.y = None  # the dask arrays hold the data; keep it once

    def data(self):
        return self.Xd, self.yd

    def alpha_max(self):
        import dask.array as da

        r = self.yd - self.yd.mean()
        return float(da.max(da.abs(self.Xd.T @ r)).compute()) / self.Xd.shape[0]

    def _mean_std(self):
        """Column means and sds as dask_glm's normalize sees them (intercept: 0, 1)."""
        import dask.array as da

        mean, std = da.compute(self.Xd.mean(axis=0), self.Xd.std(axis=0))
        return np.asarray(mean), np.asarray(std)

    def teardown(self):
        if self.cluster:
            self._cl.teardown()

    def fits(self, alpha, ctx):
        from dask_ml.linear_model import LogisticRegression

        n = self.args.n
        budget = self.args.peer_budget
        reg = traced_l1(budget, penalise_intercept=self.shipped)
        base = {"solver": self.solver, "C": 1.0 / (alpha * n), "penalty": reg}
        solver_kwargs = {}
        back = None
        if self.shipped:
            # as shipped: the L1 penalty on every coefficient incl. the intercept, on
            # standardised columns (normalize=True); the traced regulariser (penalising
            # the intercept too, i.e. dask_glm's L1) only adds the budget and the trace,
            # whose iterates are mapped back to the original columns as dask_glm does
            pen_name = "l1 (dask_glm's L1, traced)"
            mean, std = self._mean_std()
            back = lambda z: np.concatenate([z[:-1] / std,  # noqa: E731
                                             [z[-1] - np.sum(z[:-1] * mean / std)]])
        else:
            pen_name = "L1 with unpenalised intercept (traced)"
            solver_kwargs["normalize"] = False
        if self.solver == "admm" and self.rho is not None:
            solver_kwargs["rho"] = self.rho
        counter = DaskComputeCounter()
        state = {}

        def make(kw):
            def fit():
                reg.start()
                counter.n = 0
                model = LogisticRegression(**kw)
                stopped = False
                with counter.cb:
                    try:
                        model.fit(self.Xd, self.yd)
                    except BudgetExceeded:
                        stopped = True
                state["stopped"] = stopped
                if stopped:  # the last iterate (dask-ml order: coef..., intercept)
                    z = reg.trace[-1][1]
                    if back is not None:
                        z = back(z)
                    return {"b0": float(z[-1]), "coef": z[:-1]}
                return {"b0": float(np.ravel(model.intercept_)[0]),
                        "coef": np.ravel(model.coef_)}

            def finish(res):
                out = dict(res)
                out["n_iter"] = (f"{counter.n} computes, " if not self.cluster else "") + \
                    f"{len(reg.trace)} prox steps"
                out["capped"] = state["stopped"]
                out["kwargs"] = repr({**kw, "penalty": pen_name})
                out["trace_raw"] = (reg.trace if back is None else
                                    [(t, back(z)) for t, z in reg.trace])
                return out

            return fit, finish

        kw = dict(base, solver_kwargs=dict(solver_kwargs))
        fit, finish = make(kw)
        rho = f", rho={solver_kwargs['rho']:g}" if "rho" in solver_kwargs else ""
        yield f"defaults{rho}, budget {budget:g} s", fit, finish, 1
        # stopped by its own (default) tolerance short of the optimum: a tight run
        if ctx.get("ref") is not None and not ctx.get("last_capped") and \
                rel_gap(ctx["last_F"], ctx["ref"]) > GAP:
            if self.solver == "admm":
                kw = dict(base, max_iter=100000,
                          solver_kwargs=dict(solver_kwargs, abstol=1e-10, reltol=1e-8))
                label = "abstol=1e-10, reltol=1e-8"
            else:
                kw = dict(base, max_iter=100000, tol=1e-14, solver_kwargs=dict(solver_kwargs))
                label = "tol=1e-14"
            fit, finish = make(kw)
            yield f"{label}{rho}, budget {budget:g} s", fit, finish, 1


def make_method(name, args) -> Method:
    table = {
        "ours_threads": lambda: OursThreads(args),
        "ours_cluster": lambda: OursCluster(args),
        "sk_liblinear": lambda: Sklearn(args, "liblinear"),
        "sk_saga": lambda: Sklearn(args, "saga"),
        "dml_proxgrad": lambda: DaskML(args, "proximal_grad"),
        "dml_admm": lambda: DaskML(args, "admm"),
        "dml_proxgrad_cluster": lambda: DaskML(args, "proximal_grad", cluster=True),
        "dml_admm_cluster": lambda: DaskML(args, "admm", cluster=True),
        "dml_admm_shipped": lambda: DaskML(args, "admm", shipped=True),
        "dml_admm_rho": lambda: DaskML(args, "admm", rho=max(block_sizes(
            args.n, args.partitions)) / 200.0),
    }
    return table[name]()


# --------------------------------------------------------------------------------------
# trace of a dask-ml fit: objective gap over time (not timed)
# --------------------------------------------------------------------------------------


def trace_gaps(trace, X, y, alpha, k, ref, project: bool, max_points: int = 60):
    """Evaluate F on up to ``max_points`` recorded iterates; with ``ref``: the first time
    the gap was <= GAP (bisection between sampled points) and, if never and ``project``
    (a run stopped by the budget), a log-linear extrapolation of the gap over the last
    half of the sampled trace -- only where the gap fell at least 10-fold over that half
    (otherwise the reason is given)."""
    if not trace:
        return {}
    m = len(trace)
    idx = sorted(set(np.linspace(0, m - 1, min(m, max_points)).round().astype(int)))
    cache: dict = {}

    def F(i):
        if i not in cache:
            z = trace[i][1]
            cache[i] = objective(X, y, z[-1], z[:-1], alpha, k)
        return cache[i]

    pts = [(trace[i][0], F(i)) for i in idx]
    out = {"trace": [[t, f] for t, f in pts]}
    if ref is None:
        return out
    first = None
    prev = None
    for i in idx:
        if rel_gap(F(i), ref) <= GAP:
            first = i
            break
        prev = i
    if first is not None and prev is not None:  # the first crossing between prev, first
        lo, hi = prev, first
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if rel_gap(F(mid), ref) <= GAP:
                hi = mid
            else:
                lo = mid
        first = hi
    if first is not None:
        out["t_gap"] = trace[first][0]
    elif project:
        half = [(t, rel_gap(f, ref)) for t, f in pts[len(pts) // 2 :] if rel_gap(f, ref) > 0]
        if len(half) < 3:
            out["no_projection"] = "too few iterates"
        elif half[0][1] < 10 * half[-1][1]:
            out["no_projection"] = (f"gap {half[0][1]:.2g} -> {half[-1][1]:.2g} over the "
                                    "last half of the run: < 10-fold, no trend to extrapolate")
        else:
            tt = np.array([h[0] for h in half])
            lg = np.log10([h[1] for h in half])
            slope, icpt = np.polyfit(tt, lg, 1)
            out["t_gap_projected"] = float((math.log10(GAP) - icpt) / slope)
    return out


# --------------------------------------------------------------------------------------
# worker: one method, one p, all alphas, in a fresh process
# --------------------------------------------------------------------------------------


def run_worker(args) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")
    method = make_method(args.worker, args)
    t0 = time.perf_counter()
    method.setup()
    setup_s = time.perf_counter() - t0
    X, y = method.data()
    if args.alphas:  # the exact values of ours_threads' process (same alpha everywhere)
        amax = args.alphas[0]
        alphas = args.alphas[1:]
    else:
        amax = method.alpha_max() if hasattr(method, "alpha_max") else alpha_max(X, y)
        alphas = [f * amax for f in args.alpha_fracs]
    gc.collect()
    time.sleep(0.3)
    baseline, _ = MemorySampler(method.pids).sample()
    refs = [float(v) for v in args.ref.split(",")] if args.ref else None
    out_alphas = []
    for ia, frac in enumerate(args.alpha_fracs):
        alpha = alphas[ia]
        ref = refs[ia] if refs else None
        entry = {"frac": frac, "alpha": alpha, "fits": []}
        out_alphas.append(entry)
        if ia not in args.alpha_idx:
            entry["skipped"] = "not selected (--daskml-alphas)"
            continue
        ctx: dict = {"ref": ref}
        gen = method.fits(alpha, ctx)
        for label, fit, finish, repeats in gen:
            left = args.deadline - time.time()
            need = args.peer_budget if not args.worker.startswith("ours") else 0.0
            if left < need + 5:
                entry["fits"].append({"label": label, "skipped":
                                      f"time limit: {left:.0f} s left, the fit needs up to "
                                      f"{need:.0f} s"})
                if isinstance(method, Sklearn):
                    break
                continue
            times, peaks, other, res = [], [], [], None
            for _ in range(repeats):
                if times and sum(times) > args.fit_budget:
                    break
                gc.collect()
                wait_quiet(method.pids, max_wait=args.max_wait)
                with MemorySampler(method.pids) as mem, CpuMeter(method.pids) as cpu:
                    t = time.perf_counter()
                    res = fit()
                    times.append(time.perf_counter() - t)
                peaks.append(mem.peak)
                other.append(cpu.other_cores)
            ctx["last_time"] = statistics.median(times)
            r = finish(res)
            ctx["last_capped"] = bool(r.get("capped"))
            coef = np.asarray(r.pop("coef"), dtype=np.float64)
            rec = {"label": label, "times": times, "peak": max(peaks),
                   "peak_above": max(peaks) - baseline, "other": max(other),
                   "F": objective(X, y, r["b0"], coef, alpha, args.partitions),
                   "nnz": int(np.sum(coef != 0)), "b0": r.pop("b0")}
            ctx["last_F"] = rec["F"]
            trace_raw = r.pop("trace_raw", None)
            rec.update(r)
            if trace_raw is not None:
                rec.update(trace_gaps(trace_raw, X, y, alpha, args.partitions, ref,
                                      project=bool(rec.get("capped"))))
            entry["fits"].append(rec)
    method.teardown()
    extra = {}
    if hasattr(method, "placement"):
        extra["placement"] = method.placement
    elif hasattr(method, "_cl"):
        extra["placement"] = method._cl.placement
    if args.worker.startswith("dml"):
        extra["versions"] = _versions(("dask_ml", "dask_glm", "dask", "numpy", "sklearn"))
    out = {"method": args.worker, "p": args.p, "n": args.n, "alpha_max": amax,
           "measured": datetime.datetime.now().isoformat(timespec="seconds"),
           "setup_s": setup_s, "baseline": baseline, "processes": 1 + len(method.pids),
           "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
           "alphas": out_alphas, **extra}
    print(MARK + json.dumps(out, default=float), flush=True)


# --------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------


def daskml_status(venv_python) -> str | None:
    """None if dask-ml imports and fits in the venv, else the error."""
    if not os.path.exists(venv_python):
        return f"no virtualenv python at {venv_python}"
    code = ("import warnings; warnings.simplefilter('ignore'); import numpy as np, "
            "dask.array as da; from dask_ml.linear_model import LogisticRegression as L; "
            "X = np.random.default_rng(0).normal(size=(400, 3)); y = (X[:, 0] > 0) * 1.0; "
            "L(penalty='l1', solver='admm', max_iter=2).fit(da.from_array(X, chunks=100), "
            "da.from_array(y, chunks=100)); import dask_ml, dask_glm; "
            "print(dask_ml.__version__, dask_glm.__version__)")
    proc = subprocess.run([venv_python, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return None


def run_method(name, p, args, refs, alpha_idx, alphas=None):
    python = args.venv_python if name.startswith("dml") else sys.executable
    cmd = [python, os.path.abspath(__file__), "--worker", name, "--n", str(args.n),
           "--ps", str(p), "--partitions", str(args.partitions), "--repeats",
           str(args.repeats), "--seed", str(args.seed), "--rho", str(args.rho),
           "--max-wait", str(args.max_wait), "--fit-budget", str(args.fit_budget),
           "--peer-budget", str(args.peer_budget), "--deadline", str(args.deadline),
           "--alpha-fracs", *[str(f) for f in args.alpha_fracs],
           "--alpha-idx", *[str(i) for i in alpha_idx]]
    if args.admm_rho is not None:
        cmd += ["--admm-rho", str(args.admm_rho)]
    if refs:
        cmd += ["--ref", ",".join(repr(r) for r in refs)]
    if alphas:
        cmd += ["--alphas", *[repr(a) for a in alphas]]
    timeout = max(30.0, args.deadline - time.time() + 120.0)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


def _t(x) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--ps", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--alpha-fracs", type=float, nargs="+", default=[0.1, 0.01, 0.001],
                        help="alpha = frac * alpha_max")
    parser.add_argument("--rho", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3, help="fits of ours (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N=200k, p=50, alpha_max/100, 1 repeat, 20 s budgets")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=DEFAULT_METHODS)
    parser.add_argument("--daskml-alphas", type=int, nargs="+",
                        help="indices into --alpha-fracs for the dask-ml runs (default all)")
    parser.add_argument("--peer-budget", type=float, default=60.0,
                        help="s per peer fit (scikit-learn: max_iter cap; dask-ml: stop)")
    parser.add_argument("--time-limit", type=float, default=2400.0,
                        help="s for the whole run; fits that would not fit are skipped")
    parser.add_argument("--fit-budget", type=float, default=60.0,
                        help="no further repeats of ours once its fits took this long (s)")
    parser.add_argument("--max-wait", type=float, default=10.0,
                        help="before each fit wait up to this long for a quiet machine")
    parser.add_argument("--admm-rho", type=float,
                        help="dask-ml admm: rho (default: dask-ml's, 1)")
    parser.add_argument("--venv", default="/tmp/dmlvenv",
                        help="virtualenv with dask-ml (its bin/python runs the dask-ml fits)")
    parser.add_argument("--out", help="also write the report (markdown) to this file")
    parser.add_argument("--cache", help="directory: save every solver's result (per p) there "
                        "as JSON and reuse saved results instead of re-running")
    parser.add_argument("--rerun", nargs="+", default=[], choices=ALL_METHODS,
                        help="with --cache: run these again even if saved")
    parser.add_argument("--cached-only", action="store_true",
                        help="with --cache: only report saved results, run nothing")
    # worker-only
    parser.add_argument("--worker", choices=ALL_METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--ref", help=argparse.SUPPRESS)
    parser.add_argument("--alpha-idx", type=int, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--alphas", type=float, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.p = args.ps[0]
        run_worker(args)
        return
    if args.quick:
        args.n, args.ps, args.alpha_fracs, args.repeats = 200_000, [50], [0.01], 1
        args.peer_budget, args.max_wait = min(args.peer_budget, 20.0), min(args.max_wait, 5.0)
        args.time_limit = min(args.time_limit, 600.0)
    t_start = time.time()
    args.deadline = t_start + args.time_limit
    args.venv_python = os.path.join(args.venv, "bin", "python")
    methods = [m for m in ALL_METHODS if m in args.methods]
    if "ours_threads" not in methods:
        methods.insert(0, "ours_threads")  # the reference objective
    dml_reason = daskml_status(args.venv_python) if any(
        m.startswith("dml") for m in methods) else None
    all_idx = list(range(len(args.alpha_fracs)))
    dml_idx = args.daskml_alphas if args.daskml_alphas is not None else all_idx

    rep = Report(args.out)
    rep("# Benchmark: PenalizedLogisticRegression (exact L1 logistic, PQN) vs peers")
    rep()
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {platform.platform()}")
    rep(f"- versions: {_versions(VERSION_MODULES)}")
    rep(f"- BLAS: {_blas_info()}")
    rep(f"- command: `{' '.join(['python', os.path.relpath(__file__)] + sys.argv[1:])}`")
    rep(f"- data: logistic, N = {args.n:,}, AR(1) rho = {args.rho} standard normal features, "
        f"10 non-zero coefficients (+-1 ... +-0.2 at columns 2, 7, ..., 47), intercept "
        f"{INTERCEPT}, seed {args.seed}; {args.partitions} row blocks (block_sizes)")
    rep("- objective (all solvers, one NumPy formula): mean[log(1+exp(eta)) - y eta] + "
        "alpha ||coef||_1, intercept unpenalised; gap = (F_peer - F_ours) / F_ours, "
        "F_ours from ours_threads (tol=1e-8)")
    rep(f"- time: ours median of {args.repeats} fit(s) (fewer once --fit-budget "
        f"{args.fit_budget:g} s are spent), peers 1 fit; peer budget {args.peer_budget:g} s "
        f"per fit; total time limit {args.time_limit:g} s; fresh process per solver and p")
    rep("- memory: peak RSS sampled every 5 ms during the fit minus the RSS after data "
        "generation (LocalCluster: client + 2 worker processes, data on the workers)")
    rep("- 'other load': CPU use (cores) of other processes during the fit; >~0.2 means "
        "disturbed")
    if dml_reason:
        rep(f"- dask-ml: not available in {args.venv}: `{dml_reason}`")
    if args.cache:
        rep(f"- results saved in / reused from {args.cache}: each solver was measured in its "
            "own fresh process; 'saved result, measured ...' gives when (in an earlier "
            "invocation, under its own time limit)")
    if args.admm_rho is not None:
        rep(f"- dask-ml admm with rho = {args.admm_rho:g} (dask-ml's default is 1)")
    rep()
    summary: dict = {}
    for p in args.ps:
        rep(f"## p = {p}")
        rep()
        results: dict = {}
        refs = alphas = None
        for name in methods:
            if name.startswith("dml") and dml_reason:
                rep(f"- {name}: skipped, dask-ml not available ({dml_reason})")
                continue
            idx = dml_idx if name.startswith("dml") else all_idx
            left = args.deadline - time.time()
            t0 = time.perf_counter()
            cached = None
            if args.cache:
                cached = os.path.join(args.cache, f"{name}_n{args.n}_p{p}_k{args.partitions}_"
                                      f"s{args.seed}.json")
            if cached and os.path.exists(cached) and name not in args.rerun:
                with open(cached) as fh:
                    res, err = json.load(fh), None
                res["cached"] = True
            elif args.cached_only:
                rep(f"- {name}: not run (--cached-only and no saved result)")
                continue
            else:
                if not name.startswith("ours") and left < args.peer_budget + 30:
                    rep(f"- {name}: skipped: time limit ({left:.0f} s left of "
                        f"{args.time_limit:g} s)")
                    continue
                res, err = run_method(name, p, args, refs, idx, alphas)
                if cached and not err:
                    os.makedirs(args.cache, exist_ok=True)
                    with open(cached, "w") as fh:
                        json.dump(res, fh)
            if err:
                rep(f"- {name}: {err}")
                continue
            results[name] = res
            if name == "ours_threads":
                refs = [a["fits"][0]["F"] if a["fits"] and "F" in a["fits"][0] else None
                        for a in res["alphas"]]
                refs = None if any(r is None for r in refs) else refs
                alphas = [res["alpha_max"]] + [a["alpha"] for a in res["alphas"]]
                rep(f"- alpha_max = {res['alpha_max']:.6g}; alphas: " + ", ".join(
                    f"{a['frac']:g} alpha_max = {a['alpha']:.4g}" for a in res["alphas"]))
            when = (f"saved result, measured {res['measured']}" if res.get("cached") else
                    f"process {time.perf_counter() - t0:.0f} s")
            rep(f"- {name}: {when} (setup "
                f"{res['setup_s']:.1f} s), baseline RSS {_mb(res['baseline'])} MB"
                + (f" ({res['processes']} processes)" if res["processes"] > 1 else "")
                + (f"; {res['versions']}" if "versions" in res else "")
                + (f"; X row blocks per worker {res['placement']}" if "placement" in res
                   else ""))
            for a in res["alphas"]:
                for f in a["fits"]:
                    if "skipped" in f:
                        rep(f"  - alpha {a['frac']:g}: {f['label']}: skipped ({f['skipped']})")
                        continue
                    extra = ""
                    if f.get("round_times"):
                        rt = f["round_times"]
                        tot = sum(t for _, t in rt)
                        ladder = [t for lab, t in rt if "sums" not in lab]
                        extra = (f"; rounds (last fit) {len(rt)}: sum {tot:.2f} s of "
                                 f"{f['times'][-1]:.2f} s, per round "
                                 + ", ".join(f"{t:.2f}" for _, t in rt))
                        if ladder:
                            extra += f" (ladder mean {statistics.mean(ladder):.2f} s)"
                    if "t_gap" in f:
                        extra += f"; gap <= {GAP:g} first at {f['t_gap']:.1f} s"
                    elif "t_gap_projected" in f:
                        extra += f"; gap <= {GAP:g} projected at {f['t_gap_projected']:.0f} s"
                    elif "no_projection" in f:
                        extra += f"; no projection ({f['no_projection']})"
                    if f.get("kwargs"):
                        extra += f"; {f['kwargs']}"
                    rep(f"  - alpha {a['frac']:g}: {f['label']}: times "
                        f"{', '.join(f'{t:.2f}' for t in f['times'])} s, F {f['F']:.12g}, "
                        f"nnz {f['nnz']}, iters {f.get('n_iter')}"
                        + (f", rounds {f['rounds']}" if "rounds" in f else "")
                        + (", CAPPED" if f.get("capped") else "")
                        + (f", converged {f['converged']}, kkt {f['kkt']:.1e}, own "
                           f"objective_ - F {f['own_objective'] - f['F']:.1e}"
                           if "converged" in f else "")
                        + f", peak above base {_mb(f['peak_above'])} MB, other load "
                        f"{f['other']:.2f}" + extra)
        rep()
        summary[p] = report_table(rep, p, results, args)
    if args.out:
        print(f"report written to {args.out}")


def report_table(rep, p, results, args):
    if "ours_threads" not in results:
        return None
    ours = results["ours_threads"]
    rep(f"### Results, N = {args.n:,}, p = {p}")
    rep()
    rep("| solver | alpha / alpha_max | fit | time (s) | iterations | rounds | "
        "objective gap | nnz | peak above base (MB) | other load |")
    rep("|---|---:|---|---:|---|---:|---:|---:|---:|---:|")
    ratio_lines = []
    for ia, a_ours in enumerate(ours["alphas"]):
        frac = a_ours["frac"]
        if not a_ours["fits"] or "F" not in a_ours["fits"][0]:
            continue
        ref = a_ours["fits"][0]["F"]
        t_ours = statistics.median(a_ours["fits"][0]["times"])
        best: dict = {}  # family -> (time to gap, how, solver)
        stalled: dict = {}  # family -> runs that stopped by themselves short of GAP
        for name in ALL_METHODS:
            if name not in results:
                continue
            a = results[name]["alphas"][ia]
            for f in a["fits"]:
                if "skipped" in f:
                    rep(f"| {LABELS[name]} | {frac:g} | {f['label']} | skipped | | | | | | |")
                    continue
                t = statistics.median(f["times"])
                g = rel_gap(f["F"], ref)
                note = " (capped)" if f.get("capped") else ""
                if (not f.get("capped") and g > GAP and "calibration" not in f["label"]
                        and not name.startswith("ours")):
                    note = " (stopped by itself)"
                tg = ""
                if "t_gap" in f:
                    tg = f"; <= 1e-6 at {f['t_gap']:.1f} s"
                elif "t_gap_projected" in f:
                    tg = f"; <= 1e-6 projected {f['t_gap_projected']:.0f} s"
                rounds = f.get("rounds", "")
                times = (f"{_t(t)}" if len(f["times"]) == 1 else
                         f"{_t(t)} ({', '.join(_t(x) for x in f['times'])})")
                rep(f"| {LABELS[name]} | {frac:g} | {f['label']}{note} | {times} | "
                    f"{f.get('n_iter')} | {rounds} | {g:.1e}{tg} | {f['nnz']} | "
                    f"{_mb(f['peak_above'])} | {f['other']:.2f} |")
                fam = ("sklearn" if name.startswith("sk") else
                       "dask-ml" if name in DASKML + ["dml_admm_rho"] else None)
                if fam is None or "calibration" in f["label"]:
                    continue
                cand = None
                if g <= GAP:
                    cand = (f.get("t_gap", t), "measured", f"{name} {f['label']}")
                elif "t_gap_projected" in f:
                    cand = (f["t_gap_projected"], "projected", f"{name} {f['label']}")
                elif f.get("capped"):
                    cand = (t, "lower bound (gap not reached)", f"{name} {f['label']}")
                else:
                    crossed = (f" (an iterate was at <= {GAP:g} at {f['t_gap']:.1f} s, the "
                               "result is not)" if "t_gap" in f else "")
                    stalled.setdefault(fam, []).append(f"{name} {f['label']}: stopped by "
                                                       f"itself at gap {g:.1e}{crossed}")
                    continue
                rank = {"measured": 0, "projected": 1}.get(cand[1], 2)
                old = best.get(fam)
                if old is None or (rank, cand[0]) < ({"measured": 0, "projected": 1}.get(
                        old[1], 2), old[0]):
                    best[fam] = cand
        for fam in sorted(set(best) | set(stalled)):
            note = ("" if fam not in stalled or (fam in best and best[fam][1] == "measured")
                    else " [" + "; ".join(stalled[fam]) + "]")
            if fam not in best:
                ratio_lines.append(f"- p = {p}, alpha = {frac:g} alpha_max: no {fam} run reached "
                                   f"gap <= {GAP:g}{note}")
                continue
            tb, how, who = best[fam]
            sign = ">= " if how.startswith("lower") else ("~" if how == "projected" else "")
            ratio_lines.append(
                f"- p = {p}, alpha = {frac:g} alpha_max: fastest {fam} to gap <= {GAP:g}: "
                f"{who}, {tb:.1f} s ({how}) -> {fam} / ours (threaded, {t_ours:.2f} s) = "
                f"{sign}{tb / t_ours:.1f}x{note}")
        if "ours_cluster" in results:
            ac = results["ours_cluster"]["alphas"][ia]["fits"]
            if ac and "times" in ac[0]:
                tc = statistics.median(ac[0]["times"])
                ratio_lines.append(
                    f"- p = {p}, alpha = {frac:g} alpha_max: ours LocalCluster {tc:.2f} s / "
                    f"threaded {t_ours:.2f} s = {tc / t_ours:.2f}")
    rep()
    for line in ratio_lines:
        rep(line)
    rep()
    return ratio_lines


if __name__ == "__main__":
    main()
