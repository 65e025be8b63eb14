"""PenalizedLogisticRegression (exact global L1 logistic, PQN) against its peers (README)."""

from __future__ import annotations

import importlib
import logging
import math
import re
import statistics
import time

import numpy as np

from benchmarks import adapters, problems
from benchmarks.runner import Case, Spec, block_sizes, main, mb, measure, run_case

MOD = "benchmarks.penalized"
TITLE = "Benchmark: PenalizedLogisticRegression (exact L1 logistic, PQN) vs peers"
MODULES = ("numpy", "scipy", "dask", "distributed", "sklearn", "threadpoolctl", "psutil",
           "dask_glmdist")
QUICK = {"n": 20_000, "ps": [20], "alpha_fracs": [0.01], "peer_budget": 5.0,
         "time_limit": 300.0}
MEDIUM = {"n": 100_000, "ps": [50], "alpha_fracs": [0.01], "peer_budget": 20.0,
          "time_limit": 200.0}
MEDIUM_CASES = ["ours_threads", "sk_liblinear", "sk_saga"]
GAP = 1e-6  # "equal objective": (F_peer - F_ours) / F_ours <= GAP


def add_args(ap):
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--ps", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--alpha-fracs", type=float, nargs="+", default=[0.1, 0.01, 0.001])
    ap.add_argument("--rho", type=float, default=0.3)
    ap.add_argument("--daskml-alphas", type=int, nargs="+", help="indices into --alpha-fracs")
    ap.add_argument("--peer-budget", type=float, default=60.0, help="s per peer fit")
    ap.add_argument("--time-limit", type=float, default=2400.0, help="s for the whole run")
    ap.add_argument("--admm-rho", type=float, help="dask-ml admm: rho (default dask-ml's, 1)")
    ap.set_defaults(max_wait=10.0)


def header_lines(a):
    return [f"data: logistic, N = {a.n:,}, AR(1) rho = {a.rho}, 10 non-zero coefficients "
            f"(+-1 ... +-0.2 at columns 2, 7, ..., 47), intercept -0.5, seed {a.seed}; "
            f"{a.partitions} row blocks",
            "objective (all solvers, one NumPy formula): mean[log(1+exp(eta)) - y eta] + alpha "
            "||coef||_1, intercept unpenalised; gap = (F_peer - F_ours) / F_ours, F_ours from "
            "ours_threads (tol=1e-8)",
            f"time: ours median of {a.repeats} fit(s), peers 1 fit; peer budget "
            f"{a.peer_budget:g} s per fit; total time limit {a.time_limit:g} s"]


def objective(X, y, b0, coef, alpha, k) -> float:
    """F = mean loss + alpha ||coef||_1 summed over the K row blocks (NumPy or dask)."""
    coef = np.ravel(np.asarray(coef, dtype=np.float64))

    def loss(Xb, yb):
        eta = np.asarray(Xb) @ coef
        eta += b0
        return float(np.sum(np.logaddexp(0.0, eta) - np.asarray(yb) * eta))

    if isinstance(X, np.ndarray):
        parts = [loss(*b) for b in problems.AR1.blocks(None, X, y, k)]
    else:
        import dask

        parts = dask.compute(*[dask.delayed(loss)(a, b) for a, b in zip(
            X.to_delayed().ravel(), y.to_delayed().ravel(), strict=True)])
    return math.fsum(parts) / X.shape[0] + float(alpha) * float(np.sum(np.abs(coef)))


def alpha_max(X, y) -> float:
    """max_j |x_j^T (y - ybar)| / N (NumPy or dask)."""
    v = abs(X.T @ (y - y.mean())).max()
    return float(getattr(v, "compute", lambda: v)()) / X.shape[0]


def rel_gap(f, ref) -> float:
    return (f - ref) / abs(ref)


class RoundLog(logging.Handler):
    """Wall time of every round from the ``dask_glmdist`` logger's INFO records."""

    def __enter__(self):
        super().__init__(logging.INFO)
        self.rounds, lg = [], logging.getLogger("dask_glmdist")
        self._level = lg.level
        lg.setLevel(logging.INFO)
        lg.addHandler(self)
        return self

    def emit(self, record):
        if m := re.match(r"(.*): (\d+) blocks reduced in ([0-9.]+) s", record.getMessage()):
            self.rounds.append((m.group(1), float(m.group(3))))

    def __exit__(self, *exc):
        lg = logging.getLogger("dask_glmdist")
        lg.removeHandler(self)
        lg.setLevel(self._level)


