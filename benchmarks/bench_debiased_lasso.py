"""Benchmark: DebiasedLassoRegressor against statsmodels' DistributedModel, same partitions.

What it measures
----------------
A gaussian linear model y = X beta + e, e ~ N(0, 1), with N = ``--n`` rows (default
1,000,000) and p in ``--ps`` (default 100 and 500) standard normal features with AR(1)
correlation ``--rho`` (default 0.3) between neighbouring columns (unit variances) and
10 non-zero coefficients (+-1, +-0.8, +-0.6, +-0.4, +-0.2 at columns 3, 13, ..., 93),
no intercept. The rows form ``--partitions`` (default 10) nearly equal row blocks
(``_harness.block_sizes``); block k is generated from ``(seed, k)``, so every process
rebuilds exactly the same data cheaply and a process that needs only block 0 builds
only block 0. The lasso penalty is ``--alpha`` (default 0.01, of the order of
sqrt(log p / n_k) = 0.007 / 0.008 for n_k = 1e5).

Ours (the data as one C-ordered NumPy array, split by the estimator into the same
``--partitions`` row blocks; threaded dask scheduler with ``--cores`` threads):

* ``ours``        DebiasedLassoRegressor(alpha, fit_intercept=False, n_partitions=K):
                  the debiased estimate with statsmodels' "mosaic" node-wise join
                  (block k solves the ceil(p/K) node-wise lassos of its share);
* ``ours_full``   the same with nodewise="full" (every block solves all p node-wise
                  lassos; K times the node-wise work);
* ``ours_naive``  method="naive" (local lasso fits averaged; no gradient, no node-wise
                  step): ours - ours_naive is the node-wise (and debiasing) share;
* ``nodewise``    the node-wise step alone on block 0 (single-threaded BLAS, as inside
                  the estimator's threaded round): Sigma_0 = X_0^T X_0 / n_0 and
                  ``theta_rows(Sigma_0, rows, alpha, 1e-11)`` for block 0's mosaic share
                  (``mosaic_rows(0, K, p)``) and for all p rows (nodewise="full").

statsmodels (statsmodels.base.distributed_estimation): ``DistributedModel(K,
estimation_kwds={"score_kwds": {"scale": 1}})`` (OLS, debiased; ``scale=1`` is the
Lee et al. score -- statsmodels' default divides it by the residual variance), fitted
with ``fit_kwds={"alpha": alpha}`` (its ``fit_regularized`` defaults: maxiter=50 sweeps,
cnvrg_tol=1e-10, zero_tol=1e-8; ``--sm-maxiter`` changes maxiter of the main fit only,
the node-wise fits always use the defaults) on a generator that yields the same
(y_k, X_k) blocks (built before the timed fit). statsmodels' per-block work is one
``OLS.fit_regularized`` (coordinate descent that builds a one-column OLS model with an
n_k-row offset per coordinate and sweep) plus ceil(p/K) node-wise lasso regressions of
the same kind, so at full size it is far too slow to run completely. How much of it is
run is decided per p from a calibration (``sm_calib``: block 0's main fit and its first
two node-wise regressions on the first ``--calib-rows`` rows of block 0, projected
linearly in the rows to the full block -- used for the decision only) and the budget
min(``--sm-budget``, time left before ``--time-limit`` s after the start):

* ``full``        the whole DistributedModel.fit(..., parallel_method="sequential") if
                  its projection fits the budget, then (..., "joblib": joblib's default
                  loky backend, n_jobs = K processes on the ``--cores`` cores) if 1.5 x
                  the measured sequential time fits; compared with ``ours`` coefficient
                  by coefficient, and statsmodels' join is also recomputed with each
                  block's local lasso fit replaced by ours (isolating what the local
                  fits contribute to the difference);
* ``partitions``  otherwise, if one block fits: the first k of the K partitions
                  (``--sm-parts``, default 1, fewer if they do not fit), by statsmodels'
                  own ``fit_sequential`` on a generator of those blocks (the partition
                  index, hence the node-wise share, is the same as in the full fit);
                  then ``fit_joblib`` on the first ``--cores`` partitions (one parallel
                  round) if 3 x the measured sequential time per block fits (one
                  round took about 3 blocks' sequential time at p = 100); reported as
                  "measured on k of K partitions, projected x K/k";
* ``pieces``      otherwise (one block does not fit): on block 0, the main fit
                  ``OLS(y_0, X_0).fit_regularized(alpha=alpha)`` and the first m of its
                  ceil(p/K) node-wise regressions (``_calc_nodewise_row`` +
                  ``_calc_nodewise_weight``), m as many as fit ``--sm-piece-budget``;
                  projected block time = main + ceil(p/K) x mean node-wise time, full
                  sequential fit = K x that; joblib is not measured then.

Where statsmodels ran only partly, the pieces it produced are compared with ours on the
same block: the local lasso fit (ours: ``DebiasedLassoRegressor(alpha, method="naive",
fit_intercept=False, n_partitions=1).fit(X_k, y_k).coef_``), the block's gradient at its
local fit (ours computed from our local fit) and the node-wise rows of the approximate
inverse ((e_j - gamma_j) / tau_j^2; ours from ``theta_rows``). statsmodels' coordinate
descent sweeps are logged (a wrapper around ``statsmodels.base.elastic_net._coord_descent``
in the sequential and piece runs) to show whether a fit stopped at its ``maxiter`` cap.

Method of measurement
---------------------
Every configuration runs in its own fresh subprocess (this script re-invoked with
``--worker KIND``), which builds the data, records its RSS after the data are built and
the imports done (the *baseline*; it includes the data), then fits -- ours ``--repeats``
times (default 3, median reported; fewer once ``--fit-budget`` s are spent), statsmodels
once -- while a background thread samples the RSS (psutil, every 5 ms; for the joblib
runs every 20 ms, summed over the process and its loky worker processes, whose shared
memory-mapped blocks are then counted in each of them). Reported: wall time, peak RSS
above baseline and absolute, and the CPU use of other processes during the fits ("other
load", cores; the machine may be shared: before every fit the worker waits up to
``--max-wait`` s for other processes to use < 0.15 cores).

BLAS threads: the workers get OMP/OPENBLAS/MKL_NUM_THREADS = ``--cores`` (the default
on a 2-core machine); our estimator limits BLAS to 1 thread per call inside its threaded
round; statsmodels' sequential fit uses ``--cores`` BLAS threads. The joblib worker gets
none of these variables (as in a plain user session), so joblib's loky backend gives each
of its n_jobs = K worker processes max(1, cores // K) = 1 BLAS thread -- with the
variables set, loky passes their value on to every worker (K x cores threads on the
cores; much slower).

How to run
----------
::

    python benchmarks/bench_debiased_lasso.py --quick      # smoke run, < 1 minute
    python benchmarks/bench_debiased_lasso.py              # full run (N = 1e6, p = 100, 500)
    python benchmarks/bench_debiased_lasso.py --ps 100 --sm-mode partitions --sm-parts 2

Needs psutil, statsmodels and joblib (statsmodels' parallel method).
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

NONZERO = {3: 1.0, 13: -1.0, 23: 0.8, 33: -0.8, 43: 0.6, 53: -0.6, 63: 0.4, 73: -0.4,
           83: 0.2, 93: -0.2}
MARK = "@@RESULT@@"
VERSION_MODULES = ("numpy", "scipy", "dask", "sklearn", "statsmodels", "joblib", "psutil",
                   "threadpoolctl", "dask_glmdist")
OURS = ["ours", "ours_full", "ours_naive"]
SM = ["sm_calib", "sm_seq", "sm_joblib", "sm_pieces"]
WORKERS = OURS + ["nodewise"] + SM
LABELS = {
    "ours": "ours: DebiasedLassoRegressor (debiased, nodewise='mosaic')",
    "ours_full": "ours: nodewise='full'",
    "ours_naive": "ours: method='naive' (no node-wise step)",
}
TOL_NODEWISE = 1e-11  # the estimator's tol * 1e-3 (tol=1e-8)


# --------------------------------------------------------------------------------------
# data: seeded, block by block (identical in every process)
# --------------------------------------------------------------------------------------


def true_beta(p: int) -> np.ndarray:
    beta = np.zeros(p)
    for j, v in NONZERO.items():
        if j < p:
            beta[j] = v
    return beta


def fill_block(X: np.ndarray, seed: int, k: int, rho: float) -> np.ndarray:
    """Fill X (n_k x p, C order) with block k's AR(1) design; return block k's y."""
    rng = np.random.default_rng([seed, k])
    n, p = X.shape
    c = math.sqrt(1.0 - rho**2)
    step = 16384  # row tiles, so that the column recursion stays in cache
    for s in range(0, n, step):
        t = X[s : s + step]
        rng.standard_normal(out=t)
        for j in range(1, p):
            t[:, j] *= c
            t[:, j] += rho * t[:, j - 1]
    y = X @ true_beta(p)
    y += rng.standard_normal(n)
    return y


def make_block(args, k: int):
    """Block k as a new (X_k, y_k) pair."""
    n_k = block_sizes(args.n, args.partitions)[k]
    X = np.empty((n_k, args.p))
    y = fill_block(X, args.seed, k, args.rho)
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
# helpers
# --------------------------------------------------------------------------------------


class TreeMemorySampler(MemorySampler):
    """RSS of this process plus all its (current) descendants, e.g. loky workers."""

    def sample(self):
        total, mine = super().sample()
        try:
            children = self._me.children(recursive=True)
        except Exception:  # noqa: BLE001
            children = []
        for c in children:
            try:
                total += c.memory_info().rss
            except Exception:  # noqa: BLE001
                pass
        return total, mine


class TreeCpuMeter(CpuMeter):
    """CpuMeter that counts this process's descendants (alive or reaped) as ours."""

    def _ours(self) -> float:
        total = super()._ours()
        me = self._procs[0]
        try:
            c = me.cpu_times()
            total += c.children_user + c.children_system
            for ch in me.children(recursive=True):
                try:
                    cc = ch.cpu_times()
                    total += cc.user + cc.system
                except Exception:  # noqa: BLE001
                    pass
        except Exception:  # noqa: BLE001
            pass
        return total


