"""Benchmark: BiasReducedGLM (ML / mBR / mJPL by tiled-TSQR IWLS) against one data pass and peers.

What it measures
----------------
Binary-response GLMs with an intercept and p = 50 correlated features (AR(1)
correlation 0.5 between neighbouring columns; 6 non-zero true coefficients scaled so
that the linear predictor has standard deviation 1.0 for the probit model, 1.6 for the
logit model, intercept -0.3 / -0.48: moderate signal, no separation). The data are
generated block by block from ``(seed, block)`` (as :mod:`dask_glmdist.datasets`
does), so every process rebuilds the same data cheaply; the X of the probit and the
logit data set are identical, only y differs (y = 1{u < F(eta)} with the same uniforms).

For every N (``--sizes``, default 1e6 and 4e6) and link (``--links``: probit, logit),
the data are held as a dask array of ``--partitions`` (default 10) row blocks built
lazily per block and ``persist``-ed on the threaded scheduler (generation is not
timed), and fitted by

* ``ML``     BiasReducedGLM(link=..., method="ML") (one pass per iteration);
* ``mBR2``   method="mBR", passes=2 (hat values from the current R: two passes/iter);
* ``mBR1``   method="mBR", passes=1 (hat values from the previous R: one pass/iter);
* ``mJPL2``  method="mJPL", passes=2 (Jeffreys penalty, a = 1/2; for the logit link
             the same estimate as mBR);

all with the default tol=1e-8 on the threaded scheduler (``--cores`` threads,
default 2). References, on the same data in the same run:

* ``qr_pass``    ONE pass computing the R factor of [sqrt(w) X~ | sqrt(w) z] over the
                 row blocks with the library's own kernel
                 (``dask_glmdist._blocks.map_reduce(iwls_block, ..., combine=combine_iwls)``
                 with ``PassSpec(beta=true coefficients, qr=True)``): median of 3;
* ``syrk_pass``  ONE pass computing the Gram matrix [sqrt(w) X~ | sqrt(w) z]^T [...] per
                 block (eta, mu, d, V(mu) by the library's family/link functions, then a
                 SYRK per 4096-row tile into one reused buffer), summed over the blocks by
                 the same ``map_reduce``: the normal-equations alternative, for context;
                 median of 3.

Peers (in-memory NumPy, the same rows concatenated; BLAS on ``--cores`` threads):

* ``statsmodels``  statsmodels GLM(y, [1, X], family=Binomial(link)).fit() (IRLS, ML);
                   compared with our ML estimate;
* ``firth``        firthmodels FirthLogisticRegression(max_iter=100, gtol=1e-6,
                   xtol=1e-9) on the logit data (Firth = mBR for the logit link; the
                   intercept is fitted by firthmodels itself, fit_intercept=True, and
                   moved first to match ``params_``); compared with our mBR2 estimate.

Peers run with ``--peer-timeout`` (default 600 s): "did not finish" beyond it; a peer
whose peak memory, extrapolated linearly from a smaller N in the same run, would exceed
``--mem-limit-gb`` is skipped (as in bench_dlsa_logistic.py).

Bounded memory (``--zarr-sizes``, default 2e6 and 2e7 rows): the probit data are
written to a zarr v3 store under ``--zarr-dir`` (default /tmp), arrays ``X`` (N x 50)
and ``y`` (N,), chunks of ``--zarr-chunk`` rows (default 200,000) x all columns,
uncompressed, chunk by chunk (the writer holds one chunk at a time; the rows of chunk
c come from ``(seed, c)``, so these data have the same distribution as, but are not
identical to, the in-memory data above). Each of BiasReducedGLM(link="probit",
method="ML") and (method="mBR", passes=2) is fitted once, in a fresh process, from
``da.from_zarr`` (one dask row block per zarr chunk). Reported: the whole-process
peak RSS (psutil sample every 5 ms; also the kernel's ru_maxrss), the baseline RSS
after the imports and opening the lazy arrays, the peak above that baseline, and the
20M / 2M ratios. A size is skipped when the free disk space is below
max(1 GB, 25 GB x N / 2e7). The stores are deleted afterwards.

Passes per iteration (``--passes-study``, its own report
``benchmarks/results_brglm_passes.md``): mBR/mJPL with ``passes`` = 2 and 1,
default tol=1e-8 and max_iter=100, on the separated probit and logit data of
``dask_glmdist.datasets.make_diverted_flights`` (``--passes-n`` rows, default 1e6, in
``--partitions`` blocks), brglm2's separated probit fixture of the test suite (150
rows), a completely separated sample (600 rows, estimates near 100) and the
non-separated design above (N/5 rows): ``n_iter_``, ``n_passes_``, the
median wall time of ``--repeats`` fits in this process, and max |params_ - the two-pass
fit at tol=1e-12|.

Method of measurement
---------------------
Every configuration runs in its own fresh subprocess (this script re-invoked with
``--worker KIND``), which builds the data, records its RSS after the data are built
and all imports are done (the *baseline*: it includes the data themselves), then fits
``--repeats`` times (default 3; fewer once the fits took ``--fit-budget`` s) while a
background thread samples the process RSS every 5 ms (psutil). Reported: the wall
time of the fit (median of the repeats, and the min), ``n_iter_``, ``n_passes_``,
time per iteration (median total / n_iter_) and per pass, the peak RSS above baseline
(max over the repeats: the memory the method itself needs) and the absolute peak.

BLAS threads: like bench_dlsa_logistic.py, no thread limit is imposed on the fits
themselves; the worker processes get OMP_NUM_THREADS = OPENBLAS_NUM_THREADS =
MKL_NUM_THREADS = ``--cores`` (= the default BLAS thread count on a 2-core machine)
and, on a machine with more cores, are pinned to ``--cores`` CPUs. The library's
``map_reduce`` limits BLAS to 1 thread per call while the threaded scheduler runs
blocks in parallel (also for the two reference passes, which go through it); the
peers use BLAS on ``--cores`` threads. Before every fit the worker waits (up to
``--max-wait`` s) until other processes use < 0.15 cores; "other load" is the largest
CPU use by other processes during a configuration's timed fits.

How to run
----------
::

    python benchmarks/bench_brglm.py --quick           # smoke run, ~1-2 minutes
    python benchmarks/bench_brglm.py                   # full run (N = 1e6, 4e6; zarr 2e6, 2e7)
    python benchmarks/bench_brglm.py --sizes 1000000 --zarr-sizes   # no zarr part
    python benchmarks/bench_brglm.py --passes-study    # passes=2 and 1 only (~3 min)

Needs psutil, zarr (the zarr part), statsmodels and firthmodels (peers; a missing one
is reported as not available).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

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
NONZERO = {0: 1.0, 3: -1.0, 7: 0.75, 15: -0.75, 30: 0.5, 45: -0.5}
ETA_SD = {"probit": 1.0, "logit": 1.6}
INTERCEPT = {"probit": -0.3, "logit": -0.48}
MARK = "@@RESULT@@"
VERSION_MODULES = ("numpy", "scipy", "dask", "sklearn", "statsmodels", "firthmodels", "zarr",
                   "psutil", "threadpoolctl", "dask_glmdist")  # listed in the report header

OURS = ["ML", "mBR2", "mBR1", "mJPL2"]
REFS = ["qr_pass", "syrk_pass"]
PEERS = ["statsmodels", "firth"]
OUR_SPECS = {"ML": ("ML", 1), "mBR2": ("mBR", 2), "mBR1": ("mBR", 1), "mJPL2": ("mJPL", 2)}
LABELS = {
    "ML": "BiasReducedGLM ML",
    "mBR2": "BiasReducedGLM mBR, passes=2",
    "mBR1": "BiasReducedGLM mBR, passes=1",
    "mJPL2": "BiasReducedGLM mJPL, passes=2",
    "qr_pass": "ref: one QR pass (iwls_block + combine_iwls, median of 3)",
    "syrk_pass": "ref: one SYRK pass (Gram per 4096-row tile, summed; median of 3)",
    "statsmodels": "statsmodels GLM Binomial IRLS (ML)",
    "firth": "firthmodels FirthLogisticRegression (Firth = mBR)",
}
# what each estimate is compared with (max |theta - that|)
COMPARE = {"mBR1": "mBR2", "mJPL2": "mBR2", "statsmodels": "ML", "firth": "mBR2"}
SYRK_TILE = 4096


# --------------------------------------------------------------------------------------
# data: seeded, block by block (identical in every process)
# --------------------------------------------------------------------------------------


def true_params(link: str, p: int = P) -> np.ndarray:
    """[intercept, beta]: a few non-zero coefficients, sd(x^T beta) = ETA_SD[link]."""
    beta = np.zeros(p)
    for j, v in NONZERO.items():
        if j < p:
            beta[j] = v
    idx = np.arange(p)
    sigma = RHO ** np.abs(idx[:, None] - idx[None, :])
    beta *= ETA_SD[link] / math.sqrt(float(beta @ sigma @ beta))
    return np.concatenate([[INTERCEPT[link]], beta])


def fill_block(X: np.ndarray, seed: int, k: int, link: str) -> np.ndarray:
    """Fill X (n_k x p, C order) with block k's AR(1) design; return block k's y (0/1)."""
    from scipy.special import expit, ndtr

    theta = true_params(link, X.shape[1])
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
    prob = ndtr(eta) if link == "probit" else expit(eta)
    return (u < prob).astype(np.float64)


def make_block(n: int, seed: int, k: int, link: str):
    """Block k as a new (X_k, y_k) pair."""
    X = np.empty((n, P))
    y = fill_block(X, seed, k, link)
    return X, y


def make_numpy(n: int, k: int, seed: int, link: str, intercept_column: bool = False):
    """All blocks in one C-ordered array (no full-size temporaries); [1, X] if asked."""
    off = int(intercept_column)
    X = np.empty((n, P + off))
    if off:
        X[:, 0] = 1.0
    y = np.empty(n)
    start = 0
    for b, nb in enumerate(block_sizes(n, k)):
        blk = np.empty((nb, P))
        y[start : start + nb] = fill_block(blk, seed, b, link)
        X[start : start + nb, off:] = blk
        del blk
        start += nb
    return X, y


def make_dask(n: int, k: int, seed: int, link: str):
    """Lazy per-block dask arrays (X: k row chunks x all columns, y), persisted in memory."""
    import dask
    import dask.array as da

    xs, ys = [], []
    token = uuid.uuid4().hex[:8]
    for b, nb in enumerate(block_sizes(n, k)):
        blk = dask.delayed(make_block, nout=2, pure=True)(nb, seed, b, link,
                                                          dask_key_name=f"brglm-gen-{token}-{b}")
        xs.append(da.from_delayed(blk[0], shape=(nb, P), dtype=np.float64))
        ys.append(da.from_delayed(blk[1], shape=(nb,), dtype=np.float64))
    X = da.concatenate(xs, axis=0)
    y = da.concatenate(ys, axis=0)
    X, y = dask.persist(X, y, scheduler="threads")
    return X, y


# --------------------------------------------------------------------------------------
# the SYRK reference block function (module level: dask pickles nothing here, but keep
# it importable)
# --------------------------------------------------------------------------------------


def syrk_block(X, y, m, theta, family, *, block_index):
    """Gram of [sqrt(w), sqrt(w) X, sqrt(w) z] of one block, in SYRK_TILE-row tiles."""
    n, p = X.shape
    q = p + 2
    G = np.zeros((q, q))
    buf = np.empty((min(SYRK_TILE, n), q))
    for a in range(0, n, SYRK_TILE):
        b = min(a + SYRK_TILE, n)
        rows = b - a
        x = X[a:b]
        eta = x @ theta[1:]
        eta += theta[0]
        mu, d = family.link.inverse_and_deriv(eta)
        sqrt_mv = np.sqrt(1.0 / family.variance(mu))
        sw = sqrt_mv * np.abs(d)
        t = buf[:rows]
        t[:, 0] = sw
        np.multiply(x, sw[:, None], out=t[:, 1 : p + 1])
        t[:, p + 1] = sw * eta + sqrt_mv * (y[a:b] - mu) * np.sign(d)
        G += t.T @ t  # numpy dispatches A.T @ A to BLAS SYRK
    return {"G": G, "n": n}


# --------------------------------------------------------------------------------------
# configurations: setup (not timed) and fit (timed)
# --------------------------------------------------------------------------------------


class Config:
    data_bytes = 0

    def __init__(self, args):
        self.args = args

    def setup(self):
        raise NotImplementedError

    def fit(self) -> dict:
        raise NotImplementedError


class DaskData(Config):
    def setup(self):
        import dask

        import dask_glmdist  # noqa: F401  (import cost is not part of the fit)
        import dask_glmdist.solvers.chunked_iwls  # noqa: F401

        a = self.args
        dask.config.set(scheduler="threads", num_workers=a.cores)
        self.X, self.y = make_dask(a.n, a.partitions, a.seed, a.link)
        self.data_bytes = self.X.nbytes + self.y.nbytes


class Ours(DaskData):
    def fit(self):
        from dask_glmdist import BiasReducedGLM

        method, passes = OUR_SPECS[self.args.worker]
        model = BiasReducedGLM(link=self.args.link, method=method, passes=passes)
        model.fit(self.X, self.y)
        return {
            "theta": np.asarray(model.params_).tolist(),
            "n_iter": int(model.n_iter_),
            "n_passes": int(model.n_passes_),
            "converged": bool(model.converged_),
            "steps": [float(h["max_step"]) for h in model.history_],
        }


class OnePass(DaskData):
    """One reference pass; ``fit`` is repeated 3 times (median reported)."""

    def setup(self):
        super().setup()
        from dask_glmdist._blocks import BlockedData
        from dask_glmdist.families import get_family

        self.family = get_family("binomial", self.args.link)
        self.data = BlockedData(self.X, self.y, None)
        self.theta = true_params(self.args.link)

    def fit(self):
        from dask_glmdist._blocks import map_reduce, sum_summaries
        from dask_glmdist.solvers.chunked_iwls import PassSpec, combine_iwls, iwls_block

        if self.args.worker == "qr_pass":
            spec = PassSpec(family=self.family, fit_intercept=True, beta=self.theta, qr=True)
            out = map_reduce(iwls_block, self.data, spec, combine=combine_iwls, split_every=8)
            assert out["R"].shape == (P + 2, P + 2) and out["n"] == self.args.n
        else:
            out = map_reduce(syrk_block, self.data, self.theta, self.family,
                             combine=sum_summaries, split_every=8)
            assert out["G"].shape == (P + 2, P + 2) and out["n"] == self.args.n
        return {"n_iter": 1, "n_passes": 1}


class Statsmodels(Config):
    def setup(self):
        import statsmodels.api as sm  # noqa: F401

        a = self.args
        self.exog, self.y = make_numpy(a.n, a.partitions, a.seed, a.link, intercept_column=True)
        self.data_bytes = self.exog.nbytes + self.y.nbytes

    def fit(self):
        import statsmodels.api as sm

        link = sm.families.links.Probit() if self.args.link == "probit" else \
            sm.families.links.Logit()
        res = sm.GLM(self.y, self.exog, family=sm.families.Binomial(link=link)).fit()
        it = res.fit_history.get("iteration", -1)
        return {"theta": np.asarray(res.params).tolist(), "n_iter": int(it),
                "converged": bool(getattr(res, "converged", True)),
                "notes": "GLM(y, [1, X], family=Binomial(link)).fit() with its defaults "
                         "(IRLS, tol=1e-8 on the deviance change)"}


class Firth(Config):
    def setup(self):
        import firthmodels  # noqa: F401

        a = self.args
        if a.link != "logit":
            raise ValueError("firthmodels fits the logit link only")
        self.Xn, self.y = make_numpy(a.n, a.partitions, a.seed, a.link)
        self.data_bytes = self.Xn.nbytes + self.y.nbytes

    def fit(self):
        import firthmodels
        from firthmodels import FirthLogisticRegression

        model = FirthLogisticRegression(max_iter=100, gtol=1e-6, xtol=1e-9,
                                        fit_intercept=True)
        model.fit(self.Xn, self.y)
        theta = np.concatenate([[float(model.intercept_)], np.ravel(model.coef_)])
        backend = model._resolve_backend()
        return {"theta": theta.tolist(), "n_iter": int(model.n_iter_),
                "converged": bool(model.converged_),
                "notes": f"firthmodels backend={backend} (numba "
                         f"{'available' if firthmodels.NUMBA_AVAILABLE else 'not installed'}),"
                         " max_iter=100, gtol=1e-6, xtol=1e-9"}


class ZarrFit(Config):
    """Fit from a zarr store; baseline = RSS after the imports and opening the arrays."""

    def setup(self):
        import dask
        import dask.array as da
        import zarr  # noqa: F401

        import dask_glmdist  # noqa: F401
        import dask_glmdist.solvers.chunked_iwls  # noqa: F401

        dask.config.set(scheduler="threads", num_workers=self.args.cores)
        self.X = da.from_zarr(self.args.zarr_path, component="X")
        self.y = da.from_zarr(self.args.zarr_path, component="y")
        self.data_bytes = 0  # on disk, not in memory

    def fit(self):
        from dask_glmdist import BiasReducedGLM

        method = self.args.worker.split("_", 1)[1]
        model = BiasReducedGLM(link="probit", method=method, passes=2)
        model.fit(self.X, self.y)
        return {
            "theta": np.asarray(model.params_).tolist(),
            "n_iter": int(model.n_iter_),
            "n_passes": int(model.n_passes_),
            "converged": bool(model.converged_),
            "n_blocks": int(model.n_blocks_),
        }


WORKERS = OURS + REFS + PEERS + ["zarr_ML", "zarr_mBR"]


def make_config(args) -> Config:
    w = args.worker
    if w in OURS:
        return Ours(args)
    if w in REFS:
        return OnePass(args)
    if w == "statsmodels":
        return Statsmodels(args)
    if w == "firth":
        return Firth(args)
    return ZarrFit(args)


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
    repeats = 3 if args.worker in REFS else (1 if args.worker.startswith("zarr") else
                                               args.repeats)
    times, peaks, other, waited, result, warned = [], [], [], 0.0, None, []
    for _ in range(repeats):
        if times and sum(times) > args.fit_budget and args.worker not in REFS:
            break
        gc.collect()
        waited += wait_quiet(max_wait=args.max_wait)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with MemorySampler() as mem, CpuMeter() as cpu:
                t = time.perf_counter()
                result = cfg.fit()
                times.append(time.perf_counter() - t)
        for w in caught:
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in warned:
                warned.append(msg)
        peaks.append(mem.peak)
        other.append(cpu.other_cores)
    out = {
        "worker": args.worker,
        "n": args.n,
        "link": args.link,
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


def _available(mod: str) -> str | None:
    try:
        __import__(mod)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


def worker_env(cores: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(cores)
    return env


def run_config(worker, n, link, args, timeout, extra=()):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", worker, "--n", str(n),
           "--link", link, "--partitions", str(args.partitions), "--repeats",
           str(args.repeats), "--seed", str(args.seed), "--max-wait", str(args.max_wait),
           "--fit-budget", str(args.fit_budget), "--cores", str(args.cores), *extra]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=worker_env(args.cores))
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:g} s (killed)"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


def _fmt_steps(steps) -> str:
    return "[" + ", ".join("inf" if not math.isfinite(s) else f"{s:.1e}" for s in steps) + "]"


def _bullet(rep, name, res, t0):
    med = statistics.median(res["times"])
    extra = ""
    if "n_passes" in res and name not in REFS:
        extra = f", n_iter_ {res['n_iter']}, n_passes_ {res['n_passes']}"
    elif name in PEERS:
        extra = f", {res['n_iter']} iterations"
    if "converged" in res:
        extra += f", converged {res['converged']}"
    if res.get("steps"):
        extra += f", max|step| per iteration {_fmt_steps(res['steps'])}"
    rep(f"- {name}: median {med:.3f} s (runs {', '.join(f'{t:.3f}' for t in res['times'])})"
        f"{extra}; peak above base {_mb(res['peak'] - res['baseline'])} MB, peak "
        f"{_mb(res['peak'])} MB, base {_mb(res['baseline'])} MB (data "
        f"{_mb(res['data_bytes'])} MB), ru_maxrss {_mb(res['ru_maxrss'])} MB; other load "
        f"{', '.join(f'{c:.2f}' for c in res['other_cores'])} cores "
        f"[process {time.perf_counter() - t0:.0f} s, setup {res['setup_s']:.1f} s, waited "
        f"{res['waited_s']:.0f} s for a quiet machine]")
    for w in res.get("warnings", []):
        rep(f"  - WARNING during {name}: {w}")


def run_in_memory(rep, args, avail, mem_per_row):
    all_results = {}
    for n in args.sizes:
        for link in args.links:
            rep(f"## N = {n:,}, link = {link}")
            rep()
            rep(f"- true params: intercept {INTERCEPT[link]}, sd(x^T beta) {ETA_SD[link]}, "
                f"non-zero coefficients at {sorted(NONZERO)}; data in memory "
                f"{_mb(n * (P + 1) * 8)} MB (X and y)")
            results: dict = {}
            configs = OURS + REFS + [p for p in PEERS if not args.no_peers
                                     and not (p == "firth" and link != "logit")]
            for name in configs:
                if name in PEERS and avail.get(name):
                    rep(f"- {name}: not available ({avail[name]})")
                    continue
                if name in PEERS and name in mem_per_row:
                    est = mem_per_row[name] * n
                    if est > args.mem_limit_gb * 2**30:
                        rep(f"- {name}: skipped at N={n:,}: its peak memory extrapolated "
                            f"from a smaller N is {est / 2**30:.1f} GiB > --mem-limit-gb "
                            f"{args.mem_limit_gb:g}")
                        results[name] = {"skipped": f"skipped (memory ~{est / 2**30:.0f} GiB)"}
                        continue
                t0 = time.perf_counter()
                timeout = args.peer_timeout if name in PEERS else args.timeout
                res, err = run_config(name, n, link, args, timeout)
                if err:
                    rep(f"- {name}: {err}")
                    results[name] = {"skipped": err.split(":")[0] if "did not finish" in err
                                     else "failed"}
                    continue
                results[name] = res
                if name in PEERS:
                    mem_per_row[name] = max(mem_per_row.get(name, 0), res["peak"] / n)
                _bullet(rep, name, res, t0)
            report_table(rep, n, link, results)
            all_results[(n, link)] = results
    return all_results


def report_table(rep, n, link, results) -> None:
    done = {m: r for m, r in results.items() if "times" in r}
    if not done:
        return
    med = {m: statistics.median(r["times"]) for m, r in done.items()}
    theta_true = true_params(link)
    rep()
    rep(f"### Results, N = {n:,}, {link}")
    rep()
    rep("| method | time median (s) | min (s) | n_iter_ | n_passes_ | s / iteration | "
        "s / pass | peak above base (MB) | peak RSS (MB) | max abs diff (vs) | "
        "max abs(theta - true) | converged | other load (cores) |")
    rep("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|")
    for m in OURS + REFS + PEERS:
        if m not in results:
            continue
        r = results[m]
        if "times" not in r:
            rep(f"| {LABELS[m]} | {r['skipped']} | | | | | | | | | | | |")
            continue
        it = r.get("n_iter")
        npass = r.get("n_passes")
        per_it = med[m] / it if isinstance(it, int) and it > 0 else float("nan")
        per_pass = f"{med[m] / npass:.3f}" if npass else "n/a"
        diff = "n/a"
        ref = COMPARE.get(m)
        if ref and ref in done and "theta" in r:
            d = np.max(np.abs(np.asarray(r["theta"]) - np.asarray(done[ref]["theta"])))
            diff = f"{d:.1e} ({ref})"
        err = (f"{np.max(np.abs(np.asarray(r['theta']) - theta_true)):.1e}"
               if "theta" in r else "n/a")
        rep(f"| {LABELS[m]} | {med[m]:.3f} | {min(r['times']):.3f} | "
            f"{it if it is not None else 'n/a'} | {npass if npass else 'n/a'} | "
            f"{per_it:.3f} | {per_pass} | {_mb(r['peak'] - r['baseline'])} | "
            f"{_mb(r['peak'])} | {diff} | {err} | {r.get('converged', 'n/a')} | "
            f"{max(r['other_cores']):.2f} |")
    rep()

    def per_iter(m):
        return med[m] / done[m]["n_iter"] if m in done and done[m].get("n_iter") else None

    ml, mbr2, mbr1, qr = per_iter("ML"), per_iter("mBR2"), per_iter("mBR1"), med.get("qr_pass")
    if ml and qr:
        ratio = ml / qr
        rep(f"- target A: ML time/iteration ({ml:.3f} s) / one QR pass ({qr:.3f} s) = "
            f"{ratio:.2f} (target <= 1.5) -> {'MET' if ratio <= 1.5 else 'NOT MET'}")
        per_pass = med["ML"] / done["ML"]["n_passes"]
        rep(f"  (ML time/pass incl. start and final-statistics passes: {per_pass:.3f} s = "
            f"{per_pass / qr:.2f} x one QR pass)")
    if ml and mbr2:
        ratio = mbr2 / ml
        rep(f"- target B: two-pass mBR time/iteration ({mbr2:.3f} s) / ML time/iteration "
            f"({ml:.3f} s) = {ratio:.2f} (target <= 2.2) -> "
            f"{'MET' if ratio <= 2.2 else 'NOT MET'}")
    if ml and mbr2:
        rep(f"- info: total time mBR passes=2 / ML = {med['mBR2'] / med['ML']:.2f}")
    if ml and mbr1:
        rep(f"- info: one-pass mBR time/iteration / ML time/iteration = {mbr1 / ml:.2f}; "
            f"total time mBR passes=1 / passes=2 = {med['mBR1'] / med['mBR2']:.2f}")
    if "syrk_pass" in med and qr:
        rep(f"- info: one SYRK pass / one QR pass = {med['syrk_pass'] / qr:.2f}")
    for peer, ours in (("statsmodels", "ML"), ("firth", "mBR2")):
        if peer in med and ours in med:
            mem_peer = done[peer]["peak"] - done[peer]["baseline"]
            mem_ours = max(1, done[ours]["peak"] - done[ours]["baseline"])
            rep(f"- info: {peer} time / our {ours} time = {med[peer] / med[ours]:.2f}; "
                f"peak above base {peer} / ours = {mem_peer / mem_ours:.1f}")
    for m in OURS + REFS + PEERS:
        if m in done and done[m].get("notes"):
            rep(f"- notes, {m}: {done[m]['notes']}")
    rep()


# --------------------------------------------------------------------------------------
# the zarr (bounded memory) part
# --------------------------------------------------------------------------------------


def write_zarr(path: str, n: int, chunk: int, seed: int) -> None:
    """Probit data, chunk by chunk (one chunk in memory at a time), uncompressed."""
    import zarr

    g = zarr.open_group(path, mode="w")
    zX = g.create_array("X", shape=(n, P), chunks=(chunk, P), dtype="f8", compressors=None)
    zy = g.create_array("y", shape=(n,), chunks=(chunk,), dtype="f8", compressors=None)
    for c, a in enumerate(range(0, n, chunk)):
        rows = min(chunk, n - a)
        Xc, yc = make_block(rows, seed, c, "probit")
        zX[a : a + rows] = Xc
        zy[a : a + rows] = yc
        del Xc, yc


def _du(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def run_zarr(rep, args):
    if not args.zarr_sizes:
        return
    rep("## Bounded memory: fits from a zarr store on disk (probit)")
    rep()
    reason = _available("zarr")
    if reason:
        rep(f"- zarr: not available ({reason})")
        return
    rep(f"- store: zarr v3 under {args.zarr_dir}, X (N x {P}) and y (N,), chunks of "
        f"{args.zarr_chunk:,} rows x all columns, uncompressed; one dask row block per chunk; "
        "each fit once, in a fresh process")
    rep("- peak RSS: whole process (psutil sample every 5 ms; kernel ru_maxrss in brackets); "
        "baseline = RSS after imports (numpy, dask, zarr, dask_glmdist) and opening the "
        "lazy arrays")
    rep()
    res_all: dict = {}
    for n in args.zarr_sizes:
        need = max(2**30, 25e9 * n / 2e7)
        free = shutil.disk_usage(args.zarr_dir).free
        if free < need:
            rep(f"- N = {n:,}: skipped: {free / 1e9:.1f} GB free on {args.zarr_dir}, need "
                f"{need / 1e9:.1f} GB (data {n * (P + 1) * 8 / 1e9:.2f} GB)")
            continue
        path = tempfile.mkdtemp(prefix=f"bench_brglm_{n}_", suffix=".zarr", dir=args.zarr_dir)
        try:
            t0 = time.perf_counter()
            write_zarr(path, n, args.zarr_chunk, args.seed)
            size = _du(path)
            rep(f"- N = {n:,}: wrote {size / 1e9:.3f} GB on disk in "
                f"{time.perf_counter() - t0:.0f} s ({path})")
            for method in ("ML", "mBR"):
                name = f"zarr_{method}"
                t0 = time.perf_counter()
                res, err = run_config(name, n, "probit", args, args.zarr_timeout,
                                      extra=("--zarr-path", path))
                if err:
                    rep(f"  - {name}: {err}")
                    continue
                res["disk_bytes"] = size
                res_all[(n, method)] = res
                rep(f"  - {name}: {res['times'][0]:.2f} s, n_iter_ {res['n_iter']}, n_passes_ "
                    f"{res['n_passes']}, {res['n_blocks']} blocks, converged {res['converged']}, "
                    f"peak {_mb(res['peak'])} MB (ru_maxrss {_mb(res['ru_maxrss'])} MB), base "
                    f"{_mb(res['baseline'])} MB, above base {_mb(res['peak'] - res['baseline'])}"
                    f" MB, max abs(theta - true) "
                    f"{np.max(np.abs(np.asarray(res['theta']) - true_params('probit'))):.1e}"
                    f" [process {time.perf_counter() - t0:.0f} s]")
                for w in res.get("warnings", []):
                    rep(f"    - WARNING during {name}: {w}")
        finally:
            shutil.rmtree(path, ignore_errors=True)
            rep(f"  - deleted {path}")
    rep()
    if not res_all:
        return
    rep("### Results, zarr input")
    rep()
    rep("| N | method | on disk (GB) | blocks | time (s) | n_iter_ | n_passes_ | "
        "peak RSS whole process (MB) | ru_maxrss (MB) | baseline after imports (MB) | "
        "peak above baseline (MB) |")
    rep("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (n, method), r in sorted(res_all.items()):
        rep(f"| {n:,} | {method} | {r['disk_bytes'] / 1e9:.3f} | {r['n_blocks']} | "
            f"{r['times'][0]:.2f} | {r['n_iter']} | {r['n_passes']} | {_mb(r['peak'])} | "
            f"{_mb(r['ru_maxrss'])} | {_mb(r['baseline'])} | "
            f"{_mb(r['peak'] - r['baseline'])} |")
    rep()
    sizes = sorted({n for n, _ in res_all})
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        for method in ("ML", "mBR"):
            if (lo, method) in res_all and (hi, method) in res_all:
                a, b = res_all[(lo, method)], res_all[(hi, method)]
                whole = b["peak"] / a["peak"]
                above = (b["peak"] - b["baseline"]) / max(1, a["peak"] - a["baseline"])
                rep(f"- target C, {method}: peak RSS N={hi:,} / N={lo:,} (data x{hi / lo:g}): "
                    f"whole process {whole:.2f} (target <= 1.3) -> "
                    f"{'MET' if whole <= 1.3 else 'NOT MET'}; above baseline {above:.2f}")
    rep()


# --------------------------------------------------------------------------------------
# passes per iteration: 2 and 1 (--passes-study)
# --------------------------------------------------------------------------------------

PASSES = (2, 1)


def _brglm2_separated():
    """brglm2's separated probit data set (the test suite's reference fixture)."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, os.pardir, "tests", "data", "brglm2_reference.json")
    with open(path) as fh:
        ds = json.load(fh)["datasets"]["binomial_probit_separated"]
    return np.asarray(ds["X"], dtype=float), np.asarray(ds["y"], dtype=float)


