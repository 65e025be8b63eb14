"""DebiasedLassoRegressor against statsmodels' DistributedModel, same partitions (README)."""

from __future__ import annotations

import importlib
import math
import statistics
import time

import numpy as np

from benchmarks import adapters, problems
from benchmarks.runner import Case, Spec, block_sizes, main, mb, med, run_all, run_case, runs

MOD = "benchmarks.debiased_lasso"
TITLE = "Benchmark: DebiasedLassoRegressor vs statsmodels DistributedModel (same partitions)"
MODULES = ("numpy", "scipy", "dask", "sklearn", "statsmodels", "joblib", "psutil",
           "threadpoolctl", "dask_glmdist")
QUICK = {"n": 20_000, "ps": [20, 60], "sm_budget": 5.0, "time_limit": 600.0,
         "calib_rows": 1000, "sm_piece_budget": 5.0}
MEDIUM = {"n": 50_000, "ps": [40], "sm_budget": 40.0, "time_limit": 120.0,
          "calib_rows": 2000, "sm_piece_budget": 20.0, "sm_parts": 2}
MEDIUM_CASES = ["ours"]
TOL_NODEWISE = 1e-11  # the estimator's tol * 1e-3 (tol=1e-8)
JOBLIB_FULL, JOBLIB_ROUND = 1.5, 3.0  # decision only: joblib / sequential time factors


def add_args(ap):
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--ps", type=int, nargs="+", default=[100, 500])
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--rho", type=float, default=0.3)
    ap.add_argument("--sm-mode", choices=["auto", "full", "partitions", "pieces", "none"],
                    default="auto", help="how much of statsmodels to run (README)")
    ap.add_argument("--sm-budget", type=float, default=1200.0, help="largest statsmodels run, s")
    ap.add_argument("--sm-parts", type=int, default=1, help="'partitions' mode: partitions")
    ap.add_argument("--time-limit", type=float, default=3300.0)
    ap.add_argument("--sm-piece-budget", type=float, default=300.0)
    ap.add_argument("--sm-maxiter", type=int, default=None)
    ap.add_argument("--sm-timeout", type=float, default=2400.0)
    ap.add_argument("--calib-rows", type=int, default=20_000)
    ap.add_argument("--calib-nodewise", type=int, default=2)
    ap.set_defaults(fit_budget=300.0)


def header_lines(a):
    return [f"data: gaussian linear model, N = {a.n:,}, p in {a.ps}, AR(1) rho = {a.rho}, 10 "
            f"non-zero coefficients (3, 13, ..., 93; +-1 ... +-0.2), noise sd 1, no intercept, "
            f"seed {a.seed}; {a.partitions} row blocks",
            f"ours: DebiasedLassoRegressor({a.alpha:g}, fit_intercept=False, n_partitions="
            f"{a.partitions}), threaded, {a.cores} threads; median of {a.repeats} fits",
            f"statsmodels: DistributedModel({a.partitions}, score_kwds scale=1).fit(blocks, "
            f"fit_kwds alpha={a.alpha:g}, maxiter={a.sm_maxiter or 'default'}); once; full, "
            f"first partitions or pieces of block 0 (budget {a.sm_budget:g} s)"]


def block(p, k):
    prob = problems.sparse_gaussian(p.p, p.rho, p.seed)
    return prob.block(block_sizes(p.n, p.partitions)[k], k)


def lasso_check(Sigma, xy, yy, b, alpha):
    """(max KKT violation, objective) of b for ||y - X b||^2 / (2n) + alpha ||b||_1."""
    g = xy - Sigma @ b
    zero = b == 0
    v = np.where(zero, np.maximum(np.abs(g) - alpha, 0.0), np.abs(g - alpha * np.sign(b)))
    obj = 0.5 * (yy - 2 * b @ xy + b @ Sigma @ b) + alpha * np.abs(b).sum()
    return float(v.max(initial=0.0)), float(obj)


