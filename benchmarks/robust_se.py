"""Robust and cluster-robust standard errors, estimated NB dispersion (issue 15; see README).

Poisson counts, p AR(1)(0.5) features, cluster ids uniform per row over ``--n-groups``
(every cluster spans every block), dask blocks persisted in the worker: each estimator
with ``cov_type`` "nonrobust", "HC1" and "cluster" (fit time, passes, peak memory); the
cluster sums alone against HC1 at ``--many-groups`` clusters; statsmodels' in-memory GLM
with the same covariances at ``--peer-n`` rows (ours again at that size for the ratio);
the negative binomial with alpha estimated against alpha fixed (passes, time), statsmodels'
``NegativeBinomial(loglike_method="nb2")`` the peer at ``--peer-n`` rows.
"""

import importlib

import numpy as np

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, main, med, run_all

TITLE = ("Benchmark: robust and cluster-robust standard errors; negative binomial with "
         "alpha estimated (issue 15)")
DATA = ("Poisson y (NB2: alpha --nb-alpha), --p AR(1)(0.5) features, sd(eta) 0.5, intercept "
        "0.5 (mean count ~1.9), cluster ids uniform per row over --n-groups (every cluster in "
        "every block); --partitions dask blocks generated from the seed and persisted in the "
        "worker (threaded scheduler, --cores threads); peers in memory at --peer-n rows")
OPTIONS = {"n": 4_000_000, "p": 50, "partitions": 20, "n_groups": 100_000,
           "many_groups": 1_000_000, "peer_n": 1_000_000, "nb_alpha": 0.5,
           "fit_budget": 120.0, "max_wait": 10.0}
QUICK = {"n": 20_000, "p": 8, "partitions": 4, "n_groups": 300, "many_groups": 5_000,
         "peer_n": 20_000}
MEDIUM = {"n": 400_000, "p": 50, "partitions": 8, "peer_n": 400_000}
ESTIMATORS = {"brglm": ("BiasReducedGLM", {"method": "ML"}),
              "penalized": ("PenalizedGLM", {"alpha": 0.0}),
              "dlsa": ("DLSARegressor", {})}
COVS = ("nonrobust", "HC1", "cluster")
NB_ESTIMATORS = ("brglm", "penalized", "dlsa")
LABELS = {"brglm": "BiasReducedGLM(method='ML')", "penalized": "PenalizedGLM(alpha=0)",
          "dlsa": "DLSARegressor"}


class Ours(Case):
    """One of our fits: ``estimator``, ``cov`` ("cluster": ``groups=``), ``nb`` (None:
    Poisson; "estimated" / "fixed": the negative binomial), ``groups`` ("many": the data
    has --many-groups clusters instead of --n-groups)."""

    blas, threads, data = "cores", "cores", "dask"
    estimator, cov, nb, groups = "brglm", "nonrobust", None, None

    def problem(self):
        return problems.count_clusters(self.p.p, self.p.nb_alpha if self.nb else 0.0,
                                       self.p.n_groups, self.p.seed)

    def setup(self):
        super().setup()
        if self.cov == "cluster":
            self.g = self.prob.groups(self.p.n, self.p.partitions)[1]

    def model(self):
        from dask_glmdist import get_family
        cls, kw = ESTIMATORS[self.estimator]
        family = {None: "poisson", "estimated": "negative_binomial",
                  "fixed": get_family("negative_binomial", alpha=self.p.nb_alpha)}[self.nb]
        cov = {} if self.cov == "nonrobust" else {"cov_type": self.cov}
        return getattr(importlib.import_module("dask_glmdist"), cls)(family=family, **kw, **cov)

    def fit(self):
        kw = {"groups": self.g} if self.cov == "cluster" else {}
        m = self.model().fit(self.X, self.y, **kw)
        alpha = getattr(m, "nb_alpha_", None) if self.nb == "estimated" else None
        return {**adapters.report(m), "n_rounds": adapters.passes(m), "alpha": alpha,
                "n_iter": m.n_iter_}


