"""Distributed least squares approximation (DLSA; Zhu, Li & Wang, 2021).

Round 1 -- each row block k fits its own GLM and returns its local estimate theta_k,
its local (unscaled) information A_k at theta_k, and a few scalars. The master
combines them into the weighted least squares estimate (WLSE, eq. 2.2)

    theta~ = (sum_k A_k)^{-1} sum_k A_k theta_k,        cov(theta~) = phi (sum_k A_k)^{-1}.

Refinement (TDLSA / m-step, Section 2.3 of the paper) -- broadcast theta; each block
returns its score U_k(theta) and information A_k(theta); the master takes the global
Fisher-scoring step theta <- theta + (sum A_k)^{-1} sum U_k. After a few steps this
is the global maximum likelihood estimate.

Shrinkage (SDLSA) -- the adaptive lasso on the quadratic approximation with the
intercept profiled out, the whole path by LARS and lambda chosen by the distributed
BIC; see :mod:`dask_glmdist.selection`.

Dispersion (gaussian, gamma, inverse gaussian): Pearson's chi^2 / (N - p), where chi^2
at theta~ comes from the same quadratic approximation,
chi^2(theta~) ~= sum_k [chi^2_k(theta_k) + (theta~ - theta_k)^T A_k (theta~ - theta_k)],
exact for the gaussian identity model and for one block.

Blocks whose local MLE does not exist (separation, an all-zero/all-one response) are
refitted with the Jeffreys-penalised likelihood, whose estimate is finite; blocks in
which a column is constant have a singular A_k, which the combination handles
exactly (A_k theta_k does not depend on the unidentified direction). Both are
reported with a warning naming the blocks; no block is ever dropped.
"""

from __future__ import annotations

import logging
import time
import warnings
from numbers import Integral, Real

import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets

from .._array import get_namespace, to_host
from .._blocks import (
    check_block,
    check_block_sizes,
    is_dask_collection,
    map_reduce,
    problem_blocks,
    raise_for_problems,
)
from .._progress import report, shows_progress
from ..families import Binomial, Family, get_family
from ..inference import standard_errors
from ..linalg import PSDFactor
from ..selection import adaptive_lasso_path, oracle_covariance
from ..solvers.local import evaluate, fit_local
from ._base import (
    BinaryClassifierMixin,
    DevianceScoreMixin,
    GLMInferenceMixin,
    linear_predictor,
    mean_from_linear_predictor,
    positive_only_family,
    prepare_blocks,
)

logger = logging.getLogger("dask_glmdist")

__all__ = ["DLSARegressor", "DLSALogisticRegression"]


# --------------------------------------------------------------------------------------
# block functions (pure, module level: they run on the workers)
# --------------------------------------------------------------------------------------


INFER_LABELS = "infer"


def _block_labels(y) -> tuple[list, bool]:
    """The distinct labels of a block, and whether they are all 0/1 (or booleans)."""
    if isinstance(y, np.ndarray):
        labels = np.unique(y)
    else:
        xp = get_namespace(y)
        labels = to_host(xp.unique_values(y))
    binary01 = labels.dtype.kind in "biuf" and bool(np.isin(labels, [0, 1]).all())
    return list(labels), binary01


def _response(X, y, m, classes):
    """The block's response (0/1 for the positive class when ``classes`` is given)."""
    xp = get_namespace(X)
    if classes is not None:
        if isinstance(y, np.ndarray) and y.dtype == object:
            y = np.asarray(y == classes[1], dtype=np.float64)
        else:
            y = xp.astype(y == classes[1], X.dtype)
    elif y.dtype != X.dtype:
        y = xp.astype(y, X.dtype)
    if m is not None and m.dtype != X.dtype:
        m = xp.astype(m, X.dtype)
    return y, m


