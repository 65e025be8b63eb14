"""What a fitted Cox model reports and predicts: the summary with hazard ratios, the
linear predictor, partial hazards, survival functions, the baseline frames and
Harrell's concordance index."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted, validate_data

from .._blocks import (
    _is_dask_frame,
    _is_dask_series,
    check_numeric_columns,
    dask_design,
    is_dask_collection,
    vector_like,
)
from ..design import check_columns, frame_predictions, partition_eta
from ._base import GLMInferenceMixin, _design_eta, _missing_option

__all__ = ["CoxPredictMixin", "baseline_frame", "concordance_index"]

_ONE = "baseline cumulative hazard"


def baseline_frame(events: dict, risk: dict, has_strata: bool):
    """Breslow's baseline cumulative hazard and its increments as DataFrames indexed by
    time (one column; with strata one per label, forward-filled on the union of the
    strata's event times, 0 before a stratum's first event)."""
    if not has_strata:
        t, d = events[None]
        inc = d / risk[None]
        index = pd.Index(t, name="time")
        return (pd.DataFrame({_ONE: np.cumsum(inc)}, index=index),
                pd.DataFrame({"baseline hazard": inc}, index=index))
    labels = sorted(events, key=lambda v: (str(type(v)), v))
    index = pd.Index(np.unique(np.concatenate([events[k][0] for k in labels])), name="time")
    cum, inc = {}, {}
    for k in labels:
        t, d = events[k]
        h = d / risk[k]
        pos = np.searchsorted(t, index.to_numpy(), side="right") - 1
        H = np.cumsum(h)
        cum[k] = np.where(pos >= 0, H[np.maximum(pos, 0)], 0.0)
        step = np.zeros(len(index))
        step[np.searchsorted(index.to_numpy(), t)] = h
        inc[k] = step
    return pd.DataFrame(cum, index=index), pd.DataFrame(inc, index=index)


def concordance_index(durations, risk, event=None, chunk: int = 2048) -> float:
    """Harrell's C: the share of comparable pairs that the risk scores order correctly.

    A pair (i, j) is comparable when i had an event and j was still at risk after i's
    time (``t_j > t_i``, or ``t_j == t_i`` with j censored); it is concordant when
    ``risk_i > risk_j`` and counts 1/2 when the risks tie (lifelines'
    ``CoxPHFitter.concordance_index_``; ``lifelines.utils.concordance_index`` given the
    partial hazard is 1 minus it, as it expects scores that grow with survival).
    O(n x events), in chunks.
    """
    t = np.asarray(durations, dtype=np.float64)
    r = np.asarray(risk, dtype=np.float64)
    e = np.ones(len(t), bool) if event is None else np.asarray(event).astype(bool)
    ev = np.flatnonzero(e)
    num = den = 0.0
    for a in range(0, len(ev), chunk):
        i = ev[a: a + chunk]
        ti, ri = t[i][:, None], r[i][:, None]
        comparable = (t[None, :] > ti) | ((t[None, :] == ti) & ~e[None, :])
        num += np.sum(comparable & (ri > r[None, :])) + 0.5 * np.sum(
            comparable & (ri == r[None, :]))
        den += np.sum(comparable)
    if den == 0:
        raise ValueError("No comparable pairs (no event before another row's time): the "
                         "concordance index is undefined.")
    return float(num / den)


def _hazard_rows(eta, H):
    """H0(t) exp(eta) for every row and time, as exp(eta + log H0(t)): 0 where H0 is 0
    (before the first event) even when exp(eta) overflows, inf where the product does."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.exp(eta[:, None] + np.log(np.asarray(H, dtype=np.float64))[None, :])


