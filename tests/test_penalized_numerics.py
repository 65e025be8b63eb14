"""Units, dtypes and stopping messages of the PQN fits (issue 11, items 12 and 13).

* a column in other units (x 1e50, x 1e-50) gives the same unpenalised fit, its
  coefficient in the new units (the engine works on standardised columns), and the
  penalised fit is that of the transformed penalty -- it used to stop at ~1e-52;
* columns whose squares float64 cannot sum are refused by name before iterating;
* float32 dask input equals the float64 fit of the same values;
* a ConvergenceWarning always says why.
"""

import re
import warnings

import dask.array as da
import numpy as np
import pytest
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

import dask_glmdist.solvers.pqn as pqn
from dask_glmdist import (
    PenalizedGLM,
    PenalizedGLMCV,
    PenalizedLogisticRegression,
    penalized_glm_path,
)
from dask_glmdist._blocks import as_blocked
from dask_glmdist.families import get_family
from dask_glmdist.rounds import RoundEngine


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(13)
    n = 800
    X = rng.normal(size=(n, 3))
    eta = 0.2 + X @ [0.8, -0.5, 0.3]
    return {"X": X,
            "binomial": (rng.random(n) < expit(eta)).astype(float),
            "poisson": rng.poisson(np.exp(0.5 * eta)).astype(float),
            "gaussian": eta + rng.normal(size=n)}


@pytest.mark.parametrize("family", ["binomial", "poisson", "gaussian"])
@pytest.mark.parametrize("factor", [1e50, 1e-50])
def test_column_units_do_not_change_the_unpenalised_fit(data, family, factor):
    X, y = data["X"], data[family]
    ref = PenalizedGLM(family, tol=1e-10).fit(X, y)
    Xs = X.copy()
    Xs[:, 2] *= factor
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PenalizedGLM(family, tol=1e-10).fit(Xs, y)
    np.testing.assert_allclose(model.params_ * [1, 1, 1, factor], ref.params_, rtol=1e-7)
    np.testing.assert_allclose(model.bse_ * [1, 1, 1, factor], ref.bse_, rtol=1e-6)


@pytest.mark.parametrize("family, l1_ratio", [("binomial", 1.0), ("poisson", 0.5),
                                              ("gaussian", 1.0)])
@pytest.mark.parametrize("factor", [1e40, 1e-3])
def test_penalised_fit_in_other_units_is_the_transformed_penalty(data, family, l1_ratio,
                                                                 factor):
    """The penalty is on the original coefficients: ``l1 |c|`` on a column x c is
    ``(l1 / c) |b|`` on the column x. Oracle: the engine on the unscaled design with
    the transformed weights."""
    X, y = data["X"], data[family]
    alpha = 0.01
    Xs = X.copy()
    Xs[:, 2] *= factor
    model = PenalizedGLM(family, alpha=alpha, l1_ratio=l1_ratio, tol=1e-10,
                         n_partitions=2).fit(Xs, y)
    pen = pqn.Penalty.elastic_net(3, alpha, l1_ratio, None, True)
    pen.l1[3] /= factor
    pen.l2[3] /= factor ** 2
    ref = pqn.fit_pqn(RoundEngine(as_blocked(X, y, n_partitions=2)), get_family(family), pen,
                      fit_intercept=True, tol=1e-10, max_iter=100)
    assert model.converged_
    np.testing.assert_allclose(model.params_ * [1, 1, 1, factor], ref.theta, atol=1e-7)


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_kkt_violation_is_per_standardised_coefficient_in_every_estimator(data, family):
    """PenalizedGLMCV reported the KKT violation in original units (x 1000 for a
    column in other units), PenalizedGLM per standardised coefficient."""
    X, y = data["X"].copy(), data[family]
    X[:, 1] *= 1000.0
    alpha = 0.01
    single = PenalizedGLM(family, alpha=alpha, l1_ratio=0.5, n_partitions=5).fit(X, y)
    cv = PenalizedGLMCV(family, alphas=[alpha], l1_ratio=0.5, cv=5).fit(X, y)
    np.testing.assert_allclose(cv.params_, single.params_, rtol=1e-12)
    assert cv.kkt_violation_ == pytest.approx(single.kkt_violation_, rel=1e-9)
    path = penalized_glm_path(X, y, family=family, alphas=[alpha], l1_ratio=0.5,
                              n_partitions=5)
    assert path.kkt[0] == pytest.approx(single.kkt_violation_, rel=1e-9)


