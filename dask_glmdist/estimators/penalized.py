"""Exact global elastic-net / box-constrained GLMs fitted by the PQN engine.

The estimators: parameters, input checks, fitted attributes, predictions and
(unpenalised) inference. The mathematics -- the objective, the ladder round, the
proximal Newton direction -- is in :mod:`dask_glmdist.solvers.pqn`; the path and the
cross-validated choice of alpha are in :mod:`dask_glmdist.estimators.penalized_path`.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._progress import shows_progress
from ..families import FAMILY_NAMES, Binomial, Family, get_family
from ..inference import standard_errors
from ..solvers.pqn import SEPARATION, Penalty, PQNResult, fit_pqn
from ._base import (
    BinaryClassifierMixin,
    DevianceScoreMixin,
    GLMInferenceMixin,
    positive_only_family,
    predict_mean,
    prepare_blocks,
)

__all__ = ["PenalizedGLM", "PenalizedLogisticRegression"]

_PENALTY_CONSTRAINTS: dict = {
    "alpha": [Interval(Real, 0, None, closed="left")],
    "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    "max_abs_coef": [None, Interval(Real, 0, None, closed="neither")],
    "fit_intercept": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
    "split_every": [Interval(Integral, 2, None, closed="left")],
    "verbose": ["verbose"],
}

_OBJECTIVE_DOC = """
    The objective, over all rows of all blocks, is

        D(beta) / (2 S) + alpha * ((1 - l1_ratio) / 2 * ||coef||_2^2 + l1_ratio * ||coef||_1)

    subject to ``|coef_j| <= max_abs_coef`` when a bound is given, where D is the
    deviance at dispersion 1 (so ``D / (2 S)`` is the averaged negative
    log-likelihood for binomial and Poisson models and half the mean squared error for
    the gaussian one) and ``S`` the number of rows, or the sum of ``sample_weight``.
    The intercept is neither penalised nor bounded. This is scikit-learn's scaling:
    the gaussian model is :class:`~sklearn.linear_model.ElasticNet`, the logistic one
    :class:`~sklearn.linear_model.LogisticRegression` with ``C = 1 / (alpha * S)``
    and ``PoissonRegressor(alpha)`` is ``l1_ratio=0``.

    The fit is the proximal quasi-Newton engine of
    :mod:`dask_glmdist.solvers.pqn`: every iteration is one round over the blocks
    (the line search included), the next direction is a coordinate-descent solve of a
    p x p problem on the client, and the solution is exact: it satisfies the KKT
    conditions to ``tol``.
"""

_PARAMS_DOC = """
    alpha : float, default=0.0
        Penalty strength (>= 0). ``alpha=0`` is the maximum likelihood fit, with
        standard errors and ``summary()``.
    l1_ratio : float, default=1.0
        Elastic-net mixing in [0, 1]: 1 is the lasso, 0 the ridge.
    max_abs_coef : float, default=None
        Box constraint ``|coef_j| <= max_abs_coef`` (> 0); ``None`` for none. It keeps
        estimates finite on separated data, where the maximum likelihood estimate is
        infinite.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised, unbounded) intercept.
    tol : float, default=1e-8
        Converged when the relative change of the objective and the largest KKT
        violation (the minimum-norm subgradient, in units of the averaged objective)
        are both below ``tol``.
    max_iter : int, default=100
        Maximum iterations (rounds after the first).
    n_partitions : int, default=None
        Row blocks for in-memory input; ``None`` means one per available core. Dask
        input keeps its own row chunks (any size, even fewer rows than parameters;
        the solution does not depend on the blocking).
    warm_start : bool, default=False
        Start from the previous fit's coefficients (when the number of features is
        unchanged).
    split_every : int, default=8
        Fan-in of the tree reduction.
    verbose : int, default=0
        If positive, show a Dask progress bar for every round (iterations are logged
        to the ``dask_glmdist`` logger at INFO level in any case).
