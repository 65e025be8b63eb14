"""Formula fits from Parquet files vs the pre-encoded design and the peers (README)."""

import importlib
import json
import os
import tempfile

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

from benchmarks import adapters, problems, runner
from benchmarks.runner import Case, Spec, block_sizes, main, maxdiff, med, run_all, run_case

TITLE = "Benchmark: formula fits from Parquet files"
QUICK = {"n": 20_000, "files": 4}
MEDIUM = {"n": 200_000, "files": 4}
MEDIUM_CASES = ["read_pass", "dlsa_formula", "dlsa_array", "brglm_formula", "brglm_array",
                "statsmodels_formula", "glum_formula"]
RHS = "C(carrier) + C(origin) + C(month) + x1 + np.log(x2)"
FORMULA = {"binomial": "y ~ " + RHS, "gaussian": "z ~ " + RHS}
READ = ["x1", "x2", "carrier", "origin", "month", "y"]
DATA = "flights-like Parquet files; formula `y ~ " + RHS + "`"
OPTIONS = {"n": 4_000_000, "files": 30, "peer_repeats": 1, "data_dir": (str, None),
           "block_profile": False, "max_wait": 30.0, "timeout": 900.0}


def dirs(p):
    root = p.data_dir or os.path.join(tempfile.gettempdir(), "dask_glmdist_bench_formula")
    tag = os.path.join(root, f"n{p.n}_f{p.files}_s{p.seed}")
    return os.path.join(tag, "raw"), os.path.join(tag, "encoded")


class Prepare(Case):
    """Write the raw files and their copy encoded by the library's own design, once."""

    repeats = 1

    def fit(self):
        from dask_glmdist.design import build_block, learn_design
        raw, enc = dirs(self.p)
        if not os.path.exists(os.path.join(enc, "_done")):
            for d in (raw, enc):
                os.makedirs(d, exist_ok=True)
            for k, nk in enumerate(block_sizes(self.p.n, self.p.files)):
                problems.flights_file(k, nk, self.p.seed).to_parquet(
                    os.path.join(raw, f"part.{k:03d}.parquet"), index=False)
            design = learn_design(dd.read_parquet(raw), FORMULA["binomial"], fit_intercept=True,
                                  y_given=False)
            for k in range(self.p.files):
                part = pd.read_parquet(os.path.join(raw, f"part.{k:03d}.parquet"))
                X = build_block(part, design, response=False, missing="raise")[0]
                out = pd.DataFrame(X, columns=[f"c{j:03d}" for j in range(X.shape[1])])
                out["y"], out["z"] = part["y"].to_numpy(), part["z"].to_numpy()
                out.to_parquet(os.path.join(enc, f"part.{k:03d}.parquet"), index=False)
            with open(os.path.join(enc, "names.json"), "w") as fh:
                json.dump(design.column_names, fh)
            open(os.path.join(enc, "_done"), "w").close()
        with open(os.path.join(enc, "names.json")) as fh:
            return {"names": ["Intercept"] + json.load(fh)}


