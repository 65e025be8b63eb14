"""PenalizedLogisticRegression (exact global L1 logistic, PQN) against its peers (README)."""

import contextlib
import functools
import importlib
import logging
import math
import re
import statistics
import time

import dask
import dask.array as da
import numpy as np

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, block_sizes, main, mb, run_case, runs

TITLE = "Benchmark: PenalizedLogisticRegression (exact L1 logistic, PQN) vs peers"
QUICK = {"n": 20_000, "ps": [20], "alpha_fracs": [0.01], "peer_budget": 5.0, "time_limit": 300.0}
MEDIUM = {"n": 100_000, "ps": [50], "alpha_fracs": [0.01], "peer_budget": 20.0, "time_limit": 200.0}
MEDIUM_CASES = ["ours_threads", "sk_liblinear", "sk_saga"]
GAP = 1e-6  # "equal objective": (F_peer - F_ours) / F_ours <= GAP
DATA = ("logistic, AR(1) features, 10 non-zero coefficients (+-1 ... +-0.2 at columns 2, 7, "
        "..., 47), intercept -0.5; objective (every solver): mean[log(1+exp(eta)) - y eta] + alpha "
        "||coef||_1, intercept unpenalised; gap = (F_peer - F_ours) / F_ours, F_ours from "
        "ours_threads (tol=1e-8); peers 1 fit each")
OPTIONS = {"n": 1_000_000, "ps": [50, 200], "partitions": 10, "alpha_fracs": [0.1, 0.01, 0.001],
           "rho": 0.3, "daskml_alphas": (int, []), "peer_budget": 60.0, "time_limit": 2400.0,
           "admm_rho": (float, None), "max_wait": 10.0}


def objective(X, y, b0, coef, alpha, k) -> float:
    """F = mean loss + alpha ||coef||_1 summed over the K row blocks (NumPy or dask)."""
    coef = np.ravel(np.asarray(coef, dtype=np.float64))

    def loss(Xb, yb):
        eta = np.asarray(Xb) @ coef
        eta += b0
        return float(np.sum(np.logaddexp(0.0, eta) - np.asarray(yb) * eta))

    if isinstance(X, np.ndarray):
        parts = [loss(*b) for b in problems.split(X, y, k)]
    else:
        parts = dask.compute(*[dask.delayed(loss)(a, b) for a, b in zip(
            X.to_delayed().ravel(), y.to_delayed().ravel(), strict=True)])
    return math.fsum(parts) / X.shape[0] + float(alpha) * float(np.sum(np.abs(coef)))


def alpha_max(X, y) -> float:
    """max_j |x_j^T (y - ybar)| / N (NumPy or dask)."""
    v = abs(X.T @ (y - y.mean())).max()
    return float(getattr(v, "compute", lambda: v)()) / X.shape[0]


def rel_gap(f, ref) -> float:
    return (f - ref) / abs(ref)


@contextlib.contextmanager
def round_times():
    """The wall time of every round (a list filled from the dask_glmdist logger)."""
    lg, handler, rounds = logging.getLogger("dask_glmdist"), logging.Handler(), []
    handler.emit = lambda rec: (m := re.match(r".*: \d+ blocks reduced in ([0-9.]+) s",
                                              rec.getMessage())) and rounds.append(float(m[1]))
    level = lg.level
    lg.setLevel(logging.INFO)
    lg.addHandler(handler)
    try:
        yield rounds
    finally:
        lg.removeHandler(handler)
        lg.setLevel(level)


