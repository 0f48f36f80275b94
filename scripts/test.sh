#!/usr/bin/env bash
# The one test command (see README): the Swift test suite (debug: the kernels' portable code),
# the kernel tests again in release for this machine's CPU (with AVX-512: the gather code), a
# compile of the portable AVX2 build, then the Python package built and installed from this tree
# and the pytest suite. Fails if any step fails.
#
#   PYTHON=python3 scripts/test.sh      # which interpreter to install into and test with
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

echo "== swift test"
swift test

echo "== swift test -c release (kernels, SWIFTSTN_TARGET_CPU=native)"
SWIFTSTN_TARGET_CPU=native swift test -c release --filter STNKernelsTests

echo "== portable build (SWIFTSTN_TARGET_CPU=x86-64-v3)"
if [ "$(uname -m)" = x86_64 ]; then
    SWIFTSTN_TARGET_CPU=x86-64-v3 swift build -c release --product swiftstn --scratch-path .build-portable
fi

echo "== pip install .[test]"
"$PYTHON" -m pip install --quiet ".[test]"

echo "== pytest"
# Run from outside the source tree so `import swiftstn` can only find the installed package.
cd python/tests
"$PYTHON" -m pytest -q -p no:cacheprovider .
