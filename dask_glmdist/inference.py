"""Wald inference from a parameter vector and its covariance: the tables statisticians expect.

All estimators share these: standard errors, z statistics, two-sided normal p-values,
confidence intervals, the ``summary()`` DataFrame and joint Wald tests. Parameters
are ordered ``[intercept, *coef]`` when an intercept is fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["standard_errors", "confidence_intervals", "coef_table", "wald_test"]


def standard_errors(cov: np.ndarray) -> np.ndarray:
    """Square roots of the diagonal of a covariance matrix (negative rounding -> 0)."""
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def confidence_intervals(params, bse, alpha: float = 0.05) -> np.ndarray:
    """Wald intervals params -+ z_{1-alpha/2} * bse, shape (k, 2)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    q = stats.norm.ppf(1.0 - alpha / 2.0)
    params, bse = np.asarray(params), np.asarray(bse)
    return np.column_stack([params - q * bse, params + q * bse])


def coef_table(params, cov, names, alpha: float = 0.05) -> pd.DataFrame:
    """coef, std_err, z, p_value, ci_lower, ci_upper indexed by parameter name.

    A parameter with zero standard error (fixed at zero by a penalty) has z and
    p-value NaN.
    """
    params = np.asarray(params, dtype=float)
    bse = standard_errors(np.asarray(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(bse > 0, params / np.where(bse > 0, bse, 1.0), np.nan)
    p = 2.0 * stats.norm.sf(np.abs(z))
    ci = confidence_intervals(params, bse, alpha)
    return pd.DataFrame(
        {"coef": params, "std_err": bse, "z": z, "p_value": p,
         "ci_lower": ci[:, 0], "ci_upper": ci[:, 1]},
        index=pd.Index(list(names), name="parameter"),
    )


def wald_test(params, cov, R, q=None) -> dict:
    """Joint Wald test of ``R @ params = q``.

    Returns ``{"statistic", "df", "p_value"}`` with a chi-squared reference
    distribution (the large-sample test statsmodels' ``wald_test(use_f=False)`` does).
    """
    params = np.asarray(params, dtype=float)
    R = np.atleast_2d(np.asarray(R, dtype=float))
    if R.shape[1] != params.shape[0]:
        raise ValueError(
            f"R has {R.shape[1]} columns but there are {params.shape[0]} parameters"
        )
    q = np.zeros(R.shape[0]) if q is None else np.atleast_1d(np.asarray(q, dtype=float))
    diff = R @ params - q
    V = R @ np.asarray(cov) @ R.T
    stat = float(diff @ np.linalg.solve(V, diff))
    df = R.shape[0]
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}
