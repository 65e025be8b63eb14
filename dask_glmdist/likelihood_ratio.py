"""Likelihood-ratio tests between nested maximum-likelihood fits, as R's ``anova``.

One test compares a *restricted* fit with a *full* fit of the same response, rows,
weights, offset, family and link whose parameters include the restricted ones. The
statistic follows R's ``anova(restricted, full, test="Chisq")``:

* fixed dispersion (binomial, Poisson, negative binomial with alpha fixed): the
  deviance difference ``D_r - D_f``, referred to chi^2 with ``k_f - k_r`` degrees of
  freedom (``k`` the number of parameters) -- twice the log-likelihood difference;
* estimated dispersion (gaussian, gamma, inverse gaussian, Tweedie): the deviance difference
  divided by the *full* model's Pearson dispersion ``pearson_chi2_ / df_resid_``
  (R's ``summary.glm`` dispersion of the larger model), referred to chi^2 all the
  same. R's ``test="F"`` -- ``(D_r - D_f) / (k_f - k_r) / phi_f`` on
  ``(k_f - k_r, df_resid_f)`` degrees of freedom -- takes the estimated dispersion
  into account and is the better test there;
* negative binomial with alpha estimated in both fits (``nb_alpha_``): twice the
  log-likelihood difference, ``2 (loglik_f - loglik_r)``, as R's ``anova.negbin``
  (``MASS``); the two deviances are at different alphas and are not comparable.

A fit that is not a maximum-likelihood fit (a penalty, a bound that binds, a
bias-reduced or debiased estimate) or whose family has no exact likelihood is
refused: its deviance difference is not a likelihood-ratio statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .diagnostics import UNIDENTIFIED, warn

__all__ = ["LRTestResult", "lr_test"]

_TESTS = ("Chisq", "F")
_NULL_DEVIANCE_RTOL = 1e-6  # the same rows and response: equal null deviances
_DLSA_SETTLED_SE = 1e-3     # a last refinement step (in standard errors) that is rounding
_NEGATIVE_RTOL = 1e-8       # a negative statistic beyond this (relative): not nested


@dataclass(frozen=True)
class LRTestResult:
    """The result of :func:`lr_test`: R's ``anova(restricted, full)`` in one record.

    Attributes
    ----------
    statistic : float
        The test statistic: chi^2 (``test="Chisq"``) or F (``test="F"``).
    df : int
        Difference in the number of parameters, ``k_full - k_restricted``.
    p_value : float
        Upper tail of chi^2(``df``), or of F(``df``, ``df_resid[1]``).
    test : str
        ``"Chisq"`` or ``"F"``.
    deviance : tuple of float
        ``(restricted, full)`` residual deviances (``deviance_``).
    loglik : tuple of float
        ``(restricted, full)`` log-likelihoods (``loglik_``).
    df_resid : tuple of int
        ``(restricted, full)`` residual degrees of freedom (``df_resid_``).
    dispersion : float
        The dispersion the deviance difference is divided by: 1 for families with
        fixed dispersion (and for the negative binomial with alpha estimated), the full
        model's Pearson dispersion otherwise.
    difference : float
        What the statistic is made of, unscaled: ``deviance[0] - deviance[1]``, or
        ``2 (loglik[1] - loglik[0])`` for the negative binomial with alpha estimated
        (R's "Deviance" and "LR stat." columns).
    basis : str
        ``"deviance"`` or ``"loglik"``: which of the two ``difference`` is.
    """

    statistic: float
    df: int
    p_value: float
    test: str
    deviance: tuple
    loglik: tuple
    df_resid: tuple
    dispersion: float
    difference: float
    basis: str

    def table(self) -> pd.DataFrame:
        """R's anova table: one row per model (restricted first), the test on the second.

        Columns ``df_resid``, ``deviance`` (``loglik`` when the basis is the
        log-likelihood), ``df``, ``difference``, ``statistic``, ``p_value``.
        """
        second = self.loglik if self.basis == "loglik" else self.deviance
        return pd.DataFrame(
            {"df_resid": list(self.df_resid), self.basis: list(second),
             "df": [np.nan, self.df], "difference": [np.nan, self.difference],
             "statistic": [np.nan, self.statistic], "p_value": [np.nan, self.p_value]},
            index=pd.Index(["restricted", "full"], name="model"),
        )

    def __str__(self) -> str:
        name = {"Chisq": "Likelihood-ratio test (chi-squared)", "F": "F test"}[self.test]
        scale = "" if self.dispersion == 1.0 else f", dispersion {self.dispersion:.6g}"
        return f"{name}{scale}\n{self.table().to_string()}"


def lr_test(full, restricted, test: str = "Chisq") -> LRTestResult:
    """Likelihood-ratio test of a restricted fit against a full fit nesting it.

    R's ``anova(restricted, full, test="Chisq")`` for two fitted GLMs (see the module
    docstring for the statistic of each family): both must be maximum-likelihood fits
    of the same rows and response, with the same family (and alpha, unless both
    estimate it) and link, the restricted one with fewer parameters whose names (when
    both fits know them) are among the full one's.

    Parameters
    ----------
    full : fitted estimator
        The larger model: ``BiasReducedGLM(method="ML")``, ``PenalizedGLM`` or
        ``PenalizedLogisticRegression`` with ``alpha=0``, ``DLSARegressor`` or
        ``DLSALogisticRegression`` (refined to convergence) -- any fit with
        ``family_``, ``deviance_``, ``loglik_``, ``params_``, ``n_obs_``.
    restricted : fitted estimator
        The smaller model, nested in ``full``.
    test : {"Chisq", "F"}, default="Chisq"
        ``"F"`` (families with estimated dispersion only): R's F test,
        ``(D_r - D_f) / df / phi_f`` on ``(df, df_resid_f)`` degrees of freedom.

    Returns
    -------
    LRTestResult
        ``statistic``, ``df``, ``p_value``, the deviances and log-likelihoods used;
        ``table()`` and ``print`` show R's anova table.

    Raises
    ------
    ValueError
        When a fit is not a maximum-likelihood fit, its family has no exact
        likelihood, or the two fits are not nested fits of the same data.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist import BiasReducedGLM
    >>> from dask_glmdist.inference import lr_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = rng.poisson(np.exp(0.2 + X @ [0.4, 0.0, 0.0]))
    >>> full = BiasReducedGLM(family="poisson", method="ML").fit(X, y)
    >>> small = BiasReducedGLM(family="poisson", method="ML").fit(X[:, :1], y)
    >>> res = lr_test(full, small)
    >>> res.df, round(res.statistic, 6) == round(small.deviance_ - full.deviance_, 6)
    (2, True)
    >>> bool(res.p_value > 0.01)
    True
    """
    if test not in _TESTS:
        raise ValueError(f"test must be one of {_TESTS}; got {test!r}.")
    for role, model in (("full", full), ("restricted", restricted)):
        check_is_fitted(model)
        _check_likelihood_fit(model, role)
    _check_nested(full, restricted)
    k_f, k_r = len(full.params_), len(restricted.params_)
    df = k_f - k_r
    estimated_alpha = _alpha_estimated(full)
    if estimated_alpha:
        difference, basis = 2.0 * (float(full.loglik_) - float(restricted.loglik_)), "loglik"
    else:
        difference, basis = float(restricted.deviance_) - float(full.deviance_), "deviance"
    fixed = full.family_.fixed_dispersion or estimated_alpha
    dispersion = 1.0 if fixed else _pearson_dispersion(full)
    _check_sign(difference, full, restricted, basis)
    if test == "F":
        if fixed:
            raise ValueError(
                f"test='F' is for families with estimated dispersion; the "
                f"{full.family_.name} family's is fixed: use test='Chisq'."
            )
        stat = difference / df / dispersion
        p = float(stats.f.sf(stat, df, full.df_resid_))
    else:
        stat = difference / dispersion
        p = float(stats.chi2.sf(stat, df))
    return LRTestResult(
        statistic=float(stat), df=int(df), p_value=p, test=test,
        deviance=(float(restricted.deviance_), float(full.deviance_)),
        loglik=(float(restricted.loglik_), float(full.loglik_)),
        df_resid=(int(restricted.df_resid_), int(full.df_resid_)),
        dispersion=float(dispersion), difference=float(difference), basis=basis,
    )


def _not_maximum_likelihood(model) -> str | None:
    """Why ``model``'s estimate is not an (unconstrained) maximum-likelihood fit."""
    from .estimators.brglm import BiasReducedGLM
    from .estimators.debiased_lasso import DebiasedLassoRegressor
    from .estimators.dlsa import _DLSABase
    from .estimators.penalized import _PenalizedBase

    if isinstance(model, DebiasedLassoRegressor):
        return "the debiased lasso is a penalised estimate, not a maximum-likelihood fit"
    if isinstance(model, _PenalizedBase):
        if model._alpha() > 0:
            return (f"it is penalised (alpha={model._alpha():g}); refit with alpha=0 for a "
                    "likelihood-ratio test")
        if getattr(model, "n_at_bound_", 0):
            return f"{model.n_at_bound_} coefficient(s) sit at the max_abs_coef bound"
    if isinstance(model, BiasReducedGLM) and model.method != "ML":
        return (f"method={model.method!r} is a bias-reduced estimate, not the maximum "
                "likelihood; refit with method='ML' for a likelihood-ratio test")
    if isinstance(model, _DLSABase) and getattr(model, "penalty", None) is not None:
        return f"penalty={model.penalty!r} shrinks the estimate"
    return None


