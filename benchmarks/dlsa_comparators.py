"""The DLSA paper's comparison (issue 16; see README): OS, CSL, DLSA and TDLSA against the
global MLE on the paper's designs, REE and CP as in its Tables 1-3 (Setting 2) and 7-8
(Setting 1), next to the paper's numbers.

Each case is one example (1 linear, 2 logistic, 3 Poisson) run ``--reps`` times at every
``--sizes`` N:K, data from :func:`dask_glmdist.datasets.make_dlsa_example` (no intercept),
in one worker process. REE_j = RMSE_j(global MLE) / RMSE_j(method) (section 4.3); CP_j:
the share of replications whose 95% interval ``params_ +- 1.96 bse_`` covers theta_0j.
CSL's master is the first block: the data as generated put the block of mean 1/K first;
the paper's CSL numbers are reproduced with the block of mean 1 first (the rows rotated,
which changes nothing for the other methods), so both are shown.
"""

import importlib

import numpy as np

from benchmarks.runner import Case, Spec, main, run_all

TITLE = "The DLSA paper's comparators: OS, CSL, DLSA, TDLSA against the global MLE (REE, CP)"
DATA = ("make_dlsa_example(N, K, example, setting): the paper's Examples 1-3 (no intercept), "
        "Setting 2 = block k's covariates N(k/K, rho_k^|i-j|), rho_k ~ U[0.2, 0.3]")
OPTIONS = {"sizes": ["20000:10", "100000:20"], "reps": 100, "setting": 2}
QUICK = {"sizes": ["2000:4"], "reps": 2}
MEDIUM = {"sizes": ["20000:10"], "reps": 20}

#: the estimators of the table: (label, estimator keywords, CSL master's mean)
COLUMNS = {
    "OS": dict(method="one_shot", refine_steps=0),
    "CSL": dict(method="csl", refine_steps=0),          # master: the block of mean 1
    "CSL (master 1/K)": dict(method="csl", refine_steps=0),
    "DLSA": dict(refine_steps=0),
    "TDLSA": dict(refine_steps=1),
}
FAMILY = {1: "gaussian", 2: "binomial", 3: "poisson"}

#: the paper's Setting 2 numbers (Tables 1-2; REE, CP in %), keyed (example, N, K). Table 3
#: (Poisson) is a verbatim copy of Table 2 in our copy of the paper, so none for it.
PAPER = {
    (1, 20_000, 10): {
        "OS": ([.98, 1.00, .99, 1.00, 1.00, .99, .99, .98], None),
        "CSL": ([.94, .93, .94, .94, .95, .96, .93, .96],
                [94.2, 93.6, 95.4, 92.2, 92.8, 92.6, 91.0, 91.2]),
        "DLSA": ([1.0] * 8, [96.0, 94.8, 96.8, 94.0, 94.6, 94.0, 94.0, 93.0]),
        "TDLSA": ([1.0] * 8, [96.0, 94.8, 96.8, 94.0, 94.6, 94.0, 94.0, 93.0])},
    (1, 100_000, 20): {
        "OS": ([1.00, .99, 1.00, 1.00, 1.00, .99, 1.00, .99], None),
        "CSL": ([.93, .91, .92, .91, .93, .92, .92, .92],
                [93.2, 91.0, 92.0, 92.6, 92.0, 91.6, 92.4, 90.6]),
        "DLSA": ([1.0] * 8, [95.4, 95.4, 94.6, 94.6, 95.6, 93.8, 94.4, 94.6]),
        "TDLSA": ([1.0] * 8, [95.4, 95.4, 94.6, 94.6, 95.6, 93.8, 94.4, 94.6])},
    (2, 20_000, 10): {
        "OS": ([.76, .87, .87, .79, .89, .91, .78, .88], None),
        "CSL": ([.15, .17, .18, .16, .19, .17, .16, .17],
                [40.8, 43.0, 42.6, 42.0, 44.8, 42.0, 43.6, 40.0]),
        "DLSA": ([.88, 1.01, 1.01, .94, 1.01, 1.01, .90, 1.01],
                 [90.0, 95.8, 95.8, 92.6, 96.0, 96.0, 92.4, 95.0]),
        "TDLSA": ([1.0] * 8, [95.6, 96.0, 95.6, 95.0, 95.6, 95.4, 95.0, 95.0])},
    (2, 100_000, 20): {
        "OS": ([.77, .95, .95, .84, .95, .93, .82, .93], None),
        "CSL": ([.12, .13, .13, .12, .14, .13, .12, .12],
                [31.8, 29.0, 29.2, 29.8, 30.0, 26.2, 29.4, 29.2]),
        "DLSA": ([.92, 1.00, 1.01, .94, 1.00, 1.01, .92, 1.01],
                 [92.6, 94.6, 94.2, 93.2, 93.2, 96.0, 92.8, 95.4]),
        "TDLSA": ([1.0] * 8, [95.6, 94.8, 94.2, 94.0, 93.4, 95.6, 94.6, 95.4])},
}


