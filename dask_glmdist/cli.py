"""The ``dask-glmdist`` command: ``fit`` a formula to your files, or run the ``demo``.

``dask-glmdist fit DATA --formula F [options]`` fits a GLM to Parquet or CSV files:

- DATA is a Parquet file, a directory of Parquet files (read as one data set), a CSV
  file, or a glob (``'data/*.csv'``, quoted, or several files as the shell expands an
  unquoted one); the format comes from the extension. It is read lazily with
  ``dask.dataframe.read_parquet`` / ``read_csv`` (integer CSV columns as floats, so a
  missing value in any file is allowed) and never computed whole: each partition is a
  row block of the fit.
- ``--model`` picks the estimator, each given ``formula=F`` and ``missing=``:
  ``dlsa`` (default) :class:`DLSARegressor` (``--refine-steps``), ``brglm``
  :class:`BiasReducedGLM` (``--method ML|mBR|mJPL``), ``penalized``
  :class:`PenalizedGLM` (``--alpha``, default 0: the MLE with standard errors),
  ``debiased`` :class:`DebiasedLassoRegressor` (``--alpha``, ``--method``).
  ``--family`` (default gaussian, as statsmodels' ``glm``) and ``--link`` as the
  estimators take them; ``--missing drop`` drops rows with a missing model value;
  ``--weights COL`` / ``--offset COL`` name columns.
- It prints a header (data, partitions, estimator, formula, family, blocks, rows
  used, fit time) and the ``summary()`` table; ``--output coef.csv`` writes that table
  (one row per parameter); ``--predict-out DIR`` writes DATA's rows with a
  ``predicted`` column (the fitted mean) as Parquet, one file per partition, from the
  lazy frame.
- Errors in the data or the formula (an unknown column, a bad path, no file matched,
  missing values under the default ``--missing raise``) print one line,
  ``dask-glmdist fit: error: ...``, and exit with status 2; options that do not apply
  to ``--model`` are usage errors (status 2, argparse's format). Warnings are shown as
  one line each.
- ``--scheduler-address`` runs on a ``distributed`` cluster; otherwise Dask's threaded
  scheduler in this process.

``dask-glmdist demo`` runs four acts.

1. DLSA: simulates the DLSA paper's Example 2 (logistic regression, eight covariates,
   three of them active) under Setting 2 (every worker's covariates have their own
   mean and correlation), fits the one-round DLSA, the two-step TDLSA and the
   shrinkage SDLSA (adaptive lasso + distributed BIC), and compares them with the
   global maximum likelihood estimate and with the truth.
2. Bias reduction on separated data: simulated "diverted flights" (probit, rare
   diversions, a small carrier none of whose flights was diverted), fitted by
   BiasReducedGLM with ML -- which warns that its estimate is infinite -- and with
   mean bias reduction and the Jeffreys penalty, which give finite estimates and
   standard errors.
3. Inference after the lasso: a sparse logistic regression (100 correlated
   features, 10 of them active) fitted in one round by DebiasedLassoRegressor; the
   average of the blocks' lasso fits is shrunk towards zero, the debiased estimate is
   not, and its 95% intervals cover the truth.
4. The exact global lasso: the same sparse data fitted by
   PenalizedLogisticRegression (proximal quasi-Newton, one pass per iteration), its
   distance from the one-round lasso average of act 3, and the penalty chosen by BIC.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
import sys
import time
import warnings

import dask
import numpy as np
import pandas as pd

from .datasets import (
    DIVERTED_FLIGHTS_COEF,
    make_diverted_flights,
    make_dlsa_example,
    make_sparse_regression,
)
from .estimators import (
    BiasReducedGLM,
    DebiasedLassoRegressor,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)
from .families import FAMILY_NAMES, LINK_NAMES, get_family

__all__ = ["main"]

# name -> (what it is, DLSALogisticRegression parameters); the last is the reference
_DEMO_FITS = {
    "DLSA": ("one round: local fits combined by their information", {"refine_steps": 0}),
    "TDLSA": ("DLSA + one global Fisher-scoring round", {"refine_steps": 1}),
    "SDLSA": ("TDLSA + adaptive-lasso path on the master, penalty chosen by DBIC",
              {"refine_steps": 1, "penalty": "adaptive_lasso"}),
    "global MLE": ("Fisher scoring to convergence: refine_steps=10", {"refine_steps": 10}),
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dask-glmdist``."""
    parser = argparse.ArgumentParser(
        prog="dask-glmdist",
        description="Distributed GLM estimators on Dask.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="DLSA on heterogeneous logistic data; bias reduction on separated data; "
             "the debiased lasso on sparse data",
        description=(
            "Act 1: simulate the DLSA paper's Example 2 (logistic regression, true "
            "coefficients (3, 0, 0, 1.5, 0, 0, 2, 0), no intercept) under Setting 2 (worker "
            "k's covariates have mean k/K and their own AR(1) correlation), fit DLSA, TDLSA "
            "and SDLSA, and compare them with the global MLE and the truth. Act 2: "
            "simulate separated probit data (diverted flights; a small carrier never "
            "diverted) and fit BiasReducedGLM by ML, mBR and mJPL. Act 3: simulate a "
            "sparse logistic regression (100 correlated features, 10 active) and fit "
            "the one-round debiased lasso, with standard errors. Act 4: the exact global "
            "lasso on the same data (one round per iteration) and alpha chosen by BIC."
        ),
    )
    demo.add_argument("--n", type=_positive_int, default=2_000_000,
                      help="total number of rows N (default: %(default)s)")
    demo.add_argument("--partitions", type=_positive_int, default=20,
                      help="number of workers K, one row block each (default: %(default)s)")
    demo.add_argument("--flights", type=_positive_int, default=500_000,
                      help="rows of the separated data of act 2 (default: %(default)s)")
    demo.add_argument("--sparse-n", type=_positive_int, default=500_000,
                      help="rows of the sparse data of act 3 (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0,
                      help="random seed of the simulation (default: %(default)s)")
    demo.add_argument("--scheduler-address", default=None, metavar="ADDRESS",
                      help="address of a running dask.distributed scheduler, e.g. "
                           "tcp://10.0.0.5:8786 (default: Dask's threaded scheduler in "
                           "this process)")
    demo.add_argument("--no-progress", action="store_true",
                      help="do not show each fit's progress (one display per fit, on stderr)")
    demo.set_defaults(run=run_demo)
    _add_fit_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dask-glmdist`` console script."""
    args = build_parser().parse_args(argv)
    return args.run(args)


@contextlib.contextmanager
def _scheduler(address: str | None):
    """Yield a description of where the work runs (and a client, if any)."""
    if address is None:
        yield "Dask's threaded scheduler in this process", None
        return
    from distributed import Client

    with Client(address) as client:
        yield f"the distributed scheduler at {client.scheduler.address}", client


def run_demo(args: argparse.Namespace) -> int:
    """``dask-glmdist demo``: simulate, fit, compare, print."""
    start = time.perf_counter()
    with _scheduler(args.scheduler_address) as (where, client):
        print("dask-glmdist demo: DLSA on the paper's Example 2 (logistic), Setting 2 "
              "(heterogeneous workers)")
        print(f"N = {args.n:,} rows, K = {args.partitions} row blocks, seed {args.seed}; "
              f"running on {where}\n")
        n_steps = len(_DEMO_FITS) + 1

        print(f"[1/{n_steps}] simulating the data and persisting it in memory", flush=True)
        t = time.perf_counter()
        X, y, theta = make_dlsa_example(args.n, args.partitions, example=2, setting=2,
                                        random_state=args.seed)
        X, y = dask.persist(X, y)  # the generator is lazy: without this every pass re-simulates
        if client is not None:
            from distributed import wait

            wait([X, y])
        print(f"      done in {time.perf_counter() - t:.1f} s", flush=True)

        fits, seconds = {}, {}
        verbose = int(not args.no_progress)
        for step, (name, (what, params)) in enumerate(_DEMO_FITS.items(), start=2):
            print(f"[{step}/{n_steps}] fitting {name} ({what})", flush=True)
            t = time.perf_counter()
            fits[name] = DLSALogisticRegression(**params, verbose=verbose).fit(X, y)
            seconds[name] = time.perf_counter() - t
            print(f"      done in {seconds[name]:.1f} s", flush=True)

        _report(fits, seconds, theta)
        _act_two(args, client=client)
        X, y, coef, lasso_mean = _act_three(args, client=client)
        _act_four(X, y, coef, lasso_mean, verbose=int(not args.no_progress))
    print(f"\nTotal wall time: {time.perf_counter() - start:.1f} s")
    return 0


_ACT_TWO_FITS = {
    "ML": "maximum likelihood",
    "mBR": "mean bias reduction (adjusted scores)",
    "mJPL": "maximum Jeffreys-prior penalised likelihood",
}


def _act_two(args: argparse.Namespace, client) -> None:
    """Separated probit data: ML says its estimate is infinite, mBR/mJPL stay finite."""
    print("\n" + "=" * 78)
    print("Act 2: BiasReducedGLM on separated data (simulated diverted flights, probit)")
    print(f"N = {args.flights:,} flights, K = {args.partitions} row blocks; a small carrier "
          "had no diversion at all,\nso the ML estimate of its coefficient is -infinity.\n")
    n_steps = len(_ACT_TWO_FITS) + 1
    print(f"[1/{n_steps}] simulating the flights and persisting them in memory", flush=True)
    X, y, names = make_diverted_flights(args.flights, args.partitions, random_state=args.seed)
    X, y = dask.persist(X, y)
    if client is not None:
        from distributed import wait

        wait([X, y])
    fits, caught = {}, {}
    for step, (method, what) in enumerate(_ACT_TWO_FITS.items(), start=2):
        print(f"[{step}/{n_steps}] fitting {method} ({what})", flush=True)
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fits[method] = BiasReducedGLM(link="probit", method=method,
                                          verbose=int(not args.no_progress)).fit(X, y)
        caught[method] = [str(w.message) for w in seen]
        fit = fits[method]
        print(f"      done in {time.perf_counter() - t:.1f} s: {fit.n_iter_} iterations, "
              f"{fit.n_rounds_} passes, converged: {fit.converged_}", flush=True)
    ml_warning = [m for m in caught["ML"] if "infinite" in m]
    if ml_warning:
        print(f"\nML warned: {ml_warning[0]}")
    rare = len(names)  # the last parameter (intercept first)
    table = pd.DataFrame(
        {"truth": list(DIVERTED_FLIGHTS_COEF.values()),
         **{f"{m} coef": f.params_ for m, f in fits.items()},
         **{f"{m} se": f.bse_ for m, f in fits.items()}},
        index=pd.Index(["intercept", *names], name="parameter"),
    )
    print("\nCoefficients and standard errors")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    mbr = fits["mBR"]
    print(f"\nThe small carrier's coefficient: ML stopped at {fits['ML'].params_[rare]:.2f} "
          f"(standard error {fits['ML'].bse_[rare]:.1f}, both artefacts of stopping); mBR "
          f"gives {mbr.params_[rare]:.2f} (95% CI {mbr.conf_int().iloc[rare, 0]:.2f} to "
          f"{mbr.conf_int().iloc[rare, 1]:.2f}).")
    print("\nmBR summary()")
    summary = mbr.summary().rename(index=dict(zip(mbr.summary().index[1:], names, strict=True)))
    print(summary.to_string(float_format=lambda v: f"{v:.4f}"))


_ACT_THREE_ALPHA = 0.001


def _act_three(args: argparse.Namespace, client):
    """Sparse logistic data: the lasso average is shrunk, the debiased lasso is not."""
    print("\n" + "=" * 78)
    print("Act 3: DebiasedLassoRegressor on a sparse logistic regression")
    print(f"N = {args.sparse_n:,} rows, K = {args.partitions} row blocks, 100 correlated "
          "features of which 10 are active;\none round: every block fits its lasso, its "
          "gradient and its share of the node-wise rows.\n")
    X, y, coef = make_sparse_regression(args.sparse_n, 100, n_informative=10,
                                        family="binomial", n_blocks=args.partitions,
                                        random_state=args.seed)
    X, y = dask.persist(X, y)
    if client is not None:
        from distributed import wait

        wait([X, y])
    verbose = int(not args.no_progress)
    fits = {}
    for step, (method, what) in enumerate([
        ("naive", "the mean of the blocks' lasso fits"),
        ("debiased", "the mean debiased by the node-wise inverse and mean gradient"),
    ], start=1):
        print(f"[{step}/3] fitting method={method!r} ({what}), alpha={_ACT_THREE_ALPHA}",
              flush=True)
        t = time.perf_counter()
        fits[method] = DebiasedLassoRegressor(
            alpha=_ACT_THREE_ALPHA, family="binomial", method=method, verbose=verbose).fit(X, y)
        print(f"      done in {time.perf_counter() - t:.1f} s (local proximal Newton "
              f"iterations per block: {int(fits[method].local_n_iter_.max())} at most)",
              flush=True)
    print("[3/3] for reference: the global maximum likelihood fit (BiasReducedGLM, "
          "method='ML': a pass per iteration)", flush=True)
    t = time.perf_counter()
    mle = BiasReducedGLM(method="ML", verbose=verbose).fit(X, y)
    print(f"      done in {time.perf_counter() - t:.1f} s ({mle.n_rounds_} passes)", flush=True)
    deb = fits["debiased"]
    ci = deb.conf_int().to_numpy()
    covered = (ci[:, 0] <= coef) & (coef <= ci[:, 1])
    names = ["intercept", *[f"x{j}" for j in range(100)]]
    shown = list(range(13)) + [50, 100]
    table = pd.DataFrame({
        "truth": coef[shown],
        "lasso mean": fits["naive"].params_[shown],
        "debiased": deb.params_[shown],
        "std_err": deb.bse_[shown],
        "global MLE": mle.params_[shown],
        "95% CI covers": np.where(covered[shown], "yes", "no"),
    }, index=pd.Index([names[i] for i in shown], name="parameter"))
    print("\nCoefficients (intercept, the 10 active features, some inactive ones)")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    active = slice(1, 11)
    shrink = np.mean(np.abs(fits["naive"].params_[active]) < np.abs(coef[active]))
    z = (deb.params_ - coef) / deb.bse_
    print(f"\nThe lasso mean is shrunk towards 0 on {shrink:.0%} of the active "
          f"coefficients;\nthe debiased 95% intervals cover the truth for "
          f"{covered.sum()} of {covered.size} parameters (max |estimate - truth| / se "
          f"= {np.max(np.abs(z)):.2f}).\nOne round lands within "
          f"{np.max(np.abs(deb.params_ - mle.params_) / mle.bse_):.2f} standard errors of the "
          f"global maximum likelihood estimate (the lasso mean: within "
          f"{np.max(np.abs(fits['naive'].params_ - mle.params_) / mle.bse_):.1f}).")
    return X, y, coef, fits["naive"].params_


def _act_four(X, y, coef, lasso_mean, verbose: int) -> None:
    """The exact global lasso on act 3's data, and the penalty chosen by BIC."""
    print("\n" + "=" * 78)
    print("Act 4: the exact global lasso (PenalizedLogisticRegression, proximal "
          "quasi-Newton)")
    print("The same data; each iteration is one round over the blocks, its line search "
          "included.\n")
    print(f"[1/2] fitting the global lasso at alpha={_ACT_THREE_ALPHA}", flush=True)
    t = time.perf_counter()
    lasso = PenalizedLogisticRegression(alpha=_ACT_THREE_ALPHA, verbose=verbose).fit(X, y)
    print(f"      done in {time.perf_counter() - t:.1f} s: {lasso.n_iter_} iterations, "
          f"{lasso.n_rounds_} rounds over the data, largest KKT violation "
          f"{lasso.kkt_violation_:.1e}", flush=True)
    print("[2/2] choosing alpha by BIC along a warm-started path of 8 alphas", flush=True)
    t = time.perf_counter()
    bic = PenalizedGLMCV("binomial", criterion="bic", n_alphas=8, eps=0.01,
                         verbose=verbose).fit(X, y)
    print(f"      done in {time.perf_counter() - t:.1f} s ({bic.n_rounds_} rounds)", flush=True)
    truth = set(np.flatnonzero(coef[1:]))
    for name, model in [("global lasso", lasso), ("BIC choice", bic)]:
        chosen = set(np.flatnonzero(np.ravel(model.coef_)))
        alpha = getattr(model, "alpha_", _ACT_THREE_ALPHA)
        print(f"  {name:<13} alpha={alpha:.2e}: {len(chosen)} features selected, "
              f"{len(chosen & truth)} of the {len(truth)} active ones, "
              f"{len(chosen - truth)} inactive ones")
    print(f"\nThe one-round lasso mean of act 3 is within "
          f"{np.max(np.abs(lasso_mean - lasso.params_)):.4f} of the exact global lasso "
          "at the same alpha (largest coefficient difference).")