def _check_likelihood_fit(model, role: str) -> None:
    """Refuse a fit whose deviance is not at a maximum of an exact likelihood."""
    name = type(model).__name__
    missing = [a for a in ("family_", "params_", "deviance_", "loglik_", "n_obs_",
                           "df_resid_", "pearson_chi2_") if not hasattr(model, a)]
    if missing:
        raise ValueError(f"The {role} model ({name}) lacks {missing}: not a fitted GLM.")
    why = _not_maximum_likelihood(model)
    if why is not None:
        raise ValueError(f"No likelihood-ratio test with the {role} model ({name}): {why}.")
    family = model.family_
    if not _exact_likelihood(family) or np.isnan(model.loglik_):
        raise ValueError(
            f"No likelihood-ratio test for the {family!r} family: its likelihood is not "
            "available (loglik_ is NaN: a quasi-likelihood, or a density the library does "
            "not evaluate), so a deviance difference is not a likelihood ratio."
        )
    flags = getattr(model, "param_flags_", None) or {}
    unidentified = [n for n, f in flags.items() if f.kind == UNIDENTIFIED]
    if unidentified:
        raise ValueError(
            f"The {role} model has parameters the data do not identify ({unidentified}): "
            "its degrees of freedom are not its number of parameters. Drop them and refit."
        )
    if not getattr(model, "converged_", True):
        warn(f"The {role} model ({name}) did not converge: its deviance may be above its "
             "minimum and the likelihood-ratio statistic is off by as much.",
             ConvergenceWarning)
    cov_type = getattr(model, "cov_type_", getattr(model, "cov_type", "nonrobust"))
    if cov_type != "nonrobust":
        warn(f"The {role} model has cov_type={cov_type!r}: a likelihood-ratio test assumes "
             "the model (independent rows, its variance function) is right, which a robust "
             "covariance does not; it is likely invalid there (statsmodels warns alike). A "
             "Wald test with the robust covariance (wald_test) does not assume it.",
             UserWarning)
    step_se = getattr(model, "refine_step_se_", None)
    if step_se is not None and (len(step_se) == 0 or step_se[-1] > _DLSA_SETTLED_SE):
        last = "no refinement" if len(step_se) == 0 else f"{step_se[-1]:.2g} standard errors"
        warn(f"The {role} model ({name}) is not refined to the maximum likelihood (last "
             f"step: {last}): its deviance is above the minimum by about the square of "
             "the distance in standard errors. Use refine_steps=20.", ConvergenceWarning)


