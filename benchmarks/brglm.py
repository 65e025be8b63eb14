"""BiasReducedGLM (ML / mBR / mJPL) against one data pass and its peers (see README)."""

from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

from benchmarks import adapters, problems
from benchmarks.runner import Case, Spec, main, mb, med, run_all, run_case

MOD = "benchmarks.brglm"
TITLE = ("Benchmark: BiasReducedGLM (tiled-TSQR IWLS) -- ML, mBR, mJPL vs one data pass "
         "and peers")
MODULES = ("numpy", "scipy", "dask", "sklearn", "statsmodels", "firthmodels", "zarr",
           "psutil", "threadpoolctl", "dask_glmdist")
QUICK = {"sizes": [50_000], "zarr_sizes": [100_000, 400_000], "zarr_chunk": 10_000,
         "peer_timeout": 120.0, "passes_n": 20_000}
MEDIUM = {"sizes": [100_000], "zarr_sizes": [], "links": ["logit"], "peer_timeout": 300.0}
MEDIUM_CASES = ["ML", "mBR2", "statsmodels", "firth"]
TARGETS = ("targets: A = ML time/iteration / one QR pass <= 1.5; B = two-pass mBR "
           "time/iteration / ML time/iteration <= 2.2; C = zarr peak RSS 20M / 2M <= 1.3")


def add_args(ap):
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 4_000_000])
    ap.add_argument("--zarr-sizes", type=int, nargs="*", default=[2_000_000, 20_000_000])
    ap.add_argument("--links", nargs="+", choices=["probit", "logit"],
                    default=["probit", "logit"])
    ap.add_argument("--partitions", type=int, default=10, help="row blocks (in memory)")
    ap.add_argument("--no-peers", action="store_true", help="skip statsmodels/firthmodels")
    ap.add_argument("--mem-limit-gb", type=float, default=16.0)
    ap.add_argument("--peer-timeout", type=float, default=600.0, help="per peer process, s")
    ap.add_argument("--zarr-dir", default="/tmp")
    ap.add_argument("--zarr-chunk", type=int, default=200_000, help="rows per zarr chunk")
    ap.add_argument("--passes-study", action="store_true",
                    help="only passes=2 vs 1 (report results_brglm_passes.md)")
    ap.add_argument("--passes-n", type=int, default=1_000_000)
    ap.set_defaults(fit_budget=120.0)


def results(args):
    return "results_brglm_passes.md" if args.passes_study else "results_brglm.md"


def header_lines(args):
    return [f"data: binary y from a probit and a logit model, p=50 AR(1) rho=0.5 features + "
            f"intercept, 6 non-zero coefficients, seed {args.seed}; {args.partitions} row "
            f"blocks (dask array persisted, threaded scheduler, {args.cores} threads); time = "
            f"median of {args.repeats} fit(s) in a fresh process (references: median of 3)",
            f"BLAS threads: OMP/OPENBLAS/MKL_NUM_THREADS={args.cores} in the workers; the "
            "library limits BLAS to 1 thread per call inside its passes", TARGETS]


# ------------------------------------------------------------------ cases


class Dask(Case):
    blas = "cores"

    def setup(self):
        import dask

        import dask_glmdist  # noqa: F401  (import cost is not part of the fit)

        dask.config.set(scheduler="threads", num_workers=self.p.cores)
        self.prob = problems.brglm_binary(self.p.link, seed=self.p.seed)
        self.X, self.y = self.prob.dask(self.p.n, self.p.partitions)
        self.data_bytes = self.X.nbytes + self.y.nbytes


def ours_result(model):
    r = adapters.report(model)
    return {**r, "n_passes": int(adapters.attr(model, "n_rounds_")),
            "steps": [float(h["max_step"]) for h in adapters.attr(model, "history_", [])]}


class Ours(Dask):
    method, passes = "ML", 1

    def fit(self):
        return ours_result(adapters.ours("BiasReducedGLM", self.X, self.y, link=self.p.link,
                                         method=self.method, passes=self.passes))


