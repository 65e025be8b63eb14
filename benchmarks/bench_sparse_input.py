"""scipy.sparse input: densified per row block vs the same values given dense.

200,000 rows x 50 one-hot columns (5 categoricals of 11 levels, first level dropped;
4.5 non-zeros a row). For DLSALogisticRegression and PenalizedLogisticRegression at
K = 2 and 8 row blocks: the fit on (a) the dense array, (b) the CSR matrix (each block
densified inside its task), (c) the CSR matrix densified whole up front
(``toarray()``): median wall time of 3 fits, and the peak of memory allocated during
one fit above what was allocated before it (tracemalloc; NumPy and scipy buffers are
traced). Then the kernels of one 100k-row block, single-threaded BLAS: densifying it,
and the weighted Gram, ``X @ beta`` and ``X.T @ r`` dense vs sparse -- what keeping the
blocks sparse could gain.

Run: ``python benchmarks/bench_sparse_input.py`` (about a minute on two cores).
"""

import statistics
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from dask_glmdist import DLSALogisticRegression, PenalizedLogisticRegression

N = 200_000


def data():
    rng = np.random.default_rng(0)
    Xs = OneHotEncoder(drop="first").fit_transform(rng.integers(0, 11, size=(N, 5))).tocsr()
    eta = Xs @ rng.normal(scale=0.3, size=Xs.shape[1]) - 0.5
    y = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    return Xs, y


def fit(make, kind, Xs, Xd, y):
    X = {"dense": Xd, "sparse": Xs}.get(kind)
    return make().fit(Xs.toarray() if X is None else X, y)


def median_ms(f, repeat=7):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    warnings.simplefilter("ignore")
    Xs, y = data()
    Xd = Xs.toarray()
    nbytes = Xs.data.nbytes + Xs.indices.nbytes + Xs.indptr.nbytes
    print(f"X: {Xs.shape}, {Xs.nnz / N:.2f} non-zeros a row; CSR {nbytes / 1e6:.1f} MB, "
          f"dense {Xd.nbytes / 1e6:.1f} MB")
    print("| model | K | input | median s (3 fits) | peak MB above start | max |coef - dense| |")
    print("|---|---|---|---|---|---|")
    models = {"DLSALogisticRegression": DLSALogisticRegression,
              "PenalizedLogisticRegression(alpha=1e-3)":
                  lambda **kw: PenalizedLogisticRegression(alpha=1e-3, **kw)}
    for name, cls in models.items():
        for k in (2, 8):
            def make(cls=cls, k=k):
                return cls(n_partitions=k)
            ref = fit(make, "dense", Xs, Xd, y).coef_
            for kind in ("dense", "sparse", "toarray"):
                seconds = median_ms(lambda kind=kind: fit(make, kind, Xs, Xd, y), 3) / 1e3
                tracemalloc.start()
                before = tracemalloc.get_traced_memory()[0]
                coef = fit(make, kind, Xs, Xd, y).coef_
                peak = tracemalloc.get_traced_memory()[1] - before
                tracemalloc.stop()
                print(f"| {name} | {k} | {kind} | {seconds:.3f} | {peak / 1e6:.1f} | "
                      f"{np.abs(coef - ref).max():.1e} |")
    rng = np.random.default_rng(1)
    b = Xs[: N // 2]
    bd = b.toarray()
    w, v = rng.random(N // 2), rng.normal(size=Xs.shape[1])
    with threadpool_limits(1, user_api="blas"):
        print(f"one {N // 2} x {Xs.shape[1]} block, ms (median of 7): "
              f"toarray {median_ms(b.toarray):.1f}; "
              f"weighted Gram dense {median_ms(lambda: bd.T @ (w[:, None] * bd)):.1f}, "
              f"sparse {median_ms(lambda: (b.T @ sp.diags(w) @ b).toarray()):.1f}; "
              f"X @ beta dense {median_ms(lambda: bd @ v):.1f}, "
              f"sparse {median_ms(lambda: b @ v):.1f}; "
              f"X.T @ r dense {median_ms(lambda: bd.T @ w):.1f}, "
              f"sparse {median_ms(lambda: b.T @ w):.1f}")


if __name__ == "__main__":
    main()