def _exact_likelihood(family) -> bool:
    """Whether the family has an exact likelihood: its own ``exact_likelihood`` when it
    says, else whether it defines the per-row log-likelihood (a quasi-likelihood
    family does not)."""
    from .families import Family

    said = getattr(family, "exact_likelihood", None)
    if said is not None:
        return bool(said)
    return type(family)._loglik_obs is not Family._loglik_obs


def _alpha_estimated(model) -> bool:
    """Whether the fit estimated its family's ancillary parameter (the negative binomial's
    alpha, ``nb_alpha_``): the family as given to the estimator says so (``family_`` is
    the family at the estimate)."""
    from .families import get_family

    family = getattr(model, "family", None)
    if isinstance(family, str):
        family = get_family(family)
    return bool(getattr(family, "ancillary_estimated", False))


def _check_nested(full, restricted) -> None:
    """The two fits are of the same data and family, and ``restricted`` is smaller."""
    f_fam, r_fam = full.family_, restricted.family_
    both_alpha = _alpha_estimated(full), _alpha_estimated(restricted)
    if both_alpha[0] != both_alpha[1]:
        raise ValueError(
            "One negative binomial fit estimates alpha and the other fixes it: the test "
            "needs both to estimate it or both to fix it at the same value."
        )
    same = (type(f_fam) is type(r_fam) and f_fam.link.name == r_fam.link.name
            if both_alpha[0] else f_fam == r_fam)
    if not same:
        raise ValueError(f"The models have different families or links ({f_fam!r} and "
                         f"{r_fam!r}): they are not nested.")
    if full.n_obs_ != restricted.n_obs_:
        raise ValueError(f"The models are fitted on different rows (n_obs_ {full.n_obs_} and "
                         f"{restricted.n_obs_}): they must be fitted on the same data.")
    # the null deviance is at each fit's own alpha when alpha is estimated: not comparable
    if (full.fit_intercept == restricted.fit_intercept and not both_alpha[0]
            and not np.isclose(full.null_deviance_, restricted.null_deviance_,
                               rtol=_NULL_DEVIANCE_RTOL, atol=0.0)):
        raise ValueError(
            f"The models have different null deviances ({full.null_deviance_:.10g} and "
            f"{restricted.null_deviance_:.10g}): they are not fitted to the same response, "
            "weights and offset."
        )
    k_f, k_r = len(full.params_), len(restricted.params_)
    if k_r >= k_f:
        raise ValueError(
            f"The restricted model has {k_r} parameters and the full one {k_f}: the "
            "restricted model must have fewer (call full.lr_test(restricted) on the larger "
            "model)."
        )
    if restricted.fit_intercept and not full.fit_intercept:
        raise ValueError("The restricted model has an intercept and the full one not: "
                         "they are not nested.")
    _check_names(full, restricted)