def uninformative_columns(A: np.ndarray, fit_intercept: bool) -> list[int]:
    """Feature indices with no (weighted) variation in a block, read off its information."""
    d = np.diag(A)
    if fit_intercept:
        if A[0, 0] <= 0:
            return list(range(A.shape[0] - 1))
        mean = A[0, 1:] / A[0, 0]
        second = d[1:] / A[0, 0]
        var = second - mean**2
        return [int(j) for j in np.flatnonzero(var <= 1e-10 * np.maximum(second, 1e-300))]
    return [int(j) for j in np.flatnonzero(d <= 0)]


def dlsa_local_block(X, y, m, family, fit_intercept, tol, max_iter, classes, *, block_index):
    """Round 1 on one block: validate it, fit the local GLM, return the WLSE pieces."""
    n = int(X.shape[0])
    record = {"index": block_index, "n": n}
    labels = {}
    if isinstance(classes, str) and classes == INFER_LABELS:
        # classifier on dask y whose classes are not known yet: report the labels; fit
        # right away when they are 0/1 (the common case), else wait for a second pass
        seen, binary01 = _block_labels(y)
        labels = {"labels": seen}
        if not binary01:
            return {"n": n, "blocks": [record], **labels}
        classes = None
    if y is not None and y.shape[0] == n:
        y, m = _response(X, y, m, classes)
    n_params = int(X.shape[1]) + int(fit_intercept)
    problems = check_block(X, y, m, family=family, n_params=n_params)
    if problems:
        record["problems"] = sorted(problems)
        return {"n": n, "problems": problems, "blocks": [record], **labels}
    fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
    if not fit.mle_exists:
        record["fallback"] = fit.message
        fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol,
                        max_iter=max_iter, jeffreys_power=0.5)
    record.update(n_iter=fit.n_iter, converged=fit.converged)
    if fit.weight_spread > 1e10:
        record["problems"] = ["boundary_mean"]
        return {"n": n, "problems": {"boundary_mean": 1}, "blocks": [record], **labels}
    if fit.rank < n_params:
        record["uninformative"] = uninformative_columns(fit.information, fit_intercept)
        record["rank"] = fit.rank
    if not fit.converged and "fallback" not in record:
        record["message"] = fit.message
    At = fit.information @ fit.theta
    return {
        "n": n,
        "information": fit.information,
        "information_theta": At,
        "theta_information_theta": float(fit.theta @ At),
        "pearson": fit.pearson,
        "deviance": fit.deviance,
        "blocks": [record],
        **labels,
    }


def glm_score_block(X, y, m, theta, family, fit_intercept, classes, *, block_index):
    """A refinement round on one block: score, information, deviance and Pearson chi^2."""
    n = int(X.shape[0])
    y, m = _response(X, y, m, classes)
    state = evaluate(X, y, m, theta, family, fit_intercept)
    if state is None:
        return {"n": n, "problems": {"invalid_mean": 1}, "blocks": [{"index": block_index}]}
    return {
        "n": n,
        "score": state.score,
        "information": state.information,
        "pearson": state.pearson,
        "deviance": state.deviance,
    }


# --------------------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------------------