# ------------------------------------------------------------------ cases


class Solver(Case):
    """One process per solver and p: every alpha, each fit(s) measured (``fits``)."""

    cluster = False

    def setup(self):
        prob = problems.sparse_logistic(self.p.p, self.p.rho, self.p.seed)
        if self.cluster:
            self._cl, self.client, self.X, self.y, self.pids, self.placement = \
                problems.local_cluster(prob, self.p.n, self.p.partitions)
        else:
            self.X, self.y = prob.numpy(self.p.n, self.p.partitions)

    def teardown(self):
        if self.cluster:
            self.client.close()
            self._cl.close()

    def run(self):
        p = self.p
        amax = p.alphas[0] if p.alphas else alpha_max(self.X, self.y)
        alphas = p.alphas[1:] if p.alphas else [f * amax for f in p.alpha_fracs]
        out = []
        for i, frac in enumerate(p.alpha_fracs):
            entry = {"frac": frac, "alpha": alphas[i], "fits": []}
            out.append(entry)
            ctx = {"ref": p.refs[i] if p.refs else None}
            if i in p.alpha_idx:
                for label, fit, finish, repeats in self.fits(alphas[i], ctx):
                    entry["fits"].append(self.one(label, fit, finish, repeats, alphas[i], ctx))
        return {"alpha_max": amax, "alphas": out, "times": [0.0], "peak": 0, "other_cores": [0],
                "placement": getattr(self, "placement", None)}

    def one(self, label, fit, finish, repeats, alpha, ctx):
        left = self.p.deadline - time.time()
        need = 0.0 if isinstance(self, Ours) else self.p.peer_budget
        if left < need + 5:
            return {"label": label, "skipped": f"time limit: {left:.0f} s left"}
        m = measure(lambda: {"res": fit()}, self.p, repeats, self.pids)
        ctx["last_time"] = statistics.median(m["times"])
        r = finish(m.pop("res"))
        coef = np.asarray(r.pop("coef"), dtype=np.float64)
        rec = {"label": label, "times": m["times"], "peak_above": m["peak"] - self.baseline(),
               "other": max(m["other_cores"]), "nnz": int(np.sum(coef != 0)),
               "F": objective(self.X, self.y, r["b0"], coef, alpha, self.p.partitions), **r}
        ctx["last_F"], ctx["last_capped"] = rec["F"], bool(r.get("capped"))
        if (trace := rec.pop("trace_raw", None)) is not None:
            rec.update(trace_gaps(trace, self, alpha, ctx["ref"], bool(rec.get("capped"))))
        return rec

    def baseline(self):
        from benchmarks.runner import MemorySampler

        if not hasattr(self, "_base"):
            self._base = MemorySampler(self.pids).sample()
        return self._base


class Ours(Solver):
    def setup(self):
        super().setup()
        import dask

        import dask_glmdist  # noqa: F401

        if not self.cluster:
            dask.config.set(scheduler="threads")

    def fits(self, alpha, ctx):
        def fit():
            with RoundLog() as log:
                m = adapters.ours("PenalizedLogisticRegression", self.X, self.y, alpha=alpha,
                                  l1_ratio=1.0, tol=1e-8, max_iter=100,
                                  n_partitions=self.p.partitions)
            return m, log.rounds

        def finish(res):
            m, rounds = res
            return {"b0": float(np.ravel(m.intercept_)[0]), "coef": m.coef_.ravel(),
                    "n_iter": int(m.n_iter_), "rounds": int(adapters.attr(m, "n_rounds_")),
                    "converged": bool(m.converged_), "own_objective": float(m.objective_),
                    "kkt": float(m.kkt_violation_), "round_times": rounds}

        yield "PQN tol=1e-8", fit, finish, self.p.repeats