def _report(fits: dict, seconds: dict, theta: np.ndarray) -> None:
    names = list(fits["DLSA"].summary().index)
    truth = np.concatenate([[0.0], theta])  # the simulation has no intercept
    mle = fits["global MLE"].params_

    print("\nCoefficients (the truth has intercept 0)")
    table = pd.DataFrame({"truth": truth, **{k: f.params_ for k, f in fits.items()}},
                         index=pd.Index(names, name="parameter"))
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))

    print("\nDLSA summary()")
    print(fits["DLSA"].summary().to_string(float_format=lambda v: f"{v:.4f}"))

    sdlsa = fits["SDLSA"]
    features = names[1:]
    selected = [features[j] for j in np.flatnonzero(np.ravel(sdlsa.coef_))]
    true_model = [features[j] for j in np.flatnonzero(theta)]
    print(f"\nSelected model (SDLSA: the DBIC over the {len(sdlsa.alphas_)} knots of the "
          f"adaptive-lasso path is smallest at alpha_ = {sdlsa.alpha_:.4g})")
    print(f"  selected variables:  {', '.join(selected) or '(none)'}")
    print(f"  truly non-zero:      {', '.join(true_model)}")
    print(f"  correct model:       {'yes' if selected == true_model else 'no'}")

    print("\nAccuracy and timings (differences over the intercept and all coefficients)")
    rows = {
        name: {
            "data passes": fit.n_iter_,
            "fit time (s)": round(seconds[name], 2),
            "max |coef - global MLE|": float(np.max(np.abs(fit.params_ - mle))),
            "max |coef - truth|": float(np.max(np.abs(fit.params_ - truth))),
        }
        for name, fit in fits.items()
    }
    print(pd.DataFrame(rows).T.to_string(formatters={
        "data passes": "{:.0f}".format,
        "fit time (s)": "{:.2f}".format,
        "max |coef - global MLE|": "{:.2e}".format,
        "max |coef - truth|": "{:.2e}".format,
    }))


