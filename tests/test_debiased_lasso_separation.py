"""DebiasedLassoRegressor where the unpenalised estimate (its target) does not exist.

The debiased estimator targets the unpenalised parameter. Where the maximum likelihood
estimate is infinite (separation), the debiasing has no target: those parameters are
flagged "infinite" (summary() shows +-inf without a standard error) and one
SeparationWarning names them. Oracle: firthmodels.detect_separation (Konis's linear
program) says which parameters are infinite and their signs.

Before (issue 11 sweep): a category without events gave x2 = -1.93 +- 0.26 (alpha
0.01), complete separation by x0 gave x0 = 33.5 +- 1.5 (alpha 0.001), a one-row level
with y = 1 gave 7.0 +- 2.9 (p = 0.014) -- all without a warning.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from dask_glmdist import DebiasedLassoRegressor, SeparationWarning

# the oracle (Konis's linear program); firthmodels needs Python >= 3.11
detect_separation = pytest.importorskip("firthmodels").detect_separation


def _logistic(rng, n, p):
    X = rng.normal(size=(n, p))
    eta = -0.5 + 0.7 * X[:, 0] - 0.3 * X[:, 1]
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)


def category_without_events(rng):
    X, y = _logistic(rng, 2400, 2)
    d = np.zeros(2400)
    d[rng.choice(2400, 40, replace=False)] = 1.0
    y[d == 1] = 0.0
    return np.c_[X, d], y


def one_row_level(value):
    def make(rng):
        X, y = _logistic(rng, 2400, 2)
        d = np.zeros(2400)
        d[1234] = 1.0
        y[1234] = value
        return np.c_[X, d], y
    return make


def complete_separation(rng):
    X = rng.normal(size=(2400, 3))
    return X, (X[:, 0] > 0.5).astype(float)


def oblique_separation(rng):
    X = rng.normal(size=(2400, 3))
    return X, (X[:, 0] + X[:, 1] > 0.5).astype(float)


def separated_group(rng):
    """Quasi-complete separation along a combination of columns: within group g,
    y = (x0 > 0.5); z = x0 * g. The direction z - 0.5 g fits the group's rows perfectly
    and leaves the others alone: z -> +inf, g -> -inf, the rest finite."""
    x0 = rng.normal(size=2400)
    g = (rng.random(2400) < 0.5).astype(float)
    y = (rng.random(2400) < 1.0 / (1.0 + np.exp(-0.5 * x0))).astype(float)
    y[g == 1] = (x0[g == 1] > 0.5).astype(float)
    return np.c_[x0, g, x0 * g], y


def fit_recording(X, y, **kw):
    params = {"family": "binomial", "n_partitions": 4, **kw}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = DebiasedLassoRegressor(**params).fit(X, y)
    sep = [str(w.message) for w in caught if issubclass(w.category, SeparationWarning)]
    return model, sep


def lp_directions(X, y):
    """detect_separation's directions in [intercept, *coef] order."""
    d = detect_separation(X, y).directions
    return np.r_[d[-1], d[:-1]]


@pytest.mark.parametrize("make", [category_without_events, one_row_level(0.0),
                                  one_row_level(1.0), separated_group],
                         ids=["no events", "one row y=0", "one row y=1", "group"])
def test_infinite_parameters_match_the_linear_program(rng, make):
    X, y = make(rng)
    oracle = lp_directions(X, y)
    assert np.any(oracle != 0)
    names = ["intercept"] + [f"x{j}" for j in range(X.shape[1])]
    for alpha in (0.01, 0.001):
        model, sep = fit_recording(X, y, alpha=alpha)
        flags = model.param_flags_
        assert {n: (f.kind, f.sign) for n, f in flags.items()} == {
            names[j]: ("infinite", int(oracle[j])) for j in np.flatnonzero(oracle)}
        shown = ", ".join(f"{names[j]} ({'+' if oracle[j] > 0 else '-'}inf)"
                          for j in np.flatnonzero(oracle))
        assert len(sep) == 1 and f"[{shown}] run(s) off to infinity" in sep[0]
        assert 'BiasReducedGLM(method="mBR")' in sep[0]
        table = model.summary()
        for j in range(len(names)):
            row = table.loc[names[j]]
            if oracle[j]:
                assert row["coef"] == oracle[j] * np.inf
                assert row[["std_err", "z", "p_value", "ci_lower", "ci_upper"]].isna().all()
                assert np.isnan(model.bse_[j]) and np.isnan(model.cov_params_[j]).all()
            else:
                assert np.isfinite(row["coef"]) and row["std_err"] > 0
        assert names[np.flatnonzero(oracle)[0]] in table.attrs["notes"]


