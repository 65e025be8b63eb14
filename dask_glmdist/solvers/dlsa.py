"""DLSA's mathematics: the blocks' local fits, the refinement rounds' sums, the probes.

Block functions (pure, module level: they run on the workers) for
:class:`~dask_glmdist.estimators.dlsa.DLSARegressor` and
:class:`~dask_glmdist.estimators.dlsa.DLSALogisticRegression` (the method: that
module's docstring), and the state the combination and refinement keep.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from .._array import get_namespace, to_host
from .._blocks import BlockSummary, Problems, check_block
from .._progress import report
from ..block_graph import additive
from ..diagnostics import short_list
from ..linalg import PSDFactor
from ..rounds import RoundEngine
from .ancillary import ALPHA_FLOOR, START, ancillary_sums, at_floor
from .design_checks import check_identified
from .dlsa_ancillary import fit_local_ancillary, joint_information, joint_step, t_se
from .dlsa_separation import (
    PROBE_DISTANCES,
    blocks_direction,
    bordered,
    local_separation,
    non_increasing,
    refinement_drift,
    standardised_direction,
)
from .local import evaluate, fit_local, recession_counts, rows_information
from .recession import (
    UNDETERMINED,
    _own_rows,
    classify_runaway,
    confirms_recession,
    recession_block,
)

logger = logging.getLogger("dask_glmdist")

INFER_LABELS = "infer"



def _block_labels(y) -> tuple[list, bool]:
    """The distinct labels of a block, and whether they are all 0/1 (or booleans)."""
    if isinstance(y, np.ndarray):
        labels = np.unique(y)
    else:
        xp = get_namespace(y)
        labels = to_host(xp.unique_values(y))
    binary01 = labels.dtype.kind in "biuf" and bool(((labels == 0) | (labels == 1)).all())
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


@dataclass
class LocalFits(BlockSummary):
    """Round 1 (:func:`dlsa_local_block`), added over the blocks: the WLSE pieces
    ``sum_k A_k``, ``sum_k A_k theta_k``, ``sum_k theta_k^T A_k theta_k``, the local
    Pearson statistics and deviances; rows (``n``, ``n_active``: positive weight); one
    record per block (``blocks``: its index, local iterations, fallback, separation,
    rank...); the labels seen (classifier on dask y); the recession counts; the
    information of the rows that separating blocks' ML fits separate."""

    n: int = 0
    n_active: int = 0
    information: np.ndarray | None = None
    information_theta: np.ndarray | None = None
    theta_information_theta: float = 0.0
    pearson: float = 0.0
    deviance: float = 0.0
    blocks: list = field(default_factory=list)
    labels: list | None = None
    recession: np.ndarray | None = None
    separated_information: np.ndarray | None = None
    joint_information: np.ndarray | None = None        # estimated ancillary parameter:
    joint_information_theta: np.ndarray | None = None  # H_k and H_k (beta_k, log alpha_k)


@dataclass
class ScoreSums(BlockSummary):
    """A refinement round (:func:`glm_score_block`): score, information, Pearson
    statistic and deviance at the current estimate, added over the blocks."""

    n: int = 0
    score: np.ndarray | None = None
    information: np.ndarray | None = None
    pearson: float = 0.0
    deviance: float = 0.0
    ancillary: dict | None = None  # the ancillary parameter's joint sums (estimated)


