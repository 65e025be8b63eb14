"""The shared measurement harness: worker processes, peak RSS, timing, Markdown reports.

A configuration module (``benchmarks.<name>``) defines ``CASES`` (name -> :class:`Spec`),
``DEFAULT`` (the cases run by default), ``add_args(parser)``, ``QUICK`` / ``MEDIUM``
(option defaults of ``--quick`` / ``--medium``), ``TITLE``, ``header_lines(args)``,
``run(args, rep) -> results`` and ``rows(results, args)`` (the combined medium table).
Every case runs in a fresh process (``python -c`` importing :func:`worker`), or in this
process with ``--inprocess`` (the tests); the parent never imports ``dask_glmdist``, so
``PYTHONPATH`` decides which checkout is measured.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import types
import warnings
from typing import NamedTuple

MARK = "@@RESULT@@"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_NOT_PARAMS = {"out", "cache", "cached_only", "methods", "skip", "inprocess", "timeout"}


class Spec(NamedTuple):
    """A case: its report label, its class (a :class:`Case`) and keyword arguments."""

    label: str
    cls: type
    kw: dict = {}


def block_sizes(n: int, k: int) -> list[int]:
    """Row counts of the k blocks (as dask_glmdist's as_blocked splits n rows)."""
    return [n // k + (i < n % k) for i in range(k)]


def mb(b) -> str:
    return f"{b / 2**20:,.0f}"


def med(res) -> float:
    return statistics.median(res["times"])


def runs(xs, fmt="{:.3f}") -> str:
    return ", ".join(fmt.format(x) for x in xs)


# ------------------------------------------------------------------ memory and machine load


def _procs(me, pids, tree):
    import psutil

    out = [psutil.Process(p) for p in pids]
    if tree:
        try:
            out += me.children(recursive=True)
        except Exception:  # noqa: BLE001
            pass
    return out


class MemorySampler:
    """Peak RSS of this process plus ``pids`` (``tree``: plus all descendants)."""

    def __init__(self, pids=(), interval: float = 0.005, tree: bool = False):
        import psutil

        self._me, self.pids, self.tree, self.interval = psutil.Process(), pids, tree, interval
        self._stop = threading.Event()
        self.peak = 0

    def sample(self) -> int:
        total = self._me.memory_info().rss
        for proc in _procs(self._me, self.pids, self.tree):
            try:
                total += proc.memory_info().rss
            except Exception:  # noqa: BLE001
                pass
        return total

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.sample())

    def __enter__(self):
        self.peak = self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())