"""

_ATTRS_DOC = """
    intercept_ : float
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]``: the order of ``cov_params_``, ``bse_`` and ``summary()``.
    objective_ : float
        The objective at the solution.
    objective_path_ : ndarray
        The objective at the start and after every iteration (non-increasing).
    kkt_violation_ : float
        Largest KKT violation at the solution.
    deviance_ : float
        Deviance at the solution (dispersion 1).
    n_iter_ : int
        Iterations; each was one round over the data, line search included.
    n_rounds_ : int
        All rounds over the data, each one ``compute()``: the iterations plus the first
        (the pass of sums, which also gives the start); one more when the start is
        already the solution (to evaluate its objective), two more when a start has to
        be found by an IRLS step.
    converged_ : bool
    cov_params_, bse_, dispersion_ : only when ``alpha == 0`` and no coefficient is at
        the ``max_abs_coef`` bound: ``dispersion_ * (X~^T W X~)^{-1}`` at the
        solution, with the dispersion estimated by Pearson's statistic over the
        residual degrees of freedom (1 for binomial and Poisson), as statsmodels'
        ``GLM`` reports.
    n_obs_ : int
    n_blocks_ : int
    family_ : Family
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).
"""


class _PenalizedBase(GLMInferenceMixin, BaseEstimator):
    """Shared fit machinery of the regressor and the classifier."""

    def _family(self) -> Family:
        raise NotImplementedError  # pragma: no cover - defined by the subclasses

    def _penalty(self, n_features: int) -> Penalty:
        return Penalty.elastic_net(n_features, self.alpha, self.l1_ratio,
                                   self.max_abs_coef, self.fit_intercept)

    def _warm_theta(self, k: int):
        if not (self.warm_start and hasattr(self, "params_")):
            return None
        if self.params_.shape != (k,):
            return None
        return self.params_.copy()

    def _fit_blocks(self, data, family):
        fi = self.fit_intercept
        k = data.n_features + int(fi)
        pen = self._penalty(data.n_features)
        res = fit_pqn(data, family, pen, fit_intercept=fi, tol=self.tol,
                      max_iter=self.max_iter, theta0=self._warm_theta(k),
                      split_every=self.split_every, progress=bool(self.verbose),
                      label=type(self).__name__)
        self.family_ = family
        self._set_result(res, pen, family, k, self.alpha)
        return self

    def _set_result(self, res: PQNResult, pen: Penalty, family, k: int, alpha: float) -> None:
        theta = res.theta
        self.params_ = theta.copy()
        self._set_coef(theta)
        self.objective_ = res.objective
        self.objective_path_ = np.asarray(res.objective_path)
        self.kkt_violation_ = res.kkt
        self.deviance_ = res.state.deviance
        self.n_iter_ = res.n_iter
        self.n_rounds_ = res.n_rounds
        self.converged_ = res.converged
        self.n_obs_ = res.n_obs
        self.n_blocks_ = None
        at_bound = np.isfinite(pen.bound) & (np.abs(theta) >= pen.bound * (1 - 1e-12))
        self.n_at_bound_ = int(np.sum(at_bound))
        for name in ("cov_params_", "bse_", "dispersion_"):
            if hasattr(self, name):
                delattr(self, name)
        if alpha == 0 and not at_bound.any():
            df = res.n_pos - k
            if family.fixed_scale:
                phi = 1.0
            else:
                phi = res.state.pearson / df if df > 0 else np.nan
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    cov = np.linalg.inv(res.state.information)
                except np.linalg.LinAlgError:
                    cov = np.full((k, k), np.nan)
            self.cov_params_ = phi * cov
            self.bse_ = standard_errors(self.cov_params_)
            self.dispersion_ = phi
        if not res.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge: {res.message}. The largest KKT "
                f"violation is {res.kkt:.3g}." + ("" if res.message == SEPARATION else
                " Increase max_iter or check the data (with alpha=0, separated classes "
                "have no finite maximum likelihood estimate: use max_abs_coef or alpha > 0)."),
                ConvergenceWarning, stacklevel=3,
            )

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].copy()
        self.intercept_ = float(theta[0]) if fi else 0.0

    def _alpha(self) -> float:
        return float(self.alpha)

    def _check_inference(self) -> None:
        check_is_fitted(self)
        if not hasattr(self, "cov_params_"):
            why = ("the model is penalised (alpha > 0)" if self._alpha() > 0 else
                   f"{self.n_at_bound_} coefficient(s) sit at the max_abs_coef bound")
            raise AttributeError(
                f"Standard errors are only available for the unpenalised, unconstrained "
                f"fit; {why}. Refit with alpha=0 (and no binding bound), or use "
                "DebiasedLassoRegressor for inference after the lasso."
            )


class PenalizedGLM(DevianceScoreMixin, RegressorMixin, _PenalizedBase):
    """Generalised linear model with an exact elastic-net penalty and box constraints.
    """ + _OBJECTIVE_DOC + """
    Parameters
    ----------
    family : str or Family, default="binomial"
        "binomial", "poisson", "gaussian", "gamma", "inverse_gaussian",
        "negative_binomial" (alpha = 1), or a :class:`~dask_glmdist.families.Family`.
        Binomial ``y`` is 0/1, or proportions with ``sample_weight`` = trials.
    link : str, default=None
        Link name; ``None`` is the canonical link.""" + _PARAMS_DOC + """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)""" + _ATTRS_DOC + """
    See Also
    --------
    PenalizedLogisticRegression : the classifier form (binomial family).
    PenalizedGLMCV : chooses alpha by cross-validation over blocks or an information
        criterion.
    penalized_glm_path : the solutions along a decreasing sequence of alphas.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedGLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 5))
    >>> y = rng.poisson(np.exp(0.5 + X[:, 0] - 0.5 * X[:, 1]))
    >>> model = PenalizedGLM("poisson", alpha=0.01).fit(X, y)
    >>> int(np.sum(model.coef_ != 0))
    2
    """

    _parameter_constraints: dict = {
        "family": [StrOptions(set(FAMILY_NAMES)), Family],
        "link": [None, str],
        **_PENALTY_CONSTRAINTS,
    }

    def __init__(
        self,
        family="binomial",
        link=None,
        *,
        alpha=0.0,
        l1_ratio=1.0,
        max_abs_coef=None,
        fit_intercept=True,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        warm_start=False,
        split_every=8,
        verbose=0,
    ):
        self.family = family
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_abs_coef = max_abs_coef
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.warm_start = warm_start
        self.split_every = split_every
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(unit="iteration", total=lambda est: est.max_iter)
    def fit(self, X, y, sample_weight=None, offset=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,)
            Response; binomial: 0/1, or proportions in [0, 1] with ``sample_weight``
            the number of trials.
        sample_weight : array-like of shape (n_samples,), default=None
            Prior weights (non-negative); integer weights act as repeated rows.
        offset : array-like of shape (n_samples,), default=None
            Known part of the linear predictor (e.g. log exposure for Poisson rates).

        Returns
        -------
        self
        """
        family = self._family()
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), offset=offset,
        )
        if y_mem is not None:
            check_in_memory(family, y_mem, sample_weight)
        self._fit_blocks(data, family)
        self.n_blocks_ = data.n_blocks
        return self

    def predict(self, X, offset=None):
        """Predicted mean ``g^{-1}(X coef_ + intercept_ + offset)`` (lazy for dask input)."""
        return predict_mean(self, X, offset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags


def check_in_memory(family, y, sample_weight) -> None:
    """Value checks of in-memory y and weights, before any pass."""
    msg = family.check_y(y)
    if msg:
        raise ValueError(f"Invalid y for the {family.name} family: {msg}")
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float)
        if bool(np.any(w < 0)):
            raise ValueError("Invalid input: sample_weight contains negative values.")
        if not bool(np.any(w > 0)):
            raise ValueError("Invalid input: all sample weights are zero.")