def _curve_rows(eta, labels, table: dict, times_len: int, survival: bool = True):
    """The survival exp(-H0_label(t) exp(eta)) (or, ``survival=False``, the cumulative
    hazard H0_label(t) exp(eta)) of every row (n, len(times)); ``table``: label -> H0 at
    the times."""
    eta = np.asarray(eta, dtype=np.float64).reshape(-1)
    if labels is None:
        out = _hazard_rows(eta, table[None])
    else:
        labels = np.asarray(labels)
        unknown = ~pd.Series(labels).isin(list(table)).to_numpy()
        if unknown.any():
            raise ValueError(f"strata label(s) {pd.unique(labels[unknown])[:10].tolist()} "
                             "were not seen in fit (no baseline hazard for them).")
        out = np.empty((eta.shape[0], times_len))
        for k, H in table.items():
            rows = _label_rows(labels, k)
            out[rows] = _hazard_rows(eta[rows], H)
    return np.exp(-out) if survival else out


def _label_rows(labels, k) -> np.ndarray:
    """Rows whose label equals ``k`` (labels of mixed types compared one by one)."""
    if labels.dtype == object:
        return np.fromiter((lab == k for lab in labels), dtype=bool, count=labels.shape[0])
    return labels == k


def _centred_eta(X, coef, center) -> np.ndarray:
    return (np.asarray(X, dtype=np.float64) - center) @ coef


