"""BiasReducedGLM (ML / mBR / mJPL) against one data pass and its peers (see README)."""

import importlib
import json
import os
import shutil
import statistics
import tempfile

import dask
import dask.array as da
import numpy as np

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, main, maxdiff, mb, med, run_all, run_case

TITLE = "Benchmark: BiasReducedGLM (tiled-TSQR IWLS) -- ML, mBR, mJPL vs one data pass and peers"
QUICK = {"sizes": [50_000], "zarr_sizes": [100_000, 400_000], "zarr_chunk": 10_000,
         "peer_timeout": 120.0, "passes_n": 20_000}
MEDIUM = {"sizes": [100_000], "zarr_sizes": [], "links": ["logit"], "peer_timeout": 300.0}
MEDIUM_CASES = ["ML", "mBR2", "statsmodels", "firth"]
DATA = ("binary y from a probit / logit model, p=50 AR(1) rho=0.5 features + intercept, 6 "
        "non-zero coefficients; dask array persisted, threaded scheduler; BLAS threads = --cores "
        "in the workers (the library limits BLAS to 1 thread inside its passes)")
OPTIONS = {"sizes": [1_000_000, 4_000_000], "zarr_sizes": [2_000_000, 20_000_000],
           "links": ["probit", "logit"], "partitions": 10, "no_peers": False,
           "mem_limit_gb": 16.0, "peer_timeout": 600.0, "zarr_dir": "/tmp",
           "zarr_chunk": 200_000, "passes_study": False, "passes_n": 1_000_000,
           "fit_budget": 120.0}


def results(args):
    return "results_brglm_passes.md" if args.passes_study else "results_brglm.md"


class Dask(Case):
    blas, threads, data = "cores", "cores", "dask"

    def problem(self):
        return problems.brglm_binary(self.p.link, seed=self.p.seed)


def ours_result(model):
    steps = [float(h["max_step"]) for h in adapters.attr(model, "history_", [])]
    return {**adapters.report(model), "steps": steps}


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
            out = map_reduce(iwls_block, data, combine=combine_iwls, split_every=8, spec=spec)
        else:
            out = map_reduce(syrk_block, data, self.prob.theta, fam, combine=sum_summaries,
                             split_every=8)
        assert getattr(out, "n", None) == self.p.n or out["n"] == self.p.n  # typed or dict
        return {"n_iter": 1, "n_rounds": 1}


class Peer(Dask):
    threads, needs, data = False, "statsmodels", "design"  # firth: "numpy", logit only

    def fit(self):
        if self.needs == "firthmodels":
            return adapters.firth_logistic(self.X, self.y, max_iter=100, gtol=1e-6, xtol=1e-9)
        r = adapters.statsmodels_glm(self.y, self.X, "binomial", self.p.link)
        return {**r, "notes": "GLM(y, [1, X], family=Binomial(link)).fit() with its defaults"}


class Zarr(Case):
    """One fit from a zarr store; baseline = RSS after the imports and opening the arrays."""

    blas, threads, repeats, method = "cores", "cores", 1, "ML"

    def setup(self):
        super().setup()
        self.store = [da.from_zarr(self.p.zarr_path, component=c) for c in "Xy"]

    def fit(self):
        return ours_result(adapters.ours("BiasReducedGLM", *self.store, link="probit",
                                         method=self.method, passes=2))


class PassesStudy(Case):
    """passes=2 and 1 on separated and non-separated data (rows of the study table)."""

    repeats, threads = 1, "cores"

    def fit(self):
        return {"rows": [row for s in passes_sets(self.p) for row in passes_rows(self.p, *s)]}


CASES = {
    "ML": Spec("BiasReducedGLM ML", Ours),
    "mBR2": Spec("BiasReducedGLM mBR, passes=2", Ours, {"method": "mBR", "passes": 2}),
    "mBR1": Spec("BiasReducedGLM mBR, passes=1", Ours, {"method": "mBR"}),
    "mJPL2": Spec("BiasReducedGLM mJPL, passes=2", Ours, {"method": "mJPL", "passes": 2}),
    "qr_pass": Spec("ref: one QR pass (iwls_block + combine_iwls, median of 3)", OnePass),
    "syrk_pass": Spec("ref: one SYRK pass (Gram per 4096-row tile, summed; median of 3)",
                      OnePass, {"qr": False}),
    "statsmodels": Spec("statsmodels GLM Binomial IRLS (ML)", Peer),
    "firth": Spec("firthmodels FirthLogisticRegression (Firth = mBR)", Peer,
                  {"needs": "firthmodels", "data": "numpy"}),
    "zarr_ML": Spec("zarr ML", Zarr),
    "zarr_mBR": Spec("zarr mBR", Zarr, {"method": "mBR"}),
    "passes_study": Spec("passes per iteration", PassesStudy),
}
DEFAULT = ["ML", "mBR2", "mBR1", "mJPL2", "qr_pass", "syrk_pass", "statsmodels", "firth"]
PEERS = ["statsmodels", "firth"]
LINKS = ("logit", "probit")
COMPARE = {"mBR1": "mBR2", "mJPL2": "mBR2", "statsmodels": "ML", "firth": "mBR2"}


