"""``standardize=True`` on the penalised estimators (glmnet's / glum's convention).

Oracles: the fit on columns standardised by hand (weighted population standard
deviation, centred with an intercept) with ``standardize=False``, transformed back;
the KKT conditions on the original scale with penalty factors ``sd_j``; glum's
``scale_predictors=True``; exact invariance to the units of a column.
"""

import warnings

import dask.array as da
import numpy as np
import pytest
from scipy.special import expit

from dask_glmdist import (
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    penalized_glm_path,
)

SCALES = np.array([1.0, 100.0, 0.01, 5.0, 1.0, 30.0])
SHIFTS = np.array([0.0, 1000.0, 3.0, 0.0, -2.0, 50.0])


def _data(family, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, SCALES.size))
    X = Z * SCALES + SHIFTS
    eta = -0.3 + Z @ np.array([0.5, 0.4, 0.3, -0.1, 0.0, 0.05])
    y = {"binomial": (rng.random(n) < expit(eta)).astype(float),
         "poisson": rng.poisson(np.exp(0.5 * eta)).astype(float),
         "gaussian": eta + rng.normal(size=n)}[family]
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def _weighted_sd(X, w):
    m = np.average(X, axis=0, weights=w)
    return m, np.sqrt(np.average((X - m) ** 2, axis=0, weights=w))


