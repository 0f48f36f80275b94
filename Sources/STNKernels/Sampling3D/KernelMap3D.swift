// NOTE [ Grid Sample 3-D Kernels ]
//
// Which kernel runs for a 3-D sampler pass. Only the trilinear forward has more than one path;
// `forward3DPath` chooses it and `gridSample3DForward` runs what it returns. Every path gives the
// per-position kernel's bits (GridSample3D.swift; tricubic: GridSample3DCubic.swift).
//
//   pass                     paths, first match wins      files
//   forward                  rowWindow, blocks, scalar    GridSample3DBlocks, ../Sampling2D/FastPaths/RowWindow
//   backward input / grid    scalar                       GridSample3D, GridSample3DCubic
//
// Measurements: docs/performance.md#gridsample3dblocksswift

/// Whether the Int32 offsets of the block kernel can address an input volume of this shape.
@inlinable @inline(__always)
func block3DKernelsApply(inputVolume: Int, sliceSize: Int) -> Bool {
    inputVolume < Int(Int32.max) / 2 - 2 * sliceSize - 8
}

/// The forward path (`gridSample3DForward`). `.rowWindow`: chunks whose eight corners are all
/// inside read them from two row windows a slice apart, the other chunks position by position.
@inlinable @inline(__always)
func forward3DPath<T>(
    _: T.Type, _ s: SamplingShape3D, _ mode: InterpolationMode, _ padding: PaddingMode
) -> SamplerKernelPath {
    guard mode == .bilinear && block3DKernelsApply(inputVolume: s.inputPlane, sliceSize: s.inputWidth * s.inputHeight)
    else { return .scalar }
    return floatGathers(T.self) && s.channels >= manyChannels ? .rowWindow : .blocks
}

/// The path a 3-D sampler pass takes for element type T, shape `s`, `mode` and `padding` in this
/// build. The backward passes have one path each (`.scalar`); `.backwardElement` is 2-D only and
/// answers `.twoPasses`.
public func gridSample3DKernelPath<T: STNFloat>(
    _: T.Type, _ s: SamplingShape3D, mode: InterpolationMode, padding: PaddingMode, pass: SamplerPass
) -> SamplerKernelPath {
    switch pass {
    case .forward: forward3DPath(T.self, s, mode, padding)
    case .backwardInput, .backwardGrid: .scalar
    case .backwardElement: .twoPasses
    }
}

/// The 3-D kernel map as text, in priority order ("vector" = Float on a build with AVX-512;
/// "fits Int32" = an input volume below 2³⁰ − 2·H·W − 8 elements).
public let gridSample3DKernelRules: [SamplerKernelRule] = [
    SamplerKernelRule(.forward, .rowWindow, "trilinear, vector, C >= 8, fits Int32"),
    SamplerKernelRule(.forward, .blocks, "trilinear, fits Int32"),
    SamplerKernelRule(.forward, .scalar, "otherwise (nearest, tricubic, volumes too large for Int32 offsets)"),
    SamplerKernelRule(.backwardInput, .scalar, "always"),
    SamplerKernelRule(.backwardGrid, .scalar, "always"),
]

@usableFromInline
struct Trilinear3DBlockKernel<E: STNFloat>: PolicyKernel {
    @usableFromInline let s: SamplingShape3D
    @usableFromInline let input: UnsafePointer<E>, grid: UnsafePointer<E>
    @usableFromInline let output: UnsafeMutablePointer<E>
    @usableFromInline let path: SamplerKernelPath
    @usableFromInline let positions: Range<Int>
    @usableFromInline let fill: UnsafePointer<E>?

    @inlinable
    init(
        _ s: SamplingShape3D, _ input: UnsafePointer<E>, _ grid: UnsafePointer<E>,
        _ output: UnsafeMutablePointer<E>, _ path: SamplerKernelPath, _ positions: Range<Int>,
        _ fill: UnsafePointer<E>?
    ) {
        self.s = s; self.input = input; self.grid = grid; self.output = output
        self.path = path; self.positions = positions; self.fill = fill
    }

    @inlinable @inline(__always)
    func run<P: SamplingPolicy>(_ p: P.Type) {
        trilinear3DForwardBlocks(s, input, grid, output, positions, p, fill, path)
    }
}