def dlsa_local_block(X, y, m, *, family, fit_intercept, tol, max_iter, classes, block_index,
                     offset=None, reference_groups=(), keep_local=False):
    """Round 1 on one block: validate it, fit the local GLM, return the WLSE pieces.

    ``keep_local``: the block's record also carries its local estimate, information
    and sum of prior weights (``theta``, ``information``, ``weight``), which the
    comparators of :mod:`~dask_glmdist.solvers.dlsa_comparators` need.

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
            return LocalFits(n=n, blocks=[record], **labels)
        classes = None
    if y is not None and y.shape[0] == n:
        y, m = _response(X, y, m, classes)
    n_params = int(X.shape[1]) + int(fit_intercept)
    problems = check_block(X, y, m, family=family, n_params=n_params)
    if problems:
        return LocalFits(n=n, problems=Problems.at(block_index, problems), blocks=[record],
                         **labels)
    xp = get_namespace(X)
    n_active = n if m is None else int(xp.sum(xp.astype(m > 0, xp.int64)))
    if n_active == 0:  # a block of zero weights carries nothing
        record["zero_weight"] = True
        return LocalFits(n=n, n_active=0, blocks=[record], **labels)
    counts = recession_counts(X, y, m, family, fit_intercept, reference_groups)
    estimated = family.ancillary_estimated
    if estimated:  # (beta_k, alpha_k) by ML; the rest of the block's fit at alpha_k
        fit, alpha = fit_local_ancillary(X, y, m, family, fit_intercept=fit_intercept,
                                         tol=tol, max_iter=max_iter, offset=offset)
        family = family.with_ancillary(START if alpha is None else alpha)
        record.update(alpha=alpha, alpha_boundary=alpha is not None and at_floor(alpha))
    else:
        fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol,
                        max_iter=max_iter, offset=offset)
    separated_information = None
    if not fit.mle_exists:
        ml = fit
        fit = fit_local(X, y, m, family, fit_intercept=fit_intercept, tol=tol,
                        max_iter=max_iter, jeffreys_power=0.5, offset=offset)
        record["fallback"] = ml.message
        record["separated"], record["exact"] = local_separation(counts, ml.divergence)
        if ml.divergence is not None and np.any(ml.divergence):
            record["direction"] = ml.divergence / np.max(np.abs(ml.divergence))
        if ml.diverging_rows is not None:
            separated_information = rows_information(
                X, y, m, fit.theta, family, fit_intercept, ml.diverging_rows, offset)
    record.update(n_iter=fit.n_iter, converged=fit.converged)
    if fit.weight_spread > 1e10:
        return LocalFits(n=n, problems=Problems.at(block_index, {"boundary_mean": 1}),
                         blocks=[record], **labels)
    if fit.rank < n_params:
        record["uninformative"] = uninformative_columns(fit.information, fit_intercept)
        record["rank"] = fit.rank
    if not fit.converged:  # the ML fit, or the Firth fit that replaced it
        record["message"] = fit.message
    At = fit.information @ fit.theta
    record.update(local_estimate(fit, family, n_active, n_params))
    if keep_local:
        record.update(theta=np.asarray(fit.theta, dtype=float), information=fit.information,
                      weight=float(n_active if m is None else to_host(xp.sum(m))))
    if estimated:
        labels.update(_joint_pieces(X, y, m, fit, family, record["alpha"], fit_intercept,
                                    offset))
    return LocalFits(n=n, n_active=n_active, information=fit.information,
                     information_theta=At, theta_information_theta=float(fit.theta @ At),
                     pearson=fit.pearson, deviance=fit.deviance, blocks=[record],
                     recession=counts, separated_information=separated_information,
                     **labels)


def local_estimate(fit, family, n_active: int, n_params: int) -> dict:
    """The block's own estimate and its standard errors, for the record (``local_params_``,
    ``local_bse_``): the inverse of its information times its own Pearson dispersion
    (1 for fixed-dispersion families); NaN standard errors where the information is
    singular (directions the block does not identify)."""
    bse = np.full(n_params, np.nan)
    factor = PSDFactor(fit.information)
    if factor.full_rank:
        phi = 1.0 if family.fixed_dispersion else (
            float(fit.pearson) / max(n_active - n_params, 1))
        bse = np.sqrt(np.clip(np.diag(factor.inverse()), 0.0, None) * phi)
    return {"local_theta": np.asarray(to_host(fit.theta), dtype=float), "local_bse": bse}


def _joint_pieces(X, y, m, fit, family, alpha, fit_intercept, offset) -> dict:
    """``H_k`` and ``H_k (beta_k, log alpha_k)``: the joint observed information of
    :mod:`~dask_glmdist.solvers.dlsa_ancillary`; a block without a local ``alpha`` (its ML
    fit separated) carries its coefficients' information and none on ``alpha``."""
    if alpha is None:
        k = fit.information.shape[0]
        H = np.zeros((k + 1, k + 1))
        H[:k, :k] = fit.information
        theta = np.r_[fit.theta, 0.0]
    else:
        H, _ = joint_information(X, y, m, fit.theta, family, alpha, fit_intercept, offset)
        theta = np.r_[fit.theta, math.log(alpha)]
    return {"joint_information": H, "joint_information_theta": H @ theta}


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