def _maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def compare_pieces(pieces, blocks, p, first=0) -> dict:
    """statsmodels' per-partition pieces (local fit, gradient, node-wise rows) against ours
    on the same blocks, with KKT / objective checks of both lasso fits."""
    from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows

    out = dict.fromkeys(["diff_local_coef", "diff_grad", "diff_theta_rows", "kkt_sm",
                         "kkt_ours", "kkt_sm_nodewise"], 0.0)
    out.update(obj_excess_sm=-np.inf, obj_excess_sm_nodewise=-np.inf, local=[])
    for i, (params, grad, nw_rows, nw_w) in enumerate(pieces):
        y, X = blocks[i]
        n, q = X.shape
        rows = list(mosaic_rows(first + i, p.partitions, q))[: len(nw_rows)]
        b = adapters.ours("DebiasedLassoRegressor", X, y, alpha=p.alpha, method="naive",
                          fit_intercept=False, n_partitions=1).coef_
        xy, Sigma, yy = X.T @ y / n, X.T @ X / n, float(y @ y) / n
        th = theta_rows(Sigma, rows, np.full(q, p.alpha), TOL_NODEWISE)[0]
        out["local"].append(b.tolist())
        (k_sm, o_sm), (k_o, o_o) = (lasso_check(Sigma, xy, yy, np.asarray(c), p.alpha)
                                    for c in (params, b))
        for key, v in (("diff_local_coef", _maxdiff(b, params)),
                       ("diff_grad", _maxdiff(Sigma @ b - xy, grad)), ("kkt_sm", k_sm),
                       ("kkt_ours", k_o), ("obj_excess_sm", o_sm - o_o)):
            out[key] = max(out[key], v)
        for r, j in enumerate(rows):
            ind = [c for c in range(q) if c != j]
            sm_row = np.zeros(q)
            sm_row[ind], sm_row[j] = -np.asarray(nw_rows[r]), 1.0
            out["diff_theta_rows"] = max(out["diff_theta_rows"],
                                         _maxdiff(th[r], sm_row / nw_w[r] ** 2))
            S, s_j = Sigma[np.ix_(ind, ind)], Sigma[ind, j]
            k, o = lasso_check(S, s_j, Sigma[j, j], np.asarray(nw_rows[r]), p.alpha)
            o_ours = lasso_check(S, s_j, Sigma[j, j], -th[r, ind] / th[r, j], p.alpha)[1]
            out["kkt_sm_nodewise"] = max(out["kkt_sm_nodewise"], k)
            out["obj_excess_sm_nodewise"] = max(out["obj_excess_sm_nodewise"], o - o_ours)
    return out


class SweepLog:
    """Record (sweeps, converged, seconds, n_vars) of statsmodels' coordinate descents."""

    def __enter__(self):
        import statsmodels.base.elastic_net as en

        self.en, self.orig, self.calls = en, en._coord_descent, []

        def wrapped(model, *a, **kw):
            t = time.perf_counter()
            out = self.orig(model, *a, **kw)
            self.calls.append((int(out[1]), bool(out[2]), time.perf_counter() - t,
                               int(model.exog.shape[1])))
            return out

        en._coord_descent = wrapped
        return self

    def __exit__(self, *exc):
        self.en._coord_descent = self.orig

    def summary(self, p) -> dict:
        main_, nw = ([c for c in self.calls if c[3] == q] for q in (p, p - 1))
        return {"main_sweeps": [c[0] for c in main_], "main_converged": [c[1] for c in main_],
                "nw_count": len(nw), "nw_max_sweeps": max((c[0] for c in nw), default=0),
                "nw_not_converged": sum(not c[1] for c in nw)}


# ------------------------------------------------------------------ cases