class SweepLog:
    """Record (sweeps, converged, seconds, n_vars) of every statsmodels coordinate descent."""

    def __init__(self):
        import statsmodels.base.elastic_net as en

        self.en = en
        self.orig = en._coord_descent
        self.calls: list = []

    def __enter__(self):
        orig, calls = self.orig, self.calls

        def wrapped(model, *a, **kw):
            t = time.perf_counter()
            out = orig(model, *a, **kw)
            calls.append([int(out[1]), bool(out[2]), time.perf_counter() - t,
                          int(model.exog.shape[1])])
            return out

        self.en._coord_descent = wrapped
        return self

    def __exit__(self, *exc):
        self.en._coord_descent = self.orig


def sm_rows_matrix(nodewise_rows, weights, rows, p) -> np.ndarray:
    """statsmodels' node-wise rows as rows of its approximate inverse, (e_j - gamma) / w^2."""
    out = np.zeros((len(rows), p))
    for i, j in enumerate(rows):
        ind = [c for c in range(p) if c != j]
        out[i, ind] = -np.asarray(nodewise_rows[i])
        out[i, j] = 1.0
        out[i] /= weights[i] ** 2
    return out


def ours_block_pieces(X, y, alpha, rows):
    """Our local lasso fit of one block, its gradient there, its node-wise rows, and the
    block's X^T y / n and Sigma = X^T X / n (for the optimality checks)."""
    from dask_glmdist import DebiasedLassoRegressor
    from dask_glmdist.solvers.debiased_lasso import theta_rows

    n, p = X.shape
    b = DebiasedLassoRegressor(alpha, method="naive", fit_intercept=False,
                               n_partitions=1).fit(X, y).coef_
    xy = X.T @ y / n
    Sigma = X.T @ X / n
    grad = Sigma @ b - xy
    th, _, _ = theta_rows(Sigma, rows, np.full(p, alpha), TOL_NODEWISE)
    return b, grad, th, xy, Sigma


