"""The ``dask-glmdist`` command.

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
    PenalizedGLMCV,
    PenalizedLogisticRegression,
)

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
              f"{fit.n_passes_} passes, converged: {fit.converged_}", flush=True)
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
            _ACT_THREE_ALPHA, family="binomial", method=method, verbose=verbose).fit(X, y)
        print(f"      done in {time.perf_counter() - t:.1f} s (local proximal Newton "
              f"iterations per block: {int(fits[method].local_n_iter_.max())} at most)",
              flush=True)
    print("[3/3] for reference: the global maximum likelihood fit (BiasReducedGLM, "
          "method='ML': a pass per iteration)", flush=True)
    t = time.perf_counter()
    mle = BiasReducedGLM(method="ML", verbose=verbose).fit(X, y)
    print(f"      done in {time.perf_counter() - t:.1f} s ({mle.n_passes_} passes)", flush=True)
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


if __name__ == "__main__":
    raise SystemExit(main())