class Method(Case):
    """(a) ``formula``: the formula on read_parquet of the raw files; (b) ``array``: the
    encoded columns as a dask array in memory; (b') ``encparquet``: read_parquet of the encoded
    files; (d) ``read``: one read_parquet pass of the model's columns."""

    est, family, kind = "dlsa", "binomial", "formula"

    def setup(self):
        import dask_glmdist  # noqa: F401
        self.raw, self.enc = dirs(self.p)
        self.resp = "y" if self.family == "binomial" else "z"
        if self.kind == "array":
            parts = [pd.read_parquet(os.path.join(self.enc, f))
                     for f in sorted(os.listdir(self.enc)) if f.endswith(".parquet")]
            cols, chunks = [c for c in parts[0].columns if c.startswith("c")], \
                tuple(len(q) for q in parts)
            self.X = da.from_array(np.concatenate([q[cols].to_numpy(float) for q in parts]),
                                   chunks=(chunks, -1))
            self.y = da.from_array(np.concatenate([q[self.resp].to_numpy(float)
                                                   for q in parts]), chunks=(chunks,))

    def fit(self):
        if self.kind == "read":
            df = dd.read_parquet(self.raw, columns=READ)
            return {"nbytes": int(df.map_partitions(lambda q: q.memory_usage().sum()).sum()
                                  .compute()), "passes": 1}
        cls = "DLSALogisticRegression" if self.est == "dlsa" else "BiasReducedGLM"
        kw = {} if self.est == "dlsa" else {"family": self.family, "method": "ML"}
        if self.kind == "formula":
            m = adapters.ours(cls, dd.read_parquet(self.raw), formula=FORMULA[self.family], **kw)
        elif self.kind == "array":
            m = adapters.ours(cls, self.X, self.y, **kw)
        else:
            df = dd.read_parquet(self.enc)
            m = adapters.ours(cls, df[[c for c in df.columns if c.startswith("c")]],
                              df[self.resp], **kw)
        return {**adapters.report(m), "passes": adapters.passes(m)}


class Peer(Case):
    needs, family = "statsmodels", "binomial"

    def setup(self):
        importlib.import_module("glum" if self.needs == "glum" else "statsmodels.formula.api")
        self.repeats = self.p.peer_repeats
        self.frame = pd.read_parquet(dirs(self.p)[0], columns=READ + ["z"])

    def fit(self):
        f = FORMULA[self.family]
        if self.needs == "statsmodels":
            r = adapters.statsmodels_glm(None, self.frame, self.family, formula=f, tol=1e-10)
            return {**r, "passes": f"{r['n_iter']} IRLS iters"}
        r = adapters.glum_glm(self.frame, self.family, f, gradient_tol=1e-10)
        return {**r, "passes": f"{r['n_iter']} iters"}


class BlockProfile(Case):
    """dask_glmdist.design.build_block on one in-memory 200,000-row block (median of 7),
    then its cProfile (3 calls)."""

    repeats = 7

    def setup(self):
        from dask_glmdist.design import learn_design
        self.part = problems.flights_file(0, 200_000, self.p.seed)
        every = pd.concat([problems.flights_file(k, 1000, self.p.seed) for k in range(3)])
        self.design = learn_design(every, FORMULA["binomial"], fit_intercept=True, y_given=False)

    def fit(self):
        from dask_glmdist.design import build_block
        build_block(self.part, self.design, response=True, missing="raise")

    def after(self):
        notes = runner.profiled(lambda: [self.fit() for _ in range(3)], ("cumulative", 25))
        return {"notes": notes, "columns": self.design.n_columns}


EST = {"dlsa": "DLSALogisticRegression", "brglm": "BiasReducedGLM ML binomial",
       "brglm_gauss": "BiasReducedGLM gaussian"}
KINDS = {"formula": "(a) {}, formula, read_parquet", "array": "(b) {}, encoded dask array in "
         "memory", "encparquet": "(b') {}, encoded columns, read_parquet"}
CASES = {
    "prepare": Spec("write the data", Prepare),
    "read_pass": Spec("(d) one read_parquet pass of the model's columns", Method, {"kind": "read"}),
    **{f"{e}_{k}": Spec(label.format(EST[e]), Method, {
        "est": e[:5], "kind": k, "family": "gaussian" if "gauss" in e else "binomial"})
       for e in EST for k, label in KINDS.items() if (e, k) != ("brglm_gauss", "encparquet")},
    "statsmodels_formula": Spec("(c) statsmodels smf.glm binomial, formula, pandas in memory",
                                Peer),
    "glum_formula": Spec("(c) glum GeneralizedLinearRegressor binomial, formula, pandas", Peer,
                         {"needs": "glum"}),
    "statsmodels_gauss_formula": Spec("(c) statsmodels smf.glm gaussian, formula, pandas", Peer,
                                      {"family": "gaussian"}),
    "glum_gauss_formula": Spec("(c) glum gaussian, formula, pandas", Peer,
                               {"needs": "glum", "family": "gaussian"}),
    "block_profile": Spec("build_block, one 200,000-row block", BlockProfile),
}
DEFAULT = [m for m in CASES if m not in ("prepare", "block_profile")]


