"""Scale out (issue 14): the cost of a fit against the number of row blocks (see README).

The same rows at every ``--blocks`` count (``problems.scale_out``: drawn tile by tile), each
estimator threaded and on a 2 x 1 LocalCluster; a trivial round's latency; cProfiles of the
largest-block threaded fits (``--profile``); every fit's params_ / bse_ against a stored
reference (``--save-reference`` now, ``--check-reference`` after a change: 1e-12).
"""

import importlib
import json
import statistics
from collections import namedtuple

import dask
import numpy as np

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, main, maxdiff, mb, med, run_case

TITLE = "Benchmark: scale out -- fit time against the number of row blocks (issue 14)"
Est = namedtuple("Est", "label cls kw response")
ESTIMATORS = {
    "dlsa": Est("DLSA", "DLSALogisticRegression", {}, "logistic"),
    "dlsa_refine2": Est("DLSA, refine_steps=2", "DLSALogisticRegression", {"refine_steps": 2},
                        "logistic"),
    "ml": Est("BiasReducedGLM ML", "BiasReducedGLM", {"family": "binomial", "method": "ML"},
              "logistic"),
    "mbr": Est("BiasReducedGLM mBR", "BiasReducedGLM", {"family": "binomial", "method": "mBR"},
               "logistic"),
    "penalized": Est("PenalizedLogisticRegression (alpha=1e-3, l1_ratio=0.5)",
                     "PenalizedLogisticRegression", {"alpha": 1e-3, "l1_ratio": 0.5}, "logistic"),
    "debiased": Est("DebiasedLassoRegressor (alpha=0.01, gaussian y)", "DebiasedLassoRegressor",
                    {"alpha": 0.01}, "gaussian"),
    "cv": Est("PenalizedGLMCV (cv=5, 10 alphas)", "PenalizedGLMCV",
              {"family": "binomial", "cv": 5, "n_alphas": 10}, "logistic"),
}
ORDER = list(ESTIMATORS)
TARGET, TARGET_CV, TARGET_CLUSTER, TARGET_DIFF = 1.5, 2.0, 1.2, 1e-12
QUICK = {"n": 20_000, "blocks": [2, 20], "estimators": ["dlsa", "debiased"],
         "schedulers": ["threads"], "latency_rounds": 3}
MEDIUM = {"n": 200_000, "blocks": [10, 100], "estimators": ["dlsa", "ml", "penalized"]}
DATA = ("1e6 x 20 AR(1)(0.5) features (drawn in 1,000-row tiles: the same rows whatever the "
        "blocking), logistic y (sd(eta) 1.2, intercept -0.5); DebiasedLassoRegressor: gaussian "
        "y = X beta + N(0, 1) on the same X (a linear-model method); dask arrays persisted at "
        "each --blocks count (threaded: in the process; cluster: generated on the 2 workers)")
OPTIONS = {"n": 1_000_000, "blocks": [10, 100, 1000], "estimators": list(ESTIMATORS),
           "schedulers": ["threads", "cluster"], "profile": False, "latency_rounds": 10,
           "no_malloc_trim": False,
           "save_reference": (str, None), "check_reference": (str, None),
           "max_wait": 10.0, "fit_budget": 60.0, "timeout": 3600.0}


def make(p):
    """The unfitted estimator of ``p.estimator``."""
    est = ESTIMATORS[p.estimator]
    return getattr(importlib.import_module("dask_glmdist"), est.cls)(**est.kw)


class Fit(Case):
    """One estimator at ``p.partitions`` blocks: threaded (--cores threads) or (``data``
    "cluster") on a LocalCluster of 2 worker processes x 1 thread."""

    threads, data = "cores", "dask"

    def __init__(self, p, **kw):
        super().__init__(p, **kw)
        if p.estimator == "cv":  # minutes at 1,000 blocks: one fit
            self.repeats = 1

    def problem(self):
        return problems.scale_out(ESTIMATORS[self.p.estimator].response, seed=self.p.seed)

    def fit(self):
        m = make(self.p).fit(self.X, self.y)
        return {**adapters.report(m), "n_rounds": adapters.passes(m)}


