"""
Distributed Cox regression: recidivism after release from prison
=================================================================

:class:`~dask_glmdist.DLSACoxRegression` fits a Cox proportional hazards model to
data in row blocks. Every block fits the Cox model on its own rows (its own risk
sets), the client combines the local estimates by DLSA, and refinement rounds take
the combination to the maximum of the *block-stratified* partial likelihood (Efron's
ties by default): every block is a stratum with a baseline hazard of its own, as
statsmodels' ``PHReg(..., strata=block)`` or lifelines' ``CoxPHFitter(strata=...)``
compute it. With a single block that is the ordinary Cox fit of all rows.

The data are Rossi et al.'s 432 released prisoners followed for a year (the
example data of lifelines): ``week`` of the first arrest after release (or 52,
censored), ``arrest`` (1 if arrested), and covariates ``fin`` (received financial
aid), ``age``, ``race``, ``wexp`` (work experience), ``mar`` (married), ``paro``
(released on parole) and ``prio`` (number of prior convictions).
"""

# %%
# The data in four row blocks
# ---------------------------
from pathlib import Path

import dask.dataframe as dd
import matplotlib.pyplot as plt
import pandas as pd

from dask_glmdist import DLSACoxRegression
from dask_glmdist.plotting import plot_coefficients

try:  # the CSV next to this script (plain run, tests, sphinx-gallery)
    here = Path(__file__).resolve().parent
except NameError:  # pasted into an interactive session in examples/
    here = Path.cwd()
rossi = pd.read_csv(here / "data" / "rossi.csv")
print(rossi.describe().T[["mean", "min", "max"]])
ddf = dd.from_pandas(rossi, npartitions=4, sort=False)

# %%
# Three fits
# ----------
# ``refine_steps=0`` is the one-round DLSA estimate: each block of 108 prisoners
# (about 30 arrests) fits its own model. ``refine_steps=10`` runs global Newton
# rounds until a step is negligible: the block-stratified Cox estimate. The same
# estimator on the data in one block is the ordinary (unstratified) Cox fit, the
# numbers of lifelines' ``CoxPHFitter`` on these data.
one_round = DLSACoxRegression(refine_steps=0).fit(ddf, "week", "arrest")
stratified = DLSACoxRegression(refine_steps=10).fit(ddf, "week", "arrest")
cox = DLSACoxRegression().fit(dd.from_pandas(rossi, npartitions=1), "week", "arrest")
print("passes over the data:", one_round.n_rounds_, stratified.n_rounds_, cox.n_rounds_)
print(cox.summary().round(3))

# %%
# Prior convictions raise the hazard of re-arrest (about 10% per conviction);
# financial aid and age lower it. The second block's local estimate of ``mar`` is
# minus infinity (none of its 10 married prisoners was arrested): the one-round
# estimate leaves that block out and warns; the refinement rounds use its rows.
# With about 30 events per block the one-round estimate is far from the
# block-stratified one; the refinement rounds remove that. The block-stratified
# model itself differs from the unstratified one by up to half a standard error
# here: it compares each prisoner only with the others of the same block.
table = pd.DataFrame({
    "one round (4 blocks)": one_round.params_,
    "stratified (4 blocks)": stratified.params_,
    "Cox, one block": cox.params_,
    "std_err": cox.bse_,
}, index=cox.summary().index)
print(table.round(3))

# %%
# Hazard ratios
# -------------
fig, ax = plt.subplots(figsize=(7, 5))
others = {"stratified, 4 blocks": stratified, "one round, 4 blocks": one_round}
plot_coefficients(cox, others=others, hazard_ratio=True, ax=ax)
handles, labels = ax.get_legend_handles_labels()
labels = ["Cox, one block" if lab.startswith("DLSACoxRegression") else lab for lab in labels]
ax.legend(handles, labels, loc="lower right", fontsize="small")
ax.set_title("Rossi recidivism data: hazard ratios, 95% intervals")
fig.tight_layout()

# %%
# Predicted survival curves
# -------------------------
# From the one-block fit: the probability of no arrest by week ``t`` for four
# profiles: 25 years old, no
# work experience, unmarried, paroled, with or without financial aid and with 1 or
# 5 prior convictions (race 0).
profiles = pd.DataFrame({
    "fin": [0, 1, 0, 1], "age": 25, "race": 0, "wexp": 0, "mar": 0, "paro": 1,
    "prio": [1, 1, 5, 5],
})
weeks = list(range(1, 53))
curves = cox.predict_survival_function(profiles, times=weeks)
fig, ax = plt.subplots(figsize=(6, 4))
for j, row in profiles.iterrows():
    aid = "aid" if row["fin"] else "no aid"
    ax.step(curves.index, curves.iloc[:, j], where="post",
            label=f"{aid}, {row['prio']} prior conviction(s)")
ax.set(xlabel="week after release", ylabel="P(not re-arrested)", ylim=(0.4, 1.0))
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
