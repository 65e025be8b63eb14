"""One adapter per library: build and fit a model, return what it reports as a plain dict.

Adapters return ``theta`` ([intercept, coefficients]), ``n_iter`` and, where the library
gives them, ``bse``, ``deviance``, ``converged``, ``notes``. dask_glmdist's attributes are
read through :func:`attr`, which accepts an older checkout's names (:data:`ALIASES`).
"""

import importlib

import numpy as np
from dask.callbacks import Callback
from sklearn.linear_model import LogisticRegression

ALIASES = {
    "n_rounds_": ("n_rounds_", "n_passes_"),
    "dispersion_": ("dispersion_", "scale_", "dispersion_estimate_"),
    "df_resid_": ("df_resid_", "df_residual_"),
}


def attr(model, name, default=None):
    """``model.name``, or the first of its older names that ``model`` has."""
    for candidate in ALIASES.get(name, (name,)):
        value = getattr(model, candidate, None)
        if value is not None:
            return value
    return default


def _list(v):
    return None if v is None else np.asarray(v, dtype=float).ravel().tolist()


def ours(cls: str, *data, **kw):
    """``dask_glmdist.<cls>(**kw).fit(*data)``: the fitted model."""
    return getattr(importlib.import_module("dask_glmdist"), cls)(**kw).fit(*data)


def report(model) -> dict:
    """What every dask_glmdist estimator reports (missing attributes are None)."""
    theta = attr(model, "params_")
    if theta is None:
        theta = np.concatenate([np.ravel(attr(model, "intercept_", [0.0])), np.ravel(model.coef_)])
    out = {k: attr(model, f"{k}_") for k in ("deviance", "dispersion", "df_resid", "n_iter",
                                              "n_rounds", "converged", "n_blocks")}
    return {"theta": _list(theta), "bse": _list(attr(model, "bse_")),
            **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}}


def passes(model) -> int:
    """Passes over the data: ``n_rounds_`` (older: ``n_passes_``; DLSA: ``n_iter_``)."""
    return int(attr(model, "n_rounds_") or model.n_iter_)


def sklearn_logistic(X, y, **kw) -> dict:
    m = LogisticRegression(**kw).fit(X, y)
    return {"theta": _list(np.concatenate([m.intercept_, m.coef_.ravel()])),
            "n_iter": int(np.max(m.n_iter_)), "max_iter": m.max_iter}


def statsmodels_glm(y, exog, family="binomial", link=None, formula=None, **fit_kw) -> dict:
    """statsmodels GLM on [1, X] (or ``smf.glm(formula, exog)``), IRLS."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    fam = {"binomial": sm.families.Binomial, "gaussian": sm.families.Gaussian}[family]
    fam = fam(link=getattr(sm.families.links, link.capitalize())()) if link else fam()
    model = smf.glm(formula, exog, family=fam) if formula else sm.GLM(y, exog, family=fam)
    res = model.fit(**fit_kw)
    return {"theta": _list(res.params), "bse": _list(res.bse), "deviance": float(res.deviance),
            "n_iter": res.fit_history.get("iteration", -1),
            "converged": bool(getattr(res, "converged", True)),
            "names": list(res.params.index) if formula else None}


def glum_glm(frame, family, formula, **kw) -> dict:
    from glum import GeneralizedLinearRegressor
    m = GeneralizedLinearRegressor(family=family, alpha=0, formula=formula, drop_first=True,
                                   categorical_format="{name}[T.{category}]", **kw).fit(frame)
    return {"theta": [float(m.intercept_)] + _list(m.coef_),
            "names": ["Intercept"] + list(m.feature_names_), "n_iter": int(m.n_iter_)}


def firth_logistic(X, y, **kw) -> dict:
    import firthmodels
    m = firthmodels.FirthLogisticRegression(fit_intercept=True, **kw).fit(X, y)
    numba = "available" if firthmodels.NUMBA_AVAILABLE else "not installed"
    return {"theta": [float(m.intercept_)] + _list(m.coef_), "n_iter": int(m.n_iter_),
            "converged": bool(m.converged_), "bse": _list(getattr(m, "bse_", None)),
            "notes": f"firthmodels backend={m._resolve_backend()} (numba {numba}), {kw}"}


def daskml_logistic(X, y, count=True, **kw) -> dict:
    """dask-ml LogisticRegression; ``n_iter`` = dask computes (local schedulers)."""
    import dask_ml.linear_model as dml
    computes = []
    with Callback(start=lambda dsk: computes.append(1)):
        m = dml.LogisticRegression(**kw).fit(X, y)
    theta = np.concatenate([[float(np.ravel(m.intercept_)[0])], np.ravel(m.coef_)])
    return {"theta": _list(theta), "n_iter": f"{len(computes)} dask computes" if count
            else "n/a", "notes": f"dask-ml LogisticRegression({kw})"}
