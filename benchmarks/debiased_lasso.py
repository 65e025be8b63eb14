"""DebiasedLassoRegressor against statsmodels' DistributedModel, same partitions (README)."""

import contextlib
import importlib
import math
import statistics
import time
from unittest import mock

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, block_sizes, main, maxdiff, med, run_all, run_case, timed

TITLE = "Benchmark: DebiasedLassoRegressor vs statsmodels DistributedModel (same partitions)"
QUICK = {"n": 20_000, "ps": [20, 60], "sm_budget": 5.0, "time_limit": 600.0,
         "calib_rows": 1000, "sm_piece_budget": 5.0}
MEDIUM = {"n": 50_000, "ps": [40], "sm_budget": 40.0, "time_limit": 120.0,
          "calib_rows": 2000, "sm_piece_budget": 20.0, "sm_parts": 2}
MEDIUM_CASES = ["ours"]
TOL_NODEWISE = 1e-11  # the estimator's tol * 1e-3 (tol=1e-8)
JOBLIB_FULL, JOBLIB_ROUND = 1.5, 3.0  # decision only: joblib / sequential time factors
DATA = ("gaussian linear model, AR(1) features, 10 non-zero coefficients (3, 13, ..., 93; "
        "+-1 ... +-0.2), noise sd 1, no intercept; ours: DebiasedLassoRegressor(alpha, "
        "fit_intercept=False), threaded; statsmodels: DistributedModel(K, score_kwds scale=1), "
        "once")
OPTIONS = {"n": 1_000_000, "ps": [100, 500], "partitions": 10, "alpha": 0.01, "rho": 0.3,
           "sm_mode": "auto", "sm_budget": 1200.0, "sm_parts": 1, "time_limit": 3300.0,
           "sm_piece_budget": 300.0, "sm_maxiter": (int, None), "sm_timeout": 2400.0,
           "calib_rows": 20_000, "calib_nodewise": 2, "fit_budget": 300.0}


def block(p, k):
    return problems.sparse_gaussian(p.p, p.rho, p.seed).block(block_sizes(p.n, p.partitions)[k], k)


def lasso_check(Sigma, xy, yy, b, alpha):
    """(max KKT violation, objective) of b for ||y - X b||^2 / (2n) + alpha ||b||_1."""
    g = xy - Sigma @ b
    v = np.where(b == 0, np.maximum(np.abs(g) - alpha, 0.0), np.abs(g - alpha * np.sign(b)))
    obj = 0.5 * (yy - 2 * b @ xy + b @ Sigma @ b) + alpha * np.abs(b).sum()
    return float(v.max(initial=0.0)), float(obj)


def compare_pieces(pieces, blocks, p):
    """statsmodels' per-partition pieces (local fit, gradient, node-wise rows) against ours
    on the same blocks, with KKT / objective checks of both lasso fits: (the maxima over
    blocks and rows, our local fits)."""
    from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows
    out, local = {}, []
    for i, ((params, grad, nw_rows, nw_w), (y, X)) in enumerate(zip(pieces, blocks, strict=True)):
        n, q = X.shape
        rows = list(mosaic_rows(i, p.partitions, q))[: len(nw_rows)]
        b = adapters.ours("DebiasedLassoRegressor", X, y, alpha=p.alpha, method="naive",
                          fit_intercept=False, n_partitions=1).coef_
        xy, Sigma, yy = X.T @ y / n, X.T @ X / n, float(y @ y) / n
        th = theta_rows(Sigma, rows, np.full(q, p.alpha), TOL_NODEWISE)[0]
        local.append(b.tolist())
        (k_sm, o_sm), (k_o, o_o) = (lasso_check(Sigma, xy, yy, np.asarray(c), p.alpha)
                                    for c in (params, b))
        found = [("diff_local_coef", maxdiff(b, params)), ("diff_grad", maxdiff(
            Sigma @ b - xy, grad)), ("kkt_sm", k_sm), ("kkt_ours", k_o),
            ("obj_excess_sm", o_sm - o_o)]
        for r, j in enumerate(rows):
            ind, sm_row = np.arange(q) != j, np.ones(q)
            sm_row[ind] = -np.asarray(nw_rows[r])
            S, s_j = Sigma[np.ix_(ind, ind)], Sigma[ind, j]
            k, o = lasso_check(S, s_j, Sigma[j, j], np.asarray(nw_rows[r]), p.alpha)
            o_ours = lasso_check(S, s_j, Sigma[j, j], -th[r, ind] / th[r, j], p.alpha)[1]
            found += [("diff_theta_rows", maxdiff(th[r], sm_row / nw_w[r] ** 2)),
                      ("kkt_sm_nodewise", k), ("obj_excess_sm_nodewise", o - o_ours)]
        for key, v in found:
            out[key] = max(out.get(key, -np.inf), v)
    return out, local