class Peer(Case):
    """statsmodels at --peer-n rows in memory: GLM Poisson ``.fit(cov_type=...)``, or
    (``nb``) discrete NegativeBinomial nb2 (alpha estimated) / GLM NB (alpha fixed)."""

    blas, needs, data = "cores", "statsmodels", "design"
    cov, nb = "nonrobust", None

    def problem(self):
        return Ours.problem(self)

    def setup(self):
        super().setup()
        if self.cov == "cluster":
            self.g = self.prob.groups(self.p.n, self.p.partitions)[0]

    def fit(self):
        import statsmodels.api as sm
        if self.nb == "estimated":
            from statsmodels.discrete.discrete_model import NegativeBinomial
            res = NegativeBinomial(self.y, self.X, loglike_method="nb2").fit(
                method="newton", maxiter=100, disp=0)
            return {"theta": res.params[:-1].tolist(), "bse": res.bse[:-1].tolist(),
                    "alpha": float(res.params[-1]), "n_iter": res.mle_retvals["iterations"],
                    "converged": bool(res.mle_retvals["converged"])}
        fam = (sm.families.NegativeBinomial(alpha=self.p.nb_alpha) if self.nb
               else sm.families.Poisson())
        kw = {"cov_type": self.cov} if self.cov != "cluster" else {
            "cov_type": "cluster", "cov_kwds": {"groups": self.g}}
        res = sm.GLM(self.y, self.X, family=fam).fit(**kw)
        return {"theta": res.params.tolist(), "bse": res.bse.tolist(), "n": len(self.y),
                "n_iter": res.fit_history.get("iteration", -1)}


class GlumPeer(Peer):
    """glum at --peer-n rows in memory: ``GeneralizedLinearRegressor(alpha=0)`` and its
    ``covariance_matrix`` (robust: White's HC1, as ours; clusters: ours too)."""

    needs = "glum"

    def fit(self):
        import pandas as pd
        from glum import GeneralizedLinearRegressor
        m = GeneralizedLinearRegressor(family="poisson", alpha=0, fit_intercept=False).fit(
            self.X, self.y)
        # glum indexes the clusters: ids 0..G-1 without gaps
        clusters = pd.factorize(self.g)[0] if self.cov == "cluster" else None
        kw = {"nonrobust": {"robust": False}, "HC1": {"robust": True},
              "cluster": {"clusters": clusters}}[self.cov]
        cov = m.covariance_matrix(self.X, self.y, **kw)
        return {"theta": m.coef_.tolist(), "bse": np.sqrt(np.diag(cov)).tolist(),
                "n": len(self.y)}


def _scores(n, k, b, p, n_groups, seed):
    """Block b's cluster ids (uniform over n_groups) and standard normal scores, one row
    per row of data (n_b, p), as the sandwich pass holds them."""
    rng = np.random.default_rng([seed, 31, b])
    nb = runner.block_sizes(n, k)[b]
    return rng.integers(0, n_groups, nb), rng.standard_normal((nb, p))


def _sums_leaf(*args):
    from dask_glmdist.sandwich import ClusterSums
    return ClusterSums.of_rows(*_scores(*args))


def _frame_leaf(*args):
    import pandas as pd
    ids, s = _scores(*args)
    frame = pd.DataFrame(s, columns=[f"s{j}" for j in range(s.shape[1])])
    frame["g"] = ids
    return frame


