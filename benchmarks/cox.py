"""Distributed Cox regression (issue 16; see README).

Proportional hazards data: --p AR(1)(0.5) features, event times exponential with rate
exp(x beta) (beta: sd(eta) 0.5), independent exponential censoring (~30% censored),
times rounded to 1/1000 of their scale (ties: Efron's correction matters). Ours: a
``DLSACoxRegression`` on --partitions persisted dask blocks (threaded scheduler, --cores
threads) with ``refine_steps`` 0 (one round), 1 (the default) and 10 (the block-stratified
MLE). Peers in memory on the same rows: lifelines' ``CoxPHFitter`` (run with the --venv
Python: lifelines pins pandas < 3) and statsmodels' ``PHReg``, at --n and at --peer-n rows
(statsmodels loops in Python over the distinct event times), ours again at --peer-n in one
block (the global fit, compared with the peers' coefficients).

    python -m benchmarks.cox --venv /path/to/venv-with-lifelines
"""

import importlib

import numpy as np

from benchmarks import runner
from benchmarks.problems import AR1, ar1_scaled, block_sizes
from benchmarks.runner import Case, Spec, main, med

TITLE = "Benchmark: distributed Cox regression (issue 16)"
DATA = ("--p AR(1)(0.5) features, exponential event times with rate exp(x beta) (sd(eta) 0.5), "
        "exponential censoring (~30%), times rounded to 1/1000 of their scale (ties); "
        "--partitions dask blocks generated from the seed and persisted (threaded scheduler, "
        "--cores threads); the peers in memory on the same rows")
OPTIONS = {"n": 2_000_000, "p": 20, "partitions": 20, "peer_n": 200_000, "ties": "efron",
           "fit_budget": 600.0, "max_wait": 10.0, "repeats": 1}
QUICK = {"n": 20_000, "p": 5, "partitions": 4, "peer_n": 5_000}
MEDIUM = {"n": 200_000, "p": 20, "partitions": 8, "peer_n": 50_000}


class Survival(AR1):
    """AR1 rows; ``fill`` returns the block's durations, ``events`` its event indicator
    (from the block's own stream, drawn together)."""

    def times(self, X: np.ndarray, k: int):
        rng = np.random.default_rng([self.seed, 16, k])
        eta = X @ self.beta
        t = rng.exponential(np.exp(-eta))
        c = rng.exponential(2.0, X.shape[0])
        return np.ceil(np.minimum(t, c) * 1000) / 1000, (t <= c).astype(np.float64)

    def part(self, n: int, k: int, b: int):
        X = np.empty((block_sizes(n, k)[b], self.p))
        AR1.fill(self, X, b)
        return (X, *self.times(X, b))

    def numpy(self, n: int, k: int):
        parts = [self.part(n, k, b) for b in range(k)]
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def dask(self, n: int, k: int):
        import dask
        import dask.array as da
        blocks = [dask.delayed(self.part, nout=3, pure=True)(n, k, b) for b in range(k)]
        sizes = block_sizes(n, k)
        X = da.concatenate([da.from_delayed(b[0], (m, self.p), np.float64)
                            for b, m in zip(blocks, sizes, strict=True)])
        t, e = (da.concatenate([da.from_delayed(b[i], (m,), np.float64)
                                for b, m in zip(blocks, sizes, strict=True)]) for i in (1, 2))
        return dask.persist(X, t, e, scheduler="threads")


def problem(p: int, seed: int) -> Survival:
    beta = ar1_scaled(np.linspace(1.0, -1.0, p), 0.5, 0.5)
    return Survival(p, 0.5, beta, response="gaussian", seed=seed)


class Ours(Case):
    """``DLSACoxRegression(refine_steps=...)`` on persisted blocks (``blocks`` 1: the rows
    in one block, the global fit)."""

    blas, threads, data = "cores", "cores", "none"
    refine, blocks = 1, None

    def setup(self):
        super().setup()
        prob, k = problem(self.p.p, self.p.seed), self.blocks or self.p.partitions
        self.X, self.t, self.e = prob.dask(self.p.n, k) if k > 1 else prob.numpy(
            self.p.n, self.p.partitions)

    def fit(self):
        from dask_glmdist import DLSACoxRegression
        one = {"n_partitions": 1} if self.blocks == 1 else {}
        m = DLSACoxRegression(ties=self.p.ties, refine_steps=self.refine, **one).fit(
            self.X, self.t, self.e)
        return {"theta": m.coef_.tolist(), "bse": m.bse_.tolist(), "n_rounds": m.n_rounds_,
                "n_iter": m.n_iter_, "converged": bool(m.converged_)}


