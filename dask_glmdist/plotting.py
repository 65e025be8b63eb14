"""Pictures of fitted models, drawn with matplotlib (the optional ``plot`` extra).

Every function draws into the ``ax`` given (a new figure's when None) and returns the
matplotlib ``Axes`` (``Figure`` for the two-panel :func:`plot_dlsa_path`), so that
pictures can be composed and restyled. matplotlib is imported only when a function is
called: the package itself does not need it (``pip install "dask-glmdist[plot]"``).

- :func:`plot_coefficients`: a forest plot of any fitted estimator's estimates and
  Wald intervals, with the truth or other fits overlaid (hazard ratios for Cox).
- :func:`plot_dlsa_path`: the SDLSA adaptive-lasso path and its DBIC/DAIC curve.
- :func:`plot_penalized_path`: a penalised path, coefficients against alpha.
- :func:`plot_cv_curve`: the cross-validation curve with its standard errors, the
  minimising and the one-standard-error alpha.
- :func:`plot_block_estimates`: every row block's local estimate of one coefficient
  with its interval, and the combined one (heterogeneous blocks at a glance).
- :func:`plot_calibration`: predicted vs observed by decile of predicted probability,
  in one pass over dask data (:func:`calibration_table` gives the numbers).
"""

from __future__ import annotations

import numpy as np

from ._plotting_calibration import calibration_table

__all__ = ["plot_coefficients", "plot_dlsa_path", "plot_penalized_path", "plot_cv_curve",
           "plot_block_estimates", "plot_calibration", "calibration_table"]

_INSTALL = 'pip install "dask-glmdist[plot]"'


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "dask_glmdist.plotting draws with matplotlib, which is not installed; "
            f"install the plot extra: {_INSTALL}") from err
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=(6.0, 4.0), layout="constrained")
    return ax


def _names(model) -> list[str]:
    return list(model._param_names())


def _summary(model, alpha: float, who: str):
    """``model.summary(alpha)``, or a clear refusal for a model without inference."""
    from sklearn.exceptions import NotFittedError

    if not hasattr(model, "summary"):
        raise TypeError(f"{who} needs a fitted estimator of dask_glmdist with summary(); "
                        f"got {type(model).__name__}.")
    try:
        return model.summary(alpha)
    except NotFittedError:
        raise
    except AttributeError as err:
        raise ValueError(f"{who} draws estimates with their confidence intervals, and this "
                         f"{type(model).__name__} has no standard errors: {err}") from err


def _truth_vector(truth, names: list[str], fit_intercept: bool) -> np.ndarray:
    """``truth`` aligned with ``names``: a mapping/Series by name, or an array of one
    value per parameter (or per feature, the intercept then without a truth)."""
    if hasattr(truth, "items"):
        values = dict(truth.items())
        return np.array([float(values.get(n, np.nan)) for n in names])
    t = np.asarray(truth, dtype=float).ravel()
    if t.shape[0] == len(names):
        return t
    if fit_intercept and t.shape[0] == len(names) - 1:
        return np.concatenate([[np.nan], t])
    raise ValueError(f"truth has {t.shape[0]} values but the model has {len(names)} "
                     f"parameters ({', '.join(names)}); pass one per parameter, one per "
                     "feature, or a mapping from parameter name to value.")