@additive
def glm_score_block(X, y, m, theta, *, family, fit_intercept, classes, dropped=(),
                    block_index, offset=None, ancillary=False):
    """A refinement round on one block: score, information, deviance and Pearson chi^2
    (``ancillary``: and the joint sums of the ancillary parameter at ``family``'s value).

    ``dropped`` lists parameters whose estimate is infinite (separation): the rows in
    which any of their columns is non-zero are fitted perfectly in the limit and are
    left out (weight 0), so those parameters drop out and the others converge to
    their (finite) maximum likelihood estimate.
    """
    n = int(X.shape[0])
    y, m = _response(X, y, m, classes)
    m = _without_rows_of(X, m, dropped, fit_intercept)
    state = evaluate(X, y, m, theta, family, fit_intercept, offset=offset)
    if state is None:
        return ScoreSums(n=n, problems=Problems.at(block_index, {"invalid_mean": 1}))
    extra = {}
    if ancillary:
        extra["ancillary"] = ancillary_sums(family, y, state.mu, m, X, xp=get_namespace(X),
                                            fit_intercept=fit_intercept, joint=True)
    return ScoreSums(n=n, score=state.score, information=state.information,
                     pearson=state.pearson, deviance=state.deviance, **extra)


def dlsa_probe_block(X, y, m, theta, direction, steps, *, family, fit_intercept, classes,
                     dropped=(), block_index, offset=None):
    """Is ``direction`` a direction of recession at ``theta``? One pass of
    :func:`~dask_glmdist.solvers.recession.recession_block` on the block's response,
    the rows of the ``dropped`` (infinite) parameters left out as in the refinement."""
    y, m = _response(X, y, m, classes)
    m = _without_rows_of(X, m, dropped, fit_intercept)
    return recession_block(X, y, m, theta, direction, steps, family=family,
                           fit_intercept=fit_intercept, block_index=block_index, offset=offset)


def own_rows_block(X, y, m, coordinate, *, fit_intercept, block_index, offset=None):
    """Per parameter in ``coordinate``, the rows (positive weight) on which no other
    parameter of ``coordinate`` is non-zero (:mod:`~dask_glmdist.solvers.recession`)."""
    xp = get_namespace(X)
    w = xp.ones(int(X.shape[0]), dtype=X.dtype) if m is None else m
    return {"own": _own_rows(X, w, coordinate, fit_intercept, xp)}


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
    deviance: float | None = None                 # at the start of the last round
    alpha: float | None = None                    # the estimated ancillary parameter
    joint: np.ndarray | None = None               # ... and the joint information of
    #                                               (free beta, log alpha) at the last start

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


def combined_factor(A, names, n_pos, fit_intercept: bool, who: str) -> PSDFactor:
    """The factor of the combined information, refusing a design it does not identify.

    ``A = sum_k X~_k^T W_k X~_k`` is a Gram of the design weighted by the working
    weights, which are positive where the prior weights are, so the package's one
    rank rule (R's, on the weighted Gram) decides with its one message.
    """
    check_identified(bordered(A, fit_intercept), names, fit_intercept, who, n_pos=n_pos)
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


def refine(engine: RoundEngine, family, classes, theta, infinite, n_pos, *,
           fit_intercept: bool, steps: int, tol: float, alpha=None) -> _Refinement:
    """Global Fisher-scoring rounds from the WLSE (TDLSA, the m-step estimator).

    Parameters whose estimate is infinite stay where they are and the rows they
    fit perfectly are left out: the others converge to their maximum likelihood
    estimate. ``alpha``: the family's estimated ancillary parameter, moved with the
    coefficients by joint Newton steps (:func:`~.dlsa_ancillary.joint_step`).
    """
    n_params = theta.shape[0]
    dropped = tuple(sorted(infinite))
    rf = _Refinement(theta=theta.copy(), free=np.array(
        [j for j in range(n_params) if j not in infinite], dtype=int), alpha=alpha)
    while rf.rounds < steps:
        at = family if rf.alpha is None else family.with_ancillary(rf.alpha)
        r = engine.run(
            glm_score_block, rf.theta, family=at, fit_intercept=fit_intercept,
            classes=classes, dropped=dropped, label="DLSA refinement",
            ancillary=rf.alpha is not None,
        )
        if "invalid_mean" in r.problems:
            if rf.step is None or engine.count > steps + 60:
                raise ValueError(
                    f"The {family.name} model's mean leaves its range (e.g. a negative "
                    f"mean under the {family.link.name} link) in some rows at the "
                    "combined estimate; use a link whose mean is always valid (e.g. "
                    "'log') or refine_steps=0."
                )
            rf.step = 0.5 * rf.step  # halve the last step: one more round, not a new one
            rf.theta[rf.free] -= rf.step
            continue
        r.problems.raise_if_any()
        refinement_round(rf, r, family, bool(dropped), n_pos - n_params, tol)
        if rf.converged or rf.free.size == 0:
            break
    if not family.fixed_dispersion:
        rf.scale = max(rf.pearson, 0.0) / max(n_pos - n_params, 1)
    if rf.free.size == 0:
        rf.information, rf.step, rf.se = np.zeros((0, 0)), np.zeros(0), np.zeros(0)
    return rf

