#!/usr/bin/env bash
# The one test command (see README). Fails if any step fails:
#   1. ruff and mypy on the Python code and swift-format on the Swift code (fast, so a lint failure
#      fails first; ruff and mypy are installed here in the versions the code is checked with;
#      settings in pyproject.toml and .swift-format);
#   2. `swift test` (debug: the kernels' portable code);
#   3. the kernel tests again in release for this machine's CPU (with AVX-512: the gather code);
#   4. a compile of the portable AVX2 build (x86-64-v3), only where the CPU has AVX-512: elsewhere
#      step 3's native build already compiles exactly the AVX2 code (the release build cannot be
#      shared with step 5: pip's is linked with -static-stdlib, whose SDK has no XCTest);
#   5. the Python package installed from this tree with its test extras, and the pytest suite.
#
#   PYTHON=python3 scripts/test.sh      # which interpreter to install into and test with
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

echo "== ruff check, mypy, swift format lint"
"$PYTHON" -m pip install --quiet "ruff==0.17.*" "mypy==2.4.*"
"$PYTHON" -m ruff check python bench examples experiments fuzz
"$PYTHON" -m mypy
swift format lint --strict -r Sources Tests   # settings: .swift-format

echo "== swift test"
swift test

echo "== swift test -c release (kernels, SWIFTSTN_TARGET_CPU=native)"
SWIFTSTN_TARGET_CPU=native swift test -c release --filter STNKernelsTests

if [ "$(uname -m)" = x86_64 ] && grep -qw avx512f /proc/cpuinfo; then
    echo "== portable build (SWIFTSTN_TARGET_CPU=x86-64-v3)"
    SWIFTSTN_TARGET_CPU=x86-64-v3 swift build -c release --product swiftstn --scratch-path .build-portable
fi

echo "== pip install .[test]"
"$PYTHON" -m pip install --quiet ".[test]"

echo "== pytest"
# Run from outside the source tree so `import swiftstn` can only find the installed package.
cd python/tests
"$PYTHON" -m pytest -q -p no:cacheprovider .