def plot_coefficients(model, *, others=None, truth=None, alpha=0.05, hazard_ratio=False,
                      ax=None):
    """Forest plot: every parameter's estimate with its Wald confidence interval.

    Parameters
    ----------
    model : fitted estimator
        Any estimator of this package with inference (``summary()``): the DLSA
        classes, ``BiasReducedGLM``, the debiased lasso, ``DLSACoxRegression``, the
        penalised classes at ``alpha=0``. The parameters are drawn top to bottom in
        ``summary()`` order.
    others : dict of str to fitted estimator, default=None
        Further fits of the same parameters drawn beside the first (``{label: model}``,
        e.g. the global MLE beside one-round DLSA, or ML beside mBR); matched by name
        (a fit may lack some of the parameters: a restricted model).
    truth : array-like or mapping, default=None
        True values, drawn as crosses: one per parameter, one per feature (no truth
        for the intercept), or ``{name: value}``.
    alpha : float, default=0.05
        The intervals have coverage ``1 - alpha``.
    hazard_ratio : bool, default=False
        Draw ``exp(coef)`` and its interval on a log axis, with the reference line at 1
        (hazard ratios of a Cox model; odds ratios of a logistic one).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        When a model has no standard errors (a penalised fit at ``alpha > 0``).

    Notes
    -----
    A parameter whose estimate does not exist (``summary()`` shows +-inf) has no point;
    its tick label says so.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from dask_glmdist import DLSARegressor
    >>> from dask_glmdist.plotting import plot_coefficients
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = X @ [1.0, 0.0, -0.5] + rng.normal(size=2000)
    >>> model = DLSARegressor(n_partitions=4).fit(X, y)
    >>> ax = plot_coefficients(model, truth=[1.0, 0.0, -0.5])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['intercept', 'x0', 'x1', 'x2']
    """
    ax = _axes(ax)
    who = "plot_coefficients"
    main = _summary(model, alpha, who)
    names = list(main.index)
    fits = {_label(model): main}
    for label, other in (others or {}).items():
        table = _summary(other, alpha, who)
        extra = [n for n in table.index if n not in names]
        if extra:
            raise ValueError(
                f"others[{label!r}] has parameters {extra} that {_label(model)} does not "
                f"have ({', '.join(names)}): the fits are matched by parameter name.")
        fits[str(label)] = table.reindex(names)
    transform = np.exp if hazard_ratio else (lambda v: v)
    y = np.arange(len(names))[::-1].astype(float)
    spread = 0.5 / max(len(fits), 1)
    shifts = (np.arange(len(fits)) - (len(fits) - 1) / 2.0) * spread
    for shift, (label, table) in zip(shifts, fits.items(), strict=True):
        est = transform(table["coef"].to_numpy(dtype=float))
        lo = transform(table["ci_lower"].to_numpy(dtype=float))
        hi = transform(table["ci_upper"].to_numpy(dtype=float))
        est = np.where(np.isfinite(est), est, np.nan)
        ax.errorbar(est, y - shift, xerr=np.vstack([est - lo, hi - est]), fmt="o", ms=4,
                    capsize=2, label=label)
    if truth is not None:
        t = transform(_truth_vector(truth, names, bool(getattr(model, "fit_intercept", False))))
        ax.plot(t, y, "x", color="black", ms=7, mew=1.5, label="truth", zorder=4)
    ax.axvline(1.0 if hazard_ratio else 0.0, color="grey", lw=0.8, ls="--", zorder=0)
    coef = main["coef"].to_numpy(dtype=float)
    ticks = [n if np.isfinite(c) else f"{n} ({'+' if c > 0 else '-'}inf)"
             for n, c in zip(names, coef, strict=True)]
    ax.set_yticks(y, ticks)
    ax.set_ylim(-0.7, len(names) - 0.3)
    if hazard_ratio:
        ax.set_xscale("log")
    level = f"{100 * (1 - alpha):g}%"
    what = ("hazard ratio" if type(model).__name__ == "DLSACoxRegression" else "exp(coef)"
            ) if hazard_ratio else "estimate"
    ax.set_xlabel(f"{what} with {level} Wald interval")
    ax.legend(loc="best", fontsize="small")
    return ax


def _label(model) -> str:
    method = getattr(model, "method", None)
    return type(model).__name__ + (f"({method})" if isinstance(method, str) else "")


def _shrinkage(coef_path: np.ndarray, wlse: np.ndarray) -> np.ndarray:
    """Each knot's adaptive L1 norm ``sum_j |beta_j| / |beta~_j|`` over its value at
    the unpenalised estimate (0: every slope zero; 1: the WLSE)."""
    ok = np.isfinite(wlse) & (wlse != 0)
    if not ok.any():
        return np.zeros(coef_path.shape[1])
    weighted = np.abs(coef_path[ok]) / np.abs(wlse[ok])[:, None]
    return weighted.sum(axis=0) / ok.sum()


