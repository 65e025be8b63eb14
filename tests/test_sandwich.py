"""Robust and cluster-robust covariance (``cov_type``, ``fit(..., groups=)``).

Oracles: statsmodels' GLM ``fit(cov_type=...)`` (its HC1 for GLM applies no
correction, so ours -- White's n/(n-k) -- is compared with its HC0 times that factor)
and Stata's ``poisson ..., vce(robust)`` / ``vce(cluster ship)`` on the ships data
shipped in statsmodels' test suite (Stata's factors: n/(n-1) for robust, G/(G-1) for
cluster).
"""

import importlib.resources
import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dask_glmdist import (
    BiasReducedGLM,
    DLSALogisticRegression,
    DLSARegressor,
    PenalizedGLM,
    PenalizedLogisticRegression,
)
from dask_glmdist.sandwich import ClusterSums

N = 2000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 3))
    # clusters with a shared effect, spread over every block (ids at random)
    g = rng.integers(0, 50, N)
    u = rng.normal(scale=0.3, size=50)[g]
    eta = X @ [0.3, -0.2, 0.1] + u
    return {
        "X": X, "g": g,
        "poisson": rng.poisson(np.exp(0.3 + eta)).astype(float),
        "binomial": (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float),
        "gamma": rng.gamma(2.0, np.exp(0.2 + 0.5 * eta) / 2.0),
    }


SM_FAMILY = {
    ("poisson", None): sm.families.Poisson(),
    ("binomial", None): sm.families.Binomial(),
    ("gamma", None): sm.families.Gamma(),
    ("gamma", "log"): sm.families.Gamma(sm.families.links.Log()),
    ("binomial", "probit"): sm.families.Binomial(sm.families.links.Probit()),
}


def _statsmodels_bse(X, y, family, link, cov_type, g, offset=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, sm.add_constant(X), family=SM_FAMILY[(family, link)],
                     offset=offset).fit(
            cov_type="HC0" if cov_type == "HC1" else cov_type,
            cov_kwds={"groups": g} if cov_type == "cluster" else {}, tol=1e-12)
    n, k = X.shape[0], X.shape[1] + 1
    factor = np.sqrt(n / (n - k)) if cov_type == "HC1" else 1.0
    return res.params, res.bse * factor


