"""Screening measures against their formulas written out by hand (naive loops over the
pairs and triples of rows), for one block and for K blocks (g of the blocks' averaged
components); Pearson against the correlation of all rows; invariances; dask input."""

import itertools

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from dask_glmdist import screen
from dask_glmdist.screening_measures import ranked_pair_sum

# --------------------------------------------------------------------------------------
# the paper's components, by hand
# --------------------------------------------------------------------------------------


def hand_kendall(x, y):
    n = len(x)
    s = sum(np.sign(x[i] - x[k]) * np.sign(y[i] - y[k])
            for i in range(n) for k in range(i + 1, n))
    return {"tau": s / (n * (n - 1) / 2)}


def hand_dc(x, y):
    """nu_1 ... nu_8 of the paper (section 4.2) as U-statistics over distinct rows."""
    n = len(x)
    a, b = np.abs(x[:, None] - x[None]), np.abs(y[:, None] - y[None])
    pairs, triples = n * (n - 1), n * (n - 1) * (n - 2)
    s4 = s6 = s8 = 0.0
    for i, k, m in itertools.permutations(range(n), 3):
        s4 += b[i, k] * a[i, m]
        s6 += b[i, k] * b[i, m]
        s8 += a[i, k] * a[i, m]
    return {"nu1": (a * b).sum() / pairs, "nu2": b.sum() / pairs, "nu3": a.sum() / pairs,
            "nu4": s4 / triples, "nu5": (b * b).sum() / pairs, "nu6": s6 / triples,
            "nu7": (a * a).sum() / pairs, "nu8": s8 / triples}


def g_dc(nu):
    cov = nu["nu1"] + nu["nu2"] * nu["nu3"] - 2 * nu["nu4"]
    return cov / np.sqrt((nu["nu5"] + nu["nu2"] ** 2 - 2 * nu["nu6"])
                         * (nu["nu7"] + nu["nu3"] ** 2 - 2 * nu["nu8"]))


def hand_sirs_num(x, y, mu):
    """E[(x_i - mu)(x_m - mu) 1(y_i < y_l) 1(y_m < y_l)] over distinct (i, m, l) (l is k below)."""
    n = len(x)
    s = sum((x[i] - mu) * (x[m] - mu) * (y[i] < y[k]) * (y[m] < y[k])
            for i, m, k in itertools.permutations(range(n), 3))
    return s / (n * (n - 1) * (n - 2))


def hand_scores(X, y, sizes, method):
    """g of the components averaged over the blocks (weights n_k / N), by hand."""
    edges = np.concatenate([[0], np.cumsum(sizes)])
    blocks = [(X[a:b], y[a:b]) for a, b in itertools.pairwise(edges)]
    w = np.asarray(sizes) / sum(sizes)
    out = []
    for j in range(X.shape[1]):
        if method == "kendall":
            out.append(abs(sum(wk * hand_kendall(xb[:, j], yb)["tau"]
                               for wk, (xb, yb) in zip(w, blocks, strict=True))))
        elif method == "dc":
            parts = [hand_dc(xb[:, j], yb) for xb, yb in blocks]
            out.append(g_dc({k: sum(wk * p[k] for wk, p in zip(w, parts, strict=True))
                             for k in parts[0]}))
        else:  # x centred within each block, the pooled within-block variance
            var = sum(((xb[:, j] - xb[:, j].mean()) ** 2).sum() for xb, _ in blocks) / len(y)
            out.append(sum(wk * hand_sirs_num(xb[:, j], yb, xb[:, j].mean())
                           for wk, (xb, yb) in zip(w, blocks, strict=True)) / var)
    return np.asarray(out)


def blocks_of(X, y, sizes):
    return (da.from_array(X, chunks=(tuple(sizes), X.shape[1])),
            da.from_array(y, chunks=(tuple(sizes),)))


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    n = 22
    X = rng.normal(size=(n, 4))
    X[:, 2] = np.round(X[:, 2])  # ties in x
    y = X[:, 0] - X[:, 1] ** 2 + rng.normal(size=n)
    y[::5] = np.round(y[::5])
    y[[1, 3]] = y[0]  # ties in y
    return X, y


# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["kendall", "sirs", "dc"])
@pytest.mark.parametrize("sizes", [(22,), (7, 8, 7), (5, 12, 5)])
def test_measure_equals_hand_formula(small, method, sizes):
    X, y = small
    Xd, yd = blocks_of(X, y, sizes)
    got = screen(Xd, yd, method=method)
    np.testing.assert_allclose(got, hand_scores(X, y, sizes, method), rtol=1e-10, atol=1e-13)


def test_kendall_one_block_equals_scipy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = X[:, 0] + rng.normal(size=60)
    ref = [abs(scipy.stats.kendalltau(X[:, j], y).statistic) for j in range(5)]
    np.testing.assert_allclose(screen(X, y, method="kendall", n_partitions=1), ref, rtol=1e-12)


def test_dc_close_to_the_v_statistic_for_large_n():
    """The U-statistic components approach the V-statistic dCor^2 (double-centred
    distance matrices, Szekely et al. 2007) as n grows."""
    rng = np.random.default_rng(1)
    n = 400
    X = rng.normal(size=(n, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.3 * rng.normal(size=n)

    def centred(v):
        d = np.abs(v[:, None] - v[None])
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()

    B = centred(y)
    ref = [(centred(X[:, j]) * B).mean() / np.sqrt((centred(X[:, j]) ** 2).mean()
                                                   * (B * B).mean()) for j in range(3)]
    got = screen(X, y, method="dc", n_partitions=1)
    np.testing.assert_allclose(got, ref, atol=0.01)
    assert got[2] < 0.02 < got[1]


@pytest.mark.parametrize("sizes", [(1000,), (300, 300, 400), (1, 2, 997), (125,) * 8])
def test_pearson_is_the_global_correlation(sizes):
    rng = np.random.default_rng(2)
    X = 1e3 + rng.normal(size=(1000, 6)) * [1, 10, 0.1, 1, 1, 5]
    y = 50 + X[:, 0] - X[:, 3] + rng.normal(size=1000)
    ref = np.abs(np.corrcoef(X, y, rowvar=False)[-1, :-1])
    got = screen(*blocks_of(X, y, sizes), method="pearson")
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", ["pearson", "kendall", "sirs", "dc"])
def test_invariant_to_block_order(method):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 5)) + np.repeat(np.arange(3), 100)[:, None]
    y = X[:, 0] * X[:, 1] + rng.normal(size=300)
    parts = [slice(0, 100), slice(100, 220), slice(220, 300)]
    fwd = da.concatenate([da.from_array(X[s]) for s in parts])
    rev = da.concatenate([da.from_array(X[s]) for s in parts[::-1]])
    yf = da.concatenate([da.from_array(y[s]) for s in parts])
    yr = da.concatenate([da.from_array(y[s]) for s in parts[::-1]])
    np.testing.assert_allclose(screen(fwd, yf, method=method), screen(rev, yr, method=method),
                               rtol=1e-12)


@pytest.mark.parametrize("method", ["pearson", "kendall", "sirs", "dc"])
def test_dask_dataframe_and_pandas_give_named_scores(method):
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.normal(size=(240, 4)), columns=["a", "b", "c", "d"])
    y = pd.Series(df["b"] - df["d"] + rng.normal(size=240), name="y")
    ref = screen(*blocks_of(df.to_numpy(), y.to_numpy(), (80, 80, 80)), method=method)
    ddf = dd.from_pandas(df, npartitions=3)
    dy = dd.from_pandas(y, npartitions=3)
    got = screen(ddf, dy, method=method)
    assert isinstance(got, pd.Series) and list(got.index) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(got.to_numpy(), ref, rtol=1e-12)
    mem = screen(df, y, method=method, n_partitions=3)
    np.testing.assert_allclose(mem.to_numpy(), ref, rtol=1e-12)


