"""One-round distributed feature screening for p >> n (the DLSA paper, section 4.2).

:func:`screen` scores every feature by its marginal dependence with the response in
ONE pass over the row blocks: each block estimates the *components* of the measure from
its own rows (O(p) numbers per block), the client averages them and applies the
measure's function ``g`` (Li et al. 2020, componentwise debiasing). Four measures:

``"pearson"``
    |Pearson correlation| (SIS, Fan and Lv 2008): exactly the correlation of all rows.
``"kendall"``
    |Kendall's tau| (Li et al. 2012a): the blocks' U-statistics averaged.
``"sirs"``
    SIRS (Zhu et al. 2011): ``E[(E[x 1(Y < Y') | Y'])^2] / var(x)``, its numerator a
    U-statistic over triples of distinct rows of each block.
``"dc"``
    squared distance correlation (Li, Zhong and Zhu 2012b), its eight components
    U-statistics over pairs and triples of each block.

:class:`ScreeningSelector` is the scikit-learn transformer that keeps the
``n_features`` best-scored features (lazily on dask input), e.g. before a DLSA fit in a
:class:`~sklearn.pipeline.Pipeline`. The mathematics lives in
:mod:`dask_glmdist.screening_measures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._array import to_host
from ._blocks import (
    BlockSummary,
    Problems,
    _is_dask_frame,
    check_block,
    check_numeric_columns,
    is_dask_collection,
    raise_for_problems,
)
from .diagnostics import short_list, warn
from .rounds import RoundEngine
from .screening_measures import MEASURES, MIN_ROWS, block_components, combine_components

__all__ = ["ScreeningSelector", "screen"]


@dataclass
class ScreeningSummary(BlockSummary):
    """The blocks' records: rows, column ranges and the measure's components."""

    records: list = field(default_factory=list)


def screening_block(X, y, w, *, block_index, method):
    """One block's components of ``method`` (and its rows, column minima and maxima)."""
    problems = check_block(X, y, None)
    n = int(X.shape[0])
    need = MIN_ROWS[method]
    if n < need:
        problems[f"fewer than {need} rows in a block: '{method}' screening estimates its "
                 f"components from {'pairs' if need == 2 else 'triples'} of distinct rows of "
                 "each block; use fewer, larger row blocks"] = 1
    record = {"block": int(block_index), "n": n}
    if not problems:
        # blocks of another namespace (CuPy) are copied to the host in the task
        X, y = np.asarray(to_host(X), np.float64), np.asarray(to_host(y), np.float64)
        record.update(xmin=X.min(axis=0), xmax=X.max(axis=0), ymin=y.min(), ymax=y.max(),
                      parts=block_components(X, y, method))
    return ScreeningSummary(records=[record], problems=Problems.at(block_index, problems))


class _Inputs(BaseEstimator):
    """What ``prepare_blocks`` reads of an estimator, for :func:`screen` called alone."""

    fit_intercept = False
    formula = None


def _blocked(holder, X, y, n_partitions):
    from .estimators._base import prepare_blocks

    if y is None:
        raise ValueError("screening requires y to be passed, but the target y is None.")
    check_numeric_columns(X)
    data, _ = prepare_blocks(holder, X, y, None, n_partitions=n_partitions, n_params_extra=0)
    return data


