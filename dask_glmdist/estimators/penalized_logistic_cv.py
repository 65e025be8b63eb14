"""The classifier form of :class:`~dask_glmdist.PenalizedGLMCV` (binomial, any two labels).

It is to :class:`~dask_glmdist.PenalizedGLMCV` what
:class:`~dask_glmdist.PenalizedLogisticRegression` is to
:class:`~dask_glmdist.PenalizedGLM` (and scikit-learn's ``LogisticRegressionCV`` to
``LogisticRegression``): the labels are coded 0/1 as the classifier does, then alpha
is chosen by the same machinery.
"""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._progress import shows_progress
from ..families import Binomial, Link
from .penalized import PenalizedLogisticRegression
from .penalized_path import _AlphaSelection

__all__ = ["PenalizedLogisticRegressionCV"]


class PenalizedLogisticRegressionCV(_AlphaSelection, PenalizedLogisticRegression):
    """Binary classifier: penalised binomial GLM with alpha chosen by CV, AIC or BIC.

    The classifier form of :class:`PenalizedGLMCV` (as scikit-learn's
    ``LogisticRegressionCV`` is of ``LogisticRegression``): any two class labels
    (``classes_`` sorted, the second one positive), ``predict`` returns labels,
    ``predict_proba`` two columns and ``score`` the accuracy. For every alpha the
    objective is that of :class:`PenalizedLogisticRegression`,

    .. code-block:: text

        D(beta) / (2 S) + alpha * ((1 - rho) / 2 * ||coef||_2^2 + rho * ||coef||_1)
        subject to |coef_j| <= u (every j),

    the binomial deviance D averaged over the rows (or the sum of ``sample_weight``)
    S, ``rho = l1_ratio``; with ``standardize=True`` the penalty is on
    ``sd_j * coef_j``.

    ``criterion="cv"``: whole row blocks are the folds (block k belongs to fold
    ``k % cv``); for every fold the path is fitted on the other folds' blocks and its
    held-out deviance recorded; ``alpha_`` minimises the mean held-out deviance per
    unit weight (or, with ``one_standard_error_rule=True``, is the largest alpha
    within one standard error of it), and the model is refitted on all blocks down
    to ``alpha_``. ``criterion="aic"``/``"bic"``: ``alpha_`` minimises
    ``D + k * df`` along the full-data path (``k = 2`` or ``log(n)``). A chosen alpha
    at the edge of the grid is warned about.

    Parameters
    ----------
    link : {"logit", "probit", "cloglog", "cauchit"}, default="logit"
        Binomial link.
    alphas : array-like, default=None
        Candidate alphas; ``None``: ``n_alphas`` log-spaced values from the
        full-data ``alpha_max`` (the smallest alpha whose lasso solution is all zero)
        down to ``eps * alpha_max``.
    n_alphas : int, default=30
        Number of alphas of the default grid.
    eps : float, default=1e-3
        Ratio of the smallest to the largest alpha of the default grid.
    l1_ratio : float, default=1.0
        Elastic-net mixing in [0, 1]: 1 is the lasso, 0 the ridge.
    max_abs_coef : float, default=None
        Box constraint ``|coef_j| <= max_abs_coef``; ``None`` for none.
    criterion : {"cv", "aic", "bic"}, default="cv"
        How alpha is chosen.
    cv : int, default=5
        Number of folds (``criterion="cv"``); there must be at least as many row
        blocks. For in-memory input ``n_partitions`` defaults to
        ``max(cv, one block per core)``.
    one_standard_error_rule : bool, default=False
        Choose the largest alpha within one standard error of the best CV deviance.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised, unbounded) intercept.
    standardize : bool, default=False
        Penalise the coefficients of the standardised columns (glmnet's
        ``standardize=TRUE``); see :class:`PenalizedGLM`. Each fold's path uses its
        own training blocks' standard deviations.
    tol : float, default=1e-8
        KKT tolerance of every fit (per standardised coefficient).
    max_iter : int, default=100
        Maximum iterations of every fit.
    n_partitions : int, default=None
        Row blocks for in-memory input (see ``cv``); dask input keeps its chunks.
    split_every : int, default=8
        Fan-in of the tree reduction.
    verbose : int, default=0
        If positive, show the progress of the selection on stderr.
    formula, missing : as in :class:`PenalizedGLM` (a formula's left-hand side holds
        the two class labels).

    Attributes
    ----------
    cov_params_ : ndarray of shape (n_params, n_params)
        Only where the fit has inference (docs/contract.md).
    bse_ : ndarray of shape (n_params,)
        Only where the fit has inference.
    dispersion_ : float
        Pearson's chi^2 at the estimate over ``df_resid_``; 1 for fixed-scale families.
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
    alpha_ : float
        The chosen alpha.
    alphas_ : ndarray of shape (n_alphas,)
        The grid (decreasing).
    cv_deviance_ : ndarray of shape (cv, n_alphas)
        Held-out deviance per unit weight, per fold (``criterion="cv"``).
    cv_deviance_mean_ : ndarray of shape (n_alphas,)
        Pooled held-out deviance per unit weight (``criterion="cv"``).
    criterion_values_ : ndarray of shape (n_alphas,)
        The information criterion, or ``cv_deviance_mean_``.
    path_ : GLMPath
        The full-data path (down to ``alpha_`` for ``criterion="cv"``).
    coef_ : ndarray of shape (1, n_features)
        Coefficients at ``alpha_``.
    intercept_ : ndarray of shape (1,)
        Intercept at ``alpha_`` (0.0 without one).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]``.
    objective_, kkt_violation_, deviance_, converged_ : float or bool
        Those of the full-data fit at ``alpha_`` (see
        :class:`PenalizedLogisticRegression`).
    n_iter_, n_rounds_ : int
        Every iteration (of every fold's path and of the full-data path), and every
        round over the data, of the whole selection.
    n_at_bound_ : int
        Coefficients at the ``max_abs_coef`` bound.
    param_flags_ : dict of str to ParamFlag
        As in :class:`PenalizedLogisticRegression`.
    n_obs_ : int
        Rows.
    n_blocks_ : int
        Row blocks of the input.
    family_ : Family
        The binomial family and link.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when X has feature names.

    See Also
    --------
    PenalizedLogisticRegression : The classifier at one alpha.
    PenalizedGLMCV : The same selection for any family, ``y`` numeric.

    References
    ----------
    Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of Statistical
    Learning, 2nd ed., section 7.10. Springer.

    Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization paths for
    generalized linear models via coordinate descent. Journal of Statistical
    Software 33(1).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedLogisticRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 6))
    >>> y = np.where(X[:, 0] - X[:, 1] > rng.logistic(size=4000), "yes", "no")
    >>> clf = PenalizedLogisticRegressionCV(n_alphas=10, cv=4).fit(X, y)
    >>> clf.classes_.tolist()
    ['no', 'yes']
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.7)
    True
    """

    _parameter_constraints: dict = {
        "link": [StrOptions(set(Binomial.allowed_links) - {"log"}), Link],
        "alphas": [None, "array-like"],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "max_abs_coef": [None, Interval(Real, 0, None, closed="neither")],
        "criterion": [StrOptions({"cv", "aic", "bic"})],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "one_standard_error_rule": ["boolean"],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
        "formula": [str, None],
        "missing": [StrOptions({"raise", "drop"})],
    }

    def __init__(
        self,
        link="logit",
        *,
        alphas=None,
        n_alphas=30,
        eps=1e-3,
        l1_ratio=1.0,
        max_abs_coef=None,
        criterion="cv",
        cv=5,
        one_standard_error_rule=False,
        fit_intercept=True,
        standardize=False,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
    ):
        self.link = link
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.eps = eps
        self.l1_ratio = l1_ratio
        self.max_abs_coef = max_abs_coef
        self.criterion = criterion
        self.cv = cv
        self.one_standard_error_rule = one_standard_error_rule
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress()
    def fit(self, X, y=None, sample_weight=None, offset=None):
        """Choose alpha and fit the classifier at it.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Two class labels. Not given with a formula (its left-hand side is the
            response).
        sample_weight : array-like of shape (n_samples,) or str, default=None
            Prior weights (non-negative); with a DataFrame ``X``, may be the name of
            one of its columns.
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (coefficient 1, in every fold's fit);
            with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        data = self._binary_blocks(X, y, sample_weight, self._cv_partitions(X, y), offset)
        return self._select_alpha(data, self._family())
