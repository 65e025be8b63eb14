"""Benchmark: formula fits from Parquet files vs the pre-encoded design and the peers.

What it measures
----------------
N rows (``--n``, default 4,000,000) in ``--files`` Parquet files (default 30) written
once into ``--data-dir`` (reused when present): 3 categorical columns -- ``carrier`` (20
string levels), ``origin`` (30 string levels), ``month`` (12 integer levels), 62 levels
in all, a few levels absent from some files (each file lacks one carrier and two origins,
and every third file has no December) -- two numeric columns ``x1`` (normal) and ``x2``
(log-normal), a binary response ``y`` (logistic in the linear predictor) and a
continuous one ``z`` (the linear predictor plus N(0, 1) noise). The model
``y ~ C(carrier) + C(origin) + C(month) + x1 + np.log(x2)`` has 62 parameters. Methods:

* (a) ``dlsa_formula``, ``brglm_formula``: ``DLSALogisticRegression(formula=F)`` and
  ``BiasReducedGLM(family="binomial", method="ML", formula=F)`` fitted on
  ``dd.read_parquet(DIR)`` (un-persisted: every pass reads and encodes the files;
  the levels come from one light pass over the categorical columns);
  ``brglm_gauss_formula``: ``BiasReducedGLM(family="gaussian", formula="z ~ ...")``
  (one IWLS step: the case where encoding weighs most);
* (b) ``*_array``: the same estimator on the encoded design as a NumPy-backed dask array
  held in memory (``da.from_array``, one chunk per file; encoded from the files before
  the timing starts), and ``*_encparquet``: on ``dd.read_parquet`` of a copy of the data
  set holding the encoded columns (61 float64 columns + y + z);
* (c) ``statsmodels_formula``: ``smf.glm(F, frame, family=Binomial()).fit()`` (IRLS) and
  ``glum_formula``: ``glum.GeneralizedLinearRegressor(family="binomial", alpha=0,
  formula=F, drop_first=True).fit(frame)`` (unpenalised, reference level dropped),
  the frame read into pandas before the timing starts;
  ``statsmodels_gauss_formula`` / ``glum_gauss_formula`` for ``z``;
* (d) ``read_pass``: one plain ``dd.read_parquet`` pass over the columns the model reads
  (``x1, x2, carrier, origin, month, y``): the bytes of every partition, summed.

Every method runs in its own fresh subprocess (this script re-invoked with
``--worker METHOD``): it imports, sets up (not timed), records its RSS (baseline), then
fits ``--repeats`` times (the peers: ``--peer-repeats``) while a background thread
samples its RSS every 5 ms. Before each fit it waits (up to ``--max-wait`` s) for other
processes to use < 0.15 cores. Reported: median wall time (and min), peak RSS above the
baseline and the absolute peak, data passes, and the largest coefficient difference to
the reference fits. The dask fits use the threaded scheduler (2 threads here).

How to run
----------
::

    PYTHONPATH=$PWD python benchmarks/bench_formula.py --n 200000 --files 8 --repeats 1
    PYTHONPATH=$PWD python benchmarks/bench_formula.py --out benchmarks/results_formula.md

``--block-profile`` instead times ``dask_glmdist.design.build_block`` on one in-memory
200,000-row block (median of 7) and prints its cProfile.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _harness import CpuMeter, MemorySampler, Report, _blas_info, _mb, _versions, wait_quiet

MARK = "@@RESULT@@"
CARRIERS = [f"C{i:02d}" for i in range(20)]
ORIGINS = [f"A{i:02d}" for i in range(30)]
RHS = "C(carrier) + C(origin) + C(month) + x1 + np.log(x2)"
FORMULA = {"binomial": "y ~ " + RHS, "gaussian": "z ~ " + RHS}
READ_COLUMNS = ["x1", "x2", "carrier", "origin", "month", "y"]
VERSION_MODULES = ("numpy", "pandas", "pyarrow", "dask", "formulaic", "statsmodels", "glum",
                   "dask_glmdist")

METHODS = {  # name: (label, family, kind)
    "read_pass": ("(d) one read_parquet pass of the model's columns", None, "read"),
    "dlsa_formula": ("(a) DLSALogisticRegression, formula, read_parquet", "binomial", "a"),
    "dlsa_array": ("(b) DLSALogisticRegression, encoded dask array in memory",
                   "binomial", "b"),
    "dlsa_encparquet": ("(b') DLSALogisticRegression, encoded columns, read_parquet",
                        "binomial", "b'"),
    "brglm_formula": ("(a) BiasReducedGLM ML binomial, formula, read_parquet",
                      "binomial", "a"),
    "brglm_array": ("(b) BiasReducedGLM ML binomial, encoded dask array in memory",
                    "binomial", "b"),
    "brglm_encparquet": ("(b') BiasReducedGLM ML binomial, encoded columns, read_parquet",
                         "binomial", "b'"),
    "brglm_gauss_formula": ("(a) BiasReducedGLM gaussian, formula, read_parquet",
                            "gaussian", "a"),
    "brglm_gauss_array": ("(b) BiasReducedGLM gaussian, encoded dask array in memory",
                          "gaussian", "b"),
    "statsmodels_formula": ("(c) statsmodels smf.glm binomial, formula, pandas in memory",
                            "binomial", "c"),
    "glum_formula": ("(c) glum GeneralizedLinearRegressor binomial, formula, pandas",
                     "binomial", "c"),
    "statsmodels_gauss_formula": ("(c) statsmodels smf.glm gaussian, formula, pandas",
                                  "gaussian", "c"),
    "glum_gauss_formula": ("(c) glum gaussian, formula, pandas", "gaussian", "c"),
}
PEERS = {"statsmodels_formula", "glum_formula", "statsmodels_gauss_formula",
         "glum_gauss_formula"}


# --------------------------------------------------------------------------------------
# data: seeded, file by file
# --------------------------------------------------------------------------------------


def _effects(seed: int):
    rng = np.random.default_rng([seed, 999])
    return (rng.normal(0, 0.3, len(CARRIERS)), rng.normal(0, 0.3, len(ORIGINS)),
            rng.normal(0, 0.2, 12))


def make_file(k: int, n: int, seed: int):
    """File k as a pandas frame: a few levels absent (one carrier, two origins, and
    December in every third file)."""
    import pandas as pd

    rng = np.random.default_rng([seed, k])
    ce, oe, me = _effects(seed)
    pc = np.ones(len(CARRIERS))
    pc[k % len(CARRIERS)] = 0
    po = np.ones(len(ORIGINS))
    po[[k % len(ORIGINS), (7 * k + 3) % len(ORIGINS)]] = 0
    months = np.arange(1, 13 if k % 3 else 12)
    c = rng.choice(len(CARRIERS), n, p=pc / pc.sum())
    o = rng.choice(len(ORIGINS), n, p=po / po.sum())
    m = rng.choice(months, n)
    x1 = rng.normal(size=n)
    x2 = rng.lognormal(size=n)
    eta = -0.5 + ce[c] + oe[o] + me[m - 1] + 0.5 * x1 - 0.3 * np.log(x2)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    z = eta + rng.normal(size=n)
    return pd.DataFrame({
        "carrier": pd.array(np.asarray(CARRIERS)[c], dtype="str"),
        "origin": pd.array(np.asarray(ORIGINS)[o], dtype="str"),
        "month": m.astype(np.int64), "x1": x1, "x2": x2, "y": y, "z": z})


def data_dirs(args):
    root = args.data_dir or os.path.join(tempfile.gettempdir(), "dask_glmdist_bench_formula")
    tag = os.path.join(root, f"n{args.n}_f{args.files}_s{args.seed}")
    return os.path.join(tag, "raw"), os.path.join(tag, "encoded")


def file_sizes(n: int, k: int) -> list[int]:
    sizes = [n // k] * k
    for i in range(n % k):
        sizes[i] += 1
    return sizes


def write_data(args) -> None:
    """The raw files and their encoded copy (encoded with the library's own design, so
    (b) fits exactly the numbers (a) builds)."""
    import pandas as pd

    from dask_glmdist.design import build_block, learn_design

    raw, enc = data_dirs(args)
    if os.path.exists(os.path.join(enc, "_done")):
        return
    os.makedirs(raw, exist_ok=True)
    os.makedirs(enc, exist_ok=True)
    sizes = file_sizes(args.n, args.files)
    for k, nk in enumerate(sizes):
        make_file(k, nk, args.seed).to_parquet(os.path.join(raw, f"part.{k:03d}.parquet"),
                                               index=False)
    import dask.dataframe as dd

    design = learn_design(dd.read_parquet(raw), FORMULA["binomial"], fit_intercept=True,
                          y_given=False)
    for k in range(len(sizes)):
        part = pd.read_parquet(os.path.join(raw, f"part.{k:03d}.parquet"))
        X = build_block(part, design, response=False, missing="raise")[0]
        out = pd.DataFrame(X, columns=[f"c{j:03d}" for j in range(X.shape[1])])
        out["y"] = part["y"].to_numpy()
        out["z"] = part["z"].to_numpy()
        out.to_parquet(os.path.join(enc, f"part.{k:03d}.parquet"), index=False)
    with open(os.path.join(enc, "names.json"), "w") as fh:
        json.dump(design.column_names, fh)
    open(os.path.join(enc, "_done"), "w").close()


# --------------------------------------------------------------------------------------
# methods: setup (not timed) and fit (timed)
# --------------------------------------------------------------------------------------


def _estimator(family: str, formula: str | None):
    from dask_glmdist import BiasReducedGLM, DLSALogisticRegression

    kw = {} if formula is None else {"formula": formula}
    if family == "dlsa":
        return DLSALogisticRegression(**kw)
    return BiasReducedGLM(family=family, method="ML", **kw)


def _ours_result(model):
    passes = getattr(model, "n_passes_", None) or model.n_iter_
    return {"theta": [float(v) for v in model.params_], "passes": int(passes),
            "n_blocks": int(model.n_blocks_)}


class Method:
    def __init__(self, name, args):
        self.name, self.args = name, args
        self.raw, self.enc = data_dirs(args)
        self.family = METHODS[name][1]
        self.est = "dlsa" if name.startswith("dlsa") else self.family

    def setup(self):
        import dask.dataframe as dd  # noqa: F401  (imports are not part of the fit)

        import dask_glmdist  # noqa: F401

    def fit(self):
        raise NotImplementedError


class ReadPass(Method):
    def fit(self):
        import dask.dataframe as dd

        df = dd.read_parquet(self.raw, columns=READ_COLUMNS)
        nbytes = df.map_partitions(lambda p: p.memory_usage(deep=False).sum()).sum().compute()
        return {"nbytes": int(nbytes), "passes": 1}


class OursFormula(Method):
    def fit(self):
        import dask.dataframe as dd

        model = _estimator(self.est, FORMULA[self.family]).fit(dd.read_parquet(self.raw))
        return _ours_result(model)


class OursArray(Method):
    def setup(self):
        super().setup()
        import dask.array as da
        import pandas as pd

        files = sorted(f for f in os.listdir(self.enc) if f.endswith(".parquet"))
        parts = [pd.read_parquet(os.path.join(self.enc, f)) for f in files]
        cols = [c for c in parts[0].columns if c.startswith("c")]
        resp = "y" if self.family == "binomial" else "z"
        X = np.concatenate([p[cols].to_numpy(dtype=np.float64) for p in parts])
        y = np.concatenate([p[resp].to_numpy(dtype=np.float64) for p in parts])
        chunks = (tuple(len(p) for p in parts),)
        del parts
        self.X = da.from_array(X, chunks=(chunks[0], -1))
        self.y = da.from_array(y, chunks=chunks)

    def fit(self):
        return _ours_result(_estimator(self.est, None).fit(self.X, self.y))


class OursEncParquet(Method):
    def fit(self):
        import dask.dataframe as dd

        df = dd.read_parquet(self.enc)
        cols = [c for c in df.columns if c.startswith("c")]
        resp = "y" if self.family == "binomial" else "z"
        return _ours_result(_estimator(self.est, None).fit(df[cols], df[resp]))


class Peer(Method):
    def setup(self):
        import pandas as pd

        self.frame = pd.read_parquet(self.raw, columns=READ_COLUMNS + ["z"])
        if self.name.startswith("statsmodels"):
            import statsmodels.formula.api  # noqa: F401
        else:
            import glum  # noqa: F401

    def fit(self):
        formula = FORMULA[self.family]
        if self.name.startswith("statsmodels"):
            import statsmodels.api as sm
            import statsmodels.formula.api as smf

            fam = sm.families.Binomial() if self.family == "binomial" else sm.families.Gaussian()
            res = smf.glm(formula, self.frame, family=fam).fit(tol=1e-10)
            return {"theta": [float(v) for v in res.params], "names": list(res.params.index),
                    "passes": f"{res.fit_history['iteration']} IRLS iters"}
        from glum import GeneralizedLinearRegressor

        model = GeneralizedLinearRegressor(
            family=self.family, alpha=0, formula=formula, drop_first=True,
            categorical_format="{name}[T.{category}]", gradient_tol=1e-10)
        model.fit(self.frame)
        return {"theta": [float(model.intercept_)] + [float(v) for v in model.coef_],
                "names": ["Intercept"] + list(model.feature_names_),
                "passes": f"{model.n_iter_} iters"}


def make_method(name, args):
    if name == "read_pass":
        return ReadPass(name, args)
    if name in PEERS:
        return Peer(name, args)
    if name.endswith("_formula"):
        return OursFormula(name, args)
    if name.endswith("_array"):
        return OursArray(name, args)
    return OursEncParquet(name, args)


def run_worker(args) -> None:
    import warnings

    warnings.simplefilter("ignore")
    method = make_method(args.worker, args)
    t0 = time.perf_counter()
    method.setup()
    setup_s = time.perf_counter() - t0
    gc.collect()
    time.sleep(0.3)
    baseline = MemorySampler().sample()[0]
    repeats = args.peer_repeats if args.worker in PEERS else args.repeats
    times, peaks, other, result = [], [], [], None
    for _ in range(repeats):
        gc.collect()
        wait_quiet(max_wait=args.max_wait)
        with MemorySampler() as mem, CpuMeter() as cpu:
            t = time.perf_counter()
            result = method.fit()
            times.append(time.perf_counter() - t)
        peaks.append(mem.peak)
        other.append(cpu.other_cores)
    out = {"method": args.worker, "times": times, "other_cores": other, "setup_s": setup_s,
           "baseline": baseline, "peak": max(peaks),
           "measured": datetime.datetime.now().isoformat(timespec="seconds"), **result}
    print(MARK + json.dumps(out), flush=True)


def run_method(name, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--n", str(args.n),
           "--files", str(args.files), "--seed", str(args.seed), "--repeats",
           str(args.repeats), "--peer-repeats", str(args.peer_repeats), "--max-wait",
           str(args.max_wait)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {args.timeout} s"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


# --------------------------------------------------------------------------------------
# one block of build_block
# --------------------------------------------------------------------------------------


def block_profile(n: int = 200_000, seed: int = 0) -> None:
    import cProfile
    import pstats
    import warnings

    from dask_glmdist.design import build_block, learn_design

    warnings.simplefilter("ignore")
    import pandas as pd

    part = make_file(0, n, seed)  # one file's block; the design knows every level
    every = pd.concat([make_file(k, 1000, seed) for k in range(3)], ignore_index=True)
    design = learn_design(every, FORMULA["binomial"], fit_intercept=True, y_given=False)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        build_block(part, design, response=True, missing="raise")
        times.append(time.perf_counter() - t)
    print(f"build_block, one {n:,}-row block, {design.n_columns} columns: median "
          f"{1e3 * statistics.median(times):.0f} ms, min {1e3 * min(times):.0f} ms (7 runs)")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3):
        build_block(part, design, response=True, missing="raise")
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def _theta_by_name(res, names):
    if res is None or "theta" not in res:
        return None
    theta = np.asarray(res["theta"])
    if "names" not in res:
        return theta
    pos = {str(k): i for i, k in enumerate(res["names"])}
    if all(k in pos for k in names):
        return theta[[pos[k] for k in names]]
    return theta if len(theta) == len(names) else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4_000_000)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=1)
    parser.add_argument("--max-wait", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--data-dir", help="where the Parquet files are written (reused)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--out", help="also write the report (markdown) to this file")
    parser.add_argument("--block-profile", action="store_true")
    parser.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args)
        return
    if args.block_profile:
        block_profile(seed=args.seed)
        return
    report = Report(args.out)
    t0 = time.perf_counter()
    write_data(args)
    raw, enc = data_dirs(args)
    with open(os.path.join(enc, "names.json")) as fh:
        names = ["Intercept"] + json.load(fh)
    report("# Benchmark: formula fits from Parquet files")
    report()
    report(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    report(f"- machine: {os.cpu_count()} cores, {platform.machine()}, Python "
           f"{platform.python_version()}; load average before the run "
           f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(f"- versions: {_versions(VERSION_MODULES)}")
    report(f"- BLAS: {_blas_info()}")
    report(f"- command: `bench_formula.py {' '.join(argv or sys.argv[1:])}`")
    report(f"- data: N = {args.n:,} rows in {args.files} Parquet files (data written / "
           f"found in {time.perf_counter() - t0:.0f} s); formula `{FORMULA['binomial']}` "
           f"({len(names)} parameters); time = median of {args.repeats} fit(s) "
           f"({args.peer_repeats} for statsmodels/glum) in a fresh process per method")
    report()
    results = {}
    for name in args.methods:
        res, err = run_method(name, args)
        results[name] = res
        if res is None:
            report(f"- {name}: {err}")
            continue
        report(f"- {name}: times {', '.join(f'{t:.2f}' for t in res['times'])} s; peak "
               f"above base {_mb(res['peak'] - res['baseline'])} MB; passes "
               f"{res.get('passes')}; other load "
               f"{', '.join(f'{c:.2f}' for c in res['other_cores'])} cores; load average "
               f"now {os.getloadavg()[0]:.2f}")
    report()

    def med(name):
        res = results.get(name)
        return statistics.median(res["times"]) if res else None

    ref = {"binomial": _theta_by_name(results.get("statsmodels_formula"), names),
           "gaussian": _theta_by_name(results.get("statsmodels_gauss_formula"), names)}
    same = {"dlsa": _theta_by_name(results.get("dlsa_array"), names),
            "binomial": _theta_by_name(results.get("brglm_array"), names),
            "gaussian": _theta_by_name(results.get("brglm_gauss_array"), names)}
    report("| method | median (s) | min (s) | peak above base (MB) | peak RSS (MB) | passes "
           "| max abs diff to (b) | max abs diff to statsmodels | other load (cores) |")
    report("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for name, res in results.items():
        if res is None:
            continue
        fam = METHODS[name][1]
        theta = _theta_by_name(res, names)
        key = "dlsa" if name.startswith("dlsa") else fam
        d_b = d_sm = "-"
        if theta is not None and same.get(key) is not None and len(theta) == len(same[key]):
            d_b = f"{np.max(np.abs(theta - same[key])):.1e}"
        if theta is not None and ref.get(fam) is not None and len(theta) == len(ref[fam]):
            d_sm = f"{np.max(np.abs(theta - ref[fam])):.1e}"
        report(f"| {METHODS[name][0]} | {med(name):.2f} | {min(res['times']):.2f} | "
               f"{_mb(res['peak'] - res['baseline'])} | {_mb(res['peak'])} | "
               f"{res.get('passes')} | {d_b} | {d_sm} | {max(res['other_cores']):.2f} |")
    report()
    d = med("read_pass")
    for est in ("dlsa", "brglm", "brglm_gauss"):
        a, b, b2 = med(f"{est}_formula"), med(f"{est}_array"), med(f"{est}_encparquet")
        if a is None:
            continue
        line = f"- {est}: (a) {a:.2f} s"
        if b:
            line += f"; encoding overhead (a)/(b) = {a / b:.2f} (target <= 1.2)"
        if b2:
            line += f"; (a)/(b') = {a / b2:.2f}"
        if d:
            passes = results[f"{est}_formula"]["passes"]
            line += (f"; (a) / ((d) x {passes} passes) = {a / (d * passes):.2f}, with the "
                     f"levels pass counted as one more: {a / (d * (passes + 1)):.2f} "
                     "(target <= 2)")
        fam = "gaussian" if est == "brglm_gauss" else "binomial"
        for peer in (("statsmodels_gauss_formula", "glum_gauss_formula") if fam == "gaussian"
                     else ("statsmodels_formula", "glum_formula")):
            if med(peer):
                line += f"; {peer} / (a) = {med(peer) / a:.2f}"
        report(line)


if __name__ == "__main__":
    main()