def _scores(holder, X, y, method, n_partitions, split_every):
    """The scores of every feature (one round) and the rounds made."""
    if method not in MEASURES:
        raise ValueError(f"method must be one of {list(MEASURES)}; got {method!r}.")
    data = _blocked(holder, X, y, n_partitions)
    engine = RoundEngine(data, split_every=split_every)
    summary = engine.run(screening_block, method=method, label=f"screening ({method})")
    raise_for_problems(summary.problems)
    records = sorted(summary.records, key=lambda r: r["block"])
    if min(r["ymin"] for r in records) == max(r["ymax"] for r in records):
        raise ValueError("y is constant: no feature can be screened against it.")
    scores = combine_components(records, method)
    constant = (np.minimum.reduce([r["xmin"] for r in records])
                == np.maximum.reduce([r["xmax"] for r in records]))
    if constant.any():
        names = getattr(holder, "feature_names_in_", None)
        which = names[constant] if names is not None else np.flatnonzero(constant)
        warn(f"constant feature(s) {short_list(which)} cannot be screened: their score is "
             "NaN (ranked last).")
        scores[constant] = np.nan
    within = np.logical_and.reduce([r["xmin"] == r["xmax"] for r in records]) & ~constant
    if method != "pearson" and within.any():
        names = getattr(holder, "feature_names_in_", None)
        which = names[within] if names is not None else np.flatnonzero(within)
        warn(f"feature(s) {short_list(which)} are constant within every row block (they "
             f"differ only between blocks): method={method!r} compares rows of one block, "
             "so it cannot screen them; their score is NaN (ranked last). The pooled "
             "Pearson correlation (method='pearson') does see between-block differences.")
        scores[within] = np.nan
    return scores, engine.count


def screen(X, y, method="pearson", *, n_partitions=None, split_every=8):
    """Score every feature against ``y`` in one pass over the row blocks.

    Each row block estimates the measure's component parameters for every feature from
    its own rows and sends O(p) numbers; the client averages them (weights ``n_k / N``,
    the paper's plain average for blocks of equal size) and applies ``g``. Pearson is
    the correlation of all rows exactly; Kendall, SIRS and distance correlation are
    ``g`` of averaged per-block U-statistics (Li et al. 2020).

    Parameters
    ----------
    X : array-like, DataFrame, dask array or dask DataFrame of shape (n_samples, p)
        Numeric features (the rows of a dask input stay in its blocks).
    y : array-like, Series or dask equivalent of shape (n_samples,)
        Numeric response (a binary response coded 0/1).
    method : {"pearson", "kendall", "sirs", "dc"}, default="pearson"
        The dependence measure (see :mod:`dask_glmdist.screening`).
    n_partitions : int, default=None
        Row blocks of in-memory input (dask input keeps its own chunks). None: one
        block per core, at least 20 rows per feature -- so one block when p is large.
    split_every : int, default=8
        Summaries combined at a time in the reduction tree.

    Returns
    -------
    scores : ndarray of shape (p,), or Series named by the columns of a DataFrame
        The measure of each feature (larger: more dependent); NaN for a constant
        feature (with a warning naming it).

    Raises
    ------
    ValueError
        Missing or infinite values, a constant y, a block with too few rows for the
        measure's U-statistics (2 for Kendall, 3 for SIRS and distance correlation).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.screening import screen
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 6))
    >>> y = 2 * X[:, 1] - X[:, 4] + rng.normal(size=500)
    >>> s = screen(X, y, method="pearson", n_partitions=4)
    >>> bool(np.isclose(s[1], abs(np.corrcoef(X[:, 1], y)[0, 1]), rtol=1e-12))
    True
    >>> [int(j) for j in np.argsort(-screen(X, y, method="dc", n_partitions=4))[:2]]
    [1, 4]
    """
    holder = _Inputs()
    scores, _ = _scores(holder, X, y, method, n_partitions, split_every)
    names = getattr(holder, "feature_names_in_", None)
    if names is not None:
        return pd.Series(scores, index=pd.Index(names), name=f"screen_{method}")
    return scores


