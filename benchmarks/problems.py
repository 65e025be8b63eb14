"""The registry of benchmark problems (``PROBLEMS``): seeded data generators, block by block.

Block k is drawn from ``default_rng([seed, *key, k])``: every process (and LocalCluster
worker) rebuilds exactly the old scripts' data, and builds only the blocks it needs.
"""

import collections
import contextlib
import math
import operator
from dataclasses import dataclass, field

import dask
import dask.array as da
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster, wait
from scipy.special import expit, ndtr

from benchmarks.runner import block_sizes


def ar1_scaled(beta, rho, sd) -> np.ndarray:
    """beta scaled so that sd(x^T beta) = sd under unit-variance AR(1)(rho) features."""
    idx = np.arange(beta.size)
    sigma = rho ** np.abs(idx[:, None] - idx[None, :])
    return beta * (sd / math.sqrt(float(beta @ sigma @ beta)))


def placed(values: dict, p: int) -> np.ndarray:
    """p coefficients: values[j] at column j (those with j < p), else 0."""
    return np.array([values.get(j, 0.0) for j in range(p)])


@dataclass(frozen=True)
class AR1:
    """Rows of unit-variance AR(1)(rho) normal features; y from ``response``:
    "logistic" (u (1 + e^-eta) < 1), "logit" / "probit" (u < F(eta)) or "gaussian"
    (eta + N(0, 1)); eta = intercept + X beta."""

    p: int
    rho: float
    beta: np.ndarray = field(repr=False)
    intercept: float = 0.0
    response: str = "logistic"
    seed: int = 0
    key: tuple = ()

    @property
    def theta(self) -> np.ndarray:
        return np.concatenate([[self.intercept], self.beta])

    def fill(self, X: np.ndarray, k: int) -> np.ndarray:
        """Fill X (n_k x p, C order) with block k's design; return block k's y."""
        rng = np.random.default_rng([self.seed, *self.key, k])
        c = math.sqrt(1.0 - self.rho**2)
        for s in range(0, X.shape[0], 16384):  # row tiles: the recursion stays in cache
            t = X[s : s + 16384]
            rng.standard_normal(out=t)
            for j in range(1, self.p):
                t[:, j] *= c
                t[:, j] += self.rho * t[:, j - 1]
        eta = X @ self.beta
        if self.response == "gaussian":
            return eta + rng.standard_normal(X.shape[0])
        eta += self.intercept
        u = rng.random(X.shape[0])
        if self.response == "logistic":
            return (u * (1.0 + np.exp(-eta)) < 1.0).astype(np.float64)
        return (u < (ndtr(eta) if self.response == "probit" else expit(eta))).astype(float)

    def block(self, n_k: int, k: int):
        X = np.empty((n_k, self.p))
        return X, self.fill(X, k)

    def part(self, n: int, k: int, b: int):
        """Block b of n rows in k blocks (here: drawn from its own seed)."""
        return self.block(block_sizes(n, k)[b], b)

    def numpy(self, n: int, k: int, intercept_column: bool = False):
        """All blocks in one C-ordered array (no full-size temporaries); [1, X] if asked."""
        off = int(intercept_column)
        X, y = np.empty((n, self.p + off)), np.empty(n)
        X[:, :off] = 1.0
        for b, (Xb, yb) in enumerate(split(X, y, k)):
            target = np.empty((len(yb), self.p)) if off else Xb
            yb[:] = self.fill(target, b)
            if off:
                Xb[:, off:] = target
        return X, y

    def dask(self, n: int, k: int, client=None):
        """Lazy per-block dask arrays (k row chunks), persisted: in this process on the
        threaded scheduler, or with ``client`` block b generated on worker b % workers."""
        xs, ys = [], []
        addrs = sorted(client.scheduler_info()["workers"]) if client else None
        for b, nb in enumerate(block_sizes(n, k)):
            if client:
                where = [addrs[b % len(addrs)]]
                blk = client.submit(self.part, n, k, b, workers=where, pure=True)
                fx, fy = (dask.delayed(client.submit(operator.getitem, blk, i, workers=where))
                          for i in (0, 1))
            else:
                fx, fy = dask.delayed(self.part, nout=2, pure=True)(n, k, b)
            xs.append(da.from_delayed(fx, shape=(nb, self.p), dtype=np.float64))
            ys.append(da.from_delayed(fy, shape=(nb,), dtype=np.float64))
        X, y = da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)
        return dask.persist(X, y) if client else dask.persist(X, y, scheduler="threads")