class Ours(Case):
    blas, kw = "cores", {}

    def setup(self):
        import dask

        import dask_glmdist  # noqa: F401

        dask.config.set(scheduler="threads", num_workers=self.p.cores)
        prob = problems.sparse_gaussian(self.p.p, self.p.rho, self.p.seed)
        self.X, self.y = prob.numpy(self.p.n, self.p.partitions)
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        m = adapters.ours("DebiasedLassoRegressor", self.X, self.y, alpha=self.p.alpha,
                          fit_intercept=False, n_partitions=self.p.partitions, **self.kw)
        return {**adapters.report(m), "coef": m.coef_.tolist(),
                "local_n_iter": np.asarray(adapters.attr(m, "local_n_iter_", [])).tolist()}


class Nodewise(Case):
    """Sigma_0 and theta_rows on block 0: the mosaic share and all p rows, BLAS 1 thread."""

    blas = "cores"

    def setup(self):
        import dask_glmdist.solvers.debiased_lasso  # noqa: F401  (not part of the fit)

        self.X, self.y = block(self.p, 0)
        self.data_bytes, self.parts = self.X.nbytes + self.y.nbytes, []

    def fit(self):
        from threadpoolctl import threadpool_limits

        from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows

        n, q = self.X.shape
        rows, alpha = list(mosaic_rows(0, self.p.partitions, q)), np.full(q, self.p.alpha)
        with threadpool_limits(limits=1, user_api="blas"):
            t0 = time.perf_counter()
            Sigma = self.X.T @ self.X / n
            t1 = time.perf_counter()
            sw_m = theta_rows(Sigma, rows, alpha, TOL_NODEWISE)[2]
            t2 = time.perf_counter()
            sw_f = theta_rows(Sigma, range(q), alpha, TOL_NODEWISE)[2]
            t3 = time.perf_counter()
        self.parts.append((t1 - t0, t2 - t1, t3 - t2))
        return {"mosaic_rows": len(rows), "mosaic_sweeps": int(sw_m), "full_sweeps": int(sw_f)}

    def after(self):  # medians of the pieces over the repeats
        return dict(zip(("gram_s", "mosaic_s", "full_s"),
                        (statistics.median(c) for c in zip(*self.parts, strict=True)), strict=True))


class SM(Case):
    repeats, blas, needs = 1, "cores", "statsmodels"

    def fit_kwds(self):
        return {"alpha": self.p.alpha, **({"maxiter": self.p.sm_maxiter}
                                          if self.p.sm_maxiter else {})}


class SMRun(SM):
    """DistributedModel on all K partitions, or (by fit_sequential / fit_joblib) on the
    first ``parts`` of them; the sequential run keeps each partition's pieces."""

    method = "sequential"

    def setup(self):
        import statsmodels.base.distributed_estimation  # noqa: F401

        self.tree, self.blocks = self.method == "joblib", []
        for k in range(self.p.parts):
            X, y = block(self.p, k)
            self.blocks.append((y, X))
            self.data_bytes += X.nbytes + y.nbytes

    def fit(self):
        from statsmodels.base.distributed_estimation import DistributedModel

        dm = DistributedModel(self.p.partitions, estimation_kwds={"score_kwds": {"scale": 1}})
        gen, est, captured, out = iter(self.blocks), dm.estimation_method, [], {}
        if self.method == "sequential":  # keep each partition's pieces for the checks
            dm.estimation_method = lambda *a, **k: captured.append(est(*a, **k)) or captured[-1]
        with SweepLog() as log:
            if self.p.parts == self.p.partitions:
                out["coef"] = np.asarray(dm.fit(gen, fit_kwds=self.fit_kwds(),
                                                parallel_method=self.method).params).tolist()
            elif self.method == "sequential":
                captured = dm.fit_sequential(gen, self.fit_kwds())
            else:
                dm.fit_joblib(gen, self.fit_kwds(), None)
        self.pieces = captured if self.method == "sequential" else None
        sweeps = log.summary(self.p.p) if self.method == "sequential" else None
        return {**out, "parts": self.p.parts, "method": self.method, "sweeps": sweeps}

    def after(self):
        if not self.pieces:
            return {}
        out = compare_pieces(self.pieces, self.blocks, self.p)
        if len(self.pieces) == self.p.partitions:  # statsmodels' join with our local fits
            from statsmodels.base.distributed_estimation import _calc_grad, _join_debiased
            from statsmodels.regression.linear_model import OLS

            fixed = [(b, _calc_grad(OLS(y, X), np.asarray(b), self.p.alpha, 1, {"scale": 1})
                      / y.shape[0], rows, w) for b, (_, _, rows, w), (y, X)
                     in zip(out["local"], self.pieces, self.blocks, strict=True)]
            out["coef_repaired"] = np.asarray(_join_debiased(fixed)).tolist()
        out.pop("local")
        return out