def _rotated(X, y, K):
    """The rows with the last of the K equal blocks (covariate mean 1) moved first."""
    n = X.shape[0] // K
    return np.concatenate([X[-n:], X[:-n]]), np.concatenate([y[-n:], y[:-n]])


def replicate(example, N, K, seed, setting=2):
    """One replication: {column: (params_, bse_)} and the global MLE (statsmodels)."""
    import statsmodels.api as sm

    from dask_glmdist import DLSALogisticRegression, DLSARegressor
    from dask_glmdist.datasets import make_dlsa_example

    X, y, theta = make_dlsa_example(N, K, example=example, setting=setting,
                                    random_state=seed, as_dask=False)
    family = FAMILY[example]
    sm_family = {"gaussian": sm.families.Gaussian(), "binomial": sm.families.Binomial(),
                 "poisson": sm.families.Poisson()}[family]
    out = {"MLE": (sm.GLM(y, X, family=sm_family).fit(tol=1e-12).params, None)}
    for name, kw in COLUMNS.items():
        Xn, yn = _rotated(X, y, K) if name == "CSL" else (X, y)
        est = (DLSALogisticRegression(fit_intercept=False, n_partitions=K, **kw)
               if family == "binomial" else
               DLSARegressor(family, fit_intercept=False, n_partitions=K, **kw))
        est.fit(Xn, yn)
        out[name] = (est.params_, est.bse_)
    return out, theta


def monte_carlo(example, N, K, reps, seed=0, setting=2):
    """REE and CP (in %) per column and coefficient over ``reps`` replications."""
    est, theta = {}, None
    for r in range(reps):
        one, theta = replicate(example, N, K, seed * 100_003 + r, setting)
        for name, v in one.items():
            est.setdefault(name, []).append(v)
    err = {k: np.array([p for p, _ in v]) - theta for k, v in est.items()}
    rmse = {k: np.sqrt(np.mean(e**2, axis=0)) for k, e in err.items()}
    ree = {k: rmse["MLE"] / rmse[k] for k in COLUMNS}
    cp = {k: 100 * np.mean(np.abs(err[k]) <= 1.959964 * np.array([s for _, s in est[k]]),
                           axis=0) for k in COLUMNS}
    return ree, cp


class MonteCarlo(Case):
    """All ``--sizes`` of one example, timed as one fit: {"rows": {"N:K": {"ree": ...,
    "cp": ...}}} (the key the per-case line does not print)."""

    threads, repeats, example = "cores", 1, 1

    def fit(self):
        out = {}
        for size in self.p.sizes:
            N, K = map(int, size.split(":"))
            ree, cp = monte_carlo(self.example, N, K, self.p.reps, self.p.seed,
                                  self.p.setting)
            out[size] = {"ree": {k: v.tolist() for k, v in ree.items()},
                         "cp": {k: v.tolist() for k, v in cp.items()}}
        return {"rows": out}


CASES = {f"example{e}": Spec(f"Example {e} ({FAMILY[e]})", MonteCarlo, {"example": e})
         for e in FAMILY}
DEFAULT = list(CASES)


def _cells(values, fmt):
    return [fmt.format(v) for v in values]


def report(rep, results, args) -> None:
    """Per example and size: our REE (CP) next to the paper's."""
    for name, res in results.items():
        e = CASES[name].kw["example"]
        if "rows" not in res:
            rep(f"- {CASES[name].label}: {res.get('skipped', res)}\n")
            continue
        for size, r in res["rows"].items():
            N, K = map(int, size.split(":"))
            p = len(r["ree"]["OS"])
            rep(f"### {CASES[name].label}, Setting {args.setting}, N = {N:,}, K = {K}, "
                f"{args.reps} replications\n")
            head = ["estimator", "", *[f"theta{j + 1}" for j in range(p)], "mean"]
            rows = []
            for col in COLUMNS:
                ree, cp = np.array(r["ree"][col]), np.array(r["cp"][col])
                rows.append([col, "REE", *_cells(ree, "{:.2f}"), f"{ree.mean():.2f}"])
                rows.append(["", "CP %", *_cells(cp, "{:.1f}"), f"{cp.mean():.1f}"])
                paper = PAPER.get((e, N, K), {}).get(col) if args.setting == 2 else None
                if paper:
                    rows.append(["", "paper REE", *_cells(paper[0], "{:.2f}"),
                                 f"{np.mean(paper[0]):.2f}"])
                    if paper[1]:
                        rows.append(["", "paper CP %", *_cells(paper[1], "{:.1f}"),
                                     f"{np.mean(paper[1]):.1f}"])
            rep.table(head, rows, "ll" + "r" * (p + 1))


def run(args, rep):
    results = run_all(rep, args.methods, args, timeout=args.timeout)
    report(rep, results, args)
    return results


def rows(results, args):
    return []  # a Monte Carlo study: no timing row for the combined medium table


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