def test_ranked_pair_sum_against_loops():
    rng = np.random.default_rng(6)
    R = rng.integers(0, 9, size=(31, 4))
    x, z = rng.normal(size=(2, 31, 4))

    def terms(x, z):
        return [None, x, z], [z, None, x * z]

    ref = np.zeros(4)
    count = np.zeros(4)
    for i in range(31):
        for k in range(i):
            m = R[k] < R[i]
            ref += m * (z[i] + x[k] + x[i] * z[i] * z[k])
            count += m
    np.testing.assert_allclose(ranked_pair_sum(R, (x, z), terms), ref, rtol=1e-12)
    np.testing.assert_array_equal(ranked_pair_sum(R), count)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------


def test_constant_feature_is_nan_with_warning():
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["u", "const", "v"])
    X["const"] = 2.0
    y = X["u"] + rng.normal(size=100)
    for method in ("pearson", "kendall", "sirs", "dc"):
        with pytest.warns(UserWarning, match=r"constant feature\(s\) \[const\]"):
            s = screen(X, y, method=method, n_partitions=2)
        assert np.isnan(s["const"]) and np.isfinite(s[["u", "v"]]).all()


def test_constant_y_raises():
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="y is constant"):
        screen(X, np.ones(50), method="kendall")


@pytest.mark.parametrize("method,rows", [("kendall", 1), ("sirs", 2), ("dc", 2)])
def test_too_small_block_is_named(method, rows):
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    Xd, yd = blocks_of(X, y, (20, rows, 20 - rows))
    with pytest.raises(ValueError, match=r"fewer than \d rows in a block.*row blocks \[1\]"):
        screen(Xd, yd, method=method)
    screen(Xd, yd, method="pearson")  # moments only: any block size


def test_missing_values_are_refused():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    X[45, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        screen(X, y)
    Xd, yd = blocks_of(X, y, (20, 20, 20))
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[2\]\)"):
        screen(Xd, yd, method="dc")


def test_bad_method_and_missing_y():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="method must be one of"):
        screen(X, np.arange(5.0), method="spearman")
    with pytest.raises(ValueError, match="requires y to be passed"):
        screen(X, None)


@pytest.mark.parametrize("method", ["kendall", "sirs", "dc"])
def test_a_feature_that_only_shifts_between_blocks_is_not_scored_as_dependent(method):
    """Rows in blocks by month: a month column is constant within every block. The
    within-block measures cannot screen it (NaN with a warning naming it), where SIRS
    centred at the global mean scored its shift as the strongest dependence; Pearson,
    the pooled correlation, scores it exactly."""
    rng = np.random.default_rng(5)
    sizes = [60, 60, 60]
    month = np.repeat([1.0, 2.0, 3.0], 60)
    x = rng.normal(size=180)
    y = x + rng.normal(size=180)
    X = np.c_[x, month, rng.normal(size=180)]
    Xd, yd = blocks_of(X, y, sizes)
    with pytest.warns(UserWarning, match=r"\[1\] are constant within every row block"):
        scores = screen(Xd, yd, method=method)
    assert np.isnan(scores[1]) and scores[0] > scores[2]
    pearson = screen(Xd, yd, method="pearson")
    assert pearson[1] == pytest.approx(abs(np.corrcoef(month, y)[0, 1]), rel=1e-12)


@pytest.mark.parametrize("method", ["pearson", "kendall", "sirs", "dc"])
def test_blocks_of_another_array_namespace_are_screened_on_the_host(method):
    """CuPy blocks (array_api_strict here) are copied to the host in the task."""
    xps = pytest.importorskip("array_api_strict")
    from dask_glmdist.screening import screening_block

    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    a = screening_block(X, y, None, block_index=0, method=method)
    b = screening_block(xps.asarray(X), xps.asarray(y), None, block_index=0, method=method)
    assert not b.problems
    for key, value in a.records[0]["parts"].items():
        np.testing.assert_array_equal(value, b.records[0]["parts"][key])
