"""Regularisation paths and the choice of alpha for the PQN-fitted penalised GLMs.

* :func:`penalized_glm_path`: the solutions for a decreasing sequence of alphas, each
  started from the previous one (its loss, gradient and information are already
  known, so no start round is needed), like scikit-learn's ``enet_path``.
* :class:`PenalizedGLMCV`: alpha chosen by K-fold cross-validated deviance with whole
  row blocks as the folds (block k belongs to fold ``k % cv``), or by AIC/BIC on the
  full-data path. A fold's training set is the other folds' blocks -- the same block
  keys, never a copy -- and its first-pass sums are the total minus the fold's own,
  so one pass of sums serves every fold. The held-out deviances of all folds along
  their paths come from one final round.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_features, _num_samples

from .._blocks import (
    BlockedData,
    default_n_partitions,
    is_dask_collection,
)
from .._progress import report, shows_progress
from ..diagnostics import SeparationWarning, short_list, warn
from ..families import FAMILY_NAMES, Family, Link
from ..fit_statistics import ride_null_model
from ..rounds import RoundEngine
from ..solvers.ancillary import refuse_estimated
from ..solvers.penalized_cv import fold_sums, fold_sums_block, heldout_block
from ..solvers.pqn import SEPARATION, Penalty, PQNResult, data_sums, penalty_scale
from ..solvers.pqn_path import GLMPath, alpha_grid, path_on_blocks
from ._base import prepare_blocks
from .penalized import (
    SHOWN_IN_SUMMARY,
    PenalizedGLM,
    check_design,
    check_in_memory,
    separation_message,
)

__all__ = ["GLMPath", "PenalizedGLMCV", "penalized_glm_path"]


def _alpha_list(paths: dict, which: dict) -> str:
    return short_list([(f"{lab}: " if lab else "") + "alphas "
                       + short_list([f"{a:.3g}" for a in paths[lab].alphas[i]], limit=4)
                       for lab, i in which.items()], limit=4)


def warn_unconverged(paths: dict, who: str, names, shown=SHOWN_IN_SUMMARY) -> None:
    """One SeparationWarning for all the paths' fits whose estimate does not exist, and
    one ConvergenceWarning for the others that did not converge.

    ``paths`` maps a label ("" for a single path, "fold 2", ...) to its GLMPath;
    ``names`` are the parameter names. The SeparationWarning names the parameters of
    the first path's (the full data's, when listed first) separated fit; ``shown``
    says where the user sees them marked.
    """
    sep = {lab: np.array([i for i, r in enumerate(p.runaway) if r is not None], dtype=int)
           for lab, p in paths.items()}
    sep = {lab: idx for lab, idx in sep.items() if idx.size}
    if sep:
        label, idx = next(iter(sep.items()))
        runaway = paths[label].runaway[idx[0]]
        n = sum(i.size for i in sep.values())
        where = (f" at {_alpha_list(paths, sep)}" if list(sep) == [""] else
                 f" in {n} fit(s) {_alpha_list(paths, sep)}")
        warn(separation_message(who, runaway, names, where, shown), SeparationWarning)
    bad = {lab: np.array([i for i in np.flatnonzero(~p.converged)
                          if p.messages[i] != SEPARATION], dtype=int)  # e.g. max_iter
           for lab, p in paths.items()}
    bad = {lab: idx for lab, idx in bad.items() if idx.size}
    if not bad:
        return
    label, idx = next(iter(bad.items()))
    first = paths[label]
    warn(
        f"{who}: the fits at {sum(i.size for i in bad.values())} alpha(s) did not converge "
        f"{_alpha_list(paths, bad)}; at alpha {first.alphas[idx[0]]:.3g}: "
        f"{first.messages[idx[0]]}. Increase max_iter, or check the data.",
        ConvergenceWarning,
    )


def _check_alphas(alphas) -> np.ndarray:
    a = np.asarray(alphas, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("alphas is empty; pass at least one value.")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"alphas must be finite and >= 0, got {a[:10].tolist()}.")
    return np.sort(a)[::-1]


@shows_progress()
def penalized_glm_path(X, y, *, family="binomial", link=None, alphas=None, n_alphas=100,
                       eps=1e-3, l1_ratio=1.0, max_abs_coef=None, fit_intercept=True,
                       standardize=False, sample_weight=None, offset=None, tol=1e-8,
                       max_iter=100, n_partitions=None, split_every=8,
                       verbose=0) -> GLMPath:
    """Penalised GLM solutions along a decreasing sequence of alphas (warm-started).

    Each alpha minimises the objective of :class:`PenalizedGLM`,
    ``D / (2 S) + alpha * ((1 - l1_ratio)/2 ||coef||^2 + l1_ratio ||coef||_1)``
    (``|coef_j| <= max_abs_coef``), starting from the previous alpha's solution, whose
    loss, gradient and information the engine already has: after the first pass of
    sums, every iteration of every alpha is one round over the data.

    Parameters
    ----------
    X, y, sample_weight, offset :
        As in :meth:`PenalizedGLM.fit` (NumPy/pandas or dask collections).
    family, link, l1_ratio, max_abs_coef :
        As in :class:`PenalizedGLM`; ``"negative_binomial"``: its ``alpha`` is
        re-estimated at every penalty (``GLMPath.ancillary``).
    fit_intercept, standardize, tol, max_iter, n_partitions, split_every, verbose :
        As in :class:`PenalizedGLM`.
    alphas : array-like, default=None
        The alphas (sorted decreasing here). ``None``: ``n_alphas`` values log-spaced
        from ``alpha_max`` (the smallest alpha whose lasso solution is all zero) down
        to ``eps * alpha_max``.
    n_alphas : int, default=100
    eps : float, default=1e-3

    Returns
    -------
    GLMPath
        ``alphas``, ``coef`` (n_alphas, n_features), ``intercept``, ``objective``,
        ``deviance``, ``df``, ``n_iter``, ``n_rounds``, ``converged``, ``messages``,
        ``ancillary`` (the estimated NB alpha at each penalty, or None).

    Warns
    -----
    ConvergenceWarning
        Once, naming the alphas whose fits did not converge and why.
    UserWarning
        Once, when the design does not identify some parameters (collinear,
        constant or all-zero columns); with an alpha of 0 that is an error instead.

    See Also
    --------
    PenalizedGLM : One alpha, with standard errors at ``alpha=0``.
    PenalizedGLMCV : The alpha chosen by cross-validation or AIC/BIC.

    References
    ----------
    Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization paths for
    generalized linear models via coordinate descent. Journal of Statistical
    Software 33(1).

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import penalized_glm_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 6))
    >>> y = (rng.random(3000) < 1 / (1 + np.exp(-(X[:, 0] - X[:, 1])))).astype(float)
    >>> path = penalized_glm_path(X, y, n_alphas=5)
    >>> [int(k) for k in (path.coef != 0).sum(axis=1)]
    [0, 2, 3, 6, 6]
    """
    est = PenalizedGLM(family, link, l1_ratio=l1_ratio, max_abs_coef=max_abs_coef,
                       fit_intercept=fit_intercept, standardize=standardize, tol=tol,
                       max_iter=max_iter,
                       n_partitions=n_partitions, split_every=split_every, verbose=verbose)
    est._validate_params()
    return _path(est, X, y, sample_weight, offset, alphas, n_alphas, eps)


def _path(est: PenalizedGLM, X, y, sample_weight, offset, alphas, n_alphas, eps) -> GLMPath:
    """:func:`penalized_glm_path` with the settings of ``est`` (validated)."""
    fam = est._family()
    fit_intercept, l1_ratio, standardize = est.fit_intercept, est.l1_ratio, est.standardize
    n_partitions, max_abs_coef = est.n_partitions, est.max_abs_coef
    tol, max_iter, split_every = est.tol, est.max_iter, est.split_every
    data, y_mem = prepare_blocks(est, X, y, sample_weight, n_partitions=n_partitions,
                                 n_params_extra=int(fit_intercept), offset=offset)
    if y_mem is not None:
        check_in_memory(fam, y_mem, data.host_weight)
    engine = RoundEngine(data, split_every=split_every)
    sums = data_sums(engine, fam, fit_intercept=fit_intercept, validate=True)
    if alphas is None:
        alphas = alpha_grid(sums, fam, fit_intercept, l1_ratio, int(n_alphas), float(eps),
                            penalty_scale(sums, fit_intercept, standardize))
    else:
        alphas = _check_alphas(alphas)
    check_design(sums, est._param_names(), fit_intercept=fit_intercept, alphas=alphas,
                 l1_ratio=l1_ratio, who="penalized_glm_path", standardize=standardize)
    path = path_on_blocks(engine, fam, alphas, l1_ratio=l1_ratio, max_abs_coef=max_abs_coef,
                          fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, sums=sums,
                          standardize=standardize, since=0)
    warn_unconverged({"": path}, "penalized_glm_path", est._param_names(),
                     shown="GLMPath.runaway marks them per alpha (+1/-1: +-inf, 2: not "
                     "determined)")
    return path


# --------------------------------------------------------------------------------------
# cross-validation over blocks
# --------------------------------------------------------------------------------------


class _AlphaSelection:
    """The choice of alpha by cross-validation over row blocks, AIC or BIC, shared by
    :class:`PenalizedGLMCV` and :class:`PenalizedLogisticRegressionCV` (their class
    docstrings describe it)."""

    def _alpha(self) -> float:
        return float(getattr(self, "alpha_", 1.0))

    @property
    def alpha(self):
        """Not a parameter here: the class chooses alpha (``alpha_`` after ``fit``).

        The CV classes inherit the single-fit classes' methods, which read ``alpha``;
        this says why there is none instead of a bare ``AttributeError``.
        """
        raise AttributeError(
            f"{type(self).__name__} has no parameter 'alpha': it chooses alpha itself "
            "(from alphas / n_alphas); the chosen value is alpha_ after fit."
        )

    def _cv_partitions(self, X, y):
        """Row blocks for in-memory input: ``n_partitions``, or with cross-validation
        and ``None``, at least ``cv`` (one per core otherwise)."""
        n_part = self.n_partitions
        if (self.criterion == "cv" and n_part is None
                and not (is_dask_collection(X) or is_dask_collection(y))):
            try:
                n_part = max(self.cv, default_n_partitions(
                    _num_samples(X), _num_features(X) + int(self.fit_intercept)))
            except (TypeError, ValueError):  # not 2-D: validate_data says so below
                n_part = self.cv
        return n_part

    def _select_alpha(self, data: BlockedData, family):
        """Choose alpha on the prepared blocks and set the fit at it (the class doc)."""
        fi = self.fit_intercept
        cv = self.criterion == "cv"
        self.family_ = family
        kw = dict(l1_ratio=self.l1_ratio, max_abs_coef=self.max_abs_coef, fit_intercept=fi,
                  tol=self.tol, max_iter=self.max_iter, standardize=self.standardize)
        engine = RoundEngine(data, split_every=self.split_every)
        ride_null_model(engine, family, fit_intercept=fi)
        if cv:
            if data.n_blocks < self.cv:
                raise ValueError(
                    f"cv={self.cv} folds need at least {self.cv} row blocks, but the data "
                    f"have {data.n_blocks}; raise n_partitions or rechunk the dask input "
                    "into more row blocks (or lower cv)."
                )
            fold_of = np.arange(data.n_blocks) % self.cv
            s = engine.run(fold_sums_block, family=family, fit_intercept=fi,
                           fold_of=fold_of, label="cv sums")
            folds = fold_sums(s, fold_of, self.cv)
            total = sum(folds[1:], folds[0])
        else:
            total = data_sums(engine, family, fit_intercept=fi, validate=True)
        alphas = (alpha_grid(total, family, fi, self.l1_ratio, self.n_alphas, self.eps,
                             penalty_scale(total, fi, self.standardize))
                  if self.alphas is None else _check_alphas(self.alphas))
        self.alphas_ = alphas
        redundant = check_design(total, self._param_names(), fit_intercept=fi, alphas=alphas,
                                 l1_ratio=self.l1_ratio, who=type(self).__name__,
                                 standardize=self.standardize)
        if cv:
            best, paths = self._cross_validate(engine, family, alphas, folds, total,
                                               fold_of, kw)
            path = path_on_blocks(engine, family, alphas, sums=total, stop_at=best,
                                  label=f"{type(self).__name__} refit", keep_states=True, **kw)
        else:
            path = path_on_blocks(engine, family, alphas, sums=total, keep_states=True,
                                  label=f"{type(self).__name__} path", **kw)
            paths = {}
            phi = 1.0
            if not family.fixed_dispersion:
                dof = total.n_pos - path.df[-1]
                phi = path.pearson[-1] / dof if dof > 0 else 1.0
            k = 2.0 if self.criterion == "aic" else math.log(max(total.n_obs, 2))
            self.criterion_values_ = path.deviance / phi + k * path.df
            self.criterion_dispersion_ = phi
            best = int(np.nanargmin(self.criterion_values_))
        self.path_ = path
        self.alpha_ = float(alphas[best])
        iterations = sum(int(np.sum(p.n_iter)) for p in (path, *paths.values()))
        self._set_from_path(path, best, family, total, engine.count, iterations, redundant)
        self.n_blocks_ = data.n_blocks
        self._set_contract(engine, family, total.n_pos, total)
        # one warning of each kind for the whole selection, the full-data fits first
        shown = (SHOWN_IN_SUMMARY if path.runaway[best] is not None else
                 f"The fit at the chosen alpha_={self.alpha_:.3g} is not affected")
        warn_unconverged({"all blocks" if cv else "": path, **paths}, type(self).__name__,
                         self._param_names(), shown)
        self._warn_at_edge(alphas, best, path)
        return self

    def _warn_at_edge(self, alphas, best: int, path: GLMPath) -> None:
        """One warning when the chosen alpha is the largest or the smallest of the grid:
        the criterion's minimum may lie beyond it."""
        if len(alphas) < 2 or 0 < best < len(alphas) - 1:
            return
        if best == len(alphas) - 1 and alphas[-1] <= 0:  # nothing lies below alpha = 0
            return
        who, how = type(self).__name__, self.criterion.upper()
        if how == "CV" and self.one_standard_error_rule:
            how = "CV (one-standard-error rule)"
        if best == 0:
            zero = not np.any(path.coef[0])
            msg = (f"{who}: {how} chose the largest alpha of the grid, alpha_="
                   f"{alphas[0]:.4g} (the edge of alphas_), ")
            if zero:
                msg += ("where every coefficient is 0: no feature improves the criterion, "
                        "and larger alphas give the same (intercept-only) fit. If features "
                        "are expected to matter, check their scale (standardize=True) or "
                        "compare with a smaller alpha.")
            else:
                msg += (f"where {int(np.count_nonzero(path.coef[0]))} coefficient(s) are "
                        "not 0: the criterion may be lower at larger alphas. Extend the "
                        f"grid upwards (pass alphas reaching above {alphas[0]:.4g}).")
        else:
            how_to = (f"a smaller eps, currently {self.eps:g}, or " if self.alphas is None
                      else "")
            msg = (f"{who}: {how} chose the smallest alpha of the grid, alpha_="
                   f"{alphas[-1]:.4g} (the edge of alphas_): the criterion may be lower at "
                   f"smaller alphas. Extend the grid downwards ({how_to}pass alphas "
                   f"reaching below {alphas[-1]:.4g}).")
        warn(msg, UserWarning)

    def _cross_validate(self, engine, family, alphas, folds, total, fold_of, kw):
        thetas = {}
        paths = {}
        for f in range(self.cv):
            train = engine.subset(np.flatnonzero(fold_of != f))
            train_sums = total - folds[f]
            report(fold=(f + 1, self.cv))
            p = path_on_blocks(train, family, alphas, sums=train_sums,
                               label=f"{type(self).__name__} fold {f}", **kw)
            paths[f"fold {f}"] = p
            fi = int(self.fit_intercept)
            T = np.concatenate([p.intercept[:, None], p.coef], axis=1) if fi else p.coef
            thetas[f] = T
        report(fold=None, alpha=None)
        h = engine.run(heldout_block, thetas, family=family,
                       fit_intercept=self.fit_intercept, fold_of=fold_of,
                       label="cv held-out deviance")
        dev = np.stack([h.deviance[f] for f in range(self.cv)])
        weights = np.array([folds[f].weight for f in range(self.cv)])
        self.cv_deviance_ = dev / weights[:, None]
        mean = dev.sum(axis=0) / weights.sum()
        self.cv_deviance_mean_ = mean
        self.criterion_values_ = mean
        best = int(np.nanargmin(mean))
        if self.one_standard_error_rule:
            se = np.std(self.cv_deviance_, axis=0, ddof=1) / math.sqrt(self.cv)
            ok = np.flatnonzero(mean <= mean[best] + se[best])
            best = int(ok.min())  # alphas decrease: the smallest index is the largest alpha
        return best, paths

    def _set_from_path(self, path: GLMPath, best, family, total, rounds, iterations,
                       redundant) -> None:
        fi = self.fit_intercept
        k = path.coef.shape[1] + int(fi)
        pen = Penalty.elastic_net(path.coef.shape[1], path.alphas[best], self.l1_ratio,
                                  self.max_abs_coef, fi,
                                  penalty_scale(total, fi, self.standardize))
        theta = (np.concatenate([[path.intercept[best]], path.coef[best]]) if fi
                 else path.coef[best].copy())
        res = PQNResult(theta=theta, objective=float(path.objective[best]),
                        state=path.states[best], weight_sum=total.weight,
                        n_obs=total.n_obs, n_pos=total.n_pos,
                        n_iter=iterations, n_rounds=rounds,
                        converged=bool(path.converged[best]), kkt=float(path.kkt[best]),
                        objective_path=[float(path.objective[best])],
                        message=path.messages[best], runaway=path.runaway[best])
        self._set_result(res, pen, family, k, float(path.alphas[best]), redundant,
                         report=False)
        path.states = None


