"""The documentation site builds with warnings as errors, and every public name has a page.

Runs ``sphinx-build -W --keep-going -b html`` (the command of docs/README.md and
ci/build_docs.sh) on a copy of ``docs/`` in a temporary directory (beside links to the rest
of the checkout, which the guides' relative links and conf.py find), so the checkout is
left as it was. It takes about 15 s on two cores -- longer than the suite's usual test, but it
is the check that a broken cross-reference or a malformed docstring fails CI, and the
``test`` extra installs what it needs. Skipped only where the documentation tools are not
installed (``pip install ".[docs]"`` or ``".[test]"``).
"""

import importlib
import importlib.util
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TOOLS = ("sphinx", "numpydoc", "pydata_sphinx_theme", "myst_parser")
# public modules whose functions and classes users call by their module's name
MODULES = ("dask_glmdist.families", "dask_glmdist.datasets", "dask_glmdist.likelihood_ratio",
           "dask_glmdist.plotting")
GUIDES = ("contract", "inference", "dlsa", "brglm", "debiased_lasso", "penalized", "cox",
          "screening", "tables", "which_estimator", "tutorial", "README")

missing = [name for name in TOOLS if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"documentation tools not installed: {', '.join(missing)} "
    "(pip install '.[docs]')")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The site built from a copy of docs/ with -W; the HTML folder."""
    tmp = tmp_path_factory.mktemp("docs_build")
    checkout = tmp / "checkout"
    checkout.mkdir()
    for entry in ROOT.iterdir():  # the package, notebooks/, examples/ ... as they are
        if entry.name not in ("docs", ".git"):
            (checkout / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    source = checkout / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns(
        "_build", "generated", "auto_examples", "sg_execution_times.rst"))
    out = tmp / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(source), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _public_module_names(module_name):
    """The classes and functions of a module's ``__all__`` (not its constants)."""
    module = importlib.import_module(module_name)
    return [name for name in module.__all__
            if inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name))]


def test_every_name_in_dask_glmdist_all_has_a_page(html):
    import dask_glmdist

    pages = html / "api" / "generated"
    missing_pages = [name for name in dask_glmdist.__all__
                     if not (pages / f"dask_glmdist.{name}.html").is_file()]
    assert not missing_pages, f"no API page for {missing_pages}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_function_and_class_of_the_modules_has_a_page(html, module_name):
    if importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} is not in this checkout")
    import dask_glmdist

    pages = html / "api" / "generated"
    missing_pages = [
        name for name in _public_module_names(module_name)
        if not (pages / f"{module_name}.{name}.html").is_file()
        and not (name in dask_glmdist.__all__
                 and (pages / f"dask_glmdist.{name}.html").is_file())]
    assert not missing_pages, f"no API page for {module_name}: {missing_pages}"


def test_the_guides_and_the_reference_are_pages(html):
    for page in ("index", *GUIDES, "api/index"):
        assert (html / f"{page}.html").is_file(), page
    index = (html / "index.html").read_text(encoding="utf-8")
    for page in GUIDES:  # reachable from the root page's navigation
        assert f'href="{page}.html"' in index, page
    assert 'href="api/index.html"' in index