def _dask(X, y, g=None, chunk=250):
    out = [da.from_array(X, chunks=(chunk, X.shape[1])), da.from_array(y, chunks=chunk)]
    return out + [None if g is None else da.from_array(g, chunks=chunk)]


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
@pytest.mark.parametrize("family,link", list(SM_FAMILY))
def test_biasreducedglm_ml_equals_statsmodels(data, family, link, cov_type):
    """Canonical and non-canonical links (gamma log, probit: the observed information
    is the bread); clusters spanning all 8 blocks."""
    X, y, g = data["X"], data[family], data["g"]
    params, bse = _statsmodels_bse(X, y, family, link, cov_type, g)
    Xd, yd, gd = _dask(X, y, g if cov_type == "cluster" else None)
    m = BiasReducedGLM(family, link, method="ML", cov_type=cov_type, tol=1e-12).fit(
        Xd, yd, groups=gd)
    np.testing.assert_allclose(m.params_, params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(m.bse_, bse, rtol=1e-8)
    assert m.cov_type_ == cov_type
    if cov_type == "cluster":
        assert m.n_groups_ == 50


@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_every_unpenalised_estimator_equals_statsmodels(data, cov_type):
    X, g = data["X"], data["g"]
    gd = g if cov_type == "cluster" else None
    cases = [
        (DLSARegressor("poisson", refine_steps=6, cov_type=cov_type), "poisson"),
        (PenalizedGLM("poisson", cov_type=cov_type, tol=1e-12), "poisson"),
        (DLSALogisticRegression(refine_steps=6, cov_type=cov_type), "binomial"),
        (PenalizedLogisticRegression(cov_type=cov_type, tol=1e-12), "binomial"),
        (DLSARegressor("gamma", "log", refine_steps=6, cov_type=cov_type), "gamma"),
    ]
    for est, family in cases:
        link = "log" if family == "gamma" else None
        params, bse = _statsmodels_bse(X, data[family], family, link, cov_type, g)
        Xd, yd, gdd = _dask(X, data[family], gd)
        m = est.fit(Xd, yd, groups=gdd)
        np.testing.assert_allclose(m.params_, params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(m.bse_, bse, rtol=1e-8, err_msg=type(est).__name__)


def test_no_pass_of_its_own(data):
    """The sandwich rides on the pass at the estimate: n_rounds_ is unchanged."""
    X, y, g = data["X"], data["poisson"], data["g"]
    for est in (BiasReducedGLM("poisson", method="ML"), DLSARegressor("poisson"),
                PenalizedGLM("poisson")):
        Xd, yd, gd = _dask(X, y, g)
        base = est.fit(Xd, yd).n_rounds_
        robust = est.set_params(cov_type="cluster").fit(Xd, yd, groups=gd).n_rounds_
        assert robust == base, type(est).__name__


def test_invariant_to_blocks_and_their_order(data):
    X, y, g = data["X"], data["poisson"], data["g"]
    ref = BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(
        X, y, groups=g).bse_
    order = np.random.default_rng(1).permutation(N)
    for chunk, idx in ((N, np.arange(N)), (97, np.arange(N)), (250, order)):
        Xd, yd, gd = _dask(X[idx], y[idx], g[idx], chunk=chunk)
        m = BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(Xd, yd, groups=gd)
        np.testing.assert_allclose(m.bse_, ref, rtol=1e-10)


def test_cluster_sums_add_by_key_in_any_order():
    rng = np.random.default_rng(3)
    ids, s = rng.integers(0, 30, 400), rng.normal(size=(400, 3))
    parts = [ClusterSums.of_rows(ids[a:a + 50], s[a:a + 50]) for a in range(0, 400, 50)]
    one = ClusterSums.of_rows(ids, s)
    for perm in (range(8), reversed(range(8))):
        total = None
        for i in perm:
            total = parts[i] if total is None else total + parts[i]
        np.testing.assert_array_equal(total.keys, one.keys)
        np.testing.assert_allclose(total.sums, one.sums, rtol=1e-12, atol=1e-12)
    assert one.n_clusters == len(np.unique(ids))


def _ships():
    root = importlib.resources.files("statsmodels.discrete.tests")
    frame = pd.read_csv(root / "results" / "ships.csv").dropna()
    from statsmodels.discrete.tests.results import results_count_robust_cluster as st
    return frame, st


@pytest.mark.parametrize("exposure", [False, True])
def test_stata_poisson_robust_and_cluster_on_ships(exposure):
    """Stata: ``poisson accident yr_con op_75_79 [, exposure(service)] vce(robust)`` and
    ``vce(cluster ship)`` (intercept last in Stata's table)."""
    ships, st = _ships()
    X = ships[["yr_con", "op_75_79"]].to_numpy(float)
    y = ships["accident"].to_numpy(float)
    off = np.log(ships["service"].to_numpy(float)) if exposure else None
    n, k = X.shape[0], 3
    for cov_type, res, stata_factor in (
            ("HC0", st.results_poisson_exposure_hc1 if exposure else st.results_poisson_hc1,
             n / (n - 1)),
            ("cluster", st.results_poisson_exposure_clu if exposure else
             st.results_poisson_clu, (n - k) / (n - 1))):
        m = BiasReducedGLM("poisson", method="ML", cov_type=cov_type, n_partitions=3).fit(
            X, y, offset=off, groups=ships["ship"].to_numpy() if cov_type == "cluster"
            else None)
        stata = np.r_[res.params[-1], res.params[:-1]]
        stata_bse = np.r_[res.bse[-1], res.bse[:-1]]
        np.testing.assert_allclose(m.params_, stata, rtol=1e-8)
        np.testing.assert_allclose(m.bse_ * np.sqrt(stata_factor), stata_bse, rtol=1e-9)


def test_string_ids_as_a_column_through_a_formula_with_dropped_rows(data):
    """groups named as a column of a dask frame; a row whose id is missing is dropped
    with missing="drop" (as any missing value the model reads)."""
    X, y, g = data["X"], data["poisson"], data["g"]
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        y=y, firm=[f"firm-{i}" for i in g])
    frame.loc[[5, 700], "firm"] = None
    ddf = dd.from_pandas(frame, npartitions=5)
    m = BiasReducedGLM("poisson", method="ML", formula="y ~ a + b + c", cov_type="cluster",
                       missing="drop").fit(ddf, groups="firm")
    keep = frame["firm"].notna().to_numpy()
    params, bse = _statsmodels_bse(X[keep], y[keep], "poisson", None, "cluster", g[keep])
    np.testing.assert_allclose(m.bse_, bse, rtol=1e-8)
    assert m.n_obs_ == N - 2
    table = m.summary()
    assert table.attrs["header"]["Covariance type"] == "cluster (50 groups)"
    np.testing.assert_allclose(table["std_err"].to_numpy(), bse, rtol=1e-8)
    ci = m.conf_int()
    np.testing.assert_allclose(ci["upper"] - ci["lower"], 2 * 1.959963984540054 * bse,
                               rtol=1e-8)
    wald = m.wald_test(np.eye(4)[1:2])
    np.testing.assert_allclose(wald["statistic"], (m.params_[1] / bse[1]) ** 2, rtol=1e-7)


def test_a_dask_series_of_ids_from_the_same_frame(data):
    X, y, g = data["X"], data["binomial"], data["g"]
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y, g=g),
                           npartitions=4)
    m = DLSALogisticRegression(refine_steps=6, cov_type="cluster").fit(
        frame[["a", "b", "c"]], frame["y"], groups=frame["g"])
    _, bse = _statsmodels_bse(X, y, "binomial", None, "cluster", g)
    np.testing.assert_allclose(m.bse_, bse, rtol=1e-8)