# --------------------------------------------------------------------------------------
# dask-glmdist fit
# --------------------------------------------------------------------------------------

_MODELS = {
    "dlsa": DLSARegressor,
    "brglm": BiasReducedGLM,
    "penalized": PenalizedGLM,
    "debiased": DebiasedLassoRegressor,
}
_METHODS = {"brglm": ("ML", "mBR", "mJPL"), "debiased": ("debiased", "naive")}
# option -> the models it applies to
_MODEL_OPTIONS = {
    "method": ("brglm", "debiased"),
    "alpha": ("penalized", "debiased"),
    "refine_steps": ("dlsa",),
    "offset": ("brglm", "penalized"),
    "cov_type": ("dlsa", "brglm", "penalized"),
    "groups": ("dlsa", "brglm", "penalized"),
}
_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz")
_GLOB_CHARS = "*?["
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _FitError(Exception):
    """A problem with the user's files or formula: one line on stderr, exit status 2."""


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0.0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _add_fit_parser(commands) -> None:
    fit = commands.add_parser(
        "fit",
        help="fit a GLM written as a formula to Parquet or CSV files",
        description=(
            "Read DATA lazily with dask (a Parquet file, a directory of Parquet files, a "
            "CSV file or a glob such as 'data/*.csv'; one row block per partition), fit "
            "the model --formula describes, print its summary() and write the coefficient "
            "table (--output) and the predicted means (--predict-out)."
        ),
    )
    fit.add_argument("data", metavar="DATA", nargs="+",
                     help="a Parquet file, a directory of Parquet files, a CSV file, or a "
                          "glob ('data/*.csv', quoted or expanded by the shell); the format "
                          "comes from the extension, a directory is read as Parquet")
    fit.add_argument("--formula", required=True, metavar="F",
                     help="the model, e.g. 'cancelled ~ C(carrier) + hour + np.log(distance)' "
                          "(formulaic's syntax, as statsmodels' formula API; '0 +' for no "
                          "intercept)")
    fit.add_argument("--model", choices=list(_MODELS), default="dlsa",
                     help="dlsa: DLSARegressor (one round + --refine-steps Fisher-scoring "
                          "rounds); brglm: BiasReducedGLM (--method ML, mBR or mJPL); "
                          "penalized: PenalizedGLM (--alpha, default 0: the MLE, with "
                          "standard errors); debiased: DebiasedLassoRegressor (--alpha, "
                          "--method) (default: %(default)s)")
    fit.add_argument("--family", choices=[*FAMILY_NAMES, "tweedie"], default="gaussian",
                     help="the response's distribution (default: %(default)s, as "
                          "statsmodels' glm); negative_binomial estimates its alpha; "
                          "tweedie needs --power")
    fit.add_argument("--power", type=float, default=None, metavar="P",
                     help="the Tweedie family's variance power (0, 1, 1 < P < 2 or P >= 2)")
    fit.add_argument("--link", choices=LINK_NAMES, default=None,
                     help="the link function (default: the family's canonical link)")
    fit.add_argument("--method", default=None,
                     help="brglm: ML, mBR or mJPL (default mBR); debiased: debiased or naive "
                          "(default debiased)")
    fit.add_argument("--missing", choices=["raise", "drop"], default="raise",
                     help="rows with a missing value in a model column: an error naming the "
                          "columns, or dropped (as R's na.omit) (default: %(default)s)")
    fit.add_argument("--weights", metavar="COL", default=None,
                     help="a column of prior (frequency) weights")
    fit.add_argument("--offset", metavar="COL", default=None,
                     help="a column added to the linear predictor, in the fit and the "
                          "predictions (brglm and penalized)")
    fit.add_argument("--cov-type", choices=["HC0", "HC1", "cluster"], default=None,
                     help="robust standard errors: HC0/HC1 (heteroscedasticity) or cluster "
                          "(with --groups) (default: the model's own, 'nonrobust')")
    fit.add_argument("--groups", metavar="COL", default=None,
                     help="the column of cluster ids for --cov-type cluster (a cluster's "
                          "rows may be in any files)")
    fit.add_argument("--alpha", type=_non_negative_float, default=None, metavar="A",
                     help="penalty strength: penalized (default 0), debiased (default 0.01)")
    fit.add_argument("--refine-steps", type=_non_negative_int, default=None, metavar="N",
                     help="dlsa: global Fisher-scoring rounds after the one-round estimate "
                          "(default 1)")
    fit.add_argument("--scheduler-address", default=None, metavar="ADDRESS",
                     help="address of a running dask.distributed scheduler (default: Dask's "
                          "threaded scheduler in this process)")
    fit.add_argument("--output", default=None, metavar="CSV",
                     help="write the coefficient table (summary() columns, one row per "
                          "parameter) to this CSV file")
    fit.add_argument("--predict-out", default=None, metavar="DIR",
                     help="write DATA's rows with a 'predicted' column (the fitted mean) "
                          "as Parquet files to this new directory")
    fit.add_argument("--no-progress", action="store_true",
                     help="do not show the fit's progress (on stderr)")
    fit.set_defaults(run=run_fit, fit_parser=fit)