class Peer(Case):
    """lifelines ``CoxPHFitter`` (``how`` "lifelines") or statsmodels ``PHReg`` in memory."""

    blas, how = "cores", "lifelines"

    def setup(self):
        self.X, self.t, self.e = problem(self.p.p, self.p.seed).numpy(self.p.n,
                                                                       self.p.partitions)

    def fit(self):
        if self.how == "statsmodels":
            import statsmodels.api as sm
            res = sm.PHReg(self.t, self.X, status=self.e, ties=self.p.ties).fit()
            return {"theta": res.params.tolist(), "bse": res.bse.tolist()}
        import pandas as pd
        from lifelines import CoxPHFitter
        df = pd.DataFrame(self.X, columns=[f"x{j}" for j in range(self.X.shape[1])])
        df["T"], df["E"] = self.t, self.e
        cph = CoxPHFitter().fit(df, "T", "E")
        return {"theta": cph.params_.tolist(), "bse": cph.standard_errors_.tolist()}


CASES = {
    "dlsa_one_round": Spec("DLSACoxRegression(refine_steps=0)", Ours, {"refine": 0}),
    "dlsa": Spec("DLSACoxRegression(refine_steps=1)", Ours),
    "dlsa_mle": Spec("DLSACoxRegression(refine_steps=10): block-stratified MLE", Ours,
                     {"refine": 10}),
    "lifelines": Spec("lifelines CoxPHFitter (in memory)", Peer,
                      {"venv": True, "needs": "lifelines"}),
    "statsmodels": Spec("statsmodels PHReg (in memory)", Peer,
                        {"how": "statsmodels", "needs": "statsmodels"}),
    "peer_n_global": Spec("DLSACoxRegression, one block (--peer-n): the global fit", Ours,
                          {"blocks": 1}),
    "peer_n_lifelines": Spec("lifelines CoxPHFitter (--peer-n)", Peer,
                             {"venv": True, "needs": "lifelines"}),
    "peer_n_statsmodels": Spec("statsmodels PHReg (--peer-n)", Peer,
                               {"how": "statsmodels", "needs": "statsmodels"}),
}
DEFAULT = list(CASES)


def _diff(res, a, b) -> str:
    x, y = res.get(a, {}).get("theta"), res.get(b, {}).get("theta")
    return f"{np.max(np.abs(np.subtract(x, y))):.1e}" if x and y else ""


def run(args, rep):
    res = {}
    for name in args.methods:
        n = args.peer_n if name.startswith("peer_n_") else args.n
        res |= runner.run_all(rep, [name], args, n=n)
    rep()
    rep.cases(res, CASES, {"rounds": "n_rounds", "converged": "converged",
                           "max |coef - lifelines|": lambda m, r: _diff(
                               res, m, "peer_n_lifelines" if m.startswith("peer_n") else
                               "lifelines"),
                           "max |coef - statsmodels|": lambda m, r: _diff(
                               res, m, "peer_n_statsmodels" if m.startswith("peer_n") else
                               "statsmodels")})
    summary(rep, res, args)
    return res


def summary(rep, res, args) -> None:
    def t(name):
        r = res.get(name, {})
        return med(r) if "times" in r else None

    def peak(name):
        r = res.get(name, {})
        return runner.mb(r["peak"] - r["baseline"]) if "times" in r else ""

    ours = t("dlsa")
    rep(f"## {args.n:,} x {args.p} in {args.partitions} blocks, ties={args.ties}\n")
    rows = []
    for name in ("dlsa_one_round", "dlsa", "dlsa_mle", "lifelines", "statsmodels"):
        tn = t(name)
        rows.append([CASES[name].label, f"{tn:.2f}" if tn else res.get(name, {}).get(
            "skipped", "")[:50], f"{tn / ours:.2f}" if tn and ours else "", peak(name)])
    rep.table(["fit", "time (s)", "time / DLSA(refine_steps=1)", "peak above base (MB)"],
              rows, "lrrr")
    g = t("peer_n_global")
    rows = [[CASES[n].label, f"{t(n):.2f}" if t(n) else res.get(n, {}).get("skipped", "")[:50],
             f"{t(n) / g:.2f}" if t(n) and g else "", peak(n)]
            for n in ("peer_n_global", "peer_n_lifelines", "peer_n_statsmodels")]
    rep(f"### The global fit at {args.peer_n:,} rows in memory\n")
    rep.table(["fit", "time (s)", "time / ours", "peak above base (MB)"], rows, "lrrr")


def rows(results, args):
    """The combined table's row (``python -m benchmarks medium``): the global fit at
    --peer-n rows against the peers, statsmodels' coefficients the oracle."""
    r = results
    if "times" not in r.get("peer_n_global", {}):
        return []
    return [runner.combined_row(
        "DLSACoxRegression (one block)", f"Cox N={args.peer_n:,} p={args.p}", r["peer_n_global"],
        {"lifelines": r.get("peer_n_lifelines", {}),
         "statsmodels": r.get("peer_n_statsmodels", {})},
        r.get("peer_n_statsmodels", {}).get("theta"), "statsmodels")]


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