class SMPieces(SM):
    """Block 0 (calibration: its first --calib-rows rows): statsmodels' main fit and the
    first m node-wise regressions of its mosaic share."""

    calib = False

    def setup(self):
        X, y = block(self.p, 0)
        rows = self.p.calib_rows if self.calib else None
        self.X, self.y = X[:rows].copy(), y[:rows].copy()
        self.data_bytes = self.X.nbytes + self.y.nbytes

    def fit(self):
        from statsmodels.base.distributed_estimation import _calc_grad, _calc_wdesign_mat
        from statsmodels.regression.linear_model import OLS
        from statsmodels.stats.regularized_covariance import (
            _calc_nodewise_row,
            _calc_nodewise_weight,
        )

        from dask_glmdist.solvers.debiased_lasso import mosaic_rows

        n, q = self.X.shape
        rows = list(mosaic_rows(0, self.p.partitions, q))
        m = min(len(rows), self.p.calib_nodewise if self.calib else self.p.sm_rows)
        with SweepLog() as log:
            t0 = time.perf_counter()
            mod = OLS(self.y, self.X)
            params = mod.fit_regularized(**self.fit_kwds()).params
            grad = _calc_grad(mod, params, self.p.alpha, 1, {"scale": 1}) / n
            wexog = _calc_wdesign_mat(mod, params, {})
            t1 = time.perf_counter()
            nw_rows, nw_w, nw_t = [], [], []
            for j in rows[:m]:
                s = time.perf_counter()
                nw_rows.append(_calc_nodewise_row(wexog, j, self.p.alpha))
                nw_w.append(_calc_nodewise_weight(wexog, nw_rows[-1], j, self.p.alpha))
                nw_t.append(time.perf_counter() - s)
        self.pieces = [(params, grad, nw_rows, np.asarray(nw_w))]
        return {"main_s": t1 - t0, "nodewise_s": nw_t, "rows_share": len(rows),
                "rows_done": m, "n_rows": n, "sweeps": log.summary(q)}

    def after(self):
        out = compare_pieces(self.pieces, [(self.y, self.X)], self.p)
        out.pop("local")
        return out


CASES = {
    "ours": Spec("ours: DebiasedLassoRegressor (debiased, nodewise='mosaic')", Ours),
    "ours_full": Spec("ours: nodewise='full'", Ours, {"kw": {"nodewise": "full"}}),
    "ours_naive": Spec("ours: method='naive' (no node-wise step)", Ours,
                       {"kw": {"method": "naive"}}),
    "nodewise": Spec("node-wise step alone, block 0", Nodewise),
    "sm_calib": Spec("statsmodels calibration", SMPieces, {"calib": True}),
    "sm_seq": Spec("statsmodels sequential", SMRun),
    "sm_joblib": Spec("statsmodels joblib", type("SMJoblib", (SMRun,), {"blas": "unset"}),
                      {"method": "joblib"}),
    "sm_pieces": Spec("statsmodels pieces of block 0", SMPieces),
}
DEFAULT = ["ours", "ours_full", "ours_naive", "nodewise"]
OURS = DEFAULT[:3]


# ------------------------------------------------------------------ report


