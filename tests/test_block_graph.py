"""The blocks' graph built once per fit, block groups and slabs (dask_glmdist.block_graph)."""

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dask_glmdist import BiasReducedGLM, PenalizedGLM, PenalizedLogisticRegression
from dask_glmdist import block_graph as bg
from dask_glmdist._blocks import as_blocked, map_reduce, run_round, sum_summaries
from dask_glmdist.block_graph import SLAB_ROWS, BlockGraph, additive


def _logistic(rng, n=6000, p=4):
    X = rng.normal(size=(n, p))
    eta = X @ np.linspace(-0.5, 0.5, p) - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def _dask(X, y, rows):
    return da.from_array(X, chunks=(rows, -1)).persist(), da.from_array(y, chunks=rows).persist()


@additive
def _rows_seen(X, y, w, *, block_index):
    return {"n": X.shape[0], "calls": [X.shape[0]], "first": [block_index],
            "xty": X.T @ y}


def test_small_blocks_are_grouped_up_to_the_target_and_large_ones_stay_alone(rng):
    X, y = rng.normal(size=(1000, 4)), rng.normal(size=1000)
    graph = BlockGraph(as_blocked(*_dask(X, y, 10)))  # 100 blocks of 320 bytes of X
    groups = graph.groups(target=3200)
    assert [len(g) for g in groups] == [10] * 10
    assert [b.index for g in groups for b in g] == list(range(100))
    assert [len(g) for g in graph.groups(target=0)] == [1] * 100
    big = BlockGraph(as_blocked(*_dask(X, y, 500)))
    assert [len(g) for g in big.groups(target=3200)] == [1, 1]


def test_a_round_is_a_few_tasks_whatever_the_number_of_blocks(rng):
    """Persisted blocks are in the round's tasks as they are: no task per block."""
    X, y = rng.normal(size=(4000, 3)), rng.normal(size=4000)
    sizes = {}
    for rows in (400, 40, 4):
        graph = BlockGraph(as_blocked(*_dask(X, y, rows)))
        dsk, key, groups = graph.round(_rows_seen, (), {}, combine=sum_summaries,
                                       split_every=8)
        sizes[rows] = len(dsk)
        assert graph.dsk == {}  # nothing of the data left to compute
    assert sizes[4] == sizes[400] <= 8


def test_additive_functions_see_slabs_and_sums_are_unchanged(rng):
    n = 3 * SLAB_ROWS + 17
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    s = map_reduce(_rows_seen, as_blocked(*_dask(X, y, n)))
    assert max(s["calls"]) == SLAB_ROWS and sum(s["calls"]) == n and s["first"] == [0] * 4
    np.testing.assert_allclose(s["xty"], X.T @ y, rtol=1e-12)
    small = map_reduce(_rows_seen, as_blocked(*_dask(X, y, 100)))  # 246 blocks stacked
    assert sum(small["calls"]) == n and len(small["calls"]) < 30
    np.testing.assert_allclose(small["xty"], X.T @ y, rtol=1e-12)


@pytest.mark.parametrize("target", [0, "64 KiB", "1 GiB"])
def test_fits_do_not_depend_on_the_grouping(rng, target):
    X, y = _logistic(rng)
    Xd, yd = _dask(X, y, 60)  # 100 blocks
    ref = {}
    with dask.config.set({"dask_glmdist.target-block-bytes": 0}):
        ref["ml"] = BiasReducedGLM(method="ML").fit(Xd, yd)
        ref["pen"] = PenalizedGLM(family="binomial", alpha=0.01, l1_ratio=0.5).fit(Xd, yd)
    with dask.config.set({"dask_glmdist.target-block-bytes": target}):
        ml = BiasReducedGLM(method="ML").fit(Xd, yd)
        pen = PenalizedGLM(family="binomial", alpha=0.01, l1_ratio=0.5).fit(Xd, yd)
    np.testing.assert_allclose(ml.params_, ref["ml"].params_, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ml.bse_, ref["ml"].bse_, rtol=1e-12)
    np.testing.assert_allclose(ml.deviance_, ref["ml"].deviance_, rtol=1e-13)
    np.testing.assert_allclose(pen.params_, ref["pen"].params_, rtol=1e-10, atol=1e-12)
    assert (ml.n_rounds_, pen.n_rounds_) == (ref["ml"].n_rounds_, ref["pen"].n_rounds_)


