"""The same parameter order and defaults across the estimators (docs/contract.md).

The canonical order: the model (``family``, ``link``), the method's settings (penalty,
selection, the method's own options), ``fit_intercept``, ``standardize``, the solver
(``tol``, ``max_iter``), ``n_partitions``, a start (``start``/``warm_start``), then
``split_every``, ``verbose``, ``formula``, ``missing``, ``cov_type``. Shared parameters keep one
default, apart from those listed in ``DIFFERENT_DEFAULTS`` (a different model or
option set: docs/contract.md says why)."""

import inspect
import re

import pytest
from sklearn.base import BaseEstimator

import dask_glmdist

ESTIMATORS = [getattr(dask_glmdist, n) for n in dask_glmdist.__all__
              if inspect.isclass(getattr(dask_glmdist, n))
              and issubclass(getattr(dask_glmdist, n), BaseEstimator)]

MODEL = ("family", "link")
METHOD = ("alpha", "alphas", "n_alphas", "eps", "l1_ratio", "max_abs_coef", "method",
          "criterion")   # shared method settings, in this order; others anywhere here
GROUPS = [MODEL, None, ("fit_intercept", "standardize"), ("tol", "max_iter"),
          ("n_partitions",), ("start", "warm_start"),
          ("split_every", "verbose", "formula", "missing", "cov_type")]
CANONICAL = [*MODEL, *METHOD, *(n for g in GROUPS[2:] for n in g)]

# the same name, a different model or option set (docs/contract.md)
DIFFERENT_DEFAULTS = {"family", "link", "alpha", "method", "criterion"}


def _params(cls):
    return [p for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self"]


def _key(name):
    for g, members in enumerate(GROUPS):
        if members is not None and name in members:
            return (g, members.index(name))
    return (1, METHOD.index(name) if name in METHOD else None)


def _in_order(names):
    keys = [_key(n) for n in names]
    if [g for g, _ in keys] != sorted(g for g, _ in keys):
        return False
    shared = [k for k in keys if k[1] is not None]
    return shared == sorted(shared)


def _documented(cls):
    doc = inspect.cleandoc(cls.__doc__)
    body = re.search(r"\nParameters\n-+\n(.*?)\n\n[A-Z][a-z]+\n-+\n", doc, re.S).group(1)
    names = []
    for line in body.splitlines():
        m = re.match(r"^(\w+(?:\s*,\s*\w+)*)\s*(?::|$)", line)
        if m and not line.startswith(" "):
            names += [n.strip() for n in m.group(1).split(",")]
    return names


def test_the_order_is_checked():
    assert _in_order(["family", "alpha", "refine_steps", "fit_intercept", "tol"])
    assert not _in_order(["alpha", "family"])
    assert not _in_order(["fit_intercept", "refine_steps"])
    assert not _in_order(["max_iter", "tol"])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_parameters_in_the_canonical_order(cls):
    names = [p.name for p in _params(cls)]
    assert _in_order(names), names
    assert _documented(cls) == names, "the docstring's Parameters follow the signature"
    positional = [p.name for p in _params(cls) if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert set(positional) <= set(MODEL), positional  # only family and link positional


def test_shared_parameters_have_one_default():
    defaults: dict = {}
    for cls in ESTIMATORS:
        for p in _params(cls):
            defaults.setdefault(p.name, {})[cls.__name__] = p.default
    for name, by_class in defaults.items():
        if len(by_class) < 2 or name in DIFFERENT_DEFAULTS:
            continue
        assert len({repr(v) for v in by_class.values()}) == 1, (name, by_class)
    assert set(CANONICAL) >= {n for n, c in defaults.items()
                              if len(c) == len(ESTIMATORS)}