class _DLSABase(GLMInferenceMixin, BaseEstimator):
    """Fitting logic shared by the DLSA regressor and classifier."""

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "refine_steps": [Interval(Integral, 0, None, closed="left")],
        "penalty": [None, StrOptions({"adaptive_lasso"})],
        "lars_method": [StrOptions({"lasso", "lar"})],
        "criterion": [StrOptions({"dbic", "daic"})],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
    }

    def _local_fits(self, data, family, classes):
        """Round 1: every block's local fit, combined."""
        return map_reduce(
            dlsa_local_block, data, family, self.fit_intercept, self.tol, self.max_iter,
            classes, split_every=self.split_every, label="DLSA local fits",
            progress=bool(self.verbose),
        )

    def _fit_blocks(self, data, family, classes):
        start = time.perf_counter()
        fi = self.fit_intercept
        progress = bool(self.verbose)
        s = self._local_fits(data, family, classes)
        if isinstance(classes, str):  # labels were inferred in the pass
            classes = self.classes_
        records = sorted(s.get("blocks", []), key=lambda r: r["index"])
        raise_for_problems(s.get("problems", {}), problem_blocks(records))
        n_obs = int(s["n"])
        if n_obs == 0:
            raise ValueError("Found array with 0 sample(s); at least one row is required.")
        self._warn_about_blocks(records)
        n_params = data.n_features + int(fi)
        A = s["information"]
        factor = PSDFactor(A)
        self._check_identified(factor, A)
        theta = factor.solve(s["information_theta"])
        pearson = s["pearson"] + s["theta_information_theta"] - float(theta @ A @ theta)
        self.n_blocks_ = len(records)
        self.local_n_iter_ = np.array([r.get("n_iter", 0) for r in records])
        self.converged_ = bool(all(r.get("converged", False) for r in records))
        self.n_iter_ = 1
        self.refine_step_sizes_ = []
        deviance = None
        step = None
        rounds = 0
        while rounds < self.refine_steps:
            r = map_reduce(
                glm_score_block, data, theta, family, fi, classes,
                split_every=self.split_every, label="DLSA refinement", progress=progress,
            )
            self.n_iter_ += 1
            if "invalid_mean" in r.get("problems", {}):
                if step is None or self.n_iter_ > self.refine_steps + 60:
                    raise ValueError(
                        f"The {family.name} model's mean leaves its range (e.g. a negative "
                        f"mean under the {family.link.name} link) in some rows at the "
                        "combined estimate; use a link whose mean is always valid (e.g. "
                        "'log') or refine_steps=0."
                    )
                step = 0.5 * step  # halve the last step: one more round, not a new step
                theta = theta - step
                continue
            rounds += 1
            raise_for_problems(r.get("problems", {}))
            A = r["information"]
            factor = PSDFactor(A)
            step = factor.solve(r["score"])
            theta = theta + step
            pearson = r["pearson"] - float(r["score"] @ step)
            deviance = r["deviance"]
            size = float(np.max(np.abs(step)))
            self.refine_step_sizes_.append(size)
            report(step=size)
            if size <= self.tol * (1.0 + np.max(np.abs(theta))):
                break
        self.refine_step_sizes_ = np.asarray(self.refine_step_sizes_)
        if family.fixed_scale:
            scale = 1.0
        else:
            scale = max(pearson, 0.0) / max(n_obs - n_params, 1)
        self.scale_ = float(scale)
        self.n_obs_ = n_obs
        self.deviance_ = deviance
        information = A / scale if scale > 0 else A
        self._set_estimate(theta, factor.inverse() * scale, information, n_obs)
        logger.info("DLSA fit: %d rows, %d blocks, %d round(s), %.2f s",
                    n_obs, self.n_blocks_, self.n_iter_, time.perf_counter() - start)
        return self

    def _check_identified(self, factor: PSDFactor, A) -> None:
        if factor.full_rank:
            return
        names = self._param_names()
        loads = np.abs(factor.null_space).max(axis=1)
        bad = [names[i] for i in np.flatnonzero(loads > 1e-3)]
        raise ValueError(
            "The combined information over all blocks is singular: parameters "
            f"{bad} are not identified (a column constant everywhere, or collinear columns). "
            "Remove the redundant columns."
        )

    def _warn_about_blocks(self, records) -> None:
        names = self._param_names()[int(self.fit_intercept):]
        fallback = [r["index"] for r in records if "fallback" in r]
        if fallback:
            warnings.warn(
                f"Row block(s) {fallback}: the local maximum likelihood estimate does not "
                "exist (separation, or a response at the boundary of its range). Used the "
                "finite Jeffreys-penalised (Firth) local estimate for those blocks instead.",
                UserWarning,
                stacklevel=5,
            )
        for r in records:
            if "uninformative" in r:
                cols = [names[j] for j in r["uninformative"]]
                detail = f"columns {cols} are constant" if cols else "columns are collinear"
                warnings.warn(
                    f"Row block {r['index']}: {detail} within the block, so its local "
                    "estimate is not identified in those directions; the block contributes "
                    "no information on them and full information on the rest.",
                    UserWarning,
                    stacklevel=5,
                )
        unconverged = [r["index"] for r in records if "message" in r]
        if unconverged:
            warnings.warn(
                f"Local fits of row block(s) {unconverged} did not converge in "
                f"max_iter={self.max_iter} iterations; increase max_iter.",
                ConvergenceWarning,
                stacklevel=5,
            )

    def _set_estimate(self, theta, cov, information, n_obs) -> None:
        fi = self.fit_intercept
        if self.penalty == "adaptive_lasso":
            path = adaptive_lasso_path(
                theta, information, n_obs, fit_intercept=fi,
                method=self.lars_method, criterion=self.criterion,
            )
            self.wlse_intercept_ = float(theta[0]) if fi else 0.0
            self.wlse_coef_ = theta[int(fi):].copy()
            self.wlse_cov_params_ = cov
            self.alphas_ = path.alphas
            self.coef_path_ = path.coef_path[:, int(fi):].T
            self.intercept_path_ = path.coef_path[:, 0] if fi else np.zeros(len(path.alphas))
            self.criterion_path_ = path.criterion
            self.alpha_ = float(path.alphas[path.best_index])
            self.selection_path_ = path
            theta = path.coef_path[path.best_index].copy()
            selected = theta != 0
            if fi:
                selected[0] = True
            cov = oracle_covariance(information, selected)
        self.params_ = np.asarray(theta, dtype=float)
        self.cov_params_ = 0.5 * (cov + cov.T)
        self.bse_ = standard_errors(self.cov_params_)
        self._set_coef(theta)

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].copy()
        self.intercept_ = float(theta[0]) if fi else 0.0


