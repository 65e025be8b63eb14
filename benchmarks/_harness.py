"""Measurement harness shared by the benchmark scripts in this directory.

Fresh-process RSS sampling (``MemorySampler``), CPU-load metering of the *other*
processes on the machine (``CpuMeter``), waiting for a quiet machine (``wait_quiet``),
the markdown report writer (``Report``), and version / BLAS information for the report
header (``_versions``, ``_blas_info``). Also ``block_sizes`` (the row split of the
seeded data) and ``_mb`` (bytes -> MB).

The scripts import it as ``from _harness import ...``: running
``python benchmarks/<script>.py`` puts ``benchmarks/`` on ``sys.path``, in the parent
and in the worker subprocesses (the script re-invoked via ``__file__``) alike.
"""

from __future__ import annotations

import threading
import time

# --------------------------------------------------------------------------------------
# data layout
# --------------------------------------------------------------------------------------


def block_sizes(n: int, k: int) -> list[int]:
    """Row counts of the k blocks (as dask_glmdist's as_blocked splits n rows)."""
    sizes = [n // k] * k
    for i in range(n % k):
        sizes[i] += 1
    return sizes


# --------------------------------------------------------------------------------------
# memory sampling and machine load
# --------------------------------------------------------------------------------------


class MemorySampler:
    """Peak RSS of this process (plus ``pids``' processes) sampled every ``interval`` s.

    psutil, background thread. ``peak`` is the peak of the total (this process plus
    ``pids``), ``peak_self`` that of this process alone; ``sample()`` returns the
    current ``(total, mine)``.
    """

    def __init__(self, pids=(), interval: float = 0.005):
        import psutil

        self._me = psutil.Process()
        self._others = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self._stop = threading.Event()
        self.peak = self.peak_self = 0

    def sample(self) -> tuple[int, int]:
        mine = self._me.memory_info().rss
        total = mine
        for proc in self._others:
            try:
                total += proc.memory_info().rss
            except Exception:  # noqa: BLE001
                pass
        return total, mine

    def _run(self):
        while not self._stop.is_set():
            total, mine = self.sample()
            self.peak = max(self.peak, total)
            self.peak_self = max(self.peak_self, mine)
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak, self.peak_self = self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        total, mine = self.sample()
        self.peak = max(self.peak, total)
        self.peak_self = max(self.peak_self, mine)


class CpuMeter:
    """CPU seconds spent by *other* processes (machine busy time minus ours) over a span.

    "Ours" is this process plus ``pids``' processes. The machine may be shared: a fit
    that ran while something else was busy is flagged rather than silently reported.
    """

    def __init__(self, pids=()):
        import psutil

        self._psutil = psutil
        self._procs = [psutil.Process()] + [psutil.Process(pid) for pid in pids]

    def _busy(self) -> float:
        t = self._psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0)

    def _ours(self) -> float:
        total = 0.0
        for proc in self._procs:
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
    """Wait (up to max_wait s) until other processes use < threshold cores for 1 s.

    ``pids``: processes that count as ours (not as "other"), besides this one.
    """
    t0 = time.perf_counter()
    quiet = 0
    while time.perf_counter() - t0 < max_wait:
        with CpuMeter(pids) as m:
            time.sleep(0.5)
        quiet = quiet + 1 if m.other_cores < threshold else 0
        if quiet >= 2:
            break
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


class Report:
    """Print each line and (with ``path``) rewrite the markdown file after every line."""

    def __init__(self, path=None):
        self.lines: list[str] = []
        self.path = path

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)
        if self.path:
            with open(self.path, "w") as fh:
                fh.write("\n".join(self.lines) + "\n")


def _mb(b) -> str:
    return f"{b / 2**20:,.0f}"


def _versions(modules) -> str:
    """"mod version" for each importable module of ``modules``, else why it is not.

    A module without ``__version__`` (e.g. firthmodels) falls back to its installed
    distribution's version (importlib.metadata), else "?".
    """
    out = []
    for mod in modules:
        try:
            m = __import__(mod)
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


def _blas_info(detailed: bool = False) -> str:
    """BLAS/OpenMP libraries loaded (threadpoolctl): API, version, thread count.

    ``detailed`` adds the threading layer and the architecture of each.
    """
    try:
        import numpy  # noqa: F401  (load numpy's BLAS before asking)
        from threadpoolctl import threadpool_info

        if detailed:
            return "; ".join(f"{d.get('internal_api')} {d.get('version')} "
                             f"({d.get('num_threads')} threads, {d.get('threading_layer')}, "
                             f"{d.get('architecture')})" for d in threadpool_info())
        return "; ".join(f"{d.get('internal_api')} {d.get('version')} "
                         f"({d.get('num_threads')} threads)" for d in threadpool_info())
    except Exception:  # noqa: BLE001
        return "?"
