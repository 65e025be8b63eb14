"""One-shot distributed debiased lasso: the estimator.

Parameters, input checks, warnings and fitted attributes. The mathematics (local
elastic-net fits, node-wise rows, the joins and the covariance) is in
:mod:`dask_glmdist.solvers.debiased_lasso`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._blocks import raise_for_problems
from .._progress import shows_progress
from ..diagnostics import (
    COLLINEAR,
    CONSTANT_COLUMNS,
    EMPTY,
    INFINITE,
    LEFT_OUT,
    NOT_CONVERGED,
    SEPARATED,
    UNIDENTIFIED,
    UNRELIABLE,
    ZERO_WEIGHT,
    BlockReport,
    ParamFlag,
    SeparationWarning,
    short_list,
    warn,
)
from ..families import Family, Link, get_family
from ..fit_statistics import (
    float64_blocks,
    least_squares_statistics,
    ride_null_model,
)
from ..inference import standard_errors
from ..rounds import RoundEngine
from ..solvers.ancillary import refuse_estimated
from ..solvers.debiased_lasso import (
    METHODS,
    NODEWISE,
    LassoSpec,
    debiased_lasso_block,
    join,
    merge_size_classes,
    min_block_rows,
    pearson_block,
    separation_direction,
    separation_probe_block,
)
from ..solvers.design_checks import check_identified, describe_redundant, redundant_columns
from ..solvers.recession import (
    PROBE_STEPS,
    classify_runaway,
    confirms_recession,
    infinite_parameters,
    reference_flags,
)
from ._base import (
    DevianceScoreMixin,
    GLMInferenceMixin,
    positive_only_family,
    predict_mean,
    prepare_blocks,
)

__all__ = ["DebiasedLassoRegressor"]

FAMILIES = ("gaussian", "binomial", "poisson")


class DebiasedLassoRegressor(DevianceScoreMixin, RegressorMixin, GLMInferenceMixin,
                             BaseEstimator):
    """One-shot distributed debiased lasso for gaussian, binomial and Poisson GLMs.

    One round over the row blocks (Lee, Liu, Sun & Taylor 2015). Block k fits the
    elastic-net GLM of its *averaged* loss (statsmodels' ``fit_regularized``
    objective, dispersion 1)::

        beta_k = argmin  -loglik_k(beta) / n_k
                         + sum_j alpha_j ((1 - l1_ratio) beta_j^2 / 2 + l1_ratio |beta_j|),

    and returns its gradient ``g_k`` at ``beta_k`` and node-wise lasso rows of an
    approximate inverse ``Theta`` of its weighted Gram ``X_k^T W_k X_k / n_k``. The
    master forms

        beta_d = mean_k beta_k - Theta mean_k g_k

    and hard-thresholds it at ``threshold``. With the same partitions this is
    statsmodels' ``DistributedModel`` (debiased by default) to about 1e-10, apart
    from three statsmodels bugs we do not copy: the gradient's ridge part is
    ``alpha (1 - l1_ratio) beta_k`` (statsmodels adds the constant
    ``alpha (1 - l1_ratio)``); the gaussian score is at dispersion 1, like the Gram
    (statsmodels' OLS default divides it by the residual variance; pass
    ``score_kwds={"scale": 1}`` to compare); and a per-feature ``alpha`` works
    (statsmodels fails in the node-wise step).

    Parameters
    ----------
    family : {"gaussian", "binomial", "poisson"}, default="gaussian"
        Binomial ``y`` is 0/1, or proportions with ``sample_weight`` = trials.
        A :class:`~dask_glmdist.families.Family` is accepted too (e.g.
        ``get_family("tweedie", power=p)``).
    link : str or Link, default=None
        Link name (e.g. "probit" for binomial); ``None`` is the canonical link.
    alpha : float or array-like of shape (n_features,), default=0.01
        Penalty weight, one per feature or shared; an entry 0 leaves that
        coefficient unpenalised. Lee et al. take ``alpha`` of order
        ``sqrt(log(p) / n_k)`` for standardised features; choose it by
        ``GridSearchCV`` otherwise. The penalty acts on the coefficients in the
        columns' own units, so the fit is not scale invariant: standardise the
        columns (see Notes).
    l1_ratio : float in [0, 1], default=1.0
        Fraction of the penalty that is L1 (statsmodels' ``L1_wt``); 1 is the lasso.
    method : {"debiased", "naive", "naive_unregularized"}, default="debiased"
        The join: the debiased estimate above; the mean of the blocks' penalised
        fits; or the mean of their (unpenalised) maximum likelihood fits.
    nodewise : {"mosaic", "full"}, default="mosaic"
        How Theta is formed. "mosaic" (statsmodels): block k computes only rows
        ``k q, ..., (k + 1) q - 1`` (``q = ceil(p / K)`` for K blocks) and the rows are
        stacked, so each block solves about p/K node-wise lassos. "full": every block
        computes all p rows and Theta is their mean (K times the work, less noise).
    nodewise_alpha : float or array-like of shape (n_features,), default=None
        Penalty of the node-wise lasso regressions; ``None`` uses ``alpha``.
    threshold : float, default=0.0
        Coefficients with ``|coef| < threshold`` are set to 0 (the intercept never is).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (a column of ones with penalty 0, also in the
        node-wise regressions). statsmodels has no intercept option: there, users
        add a constant column, which is then penalised and thresholded like the
        others.
    standardize : bool, default=False
        Penalise the coefficients of the standardised columns, ``sd_j * coef_j`` (in
        the local fits and the node-wise regressions), as glmnet's
        ``standardize=TRUE``: ``alpha`` and ``nodewise_alpha`` are then in the units
        of standardised columns, whatever the columns' own units. The estimator is
        one round, so every block standardises by its *own* weighted (population)
        standard deviations -- no extra pass over the data; a node-wise row the
        master forms from the pooled Gram uses the mean of the blocks' (see Notes).
        Estimates, standard errors and ``summary()`` are on the original scale;
        ``threshold`` applies to ``coef_`` as reported.
    tol : float, default=1e-8
        Local fits stop when the proximal Newton step is below
        ``tol * (1 + max |beta|)``; the coordinate descents (local fits and node-wise
        regressions) run to ``tol * 1e-3``.
    max_iter : int, default=100
        Maximum proximal Newton iterations of each local fit.
    n_partitions : int, default=None
        Row blocks for in-memory (NumPy/pandas) input; ``None`` means one per core
        (never blocks of fewer than 20 rows per parameter). Dask input keeps its own
        row chunks (unknown chunk sizes work).
    split_every : int, default=8
        Fan-in of the tree reduction.
    verbose : int, default=0
        If positive, show the fit's progress on stderr: one display for the round
        (and the separation check and the dispersion pass, where they are needed).
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

    Attributes
    ----------
    deviance_ : float
        Deviance at the estimate (the fit-statistics pass; the gaussian identity:
        from the round's sums).
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
    n_rounds_ : int
        Passes over the data, the fit-statistics pass included (the gaussian
        identity using every block: none, 1 in all).
    coef_ : ndarray of shape (n_features,)
        The estimate after thresholding.
    intercept_ : float
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coefficients]`` *before* thresholding: the estimate that
        ``cov_params_``, ``bse_`` and ``summary()`` describe (equal to
        ``[intercept_, *coef_]`` when ``threshold=0``).
    cov_params_ : ndarray of shape (n_params, n_params)
        ``method="debiased"``: ``dispersion_ * Theta (sum_k A_k / n_k^2 / K^2) Theta^T``
        with ``A_k`` the blocks' weighted Grams (van de Geer et al. 2014);
        ``"naive_unregularized"``: ``dispersion_ * sum_k A_k^{-1} / K^2``. Not set
        for ``"naive"`` (an average of lasso fits has no valid Wald inference).
    bse_ : ndarray of shape (n_params,)
    dispersion_ : float
        1 for binomial and Poisson; for the gaussian family the residual variance
        ``RSS / (n - df)`` at the returned estimate, ``df`` its non-zero parameters.
    approx_inv_cov_ : ndarray of shape (n_params, n_params)
        Theta (``method="debiased"``), statsmodels' ``approx_inv_cov``.
    mean_params_ : ndarray of shape (n_params,)
        The average of the blocks' local estimates.
    n_obs_ : int
        Rows of the blocks used.
    n_blocks_ : int
        Row blocks of the input, all of them (empty, skipped and left-out blocks
        included; those are listed in ``block_diagnostics_``).
    n_blocks_used_ : int
        Row blocks whose local fits enter the average (see Notes for the others).
    local_n_iter_ : ndarray of shape ``(n_blocks_used_,)``
        Proximal Newton (or Fisher scoring) iterations of each local fit used
        (counting the last one, whose step met the tolerance).
    n_iter_ : int
        The largest of ``local_n_iter_``.
    converged_ : bool
        Whether every local fit converged.
    family_ : Family
    design_ : dask_glmdist.design.Design
        Only after a fit through a formula, a DataFrame with categorical columns or
        weights/offset named as columns: the levels (from all partitions) and design
        column names, used by ``predict`` and ``score`` on new frames.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).
    block_diagnostics_ : pandas.DataFrame
        One row per (row block, problem) found in the fit: ``block``, ``problem``
        (the kinds of :mod:`dask_glmdist.diagnostics`: ``"empty"`` and
        ``"zero_weight"``, skipped; ``"left_out"``, too small; ``"constant_columns"``;
        ``"collinear"``; ``"not_converged"``; ``"separated"``, the block's unpenalised
        local MLE does not exist), ``columns`` and ``detail``. Each kind of problem is
        warned about once (empty, zero-weight and separated blocks are only logged;
        separation of the whole data is in ``param_flags_``).
    param_flags_ : dict
        Parameter name -> :class:`~dask_glmdist.diagnostics.ParamFlag` for estimates
        that cannot be used as usual; empty when there are none: ``"infinite"`` (the
        unpenalised estimate, which the debiasing targets, is +-inf: separation),
        ``"unidentified"`` (not determined by separated data) or ``"unreliable"``
        (every block's local MLE diverged along it). Flagged parameters have NaN in
        ``bse_`` and in their row and column of ``cov_params_``; ``summary()`` shows
        infinite ones as +-inf.
    separation_probe_ : dict or None
        The separation check's probe round (see Notes): the ``direction`` probed, the
        ``deviance`` at 0, 1 and 10 steps along it and whether it ``confirmed`` a
        direction in which the estimate runs off; None when no probe was needed.

    See Also
    --------
    DLSARegressor : one-round distributed GLM by least squares approximation.

    Notes
    -----
    ``sample_weight`` are prior weights; each block's loss is divided by the sum of
    its weights (the number of rows when unweighted), so scaling all weights leaves
    the fit unchanged. The gradient and Gram use the expected information (the
    Fisher weights); for canonical links this is also the observed information that
    statsmodels uses by default.

    Degenerate blocks. Empty blocks (a partition emptied by a filter) and blocks
    whose weights are all 0 are skipped. A block with fewer than 20 positive-weight
    rows per parameter and fewer than the largest power of two not above half the
    median block's (e.g. fewer than 64 when the median block has 200) is left out
    with a warning: it would get an equal share of the average, and the debiasing,
    whose node-wise rows come from the other blocks, does not correct its local fit
    (in simulations, one block of 3 to 10 rows next to three of 200 made binomial
    95% intervals cover 49-63% of the time). The estimate is then that of the other
    blocks' rows. A block kept whose local estimate does not exist (binomial y all 0
    or all 1, or Poisson y all 0, with its unpenalised intercept; separation along
    features with ``alpha`` 0) is an error: leaving it out would select blocks by
    their response. With ``nodewise="mosaic"`` the node-wise rows that a skipped
    block would have formed are computed from the mean weighted Gram of the blocks
    used. Columns constant within every block, and (when the blocks have at least
    as many rows as parameters in all) collinear columns, are an error: the
    debiasing inverts the pooled weighted Gram.

    Separation (binomial, and Poisson with the log link). The debiased estimator
    targets the unpenalised parameter; where its maximum likelihood estimate is
    infinite (a category without events, a one-row level, complete separation) the
    debiasing has no target. Such parameters are flagged ``"infinite"`` in
    ``param_flags_`` and named in one :class:`~dask_glmdist.SeparationWarning`.
    Coordinate directions are found exactly in the round: every block counts the rows
    that stop a single parameter running off (``recession_counts``; the rule DLSA
    uses). Blocks of at least 20 rows per parameter also check that their
    unpenalised local MLE exists (two scoring steps from the penalised estimate
    usually settle it, else the local ML fit runs); when it diverges in every such
    block along other directions, one
    probe round over the data checks the blocks' mean direction (as
    :class:`PenalizedGLM` does): confirmed, its parameters are infinite (and those the
    direction leaves undetermined unidentified); not confirmed, they are flagged
    ``"unreliable"`` with a warning.

    Units. The lasso penalty is not scale invariant and the debiasing corrects it
    only to first order, so the estimate depends on the columns' units: multiplying
    one column of a Poisson design by 0.01 moved the intercept 5.9 and that column's
    coefficient 1.5 standard errors away from the maximum likelihood estimate at the
    default ``alpha`` (gaussian: 1.1), without a warning (statsmodels'
    ``DistributedModel`` behaves the same). Use ``standardize=True``, or standardise
    the columns yourself (divide by their standard deviations, then divide ``coef_``
    and ``bse_`` by them), or give ``alpha`` per feature in proportion to the
    columns' standard deviations (docs/debiased_lasso.md). ``standardize=True``
    uses each block's own standard deviations (the fit is one round; global ones
    would take a pass of their own): on blocks alike in distribution, as the theory
    of Lee et al. assumes, they differ from the global ones by ``O(n_k^-1/2)``, and
    when every block's are equal the fit is exactly that on the standardised
    columns. statsmodels' ``DistributedModel`` and Lee et al. do not standardise
    (their theory assumes standardised columns).

    References
    ----------
    Lee, J. D., Liu, Q., Sun, Y. and Taylor, J. E. (2017). Communication-efficient
    sparse regression. Journal of Machine Learning Research 18, 1-30
    (arXiv:1503.04337).

    van de Geer, S., Buehlmann, P., Ritov, Y. and Dezeure, R. (2014). On
    asymptotically optimal confidence regions and tests for high-dimensional
    models. Annals of Statistics 42, 1166-1202.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import DebiasedLassoRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 10))
    >>> y = X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=4000)
    >>> model = DebiasedLassoRegressor(alpha=0.05, n_partitions=4).fit(X, y)
    >>> np.round(model.coef_[:2], 1)
    array([ 1. , -0.5])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "family": [StrOptions(set(FAMILIES)), Family],
        "link": [None, str, Link],
        "method": [StrOptions(set(METHODS))],
        "nodewise": [StrOptions(set(NODEWISE))],
        "nodewise_alpha": [None, Interval(Real, 0, None, closed="left"), "array-like"],
        "threshold": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
        "formula": [str, None],
        "missing": [StrOptions({"raise", "drop"})],
    }

    def __init__(
        self,
        family="gaussian",
        link=None,
        *,
        alpha=0.01,
        l1_ratio=1.0,
        method="debiased",
        nodewise="mosaic",
        nodewise_alpha=None,
        threshold=0.0,
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
        self.family = family
        self.link = link
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.method = method
        self.nodewise = nodewise
        self.nodewise_alpha = nodewise_alpha
        self.threshold = threshold
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing

    def _penalties(self, n_features: int):
        """Per-parameter L1, L2 and node-wise penalties, intercept (penalty 0) first."""
        alpha = _penalty_vector(self.alpha, n_features, "alpha")
        nw = alpha if self.nodewise_alpha is None else _penalty_vector(
            self.nodewise_alpha, n_features, "nodewise_alpha")
        lead = [0.0] if self.fit_intercept else []
        r = float(self.l1_ratio)
        return (np.concatenate([lead, alpha * r]), np.concatenate([lead, alpha * (1.0 - r)]),
                np.concatenate([lead, nw]))

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=3)
    def fit(self, X, y=None, sample_weight=None, offset=None):
        """Fit the model in one round over the row blocks.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
            Prior weights (binomial: the number of trials when y holds proportions).
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (e.g. log exposure for Poisson rates),
            in every block's local fit, gradient and information; with a DataFrame
            ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        family = refuse_estimated(get_family(self.family, self.link), type(self).__name__)
        fi = bool(self.fit_intercept)
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(fi), offset=offset,
        )
        P = data.n_features + int(fi)
        l1, l2, nw = self._penalties(data.n_features)
        if y_mem is not None:
            msg = family.check_y(y_mem)
            if msg:
                raise ValueError(f"Invalid y for the {family.name} family: {msg}")
            if data.host_weight is not None and bool(np.any(data.host_weight < 0)):
                raise ValueError("Invalid input: sample_weight contains negative values.")
        min_rows = P if self.method == "naive_unregularized" else 2
        _check_block_rows(data.block_rows, min_rows, P, self.method)
        spec = LassoSpec(
            method=self.method, nodewise=self.nodewise, l1=l1, l2=l2, nodewise_alpha=nw,
            fit_intercept=fi, tol=float(self.tol), max_iter=int(self.max_iter),
            n_blocks=data.n_blocks, min_rows=min_rows,
            sufficient_stats=family.least_squares,
            standardize=bool(self.standardize),
            reference_groups=self._reference_groups(),
        )
        engine = RoundEngine(data, split_every=self.split_every)
        ride_null_model(engine, family, fit_intercept=self.fit_intercept)
        return self._fit_round(engine, family, spec, P)

    def _fit_round(self, engine: RoundEngine, family, spec: LassoSpec, P: int):
        """The round over the blocks, the join, and the fitted attributes."""
        fi, min_rows = spec.fit_intercept, spec.min_rows
        s = engine.run(debiased_lasso_block, family=family, spec=spec,
                       label="debiased lasso round")
        records = sorted(s.get("blocks", []), key=lambda r: r["index"])
        raise_for_problems(s.get("problems", {}))
        report = BlockReport()
        everywhere = infinite_parameters(merge_size_classes(s, 0).get("recession"))
        min_rows_used, used = self._select_blocks(records, s.get("empty_blocks", []), min_rows,
                                                  P, report, everywhere)
        sums = merge_size_classes(s, min_rows_used)
        self._check_identified(sums, used, P)
        if not sums.get("n_used"):
            raise ValueError(
                "No row block has a local maximum likelihood estimate ("
                f"{records[0].get('excluded', '')}); method='naive_unregularized' cannot "
                "average anything. Use method='debiased' or larger blocks."
            )
        res = join(sums, spec, self._param_names())
        report.emit(self._block_messages(min_rows_used, records))
        self.block_diagnostics_ = report.frame()
        used = [r for r in used if "excluded" not in r]
        params = res.params
        final = params.copy()
        final[int(fi):][np.abs(final[int(fi):]) < self.threshold] = 0.0
        self.family_ = family
        self.params_ = params
        self.coef_ = final[int(fi):]
        self.intercept_ = float(final[0]) if fi else 0.0
        self.mean_params_ = res.mean_params
        if res.theta is not None:
            self.approx_inv_cov_ = res.theta
        elif hasattr(self, "approx_inv_cov_"):
            del self.approx_inv_cov_
        self.n_obs_ = int(sum(r["n"] for r in used))
        self.n_blocks_ = int(engine.n_blocks)
        self.n_blocks_used_ = len(used)
        self.local_n_iter_ = np.array([r.get("n_iter", 0) for r in used])
        self.n_iter_ = int(self.local_n_iter_.max())
        self.converged_ = bool(all(r.get("converged", False) for r in used))
        left_out = tuple(sorted({r["index"] for r in records} - {r["index"] for r in used}))
        self.dispersion_ = self._dispersion(engine, sums, family, final, int(sums["n_pos"]),
                                            left_out)
        for name in ("cov_params_", "bse_"):
            if hasattr(self, name):
                delattr(self, name)
        if res.cov_unscaled is not None:
            self.cov_params_ = res.cov_unscaled * self.dispersion_
            self.bse_ = standard_errors(self.cov_params_)
        flags = self._separation(engine, family, sums, used, params, left_out)
        self._set_param_flags(reference_flags(sums.get("recession"), spec.reference_groups,
                                              self._param_names(), flags))
        self._set_contract(engine, family, final, sums, left_out)
        return self

    def _set_contract(self, engine, family, final, sums: dict, left_out=()) -> None:
        """The fitted contract's statistics at the returned estimate (``coef_``,
        ``intercept_``; one more pass, none from the least-squares sums of a
        gaussian identity fit when every block is used); ``n_obs_`` stays the rows of
        the blocks used."""
        n_obs = self.n_obs_
        known = None
        if "yy" in sums and not left_out and float64_blocks(engine.data):
            known = least_squares_statistics(
                family, final, gram=sums["gram_sum"], gy=sums["xy"], yy=sums["yy"],
                n_pos=int(sums["n_pos"]), fit_intercept=self.fit_intercept,
                log_weight=sums.get("log_weight", 0.0),
                weight=sums.get("weight_sum", float("nan")))
        self._set_fit_statistics(engine, family, final, known=known)
        self.n_obs_, self.df_resid_ = n_obs, n_obs - final.shape[0]

    def _select_blocks(self, records, empty, min_rows: int, n_params: int,
                       report: BlockReport, infinite: dict):
        """The blocks the estimate uses: ``(min_rows_used, records)``.

        Empty blocks and blocks whose weights are all 0 carry no rows (logged only). A
        block with fewer positive-weight rows than :func:`min_block_rows` of the median
        block is left out (one warning). A block kept whose local fit is impossible
        (too few rows) or whose local estimate does not exist is an error.
        """
        for k in empty:
            report.add(EMPTY, k, detail="0 rows: skipped")
        rows = [r for r in records if r["n_pos"] > 0]
        for r in records:
            if r["n_pos"] == 0:
                report.add(ZERO_WEIGHT, r["index"],
                           detail=f"{r['n']} rows of weight 0: skipped")
        if not rows:
            raise ValueError("Invalid input: sample_weight is 0 in every row; there is "
                             "nothing to fit.")
        median = float(np.median([r["n_pos"] for r in rows]))
        threshold = min_block_rows(median, n_params)
        used = []
        for r in rows:
            if r["n_pos"] < threshold:
                report.add(LEFT_OUT, r["index"],
                           detail=f"row block {r['index']} has {r['n_pos']}")
            else:
                used.append(r)
        too_few = [r["index"] for r in used if r.get("too_few_rows")]
        if too_few:
            raise ValueError(
                f"Row blocks {short_list(too_few)} have fewer than {min_rows} rows with "
                f"positive weight, too few for the local fit of method={self.method!r}. "
                "Use fewer partitions (n_partitions, or rechunk the dask input into larger "
                "row blocks)."
            )
        diverged = [r for r in used if "diverged" in r]
        values = {r.get("constant_y") for r in diverged}
        if len(diverged) == len(used) and len(values) == 1 and None not in values:
            raise ValueError(
                f"Invalid y: y is {values.pop():g} in every row, the edge of the "
                f"{self.family} family's range, so the model's estimate does not exist "
                "(its intercept runs to infinity)."
            )
        self._refuse_diverged(diverged, infinite)
        self._report_used(used, report)
        return threshold, used

    def _refuse_diverged(self, diverged, infinite: dict) -> None:
        """A block kept whose local estimate does not exist is an error."""
        names = self._param_names()
        if diverged:
            shown = [f"{names[j]} ({'+' if sign > 0 else '-'}inf)"
                     for j, sign in sorted(infinite.items())]
            whole = (f" Over all the data, the maximum likelihood estimate does not exist "
                     f"either: {short_list(shown)} run(s) off to infinity (separation); "
                     'BiasReducedGLM(method="mBR") gives finite estimates.' if shown else "")
            raise ValueError(
                f"The local estimates of row blocks {short_list([r['index'] for r in diverged])}"
                f" do not exist (row block {diverged[0]['index']}: {diverged[0]['diverged']}). "
                "The one-shot estimate averages every block's local estimate; leaving such "
                "blocks out would select blocks by their response and bias the result. Use "
                "larger row blocks (fewer partitions), a positive alpha for every feature, "
                "or an iterative estimator (PenalizedGLM, BiasReducedGLM)." + whole
            )

    def _report_used(self, used, report: BlockReport) -> None:
        """What the blocks used say about their local fits (``block_diagnostics_``)."""
        names = self._param_names()
        for r in used:
            k = r["index"]
            if not r.get("converged", True):
                report.add(NOT_CONVERGED, k,
                           detail=f"the local fit: {r.get('n_iter')} iterations")
            if r.get("nodewise_unconverged"):
                report.add(NOT_CONVERGED, k, detail="the node-wise lasso regressions: "
                           f"{r.get('nodewise_sweeps')} sweeps")
            if "excluded" in r:
                report.add(COLLINEAR, k, detail=r["excluded"])
            constant = r.get("constant_columns", [])
            degenerate = r.get("degenerate_rows", [])
            if constant:
                pooled = [names[j] for j in constant if j in degenerate]
                report.add(CONSTANT_COLUMNS, k, [names[j] for j in constant],
                           "constant within the block" + (
                               f"; node-wise rows of {pooled} from the blocks' mean weighted "
                               "Gram" if pooled else ""))
            collinear = [names[j] for j in degenerate if j not in constant]
            if collinear:
                report.add(COLLINEAR, k, collinear,
                           "node-wise rows not formed: collinear within the block")
            if r.get("separated"):
                report.add(SEPARATED, k, [
                    f"{names[j]} ({'+' if sign > 0 else '-'}inf)" for j, sign in
                    r["separated"]], "the block's unpenalised local MLE does not exist "
                    "(its local fit diverged along these parameters)")

    def _separation(self, engine, family, sums, used, params, left_out) -> dict:
        """Flags of the parameters whose unpenalised estimate (the debiased estimator's
        target) is infinite, or whose one-round estimate cannot be trusted; one warning.

        Coordinate directions are exact: the blocks' recession counts, summed
        (:func:`~dask_glmdist.solvers.recession.infinite_parameters`, the rule DLSA uses).
        Other directions (complete separation by a combination of columns): when the
        unpenalised local fit of every block checked (20 rows per parameter or more)
        diverged along parameters that the counts do not explain, one more round probes
        the blocks' mean divergence direction over all the data
        (:func:`~dask_glmdist.solvers.recession.classify_runaway`, as PenalizedGLM
        does): confirmed, its parameters are infinite; not confirmed, they are flagged
        unreliable.
        """
        names = self._param_names()
        fi = bool(self.fit_intercept)
        infinite = infinite_parameters(sums.get("recession"))
        checked = int(sums.get("ml_checked", 0))
        diverged = [r for r in used if r.get("separated")]
        unexplained = [r for r in diverged if not {j for j, _ in r["separated"]} <= set(infinite)]
        flags: dict = {}
        unidentified: list = []
        unreliable: list = []
        self.separation_probe_ = None
        if checked and len(diverged) == checked and unexplained:
            u = separation_direction(sums)
            probe = engine.run(separation_probe_block, params, u, PROBE_STEPS,
                               family=family, fit_intercept=fi, skip=left_out,
                               label="separation check")
            runaway = (classify_runaway(probe, probe["full_gram"], u,
                                        np.ones(len(names), dtype=bool), fi)
                       if confirms_recession(probe) else None)
            self.separation_probe_ = {"direction": u, "deviance": probe["deviance"],
                                      "confirmed": runaway is not None}
            if runaway is None:
                unreliable = sorted({j for r in unexplained for j, _ in r["separated"]}
                                    - set(infinite))
            else:
                for j in np.flatnonzero(runaway):
                    if j in infinite:
                        continue
                    if abs(int(runaway[j])) == 1:
                        infinite[int(j)] = int(runaway[j])
                    else:  # classify_runaway's UNDETERMINED
                        unidentified.append(int(j))
        # a separating column non-zero on every row: every row is fitted perfectly
        counts = sums.get("recession")
        everything = counts is not None and any(
            counts[2, j] >= sums["n_pos"] for j in infinite)
        if everything:
            unidentified = [j for j in range(len(names)) if j not in infinite]
        for j, sign in infinite.items():
            flags[names[j]] = ParamFlag(INFINITE, (
                f"the maximum likelihood estimate is {'+' if sign > 0 else '-'}inf "
                "(separation), so the debiased estimate has no target; no estimate or "
                "standard error"), sign)
        for j in unidentified:
            flags[names[j]] = ParamFlag(UNIDENTIFIED, (
                "not estimable: the separating direction fits every row in which it "
                "matters perfectly, and the data do not determine this parameter (or the "
                "sign it runs off to)"))
        for j in unreliable:
            flags[names[j]] = ParamFlag(UNRELIABLE, (
                "every row block's unpenalised local fit diverged along it (near "
                "separation, or too few events per block): the one-round estimate and "
                "its standard error cannot be trusted"))
        self._warn_separation(names, infinite, unidentified, unreliable, everything)
        return flags

    def _warn_separation(self, names, infinite, unidentified, unreliable, everything):
        if infinite:
            shown = [f"{names[j]} ({'+' if sign > 0 else '-'}inf)" for j, sign in
                     sorted(infinite.items())]
            rest = (" Every row is fitted perfectly, so no other parameter is estimable "
                    "either." if everything else
                    f" Parameters {short_list(names[j] for j in unidentified)} are not "
                    "determined by the data either (not even the sign they run off to)."
                    if unidentified else
                    " The other parameters' one-round estimates are those with the rows in "
                    "which such a column is non-zero still fitted at its finite "
                    "penalised value (approximately the estimates without those rows).")
            warn(
                f"{type(self).__name__}: the maximum likelihood estimate does not exist: "
                f"{short_list(shown)} run(s) off to infinity (separation: every row in "
                "which such a column is non-zero is fitted better the further it goes, "
                "e.g. a category without any event). The debiased estimator targets the "
                "unpenalised parameter, so the values in coef_ are artefacts of the "
                "penalty; summary() shows them as infinite without standard errors." + rest
                + ' For finite estimates of every parameter use '
                'BiasReducedGLM(method="mBR").',
                SeparationWarning,
            )
        if unreliable:
            warn(
                f"{type(self).__name__}: the unpenalised local fit of every row block "
                f"diverged along {short_list(names[j] for j in unreliable)} (the local "
                "maximum likelihood estimates do not exist: near separation, or too few "
                "events per block), though one probe round over all the data did not "
                "find them running off. The one-round estimate and its standard error "
                "cannot be trusted for them; summary() shows no standard error. Use "
                'PenalizedGLM (alpha=0) or BiasReducedGLM(method="mBR").',
                UserWarning,
            )

    def _block_messages(self, min_rows_used: int, records) -> dict:
        median = int(np.median([r["n_pos"] for r in records if r["n_pos"] > 0]))
        rows_note = ("they were computed from the blocks' mean weighted Gram instead"
                     if self.nodewise == "mosaic" else
                     "they were averaged over the other blocks")
        collinear = (
            "Row blocks {blocks} were left out of the average: their local maximum "
            "likelihood estimate does not exist ({detail})."
            if self.method == "naive_unregularized" else
            "The node-wise rows of parameters {columns} could not be formed in row blocks "
            "{blocks} (the column is collinear with others there); " + rows_note + ".")
        return {
            LEFT_OUT: (UserWarning, (
                "Row blocks {blocks} were left out of the estimate: they have fewer than "
                f"{min_rows_used} rows with positive weight ({{detail}}; the median block "
                f"has {median}). Every block gets an equal share of the one-shot average, "
                "and the debiasing does not correct the local fit of a block that small. "
                "The estimate is that of the other blocks' rows; rechunk the input into "
                "blocks of similar size to use all rows.")),
            NOT_CONVERGED: (ConvergenceWarning, (
                "Row blocks {blocks}: the local fit or its node-wise lasso regressions did "
                f"not converge (the first: {{detail}}); increase max_iter (local fits, "
                f"max_iter={self.max_iter}) or nodewise_alpha (node-wise regressions: the "
                "weighted Gram is nearly singular).")),
            COLLINEAR: (UserWarning, collinear),
            CONSTANT_COLUMNS: (UserWarning, (
                "Columns {columns} are constant within row blocks {blocks} and carry no "
                "information there; their coefficients are averaged over the other "
                "blocks (the detail, and which block's node-wise rows came from the "
                "blocks' mean weighted Gram: block_diagnostics_).")),
        }

    def _check_identified(self, sums: dict, used, n_params: int) -> None:
        """Refuse collinear columns (the package's one rank rule, on the pooled weighted
        Gram) and columns the blocks carry no information on."""
        names = self._param_names()
        n_pos = sum(r["n_pos"] for r in used)
        gram = sums.get("gram_sum", 0) + sums.get("rank_deficient_gram", 0)
        if n_pos >= n_params and np.ndim(gram) == 2:
            # high-dimensional (fewer rows than parameters): the lasso's sparsity, not
            # the Gram, identifies the estimate
            self._check_pooled_gram(gram, names)
        count = sums.get("identified")
        if count is not None and np.any(count == 0):
            raise ValueError(
                f"Columns {[names[j] for j in np.flatnonzero(count == 0)]} are constant "
                "within every row block used (e.g. a block indicator): the blocks carry "
                "no information on their coefficients. Remove them."
            )

    def _check_pooled_gram(self, gram, names) -> None:
        fi = bool(self.fit_intercept)
        if not fi:  # the rank rule takes the Gram with its intercept border first
            gram = np.pad(gram, ((1, 0), (1, 0)))
        who = f"{type(self).__name__}(method={self.method!r})"
        if self.method == "naive":
            redundant = redundant_columns(gram, fi)
            if redundant:
                warn(f"{who}: the design is rank deficient over the rows with positive "
                     f"weight: {describe_redundant(redundant, names)}. The penalty alone "
                     "decides how the estimate is split among the collinear columns.",
                     UserWarning)
            return
        why = ("The local maximum likelihood estimates are not unique"
               if self.method == "naive_unregularized" else
               "The debiasing inverts the pooled weighted Gram")
        check_identified(gram, names, fi, who, remedy=(
            f"{why}, so the estimates and standard errors of those columns would be "
            "arbitrary. Remove the redundant columns."))

    def _dispersion(self, engine, s, family, params, n_pos, left_out=()) -> float:
        """1 for binomial/Poisson; gaussian: RSS / (n - df) at the returned estimate."""
        if family.fixed_dispersion:
            return 1.0
        df = n_pos - int(np.count_nonzero(params))
        if "yy" in s:  # gaussian identity: RSS from the summed sufficient statistics
            rss = s["yy"] - 2.0 * params @ s["xy"] + params @ s["gram_sum"] @ params
            rss = 0.0 if rss <= 1e-12 * s["yy"] else rss  # an exact fit, to rounding
        else:  # another link: one light pass for the residuals at the estimate
            t = engine.run(pearson_block, params, family=family,
                           fit_intercept=self.fit_intercept, skip=left_out,
                           label="dispersion pass")
            if "invalid_mean" in t.get("problems", {}):
                raise ValueError(
                    f"The estimate gives invalid means for the {family.link.name} link in "
                    f"row blocks {t['problems'].blocks['invalid_mean'][:10]}."
                )
            rss = t["pearson"]
        if df <= 0:
            warn(
                f"{n_pos} rows for {np.count_nonzero(params)} non-zero parameters: no "
                "residual degrees of freedom, the dispersion (and so the standard errors) "
                "cannot be estimated.", UserWarning,
            )
            return float("nan")
        if rss <= 0.0:
            warn(
                "The residual sum of squares is 0: y is an exact linear function of the "
                "columns (e.g. constant), the fit is exact and its standard errors are 0.",
                UserWarning,
            )
        return float(max(rss, 0.0) / df)

    _cov_type = "debiased lasso (approximate inverse information)"

    def _check_inference(self) -> None:
        check_is_fitted(self)
        if not hasattr(self, "cov_params_"):
            raise AttributeError(
                "method='naive' (the average of the blocks' penalised fits) has no valid "
                "standard errors; use method='debiased' (or 'naive_unregularized') for "
                "inference."
            )

    def predict(self, X, offset=None):
        """Predicted mean ``g^{-1}(X coef_ + intercept_ + offset)`` (lazy for dask input)."""
        return predict_mean(self, X, offset)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags


def _penalty_vector(value, n_features: int, name: str) -> np.ndarray:
    """A scalar or per-feature penalty as a checked float vector of length n_features."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(
            f"{name} must be a scalar or have one entry per feature ({n_features}); got "
            f"shape {np.shape(value)}."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative; got {value!r}.")
    return arr


def _check_block_rows(block_rows, min_rows: int, n_params: int, method: str) -> None:
    """Fail before the round when a block of known size is too small for its fit.

    Empty blocks are skipped, and blocks small enough to be left out of the estimate
    (:func:`min_block_rows` of the median block) are only reported after the round.
    """
    if any(math.isnan(rows) for rows in block_rows):
        return  # the blocks report their sizes in the round
    sizes = [int(rows) for rows in block_rows if rows > 0]
    if not sizes:
        return
    used_from = min_block_rows(float(np.median(sizes)), n_params)
    for k, rows in enumerate(block_rows):
        if 0 < rows < min_rows and rows >= used_from:
            need = (f"the {min_rows} parameters of its local maximum likelihood fit"
                    if method == "naive_unregularized" else "2 rows for a local fit")
            raise ValueError(
                f"Row block {k} has {int(rows)} rows but method={method!r} needs at least "
                f"{need}. Use fewer partitions (n_partitions, or rechunk the dask input "
                "into larger row blocks)."
            )