def _add(parts):
    """A reduction node as the library's (``sum_summaries``): add, then settle once."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total.settled() if hasattr(total, "settled") else total


class ClusterReduce(Case):
    """The cluster sums alone at --many-groups clusters: the scores (--n x (--p + 1),
    drawn in the tasks) summed by cluster id across --partitions blocks, by the library's
    ``ClusterSums`` merged in a tree (split_every 8) or (``how`` "groupby") by a dask
    DataFrame groupby-sum; then the meat S^T S."""

    threads, how = "cores", "tree"

    def fit(self):
        import dask
        p = self.p
        args = [(p.n, p.partitions, b, p.p + 1, p.many_groups, p.seed)
                for b in range(p.partitions)]
        if self.how == "tree":
            parts = [dask.delayed(_sums_leaf)(*a) for a in args]
            while len(parts) > 1:
                parts = [dask.delayed(_add)(parts[i:i + 8]) for i in range(0, len(parts), 8)]
            total = parts[0].compute()
            sums = total.sums
        else:
            import dask.dataframe as dd
            frames = dd.from_delayed([dask.delayed(_frame_leaf)(*a) for a in args],
                                     meta=_frame_leaf(10, 1, 0, p.p + 1, 2, 0).iloc[:0])
            sums = frames.groupby("g").sum(split_every=8).compute().to_numpy()
        meat = sums.T @ sums
        return {"n_clusters": int(sums.shape[0]), "meat_trace": float(np.trace(meat))}


def _cases() -> dict:
    cases = {f"{e}_{c}": Spec(f"{LABELS[e]}, {c}", Ours, {"estimator": e, "cov": c})
             for e in ESTIMATORS for c in COVS}
    cases["brglm_cluster_many"] = Spec("BiasReducedGLM(method='ML'), cluster, --many-groups",
                                       Ours, {"cov": "cluster", "groups": "many"})
    cases["brglm_HC1_many"] = Spec("BiasReducedGLM(method='ML'), HC1 (same data)", Ours,
                                   {"cov": "HC1", "groups": "many"})
    cases["sums_tree"] = Spec("cluster sums alone: ClusterSums tree (--many-groups)",
                              ClusterReduce)
    cases["sums_groupby"] = Spec("cluster sums alone: dask DataFrame groupby-sum "
                                 "(--many-groups)", ClusterReduce, {"how": "groupby"})
    cases |= {f"sm_{c}": Spec(f"statsmodels GLM Poisson, {c} (--peer-n)", Peer, {"cov": c})
              for c in COVS}
    cases |= {f"glum_{c}": Spec(f"glum GLM Poisson, {c} (--peer-n)", GlumPeer, {"cov": c})
              for c in COVS}
    cases |= {f"peer_n_brglm_{c}": Spec(f"BiasReducedGLM(method='ML'), {c} (--peer-n)", Ours,
                                        {"cov": c}) for c in COVS}
    for e in NB_ESTIMATORS:
        for nb in ("estimated", "fixed"):
            cases[f"nb_{e}_{nb}"] = Spec(f"{LABELS[e]}, NB alpha {nb}", Ours,
                                         {"estimator": e, "nb": nb})
    cases |= {f"sm_nb_{nb}": Spec(f"statsmodels NB alpha {nb} (--peer-n)", Peer, {"nb": nb})
              for nb in ("estimated", "fixed")}
    cases |= {f"peer_n_nb_{nb}": Spec(f"BiasReducedGLM(method='ML'), NB alpha {nb} (--peer-n)",
                                      Ours, {"nb": nb}) for nb in ("estimated", "fixed")}
    return cases


CASES = _cases()
DEFAULT = list(CASES)
PEER_SIZE = ("sm_", "glum_", "peer_n_")


def run(args, rep):
    res = {}
    for name in args.methods:
        spec = CASES[name]
        n = args.peer_n if name.startswith(PEER_SIZE) else args.n
        groups = args.many_groups if spec.kw.get("groups") == "many" else args.n_groups
        res |= run_all(rep, [name], args, n=n, n_groups=groups)
    rep()
    rep("statsmodels' GLM HC1 is its HC0 (no small-sample factor): its bse are compared "
        "times sqrt(n / (n - k)), White's HC1 (R's sandwich::vcovHC(type='HC1'), ours).\n")
    rep.cases(res, CASES, {"rounds": "n_rounds", "nb_alpha_": "alpha",
                           "max rel diff bse vs statsmodels": lambda m, r: bse_vs_peer(m, r, res),
                           "converged": "converged"})
    summary(rep, res, args)
    return res


def bse_vs_peer(name, r, res) -> str:
    """max |bse / bse_statsmodels - 1| of a --peer-n fit of ours (same rows as the peer)."""
    peer = {f"peer_n_brglm_{c}": f"sm_{c}" for c in COVS} | {
        f"peer_n_nb_{nb}": f"sm_nb_{nb}" for nb in ("estimated", "fixed")}
    other = res.get(peer.get(name), {})
    if not (r.get("bse") and other.get("bse")):
        return ""
    a, b = np.asarray(r["bse"]), np.asarray(other["bse"]) * hc1_factor(name, other)
    return f"{np.max(np.abs(a / b - 1.0)):.1e}"


def _bse_vs(res, ours, peer) -> str:
    """max |bse / bse_peer - 1| (glum: the same HC1 and cluster conventions as ours)."""
    a, b = res.get(ours, {}).get("bse"), res.get(peer, {}).get("bse")
    if not (a and b):
        return ""
    return f"{np.max(np.abs(np.asarray(a) / np.asarray(b) - 1.0)):.1e}"


def hc1_factor(name, peer) -> float:
    """statsmodels' GLM "HC1" applies no small-sample factor (it is its "HC0"); ours is
    White's HC1, sqrt(n / (n - k)) times larger: the peer's bse are compared scaled."""
    if not name.endswith("HC1"):
        return 1.0
    n, k = peer["n"], len(peer["theta"])
    return float(np.sqrt(n / (n - k)))


def _t(res, name):
    r = res.get(name, {})
    return med(r) if "times" in r else None


def _peak(res, name) -> str:
    r = res.get(name, {})
    return runner.mb(r["peak"] - r["baseline"]) if "times" in r else ""


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def summary(rep, res, args) -> None:
    """The issue's tables: nonrobust vs HC1 vs cluster; NB estimated vs fixed; targets."""
    rep(f"## Robust standard errors: {args.n:,} x {args.p}, {args.n_groups:,} clusters, "
        f"{args.partitions} blocks\n")
    head = ["estimator", *[f"{c} (s)" for c in COVS], "HC1 / nonrobust", "cluster / nonrobust",
            *[f"rounds {c}" for c in COVS], *[f"peak above base {c} (MB)" for c in COVS]]
    rows, lines = [], []
    for e in ESTIMATORS:
        t = {c: _t(res, f"{e}_{c}") for c in COVS}
        rounds = {c: res.get(f"{e}_{c}", {}).get("n_rounds", "") for c in COVS}
        rows.append([LABELS[e], *[f"{t[c]:.2f}" if t[c] else "" for c in COVS],
                     _ratio(t["HC1"], t["nonrobust"]), _ratio(t["cluster"], t["nonrobust"]),
                     *rounds.values(), *[_peak(res, f"{e}_{c}") for c in COVS]])
        lines += targets(LABELS[e], t, rounds)
    rep.table(head, rows, "l" + "r" * (len(head) - 1))
    for line in lines:
        rep(line)
    rep()
    many, hc1 = _t(res, "brglm_cluster_many"), _t(res, "brglm_HC1_many")
    if many and hc1:
        rep(f"- the cluster sums at {args.many_groups:,} clusters: cluster fit {many:.2f} s vs "
            f"HC1 {hc1:.2f} s on the same data ({_ratio(many, hc1)}x); peak above base "
            f"{_peak(res, 'brglm_cluster_many')} vs {_peak(res, 'brglm_HC1_many')} MB\n")
    tree, group = res.get("sums_tree", {}), res.get("sums_groupby", {})
    if "times" in tree and "times" in group:
        same = abs(tree["meat_trace"] / group["meat_trace"] - 1.0)
        rep(f"- the cluster sums alone ({args.n:,} x {args.p + 1} scores, "
            f"{tree['n_clusters']:,} clusters present, {args.partitions} blocks): "
            f"ClusterSums tree {med(tree):.2f} s, peak above base {_peak(res, 'sums_tree')} "
            f"MB; dask DataFrame groupby-sum {med(group):.2f} s, "
            f"{_peak(res, 'sums_groupby')} MB (meats agree to {same:.1e})\n")
    peers = [[c, f"{_t(res, f'peer_n_brglm_{c}') or float('nan'):.2f}",
              f"{_t(res, f'sm_{c}') or float('nan'):.2f}",
              _ratio(_t(res, f"sm_{c}"), _t(res, f"peer_n_brglm_{c}")),
              f"{_t(res, f'glum_{c}') or float('nan'):.2f}",
              _ratio(_t(res, f"glum_{c}"), _t(res, f"peer_n_brglm_{c}")),
              _peak(res, f"peer_n_brglm_{c}"), _peak(res, f"sm_{c}"), _peak(res, f"glum_{c}"),
              bse_vs_peer(f"peer_n_brglm_{c}", res.get(f"peer_n_brglm_{c}", {}), res),
              _bse_vs(res, f"peer_n_brglm_{c}", f"glum_{c}")] for c in COVS]
    rep(f"### Against statsmodels GLM and glum (in memory) at {args.peer_n:,} rows\n")
    rep.table(["cov_type", "BiasReducedGLM ML (s)", "statsmodels (s)", "statsmodels / ours",
               "glum (s)", "glum / ours", "ours peak above base (MB)", "statsmodels (MB)",
               "glum (MB)", "bse vs statsmodels", "bse vs glum"], peers, "lrrrrrrrrrr")
    nb_summary(rep, res, args)