class Profile(Fit):
    """One fit under cProfile, synchronous scheduler (after a warm-up fit on 5,000 rows)."""

    repeats = 1

    def setup(self):
        super().setup()
        dask.config.set(scheduler="sync")
        rows = min(5000, self.p.n)  # in 10 blocks (cv=5 needs 5)
        make(self.p).fit(self.X[:rows].rechunk((-(-rows // 10), -1)),
                         self.y[:rows].rechunk(-(-rows // 10)))

    def fit(self):
        out = {}
        text = runner.profiled(lambda: out.update(Fit.fit(self)), ("tottime", 15),
                               ("cumulative", 15), top=16)
        return {**out, "notes": f"cProfile, sync scheduler, {self.p.partitions:,} blocks, "
                                f"{ESTIMATORS[self.p.estimator].label}\n{text}"}


def touch(X, y, w, theta, *, block_index):
    """A trivial block function: reads theta (broadcast once per round), returns the rows."""
    return {"rows": X.shape[0], "theta0": float(theta[0])}


class Latency(Case):
    """``latency_rounds`` trivial rounds through one RoundEngine: the first and the median
    of the others (s), and that median per block (ms)."""

    threads, data, repeats = "cores", "dask", 1

    def problem(self):
        return problems.scale_out(seed=self.p.seed)

    def fit(self):
        from dask_glmdist._blocks import as_blocked
        from dask_glmdist.rounds import RoundEngine
        engine = RoundEngine(as_blocked(self.X, self.y), split_every=8)
        theta = np.zeros(self.X.shape[1] + 1)
        times = [runner.timed(lambda: engine.run(touch, theta))[1]
                 for _ in range(max(2, self.p.latency_rounds))]
        rest = statistics.median(times[1:])
        return {"first_round_s": times[0], "round_s": rest,
                "per_block_ms": 1e3 * rest / self.p.partitions}


CASES = {
    "threads": Spec("threaded", Fit),
    "cluster": Spec("LocalCluster 2x1", Fit, {"data": "cluster", "threads": False}),
    "profile": Spec("cProfile (sync)", Profile),
    "latency_threads": Spec("trivial round, threaded", Latency),
    "latency_cluster": Spec("trivial round, LocalCluster 2x1", Latency,
                            {"data": "cluster", "threads": False}),
}
DEFAULT = list(CASES)


def wanted(args) -> list:
    """The cases to run: --schedulers' fits and trivial rounds, the profile if --profile."""
    want = {*args.schedulers, *(f"latency_{s}" for s in args.schedulers)}
    return [m for m in args.methods if m in want or (m == "profile" and args.profile)]


def run(args, rep):
    names, res = wanted(args), {}
    if unknown := set(args.estimators) - set(ESTIMATORS):
        raise SystemExit(f"--estimators: unknown {sorted(unknown)}; known: {list(ESTIMATORS)}")
    ref = load(args.check_reference) if args.check_reference else None
    for k in args.blocks:
        rep(f"## {k:,} blocks of ~{args.n // k:,} rows\n")
        for e in args.estimators:
            for m in [m for m in names if m in ("threads", "cluster") or
                      (m == "profile" and k == max(args.blocks))]:
                one(rep, res, args, m, e, k)
        for m in [m for m in names if m.startswith("latency")]:
            one(rep, res, args, m, "dlsa", k)
        rep()
    if args.save_reference:
        rep(f"- reference written: {args.save_reference} ({len(reference(res))} fits)\n")
    report(rep, res, args, ref)
    return res


def one(rep, res, args, name, estimator, k) -> None:
    """Run case ``name`` for ``estimator`` at ``k`` blocks into res[(name, estimator, k)]."""
    what = f"{name}, {estimator}, {k} blocks" if not name.startswith("latency") else \
        f"{name}, {k} blocks"
    r, why = run_case(name, args, n=args.n, partitions=k, estimator=estimator)
    if why:
        rep(f"- {what}: {why}")
        r = {"skipped": why}
    else:
        runner.bullet(rep, what, r)
    res[(name, estimator, k)] = r
    if args.save_reference:  # after every fit: an interrupted run keeps what it has
        save(args.save_reference, res, args)


def ref_key(m, e, k) -> str:
    """A fit's key in a reference file: "estimator@blocks" (threaded), + "@cluster"."""
    return f"{e}@{k}" + ("@cluster" if m == "cluster" else "")


def reference(res) -> dict:
    """{key: {"params": ..., "bse": ...}} of every fit."""
    return {ref_key(*key): {"params": r["theta"], "bse": r.get("bse")}
            for key, r in res.items() if key[0] in ("threads", "cluster") and "theta" in r}


def save(path, res, args) -> None:
    with open(path, "w") as fh:
        json.dump({"n": args.n, "seed": args.seed, "fits": reference(res)}, fh)


def load(path) -> dict:
    with open(path) as fh:
        return json.load(fh)["fits"]


def ref_diff(r, m, e, k, ref):
    """max |params_ - reference| over params_ and bse_ (None: no reference for the fit); a
    cluster fit without a cluster reference is compared with the threaded one."""
    want = (ref or {}).get(ref_key(m, e, k)) or (ref or {}).get(ref_key("threads", e, k))
    if want is None or "theta" not in r:
        return None
    pairs = [(r["theta"], want["params"])]
    if r.get("bse") is not None and want.get("bse") is not None:
        pairs.append((r["bse"], want["bse"]))
    return max(maxdiff(a, b) for a, b in pairs)


def report(rep, res, args, ref) -> None:
    done = {key: r for key, r in res.items() if "times" in r}
    fits = {key: r for key, r in done.items() if key[0] in ("threads", "cluster")}
    keys = {f"{ESTIMATORS[e].label}, {k:,} blocks, {CASES[m].label}": (m, e, k)
            for (m, e, k) in sorted(fits, key=lambda t: (ORDER.index(t[1]), t[2], t[0]))}
    rep("## Fits\n")
    rep.cases({name: fits[key] for name, key in keys.items()}, {}, {
        "rounds": "n_rounds",
        "s / round": lambda m, r: f"{med(r) / r['n_rounds']:.3f}" if r.get("n_rounds") else "",
        "max abs diff vs reference": lambda m, r: "n/a" if (
            d := ref_diff(r, *keys[m], ref)) is None else f"{d:.1e}"})
    summary(rep, done, args)
    latency(rep, done, args)
    targets(rep, done, args, ref)
    prof = {f"profile {e} at {k:,} blocks (fit under cProfile {med(r):.1f} s)": r
            for (m, e, k), r in done.items() if m == "profile"}
    for name, r in prof.items():
        rep(f"### {name}\n```\n{r.get('notes', '')}\n```\n")


def _t(done, m, e, k):
    r = done.get((m, e, k))
    return med(r) if r else None


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def summary(rep, done, args) -> None:
    """The issue's table: rounds, time per block count, 1000 vs 10, cluster / threaded."""
    ks, lo, hi = args.blocks, min(args.blocks), max(args.blocks)
    head = ["estimator", "rounds", *[f"{k:,} blocks (s)" for k in ks], f"{hi:,} vs {lo:,}",
            *[f"cluster {k:,} (s)" for k in ks], *[f"cluster / threaded {k:,}" for k in ks],
            f"peak above base {hi:,} (MB)"]
    rows = []
    for e in args.estimators:
        t = {(m, k): _t(done, m, e, k) for m in ("threads", "cluster") for k in ks}
        r = next((done[(m, e, k)] for m in ("threads", "cluster") for k in ks
                  if (m, e, k) in done), {})
        big = done.get(("threads", e, hi))
        rows.append([ESTIMATORS[e].label, r.get("n_rounds", ""),
                     *[f"{t['threads', k]:.2f}" if t["threads", k] else "" for k in ks],
                     _ratio(t["threads", hi], t["threads", lo]),
                     *[f"{t['cluster', k]:.2f}" if t["cluster", k] else "" for k in ks],
                     *[_ratio(t["cluster", k], t["threads", k]) for k in ks],
                     mb(big["peak"] - big["baseline"]) if big else ""])
    rep(f"## Summary: median of up to {args.repeats} fits (PenalizedGLMCV: 1), threaded = "
        f"{args.cores} threads, cluster = LocalCluster 2 processes x 1 thread\n")
    rep.table(head, rows, "lr" + "r" * (len(head) - 2))


def latency(rep, done, args) -> None:
    rows = [[CASES[m].label, f"{k:,}", f"{r['first_round_s']:.3f}", f"{r['round_s']:.3f}",
             f"{r['per_block_ms']:.2f}"]
            for (m, e, k), r in sorted(done.items(), key=lambda kv: (kv[0][0][-1] != "s", kv[0][2]))
            if m.startswith("latency")]
    if rows:
        rep(f"## Per-round latency: {max(2, args.latency_rounds)} trivial rounds (a block "
            "function returning its row count; theta broadcast) through one RoundEngine\n")
        rep.table(["scheduler", "blocks", "first round (s)", "median round (s)",
                   "per block (ms)"], rows, "lrrrr")


def targets(rep, done, args, ref) -> None:
    """The issue's targets, met or not."""
    lo, hi = min(args.blocks), max(args.blocks)
    for e in args.estimators:
        a, b = _t(done, "threads", e, hi), _t(done, "threads", e, lo)
        goal = TARGET_CV if e == "cv" else TARGET
        if a and b and hi > lo:
            rep(f"- target, {ESTIMATORS[e].label}: {hi:,} blocks within {goal}x of {lo:,} "
                f"(threaded): {a / b:.2f}x -> {'MET' if a / b <= goal else 'NOT MET'}")
    for e in args.estimators:
        a, b = _t(done, "cluster", e, lo), _t(done, "threads", e, lo)
        if a and b:
            rep(f"- target, {ESTIMATORS[e].label}: LocalCluster within {TARGET_CLUSTER}x of "
                f"threaded at {lo:,} blocks: {a / b:.2f}x -> "
                f"{'MET' if a / b <= TARGET_CLUSTER else 'NOT MET'}")
    if ref is not None:
        diffs = {key: d for key, r in done.items() if key[0] in ("threads", "cluster")
                 and (d := ref_diff(r, *key, ref)) is not None}
        worst = max(diffs.items(), key=lambda kv: kv[1], default=None)
        missing = sum(1 for key in done if key[0] in ("threads", "cluster")) - len(diffs)
        rep(f"- target, no result changes: max |params_, bse_ - reference| over {len(diffs)} "
            f"fits = {worst[1] if worst else float('nan'):.1e} ("
            f"{'{1}@{2} {0}'.format(*worst[0]) if worst else '-'}; "
            f"{missing} fits without a reference) -> "
            f"{'MET' if worst and worst[1] <= TARGET_DIFF and not missing else 'NOT MET'}")
    rep()


def rows(results, args):
    """Combined-table rows: each estimator threaded at the most blocks; 'peers' = the same
    fit at the fewest blocks and on the LocalCluster."""
    lo, hi, out = min(args.blocks), max(args.blocks), []
    for e in args.estimators:
        ours = results.get(("threads", e, hi), {})
        if "times" not in ours:
            continue
        peers = {f"{lo} blocks": results.get(("threads", e, lo), {}),
                 "cluster": results.get(("cluster", e, hi), {})}
        out.append(runner.combined_row(f"{ESTIMATORS[e].label}", f"{args.n:,} x 20, {hi} blocks",
                                       ours, peers, None, "no oracle: see scale_out's report"))
    return out


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
