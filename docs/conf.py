"""Sphinx configuration of the dask-glmdist documentation site.

Build (warnings are errors, as in CI)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The user guides are the Markdown pages ``docs/*.md`` (read by myst-parser as they are);
the API reference is generated from the numpydoc docstrings by autosummary.
"""

import importlib.util
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the checkout's package, not an installed copy (the reference documents this tree)
sys.path.insert(0, str(ROOT))

import dask_glmdist  # noqa: E402

project = "dask-glmdist"
author = "the dask-glmdist developers"
copyright = "the dask-glmdist developers"  # noqa: A001
release = version = dask_glmdist.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# --- Markdown guides (myst-parser) -------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # "guide.md#a-section" links resolve to the section
# the guides are also read on GitHub as they are: a "###" under the page title is theirs
suppress_warnings = ["myst.header"]
# links to files outside docs/ (the notebook, benchmark results) are plain URLs to the
# repository; they are not pages of the site
REPO_URL = "https://github.com/dask-glmdist/dask-glmdist"
SOURCE_URL = f"{REPO_URL}/blob/main"

# --- API reference (autodoc + autosummary + numpydoc) ------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# the section structure of every docstring is checked: an unknown or misspelt section
# header, or a section numpydoc cannot parse, fails the build (-W)
numpydoc_validation_checks = {"GL06", "GL07"}

intersphinx_mapping = {}  # no network at build time: references stay within the site

# --- HTML (PyData theme) ------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dask-glmdist {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_copy_source = False
html_static_path = []

# --- optional pages -----------------------------------------------------------------
# Pages that exist only when their source does: the plotting module (the ``plot``
# extra's functions) and the gallery of examples (``examples/``). Their toctree entries
# are added by ``_add_optional_toc`` below, so a checkout without them builds cleanly.
HAVE_PLOTTING = importlib.util.find_spec("dask_glmdist.plotting") is not None
HAVE_GALLERY = (ROOT / "examples").is_dir()
if not HAVE_PLOTTING:
    exclude_patterns.append("api/plotting.rst")

# >>> sphinx-gallery (the "gallery" helper owns this block) >>>>>>>>>>>>>>>>>>>>>>>>>>>>
# Enabled only when examples/ exists. The examples are executed only when the
# environment variable DASK_GLMDIST_DOCS_RUN_EXAMPLES=1 is set, so the default build
# (and the test suite's build) stays fast.
if HAVE_GALLERY:
    sys.path.insert(0, str(DOCS))
    from gallery_conf import sphinx_gallery_conf  # noqa: E402

    # absolute, so that a copy of docs/ (the test suite's build) finds the examples
    sphinx_gallery_conf = {**sphinx_gallery_conf, "examples_dirs": str(ROOT / "examples")}
    extensions.append("sphinx_gallery.gen_gallery")
    exclude_patterns.append("auto_examples/*.ipynb")
# <<< sphinx-gallery <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<

# docname -> (source format, caption, toctree entry, whether the page exists)
_OPTIONAL_TOC = {
    "index": [("md", "Examples", "auto_examples/index", HAVE_GALLERY)],
    "api/index": [("rst", "Plotting", "plotting", HAVE_PLOTTING)],
}


def _add_optional_toc(app, docname, source):
    """Append a toctree entry for each optional page of ``docname`` that exists."""
    for fmt, caption, target, present in _OPTIONAL_TOC.get(docname, ()):
        if not present:
            continue
        if fmt == "rst":
            source[0] += f"\n\n.. toctree::\n   :maxdepth: 1\n\n   {target}\n"
        else:
            source[0] += (f"\n\n```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n"
                          f"{target}\n```\n")


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the methods a class inherits from scikit-learn's base classes.

    ``get_params``, ``set_output``, the metadata-routing ``set_*_request`` methods...
    are scikit-learn's, documented there; their docstrings cite labels of
    scikit-learn's own site, which do not exist here. A feature selector's
    ``get_support`` and ``get_feature_names_out`` are kept: they are how it is used.
    """
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn.feature_selection"):
        return None  # SelectorMixin's get_support, transform...: the selector's API
    if module == "sklearn" or module.startswith("sklearn."):
        return True
    return None


def setup(app):
    app.connect("source-read", _add_optional_toc)
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
