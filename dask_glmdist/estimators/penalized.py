"""Exact global elastic-net / box-constrained GLMs fitted by the PQN engine.

The estimators: parameters, input checks, fitted attributes, predictions and
(unpenalised) inference. The mathematics -- the objective, the ladder round, the
proximal Newton direction -- is in :mod:`dask_glmdist.solvers.pqn`; the path and the
cross-validated choice of alpha are in :mod:`dask_glmdist.estimators.penalized_path`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._blocks import block_labels, blocks_like
from .._progress import shows_progress
from ..diagnostics import (
    INFINITE,
    UNIDENTIFIED,
    ParamFlag,
    SeparationWarning,
    short_list,
    warn,
)
from ..families import FAMILY_NAMES, Binomial, Family, Link, get_family
from ..fit_statistics import (
    float64_blocks,
    least_squares_statistics,
    ride_null_model,
)
from ..inference import standard_errors
from ..rounds import RoundEngine
from ..sandwich import COV_TYPES
from ..solvers.ancillary import refuse_estimated
from ..solvers.design_checks import (
    check_identified,
    constant_columns,
    describe_redundant,
    redundant_columns,
    scale_problems,
)
from ..solvers.pqn import (
    ALL_ZERO_WEIGHTS,
    SEPARATION,
    DataSums,
    Penalty,
    PQNResult,
    data_sums,
    fit_pqn,
    penalty_scale,
    unpenalised_covariance,
)
from ..solvers.recession import UNDETERMINED, reference_flags
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
    "standardize": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
    "split_every": [Interval(Integral, 2, None, closed="left")],
    "verbose": ["verbose"],
    "formula": [str, None],
    "missing": [StrOptions({"raise", "drop"})],
}

class _PenalizedBase(GLMInferenceMixin, BaseEstimator):
    """Shared fit machinery of the regressor and the classifier."""

    def _family(self) -> Family:
        raise NotImplementedError  # pragma: no cover - defined by the subclasses

    def _penalty(self, n_features: int, sums: DataSums) -> Penalty:
        return Penalty.elastic_net(n_features, self.alpha, self.l1_ratio,
                                   self.max_abs_coef, self.fit_intercept,
                                   penalty_scale(sums, self.fit_intercept, self.standardize))

    def _warm_theta(self, k: int):
        if not (self.warm_start and hasattr(self, "params_")):
            return None
        if self.params_.shape != (k,):
            return None
        return self.params_.copy()

    def _fit_blocks(self, data, family):
        fi = self.fit_intercept
        k = data.n_features + int(fi)
        engine = RoundEngine(data, split_every=self.split_every)
        ride_null_model(engine, family, fit_intercept=fi)
        sums = data_sums(engine, family, fit_intercept=fi, validate=True,
                         reference_groups=self._reference_groups())
        redundant = check_design(sums, self._param_names(), fit_intercept=fi,
                                 alphas=[self.alpha], l1_ratio=self.l1_ratio,
                                 who=type(self).__name__, standardize=self.standardize)
        pen = self._penalty(data.n_features, sums)
        res = fit_pqn(engine, family, pen, fit_intercept=fi, tol=self.tol,
                      max_iter=self.max_iter, sums=sums, theta0=self._warm_theta(k),
                      label=type(self).__name__)
        res.n_rounds = engine.count
        self.family_ = family
        self._set_result(res, pen, family, k, self.alpha, redundant)
        self._set_param_flags(reference_flags(
            sums.recession, self._reference_groups(pen.free), self._param_names(),
            self.param_flags_))
        self.n_blocks_ = data.n_blocks
        self._set_contract(engine, family, res.n_pos, sums)
        return self

    def _set_contract(self, engine, family, n_pos: int, sums: DataSums | None = None) -> None:
        """The fitted contract's statistics at the estimate (one more pass; the
        engine's deviance there, ``deviance_`` from :meth:`_set_result`, fixes the
        log-likelihood's dispersion beforehand; none for a least-squares family without
        an offset, from the first-pass ``sums``) and ``dispersion_`` (Pearson; the
        covariance's when the fit has one)."""
        known = None
        if (sums is not None and family.least_squares and engine.data.offset is None
                and float64_blocks(engine.data)):
            j = 1 - int(self.fit_intercept)   # the sums always have the intercept border
            known = least_squares_statistics(
                family, self.params_, gram=sums.gram[j:, j:], gy=sums.gy[j:], yy=sums.yy,
                n_pos=sums.n_pos, fit_intercept=self.fit_intercept,
                log_weight=sums.log_weight, weight=sums.weight)
        sandwich = (self._attach_sandwich(engine, family) if hasattr(self, "cov_params_")
                    else None)
        self._set_fit_statistics(engine, family, deviance=self.deviance_, n_obs=n_pos,
                                 known=known)
        if not hasattr(self, "cov_params_"):
            self.dispersion_ = self._pearson_dispersion(family)
        self._set_sandwich(engine, sandwich)

    def _check_sandwich_input(self, groups) -> None:
        self._check_cov_type(groups, allowed=self.alpha == 0,
                             why=f"with alpha={self.alpha} (only for the unpenalised fit, "
                             "alpha=0)")

    def _set_result(self, res: PQNResult, pen: Penalty, family, k: int, alpha: float,
                    redundant=(), report: bool = True) -> None:
        """Fitted attributes from the engine's result; ``report``: warn when it did not
        converge or the estimate does not exist (a path warns once for all its fits)."""
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
        at_bound = np.isfinite(pen.bound) & (np.abs(theta) >= pen.bound * (1 - 1e-12))
        self.n_at_bound_ = int(np.sum(at_bound))
        names = self._param_names()
        flags = {names[r.index]: ParamFlag(UNIDENTIFIED, "not identified by the data: "
                                           + r.describe(names)) for r in redundant}
        if res.runaway is not None:
            flags.update(separation_flags(res.runaway, names))
        for name in ("cov_params_", "bse_", "dispersion_"):
            if hasattr(self, name):
                delattr(self, name)
        if alpha == 0 and not at_bound.any():
            self._set_covariance(res, family, k)
        self._set_param_flags(flags)
        if not report:
            return
        if res.runaway is not None:
            warn(separation_message(type(self).__name__, res.runaway, names),
                 SeparationWarning)
        if not res.converged and res.message != SEPARATION:
            warn(
                f"{type(self).__name__} did not converge: {res.message}. The largest KKT "
                f"violation is {res.kkt:.3g}. Increase max_iter or check the data (with "
                "alpha=0, separated classes have no finite maximum likelihood estimate: "
                "use max_abs_coef or alpha > 0).",
                ConvergenceWarning,
            )

    def _set_covariance(self, res: PQNResult, family, k: int) -> None:
        self.cov_params_, self.dispersion_ = unpenalised_covariance(res, family, k)
        self.bse_ = standard_errors(self.cov_params_)

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

    The objective, over all rows of all blocks, is

    .. code-block:: text

        D(beta) / (2 S) + alpha * ((1 - rho) / 2 * ||coef||_2^2 + rho * ||coef||_1)
        subject to |coef_j| <= u (every j),

    with ``rho = l1_ratio`` and ``u = max_abs_coef`` (no bound when ``None``), D the
    deviance at dispersion 1 (so ``D / (2 S)`` is the averaged negative
    log-likelihood for binomial and Poisson models and half the mean squared error for
    the gaussian one) and ``S`` the number of rows, or the sum of ``sample_weight``.
    The intercept is neither penalised nor bounded. This is scikit-learn's scaling:
    the gaussian model is :class:`~sklearn.linear_model.ElasticNet`, the logistic one
    :class:`~sklearn.linear_model.LogisticRegression` with ``C = 1 / (alpha * S)``
    and ``PoissonRegressor(alpha)`` is ``l1_ratio=0``.

    The fit is the proximal quasi-Newton engine of :mod:`dask_glmdist.solvers.pqn`:
    every iteration is one round over the blocks (the line search included), the next
    direction is a coordinate-descent solve of a p x p problem on the client, and the
    solution is exact: it satisfies the KKT conditions to ``tol``. The engine works
    in the coordinates of the standardised columns (their scales come from the first
    pass), so the units of a column do not change the fit; the penalty stays on the
    original coefficients.

    Before iterating, the first pass's weighted Gram is checked: columns that are
    constant, duplicated, all zero or collinear are named, and refused at
    ``alpha=0`` (the estimate is not unique); with ``alpha > 0`` the fit goes on with
    a warning (a ridge part makes the solution unique; the lasso's may not be).
    Under separation the unpenalised estimate of some coefficients is infinite: the
    fit names them in a :class:`~dask_glmdist.SeparationWarning` (with those that
    separation leaves not determined) and ``summary()`` shows them as +-inf without a
    standard error. A link whose mean can leave the family's range (Poisson
    ``identity``/``sqrt``, binomial ``log``) on data whose optimum lies outside it is
    refused with an error naming the link to use instead.

    Parameters
    ----------
    family : str or Family, default="binomial"
        "binomial", "poisson", "gaussian", "gamma", "inverse_gaussian",
        "negative_binomial" (only with ``alpha`` fixed:
        ``get_family("negative_binomial", alpha=a)``; estimating it is refused), or a
        :class:`~dask_glmdist.families.Family`.
        Binomial ``y`` is 0/1, or proportions with ``sample_weight`` = trials.
        Tweedie: ``get_family("tweedie", power=p)`` (the power has no default, so
        ``"tweedie"`` alone is not accepted).
    link : str or Link, default=None
        Link name; ``None`` is the canonical link.
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
    standardize : bool, default=False
        Penalise the coefficients of the standardised columns, ``sd_j * coef_j``, as
        glmnet (``standardize=TRUE``) and glum (``scale_predictors=True``) do, so
        that the units of a column do not change which columns the penalty keeps.
        ``sd_j`` is the column's weighted population standard deviation (divisor:
        the sum of the weights), from the first pass of sums (no extra pass); the
        centring that goes with it is the unpenalised intercept's. The fit and every
        attribute (``coef_``, ``bse_``, ``summary()``) stay on the original scale; the
        ``max_abs_coef`` box stays on ``coef_`` (as glmnet's and glum's bounds).
        Next to an intercept a constant column gets coefficient 0 (as glmnet);
        without one it is an error (its standard deviation is 0). No effect at
        ``alpha=0``.
    tol : float, default=1e-8
        Converged when the relative change of the objective and the largest KKT
        violation (the minimum-norm subgradient, per standardised coefficient) are
        both below ``tol``.
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
        If positive, show the fit's progress on stderr: one display that says which
        iteration (of at most ``max_iter``) and round it is on, with the objective and
        the KKT violation.
        On a terminal it is one line rewritten in place; otherwise plain lines, at
        most one a second, and a final line. Every round is logged to the
        ``dask_glmdist`` logger at INFO level in any case.
    formula : str, default=None
        A model formula (Wilkinson syntax, by ``formulaic``) such as
        ``"arr_delay ~ C(carrier) + origin * np.log(distance)"``; ``fit`` then takes a
        pandas or dask DataFrame holding the columns it names, and the response comes
        from the left-hand side (``y`` is not passed). Categorical columns (strings,
        pandas categoricals, ``C(x)``) are coded against their levels in *all* the
        partitions (treatment coding, the first sorted level as reference), and the
        formula decides the intercept (``0 +`` or ``- 1`` for none, with
        ``fit_intercept=False``). ``predict`` takes the same kind of frame. Without a
        formula, a DataFrame's string/categorical columns are coded the same way
        (parameters named ``carrier[T.UA]``). See :mod:`dask_glmdist.design`.
    missing : {"raise", "drop"}, default="raise"
        Rows with a missing value in a column the model reads (design, response,
        weights, offset): ``"raise"`` stops the fit with the number of such rows per
        column; ``"drop"`` drops them block by block (as R's ``na.omit``; ``n_obs_``
        counts the rows kept), and ``predict`` gives NaN for them. Applies to
        DataFrame input through a formula or categorical columns; other input must
        have no missing values.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Covariance of the unpenalised estimate (``alpha=0``; refused with
        ``alpha > 0``): "nonrobust" is ``dispersion_`` times the inverse information;
        "HC0"/"HC1" the heteroscedasticity-robust sandwich (HC1 scaled by
        ``n / (n - k)``); "cluster" the cluster-robust sandwich over the ``groups``
        given to ``fit`` (clusters may span blocks; factor ``G/(G-1) (n-1)/(n-k)``).
        One pass at the estimate, riding on the fit statistics pass; see
        :mod:`dask_glmdist.sandwich` and docs/contract.md.

    Attributes
    ----------
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``; docs/contract.md).
    aic_ : float
        R's ``AIC``: ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)``.
    bic_ : float
        R's ``BIC``: as ``aic_`` with ``log(n_obs_)`` per parameter.
    df_resid_ : int
        ``n_obs_ - n_params``.
    coef_ : ndarray of shape (n_features,)
        Coefficients.
    intercept_ : float
        Intercept (0.0 without one).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]``: the order of ``cov_params_``, ``bse_`` and ``summary()``.
    objective_ : float
        The objective at the solution.
    objective_path_ : ndarray
        The objective at the start and after every iteration (non-increasing).
    kkt_violation_ : float
        Largest KKT violation at the solution, per standardised coefficient (the
        gradient with respect to ``coef_j`` times the column's standard deviation).
    deviance_ : float
        Deviance at the solution (dispersion 1).
    n_iter_ : int
        Iterations; each was one round over the data, line search included.
    n_rounds_ : int
        All rounds over the data, each one ``compute()``: the iterations plus the first
        (the pass of sums, which also gives the start); one more when the start is
        already the solution (to evaluate its objective), two more when a start has to
        be found by an IRLS step, one more (two at most) when the first pass found a
        parameter that runs off alone or a stop had to be checked for a direction in
        which the estimate runs off (separation); and the fit-statistics pass (none for
        the gaussian identity without an offset: 1 in all).
    converged_ : bool
        False also when the estimate does not exist (separation).
    n_at_bound_ : int
        Coefficients at the ``max_abs_coef`` bound.
    param_flags_ : dict of str to ParamFlag
        Set by every fit (empty when nothing is flagged). Parameters whose estimate is
        infinite (separation: ``ParamFlag("infinite", note, sign)``, shown as +-inf),
        that separation leaves not determined, nor their sign (``"unidentified"``) or
        that the design does not identify (collinear columns, with ``alpha > 0``:
        ``"unidentified"``). ``summary()``, ``conf_int()`` and ``wald_test()`` honour
        them.
    cov_params_ : ndarray of shape (n_params, n_params)
        Only when ``alpha == 0`` and no coefficient is at the ``max_abs_coef`` bound:
        ``dispersion_ * (X~^T W X~)^{-1}`` at the solution, as statsmodels' ``GLM``
        reports it.
    bse_ : ndarray of shape (n_params,)
        Standard errors (same condition); NaN for the parameters in ``param_flags_``
        (and so are their rows and columns of ``cov_params_``).
    dispersion_ : float
        Pearson's statistic over the residual degrees of freedom (1 for binomial
        and Poisson); same condition.
    n_obs_ : int
        Rows.
    n_blocks_ : int
        Row blocks of the input, empty ones included.
    family_ : Family
        The family and link fitted.
    design_ : dask_glmdist.design.Design
        Only after a fit through a formula, a DataFrame with categorical columns or
        weights/offset named as columns: the levels (from all partitions) and design
        column names, used by ``predict`` and ``score`` on new frames.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).

    See Also
    --------
    PenalizedLogisticRegression : The classifier form (binomial family, any labels).
    PenalizedGLMCV : Chooses alpha by cross-validation over blocks or by AIC/BIC.
    penalized_glm_path : The solutions along a decreasing sequence of alphas.
    BiasReducedGLM : Finite (bias-reduced) estimates with standard errors on
        separated data.
    DebiasedLassoRegressor : Confidence intervals after the lasso.

    References
    ----------
    Lee, J. D., Sun, Y. and Saunders, M. A. (2014). Proximal Newton-type methods for
    minimizing composite functions. SIAM Journal on Optimization 24, 1420-1443.

    Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization paths for
    generalized linear models via coordinate descent. Journal of Statistical
    Software 33(1).

    Bertsekas, D. P. (1982). Projected Newton methods for optimization problems with
    simple constraints. SIAM Journal on Control and Optimization 20, 221-246.

    Konis, K. (2007). Linear programming algorithms for detecting separated data in
    binary logistic regression models. DPhil thesis, University of Oxford.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedGLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 5))
    >>> y = rng.poisson(np.exp(0.5 + X[:, 0] - 0.5 * X[:, 1]))
    >>> model = PenalizedGLM("poisson", alpha=0.05).fit(X, y)
    >>> np.flatnonzero(model.coef_).tolist()
    [0, 1]
    >>> mle = PenalizedGLM("poisson").fit(X, y)       # alpha=0: standard errors
    >>> mle.summary().loc["x0", ["coef", "std_err"]].round(2).tolist()
    [0.99, 0.01]
    """

    _parameter_constraints: dict = {
        "family": [StrOptions(set(FAMILY_NAMES)), Family],
        "link": [None, str, Link],
        **_PENALTY_CONSTRAINTS,
        "cov_type": [StrOptions(set(COV_TYPES))],
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
        standardize=False,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        warm_start=False,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
        cov_type="nonrobust",
    ):
        self.family = family
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_abs_coef = max_abs_coef
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.warm_start = warm_start
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing
        self.cov_type = cov_type

    def _family(self) -> Family:
        return refuse_estimated(get_family(self.family, self.link), type(self).__name__)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(unit="iteration", total=lambda est: est.max_iter)
    def fit(self, X, y=None, sample_weight=None, offset=None, groups=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
            Response; binomial: 0/1, or proportions in [0, 1] with ``sample_weight``
            the number of trials.
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
            Prior weights (non-negative); integer weights act as repeated rows.
        offset : array-like of shape (n_samples,), default=None
            Known part of the linear predictor (e.g. log exposure for Poisson rates).
        groups : array-like or dask Series of shape (n_samples,) or str, default=None
            Cluster ids of the rows for ``cov_type="cluster"`` (a cluster's rows may be
            in any blocks); with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        family = self._family()
        self._check_sandwich_input(groups)
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), offset=offset, groups=groups,
        )
        if y_mem is not None:
            check_in_memory(family, y_mem, data.host_weight)
        self._fit_blocks(data, family)
        return self

    def predict(self, X, offset=None):
        """Predicted mean ``g^{-1}(X coef_ + intercept_ + offset)`` (lazy for dask input)."""
        return predict_mean(self, X, offset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags


_UNDETERMINED_NOTE = (
    "not determined by the data: the maximum likelihood estimate does not exist, and the "
    "directions in which the estimates run off determine neither this parameter's value "
    "nor its sign; the value shown is where the iterations stopped")


SHOWN_IN_SUMMARY = ("summary() shows the infinite ones as +-inf, and all of them without "
                    "standard errors")


def separation_flags(runaway, names) -> dict:
    """``param_flags_`` entries for a separated fit: ``runaway`` is the engine's
    per-parameter code (+1/-1: infinite, ``UNDETERMINED``: unidentified, 0: finite)."""
    flags = {}
    for j in np.flatnonzero(runaway):
        code = int(runaway[j])
        if code == UNDETERMINED:
            flags[names[j]] = ParamFlag(UNIDENTIFIED, _UNDETERMINED_NOTE)
        else:
            flags[names[j]] = ParamFlag(
                INFINITE, f"the maximum likelihood estimate is {'+' if code > 0 else '-'}inf "
                "(the objective keeps decreasing as it grows; coef_ holds where the "
                "iterations stopped)", code)
    return flags


def separation_message(who: str, runaway, names, where: str = "",
                       shown: str = SHOWN_IN_SUMMARY) -> str:
    """The one SeparationWarning text of the penalised estimators and their paths.

    ``where`` (e.g. " at alpha 0") says which fits it concerns; ``shown`` where the
    user sees them marked.
    """
    infinite = [(names[j], int(runaway[j])) for j in np.flatnonzero(runaway)
                if runaway[j] != UNDETERMINED]
    loose = [names[j] for j in np.flatnonzero(runaway == UNDETERMINED)]
    parts = []
    if infinite:
        listed = short_list(f"{n} ({'+' if s > 0 else '-'}inf)" for n, s in infinite)
        parts.append(f"the objective keeps decreasing as the coefficients {listed} grow "
                     "without bound")
    else:
        parts.append("the objective keeps decreasing along a direction in which the "
                     "coefficients grow without bound")
    if loose:
        parts.append(f"{short_list(loose)} are not determined by the data (neither their "
                     "value nor their sign)")
    n_flagged = len(infinite) + len(loose)
    rest = ("the other estimates are their limits as those grow" if n_flagged < len(names)
            else "no estimate is finite (complete separation: every row is fitted perfectly "
            "in the limit)")
    return (
        f"{who}: the maximum likelihood estimate does not exist{where}: "
        f"{'; '.join(parts)} (separated classes, or a group whose responses all sit at "
        f"the edge of their range). {shown}; {rest}. For finite estimates use "
        "max_abs_coef, alpha > 0, or BiasReducedGLM(method=\"mBR\")."
    )


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
            raise ValueError(ALL_ZERO_WEIGHTS)


def check_design(sums, names, *, fit_intercept, alphas, l1_ratio, who,
                 standardize=False) -> list:
    """Refuse a design whose scale float64 cannot handle, or that does not identify
    the unpenalised fit; warn when only the penalty identifies it.

    From the first-pass sums, before any iteration. Returns the
    :class:`~dask_glmdist.solvers.design_checks.Redundancy` list (empty when the
    design has full column rank). With ``standardize`` and no intercept, a constant
    (non-zero) column has no standardised form: an error names it.
    """
    fi = int(fit_intercept)
    if standardize and not fit_intercept:
        const = constant_columns(sums.gram)
        if const.size and float(np.max(alphas)) > 0:
            cols = short_list(names[j] for j in const)
            raise ValueError(
                f"{who}: standardize=True: the columns {cols} are constant (standard "
                "deviation 0), so their standardised coefficients, which the penalty "
                "acts on, are not defined. Without an intercept such a column plays the "
                "intercept's part: fit_intercept=True (its coefficient is then 0), or "
                "remove it, or standardize=False."
            )
    bad = scale_problems(sums.gram, sums.weight)
    if bad:
        cols = short_list(f"{names[j + fi]} (root mean square {rms:.3g})" for j, rms in bad)
        raise ValueError(
            f"{who}: columns {cols} are outside the range of magnitudes this solver "
            "handles (root mean square between 1e-100 and 1e100): their sums of squares "
            "overflow or lose their precision in float64. Rescale them (e.g. divide by a "
            "power of ten) before fitting."
        )
    redundant = redundant_columns(sums.gram, fit_intercept)
    if not redundant:
        return []
    if float(np.min(alphas)) == 0:
        check_identified(sums.gram, names, fit_intercept, who, n_pos=sums.n_pos,
                         remedy="The unpenalised (alpha=0) estimate is not unique. Remove "
                         "the redundant columns, or fit with a ridge part (alpha > 0, "
                         "l1_ratio < 1).")
    listed = describe_redundant(redundant, names)
    msg = f"{who}: the data do not identify some parameters: {listed}."
    if l1_ratio < 1:
        msg += (" The ridge part of the penalty makes the solution unique (it shares an "
                "effect equally among collinear columns and gives constant or all-zero "
                "columns coefficient 0); it is the penalty, not the data, that decides it.")
    else:
        collinear = [r for r in redundant if r.kind == "collinear"]
        if collinear:
            cols = sorted({names[j] for r in collinear for j in (r.index, *r.partners)},
                          key=names.index)
            msg += (f" The lasso solution is not unique: the coefficients of "
                    f"{short_list(cols)} can be "
                    "traded against each other without changing the objective (the fitted "
                    "values are unique; the coefficients returned are one solution). "
                    "Remove the redundant columns, or add a ridge part (l1_ratio < 1).")
        if len(collinear) < len(redundant):
            msg += " Constant and all-zero columns get coefficient 0."
    warn(msg, UserWarning)
    return redundant


class PenalizedLogisticRegression(BinaryClassifierMixin, ClassifierMixin, _PenalizedBase):
    """Binary classifier: exact elastic-net / box-constrained binomial GLM.

    Any two class labels (``classes_`` sorted, the second one positive); the link is
    logit by default (probit, cloglog and cauchit are also allowed).

    The objective, over all rows of all blocks, is

    .. code-block:: text

        D(beta) / (2 S) + alpha * ((1 - rho) / 2 * ||coef||_2^2 + rho * ||coef||_1)
        subject to |coef_j| <= u (every j),

    with ``rho = l1_ratio`` and ``u = max_abs_coef`` (no bound when ``None``), D the
    deviance at dispersion 1 (so ``D / (2 S)`` is the averaged negative
    log-likelihood for binomial and Poisson models and half the mean squared error for
    the gaussian one) and ``S`` the number of rows, or the sum of ``sample_weight``.
    The intercept is neither penalised nor bounded. This is scikit-learn's scaling:
    the gaussian model is :class:`~sklearn.linear_model.ElasticNet`, the logistic one
    :class:`~sklearn.linear_model.LogisticRegression` with ``C = 1 / (alpha * S)``
    and ``PoissonRegressor(alpha)`` is ``l1_ratio=0``.

    The fit is the proximal quasi-Newton engine of :mod:`dask_glmdist.solvers.pqn`:
    every iteration is one round over the blocks (the line search included), the next
    direction is a coordinate-descent solve of a p x p problem on the client, and the
    solution is exact: it satisfies the KKT conditions to ``tol``. The engine works
    in the coordinates of the standardised columns (their scales come from the first
    pass), so the units of a column do not change the fit; the penalty stays on the
    original coefficients.

    Before iterating, the first pass's weighted Gram is checked: columns that are
    constant, duplicated, all zero or collinear are named, and refused at
    ``alpha=0`` (the estimate is not unique); with ``alpha > 0`` the fit goes on with
    a warning (a ridge part makes the solution unique; the lasso's may not be).
    Under separation the unpenalised estimate of some coefficients is infinite: the
    fit names them in a :class:`~dask_glmdist.SeparationWarning` (with those that
    separation leaves not determined) and ``summary()`` shows them as +-inf without a
    standard error. A link whose mean can leave the family's range (Poisson
    ``identity``/``sqrt``, binomial ``log``) on data whose optimum lies outside it is
    refused with an error naming the link to use instead.

    Parameters
    ----------
    link : {"logit", "probit", "cloglog", "cauchit"}, default="logit"
        Binomial link.
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
    standardize : bool, default=False
        Penalise the coefficients of the standardised columns, ``sd_j * coef_j``, as
        glmnet (``standardize=TRUE``) and glum (``scale_predictors=True``) do, so
        that the units of a column do not change which columns the penalty keeps.
        ``sd_j`` is the column's weighted population standard deviation (divisor:
        the sum of the weights), from the first pass of sums (no extra pass); the
        centring that goes with it is the unpenalised intercept's. The fit and every
        attribute (``coef_``, ``bse_``, ``summary()``) stay on the original scale; the
        ``max_abs_coef`` box stays on ``coef_`` (as glmnet's and glum's bounds).
        Next to an intercept a constant column gets coefficient 0 (as glmnet);
        without one it is an error (its standard deviation is 0). No effect at
        ``alpha=0``.
    tol : float, default=1e-8
        Converged when the relative change of the objective and the largest KKT
        violation (the minimum-norm subgradient, per standardised coefficient) are
        both below ``tol``.
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
        If positive, show the fit's progress on stderr: one display that says which
        iteration (of at most ``max_iter``) and round it is on, with the objective and
        the KKT violation.
        On a terminal it is one line rewritten in place; otherwise plain lines, at
        most one a second, and a final line. Every round is logged to the
        ``dask_glmdist`` logger at INFO level in any case.
    formula : str, default=None
        A model formula (Wilkinson syntax, by ``formulaic``) such as
        ``"arr_delay ~ C(carrier) + origin * np.log(distance)"``; ``fit`` then takes a
        pandas or dask DataFrame holding the columns it names, and the response comes
        from the left-hand side (``y`` is not passed). Categorical columns (strings,
        pandas categoricals, ``C(x)``) are coded against their levels in *all* the
        partitions (treatment coding, the first sorted level as reference), and the
        formula decides the intercept (``0 +`` or ``- 1`` for none, with
        ``fit_intercept=False``). ``predict`` takes the same kind of frame. Without a
        formula, a DataFrame's string/categorical columns are coded the same way
        (parameters named ``carrier[T.UA]``). See :mod:`dask_glmdist.design`.
    missing : {"raise", "drop"}, default="raise"
        Rows with a missing value in a column the model reads (design, response,
        weights, offset): ``"raise"`` stops the fit with the number of such rows per
        column; ``"drop"`` drops them block by block (as R's ``na.omit``; ``n_obs_``
        counts the rows kept), and ``predict`` gives NaN for them. Applies to
        DataFrame input through a formula or categorical columns; other input must
        have no missing values.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Covariance of the unpenalised estimate (``alpha=0``; refused with
        ``alpha > 0``): "nonrobust" is ``dispersion_`` times the inverse information;
        "HC0"/"HC1" the heteroscedasticity-robust sandwich (HC1 scaled by
        ``n / (n - k)``); "cluster" the cluster-robust sandwich over the ``groups``
        given to ``fit`` (clusters may span blocks; factor ``G/(G-1) (n-1)/(n-k)``).
        One pass at the estimate, riding on the fit statistics pass; see
        :mod:`dask_glmdist.sandwich` and docs/contract.md.

    Attributes
    ----------
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``; docs/contract.md).
    aic_ : float
        R's ``AIC``: ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)``.
    bic_ : float
        R's ``BIC``: as ``aic_`` with ``log(n_obs_)`` per parameter.
    df_resid_ : int
        ``n_obs_ - n_params``.
    classes_ : ndarray of shape (2,)
        The class labels; the second is the positive class.
    coef_ : ndarray of shape (1, n_features)
        Coefficients.
    intercept_ : ndarray of shape (1,)
        Intercept (0.0 without one).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]``: the order of ``cov_params_``, ``bse_`` and ``summary()``.
    objective_ : float
        The objective at the solution.
    objective_path_ : ndarray
        The objective at the start and after every iteration (non-increasing).
    kkt_violation_ : float
        Largest KKT violation at the solution, per standardised coefficient (the
        gradient with respect to ``coef_j`` times the column's standard deviation).
    deviance_ : float
        Deviance at the solution (dispersion 1).
    n_iter_ : int
        Iterations; each was one round over the data, line search included.
    n_rounds_ : int
        All rounds over the data, each one ``compute()``: the iterations plus the first
        (the pass of sums, which also gives the start); one more when the start is
        already the solution (to evaluate its objective), two more when a start has to
        be found by an IRLS step, one more (two at most) when the first pass found a
        parameter that runs off alone or a stop had to be checked for a direction in
        which the estimate runs off (separation); and the fit-statistics pass.
    converged_ : bool
        False also when the estimate does not exist (separation).
    n_at_bound_ : int
        Coefficients at the ``max_abs_coef`` bound.
    param_flags_ : dict of str to ParamFlag
        Set by every fit (empty when nothing is flagged). Parameters whose estimate is
        infinite (separation: ``ParamFlag("infinite", note, sign)``, shown as +-inf),
        that separation leaves not determined, nor their sign (``"unidentified"``) or
        that the design does not identify (collinear columns, with ``alpha > 0``:
        ``"unidentified"``). ``summary()``, ``conf_int()`` and ``wald_test()`` honour
        them.
    cov_params_ : ndarray of shape (n_params, n_params)
        Only when ``alpha == 0`` and no coefficient is at the ``max_abs_coef`` bound:
        ``dispersion_ * (X~^T W X~)^{-1}`` at the solution, as statsmodels' ``GLM``
        reports it.
    bse_ : ndarray of shape (n_params,)
        Standard errors (same condition); NaN for the parameters in ``param_flags_``
        (and so are their rows and columns of ``cov_params_``).
    dispersion_ : float
        Pearson's statistic over the residual degrees of freedom (1 for binomial
        and Poisson); same condition.
    n_obs_ : int
        Rows.
    n_blocks_ : int
        Row blocks of the input, empty ones included.
    family_ : Family
        The family and link fitted.
    design_ : dask_glmdist.design.Design
        Only after a fit through a formula, a DataFrame with categorical columns or
        weights/offset named as columns: the levels (from all partitions) and design
        column names, used by ``predict`` and ``score`` on new frames.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).

    See Also
    --------
    PenalizedGLM : The same fit for any family, ``y`` numeric.
    PenalizedGLMCV : Chooses alpha by cross-validation over blocks or by AIC/BIC.
    penalized_glm_path : The solutions along a decreasing sequence of alphas.
    BiasReducedGLM : Finite (bias-reduced) estimates with standard errors on
        separated data.

    References
    ----------
    Lee, J. D., Sun, Y. and Saunders, M. A. (2014). Proximal Newton-type methods for
    minimizing composite functions. SIAM Journal on Optimization 24, 1420-1443.

    Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization paths for
    generalized linear models via coordinate descent. Journal of Statistical
    Software 33(1).

    Bertsekas, D. P. (1982). Projected Newton methods for optimization problems with
    simple constraints. SIAM Journal on Control and Optimization 20, 221-246.

    Konis, K. (2007). Linear programming algorithms for detecting separated data in
    binary logistic regression models. DPhil thesis, University of Oxford.

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
    >>> clf.predict(X[:3]).tolist()
    ['yes', 'yes', 'yes']

    Separated classes: the maximum likelihood estimate does not exist; a bound keeps
    it finite.

    >>> ys = (X[:, 0] > 0).astype(int)
    >>> float(PenalizedLogisticRegression(max_abs_coef=5.0).fit(X, ys).coef_[0, 0])
    5.0
    """

    _parameter_constraints: dict = {
        "link": [StrOptions(set(Binomial.allowed_links) - {"log"}), Link],
        **_PENALTY_CONSTRAINTS,
        "cov_type": [StrOptions(set(COV_TYPES))],
    }

    def __init__(
        self,
        link="logit",
        *,
        alpha=0.0,
        l1_ratio=1.0,
        max_abs_coef=None,
        fit_intercept=True,
        standardize=False,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        warm_start=False,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
        cov_type="nonrobust",
    ):
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_abs_coef = max_abs_coef
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.warm_start = warm_start
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing
        self.cov_type = cov_type

    def _family(self) -> Family:
        return Binomial(self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(unit="iteration", total=lambda est: est.max_iter)
    def fit(self, X, y=None, sample_weight=None, offset=None, groups=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
            Two class labels. For dask ``y`` the labels are found by one pass over
            ``y`` alone.
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
            Prior weights (non-negative).
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (unpenalised, coefficient 1); with a
            DataFrame ``X``, may be the name of one of its columns.
        groups : array-like or dask Series of shape (n_samples,) or str, default=None
            Cluster ids of the rows for ``cov_type="cluster"`` (a cluster's rows may be
            in any blocks); with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        self._check_sandwich_input(groups)
        self._fit_blocks(self._binary_blocks(X, y, sample_weight, self.n_partitions, offset,
                                             groups), self._family())
        return self

    def _binary_blocks(self, X, y, sample_weight, n_partitions, offset=None, groups=None):
        """The blocks with y coded 0/1 (``classes_[1]`` is 1); sets ``classes_``."""
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=n_partitions,
            n_params_extra=int(self.fit_intercept), y_numeric=False, offset=offset,
            groups=groups,
        )
        if y_mem is not None:
            check_classification_targets(y_mem)
            self.classes_ = self._two_classes(np.unique(y_mem))
            if data.host_weight is not None:
                check_in_memory(Binomial(), np.zeros(1), data.host_weight)
                kept = np.unique(y_mem[np.asarray(data.host_weight) > 0])
                if len(kept) < 2:
                    raise ValueError(
                        "Only one class is left among the rows with positive sample_weight "
                        f"({kept.tolist()}); a binary classifier needs both classes."
                    )
            y01 = (y_mem == self.classes_[1]).astype(np.float64)
            data.y = blocks_like(y01, data.X)
        else:
            labels = getattr(getattr(self, "design_", None), "labels", None)
            if labels is None:  # one pass over y alone
                labels = block_labels(data)
            self.classes_ = self._two_classes(np.asarray(labels))
            data.positive_class = self.classes_[1]
        return data

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].reshape(1, -1).copy()
        self.intercept_ = np.array([theta[0] if fi else 0.0])