def lasso_check(Sigma, xy, yy, b, alpha):
    """(max KKT violation, objective) of b for ||y - X b||^2 / (2n) + alpha ||b||_1,
    from Sigma = X^T X / n, xy = X^T y / n and yy = y^T y / n."""
    g = xy - Sigma @ b  # minus the gradient of the smooth part
    zero = b == 0
    v = np.zeros_like(b)
    v[zero] = np.maximum(np.abs(g[zero]) - alpha, 0.0)
    v[~zero] = np.abs(g[~zero] - alpha * np.sign(b[~zero]))
    obj = 0.5 * (yy - 2 * b @ xy + b @ Sigma @ b) + alpha * np.abs(b).sum()
    return float(v.max(initial=0.0)), float(obj)


def _maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def compare_pieces(results, blocks, args, first=0, keep_local=False) -> dict:
    """Compare statsmodels' per-partition pieces with ours on the same blocks, and check
    the optimality (KKT conditions, objective) of both local lasso fits and of
    statsmodels' node-wise lasso fits."""
    from dask_glmdist.solvers.debiased_lasso import mosaic_rows

    out = {"diff_local_coef": 0.0, "diff_grad": 0.0, "diff_theta_rows": 0.0,
           "kkt_sm": 0.0, "kkt_ours": 0.0, "obj_excess_sm": -np.inf, "kkt_sm_nodewise": 0.0,
           "obj_excess_sm_nodewise": -np.inf}
    local = []
    a = args.alpha
    for i, (params, grad, nw_rows, nw_w) in enumerate(results):
        k = first + i
        y_k, X_k = blocks[i]
        p = X_k.shape[1]
        rows = list(mosaic_rows(k, args.partitions, p))[: len(nw_rows)]
        b, g, th, xy, Sigma = ours_block_pieces(X_k, y_k, a, rows)
        local.append(b)
        params = np.asarray(params)
        out["diff_local_coef"] = max(out["diff_local_coef"], _maxdiff(b, params))
        out["diff_grad"] = max(out["diff_grad"], _maxdiff(g, grad))
        yy = float(y_k @ y_k) / y_k.shape[0]
        kkt_sm, obj_sm = lasso_check(Sigma, xy, yy, params, a)
        kkt_ours, obj_ours = lasso_check(Sigma, xy, yy, b, a)
        out["kkt_sm"] = max(out["kkt_sm"], kkt_sm)
        out["kkt_ours"] = max(out["kkt_ours"], kkt_ours)
        out["obj_excess_sm"] = max(out["obj_excess_sm"], obj_sm - obj_ours)
        if rows:
            sm_th = sm_rows_matrix(nw_rows, nw_w, rows, p)
            out["diff_theta_rows"] = max(out["diff_theta_rows"], _maxdiff(th, sm_th))
            for r, j in enumerate(rows):
                ind = [c for c in range(p) if c != j]
                S = Sigma[np.ix_(ind, ind)]
                kkt, obj = lasso_check(S, Sigma[ind, j], Sigma[j, j],
                                       np.asarray(nw_rows[r]), a)
                out["kkt_sm_nodewise"] = max(out["kkt_sm_nodewise"], kkt)
                # our node-wise gamma_j from our row: row = (e_j - gamma_j) / tau_j^2
                gam = -th[r, ind] / th[r, j]
                _, obj_o = lasso_check(S, Sigma[ind, j], Sigma[j, j], gam, a)
                out["obj_excess_sm_nodewise"] = max(out["obj_excess_sm_nodewise"], obj - obj_o)
    if keep_local:
        out["local"] = local
    return out


def sweep_summary(calls, p) -> dict:
    """Main fits (p variables) vs node-wise fits (p - 1 variables)."""
    main = [c for c in calls if c[3] == p]
    nw = [c for c in calls if c[3] == p - 1]
    return {
        "main_sweeps": [c[0] for c in main],
        "main_converged": [c[1] for c in main],
        "nw_count": len(nw),
        "nw_max_sweeps": max((c[0] for c in nw), default=0),
        "nw_not_converged": sum(1 for c in nw if not c[1]),
        "main_seconds": [c[2] for c in main],
        "nw_seconds": [c[2] for c in nw],
    }


# --------------------------------------------------------------------------------------
# configurations: setup (not timed) and fit (timed)
# --------------------------------------------------------------------------------------


class Config:
    data_bytes = 0
    tree = False  # sample the process tree (joblib workers)

    def __init__(self, args):
        self.args = args

    def setup(self):
        raise NotImplementedError

    def fit(self) -> dict:
        raise NotImplementedError

    def after(self) -> dict:
        """Untimed comparisons after the fits."""
        return {}


class Ours(Config):
    def setup(self):
        import dask

        import dask_glmdist  # noqa: F401  (import cost is not part of the fit)
        import dask_glmdist.solvers.debiased_lasso  # noqa: F401

        dask.config.set(scheduler="threads", num_workers=self.args.cores)
        self.X, self.y = make_numpy(self.args)
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        from dask_glmdist import DebiasedLassoRegressor

        a = self.args
        kw = {"ours": {}, "ours_full": {"nodewise": "full"},
              "ours_naive": {"method": "naive"}}[a.worker]
        est = DebiasedLassoRegressor(a.alpha, fit_intercept=False, n_partitions=a.partitions,
                                     **kw)
        est.fit(self.X, self.y)
        return {"coef": est.coef_.tolist(), "local_n_iter": est.local_n_iter_.tolist(),
                "converged": bool(est.converged_), "n_blocks": int(est.n_blocks_)}