def test_bad_input_is_refused_before_any_pass(data):
    X, y, g = data["X"], data["poisson"], data["g"]
    with pytest.raises(ValueError, match="needs the rows' cluster ids"):
        BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(X, y)
    with pytest.raises(ValueError, match="only used by cov_type='cluster'"):
        BiasReducedGLM("poisson", method="ML").fit(X, y, groups=g)
    with pytest.raises(ValueError, match="method='mBR'"):
        BiasReducedGLM("poisson", cov_type="HC1").fit(X, y)
    with pytest.raises(ValueError, match="alpha=0.1"):
        PenalizedGLM("poisson", alpha=0.1, cov_type="HC0").fit(X, y)
    with pytest.raises(ValueError, match="adaptive_lasso"):
        DLSARegressor("poisson", penalty="adaptive_lasso", cov_type="HC0").fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(X, y, groups=g[:-1])
    bad = g.astype(float)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="1 missing cluster id"):
        BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(X, y, groups=bad)
    Xd, yd, gd = _dask(X, y, bad)
    with pytest.raises(ValueError, match="row block 0"):  # dask ids: found by the blocks
        BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(Xd, yd, groups=gd)


def test_flagged_parameters_are_left_out(data):
    """Separated data (ML): the infinite parameter has no robust standard error either;
    the others' sandwich is over the identified parameters."""
    X, g = data["X"].copy(), data["g"]
    y = data["binomial"].copy()
    X[:, 2] = np.where(y > 0, 1.0, 0.0) * np.abs(X[:, 2])  # x2 > 0 only where y = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = BiasReducedGLM(method="ML", cov_type="cluster").fit(X, y, groups=g)
    assert "x2" in m.param_flags_
    assert np.isnan(m.bse_[3]) and np.all(np.isfinite(m.bse_[:3]))


def test_prior_weights_are_statsmodels_var_weights_and_binomial_trials(data):
    """sample_weight (R's prior weights) = statsmodels' var_weights in the scores; a
    binomial proportion with trials = statsmodels' (successes, failures) response."""
    X, g = data["X"], data["g"]
    rng = np.random.default_rng(11)
    w = rng.integers(1, 5, N).astype(float)
    y = data["poisson"]
    for cov_type in ("HC0", "cluster"):
        m = BiasReducedGLM("poisson", method="ML", cov_type=cov_type).fit(
            X, y, sample_weight=w, groups=g if cov_type == "cluster" else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(),
                         var_weights=w).fit(
                cov_type=cov_type, cov_kwds={"groups": g} if cov_type == "cluster" else {})
        np.testing.assert_allclose(m.bse_, res.bse, rtol=1e-9)
    trials = rng.integers(1, 10, N).astype(float)
    p = 1 / (1 + np.exp(-(X @ [0.5, -0.3, 0.2])))
    prop = rng.binomial(trials.astype(int), p) / trials
    m = BiasReducedGLM("binomial", method="ML", cov_type="cluster").fit(
        X, prop, sample_weight=trials, groups=g)
    res = sm.GLM(np.c_[prop * trials, trials - prop * trials], sm.add_constant(X),
                 family=sm.families.Binomial()).fit(cov_type="cluster", cov_kwds={"groups": g})
    np.testing.assert_allclose(m.bse_, res.bse, rtol=1e-9)


def test_negative_binomial_with_estimated_alpha_and_tweedie(data):
    """The sandwich at the estimated NB alpha equals statsmodels' GLM at that alpha; a
    Tweedie fit's (the dispersion cancels) equals statsmodels' Tweedie GLM."""
    from dask_glmdist import get_family

    X, g = data["X"], data["g"]
    rng = np.random.default_rng(5)
    mu = np.exp(0.5 + X @ [0.3, -0.2, 0.1])
    y = rng.negative_binomial(1 / 0.7, 1 / (1 + 0.7 * mu)).astype(float)
    m = BiasReducedGLM("negative_binomial", method="ML", cov_type="cluster", tol=1e-12).fit(
        X, y, groups=g)
    res = sm.GLM(y, sm.add_constant(X), family=sm.families.NegativeBinomial(
        alpha=m.nb_alpha_)).fit(cov_type="cluster", cov_kwds={"groups": g}, tol=1e-12)
    np.testing.assert_allclose(m.bse_, res.bse, rtol=1e-7)
    yt = data["gamma"] * (rng.random(N) < 0.7)   # zeros and a continuous part
    m = PenalizedGLM(get_family("tweedie", power=1.5), cov_type="HC0", tol=1e-12).fit(X, yt)
    res = sm.GLM(yt, sm.add_constant(X), family=sm.families.Tweedie(
        var_power=1.5, link=sm.families.links.Log())).fit(cov_type="HC0", tol=1e-12)
    np.testing.assert_allclose(m.bse_, res.bse, rtol=1e-7)


