"""The sphinx-gallery configuration of the examples gallery (``examples/``).

``docs/conf.py`` imports it when ``examples/`` exists::

    from gallery_conf import sphinx_gallery_conf  # docs/ is on sys.path there
    extensions.append("sphinx_gallery.gen_gallery")

The examples are executed (and their figures drawn) when the environment variable
``DASK_GLMDIST_DOCS_RUN_EXAMPLES=1`` is set, as in CI's docs job; otherwise the pages
show the code without output, so a quick build (and the test suite's) stays fast.
An example that raises fails the build (``abort_on_example_error``). The examples also
run as plain scripts, and ``tests/test_examples.py`` runs each one.
"""

import os

# figures are drawn off-screen wherever the docs are built
os.environ.setdefault("MPLBACKEND", "Agg")

RUN_EXAMPLES = os.environ.get("DASK_GLMDIST_DOCS_RUN_EXAMPLES", "0") == "1"

sphinx_gallery_conf = {
    "examples_dirs": "../examples",  # relative to docs/
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py is executed (when RUN_EXAMPLES)
    "ignore_pattern": r"__init__\.py|/data/",
    "plot_gallery": RUN_EXAMPLES,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    # no sg_execution_times page: it is in no toctree, an error under -W
    "write_computation_times": False,
    "show_memory": False,
}