class Nodewise(Config):
    """Sigma_0 and theta_rows on block 0: mosaic share and all p rows (BLAS 1 thread)."""

    def setup(self):
        from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows  # noqa: F401

        self.X, self.y = make_block(self.args, 0)
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        from threadpoolctl import threadpool_limits

        from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows

        a = self.args
        n, p = self.X.shape
        alpha = np.full(p, a.alpha)
        rows = list(mosaic_rows(0, a.partitions, p))
        with threadpool_limits(limits=1, user_api="blas"):
            t0 = time.perf_counter()
            Sigma = self.X.T @ self.X / n
            t1 = time.perf_counter()
            _, _, sw_m = theta_rows(Sigma, rows, alpha, TOL_NODEWISE)
            t2 = time.perf_counter()
            _, _, sw_f = theta_rows(Sigma, range(p), alpha, TOL_NODEWISE)
            t3 = time.perf_counter()
        return {"gram_s": t1 - t0, "mosaic_s": t2 - t1, "full_s": t3 - t2,
                "mosaic_rows": len(rows), "mosaic_sweeps": int(sw_m), "full_sweeps": int(sw_f)}


class SMBase(Config):
    def fit_kwds(self):
        kw = {"alpha": self.args.alpha}
        if self.args.sm_maxiter:
            kw["maxiter"] = self.args.sm_maxiter
        return kw

    def model(self):
        from statsmodels.base.distributed_estimation import DistributedModel

        return DistributedModel(self.args.partitions,
                                estimation_kwds={"score_kwds": {"scale": 1}})


class SMRun(SMBase):
    """DistributedModel on all K partitions, or on the first ``--sm-parts`` of them."""

    def setup(self):
        import statsmodels.base.distributed_estimation  # noqa: F401

        a = self.args
        self.k = a.sm_parts or a.partitions
        self.tree = a.worker == "sm_joblib"
        self.blocks = []
        for k in range(self.k):
            X, y = make_block(a, k)
            self.blocks.append((y, X))
            self.data_bytes += X.nbytes + y.nbytes

    def fit(self):
        a = self.args
        dm = self.model()
        gen = (b for b in self.blocks)
        method = "joblib" if a.worker == "sm_joblib" else "sequential"
        log = SweepLog() if method == "sequential" else None
        self.pieces = None
        if log:
            log.__enter__()
            # keep each partition's (params, grad, node-wise rows, weights) for the checks
            captured, est = [], dm.estimation_method

            def recording(*args, **kwargs):
                out = est(*args, **kwargs)
                captured.append(out)
                return out

            dm.estimation_method = recording
        try:
            if self.k == a.partitions:
                res = dm.fit(gen, fit_kwds=self.fit_kwds(), parallel_method=method)
                if log:
                    self.pieces = captured
                out = {"coef": np.asarray(res.params).tolist()}
            else:
                f = dm.fit_sequential if method == "sequential" else dm.fit_joblib
                extra = () if method == "sequential" else (None,)
                self.pieces = f(gen, self.fit_kwds(), *extra)
                out = {}
        finally:
            if log:
                log.__exit__()
        out.update(parts=self.k, method=method)
        if log:
            out["sweeps"] = sweep_summary(log.calls, a.p)
        return out

    def after(self):
        if self.pieces is None:
            return {}
        out = compare_pieces(self.pieces, self.blocks, self.args, keep_local=True)
        local = out.pop("local")
        if len(self.pieces) == self.args.partitions:
            # statsmodels' own join, with each block's local lasso fit replaced by ours
            # (its gradient recomputed there by statsmodels' _calc_grad): isolates what
            # the local fits contribute to the difference in the final estimate
            from statsmodels.base.distributed_estimation import _calc_grad, _join_debiased
            from statsmodels.regression.linear_model import OLS

            repaired = []
            for b, (_, _, rows, w), (y_k, X_k) in zip(local, self.pieces, self.blocks,
                                                      strict=True):
                g = _calc_grad(OLS(y_k, X_k), b, self.args.alpha, 1, {"scale": 1})
                repaired.append((b, g / y_k.shape[0], rows, w))
            out["coef_repaired"] = np.asarray(_join_debiased(repaired)).tolist()
        return out


class SMPieces(SMBase):
    """Block 0: statsmodels' main fit plus the first m node-wise regressions of its share."""

    def setup(self):
        import statsmodels.base.distributed_estimation  # noqa: F401
        from statsmodels.regression.linear_model import OLS  # noqa: F401

        a = self.args
        X, y = make_block(a, 0)
        if self.args.worker == "sm_calib":
            X, y = X[: a.calib_rows].copy(), y[: a.calib_rows].copy()
        self.X, self.y = X, y
        self.data_bytes = X.nbytes + y.nbytes

    def fit(self):
        from statsmodels.base.distributed_estimation import _calc_grad, _calc_wdesign_mat
        from statsmodels.regression.linear_model import OLS
        from statsmodels.stats.regularized_covariance import (
            _calc_nodewise_row,
            _calc_nodewise_weight,
        )

        from dask_glmdist.solvers.debiased_lasso import mosaic_rows

        a = self.args
        n, p = self.X.shape
        rows = list(mosaic_rows(0, a.partitions, p))
        m = min(len(rows), a.calib_nodewise if a.worker == "sm_calib" else a.sm_rows)
        alpha = a.alpha
        with SweepLog() as log:
            t0 = time.perf_counter()
            mod = OLS(self.y, self.X)
            params = mod.fit_regularized(**self.fit_kwds()).params
            grad = _calc_grad(mod, params, alpha, 1, {"scale": 1}) / n
            wexog = _calc_wdesign_mat(mod, params, {})
            t1 = time.perf_counter()
            nw_rows, nw_w, nw_t = [], [], []
            for j in rows[:m]:
                s = time.perf_counter()
                r = _calc_nodewise_row(wexog, j, alpha)
                nw_rows.append(r)
                nw_w.append(_calc_nodewise_weight(wexog, r, j, alpha))
                nw_t.append(time.perf_counter() - s)
        self.pieces = [(params, grad, nw_rows, np.asarray(nw_w))]
        return {"main_s": t1 - t0, "nodewise_s": nw_t, "rows_share": len(rows),
                "rows_done": m, "n_rows": n, "sweeps": sweep_summary(log.calls, p)}

    def after(self):
        return compare_pieces(self.pieces, [(self.y, self.X)], self.args)