def _t(x) -> str:
    return "n/a" if x is None else f"{x:,.1f}" if x >= 10 else f"{x:.3f}"


def _pieces_text(r, where="the same blocks") -> str:
    if "diff_local_coef" not in r:
        return ""
    return (f"; vs ours on {where}: max abs diff local lasso fit {r['diff_local_coef']:.1e}, "
            f"gradient {r['diff_grad']:.1e}, node-wise rows {r['diff_theta_rows']:.1e}; local "
            f"lasso KKT violation statsmodels {r['kkt_sm']:.1e} / ours {r['kkt_ours']:.1e}, "
            f"objective statsmodels - ours max {r['obj_excess_sm']:.1e}; statsmodels node-wise "
            f"KKT violation {r['kkt_sm_nodewise']:.1e}, objective - ours max "
            f"{r['obj_excess_sm_nodewise']:.1e}")


def _sweeps_text(sw) -> str:
    return "" if not sw else (
        f"; statsmodels sweeps: main fit(s) {sw['main_sweeps']} (converged "
        f"{sw['main_converged']}), {sw['nw_count']} node-wise fits, max {sw['nw_max_sweeps']} "
        f"sweeps, {sw['nw_not_converged']} not converged")


def _extra(name, r):
    if name in OURS:
        return (f", local_n_iter_ {r['local_n_iter']}, converged {r['converged']}, "
                f"{r['n_blocks']} blocks")
    if name == "nodewise":
        return (f", Sigma_0 {r['gram_s']:.3f} s, mosaic {r['mosaic_rows']} rows "
                f"{r['mosaic_s']:.4f} s ({r['mosaic_sweeps']} sweeps), all rows "
                f"{r['full_s']:.4f} s ({r['full_sweeps']} sweeps)")
    if name == "sm_pieces":
        return (f", block 0: main fit {r['main_s']:.1f} s, {r['rows_done']} of "
                f"{r['rows_share']} node-wise fits {runs(r['nodewise_s'])} s"
                + _sweeps_text(r["sweeps"]) + _pieces_text(r, "block 0"))
    return (f", {r['parts']} partitions ({r['method']})" + _sweeps_text(r.get("sweeps"))
            + _pieces_text(r))