def test_the_other_parameters_approach_the_fit_without_the_separated_rows(rng):
    """A category without events: the others' maximum likelihood estimates are those
    of the rows outside the category. The one-round estimate keeps those rows at the
    category's finite penalised value: within 0.7 se at alpha 0.01 (where the
    estimator is within 0.4 se without the category), 0.3 se at 0.001."""
    X, y = category_without_events(rng)
    keep = X[:, 2] == 0
    ml = sm.GLM(y[keep], sm.add_constant(X[keep, :2]), family=sm.families.Binomial()).fit()
    for alpha, bound in ((0.01, 0.7), (0.001, 0.3)):
        model, _ = fit_recording(X, y, alpha=alpha)
        z = (model.params_[:3] - ml.params) / ml.bse
        assert np.max(np.abs(z)) < bound, z
        np.testing.assert_allclose(model.bse_[:3], ml.bse, rtol=0.2)


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("make", [complete_separation, oblique_separation],
                         ids=["x0 > 0.5", "x0 + x1 > 0.5"])
def test_complete_separation_along_a_combination_is_found(rng, make, link):
    """The blocks' unpenalised local fits all diverge; one probe round over the data
    confirms the direction. Its parameters are infinite with the linear program's
    signs; every row is then fitted perfectly, and the other parameters are not
    determined by the data (unidentified)."""
    X, y = make(rng)
    oracle = lp_directions(X, y)
    model, sep = fit_recording(X, y, alpha=0.01, link=link)
    flags = model.param_flags_
    assert set(flags) == {"intercept", "x0", "x1", "x2"}
    infinite = {n: f.sign for n, f in flags.items() if f.kind == "infinite"}
    names = ["intercept", "x0", "x1", "x2"]
    assert infinite == {n: int(oracle[names.index(n)]) for n in infinite}
    assert {"intercept", "x0"} <= set(infinite)
    assert all(f.kind == "unidentified" for n, f in flags.items() if n not in infinite)
    assert model.separation_probe_["confirmed"]
    assert len(sep) == 1 and "Every row is fitted perfectly, so no other parameter is " \
        "estimable either" in sep[0]
    assert np.isnan(model.bse_).all()
    diag = model.block_diagnostics_
    assert diag[diag.problem == "separated"].block.tolist() == [0, 1, 2, 3]


def test_local_separation_that_does_not_hold_globally_is_unreliable(rng):
    """Every block is separated by x0, at a different threshold: the global MLE exists
    (the linear program finds no separation) but every block's local MLE is infinite.
    The probe does not confirm the direction; the one-round estimate is flagged
    unreliable, never shown with a confident standard error."""
    X = rng.normal(size=(800, 1))
    y = np.concatenate([(X[k * 200:(k + 1) * 200, 0] > c).astype(float)
                        for k, c in enumerate([-0.6, -0.2, 0.2, 0.6])])
    assert not detect_separation(X, y).separation
    with pytest.warns(UserWarning, match=r"the unpenalised local fit of every row block "
                      r"diverged along \[intercept, x0\]"):
        model = DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=4).fit(X, y)
    assert {n: f.kind for n, f in model.param_flags_.items()} == {
        "intercept": "unreliable", "x0": "unreliable"}
    assert not model.separation_probe_["confirmed"]
    assert model.summary()["std_err"].isna().all()


def test_no_flags_and_no_probe_without_separation(rng):
    X, y = _logistic(rng, 2400, 3)
    assert not detect_separation(X, y).separation
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=4).fit(X, y)
    assert model.param_flags_ == {} and model.separation_probe_ is None
    assert np.isfinite(model.bse_).all()


def test_a_refit_does_not_keep_the_flags(rng):
    X, y = category_without_events(rng)
    model = DebiasedLassoRegressor(alpha=0.01, family="binomial", n_partitions=4)
    with pytest.warns(SeparationWarning):
        model.fit(X, y)
    assert set(model.param_flags_) == {"x2"}
    model.fit(X[:, :2], y)
    assert model.param_flags_ == {} and np.isfinite(model.bse_).all()


