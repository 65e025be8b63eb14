"""
A lasso path with cross-validation over row blocks
==================================================

:class:`~dask_glmdist.PenalizedGLMCV` fits the lasso path of a GLM (from the
smallest penalty that sets every coefficient to zero down to a thousandth of it)
and chooses the penalty by cross-validation. The folds are whole row blocks
(block ``k`` belongs to fold ``k % cv``), so no data are copied or shuffled: one
pass of sums serves every fold, and one last pass scores every fold's whole path
on its held-out blocks.

Here: a sparse logistic regression, 50,000 rows in 10 blocks, 30 correlated
features of which 6 are active.
"""

# %%
# Cross-validation
# ----------------
import math

import dask
import matplotlib.pyplot as plt
import numpy as np

from dask_glmdist import PenalizedGLMCV, penalized_glm_path
from dask_glmdist.datasets import make_sparse_regression
from dask_glmdist.plotting import plot_cv_curve, plot_penalized_path

X, y, truth = make_sparse_regression(
    50_000, 30, n_informative=6, family="binomial", n_blocks=10, random_state=0
)
X, y = dask.persist(X, y)  # keep the lazily simulated blocks in memory

cv = PenalizedGLMCV("binomial", n_alphas=25, cv=5).fit(X, y)
print(f"alpha_ = {cv.alpha_:.3g}; passes over the data: {cv.n_rounds_}")
print("features kept:", np.flatnonzero(cv.coef_.ravel()))

# %%
# The minimum of the held-out deviance keeps the six active features and a dozen
# small spurious ones. The one-standard-error rule takes the largest alpha whose
# mean held-out deviance is within one standard error (over the folds) of the
# minimum: the sparsest model the data cannot tell apart from the best one.
# ``PenalizedGLMCV(one_standard_error_rule=True)`` makes that choice; here it is
# read off the same cross-validation.
mean = cv.cv_deviance_mean_
se = np.std(cv.cv_deviance_, axis=0, ddof=1) / math.sqrt(cv.cv)
best = int(np.argmin(mean))
one_se = int(np.flatnonzero(mean <= mean[best] + se[best]).min())
print(f"minimum at alpha = {cv.alphas_[best]:.3g}, one-SE alpha = {cv.alphas_[one_se]:.3g}")

fig, ax = plt.subplots(figsize=(7, 4))
plot_cv_curve(cv, ax=ax)
ax.set_title("5-fold CV over row blocks")
fig.tight_layout()

# %%
# The path
# --------
# The whole path on all rows (:func:`~dask_glmdist.penalized_glm_path`): the
# active coefficients (true values ``+-0.5`` down to ``+-0.15``) enter first.
path = penalized_glm_path(X, y, family="binomial", n_alphas=25)
nonzero = (path.coef != 0).sum(axis=1)
print("non-zero coefficients along the path:", nonzero)
print("true coefficients:", np.round(truth[1:7], 3))

fig, ax = plt.subplots(figsize=(7, 4))
plot_penalized_path(path, ax=ax)
for a, style in [(cv.alphas_[best], "--"), (cv.alphas_[one_se], ":")]:
    ax.axvline(a, color="grey", ls=style)
ax.set_title("Lasso path; dashed: CV minimum, dotted: one-SE rule")
fig.tight_layout()
plt.show()