def targets(label, t, rounds) -> list:
    out = []
    if isinstance(rounds["HC1"], int) and isinstance(rounds["nonrobust"], int):
        extra = rounds["HC1"] - rounds["nonrobust"]
        out.append(f"- target, {label}: HC1 adds <= 1 light pass: {extra} more round(s) -> "
                   f"{'MET' if extra <= 1 else 'NOT MET'}")
    if t["cluster"] and t["nonrobust"]:
        add = t["cluster"] / t["nonrobust"] - 1.0
        out.append(f"- target, {label}: cluster adds <= 30% to the fit: {100 * add:+.0f}% -> "
                   f"{'MET' if add <= 0.3 else 'NOT MET'}")
    return out


def nb_summary(rep, res, args) -> None:
    rep(f"## Negative binomial (true alpha {args.nb_alpha:g}): alpha estimated vs fixed at "
        f"the true value, {args.n:,} x {args.p}\n")
    rows = []
    for e in NB_ESTIMATORS:
        est, fix = (res.get(f"nb_{e}_{k}", {}) for k in ("estimated", "fixed"))
        te, tf = _t(res, f"nb_{e}_estimated"), _t(res, f"nb_{e}_fixed")
        rows.append([LABELS[e], f"{te:.2f}" if te else "", f"{tf:.2f}" if tf else "",
                     _ratio(te, tf), est.get("n_rounds", ""), fix.get("n_rounds", ""),
                     est.get("n_iter", ""), fix.get("n_iter", ""),
                     runner.fmt(est.get("alpha")) if est.get("alpha") is not None else ""])
    rep.table(["estimator", "estimated (s)", "fixed (s)", "estimated / fixed",
               "rounds estimated", "rounds fixed", "iterations estimated", "iterations fixed",
               "nb_alpha_"], rows, "lrrrrrrrr")
    sm_e, ours_e = res.get("sm_nb_estimated", {}), res.get("peer_n_nb_estimated", {})
    if "times" in sm_e and "times" in ours_e:
        diff = (abs(sm_e["alpha"] - ours_e["alpha"]) if ours_e.get("alpha") is not None
                else float("nan"))
        rep(f"- statsmodels NegativeBinomial(nb2, newton) at {args.peer_n:,} rows: "
            f"{med(sm_e):.2f} s vs BiasReducedGLM ML {med(ours_e):.2f} s "
            f"({_ratio(med(sm_e), med(ours_e))}x); alpha {sm_e['alpha']:.6g} vs "
            f"{runner.fmt(ours_e.get('alpha'))} (|diff| {diff:.1e})\n")


def rows(results, args):
    r = results
    out = []
    for c in ("HC1", "cluster"):
        if "times" in r.get(f"peer_n_brglm_{c}", {}):
            out.append(runner.combined_row(
                f"BiasReducedGLM ML {c}", f"Poisson N={args.peer_n:,} p={args.p}",
                r[f"peer_n_brglm_{c}"], {"statsmodels": r.get(f"sm_{c}", {})},
                r.get(f"sm_{c}", {}).get("theta"), "statsmodels"))
    return out


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