def _theta(res, names):
    if not res or "theta" not in res:
        return None
    theta = np.asarray(res["theta"])
    pos = {str(k): i for i, k in enumerate(res.get("names") or [])}
    if pos and all(k in pos for k in names):
        return theta[[pos[k] for k in names]]
    return theta if len(theta) == len(names) else None


def _diff(a, b):
    return f"{maxdiff(a, b):.1e}" if a is not None and b is not None and len(a) == len(b) else "-"


def run(args, rep):
    if args.block_profile:
        r, err = run_case("block_profile", args)
        return rep(err or f"build_block, one 200,000-row block, {r['columns']} columns: median "
                   f"{1e3 * med(r):.0f} ms, min {1e3 * min(r['times']):.0f} ms (7 runs)\n```\n"
                   f"{r['notes']}\n```")
    prep, err = run_case("prepare", args)
    if err:
        return rep(f"- data: {err}")
    names = prep["names"]
    rep(f"- data written / found in {prep['times'][0]:.0f} s; {len(names)} parameters")
    res = {k: v for k, v in run_all(rep, args.methods, args).items() if "times" in v}
    ref = {f: _theta(res.get(m), names) for f, m in (("binomial", "statsmodels_formula"),
                                                     ("gaussian", "statsmodels_gauss_formula"))}
    same = {e: _theta(res.get(f"{e}_array"), names) for e in ("dlsa", "brglm", "brglm_gauss")}
    rep()
    rep.cases(res, CASES, {
        "passes": "passes",
        "max abs diff to (b)": lambda m, r: _diff(_theta(r, names), same.get(m.rsplit("_", 1)[0])),
        "max abs diff to statsmodels": lambda m, r: _diff(
            _theta(r, names), ref[CASES[m].kw.get("family", "binomial")])})
    t = {k: med(v) for k, v in res.items()}
    d = t.get("read_pass")
    for est in ("dlsa", "brglm", "brglm_gauss"):
        a, b, b2 = (t.get(f"{est}_{k}") for k in ("formula", "array", "encparquet"))
        if a is None:
            continue
        line = f"- {est}: (a) {a:.2f} s"
        line += f"; encoding overhead (a)/(b) = {a / b:.2f} (target <= 1.2)" if b else ""
        line += f"; (a)/(b') = {a / b2:.2f}" if b2 else ""
        if d:
            ps = res[f"{est}_formula"]["passes"]
            line += (f"; (a) / ((d) x {ps} passes) = {a / (d * ps):.2f}, with the levels pass "
                     f"counted as one more: {a / (d * (ps + 1)):.2f} (target <= 2)")
        g = "_gauss" if est == "brglm_gauss" else ""
        for peer in (f"statsmodels{g}_formula", f"glum{g}_formula"):
            line += f"; {peer} / (a) = {t[peer] / a:.2f}" if peer in t else ""
        rep(line)
    return res


def rows(results, args):
    names = results.get("statsmodels_formula", {}).get("names") or []
    ref = _theta(results.get("statsmodels_formula"), names)
    peers = {m: results[m] for m in ("statsmodels_formula", "glum_formula") if m in results}
    return [runner.combined_row(f"{cls} (formula, Parquet)", f"flights N={args.n:,}",
                                {**ours, "theta": _theta(ours, names)}, peers, ref,
                                "statsmodels")
            for est, cls in (("dlsa", "DLSALogisticRegression"), ("brglm", "BiasReducedGLM ML"))
            if (ours := results.get(f"{est}_formula")) and ref is not None]


if __name__ == "__main__":
    main(importlib.import_module(__spec__.name))
