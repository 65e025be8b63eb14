"""Responses and estimates on the edge of the family's range.

* A response all at one edge (no event at all, or no non-event, or no positive count):
  the ML intercept is -inf (+inf) and nothing else is estimable; mBR and mJPL would be
  set by the adjustment alone (an all-zero logistic response has several local maxima
  of the penalised likelihood: x2 = 2.24 or -1.24 on the data below, both "significant").
  mBR and mJPL refuse it in the first pass, as the debiased lasso and firthmodels do; ML
  reports it with the intercept -inf and the other parameters unidentified, as DLSA does.
* Infinite ML parameters are named exactly, with the sign the data determine, whatever
  the row blocks (the recession counts of the first pass).
"""

import warnings

import dask.array as da
import numpy as np
import pytest

from dask_glmdist import BiasReducedGLM, DLSARegressor, SeparationWarning, rounds


@pytest.fixture
def no_events(rng):
    X = rng.normal(size=(2000, 3))
    return X, np.zeros(2000)


def _count_passes(monkeypatch):
    calls = []
    real = rounds.run_round

    def counting(*args, **kwargs):
        calls.append(kwargs.get("label"))
        return real(*args, **kwargs)

    monkeypatch.setattr(rounds, "run_round", counting)
    return calls


@pytest.mark.parametrize("method", ["mBR", "mJPL"])
@pytest.mark.parametrize(("family", "value", "what"), [
    ("binomial", 0.0, r"no event \(y = 1\)"), ("binomial", 1.0, r"no non-event \(y = 0\)"),
    ("poisson", 0.0, "no positive count")])
def test_adjusted_fits_refuse_a_response_all_at_one_edge(no_events, family, value, what,
                                                         method, monkeypatch):
    X, y = no_events
    y = y + value
    message = (rf"Invalid y: y is {value:g} in every row with positive weight, the edge of "
               rf"the {family} family's range.*intercept runs to "
               rf"{'-' if value == 0 else '[+]'}infinity.*{what}")
    passes = _count_passes(monkeypatch)
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(family, method=method, n_partitions=4).fit(X, y)
    assert passes == ["IWLS start"]  # refused in the first pass
    Xd, yd = da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500)
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(family, method=method).fit(Xd, yd)
    # rows of weight 0 do not count: one event there changes nothing
    w = np.ones(len(y))
    w[0] = 0.0
    y1 = y.copy()
    y1[0] = 1.0 - value if family == "binomial" else 3.0
    with pytest.raises(ValueError, match=message):
        BiasReducedGLM(family, method=method, n_partitions=4).fit(X, y1, sample_weight=w)


def test_firthmodels_refuses_it_too_and_one_event_is_enough(no_events):
    # firthmodels needs Python >= 3.11 (the test extra installs it there only)
    firthmodels = pytest.importorskip("firthmodels")

    X, y = no_events
    with pytest.raises(ValueError, match="Got 1 classes"):
        firthmodels.FirthLogisticRegression().fit(X, y)
    y = y.copy()
    y[7] = 1.0
    ref = firthmodels.FirthLogisticRegression(gtol=1e-7, xtol=1e-7, max_iter=500).fit(X, y)
    fit = BiasReducedGLM(tol=1e-12, n_partitions=4).fit(X, y)
    np.testing.assert_allclose(fit.params_, np.r_[ref.intercept_, ref.coef_.ravel()],
                               atol=1e-6)


def _flags(model):
    return {name: (flag.kind, flag.sign) for name, flag in model.param_flags_.items()}


