"""The numbers behind the calibration plot: predicted vs observed by decile, one pass.

Decile bins need quantiles of the predicted probability, which a single pass over
dask data does not know in advance. The pass therefore builds a fine histogram instead
(a quantile sketch): :data:`N_FINE` equal-width bins of the linear predictor's logit
scale, ``logit(p)`` in ``[-LOGIT_RANGE, LOGIT_RANGE]`` (the outermost bins take
everything beyond), with per fine bin the number of rows, the sum of the predicted
probabilities and the number of rows of the positive class. Summed over the blocks
(the round machinery of :mod:`dask_glmdist._blocks`), the client merges consecutive
fine bins into ``n_bins`` groups of about equal counts: a fine bin joins the group in
which its middle row falls. The groups are deciles to within one fine bin (a width of
0.01 on the logit scale), and their means are exact for the groups as drawn.

For in-memory input the same block function runs once on the whole array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._blocks import BlockSummary, as_blocked, frame_to_array, is_dask_collection, map_reduce
from .block_graph import additive

__all__ = ["calibration_table", "N_FINE", "LOGIT_RANGE"]

#: fine bins of the one-pass sketch, and the range of logit(p) they cover
N_FINE = 4096
LOGIT_RANGE = 20.0


@dataclass
class CalibrationSums(BlockSummary):
    """Per fine bin: rows, summed predicted probability, rows of the positive class;
    ``bad``: rows whose label is neither class (or a response outside [0, 1])."""

    n: np.ndarray | None = None
    sum_p: np.ndarray | None = None
    sum_y: np.ndarray | None = None
    bad: int = 0


def fine_bin(p: np.ndarray) -> np.ndarray:
    """The fine bin of each predicted probability (0 .. N_FINE - 1)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-300, 1.0)
    with np.errstate(divide="ignore"):
        eta = np.log(p) - np.log1p(-p)  # logit; +-inf at 0 and 1 land in the end bins
    step = 2.0 * LOGIT_RANGE / N_FINE
    idx = np.floor((eta + LOGIT_RANGE) / step)
    return np.clip(np.nan_to_num(idx, nan=0.0, posinf=N_FINE - 1, neginf=0.0),
                   0, N_FINE - 1).astype(np.int64)


def _fine_edges() -> np.ndarray:
    """The fine bins' edges as probabilities (0 and 1 at the ends)."""
    eta = np.linspace(-LOGIT_RANGE, LOGIT_RANGE, N_FINE + 1)
    edges = 1.0 / (1.0 + np.exp(-eta))
    edges[0], edges[-1] = 0.0, 1.0
    return edges


@additive
def calibration_block(X, y, w, *, positive, block_index):
    """One block's fine histogram: ``X`` is the column of predicted probabilities of
    the positive class, ``y`` the labels (``positive``: the positive class's label, or
    None for a numeric 0/1 response)."""
    p = np.asarray(X, dtype=float)[:, 0]
    y = np.asarray(y)
    if positive is None:
        yy = y.astype(float)
        bad = int(np.count_nonzero(~((yy >= 0) & (yy <= 1))))
    else:
        yy = (y == positive[1]).astype(float)
        bad = int(np.count_nonzero(~np.isin(y, positive)))
    idx = fine_bin(p)
    return CalibrationSums(n=np.bincount(idx, minlength=N_FINE).astype(float),
                           sum_p=np.bincount(idx, weights=p, minlength=N_FINE),
                           sum_y=np.bincount(idx, weights=yy, minlength=N_FINE), bad=bad)


def _positive_class(model):
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2:
        return None
    return list(classes)


def _probabilities(model, X):
    """The positive class's predicted probability (lazy for dask input)."""
    if not hasattr(model, "predict_proba"):
        family = getattr(getattr(model, "family_", None), "name", None)
        if family == "binomial":  # a regressor of the binomial family: its mean
            mean = model.predict(X)
            if hasattr(mean, "iloc"):
                return _probabilities_of_series(mean)
            return mean[:, None]
        raise TypeError(
            f"plot_calibration needs a binary classifier with predict_proba (or a model "
            f"of the binomial family); {type(model).__name__} is neither (a calibration "
            "plot compares predicted probabilities with observed frequencies of a binary "
            "outcome).")
    proba = model.predict_proba(X)
    if hasattr(proba, "iloc"):  # a (dask) DataFrame of the classes' probabilities
        return _probabilities_of_series(proba.iloc[:, 1])
    return proba[:, 1:2]


