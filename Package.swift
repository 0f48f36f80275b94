// swift-tools-version:6.0
//
// swiftstn — a CPU engine for Spatial Transformer Networks.
//
//   STNSIMD     one C header: the vector instructions Swift cannot spell (AVX-512 gathers).
//   STNKernels  pure kernels over pointers, shapes and strides: no allocation on the hot path,
//               no validation, no error paths (one concept per file).
//   SwiftSTN    the validated Swift API: shape checks, errors, threading, array conveniences.
//   SwiftSTNC   the C ABI (`@_cdecl`), documented in include/swiftstn.h; built as the
//               dynamic library `libswiftstn.so` that the CPython extension links against.
import PackageDescription

// Code generation for the numeric kernels (only STNKernels: the layers above validate, so they
// keep Swift's checked arithmetic). Swift's default x86-64 target is SSE2-only;
// SWIFTSTN_TARGET_CPU picks the ISA (`native` for the build machine, `x86-64-v3` for a portable
// AVX2 build, `x86-64` for the baseline). setup.py passes it through; see docs/build.md.
// swiftc knows CPU names (haswell, znver4, …) but not the x86-64 micro-architecture levels, so
// those are mapped to the oldest CPU that has exactly their features.
let cpuLevels = ["x86-64-v2": "nehalem", "x86-64-v3": "haswell", "x86-64-v4": "skylake-avx512"]
let requestedCPU = Context.environment["SWIFTSTN_TARGET_CPU"] ?? ""
let targetCPU = cpuLevels[requestedCPU] ?? requestedCPU
let kernelFlags: [SwiftSetting] =
    targetCPU.isEmpty
    ? [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
    : [.unsafeFlags(["-Ounchecked", "-target-cpu", targetCPU], .when(configuration: .release))]

let package = Package(
    name: "swiftstn",
    products: [
        .library(name: "SwiftSTN", targets: ["SwiftSTN"]),
        .library(name: "swiftstn", type: .dynamic, targets: ["SwiftSTNC"]),
    ],
    targets: [
        .target(name: "STNSIMD"),
        .target(name: "STNKernels", dependencies: ["STNSIMD"], swiftSettings: kernelFlags),
        .target(name: "SwiftSTN", dependencies: ["STNKernels"]),
        .target(name: "SwiftSTNC", dependencies: ["SwiftSTN"]),
        // What both test suites share (one random generator).
        .target(name: "STNTestSupport", path: "Tests/STNTestSupport"),
        // The kernel tests get the kernels' code generation too, so that what they inline (the gather
        // helpers) is the AVX-512 code in a `-c release` run.
        .testTarget(
            name: "STNKernelsTests", dependencies: ["STNKernels", "STNTestSupport"], swiftSettings: kernelFlags),
        .testTarget(name: "SwiftSTNTests", dependencies: ["SwiftSTN", "STNTestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
