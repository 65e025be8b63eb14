"""Shared estimator machinery: inputs to row blocks, predictions, Wald inference.

Concrete estimators implement ``fit`` from these pieces; the mathematics of each
method lives in its own module.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._blocks import (
    SPARSE_FORMAT,
    BlockedData,
    _feature_names_of_dask_frame,
    _is_dask_frame,
    _is_dask_series,
    as_blocked,
    check_cluster_ids,
    check_numeric_columns,
    compute_reduced,
    dask_design,
    frame_blocks,
    frame_to_array,
    is_dask_collection,
    raise_for_problems,
    vector_like,
)
from ..design import (
    build_block,
    check_columns,
    dask_blocks,
    frame_predictions,
    learn_design,
    numeric_partition_eta,
    partition_eta,
    response_dtype,
    uses_design,
)
from ..fit_statistics import fit_statistics, information_criteria
from ..inference import coef_table, lr_test, standard_errors, wald_test
from ..sandwich import Sandwich, check_cov_type, sandwich_covariance
from ._ancillary import header_entries

__all__ = [
    "BinaryClassifierMixin",
    "DevianceScoreMixin",
    "GLMInferenceMixin",
    "prepare_blocks",
    "linear_predictor",
    "mean_from_linear_predictor",
    "positive_only_family",
    "predict_mean",
    "two_column_proba",
]


def _set_dask_feature_names(est, names) -> None:
    if names is not None:
        est.feature_names_in_ = names
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def prepare_blocks(est, X, y, sample_weight, *, n_partitions, n_params_extra, y_numeric=True,
                   offset=None, groups=None):
    """Validate the inputs of ``fit`` and put them into row blocks.

    In-memory input goes through scikit-learn's ``validate_data`` (feature names,
    finiteness, shapes); dask input is only checked for what its metadata shows
    (dimensions, dtypes, chunk alignment) -- its values are checked by the blocks
    during the first pass. Returns ``(BlockedData, y_in_memory_or_None)``; the caller
    checks y and then the block sizes (:func:`check_block_sizes`). An ``offset`` is
    blocked like ``y`` (in-memory offsets must be finite, one per row).

    A formula (the estimator's ``formula``), a DataFrame with categorical columns, or
    weights/offset given as column names go through a design learned from all of the
    frame (:mod:`dask_glmdist.design`), stored as ``design_``. ``groups``: cluster ids
    of the rows (blocked like ``y``; a column name with a DataFrame ``X``), for
    cluster-robust covariance.
    """
    if uses_design(est, X, sample_weight, offset, groups):
        return _prepare_design(est, X, y, sample_weight, offset, n_partitions=n_partitions,
                               n_params_extra=n_params_extra, y_numeric=y_numeric,
                               groups=groups)
    if hasattr(est, "design_"):
        del est.design_
    if y is None:
        raise ValueError(
            f"{type(est).__name__} requires y to be passed, but the target y is None (or "
            "give the estimator a formula with a response, 'y ~ x', and a DataFrame)."
        )
    if is_dask_collection(X) or is_dask_collection(y):
        if not is_dask_collection(X):
            raise TypeError("y is a dask collection but X is not; pass both as dask collections")
        if y_numeric:
            check_numeric_y(y, getattr(est, "family", None))
        if _is_dask_frame(X):  # X, y, weights, offset from one graph: blocks = partitions
            _, names = dask_design(X)  # checks on the metadata (dtypes, names)
            Xd, y, sample_weight, offset, groups = frame_blocks(X, y, sample_weight, offset,
                                                                groups)
        else:
            Xd, names = dask_design(X)
        est.n_features_in_ = int(Xd.shape[1])
        _set_dask_feature_names(est, names)
        if groups is not None and not is_dask_collection(groups):
            groups = check_groups(groups, None)
        return as_blocked(Xd, y, sample_weight, offset=offset, groups=groups), None
    check_numeric_columns(X)
    if y_numeric:
        check_numeric_y(y, getattr(est, "family", None))
    X, y = validate_data(
        est, X, y, dtype=np.float64, y_numeric=y_numeric, ensure_min_samples=2,
        accept_sparse=SPARSE_FORMAT,
    )
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if offset is not None:
        offset = np.asarray(offset, dtype=np.float64)
        if offset.shape != (X.shape[0],):
            raise ValueError(
                f"offset must have shape ({X.shape[0]},), one value per row; got {offset.shape}."
            )
        if not np.all(np.isfinite(offset)):
            raise ValueError("Invalid input: offset contains NaN or infinity.")
    if groups is not None:
        groups = check_groups(groups, X.shape[0])
    data = as_blocked(
        X, y, sample_weight, n_partitions=n_partitions,
        n_params=X.shape[1] + n_params_extra, offset=offset, groups=groups,
    )
    return data, y


def check_groups(groups, n_rows) -> np.ndarray:
    """In-memory cluster ids: one per row (``n_rows``; None: not known here), none
    missing."""
    g = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D, one cluster id per row; got shape {g.shape}.")
    if n_rows is not None and g.shape[0] != n_rows:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has {n_rows} "
            f"rows, groups has {g.shape[0]}."
        )
    check_cluster_ids(g)
    try:
        np.unique(g)  # the ids are ordered by the sandwich pass: refuse them now if not
    except TypeError as exc:
        raise TypeError(f"groups: the cluster ids cannot be ordered ({exc}); give ids of "
                        "one type (all numbers or all strings).") from exc
    return g


_MISSING_OPTIONS = ("raise", "drop")


def _missing_option(est) -> str:
    missing = getattr(est, "missing", "raise")
    if missing not in _MISSING_OPTIONS:
        raise ValueError(f"missing must be one of {_MISSING_OPTIONS}; got {missing!r}.")
    return missing


def _prepare_design(est, X, y, sample_weight, offset, *, n_partitions, n_params_extra,
                    y_numeric, groups=None):
    """``prepare_blocks`` for a frame through a design (formula or categorical columns)."""
    missing = _missing_option(est)
    if not (hasattr(X, "columns") and getattr(X, "ndim", None) == 2):
        raise TypeError(
            "A formula needs a pandas or dask DataFrame holding the columns it names; got "
            f"{type(X).__name__}."
        )
    named = (("sample_weight", sample_weight), ("offset", offset), ("groups", groups))
    for what, v in named:
        if isinstance(v, str) and v not in X.columns:
            raise ValueError(
                f"{what}={v!r} names no column of X (its columns: "
                f"{[str(c) for c in X.columns][:30]})."
            )
    dask_input = is_dask_collection(X)
    if not dask_input and is_dask_collection(y):
        raise TypeError("y is a dask collection but X is not; pass both as dask collections")
    design = learn_design(X, getattr(est, "formula", None), fit_intercept=est.fit_intercept,
                          y_given=y is not None, split_every=getattr(est, "split_every", 8),
                          exclude=[v for _, v in named if isinstance(v, str)],
                          labels=not y_numeric)
    if design.n_columns == 0 and not design.has_intercept:
        raise ValueError("The model has no columns and no intercept.")
    if design.n_columns == 0:
        raise ValueError("The model has only an intercept; give at least one column.")
    est.design_ = design
    est.n_features_in_ = len(X.columns)
    est.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
    if y_numeric and y is not None:
        check_numeric_y(y, getattr(est, "family", None))
    if y_numeric and y is None and response_dtype(X, design) is object:
        raise ValueError(
            f"The response {design.response!r} is not numeric (dtype "
            f"{X[design.response].dtype}); a regressor needs a numeric response."
        )
    if dask_input:
        Xd, yd, wd, od, gd, reports = dask_blocks(
            X, design, y, sample_weight, offset, response=y is None, missing=missing,
            y_dtype=response_dtype(X, design, y), g=groups)
        if gd is not None and not is_dask_collection(gd):
            raise TypeError("groups must be a dask Series partitioned like the frame, or the "
                            f"name of one of its columns; got {type(gd).__name__}.")
        return BlockedData(Xd, yd, wd, od, reports, groups=gd), None
    y_mem = None if y is None else np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if groups is not None and not isinstance(groups, str):
        groups = check_groups(groups, len(X))
    Xa, ya, wa, oa, ga, report = build_block(X, design, y_mem, sample_weight, offset,
                                             response=True, missing=missing, g=groups)
    raise_for_problems(report.get("problems", {}))
    _check_finite_design(Xa, design)
    if Xa.shape[0] < 2:
        raise ValueError(f"Found {Xa.shape[0]} usable row(s); at least 2 are required.")
    if y_numeric:
        ya = np.asarray(ya, dtype=np.float64)
        if not np.all(np.isfinite(ya)):
            raise ValueError("Input y contains infinity.")
    if wa is not None:
        wa = _check_sample_weight(np.asarray(wa, dtype=np.float64), Xa, dtype=np.float64)
    if oa is not None:
        oa = np.asarray(oa, dtype=np.float64)
        if not np.all(np.isfinite(oa)):
            raise ValueError("Invalid input: offset contains infinity.")
    data = as_blocked(Xa, ya, wa, n_partitions=n_partitions,
                      n_params=Xa.shape[1] + n_params_extra, offset=oa, groups=ga)
    return data, ya


def _check_finite_design(X, design) -> None:
    bad = ~np.isfinite(X).all(axis=0)
    if bad.any():
        cols = [design.column_names[j] for j in np.flatnonzero(bad)]
        raise ValueError(
            f"The design has infinite or undefined values in column(s) {cols[:10]} "
            "(e.g. np.log of a zero or negative value)."
        )


def _design_eta(est, X, coef, intercept, offset=None):
    """Linear predictor of a frame through the fitted design (rows with a missing value
    give NaN under missing='drop'; an error under 'raise'). A dask Series on a dask
    DataFrame: an expression on the frame (:func:`~dask_glmdist.design.frame_predictions`)."""
    mode = "keep" if _missing_option(est) == "drop" else "error"
    if not (hasattr(X, "columns") and getattr(X, "ndim", None) == 2):
        raise TypeError(
            f"{type(est).__name__} was fitted on a DataFrame through a design "
            f"({est.design_.formula!r}); predict needs a DataFrame with the same columns, got "
            f"{type(X).__name__}."
        )
    check_columns(X, est.design_)
    if is_dask_collection(X):
        return frame_predictions(X, est.design_.variables, partition_eta, est.design_, coef,
                                 intercept, offset=offset, missing=mode)
    Xa, _, _, oa, _, _ = build_block(X, est.design_, None, None, offset, response=False,
                                  missing=mode)
    eta = Xa @ coef + intercept
    return eta if oa is None else eta + np.asarray(oa, dtype=np.float64)


def design_response(est, X, sample_weight=None, offset=None):
    """``(eta, y, weights)`` of a frame through the fitted design and its response.

    For ``score(frame)`` after a formula fit: the response is the formula's left-hand
    side, built from the same partitions as the design (rows with a missing value are
    dropped under ``missing="drop"``; an error otherwise). Lazy for a dask frame.
    """
    check_is_fitted(est)
    design = est.design_
    coef = np.asarray(est.coef_, dtype=np.float64).ravel()
    intercept = float(np.ravel(est.intercept_)[0])
    mode = "drop" if _missing_option(est) == "drop" else "error"
    check_columns(X, design, response=True)
    if is_dask_collection(X):
        Xd, yd, wd, od, _, _ = dask_blocks(X, design, None, sample_weight, offset, response=True,
                                        missing=mode, y_dtype=response_dtype(X, design))
        eta = Xd.map_blocks(_block_linear_predictor, coef, intercept, drop_axis=1,
                            dtype=np.float64)
        return (eta if od is None else eta + od), yd, wd
    Xa, ya, wa, oa, _, _ = build_block(X, design, None, sample_weight, offset, response=True,
                                    missing=mode)
    eta = Xa @ coef + intercept
    return (eta if oa is None else eta + oa), ya, wa


def _scores_own_response(est, X, y) -> bool:
    design = getattr(est, "design_", None)
    if y is None and (design is None or design.response is None):
        raise ValueError(
            f"{type(est).__name__}.score needs y (or a formula with a response and a "
            "DataFrame holding it)."
        )
    return y is None


def linear_predictor(est, X, offset=None):
    """``X @ coef_ + intercept_ + offset`` for in-memory input (NumPy), a dask array
    (lazy: a dask array) or a dask DataFrame (lazy: a dask Series on the frame's index,
    an expression on the frame, so that it can be assigned back to it).

    Through the fitted design (``design_``) when there is one; ``offset`` may be a
    column name there (and with a dask DataFrame).
    """
    check_is_fitted(est)
    coef = np.asarray(est.coef_, dtype=np.float64).ravel()
    intercept = float(np.ravel(est.intercept_)[0])  # a float, or shape (1,) for classifiers
    if getattr(est, "design_", None) is not None:
        return _design_eta(est, X, coef, intercept, offset)
    if _is_dask_frame(X):
        _check_dask_features(est, _feature_names_of_dask_frame(X), len(X.columns))
        return frame_predictions(X, list(X.columns), numeric_partition_eta, list(X.columns),
                                 coef, intercept, offset=offset)
    if is_dask_collection(X):
        Xd, _ = dask_design(X)
        _check_dask_features(est, None, Xd.shape[1])
        eta = Xd.map_blocks(_block_linear_predictor, coef, intercept, drop_axis=1,
                            dtype=np.float64)
        if offset is None:
            return eta
        return eta + (offset if is_dask_collection(offset) else da.from_array(
            np.asarray(offset, dtype=np.float64), chunks=(eta.chunks[0],)))
    check_numeric_columns(X)
    X = validate_data(est, X, dtype=np.float64, reset=False, accept_sparse=SPARSE_FORMAT)
    eta = np.asarray(X @ coef + intercept)  # scipy.sparse X: the product is dense
    return eta if offset is None else eta + np.asarray(offset, dtype=np.float64)


def _check_dask_features(est, names, n_features) -> None:
    if n_features != est.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    if names is not None and hasattr(est, "feature_names_in_"):
        if list(names) != list(est.feature_names_in_):
            raise ValueError(
                "The feature names should match those that were passed during fit."
            )


def _dtype_of(y):
    """The dtype of a vector, or of a one-column DataFrame (None when it has none)."""
    dtypes = getattr(y, "dtypes", None)
    if isinstance(dtypes, pd.Series):
        return dtypes.iloc[0] if len(dtypes) == 1 else None
    return getattr(y, "dtype", None)


def check_numeric_y(y, family=None) -> None:
    """Refuse a non-numeric response (strings, dates) of a regressor, from its dtype.

    For dask input this is decided from metadata, before any pass over the data; an
    in-memory y of object dtype is accepted when its values convert to numbers.
    """
    if y is None:
        return
    dtype = _dtype_of(y)
    if dtype is None and not is_dask_collection(y):
        dtype = np.asarray(y).dtype
    if dtype is None or pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(
            dtype):
        return
    if not is_dask_collection(y) and pd.api.types.is_object_dtype(dtype):
        try:
            np.asarray(y, dtype=np.float64)
            return
        except (TypeError, ValueError):
            pass
    name = family if isinstance(family, str) else getattr(family, "name", None)
    msg = f"y must be numeric for the {name} family" if name else "y must be numeric"
    msg += f", got dtype {dtype}"
    if name == "binomial":
        msg += (
            "; for class labels (e.g. strings) use DLSALogisticRegression or "
            "PenalizedLogisticRegression, or encode y as 0/1 (a proportion of successes)"
        )
    raise ValueError(msg + ".")


def mean_from_linear_predictor(est, eta):
    """``g^{-1}(eta)`` with the fitted family's link (lazy for a dask ``eta``: a dask
    Series stays a dask Series on the same index, a dask array a dask array)."""
    if _is_dask_series(eta):
        return eta.map_partitions(_series_values, est.family_.link.inverse, meta=eta._meta)
    if isinstance(eta, da.Array):
        return eta.map_blocks(est.family_.link.inverse, dtype=np.float64)
    return np.asarray(est.family_.link.inverse(eta))


def _series_values(s, fn, dtype=np.float64):
    return pd.Series(np.asarray(fn(s.to_numpy(dtype=np.float64))), index=s.index, name=s.name,
                     dtype=dtype)


def linear_predictor_with_offset(est, X, offset=None):
    """``X coef_ + intercept_ + offset`` (lazy for dask input); see
    :func:`linear_predictor`."""
    return linear_predictor(est, X, offset)


def predict_mean(est, X, offset=None):
    """``g^{-1}(X coef_ + intercept_ + offset)`` (lazy for dask input: a dask Series for
    a dask DataFrame, a dask array for a dask array)."""
    return mean_from_linear_predictor(est, linear_predictor_with_offset(est, X, offset))


def two_column_proba(eta, link=None, columns=(0, 1)):
    """``[1 - p, p]`` with ``p = link.inverse(eta)`` (``eta`` itself without ``link``):
    shape (n, 2) in NumPy or as a dask array; for a dask Series (predictions on a dask
    DataFrame) a dask DataFrame with the two columns named ``columns``, on the frame's
    index, so that ``df.assign(p=proba.iloc[:, 1])`` works."""
    if _is_dask_series(eta):
        meta = pd.DataFrame({k: np.array([], dtype=np.float64) for k in range(2)},
                            index=eta._meta.index[:0])
        meta.columns = list(columns)
        return eta.map_partitions(_proba_frame, link, list(columns), meta=meta)
    if isinstance(eta, da.Array):
        return eta.map_blocks(_two_column_proba, link, new_axis=1,
                              chunks=(eta.chunks[0], (2,)), dtype=np.float64)
    return _two_column_proba(eta, link)


def _proba_frame(s, link, columns):
    out = pd.DataFrame(_two_column_proba(s.to_numpy(dtype=np.float64), link), index=s.index)
    out.columns = columns
    return out


def positive_only_family(family) -> bool:
    """Whether the family (a name or a Family) needs y > 0 or y >= 0: an honest tag."""
    from ..families import FAMILY_NAMES, POSITIVE, Family, get_family

    if isinstance(family, str):
        family = get_family(family) if family.lower() in FAMILY_NAMES else None
    return isinstance(family, Family) and family.domain is POSITIVE


def _block_linear_predictor(Xb, coef, intercept):
    from .._array import get_namespace
    from ..solvers.glm_kernel import linear_predictor

    theta = np.concatenate([[intercept], coef])
    return linear_predictor(Xb, theta, True, get_namespace(Xb))


EXACT_FIT = 1e-20  # deviance / null deviance at or below: an exact fit (loglik_ = inf)


class GLMInferenceMixin:
    """``summary()``, ``conf_int()`` and ``wald_test()`` from ``params_``/``cov_params_``.

    Fitted estimators set ``params_`` (intercept first when fitted), ``cov_params_``
    and ``bse_``, and ``param_flags_`` (``{name: ParamFlag}``, possibly empty) for
    parameters whose estimate does not exist or is not identified.
    """

    def _param_names(self) -> list[str]:
        design = getattr(self, "design_", None)
        if design is not None:
            intercept = "Intercept" if design.from_formula else "intercept"
            return ([intercept] if self.fit_intercept else []) + list(design.column_names)
        if hasattr(self, "feature_names_in_"):
            names = [str(c) for c in self.feature_names_in_]
        else:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return (["intercept"] if self.fit_intercept else []) + names

    def _reference_groups(self, free=None) -> tuple:
        """The design's treatment-coded factors, for the first pass's recession counts
        (:func:`~dask_glmdist.solvers.recession.reference_groups`; ``()`` without one).
        ``free`` (a mask of the parameters without penalty or bound): only the groups
        whose intercept and dummies are all free (the others cannot run off)."""
        from ..solvers.recession import reference_groups

        groups = reference_groups(getattr(self, "design_", None), self.fit_intercept)
        if free is None:
            return groups
        return tuple(g for g in groups if free[0] and all(free[j + 1] for j in g.columns))

    def _set_param_flags(self, flags: dict) -> None:
        """Store ``param_flags_`` and blank the flagged parameters' standard errors.

        The one rule for every estimator: a flagged parameter (an estimate that does not
        exist, or one without a usable standard error) has NaN in ``bse_`` and in its row
        and column of ``cov_params_``; its ``params_`` value is what the fit stopped at.
        Call it after ``params_``, ``cov_params_`` and ``bse_`` are set.
        """
        self.param_flags_ = dict(flags)
        if not flags or not hasattr(self, "cov_params_"):
            return
        names = self._param_names()
        idx = [names.index(n) for n in flags]
        cov = np.array(self.cov_params_, dtype=float, copy=True)
        cov[idx, :] = np.nan
        cov[:, idx] = np.nan
        self.cov_params_ = cov
        bse = np.array(self.bse_, dtype=float, copy=True)
        bse[idx] = np.nan
        self.bse_ = bse

    def _check_inference(self) -> None:
        """Raise when the fitted model has no standard errors (a hook; default: it has).

        The one refusal of the contract: ``AttributeError`` saying why (as
        :func:`~sklearn.utils.validation.check_is_fitted`'s ``NotFittedError`` is one),
        so ``hasattr(model, "summary")`` says whether inference is available.
        """
        check_is_fitted(self)

    def _set_fit_statistics(self, engine, family, theta=None, *, classes=None,
                            deviance=None, n_obs=None, final=None, known=None, n_extra=0):
        """The contract's fit statistics at the final estimate (one light pass of the
        fit's round ``engine``): ``deviance_``, ``pearson_chi2_``, ``null_deviance_``,
        ``loglik_``, ``aic_``, ``bic_``, ``n_obs_``, ``df_resid_``, and ``n_rounds_`` (the
        engine's count of passes, this one included).

        ``theta`` defaults to ``params_``; ``deviance``/``n_obs``: known at ``theta``
        already (saves a pass for families with estimated dispersion). ``final``: a
        :class:`~dask_glmdist.fit_statistics.FinalStatistics` that rode on the fit's
        last round (no pass); ``known``: the statistics themselves, from the method's
        own sums (:func:`~dask_glmdist.fit_statistics.least_squares_statistics`).
        ``n_extra``: parameters estimated besides ``theta`` and the dispersion (NB's
        ``alpha``), counted in AIC and BIC as R's ``glm.nb`` does.
        """
        theta = np.asarray(self.params_ if theta is None else theta, dtype=np.float64)
        st = known if known is not None else fit_statistics(
            engine, family, theta, fit_intercept=self.fit_intercept, deviance=deviance,
            n_obs=n_obs, classes=classes, final=final,
            label=f"{type(self).__name__} fit statistics")
        k = theta.shape[0]
        self.deviance_ = st.deviance
        self.pearson_chi2_ = st.pearson
        self.null_deviance_ = st.null_deviance
        self.loglik_ = st.loglik
        if not family.fixed_dispersion and st.deviance <= EXACT_FIT * abs(st.null_deviance):
            # an exact fit (the residual deviance is rounding): the dispersion is 0 and the
            # likelihood unbounded, not a finite number made of rounding
            self.loglik_ = np.inf
        self.aic_, self.bic_ = information_criteria(self.loglik_, k + n_extra, st.n_obs, family)
        self.n_obs_ = st.n_obs
        self.df_resid_ = st.n_obs - k
        self.n_rounds_ = engine.count
        return st

    def _pearson_dispersion(self, family) -> float:
        """``dispersion_`` by the library's one default: Pearson's chi^2 over
        ``df_resid_`` (R's ``summary.glm``, statsmodels), 1 for fixed-scale families."""
        if family.fixed_dispersion:
            return 1.0
        return self.pearson_chi2_ / self.df_resid_ if self.df_resid_ > 0 else float("nan")

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: coef, std_err, z, p_value, ci_lower, ci_upper.

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals have coverage ``1 - alpha``.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter name (``intercept`` first when fitted, then the
            feature names seen in ``fit`` or ``x0, x1, ...``).
        """
        self._check_inference()
        table = coef_table(self.params_, self.cov_params_, self._param_names(), alpha,
                           flags=getattr(self, "param_flags_", None))
        table.attrs["header"] = self._summary_header()
        return table

    @property
    def _cov_type(self) -> str:
        """The header's covariance type: statsmodels' names ("nonrobust": dispersion_ x
        inverse Fisher information; "HC0", "HC1", "cluster" with the number of clusters)."""
        cov_type = getattr(self, "cov_type_", "nonrobust")
        if cov_type == "cluster" and hasattr(self, "n_groups_"):
            return f"cluster ({self.n_groups_:,} groups)"
        return cov_type

    def _check_cov_type(self, groups, *, allowed=True, why="") -> str:
        """``cov_type`` and ``fit``'s ``groups`` checked before any pass (``allowed``:
        whether this fit can have a sandwich covariance; ``why`` says when not)."""
        cov_type = check_cov_type(self, groups)
        if cov_type != "nonrobust" and not allowed:
            raise ValueError(f"cov_type={cov_type!r} is not available {why}.")
        return cov_type

    def _attach_sandwich(self, engine, family, theta=None, *, classes=None):
        """The fit's sandwich rider on ``engine``'s next round, at ``theta`` (default
        ``params_``); None for ``cov_type="nonrobust"``."""
        sandwich = self._sandwich(family, classes=classes)
        if sandwich is not None:
            sandwich.attach(engine, self.params_ if theta is None else theta)
        return sandwich

    def _sandwich(self, family, *, classes=None):
        cov_type = getattr(self, "cov_type", "nonrobust")
        if cov_type == "nonrobust":
            return None
        return Sandwich(family, cov_type, fit_intercept=self.fit_intercept, classes=classes)

    def _set_sandwich(self, engine, sandwich) -> None:
        """``cov_params_`` and ``bse_`` by the sandwich (:mod:`dask_glmdist.sandwich`),
        ``n_groups_`` for clusters, ``cov_type_``; the parameters flagged in
        ``param_flags_`` are left out (NaN). ``sandwich``: from :meth:`_attach_sandwich`
        (its sums rode on a pass at ``params_``, else one pass here)."""
        self.cov_type_ = getattr(self, "cov_type", "nonrobust")
        if hasattr(self, "n_groups_"):
            del self.n_groups_
        if sandwich is None or not hasattr(self, "cov_params_"):
            return
        s = sandwich.sums(engine, self.params_)
        names = self._param_names()
        flags = getattr(self, "param_flags_", {})
        cov, groups = sandwich_covariance(s, sandwich.cov_type, len(names),
                                          free=[n not in flags for n in names])
        self.cov_params_ = cov
        self.bse_ = standard_errors(cov)
        if groups is not None:
            self.n_groups_ = groups
        self.n_rounds_ = engine.count

    def _summary_header(self) -> dict:
        """The model header of :meth:`summary` (statsmodels' results header)."""
        family = self.family_
        method = getattr(self, "method", None)
        name = type(self).__name__ + (f"({method})" if isinstance(method, str) else "")
        return {
            "Family": family.title, "Link": family.link.name, "Method": name,
            "No. observations": getattr(self, "n_obs_", None),
            "Df residuals": getattr(self, "df_resid_", None),
            "Dispersion": getattr(self, "dispersion_", None),
            "Deviance": getattr(self, "deviance_", None),
            "Log-likelihood": getattr(self, "loglik_", None),
            "AIC": getattr(self, "aic_", None),
            **header_entries(self),
            "Covariance type": self._cov_type,
            "Iterations": getattr(self, "n_iter_", None),
            "Rounds (passes)": getattr(self, "n_rounds_", None),
            "Converged": getattr(self, "converged_", None),
        }

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals with coverage ``1 - alpha`` (columns lower, upper).

        Parameters flagged in ``param_flags_`` (an estimate that does not exist, or one
        the data do not identify) have NaN intervals.
        """
        table = self.summary(alpha)
        return pd.DataFrame({"lower": table["ci_lower"].to_numpy(),
                             "upper": table["ci_upper"].to_numpy()},
                            index=self._param_names())

    def wald_test(self, R, q=None) -> dict:
        """Joint Wald test of the linear hypothesis ``R @ params_ = q`` (chi-squared).

        ``R`` has one column per parameter, in ``summary()`` order. A hypothesis on a
        parameter flagged in ``param_flags_`` is refused.
        """
        self._check_inference()
        return wald_test(self.params_, self.cov_params_, R, q, names=self._param_names(),
                         flags=getattr(self, "param_flags_", None))

    def lr_test(self, restricted, test: str = "Chisq"):
        """Likelihood-ratio test of the nested fit ``restricted`` against this one.

        R's ``anova(restricted, self, test=test)``: see
        :func:`dask_glmdist.inference.lr_test`. Returns an
        :class:`~dask_glmdist.likelihood_ratio.LRTestResult` (``statistic``, ``df``,
        ``p_value``; ``print`` shows the anova table).
        """
        return lr_test(self, restricted, test=test)


class DevianceScoreMixin:
    """``score`` = D^2, the fraction of deviance explained (R^2 for the gaussian family).

    For estimators with ``predict`` returning the mean and a fitted ``family_``.
    """

    def score(self, X, y=None, sample_weight=None, offset=None):
        """Fraction of deviance explained, D^2 = 1 - D(y, mu_hat) / D(y, weighted mean of y).

        The same as scikit-learn's GLM ``score``; for the gaussian family it is R^2.
        Lazy for dask input, unknown chunk sizes included: one computation.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given after a formula fit: the response is then the formula's
            left-hand side, evaluated on ``X``.
        sample_weight : array-like or dask Series/array of shape (n_samples,), default=None
        offset : array-like or dask Series/array of shape (n_samples,) or str, default=None
            Known part of the linear predictor, as in ``fit`` (a column name with a
            DataFrame fitted through a design).

        Returns
        -------
        float
        """
        family = self.family_
        if _scores_own_response(self, X, y):
            eta, y, sample_weight = design_response(self, X, sample_weight, offset)
            mu = mean_from_linear_predictor(self, eta)
        else:
            _check_score_inputs(X, y)
            mu = predict_mean(self, X, offset)
        if _is_dask_series(mu):  # predictions on a dask DataFrame: the same row blocks
            mu = frame_to_array(mu)  # as y and sample_weight taken from the frame
        if isinstance(mu, da.Array):
            return _dask_d2(family, mu, y, sample_weight)
        check_numeric_y(y, family)
        y = np.asarray(y, dtype=np.float64)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        ybar = np.average(y, weights=w)
        dev = float(family.deviance(y, mu, w))
        dev_null = float(family.deviance(y, np.full_like(y, ybar), w))
        return 1.0 - dev / dev_null


def _check_score_inputs(X, y) -> None:
    if is_dask_collection(y) and not is_dask_collection(X):
        raise TypeError("y is a dask collection but X is not; pass both as dask collections")


def _dask_d2(family, mu, y, sample_weight):
    """D^2 for dask input: one graph, computed once (unknown chunk sizes work)."""
    check_numeric_y(y, family)
    y = vector_like(y, mu, "y").astype(np.float64)
    w = None
    if sample_weight is not None:
        w = vector_like(sample_weight, mu, "sample_weight").astype(np.float64)
    ybar = y.mean() if w is None else (w * y).sum() / w.sum()
    dev = da.map_blocks(family.unit_deviance, y, mu, dtype=np.float64)
    dev_null = da.map_blocks(family.unit_deviance, y, da.ones_like(y) * ybar,
                             dtype=np.float64)
    if w is not None:
        dev, dev_null = w * dev, w * dev_null
    dev, dev_null = compute_reduced(dev.sum(), dev_null.sum())
    return 1.0 - float(dev) / float(dev_null)


class BinaryClassifierMixin:
    """Predictions of a binomial GLM classifier with two labels ``classes_`` (sorted;
    the second is the positive class) and a fitted ``family_`` (any binomial link)."""

    def decision_function(self, X, offset=None):
        """Linear predictor of ``classes_[1]`` (the log-odds for the logit link), the
        ``offset`` given to ``fit`` added back when it is given (lazy for dask input)."""
        return linear_predictor_with_offset(self, X, offset)

    def predict_proba(self, X, offset=None):
        """Class probabilities, shape (n_samples, 2) in ``classes_`` order.

        For a dask DataFrame a dask DataFrame with columns ``classes_`` on the frame's
        index (``df.assign(p=clf.predict_proba(df).iloc[:, 1])`` writes back); a dask
        array for a dask array."""
        return two_column_proba(self.decision_function(X, offset), self.family_.link,
                                columns=self.classes_)

    def score(self, X, y=None, sample_weight=None, offset=None):
        """Mean accuracy of :meth:`predict` (weighted by ``sample_weight``).

        Lazy for dask input, unknown chunk sizes included: one computation.

        Parameters
        ----------
        X : array-like, pandas/dask DataFrame or dask array of shape (n_samples, n_features)
        y : array-like or dask Series/array of shape (n_samples,), default=None
            Not given after a formula fit: the response is then the formula's
            left-hand side, evaluated on ``X``.
            True labels.
        sample_weight : array-like or dask Series/array of shape (n_samples,), default=None
        offset : array-like or dask Series/array of shape (n_samples,) or str, default=None
            Known part of the linear predictor, as in ``fit``.

        Returns
        -------
        float
        """
        if _scores_own_response(self, X, y):
            eta, y, sample_weight = design_response(self, X, sample_weight, offset)
            pred = self._labels_of(eta)
        else:
            _check_score_inputs(X, y)
            pred = self.predict(X, offset)
        if _is_dask_series(pred):  # predictions on a dask DataFrame: blocks as y's
            pred = frame_to_array(pred, as_float=False)
        if not isinstance(pred, da.Array):
            return float(accuracy_score(y, pred, sample_weight=sample_weight))
        hit = (pred == vector_like(y, pred, "y")).astype(np.float64)
        if sample_weight is None:
            total, count = hit.sum(), da.ones_like(hit).sum()
        else:
            w = vector_like(sample_weight, pred, "sample_weight").astype(np.float64)
            total, count = (w * hit).sum(), w.sum()
        total, count = compute_reduced(total, count)
        return float(total) / float(count)

    def predict_log_proba(self, X, offset=None):
        """Logarithm of :meth:`predict_proba`."""
        proba = self.predict_proba(X, offset)
        if _is_dask_frame(proba):
            return proba.map_partitions(np.log, meta=proba._meta)
        return da.log(proba) if isinstance(proba, da.Array) else np.log(proba)

    def predict(self, X, offset=None):
        """Predicted class labels: the positive class where its probability exceeds 1/2
        (lazy for dask input)."""
        return self._labels_of(self.decision_function(X, offset))

    def _labels_of(self, eta):
        cut = float(np.asarray(self.family_.link.link(np.array([0.5])))[0])
        if _is_dask_series(eta):
            dtype = _label_dtype(self.classes_, getattr(self, "design_", None) is not None
                                 and _missing_option(self) == "drop")
            return eta.map_partitions(_label_series, self.classes_, cut, dtype,
                                      meta=pd.Series([], dtype=dtype,
                                                     index=eta._meta.index[:0]))
        if isinstance(eta, da.Array):
            return eta.map_blocks(_labels, self.classes_, cut, dtype=self.classes_.dtype)
        return _labels(eta, self.classes_, cut)

    @classmethod
    def _two_classes(cls, labels) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.dtype.kind == "f" and np.isnan(labels).any():
            raise ValueError("Input y contains NaN.")
        if len(labels) != 2:
            raise ValueError(
                f"Only binary classification is supported: {cls.__name__} needs y with "
                f"exactly 2 classes, got {len(labels)} class(es) ({labels[:10].tolist()}). "
                "For more classes fit one model per class "
                "(sklearn.multiclass.OneVsRestClassifier)."
            )
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True
        return tags


def _two_column_proba(eta, link):
    p1 = np.asarray(eta, dtype=np.float64)
    p1 = p1 if link is None else np.asarray(link.inverse(p1))
    return np.column_stack([1.0 - p1, p1])


def _labels(eta, classes, cut):
    eta = np.asarray(eta)
    labels = classes[(eta > cut).astype(int)]
    missing = np.isnan(eta)
    if missing.any():  # rows with a missing value (missing="drop"): no label
        labels = labels.astype(np.float64 if classes.dtype.kind in "biuf" else object)
        labels[missing] = np.nan if labels.dtype.kind == "f" else None
    return labels


def _label_dtype(classes, may_miss: bool):
    """The dtype of predicted labels on a dask DataFrame, the same in every partition:
    pandas' for the labels (its string dtype for text), float64 for numbers when a row
    may have no label (NaN)."""
    if classes.dtype.kind not in "biuf":
        return pd.Series(classes).dtype
    return np.dtype(np.float64) if may_miss else classes.dtype


def _label_series(eta, classes, cut, dtype):
    out = pd.Series(_labels(eta.to_numpy(dtype=np.float64), classes, cut), index=eta.index)
    if out.dtype != dtype and (dtype.kind not in "biu" or not out.isna().any()):
        out = out.astype(dtype)
    return out
