"""The shared measurement harness: worker processes, peak RSS, timing, Markdown reports.

What a configuration defines: see the README (``OPTIONS``: name -> default, or (type,
default)). Each case runs in a fresh worker process (``--inprocess``: in this one); the parent
never imports ``dask_glmdist``, so ``PYTHONPATH`` decides which checkout is measured.
"""

import argparse
import contextlib
import cProfile
import datetime
import gc
import hashlib
import importlib
import importlib.util
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import warnings
from collections import namedtuple
from importlib.metadata import version

import dask
import numpy as np
from threadpoolctl import threadpool_info

MARK = "@@RESULT@@"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMMON = {"quick": False, "medium": False, "out": (str, None), "repeats": 3, "seed": 0,
          "cores": 2, "max_wait": 60.0, "fit_budget": 60.0, "timeout": 1800.0,
          "inprocess": False, "venv": "/tmp/dmlvenv"}
MODULES = ("numpy", "scipy", "pandas", "pyarrow", "dask", "distributed", "sklearn",
           "statsmodels", "glum", "firthmodels", "formulaic", "zarr", "dask_ml", "joblib",
           "psutil", "threadpoolctl", "dask_glmdist")
HARNESS = {"case", "measured", "setup_s", "baseline", "processes", "data_bytes", "ru_maxrss",
           "times", "peak", "other_cores", "waited_s", "warnings", "wall_s"}
HIDDEN = {"theta", "coef", "bse", "names", "notes", "rows", "coef_repaired", "deviance",
          "dispersion", "df_resid"}

Spec = namedtuple("Spec", "label cls kw", defaults=[{}])  # a case: label, Case class, keywords