def test_poisson_group_without_counts_is_minus_infinity(rng):
    """The Poisson MLE of a group whose counts are all 0 is -inf (statsmodels stops
    at about -20 with a standard error in the thousands)."""
    X = rng.normal(size=(2400, 2))
    d = (np.arange(2400) % 60 == 0).astype(float)
    y = rng.poisson(np.exp(0.3 + 0.4 * X[:, 0])).astype(float)
    y[d == 1] = 0.0
    ml = sm.GLM(y, sm.add_constant(np.c_[X, d]), family=sm.families.Poisson()).fit()
    assert ml.params[-1] < -15 and ml.bse[-1] > 1e3
    with pytest.warns(SeparationWarning, match=r"\[x2 \(-inf\)\]"):
        model = DebiasedLassoRegressor(alpha=0.01, family="poisson", n_partitions=4).fit(
            np.c_[X, d], y)
    assert {n: (f.kind, f.sign) for n, f in model.param_flags_.items()} == {
        "x2": ("infinite", -1)}


def test_naive_unregularized_error_names_the_infinite_parameter(rng):
    """The average of the local MLEs cannot exist where they diverge (an error, as
    before); the error now also says which global estimate is infinite."""
    X, y = category_without_events(rng)
    with pytest.raises(ValueError, match=r"do not exist .* Over all the data, the maximum "
                       r"likelihood estimate does not exist either: \[x2 \(-inf\)\]"):
        DebiasedLassoRegressor(method="naive_unregularized", family="binomial",
                               n_partitions=4).fit(X, y)


@pytest.mark.parametrize("make", [category_without_events, complete_separation,
                                  separated_group, lambda rng: _logistic(rng, 2400, 3),
                                  lambda rng: _logistic(rng, 2400, 20)],
                         ids=["no events", "complete", "group", "p=3", "p=20"])
@pytest.mark.parametrize("alpha", [0.01, 0.001])
def test_the_cheap_existence_check_agrees_with_the_local_fit(rng, make, alpha):
    """Two scoring steps from the penalised estimate settle that a block's local MLE
    exists only where the full local maximum likelihood fit converges (and never on
    separated blocks)."""
    from dask_glmdist.families import get_family
    from dask_glmdist.linalg import PSDFactor
    from dask_glmdist.solvers.debiased_lasso import LassoSpec, _one_step, _settles
    from dask_glmdist.solvers.local import fit_local
    from dask_glmdist.solvers.local_enet import fit_local_enet

    X, y = make(rng)
    family = get_family("binomial")
    p = X.shape[1]
    l1, l2 = np.r_[0.0, np.full(p, alpha)], np.zeros(p + 1)
    spec = LassoSpec("debiased", "mosaic", l1, l2, l1, True, 1e-8, 100, 4, 2, False)
    settled = []
    for k in range(4):
        Xb, yb = X[k * 600:(k + 1) * 600], y[k * 600:(k + 1) * 600]
        fit = fit_local_enet(Xb, yb, None, family, l1, l2, fit_intercept=True)
        information = PSDFactor(fit.information)
        start = _one_step(fit, spec, information)
        ml = fit_local(Xb, yb, None, family, fit_intercept=True, theta0=start)
        settled.append(_settles(Xb, yb, None, family, information, start, True, np))
        assert not settled[-1] or ml.mle_exists
    separated = detect_separation(X, y).separation
    assert not any(settled) if separated else all(settled)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_the_separation_check_is_array_api_generic(rng, link):
    """A separated block (with prior weights) gives the same record and sums on an
    array-API namespace (the CuPy stand-in) as on NumPy."""
    import array_api_strict as xps

    from dask_glmdist.families import get_family
    from dask_glmdist.solvers.debiased_lasso import LassoSpec, debiased_lasso_block

    X, y = complete_separation(rng)
    X, y = X[:600], y[:600]
    w = rng.uniform(0.5, 2.0, size=600)
    l1 = np.r_[0.0, np.full(3, 0.01)]
    spec = LassoSpec("debiased", "mosaic", l1, np.zeros(4), l1, True, 1e-8, 100, 4, 2, False)
    family = get_family("binomial", link)
    ref = debiased_lasso_block(X, y, w, family=family, spec=spec, block_index=0)
    got = debiased_lasso_block(xps.asarray(X), xps.asarray(y), xps.asarray(w), family=family,
                               spec=spec, block_index=0)
    assert ref["blocks"][0]["separated"] == got["blocks"][0]["separated"]
    assert {j for j, _ in ref["blocks"][0]["separated"]} == {0, 1}
    for key in ("separation_u@big", "separation_sd@big", "recession@big"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-7, atol=1e-12)
