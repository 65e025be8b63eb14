"""Fault tolerance and errors on a real multi-process ``distributed.LocalCluster``.

A worker killed mid-fit costs nothing when the data can be read again (zarr): the
scheduler recomputes what was lost and the fit is identical. Data that exist only on
the dead worker (``client.scatter``) give an error that says so. An exception raised
inside a block function names its block also after crossing process boundaries.
"""

import os

import dask
import dask.array as da
import numpy as np
import pytest

from dask_glmdist import BiasReducedGLM, DLSARegressor
from dask_glmdist import _blocks as blocks_module
from dask_glmdist._blocks import as_blocked, map_reduce

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def two_workers(client):
    """The module's client with both workers up (a test before may have killed one)."""
    client.wait_for_workers(2, timeout=60)
    yield client


def _kill(client, address):
    """End a worker process abruptly (its nanny starts a fresh, empty one)."""
    try:
        client.run(os._exit, 1, workers=[address], on_error="ignore")
    except (OSError, distributed.comm.CommClosedError):  # the worker died before replying
        pass


def _holder(client, collection):
    """The address of a worker holding one of the collection's persisted blocks."""
    who = client.who_has(collection)
    return next(iter(addr for addrs in who.values() for addr in addrs))


def fails_on_block_2(X, y, w, *, block_index):
    if block_index == 2:
        raise ZeroDivisionError("boom")
    return {"n": X.shape[0]}


def test_an_error_inside_a_block_names_the_block_across_processes(two_workers):
    rng = np.random.default_rng(0)
    data = as_blocked(rng.normal(size=(40, 2)), rng.normal(size=40), n_partitions=4)
    with pytest.raises(ZeroDivisionError, match="boom") as info:
        map_reduce(fails_on_block_2, data)
    assert "raised in row block 2 by fails_on_block_2" in "".join(info.value.__notes__)


def test_worker_killed_mid_fit_on_zarr_data_changes_nothing(two_workers, tmp_path,
                                                             monkeypatch):
    """Persisted zarr blocks lost with a worker are read again; the fit is the same (to
    rounding: a round adds the blocks each worker holds first, so two loads that place
    the blocks differently add in another order)."""
    client = two_workers
    rng = np.random.default_rng(11)
    n, p = 8000, 4
    X = rng.normal(size=(n, p))
    X[:, 3] = (rng.random(n) < 0.01)  # a rare dummy: mBR takes several rounds
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.0 + X @ [0.8, -0.5, 0.3, 2.0])))).astype(float)
    da.to_zarr(da.from_array(X, chunks=(1000, p)), str(tmp_path / "X.zarr"))
    da.to_zarr(da.from_array(y, chunks=1000), str(tmp_path / "y.zarr"))

    def load():
        return client.persist([da.from_zarr(str(tmp_path / "X.zarr")),
                               da.from_zarr(str(tmp_path / "y.zarr"))])

    Xd, yd = load()
    ref = BiasReducedGLM(method="mBR").fit(Xd, yd)
    assert ref.n_iter_ >= 4

    Xd, yd = load()
    victim = _holder(client, Xd)
    original, rounds = blocks_module._compute, []

    def compute_and_kill_in_round_3(schedule, dsk, key, counter):
        rounds.append(1)
        if len(rounds) != 3:
            return original(schedule, dsk, key, counter)
        futures = client.get(dsk, [key], sync=False)  # under way when the worker dies
        _kill(client, victim)
        return client.gather(futures)[0]

    monkeypatch.setattr(blocks_module, "_compute", compute_and_kill_in_round_3)
    got = BiasReducedGLM(method="mBR").fit(Xd, yd)
    assert len(rounds) > 3 and victim not in client.scheduler_info()["workers"]
    np.testing.assert_allclose(got.params_, ref.params_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.cov_params_, ref.cov_params_, rtol=1e-12, atol=1e-16)
    assert got.n_iter_ == ref.n_iter_