def syrk_block(X, y, m, theta, family, *, block_index):
    """Gram of [sqrt(w), sqrt(w) X, sqrt(w) z] of one block, in 4096-row tiles."""
    n, p = X.shape
    G, buf = np.zeros((p + 2, p + 2)), np.empty((min(4096, n), p + 2))
    for a in range(0, n, 4096):
        x, t = X[a : a + 4096], buf[: min(4096, n - a)]
        eta = x @ theta[1:]
        eta += theta[0]
        mu, d = family.link.inverse_and_deriv(eta)
        sqrt_mv = np.sqrt(1.0 / family.variance(mu))
        sw = sqrt_mv * np.abs(d)
        t[:, 0] = sw
        np.multiply(x, sw[:, None], out=t[:, 1 : p + 1])
        t[:, p + 1] = sw * eta + sqrt_mv * (y[a : a + 4096] - mu) * np.sign(d)
        G += t.T @ t  # SYRK
    return {"G": G, "n": n}


class OnePass(Dask):
    """One pass over the data with the library's internal kernels (median of 3)."""

    repeats, qr = 3, True

    def fit(self):
        from dask_glmdist._blocks import BlockedData, map_reduce, sum_summaries
        from dask_glmdist.families import get_family
        from dask_glmdist.solvers.chunked_iwls import PassSpec, combine_iwls, iwls_block

        fam, data = get_family("binomial", self.p.link), BlockedData(self.X, self.y, None)
        if self.qr:
            spec = PassSpec(family=fam, fit_intercept=True, beta=self.prob.theta, qr=True)
            out = map_reduce(iwls_block, data, spec, combine=combine_iwls, split_every=8)
        else:
            out = map_reduce(syrk_block, data, self.prob.theta, fam, combine=sum_summaries,
                             split_every=8)
        assert out["n"] == self.p.n
        return {"n_iter": 1, "n_passes": 1}


class Statsmodels(Case):
    blas, needs = "cores", "statsmodels"

    def setup(self):
        self.X, self.y = problems.brglm_binary(self.p.link, seed=self.p.seed).numpy(
            self.p.n, self.p.partitions, intercept_column=True)
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        r = adapters.statsmodels_glm(self.y, self.X, "binomial", self.p.link)
        return {**r, "notes": "GLM(y, [1, X], family=Binomial(link)).fit() with its defaults"}


class Firth(Statsmodels):
    needs = "firthmodels"

    def setup(self):
        self.X, self.y = problems.brglm_binary("logit", seed=self.p.seed).numpy(
            self.p.n, self.p.partitions)
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        return adapters.firth_logistic(self.X, self.y, max_iter=100, gtol=1e-6, xtol=1e-9)


class Zarr(Case):
    """One fit from a zarr store; baseline = RSS after the imports and opening the arrays."""

    blas, repeats, method = "cores", 1, "ML"

    def setup(self):
        import dask
        import dask.array as da

        import dask_glmdist  # noqa: F401

        dask.config.set(scheduler="threads", num_workers=self.p.cores)
        self.X, self.y = (da.from_zarr(self.p.zarr_path, component=c) for c in "Xy")

    def fit(self):
        return ours_result(adapters.ours("BiasReducedGLM", self.X, self.y, link="probit",
                                         method=self.method, passes=2))


class PassesStudy(Case):
    """passes=2 and 1 on separated and non-separated data (rows of the study table)."""

    repeats = 1

    def fit(self):
        import dask

        with dask.config.set(scheduler="threads", num_workers=self.p.cores):
            return {"rows": [row for s in passes_sets(self.p) for row in passes_rows(self.p, *s)]}


CASES = {
    "ML": Spec("BiasReducedGLM ML", Ours),
    "mBR2": Spec("BiasReducedGLM mBR, passes=2", Ours, {"method": "mBR", "passes": 2}),
    "mBR1": Spec("BiasReducedGLM mBR, passes=1", Ours, {"method": "mBR"}),
    "mJPL2": Spec("BiasReducedGLM mJPL, passes=2", Ours, {"method": "mJPL", "passes": 2}),
    "qr_pass": Spec("ref: one QR pass (iwls_block + combine_iwls, median of 3)", OnePass),
    "syrk_pass": Spec("ref: one SYRK pass (Gram per 4096-row tile, summed; median of 3)",
                      OnePass, {"qr": False}),
    "statsmodels": Spec("statsmodels GLM Binomial IRLS (ML)", Statsmodels),
    "firth": Spec("firthmodels FirthLogisticRegression (Firth = mBR)", Firth),
    "zarr_ML": Spec("zarr ML", Zarr),
    "zarr_mBR": Spec("zarr mBR", Zarr, {"method": "mBR"}),
    "passes_study": Spec("passes per iteration", PassesStudy),
}
DEFAULT = ["ML", "mBR2", "mBR1", "mJPL2", "qr_pass", "syrk_pass", "statsmodels", "firth"]
PEERS = ["statsmodels", "firth"]
COMPARE = {"mBR1": "mBR2", "mJPL2": "mBR2", "statsmodels": "ML", "firth": "mBR2"}


