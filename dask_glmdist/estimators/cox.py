"""Cox proportional hazards regression by distributed least squares approximation.

Round 1 -- every row block k fits the Cox partial likelihood of its own rows (its own
risk sets; stratified by ``strata`` within it) and returns its estimate theta_k and
the observed information I_k there. The master combines them into the weighted least
squares estimate (Zhu, Li & Wang 2021, eq. 2.2)

    theta~ = (sum_k I_k)^{-1} sum_k I_k theta_k.

Refinement -- ``refine_steps`` Newton rounds on the *block-stratified* partial
likelihood (every block a stratum; with ``strata``, every (block, stratum)): broadcast
theta, every block returns its score U_k(theta) and information I_k(theta), and
theta <- theta + (sum_k I_k)^{-1} sum_k U_k. Converged, this is the maximum partial
likelihood estimate of that stratified model (statsmodels' ``PHReg(strata=block)``).

Final round -- at the estimate, the blocks return the log partial likelihood, the
information (the covariance is its inverse) and their risk sums at the pooled event
times, from which Breslow's baseline cumulative hazard is H0(t) = sum_{s <= t} d_s /
S0(s), d_s the weighted events at s and S0(s) the sum of w exp((x - xbar)'beta + offset)
over the rows at risk at s in all blocks (per stratum label with ``strata``): the
baseline at the pooled weighted mean covariates xbar (summed in round 1), as lifelines
and R's ``basehaz(centered=TRUE)`` report it.

Blocks without a usable local estimate -- no events (they contribute nothing to the
partial likelihood), fewer events than the parameters they inform, a local estimate
that runs off to infinity (monotone likelihood), collinear columns, a fit that did not
converge -- are left out of the one-round combination, with one warning per kind
naming them; the refinement rounds use every block's rows.
"""

from __future__ import annotations

import logging
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from .._progress import report, shows_progress
from ..diagnostics import INFINITE, BlockReport, ParamFlag, SeparationWarning, short_list, warn
from ..inference import standard_errors
from ..linalg import PSDFactor
from ..rounds import RoundEngine
from ..solvers import cox_blocks as cb
from ..solvers.cox import newton_decrement, runaway_parts
from ..solvers.design_checks import check_identified
from ._cox_data import VECTORS, cox_blocks
from ._cox_predict import CoxPredictMixin, baseline_frame

logger = logging.getLogger("dask_glmdist")

__all__ = ["DLSACoxRegression"]

#: a refinement that has not converged warns when its last step exceeds this many
#: standard errors (as DLSA's)
REFINE_WARN_SE = 1.0

_LEFT_OUT = {
    cb.MONOTONE: "its local estimate runs off to infinity along {columns} (monotone "
                 "likelihood: e.g. a covariate whose highest value always fails first)",
    cb.FEW_EVENTS: "it has fewer events than the parameters it informs",
    cb.SINGULAR: "its columns are collinear within the block (singular information)",
    cb.NOT_CONVERGED: "its local Newton fit did not converge in max_iter iterations",
}


