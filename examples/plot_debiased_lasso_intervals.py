"""
Confidence intervals from the debiased lasso
============================================

With many features and few that matter, the lasso selects well but its estimates
are shrunk towards zero and have no usable standard errors.
:class:`~dask_glmdist.DebiasedLassoRegressor` fits a lasso on every row block,
removes each block's shrinkage bias with an approximate inverse of its
information (the node-wise lasso) and averages the debiased estimates. The result
is approximately normal around the truth, with standard errors, in one pass over
the data.

Here: a sparse logistic regression with 50 correlated features, 10 of them
active, 40,000 rows in 10 blocks.
"""

# %%
# Fit
# ---
import dask
import matplotlib.pyplot as plt
import numpy as np

from dask_glmdist import DebiasedLassoRegressor
from dask_glmdist.datasets import make_sparse_regression
from dask_glmdist.plotting import plot_coefficients

X, y, truth = make_sparse_regression(
    40_000, 50, n_informative=10, family="binomial", n_blocks=10, random_state=0
)
X, y = dask.persist(X, y)  # keep the lazily simulated blocks in memory

debiased = DebiasedLassoRegressor(alpha=0.005, family="binomial").fit(X, y)
naive = DebiasedLassoRegressor(alpha=0.005, family="binomial", method="naive").fit(X, y)

table = debiased.summary()
table.insert(0, "truth", truth)
table.insert(2, "naive average", naive.params_)
print(table.head(13).round(3))

# %%
# How many of the 51 intervals cover the true value? About 95% should.
ci = debiased.conf_int().to_numpy()
covered = (ci[:, 0] <= truth) & (truth <= ci[:, 1])
print(f"95% intervals covering the truth: {covered.sum()} of {covered.size}")

# %%
# Forest plot
# -----------
# The intercept, the ten active coefficients (alternating signs, decreasing
# magnitudes) and the 40 inactive ones, with the truth marked. The average of the
# blocks' plain lasso fits (``method="naive"``, open squares; it has no intervals) is shrunk
# towards zero; the debiased estimates are not.
fig, ax = plt.subplots(figsize=(7, 10))
plot_coefficients(debiased, truth=truth, ax=ax)
positions = ax.get_yticks()  # the parameters' rows, in summary() order
ax.plot(naive.params_, positions, "s", mfc="none", ms=5, color="C1",
        label="lasso average (naive)")
handles, labels = ax.get_legend_handles_labels()
labels = ["debiased" if lab.startswith("DebiasedLassoRegressor") else lab for lab in labels]
ax.legend(handles, labels, loc="lower right", fontsize="small")
ax.set_title("Debiased lasso: 95% intervals and the truth")
fig.tight_layout()

# %%
# Are the intervals honest?
# -------------------------
# Over five independent data sets, the standardised errors
# ``(estimate - truth) / standard error`` of all 51 parameters should look like
# draws from a standard normal distribution.
z = []
for seed in range(1, 6):
    Xs, ys, truth_s = make_sparse_regression(
        40_000, 50, n_informative=10, family="binomial", n_blocks=10, random_state=seed
    )
    Xs, ys = dask.persist(Xs, ys)
    fit = DebiasedLassoRegressor(alpha=0.005, family="binomial").fit(Xs, ys)
    z.append((fit.params_ - truth_s) / fit.bse_)
z = np.concatenate(z)
print(f"mean {z.mean():.3f}, sd {z.std():.3f}, share |z| > 1.96: {np.mean(np.abs(z) > 1.96):.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
grid = np.linspace(-4, 4, 200)
ax.hist(z, bins=30, density=True, alpha=0.6, label=f"{z.size} standardised errors")
ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), "k", label="N(0, 1)")
ax.set_xlabel("(estimate - truth) / standard error")
ax.legend()
fig.tight_layout()
plt.show()
