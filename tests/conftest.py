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


def _nb_sample(n=1500, alpha=0.7, seed=1, coef=(0.3, -0.2, 0.1), intercept=0.5,
               offset=False):
    """NB2 counts: ``X`` standard normal (one column per ``coef``), ``y`` with mean
    ``exp(intercept + [offset] + X coef)`` and dispersion ``alpha``; returns ``(X, y)``,
    or ``(X, y, offset)`` with an offset uniform on (-1/2, 1/2)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(coef)))
    off = rng.uniform(-0.5, 0.5, n) if offset else None
    mu = np.exp(intercept + (0.0 if off is None else off) + X @ np.asarray(coef))
    y = rng.negative_binomial(1.0 / alpha, 1.0 / (1.0 + alpha * mu)).astype(float)
    return (X, y) if off is None else (X, y, off)


@pytest.fixture(scope="session")
def nb_sample():
    """:func:`_nb_sample`, the negative binomial tests' data."""
    return _nb_sample

# the scripts that recorded reference numbers (tests/data/make_*.py) run in other
# environments (lifelines pins pandas < 3): not collected as doctest modules here
collect_ignore_glob = ["data/*.py"]