class Solver(Case):
    """One process per solver and p: every alpha, each of its fits (``fits``) measured."""

    def problem(self):
        return problems.sparse_logistic(self.p.p, self.p.rho, self.p.seed)

    def run(self):
        p = self.p
        amax = p.alphas[0] if p.alphas else alpha_max(self.X, self.y)
        alphas = p.alphas[1:] if p.alphas else [f * amax for f in p.alpha_fracs]
        self.base, out = runner.Monitor(self.pids).sample(), []
        for i, frac in enumerate(p.alpha_fracs):
            ctx = {"ref": p.refs[i] if p.refs else None}
            fits = self.fits(alphas[i], ctx) if i in p.alpha_idx else ()
            out.append({"frac": frac, "alpha": alphas[i], "fits": [
                self.one(alphas[i], ctx, *f) for f in fits]})
        return {"alpha_max": amax, "alphas": out, "placement": getattr(self, "placement", None)}

    def one(self, alpha, ctx, label, fit, repeats):
        """Measure ``fit()`` (-> b0, coef and what it reports); its objective F, nnz."""
        left = self.p.deadline - time.time()
        if left < (0.0 if isinstance(self, Ours) else self.p.peer_budget) + 5:
            return {"label": label, "skipped": f"time limit: {left:.0f} s left"}
        m = runner.measure(lambda: {"res": fit()}, self.p, repeats, self.pids)
        r, ctx["last_time"] = m.pop("res"), statistics.median(m["times"])
        coef = np.asarray(r.pop("coef"), dtype=np.float64)
        rec = {"label": label, "times": m["times"], "peak_above": m["peak"] - self.base,
               "other": max(m["other_cores"]), "nnz": int(np.sum(coef != 0)),
               "F": objective(self.X, self.y, r["b0"], coef, alpha, self.p.partitions), **r}
        if "own_objective" in rec:
            rec["own_objective - F"] = rec.pop("own_objective") - rec["F"]
        ctx["last_F"], ctx["last_capped"] = rec["F"], bool(r.get("capped"))
        if (trace := rec.pop("trace_raw", None)) is not None:
            rec.update(trace_gaps(trace, self, alpha, ctx["ref"], bool(rec.get("capped"))))
        return rec


class Ours(Solver):
    threads = True

    def fits(self, alpha, ctx):
        def fit():
            with round_times() as rounds:
                m = adapters.ours("PenalizedLogisticRegression", self.X, self.y, alpha=alpha,
                                  l1_ratio=1.0, tol=1e-8, max_iter=100,
                                  n_partitions=self.p.partitions)
            return {"b0": float(np.ravel(m.intercept_)[0]), "coef": m.coef_.ravel(),
                    "n_iter": int(m.n_iter_), "rounds": int(adapters.attr(m, "n_rounds_")),
                    "converged": bool(m.converged_), "own_objective": float(m.objective_),
                    "kkt": float(m.kkt_violation_), "round_s (last fit)": rounds}

        yield "PQN tol=1e-8", fit, self.p.repeats


class Sklearn(Solver):
    """liblinear / saga: the cost of one iteration calibrated (max_iter=1 (, 3)), then
    tol=1e-4 and tol=1e-8 with max_iter capped to fit the peer budget."""

    solver = "saga"

    def model_fit(self, alpha, tol, max_iter):
        kw = {"intercept_scaling": 1e3} if self.solver == "liblinear" else {}
        r = adapters.sklearn_logistic(self.X, self.y, C=1.0 / (alpha * self.p.n), l1_ratio=1.0,
                                      solver=self.solver, tol=tol, max_iter=max_iter, **kw)
        return {"b0": r["theta"][0], "coef": r["theta"][1:], "n_iter": r["n_iter"],
                "capped": r["n_iter"] >= max_iter}

    def fits(self, alpha, ctx):
        per = {}
        for m in (1, 3) if self.solver == "liblinear" else (1,):  # cost of one iteration
            yield f"calibration, max_iter={m}", lambda m=m: self.model_fit(alpha, 1e-4, m), 1
            per[m] = ctx["last_time"]
        t1, t3 = per.get(1, 1e9), per.get(3, 0.0)
        step = max((t3 - t1) / 2.0 if t3 > t1 else (t3 / 3.0 or t1), 1e-3)
        fixed = max(min(t1, t3) - step, 0.0) if t3 > t1 else 0.0  # liblinear's copy of X
        cap = max(1, int((self.p.peer_budget - fixed) / step))
        for tol, mx in ((1e-4, 100), (1e-8, 10000)):
            it = min(mx, cap)
            yield (f"tol={tol:g}, max_iter={it}" + (" (from budget)" if it < mx else ""),
                   lambda tol=tol, it=it: self.model_fit(alpha, tol, it), 1)