@pytest.mark.parametrize("family", ["binomial", "poisson", "gaussian"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_equals_fit_on_standardised_columns(family, fit_intercept):
    X, y, w = _data(family)
    m, sd = _weighted_sd(X, w)
    Z = (X - m) / sd if fit_intercept else X / sd   # glmnet: no centring without intercept
    kw = dict(alpha=0.02, l1_ratio=0.7, fit_intercept=fit_intercept, tol=1e-12)
    a = PenalizedGLM(family, standardize=True, **kw).fit(X, y, sample_weight=w)
    b = PenalizedGLM(family, **kw).fit(Z, y, sample_weight=w)
    assert 0 < np.count_nonzero(b.coef_) < X.shape[1]
    # per standardised coefficient (coef_ * sd): the units the solver's tolerance is in
    np.testing.assert_allclose(a.coef_ * sd, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(a.coef_ == 0, b.coef_ == 0)
    if fit_intercept:
        np.testing.assert_allclose(a.intercept_, b.intercept_ - (m / sd) @ b.coef_,
                                   rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.objective_, b.objective_, rtol=1e-10)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.8])
def test_kkt_on_the_original_scale(l1_ratio):
    """0 in the subdifferential of D/(2S) + alpha sum_j (l1 sd_j |c_j| + l2 sd_j^2 c_j^2/2)."""
    X, y, w = _data("binomial", seed=1)
    m, sd = _weighted_sd(X, w)
    alpha = 0.02
    est = PenalizedGLM("binomial", alpha=alpha, l1_ratio=l1_ratio, standardize=True,
                       tol=1e-12).fit(X, y, sample_weight=w)
    c = est.coef_
    r = w * (y - expit(est.intercept_ + X @ c)) / w.sum()
    # X^T r, written (X - m)^T r + m sum(r) to keep the rounding of X^T r (|X| ~ 1000)
    # out of the check
    grad = -((X - m).T @ r + m * r.sum()) + alpha * (1 - l1_ratio) * sd**2 * c
    l1 = alpha * l1_ratio * sd
    assert abs(r.sum()) < 1e-12                       # the free intercept
    on = c != 0
    assert on.any() and (~on).any()
    viol_on = np.abs(grad[on] + l1[on] * np.sign(c[on]))
    viol_off = np.maximum(np.abs(grad[~on]) - l1[~on], 0.0)
    # per standardised coefficient (gradient times sd), as kkt_violation_
    # the rest is the one-pass (sums) standard deviations against the two-pass ones
    # here: a relative 1e-12 for the column of mean 1000 and sd 100
    assert np.max(viol_on * sd[on]) < 1e-9
    assert np.max(viol_off * sd[~on]) == 0.0
    # not the unstandardised conditions: the penalty factors matter here
    assert np.max(np.abs(np.abs(grad[on]) - alpha * l1_ratio)) > 1e-3


@pytest.mark.parametrize("family,glum_family", [("binomial", "binomial"),
                                                 ("poisson", "poisson"),
                                                 ("gaussian", "normal")])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_equals_glum_scale_predictors(family, glum_family, l1_ratio):
    glum = pytest.importorskip("glum")
    X, y, w = _data(family, seed=2)
    _, sd = _weighted_sd(X, w)
    ours = PenalizedGLM(family, alpha=0.02, l1_ratio=l1_ratio, standardize=True,
                        tol=1e-12).fit(X, y, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = glum.GeneralizedLinearRegressor(
            family=glum_family, alpha=0.02, l1_ratio=l1_ratio, scale_predictors=True,
            gradient_tol=1e-12, max_iter=1000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_ * sd, ref.coef_ * sd, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-7)
    # and glum without scale_predictors is a different fit (the test can fail)
    assert np.max(np.abs(PenalizedGLM(family, alpha=0.02, l1_ratio=l1_ratio).fit(
        X, y, sample_weight=w).coef_ * sd - ours.coef_ * sd)) > 1e-3


def test_units_of_a_column_do_not_matter():
    X, y, _ = _data("poisson", seed=3)
    X2 = X.copy()
    X2[:, 1] *= 1609.344      # miles -> metres
    kw = dict(alpha=0.01, standardize=True, tol=1e-12)
    a = PenalizedGLM("poisson", **kw).fit(X, y)
    b = PenalizedGLM("poisson", **kw).fit(X2, y)
    np.testing.assert_allclose(b.coef_[1] * 1609.344, a.coef_[1], rtol=1e-8)
    np.testing.assert_allclose(np.delete(b.coef_, 1), np.delete(a.coef_, 1),
                               rtol=1e-8, atol=1e-12)
    # without standardisation the penalty sees the units
    c = PenalizedGLM("poisson", alpha=0.01, tol=1e-12).fit(X2, y)
    assert abs(c.coef_[1] * 1609.344 - a.coef_[1]) > 0.02 * abs(a.coef_[1])


def test_constant_column_gets_zero_next_to_an_intercept():
    """glmnet's answer: a constant column's coefficient is 0 (the intercept takes it)."""
    X, y, w = _data("binomial", seed=4)
    Xc = np.column_stack([X, np.full(X.shape[0], 7.0)])
    with pytest.warns(UserWarning, match=r"x6 \(constant"):
        a = PenalizedGLM("binomial", alpha=0.01, standardize=True).fit(Xc, y)
    b = PenalizedGLM("binomial", alpha=0.01, standardize=True).fit(X, y)
    assert a.coef_[-1] == 0.0
    np.testing.assert_allclose(a.coef_[:-1], b.coef_, rtol=1e-7, atol=1e-10)


def test_constant_column_without_intercept_is_an_error():
    X, y, _ = _data("binomial", seed=4)
    Xc = np.column_stack([X, np.ones(X.shape[0])])
    with pytest.raises(ValueError, match=r"standardize=True: the columns \[x6\] are "
                       r"constant \(standard deviation 0\)"):
        PenalizedGLM("binomial", alpha=0.01, standardize=True,
                     fit_intercept=False).fit(Xc, y)
    # an all-zero column is not constant in that sense: coefficient 0
    Xz = np.column_stack([X, np.zeros(X.shape[0])])
    with pytest.warns(UserWarning, match="x6"):
        est = PenalizedGLM("binomial", alpha=0.01, standardize=True,
                           fit_intercept=False).fit(Xz, y)
    assert est.coef_[-1] == 0.0


def test_classifier_and_dask_input_agree():
    X, y, w = _data("binomial", seed=5)
    ref = PenalizedGLM("binomial", alpha=0.01, standardize=True, tol=1e-12).fit(X, y)
    labels = np.where(y > 0, "yes", "no")
    clf = PenalizedLogisticRegression(alpha=0.01, standardize=True, tol=1e-12).fit(X, labels)
    np.testing.assert_allclose(clf.coef_[0], ref.coef_, rtol=1e-10, atol=1e-14)
    Xd = da.from_array(X, chunks=(700, -1))
    Xd._chunks = ((np.nan,) * len(Xd.chunks[0]), Xd.chunks[1])  # unknown chunk sizes
    yd = da.from_array(y, chunks=700)
    yd._chunks = ((np.nan,) * len(yd.chunks[0]),)
    dk = PenalizedGLM("binomial", alpha=0.01, standardize=True, tol=1e-12).fit(Xd, yd)
    np.testing.assert_allclose(dk.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


def test_path_alpha_max_and_fits():
    X, y, _ = _data("binomial", seed=6)
    path = penalized_glm_path(X, y, standardize=True, n_alphas=4, eps=0.05, tol=1e-10)
    _, sd = _weighted_sd(X, np.ones(len(y)))
    assert np.max(np.abs(path.coef[0] * sd)) < 1e-8     # all zero at alpha_max (to tol)
    assert np.count_nonzero(path.coef[1]) > 0
    # alpha_max is the smallest all-zero alpha: just below it one coefficient enters
    below = PenalizedGLM("binomial", alpha=path.alphas[0] * 0.999, standardize=True).fit(X, y)
    assert np.count_nonzero(below.coef_) == 1
    for i in (1, 3):
        one = PenalizedGLM("binomial", alpha=path.alphas[i], standardize=True,
                           tol=1e-10).fit(X, y)
        np.testing.assert_allclose(path.coef[i], one.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.filterwarnings("ignore:PenalizedGLMCV. CV chose")
def test_cv_grid_and_refit_are_standardised():
    X, y, _ = _data("binomial", seed=7)
    cv = PenalizedGLMCV(standardize=True, n_alphas=6, eps=0.02, cv=3,
                        n_partitions=6).fit(X, y)
    plain = PenalizedGLMCV(n_alphas=6, eps=0.02, cv=3, n_partitions=6).fit(X, y)
    path = penalized_glm_path(X, y, standardize=True, n_alphas=6, eps=0.02)
    np.testing.assert_allclose(cv.alphas_, path.alphas, rtol=1e-12)
    assert not np.allclose(cv.alphas_, plain.alphas_)
    one = PenalizedGLM("binomial", alpha=cv.alpha_, standardize=True).fit(X, y)
    np.testing.assert_allclose(cv.coef_, one.coef_, rtol=1e-6, atol=1e-9)