def _check_fit_options(args: argparse.Namespace) -> None:
    """Options that do not apply to --model, or a --method it does not have: usage error."""
    parser = args.fit_parser
    for name, models in _MODEL_OPTIONS.items():
        if getattr(args, name) is not None and args.model not in models:
            parser.error(f"--{name.replace('_', '-')} applies to --model "
                         f"{' or '.join(models)}, not {args.model}")
    if args.method is not None and args.method not in _METHODS[args.model]:
        parser.error(f"--method of --model {args.model} is one of "
                     f"{', '.join(_METHODS[args.model])}; got {args.method!r}")
    if (args.family == "tweedie") != (args.power is not None):
        parser.error("--power is the Tweedie family's: give it with --family tweedie, and "
                     "only then")
    if (args.cov_type == "cluster") != (args.groups is not None):
        parser.error("--cov-type cluster needs --groups COL (the cluster ids), and --groups "
                     "is only used by it")


def _one_line(error: BaseException) -> str:
    """The error's message on one line, in the command's terms."""
    text = _ANSI.sub("", str(error)).strip()
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = f"no column {error.args[0]!r}"
    text = text.replace("missing='drop'", "--missing drop")
    return " ".join(text.split()) or type(error).__name__


def _format_of(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def _local_files(path: str, several: bool) -> list[str] | None:
    """The files a local DATA path names (None for a directory); a _FitError when none."""
    if any(c in path for c in _GLOB_CHARS):
        names = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        if not names:
            raise _FitError(f"no files match {path!r}")
        return names
    if os.path.isdir(path):
        if several:
            raise _FitError(f"{path} is a directory: give one directory, or files")
        if not any(files for _, _, files in os.walk(path)):
            raise _FitError(f"{path}: the directory holds no files")
        return None
    if os.path.isfile(path):
        return [path]
    raise _FitError(f"{path}: no such file or directory")


def _data_source(paths: list[str]):
    """What dask reads (a path, or a list of files) and 'parquet' or 'csv'.

    A directory is Parquet; files and globs go by their extension, all alike. Local
    paths are checked here, to say what is wrong before dask does."""
    kinds, files = set(), []
    for path in paths:
        if "://" in path:  # a remote URL: dask and fsspec check it
            kinds.add(_format_of(path.rstrip("/")) or "parquet")
            files.append(path)
            continue
        names = _local_files(path, several=len(paths) > 1)
        if names is None:
            kinds.add("parquet")
        else:
            kinds |= {_format_of(n) for n in names}
            files += names
    if len(kinds) != 1 or None in kinds:
        raise _FitError(
            f"cannot tell the format of {' '.join(paths)!r}: name Parquet files "
            f"({', '.join(_PARQUET_SUFFIXES)}), CSV files ({', '.join(_CSV_SUFFIXES)}) or a "
            "directory of Parquet files"
        )
    return (paths[0] if len(paths) == 1 else files), kinds.pop()


def _read_frame(paths: list[str]):
    """DATA as a lazy dask DataFrame, and the name of its format."""
    import dask.dataframe as dd

    source, kind = _data_source(paths)
    if kind == "parquet":
        return dd.read_parquet(source), "Parquet"
    compressed = any(not p.lower().endswith(".csv") for p in paths)
    # assume_missing: an integer column with a missing value in a later file (which
    # dask's dtype inference from the first file cannot see) is read as float, not an
    # error at compute time
    return dd.read_csv(source, assume_missing=True,
                       blocksize=None if compressed else "default"), "CSV"


def _has_intercept(formula: str) -> bool:
    """Whether the formula keeps its intercept ('0 +' and '- 1' remove it)."""
    from formulaic.errors import FormulaicError

    from .design import _split_formula

    try:
        _, rhs = _split_formula(formula)
    except (FormulaicError, ValueError) as error:
        error = error.__cause__ or error  # the library wraps formulaic's syntax error
        first = _ANSI.sub("", str(error)).strip().splitlines()[0]  # then the marked formula
        raise _FitError(f"cannot parse the formula {formula!r}: {first}") from None
    return any(str(term) == "1" for term in rhs)


def _estimator(args: argparse.Namespace):
    """The estimator --model names, and its parameters for the header (those the
    options set, with the estimator's defaults where an option was not given)."""
    given = {"link": args.link, "refine_steps": args.refine_steps, "method": args.method,
             "alpha": 0.0 if args.model == "penalized" and args.alpha is None else args.alpha,
             "cov_type": args.cov_type}
    params = {k: v for k, v in given.items() if v is not None}
    family = args.family if args.power is None else get_family("tweedie", power=args.power)
    model = _MODELS[args.model](
        family=family, missing=args.missing, **params, formula=args.formula,
        fit_intercept=_has_intercept(args.formula), verbose=int(not args.no_progress))
    defaults = model.get_params()
    title = args.family if args.power is None else family.title
    optional = ("link", "cov_type")  # shown only when given
    shown = {"family": title, **{k: params.get(k, defaults[k]) for k in given
                                 if k in params or (k not in optional and k in defaults)},
             "missing": args.missing}
    return model, shown


def _check_columns(frame, args: argparse.Namespace) -> None:
    for option, column in [("--weights", args.weights), ("--offset", args.offset),
                           ("--groups", args.groups)]:
        if column is not None and column not in frame.columns:
            raise _FitError(f"{option} {column!r}: DATA has no such column (its columns: "
                            f"{', '.join(map(str, frame.columns))})")


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before the fit, not after it, on outputs that cannot be written."""
    if args.output is not None:
        parent = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(parent):
            raise _FitError(f"--output {args.output}: the directory {parent} does not exist")
    if args.predict_out is not None and os.path.exists(args.predict_out):
        if not os.path.isdir(args.predict_out) or os.listdir(args.predict_out):
            raise _FitError(f"--predict-out {args.predict_out}: exists and is not an empty "
                            "directory; name a new one")


@contextlib.contextmanager
def _warnings_as_lines(prog: str):
    """Show warnings as one line each, ``prog: warning: Category: message``."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"{prog}: warning: {category.__name__}: {text}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def run_fit(args: argparse.Namespace) -> int:
    """``dask-glmdist fit``: read DATA lazily, fit, print the summary, write the outputs."""
    _check_fit_options(args)
    prog = "dask-glmdist fit"
    try:
        with _warnings_as_lines(prog):
            return _fit(args)
    except (_FitError, ValueError, OSError, KeyError) as error:
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _fit(args: argparse.Namespace) -> int:
    _check_outputs(args)
    model, shown = _estimator(args)
    frame, kind = _read_frame(args.data)
    _check_columns(frame, args)
    fit_kwargs = {"sample_weight": args.weights}
    if args.offset is not None:
        fit_kwargs["offset"] = args.offset
    if args.groups is not None:
        fit_kwargs["groups"] = args.groups
    with _scheduler(args.scheduler_address) as (where, _client):
        data = " ".join(args.data) if len(args.data) <= 3 else (
            f"{args.data[0]} ... {args.data[-1]} ({len(args.data)} files)")
        print(f"dask-glmdist fit: {data} ({kind}, {frame.npartitions} partitions), "
              f"running on {where}", flush=True)
        start = time.perf_counter()
        model.fit(frame, **fit_kwargs)
        seconds = time.perf_counter() - start
        _print_fit(args, model, shown, seconds)
        if args.output is not None:
            pd.DataFrame(model.summary()).to_csv(args.output)
            print(f"\nCoefficient table written to {args.output}")
        if args.predict_out is not None:
            start = time.perf_counter()
            mean = (model.predict(frame) if args.offset is None
                    else model.predict(frame, offset=args.offset))
            frame.assign(predicted=mean).to_parquet(args.predict_out)
            print(f"Predictions (column 'predicted', the fitted mean) written to "
                  f"{args.predict_out} in {time.perf_counter() - start:.1f} s")
    return 0


def _print_fit(args: argparse.Namespace, model, shown: dict, seconds: float) -> None:
    params = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    family = model.family_
    lines = {
        "estimator": f"{type(model).__name__}({params})",
        "formula": args.formula,
        "family": f"{family.title}, link {family.link.name}",
        "blocks": f"{model.n_blocks_} (one per partition)",
        "rows used": f"{model.n_obs_:,}",
    }
    if args.weights is not None:
        lines["weights"] = args.weights
    if args.offset is not None:
        lines["offset"] = args.offset
    if getattr(model, "nb_alpha_", None) is not None:
        lines["NB alpha"] = f"{model.nb_alpha_:.6g} (std. err. {model.nb_alpha_bse_:.3g})"
    if hasattr(model, "cov_type_"):
        lines["covariance"] = model._cov_type
    fit = f"{seconds:.1f} s"
    n_iter = getattr(model, "n_iter_", None)
    if n_iter is not None:
        fit += f", {n_iter} iteration{'' if n_iter == 1 else 's'}"
    if getattr(model, "converged_", None) is not None:
        fit += ", converged" if model.converged_ else ", NOT converged"
    lines["fit"] = fit
    print()
    for key, value in lines.items():
        print(f"  {key + ':':<11} {value}")
    table = model.summary()
    print()
    print(table.to_string(float_format=lambda v: f"{v:.6g}") + table._notes_text())


if __name__ == "__main__":
    raise SystemExit(main())