class BudgetExceeded(Exception):
    pass


def traced_l1(budget: float, penalise_intercept: bool = False):
    """dask_glm's L1 leaving the last coefficient (dask-ml's intercept) unpenalised,
    recording (seconds, iterate) at every proximal step (``reg.trace``; ``reg.t0`` the
    start), raising :class:`BudgetExceeded` after ``budget`` s."""
    from dask_glm.regularizers import L1
    class TracedL1(L1):
        name = "l1_traced"

        def f(self, beta):
            return np.abs(beta[: len(beta) - (not penalise_intercept)]).sum()

        def proximal_operator(self, beta, t):
            z, k = np.array(beta, dtype=float), len(beta) - (not penalise_intercept)
            z[:k] = np.maximum(0, z[:k] - t) - np.maximum(0, -z[:k] - t)
            self.trace.append((time.perf_counter() - self.t0, z.copy()))
            if self.trace[-1][0] > budget:
                raise BudgetExceeded
            return z

    return TracedL1()


class DaskML(Solver):
    """dask-ml LogisticRegression on our problem (normalize=False, intercept unpenalised, C =
    1/(alpha N)), traced, stopped at the peer budget; stopped by itself short of the optimum:
    a tight rerun. ``shipped``: its own L1 on standardised columns (iterates mapped back)."""

    venv, needs, threads, data = True, "dask_ml", True, "dask"
    solver, shipped, rho = "admm", False, None

    def setup(self):
        super().setup()
        if self.rho == "n_k":
            self.rho = max(block_sizes(self.p.n, self.p.partitions)) / 200.0
        self.rho, self.back = self.rho or self.p.admm_rho, lambda z: z
        if self.shipped:
            mean, std = (np.asarray(v) for v in da.compute(self.X.mean(0), self.X.std(0)))
            self.back = lambda z: np.concatenate([z[:-1] / std, [z[-1] - z[:-1] @ (mean / std)]])

    def fits(self, alpha, ctx):
        skw = {**({} if self.shipped else {"normalize": False}),
               **({"rho": self.rho} if self.solver == "admm" and self.rho else {})}
        reg = traced_l1(self.p.peer_budget, self.shipped)
        kw = {"solver": self.solver, "C": 1.0 / (alpha * self.p.n), "penalty": reg}
        tail = (f", rho={self.rho:g}" if "rho" in skw else "") + \
            f", budget {self.p.peer_budget:g} s"
        yield "defaults" + tail, self.traced(dict(kw, solver_kwargs=skw), reg), 1
        if ctx["ref"] is not None and not ctx["last_capped"] and \
                rel_gap(ctx["last_F"], ctx["ref"]) > GAP:  # stopped short: a tight run
            admm = self.solver == "admm"
            tight = {"abstol": 1e-10, "reltol": 1e-8} if admm else {}
            kw.update(max_iter=100000, solver_kwargs=dict(skw, **tight),
                      **({} if admm else {"tol": 1e-14}))
            label = "abstol=1e-10, reltol=1e-8" if admm else "tol=1e-14"
            yield label + tail, self.traced(kw, reg), 1

    def traced(self, kw, reg):
        def fit():
            reg.trace, reg.t0 = [], time.perf_counter()
            try:
                r = adapters.daskml_logistic(self.X, self.y, count=self.data != "cluster", **kw)
            except BudgetExceeded:
                z = self.back(reg.trace[-1][1])  # the last iterate (coef..., intercept)
                r = {"theta": [z[-1], *z[:-1]], "n_iter": "budget", "capped": True}
            return {"b0": float(r["theta"][0]), "coef": r["theta"][1:],
                    "n_iter": f"{r['n_iter']}, {len(reg.trace)} prox steps",
                    "capped": r.get("capped", False), "kwargs": repr(kw), "trace_raw": reg.trace}

        return fit


