#!/usr/bin/env bash
# Runs the whole pytest suite once against a build instrumented with AddressSanitizer: the Swift
# library with `-sanitize=address`, the C extension with `-fsanitize=address,undefined`.
# (swiftc 6.3.1 refuses `-sanitize=undefined` on Linux: "error: unsupported option
# '-sanitize=undefined' for target 'x86_64-unknown-linux-gnu'"; Swift's own checked arithmetic and
# bounds checks cover most of that class above the -Ounchecked kernels. Set
# SWIFT_SANITIZERS=address,undefined to retry it on a toolchain that has it: the script falls back
# to address if the build fails.)
#
#   scripts/sanitize.sh                      # build + run the whole suite
#   scripts/sanitize.sh test_properties.py   # arguments replace pytest's default '.' (run in python/tests)
#   PYTHON=/work/venv-rel/bin/python scripts/sanitize.sh
#   C_SANITIZERS=address scripts/sanitize.sh # the extension's -fsanitize list (default address,undefined)
#
# What it does (nothing is installed; everything lives under .build-asan/):
#   1. `swift build -c release --product swiftstn --scratch-path .build-asan/address -Xswiftc -sanitize=address`
#      builds libswiftstn.so with the Swift compiler's sanitizer instrumentation (the runtime is
#      left undefined in the library and comes from LD_PRELOAD below).
#   2. Compiles the CPython extension (the C sources setup.py lists) with the toolchain's clang and
#      `-fsanitize=address,undefined` (UBSan's handlers are in the ASan runtime), and stages it with the package's Python files in
#      .build-asan/python/swiftstn, which goes first on PYTHONPATH.
#   3. Runs pytest from python/tests with LD_PRELOAD of the ASan runtime that matches the Swift
#      toolchain's clang (`clang -print-file-name=libclang_rt.asan-x86_64.so`), PYTHONMALLOC=malloc
#      (so Python-side allocations are checked too) and ASAN_OPTIONS=detect_leaks=0 (the interpreter
#      deliberately never frees its own start-up allocations; leaks of swiftstn objects are checked
#      by python/tests/test_reliability.py instead).
#
# The PYTHON interpreter must have numpy, pytest and hypothesis (and the test extras for the
# notebook/viz tests). The script checks that the staged, instrumented swiftstn is the one the
# tests import, and exits with pytest's status. Any ASan/UBSan report aborts the process that hit
# it (halt_on_error=1), which pytest reports as a failure (or a crash of the whole run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
SWIFT=${SWIFT:-$(command -v swift)}
CLANG=${CLANG:-$(dirname "$(readlink -f "$SWIFT")")/clang}
SCRATCH=${SCRATCH:-$ROOT/.build-asan}
SANITIZERS=${SWIFT_SANITIZERS:-address}
C_SANITIZERS=${C_SANITIZERS:-address,undefined}
export SWIFTSTN_TARGET_CPU=${SWIFTSTN_TARGET_CPU:-native}

ASAN_RT=$("$CLANG" -print-file-name=libclang_rt.asan-x86_64.so)
if [ ! -f "$ASAN_RT" ]; then
    echo "error: the ASan runtime of $CLANG was not found (got '$ASAN_RT')" >&2
    exit 2
fi

swift_flags() {  # -Xswiftc -sanitize=a -Xswiftc -sanitize=b ...
    local IFS=,
    for s in $1; do printf -- '-Xswiftc\n-sanitize=%s\n' "$s"; done
}

build_library() {
    mapfile -t flags < <(swift_flags "$1")
    "$SWIFT" build -c release --product swiftstn --package-path "$ROOT" --scratch-path "$SCRATCH/$2" \
        "${flags[@]}" -Xswiftc -static-stdlib
}

