// swift-tools-version:6.0
//
// swiftstn — a CPU engine for Spatial Transformer Networks.
//
//   STNKernels  pure kernels over pointers, shapes and strides: no allocation on the hot path,
//               no validation, no error paths (one concept per file).
//   SwiftSTN    the validated Swift API: shape checks, errors, threading, array conveniences.
//   SwiftSTNC   the C ABI (`@_cdecl`), documented in include/swiftstn.h; built as the
//               dynamic library `libswiftstn.so` that the CPython extension links against.
import PackageDescription

// Code generation for the numeric kernels (only STNKernels: the layers above validate, so they
// keep Swift's checked arithmetic). Swift's default x86-64 target is SSE2-only;
// SWIFTSTN_TARGET_CPU picks the ISA (`native` for the build machine, `x86-64-v3` for a portable
// AVX2 build, `x86-64` for the baseline). setup.py passes it through; see README "Build settings".
let targetCPU = Context.environment["SWIFTSTN_TARGET_CPU"] ?? ""
let kernelFlags: [SwiftSetting] = targetCPU.isEmpty
    ? [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
    : [.unsafeFlags(["-Ounchecked", "-target-cpu", targetCPU], .when(configuration: .release))]

let package = Package(
    name: "swiftstn",
    products: [
        .library(name: "SwiftSTN", targets: ["SwiftSTN"]),
        .library(name: "swiftstn", type: .dynamic, targets: ["SwiftSTNC"]),
    ],
    targets: [
        .target(name: "STNKernels", swiftSettings: kernelFlags),
        .target(name: "SwiftSTN", dependencies: ["STNKernels"]),
        .target(name: "SwiftSTNC", dependencies: ["SwiftSTN"]),
        .testTarget(name: "STNKernelsTests", dependencies: ["STNKernels"]),
        .testTarget(name: "SwiftSTNTests", dependencies: ["SwiftSTN"]),
    ],
    swiftLanguageModes: [.v5]
)