def _boundary_data(family):
    rng = np.random.default_rng(13)
    n = 4000
    X = rng.normal(size=(n, 2))
    if family == "binomial":   # log link: the fit wants probabilities above 1
        return X, (rng.random(n) < expit(1.0 + 2.0 * X[:, 0])).astype(float)
    return X, rng.poisson(np.exp(-0.5 + 0.7 * X[:, 0] - 0.3 * X[:, 1])).astype(float)


@pytest.mark.parametrize("family, link, better", [("poisson", "sqrt", "log"),
                                                  ("poisson", "identity", "log"),
                                                  ("binomial", "log", "logit")])
def test_an_estimate_on_the_edge_of_the_links_range_is_refused(family, link, better):
    """The likelihood wants linear predictors the link does not allow (statsmodels'
    sqrt fit has eta down to -0.22): the iterations used to stop on the boundary after
    90 rounds with a ConvergenceWarning and ordinary standard errors 4-7 se off."""
    X, y = _boundary_data(family)
    match = (rf"boundary of the {link} link's valid range.*not a maximum likelihood "
             rf"estimate.*link='{better}'")
    with pytest.raises(ValueError, match=match):
        PenalizedGLM(family, link, n_partitions=2).fit(X, y)
    with pytest.raises(ValueError, match=match):
        penalized_glm_path(X, y, family=family, link=link, alphas=[0.0], n_partitions=2)


def test_column_scale_beyond_float64_is_refused_by_name(data):
    X, y = data["X"], data["binomial"]
    for factor, rms in [(1e150, r"\S+e\+149"), (1e-150, r"\S+e-15[01]")]:
        Xs = X.copy()
        Xs[:, 1] *= factor
        with pytest.raises(ValueError, match=rf"x1 \(root mean square {rms}\).*Rescale"):
            PenalizedLogisticRegression(alpha=0.01).fit(Xs, y)


def test_float32_dask_input_equals_the_float64_fit(data):
    X, y = data["X"].astype(np.float32), data["binomial"]
    ref = PenalizedLogisticRegression(alpha=0.002, n_partitions=3).fit(X.astype(np.float64), y)
    Xd = da.from_array(X, chunks=(300, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PenalizedLogisticRegression(alpha=0.002).fit(Xd, da.from_array(y, chunks=300))
    np.testing.assert_allclose(model.params_, ref.params_, atol=1e-10)
    assert model.n_iter_ == ref.n_iter_


def _reasons(caught):
    out = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            m = re.search(r"did not converge:?\s*(.*)", str(w.message))
            assert m and len(m.group(1).strip(" .")) > 10, str(w.message)
            out.append(str(w.message))
    return out


def test_every_convergence_warning_says_why(data, monkeypatch):
    X, y = data["X"], data["binomial"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PenalizedLogisticRegression(max_iter=2).fit(X, y)
        penalized_glm_path(X, y, n_alphas=3, max_iter=1)
        PenalizedGLMCV(n_alphas=3, cv=3, max_iter=1).fit(X, y)
    reasons = _reasons(caught)
    # one warning per fit: the cross-validation's fold paths and its full-data refit
    # share one
    assert len(reasons) == 3 and all("max_iter" in r for r in reasons)
    assert "all blocks: alphas" in reasons[2] and "fold 0: alphas" in reasons[2]
    # the gaussian fit's coordinate descent running out of sweeps
    real = pqn.lasso_cd
    monkeypatch.setattr(pqn, "lasso_cd", lambda *a, **k: (real(*a, **k)[0], pqn.MAX_SWEEPS))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PenalizedGLM("gaussian", alpha=0.1).fit(X, data["gaussian"])
    assert "coordinate descent" in _reasons(caught)[0]