def trace_gaps(trace, solver, alpha, ref, project, max_points=60):
    """On up to ``max_points`` recorded iterates (mapped by ``solver.back``), with ``ref``:
    the first time the gap was <= GAP (bisection between samples), else (``project``) a
    log-linear extrapolation over the last half of the trace where the gap fell 10-fold."""
    if ref is None or not trace:
        return {}
    idx = sorted({int(i) for i in np.linspace(0, len(trace) - 1, min(len(trace), max_points))
                  .round()})

    @functools.cache
    def gap(i):
        z = solver.back(trace[i][1])
        return rel_gap(objective(solver.X, solver.y, z[-1], z[:-1], alpha,
                                 solver.p.partitions), ref)

    first = next((j for j, i in enumerate(idx) if gap(i) <= GAP), None)
    if first is not None:
        lo, hi = idx[max(first - 1, 0)], idx[first]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if gap(mid) <= GAP else (mid, hi)
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
    "ours_cluster": Spec("ours, LocalCluster 2x1", Ours, {"data": "cluster"}),
    "sk_liblinear": Spec("sklearn liblinear", Sklearn, {"solver": "liblinear"}),
    "sk_saga": Spec("sklearn saga", Sklearn),
    "dml_proxgrad": Spec("dask-ml proximal_grad, threaded", DaskML, {"solver": "proximal_grad"}),
    "dml_admm": Spec("dask-ml admm, threaded", DaskML),
    "dml_admm_rho": Spec("dask-ml admm, rho = n_k / 200, threaded", DaskML, {"rho": "n_k"}),
    "dml_proxgrad_cluster": Spec("dask-ml proximal_grad, LocalCluster 2x1", DaskML,
                                 {"solver": "proximal_grad", "data": "cluster"}),
    "dml_admm_cluster": Spec("dask-ml admm, LocalCluster 2x1", DaskML, {"data": "cluster"}),
    "dml_admm_shipped": Spec("dask-ml admm as shipped (normalize, penalised intercept)", DaskML,
                             {"shipped": True}),
}
DEFAULT = ["ours_threads", "ours_cluster", "sk_liblinear", "sk_saga", "dml_proxgrad", "dml_admm"]
FAMILIES = {"sk_liblinear": "sklearn", "sk_saga": "sklearn", "dml_proxgrad": "dask-ml",
            "dml_admm": "dask-ml", "dml_admm_rho": "dask-ml"}


def run(args, rep):
    args.deadline = time.time() + args.time_limit
    out = {}
    for p in args.ps:
        rep(f"## p = {p}\n")
        res, ctx = out.setdefault(p, {}), {"refs": None, "alphas": None}
        for name in ["ours_threads"] + [m for m in args.methods if m != "ours_threads"]:
            idx = (args.daskml_alphas if name.startswith("dml") and args.daskml_alphas
                   else list(range(len(args.alpha_fracs))))
            r, why = run_case(name, args, max(30.0, args.deadline - time.time() + 120),
                              p=p, alpha_idx=idx, **ctx)
            if why is not None:
                rep(f"- {name}: {why}")
                continue
            res[name] = r
            if name == "ours_threads":
                F = [a["fits"][0].get("F") if a["fits"] else None for a in r["alphas"]]
                ctx = {"refs": None if None in F else F,
                       "alphas": [r["alpha_max"]] + [a["alpha"] for a in r["alphas"]]}
            where = f"; X row blocks per worker {r['placement']}" if r["placement"] else ""
            rep(f"- {name}: alpha_max {r['alpha_max']:.6g}, setup {r['setup_s']:.1f} s, "
                f"baseline RSS {mb(r['baseline'])} MB{where}")
        table(rep, p, res, args)
    return out


def _row(name, frac, f, ref):
    if "skipped" in f:
        return [CASES[name].label, f"{frac:g}", f["label"], f"skipped: {f['skipped']}"] + [""] * 7
    g = rel_gap(f["F"], ref)
    stopped = g > GAP and name in FAMILIES and "calibration" not in f["label"]
    note = " (capped)" if f.get("capped") else " (stopped by itself)" if stopped else ""
    details = {k: v for k, v in f.items() if k not in (
        "label", "times", "peak_above", "other", "nnz", "F", "b0", "n_iter", "rounds", "capped")}
    return [CASES[name].label, f"{frac:g}", f["label"] + note, runs(f["times"], "{:.3g}"),
            f.get("n_iter"), f.get("rounds", ""), f"{g:.1e}", f["nnz"], mb(f["peak_above"]),
            f"{f['other']:.2f}", runner.fmt(details) if details else ""]