class Sklearn(Solver):
    solver = "saga"

    def setup(self):
        super().setup()
        import sklearn.linear_model  # noqa: F401  (import cost is not part of the fit)

    def model_fit(self, alpha, tol, max_iter):
        kw = {"intercept_scaling": 1e3} if self.solver == "liblinear" else {}
        return adapters.sklearn_logistic(self.X, self.y, C=1.0 / (alpha * self.p.n),
                                         l1_ratio=1.0, solver=self.solver, tol=tol,
                                         max_iter=max_iter, **kw)

    def fits(self, alpha, ctx):
        def finish(r):
            return {"b0": r["theta"][0], "coef": r["theta"][1:], "n_iter": r["n_iter"],
                    "capped": r["n_iter"] >= r["max_iter"]}

        per = {}
        for m in (1, 3) if self.solver == "liblinear" else (1,):  # cost of one iteration
            yield (f"calibration, max_iter={m}", lambda m=m: self.model_fit(alpha, 1e-4, m),
                   lambda r, m=m: per.setdefault(m, ctx["last_time"]) and finish(r), 1)
        t1, t3 = per.get(1, 1e9), per.get(3, 0.0)
        step = max((t3 - t1) / 2.0 if t3 > t1 else (t3 / 3.0 or t1), 1e-3)
        fixed = max(min(t1, t3) - step, 0.0) if t3 > t1 else 0.0  # liblinear's copy of X
        cap = max(1, int((self.p.peer_budget - fixed) / step))
        for tol, mx in ((1e-4, 100), (1e-8, 10000)):
            it = min(mx, cap)
            yield (f"tol={tol:g}, max_iter={it}" + (" (from budget)" if it < mx else ""),
                   lambda tol=tol, it=it: self.model_fit(alpha, tol, it), finish, 1)


class BudgetExceeded(Exception):
    pass


def traced_l1(budget: float, penalise_intercept: bool = False):
    """dask_glm's L1 leaving the last coefficient (dask-ml's intercept) unpenalised,
    recording (seconds, iterate) at every proximal step, stopping after ``budget`` s."""
    from dask_glm.regularizers import L1

    class TracedL1(L1):
        name = "l1_traced"

        def start(self):
            self.trace, self.t0 = [], time.perf_counter()

        def _mask(self, beta):
            m = np.ones(beta.shape[0], dtype=bool)
            m[-1] = penalise_intercept
            return m

        def f(self, beta):
            return np.abs(beta[self._mask(beta)]).sum()

        def proximal_operator(self, beta, t):
            beta, z = np.asarray(beta), np.array(beta, dtype=float)
            m = self._mask(beta)
            z[m] = np.maximum(0, beta[m] - t) - np.maximum(0, -beta[m] - t)
            self.trace.append((time.perf_counter() - self.t0, z.copy()))
            if self.trace[-1][0] > budget:
                raise BudgetExceeded
            return z

    reg = TracedL1()
    reg.start()
    return reg


class DaskML(Solver):
    """dask-ml LogisticRegression on our exact problem (normalize=False, intercept
    unpenalised, C = 1/(alpha N)); ``shipped``: its own L1 on standardised columns."""

    venv, needs, solver, shipped, rho = True, "dask_ml", "admm", False, None

    def setup(self):
        import dask
        import dask.array as da

        super().setup()
        if not self.cluster:
            dask.config.set(scheduler="threads")
            sizes = tuple(block_sizes(self.p.n, self.p.partitions))
            self.X, self.y = da.from_array(self.X, chunks=(sizes, -1)), \
                da.from_array(self.y, chunks=(sizes,))
        if self.rho == "n_k":
            self.rho = max(block_sizes(self.p.n, self.p.partitions)) / 200.0
        self.rho = self.rho or self.p.admm_rho

    def _back(self):
        if not self.shipped:
            return lambda z: z
        import dask.array as da

        mean, std = (np.asarray(v) for v in da.compute(self.X.mean(axis=0), self.X.std(axis=0)))
        return lambda z: np.concatenate([z[:-1] / std, [z[-1] - np.sum(z[:-1] * mean / std)]])

    def fits(self, alpha, ctx):
        reg, back = traced_l1(self.p.peer_budget, self.shipped), self._back()
        skw = {} if self.shipped else {"normalize": False}
        if self.solver == "admm" and self.rho is not None:
            skw["rho"] = self.rho
        base = {"solver": self.solver, "C": 1.0 / (alpha * self.p.n), "penalty": reg}
        tail = (f", rho={self.rho:g}" if "rho" in skw else "") + \
            f", budget {self.p.peer_budget:g} s"
        yield "defaults" + tail, *self._make(dict(base, solver_kwargs=skw), reg, back), 1
        if ctx["ref"] is not None and not ctx["last_capped"] and \
                rel_gap(ctx["last_F"], ctx["ref"]) > GAP:  # stopped short: a tight run
            tight = ({"abstol": 1e-10, "reltol": 1e-8} if self.solver == "admm" else {})
            kw = dict(base, max_iter=100000, solver_kwargs=dict(skw, **tight),
                      **({} if tight else {"tol": 1e-14}))
            label = "abstol=1e-10, reltol=1e-8" if tight else "tol=1e-14"
            yield label + tail, *self._make(kw, reg, back), 1

    def _make(self, kw, reg, back):
        state = {}

        def fit():
            reg.start()
            try:
                return adapters.daskml_logistic(self.X, self.y, count=not self.cluster, **kw)
            except BudgetExceeded:
                state["stopped"] = True
                z = back(reg.trace[-1][1])  # the last iterate (coef..., intercept)
                return {"theta": [z[-1], *z[:-1]], "n_iter": "budget"}

        def finish(r):
            return {"b0": float(r["theta"][0]), "coef": r["theta"][1:],
                    "n_iter": f"{r['n_iter']}, {len(reg.trace)} prox steps",
                    "capped": state.pop("stopped", False), "kwargs": repr(kw),
                    "trace_raw": [(t, back(z)) for t, z in reg.trace]}

        return fit, finish