class DLSACoxRegression(CoxPredictMixin, BaseEstimator):
    """Cox proportional hazards regression by distributed least squares approximation.

    Every row block fits the Cox partial likelihood of its own rows (its own risk
    sets); the local estimates are combined in one round by their observed
    information (Zhu, Li & Wang 2021, eq. 2.2)::

        theta~ = (sum_k I_k)^{-1} sum_k I_k theta_k

    and ``refine_steps`` Newton rounds move it to the maximum of the
    *block-stratified* partial likelihood -- the sum over blocks of each block's log
    partial likelihood, every block a stratum (with ``strata``, every (block, stratum)
    pair) -- which, converged, is statsmodels' ``PHReg(..., strata=block)``. The
    objective is that log partial likelihood, summed (not averaged) over the events,
    with prior weights; ties by Efron's or Breslow's method. There is no intercept:
    the baseline hazard takes its place (Breslow's estimator over all blocks).

    When the blocks are random pieces of one population, both estimate the common
    beta; the block-stratified estimate loses the comparisons between rows of
    different blocks in the risk sets, so it differs from the unstratified global Cox
    fit by a sampling-level amount (efficient only asymptotically). When the blocks
    are centres (hospitals), the block-stratified model -- a baseline hazard per
    centre -- is the right one. See docs/cox.md.

    Parameters
    ----------
    ties : {"efron", "breslow"}, default="efron"
        How tied event times enter the partial likelihood (lifelines' and R's default
        is Efron's; statsmodels' is Breslow's).
    refine_steps : int, default=1
        Newton rounds on the block-stratified partial likelihood after the one-round
        combination, each one pass over the data; they stop early once a step is
        below ``tol`` standard errors. 0 is the one-round DLSA estimate.
    tol : float, default=1e-8
        Convergence tolerance of the local fits and of the refinement rounds, in
        standard errors (free of the covariates' units): a Newton step whose length
        sqrt(U' I^-1 U) (which bounds every ``|step_j| / se_j``) is at most ``tol`` ends
        them.
    max_iter : int, default=100
        Maximum Newton iterations of each block's local fit.
    n_partitions : int, default=None
        Number of row blocks for in-memory (NumPy/pandas) input; ``None`` means one
        per available core, but no blocks smaller than 20 rows per parameter. Dask
        input keeps its own row chunks (a dask DataFrame: its partitions).
    split_every : int, default=8
        Fan-in of the tree reduction of block summaries.
    verbose : int, default=0
        If positive, show the fit's progress on stderr (one display: which round it
        is on, the last refinement step).
    formula : str, default=None
        The covariates as the right-hand side of a Wilkinson formula, e.g.
        ``"fin + age + C(race)"`` (a leading ``~`` accepted), evaluated on the DataFrame
        given to ``fit``; the durations, events, strata ... are given to ``fit`` (as
        lifelines' ``formula=``), and a left-hand side is refused. Categorical terms are
        coded against a reference level, with the levels of all partitions (as every
        estimator's formula, docs/index.md); the intercept is left out (the baseline
        hazard takes its place). Without a formula, string and categorical columns of
        a DataFrame are encoded the same way. The design is ``design_``.
    missing : {"raise", "drop"}, default="raise"
        Rows with a missing value in a covariate, the durations, events, weights,
        entry times, offset or strata: ``"raise"`` stops the fit naming the columns and
        counts (for dask input in the first pass); ``"drop"`` drops those rows
        (``n_obs_`` counts the rest, ``n_dropped_`` the dropped).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Log hazard ratios.
    params_ : ndarray of shape (n_features,)
        The same as ``coef_`` (no intercept): the order of ``cov_params_``, ``bse_``
        and ``summary()``.
    intercept_ : float
        Always 0.0: a Cox model has no intercept (the baseline hazard takes its place).
    cov_params_ : ndarray of shape (n_features, n_features)
        Inverse of the block-stratified observed information at the estimate.
    bse_ : ndarray of shape (n_features,)
        Standard errors.
    param_flags_ : dict of str to ParamFlag
        Coefficients whose estimate does not exist: ``"infinite"`` when the partial
        likelihood of all the data is monotone along them (the rounds' coefficient is
        kept; ``bse_`` and their row and column of ``cov_params_`` are NaN, and the
        summary explains them). Empty otherwise.
    baseline_mean_ : ndarray of shape (n_features,)
        The covariates at which the baseline hazard is reported and from which the
        partial hazards are measured: the weighted mean of the fitted rows (R's
        ``coxph`` ``means``; lifelines centres at the unweighted mean, the same without
        weights).
    baseline_cumulative_hazard_ : pandas.DataFrame
        Breslow's baseline cumulative hazard at the covariates ``baseline_mean_`` (and
        offset 0), indexed by the distinct event times of all blocks: one column
        ``"baseline cumulative hazard"``, or one column per stratum label with ``strata``
        (forward-filled on the union of the strata's event times, 0 before a stratum's
        first event).
    baseline_hazard_ : pandas.DataFrame
        Its increments at the event times (d / S0).
    loglik_ : float
        The block-stratified log partial likelihood at the estimate (for one block,
        the ordinary log partial likelihood: lifelines' ``log_likelihood_``).
    null_loglik_ : float
        The same at ``coef_ = 0``.
    deviance_ : float
        ``-2 loglik_`` (R's ``coxph`` reports the log partial likelihood only).
    null_deviance_ : float
        ``-2 null_loglik_``.
    aic_ : float
        ``-2 loglik_ + 2 n_features`` (R's ``AIC(coxph)``, lifelines' ``AIC_partial_``).
    bic_ : float
        ``-2 loglik_ + log(n_events_) n_features`` (R's ``BIC(coxph)``: its ``nobs``
        is the number of events).
    dispersion_ : float
        Always 1.0 (the partial likelihood has no dispersion).
    n_obs_ : int
        Rows with positive weight (after ``missing="drop"``).
    n_events_ : float
        Weighted number of events.
    n_dropped_ : int
        Rows dropped for a missing value (``missing="drop"``).
    df_resid_ : int
        ``n_obs_ - n_features``.
    n_blocks_ : int
        Number of row blocks.
    wlse_blocks_ : ndarray of int
        The blocks in the one-round combination.
    block_diagnostics_ : pandas.DataFrame
        One row per (row block, problem): ``block``, ``problem`` ("no_events",
        "monotone", "few_events", "singular", "not_converged", "zero_weight",
        "constant_columns", "empty"), ``columns``, ``detail``.
    n_iter_ : int
        The one-round combination plus one per refinement step.
    n_rounds_ : int
        Passes over the data: the local fits, the refinement rounds and the final
        pass (likelihood, information and baseline at the estimate).
    converged_ : bool
        False when a block's local fit did not converge, the refinement stopped with
        a last step over one standard error, or a coefficient runs off (or may run
        off) to infinity (all warn).
    refine_step_sizes_ : ndarray
        ``max |step|`` of each refinement round.
    refine_step_se_ : ndarray
        ``max |step_j| / se_j`` of each refinement round (the first one: how far, in
        standard errors, the one-round estimate was).
    n_features_in_ : int
        Number of covariates seen in ``fit``.
    feature_names_in_ : ndarray of str
        The covariate names, when X is a DataFrame (the columns named by
        ``durations=``, ``event=`` ... excluded); through a design (a formula, or
        string/categorical columns), every column of the frame, as the other estimators
        (the coefficients are then named by ``design_.column_names``: ``C(race)[T.1]``).
    design_ : Design
        How frame rows become covariate rows, when fitted through a formula or with
        string/categorical columns (:mod:`dask_glmdist.design`); predictions on a new
        frame go through it (an unseen level is an error).

    See Also
    --------
    DLSARegressor : DLSA for generalised linear models.

    References
    ----------
    Zhu, X., Li, F. and Wang, H. (2021). Least-square approximation for a distributed
    system. Journal of Computational and Graphical Statistics 30(4), 1004-1018.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import DLSACoxRegression
    >>> rng = np.random.default_rng(2)
    >>> X = rng.normal(size=(4000, 2))
    >>> t = rng.exponential(1 / np.exp(X @ [0.7, -0.4]))
    >>> c = rng.exponential(2.0, size=4000)
    >>> model = DLSACoxRegression(n_partitions=4).fit(X, np.minimum(t, c), t <= c)
    >>> model.coef_.round(1)
    array([ 0.7, -0.4])
    >>> model.refine_step_se_.round(3)  # how far (in se) the one-round estimate was
    array([0.005])
    >>> list(model.summary().columns)[:3]
    ['coef', 'exp(coef)', 'std_err']
    >>> model.predict_survival_function(X[:2], times=[0.5]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {
        "ties": [StrOptions({"efron", "breslow"})],
        "refine_steps": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
        "formula": [None, str],
        "missing": [StrOptions({"raise", "drop"})],
    }

    def __init__(self, *, ties="efron", refine_steps=1, tol=1e-8, max_iter=100,
                 n_partitions=None, split_every=8, verbose=0, formula=None, missing="raise"):
        self.ties = ties
        self.refine_steps = refine_steps
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=lambda est: 2 + est.refine_steps)
    def fit(self, X, durations=None, event=None, sample_weight=None, strata=None, entry=None,
            offset=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
            Covariates (with a DataFrame, the columns not named by the arguments below;
            with ``formula``, the frame the formula reads).
        durations : array-like, dask Series/array of shape (n_samples,) or str
            Follow-up time of every row (>= 0): the event time, or the censoring time.
            With a DataFrame ``X``, may be the name of one of its columns (as may all
            the arguments below).
        event : array-like of shape (n_samples,) or str, default=None
            1 (True) where the row's event was observed, 0 where it was censored;
            None: every row is an event.
        sample_weight : array-like of shape (n_samples,) or str, default=None
            Prior (case) weights; rows of weight 0 count nowhere.
        strata : array-like of shape (n_samples,) or str, default=None
            Stratum labels: a baseline hazard per label (risk sets within a stratum).
            The blocks are strata in any case; with ``strata`` the risk sets are those
            of each (block, stratum).
        entry : array-like of shape (n_samples,) or str, default=None
            Left-truncation (delayed entry) times: a row is at risk at t when
            ``entry < t <= duration``.
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (its coefficient fixed at 1).

        Returns
        -------
        self
        """
        start = time.perf_counter()
        given = dict(zip(VECTORS, (durations, event, sample_weight, strata, entry, offset),
                         strict=True))
        data, names, dropped = cox_blocks(self, X, given, n_partitions=self.n_partitions)
        self._has_strata = strata is not None
        engine = RoundEngine(data, split_every=self.split_every)
        settings = dict(ties=self.ties, names=names, missing=self.missing)
        s = engine.run(cb.cox_local_block, tol=self.tol, max_iter=self.max_iter,
                       label="Cox local fits", **settings)
        s.problems.raise_if_any()
        self._check_first_round(s, names, data.n_blocks, dropped)
        theta = self._combine(s, names)
        theta = self._refine(engine, theta, settings, names)
        times = {k: v[0][0] for k, v in s.events.items()}
        self.baseline_mean_ = np.asarray(s.x_sum, dtype=np.float64) / s.w_sum
        f = engine.run(cb.cox_sums_block, theta, times, self.baseline_mean_,
                       label="Cox baseline", **settings)
        f.problems.raise_if_any()
        self._set_estimate(theta, f, s, engine)
        report(step=None)
        logger.info("Cox DLSA fit: %d rows, %d blocks, %d round(s), %.2f s", self.n_obs_,
                    self.n_blocks_, self.n_rounds_, time.perf_counter() - start)
        return self

    # ----------------------------------------------------------------------------------
    # the rounds
    # ----------------------------------------------------------------------------------

    def _check_first_round(self, s, names, n_blocks, dropped) -> None:
        """Counts, blocks and columns after round 1; errors for data with nothing to fit."""
        self.n_blocks_ = n_blocks
        self.n_obs_ = int(s.n)
        self.n_dropped_ = int(s.n_dropped) + int(dropped)
        self.n_events_ = float(s.n_events)
        if self.n_obs_ == 0:
            raise ValueError("All sample weights are zero: no row carries any weight, so "
                             "there is nothing to fit.")
        if self.n_events_ == 0:
            raise ValueError("There are no events (event is 0 in every row): the partial "
                             "likelihood is constant and no coefficient is estimable.")
        never = [names[j] for j in np.flatnonzero(np.asarray(s.informative) == 0)]
        if never:
            where = "(and stratum) " if self._has_strata else ""
            raise ValueError(
                f"Covariate(s) {short_list(never)} are constant within every row block "
                f"{where}(among the rows at risk at each of its event times): the "
                "block-stratified partial likelihood does not depend on them, so they are "
                "not estimable. Drop "
                "them (a covariate that only differs between blocks, such as a centre's "
                "own characteristic, is absorbed by the blocks' baseline hazards)."
            )
        gram = np.pad(np.asarray(s.information_null, dtype=np.float64), ((1, 0), (1, 0)))
        check_identified(gram, names, False, type(self).__name__, remedy=(
            "Within the risk sets (the partial likelihood's comparisons) these columns "
            "are linear combinations of others, so their coefficients are not unique. "
            "Remove the redundant columns (or formula terms)."))
        self._records = sorted(s.blocks, key=lambda r: r["index"])
        self._report_blocks(self._records, s.empty_blocks, names)
        self.null_loglik_ = float(s.loglik_null)

    def _combine(self, s, names) -> np.ndarray:
        """The one-round WLSE over the blocks with a usable local estimate."""
        used = [r["index"] for r in self._records if r["status"] == cb.USED]
        self.wlse_blocks_ = np.asarray(used, dtype=int)
        factor = PSDFactor(s.information)
        self._wlse_information = np.asarray(s.information)
        if factor.full_rank:
            return factor.solve(s.information_theta)
        blank = [names[j] for j in range(len(names))
                 if not np.any(np.abs(factor.null_space[j]) > 1e-8)] if used else names
        uninformed = [names[j] for j in range(len(names))
                      if np.any(np.abs(factor.null_space[j]) > 1e-8)]
        if self.refine_steps == 0:
            raise ValueError(
                "The one-round estimate does not exist: the blocks with a usable local "
                f"fit ({short_list(used) if used else 'none'}) carry no information on "
                f"{short_list(uninformed or blank)}. Use refine_steps >= 1 (Newton rounds "
                "on every block's rows), or fewer, larger blocks."
            )
        if not used:
            warn("No row block has a usable local fit (see the warning above): the "
                 "refinement rounds start from 0.", UserWarning)
        else:
            warn(
                "The blocks with a usable local fit carry no information on "
                f"{short_list(uninformed or blank)}: the refinement rounds start from 0 in "
                "those directions.", UserWarning)
        return factor.solve(s.information_theta)

    def _refine(self, engine, theta, settings, names) -> np.ndarray:
        """Newton rounds on the block-stratified partial likelihood (halving a step
        whose likelihood fell, in the next round)."""
        sizes, ses = [], []
        self._refined, last_step, last_se = False, None, None
        self._ll_change = None
        prev = None
        for i in range(self.refine_steps):
            c = engine.run(cb.cox_sums_block, theta, label=f"Cox refinement {i + 1}",
                           **settings)
            c.problems.raise_if_any()
            if prev is not None and c.loglik < prev[1] - 1e-9 * (1.0 + abs(prev[1])):
                theta = 0.5 * (prev[0] + theta)  # the step overshot: halve it
                sizes.append(float(np.max(np.abs(theta - prev[0]))))
                ses.append(float("nan"))
                continue
            if prev is not None:
                self._ll_change = abs(c.loglik - prev[1])
            factor = PSDFactor(c.information)
            step = factor.solve(c.score)
            se = standard_errors(factor.inverse())
            prev = (theta, c.loglik)
            theta = theta + step
            sizes.append(float(np.max(np.abs(step))))
            with np.errstate(divide="ignore", invalid="ignore"):
                in_se = np.where(se > 0, np.abs(step) / se, 0.0)
            ses.append(float(np.max(in_se)))
            last_step, last_se = step, in_se
            report(step=sizes[-1])
            if newton_decrement(c.score, step) <= self.tol:  # in SEs: free of units
                self._refined = True
                break
        self.refine_step_sizes_ = np.asarray(sizes)
        self.refine_step_se_ = np.asarray(ses)
        self._settled = self.refine_steps == 0 or self._refined or (
            last_se is not None and not self._warn_unconverged(names, last_step, last_se))
        return theta

    def _warn_unconverged(self, names, step, in_se) -> bool:
        j = int(np.argmax(in_se))
        if in_se[j] <= REFINE_WARN_SE:
            return False
        warn(
            f"The refinement has not converged after refine_steps={self.refine_steps} "
            f"round(s): its last step changed {names[j]} by {step[j]:.3g}, "
            f"{in_se[j]:.2f} standard errors (refine_step_sizes_, refine_step_se_). "
            "Increase refine_steps (the rounds stop once converged). Steps that do not "
            "shrink can also mean a coefficient that runs off to infinity (monotone "
            "likelihood in all of the data).",
            ConvergenceWarning,
        )
        return True

    def _set_estimate(self, theta, f, s, engine) -> None:
        """Coefficients, covariance, likelihood statistics and baseline at the estimate."""
        p = theta.shape[0]
        factor = PSDFactor(f.information)
        self.params_ = np.asarray(theta, dtype=np.float64)
        self.coef_ = self.params_.copy()
        self.intercept_ = 0.0
        cov = factor.inverse()
        self.cov_params_ = 0.5 * (cov + cov.T)
        self.bse_ = standard_errors(self.cov_params_)
        infinite, suspect = self._runaway(theta, f, s)
        self._set_param_flags({self._param_names()[j]: ParamFlag(INFINITE, (
            f"the maximum partial likelihood estimate is {'+' if theta[j] > 0 else '-'}inf "
            "(monotone likelihood); no estimate or standard error"),
            int(np.sign(theta[j]))) for j in infinite})
        self.loglik_ = float(f.loglik)
        self.deviance_ = -2.0 * self.loglik_
        self.null_deviance_ = -2.0 * self.null_loglik_
        self.aic_ = self.deviance_ + 2.0 * p
        self.bic_ = self.deviance_ + np.log(max(self.n_events_, 1.0)) * p
        self.dispersion_ = 1.0
        self.df_resid_ = self.n_obs_ - p
        self.n_iter_ = 1 + len(self.refine_step_sizes_)
        self.n_rounds_ = engine.count
        local_ok = all(r.get("status") != cb.NOT_CONVERGED for r in self._records)
        self.converged_ = bool(local_ok and self._settled and not infinite and not suspect)
        events = {k: v[0] for k, v in s.events.items()}
        self._baseline = {k: (t, np.cumsum(d / f.risk[k])) for k, (t, d) in events.items()}
        self.baseline_cumulative_hazard_, self.baseline_hazard_ = baseline_frame(
            events, f.risk, self._has_strata)

    def _runaway(self, theta, f, s) -> tuple[list, list]:
        """Coordinates running off to infinity in all of the data (monotone likelihood),
        judged at the final estimate by the local fits' rule
        (:func:`~dask_glmdist.solvers.cox.fit_cox_local`): beyond 5 per covariate scale
        (sqrt of the information at 0 per event), and either without information left
        (below 1e-8 of that at 0) or, the log-likelihood having stopped changing, with a
        next Newton step still large relative to the coefficient (R's ``coxph``). Both
        warn; the first are flagged infinite, the second (``suspect``: a refinement that
        has not converged, with the information already below 1e-4 of that at 0) only
        make ``converged_`` False."""
        if self.refine_steps == 0:
            return [], []
        names = self._param_names()
        info0 = np.maximum(np.diag(np.asarray(s.information_null, dtype=np.float64)), 0.0)
        scale = np.sqrt(info0 / max(self.n_events_, 1e-300))
        big, moving, flat = runaway_parts(np.diag(f.information), info0,
                                          PSDFactor(f.information).solve(f.score), theta,
                                          scale, self.tol)
        ll_flat = self._ll_change is not None and self._ll_change <= max(self.tol, 1e-9) * max(
            abs(f.loglik), 1.0)
        infinite = np.flatnonzero(big & (flat | (ll_flat & moving))).tolist()
        ratio = np.diag(f.information) / np.where(info0 > 0, info0, np.inf)
        suspect = np.flatnonzero(big & (ratio < 1e-4) & ~self._refined).tolist()
        suspect = [j for j in suspect if j not in infinite]
        if infinite:
            cols = [f"{names[j]} ({'+' if theta[j] > 0 else '-'}inf)" for j in infinite]
            warn(
                f"The partial likelihood is monotone in all of the data: the estimate of "
                f"{short_list(cols)} runs off to infinity (e.g. a binary covariate with no "
                "event in one of its groups). The coefficient is where the rounds stopped, "
                "without a standard error (param_flags_); drop or recode the covariate, "
                "or use a penalised fit.", SeparationWarning)
        if suspect:
            warn(
                f"The estimate of {short_list([names[j] for j in suspect])} may run off to "
                "infinity (monotone likelihood): the refinement has not converged and the "
                "information along it has nearly vanished. Increase refine_steps to "
                "decide.", ConvergenceWarning)
        return infinite, suspect

    def _report_blocks(self, records, empty, names) -> None:
        """One warning per kind of block problem; the detail in ``block_diagnostics_``."""
        rep = BlockReport()
        for k in empty:
            rep.add("empty", k, detail="no rows: skipped")
        for r in records:
            k, status = r["index"], r["status"]
            free = set(r.get("informative", range(len(names))))
            constant = [names[j] for j in range(len(names)) if j not in free]
            if constant and status not in (cb.NO_WEIGHT, cb.NO_EVENTS):
                rep.add("constant_columns", k, constant, "constant in every risk set of the "
                        "block: no information on them from it")
            if status == cb.NO_WEIGHT:
                rep.add(status, k, detail="every sample weight is zero: skipped")
            elif status == cb.NO_EVENTS:
                rep.add(status, k, detail="no events: contributes nothing to the partial "
                        "likelihood (its rows are in the baseline's risk sets)")
            elif status in _LEFT_OUT:
                cols = [names[j] for j in r.get("infinite", [])]
                rep.add(status, k, cols, _LEFT_OUT[status].format(columns=short_list(cols)))
        then = ("the refinement rounds use every block's rows" if self.refine_steps else
                "with refine_steps=0 the estimate rests on the other blocks only")
        left_out = (f"Row block(s) {{blocks}} were left out of the one-round combination "
                    f"({{detail}}); {then}. Details in block_diagnostics_.")
        rep.emit({
            cb.NO_EVENTS: (UserWarning, (
                "Row block(s) {blocks} have no events: they contribute nothing to the "
                "partial likelihood (their rows still count in the baseline hazard's "
                "risk sets).")),
            **{kind: (ConvergenceWarning if kind == cb.NOT_CONVERGED else UserWarning,
                      left_out) for kind in _LEFT_OUT},
        })
        self.block_diagnostics_ = rep.frame()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.positive_only = True
        return tags