def run(args, rep):
    if args.passes_study:  # the passes study instead
        rep(f"## Passes per iteration: 2 and 1\n\nBiasReducedGLM(link, method, passes, tol=1e-8, "
            f"max_iter=100), threaded scheduler ({args.cores} threads); time = median of "
            f"{args.repeats} fits; '|diff|' = max |params_ - the two-pass fit at tol=1e-12|.\n")
        res, err = run_case("passes_study", args)
        rep.table(["data", "link", "method", "passes", "converged", "n_iter_", "n_rounds_",
                   "time (s)", "|diff|"], res["rows"] if res else [[err] + [""] * 8], "l" * 9)
        return {"passes": res}
    out, mem = {}, {}
    for n, link in [(n, link) for n in args.sizes for link in args.links]:
        rep(f"## N = {n:,}, link = {link}\n")
        names = [m for m in args.methods if not (m in PEERS and args.no_peers)
                 and not (m == "firth" and link != "logit")]
        out[(n, link)] = res = run_all(rep, names, args, mem, lambda m: (
            args.peer_timeout if m in PEERS else args.timeout), n=n, link=link)
        table(rep, n, link, res)
    run_zarr(args, rep)
    return out


def table(rep, n, link, results) -> None:
    done = {m: r for m, r in results.items() if "times" in r}
    t = {m: med(r) for m, r in done.items()}
    per_it = {m: t[m] / r["n_iter"] for m, r in done.items() if r.get("n_iter")}
    truth = problems.brglm_binary(link).theta
    rep(f"\n### Results, N = {n:,}, {link}\n")
    rep.cases(results, CASES, {
        "n_iter_": "n_iter", "n_rounds_": "n_rounds",
        "s / iteration": lambda m, r: f"{per_it[m]:.3f}" if m in per_it else "nan",
        "s / pass": lambda m, r: f"{t[m] / r['n_rounds']:.3f}" if r.get("n_rounds") else "n/a",
        "max abs diff (vs)": lambda m, r: f"{maxdiff(r['theta'], done[ref]['theta']):.1e} "
        f"({ref})" if (ref := COMPARE.get(m)) in done and "theta" in r else "n/a",
        "max abs(theta - true)": lambda m, r: f"{maxdiff(r['theta'], truth):.1e}"
        if "theta" in r else "n/a", "converged": "converged"})
    ml, qr, mbr = per_it.get("ML"), t.get("qr_pass"), per_it.get("mBR2")
    if ml and qr:
        rep(f"- target A: ML time/iteration ({ml:.3f} s) / one QR pass ({qr:.3f} s) = "
            f"{ml / qr:.2f} (target <= 1.5) -> {'MET' if ml / qr <= 1.5 else 'NOT MET'}; ML "
            f"time/pass incl. start and final passes {t['ML'] / done['ML']['n_rounds']:.3f} s")
    if ml and mbr:
        rep(f"- target B: two-pass mBR time/iteration / ML time/iteration = {mbr / ml:.2f} "
            f"(target <= 2.2) -> {'MET' if mbr / ml <= 2.2 else 'NOT MET'}; total time mBR "
            f"passes=2 / ML = {t['mBR2'] / t['ML']:.2f}")
    ratios = {"one-pass mBR / ML time per iteration": ("mBR1", "ML", per_it),
              "mBR total time passes=1 / passes=2": ("mBR1", "mBR2", t),
              "one SYRK pass / one QR pass": ("syrk_pass", "qr_pass", t),
              "statsmodels time / our ML time": ("statsmodels", "ML", t),
              "firth time / our mBR2 time": ("firth", "mBR2", t)}
    above = {m: max(1, r["peak"] - r["baseline"]) for m, r in done.items()}
    ratios.update({f"peak above base {a} / ours": (a, b, above)
                   for a, b in (("statsmodels", "ML"), ("firth", "mBR2"))})
    rep("- info: " + "; ".join(f"{what} {d[a] / d[b]:.2f}" for what, (a, b, d) in
                               ratios.items() if a in d and b in d))
    rep()


def rows(results, args):
    return [runner.combined_row(f"BiasReducedGLM {ours}", f"{link} N={n:,} p=50", res[ours],
                                {m: res[m] for m in PEERS if m in res}, res[peer]["theta"], peer)
            for (n, link), res in results.items() for ours, peer in (("ML", "statsmodels"),
                                                                     ("mBR2", "firth"))
            if "times" in res.get(ours, {}) and "theta" in res.get(peer, {})]