def _partition_eta(part, columns, coef, center, offset=None):
    """``(part[columns] - center) coef (+ part[offset])`` on the partition's index."""
    X = part[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    eta = _centred_eta(X, coef, center)
    if offset is not None:
        eta = eta + part[offset].to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(eta, index=part.index, dtype=np.float64)


def _partition_curves(part, columns, coef, center, offset, strata, table, times, survival):
    eta = _partition_eta(part, columns, coef, center, offset).to_numpy()
    labels = None if strata is None else part[strata].to_numpy()
    return pd.DataFrame(_curve_rows(eta, labels, table, len(times), survival),
                        index=part.index, columns=list(times))


def _partition_design_curves(part, design, missing, coef, center, offset, strata, table,
                             times, survival):
    """:func:`_partition_curves` through a fitted design."""
    eta = partition_eta(part, design, coef, -float(center @ coef), offset,
                        missing=missing).to_numpy()
    labels = None if strata is None else part[strata].to_numpy()
    return pd.DataFrame(_curve_rows(eta, labels, table, len(times), survival),
                        index=part.index, columns=list(times))


class CoxPredictMixin(GLMInferenceMixin):
    """Summary, linear predictor and survival predictions of a fitted Cox model."""

    # -- inference ---------------------------------------------------------------------

    def _param_names(self) -> list[str]:
        if getattr(self, "design_", None) is not None:
            return list(self.design_.column_names)
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: coef, exp(coef) (the hazard ratio), std_err, z, p_value,
        ci_lower, ci_upper and the hazard ratio's interval exp(ci_lower), exp(ci_upper).

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals have coverage ``1 - alpha``.

        Returns
        -------
        pandas.DataFrame
            Indexed by covariate name; the model header in ``attrs["header"]`` (shown
            by ``print``).
        """
        table = super().summary(alpha)
        table.insert(1, "exp(coef)", np.exp(table["coef"].to_numpy()))
        table["exp(ci_lower)"] = np.exp(table["ci_lower"].to_numpy())
        table["exp(ci_upper)"] = np.exp(table["ci_upper"].to_numpy())
        return table

    def conf_int(self, alpha: float = 0.05, hazard_ratio: bool = False) -> pd.DataFrame:
        """Wald intervals of the coefficients (``hazard_ratio=True``: of the hazard
        ratios exp(coef)), columns lower, upper."""
        ci = super().conf_int(alpha)
        return np.exp(ci) if hazard_ratio else ci

    def _summary_header(self) -> dict:
        return {
            "Model": "Cox proportional hazards", "Method": f"{type(self).__name__}",
            "Ties": self.ties, "No. observations": self.n_obs_,
            "No. events": self.n_events_, "Row blocks (strata)": self.n_blocks_,
            "Partial log-lik.": self.loglik_, "Null partial log-lik.": self.null_loglik_,
            "AIC (partial)": self.aic_, "Covariance type": "nonrobust",
            "Iterations": self.n_iter_, "Rounds (passes)": self.n_rounds_,
            "Converged": self.converged_,
        }

    # -- the linear predictor --------------------------------------------------------------

    def _covariate_columns(self, X):
        names = getattr(self, "feature_names_in_", None)
        if names is None or not hasattr(X, "columns"):
            return None
        missing = [c for c in names if c not in set(map(str, X.columns))]
        if missing:
            raise ValueError(f"X lacks the covariate column(s) {missing[:10]} seen in fit.")
        lookup = {str(c): c for c in X.columns}
        return [lookup[c] for c in names]

    def predict_log_partial_hazard(self, X, offset=None):
        """The linear predictor ``(X - baseline_mean_) coef_ (+ offset)``, measured from
        the mean covariates as lifelines' and R's ``predict(type="lp")`` (lazy for dask
        input: a dask array, or a dask Series on a dask DataFrame's index)."""
        check_is_fitted(self)
        coef = np.asarray(self.coef_, dtype=np.float64)
        center = np.asarray(self.baseline_mean_, dtype=np.float64)
        if getattr(self, "design_", None) is not None:  # (x - center) coef = x coef - c coef
            return _design_eta(self, X, coef, -float(center @ coef), offset)
        cols = self._covariate_columns(X)
        if _is_dask_frame(X):
            return frame_predictions(X, cols, _partition_eta, cols, coef, center,
                                     offset=offset)
        if is_dask_collection(X):
            Xd, _ = dask_design(X)
            if Xd.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {Xd.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {self.n_features_in_} features as input.")
            eta = Xd.map_blocks(_centred_eta, coef, center, drop_axis=1, dtype=np.float64)
            return eta if offset is None else eta + vector_like(offset, Xd, "offset")
        if cols is not None:
            if isinstance(offset, str):
                offset = X[offset]
            X = X[cols]
            check_numeric_columns(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        eta = _centred_eta(X, coef, center)
        return eta if offset is None else eta + np.asarray(offset, dtype=np.float64)

    def predict_partial_hazard(self, X, offset=None):
        """The partial hazard ``exp((X - baseline_mean_) coef_ (+ offset))``: the hazard
        relative to the baseline at the mean covariates (lifelines'
        ``predict_partial_hazard``, R's ``predict(type="risk")``; lazy for dask input)."""
        eta = self.predict_log_partial_hazard(X, offset)
        if _is_dask_series(eta):
            return eta.map_partitions(np.exp, meta=eta._meta)
        return da.exp(eta) if isinstance(eta, da.Array) else np.exp(eta)

    def predict(self, X, offset=None):
        """The partial hazard ``exp((X - baseline_mean_) coef_ (+ offset))``: the hazard
        relative to the baseline at the mean covariates (lazy for dask input: a dask
        Series on a dask DataFrame's index, so it can be assigned back to the frame)."""
        return self.predict_partial_hazard(X, offset)

    # -- the baseline and survival ------------------------------------------------------

    def _baseline_at(self, times) -> dict:
        out = {}
        for k, (t, H) in self._baseline.items():
            pos = np.searchsorted(t, times, side="right") - 1
            out[k] = np.where(pos >= 0, H[np.maximum(pos, 0)], 0.0)
        return out

    def predict_cumulative_hazard(self, X, times=None, strata=None, offset=None):
        """``H0(t) exp((x - baseline_mean_) coef_ + offset)`` at ``times``; the layout of
        :meth:`predict_survival_function` (0 before the first event time, inf where the
        product overflows)."""
        return self._curves(X, times, strata, offset, survival=False)

    def predict_survival_function(self, X, times=None, strata=None, offset=None):
        """Survival probabilities ``exp(-H0(t) exp((x - baseline_mean_) coef_ + offset))``
        at ``times`` (H0 the baseline at ``baseline_mean_``).

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        times : array-like, default=None
            The times; None: the baseline's event times (in-memory X only).
        strata : array-like or str, default=None
            The rows' stratum labels, when the model was fitted with ``strata`` (with a
            DataFrame, may be a column name; with a dask DataFrame, must be).
        offset : array-like or str, default=None

        Returns
        -------
        pandas.DataFrame, dask array or dask DataFrame
            In memory, as lifelines: indexed by time, one column per row of ``X``. For
            a dask array a dask array of shape (n_samples, n_times); for a dask
            DataFrame a dask DataFrame with one column per time, on the frame's index.
            A row whose partial hazard overflows gets survival 1 before the first event
            time and 0 after it.
        """
        return self._curves(X, times, strata, offset, survival=True)

    def _curves(self, X, times, strata, offset, survival):
        check_is_fitted(self)
        fitted_strata = getattr(self, "_has_strata", False)
        if fitted_strata and strata is None:
            raise ValueError("The model was fitted with strata: give each row's stratum "
                             "label (strata=...).")
        if not fitted_strata and strata is not None:
            raise ValueError("The model was fitted without strata; do not pass strata.")
        if times is None:
            if is_dask_collection(X):
                raise ValueError("Give times= for dask input (the survival function at "
                                 "every event time would be one column per event time).")
            times = self.baseline_cumulative_hazard_.index.to_numpy()
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        table = self._baseline_at(times)
        if _is_dask_frame(X):
            return self._frame_curves(X, times, table, strata, offset, survival)
        eta = self.predict_log_partial_hazard(X, offset)
        if isinstance(eta, da.Array):
            labels = None if strata is None else vector_like(strata, eta[:, None], "strata")
            args = (eta,) if labels is None else (eta, labels)
            return da.map_blocks(_rows_curves, *args, table=table, times_len=len(times),
                                 survival=survival, new_axis=1,
                                 chunks=(eta.chunks[0], (len(times),)), dtype=np.float64)
        labels = None
        if strata is not None:
            labels = np.asarray(X[strata] if isinstance(strata, str) else strata)
        S = _curve_rows(eta, labels, table, len(times), survival)
        columns = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(S.shape[0])
        return pd.DataFrame(S.T, index=pd.Index(times, name="time"), columns=columns)

    def _frame_curves(self, X, times, table, strata, offset, survival):
        if strata is not None and not isinstance(strata, str):
            raise TypeError("With a dask DataFrame, strata must be the name of a column.")
        if offset is not None and not isinstance(offset, str):
            raise TypeError("With a dask DataFrame, offset must be the name of a column.")
        meta = pd.DataFrame({t: np.array([], dtype=np.float64) for t in times},
                            index=X._meta.index[:0])
        meta.columns = list(times)
        design = getattr(self, "design_", None)
        if design is not None:
            check_columns(X, design)
            cols, fn, how = design.variables, _partition_design_curves, (
                design, "keep" if _missing_option(self) == "drop" else "error")
        else:
            cols = self._covariate_columns(X)
            fn, how = _partition_curves, (cols,)
        read = list(dict.fromkeys(cols + [c for c in (offset, strata) if c is not None]))
        return X[read].map_partitions(fn, *how, np.asarray(self.coef_),
                                      np.asarray(self.baseline_mean_), offset, strata, table,
                                      list(times), survival, meta=meta)

    # -- score ---------------------------------------------------------------------------

    def score(self, X, durations=None, event=None):
        """Harrell's concordance index of the partial hazard (in memory only).

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
        durations : array-like of shape (n_samples,) or str
            Follow-up times (a column name with a DataFrame ``X``).
        event : array-like of shape (n_samples,) or str, default=None
            Event indicators (None: every row is an event).

        Returns
        -------
        float
            The share of comparable pairs ordered correctly (1/2 for a tie in risk).
        """
        if is_dask_collection(X) or is_dask_collection(durations):
            raise TypeError("score (Harrell's concordance index) is computed in memory: "
                            "pass NumPy/pandas input (e.g. a sample's .compute()).")
        if isinstance(durations, str):
            durations = X[durations]
        if isinstance(event, str):
            event = X[event]
        eta = self.predict_log_partial_hazard(X)
        if durations is None:
            raise ValueError("score needs the durations (and events) of the rows of X.")
        return concordance_index(np.asarray(durations, dtype=np.float64), eta, event)


def _rows_curves(eta, labels=None, *, table, times_len, survival):
    return _curve_rows(eta, labels, table, times_len, survival)