def refinement_round(rf: _Refinement, r: dict, family, dropped: bool, df_resid: int,
                     tol: float) -> None:
    """One Fisher-scoring step of the free parameters from a round's sums."""
    rf.rounds += 1
    A = r.information[np.ix_(rf.free, rf.free)]
    factor = PSDFactor(A)
    if not factor.full_rank and dropped:
        # no information left on these once the perfectly fitted rows are out
        gone = np.abs(factor.null_space).max(axis=1) > 1e-3
        rf.lost += [int(j) for j in rf.free[gone]]
        rf.free = rf.free[~gone]
        if rf.free.size == 0:
            return
        A = r.information[np.ix_(rf.free, rf.free)]
        factor = PSDFactor(A)
    rf.scale = 1.0 if family.fixed_dispersion else max(r.pearson, 0.0) / max(df_resid, 1)
    rf.se = np.sqrt(np.clip(np.diag(factor.inverse()), 0.0, None) * rf.scale)
    if rf.alpha is None:
        step, size, size_se = factor.solve(r.score[rf.free]), 0.0, 0.0
    else:  # a joint Newton step with log(alpha); its size counts with the coefficients'
        step, t_step, rf.joint = joint_step(r.score[rf.free], A, r.ancillary, rf.alpha,
                                            rf.free)
        rf.alpha = max(rf.alpha * math.exp(t_step), ALPHA_FLOOR)
        size, size_se = abs(t_step), abs(t_step) / t_se(rf.joint)
    rf.theta[rf.free] += step
    rf.pearson = r.pearson - float(r.score[rf.free] @ step)
    rf.factor, rf.information, rf.step = factor, A, step
    rf.deviance = r.deviance
    full = np.zeros(rf.theta.shape[0])
    full[rf.free] = step
    rf.steps.append(full)
    rf.sizes.append(max(float(np.max(np.abs(step))), size))
    with np.errstate(divide="ignore", invalid="ignore"):
        in_se = float(np.max(np.where(rf.se > 0, np.abs(step) / rf.se, 0.0)))
        rf.sizes_se.append(max(in_se, np.nan_to_num(size_se)))
    report(step=rf.sizes[-1])
    rf.converged = rf.sizes[-1] <= tol * (1.0 + np.max(np.abs(rf.theta[rf.free])))


def coordinate_signs(sep: _Separation, counts, engine: RoundEngine,
                     fit_intercept: bool) -> None:
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
    own = engine.run(own_rows_block, mask, fit_intercept=fit_intercept,
                     label="DLSA separation signs")["own"]
    for j in S:
        if own[j] == 0:
            sep.infinite[j] = 0

def probe_separation(sep: _Separation, engine: RoundEngine, family, classes, theta, A,
                     records, refined, fit_intercept: bool) -> None:
    """Does the estimate run off along a combination of columns? One pass settles it.

    Suspected when the refinement's steps did not shrink (their drift is the
    direction) or when every block's local ML fit diverged and their directions
    agree (their mean is); :func:`~dask_glmdist.solvers.recession.recession_block`
    then evaluates the deviance along it from ``theta`` (see
    :data:`~dask_glmdist.solvers.dlsa_separation.PROBE_DISTANCES`), and
    :func:`~dask_glmdist.solvers.recession.classify_runaway` says which parameters
    run off and which signs are determined, as in the PQN engine.
    """
    if not family.separable:
        return
    fi = fit_intercept
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
    probe = engine.run(
        dlsa_probe_block, theta, u, PROBE_DISTANCES, family=family, fit_intercept=fi,
        classes=classes, dropped=tuple(sorted(sep.infinite)),
        label="DLSA separation check",
    )
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