# ------------------------------------------------------------------ the in-memory part


def run(args, rep):
    if args.passes_study:
        return run_passes(args, rep)
    out, mem = {}, {}
    for n in args.sizes:
        for link in args.links:
            rep(f"## N = {n:,}, link = {link}")
            rep()
            names = [m for m in args.methods if not (m in PEERS and args.no_peers)
                     and not (m == "firth" and link != "logit")]
            res = run_all(rep, MOD, names, args, _extra, mem, _timeout(args), n=n, link=link)
            out[(n, link)] = res
            table(rep, n, link, res)
    run_zarr(args, rep)
    return out


def _timeout(args):
    return lambda name: args.peer_timeout if name in PEERS else args.timeout


def _extra(name, r):
    extra = f", n_iter_ {r['n_iter']}, n_passes_ {r.get('n_passes', 'n/a')}"
    if "converged" in r:
        extra += f", converged {r['converged']}"
    if r.get("steps"):
        extra += ", max|step| per iteration [" + ", ".join(
            "inf" if not math.isfinite(s) else f"{s:.1e}" for s in r["steps"]) + "]"
    return extra


def _row(m, r, done, t, theta_true):
    it, npass = r.get("n_iter"), r.get("n_passes")
    ref = COMPARE.get(m)
    diff = (f"{np.max(np.abs(np.asarray(r['theta']) - done[ref]['theta'])):.1e} ({ref})"
            if ref in done and "theta" in r else "n/a")
    err = f"{np.max(np.abs(np.asarray(r['theta']) - theta_true)):.1e}" if "theta" in r else "n/a"
    return [CASES[m].label, f"{t[m]:.3f}", f"{min(r['times']):.3f}", it, npass or "n/a",
            f"{t[m] / it:.3f}" if isinstance(it, int) and it > 0 else "nan",
            f"{t[m] / npass:.3f}" if npass else "n/a", mb(r["peak"] - r["baseline"]),
            mb(r["peak"]), diff, err, r.get("converged", "n/a"), f"{max(r['other_cores']):.2f}"]


def table(rep, n, link, results) -> None:
    done = {m: r for m, r in results.items() if "times" in r}
    t = {m: med(r) for m, r in done.items()}
    theta_true = problems.brglm_binary(link).theta
    rep()
    rep(f"### Results, N = {n:,}, {link}")
    rep()
    rows = [_row(m, r, done, t, theta_true) if m in done else
            [CASES[m].label, r["skipped"].split(":")[0]] + [""] * 11 for m, r in results.items()]
    rep.table(["method", "time median (s)", "min (s)", "n_iter_", "n_passes_", "s / iteration",
               "s / pass", "peak above base (MB)", "peak RSS (MB)", "max abs diff (vs)",
               "max abs(theta - true)", "converged", "other load (cores)"], rows,
              "lrrrrrrrrlrlr")
    per_it = {m: t[m] / done[m]["n_iter"] for m in t if done[m].get("n_iter")}
    ml, qr = per_it.get("ML"), t.get("qr_pass")
    if ml and qr:
        rep(f"- target A: ML time/iteration ({ml:.3f} s) / one QR pass ({qr:.3f} s) = "
            f"{ml / qr:.2f} (target <= 1.5) -> {'MET' if ml / qr <= 1.5 else 'NOT MET'}; ML "
            f"time/pass incl. start and final passes {t['ML'] / done['ML']['n_passes']:.3f} s")
    if ml and "mBR2" in per_it:
        ratio = per_it["mBR2"] / ml
        rep(f"- target B: two-pass mBR time/iteration / ML time/iteration = {ratio:.2f} "
            f"(target <= 2.2) -> {'MET' if ratio <= 2.2 else 'NOT MET'}; total time mBR "
            f"passes=2 / ML = {t['mBR2'] / t['ML']:.2f}")
    if ml and "mBR1" in per_it and "mBR2" in t:
        rep(f"- info: one-pass mBR time/iteration / ML time/iteration = "
            f"{per_it['mBR1'] / ml:.2f}; total time mBR passes=1 / passes=2 = "
            f"{t['mBR1'] / t['mBR2']:.2f}")
    if "syrk_pass" in t and qr:
        rep(f"- info: one SYRK pass / one QR pass = {t['syrk_pass'] / qr:.2f}")
    for peer, ours in (("statsmodels", "ML"), ("firth", "mBR2")):
        if peer in t and ours in t:
            mem = [done[m]["peak"] - done[m]["baseline"] for m in (peer, ours)]
            rep(f"- info: {peer} time / our {ours} time = {t[peer] / t[ours]:.2f}; peak above "
                f"base {peer} / ours = {mem[0] / max(1, mem[1]):.1f}")
    for m, r in done.items():
        if r.get("notes"):
            rep(f"- notes, {m}: {r['notes']}")
    rep()


