// The names the kernel maps (Sampling2D/KernelMap2D.swift, Sampling3D/KernelMap3D.swift) give
// the sampler paths, so that a caller (a `show_config()`) can say which one runs and why.

/// A sampler kernel path. Every path gives the same bits as `.scalar`; they differ in how taps
/// are read. Which one runs: `gridSample2DKernelPath`, `gridSample3DKernelPath`.
public enum SamplerKernelPath: String, Sendable, CaseIterable {
    /// Input planes copied into rows of 32 floats; taps picked out of two registers per row.
    case narrow
    /// Input planes copied with a margin holding the padding value; unmasked pair gathers.
    case bordered
    /// The input copied pixel-major (channels last): a tap is C/16 vectors.
    case pixelMajor
    /// Positions outer, channels inner; 16-position chunks whose taps fit a few rows read them
    /// from whole rows, the others gather.
    case rowWindow
    /// Bicubic positions outer, channels inner; inside positions four channels per vector.
    case fourChannels
    /// Positions outer, channels inner, scalar tap reads.
    case positionsOuter
    /// 64-position blocks, taps read by AVX-512 gathers (pairs where all are inside).
    case gathered
    /// 64-position blocks, scalar tap reads.
    case blocks
    /// One output position at a time (any plane size).
    case scalar
    /// Backward of one batch element: both passes in one sweep over its blocks.
    case oneSweep
    /// Backward of one batch element: the input pass, then the grid pass, each on its own path.
    case twoPasses
}

/// The passes a sampler kernel map chooses a path for.
public enum SamplerPass: String, Sendable, CaseIterable {
    /// `gridSample2DForward`, `warp2DForward`, `gridSample3DForward`.
    case forward
    /// `gridSample2DBackwardInput`, `warp2DBackwardInput`, `gridSample3DBackwardInput`.
    case backwardInput
    /// `gridSample2DBackwardGrid`, `warp2DBackwardRowSums`, `gridSample3DBackwardGrid`.
    case backwardGrid
    /// `gridSample2DBackwardElement`, `warp2DBackwardElement`: both passes of one batch element.
    case backwardElement
}

/// One line of a kernel map: for `pass`, `path` runs when `preconditions` hold and no earlier
/// line of the same pass applies (lines are in priority order).
public struct SamplerKernelRule: Sendable, Equatable {
    public let pass: SamplerPass
    public let path: SamplerKernelPath
    public let preconditions: String

    public init(_ pass: SamplerPass, _ path: SamplerKernelPath, _ preconditions: String) {
        self.pass = pass; self.path = path; self.preconditions = preconditions
    }
}

/// The vector instruction set the kernels were compiled for: "AVX-512" when they read taps with
/// AVX-512 gathers and permutes (`simdGathers`), "portable" otherwise.
public var samplerKernelISA: String { simdGathers ? "AVX-512" : "portable" }

/// Whether this build's vector paths apply to element type T: AVX-512 compiled in, and Float.
@inlinable @inline(__always)
func floatGathers<T>(_: T.Type) -> Bool { simdGathers && T.self == Float.self }
