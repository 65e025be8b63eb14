from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pytest

from dask_glmdist._blocks import (
    BlockSummary,
    Problems,
    as_blocked,
    default_n_partitions,
    map_reduce,
    raise_for_problems,
    sum_summaries,
)


def _moments(X, y, w, *, block_index):
    return {"n": X.shape[0], "xtx": X.T @ X, "xty": X.T @ y, "blocks": [block_index]}


@pytest.mark.parametrize("split_every", [2, 3, 8])
@pytest.mark.parametrize("k", [1, 5, 17])
def test_tree_reduce_equals_global_sums(rng, k, split_every):
    X, y = rng.normal(size=(1000, 3)), rng.normal(size=1000)
    s = map_reduce(_moments, as_blocked(X, y, n_partitions=k), split_every=split_every)
    assert s["n"] == 1000
    assert sorted(s["blocks"]) == list(range(k))
    np.testing.assert_allclose(s["xtx"], X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(s["xty"], X.T @ y, rtol=1e-12)


def test_broadcast_arrays_are_one_graph_key(rng):
    X, y = rng.normal(size=(100, 2)), rng.normal(size=100)
    theta = rng.normal(size=2)

    def dot(X, y, w, theta, *, block_index):
        return {"s": float(np.sum(X @ theta))}

    s = map_reduce(dot, as_blocked(X, y, n_partitions=4), theta)
    np.testing.assert_allclose(s["s"], np.sum(X @ theta))


def test_sum_summaries_merges_problems_and_lists():
    a = {"n": 2, "problems": {"nonfinite_X": 1}, "blocks": [0]}
    b = {"n": 3, "v": np.ones(2), "blocks": [1]}
    c = {"n": 1, "v": np.ones(2), "problems": {"nonfinite_X": 1, "negative_weight": 1},
         "blocks": [2]}
    s = sum_summaries(a, b, c)
    assert s["n"] == 6 and s["blocks"] == [0, 1, 2]
    assert s["problems"] == {"nonfinite_X": 2, "negative_weight": 1}
    np.testing.assert_array_equal(s["v"], [2.0, 2.0])
    assert a["problems"] == {"nonfinite_X": 1}  # inputs are not mutated


def test_as_blocked_sizes_and_alignment(rng):
    X, y = rng.normal(size=(103, 2)), rng.normal(size=103)
    data = as_blocked(X, y, n_partitions=4)
    assert data.block_rows == (26, 26, 26, 25)
    assert data.y.chunks[0] == data.X.chunks[0]
    Xd = da.from_array(X, chunks=(50, 1))
    data = as_blocked(Xd.rechunk({1: -1}), da.from_array(y, chunks=10))
    assert data.y.chunks[0] == (50, 50, 3)


def test_default_partitions_never_make_tiny_blocks():
    assert default_n_partitions(30, 5) == 1
    assert default_n_partitions(10**7, 10) == max(1, dask.system.CPU_COUNT)


def test_problem_messages_name_blocks():
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[1, 4\]\)"):
        raise_for_problems({"nonfinite_X": 2}, {"nonfinite_X": [4, 1]})
    raise_for_problems({})  # nothing to report


def _blas_threads_and_view(X, y, w, base, *, block_index):
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return {"max_blas": [max(blas, default=1)], "views": int(np.shares_memory(X, base))}


def test_in_memory_blocks_are_views_and_blas_is_not_oversubscribed(rng):
    X, y = rng.normal(size=(400, 3)), rng.normal(size=400)
    data = as_blocked(X, y, n_partitions=4)
    s = map_reduce(_blas_threads_and_view, data, X)
    assert s["views"] == 4  # no copy of the user's array
    assert s["max_blas"] == [1, 1, 1, 1]  # threaded scheduler: one BLAS thread per block
    with dask.config.set(scheduler="sync"):  # one block at a time: BLAS keeps its threads
        s = map_reduce(_blas_threads_and_view, data, X)
    from threadpoolctl import threadpool_info

    own = max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"],
              default=1)
    assert s["max_blas"] == [own] * 4


