"""CuPy blocks on a GPU: the fits equal the NumPy fits of the same rows.

Marked ``gpu`` and skipped where CuPy or a CUDA device is missing (so everywhere in the
ordinary CI). The GPU job of .github/workflows/ci.yml (a template for a self-hosted
runner with a GPU, see ci/README.md) installs ``cupy`` and runs ``pytest -m gpu``. Off a
GPU, the same code paths run on ``array_api_strict`` blocks (tests/test_block_graph.py,
tests/test_cox_inputs.py, tests/test_brglm_invariance.py).
"""

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install '.[gpu]')")
try:
    HAVE_DEVICE = cp.cuda.runtime.getDeviceCount() > 0
except cp.cuda.runtime.CUDARuntimeError:  # no driver
    HAVE_DEVICE = False
if not HAVE_DEVICE:
    pytest.skip("no CUDA device", allow_module_level=True)

import dask.array as da  # noqa: E402

from dask_glmdist import BiasReducedGLM, DLSARegressor, screen  # noqa: E402


@pytest.fixture
def poisson_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 4))
    y = rng.poisson(np.exp(0.2 + X @ [0.4, -0.3, 0.0, 0.1])).astype(float)
    return X, y


def _on_gpu(X, y, rows=1000):
    return (da.from_array(cp.asarray(X), chunks=(rows, X.shape[1])),
            da.from_array(cp.asarray(y), chunks=rows))


def test_dlsa_on_cupy_blocks_equals_numpy(poisson_rows):
    X, y = poisson_rows
    Xg, yg = _on_gpu(X, y)
    got = DLSARegressor(family="poisson").fit(Xg, yg)
    ref = DLSARegressor(family="poisson").fit(da.from_array(X, chunks=(1000, 4)),
                                              da.from_array(y, chunks=1000))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.bse_, ref.bse_, rtol=1e-8)


def test_bias_reduction_on_cupy_blocks_equals_numpy(poisson_rows):
    X, y = poisson_rows
    yb = (y > 1).astype(float)
    Xg, yg = _on_gpu(X, yb)
    got = BiasReducedGLM(link="probit", method="mBR").fit(Xg, yg)
    ref = BiasReducedGLM(link="probit", method="mBR").fit(X, yb)
    np.testing.assert_allclose(got.params_, ref.params_, rtol=1e-8, atol=1e-10)


def test_screening_on_cupy_blocks_equals_numpy(poisson_rows):
    X, y = poisson_rows
    Xg, yg = _on_gpu(X, y)
    np.testing.assert_allclose(np.asarray(screen(Xg, yg, method="pearson")),
                               np.asarray(screen(X, y, method="pearson")), rtol=1e-10)
