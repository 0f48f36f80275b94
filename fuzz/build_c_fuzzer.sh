#!/usr/bin/env bash
# Builds fuzz/c_abi_fuzzer: libswiftstn.so compiled with AddressSanitizer and SanitizerCoverage
# (swiftc -sanitize=address -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp, in
# .build-fuzz/) and the C harness linked with the toolchain clang's libFuzzer (-fsanitize=fuzzer,address).
#
#   fuzz/build_c_fuzzer.sh                 # prints the path of the fuzzer binary on its last line
#   .build-fuzz/c_abi_fuzzer -runs=100000 .build-fuzz/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SWIFT=${SWIFT:-$(command -v swift)}
CLANG=${CLANG:-$(dirname "$(readlink -f "$SWIFT")")/clang}
SCRATCH=$ROOT/.build-fuzz
export SWIFTSTN_TARGET_CPU=${SWIFTSTN_TARGET_CPU:-native}
FLAGS=(-c release --product swiftstn --package-path "$ROOT" --scratch-path "$SCRATCH"
       -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
       -Xswiftc -static-stdlib)
"$SWIFT" build "${FLAGS[@]}" >&2
LIB_DIR=$("$SWIFT" build "${FLAGS[@]}" --show-bin-path | tail -n 1)
# The fuzzer binary exports libFuzzer's __sanitizer_cov_* hooks (-rdynamic) for the library's
# coverage instrumentation, and finds libswiftstn.so through its rpath.
"$CLANG" -g -O1 -fsanitize=fuzzer,address -I "$ROOT/include" "$ROOT/fuzz/c_abi_fuzzer.c" \
    -L "$LIB_DIR" -lswiftstn -Wl,-rpath,"$LIB_DIR" -rdynamic -lm -o "$SCRATCH/c_abi_fuzzer" >&2
echo "$SCRATCH/c_abi_fuzzer"