@contextlib.contextmanager
def sweep_log(p):
    """statsmodels' coordinate descents while in the block: sweeps and convergence of the
    main fits (p columns) and the node-wise ones (p - 1), filled in at exit."""
    import statsmodels.base.elastic_net as en
    orig, calls, out = en._coord_descent, [], {}

    def logged(model, *a, **kw):
        res = orig(model, *a, **kw)
        calls.append((int(res[1]), bool(res[2]), int(model.exog.shape[1])))
        return res

    with mock.patch.object(en, "_coord_descent", logged):
        yield out
    main_, nw = ([c for c in calls if c[2] == q] for q in (p, p - 1))
    out.update(main_sweeps=[c[0] for c in main_], main_converged=[c[1] for c in main_],
               nw_count=len(nw), nw_max_sweeps=max((c[0] for c in nw), default=0),
               nw_not_converged=sum(not c[1] for c in nw))


class Ours(Case):
    blas, threads, kw = "cores", "cores", {}

    def problem(self):
        return problems.sparse_gaussian(self.p.p, self.p.rho, self.p.seed)

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
        (self.X, self.y), self.parts = block(self.p, 0), []

    def fit(self):
        from dask_glmdist.solvers.debiased_lasso import mosaic_rows, theta_rows
        n, q = self.X.shape
        rows, alpha = list(mosaic_rows(0, self.p.partitions, q)), np.full(q, self.p.alpha)
        with threadpool_limits(limits=1, user_api="blas"):
            Sigma, gram_s = timed(lambda: self.X.T @ self.X / n)
            mosaic, mosaic_s = timed(lambda: theta_rows(Sigma, rows, alpha, TOL_NODEWISE))
            full, full_s = timed(lambda: theta_rows(Sigma, range(q), alpha, TOL_NODEWISE))
            self.parts.append((gram_s, mosaic_s, full_s))
        return {"mosaic_rows": len(rows), "mosaic_sweeps": int(mosaic[2]),
                "full_sweeps": int(full[2])}

    def after(self):  # medians of the pieces over the repeats
        return dict(zip(("gram_s", "mosaic_s", "full_s"),
                        (statistics.median(c) for c in zip(*self.parts, strict=True)), strict=True))