def plot_dlsa_path(model, *, ax=None):
    """The SDLSA adaptive-lasso path and its criterion (DBIC or DAIC), chosen model marked.

    Top: every slope along the path of the shrinkage estimator (eq. 3.4 of Zhu, Li and
    Wang), against the path's adaptive L1 norm relative to the unpenalised estimate
    (0: all slopes zero, 1: the WLSE). Bottom: the distributed BIC (or AIC) at each
    knot; the dashed line marks the model chosen (``coef_``, ``alpha_``).

    Parameters
    ----------
    model : DLSARegressor or DLSALogisticRegression
        Fitted with ``penalty="adaptive_lasso"``.
    ax : sequence of two matplotlib Axes, default=None
        The path's and the criterion's Axes; a new two-panel figure when None.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When the model has no adaptive-lasso path.

    References
    ----------
    Zhu, X., Li, F. and Wang, H. (2021). Least-square approximation for a distributed
    system. Journal of Computational and Graphical Statistics 30(4), 1004-1018.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from dask_glmdist import DLSALogisticRegression
    >>> from dask_glmdist.datasets import make_dlsa_example
    >>> from dask_glmdist.plotting import plot_dlsa_path
    >>> X, y, theta = make_dlsa_example(20_000, 4, as_dask=False)
    >>> model = DLSALogisticRegression(penalty="adaptive_lasso", n_partitions=4).fit(X, y)
    >>> fig = plot_dlsa_path(model)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:8]  # a line per feature
    ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']
    """
    if not hasattr(model, "coef_path_") or not hasattr(model, "criterion_path_"):
        raise ValueError(
            f"plot_dlsa_path draws the adaptive-lasso path of SDLSA: fit "
            f"{type(model).__name__} with penalty='adaptive_lasso' (DLSARegressor or "
            "DLSALogisticRegression). For a penalised GLM's path use plot_penalized_path.")
    if ax is None:
        fig, (top, bottom) = _pyplot().subplots(2, 1, sharex=True, figsize=(6.0, 5.5),
                                                layout="constrained")
    else:
        top, bottom = ax
        fig = top.figure
    coef_path = np.asarray(model.coef_path_, dtype=float)  # (n_features, n_knots)
    x = _shrinkage(coef_path, np.asarray(model.wlse_coef_, dtype=float))
    best = int(model.selection_path_.best_index)
    names = _names(model)[int(model.fit_intercept):]
    for j, name in enumerate(names):
        top.plot(x, coef_path[j], "-", lw=1.2, label=name)
    top.axvline(x[best], color="black", ls="--", lw=1.0)
    top.axhline(0.0, color="grey", lw=0.6, zorder=0)
    top.set_ylabel("coefficient")
    if len(names) <= 12:
        top.legend(loc="best", fontsize="x-small", ncols=2)
    crit = np.asarray(model.criterion_path_, dtype=float)
    label = "D" + model.criterion.upper()
    bottom.plot(x, crit, "o-", ms=3, color="C0", label=label)
    bottom.plot([x[best]], [crit[best]], "*", ms=12, color="C3",
                label=f"chosen: {int(np.count_nonzero(coef_path[:, best]))} slopes")
    bottom.axvline(x[best], color="black", ls="--", lw=1.0)
    bottom.set_ylabel(label)
    bottom.set_xlabel("adaptive L1 norm / its value at the WLSE")
    bottom.legend(loc="best", fontsize="small")
    return fig


