"""Every public estimator and function has a real numpydoc docstring at runtime.

A docstring built by string concatenation is not a docstring (``__doc__`` is None:
``help()`` shows nothing and its examples are never doctested). The examples
themselves run as doctests (``--doctest-modules`` in pyproject.toml).
"""

import inspect
import re

import pytest
from sklearn.base import BaseEstimator, TransformerMixin

import dask_glmdist
import dask_glmdist.datasets

ESTIMATOR_SECTIONS = ["Parameters", "Attributes", "See Also", "References", "Examples"]
FUNCTION_SECTIONS = ["Parameters", "Examples"]


def _public(module):
    return [(f"{module.__name__}.{name}", getattr(module, name)) for name in module.__all__]


PUBLIC = _public(dask_glmdist) + _public(dask_glmdist.datasets)
ESTIMATORS = [(n, o) for n, o in PUBLIC if inspect.isclass(o) and issubclass(o, BaseEstimator)]
FUNCTIONS = [(n, o) for n, o in PUBLIC if inspect.isfunction(o)]
OTHER_CLASSES = [(n, o) for n, o in PUBLIC if inspect.isclass(o) and (n, o) not in ESTIMATORS
                 and not issubclass(o, Warning)]
WARNINGS = [(n, o) for n, o in PUBLIC if inspect.isclass(o) and issubclass(o, Warning)]


def sections(doc: str) -> dict:
    """numpydoc sections: ``{title: body lines}`` (a title is underlined with dashes)."""
    lines = inspect.cleandoc(doc).splitlines()
    out, current = {}, None
    for i, line in enumerate(lines):
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", underline.strip()) and (
                len(underline.strip()) >= len(line.strip()) - 1):
            current = line.strip()
            out[current] = []
        elif current is not None and not re.fullmatch(r"\s*-{3,}\s*", line):
            out[current].append(line)
    return out


def documented_names(body: list) -> set:
    """Names of a Parameters/Attributes section (``a, b : type`` lines, unindented)."""
    names = set()
    for line in body:
        m = re.match(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::|$)", line)
        if m and not line.startswith(" "):
            names.update(n.strip().lstrip("*") for n in m.group(1).split(","))
    return names


def test_the_parser_reads_numpydoc():
    def f(a, b):
        """Summary.

        Parameters
        ----------
        a, b : int
            Numbers.

        Examples
        --------
        >>> 1
        1
        """

    s = sections(f.__doc__)
    assert list(s) == ["Parameters", "Examples"]
    assert documented_names(s["Parameters"]) == {"a", "b"}


@pytest.mark.parametrize("name, est", ESTIMATORS, ids=[n for n, _ in ESTIMATORS])
def test_estimator_docstring(name, est):
    assert est.__doc__, f"{name} has no docstring at runtime"
    found = sections(est.__doc__)
    missing = [s for s in ESTIMATOR_SECTIONS if s not in found]
    assert not missing, f"{name}: missing numpydoc sections {missing}"
    undocumented = set(est().get_params()) - documented_names(found["Parameters"])
    assert not undocumented, f"{name}: parameters not in its docstring: {sorted(undocumented)}"
    assert any(line.lstrip().startswith(">>>") for line in found["Examples"])


@pytest.mark.parametrize("name, fn", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_function_docstring(name, fn):
    assert fn.__doc__, f"{name} has no docstring at runtime"
    found = sections(fn.__doc__)
    missing = [s for s in FUNCTION_SECTIONS if s not in found]
    assert not missing, f"{name}: missing numpydoc sections {missing}"
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    undocumented = set(params) - documented_names(found["Parameters"])
    assert not undocumented, f"{name}: parameters not in its docstring: {sorted(undocumented)}"
    assert any(line.lstrip().startswith(">>>") for line in found["Examples"])


@pytest.mark.parametrize("name, cls", OTHER_CLASSES, ids=[n for n, _ in OTHER_CLASSES])
def test_public_result_classes_document_their_attributes(name, cls):
    assert cls.__doc__ and "Attributes" in sections(cls.__doc__), name


@pytest.mark.parametrize("name, cls", WARNINGS, ids=[n for n, _ in WARNINGS])
def test_public_warnings_say_what_they_mean(name, cls):
    assert cls.__doc__ and len(cls.__doc__.split()) >= 5, name


CONTRACT = {"params_", "coef_", "intercept_", "dispersion_", "deviance_", "null_deviance_",
            "loglik_", "aic_", "bic_", "n_obs_", "df_resid_", "n_iter_", "n_rounds_",
            "converged_", "cov_params_", "bse_"}


@pytest.mark.parametrize("name, est", ESTIMATORS, ids=[n for n, _ in ESTIMATORS])
def test_estimator_documents_the_fitted_contract(name, est):
    """docs/contract.md: every estimator documents the contract's attributes."""
    if issubclass(est, TransformerMixin):
        pytest.skip("a transformer (ScreeningSelector): it fits no model")
    found = sections(est.__doc__)
    missing = CONTRACT - documented_names(found["Attributes"])
    assert not missing, f"{name}: contract attributes not documented: {sorted(missing)}"