def test_empty_blocks_are_skipped_and_all_empty_is_an_error(rng):
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    Xd = da.from_array(X, chunks=((30, 0, 30), (3,)))
    yd = da.from_array(y, chunks=((30, 0, 30),))
    s = map_reduce(_moments, as_blocked(Xd, yd))
    assert s["n"] == 60 and sorted(s["blocks"]) == [0, 2] and s["empty_blocks"] == [1]
    np.testing.assert_allclose(s["xtx"], X.T @ X, rtol=1e-12)
    empty = da.from_array(X[:0], chunks=(1, 3))
    with pytest.raises(ValueError, match="0 sample.*all 1 row block"):
        map_reduce(_moments, as_blocked(empty, da.from_array(y[:0])))


def test_an_error_inside_a_block_names_the_block(rng):
    def fails_on_block_2(X, y, w, *, block_index):
        if block_index == 2:
            raise ZeroDivisionError("boom")
        return {"n": X.shape[0]}

    data = as_blocked(rng.normal(size=(40, 2)), rng.normal(size=40), n_partitions=4)
    with pytest.raises(ZeroDivisionError, match="boom") as info:
        map_reduce(fails_on_block_2, data)
    assert "raised in row block 2 by fails_on_block_2" in "".join(info.value.__notes__)


def test_float32_dask_input_is_computed_in_float64(rng):
    from dask_glmdist._blocks import dask_design

    X32 = da.from_array(rng.normal(size=(50, 3)).astype(np.float32), chunks=(10, 3))
    Xd, _ = dask_design(X32)
    assert Xd.dtype == np.float64
    np.testing.assert_array_equal(Xd.compute(), X32.compute().astype(np.float64))


def test_problems_know_their_blocks_and_add_up():
    """One way to report a problem: counts and the row blocks, merged by the reduction."""
    from dask_glmdist._blocks import Problems, raise_for_problems

    a = {"n": 2, "problems": Problems.at(3, {"nonfinite_X": 1})}
    b = {"n": 1, "problems": Problems.at(0, {"nonfinite_X": 1, "negative_weight": 1})}
    c = {"n": 1, "problems": {"missing_rows": 4}}  # a design's report: counts only
    s = sum_summaries(a, b, c)
    assert s["problems"] == {"nonfinite_X": 2, "negative_weight": 1, "missing_rows": 4}
    assert s["problems"].blocks == {"nonfinite_X": [0, 3], "negative_weight": [0]}
    assert a["problems"].blocks == {"nonfinite_X": [3]}  # inputs are not mutated
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(row blocks \[0, 3\]\)"):
        raise_for_problems(sum_summaries(a, b)["problems"])


@dataclass
class _Moments(BlockSummary):
    n: int = 0
    xtx: np.ndarray | None = None
    blocks: list | None = None


def _typed_moments(X, y, w, *, block_index):
    if block_index == 3:
        return _Moments(n=X.shape[0], problems=Problems.at(3, {"nonfinite_X": 1}))
    return _Moments(n=X.shape[0], xtx=X.T @ X, blocks=[block_index])


def test_typed_summaries_add_skip_empty_blocks_and_merge_problems(rng):
    """A typed summary adds itself over the blocks; an empty block is skipped (its index
    kept), a block that only reports problems adds nothing else, and a design's report
    joins the problems."""
    X, y = rng.normal(size=(90, 3)), rng.normal(size=90)
    chunks = (30, 0, 30, 20, 10)
    data = as_blocked(da.from_array(X, chunks=(chunks, (3,))), da.from_array(y, chunks=(chunks,)))
    s = map_reduce(_typed_moments, data, split_every=2)
    assert isinstance(s, _Moments) and s.n == 90 and sorted(s.blocks) == [0, 2, 4]
    assert s.empty_blocks == [1] and dict(s.problems) == {"nonfinite_X": 1}
    assert s.problems.blocks == {"nonfinite_X": [3]}
    keep = np.r_[0:60, 80:90]
    np.testing.assert_allclose(s.xtx, X[keep].T @ X[keep], rtol=1e-12)
    assert sum([s, s]).n == 180
    reported = s + {"problems": {"missing_rows": 2}}
    assert dict(reported.problems) == {"nonfinite_X": 1, "missing_rows": 2} and s.n == 90