def _path_of(model):
    """``(alphas, coef (n_alphas, n_features), names, chosen alpha or None)``."""
    if hasattr(model, "coef_path_"):
        raise ValueError("This is the SDLSA adaptive-lasso path: draw it with "
                         "plot_dlsa_path.")
    path = getattr(model, "path_", model)
    if not (hasattr(path, "alphas") and hasattr(path, "coef")):
        raise ValueError(
            f"plot_penalized_path needs a path: the GLMPath of penalized_glm_path, or a "
            f"fitted PenalizedGLMCV / PenalizedLogisticRegressionCV; "
            f"{type(model).__name__} has none (a single fit at one alpha).")
    coef = np.asarray(path.coef, dtype=float)
    if path is model:
        names = [f"x{j}" for j in range(coef.shape[1])]
        chosen = None
    else:
        names = _names(model)[int(model.fit_intercept):]
        chosen = float(model.alpha_)
    return np.asarray(path.alphas, dtype=float), coef, names, chosen


def plot_penalized_path(model, *, ax=None):
    """Coefficients against the penalty alpha along a penalised path.

    Parameters
    ----------
    model : GLMPath or fitted PenalizedGLMCV / PenalizedLogisticRegressionCV
        The result of :func:`~dask_glmdist.penalized_glm_path`, or a CV class (its
        full-data path ``path_``, which for ``criterion="cv"`` runs down to the chosen
        alpha only; ``alpha_`` is marked).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes
        One line per feature (in feature order), alpha on a log axis (linear when the
        grid includes 0), decreasing to the right as the path is computed.

    Raises
    ------
    ValueError
        For a model without a path.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from dask_glmdist import penalized_glm_path
    >>> from dask_glmdist.plotting import plot_penalized_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 5))
    >>> y = X[:, 0] - X[:, 1] + rng.normal(size=2000)
    >>> path = penalized_glm_path(X, y, family="gaussian", n_alphas=20)
    >>> ax = plot_penalized_path(path)
    >>> [line.get_label() for line in ax.get_lines()][:5]  # a line per feature
    ['x0', 'x1', 'x2', 'x3', 'x4']
    """
    alphas, coef, names, chosen = _path_of(model)
    ax = _axes(ax)
    for j, name in enumerate(names):
        ax.plot(alphas, coef[:, j], "-", lw=1.2, label=name)
    if chosen is not None:
        ax.axvline(chosen, color="black", ls="--", lw=1.0, label=f"alpha_ = {chosen:.3g}")
    if np.all(alphas > 0):
        ax.set_xscale("log")
    if len(alphas) > 1 and alphas[0] > alphas[-1]:
        ax.invert_xaxis()
    ax.axhline(0.0, color="grey", lw=0.6, zorder=0)
    ax.set_xlabel("alpha")
    ax.set_ylabel("coefficient")
    if len(names) <= 12 or chosen is not None:
        ax.legend(loc="best", fontsize="x-small", ncols=2)
    return ax


def one_standard_error_alpha(model) -> tuple[float, float]:
    """``(alpha minimising the CV deviance, largest alpha within one standard error)``
    of a fitted CV class with ``criterion="cv"``, as its ``one_standard_error_rule``."""
    mean = np.asarray(model.cv_deviance_mean_, dtype=float)
    dev = np.asarray(model.cv_deviance_, dtype=float)
    se = np.std(dev, axis=0, ddof=1) / np.sqrt(dev.shape[0])
    best = int(np.nanargmin(mean))
    within = np.flatnonzero(mean <= mean[best] + se[best])
    return float(model.alphas_[best]), float(model.alphas_[int(within.min())])