_DLSA_PARAMS_DOC = """
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    refine_steps : int, default=0
        Number of global Fisher-scoring rounds after the one-shot WLSE: 0 is DLSA,
        1 is the paper's two-step TDLSA, m > 1 the m-step estimator, which reaches the
        global maximum likelihood estimate. Rounds stop early once a step is below
        ``tol``.
    penalty : {None, "adaptive_lasso"}, default=None
        ``"adaptive_lasso"`` computes the shrinkage DLSA (SDLSA) on the master: the
        whole adaptive-lasso path of the quadratic approximation and the penalty
        chosen by ``criterion``. No extra data pass.
    lars_method : {"lasso", "lar"}, default="lasso"
        Path algorithm for the adaptive lasso.
    criterion : {"dbic", "daic"}, default="dbic"
        Distributed BIC (log N per parameter; selection consistent) or AIC (2 per
        parameter).
    n_partitions : int, default=None
        Number of row blocks for in-memory (NumPy/pandas) input; ``None`` means one
        per available core, but no blocks smaller than 20 rows per parameter. Dask
        input keeps its own row chunks.
    tol : float, default=1e-8
        Convergence tolerance of the local fits (and of the refinement rounds): a
        Fisher-scoring step with max |step| <= tol * (1 + max |theta|) ends it.
    max_iter : int, default=100
        Maximum Fisher-scoring iterations of each local fit.
    split_every : int, default=8
        Fan-in of the tree reduction of block summaries.
    verbose : int, default=0
        If positive, show a Dask progress bar for each data pass (log messages go
        to the ``dask_glmdist`` logger at INFO level in any case).
"""

_DLSA_ATTRS_DOC = """
    coef_ : ndarray
        Estimated coefficients (shrunk ones with the adaptive lasso).
    intercept_ : float or ndarray
        Intercept (0 when ``fit_intercept=False``).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]`` (intercept only when fitted): the order of
        ``cov_params_``, ``bse_`` and ``summary()``.
    cov_params_ : ndarray of shape (n_params, n_params)
        Estimated covariance, ``scale_ * (sum_k A_k)^{-1}``; with the adaptive lasso
        the oracle covariance on the selected support (zeros elsewhere).
    bse_ : ndarray of shape (n_params,)
        Standard errors.
    scale_ : float
        Dispersion phi (1 for binomial, Poisson and negative binomial).
    n_obs_ : int
        Number of rows.
    n_blocks_ : int
        Number of row blocks the fit mapped over.
    n_iter_ : int
        Data passes made (1 + refinement rounds).
    local_n_iter_ : ndarray of shape (n_blocks_,)
        Fisher-scoring iterations of each block's local fit.
    converged_ : bool
        Whether every local fit converged.
    refine_step_sizes_ : ndarray
        max |step| of each refinement round.
    deviance_ : float or None
        Deviance at the last refinement round's starting point (None without
        refinement: DLSA makes no pass at its own estimate).
    alphas_, coef_path_, intercept_path_, criterion_path_ : ndarray
        With the adaptive lasso: penalty levels at the path's knots, the coefficient
        path (n_features, n_knots), the intercept path and the DBIC/DAIC values.
    alpha_ : float
        Chosen penalty level.
    wlse_coef_, wlse_intercept_, wlse_cov_params_ :
        The unpenalised (refined) estimate the adaptive lasso started from.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has feature names (pandas or dask DataFrame).
"""


