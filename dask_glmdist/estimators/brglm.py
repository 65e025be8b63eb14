"""Bias-reduced and Jeffreys-penalised GLMs by bounded-memory IWLS over row blocks.

The estimator: parameters, input checks, fitted attributes, predictions. The
mathematics (the adjusted IWLS update, TSQR, one- and two-pass hat values, the
dispersion equations) is in :mod:`dask_glmdist.solvers.chunked_iwls`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions

from .._progress import shows_progress
from ..families import FAMILY_NAMES, UNIT, Family, Link, get_family
from ..fit_statistics import FinalStatistics, ride_null_model
from ..inference import standard_errors
from ..rounds import RoundEngine
from ..sandwich import COV_TYPES
from ..solvers.chunked_iwls import METHODS, fit_chunked_iwls
from ._ancillary import n_ancillary, set_ancillary
from ._base import (
    DevianceScoreMixin,
    GLMInferenceMixin,
    linear_predictor_with_offset,
    positive_only_family,
    predict_mean,
    prepare_blocks,
    two_column_proba,
)

__all__ = ["BiasReducedGLM"]


def _is_binomial(est) -> bool:
    """The family's mean is a probability (``predict_proba`` applies)."""
    family = est.family
    if isinstance(family, str):
        family = get_family(family) if family.lower() in FAMILY_NAMES else None
    return isinstance(family, Family) and family.domain is UNIT