class SM(Case):
    """statsmodels' DistributedModel on all K partitions or (by fit_sequential /
    fit_joblib) the first --parts; the sequential run keeps each partition's pieces, which
    ``after`` compares with ours. ``calib``: the blocks' first --calib-rows rows only."""

    repeats, blas, needs, method = 1, "cores", "statsmodels", "sequential"
    parts, calib = None, False

    def setup(self):
        import statsmodels.base.distributed_estimation  # noqa: F401
        self.tree, n = self.method == "joblib", self.p.calib_rows if self.calib else None
        self.blocks = [(y[:n].copy(), X[:n].copy()) if n else (y, X) for X, y in
                       (block(self.p, k) for k in range(self.parts or self.p.parts))]
        self.data_bytes = sum(X.nbytes + y.nbytes for y, X in self.blocks)

    def fit_kwds(self):
        sm_maxiter = self.p.sm_maxiter
        return {"alpha": self.p.alpha} | ({"maxiter": sm_maxiter} if sm_maxiter else {})

    def fit(self):
        with sweep_log(self.blocks[0][1].shape[1]) as sweeps:
            out = self.fit_sm()
        return {**out, "sweeps": sweeps if self.method == "sequential" else None}

    def fit_sm(self):
        from statsmodels.base.distributed_estimation import DistributedModel
        dm = DistributedModel(self.p.partitions, estimation_kwds={"score_kwds": {"scale": 1}})
        gen, est, captured, out = iter(self.blocks), dm.estimation_method, [], {}
        if self.method == "sequential":  # keep each partition's pieces for the checks
            dm.estimation_method = lambda *a, **k: captured.append(est(*a, **k)) or captured[-1]
        if self.p.parts == self.p.partitions:
            out["coef"] = np.asarray(dm.fit(gen, fit_kwds=self.fit_kwds(),
                                            parallel_method=self.method).params).tolist()
        elif self.method == "sequential":
            captured = dm.fit_sequential(gen, self.fit_kwds())
        else:
            dm.fit_joblib(gen, self.fit_kwds(), None)
        self.captured = captured
        return {**out, "parts": self.p.parts, "method": self.method}

    def after(self):
        if not self.captured:
            return {}
        out, local = compare_pieces(self.captured, self.blocks, self.p)
        if len(self.captured) == self.p.partitions:  # statsmodels' join with our local fits
            from statsmodels.base.distributed_estimation import _calc_grad, _join_debiased
            from statsmodels.regression.linear_model import OLS
            fixed = [(b, _calc_grad(OLS(y, X), np.asarray(b), self.p.alpha, 1, {"scale": 1})
                      / y.shape[0], rows, w) for b, (_, _, rows, w), (y, X)
                     in zip(local, self.captured, self.blocks, strict=True)]
            out["coef_repaired"] = np.asarray(_join_debiased(fixed)).tolist()
        return out


class Pieces(SM):
    """On block 0, statsmodels' main fit and the first m node-wise regressions of its mosaic
    share (m: --sm-rows; calibration: --calib-nodewise)."""

    parts = 1

    def fit_sm(self):
        import statsmodels.base.distributed_estimation as de
        import statsmodels.stats.regularized_covariance as rc
        from statsmodels.regression.linear_model import OLS

        from dask_glmdist.solvers.debiased_lasso import mosaic_rows
        (y, X), a = self.blocks[0], self.p.alpha
        rows = list(mosaic_rows(0, self.p.partitions, X.shape[1]))
        m = min(len(rows), self.p.calib_nodewise if self.calib else self.p.sm_rows)
        t0 = time.perf_counter()
        mod = OLS(y, X)
        params = mod.fit_regularized(**self.fit_kwds()).params
        grad = de._calc_grad(mod, params, a, 1, {"scale": 1}) / X.shape[0]
        wexog = de._calc_wdesign_mat(mod, params, {})
        t1, nw_rows, nw_w, nw_t = time.perf_counter(), [], [], []
        for j in rows[:m]:
            s = time.perf_counter()
            nw_rows.append(rc._calc_nodewise_row(wexog, j, a))
            nw_w.append(rc._calc_nodewise_weight(wexog, nw_rows[-1], j, a))
            nw_t.append(time.perf_counter() - s)
        self.captured = [(params, grad, nw_rows, np.asarray(nw_w))]
        return {"main_s": t1 - t0, "nodewise_s": nw_t, "rows_share": len(rows),
                "rows_done": m, "n_rows": X.shape[0]}