def write_zarr(path, n, chunk, seed) -> int:
    """Probit data, chunk by chunk (one chunk in memory at a time), uncompressed; returns
    the bytes on disk."""
    import zarr
    prob, g = problems.brglm_binary("probit", seed=seed), zarr.open_group(path, mode="w")
    zX = g.create_array("X", shape=(n, 50), chunks=(chunk, 50), dtype="f8", compressors=None)
    zy = g.create_array("y", shape=(n,), chunks=(chunk,), dtype="f8", compressors=None)
    for c, a in enumerate(range(0, n, chunk)):
        zX[a : a + chunk], zy[a : a + chunk] = prob.block(min(chunk, n - a), c)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def run_zarr(args, rep):
    if not args.zarr_sizes:
        return
    rep(f"## Bounded memory: fits from a zarr store on disk (probit)\n\n- store: zarr v3 under "
        f"{args.zarr_dir}, chunks of {args.zarr_chunk:,} rows x all columns, uncompressed; one "
        "dask row block per chunk; each fit once, fresh process")
    res = {}
    for n in args.zarr_sizes:
        need, free = max(2**30, 25e9 * n / 2e7), shutil.disk_usage(args.zarr_dir).free
        if free < need:
            rep(f"- N = {n:,}: skipped: {free / 1e9:.1f} GB free, need {need / 1e9:.1f} GB")
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench_brglm_{n}_", dir=args.zarr_dir) as path:
            size, s = runner.timed(lambda n=n, path=path: write_zarr(path, n, args.zarr_chunk,
                                                                     args.seed))
            rep(f"- N = {n:,}: wrote {size / 1e9:.3f} GB in {s:.0f} s")
            for name, r in run_all(rep, ["zarr_ML", "zarr_mBR"], args, n=n, zarr_path=path).items():
                res[(n, name)] = {**r, "disk": size}
    res = {k: v for k, v in res.items() if "times" in v}
    rep()
    rep.cases({f"{m} N={n:,}": r for (n, m), r in sorted(res.items())}, CASES, {
        "on disk (GB)": lambda m, r: f"{r['disk'] / 1e9:.3f}", "blocks": "n_blocks",
        "n_iter_": "n_iter", "n_rounds_": "n_rounds",
        "ru_maxrss (MB)": lambda m, r: mb(r["ru_maxrss"]),
        "baseline after imports (MB)": lambda m, r: mb(r["baseline"])})
    sizes = sorted({n for n, _ in res})
    for m in ("zarr_ML", "zarr_mBR"):
        if len(sizes) >= 2 and (sizes[0], m) in res and (sizes[-1], m) in res:
            a, b = res[(sizes[0], m)], res[(sizes[-1], m)]
            whole = b["peak"] / a["peak"]
            rep(f"- target C, {m}: peak RSS N={sizes[-1]:,} / N={sizes[0]:,}: whole process "
                f"{whole:.2f} (target <= 1.3) -> {'MET' if whole <= 1.3 else 'NOT MET'}; above "
                f"baseline {(b['peak'] - b['baseline']) / max(1, a['peak'] - a['baseline']):.2f}")
    rep()


def passes_sets(p):
    """(label, link, method, X, y, n_partitions) of the passes study."""
    from dask_glmdist.datasets import make_diverted_flights
    Xd, yd = dask.persist(*make_diverted_flights(p.passes_n, p.partitions, random_state=p.seed)[:2])
    with open(os.path.join(runner.ROOT, "tests", "data", "brglm2_reference.json")) as fh:
        ds = json.load(fh)["datasets"]["binomial_probit_separated"]
    Xc = np.random.default_rng(p.seed).normal(size=(600, 2))
    n5 = max(p.passes_n // 5, 10_000)
    return [*[(f"diverted flights, N={p.passes_n:,}, separated", lk, "mBR", Xd, yd, None)
              for lk in LINKS],
            *[("brglm2 binomial_probit_separated, n=150", "probit", m,
               *(np.asarray(ds[v], dtype=float) for v in "Xy"), 3) for m in ("mBR", "mJPL")],
            *[("complete separation, n=600 (coefficients ~100)", lk, "mBR", Xc,
               (Xc[:, 0] + 0.3 * Xc[:, 1] > 0).astype(float), 2) for lk in LINKS],
            *[(f"p=50 AR(1) design, N={n5:,}, not separated", lk, "mBR",
               *problems.brglm_binary(lk, seed=p.seed).dask(n5, p.partitions), None)
              for lk in LINKS]]


def passes_rows(p, label, link, method, X, y, parts):
    def fit(passes, **kw):
        return runner.timed(lambda: adapters.ours("BiasReducedGLM", X, y, link=link, passes=passes,
                                                  method=method, n_partitions=parts, **kw))

    ref, out = fit(2, tol=1e-12, max_iter=500)[0], []
    for passes in (2, 1):
        try:
            fits = [fit(passes, max_iter=100) for _ in range(p.repeats)]
        except Exception as exc:  # noqa: BLE001  (reported in the table)
            out.append([label, link, method, passes, type(exc).__name__, "", "", "", ""])
            continue
        m = fits[0][0]
        out.append([label, link, method, passes, m.converged_, m.n_iter_,
                    adapters.attr(m, "n_rounds_"), f"{statistics.median(t for _, t in fits):.2f}",
                    f"{maxdiff(m.params_, ref.params_):.1e}"])
    return out


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