@dataclass(frozen=True)
class TiledAR1(AR1):
    """An AR1 whose rows do not depend on the blocking: tile t (``tile`` rows) is drawn
    from ``default_rng([seed, *key, t])``; a block is the rows of its tiles it covers."""

    tile: int = 1000

    def rows(self, a: int, b: int):
        """Rows a..b-1: (X, y)."""
        t0, t1 = a // self.tile, -(-b // self.tile)
        tiles = [AR1.block(self, self.tile, t) for t in range(t0, t1)]
        cut = slice(a - t0 * self.tile, b - t0 * self.tile)
        return (np.concatenate([x for x, _ in tiles])[cut],
                np.concatenate([y for _, y in tiles])[cut])

    def part(self, n: int, k: int, b: int):
        start = sum(block_sizes(n, k)[:b])
        return self.rows(start, start + block_sizes(n, k)[b])

    def numpy(self, n: int, k: int = 1, intercept_column: bool = False):
        X, y = self.rows(0, n)
        return (np.column_stack([np.ones(n), X]) if intercept_column else X), y


@dataclass(frozen=True)
class CountAR1(AR1):
    """AR1 rows with a count response -- Poisson(exp(eta)), or with ``nb_alpha`` > 0 the
    NB2 mixture Poisson(exp(eta) G), G ~ Gamma(1 / alpha, alpha) -- and a cluster id per
    row, uniform over ``n_groups`` (so every cluster spans every block). Block k's X is
    AR1's; its y and ids come from streams of their own."""

    nb_alpha: float = 0.0
    n_groups: int = 100_000

    def fill(self, X: np.ndarray, k: int) -> np.ndarray:
        AR1.fill(self, X, k)  # (AR1's response is "gaussian": its y is dropped)
        rng = np.random.default_rng([self.seed, *self.key, k, 1])
        mu = np.exp(self.intercept + X @ self.beta)
        if self.nb_alpha > 0:
            mu *= rng.gamma(1.0 / self.nb_alpha, self.nb_alpha, X.shape[0])
        return rng.poisson(mu).astype(np.float64)

    def groups_part(self, n: int, k: int, b: int) -> np.ndarray:
        """Cluster ids of block b of n rows in k blocks."""
        rng = np.random.default_rng([self.seed, *self.key, b, 2])
        return rng.integers(0, self.n_groups, block_sizes(n, k)[b])

    def groups(self, n: int, k: int):
        """All blocks' cluster ids: (NumPy array, persisted dask array with X's chunks)."""
        parts = [self.groups_part(n, k, b) for b in range(k)]
        lazy = da.concatenate([da.from_delayed(dask.delayed(self.groups_part)(n, k, b),
                                               shape=(len(g),), dtype=np.int64)
                               for b, g in enumerate(parts)])
        return np.concatenate(parts), lazy.persist(scheduler="threads")