def test_ml_all_zero_response_signs_only_where_the_data_determine_them(no_events):
    """The intercept is -inf; the slopes are not determined (any value fits every row
    perfectly once the intercept has run off): "unidentified", never a sign. They were
    flagged -inf with 4 row blocks and +inf with 10; DLSA says the same as now."""
    X, y = no_events
    expected = {"intercept": ("infinite", -1), "x0": ("unidentified", 0),
                "x1": ("unidentified", 0), "x2": ("unidentified", 0)}
    fits = [BiasReducedGLM(method="ML", n_partitions=k) for k in (4, 10)]
    fits.append(BiasReducedGLM(family="poisson", method="ML", n_partitions=4))
    for model in fits:
        with pytest.warns(SeparationWarning, match=r"\[intercept \(-inf\)\] are infinite.*"
                          r"Every row is fitted perfectly \(y is 0 in every row\), so no other "
                          r"parameter is estimable: \[x0, x1, x2\]") as caught:
            model.fit(X, y)
        assert "mBR" not in str(caught[0].message)  # which would refuse these data
        assert _flags(model) == expected and not model.converged_
        table = model.summary()
        assert table.loc["intercept", "coef"] == -np.inf
        assert np.all(np.isfinite(table["coef"].iloc[1:])) and table["std_err"].isna().all()
        assert np.isnan(model.cov_params_).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dlsa = DLSARegressor(family="binomial", n_partitions=4).fit(X, y)
    assert _flags(dlsa) == expected


def test_ml_infinite_parameters_are_named_exactly_for_every_blocking(rng):
    """A category without events (x2) is -inf; a column non-zero only inside it (x3) is
    left without information once x2 has run off: unidentified, no sign (its values
    have both signs); the others are finite, with standard errors. firthmodels' LP
    check finds the same two parameters not finite. The same flags for one block,
    several, and dask blocks."""
    firthmodels = pytest.importorskip("firthmodels")

    n = 3000
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n),
                         (rng.random(n) < 0.03).astype(float), np.zeros(n)])
    X[X[:, 2] == 1, 3] = rng.normal(size=int(X[:, 2].sum()))
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + X[:, 0])))).astype(float)
    y[X[:, 2] == 1] = 0.0
    sep = firthmodels.detect_separation(X, y)
    assert list(sep.is_finite) == [True, True, False, False, True]  # intercept last
    Xd, yd = da.from_array(X, chunks=(700, -1)), da.from_array(y, chunks=700)
    for model, data in [(BiasReducedGLM(method="ML", n_partitions=1), (X, y)),
                        (BiasReducedGLM(method="ML", n_partitions=9), (X, y)),
                        (BiasReducedGLM(method="ML"), (Xd, yd))]:
        with pytest.warns(SeparationWarning, match=r"its parameters \[x2 \(-inf\)\] are "
                          r"infinite .* No information is left on \[x3\]"):
            model.fit(*data)
        assert _flags(model) == {"x2": ("infinite", -1), "x3": ("unidentified", 0)}
        assert np.all(np.isfinite(model.bse_[:3])) and np.isnan(model.bse_[3:]).all()
        assert model.summary().loc["x3", "coef"] == model.coef_[3]  # not shown as +-inf


def test_refit_clears_the_flags_and_n_blocks_counts_every_row_block(rng):
    """param_flags_ is set on every fit: a refit on clean data leaves none of the
    separated fit's flags (and its bse_ is finite again). n_blocks_ counts every row
    block of the input, an empty one included."""
    n = 1500
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(float)
    X_sep = np.column_stack([X, np.zeros(n)])
    X_sep[:20, 2] = 1.0
    y_sep = y.copy()
    y_sep[:20] = 1.0
    model = BiasReducedGLM(method="ML", n_partitions=3)
    with pytest.warns(SeparationWarning):
        model.fit(X_sep, y_sep)
    assert _flags(model) == {"x2": ("infinite", 1)} and np.isnan(model.bse_[3])
    X_clean = X_sep.copy()
    X_clean[:, 2] = rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X_clean, y)
    assert model.param_flags_ == {} and np.all(np.isfinite(model.bse_))
    assert model.summary().notna().all().all()
    chunks = (600, 0, 900)
    Xd = da.from_array(X_clean, chunks=(chunks, -1))
    model.fit(Xd, da.from_array(y, chunks=(chunks,)))
    assert model.n_blocks_ == 3 and model.n_obs_ == n
