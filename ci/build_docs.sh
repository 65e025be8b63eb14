#!/usr/bin/env bash
# Build the documentation site with warnings as errors (docs/README.md), from the
# repository root. Output: docs/_build/html. Set DASK_GLMDIST_DOCS_RUN_EXAMPLES=1 to
# execute the gallery's examples too.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install ".[docs]"
sphinx-build -W --keep-going -b html docs docs/_build/html