def plan(calib, a, q):
    """Projection of statsmodels from the calibration (rows x scale) and the sequential
    run's (mode, partitions or node-wise fits, expected s) within the budget."""
    K = a.partitions
    scale = block_sizes(a.n, K)[0] / calib["n_rows"]
    main_ = calib["main_s"] * scale
    nw = statistics.mean(calib["nodewise_s"]) * scale if calib["nodewise_s"] else 0.0
    proj = {"main": main_, "nodewise": nw, "block": main_ + q * nw, "scale": scale}
    proj["seq"] = K * proj["block"]
    budget = min(a.sm_budget, a.deadline - time.perf_counter())
    mode = a.sm_mode if a.sm_mode != "auto" else (
        "full" if proj["seq"] <= budget else "partitions" if proj["block"] <= budget
        else "pieces")
    if mode == "full":
        return proj, budget, mode, K, proj["seq"]
    if mode == "partitions":
        parts = max(1, min(a.sm_parts, K, int(budget // max(proj["block"], 1e-9))))
        return proj, budget, mode, parts, parts * proj["block"]
    m = max(1, min(q, int((min(a.sm_piece_budget, budget) - main_) // max(nw, 1e-9))))
    return proj, budget, mode, m, main_ + m * nw


def run_statsmodels(rep, a, R, q):
    calib, err = run_case(MOD, "sm_calib", a, a.sm_timeout)
    if err:
        return rep(f"- sm_calib: {err}")
    proj, budget, mode, amount, expect = plan(calib, a, q)
    rep(f"- sm_calib (decision only): block 0, first {calib['n_rows']:,} rows: main fit "
        f"{calib['main_s']:.2f} s, node-wise fits {runs(calib['nodewise_s'])} s; x"
        f"{proj['scale']:.1f} rows -> projected per block {proj['block']:,.0f} s, sequential "
        f"{proj['seq']:,.0f} s; budget {budget:,.0f} s -> mode '{mode}' ({amount}, expected "
        f"{expect:,.0f} s)" + _sweeps_text(calib["sweeps"]))
    if mode == "pieces":
        R.update(run_all(rep, MOD, ["sm_pieces"], a, _extra, timeout=lambda _: a.sm_timeout,
                         sm_rows=amount))
        return rep(f"- sm_joblib: not run (one block is projected at {proj['block']:,.0f} s)")
    R.update(run_all(rep, MOD, ["sm_seq"], a, _extra, timeout=lambda _: a.sm_timeout,
                     parts=amount))
    if "times" not in R["sm_seq"]:
        return None
    t_seq, budget = R["sm_seq"]["times"][0], min(a.sm_budget, a.deadline - time.perf_counter())
    if mode == "full" and JOBLIB_FULL * t_seq <= budget:
        parts, expect = a.partitions, JOBLIB_FULL * t_seq
    else:
        parts, expect = min(a.cores, a.partitions), JOBLIB_ROUND * t_seq / amount
    if "sm_joblib" in a.skip:
        return None
    if expect > budget:
        R["sm_joblib"] = {"skipped": f"expected ~{expect:,.0f} s > budget {budget:,.0f} s"}
        return rep(f"- sm_joblib: not run: {R['sm_joblib']['skipped']}")
    limit = min(a.sm_timeout, max(600.0, 3 * expect))
    R.update(run_all(rep, MOD, ["sm_joblib"], a, _extra, timeout=lambda _: limit, parts=parts))


def run(args, rep):
    args.deadline = time.perf_counter() + args.time_limit
    out = {}
    for p in args.ps:
        n_k, q = block_sizes(args.n, args.partitions)[0], math.ceil(p / args.partitions)
        rep(f"## N = {args.n:,}, p = {p}, {args.partitions} partitions (n_k = {n_k:,}), "
            f"alpha = {args.alpha:g}")
        rep()
        rep(f"- data in memory: {mb(args.n * (p + 1) * 8)} MB; sqrt(log p / n_k) = "
            f"{math.sqrt(math.log(p) / n_k):.4f}; mosaic share ceil(p/K) = {q} rows per block")
        R = run_all(rep, MOD, [m for m in args.methods if m in DEFAULT], args, _extra,
                    p=p, parts=args.partitions, sm_rows=1)
        if args.sm_mode != "none":
            args.p = p
            run_statsmodels(rep, args, R, q)
        out[p] = R
        summarize(rep, args, p, R)
    return out


def _sm_row(name, r, K, ours):
    t = r["times"][0]
    if name == "sm_pieces":
        blk = r["main_s"] + r["rows_share"] * statistics.mean(r["nodewise_s"])
        proj, how = K * blk, (f"PROJECTED: block 0 (main fit + {r['rows_done']} of "
                              f"{r['rows_share']} node-wise fits, {_t(t)} s) x{K} blocks")
    elif r["parts"] == K:
        proj, how = t, "measured (full fit)"
    else:
        proj, how = t * K / r["parts"], f"PROJECTED: {r['parts']} of {K} partitions x{K}"
    diff = "n/a"
    if "coef" in r and ours:
        diff = f"{_maxdiff(r['coef'], ours['coef']):.1e} (vs ours)"
        if "coef_repaired" in r:
            diff += f"; join with our local fits {_maxdiff(r['coef_repaired'], ours['coef']):.1e}"
    if "diff_local_coef" in r:
        diff += (f"; per-block local fit {r['diff_local_coef']:.1e}, gradient "
                 f"{r['diff_grad']:.1e}, node-wise rows {r['diff_theta_rows']:.1e}")
    return proj, how, [f"statsmodels {r.get('method', 'sequential')}: {how}", f"{proj:,.1f}",
                       "", mb(r["peak"] - r["baseline"]), mb(r["peak"]), diff,
                       f"{max(r['other_cores']):.2f}"]


def summarize(rep, a, p, R) -> None:
    ours = R.get("ours") if "times" in R.get("ours", {}) else None
    rep()
    rep(f"### Results, N = {a.n:,}, p = {p}")
    rep()
    rows, sm = [], {}
    for name in OURS:
        r = R.get(name, {})
        if "times" in r:
            d = (f"{_maxdiff(r['coef'], R['sm_seq']['coef']):.1e} (full fit, sequential)"
                 if name == "ours" and "coef" in R.get("sm_seq", {}) else "n/a")
            rows.append([CASES[name].label, f"{med(r):.3f}", f"{min(r['times']):.3f}",
                         mb(r["peak"] - r["baseline"]), mb(r["peak"]), d,
                         f"{max(r['other_cores']):.2f}"])
    for name in ("sm_seq", "sm_joblib", "sm_pieces"):
        if "times" in R.get(name, {}):
            *sm[name], row = _sm_row(name, R[name], a.partitions, ours)
            rows.append(row)
    rep.table(["configuration", "time median (s)", "min (s)", "peak above base (MB)",
               "peak RSS (MB)", "max abs diff vs statsmodels", "other load (cores)"], rows,
              "lrrrrlr")
    _summary_lines(rep, a, p, R, ours, sm)


def _summary_lines(rep, a, p, R, ours, sm):
    t = med(ours) if ours else None
    if t and "times" in R.get("ours_naive", {}):
        share = t - med(R["ours_naive"])
        rep(f"- node-wise + debiasing share of our fit: ours - ours_naive = {share:.3f} s of "
            f"{t:.3f} s ({100 * share / t:.0f}%)")
    if t and "times" in R.get("ours_full", {}):
        rep(f"- nodewise='full' / 'mosaic': {med(R['ours_full']) / t:.2f}")
    for name, (proj, how) in sm.items():
        if t:
            rep(f"- ratio {name} / ours = {proj / t:,.0f}x ({how})")
    seq = sm.get("sm_seq") or sm.get("sm_pieces")
    if seq and t and p == 100:
        rep(f"- target (p = 100): >= 10x faster than statsmodels -> "
            f"{'MET' if seq[0] / t >= 10 else 'NOT MET'} ({seq[0] / t:,.0f}x)")
    if seq and "sm_joblib" not in sm:
        rep(f"- statsmodels joblib: not measured; with {a.cores} cores at best about "
            f"sequential / {a.cores} = {seq[0] / a.cores:,.0f} s (derived, not measured)")
    rep()


def rows(results, args):
    """Ours against statsmodels (its time projected when only part of it ran); oracle: its
    full fit, else the per-block local lasso fits of the blocks it ran."""
    from benchmarks.runner import combined_row

    out = []
    for p, R in results.items():
        ours, sm = R.get("ours", {}), R.get("sm_seq") or R.get("sm_pieces") or {}
        if "times" not in ours or "times" not in sm:
            continue
        peers = {}
        for name in ("sm_seq", "sm_joblib", "sm_pieces"):
            if "times" in R.get(name, {}):
                proj, how, _ = _sm_row(name, R[name], args.partitions, ours)
                tag = "" if how.startswith("measured") else " (projected)"
                peers[f"statsmodels {name[3:]}{tag}"] = {"times": [proj]}
        oracle, what = (sm["coef"], "statsmodels") if "coef" in sm else (
            None, f"per-block local fit vs statsmodels {sm.get('diff_local_coef', 0):.1e}")
        out.append(combined_row("DebiasedLassoRegressor", f"gaussian N={args.n:,} p={p}",
                                {**ours, "theta": ours["coef"]}, peers, oracle, what))
    return out


if __name__ == "__main__":
    main(importlib.import_module(MOD))