class PenalizedLogisticRegression(BinaryClassifierMixin, ClassifierMixin, _PenalizedBase):
    """Binary classifier: exact elastic-net / box-constrained binomial GLM.

    Any two class labels (``classes_`` sorted, the second one positive); the link is
    logit by default (probit, cloglog and cauchit are also allowed).
    """ + _OBJECTIVE_DOC + """
    Parameters
    ----------
    link : str, default="logit"
        Binomial link.""" + _PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)""" + _ATTRS_DOC.replace(
        "    intercept_ : float\n", "    intercept_ : ndarray of shape (1,)\n") + """
    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 3))
    >>> y = np.where(X[:, 0] - X[:, 1] > rng.logistic(size=4000), "yes", "no")
    >>> clf = PenalizedLogisticRegression(alpha=1e-3).fit(X, y)
    >>> clf.classes_.tolist()
    ['no', 'yes']
    """

    _parameter_constraints: dict = {
        "link": [StrOptions(set(Binomial.allowed_links) - {"log"})],
        **_PENALTY_CONSTRAINTS,
    }

    def __init__(
        self,
        link="logit",
        *,
        alpha=0.0,
        l1_ratio=1.0,
        max_abs_coef=None,
        fit_intercept=True,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        warm_start=False,
        split_every=8,
        verbose=0,
    ):
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_abs_coef = max_abs_coef
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.warm_start = warm_start
        self.split_every = split_every
        self.verbose = verbose

    def _family(self) -> Family:
        return Binomial(self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(unit="iteration", total=lambda est: est.max_iter)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,)
            Two class labels. For dask ``y`` the labels are found by one pass over
            ``y`` alone.
        sample_weight : array-like of shape (n_samples,), default=None
            Prior weights (non-negative).

        Returns
        -------
        self
        """
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), y_numeric=False,
        )
        if y_mem is not None:
            check_classification_targets(y_mem)
            self.classes_ = self._two_classes(np.unique(y_mem))
            if sample_weight is not None:
                check_in_memory(Binomial(), np.zeros(1), sample_weight)
                kept = np.unique(y_mem[np.asarray(sample_weight) > 0])
                if len(kept) < 2:
                    raise ValueError(
                        "Only one class is left among the rows with positive sample_weight "
                        f"({kept.tolist()}); a binary classifier needs both classes."
                    )
            y01 = (y_mem == self.classes_[1]).astype(np.float64)
            data.y = da.from_array(y01, chunks=(data.X.chunks[0],))
        else:
            self.classes_ = self._two_classes(np.unique(da.unique(data.y).compute()))
            data.y = (data.y == self.classes_[1]).astype(np.float64)
        self._fit_blocks(data, self._family())
        self.n_blocks_ = data.n_blocks
        return self

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].reshape(1, -1).copy()
        self.intercept_ = np.array([theta[0] if fi else 0.0])