def plot_cv_curve(model, *, ax=None):
    """The cross-validated deviance against alpha, with the chosen alphas.

    Draws the pooled held-out deviance per unit weight (``cv_deviance_mean_``) with
    one standard error of the fold means (``cv_deviance_`` over the folds), and vertical
    lines at the alpha that minimises it and at the largest alpha within one standard
    error of that minimum (the one-standard-error rule); the legend says which of the
    two is ``alpha_``. A fit with ``criterion="aic"`` or ``"bic"`` has its criterion
    drawn instead, with ``alpha_``.

    Parameters
    ----------
    model : fitted PenalizedGLMCV or PenalizedLogisticRegressionCV
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        For a model without a choice of alpha.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from dask_glmdist import PenalizedGLMCV
    >>> from dask_glmdist.plotting import plot_cv_curve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 5))
    >>> y = X[:, 0] + rng.normal(size=3000)
    >>> model = PenalizedGLMCV("gaussian", n_alphas=15, cv=5).fit(X, y)
    >>> ax = plot_cv_curve(model)
    >>> sorted(t.get_text().split(":")[0] for t in ax.get_legend().get_texts())[1:]
    ['minimum', 'one standard error']
    """
    if not hasattr(model, "criterion_values_") or not hasattr(model, "alphas_") \
            or hasattr(model, "coef_path_"):
        raise ValueError(
            f"plot_cv_curve needs a fitted PenalizedGLMCV or PenalizedLogisticRegressionCV "
            f"(alpha chosen over a grid); {type(model).__name__} has no such choice.")
    ax = _axes(ax)
    alphas = np.asarray(model.alphas_, dtype=float)
    chosen = float(model.alpha_)
    if hasattr(model, "cv_deviance_"):
        dev = np.asarray(model.cv_deviance_, dtype=float)
        se = np.std(dev, axis=0, ddof=1) / np.sqrt(dev.shape[0])
        ax.errorbar(alphas, model.cv_deviance_mean_, yerr=se, fmt="o-", ms=3, capsize=2,
                    color="C0", label=f"held-out deviance ({dev.shape[0]} folds) +- 1 SE")
        lines = dict(zip(("minimum", "one standard error"), one_standard_error_alpha(model),
                         strict=True))
        for (label, a), color in zip(lines.items(), ("C3", "C2"), strict=True):
            mark = " = alpha_" if np.isclose(a, chosen, rtol=1e-12, atol=0) else ""
            ax.axvline(a, color=color, ls="--", lw=1.2, label=f"{label}: {a:.3g}{mark}")
        ax.set_ylabel("held-out deviance per unit weight")
    else:
        ax.plot(alphas, model.criterion_values_, "o-", ms=3, color="C0",
                label=model.criterion.upper())
        ax.axvline(chosen, color="C3", ls="--", lw=1.2, label=f"alpha_ = {chosen:.3g}")
        ax.set_ylabel(model.criterion.upper())
    if np.all(alphas > 0):
        ax.set_xscale("log")
    ax.set_xlabel("alpha")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_block_estimates(model, feature, *, alpha=0.05, ax=None):
    """Each row block's local estimate of one parameter with its interval, and the
    combined estimate.

    Blocks whose covariates differ (the DLSA paper's Setting 2: a mean and a correlation
    of their own on each worker) show as intervals of different widths; local
    estimates that scatter well beyond their intervals would say that the model itself
    differs between blocks. The combined (DLSA) estimate and its interval are drawn
    above them and as a shaded band.

    Parameters
    ----------
    model : DLSARegressor or DLSALogisticRegression
        Fitted; its ``local_params_`` and ``local_bse_`` (each block's own fit).
    feature : str or int
        A parameter's name (as in ``summary()``) or its position there.
    alpha : float, default=0.05
        The intervals have coverage ``1 - alpha`` (local ones: the block's own
        information and dispersion).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        For a model without per-block estimates, or an unknown ``feature``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from dask_glmdist import DLSALogisticRegression
    >>> from dask_glmdist.datasets import make_dlsa_example
    >>> from dask_glmdist.plotting import plot_block_estimates
    >>> X, y, theta = make_dlsa_example(20_000, 5, setting=2, as_dask=False)
    >>> model = DLSALogisticRegression(n_partitions=5).fit(X, y)
    >>> ax = plot_block_estimates(model, "x0")
    >>> [t.get_text() for t in ax.get_yticklabels()][-1]
    'block 4'
    """
    from scipy import stats

    if not hasattr(model, "local_params_"):
        raise ValueError(
            f"plot_block_estimates draws each row block's local estimate, which DLSA fits "
            f"keep (DLSARegressor, DLSALogisticRegression: local_params_); "
            f"{type(model).__name__} has none.")
    names = _names(model)
    j = _parameter_index(feature, names)
    table = _summary(model, alpha, "plot_block_estimates")
    q = stats.norm.ppf(1.0 - alpha / 2.0)
    est = np.asarray(model.local_params_, dtype=float)[:, j]
    half = q * np.asarray(model.local_bse_, dtype=float)[:, j]
    k = est.shape[0]
    ax = _axes(ax)
    y = np.arange(1, k + 1, dtype=float)
    ax.errorbar(est, y, xerr=half, fmt="o", ms=4, capsize=2, color="C0",
                label="row block (local fit)")
    combined = float(table["coef"].iloc[j])
    lo, hi = float(table["ci_lower"].iloc[j]), float(table["ci_upper"].iloc[j])
    ax.errorbar([combined], [0.0], xerr=[[combined - lo], [hi - combined]], fmt="D", ms=6,
                capsize=3, color="C3", label=f"combined ({_label(model)})")
    if np.isfinite(lo) and np.isfinite(hi):
        ax.axvspan(lo, hi, color="C3", alpha=0.12, lw=0)
    ax.set_yticks(np.arange(k + 1), ["combined"] + [f"block {b}" for b in range(k)])
    ax.invert_yaxis()
    ax.set_xlabel(f"{names[j]}: estimate with {100 * (1 - alpha):g}% Wald interval")
    ax.legend(loc="best", fontsize="small")
    return ax


