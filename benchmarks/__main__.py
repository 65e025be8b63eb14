"""``python -m benchmarks medium [--out F] [--configs NAME ...]``: every configuration run with
``--medium`` (own reports in /tmp/results_<name>_medium.md), then one combined table:
estimator, problem, our time, each peer's time, peer / ours, our peak above base, max
difference to the oracle. One configuration: ``python -m benchmarks.<name> [options]``.
"""

import argparse
import importlib
import sys
import time

from benchmarks.runner import COMBINED, Report, main

CONFIGS = ["dlsa_logistic", "brglm", "debiased_lasso", "penalized", "formula", "sparse_input",
           "scale_out", "robust_se", "cox", "screening"]
# not in the default medium run
OPTIONAL = ["sparse_input", "scale_out", "robust_se", "cox", "screening"]


def medium(argv) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks medium")
    ap.add_argument("--out", default="/tmp/results_medium.md")
    ap.add_argument("--configs", nargs="+", choices=CONFIGS,
                    default=[c for c in CONFIGS if c not in OPTIONAL])
    args, rows, head, t0 = ap.parse_args(argv), [], [], time.perf_counter()
    for name in args.configs:
        t1, mod = time.perf_counter(), importlib.import_module(f"benchmarks.{name}")
        a, results, rep = main(mod, ["--medium"], echo=False)
        head = head or [ln for ln in rep.lines[1:] if ln.startswith(("- date", "- machine",
                                                                    "- versions", "- BLAS"))]
        got = getattr(mod, "rows", lambda *_: [])(results, a)
        rows += got or [[name, "(no row: see its report)", *[""] * 5]]
        print(f"{name}: {time.perf_counter() - t1:.0f} s, report {a.out}", flush=True)
    rep = Report(args.out)
    rep("# Benchmarks at medium size: dask_glmdist against its peers\n")
    rep("\n".join(head))
    rep(f"- command: `python -m benchmarks medium {' '.join(argv)}`; one repeat per fit, no "
        "waiting for a quiet machine; each configuration's own report in "
        "/tmp/results_<name>_medium.md\n")
    rep.table(COMBINED, rows, "llrllrl")
    rep(f"Total time {time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    if sys.argv[1:2] != ["medium"]:
        sys.exit(__doc__)
    medium(sys.argv[2:])
