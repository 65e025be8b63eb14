import numpy as np
import pytest

from dask_glmdist.datasets import make_dlsa_example


@pytest.fixture(scope="session")
def hetero_logistic():
    """The paper's Example 2, Setting 2 (heterogeneous blocks), N = 20,000 over K = 10."""
    X, y, theta = make_dlsa_example(20_000, 10, example=2, setting=2, random_state=3,
                                    as_dask=False)
    return X, y, theta


@pytest.fixture(scope="session")
def hetero_poisson():
    X, y, theta = make_dlsa_example(20_000, 10, example=3, setting=2, random_state=4,
                                    as_dask=False)
    return X, y, theta


def block_chunks(n, k):
    """Row chunk sizes that split n rows into k near-equal blocks."""
    base, extra = divmod(n, k)
    return tuple(base + (1 if i < extra else 0) for i in range(k))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
