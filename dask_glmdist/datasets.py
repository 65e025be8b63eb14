"""Simulated data: the DLSA paper's designs, separated "diverted flights" data and
sparse regressions for the debiased lasso.

The DLSA paper's designs (Zhu, Li & Wang 2021, Section 4.1).

Examples (true parameters, no intercept):

1. linear:   y = X theta + e, e ~ N(0, 1),  theta = (3, 1.5, 0, 0, 2, 0, 0, 0)
2. logistic: P(y = 1 | X) = 1 / (1 + exp(-X theta)),  theta = (3, 0, 0, 1.5, 0, 0, 2, 0)
3. Poisson:  y ~ Poisson(exp(X theta)),  theta = (0.8, 0, 0, 1, 0, 0, -0.4, 0, 0)

Settings:

1. i.i.d. covariates, X_ij ~ N(0, 1) on every worker;
2. heterogeneous covariates: on worker k (k = 1..K) the rows are N(mu_k 1, Sigma_k)
   with mu_k = k / K and Sigma_k = (rho_k^|j1 - j2|), rho_k ~ U[0.2, 0.3].

Each worker's rows form one row block. Blocks are generated lazily and
deterministically from ``(random_state, k)``, so a dask array of any size costs no
memory until a block is needed and every pass sees the same data.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

__all__ = [
    "DLSA_EXAMPLES",
    "make_dlsa_example",
    "simulate_block",
    "DIVERTED_FLIGHTS_COEF",
    "make_diverted_flights",
    "simulate_flights_block",
    "make_sparse_regression",
    "simulate_sparse_block",
]

DLSA_EXAMPLES = {
    1: ("gaussian", np.array([3.0, 1.5, 0, 0, 2.0, 0, 0, 0])),
    2: ("binomial", np.array([3.0, 0, 0, 1.5, 0, 0, 2.0, 0])),
    3: ("poisson", np.array([0.8, 0, 0, 1.0, 0, 0, -0.4, 0, 0])),
}


def simulate_block(k: int, n_blocks: int, n_rows: int, example: int, setting: int, seed: int):
    """Rows of worker ``k`` (0-based) out of ``n_blocks``: returns ``(X_k, y_k)``.

    The block function behind :func:`make_dlsa_example`: deterministic in
    ``(seed, k)``, so a block can be regenerated anywhere (e.g. on a worker).

    Parameters
    ----------
    k : int
        Block (worker) index, 0-based.
    n_blocks : int
        Number of blocks K (Setting 2 shifts block k's mean by ``(k + 1) / K``).
    n_rows : int
        Rows in the block.
    example : {1, 2, 3}
        Linear, logistic or Poisson regression (:data:`DLSA_EXAMPLES`).
    setting : {1, 2}
        i.i.d. or heterogeneous covariates.
    seed : int

    Returns
    -------
    X_k : ndarray of shape (n_rows, p)
    y_k : ndarray of shape (n_rows,)

    Examples
    --------
    >>> from dask_glmdist.datasets import simulate_block
    >>> X0, y0 = simulate_block(0, n_blocks=10, n_rows=1000, example=2, setting=2, seed=0)
    >>> X0.shape, y0[:5]
    ((1000, 8), array([1., 0., 0., 0., 1.]))
    """
    family, theta = DLSA_EXAMPLES[example]
    p = theta.shape[0]
    rng = np.random.default_rng([seed, k])
    e = rng.standard_normal((n_rows, p))
    if setting == 1:
        X = e
    elif setting == 2:
        X = _ar1(e, rng.uniform(0.2, 0.3)) + (k + 1) / n_blocks
    else:
        raise ValueError(f"setting must be 1 or 2, got {setting!r}")
    return X, _response(X @ theta, family, rng)


def _ar1(e: np.ndarray, rho: float) -> np.ndarray:
    """Columns with corr(x_i, x_j) = rho^|i - j| and unit variance, from i.i.d. ``e``."""
    X = np.empty_like(e)
    X[:, 0] = e[:, 0]
    c = np.sqrt(1.0 - rho * rho)
    for j in range(1, e.shape[1]):
        X[:, j] = rho * X[:, j - 1] + c * e[:, j]
    return X


def _response(eta: np.ndarray, family: str, rng) -> np.ndarray:
    """y given the linear predictor: N(eta, 1), Bernoulli(logistic(eta)) or Poisson(e^eta)."""
    n = eta.shape[0]
    if family == "gaussian":
        return eta + rng.standard_normal(n)
    if family == "binomial":
        return (rng.random(n) < 0.5 * (1.0 + np.tanh(0.5 * eta))).astype(np.float64)
    return rng.poisson(np.exp(eta)).astype(np.float64)


def make_dlsa_example(
    n_samples: int = 100_000,
    n_blocks: int = 20,
    *,
    example: int = 2,
    setting: int = 2,
    random_state: int = 0,
    as_dask: bool = True,
):
    """Data of the paper's Example ``example`` under Setting ``setting``.

    Parameters
    ----------
    n_samples : int
        Total rows N, split as evenly as possible over ``n_blocks`` workers.
    n_blocks : int
        Number of workers K (row blocks).
    example : {1, 2, 3}
        Linear, logistic or Poisson regression.
    setting : {1, 2}
        i.i.d. or heterogeneous covariates.
    random_state : int
    as_dask : bool, default=True
        Return lazily generated dask arrays with one row block per worker; else
        NumPy arrays (the same numbers).

    Returns
    -------
    X : array of shape (n_samples, p)
    y : array of shape (n_samples,)
    theta : ndarray of shape (p,)
        True coefficients (the true intercept is 0).

    Examples
    --------
    >>> from dask_glmdist.datasets import make_dlsa_example
    >>> X, y, theta = make_dlsa_example(10_000, 5, example=2, setting=2)
    >>> X.shape, X.numblocks  # lazy: one row block per worker
    ((10000, 8), (5, 1))
    >>> theta
    array([3. , 0. , 0. , 1.5, 0. , 0. , 2. , 0. ])
    >>> float(y.mean().compute())
    0.8024
    """
    if example not in DLSA_EXAMPLES:
        raise ValueError(f"example must be one of {sorted(DLSA_EXAMPLES)}, got {example!r}")
    theta = DLSA_EXAMPLES[example][1].copy()
    X, y = _assemble(
        lambda k, s: (k, n_blocks, s, example, setting, random_state), simulate_block,
        n_samples, n_blocks, theta.shape[0], as_dask,
    )
    return X, y, theta


def _assemble(args_of, simulate, n_samples: int, n_blocks: int, p: int, as_dask: bool):
    """Rows split as evenly as possible over the blocks; block k is
    ``simulate(*args_of(k, rows_k))``, lazily (one dask chunk each) or in NumPy."""
    if not 1 <= n_blocks <= n_samples:
        raise ValueError(f"need 1 <= n_blocks <= n_samples, got {n_blocks} and {n_samples}")
    base, extra = divmod(n_samples, n_blocks)
    sizes = [base + (1 if k < extra else 0) for k in range(n_blocks)]
    if not as_dask:
        parts = [simulate(*args_of(k, s)) for k, s in enumerate(sizes)]
        return np.vstack([x for x, _ in parts]), np.concatenate([y for _, y in parts])
    make = dask.delayed(simulate, pure=True, nout=2)
    xs, ys = [], []
    for k, s in enumerate(sizes):
        xk, yk = make(*args_of(k, s))
        xs.append(da.from_delayed(xk, shape=(s, p), dtype=np.float64))
        ys.append(da.from_delayed(yk, shape=(s,), dtype=np.float64))
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


# ------------------------------------------------------------------------------------
# separated probit data in the spirit of the bounded-memory paper's diverted flights
# ------------------------------------------------------------------------------------

#: True probit coefficients of :func:`make_diverted_flights` (intercept first).
DIVERTED_FLIGHTS_COEF = {
    "intercept": -2.9,
    "distance": 0.25,
    "departure_hour": 0.15,
    "winter": 0.35,
    "carrier_A": 0.2,
    "carrier_B": -0.1,
    "carrier_rare": -0.3,
}


def simulate_flights_block(k: int, n_rows: int, seed: int, rare_share: float):
    """Rows of block ``k``: ``(X_k, y_k)`` with the columns of DIVERTED_FLIGHTS_COEF.

    The block function behind :func:`make_diverted_flights`, deterministic in
    ``(seed, k)``.

    Parameters
    ----------
    k : int
        Block index, 0-based.
    n_rows : int
        Rows (flights) in the block.
    seed : int
    rare_share : float
        Share of flights flown by the small carrier (none of them diverted).

    Returns
    -------
    X_k : ndarray of shape (n_rows, 6)
    y_k : ndarray of shape (n_rows,)

    Examples
    --------
    >>> from dask_glmdist.datasets import simulate_flights_block
    >>> X0, y0 = simulate_flights_block(0, n_rows=1000, seed=0, rare_share=0.0005)
    >>> X0.shape, int(y0.sum())
    ((1000, 6), 6)
    """
    rng = np.random.default_rng([seed, k, 7])
    X = np.empty((n_rows, 6))
    X[:, 0] = rng.standard_normal(n_rows)  # standardised distance
    X[:, 1] = rng.uniform(-1.0, 1.0, n_rows)  # scheduled departure hour, scaled
    X[:, 2] = rng.random(n_rows) < 0.25  # winter month
    carrier = rng.random(n_rows)
    X[:, 3] = carrier < 0.3
    X[:, 4] = (carrier >= 0.3) & (carrier < 0.5)
    X[:, 5] = carrier >= 1.0 - rare_share  # a small carrier
    beta = np.array(list(DIVERTED_FLIGHTS_COEF.values()))
    eta = beta[0] + X @ beta[1:]
    y = (rng.standard_normal(n_rows) < eta).astype(np.float64)
    y[X[:, 5] == 1] = 0.0  # none of the small carrier's flights was diverted
    return X, y


def make_diverted_flights(
    n_samples: int = 1_000_000,
    n_blocks: int = 10,
    *,
    rare_share: float = 0.0005,
    random_state: int = 0,
    as_dask: bool = True,
):
    """Separated probit data: a rare carrier none of whose flights was diverted.

    Modelled on the diverted-flights example of the bounded-memory adjusted-scores
    paper: diversions are rare (about 0.3%), and a small carrier (``rare_share`` of
    the flights) had no diversion at all, so the maximum likelihood estimate of its
    coefficient is minus infinity (quasi-complete separation) while mean
    bias-reduced and Jeffreys-penalised estimates stay finite.

    Parameters
    ----------
    n_samples : int
        Flights N, split as evenly as possible over ``n_blocks`` row blocks.
    n_blocks : int
    rare_share : float
        Share of flights flown by the small carrier.
    random_state : int
    as_dask : bool, default=True
        Lazily generated dask arrays (one row block per block); else NumPy.

    Returns
    -------
    X : array of shape (n_samples, 6)
        distance, departure_hour, winter, carrier_A, carrier_B, carrier_rare.
    y : array of shape (n_samples,)
        1 if the flight was diverted.
    names : list of str
        The column names.

    Examples
    --------
    >>> from dask_glmdist.datasets import make_diverted_flights
    >>> X, y, names = make_diverted_flights(100_000, 4)
    >>> names
    ['distance', 'departure_hour', 'winter', 'carrier_A', 'carrier_B', 'carrier_rare']
    >>> float(y.mean().compute()), float(y[X[:, 5] == 1].sum().compute())  # separated
    (0.00426, 0.0)
    """
    names = list(DIVERTED_FLIGHTS_COEF)[1:]
    X, y = _assemble(lambda k, s: (k, s, random_state, rare_share), simulate_flights_block,
                     n_samples, n_blocks, len(names), as_dask)
    return X, y, names


# ------------------------------------------------------------------------------------
# sparse regression designs for the debiased lasso
# ------------------------------------------------------------------------------------


def simulate_sparse_block(k: int, n_rows: int, coef: np.ndarray, family: str, rho: float,
                          seed: int):
    """Rows of block ``k``: AR(1)-correlated standard normal features, ``y`` from
    the family with linear predictor ``coef[0] + X coef[1:]``.

    The block function behind :func:`make_sparse_regression`, deterministic in
    ``(seed, k)``.

    Parameters
    ----------
    k : int
        Block index, 0-based.
    n_rows : int
    coef : ndarray of shape (n_features + 1,)
        ``[intercept, *coefficients]``.
    family : {"gaussian", "binomial", "poisson"}
    rho : float
        AR(1) correlation of neighbouring features.
    seed : int

    Returns
    -------
    X_k : ndarray of shape (n_rows, n_features)
    y_k : ndarray of shape (n_rows,)

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.datasets import simulate_sparse_block
    >>> X0, y0 = simulate_sparse_block(0, 500, np.array([0.5, 1.0, 0.0, -0.5]), "binomial",
    ...                                rho=0.5, seed=0)
    >>> X0.shape, np.unique(y0)
    ((500, 3), array([0., 1.]))
    """
    rng = np.random.default_rng([seed, k, 11])
    p = coef.shape[0] - 1
    X = _ar1(rng.standard_normal((n_rows, p)), rho)
    return X, _response(coef[0] + X @ coef[1:], family, rng)


def make_sparse_regression(
    n_samples: int = 100_000,
    n_features: int = 100,
    *,
    n_informative: int = 10,
    family: str = "gaussian",
    n_blocks: int = 10,
    rho: float = 0.5,
    random_state: int = 0,
    as_dask: bool = True,
):
    """A sparse GLM: few non-zero coefficients among many correlated features.

    Features are standard normal with AR(1) correlation ``rho^|i - j|``; the first
    ``n_informative`` coefficients alternate in sign with magnitudes decreasing from
    1 to 0.3 (halved for binomial and Poisson), the rest are 0; the intercept is 0.5
    (0.2 for Poisson). Gaussian noise has variance 1.

    Parameters
    ----------
    n_samples, n_features, n_informative : int
    family : {"gaussian", "binomial", "poisson"}
    n_blocks : int
        Row blocks, generated lazily and deterministically from ``(random_state, k)``.
    rho : float
    random_state : int
    as_dask : bool, default=True

    Returns
    -------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,)
    coef : ndarray of shape (n_features + 1,)
        True ``[intercept, *coefficients]``.

    Examples
    --------
    >>> import numpy as np
    >>> from dask_glmdist.datasets import make_sparse_regression
    >>> X, y, coef = make_sparse_regression(5000, 50, family="binomial", as_dask=False)
    >>> X.shape, int(np.count_nonzero(coef[1:]))
    ((5000, 50), 10)
    >>> coef[:4].round(3)
    array([ 0.5  ,  0.5  , -0.461,  0.422])
    """
    if family not in ("gaussian", "binomial", "poisson"):
        raise ValueError(f"family must be gaussian, binomial or poisson, got {family!r}")
    if not 0 <= n_informative <= n_features:
        raise ValueError("need 0 <= n_informative <= n_features")
    coef = np.zeros(n_features + 1)
    signs = np.where(np.arange(n_informative) % 2 == 0, 1.0, -1.0)
    coef[1:n_informative + 1] = signs * np.linspace(1.0, 0.3, n_informative)
    if family != "gaussian":
        coef[1:] *= 0.5
    coef[0] = 0.2 if family == "poisson" else 0.5
    X, y = _assemble(lambda k, s: (k, s, coef, family, rho, random_state),
                     simulate_sparse_block, n_samples, n_blocks, n_features, as_dask)
    return X, y, coef