def passes_study_sets(args):
    """(label, link, method, X, y, n_partitions) of the passes study."""
    import dask

    from dask_glmdist.datasets import make_diverted_flights

    n = args.passes_n
    Xd, yd, _ = make_diverted_flights(n, args.partitions, random_state=args.seed)
    Xd, yd = dask.persist(Xd, yd, scheduler="threads")
    Xs, ys = _brglm2_separated()
    sets = []
    for link in ("logit", "probit"):
        sets.append((f"diverted flights, N={n:,}, separated", link, "mBR", Xd, yd, None))
    for method in ("mBR", "mJPL"):
        sets.append(("brglm2 binomial_probit_separated, n=150", "probit", method, Xs, ys, 3))
    rng = np.random.default_rng(args.seed)
    Xc = rng.normal(size=(600, 2))
    yc = (Xc[:, 0] + 0.3 * Xc[:, 1] > 0).astype(float)
    for link in ("logit", "probit"):
        sets.append(("complete separation, n=600 (coefficients ~100)", link, "mBR", Xc, yc, 2))
    n_plain = max(n // 5, 10_000)
    for link in ("logit", "probit"):
        Xp, yp = make_dask(n_plain, args.partitions, args.seed, link)
        sets.append((f"p={P} AR(1) design, N={n_plain:,}, not separated", link, "mBR", Xp, yp,
                     None))
    return sets


def _fit_passes(link, method, passes, X, y, n_partitions, **kw):
    import warnings

    from dask_glmdist import BiasReducedGLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fit = BiasReducedGLM(link=link, method=method, passes=passes,
                             n_partitions=n_partitions, **kw).fit(X, y)
    return fit, time.perf_counter() - t0


def run_passes_study(rep, args) -> None:
    """n_iter_, n_passes_, wall time and distance to the two-pass solution for each
    ``passes`` (default tol=1e-8, max_iter=100), in this process (threaded scheduler)."""
    rep("## Passes per iteration: 2 and 1")
    rep()
    rep(f"BiasReducedGLM(link, method, passes, tol=1e-8, max_iter=100) on the threaded "
        f"scheduler ({args.cores} threads); time = median of {args.repeats} fits. "
        "'|diff|' = max |params_ - the two-pass fit at tol=1e-12|. The data sets: the "
        "library's make_diverted_flights (a rare carrier with no diversion: quasi-complete "
        "separation) persisted in memory in --partitions blocks, brglm2's separated probit "
        "fixture (3 blocks), y = 1{x0 + 0.3 x1 > 0} (complete separation, 2 blocks) and "
        "this benchmark's non-separated design.")
    rep()
    rep("| data | link | method | passes | converged | n_iter_ | n_passes_ | time (s) | "
        "|diff| |")
    rep("|---|---|---|---|---|---|---|---|---|")
    for label, link, method, X, y, parts in passes_study_sets(args):
        ref, _ = _fit_passes(link, method, 2, X, y, parts, tol=1e-12, max_iter=500)
        for passes in PASSES:
            try:
                runs = [_fit_passes(link, method, passes, X, y, parts, max_iter=100)
                        for _ in range(args.repeats)]
            except Exception as exc:  # noqa: BLE001  (reported in the table)
                rep(f"| {label} | {link} | {method} | {passes} | {type(exc).__name__} "
                    "| | | | |")
                continue
            fit = runs[0][0]
            wall = statistics.median(t for _, t in runs)
            diff = float(np.max(np.abs(fit.params_ - ref.params_)))
            rep(f"| {label} | {link} | {method} | {passes} | {fit.converged_} | "
                f"{fit.n_iter_} | {fit.n_passes_} | {wall:.2f} | {diff:.1e} |")
    rep()


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=None,
                        help="N of the in-memory part (default 1000000 4000000; "
                        "--quick: 50000; an empty list skips the part)")
    parser.add_argument("--zarr-sizes", type=int, nargs="*", default=None,
                        help="N of the zarr part (default 2000000 20000000; --quick: "
                        "100000 400000; an empty list skips the part)")
    parser.add_argument("--links", nargs="+", choices=["probit", "logit"],
                        default=["probit", "logit"])
    parser.add_argument("--partitions", type=int, default=10, help="row blocks (in memory)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fits per configuration (the reference passes: always 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=2,
                        help="dask threads and BLAS threads (workers pinned to this many CPUs)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N=50,000, zarr 100,000 and 400,000 rows in "
                        "10,000-row chunks, 1 repeat, short waits (explicit --sizes, "
                        "--zarr-sizes, --zarr-chunk still apply)")
    parser.add_argument("--no-peers", action="store_true", help="skip statsmodels/firthmodels")
    parser.add_argument("--mem-limit-gb", type=float, default=16.0,
                        help="skip a peer whose extrapolated peak would exceed this")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="per BiasReducedGLM/reference process, s")
    parser.add_argument("--peer-timeout", type=float, default=600.0,
                        help="per peer process, s ('did not finish' beyond it)")
    parser.add_argument("--zarr-timeout", type=float, default=3600.0,
                        help="per zarr fit process, s")
    parser.add_argument("--zarr-dir", default="/tmp")
    parser.add_argument("--zarr-chunk", type=int, default=None,
                        help="rows per zarr chunk (default 200000; --quick: 10000)")
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="before each fit, wait up to this long for the machine to be "
                        "quiet (other processes < 0.15 cores)")
    parser.add_argument("--fit-budget", type=float, default=120.0,
                        help="no further repeats once a configuration's fits took this long")
    parser.add_argument("--out", default=None,
                        help="markdown report (default benchmarks/results_brglm.md; "
                        "with --quick /tmp/results_brglm_quick.md)")
    parser.add_argument("--passes-study", action="store_true",
                        help="only the study of passes=2 and 1 (separated and "
                        "non-separated data; report in benchmarks/results_brglm_passes.md)")
    parser.add_argument("--passes-n", type=int, default=1_000_000,
                        help="rows of the diverted-flights data of --passes-study (the "
                        "non-separated design gets a fifth)")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--link", choices=["probit", "logit"], help=argparse.SUPPRESS)
    parser.add_argument("--zarr-path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if (os.cpu_count() or 1) > args.cores and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
        run_worker(args)
        return
    if args.passes_study:
        here = os.path.dirname(os.path.abspath(__file__))
        rep = Report(args.out or os.path.join(here, "results_brglm_passes.md"))
        rep("# Benchmark: BiasReducedGLM passes per iteration")
        rep()
        rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
        rep(f"- machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}"
            f", Python {platform.python_version()}; versions: {_versions(VERSION_MODULES)}")
        cmd = " ".join([os.path.relpath(os.path.abspath(sys.argv[0]))] + sys.argv[1:])
        rep(f"- command: `python {cmd}`")
        rep()
        import dask

        with dask.config.set(scheduler="threads", num_workers=args.cores):
            run_passes_study(rep, args)
        return
    defaults = {"sizes": [1_000_000, 4_000_000], "zarr_sizes": [2_000_000, 20_000_000],
                "zarr_chunk": 200_000}
    if args.quick:
        defaults = {"sizes": [50_000], "zarr_sizes": [100_000, 400_000], "zarr_chunk": 10_000}
        args.repeats, args.max_wait = 1, 2.0
        args.peer_timeout = min(args.peer_timeout, 120.0)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        here = os.path.dirname(os.path.abspath(__file__))
        args.out = ("/tmp/results_brglm_quick.md" if args.quick
                    else os.path.join(here, "results_brglm.md"))
    avail = {"statsmodels": _available("statsmodels.api"), "firth": _available("firthmodels")}

    rep = Report(args.out)
    rep("# Benchmark: BiasReducedGLM (tiled-TSQR IWLS) -- ML, mBR, mJPL vs one data pass "
        "and peers")
    rep()
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: nproc {os.cpu_count()} (used: {args.cores} cores), "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"{platform.platform()}")
    rep(f"- versions: {_versions(VERSION_MODULES)}")
    rep(f"- BLAS/OpenMP (threadpoolctl in the parent, after importing numpy, scipy, sklearn, "
        f"statsmodels, ...; numpy's is libscipy_openblas): {_blas_info(detailed=True)}")
    cmd = " ".join([os.path.relpath(os.path.abspath(sys.argv[0]))] + sys.argv[1:])
    rep(f"- command: `python {cmd}`")
    rep(f"- data: binary y from a probit and a logit model, p={P} AR(1) rho={RHO} features + "
        f"intercept, 6 non-zero coefficients, seed {args.seed}; {args.partitions} row blocks "
        "(dask array persisted in memory, threaded scheduler); time = median of "
        f"{args.repeats} fit(s) in a fresh process per configuration (references: median of 3)")
    rep("- memory: peak RSS of the process sampled every 5 ms (psutil) during the fits; "
        "'above base' = peak minus the RSS after data generation and imports (the baseline "
        "contains the data once)")
    rep(f"- BLAS threads: OMP/OPENBLAS/MKL_NUM_THREADS={args.cores} in the workers; the "
        "library limits BLAS to 1 thread per call inside its threaded passes (so do the "
        "reference passes, which use its map_reduce); peers use BLAS on all "
        f"{args.cores} threads")
    rep("- targets: A = ML time/iteration / one QR pass <= 1.5; B = two-pass mBR "
        "time/iteration / ML time/iteration <= 2.2; C = zarr peak RSS 20M / 2M <= 1.3")
    rep("- the machine may be shared: before every fit the worker waits (up to --max-wait "
        "s) for other processes to use < 0.15 cores; 'other load' >~ 0.2 means a disturbed "
        "measurement")
    for peer, reason in avail.items():
        if reason:
            rep(f"- {peer}: not available ({reason})")
    rep()
    t_start = time.perf_counter()
    run_in_memory(rep, args, avail, {})
    run_zarr(rep, args)
    rep(f"Total benchmark time {time.perf_counter() - t_start:.0f} s.")
    print(f"report written to {args.out}")


if __name__ == "__main__":
    main()
