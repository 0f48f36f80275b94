#!/usr/bin/env bash
# The one test command (see README): the Swift test suite, then the Python package built and
# installed from this tree, then the pytest suite. Fails if either suite fails.
#
#   PYTHON=python3 scripts/test.sh      # which interpreter to install into and test with
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

echo "== swift test"
swift test

echo "== pip install .[test]"
"$PYTHON" -m pip install --quiet ".[test]"

echo "== pytest"
# Run from outside the source tree so `import swiftstn` can only find the installed package.
cd python/tests
"$PYTHON" -m pytest -q -p no:cacheprovider .