def rows(results, args):
    from benchmarks.runner import combined_row

    out = []
    for (n, link), res in results.items():
        peers = {m: res[m] for m in PEERS if m in res}
        for ours, peer in (("ML", "statsmodels"), ("mBR2", "firth")):
            if "times" in res.get(ours, {}) and "theta" in res.get(peer, {}):
                out.append(combined_row(f"BiasReducedGLM {ours}", f"{link} N={n:,} p=50",
                                        res[ours], peers, res[peer]["theta"], peer))
    return out


# ------------------------------------------------------------------ the zarr part


def write_zarr(path, n, chunk, seed):
    """Probit data, chunk by chunk (one chunk in memory at a time), uncompressed."""
    import zarr

    prob = problems.brglm_binary("probit", seed=seed)
    g = zarr.open_group(path, mode="w")
    zX = g.create_array("X", shape=(n, 50), chunks=(chunk, 50), dtype="f8", compressors=None)
    zy = g.create_array("y", shape=(n,), chunks=(chunk,), dtype="f8", compressors=None)
    for c, a in enumerate(range(0, n, chunk)):
        zX[a : a + chunk], zy[a : a + chunk] = prob.block(min(chunk, n - a), c)


def run_zarr(args, rep):
    if not args.zarr_sizes:
        return
    rep("## Bounded memory: fits from a zarr store on disk (probit)")
    rep()
    rep(f"- store: zarr v3 under {args.zarr_dir}, chunks of {args.zarr_chunk:,} rows x all "
        "columns, uncompressed; one dask row block per chunk; each fit once, fresh process")
    res = {}
    for n in args.zarr_sizes:
        need, free = max(2**30, 25e9 * n / 2e7), shutil.disk_usage(args.zarr_dir).free
        if free < need:
            rep(f"- N = {n:,}: skipped: {free / 1e9:.1f} GB free, need {need / 1e9:.1f} GB")
            continue
        path = tempfile.mkdtemp(prefix=f"bench_brglm_{n}_", suffix=".zarr", dir=args.zarr_dir)
        try:
            t0 = time.perf_counter()
            write_zarr(path, n, args.zarr_chunk, args.seed)
            size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path)
                       for f in fs)
            rep(f"- N = {n:,}: wrote {size / 1e9:.3f} GB in {time.perf_counter() - t0:.0f} s")
            for name, r in run_all(rep, MOD, ["zarr_ML", "zarr_mBR"], args, _extra,
                                   n=n, zarr_path=path).items():
                res[(n, name)] = {**r, "disk": size}
        finally:
            shutil.rmtree(path, ignore_errors=True)
    zarr_table(rep, {k: v for k, v in res.items() if "times" in v})