def _names(model):
    """Parameter names when the fit knows them (a design or feature names), else None."""
    if not (hasattr(model, "design_") or hasattr(model, "feature_names_in_")):
        return None
    return ["intercept" if n == "Intercept" else n for n in model._param_names()]


def _check_names(full, restricted) -> None:
    f_names, r_names = _names(full), _names(restricted)
    if f_names is None or r_names is None:
        return
    extra = [n for n in r_names if n not in set(f_names)]
    if extra:
        raise ValueError(
            f"The restricted model's parameters {extra} are not parameters of the full "
            "model: the models are not nested."
        )


def _pearson_dispersion(model) -> float:
    """R's ``summary.glm`` dispersion: Pearson's chi^2 over the residual df."""
    if model.df_resid_ <= 0:
        raise ValueError("The full model has no residual degrees of freedom: its "
                         "dispersion cannot be estimated.")
    phi = float(model._pearson_dispersion(model.family_))
    if not phi > 0:
        raise ValueError("The full model fits exactly (its Pearson dispersion is 0): "
                         "the likelihood ratio is unbounded.")
    return phi


def _check_sign(difference: float, full, restricted, basis: str) -> None:
    size = abs(float(full.deviance_)) + abs(float(restricted.deviance_)) + 1.0
    if difference < -_NEGATIVE_RTOL * size:
        warn(f"The restricted model fits better than the full one (its {basis} difference "
             f"is {difference:.6g} < 0): the models are not nested or a fit has not "
             "converged; the test is meaningless.", UserWarning)