def test_hc1_and_cluster_equal_glum(data):
    """glum's ``covariance_matrix`` (robust: White's HC1; clusters: G/(G-1)(n-1)/(n-k)):
    a second, independent oracle with our HC1 convention."""
    glum = pytest.importorskip("glum")
    X, y, g = data["X"], data["poisson"], data["g"]
    ref = glum.GeneralizedLinearRegressor(family="poisson", alpha=0,
                                          gradient_tol=1e-12).fit(X, y)
    for cov_type, kw in (("HC1", {"robust": True}), ("cluster", {"clusters": g})):
        m = BiasReducedGLM("poisson", method="ML", cov_type=cov_type, tol=1e-12).fit(
            X, y, groups=g if cov_type == "cluster" else None)
        bse = np.sqrt(np.diag(ref.covariance_matrix(X, y, **kw)))
        np.testing.assert_allclose(m.bse_, bse, rtol=1e-7)


def test_string_labels_of_dask_classifiers(data):
    """Labels coded in the blocks (the positive class found in the first pass) are coded
    in the sandwich pass too."""
    X, g = data["X"], data["g"]
    labels = np.where(data["binomial"] > 0, "yes", "no")
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=labels, g=g),
                           npartitions=4)
    _, bse = _statsmodels_bse(X, data["binomial"], "binomial", None, "cluster", g)
    for est in (DLSALogisticRegression(refine_steps=6, cov_type="cluster"),
                PenalizedLogisticRegression(cov_type="cluster", tol=1e-12)):
        m = est.fit(frame[["a", "b", "c"]], frame["y"], groups=frame["g"])
        np.testing.assert_allclose(m.bse_, bse, rtol=1e-8, err_msg=type(est).__name__)


def test_missing_ids_of_a_frame_column_stop_the_first_pass(data):
    """A dask Series of ids with a missing one (no formula): the error names the block
    when the block is first read, not after the fit."""
    X, y, g = data["X"], data["poisson"], data["g"].astype(float)
    g[1500] = np.nan
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y, g=g),
                           npartitions=4)
    model = BiasReducedGLM("poisson", method="ML", cov_type="cluster")
    with pytest.raises(ValueError, match="1 missing cluster id.*row block 3"):
        model.fit(frame[["a", "b", "c"]], frame["y"], groups=frame["g"])
    assert not hasattr(model, "n_iter_")


def test_too_few_clusters_are_refused_and_few_are_warned(data):
    """Two clusters for three parameters: the meat has rank 1, so some combinations
    would get a zero standard error -- NaN with a warning, not a small number; ten
    clusters: the statsmodels numbers, with a warning that they are biased downward."""
    X, y = data["X"][:, :2], data["poisson"]
    with pytest.warns(RuntimeWarning, match="rank at most 1 < 3"):
        m = BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(
            X, y, groups=np.arange(N) % 2)
    assert np.all(np.isnan(m.bse_)) and np.all(np.isfinite(m.params_))
    g = np.arange(N) % 10
    with pytest.warns(RuntimeWarning, match="only 10 clusters"):
        m = BiasReducedGLM("poisson", method="ML", cov_type="cluster").fit(X, y, groups=g)
    _, bse = _statsmodels_bse(X, y, "poisson", None, "cluster", g)
    np.testing.assert_allclose(m.bse_, bse, rtol=1e-8)


def test_ids_that_cannot_be_ordered_are_refused(data):
    X, y = data["X"], data["poisson"]
    mixed = np.array([1, "a"] * (N // 2), dtype=object)
    model = BiasReducedGLM("poisson", method="ML", cov_type="cluster")
    with pytest.raises(TypeError, match="cluster ids cannot be ordered"):
        model.fit(X, y, groups=mixed)
    Xd, yd, _ = _dask(X, y)
    with pytest.raises(TypeError, match="cluster ids in row block 0 cannot be ordered"):
        model.fit(Xd, yd, groups=da.from_array(mixed, chunks=250))