class DLSARegressor(DevianceScoreMixin, RegressorMixin, _DLSABase):
    """Generalised linear model fitted by distributed least squares approximation.

    Every row block fits the GLM on its own rows; the local estimates are combined
    in one round by their local information (Zhu, Li & Wang 2021, eq. 2.2)::

        theta~ = (sum_k A_k)^{-1} sum_k A_k theta_k

    which is as efficient as the global maximum likelihood estimate, also when the
    blocks hold differently distributed covariates. ``refine_steps`` adds global
    Fisher-scoring rounds (the global MLE after a few), ``penalty="adaptive_lasso"``
    selects variables with the distributed BIC. The per-block objective is the
    (prior-weighted) log-likelihood of the family, summed -- not averaged -- over rows.

    Parameters
    ----------
    family : str or Family, default="gaussian"
        "gaussian", "binomial", "poisson", "gamma", "inverse_gaussian",
        "negative_binomial" (alpha = 1), or a :class:`~dask_glmdist.families.Family`.
    link : str, default=None
        Link name; ``None`` is the family's canonical link.
    """ + _DLSA_PARAMS_DOC + """
    Attributes
    ----------
    """ + _DLSA_ATTRS_DOC + """
    See Also
    --------
    DLSALogisticRegression : the binary classifier.

    References
    ----------
    Zhu, X., Li, F. and Wang, H. (2021). Least-square approximation for a distributed
    system. Journal of Computational and Graphical Statistics 30(4), 1004-1018.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import DLSARegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = rng.poisson(np.exp(0.3 + X @ [0.5, -0.2, 0.0]))
    >>> model = DLSARegressor(family="poisson", n_partitions=4).fit(X, y)
    >>> model.coef_.round(1)
    array([ 0.5, -0.2,  0. ])
    """

    _parameter_constraints: dict = {
        **_DLSABase._parameter_constraints,
        "family": [StrOptions({"gaussian", "binomial", "poisson", "gamma",
                               "inverse_gaussian", "negative_binomial"}), Family],
        "link": [None, str],
    }

    def __init__(
        self,
        family="gaussian",
        link=None,
        *,
        fit_intercept=True,
        refine_steps=0,
        penalty=None,
        lars_method="lasso",
        criterion="dbic",
        n_partitions=None,
        tol=1e-8,
        max_iter=100,
        split_every=8,
        verbose=0,
    ):
        self.family = family
        self.link = link
        self.fit_intercept = fit_intercept
        self.refine_steps = refine_steps
        self.penalty = penalty
        self.lars_method = lars_method
        self.criterion = criterion
        self.n_partitions = n_partitions
        self.tol = tol
        self.max_iter = max_iter
        self.split_every = split_every
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=lambda est: 1 + est.refine_steps)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,)
            Response; for the binomial family a proportion in [0, 1] (with
            ``sample_weight`` the number of trials, as in R's ``glm``).
        sample_weight : array-like of shape (n_samples,), default=None
            Prior weights.

        Returns
        -------
        self
        """
        family = self._family()
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept),
        )
        if y_mem is not None:
            msg = family.check_y(y_mem)
            if msg:
                raise ValueError(f"Invalid y for the {family.name} family: {msg}")
        check_block_sizes(data, data.n_features + int(self.fit_intercept))
        self.family_ = family
        return self._fit_blocks(data, family, None)

    def predict(self, X):
        """Predicted mean g^{-1}(X coef_ + intercept_) (lazy for dask input)."""
        return mean_from_linear_predictor(self, linear_predictor(self, X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags


class DLSALogisticRegression(BinaryClassifierMixin, ClassifierMixin, _DLSABase):
    """Binary logistic regression fitted by distributed least squares approximation.

    The classifier form of :class:`DLSARegressor` with the binomial family and logit
    link: any two class labels, ``classes_`` sorted, the second one positive. Each
    block maximises its own log-likelihood (summed over its rows, no penalty); the
    local fits are combined by their information in one round (Zhu, Li & Wang 2021,
    eq. 2.2), optionally refined and shrunk by the adaptive lasso + DBIC.

    A block in which the classes are separated has no local maximum likelihood
    estimate; it is fitted with Firth's (Jeffreys-penalised) likelihood instead and
    a warning names it.

    Parameters
    ----------""" + _DLSA_PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The class labels.
    """ + _DLSA_ATTRS_DOC.replace(
        "    coef_ : ndarray\n", "    coef_ : ndarray of shape (1, n_features)\n"
    ) + """
    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import DLSALogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 2))
    >>> y = rng.random(4000) < 1 / (1 + np.exp(-(X @ [1.5, -1.0])))
    >>> clf = DLSALogisticRegression(n_partitions=4).fit(X, y)
    >>> clf.classes_
    array([False,  True])
    """

    def __init__(
        self,
        *,
        fit_intercept=True,
        refine_steps=0,
        penalty=None,
        lars_method="lasso",
        criterion="dbic",
        n_partitions=None,
        tol=1e-8,
        max_iter=100,
        split_every=8,
        verbose=0,
    ):
        self.fit_intercept = fit_intercept
        self.refine_steps = refine_steps
        self.penalty = penalty
        self.lars_method = lars_method
        self.criterion = criterion
        self.n_partitions = n_partitions
        self.tol = tol
        self.max_iter = max_iter
        self.split_every = split_every
        self.verbose = verbose

    def _family(self) -> Family:
        return Binomial("logit")

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=lambda est: 1 + est.refine_steps)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,)
            Two class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Prior weights.

        Returns
        -------
        self
        """
        family = self._family()
        classes = INFER_LABELS if is_dask_collection(y) else None
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), y_numeric=False,
        )
        if y_mem is not None:
            check_classification_targets(y_mem)
            self.classes_ = self._two_classes(np.unique(y_mem))
            if sample_weight is not None:
                kept = np.unique(y_mem[np.asarray(sample_weight) > 0])
                if len(kept) < 2:
                    raise ValueError(
                        "Only one class is left among the rows with positive sample_weight "
                        f"({kept.tolist()}); a binary classifier needs both classes."
                    )
            y01 = (y_mem == self.classes_[1]).astype(np.float64)
            data.y = da.from_array(y01, chunks=(data.X.chunks[0],))
        check_block_sizes(data, data.n_features + int(self.fit_intercept))
        self.family_ = family
        return self._fit_blocks(data, family, classes)

    def _local_fits(self, data, family, classes):
        """Round 1; for dask y the blocks also report their labels.

        0/1 (or boolean) labels are fitted in that same pass; for other labels (e.g.
        strings) the blocks only report them and a second pass fits, once the two
        classes -- and so which one is positive -- are known.
        """
        s = super()._local_fits(data, family, classes)
        if not (isinstance(classes, str) and classes == INFER_LABELS):
            return s
        raise_for_problems(s.get("problems", {}), problem_blocks(s.get("blocks", [])))
        self.classes_ = self._two_classes(np.unique(np.asarray(s["labels"])))
        if "information" in s and np.isin(self.classes_, [0, 1]).all():
            return s
        return super()._local_fits(data, family, self.classes_)

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].reshape(1, -1).copy()
        self.intercept_ = np.array([theta[0] if fi else 0.0])