echo "== swift build with -sanitize=$SANITIZERS"
VARIANT=${SANITIZERS//,/-}
if ! build_library "$SANITIZERS" "$VARIANT"; then
    if [ "$SANITIZERS" != address ]; then
        echo "warning: building with -sanitize=$SANITIZERS failed; falling back to -sanitize=address" >&2
        SANITIZERS=address
        VARIANT=address
        build_library address address
    else
        exit 1
    fi
fi
LIB_DIR=$("$SWIFT" build -c release --product swiftstn --package-path "$ROOT" --scratch-path "$SCRATCH/$VARIANT" \
    $(swift_flags "$SANITIZERS" | tr '\n' ' ') -Xswiftc -static-stdlib --show-bin-path | tail -n 1)
LIB=$LIB_DIR/libswiftstn.so
[ -f "$LIB" ] || { echo "error: $LIB was not built" >&2; exit 1; }

echo "== stage the package with an instrumented extension"
STAGE=$SCRATCH/python-$VARIANT
rm -rf "$STAGE"
mkdir -p "$STAGE/swiftstn"
cp "$ROOT"/python/swiftstn/*.py "$STAGE/swiftstn/"
cp -r "$ROOT/python/swiftstn/data" "$STAGE/swiftstn/data"
cp "$LIB" "$STAGE/swiftstn/libswiftstn.so"
PY_INCLUDE=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NP_INCLUDE=$("$PYTHON" -c 'import numpy; print(numpy.get_include())')
EXT_SUFFIX=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
# The extension's C files as setup.py lists them (fallback: every python/swiftstn/_native*.c).
mapfile -t NATIVE_SOURCES < <("$PYTHON" - "$ROOT" <<'PYEOF'
import ast, glob, os, sys
root = sys.argv[1]
try:
    tree = ast.parse(open(os.path.join(root, "setup.py")).read())
    sources = next(ast.literal_eval(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
                   for k in node.keywords if k.arg == "sources")
except Exception:
    sources = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "python/swiftstn/_native*.c")))
for s in sources:
    print(os.path.join(root, s))
PYEOF
)
[ ${#NATIVE_SOURCES[@]} -gt 0 ] || { echo "error: no extension sources found" >&2; exit 1; }
"$CLANG" -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize="$C_SANITIZERS" -fno-sanitize-recover=all -shared-libsan \
    -std=c11 -Wall -Wno-unused-parameter \
    -I "$ROOT/include" -I "$PY_INCLUDE" -I "$NP_INCLUDE" \
    "${NATIVE_SOURCES[@]}" \
    -L "$STAGE/swiftstn" -lswiftstn -Wl,-rpath,'$ORIGIN' \
    -o "$STAGE/swiftstn/_native$EXT_SUFFIX"

export LD_PRELOAD=$ASAN_RT${LD_PRELOAD:+:$LD_PRELOAD}
export PYTHONPATH=$STAGE${PYTHONPATH:+:$PYTHONPATH}
export PYTHONMALLOC=malloc
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:handle_segv=1:handle_abort=1:allocator_may_return_null=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export SWIFTSTN_SANITIZED="swift:$SANITIZERS c:$C_SANITIZERS"  # tests that cannot run under the sanitizers skip on this

echo "== check that the instrumented build is the one imported"
"$PYTHON" - "$STAGE" <<'EOF'
import os, sys
import swiftstn, swiftstn._native as n
stage = os.path.realpath(sys.argv[1])
assert os.path.realpath(n.__file__).startswith(stage), (n.__file__, stage)
maps = open("/proc/self/maps").read()
assert "libclang_rt.asan" in maps, "ASan runtime not loaded"
assert os.path.join(stage, "swiftstn", "libswiftstn.so") in maps, "instrumented libswiftstn.so not loaded"
print("swiftstn", swiftstn.__version__, "from", os.path.dirname(n.__file__), "with ASan")
EOF

echo "== pytest under $SWIFTSTN_SANITIZED (ASAN_OPTIONS=$ASAN_OPTIONS)"
cd "$ROOT/python/tests"
set +e
if [ $# -eq 0 ]; then set -- .; fi
"$PYTHON" -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
echo "== sanitize.sh: pytest exited with $status under $SWIFTSTN_SANITIZED"
exit $status