def _parameter_index(feature, names: list[str]) -> int:
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not -len(names) <= feature < len(names):
            raise ValueError(f"feature={feature} is out of range: the model has "
                             f"{len(names)} parameters ({', '.join(names)}).")
        return int(feature) % len(names)
    if feature not in names:
        raise ValueError(f"feature={feature!r} is not a parameter of the model; its "
                         f"parameters are {', '.join(names)}.")
    return names.index(feature)


def plot_calibration(model, X, y, *, n_bins=10, ax=None):
    """Predicted probability against the observed frequency, by decile of prediction.

    The rows are grouped into ``n_bins`` bins of about equal size by predicted
    probability (deciles by default) in one pass over dask input, the data staying
    where they are: a fine histogram of the predictions on the logit scale is summed
    over the blocks and merged into the bins on the client (:func:`calibration_table`,
    which returns the numbers drawn). Each bin is a point at its mean predicted
    probability and its observed frequency of the positive class, with the binomial
    standard error ``sqrt(f (1 - f) / n)``; the diagonal is perfect calibration.

    Parameters
    ----------
    model : fitted binary classifier
        ``DLSALogisticRegression``, ``PenalizedLogisticRegression(CV)``,
        ``BiasReducedGLM`` (binomial), ...: anything with ``predict_proba``, or a
        model of the binomial family (``DebiasedLassoRegressor``: its ``predict``).
    X, y : array-like or dask collections
        The rows to check, e.g. held-out data.
    n_bins : int, default=10
        Number of bins.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        For a model without ``predict_proba`` that is not of the binomial family.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from dask_glmdist import DLSALogisticRegression
    >>> from dask_glmdist.plotting import plot_calibration
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 2))
    >>> y = (rng.random(5000) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    >>> model = DLSALogisticRegression(n_partitions=4).fit(X, y)
    >>> ax = plot_calibration(model, X, y)
    >>> len(ax.containers[0].lines[0].get_xdata())  # one point per decile
    10
    """
    table = calibration_table(model, X, y, n_bins=n_bins)
    ax = _axes(ax)
    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", color="grey", lw=0.8,
            label="perfect calibration")
    f, n = table["observed"].to_numpy(), table["n"].to_numpy()
    ax.errorbar(table["mean_predicted"], f, yerr=np.sqrt(f * (1.0 - f) / n), fmt="o-",
                ms=4, capsize=2, color="C0", label=f"{_label(model)} ({len(table)} bins)")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="upper left", fontsize="small")
    return ax