def test_scattered_data_lost_with_a_worker_is_a_clear_error(two_workers):
    client = two_workers
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 2))
    y = X @ [1.0, -1.0] + rng.normal(size=400)
    xs = client.scatter([X[i:i + 100] for i in range(0, 400, 100)])
    ys = client.scatter([y[i:i + 100] for i in range(0, 400, 100)])
    Xd = da.concatenate([da.from_delayed(f, shape=(100, 2), dtype=float) for f in xs])
    yd = da.concatenate([da.from_delayed(f, shape=(100,), dtype=float) for f in ys])
    DLSARegressor().fit(Xd, yd)  # works while the data live
    _kill(client, _holder(client, xs))
    with pytest.raises(RuntimeError, match="lost with a worker .* cannot be recomputed") as info:
        DLSARegressor().fit(Xd, yd)
    assert "client.scatter" in str(info.value)
    assert isinstance(info.value.__cause__, distributed.client.FutureCancelledError)
    with pytest.raises(RuntimeError, match="lost with a worker"):  # score says the same
        DLSARegressor().fit(X, y).score(Xd, yd)


def test_lost_data_message_only_for_lost_data():
    """Other errors pass through unchanged."""
    with pytest.raises(KeyError), blocks_module.explain_lost_data():
        raise KeyError("x")
    cancelled = distributed.client.FutureCancelledError("k", "cancelled by the user")
    with pytest.raises(distributed.client.FutureCancelledError), \
            blocks_module.explain_lost_data():
        raise cancelled
    with dask.config.set(scheduler="sync"):  # no client: nothing to explain
        assert blocks_module.compute_reduced(da.ones(3).sum()) == (3.0,)


def test_persisted_blocks_run_as_one_task_per_worker_thread(two_workers):
    """On a cluster a round is one task per worker thread over the blocks it holds (no
    data move); the fit equals the threaded scheduler's."""
    from dask_glmdist.block_graph import BlockGraph

    client = two_workers
    rng = np.random.default_rng(11)
    X = rng.normal(size=(4000, 3))
    y = (rng.random(4000) < 1 / (1 + np.exp(-X @ [0.5, -0.5, 0.2]))).astype(float)
    Xd, yd = da.from_array(X, chunks=(200, -1)), da.from_array(y, chunks=200)
    with dask.config.set(scheduler="threads"):
        ref = BiasReducedGLM(method="mBR").fit(*dask.persist(Xd, yd))
    Xc, yc = client.persist([Xd, yd])
    distributed.wait([Xc, yc])
    graph = BlockGraph(as_blocked(Xc, yc), client)
    groups = graph.groups()
    holders = {b.where for b in graph.blocks}
    assert len(groups) == len(holders) == 2
    assert all(len({b.where for b in g}) == 1 for g in groups)
    got = BiasReducedGLM(method="mBR").fit(Xc, yc)
    np.testing.assert_allclose(got.params_, ref.params_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.bse_, ref.bse_, rtol=1e-12)


def test_predictions_on_a_frame_written_back_across_processes(two_workers, tmp_path):
    """Predictions on a dask DataFrame (map_partitions with the fitted design, pickled to
    the workers) assigned back to a filtered frame and written out by the workers."""
    import dask.dataframe as dd
    import pandas as pd

    rng = np.random.default_rng(1)
    pdf = pd.DataFrame({"g": rng.choice(list("abc"), 400), "x": rng.normal(size=400)})
    pdf["y"] = 0.5 * pdf.x + (pdf.g == "b") + rng.normal(size=400)
    pdf.loc[[3, 50], "x"] = np.nan
    est = DLSARegressor(formula="y ~ x + C(g)", missing="drop").fit(pdf)
    df = dd.from_pandas(pdf, npartitions=4)
    sub = df[df.x.isna() | (df.x > -1)]
    sub.assign(p=est.predict(sub))[["g", "p"]].to_parquet(str(tmp_path / "p"))
    back = dd.read_parquet(str(tmp_path / "p")).compute()
    keep = pdf.x.isna() | (pdf.x > -1)
    np.testing.assert_allclose(back.p.to_numpy(), est.predict(pdf[keep]), rtol=1e-12)