def make_config(args) -> Config:
    if args.worker in OURS:
        return Ours(args)
    if args.worker == "nodewise":
        return Nodewise(args)
    if args.worker in ("sm_seq", "sm_joblib"):
        return SMRun(args)
    return SMPieces(args)


# --------------------------------------------------------------------------------------
# worker: one configuration in a fresh process
# --------------------------------------------------------------------------------------


def run_worker(args) -> None:
    import resource
    import warnings

    cfg = make_config(args)
    t0 = time.perf_counter()
    cfg.setup()
    setup_s = time.perf_counter() - t0
    gc.collect()
    time.sleep(0.3)
    baseline, _ = MemorySampler().sample()
    repeats = args.repeats if args.worker in OURS + ["nodewise"] else 1
    sampler = (lambda: TreeMemorySampler(interval=0.02)) if cfg.tree else MemorySampler
    meter = TreeCpuMeter if cfg.tree else CpuMeter
    times, peaks, other, waited, results, warned = [], [], [], 0.0, [], []
    for _ in range(repeats):
        if times and sum(times) > args.fit_budget:
            break
        gc.collect()
        waited += wait_quiet(max_wait=args.max_wait)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with sampler() as mem, meter() as cpu:
                t = time.perf_counter()
                results.append(cfg.fit())
                times.append(time.perf_counter() - t)
        for w in caught:
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in warned:
                warned.append(msg)
        peaks.append(mem.peak)
        other.append(cpu.other_cores)
    result = results[-1]
    if args.worker == "nodewise":  # medians of the pieces over the repeats
        for key in ("gram_s", "mosaic_s", "full_s"):
            result[key] = statistics.median(r[key] for r in results)
    result.update(cfg.after())
    out = {
        "worker": args.worker,
        "p": args.p,
        "measured": datetime.datetime.now().isoformat(timespec="seconds"),
        "times": times,
        "other_cores": other,
        "waited_s": waited,
        "setup_s": setup_s,
        "baseline": baseline,
        "peak": max(peaks),
        "data_bytes": int(cfg.data_bytes),
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "warnings": warned,
        **result,
    }
    print(MARK + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------


def worker_env(cores: int, worker: str) -> dict:
    """BLAS threads = cores; for the joblib run left unset (see the module docstring)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if worker == "sm_joblib":
            env.pop(var, None)
        else:
            env[var] = str(cores)
    return env


def run_config(worker, p, args, timeout, extra=()):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--p", str(p),
           "--n", str(args.n), "--partitions", str(args.partitions), "--alpha",
           repr(args.alpha), "--rho", repr(args.rho), "--repeats", str(args.repeats),
           "--seed", str(args.seed), "--max-wait", str(args.max_wait), "--fit-budget",
           str(args.fit_budget), "--cores", str(args.cores), "--calib-rows",
           str(args.calib_rows), *extra]
    if args.sm_maxiter:
        cmd += ["--sm-maxiter", str(args.sm_maxiter)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=worker_env(args.cores, worker))
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:g} s (killed)"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


def _t(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.1f}" if x >= 10 else f"{x:.3f}"


def _bullet(rep, name, res, t0, extra=""):
    med = statistics.median(res["times"])
    rep(f"- {name}: median {med:.3f} s (runs {', '.join(f'{t:.3f}' for t in res['times'])})"
        f"{extra}; peak above base {_mb(res['peak'] - res['baseline'])} MB, peak "
        f"{_mb(res['peak'])} MB, base {_mb(res['baseline'])} MB (data "
        f"{_mb(res['data_bytes'])} MB), ru_maxrss {_mb(res['ru_maxrss'])} MB; other load "
        f"{', '.join(f'{c:.2f}' for c in res['other_cores'])} cores "
        f"[process {time.perf_counter() - t0:.0f} s, setup {res['setup_s']:.1f} s, waited "
        f"{res['waited_s']:.0f} s for a quiet machine]")
    for w in res.get("warnings", []):
        rep(f"  - WARNING during {name}: {w}")


def _pieces_text(r, where="the same blocks") -> str:
    if "diff_local_coef" not in r:
        return ""
    return (f"vs ours on {where}: max abs diff local lasso fit {r['diff_local_coef']:.1e}, "
            f"gradient {r['diff_grad']:.1e}, node-wise rows {r['diff_theta_rows']:.1e}; "
            f"local lasso KKT violation statsmodels {r['kkt_sm']:.1e} / ours "
            f"{r['kkt_ours']:.1e}, objective statsmodels - ours max "
            f"{r['obj_excess_sm']:.1e}; statsmodels node-wise KKT violation "
            f"{r['kkt_sm_nodewise']:.1e}, objective - ours max "
            f"{r['obj_excess_sm_nodewise']:.1e}")


def _sweeps_text(sw) -> str:
    if not sw:
        return ""
    return (f"statsmodels sweeps: main fit(s) {sw['main_sweeps']} (converged "
            f"{sw['main_converged']}), {sw['nw_count']} node-wise fits, max "
            f"{sw['nw_max_sweeps']} sweeps, {sw['nw_not_converged']} not converged")


JOBLIB_FULL_FACTOR = 1.5   # decision only: joblib full fit / sequential full fit
JOBLIB_ROUND_FACTOR = 3.0  # decision only: one joblib round (cores blocks) / one block


def project_statsmodels(calib, args) -> dict:
    """Projected statsmodels seconds at full size from the calibration (rows x scale)."""
    K = args.partitions
    n_k = block_sizes(args.n, K)[0]
    scale = n_k / calib["n_rows"]
    q = calib["rows_share"]
    main = calib["main_s"] * scale
    nw = statistics.mean(calib["nodewise_s"]) * scale if calib["nodewise_s"] else 0.0
    block = main + q * nw
    return {"main": main, "nodewise": nw, "block": block, "seq": K * block, "scale": scale}


def plan_sequential(proj, args, budget, q):
    """(mode, partitions or node-wise fits, expected s) of the sequential statsmodels run."""
    K = args.partitions
    mode = args.sm_mode
    if mode == "auto":
        mode = ("full" if proj["seq"] <= budget else
                "partitions" if proj["block"] <= budget else "pieces")
    if mode == "full":
        return mode, K, proj["seq"]
    if mode == "partitions":
        parts = max(1, min(args.sm_parts, K, int(budget // max(proj["block"], 1e-9))))
        return mode, parts, parts * proj["block"]
    piece_budget = min(args.sm_piece_budget, budget)
    m = max(1, min(q, int((piece_budget - proj["main"]) // max(proj["nodewise"], 1e-9))))
    return mode, m, proj["main"] + m * proj["nodewise"]


def _remaining(args) -> float:
    return args.deadline - time.perf_counter()


def run_p(rep, args, p) -> dict:
    K = args.partitions
    n_k = block_sizes(args.n, K)[0]
    q = math.ceil(p / K)
    rep(f"## N = {args.n:,}, p = {p}, {K} partitions (n_k = {n_k:,}), alpha = {args.alpha:g}")
    rep()
    rep(f"- data in memory: {_mb(args.n * (p + 1) * 8)} MB (X and y); sqrt(log p / n_k) = "
        f"{math.sqrt(math.log(p) / n_k):.4f}; mosaic share ceil(p/K) = {q} node-wise rows "
        "per block")
    R: dict = {}
    for name in OURS + ["nodewise"]:
        t0 = time.perf_counter()
        res, err = run_config(name, p, args, args.timeout)
        if err:
            rep(f"- {name}: {err}")
            continue
        R[name] = res
        extra = ""
        if name in OURS:
            extra = (f", local_n_iter_ {res['local_n_iter']}, converged {res['converged']}, "
                     f"{res['n_blocks']} blocks")
        else:
            extra = (f", per repeat: Sigma_0 {res['gram_s']:.3f} s, mosaic "
                     f"{res['mosaic_rows']} rows {res['mosaic_s']:.4f} s "
                     f"({res['mosaic_sweeps']} sweeps), all {p} rows {res['full_s']:.4f} s "
                     f"({res['full_sweeps']} sweeps)")
        _bullet(rep, name, res, t0, extra)

    # ---------------- statsmodels
    if args.sm_mode == "none":
        rep("- statsmodels: not run (--sm-mode none)")
        return R
    t0 = time.perf_counter()
    calib, err = run_config("sm_calib", p, args, args.sm_timeout)
    if err:
        rep(f"- sm_calib: {err}")
        return R
    R["sm_calib"] = calib
    proj = project_statsmodels(calib, args)
    budget = min(args.sm_budget, _remaining(args))
    mode, amount, expect = plan_sequential(proj, args, budget, q)
    R["sm_plan"] = {"mode": mode, "proj": proj}
    rep(f"- sm_calib (decision only): block 0, first {calib['n_rows']:,} rows: main fit "
        f"{calib['main_s']:.2f} s, {len(calib['nodewise_s'])} node-wise fits "
        f"{', '.join(f'{x:.2f}' for x in calib['nodewise_s'])} s; x{proj['scale']:.1f} rows "
        f"-> projected per block {proj['block']:,.0f} s (main {proj['main']:,.0f} s + {q} x "
        f"{proj['nodewise']:,.1f} s), sequential {proj['seq']:,.0f} s; budget "
        f"{budget:,.0f} s (--sm-budget {args.sm_budget:g} s, time left "
        f"{_remaining(args):,.0f} s) -> sequential mode '{mode}' "
        f"({amount} {'node-wise fits' if mode == 'pieces' else 'partitions'}, expected "
        f"{expect:,.0f} s) [process {time.perf_counter() - t0:.0f} s]")
    rep(f"  - {_sweeps_text(calib['sweeps'])}")
    if mode == "pieces":
        t0 = time.perf_counter()
        res, err = run_config("sm_pieces", p, args, args.sm_timeout,
                              extra=("--sm-rows", str(amount)))
        if err:
            rep(f"- sm_pieces: {err}")
        else:
            R["sm_pieces"] = res
            extra = (f", block 0: main fit {res['main_s']:.1f} s, {res['rows_done']} of "
                     f"{res['rows_share']} node-wise fits "
                     f"{', '.join(f'{x:.1f}' for x in res['nodewise_s'])} s; "
                     f"{_sweeps_text(res['sweeps'])}; {_pieces_text(res, 'block 0')}")
            _bullet(rep, "sm_pieces", res, t0, extra)
        rep(f"- sm_joblib: not run (one block alone is projected at {proj['block']:,.0f} s)")
        return R
    block = proj["block"]
    for name in ("sm_seq", "sm_joblib"):
        budget = min(args.sm_budget, _remaining(args))
        if name == "sm_seq":
            parts = amount
        elif mode == "full" and JOBLIB_FULL_FACTOR * R["sm_seq"]["times"][0] <= budget:
            parts, expect = K, JOBLIB_FULL_FACTOR * R["sm_seq"]["times"][0]
        else:
            parts, expect = min(args.cores, K), JOBLIB_ROUND_FACTOR * block
            if expect > budget:
                why = (f"one joblib round of {parts} partitions is expected to take "
                       f"~{expect:,.0f} s (~{JOBLIB_ROUND_FACTOR:g} x the measured "
                       f"sequential time per block, {block:,.0f} s) > budget {budget:,.0f} s")
                rep(f"- sm_joblib: not run: {why}")
                R[name] = {"skipped": why}
                continue
        timeout = min(args.sm_timeout, max(600.0, 3 * expect))
        t0 = time.perf_counter()
        res, err = run_config(name, p, args, timeout, extra=("--sm-parts", str(parts)))
        if err:
            rep(f"- {name} ({parts} of {K} partitions): {err}")
            R[name] = {"skipped": err}
            if name == "sm_seq":
                return R
            continue
        R[name] = res
        if name == "sm_seq":
            block = res["times"][0] / parts  # measured, for the joblib decision
        extra = f", {parts} of {K} partitions ({res['method']})"
        if res.get("sweeps"):
            extra += "; " + _sweeps_text(res["sweeps"])
        if "diff_local_coef" in res:
            extra += "; " + _pieces_text(res)
        _bullet(rep, name, res, t0, extra)
    return R


def summarize(rep, args, p, R) -> None:
    K = args.partitions
    rep()
    rep(f"### Results, N = {args.n:,}, p = {p}")
    rep()
    ours = R.get("ours")
    t_ours = statistics.median(ours["times"]) if ours else None
    rep("| configuration | time median (s) | min (s) | peak above base (MB) | peak RSS (MB) "
        "| max abs diff vs statsmodels | other load (cores) |")
    rep("|---|---:|---:|---:|---:|---|---:|")
    for name in OURS:
        r = R.get(name)
        if not r:
            rep(f"| {LABELS[name]} | failed | | | | | |")
            continue
        diff = "n/a"
        if name == "ours" and "coef" in R.get("sm_seq", {}):
            diff = f"{_maxdiff(r['coef'], R['sm_seq']['coef']):.1e} (full fit, sequential)"
        rep(f"| {LABELS[name]} | {statistics.median(r['times']):.3f} | {min(r['times']):.3f} "
            f"| {_mb(r['peak'] - r['baseline'])} | {_mb(r['peak'])} | {diff} | "
            f"{max(r['other_cores']):.2f} |")
    sm_rows = {}
    for name in ("sm_seq", "sm_joblib", "sm_pieces"):
        r = R.get(name)
        if not r or "times" not in r:
            continue
        t = r["times"][0]
        if name == "sm_pieces":
            q = r["rows_share"]
            block = r["main_s"] + q * statistics.mean(r["nodewise_s"])
            proj = K * block
            how = (f"PROJECTED: measured on block 0 (main fit + {r['rows_done']} of {q} "
                   f"node-wise fits, {_t(t)} s), block = main + {q} x mean node-wise = "
                   f"{_t(block)} s, x{K} blocks")
            label = "statsmodels sequential"
        elif r["parts"] == K:
            proj, how = t, "measured (full fit)"
            label = f"statsmodels {r['method']}"
        else:
            proj = t * K / r["parts"]
            how = (f"PROJECTED: measured on {r['parts']} of {K} partitions ({_t(t)} s), "
                   f"x{K}/{r['parts']}")
            label = f"statsmodels {r['method']}"
        sm_rows[name] = (proj, how)
        if "coef" in r and ours:
            diff = f"{_maxdiff(r['coef'], ours['coef']):.1e} (vs ours)"
            if "diff_local_coef" in r:
                diff += (f"; per-block local fit {r['diff_local_coef']:.1e}, node-wise rows "
                         f"{r['diff_theta_rows']:.1e}")
            if "coef_repaired" in r:
                diff += (f"; statsmodels' join with our local fits vs ours "
                         f"{_maxdiff(r['coef_repaired'], ours['coef']):.1e}")
        elif "diff_local_coef" in r:
            diff = (f"per-block pieces: local fit {r['diff_local_coef']:.1e}, gradient "
                    f"{r['diff_grad']:.1e}, node-wise rows {r['diff_theta_rows']:.1e}")
        else:
            diff = "n/a"
        rep(f"| {label}: {how} | {proj:,.1f} | | {_mb(r['peak'] - r['baseline'])} | "
            f"{_mb(r['peak'])} | {diff} | {max(r['other_cores']):.2f} |")
    rep()
    nw = R.get("nodewise")
    if nw:
        rep(f"- node-wise step alone, block 0 (n_0 = {block_sizes(args.n, K)[0]:,}, BLAS 1 "
            f"thread, median of {len(nw['times'])}): Sigma_0 = X_0^T X_0 / n_0 "
            f"{nw['gram_s']:.3f} s; theta_rows mosaic share ({nw['mosaic_rows']} rows) "
            f"{nw['mosaic_s']:.4f} s; all {p} rows (nodewise='full') {nw['full_s']:.4f} s")
    if ours and R.get("ours_naive"):
        t_naive = statistics.median(R["ours_naive"]["times"])
        rep(f"- node-wise + debiasing share of our fit: ours - ours_naive = "
            f"{t_ours - t_naive:.3f} s of {t_ours:.3f} s "
            f"({100 * (t_ours - t_naive) / t_ours:.0f}%)")
    if ours and R.get("ours_full"):
        rep(f"- nodewise='full' / 'mosaic': "
            f"{statistics.median(R['ours_full']['times']) / t_ours:.2f}")
    for name, (proj, how) in sm_rows.items():
        if t_ours:
            rep(f"- ratio {name} / ours = {proj / t_ours:,.0f}x ({how})")
    if "sm_seq" in sm_rows or "sm_pieces" in sm_rows:
        proj, how = sm_rows.get("sm_seq") or sm_rows["sm_pieces"]
        if t_ours and p == 100:
            ratio = proj / t_ours
            rep(f"- target (p = 100): >= 10x faster than statsmodels -> "
                f"{'MET' if ratio >= 10 else 'NOT MET'} ({ratio:,.0f}x; "
                f"{'measured' if how.startswith('measured') else 'statsmodels time projected'})")
    if "sm_joblib" not in sm_rows and ("sm_seq" in sm_rows or "sm_pieces" in sm_rows):
        proj, _ = sm_rows.get("sm_seq") or sm_rows["sm_pieces"]
        rep(f"- statsmodels joblib: not measured at p = {p}; with {args.cores} cores at "
            f"best about sequential / {args.cores} = {proj / args.cores:,.0f} s (derived, "
            "not measured)")
    rep()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=None, help="rows (default 1e6; --quick 20000)")
    parser.add_argument("--ps", type=int, nargs="+", default=None,
                        help="numbers of features (default 100 500; --quick 20 60)")
    parser.add_argument("--partitions", type=int, default=10, help="row blocks K")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--rho", type=float, default=0.3, help="AR(1) correlation")
    parser.add_argument("--repeats", type=int, default=3, help="fits per configuration of ours")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=2,
                        help="dask threads and BLAS threads (workers pinned to this many CPUs)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N=20,000, p = 20 and 60, 1 repeat, short waits")
    parser.add_argument("--sm-mode", choices=["auto", "full", "partitions", "pieces", "none"],
                        default="auto", help="how much of statsmodels to run (module doc)")
    parser.add_argument("--sm-budget", type=float, default=None,
                        help="largest projected statsmodels run, s (default 1200; --quick 5)")
    parser.add_argument("--sm-parts", type=int, default=1,
                        help="partitions of the sequential run in 'partitions' mode (fewer "
                        "if they do not fit the budget)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="statsmodels runs that would end the benchmark later than "
                        "this many s after its start are cut down or skipped (default "
                        "3300; --quick 600)")
    parser.add_argument("--sm-piece-budget", type=float, default=300.0,
                        help="'pieces' mode: node-wise fits to run after the main fit, s")
    parser.add_argument("--sm-maxiter", type=int, default=None,
                        help="maxiter of statsmodels' main fit (default: its own, 50)")
    parser.add_argument("--sm-timeout", type=float, default=2400.0,
                        help="per statsmodels process, s")
    parser.add_argument("--calib-rows", type=int, default=20_000,
                        help="rows of block 0 in the statsmodels calibration")
    parser.add_argument("--calib-nodewise", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=1800.0, help="per process of ours, s")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="before each fit, wait up to this long for the machine to be "
                        "quiet (other processes < 0.15 cores)")
    parser.add_argument("--fit-budget", type=float, default=300.0,
                        help="no further repeats once a configuration's fits took this long")
    parser.add_argument("--out", default=None,
                        help="markdown report (default benchmarks/results_debiased_lasso.md; "
                        "with --quick /tmp/results_debiased_lasso_quick.md)")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--p", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sm-rows", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if (os.cpu_count() or 1) > args.cores and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
        run_worker(args)
        return
    defaults = {"n": 1_000_000, "ps": [100, 500], "sm_budget": 1200.0, "time_limit": 3300.0}
    if args.quick:
        defaults = {"n": 20_000, "ps": [20, 60], "sm_budget": 5.0, "time_limit": 600.0}
        args.repeats, args.max_wait = 1, 2.0
        args.calib_rows = min(args.calib_rows, 1000)
        args.sm_piece_budget = min(args.sm_piece_budget, 5.0)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        here = os.path.dirname(os.path.abspath(__file__))
        args.out = ("/tmp/results_debiased_lasso_quick.md" if args.quick
                    else os.path.join(here, "results_debiased_lasso.md"))

    rep = Report(args.out)
    rep("# Benchmark: DebiasedLassoRegressor vs statsmodels DistributedModel (same partitions)")
    rep()
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: nproc {os.cpu_count()} (used: {args.cores} cores), "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{platform.platform()}")
    rep(f"- versions: {_versions(VERSION_MODULES)}")
    rep(f"- BLAS/OpenMP (threadpoolctl in the parent): {_blas_info(detailed=True)}")
    cmd = " ".join([os.path.relpath(os.path.abspath(sys.argv[0]))] + sys.argv[1:])
    rep(f"- command: `python {cmd}`")
    rep(f"- data: gaussian linear model, N = {args.n:,}, p in {args.ps}, AR(1) rho = "
        f"{args.rho} standard normal features, 10 non-zero coefficients "
        f"({sorted(NONZERO)}, values +-1 ... +-0.2), noise sd 1, no intercept, seed "
        f"{args.seed}; {args.partitions} row blocks (block_sizes), generated block by block")
    rep(f"- ours: DebiasedLassoRegressor({args.alpha:g}, fit_intercept=False, n_partitions="
        f"{args.partitions}) on the NumPy array, threaded dask scheduler, {args.cores} "
        f"threads; median of {args.repeats} fits in a fresh process per configuration")
    rep(f"- statsmodels: DistributedModel({args.partitions}, estimation_kwds={{'score_kwds': "
        f"{{'scale': 1}}}}).fit(generator of the same blocks, fit_kwds={{'alpha': "
        f"{args.alpha:g}"
        f"{', maxiter: ' + str(args.sm_maxiter) if args.sm_maxiter else ''}}}); once; "
        "full, on the first partitions, or on pieces of block 0 as the calibration "
        f"allows (budget {args.sm_budget:g} s per run; see the module docstring)")
    rep("- memory: peak RSS sampled every 5 ms (joblib: 20 ms, process + loky workers "
        "summed) during the fits; 'above base' = peak minus the RSS after data generation "
        "and imports (the baseline contains the data)")
    rep("- the machine may be shared: 'other load' >~ 0.2 cores means a disturbed "
        "measurement")
    rep()
    t_start = time.perf_counter()
    args.deadline = t_start + args.time_limit
    for p in args.ps:
        R = run_p(rep, args, p)
        summarize(rep, args, p, R)
    rep(f"Total benchmark time {time.perf_counter() - t_start:.0f} s.")
    print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