def split(X, y, k):
    """The k row blocks (views) of X and y."""
    edges = np.cumsum([0, *block_sizes(X.shape[0], k)])
    return [(X[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def on_cluster(case, problem):
    """Put the problem's ``case.p.partitions`` blocks on a LocalCluster (2 worker processes
    x 1 thread), generated on the workers (block b on worker b % 2) and persisted there:
    sets ``case.X``, ``y``, ``client``, ``pids`` (the workers), ``placement`` (blocks per
    worker) and ``close``. With ``case.p.no_malloc_trim`` the nanny starts the workers
    without distributed's ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc's default malloc)."""
    import psutil
    env = ({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
           if getattr(case.p, "no_malloc_trim", False) else {})
    with dask.config.set(env):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    case.client = client = Client(cluster)
    case.X, case.y = problem.dask(case.p.n, case.p.partitions, client)
    wait([case.X, case.y])
    who = client.who_has(case.X)
    case.placement = sorted(collections.Counter(v[0] for v in who.values() if v).values())
    client.run(_warm_imports)  # import cost is not part of the fit
    case.pids = tuple(p.pid for p in psutil.Process().children(recursive=True))
    case.close = lambda: (client.close(), cluster.close())


def _warm_imports():
    for mod in ("dask_glmdist", "dask_ml.linear_model"):
        with contextlib.suppress(ImportError):
            __import__(mod)


def scale_out(response: str = "logistic", p: int = 20, seed: int = 0) -> TiledAR1:
    """scale_out: dlsa_logistic's coefficients (p=20), rows independent of the blocking;
    "gaussian": the same X, y = X beta + N(0, 1)."""
    beta = np.random.default_rng([seed, 999]).uniform(-1.0, 1.0, p)
    return TiledAR1(p, 0.5, ar1_scaled(beta, 0.5, 1.2), -0.5, response, seed, (p,))


def dlsa_logistic(p: int = 50, seed: int = 0) -> AR1:
    """bench_dlsa_logistic: uniform(-1, 1) coefficients, sd(eta) 1.2, intercept -0.5."""
    beta = np.random.default_rng([seed, 999]).uniform(-1.0, 1.0, p)
    return AR1(p, 0.5, ar1_scaled(beta, 0.5, 1.2), -0.5, "logistic", seed)


def brglm_binary(link: str, p: int = 50, seed: int = 0) -> AR1:
    """bench_brglm: 6 non-zero coefficients, sd(eta) 1.0 (probit) / 1.6 (logit)."""
    beta = placed({0: 1.0, 3: -1.0, 7: 0.75, 15: -0.75, 30: 0.5, 45: -0.5}, p)
    sd, icpt = {"probit": (1.0, -0.3), "logit": (1.6, -0.48)}[link]
    return AR1(p, 0.5, ar1_scaled(beta, 0.5, sd), icpt, link, seed)


TEN = [1.0, -1.0, 0.8, -0.8, 0.6, -0.6, 0.4, -0.4, 0.2, -0.2]  # the sparse coefficients


def sparse_gaussian(p: int, rho: float = 0.3, seed: int = 0) -> AR1:
    """bench_debiased_lasso: y = X beta + N(0, 1), 10 non-zeros at 3, 13, ..., 93."""
    return AR1(p, rho, placed({3 + 10 * i: v for i, v in enumerate(TEN)}, p), 0.0, "gaussian", seed)


def sparse_logistic(p: int, rho: float = 0.3, seed: int = 0) -> AR1:
    """bench_penalized: 10 non-zeros at 2, 7, ..., 47, intercept -0.5; key (p,)."""
    beta = placed({2 + 5 * i: v for i, v in enumerate(TEN)}, p)
    return AR1(p, rho, beta, -0.5, "logistic", seed, (p,))


def flights_file(k: int, n: int, seed: int = 0):
    """bench_formula's file k (pandas): 3 categoricals (20 carriers, 30 origins, 12 months;
    one carrier, two origins and, in every third file, December absent), x1, x2, binary y
    (logistic) and z (eta + N(0, 1))."""
    g = np.random.default_rng([seed, 999])
    ce, oe, me = g.normal(0, 0.3, 20), g.normal(0, 0.3, 30), g.normal(0, 0.2, 12)
    rng = np.random.default_rng([seed, k])
    pc, po = np.ones(20), np.ones(30)
    pc[k % 20] = 0
    po[[k % 30, (7 * k + 3) % 30]] = 0
    c = rng.choice(20, n, p=pc / pc.sum())
    o = rng.choice(30, n, p=po / po.sum())
    m = rng.choice(np.arange(1, 13 if k % 3 else 12), n)
    x1, x2 = rng.normal(size=n), rng.lognormal(size=n)
    eta = -0.5 + ce[c] + oe[o] + me[m - 1] + 0.5 * x1 - 0.3 * np.log(x2)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pd.DataFrame({
        "carrier": pd.array([f"C{i:02d}" for i in c], dtype="str"),
        "origin": pd.array([f"A{i:02d}" for i in o], dtype="str"),
        "month": m.astype(np.int64), "x1": x1, "x2": x2, "y": y, "z": eta + rng.normal(size=n)})


def onehot(n: int = 200_000, seed: int = 0):
    """bench_sparse_input: 5 categoricals of 11 levels one-hot (first dropped) as CSR,
    logistic y."""
    from sklearn.preprocessing import OneHotEncoder
    rng = np.random.default_rng(seed)
    Xs = OneHotEncoder(drop="first").fit_transform(rng.integers(0, 11, size=(n, 5))).tocsr()
    eta = Xs @ rng.normal(scale=0.3, size=Xs.shape[1]) - 0.5
    return Xs, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)


def count_clusters(p: int = 50, nb_alpha: float = 0.0, n_groups: int = 100_000,
                   seed: int = 0) -> CountAR1:
    """robust_se: Poisson (NB2 with ``nb_alpha``) counts, p AR(1)(0.5) features, sd(eta)
    0.5, intercept 0.5 (mean count ~1.9), cluster ids uniform over ``n_groups``."""
    beta = np.random.default_rng([seed, 998]).uniform(-1.0, 1.0, p)
    return CountAR1(p, 0.5, ar1_scaled(beta, 0.5, 0.5), 0.5, "gaussian", seed, (p, 7),
                    nb_alpha, n_groups)


PROBLEMS = {"dlsa_logistic": dlsa_logistic, "scale_out": scale_out, "brglm_binary": brglm_binary,
            "sparse_gaussian": sparse_gaussian, "sparse_logistic": sparse_logistic,
            "flights_file": flights_file, "onehot": onehot,
            "count_clusters": count_clusters}
