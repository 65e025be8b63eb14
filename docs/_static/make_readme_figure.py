"""Write docs/_static/readme_forest.png, the README's figure: the demo's act 1.

The DLSA paper's Example 2 (logistic regression, true coefficients (3, 0, 0, 1.5, 0, 0,
2, 0), no intercept) under Setting 2 (heterogeneous workers), as ``dask-glmdist demo``
simulates it: one-round DLSA and the global MLE (Fisher scoring to convergence) with
their 95% intervals, and the truth. Run from the repository root:

    python docs/_static/make_readme_figure.py            # 2,000,000 rows, 20 blocks
    python docs/_static/make_readme_figure.py --n 200000  # quicker
"""

import argparse
import pathlib

import dask
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dask_glmdist import DLSALogisticRegression  # noqa: E402
from dask_glmdist.datasets import make_dlsa_example  # noqa: E402
from dask_glmdist.plotting import plot_coefficients  # noqa: E402

OUT = pathlib.Path(__file__).with_name("readme_forest.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y, theta = make_dlsa_example(args.n, args.partitions, example=2, setting=2,
                                    random_state=args.seed)
    X, y = dask.persist(X, y)
    dlsa = DLSALogisticRegression(refine_steps=0).fit(X, y)
    mle = DLSALogisticRegression(refine_steps=10).fit(X, y)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    truth = [0.0, *theta]  # the true intercept is 0
    plot_coefficients(dlsa, others={"global MLE": mle}, truth=truth, ax=ax)
    ax.set_title(f"DLSA in one round on {args.n:,} rows over {args.partitions} "
                 "heterogeneous blocks", fontsize="medium")
    fig.savefig(OUT, dpi=100)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
