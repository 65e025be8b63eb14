"""Block problems are reported once per kind per fit, with the detail on the estimator."""

import logging
import warnings

import dask.array as da
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from dask_glmdist import DLSALogisticRegression
from dask_glmdist.families import Binomial
from dask_glmdist.solvers.local import fit_local


def test_96_blocks_give_one_warning_per_kind(caplog):
    """Before: one warning per block with a constant column (97 warnings for 96 blocks)."""
    rng = np.random.default_rng(4)
    k, rows = 96, 60
    n = k * rows
    x = rng.normal(size=n)
    month = np.repeat(np.arange(k) % 12, rows)
    dummies = np.column_stack([(month == m).astype(float) for m in range(1, 12)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + x + 0.2 * (month % 3))))).astype(float)
    y[:rows] = (x[:rows] > 0)  # block 0 is separated by x
    X = da.from_array(np.column_stack([x, dummies]), chunks=(rows, -1))
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(
            logging.DEBUG, logger="dask_glmdist"):
        warnings.simplefilter("always")
        model = DLSALogisticRegression(refine_steps=1).fit(X, da.from_array(y, chunks=rows))
    texts = [str(w.message) for w in caught]
    constant = [t for t in texts if "constant within the block" in t]
    firth = [t for t in texts if "Firth" in t]
    refinement = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    # one per kind: the separated block, the constant columns, the refinement's last step
    assert len(constant) == 1 and len(firth) == 1 and len(refinement) == 1
    assert len(texts) == 3 and refinement[0].startswith("The refinement has not converged")
    assert "(96 in all)" in constant[0] and "(11 in all)" in constant[0]
    assert firth[0].startswith("Row block(s) [0]:") and "x0 (+inf)" in firth[0]
    diag = model.block_diagnostics_
    assert (diag.problem == "constant_columns").sum() == 96
    assert diag.query("problem == 'separated'")["block"].tolist() == [0]
    # block 13 is month 1: its dummy is 1 throughout, the other ten 0
    assert set(diag.query("block == 13 and problem == 'constant_columns'")["columns"].iloc[0]) == {
        f"x{m}" for m in range(1, 12)}
    assert sum("row block" in r.message for r in caplog.records) == len(diag)


@pytest.mark.parametrize("power", [0.0, 0.5])
def test_local_fit_with_constant_columns_is_the_fit_without_them(power):
    """A block with a constant (all-zero, or all-one = intercept) column: the penalised fit
    used to stall for max_iter iterations on the singular information."""
    rng = np.random.default_rng(6)
    n = 3000
    x = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + x @ [1.0, 0.5, -0.5])))).astype(float)
    y[x[:, 2] > 1.8] = 0.0  # quasi-separation as in a sparse month
    X = np.column_stack([x[:, :2], np.zeros(n), x[:, 2], np.ones(n)])
    full = fit_local(X, y, None, Binomial(), tol=1e-10, jeffreys_power=power)
    reduced = fit_local(X[:, [0, 1, 3]], y, None, Binomial(), tol=1e-10, jeffreys_power=power)
    assert full.converged and full.n_iter <= reduced.n_iter + 1
    eta_full = full.theta[0] + X @ full.theta[1:]
    eta_reduced = reduced.theta[0] + X[:, [0, 1, 3]] @ reduced.theta[1:]
    np.testing.assert_allclose(eta_full, eta_reduced, atol=1e-8)
    np.testing.assert_allclose(full.theta[[1, 2, 4]], reduced.theta[1:], atol=1e-8)
