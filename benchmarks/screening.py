"""One-round feature screening (issue 16; see README): time and peak memory per measure.

``screen(X, y, method)`` on --n rows in --partitions row blocks generated inside the tasks
(lazy dask blocks: the --n x --p matrix is never held whole), Pearson and SIRS at --p
features, Kendall and distance correlation (O(n log n) per feature and block, by ranks)
at --rank-p features and extrapolated linearly to --p. Peers in memory on --n rows:
NumPy's vectorised correlation of each column with y (--peer-p columns), scipy's
``kendalltau`` and dcor's ``distance_correlation_sqr`` (if installed; not a dependency)
per column on --peer-cols columns, extrapolated to --p.
"""

import importlib

import numpy as np

from benchmarks import runner
from benchmarks.runner import Case, Spec, main, med, run_all

TITLE = "Benchmark: one-round distributed feature screening (issue 16)"
DATA = ("X iid N(0, 1), y = X[:, :15] theta + N(0, 1) (theta ~ U[0.5, 2] with random signs); "
        "--partitions row blocks generated in the tasks from the seed (threaded scheduler, "
        "--cores threads)")
OPTIONS = {"n": 100_000, "p": 10_000, "partitions": 8, "rank_p": 500, "peer_p": 2_000,
           "peer_cols": 20, "fit_budget": 600.0, "max_wait": 10.0}
QUICK = {"n": 4_000, "p": 300, "partitions": 4, "rank_p": 100, "peer_p": 300, "peer_cols": 5}
MEDIUM = {"n": 100_000, "p": 2_000, "rank_p": 200, "peer_cols": 10}
METHODS = ("pearson", "sirs", "kendall", "dc")
RANKED = ("kendall", "dc")


def block(n, k, b, p, seed):
    """Row block ``b`` of ``k``: (X_b, y_b)."""
    rng = np.random.default_rng([seed, 16, b])
    theta = np.random.default_rng([seed, 16]).uniform(0.5, 2, 15) * np.where(
        np.arange(15) % 3 == 0, -1, 1)
    nb = runner.block_sizes(n, k)[b]
    # column j is the same for any p (the rows of (p, nb) are drawn in order); y's noise
    # from a stream of its own: the peers' few columns are ours' first ones
    X = np.ascontiguousarray(rng.standard_normal((max(p, 15), nb)).T)
    noise = np.random.default_rng([seed, 17, b]).standard_normal(nb)
    return X[:, :p].copy() if p < 15 else X, X[:, :15] @ theta + noise


def lazy_blocks(n, k, p, seed):
    import dask
    import dask.array as da
    parts = [dask.delayed(block, nout=2, pure=True)(n, k, b, p, seed) for b in range(k)]
    sizes = runner.block_sizes(n, k)
    X = da.concatenate([da.from_delayed(x, (s, p), np.float64)
                        for (x, _), s in zip(parts, sizes, strict=True)])
    y = da.concatenate([da.from_delayed(v, (s,), np.float64)
                        for (_, v), s in zip(parts, sizes, strict=True)])
    return X, y


def columns_for(p, method):
    return p.rank_p if method in RANKED else p.p


class Ours(Case):
    """``screen`` on lazily generated blocks (generation included; see ``generate``)."""

    threads, method = "cores", "pearson"

    def setup(self):
        super().setup()
        self.cols = columns_for(self.p, self.method)
        self.X, self.y = lazy_blocks(self.p.n, self.p.partitions, self.cols, self.p.seed)
        self.data_bytes = 1  # nothing held: the blocks are made in the tasks

    def fit(self):
        from dask_glmdist import screen
        s = screen(self.X, self.y, method=self.method)
        top = np.argsort(-s)[:15]
        return {"columns": self.cols, "true_in_top15": int(np.isin(top, np.arange(15)).sum()),
                "scores_head": s[:3].round(4).tolist()}


class Generate(Ours):
    """Only generating the blocks (and summing them): the part of every case that is not
    screening."""

    def fit(self):
        import dask.array as da
        return {"columns": self.cols, "sum": float(da.sum(self.X).compute())}


