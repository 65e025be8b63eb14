"""Riders on the round engine: the intercept-only model with an offset rides on the
fit's own rounds, so the null deviance costs no passes of its own."""

import dask.array as da
import numpy as np
import pytest
import statsmodels.api as sm

import dask_glmdist.fit_statistics as fit_statistics
from dask_glmdist import BiasReducedGLM, PenalizedGLM
from dask_glmdist._blocks import as_blocked
from dask_glmdist.families import get_family
from dask_glmdist.fit_statistics import NullIntercept
from dask_glmdist.rounds import RoundEngine


@pytest.fixture(scope="module")
def exposure_data():
    rng = np.random.default_rng(5)
    n = 4000
    X = rng.normal(size=(n, 3))
    off = np.log(rng.uniform(0.5, 5.0, size=n))
    y = rng.poisson(np.exp(0.3 + X @ [0.2, -0.1, 0.3] + off)).astype(float)
    return X, y, off


@pytest.mark.parametrize("make, passes", [
    (lambda: BiasReducedGLM(family="poisson"), []),
    (lambda: BiasReducedGLM(family="poisson", method="ML"), []),
    (lambda: PenalizedGLM(family="poisson"), ["model"])])
def test_offset_null_deviance_rides_on_the_fit(exposure_data, make, passes, monkeypatch):
    """R's null deviance with an offset (the intercept-only model refitted), from the
    statistics pass alone: the Newton steps rode on the fit's rounds (BiasReducedGLM:
    the statistics themselves rode on its last round, no pass of their own)."""
    X, y, off = exposure_data
    parts = []
    real = fit_statistics._run
    monkeypatch.setattr(fit_statistics, "_run",
                        lambda *a: parts.append(a[4]) or real(*a))
    est = make().fit(da.from_array(X, chunks=1000), da.from_array(y, chunks=1000),
                     offset=da.from_array(off, chunks=1000))
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(), offset=off).fit()
    np.testing.assert_allclose(est.null_deviance_, ref.null_deviance, rtol=1e-10)
    assert parts == passes


def test_a_rider_reads_the_blocks_of_every_round_until_done(exposure_data):
    """The rider's Newton steps, one per round, reach the intercept-only fit; a rider
    adds no round to the count and stops riding once converged."""
    X, y, off = exposure_data
    data = as_blocked(X, y, offset=off, n_partitions=4)
    engine = RoundEngine(data)
    rider = NullIntercept(get_family("poisson"))
    engine.ride(rider)
    for _ in range(12):
        engine.run(lambda X, y, w, *, block_index, offset=None: {"rows": X.shape[0]})
    assert engine.count == 12 and rider.done
    b0 = np.log(y.sum() / np.exp(off).sum())   # the log link's intercept-only MLE
    np.testing.assert_allclose(rider.start, b0, rtol=1e-10)