CASES = {
    "ours": Spec("ours: DebiasedLassoRegressor (debiased, nodewise='mosaic')", Ours),
    "ours_full": Spec("ours: nodewise='full'", Ours, {"kw": {"nodewise": "full"}}),
    "ours_naive": Spec("ours: method='naive' (no node-wise step)", Ours,
                       {"kw": {"method": "naive"}}),
    "nodewise": Spec("node-wise step alone, block 0", Nodewise),
    "sm_calib": Spec("statsmodels calibration", Pieces, {"calib": True}),
    "sm_seq": Spec("statsmodels sequential", SM),
    "sm_joblib": Spec("statsmodels joblib", SM, {"method": "joblib", "blas": "unset"}),
    "sm_pieces": Spec("statsmodels pieces of block 0", Pieces),
}
DEFAULT = ["ours", "ours_full", "ours_naive", "nodewise"]
OURS, SMS = DEFAULT[:3], ["sm_seq", "sm_joblib", "sm_pieces"]


def run_statsmodels(rep, a, R, q):
    """Calibrate statsmodels on a slice of block 0, then run as much of it as the budget
    allows (--sm-mode auto): all K partitions ("full"), the first few ("partitions"), or
    block 0's main fit and m node-wise fits ("pieces"); then joblib: all partitions when
    ~1.5 x the sequential time fits the budget, else one round of min(cores, K)."""
    calib, err = run_case("sm_calib", a, a.sm_timeout)
    if err:
        return rep(f"- sm_calib: {err}")
    K, budget = a.partitions, min(a.sm_budget, a.deadline - time.perf_counter())
    scale = block_sizes(a.n, K)[0] / calib["n_rows"]
    main_, nw = calib["main_s"] * scale, statistics.mean(calib["nodewise_s"] or [0]) * scale
    blk = main_ + q * nw
    mode = a.sm_mode if a.sm_mode != "auto" else (
        "full" if K * blk <= budget else "partitions" if blk <= budget else "pieces")
    shown = {k: calib[k] for k in ("n_rows", "main_s", "nodewise_s", "sweeps")}
    rep(f"- sm_calib (decision only): {runner.fmt(shown)}; x{scale:.1f} rows -> projected per "
        f"block {blk:,.0f} s, sequential {K * blk:,.0f} s; budget {budget:,.0f} s -> '{mode}'")
    if mode == "pieces":
        m = max(1, min(q, int((min(a.sm_piece_budget, budget) - main_) // max(nw, 1e-9))))
        return R.update(run_all(rep, ["sm_pieces"], a, timeout=a.sm_timeout, sm_rows=m))
    parts = K if mode == "full" else max(1, min(a.sm_parts, K, int(budget // max(blk, 1e-9))))
    R.update(run_all(rep, ["sm_seq"], a, timeout=a.sm_timeout, parts=parts))
    if "times" not in R["sm_seq"] or "sm_joblib" in a.skip:
        return None
    t_seq, budget = R["sm_seq"]["times"][0], min(a.sm_budget, a.deadline - time.perf_counter())
    full = mode == "full" and JOBLIB_FULL * t_seq <= budget
    jparts, expect = (K, JOBLIB_FULL * t_seq) if full else (min(a.cores, K),
                                                            JOBLIB_ROUND * t_seq / parts)
    if expect > budget:
        R["sm_joblib"] = {"skipped": f"expected ~{expect:,.0f} s > budget {budget:,.0f} s"}
        return rep(f"- sm_joblib: not run: {R['sm_joblib']['skipped']}")
    R.update(run_all(rep, ["sm_joblib"], a, timeout=min(a.sm_timeout, max(600.0, 3 * expect)),
                     parts=jparts))


def run(args, rep):
    args.deadline = time.perf_counter() + args.time_limit
    out = {}
    for p in args.ps:
        args.p, args.parts, args.sm_rows = p, args.partitions, 1  # (the cases' options)
        n_k, q = block_sizes(args.n, args.partitions)[0], math.ceil(p / args.partitions)
        rep(f"## N = {args.n:,}, p = {p}, {args.partitions} partitions (n_k = {n_k:,}), "
            f"alpha = {args.alpha:g}\n\n- data in memory: {runner.mb(args.n * (p + 1) * 8)} "
            f"MB; sqrt(log p / n_k) = {math.sqrt(math.log(p) / n_k):.4f}; mosaic share "
            f"ceil(p/K) = {q} rows per block")
        R = out[p] = run_all(rep, [m for m in args.methods if m in DEFAULT], args)
        if args.sm_mode != "none":
            run_statsmodels(rep, args, R, q)
        summarize(rep, args, p, R)
    return out


def projection(name, r, K):
    """(projected time of statsmodels' full fit, how) from a run of part of it."""
    t = r["times"][0]
    if name == "sm_pieces":
        blk = r["main_s"] + r["rows_share"] * statistics.mean(r["nodewise_s"])
        return K * blk, (f"PROJECTED: block 0 (main fit + {r['rows_done']} of "
                         f"{r['rows_share']} node-wise fits, {t:.3g} s) x{K} blocks")
    if r["parts"] == K:
        return t, "measured (full fit)"
    return t * K / r["parts"], f"PROJECTED: {r['parts']} of {K} partitions x{K}"


def _diff(name, r, R):
    sm, ours = R.get("sm_seq", {}), R.get("ours", {})
    if name in OURS:
        return f"{maxdiff(r['coef'], sm['coef']):.1e}" if name == "ours" and "coef" in sm else "n/a"
    out = [f"{maxdiff(r[k], ours['coef']):.1e} ({k})" for k in ("coef", "coef_repaired")
           if k in r and "coef" in ours]
    return "; ".join(out + [f"per-block {k} {r[k]:.1e}" for k in ("diff_local_coef",
                            "diff_grad", "diff_theta_rows") if k in r]) or "n/a"


def summarize(rep, a, p, R) -> None:
    shown = {m: R[m] for m in OURS + SMS if m in R}
    sm = {m: projection(m, r, a.partitions) for m, r in shown.items() if m in SMS and "times" in r}
    rep(f"\n### Results, N = {a.n:,}, p = {p}\n")
    rep.cases(shown, CASES, {
        "statsmodels full fit (s)": lambda m, r: f"{sm[m][0]:,.1f}: {sm[m][1]}" if m in sm
        else "", "max abs diff vs statsmodels / ours": lambda m, r: _diff(m, r, R)})
    t = med(R["ours"]) if "times" in R.get("ours", {}) else None
    if t and "times" in R.get("ours_naive", {}):
        share = t - med(R["ours_naive"])
        rep(f"- node-wise + debiasing share of our fit: ours - ours_naive = {share:.3f} s of "
            f"{t:.3f} s ({100 * share / t:.0f}%)")
    if t and "times" in R.get("ours_full", {}):
        rep(f"- nodewise='full' / 'mosaic': {med(R['ours_full']) / t:.2f}")
    for name, (proj, how) in sm.items() if t else ():
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
    out = []
    for p, R in results.items():
        ours, sm = R.get("ours", {}), R.get("sm_seq") or R.get("sm_pieces") or {}
        if "times" not in ours or "times" not in sm:
            continue
        peers = {f"statsmodels {m[3:]}" + ("" if how.startswith("measured") else
                                           " (projected)"): {"times": [proj]}
                 for m in SMS if "times" in R.get(m, {})
                 for proj, how in [projection(m, R[m], args.partitions)]}
        oracle, what = (sm["coef"], "statsmodels") if "coef" in sm else (
            None, f"per-block local fit vs statsmodels {sm.get('diff_local_coef', 0):.1e}")
        out.append(runner.combined_row("DebiasedLassoRegressor", f"gaussian N={args.n:,} p={p}",
                                       {**ours, "theta": ours["coef"]}, peers, oracle, what))
    return out


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