def zarr_table(rep, res):
    rep()
    rep.table(["N", "method", "on disk (GB)", "blocks", "time (s)", "n_iter_", "n_passes_",
               "peak RSS whole process (MB)", "ru_maxrss (MB)", "baseline after imports (MB)",
               "peak above baseline (MB)"],
              [[f"{n:,}", m, f"{r['disk'] / 1e9:.3f}", r["n_blocks"], f"{r['times'][0]:.2f}",
                r["n_iter"], r["n_passes"], mb(r["peak"]), mb(r["ru_maxrss"]),
                mb(r["baseline"]), mb(r["peak"] - r["baseline"])]
               for (n, m), r in sorted(res.items())])
    sizes = sorted({n for n, _ in res})
    for m in ("zarr_ML", "zarr_mBR"):
        if len(sizes) >= 2 and (sizes[0], m) in res and (sizes[-1], m) in res:
            a, b = res[(sizes[0], m)], res[(sizes[-1], m)]
            whole = b["peak"] / a["peak"]
            rep(f"- target C, {m}: peak RSS N={sizes[-1]:,} / N={sizes[0]:,}: whole process "
                f"{whole:.2f} (target <= 1.3) -> {'MET' if whole <= 1.3 else 'NOT MET'}; above "
                f"baseline {(b['peak'] - b['baseline']) / max(1, a['peak'] - a['baseline']):.2f}")
    rep()


# ------------------------------------------------------------------ passes per iteration


def passes_sets(p):
    """(label, link, method, X, y, n_partitions) of the passes study."""
    import dask

    from dask_glmdist.datasets import make_diverted_flights

    Xd, yd, _ = make_diverted_flights(p.passes_n, p.partitions, random_state=p.seed)
    Xd, yd = dask.persist(Xd, yd)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
    with open(os.path.join(here, "tests", "data", "brglm2_reference.json")) as fh:
        ds = json.load(fh)["datasets"]["binomial_probit_separated"]
    Xs, ys = np.asarray(ds["X"], dtype=float), np.asarray(ds["y"], dtype=float)
    Xc = np.random.default_rng(p.seed).normal(size=(600, 2))
    yc = (Xc[:, 0] + 0.3 * Xc[:, 1] > 0).astype(float)
    n5 = max(p.passes_n // 5, 10_000)
    sets = [(f"diverted flights, N={p.passes_n:,}, separated", lk, "mBR", Xd, yd, None)
            for lk in ("logit", "probit")]
    sets += [("brglm2 binomial_probit_separated, n=150", "probit", m, Xs, ys, 3)
             for m in ("mBR", "mJPL")]
    sets += [("complete separation, n=600 (coefficients ~100)", lk, "mBR", Xc, yc, 2)
             for lk in ("logit", "probit")]
    sets += [(f"p=50 AR(1) design, N={n5:,}, not separated", lk, "mBR",
              *problems.brglm_binary(lk, seed=p.seed).dask(n5, p.partitions), None)
             for lk in ("logit", "probit")]
    return sets


def passes_rows(p, label, link, method, X, y, parts):
    def fit(passes, **kw):
        t0 = time.perf_counter()
        m = adapters.ours("BiasReducedGLM", X, y, link=link, method=method, passes=passes,
                          n_partitions=parts, **kw)
        return m, time.perf_counter() - t0

    ref = fit(2, tol=1e-12, max_iter=500)[0]
    out = []
    for passes in (2, 1):
        try:
            fits = [fit(passes, max_iter=100) for _ in range(p.repeats)]
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            out.append([label, link, method, passes, type(exc).__name__, "", "", "", ""])
            continue
        m = fits[0][0]
        out.append([label, link, method, passes, m.converged_, m.n_iter_,
                    adapters.attr(m, "n_rounds_"), f"{statistics.median(t for _, t in fits):.2f}",
                    f"{np.max(np.abs(m.params_ - ref.params_)):.1e}"])
    return out


def run_passes(args, rep):
    rep("## Passes per iteration: 2 and 1")
    rep()
    rep(f"BiasReducedGLM(link, method, passes, tol=1e-8, max_iter=100), threaded scheduler "
        f"({args.cores} threads); time = median of {args.repeats} fits; '|diff|' = max "
        "|params_ - the two-pass fit at tol=1e-12|.")
    rep()
    res, err = run_case(MOD, "passes_study", args)
    rep.table(["data", "link", "method", "passes", "converged", "n_iter_", "n_passes_",
               "time (s)", "|diff|"], res["rows"] if res else [[err] + [""] * 8], "l" * 9)
    return {"passes": res}


if __name__ == "__main__":
    main(importlib.import_module(MOD))