def test_a_problem_in_a_stacked_group_names_its_block(rng):
    X, y = _logistic(rng)
    X[37 * 60 + 5, 2] = np.nan  # in row block 37 of 100, inside a group of small blocks
    Xd, yd = _dask(X, y, 60)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[37\]\)"):
        BiasReducedGLM(method="ML").fit(Xd, yd)


def test_the_graph_is_built_once_per_fit(rng, monkeypatch):
    X, y = _logistic(rng)
    built = []
    original = BlockGraph.__init__

    def counting(self, *args, **kwargs):
        built.append(True)
        original(self, *args, **kwargs)

    monkeypatch.setattr(BlockGraph, "__init__", counting)
    model = BiasReducedGLM(method="mBR").fit(*_dask(X, y, 600))
    assert model.n_rounds_ > 3 and sum(built) == 1


def test_unknown_block_sizes_are_learned_from_the_first_pass(rng):
    X, y = _logistic(rng, n=3000)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")).assign(y=y), npartitions=30)
    data = as_blocked(*[frame[list("abcd")].to_dask_array(), frame["y"].to_dask_array()])
    graph = BlockGraph(data)
    assert all(np.isnan(b.rows) for b in graph.blocks)
    assert [len(g) for g in graph.groups(target=800)] == [1] * 30
    run_round(graph, _rows_seen, (), {}, combine=sum_summaries, split_every=8, label="t",
              display=None)
    assert sum(b.rows for b in graph.blocks) == 3000
    assert len(graph.groups(target=3200 * 5)) == 6  # 100 rows x 4 columns x 8 bytes


def test_string_labels_of_a_dask_classifier_are_coded_in_the_blocks(rng):
    X, y = _logistic(rng, n=2000)
    labels = np.where(y > 0, "yes", "no").astype(object)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")).assign(y=labels),
                           npartitions=8)
    got = PenalizedLogisticRegression(alpha=0.01).fit(frame[list("abcd")], frame["y"])
    ref = PenalizedLogisticRegression(alpha=0.01).fit(X, y)
    assert list(got.classes_) == ["no", "yes"]
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-10)


def test_a_group_of_array_api_blocks_is_run_whole_and_labels_coded(rng):
    """Blocks of another array namespace (CuPy on a GPU; array_api_strict here) are
    neither cut nor stacked, and a classifier's labels are coded in their namespace."""
    xps = pytest.importorskip("array_api_strict")
    X, y = rng.normal(size=(300, 3)), (rng.random(300) < 0.5) * 2.0  # labels 0 / 2
    blocks = [(k, xps.asarray(X[a:a + 100]), xps.asarray(y[a:a + 100]), None, None, None, None)
              for k, a in enumerate(range(0, 300, 100))]
    out, rides, rows = bg.run_group(_rows_seen, blocks, (), {}, [], sum_summaries,
                                    positive=2.0)
    assert out["calls"] == [100, 100, 100] and rows == {0: 100, 1: 100, 2: 100}
    np.testing.assert_allclose(np.asarray(out["xty"]), X.T @ (y == 2.0), rtol=1e-12)


def test_empty_partitions_of_a_filtered_frame_are_skipped_by_every_pass(rng):
    """A filter that empties partitions: the final statistics riding on BiasReducedGLM's
    last pass saw the empty blocks' markers and failed (before issue 14)."""
    X, y = _logistic(rng, n=1200)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(y=y, keep=np.arange(1200) < 500)
    ddf = dd.from_pandas(frame, npartitions=6)
    ddf = ddf[ddf["keep"]]
    got = BiasReducedGLM(method="mBR").fit(ddf[list("abcd")], ddf["y"])
    ref = BiasReducedGLM(method="mBR").fit(X[:500], y[:500])
    np.testing.assert_allclose(got.params_, ref.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.deviance_, ref.deviance_, rtol=1e-10)
    assert got.n_obs_ == 500 and np.isfinite(got.loglik_)