class BiasReducedGLM(DevianceScoreMixin, RegressorMixin, GLMInferenceMixin, BaseEstimator):
    """GLM by maximum likelihood, mean bias reduction or Jeffreys-penalised likelihood.

    Fitted by iteratively reweighted least squares in which every iteration reduces
    the R factor of ``[sqrt(W) X | sqrt(W) z]`` over the row blocks by a tree QR, so
    memory is O(p^2 + block rows * p) whatever the number of rows, and blocks read
    from storage are re-read on each pass rather than held (Zietkiewicz & Kosmidis,
    bounded-memory adjusted scores). The estimate solves the adjusted score equations

        X^T W (z - eta) / phi + X^T W xi = 0,

    with hat values ``h_i`` of ``X (X^T W X)^{-1} X^T W`` and

    * ``method="ML"``: ``xi = 0``, the maximum likelihood estimate;
    * ``method="mBR"``: ``w_i xi_i = h_i d'_i / (2 d_i)``, the mean bias-reducing
      adjusted score (Firth 1993; Kosmidis, Kenne Pagui & Sartori 2020); for
      logistic regression this is Firth's method;
    * ``method="mJPL"``: ``w_i xi_i = a h_i (2 d'_i / d_i - d_i V'(mu_i) / V(mu_i))``,
      which maximises the penalised log-likelihood ``l(beta) + a log det(X^T W X)``
      (``a = jeffreys_power``; 1/2 is Jeffreys' prior, Kosmidis & Firth 2021),

    where ``d = dmu/deta``, ``d' = d^2 mu/deta^2`` and ``w = m d^2 / V(mu)`` with prior
    weights ``m`` (``sample_weight``). The log-likelihood is summed over rows (not
    averaged). For binomial models mBR and mJPL estimates are always finite, also on
    separated data where the ML estimate is infinite (ML then warns). For canonical
    links (logit, Poisson log) mBR and mJPL with ``a = 1/2`` coincide. A response all
    at one edge of its range (y = 0 in every row, or 1 in every row) is refused by mBR
    and mJPL: without events their slopes would be set by the adjustment alone.

    Parameters
    ----------
    family : str or Family, default="binomial"
        "binomial", "poisson", "gaussian", "gamma", "inverse_gaussian",
        "negative_binomial" (NB2 with ``alpha`` estimated by maximum likelihood jointly
        with the coefficients, as R's ``glm.nb``: ML only, mBR and mJPL refuse it;
        ``get_family("negative_binomial", alpha=a)`` fixes it), or a
        :class:`~dask_glmdist.families.Family`.
        Binomial ``y`` is 0/1, or proportions with ``sample_weight`` = trials.
        Tweedie: ``get_family("tweedie", power=p)`` (the power has no default, so
        ``"tweedie"`` alone is not accepted).
    link : str or Link, default=None
        Link name (binomial: "logit", "probit", "cloglog", "cauchit"; see
        :data:`~dask_glmdist.families.LINK_NAMES`); ``None`` is the canonical link.
    method : {"mBR", "mJPL", "ML"}, default="mBR"
        Estimator (above).
    jeffreys_power : float, default=0.5
        Power ``a > 0`` of the Jeffreys-prior penalty for ``method="mJPL"``.
    passes : {2, 1}, default=2
        Data passes per iteration for mBR/mJPL. 2 computes the hat values at the
        current iterate (the in-memory iteration); 1 uses those of the previous
        iterate (its R factor and its weights, eq. 13 of the bounded-memory paper):
        one pass per iteration, more iterations, the same estimate. Measured
        (``python -m benchmarks.brglm --passes-study``): 14-16 instead of 22 passes on
        1e6 separated rows, 9 instead of 12 on a non-separated p = 50 design, with a
        wall time within about 20% for data held in memory; so 1 pays where a pass is
        expensive (data re-read from storage). An iteration whose one-pass step
        overshoots is redone with two passes. ML makes one pass per iteration.
    dispersion : {"pearson", "method"}, default="pearson"
        Dispersion ``phi`` of the gaussian, gamma and inverse gaussian families.
        "pearson" (the library's one default) is the moment estimator
        ``sum m (y - mu)^2 / V(mu) / (n - p)`` that R's ``summary.glm`` and
        statsmodels report. "method" solves the method's own estimating equation, as
        brglm2 does: maximum likelihood (ML), the mean bias-reduced equation (mBR;
        ``D/(n - p)`` for the gaussian) or the penalised likelihood (mJPL).
        Binomial, Poisson and negative binomial: ``phi = 1``.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    tol : float, default=1e-8
        Convergence: ``max |step| <= tol * (1 + max |beta|)`` (and a relative change
        of ``phi`` below ``tol`` where it is found by Fisher-scoring steps).
    max_iter : int, default=100
        Maximum IWLS iterations.
    n_partitions : int, default=None
        Row blocks for in-memory (NumPy/pandas) input; ``None`` means one per
        available core. Dask input keeps its own row chunks; any chunk size works
        (even blocks with fewer rows than parameters) and the estimate does not
        depend on it.
    start : array-like of shape (n_params,), default=None
        Starting coefficients ``[intercept, *coef]``; ``None`` starts, like R's
        ``glm``, from means computed from ``y``.
    split_every : int, default=8
        Fan-in of the tree reduction of the R factors.
    verbose : int, default=0
        If positive, show the fit's progress on stderr: one display that says which
        iteration (of at most ``max_iter``) and pass it is on, with the deviance and
        the step.
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
        Covariance of the estimate (``cov_params_``, ``bse_``, ``summary()``,
        ``conf_int()``, ``wald_test()``): "nonrobust" is ``dispersion_`` times the
        inverse expected information; "HC0"/"HC1" the heteroscedasticity-robust
        sandwich (HC1 scaled by ``n / (n - k)``); "cluster" the cluster-robust sandwich
        over the ``groups`` given to ``fit`` (clusters may span blocks), with the small-
        sample factor ``G/(G-1) (n-1)/(n-k)``. The sandwich takes one pass at the
        estimate, riding on the final statistics pass (no pass of its own); see
        :mod:`dask_glmdist.sandwich`. ML only.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]``: the order of ``cov_params_``, ``bse_``, ``summary()``.
    cov_params_ : ndarray of shape (n_params, n_params)
        ``dispersion_ * (X^T W X)^{-1}`` at the last iteration's weights (the inverse
        expected information, as brglm2 reports for all three methods).
    bse_ : ndarray of shape (n_params,)
    dispersion_ : float
        By the ``dispersion`` parameter (Pearson by default); 1 for binomial,
        Poisson and negative binomial.
    deviance_ : float
        Deviance at the estimate.
    pearson_chi2_ : float
        ``sum m (y - mu)^2 / V(mu)`` at the estimate.
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``: the dispersion
        ``deviance_ / n_obs_`` where it is estimated; docs/contract.md).
    aic_ : float
        ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)`` (R's ``AIC``).
    bic_ : float
        As ``aic_`` with ``log(n_obs_)`` per parameter (R's ``BIC``).
    df_resid_ : int
        ``n_obs_ - n_params``.
    n_iter_ : int
        IWLS iterations (the first is the step from the starting means, as in R's
        ``glm``).
    nb_alpha_ : float
        Negative binomial only: the estimated ``alpha`` (or the fixed value); then
        ``family_`` is ``NegativeBinomial(alpha=nb_alpha_)``, at which ``deviance_``,
        ``loglik_`` and ``bse_`` (R's ``glm.nb``) are evaluated, and ``aic_``/``bic_``
        count ``alpha`` as a parameter when it is estimated.
    nb_alpha_bse_ : float
        Standard error of the estimated ``alpha`` (statsmodels'
        ``NegativeBinomial(loglike_method="nb2")``, Stata's ``nbreg``: the observed
        information of ``(coefficients, alpha)``); NaN when ``alpha`` is fixed, or when
        its estimate is on the boundary 0 (data without overdispersion: a warning says
        the model reduces to the Poisson model).
    n_rounds_ : int
        Passes over the data (start, iterations, hat-value passes, final statistics;
        gamma and inverse gaussian: one more for R's log-likelihood).
    converged_ : bool
    separation_detected_ : bool
        ML only: the maximum likelihood estimate does not exist (some parameters run
        off to +-inf: separation, an all-zero group); a
        :class:`~dask_glmdist.SeparationWarning` was issued and ``converged_`` is
        False.
    n_obs_ : int
        Rows with non-zero weight (R's ``nobs``).
    cov_type_ : str
        The ``cov_type`` of the fit.
    n_groups_ : int
        ``cov_type="cluster"`` only: the number of clusters.
    n_blocks_ : int
    family_ : Family
    history_ : list of dict
        Per iteration: deviance, ``max |step|``, dispersion, passes made so far.
    param_flags_ : dict of str to ParamFlag
        ML only: ``ParamFlag("infinite", note, sign)`` for the parameters whose estimate
        is +-inf, decided exactly from the first pass (the recession counts of the row
        blocks; the sign is the one the data determine), and
        ``ParamFlag("unidentified", note)`` for those without information once they
        have run off, or that run off along a combination of columns (signs not
        determined). Their ``bse_`` and ``cov_params_`` entries are NaN; ``summary()``,
        ``conf_int()`` and ``wald_test()`` show them without standard errors. Set on
        every fit; empty when nothing is flagged (always for mBR and mJPL, whose
        estimates are finite).
    design_ : dask_glmdist.design.Design
        Only after a fit through a formula, a DataFrame with categorical columns or
        weights/offset named as columns: the levels (from all partitions) and design
        column names, used by ``predict`` and ``score`` on new frames.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).

    See Also
    --------
    DLSARegressor : one-round distributed GLM (no bias reduction).

    Notes
    -----
    Differences from R's brglm2 (``glm(..., method = "brglmFit")``), which the test
    suite matches to about 1e-12 for every family and link here: aliased (collinear)
    columns are an error rather than NA coefficients; ``dispersion_`` is Pearson's
    by default (brglm2's own estimate with ``dispersion="method"``).

    References
    ----------
    Kosmidis, I., Kenne Pagui, E. C. and Sartori, N. (2020). Mean and median bias
    reduction in generalized linear models. Statistics and Computing 30, 43-59.

    Kosmidis, I. and Firth, D. (2021). Jeffreys-prior penalty, finiteness and shrinkage
    in binomial-response generalized linear models. Biometrika 108, 71-82.

    Zietkiewicz, P. and Kosmidis, I. Bounded-memory adjusted scores estimation in
    generalized linear models with large data sets (arXiv preprint).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import BiasReducedGLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = (X[:, 0] > 0).astype(float)       # completely separated by x0
    >>> model = BiasReducedGLM(link="probit").fit(X, y)
    >>> bool(np.all(np.isfinite(model.coef_)))
    True
    """

    _parameter_constraints: dict = {
        "family": [StrOptions(set(FAMILY_NAMES)), Family],
        "link": [None, str, Link],
        "method": [StrOptions(set(METHODS))],
        "jeffreys_power": [Interval(Real, 0, None, closed="neither")],
        "passes": [Interval(Integral, 1, 2, closed="both")],
        "dispersion": [StrOptions({"pearson", "method"})],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "start": [None, "array-like"],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
        "formula": [str, None],
        "missing": [StrOptions({"raise", "drop"})],
        "cov_type": [StrOptions(set(COV_TYPES))],
    }

    def __init__(
        self,
        family="binomial",
        link=None,
        *,
        method="mBR",
        jeffreys_power=0.5,
        passes=2,
        dispersion="pearson",
        fit_intercept=True,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        start=None,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
        cov_type="nonrobust",
    ):
        self.family = family
        self.link = link
        self.method = method
        self.jeffreys_power = jeffreys_power
        self.passes = passes
        self.dispersion = dispersion
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.start = start
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing
        self.cov_type = cov_type

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(unit="iteration", total=lambda est: est.max_iter, round_name="pass")
    def fit(self, X, y=None, sample_weight=None, offset=None, groups=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
            Response; binomial: 0/1, or proportions in [0, 1] with ``sample_weight``
            the number of trials (R's ``glm`` convention).
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
            Prior weights (non-negative; rows with weight 0 do not count).
        offset : array-like of shape (n_samples,), default=None
            Known part of the linear predictor (e.g. log exposure for Poisson rates).
        groups : array-like or dask Series of shape (n_samples,) or str, default=None
            Cluster ids of the rows for ``cov_type="cluster"`` (a cluster's rows may be
            in any blocks); with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        family = get_family(self.family, self.link)
        fi = self.fit_intercept
        self._check_cov_type(groups, allowed=self.method == "ML",
                             why=f"with method={self.method!r} (only with method='ML')")
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(fi), offset=offset, groups=groups,
        )
        k = data.n_features + int(fi)
        if y_mem is not None:
            msg = family.check_y(y_mem)
            if msg:
                raise ValueError(f"Invalid y for the {family.name} family: {msg}")
            w = None if data.host_weight is None else np.asarray(data.host_weight, dtype=float)
            if w is not None and bool(np.any(w < 0)):
                raise ValueError("Invalid input: sample_weight contains negative values.")
        start = None
        if self.start is not None:
            start = np.asarray(self.start, dtype=np.float64).ravel()
            if start.shape != (k,) or not np.all(np.isfinite(start)):
                raise ValueError(
                    f"start must hold {k} finite values ([intercept, *coef] with "
                    f"fit_intercept={fi}), got shape {np.shape(self.start)}."
                )
        self.family_ = family  # with an estimated ancillary parameter: fixed at the estimate
        engine = RoundEngine(data, split_every=self.split_every)
        ride_null_model(engine, family, fit_intercept=fi)
        final = FinalStatistics(family, fit_intercept=fi)
        sandwich = self._sandwich(family)
        res = fit_chunked_iwls(
            engine, family, method=self.method,
            power=float(self.jeffreys_power), passes=int(self.passes),
            dispersion="auto" if self.dispersion == "method" else "pearson", fit_intercept=fi,
            tol=self.tol, max_iter=self.max_iter, start=start,
            param_names=self._param_names(), reference_groups=self._reference_groups(),
            statistics=(final, sandwich),
        )
        phi = res.dispersion
        self.family_ = res.family
        set_ancillary(self, family, res.family, res.alpha, res.alpha_se)
        self.params_ = res.beta
        self.coef_ = res.beta[int(fi):].copy()
        self.intercept_ = float(res.beta[0]) if fi else 0.0
        self.cov_params_ = res.cov_unscaled * phi
        self.bse_ = standard_errors(self.cov_params_)
        self.dispersion_ = phi
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.separation_detected_ = res.separated
        self.n_blocks_ = data.n_blocks
        self._set_fit_statistics(engine, res.family, deviance=res.deviance, n_obs=res.n_pos,
                                 final=final, n_extra=n_ancillary(family))
        self.history_ = res.history
        names = self._param_names()
        self._set_param_flags({names[j]: flag for j, flag in res.flags.items()})
        self._set_sandwich(engine, sandwich)
        return self

    def predict(self, X, offset=None):
        """Predicted mean ``g^{-1}(X coef_ + intercept_ + offset)`` (lazy for dask input)."""
        return predict_mean(self, X, offset)

    @available_if(_is_binomial)
    def decision_function(self, X, offset=None):
        """Binomial family only: the linear predictor ``X coef_ + intercept_ + offset``,
        increasing in the probability of y = 1 (lazy for dask input). scikit-learn's
        ranking scorers (``"roc_auc"``, ``"average_precision"``) use it, as for a
        classifier: a regressor's 1-D score is what they need."""
        return linear_predictor_with_offset(self, X, offset)

    @available_if(_is_binomial)
    def predict_proba(self, X, offset=None):
        """Binomial family only: ``[1 - mu, mu]``, shape (n_samples, 2), ``mu`` the
        predicted probability of y = 1 (:meth:`predict`); lazy for dask input (for a dask
        DataFrame a dask DataFrame with columns 0 and 1 on the frame's index). As a
        classifier's, so probability scorers (``"neg_log_loss"``) work."""
        return two_column_proba(predict_mean(self, X, offset))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags
