"""Wald inference from a parameter vector and its covariance: the tables statisticians expect.

All estimators share these: standard errors, z statistics, two-sided normal p-values,
confidence intervals, the ``summary()`` DataFrame and joint Wald tests. Parameters
are ordered ``[intercept, *coef]`` when an intercept is fitted. Likelihood-ratio tests
between nested fits (:func:`lr_test`) live in :mod:`dask_glmdist.likelihood_ratio`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .likelihood_ratio import LRTestResult, lr_test

__all__ = ["standard_errors", "confidence_intervals", "coef_table", "wald_test", "SummaryFrame",
           "lr_test", "LRTestResult"]


class SummaryFrame(pd.DataFrame):
    """The coefficient table, with the model header above it and its notes below.

    A plain :class:`pandas.DataFrame` in every other respect (indexing, ``.loc``,
    arithmetic); the header (``{label: value}``: family, link, method, n_obs, df_resid,
    dispersion, deviance, log-likelihood, AIC, covariance type, iterations/rounds,
    converged) is in ``attrs["header"]`` and shown by ``repr``/``str`` and, as HTML, in
    a notebook (as statsmodels' ``summary()``); the notes (one line per flagged
    parameter) are in ``attrs["notes"]``.
    """

    @property
    def _constructor(self):
        return SummaryFrame

    def _notes_text(self) -> str:
        notes = self.attrs.get("notes") or {}
        if not notes:
            return ""
        return "\nNotes:\n" + "\n".join(f"  {name}: {text}" for name, text in notes.items())

    def _header_text(self) -> str:
        header = self.attrs.get("header") or {}
        if not header:
            return ""
        label = max(18, *(len(k) + 2 for k in header))
        items = [f"{k + ':':<{label}}{_shown(v)}" for k, v in header.items()]
        half = (len(items) + 1) // 2
        left, right = items[:half], items[half:] + [""] * (2 * half - len(items))
        width = max(len(t) for t in left) + 4
        rows = [f"{a:<{width}}{b}".rstrip() for a, b in zip(left, right, strict=True)]
        rule = "=" * max(len(r) for r in rows)
        return "\n".join([rule, *rows, rule]) + "\n"

    def __repr__(self) -> str:
        # every column (a summary wider than the terminal wraps rather than hiding
        # columns behind "..."), rows up to pandas' display.max_rows
        table = self.to_string(max_rows=pd.get_option("display.max_rows"))
        return self._header_text() + table + self._notes_text()

    def _repr_html_(self):
        html = super()._repr_html_()
        if html is None:
            return html
        header = self.attrs.get("header") or {}
        if header:
            cells = "".join(f"<tr><th>{k}</th><td>{_shown(v)}</td></tr>"
                            for k, v in header.items())
            html = f"<table>{cells}</table>" + html
        notes = self.attrs.get("notes") or {}
        if notes:
            items = "".join(f"<li><b>{n}</b>: {t}</li>" for n, t in notes.items())
            html += f"<p>Notes:</p><ul>{items}</ul>"
        return html


def _shown(value) -> str:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


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


def coef_table(params, cov, names, alpha: float = 0.05, flags=None) -> SummaryFrame:
    """coef, std_err, z, p_value, ci_lower, ci_upper indexed by parameter name.

    A parameter with zero standard error (fixed at zero by a penalty) has z and
    p-value NaN. ``flags`` maps parameter names to
    :class:`~dask_glmdist.diagnostics.ParamFlag`: an ``"infinite"`` estimate is shown
    as ``+-inf``, ``"unidentified"`` and ``"unreliable"`` ones keep their value; all have
    NaN standard error, z, p-value and interval, and their notes are printed below the table.
    """
    names = list(names)
    params = np.asarray(params, dtype=float).copy()
    bse = standard_errors(np.asarray(cov))
    flagged = _flagged_mask(names, flags)
    bse[flagged] = np.nan
    for j in np.flatnonzero(flagged):
        flag = flags[names[j]]
        if flag.kind == "infinite":
            params[j] = np.inf * (flag.sign or np.sign(params[j]) or 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(bse > 0, params / np.where(bse > 0, bse, 1.0), np.nan)
    p = 2.0 * stats.norm.sf(np.abs(z))
    ci = confidence_intervals(params, bse, alpha)
    table = SummaryFrame(
        {"coef": params, "std_err": bse, "z": z, "p_value": p,
         "ci_lower": ci[:, 0], "ci_upper": ci[:, 1]},
        index=pd.Index(names, name="parameter"),
    )
    table.attrs["notes"] = {n: flags[n].note for n in names if flags and n in flags}
    return table


def _flagged_mask(names, flags) -> np.ndarray:
    return np.array([bool(flags) and n in flags for n in names], dtype=bool)


def wald_test(params, cov, R, q=None, *, names=None, flags=None) -> dict:
    """Joint Wald test of ``R @ params = q``.

    Returns ``{"statistic", "df", "p_value"}`` with a chi-squared reference
    distribution (the large-sample test statsmodels' ``wald_test(use_f=False)`` does).
    A hypothesis that involves a flagged parameter (``flags``, keyed by ``names``;
    see :func:`coef_table`) is refused: it has no usable standard error.
    """
    params = np.asarray(params, dtype=float)
    R = np.atleast_2d(np.asarray(R, dtype=float))
    if R.shape[1] != params.shape[0]:
        raise ValueError(
            f"R has {R.shape[1]} columns but there are {params.shape[0]} parameters"
        )
    if flags and names is not None:
        used = np.any(R != 0, axis=0) & _flagged_mask(list(names), flags)
        if used.any():
            bad = [list(names)[j] for j in np.flatnonzero(used)]
            raise ValueError(
                f"The hypothesis involves parameters {bad} without a usable standard error ("
                + "; ".join(flags[n].note for n in bad) + ")."
            )
    q = np.zeros(R.shape[0]) if q is None else np.atleast_1d(np.asarray(q, dtype=float))
    diff = R @ params - q
    V = R @ np.asarray(cov) @ R.T
    stat = float(diff @ np.linalg.solve(V, diff))
    df = R.shape[0]
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}
