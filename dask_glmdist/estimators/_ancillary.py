"""The fitted attributes of a family's ancillary parameter (NB2's ``alpha``).

``nb_alpha_``: the estimate (``family="negative_binomial"`` or ``NegativeBinomial()``)
or the fixed value (``NegativeBinomial(alpha=...)``); ``nb_alpha_bse_``: its standard error
(statsmodels' ``NegativeBinomial(loglike_method="nb2")`` convention, the observed
information of ``(coefficients, alpha)``), NaN when ``alpha`` is fixed or its estimate
is on the boundary 0. Families without an ancillary parameter set neither. (Not
``alpha_``: that name is already the chosen penalty of the penalised and SDLSA
estimators.)
"""

from __future__ import annotations

import numpy as np

from ..solvers.ancillary import warn_if_at_floor


def set_ancillary(est, template, fitted, value=None, se=float("nan")) -> None:
    """Set ``nb_alpha_``/``nb_alpha_bse_`` on ``est`` (``template``: the family as given,
    ``fitted``: the family at the estimate) and warn when the estimate is on the
    boundary."""
    name = template.ancillary_attribute
    if name is None:
        return
    if template.ancillary_estimated:
        warn_if_at_floor(template, float(value), type(est).__name__)
        setattr(est, f"{name}_", float(value))
        setattr(est, f"{name}_bse_", float(se))
    else:
        setattr(est, f"{name}_", float(fitted.ancillary))
        setattr(est, f"{name}_bse_", np.nan)


def n_ancillary(template) -> int:
    """Parameters the fit estimates besides the coefficients and the dispersion (AIC)."""
    return int(template.ancillary_estimated)


def header_entries(est) -> dict:
    """The summary header's entries of the ancillary parameter (none without one)."""
    family = getattr(est, "family_", None)
    name = getattr(family, "ancillary_attribute", None)
    if name is None or not hasattr(est, f"{name}_"):
        return {}
    label = {"nb_alpha": "NB alpha"}.get(name, name)
    return {label: getattr(est, f"{name}_"), f"{label} std. err.": getattr(est, f"{name}_bse_")}
