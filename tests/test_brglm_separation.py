"""Separated data: ML says its estimate is infinite; mBR and mJPL stay finite.

firthmodels' linear-programming check (``detect_separation``) is the oracle for which
data sets are separated.
"""

import warnings

import numpy as np
import pytest

from dask_glmdist import BiasReducedGLM, SeparationWarning


def _carrier_data(rng, n=4000):
    """A rare carrier dummy whose rows all have y = 1 (quasi-complete separation)."""
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n),
                         (rng.random(n) < 0.01).astype(float)])
    y = (rng.normal(size=n) < -1.2 + 0.5 * X[:, 0] - 0.3 * X[:, 1]).astype(float)
    y[X[:, 2] == 1] = 1.0
    return X, y


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_ml_warns_and_adjusted_fits_are_finite(link, rng):
    firthmodels = pytest.importorskip("firthmodels")

    X, y = _carrier_data(rng)
    sep = firthmodels.detect_separation(X, y)
    # features first, intercept last in firthmodels' result: the carrier's is infinite
    assert sep.separation and list(sep.is_finite) == [True, True, False, True]
    with pytest.warns(SeparationWarning,
                      match=r"parameters \[x2 \(\+inf\)\] are infinite.*mBR.*mJPL"):
        ml = BiasReducedGLM(link=link, method="ML", n_partitions=4).fit(X, y)
    assert not ml.converged_ and ml.separation_detected_
    # exactly the parameters firthmodels' LP finds infinite, with the sign of the data
    assert {k: (f.kind, f.sign) for k, f in ml.param_flags_.items()} == {"x2": ("infinite", 1)}
    assert np.isnan(ml.bse_[3]) and np.all(np.isfinite(ml.bse_[:3]))
    steps = [h["max_step"] for h in ml.history_]
    assert steps[-1] > 0.5 * steps[-2] > 0.01  # still moving when it stopped
    for method in ("mBR", "mJPL"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning at all
            fit = BiasReducedGLM(link=link, method=method, n_partitions=4).fit(X, y)
        assert fit.converged_ and not fit.separation_detected_
        assert np.all(np.isfinite(fit.params_)) and np.all(np.isfinite(fit.bse_))
        # finite and smaller than where ML happened to stop, with a usable standard error
        assert 0 < fit.coef_[2] < ml.coef_[2] and fit.bse_[3] < 2.0
        assert fit.param_flags_ == {}
        # the other coefficients are close to the ML ones (they are finite under ML)
        np.testing.assert_allclose(fit.coef_[:2], ml.coef_[:2], atol=0.05)


def test_logistic_mbr_on_separated_data_equals_firthmodels(rng):
    firthmodels = pytest.importorskip("firthmodels")

    X, y = _carrier_data(rng, n=1500)
    ref = firthmodels.FirthLogisticRegression(gtol=1e-10, xtol=1e-10, max_iter=500).fit(X, y)
    fit = BiasReducedGLM(method="mBR", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(fit.params_, np.r_[ref.intercept_, ref.coef_.ravel()], atol=1e-6)


def test_complete_separation(rng):
    X = rng.normal(size=(600, 2))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(float)
    with pytest.warns(SeparationWarning, match=r"\[intercept, x0, x1\] run off along a "
                                               "combination of columns; their signs are not "
                                               "determined here"):
        ml = BiasReducedGLM(method="ML").fit(X, y)
    assert not ml.converged_
    # no single column separates: the run-off is along a combination, its signs are not
    # checked, so no parameter is printed as +-inf (x0 alone is not a recession direction)
    assert {f.kind for f in ml.param_flags_.values()} == {"unidentified"}
    assert list(ml.param_flags_) == ["intercept", "x0", "x1"]
    table = ml.summary()
    assert np.all(np.isfinite(table["coef"])) and table["std_err"].isna().all()
    for link in ("logit", "probit"):
        # large but finite; the IWLS iteration converges slowly (linearly) out there
        fit = BiasReducedGLM(method="mJPL", link=link, max_iter=300).fit(X, y)
        assert fit.converged_ and np.all(np.isfinite(fit.params_)) and fit.coef_[0] > 10


def test_poisson_all_zero_group(rng):
    """A dummy whose rows all have y = 0: the ML coefficient is -infinity."""
    n = 2000
    X = np.column_stack([rng.normal(size=n), (rng.random(n) < 0.02).astype(float)])
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 0])).astype(float)
    y[X[:, 1] == 1] = 0.0
    with pytest.warns(SeparationWarning, match=r"\[x1 \(-inf\)\].*all-zero group"):
        ml = BiasReducedGLM("poisson", method="ML").fit(X, y)
    assert list(ml.param_flags_) == ["x1"] and ml.param_flags_["x1"].sign == -1
    fit = BiasReducedGLM("poisson", method="mBR").fit(X, y)
    assert fit.converged_ and ml.coef_[1] < fit.coef_[1] < 0 and fit.bse_[2] < 2.0
    assert np.isnan(ml.bse_[2]) and fit.param_flags_ == {}


def test_no_warning_when_only_a_block_is_separated(rng):
    """Unlike per-block fits, the chunked fit sees the pooled data: nothing is separated."""
    n = 2000
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [1.0, -1.0])))).astype(float)
    y[:400] = (X[:400, 0] > 0).astype(float)  # block 0 separated on its own
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ml = BiasReducedGLM(method="ML", n_partitions=5).fit(X, y)
    assert ml.converged_ and not ml.separation_detected_


@pytest.mark.parametrize("link", ["cloglog", "logit"])
def test_no_false_alarm_with_extreme_but_finite_fits(link, rng):
    """Strong effects put many fitted means at 0/1 to 1e-8, yet the MLE exists."""
    import statsmodels.api as sm

    n = 3000
    X = rng.normal(size=(n, 2))
    eta = 0.5 + 4.0 * X[:, 0] - 0.5 * X[:, 1]
    mu = 1 - np.exp(-np.exp(eta)) if link == "cloglog" else 1 / (1 + np.exp(-eta))
    y = (rng.random(n) < mu).astype(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ml = BiasReducedGLM(link=link, method="ML", tol=1e-12).fit(X, y)
    assert ml.converged_ and not ml.separation_detected_
    assert not any(issubclass(w.category, SeparationWarning) for w in caught)
    # R's glm notes fitted probabilities that are numerically 0 or 1; so do we
    mu = ml.predict(X)
    at_edge = int(np.sum(((mu <= 2.3e-15) & (y == 0)) | ((mu >= 1 - 2.3e-15) & (y == 1))))
    notes = [str(w.message) for w in caught]
    assert notes == ([f"{at_edge} fitted probabilities 0 or 1 occurred (numerically, as R's "
                      "glm reports them); the estimate converged, but check for "
                      "near-separation."] if at_edge else [])
    links = {"cloglog": sm.families.links.CLogLog(), "logit": sm.families.links.Logit()}
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(links[link])).fit(tol=1e-14)
    np.testing.assert_allclose(ml.params_, ref.params, atol=1e-8)
