#!/usr/bin/env bash
# The README's test command, from the repository root: install the package with its
# test dependencies and run the suite (slow tests are deselected by pyproject.toml).
# Extra arguments go to pytest (the GPU job passes "-m gpu").
set -euo pipefail
cd "$(dirname "$0")/.."
pip install ".[test]" && pytest "$@"
