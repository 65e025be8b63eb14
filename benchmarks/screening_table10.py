"""The DLSA paper's Table 10: coverage of the 15 true features by the top 40 of each
screening measure, (N, p, K) = (2000, 1000, 5), Settings 1 and 2, linear and logistic.

Setting 1: covariates iid N(0, 1). Setting 2: block k's covariates N(k/K, Sigma_k) with
``Sigma_k = rho_k^|i-j|``, ``rho_k ~ U[0.2, 0.3]``. The first 15 coefficients are
``U1 sign(U2)``, ``U1 ~ U[0.5, 2]``, ``U2 ~ U[-0.2, 0.8]`` (drawn per replication), the
others 0; linear: ``y = X theta + N(0, 1)``; logistic: ``P(y = 1) = 1 / (1 + exp(-X
theta))``. A replication covers when the top 40 contain all 15.

    python -m benchmarks.screening_table10 [--reps 100] [--seed 0] [--configs 1:linear ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MEASURES = ("pearson", "sirs", "kendall", "dc")  # the paper's column order: SIS SIRS KC DC
# the paper's Table 10, (N, K) = (2000, 5): {(setting, model): [SIS, SIRS, KC, DC]}
PAPER = {(1, "linear"): [1.00, 0.71, 0.87, 0.91], (1, "logistic"): [0.99, 0.48, 0.73, 0.89],
         (2, "linear"): [0.98, 0.73, 0.79, 0.84], (2, "logistic"): [0.95, 0.55, 0.73, 0.85]}
N_TRUE, KEEP = 15, 40


def simulate(rng, setting, model, N=2000, p=1000, K=5):
    """One replication's data as K row blocks: lists of (X_k, y_k)."""
    theta = np.zeros(p)
    theta[:N_TRUE] = rng.uniform(0.5, 2, N_TRUE) * np.sign(rng.uniform(-0.2, 0.8, N_TRUE))
    sizes = np.full(K, N // K)
    sizes[: N % K] += 1
    blocks = []
    for k, n in enumerate(sizes, start=1):
        e = rng.standard_normal((n, p))
        if setting == 1:
            X = e
        else:  # AR(1) across the columns: unit variances, correlations rho^|i-j|
            rho = rng.uniform(0.2, 0.3)
            X = np.empty((n, p))
            X[:, 0] = e[:, 0]
            s = np.sqrt(1 - rho * rho)
            for j in range(1, p):
                X[:, j] = rho * X[:, j - 1] + s * e[:, j]
            X += k / K
        eta = X @ theta
        if model == "linear":
            y = eta + rng.standard_normal(n)
        else:
            y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float64)
        blocks.append((X, y))
    return blocks


def covered(scores) -> bool:
    top = np.argsort(np.where(np.isnan(scores), np.inf, -scores), kind="stable")[:KEEP]
    return bool(np.isin(np.arange(N_TRUE), top).all())


def coverage(setting, model, reps, seed=0, measures=MEASURES, N=2000, p=1000, K=5,
             verbose=False):
    """Coverage rate of each measure over ``reps`` replications (same data for all)."""
    import dask.array as da

    from dask_glmdist import screen

    rng = np.random.default_rng([seed, setting, model == "logistic"])
    hits = dict.fromkeys(measures, 0)
    for r in range(reps):
        if verbose and r and r % 10 == 0:
            print(f"  setting {setting} {model}: {r} replications, hits {hits}", flush=True)
        blocks = simulate(rng, setting, model, N, p, K)
        X = da.concatenate([da.from_array(b[0], chunks=b[0].shape) for b in blocks])
        y = da.concatenate([da.from_array(b[1], chunks=b[1].shape) for b in blocks])
        for m in measures:
            hits[m] += covered(screen(X, y, method=m))
    return {m: hits[m] / reps for m in measures}


def binomial_se(rate, reps):
    return np.sqrt(max(rate * (1 - rate), 1.0 / reps) / reps)


CONFIGS = [(1, "linear"), (1, "logistic"), (2, "linear"), (2, "logistic")]


def table(reps, seed=0, configs=CONFIGS):
    """Markdown lines: ours and the paper's side by side, with 3 binomial SEs."""
    lines = ["| Setting | model | measure | ours | paper | ours - paper | 3 SE |",
             "|---|---|---|---|---|---|---|"]
    results = {}
    for setting, model in configs:
        t = time.perf_counter()
        cr = coverage(setting, model, reps, seed, verbose=True)
        results[(setting, model)] = cr
        for m, paper in zip(MEASURES, PAPER[(setting, model)], strict=True):
            se = binomial_se(paper, reps)
            lines.append(f"| {setting} | {model} | {m} | {cr[m]:.2f} | {paper:.2f} | "
                         f"{cr[m] - paper:+.2f} | {3 * se:.2f} |")
        print(f"setting {setting} {model}: {cr} ({time.perf_counter() - t:.0f} s)",
              flush=True)
    return results, lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", nargs="+", default=[f"{s}:{m}" for s, m in CONFIGS],
                    help="setting:model pairs, e.g. 1:linear 2:logistic")
    args = ap.parse_args(argv)
    configs = [(int(c.split(":")[0]), c.split(":")[1]) for c in args.configs]
    _, lines = table(args.reps, args.seed, configs)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
