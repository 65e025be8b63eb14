"""scipy.sparse input: densified per row block vs the same values given dense (README)."""

import importlib
import tracemalloc

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from benchmarks import adapters, problems
from benchmarks.runner import Case, Spec, main, median_time, run_case

TITLE = "scipy.sparse input: densify per block, or keep sparse?"
QUICK = {"n": 20_000, "ks": [2]}
MEDIUM = {"n": 200_000, "ks": [8]}
MODELS = {"DLSALogisticRegression": ("DLSALogisticRegression", {}),
          "PenalizedLogisticRegression(alpha=1e-3)": ("PenalizedLogisticRegression",
                                                      {"alpha": 1e-3})}
DATA = ("rows x 50 one-hot columns (5 categoricals of 11 levels, first dropped); peak = "
        "tracemalloc peak above one fit's start")
OPTIONS = {"n": 200_000, "ks": [2, 8]}


class Sparse(Case):
    repeats = 1

    def fit(self):
        Xs, y = problems.onehot(self.p.n)
        Xd, rows = Xs.toarray(), []
        for label, (cls, kw) in MODELS.items():
            for k in self.p.ks:
                def fit(X, cls=cls, kw=kw, k=k):
                    return adapters.ours(cls, Xs.toarray() if X is None else X, y,
                                         n_partitions=k, **kw).coef_
                ref = fit(Xd)
                for kind, X in (("dense", Xd), ("sparse", Xs), ("toarray", None)):
                    s = median_time(lambda X=X: fit(X), self.p.repeats)
                    tracemalloc.start()
                    before = tracemalloc.get_traced_memory()[0]
                    coef = fit(X)
                    peak = tracemalloc.get_traced_memory()[1] - before
                    tracemalloc.stop()
                    rows.append([label, k, kind, f"{s:.3f}", f"{peak / 1e6:.1f}",
                                 f"{np.abs(coef - ref).max():.1e}"])
        return {"rows": rows, "kernels": kernels(Xs), "nnz": Xs.nnz / self.p.n}


def kernels(Xs) -> str:
    """One N/2-row block, single-threaded BLAS: densify, Gram, X @ beta, X.T @ r (ms,
    median of 7)."""
    rng, b = np.random.default_rng(1), Xs[: Xs.shape[0] // 2]
    bd, w, v = b.toarray(), rng.random(b.shape[0]), rng.normal(size=Xs.shape[1])
    kernels = [("toarray", b.toarray), ("weighted Gram dense", lambda: bd.T @ (w[:, None] * bd)),
               ("sparse", lambda: (b.T @ sp.diags(w) @ b).toarray()),
               ("X @ beta dense", lambda: bd @ v), ("sparse", lambda: b @ v),
               ("X.T @ r dense", lambda: bd.T @ w), ("sparse", lambda: b.T @ w)]
    with threadpool_limits(1, user_api="blas"):
        return f"one {b.shape[0]} x {b.shape[1]} block, ms (median of 7): " + "; ".join(
            f"{k} {1e3 * median_time(f):.1f}" for k, f in kernels)


CASES = {"sparse": Spec("dense / sparse / toarray fits and block kernels", Sparse)}
DEFAULT = ["sparse"]


def run(args, rep):
    r, err = run_case("sparse", args)
    if err:
        return rep(f"- {err}")
    rep(f"{r['nnz']:.2f} non-zeros a row\n")
    rep.table(["model", "K", "input", f"median s ({args.repeats} fits)", "peak MB above start",
               "max abs(coef - dense)"], r["rows"], "llllll")
    rep(r["kernels"])
    return r


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