class CpuMeter:
    """CPU seconds of *other* processes (machine busy time minus ours) over a span."""

    def __init__(self, pids=(), tree: bool = False):
        import psutil

        self._psutil, self._me, self.pids, self.tree = psutil, psutil.Process(), pids, tree

    def _busy(self) -> float:
        t = self._psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0)

    def _ours(self) -> float:
        c = self._me.cpu_times()
        total = c.user + c.system + (c.children_user + c.children_system if self.tree else 0)
        for proc in _procs(self._me, self.pids, self.tree):
            try:
                c = proc.cpu_times()
                total += c.user + c.system
            except Exception:  # noqa: BLE001
                pass
        return total

    def __enter__(self):
        self._b0, self._o0, self._t0 = self._busy(), self._ours(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._t0
        self.other_s = max(0.0, (self._busy() - self._b0) - (self._ours() - self._o0))
        self.other_cores = self.other_s / max(self.wall, 1e-9)


def wait_quiet(pids=(), threshold: float = 0.15, max_wait: float = 60.0) -> float:
    """Wait (up to max_wait s) until other processes use < threshold cores for 1 s."""
    t0, quiet = time.perf_counter(), 0
    while time.perf_counter() - t0 < max_wait and quiet < 2:
        with CpuMeter(pids) as m:
            time.sleep(0.5)
        quiet = quiet + 1 if m.other_cores < threshold else 0
    return time.perf_counter() - t0


def measure(fit, p, repeats=None, pids=(), tree=False) -> dict:
    """Time ``fit()`` ``repeats`` times (fewer once ``p.fit_budget`` s are spent), sampling
    the peak RSS and the other processes' load; the last fit's result dict is merged in."""
    times, peaks, other, waited, warned, result = [], [], [], 0.0, [], {}
    for _ in range(repeats or p.repeats):
        if times and sum(times) > p.fit_budget:
            break
        gc.collect()
        waited += wait_quiet(pids, max_wait=p.max_wait) if p.max_wait > 0 else 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with MemorySampler(pids, 0.02 if tree else 0.005, tree) as mem, \
                    CpuMeter(pids, tree) as cpu:
                t = time.perf_counter()
                result = fit()
                times.append(time.perf_counter() - t)
        for w in caught:
            if (msg := f"{w.category.__name__}: {w.message}") not in warned:
                warned.append(msg)
        peaks.append(mem.peak)
        other.append(cpu.other_cores)
    return {"times": times, "peak": max(peaks), "other_cores": other, "waited_s": waited,
            "warnings": warned, **(result or {})}


# ------------------------------------------------------------------ cases and workers


class Case:
    """One measured configuration: ``setup`` (not timed), ``fit`` (timed) -> dict,
    ``after`` (untimed checks) -> dict, ``teardown``. Class attributes: ``blas`` ("cores":
    OMP/OPENBLAS/MKL_NUM_THREADS = --cores in the worker, "unset": removed), ``venv``
    (run with the --venv Python), ``tree`` (sample the process tree), ``repeats``."""

    pids: tuple = ()
    data_bytes = 0
    tree = False
    repeats = None
    blas = None
    venv = False
    needs = None  # a module the case needs (checked in the parent; skipped if missing)

    def __init__(self, p, **kw):
        self.p = p
        for key, value in kw.items():
            setattr(self, key, value)

    def setup(self):
        pass

    def fit(self) -> dict:
        raise NotImplementedError

    def after(self) -> dict:
        return {}

    def teardown(self):
        pass

    def run(self) -> dict:
        out = measure(self.fit, self.p, self.repeats, self.pids, self.tree)
        out.update(self.after())
        return out


class EnvCase(Case):
    """Versions, BLAS and the dask_glmdist checkout, as the workers see them."""

    def run(self):
        import dask_glmdist

        return {"versions": versions(self.p.modules), "blas": blas_info(),
                "dask_glmdist": os.path.dirname(dask_glmdist.__file__), "times": [0.0]}


CASES = {"env": Spec("environment", EnvCase)}


def execute(module: str, name: str, params: dict) -> dict:
    """Run case ``name`` of ``module`` in this process; the worker's result dict."""
    import resource

    p = types.SimpleNamespace(**params)
    spec = importlib.import_module(module).CASES[name]
    case = spec.cls(p, **spec.kw)
    t0 = time.perf_counter()
    case.setup()
    setup_s = time.perf_counter() - t0
    gc.collect()
    time.sleep(0.3 if p.max_wait > 0 else 0.0)
    baseline = MemorySampler(case.pids).sample()
    try:
        out = case.run()
    finally:
        case.teardown()
    return {"case": name, "measured": datetime.datetime.now().isoformat(timespec="seconds"),
            "setup_s": setup_s, "baseline": baseline, "processes": 1 + len(case.pids),
            "data_bytes": int(case.data_bytes),
            "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **out}


def worker() -> None:
    module, name, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    cores = params.get("cores")
    if cores and (os.cpu_count() or 1) > cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    if not params.get("show_warnings"):
        warnings.simplefilter("ignore")
    print(MARK + json.dumps(execute(module, name, params), default=float), flush=True)


def _env(cls, params) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if cls.blas == "unset":
            env.pop(var, None)
        elif cls.blas == "cores":
            env[var] = str(params["cores"])
    return env


def _cache_path(module, name, params):
    key = json.dumps({k: v for k, v in params.items() if k not in _NOT_PARAMS},
                     sort_keys=True, default=str)
    digest = hashlib.sha1(f"{module}{name}{key}".encode()).hexdigest()[:12]
    return os.path.join(params["cache"], f"{module.rsplit('.', 1)[-1]}_{name}_{digest}.json")


def run_case(module: str, name: str, args, timeout=None, **extra):
    """(result, None) or (None, why) of case ``name``: in a fresh worker process (which
    imports dask_glmdist from ``PYTHONPATH``, else the installed one, else this checkout),
    in this process with ``args.inprocess``, or read from ``args.cache``."""
    params = {k: v for k, v in {**vars(args), **extra}.items()
              if isinstance(v, (int, float, str, list, tuple, bool, type(None)))}
    path = _cache_path(module, name, params) if params.get("cache") else None
    if path and os.path.exists(path) and name not in (params.get("rerun") or ()):
        with open(path) as fh:
            return {**json.load(fh), "cached": True}, None
    if params.get("cached_only"):
        return None, "not run (--cached-only and no saved result)"
    res, err = _run_fresh(module, name, params, timeout or args.timeout)
    if path and res is not None:
        os.makedirs(params["cache"], exist_ok=True)
        with open(path, "w") as fh:
            json.dump(res, fh, default=float)
    return res, err


def _run_fresh(module, name, params, timeout):
    cls = importlib.import_module(module).CASES[name].cls
    if params.get("inprocess"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return json.loads(json.dumps(execute(module, name, params), default=float)), None
        except Exception as exc:  # noqa: BLE001  (reported as a failed case)
            return None, f"failed: {type(exc).__name__}: {exc}"
    python = os.path.join(params["venv"], "bin", "python") if cls.venv else sys.executable
    code = (f"import sys; del sys.path[0]; sys.path.append({ROOT!r}); "
            "from benchmarks.runner import worker; worker()")
    cmd = [python, "-c", code, module, name, json.dumps(params)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=_env(cls, params), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:g} s (killed)"
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return {**json.loads(line[len(MARK):]), "wall_s": time.perf_counter() - t0}, None
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
    return None, f"failed (exit {proc.returncode}): " + " | ".join(tail)


# ------------------------------------------------------------------ reports


class Report:
    """Print each line and (with ``path``) rewrite the Markdown file after every line."""

    def __init__(self, path=None, echo=True):
        self.lines: list[str] = []
        self.path, self.echo = path, echo

    def __call__(self, text: str = "") -> None:
        if self.echo:
            print(text, flush=True)
        self.lines.append(text)
        if self.path:
            with open(self.path, "w") as fh:
                fh.write("\n".join(self.lines) + "\n")

    def table(self, head, rows, align=None) -> None:
        """A Markdown table; ``align``: one 'l' or 'r' per column (default l, then r)."""
        align = align or "l" + "r" * (len(head) - 1)
        self("| " + " | ".join(head) + " |")
        self("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
        for row in rows:
            self("| " + " | ".join(str(c) for c in row) + " |")
        self()


def versions(modules) -> str:
    """"mod version" for each importable module, else why not (distribution version as
    a fallback for modules without ``__version__``)."""
    out = []
    for mod in modules:
        try:
            m = importlib.import_module(mod)
        except Exception as exc:  # noqa: BLE001
            out.append(f"{mod}: not available ({type(exc).__name__}: {exc})")
            continue
        version = getattr(m, "__version__", None)
        if version is None:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version(mod)
            except Exception:  # noqa: BLE001
                version = "?"
        out.append(f"{mod} {version}")
    return ", ".join(out)


def blas_info() -> str:
    """BLAS/OpenMP libraries loaded (threadpoolctl): API, version, threads, layer, arch."""
    try:
        import numpy  # noqa: F401  (load numpy's BLAS before asking)
        from threadpoolctl import threadpool_info

        return "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads')} "
                         f"threads, {d.get('threading_layer')}, {d.get('architecture')})"
                         for d in threadpool_info())
    except Exception:  # noqa: BLE001
        return "?"


def available(mod: str) -> str | None:
    """None if ``mod`` imports, else why not (checked in a worker-like way: the parent)."""
    try:
        importlib.import_module(mod)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


def bullet(rep, name, res, extra="") -> None:
    """The per-case line: times, memory, load, process time, warnings."""
    when = (f"saved result, measured {res['measured']}" if res.get("cached") else
            f"process {res.get('wall_s', 0):.0f} s, setup {res['setup_s']:.1f} s, waited "
            f"{res.get('waited_s', 0):.0f} s for a quiet machine")
    rep(f"- {name}: median {med(res):.3f} s (runs {runs(res['times'])}){extra}; peak above "
        f"base {mb(res['peak'] - res['baseline'])} MB, peak {mb(res['peak'])} MB"
        + (f" ({res['processes']} procs)" if res["processes"] > 1 else "")
        + f", base {mb(res['baseline'])} MB (data {mb(res['data_bytes'])} MB), ru_maxrss "
        f"{mb(res['ru_maxrss'])} MB; other load {runs(res['other_cores'], '{:.2f}')} cores "
        f"[{when}]")
    for w in res.get("warnings", [])[:5]:
        rep(f"  - WARNING during {name}: {w}")


def run_all(rep, module, names, args, extra=None, mem=None, timeout=None, **params):
    """Run the cases ``names`` (``params`` added to the options), one bullet each; returns
    {name: result}, {"skipped": why} for a case not run. ``mem`` (name -> peak bytes per
    row, updated; rows = ``params["n"]``) skips a case whose extrapolated peak exceeds
    ``args.mem_limit_gb``."""
    results, cases, n = {}, importlib.import_module(module).CASES, params.get("n")
    for name in names:
        cls, why = cases[name].cls, None
        if cls.needs and not cls.venv and (reason := available(cls.needs)):
            why = f"{cls.needs}: not available ({reason})"
        elif mem and name in mem and mem[name] * n > args.mem_limit_gb * 2**30:
            why = (f"skipped at N={n:,}: its peak memory extrapolated from a smaller N is "
                   f"{mem[name] * n / 2**30:.1f} GiB > --mem-limit-gb {args.mem_limit_gb:g}")
        if why is None:
            res, why = run_case(module, name, args, timeout and timeout(name), **params)
        if why is not None:
            rep(f"- {name}: {why}")
            results[name] = {"skipped": why}
            continue
        if mem is not None:
            mem[name] = max(mem.get(name, 0), res["peak"] / n)
        bullet(rep, name, res, extra(name, res) if extra else "")
        results[name] = res
    return results


def combined_row(estimator, problem, ours, peers, oracle, oracle_name):
    """A row of the combined table: our time, each peer's time and peer / ours, our peak
    above base, and max |theta - oracle| of ours."""
    import numpy as np

    t = med(ours)
    done = {k: v for k, v in peers.items() if "times" in v}
    diff = "" if oracle is None else \
        f"{np.max(np.abs(np.asarray(ours['theta']) - np.asarray(oracle))):.1e} "
    return [estimator, problem, f"{t:.3f}",
            "; ".join(f"{k} {med(v):.3f}" for k, v in done.items()) or "-",
            "; ".join(f"{k} {med(v) / t:.2f}" for k, v in done.items()) or "-",
            mb(ours["peak"] - ours["baseline"]), f"{diff}({oracle_name})"]


COMBINED = ["estimator", "problem", "our time (s)", "peers' time (s)", "peer / ours",
            "our peak above base (MB)", "max abs diff to oracle"]


def header(rep, mod, args) -> dict:
    """Title, date, machine, versions and BLAS (from a worker), command, config lines."""
    env, err = run_case("benchmarks.runner", "env", args, modules=list(mod.MODULES))
    rep(f"# {mod.TITLE}")
    rep()
    rep(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    rep(f"- machine: nproc {os.cpu_count()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {platform.platform()}")
    if env:
        rep(f"- versions: {env['versions']}; dask_glmdist from {env['dask_glmdist']}")
        rep(f"- BLAS/OpenMP (threadpoolctl in a worker): {env['blas']}")
    else:
        rep(f"- environment: {err}")
    rep(f"- command: `python -m {mod.__name__} {' '.join(args.argv)}`")
    for line in mod.header_lines(args):
        rep(f"- {line}")
    rep("- memory: peak RSS sampled every 5 ms during the fits (LocalCluster: + worker "
        "processes; joblib: process tree every 20 ms); 'above base' = peak minus the RSS "
        "after setup (the baseline holds the data); 'other load' = CPU use (cores) of other "
        "processes during the fits, >~ 0.2 means disturbed")
    rep()
    return env or {}


def parser(mod) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=f"python -m {mod.__name__}", description=mod.TITLE)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run, tests)")
    ap.add_argument("--medium", action="store_true", help="the sizes of the combined run")
    ap.add_argument("--out", help="Markdown report (default benchmarks/results_<name>.md; "
                    "--quick/--medium: /tmp/results_<name>_<mode>.md)")
    ap.add_argument("--methods", nargs="+", choices=list(mod.CASES), default=None)
    ap.add_argument("--skip", nargs="+", choices=list(mod.CASES), default=[])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cores", type=int, default=2, help="dask threads / BLAS threads")
    ap.add_argument("--max-wait", type=float, default=60.0,
                    help="before each fit wait up to this long for a quiet machine")
    ap.add_argument("--fit-budget", type=float, default=60.0,
                    help="no further repeats once a case's fits took this long (s)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per case process, s")
    ap.add_argument("--cache", help="directory: save every case's result as JSON, reuse it")
    ap.add_argument("--cached-only", action="store_true", help="with --cache: run nothing")
    ap.add_argument("--rerun", nargs="+", default=[], help="with --cache: run these again")
    ap.add_argument("--inprocess", action="store_true", help="no worker processes (tests)")
    ap.add_argument("--venv", default="/tmp/dmlvenv", help="virtualenv of venv cases (dask-ml)")
    mod.add_args(ap)
    return ap


def parse(mod, argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = parser(mod)
    mode = "quick" if "--quick" in argv else "medium" if "--medium" in argv else None
    if mode:
        ap.set_defaults(max_wait=0.0, repeats=1, **getattr(mod, mode.upper()))
    args = ap.parse_args(argv)
    args.argv, args.mode = argv, mode
    picked = args.methods or getattr(mod, f"{mode}_CASES".upper(), mod.DEFAULT)
    args.methods = [m for m in mod.CASES if m in picked and m not in args.skip]
    if args.out is None:
        short = mod.__name__.rsplit(".", 1)[-1]
        args.out = (f"/tmp/results_{short}_{mode}.md" if mode else
                    os.path.join(HERE, mod.results(args) if hasattr(mod, "results") else
                                 f"results_{short}.md"))
    return args


def main(mod, argv=None, echo=True):
    """Parse the options, write the report; returns (args, results, report)."""
    args = parse(mod, argv)
    rep = Report(args.out, echo)
    t0 = time.perf_counter()
    args.env = header(rep, mod, args)
    results = mod.run(args, rep)
    rep(f"Total benchmark time {time.perf_counter() - t0:.0f} s.")
    return args, results, rep