class ScreeningSelector(SelectorMixin, BaseEstimator):
    """Keep the ``n_features`` features scored highest by one-round screening.

    ``fit`` scores every feature in one pass over the row blocks (:func:`screen`);
    ``transform`` keeps the selected columns -- lazily for dask arrays and DataFrames
    (a column selection, nothing computed). Use it before a DLSA estimator in a
    :class:`~sklearn.pipeline.Pipeline` when p is too large to send p x p matrices.

    Parameters
    ----------
    method : {"pearson", "kendall", "sirs", "dc"}, default="pearson"
        The dependence measure.
    n_features : int, default=40
        Features kept (the paper keeps 40); all are kept, with a warning, when X has
        fewer.
    n_partitions : int, default=None
        Row blocks of in-memory input (see :func:`screen`).
    split_every : int, default=8
        Summaries combined at a time in the reduction tree.

    Attributes
    ----------
    scores_ : ndarray of shape ``(n_features_in_,)``
        The screening measure of every feature (NaN for constant ones).
    ranking_ : ndarray of shape ``(n_features_in_,)``
        Feature indices from the highest score down (NaN scores last).
    support_ : ndarray of bool of shape ``(n_features_in_,)``
        The kept features.
    n_rounds_ : int
        Passes over the data (1).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has column names.

    See Also
    --------
    screen : The scores alone.
    DLSARegressor, DLSALogisticRegression : Fit the kept features.

    References
    ----------
    Zhu, X., Li, F. and Wang, H. (2021). Least-square approximation for a distributed
    system. Journal of Computational and Graphical Statistics 30, 1004-1018 (section 4.2).
    Li, X., Li, R., Xia, Z. and Xu, C. (2020). Distributed feature screening via
    componentwise debiasing. Journal of Machine Learning Research 21, 1-32.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from dask_glmdist import DLSARegressor, ScreeningSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 50))
    >>> y = X[:, 3] - 2 * X[:, 7] + rng.normal(size=2000)
    >>> sel = ScreeningSelector(method="kendall", n_features=5, n_partitions=4).fit(X, y)
    >>> [int(j) for j in sel.ranking_[:2]]
    [7, 3]
    >>> pipe = make_pipeline(ScreeningSelector(n_features=5, n_partitions=4),
    ...                      DLSARegressor(n_partitions=4)).fit(X, y)
    >>> pipe[-1].coef_.shape
    (5,)
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(MEASURES))],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, *, method="pearson", n_features=40, n_partitions=None, split_every=8):
        self.method = method
        self.n_features = n_features
        self.n_partitions = n_partitions
        self.split_every = split_every

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Score the features (one pass over the row blocks) and keep the best.

        Parameters
        ----------
        X : array-like, DataFrame, dask array or dask DataFrame of shape (n_samples, p)
        y : array-like or dask equivalent of shape (n_samples,)

        Returns
        -------
        self
        """
        self.scores_, self.n_rounds_ = _scores(self, X, y, self.method, self.n_partitions,
                                               self.split_every)
        p = self.scores_.shape[0]
        keep = self.n_features
        if keep > p:
            warn(f"n_features={keep} is greater than the {p} features of X: all are kept.")
            keep = p
        self.ranking_ = np.argsort(np.where(np.isnan(self.scores_), np.inf, -self.scores_),
                                   kind="stable")
        self.support_ = np.zeros(p, bool)
        self.support_[self.ranking_[:keep]] = True
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X):
        """Keep the selected columns of ``X`` (lazy for dask input).

        Parameters
        ----------
        X : array-like, DataFrame, dask array or dask DataFrame of shape (n_samples, p)

        Returns
        -------
        X_selected : same kind as X (a NumPy array for in-memory input), n_features columns
        """
        check_is_fitted(self, "support_")
        if not is_dask_collection(X):
            return super().transform(X)
        p = X.shape[1] if not _is_dask_frame(X) else len(X.columns)
        if p != self.n_features_in_:
            raise ValueError(f"X has {p} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        if _is_dask_frame(X):
            names = [str(c) for c in X.columns]
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and list(fitted) != names:
                raise ValueError("The feature names of X differ from those seen in fit.")
            return X[[c for c, keep in zip(X.columns, self.support_, strict=True) if keep]]
        return X[:, np.flatnonzero(self.support_)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.sparse = True  # blocks are densified one at a time
        return tags