def block_sizes(n: int, k: int) -> list[int]:
    """Row counts of the k blocks (as dask_glmdist's as_blocked splits n rows)."""
    return [n // k + (i < n % k) for i in range(k)]


def mb(b) -> str:
    return f"{b / 2**20:,.0f}"


def med(res) -> float:
    return statistics.median(res["times"])


def runs(xs, fmt="{:.3f}") -> str:
    return ", ".join(fmt.format(x) for x in xs)


def maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def procs(res) -> str:
    return f" ({res['processes']} procs)" if res.get("processes", 1) > 1 else ""


def fmt(v) -> str:
    """A measurement as text: numbers to 4 digits, lists and dicts element by element."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(map(fmt, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} {fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def timed(f):
    """(``f()``, its wall time in s)."""
    t = time.perf_counter()
    return f(), time.perf_counter() - t


def median_time(f, repeat: int = 7) -> float:
    """Median wall time of ``f()`` over ``repeat`` calls (s)."""
    return statistics.median(timed(f)[1] for _ in range(repeat))


def profiled(f, *views, top: int = 25) -> str:
    """cProfile of ``f()``: for each (sort key, pstats restriction) in ``views``, up to
    ``top`` lines of the table."""
    prof, out = cProfile.Profile(), []
    prof.runcall(f)
    for key, restriction in views:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(restriction)
        text = buf.getvalue().splitlines()
        start = next((i for i, ln in enumerate(text) if "ncalls" in ln), 0)
        out += [f"by {key} ({restriction}):", *[ln for ln in text[start:] if ln.strip()][:top]]
    return "\n".join(out)


class Monitor:
    """Over a span: the peak RSS of this process plus ``pids`` (``tree``: plus all its
    descendants), sampled every ``interval`` s in a thread (None: no sampling), and the CPU
    use of *other* processes (machine busy time minus ours), in cores."""

    def __init__(self, pids=(), interval: float | None = 0.005, tree: bool = False):
        import psutil
        self._ps, self._me, self.pids, self.tree = psutil, psutil.Process(), pids, tree
        self.interval, self._stop, self.peak = interval, threading.Event(), 0

    def _total(self, what) -> float:
        total = what(self._me)
        for proc in [self._ps.Process(p) for p in self.pids] + (
                self._me.children(recursive=True) if self.tree else []):
            with contextlib.suppress(Exception):  # a process that just ended
                total += what(proc)
        return total

    def sample(self) -> int:
        return int(self._total(lambda p: p.memory_info().rss))

    def _cpu(self):
        t, c = self._ps.cpu_times(), self._me.cpu_times()
        ours = self._total(lambda p: p.cpu_times().user + p.cpu_times().system) + (
            c.children_user + c.children_system if self.tree else 0.0)
        return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0), ours

    def _run(self):  # (interval None: waits for the end)
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.sample())

    def __enter__(self):
        self.peak, self._t0, self._cpu0 = self.sample(), time.perf_counter(), self._cpu()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())
        (b0, o0), (b1, o1) = self._cpu0, self._cpu()
        wall = time.perf_counter() - self._t0
        self.other_cores = max(0.0, (b1 - b0) - (o1 - o0)) / max(wall, 1e-9)


def wait_quiet(pids=(), threshold: float = 0.15, max_wait: float = 60.0) -> float:
    """Wait (up to max_wait s) until other processes use < threshold cores for 1 s."""
    t0, quiet = time.perf_counter(), 0
    while time.perf_counter() - t0 < max_wait and quiet < 2:
        with Monitor(pids, None) as m:
            time.sleep(0.5)
        quiet = quiet + 1 if m.other_cores < threshold else 0
    return time.perf_counter() - t0


def measure(fit, p, repeats=None, pids=(), tree=False) -> dict:
    """Time ``fit()`` ``repeats`` times (fewer once ``p.fit_budget`` s are spent), sampling
    the peak RSS and the other processes' load; the last fit's result dict is merged in."""
    times, mons, waited, warned, result = [], [], 0.0, [], {}
    for _ in range(repeats or p.repeats):
        if times and sum(times) > p.fit_budget:
            break
        gc.collect()
        waited += wait_quiet(pids, max_wait=p.max_wait) if p.max_wait > 0 else 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Monitor(pids, 0.02 if tree else 0.005, tree) as mon:
                result, seconds = timed(fit)
        times.append(seconds)
        mons.append(mon)
        warned += [m for w in caught if (m := f"{w.category.__name__}: {w.message}") not in warned]
    return {"times": times, "peak": max(m.peak for m in mons), "waited_s": waited,
            "other_cores": [m.other_cores for m in mons], "warnings": warned, **(result or {})}


class Case:
    """One measured configuration: ``setup`` (not timed), ``fit`` (timed) -> dict,
    ``after`` (untimed checks) -> dict, ``teardown``. Class attributes: ``blas`` ("cores":
    OMP/OPENBLAS/MKL_NUM_THREADS = --cores in the worker, "unset": removed), ``venv``
    (run with the --venv Python), ``needs`` (a module; the case is skipped without it),
    ``tree`` (sample the process tree), ``repeats``, ``threads`` (the threaded dask scheduler:
    True, or "cores": --cores threads) and ``data``, how ``setup`` holds the rows of
    ``problem()`` (a ``problems.AR1``): "numpy", "design" (NumPy [1, X]), "dask" (persisted
    blocks) or "cluster" (``problems.on_cluster``). ``X`` and ``y`` count as the data held."""

    pids, data = (), "numpy"
    data_bytes = tree = venv = threads = False
    repeats = blas = needs = None

    def __init__(self, p, **kw):
        self.p = p
        vars(self).update(kw)

    def problem(self):
        """The problem whose --n rows in --partitions blocks ``setup`` builds (None: none)."""

    def setup(self):
        if self.threads:
            threaded(self.p.cores if self.threads == "cores" else None)
        if (prob := self.problem()) is None:
            return
        self.prob, n, k = prob, self.p.n, self.p.partitions
        if self.data == "cluster":
            importlib.import_module("benchmarks.problems").on_cluster(self, prob)
        elif self.data == "dask":
            self.X, self.y = prob.dask(n, k)
        else:
            self.X, self.y = prob.numpy(n, k, intercept_column=self.data == "design")

    def after(self) -> dict:
        return {}

    def teardown(self):
        if hasattr(self, "close"):  # a cluster (problems.on_cluster)
            self.close()

    def run(self) -> dict:
        return {**measure(self.fit, self.p, self.repeats, self.pids, self.tree), **self.after()}


def threaded(cores=None):
    """The threaded dask scheduler (``cores`` threads), dask_glmdist imported (not in a fit)."""
    import dask_glmdist  # noqa: F401
    dask.config.set(scheduler="threads", **({"num_workers": cores} if cores else {}))


class EnvCase(Case):
    """Versions, the BLAS/OpenMP libraries loaded (threadpoolctl: API, version, threads,
    layer, arch) and the dask_glmdist checkout, as the workers see them."""

    def run(self):
        import dask_glmdist  # (and numpy's BLAS)
        blas = "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads')} "
                         f"threads, {d.get('threading_layer')}, {d.get('architecture')})"
                         for d in threadpool_info())
        return {"versions": ", ".join(map(module_version, self.p.modules)), "blas": blas,
                "dask_glmdist": os.path.dirname(dask_glmdist.__file__), "times": [0.0]}


CASES = {"env": Spec("environment", EnvCase)}


def execute(module: str, name: str, params: dict) -> dict:
    """Run case ``name`` of ``module`` in this process; the worker's result dict."""
    p = types.SimpleNamespace(**params)
    spec = importlib.import_module(module).CASES[name]
    case = spec.cls(p, **spec.kw)
    setup_s = timed(case.setup)[1]
    data = case.data_bytes or sum(getattr(case, a).nbytes for a in "Xy" if hasattr(case, a))
    gc.collect()
    time.sleep(0.3 if p.max_wait > 0 else 0.0)
    baseline = Monitor(case.pids).sample()
    try:
        out = case.run()
    finally:
        case.teardown()
    return {"case": name, "measured": datetime.datetime.now().isoformat(timespec="seconds"),
            "setup_s": setup_s, "baseline": baseline, "processes": 1 + len(case.pids),
            "data_bytes": int(data),
            "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **out}


def worker() -> None:
    module, name, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    cores = params.get("cores")
    if cores and (os.cpu_count() or 1) > cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    warnings.simplefilter("ignore")  # (measure records those of the fits)
    print(MARK + json.dumps(execute(module, name, params), default=float), flush=True)


def setting(spec, name):
    """A case's class attribute ``name``, as its Spec's keywords set it."""
    return spec.kw.get(name, getattr(spec.cls, name))


def _command(spec, params):
    """The worker's Python (--venv for ``venv`` cases) and environment (``blas``)."""
    env, blas = dict(os.environ), setting(spec, "blas")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if blas == "unset":
            env.pop(var, None)
        elif blas == "cores":
            env[var] = str(params["cores"])
    venv = setting(spec, "venv")
    return os.path.join(params["venv"], "bin", "python") if venv else sys.executable, env


def shim() -> str:
    """A directory holding only a link to this ``benchmarks`` package, put first on the
    workers' ``sys.path`` (LocalCluster workers inherit it): they run this package whatever
    ``PYTHONPATH`` or an editable install puts before it, and still import dask_glmdist
    from ``PYTHONPATH``, else the installed package, else this checkout."""
    path = os.path.join(tempfile.gettempdir(),
                        "benchmarks-" + hashlib.sha1(HERE.encode()).hexdigest()[:12])
    if not os.path.islink(link := os.path.join(path, "benchmarks")):
        os.makedirs(path, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.symlink(HERE, link)
    return path


def run_case(name: str, args, timeout=None, module=None, **extra):
    """(result, None) or (None, why) of case ``name`` of ``module`` (default ``args.module``;
    why: also a missing peer library), in a fresh worker process (importing dask_glmdist from
    ``PYTHONPATH``, else installed, else this checkout) or (``args.inprocess``) in this one."""
    module = module or args.module
    params = {k: v for k, v in {**vars(args), **extra}.items()
              if isinstance(v, (int, float, str, list, tuple, bool, type(None)))}
    spec = importlib.import_module(module).CASES[name]
    if why := available(spec, params):
        return None, why
    if params.get("inprocess"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return json.loads(json.dumps(execute(module, name, params), default=float)), None
        except Exception as exc:  # noqa: BLE001  (reported as a failed case)
            return None, f"failed: {type(exc).__name__}: {exc}"
    python, env = _command(spec, params)
    code = (f"import sys; del sys.path[0]; sys.path.insert(0, {shim()!r}); "
            f"sys.path.append({ROOT!r}); "
            "from benchmarks.runner import worker; worker()")
    t0, timeout = time.perf_counter(), timeout or args.timeout
    try:
        proc = subprocess.run([python, "-c", code, module, name, json.dumps(params)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:g} s (killed)"
    except OSError as exc:  # no Python in --venv
        return None, f"could not start {python}: {exc}"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return {**json.loads(line[len(MARK):]), "wall_s": time.perf_counter() - t0}, None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


def available(spec, params) -> str | None:
    """None if the case's ``needs`` module is there (venv cases: checked by their worker),
    else why not."""
    needs = setting(spec, "needs")
    return None if setting(spec, "venv") or not needs or importlib.util.find_spec(needs) \
        else f"{needs}: not installed"


class Report:
    """Print each line and (with ``path``) rewrite the Markdown file after every line."""

    def __init__(self, path=None, echo=True):
        self.lines, self.path, self.echo = [], path, echo

    def __call__(self, text: str = "") -> None:
        if self.echo:
            print(text, flush=True)
        self.lines.append(text)
        if self.path:
            with open(self.path, "w") as fh:
                fh.write("\n".join(self.lines) + "\n")

    def table(self, head, rows, align) -> None:
        """A Markdown table; ``align``: one 'l' or 'r' per column."""
        self("| " + " | ".join(head) + " |")
        self("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
        for row in rows:
            self("| " + " | ".join(str(c) for c in row) + " |")
        self()

    def cases(self, results, labels, extras) -> None:
        """The per-case table (a case's label from ``labels``, else its name): time median
        and min, memory, other load, then the ``extras`` columns (header -> a result key, or
        f(name, result)); a case not run shows why. Then each case's ``notes``."""
        head = ["case", "time median (s)", "min (s)", "peak above base (MB)", "peak RSS (MB)",
                "other load (cores)", *extras]
        rows = []
        for name, r in results.items():
            label = labels[name].label if name in labels else name
            if "times" not in r:
                rows.append([label, r.get("skipped", "?")[:60]] + [""] * (len(head) - 2))
                continue
            extra = [f(name, r) if callable(f) else r.get(f, "n/a") for f in extras.values()]
            rows.append([label, f"{med(r):.3f}", f"{min(r['times']):.3f}",
                         mb(r["peak"] - r["baseline"]), mb(r["peak"]) + procs(r),
                         f"{max(r['other_cores']):.2f}", *extra])
        self.table(head, rows, "lrrrrr" + "l" * len(extras))
        for name, r in results.items():
            if r.get("notes"):
                self(f"Notes, {name}:\n```\n{r['notes']}\n```\n")


def module_version(mod) -> str:
    """"mod version", or why not."""
    try:
        m = importlib.import_module(mod)
        return f"{mod} {getattr(m, '__version__', None) or version(mod)}"
    except Exception as exc:  # noqa: BLE001  (not importable, or no version anywhere)
        return f"{mod}: not available ({type(exc).__name__}: {exc})"


def bullet(rep, name, res) -> None:
    """The per-case line: times, memory, load, process time, what the case reports
    (every key outside the harness's own and the long vectors), warnings."""
    shown = "".join(f", {k} {fmt(v)}" for k, v in res.items()
                    if k not in HARNESS | HIDDEN and v is not None)
    rep(f"- {name}: median {med(res):.3f} s (runs {runs(res['times'])}){shown}; peak above "
        f"base {mb(res['peak'] - res['baseline'])} MB, peak {mb(res['peak'])} MB{procs(res)}, "
        f"base {mb(res['baseline'])} MB (data {mb(res['data_bytes'])} MB), ru_maxrss "
        f"{mb(res['ru_maxrss'])} MB; other load {runs(res['other_cores'], '{:.2f}')} cores "
        f"[process {res.get('wall_s', 0):.0f} s, setup {res['setup_s']:.1f} s, waited "
        f"{res.get('waited_s', 0):.0f} s for a quiet machine]")
    for w in res.get("warnings", [])[:5]:
        rep(f"  - WARNING during {name}: {w}")


def run_all(rep, names, args, mem=None, timeout=None, **params):
    """Run the cases ``names`` (``params`` added to the options; ``timeout``: seconds, or
    f(name)), one bullet each; returns {name: result}, {"skipped": why} for a case not run.
    ``mem`` (name -> peak bytes per row, updated; rows = ``params["n"]``) skips a case whose
    extrapolated peak exceeds ``args.mem_limit_gb``."""
    results, n = {}, params.get("n")
    for name in names:
        if mem and name in mem and mem[name] * n > args.mem_limit_gb * 2**30:
            why = (f"skipped at N={n:,}: its peak memory extrapolated from a smaller N is "
                   f"{mem[name] * n / 2**30:.1f} GiB > --mem-limit-gb {args.mem_limit_gb:g}")
        else:
            limit = timeout(name) if callable(timeout) else timeout
            res, why = run_case(name, args, limit, **params)
        if why is not None:
            rep(f"- {name}: {why}")
            results[name] = {"skipped": why}
            continue
        if mem is not None:
            mem[name] = max(mem.get(name, 0), res["peak"] / n)
        bullet(rep, name, res)
        results[name] = res
    return results


COMBINED = ["estimator", "problem", "our time (s)", "peers' time (s)", "peer / ours",
            "our peak above base (MB)", "max abs diff to oracle"]


def combined_row(estimator, problem, ours, peers, oracle, oracle_name):
    """A row of the combined table: our time, each peer's time and peer / ours, our peak
    above base, and max |theta - oracle| of ours."""
    t, done = med(ours), {k: v for k, v in peers.items() if "times" in v}
    diff = "" if oracle is None else f"{maxdiff(ours['theta'], oracle):.1e} "
    return [estimator, problem, f"{t:.3f}",
            "; ".join(f"{k} {med(v):.3f}" for k, v in done.items()) or "-",
            "; ".join(f"{k} {med(v) / t:.2f}" for k, v in done.items()) or "-",
            mb(ours["peak"] - ours["baseline"]), f"{diff}({oracle_name})"]


def header(rep, mod, args) -> None:
    """Title, date, machine, versions and BLAS (from a worker), command, config lines."""
    env, err = run_case("env", args, module=__name__, modules=list(MODULES))
    rep(f"# {mod.TITLE}\n")
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {platform.platform()}")
    rep(f"- versions: {env['versions']}; dask_glmdist from {env['dask_glmdist']}\n"
        f"- BLAS/OpenMP (threadpoolctl in a worker): {env['blas']}" if env
        else f"- environment: {err}")
    rep(f"- command: `python -m {mod.__name__} {' '.join(args.argv)}`")
    shown = {k: v for k, v in vars(args).items() if k in {*mod.OPTIONS, "repeats", "seed", "cores"}}
    rep(f"- data: {mod.DATA}\n- settings: {fmt(shown)}; a fresh process per case")
    rep("- memory: peak RSS sampled every 5 ms during the fits (LocalCluster: + workers; joblib: "
        "process tree every 20 ms); 'above base' = peak minus the RSS after setup; 'other load' "
        "= CPU use (cores) of other processes during the fits, >~ 0.2 means disturbed\n")


def _option(ap, name, value):
    kind, value = value if isinstance(value, tuple) else (None, value)
    flag = "--" + name.replace("_", "-")
    if value is False:
        return ap.add_argument(flag, action="store_true")
    many = isinstance(value, list)
    kind = kind or type(value[0] if many else value)
    ap.add_argument(flag, type=kind, default=value, nargs="*" if many else None)


def parse(mod, argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog=f"python -m {mod.__name__}", description=mod.TITLE)
    for flag, default in (("--methods", None), ("--skip", [])):
        ap.add_argument(flag, nargs="+", choices=list(mod.CASES), default=default)
    for name, value in {**COMMON, **mod.OPTIONS}.items():
        _option(ap, name, value)
    mode = "quick" if "--quick" in argv else "medium" if "--medium" in argv else None
    if mode:
        ap.set_defaults(max_wait=0.0, repeats=1, **getattr(mod, mode.upper()))
    args = ap.parse_args(argv)
    args.argv, args.mode, args.module = argv, mode, mod.__name__
    picked = args.methods or getattr(mod, f"{mode}_CASES".upper(), mod.DEFAULT)
    args.methods = [m for m in mod.CASES if m in picked and m not in args.skip]
    if args.out is None:
        short = mod.__name__.rsplit(".", 1)[-1]
        args.out = (f"/tmp/results_{short}_{mode}.md" if mode else
                    os.path.join(HERE, getattr(mod, "results", lambda a: "")(args)
                                 or f"results_{short}.md"))
    return args


def main(mod, argv=None, echo=True):
    """Parse the options, write the report; returns (args, results, report)."""
    args = parse(mod, argv)
    rep = Report(args.out, echo)
    t0 = time.perf_counter()
    header(rep, mod, args)
    results = mod.run(args, rep)
    rep(f"Total benchmark time {time.perf_counter() - t0:.0f} s.")
    return args, results, rep
