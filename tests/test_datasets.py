import numpy as np
import pytest

from dask_glmdist.datasets import make_dlsa_example


def test_dask_and_numpy_versions_are_the_same_numbers():
    Xd, yd, theta = make_dlsa_example(1000, 4, example=3, setting=2, random_state=1)
    X, y, _ = make_dlsa_example(1000, 4, example=3, setting=2, random_state=1, as_dask=False)
    assert Xd.chunks[0] == (250, 250, 250, 250)
    np.testing.assert_array_equal(Xd.compute(), X)
    np.testing.assert_array_equal(yd.compute(), y)
    assert theta.shape == (9,)


def test_setting2_blocks_follow_the_papers_design():
    X, _, _ = make_dlsa_example(200_000, 4, example=2, setting=2, random_state=0,
                                as_dask=False)
    for k in range(4):
        block = X[k * 50_000:(k + 1) * 50_000]
        np.testing.assert_allclose(block.mean(axis=0), (k + 1) / 4, atol=0.02)
        np.testing.assert_allclose(block.std(axis=0), 1.0, atol=0.02)
        corr = np.corrcoef(block.T)
        rho = corr[0, 1]
        assert 0.18 < rho < 0.32
        np.testing.assert_allclose(corr[0, 2], rho**2, atol=0.02)  # AR(1): rho^|i-j|


def test_bad_arguments():
    with pytest.raises(ValueError, match="example must be one of"):
        make_dlsa_example(100, 2, example=7)
    with pytest.raises(ValueError, match="n_blocks"):
        make_dlsa_example(10, 20)