def _probabilities_of_series(p):
    """A (dask) Series of probabilities as a one-column (dask) array."""
    if is_dask_collection(p):
        return frame_to_array(p)[:, None]
    return np.asarray(p, dtype=float)[:, None]


def calibration_sums(model, X, y) -> CalibrationSums:
    """The fine histogram of ``model``'s predictions on ``(X, y)``: one pass over dask
    input (a round of :func:`~dask_glmdist._blocks.map_reduce`), in memory otherwise."""
    P = _probabilities(model, X)
    positive = _positive_class(model)
    if is_dask_collection(P) or is_dask_collection(y):
        data = as_blocked(P, y)
        s = map_reduce(calibration_block, data, positive=positive, label="calibration")
    else:
        yv = np.asarray(y)
        if yv.shape[0] != P.shape[0]:
            raise ValueError(f"X has {P.shape[0]} rows but y has {yv.shape[0]}.")
        s = calibration_block(np.asarray(P), yv, None, positive=positive, block_index=0)
    if s.bad:
        what = (f"labels other than the classes {positive}" if positive is not None
                else "values outside [0, 1]")
        raise ValueError(f"y has {s.bad} row(s) with {what}: a calibration plot needs "
                         "the binary outcome the model was fitted to.")
    return s


def group_fine_bins(counts: np.ndarray, n_bins: int) -> np.ndarray:
    """The group (0 .. n_bins - 1) of each fine bin: the one its middle row falls in."""
    total = counts.sum()
    before = np.cumsum(counts) - counts
    middle = (before + counts / 2.0) / max(total, 1.0)
    return np.minimum(np.floor(n_bins * middle), n_bins - 1).astype(np.int64)


def calibration_table(model, X, y, *, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed by (about) equal-count bins of predicted probability.

    One pass over dask input: a fine histogram on the logit scale summed over the
    blocks, merged into ``n_bins`` bins of about equal size on the client (the module
    docstring). The data are never brought to the client.

    Parameters
    ----------
    model : fitted binary classifier
        Any estimator of this package with ``predict_proba`` (``classes_[1]`` is the
        positive class; a numeric 0/1 response for ``BiasReducedGLM``), or of the
        binomial family (``DebiasedLassoRegressor(family="binomial")``: its
        ``predict``).
    X, y : array-like or dask collections
        The rows to check (in memory, or dask arrays/DataFrames/Series).
    n_bins : int, default=10
        Number of bins (10: deciles).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``lower``, ``upper`` (its predicted probabilities
        ``lower <= p < upper``), ``n``, ``mean_predicted``, ``observed`` (the fraction
        of the positive class).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import DLSALogisticRegression
    >>> from dask_glmdist.plotting import calibration_table
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 2))
    >>> y = (rng.random(5000) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    >>> model = DLSALogisticRegression(n_partitions=4).fit(X, y)
    >>> table = calibration_table(model, X, y)
    >>> len(table), int(table["n"].sum())
    (10, 5000)
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    s = calibration_sums(model, X, y)
    group = group_fine_bins(s.n, int(n_bins))
    n = np.bincount(group, weights=s.n, minlength=n_bins)
    sum_p = np.bincount(group, weights=s.sum_p, minlength=n_bins)
    sum_y = np.bincount(group, weights=s.sum_y, minlength=n_bins)
    edges = _fine_edges()
    occupied = np.flatnonzero(s.n > 0)
    keep = n > 0
    lower = np.array([edges[occupied[group[occupied] == g].min()] if keep[g] else np.nan
                      for g in range(n_bins)])
    upper = np.array([edges[occupied[group[occupied] == g].max() + 1] if keep[g] else np.nan
                      for g in range(n_bins)])
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({"lower": lower, "upper": upper, "n": n.astype(np.int64),
                              "mean_predicted": sum_p / n, "observed": sum_y / n})
    table = table[keep].reset_index(drop=True)
    table.index.name = "bin"
    return table