class PenalizedGLMCV(_AlphaSelection, PenalizedGLM):
    """Penalised GLM with alpha chosen by cross-validation over row blocks, AIC or BIC.

    ``criterion="cv"``: whole row blocks are the folds (block k belongs to fold
    ``k % cv``); for every fold the path of :func:`penalized_glm_path` is fitted on the
    other folds' blocks (their sums and block keys: no data are copied) and its
    deviance on the fold's own blocks is recorded. ``alpha_`` minimises the mean
    held-out deviance per unit weight (with ``one_standard_error_rule=True``: the
    largest alpha within one standard error of that minimum). The model is then refitted
    on all blocks along the path down to ``alpha_``.

    ``criterion="aic"`` or ``"bic"``: the full-data path is fitted once and
    ``alpha_`` minimises ``D(alpha) / phi + k * df(alpha)`` with ``k = 2`` or
    ``log(n)``, ``df`` the effective degrees of freedom (the active parameters for the
    lasso) and ``phi`` 1 for binomial and Poisson models, else the Pearson estimate
    at the smallest alpha (as scikit-learn's ``LassoLarsIC`` estimates the noise
    variance from the least penalised fit). This is AIC/BIC up to a constant.

    Parameters
    ----------
    family, link : as in :class:`PenalizedGLM`, except that an estimated
        negative-binomial ``alpha`` is refused (held-out deviances at different values
        of it do not compare): fix it, ``get_family("negative_binomial", alpha=a)``.
    alphas : array-like, default=None
        Candidate alphas; ``None``: ``n_alphas`` log-spaced values from the
        full-data ``alpha_max`` down to ``eps * alpha_max``.
    n_alphas : int, default=30
    eps : float, default=1e-3
    l1_ratio, max_abs_coef : as in :class:`PenalizedGLM`.
    criterion : {"cv", "aic", "bic"}, default="cv"
    cv : int, default=5
        Number of folds (``criterion="cv"``); there must be at least as many row
        blocks. For in-memory input ``n_partitions`` defaults to
        ``max(cv, one block per core)``.
    one_standard_error_rule : bool, default=False
    fit_intercept, standardize, tol, max_iter :
        As in :class:`PenalizedGLM`. With ``standardize=True`` the alpha grid is that
        of the standardised columns, and every fold's path standardises by its own
        training blocks' standard deviations (as glmnet's ``cv.glmnet``).
    n_partitions, split_every, verbose, formula, missing : as in :class:`PenalizedGLM`.

    Attributes
    ----------
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]`` (docs/contract.md).
    coef_ : ndarray
        Coefficients at the chosen penalty.
    intercept_ : float or ndarray of shape (1,)
    cov_params_ : ndarray of shape (n_params, n_params)
        Only where the fit has inference (docs/contract.md).
    bse_ : ndarray of shape (n_params,)
        Only where the fit has inference.
    dispersion_ : float
        Pearson's chi^2 at the estimate over ``df_resid_``; 1 for fixed-scale families.
    deviance_ : float
        Deviance at the estimate (the fit-statistics pass).
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``; docs/contract.md).
    aic_ : float
        R's ``AIC``: ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)``.
    bic_ : float
        R's ``BIC``: as ``aic_`` with ``log(n_obs_)`` per parameter.
    n_obs_ : int
        Rows with non-zero weight.
    df_resid_ : int
        ``n_obs_ - n_params``.
    converged_ : bool
    alpha_ : float
        The chosen alpha.
    alphas_ : ndarray of shape (n_alphas,)
    cv_deviance_ : ndarray of shape (cv, n_alphas)
        Held-out deviance per unit weight, per fold (``criterion="cv"``).
    cv_deviance_mean_ : ndarray of shape (n_alphas,)
        Pooled held-out deviance per unit weight.
    criterion_values_ : ndarray of shape (n_alphas,)
        The information criterion (``criterion="aic"``/``"bic"``) or
        ``cv_deviance_mean_``.
    path_ : GLMPath
        The full-data path (down to ``alpha_`` for ``criterion="cv"``).
    coef_, intercept_, params_, objective_, converged_, ... :
        Those of the full-data fit at ``alpha_`` (see :class:`PenalizedGLM`).
    n_iter_, n_rounds_ : int
        Every iteration (of every fold's path and of the full-data path), and every
        round over the data, of the whole selection.

    See Also
    --------
    PenalizedGLM : The fit at one alpha.
    penalized_glm_path : The path alone.

    References
    ----------
    Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of Statistical
    Learning, 2nd ed., section 7.10 (cross-validation, the one-standard-error rule).
    Springer.

    Zou, H., Hastie, T. and Tibshirani, R. (2007). On the "degrees of freedom" of the
    lasso. The Annals of Statistics 35, 2173-2192.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedGLMCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 8))
    >>> y = rng.poisson(np.exp(0.3 + 0.5 * X[:, 0]))
    >>> model = PenalizedGLMCV("poisson", n_alphas=10, cv=4).fit(X, y)
    >>> bool(model.coef_[0] > 0.4)
    True
    """

    _parameter_constraints: dict = {
        "family": [StrOptions(set(FAMILY_NAMES)), Family],
        "link": [None, str, Link],
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
        family="binomial",
        link=None,
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
        self.family = family
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
        """Choose alpha and fit the model at it.

        Parameters
        ----------
        X, y, sample_weight, offset : as in :meth:`PenalizedGLM.fit`.

        Returns
        -------
        self
        """
        # an estimated NB alpha: held-out deviances at different alphas do not compare
        family = refuse_estimated(self._family(), type(self).__name__)
        data, y_mem = prepare_blocks(self, X, y, sample_weight,
                                     n_partitions=self._cv_partitions(X, y),
                                     n_params_extra=int(self.fit_intercept), offset=offset)
        if y_mem is not None:
            check_in_memory(family, y_mem, data.host_weight)
        return self._select_alpha(data, family)