def trace_gaps(trace, solver, alpha, ref, project, max_points=60):
    """F on up to ``max_points`` recorded iterates; with ``ref``: the first time the gap
    was <= GAP (bisection between samples), else (``project``) a log-linear extrapolation
    over the last half of the trace where the gap fell at least 10-fold there."""
    idx = sorted(set(np.linspace(0, len(trace) - 1, min(len(trace), max_points)).round()
                     .astype(int))) if trace else []
    cache = {}

    def gap(i):
        if i not in cache:
            z = trace[i][1]
            cache[i] = rel_gap(objective(solver.X, solver.y, z[-1], z[:-1], alpha,
                                         solver.p.partitions), ref)
        return cache[i]

    if ref is None or not idx:
        return {}
    first = next((j for j, i in enumerate(idx) if gap(i) <= GAP), None)
    if first is not None:
        lo, hi = (idx[first - 1] if first else idx[0]), idx[first]
        while hi - lo > 1:
            lo, hi = (lo, (lo + hi) // 2) if gap((lo + hi) // 2) <= GAP else ((lo + hi) // 2, hi)
        return {"t_gap": trace[hi][0]}
    half = [(trace[i][0], gap(i)) for i in idx[len(idx) // 2 :] if gap(i) > 0]
    if not project or len(half) < 3:
        return {"no_projection": "too few iterates"} if project else {}
    if half[0][1] < 10 * half[-1][1]:
        return {"no_projection": f"gap {half[0][1]:.2g} -> {half[-1][1]:.2g} over the last "
                                 "half: < 10-fold, no trend to extrapolate"}
    slope, icpt = np.polyfit([h[0] for h in half], np.log10([h[1] for h in half]), 1)
    return {"t_gap_projected": float((math.log10(GAP) - icpt) / slope)}


CASES = {
    "ours_threads": Spec("ours, threaded", Ours),
    "ours_cluster": Spec("ours, LocalCluster 2x1", Ours, {"cluster": True}),
    "sk_liblinear": Spec("sklearn liblinear", Sklearn, {"solver": "liblinear"}),
    "sk_saga": Spec("sklearn saga", Sklearn),
    "dml_proxgrad": Spec("dask-ml proximal_grad, threaded", DaskML, {"solver": "proximal_grad"}),
    "dml_admm": Spec("dask-ml admm, threaded", DaskML),
    "dml_admm_rho": Spec("dask-ml admm, rho = n_k / 200, threaded", DaskML, {"rho": "n_k"}),
    "dml_proxgrad_cluster": Spec("dask-ml proximal_grad, LocalCluster 2x1", DaskML,
                                 {"solver": "proximal_grad", "cluster": True}),
    "dml_admm_cluster": Spec("dask-ml admm, LocalCluster 2x1", DaskML, {"cluster": True}),
    "dml_admm_shipped": Spec("dask-ml admm as shipped (normalize, penalised intercept)", DaskML,
                             {"shipped": True}),
}
DEFAULT = ["ours_threads", "ours_cluster", "sk_liblinear", "sk_saga", "dml_proxgrad",
           "dml_admm"]


# ------------------------------------------------------------------ report


def daskml_status(python) -> str | None:
    """None if dask-ml imports and fits with ``python``, else the error."""
    import subprocess

    code = ("import numpy as np, dask.array as da; from dask_ml.linear_model import "
            "LogisticRegression as L; X = np.random.default_rng(0).normal(size=(400, 3)); "
            "L(penalty='l1', solver='admm', max_iter=2).fit(da.from_array(X, chunks=100), "
            "da.from_array((X[:, 0] > 0) * 1.0, chunks=100))")
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    except OSError as exc:
        return f"no python at {python} ({exc})"
    return None if proc.returncode == 0 else " | ".join(proc.stderr.strip().splitlines()[-2:])


def _t(x) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def fit_line(frac, f) -> str:
    if "skipped" in f:
        return f"  - alpha {frac:g}: {f['label']}: skipped ({f['skipped']})"
    extra = ""
    if rt := f.get("round_times"):
        extra = (f"; rounds (last fit) {len(rt)}: sum {sum(t for _, t in rt):.2f} s of "
                 f"{f['times'][-1]:.2f} s, per round " + ", ".join(f"{t:.2f}" for _, t in rt))
    for key, text in (("t_gap", "gap <= 1e-6 first at {:.1f} s"),
                      ("t_gap_projected", "gap <= 1e-6 projected at {:.0f} s"),
                      ("no_projection", "no projection ({})"), ("kwargs", "{}")):
        if f.get(key) is not None:
            extra += "; " + text.format(f[key])
    own = (f", converged {f['converged']}, kkt {f['kkt']:.1e}, own objective_ - F "
           f"{f['own_objective'] - f['F']:.1e}" if "converged" in f else "")
    return (f"  - alpha {frac:g}: {f['label']}: times {', '.join(f'{t:.2f}' for t in f['times'])}"
            f" s, F {f['F']:.12g}, nnz {f['nnz']}, iters {f.get('n_iter')}"
            + (f", rounds {f['rounds']}" if "rounds" in f else "")
            + (", CAPPED" if f.get("capped") else "") + own
            + f", peak above base {mb(f['peak_above'])} MB, other load {f['other']:.2f}" + extra)


def run(args, rep):
    args.deadline = time.time() + args.time_limit
    methods = ["ours_threads"] + [m for m in args.methods if m != "ours_threads"]
    dml = None
    if any(m.startswith("dml") for m in methods):
        dml = daskml_status(f"{args.venv}/bin/python")
        rep(f"- dask-ml: not available in {args.venv}: `{dml}`\n" if dml else "")
    out = {}
    for p in args.ps:
        rep(f"## p = {p}")
        rep()
        res, refs, alphas = {}, None, None
        for name in methods:
            idx = (args.daskml_alphas if name.startswith("dml") and args.daskml_alphas
                   else list(range(len(args.alpha_fracs))))
            if name.startswith("dml") and dml:
                rep(f"- {name}: skipped, dask-ml not available")
                continue
            r, err = run_case(MOD, name, args, max(30.0, args.deadline - time.time() + 120),
                              p=p, refs=refs, alphas=alphas, alpha_idx=idx)
            if err:
                rep(f"- {name}: {err}")
                continue
            res[name] = r
            if name == "ours_threads":
                F = [a["fits"][0].get("F") if a["fits"] else None for a in r["alphas"]]
                refs = None if None in F else F
                alphas = [r["alpha_max"]] + [a["alpha"] for a in r["alphas"]]
                rep(f"- alpha_max = {r['alpha_max']:.6g}")
            rep(f"- {name}: setup {r['setup_s']:.1f} s, baseline RSS {mb(r['baseline'])} MB"
                + (f"; X row blocks per worker {r['placement']}" if r.get("placement") else ""))
            for a in r["alphas"]:
                for f in a["fits"]:
                    rep(fit_line(a["frac"], f))
        rep()
        out[p] = res
        table(rep, p, res, args)
    return out


def _family(name):
    return "sklearn" if name.startswith("sk") else "dask-ml" if name in (
        "dml_proxgrad", "dml_admm", "dml_admm_rho") else None


def _candidate(name, f, g):
    """(time to gap <= GAP, how, who) of a peer fit, or None (stopped short by itself)."""
    who, t = f"{name} {f['label']}", statistics.median(f["times"])
    if g <= GAP:
        return (f.get("t_gap", t), "measured", who)
    if "t_gap_projected" in f:
        return (f["t_gap_projected"], "projected", who)
    return (t, "lower bound (gap not reached)", who) if f.get("capped") else None


def table(rep, p, res, args):
    if "ours_threads" not in res:
        return None
    rep(f"### Results, N = {args.n:,}, p = {p}")
    rep()
    rows, lines = [], []
    for ia, a_ours in enumerate(res["ours_threads"]["alphas"]):
        if not a_ours["fits"] or "F" not in a_ours["fits"][0]:
            continue
        frac, ref = a_ours["frac"], a_ours["fits"][0]["F"]
        t_ours = statistics.median(a_ours["fits"][0]["times"])
        best, stalled = {}, {}
        for name, r in res.items():
            for f in r["alphas"][ia]["fits"]:
                if "skipped" in f:
                    rows.append([CASES[name].label, f"{frac:g}", f["label"], "skipped"] + [""] * 6)
                    continue
                g, fam = rel_gap(f["F"], ref), _family(name)
                rows.append(_table_row(name, f, frac, g))
                if fam and "calibration" not in f["label"]:
                    if (c := _candidate(name, f, g)) is None:
                        stalled.setdefault(fam, []).append(f"{name} {f['label']}: stopped by "
                                                           f"itself at gap {g:.1e}")
                    elif fam not in best or _rank(c) < _rank(best[fam]):
                        best[fam] = c
        lines += _ratio_lines(p, frac, best, stalled, t_ours, res, ia)
    rep.table(["solver", "alpha / alpha_max", "fit", "time (s)", "iterations", "rounds",
               "objective gap", "nnz", "peak above base (MB)", "other load"], rows,
              "lrlrlrrrrr")
    for line in lines:
        rep(line)
    rep()
    return lines


def _rank(c):
    return ({"measured": 0, "projected": 1}.get(c[1], 2), c[0])


def _table_row(name, f, frac, g):
    note = " (capped)" if f.get("capped") else ""
    if not note and g > GAP and "calibration" not in f["label"] and _family(name):
        note = " (stopped by itself)"
    tg = (f"; <= 1e-6 at {f['t_gap']:.1f} s" if "t_gap" in f else
          f"; <= 1e-6 projected {f['t_gap_projected']:.0f} s" if "t_gap_projected" in f else "")
    t = statistics.median(f["times"])
    times = _t(t) if len(f["times"]) == 1 else f"{_t(t)} ({', '.join(map(_t, f['times']))})"
    return [CASES[name].label, f"{frac:g}", f["label"] + note, times, f.get("n_iter"),
            f.get("rounds", ""), f"{g:.1e}{tg}", f["nnz"], mb(f["peak_above"]),
            f"{f['other']:.2f}"]


def _ratio_lines(p, frac, best, stalled, t_ours, res, ia):
    lines, head = [], f"- p = {p}, alpha = {frac:g} alpha_max:"
    for fam in sorted(set(best) | set(stalled)):
        note = "" if fam not in stalled or best.get(fam, (0, ""))[1] == "measured" else \
            " [" + "; ".join(stalled[fam]) + "]"
        if fam not in best:
            lines.append(f"{head} no {fam} run reached gap <= {GAP:g}{note}")
            continue
        tb, how, who = best[fam]
        sign = ">= " if how.startswith("lower") else "~" if how == "projected" else ""
        lines.append(f"{head} fastest {fam} to gap <= {GAP:g}: {who}, {tb:.1f} s ({how}) -> "
                     f"{fam} / ours (threaded, {t_ours:.2f} s) = {sign}{tb / t_ours:.1f}x{note}")
    fits = res.get("ours_cluster", {}).get("alphas", [{}] * (ia + 1))[ia].get("fits")
    if fits and "times" in fits[0]:
        tc = statistics.median(fits[0]["times"])
        lines.append(f"{head} ours LocalCluster {tc:.2f} s / threaded {t_ours:.2f} s = "
                     f"{tc / t_ours:.2f}")
    return lines


def rows(results, args):
    """Combined rows: ours against the fastest sklearn fit at gap <= 1e-6 (by objective)."""
    out = []
    for p, res in results.items():
        if "ours_threads" not in res:
            continue
        for ia, a in enumerate(res["ours_threads"]["alphas"]):
            f = a["fits"][0]
            peers, gaps = [], []
            for name, r in res.items():
                for g in r["alphas"][ia]["fits"]:
                    if name != "ours_threads" and "F" in g and "calibration" not in g["label"]:
                        t = statistics.median(g["times"])
                        peers.append(f"{name} {g['label']} {t:.3f}")
                        gaps.append(f"{name} {t / statistics.median(f['times']):.2f}")
            out.append([f"PenalizedLogisticRegression (alpha {a['frac']:g} alpha_max)",
                        f"logistic lasso N={args.n:,} p={p}",
                        f"{statistics.median(f['times']):.3f}", "; ".join(peers) or "-",
                        "; ".join(gaps) or "-", mb(f["peak_above"]),
                        f"kkt {f['kkt']:.1e} (objective is the oracle)"])
    return out


if __name__ == "__main__":
    main(importlib.import_module(MOD))