def table(rep, p, res, args):
    if "ours_threads" not in res:
        return
    rep(f"\n### Results, N = {args.n:,}, p = {p}\n")
    rows, lines = [], []
    for ia, a in enumerate(res["ours_threads"]["alphas"]):
        ours = a["fits"][0] if a["fits"] else {}
        if "F" in ours:
            rows += [_row(name, a["frac"], f, ours["F"])
                     for name, r in res.items() for f in r["alphas"][ia]["fits"]]
            lines += _ratio_lines(f"- p = {p}, alpha = {a['frac']:g} alpha_max:", res, ia, ours)
    rep.table(["solver", "alpha / alpha_max", "fit", "time (s)", "iterations", "rounds",
               "objective gap", "nnz", "peak above base (MB)", "other load", "details"], rows,
              "lrlrlrrrrrl")
    rep("\n".join([*lines, ""]))


def _to_gap(f, g):
    """(rank, seconds to gap <= GAP, how) of a peer fit at gap g; None: it stopped by
    itself short of it."""
    if g <= GAP:
        return 0, f.get("t_gap", statistics.median(f["times"])), "measured"
    if "t_gap_projected" in f:
        return 1, f["t_gap_projected"], "projected"
    return (2, statistics.median(f["times"]), "lower bound (gap not reached)") \
        if f.get("capped") else None


def _ratio_lines(head, res, ia, ours):
    """Per peer family: its fastest fit to gap <= GAP / ours; then cluster / threaded."""
    t, lines = statistics.median(ours["times"]), []
    for fam in sorted(set(FAMILIES.values())):
        gaps = {f"{n} {f['label']}": (f, rel_gap(f["F"], ours["F"])) for n, r in res.items()
                if FAMILIES.get(n) == fam for f in r["alphas"][ia]["fits"]
                if "F" in f and "calibration" not in f["label"]}
        best = min(((c, who) for who, (f, g) in gaps.items() if (c := _to_gap(f, g))), default=None)
        stalled = [f"{who}: stopped by itself at gap {g:.1e}" for who, (f, g) in gaps.items()
                   if _to_gap(f, g) is None]
        measured = best is not None and best[0][2] == "measured"
        note = f" [{'; '.join(stalled)}]" if stalled and not measured else ""
        if best:
            (_, tb, how), who = best
            sign = ">= " if how.startswith("lower") else "~" if how == "projected" else ""
            lines.append(f"{head} fastest {fam} to gap <= {GAP:g}: {who}, {tb:.1f} s ({how}) "
                         f"-> {fam} / ours (threaded, {t:.2f} s) = {sign}{tb / t:.1f}x{note}")
        elif gaps:
            lines.append(f"{head} no {fam} run reached gap <= {GAP:g}{note}")
    fits = res.get("ours_cluster", {}).get("alphas", [{}] * (ia + 1))[ia].get("fits")
    if fits and "times" in fits[0]:
        tc = statistics.median(fits[0]["times"])
        lines.append(f"{head} ours LocalCluster {tc:.2f} s / threaded {t:.2f} s = {tc / t:.2f}")
    return lines


def rows(results, args):
    """Combined rows: ours against every peer fit but the calibrations (the objective is
    the oracle: its gap is in the config's report)."""
    out = []
    for p, res in results.items():
        for ia, a in enumerate(res.get("ours_threads", {}).get("alphas", [])):
            ours = {**a["fits"][0], "peak": a["fits"][0].get("peak_above"), "baseline": 0}
            peers = {f"{name} {g['label']}": g for name, r in res.items()
                     if name != "ours_threads" for g in r["alphas"][ia]["fits"]
                     if "F" in g and "calibration" not in g["label"]}
            if "F" in ours:
                out.append(runner.combined_row(
                    f"PenalizedLogisticRegression (alpha {a['frac']:g} alpha_max)",
                    f"logistic lasso N={args.n:,} p={p}", ours, peers, None,
                    f"kkt {ours['kkt']:.1e}; the objective is the oracle"))
    return out


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