class Peer(Case):
    """In memory on --n rows: NumPy (--peer-p columns), scipy / dcor (--peer-cols)."""

    threads, blas, method = "cores", "cores", "numpy"

    def setup(self):
        super().setup()
        self.cols = self.p.peer_p if self.method == "numpy" else self.p.peer_cols
        parts = [block(self.p.n, self.p.partitions, b, self.cols, self.p.seed)
                 for b in range(self.p.partitions)]
        self.X = np.concatenate([x for x, _ in parts])
        self.y = np.concatenate([v for _, v in parts])

    def fit(self):
        X, y = self.X, self.y
        if self.method == "numpy":
            Xc, yc = X - X.mean(axis=0), y - y.mean()
            s = np.abs(yc @ Xc) / np.sqrt((Xc * Xc).sum(axis=0) * (yc @ yc))
        elif self.method == "scipy_kendall":
            import scipy.stats
            s = np.array([abs(scipy.stats.kendalltau(X[:, j], y).statistic)
                          for j in range(X.shape[1])])
        else:
            import dcor
            s = np.array([dcor.distance_correlation_sqr(X[:, j], y, method="mergesort")
                          for j in range(X.shape[1])])
        return {"columns": self.cols, "scores_head": s[:3].round(4).tolist()}


class DcorPeer(Peer):
    needs, method = "dcor", "dcor"


CASES = {f"ours_{m}": Spec(f"screen(method='{m}')", Ours, {"method": m}) for m in METHODS}
CASES["generate"] = Spec("generating the blocks only (Pearson/SIRS columns)", Generate)
CASES["generate_ranked"] = Spec("generating the blocks only (Kendall/DC columns)", Generate,
                                {"method": "kendall"})
CASES["numpy_pearson"] = Spec("NumPy corr(x_j, y) in memory (--peer-p)", Peer)
CASES["scipy_kendall"] = Spec("scipy.stats.kendalltau per column (--peer-cols)", Peer,
                              {"method": "scipy_kendall"})
CASES["dcor_dc"] = Spec("dcor.distance_correlation_sqr per column (--peer-cols)", DcorPeer)
DEFAULT = list(CASES)
PEER_OF = {"pearson": "numpy_pearson", "kendall": "scipy_kendall", "dc": "dcor_dc"}


def per_feature(r) -> float | None:
    return med(r) / r["columns"] if "times" in r else None


def run(args, rep):
    res = run_all(rep, args.methods, args)
    rep()
    rep.cases(res, CASES, {"columns": "columns", "s / column": lambda m, r: (
        f"{per_feature(r):.2e}" if per_feature(r) else "")})
    summary(rep, res, args)
    return res


def summary(rep, res, args) -> None:
    """The table of the issue: time per measure at --n x --p (measured or extrapolated
    linearly in the columns), generation time subtracted, and the peers extrapolated."""
    rep(f"## Screening {args.n:,} rows x {args.p:,} features in {args.partitions} blocks "
        f"({args.cores} cores)\n")
    head = ["measure", "columns measured", "time measured (s)", "peak above base (MB)",
            f"screening only, at p={args.p:,} (s)", "peer", f"peer at p={args.p:,} (s)",
            "peer / ours"]
    rows = []
    for m in METHODS:
        r = res.get(f"ours_{m}", {})
        if "times" not in r:
            continue
        gen = res.get("generate_ranked" if m in RANKED else "generate", {})
        gen_t = med(gen) if "times" in gen else 0.0
        full = max(med(r) - gen_t, 0.0) * args.p / r["columns"]
        peer_name = PEER_OF.get(m)
        peer = res.get(peer_name, {}) if peer_name else {}
        peer_full = per_feature(peer) * args.p if "times" in peer else None
        rows.append([m, r["columns"], f"{med(r):.2f}", runner.mb(r["peak"] - r["baseline"]),
                     f"{full:.1f}" + ("" if r["columns"] == args.p else " (extrapolated)"),
                     CASES[peer_name].label if peer_name else "-",
                     f"{peer_full:.1f}" + ("" if peer["columns"] == args.p else
                                           " (extrapolated)") if peer_full else
                     (peer.get("skipped", "-")[:40] if peer else "-"),
                     f"{peer_full / full:.2f}" if peer_full and full else ""])
    rep.table(head, rows, "lrrrrlrr")


def rows(results, args):
    return []


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
