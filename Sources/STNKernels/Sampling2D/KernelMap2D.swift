// NOTE [ Grid Sample 2-D Kernels ]
//
// Which kernel runs for a 2-D sampler pass (grid_sample, and the fused warps, which are the same
// kernels fed a generated grid). Every path gives the bits of the scalar kernel
// (GridSample2D.swift, GridSample2DBackward.swift); the paths differ only in how they read taps.
// Each pass has one function below that tests the preconditions in priority order and returns
// the first path that applies; the dispatchers at the end of this file run that path. Nothing
// else chooses. `gridSample2DKernelRules` lists the same choice as text.
//
//   pass              paths, first match wins                          files (Sampling2D/FastPaths/)
//   forward           narrow, bordered, pixelMajor, rowWindow |        GridSample2DNarrow, …Bordered,
//                     fourChannels | positionsOuter, gathered,         PixelMajor, RowWindow,
//                     blocks, scalar                                   GridSample2DBlocks
//   backward input    blocks, scalar                                   GridSample2DBackwardBlocks
//   backward grid     narrow, rowWindow, gathered, blocks, scalar      …NarrowBackward, …BackwardBlocks
//   backward element  narrow, oneSweep, twoPasses (input + grid)       …NarrowBackward, …BackwardBlocks
//
// Inside a path, what depends on the data is decided per 16-lane chunk and changes no bits:
// whether a chunk's taps are all inside (pairs, unmasked) and whether they fit a row window.
// Measurements behind the thresholds: docs/performance.md#which-kernel-runs

/// From this many channels on, the samplers run positions outer and channels inner (the block's
/// offsets and weights stay in registers for all channels).
@inlinable @inline(__always) var manyChannels: Int { 8 }

/// Whether the Int32-offset block kernels can address an input plane of this shape.
@inlinable @inline(__always)
func blockKernelsApply(inputPlane: Int, width: Int) -> Bool {
    inputPlane < Int(Int32.max) / 2 - 4 * width - 8
}

// MARK: - The choice, per pass

/// The forward path (`gridSample2DForward`, `warp2DForward`).
@inlinable @inline(__always)
func forward2DPath<T>(
    _: T.Type, _ s: SamplingShape2D, _ mode: InterpolationMode, _ padding: PaddingMode
) -> SamplerKernelPath {
    guard blockKernelsApply(inputPlane: s.inputPlane, width: s.inputWidth) else { return .scalar }
    let vector = floatGathers(T.self), few = s.channels < manyChannels
    // Copies of small inputs whose margins hold the padding value: zeros (and fill) padding only.
    let copies = vector && few && padding == .zeros
    if copies && mode != .bicubic && NarrowPlanes(s) != nil { return .narrow }
    if copies && mode != .nearest && BorderedPlanes(s, margin: mode == .bicubic ? 4 : 2) != nil { return .bordered }
    if vector && mode == .bilinear && padding == .zeros && pixelMajorForwardFits(s) { return .pixelMajor }
    if !few { return vector ? (mode == .bicubic ? .fourChannels : .rowWindow) : .positionsOuter }
    return vector ? .gathered : .blocks
}

/// Whether the bilinear forward's pixel-major copy applies: a multiple of 16 channels, and a copy
/// (with its spare pixel) within `pixelMajorMaxFloats`.
@inlinable @inline(__always)
func pixelMajorForwardFits(_ s: SamplingShape2D) -> Bool {
    s.channels >= 16 && s.channels % 16 == 0 && s.channels * (s.inputPlane + 1) <= pixelMajorMaxFloats
}

/// The input-gradient path (`gridSample2DBackwardInput`, `warp2DBackwardInput`).
@inlinable @inline(__always)
func backwardInput2DPath<T>(
    _: T.Type, _ s: SamplingShape2D, _ mode: InterpolationMode, _ padding: PaddingMode
) -> SamplerKernelPath {
    mode == .bilinear && blockKernelsApply(inputPlane: s.inputPlane, width: s.inputWidth) ? .blocks : .scalar
}

/// The grid-gradient path (`gridSample2DBackwardGrid`, `warp2DBackwardRowSums`). The `.blocks`
/// path sums channel outer below 4 channels and lane outer from 4 on (a loop order: same bits).
@inlinable @inline(__always)
func backwardGrid2DPath<T>(
    _: T.Type, _ s: SamplingShape2D, _ mode: InterpolationMode, _ padding: PaddingMode
) -> SamplerKernelPath {
    guard mode == .bilinear && blockKernelsApply(inputPlane: s.inputPlane, width: s.inputWidth) else {
        return .scalar
    }
    let vector = floatGathers(T.self), few = s.channels < manyChannels
    if vector && few && padding == .zeros && NarrowPlanes(s) != nil { return .narrow }
    if vector { return few ? .gathered : .rowWindow }
    return .blocks
}

/// Both backward passes of one batch element (`gridSample2DBackwardElement`,
/// `warp2DBackwardElement`): one sweep through narrow copies, one sweep over blocks (its grid
/// gradient on `backwardGrid2DPath`'s path, its scatter as `oneSweepScatter` says), or the two
/// passes one after the other, each on its own path.
@inlinable @inline(__always)
func backwardElement2DPath<T>(
    _: T.Type, _ s: SamplingShape2D, _ mode: InterpolationMode, _ padding: PaddingMode
) -> SamplerKernelPath {
    guard
        floatGathers(T.self) && mode == .bilinear && padding == .zeros
            && blockKernelsApply(inputPlane: s.inputPlane, width: s.inputWidth)
    else { return .twoPasses }
    if s.channels < manyChannels && NarrowPlanes(s) != nil { return .narrow }
    return .oneSweep
}

/// How the `.oneSweep` backward scatters the input gradient: the first `vectors` channels (C
/// rounded down to 16) through a pixel-major copy, 16 channels per vector; with `quads`, 2 to 4
/// channels through a copy with four floats per pixel; the other channels plane by plane.
@inlinable @inline(__always)
func oneSweepScatter<T>(_: T.Type, _ s: SamplingShape2D) -> (vectors: Int, quads: Bool) {
    let C = s.channels, inPlane = s.inputPlane
    let vectors =
        T.self == Float.self && C >= 16 && C / 16 * 16 * (inPlane + 1) <= pixelMajorMaxFloats ? C / 16 * 16 : 0
    let quads = T.self == Float.self && C >= 2 && C <= 4 && 4 * (inPlane + 1) <= pixelMajorMaxFloats
    return (vectors, quads)
}

// MARK: - The choice, for callers

/// The path a 2-D sampler pass takes for element type T, shape `s`, `mode` and `padding` (fill
/// padding: `.zeros`) in this build. For `.backwardElement`, `.twoPasses` means the
/// `.backwardInput` and `.backwardGrid` paths one after the other.
public func gridSample2DKernelPath<T: STNFloat>(
    _: T.Type, _ s: SamplingShape2D, mode: InterpolationMode, padding: PaddingMode, pass: SamplerPass
) -> SamplerKernelPath {
    switch pass {
    case .forward: forward2DPath(T.self, s, mode, padding)
    case .backwardInput: backwardInput2DPath(T.self, s, mode, padding)
    case .backwardGrid: backwardGrid2DPath(T.self, s, mode, padding)
    case .backwardElement: backwardElement2DPath(T.self, s, mode, padding)
    }
}

/// The 2-D kernel map as text, each pass's paths in priority order ("vector" = Float on a build
/// with AVX-512, `samplerKernelISA`; "fits Int32" = an input plane below 2³⁰ − 4·W − 8 elements).
public let gridSample2DKernelRules: [SamplerKernelRule] = [
    SamplerKernelRule(
        .forward, .narrow,
        "bilinear or nearest, vector, zeros/fill padding, C < 8, W <= 28, C·(H+4)·32 <= 16384 floats, "
            + "(H+4)·32 <= 4 per output position, fits Int32"),
    SamplerKernelRule(
        .forward, .bordered,
        "bilinear (margin 2) or bicubic (margin 4), vector, zeros/fill padding, C < 8, "
            + "C·(H+2m)·(W+2m) <= 16384 floats, (H+2m)·(W+2m) <= 4 per output position, fits Int32"),
    SamplerKernelRule(
        .forward, .pixelMajor,
        "bilinear, vector, zeros/fill padding, C a multiple of 16, C·(H·W+1) <= 2^19 floats, fits Int32"),
    SamplerKernelRule(.forward, .rowWindow, "bilinear or nearest, vector, C >= 8, fits Int32"),
    SamplerKernelRule(.forward, .fourChannels, "bicubic, vector, C >= 8, fits Int32"),
    SamplerKernelRule(.forward, .positionsOuter, "not vector, C >= 8, fits Int32"),
    SamplerKernelRule(.forward, .gathered, "vector, C < 8, fits Int32"),
    SamplerKernelRule(.forward, .blocks, "not vector, C < 8, fits Int32"),
    SamplerKernelRule(.forward, .scalar, "otherwise (planes too large for Int32 offsets)"),
    SamplerKernelRule(.backwardInput, .blocks, "bilinear, fits Int32"),
    SamplerKernelRule(.backwardInput, .scalar, "otherwise"),
    SamplerKernelRule(
        .backwardGrid, .narrow,
        "bilinear, vector, zeros/fill padding, C < 8, as the forward's narrow sizes, fits Int32"),
    SamplerKernelRule(.backwardGrid, .rowWindow, "bilinear, vector, C >= 8, fits Int32"),
    SamplerKernelRule(.backwardGrid, .gathered, "bilinear, vector, C < 8, fits Int32"),
    SamplerKernelRule(.backwardGrid, .blocks, "bilinear, not vector, fits Int32"),
    SamplerKernelRule(.backwardGrid, .scalar, "otherwise (nearest: zeros)"),
    SamplerKernelRule(
        .backwardElement, .narrow,
        "bilinear, vector, zeros/fill padding, C < 8, as the forward's narrow sizes, fits Int32"),
    SamplerKernelRule(
        .backwardElement, .oneSweep,
        "bilinear, vector, zeros/fill padding, fits Int32 (grid gradient rowWindow from C >= 8, else gathered; "
            + "scatter pixel-major for C rounded down to 16 when C·(H·W+1) <= 2^19, quads for 2 <= C <= 4)"),
    SamplerKernelRule(.backwardElement, .twoPasses, "otherwise: the backwardInput path, then the backwardGrid path"),
]

// MARK: - Running the chosen path

@usableFromInline
struct Forward2DBlockKernel<E: STNFloat, G: GridSource2D>: PolicyKernel where G.Scalar == E {
    @usableFromInline let s: SamplingShape2D
    @usableFromInline let input: UnsafePointer<E>
    @usableFromInline let source: G
    @usableFromInline let output: UnsafeMutablePointer<E>
    @usableFromInline let mode: InterpolationMode
    @usableFromInline let path: SamplerKernelPath
    @usableFromInline let positions: Range<Int>
    @usableFromInline let fill: UnsafePointer<E>?

    @inlinable
    init(
        _ s: SamplingShape2D, _ input: UnsafePointer<E>, _ source: G,
        _ output: UnsafeMutablePointer<E>, _ mode: InterpolationMode, _ path: SamplerKernelPath,
        _ positions: Range<Int>, _ fill: UnsafePointer<E>?
    ) {
        self.s = s; self.input = input; self.source = source; self.output = output
        self.mode = mode; self.path = path; self.positions = positions; self.fill = fill
    }

    @inlinable @inline(__always)
    func run<P: SamplingPolicy>(_ p: P.Type) {
        switch (path, mode) {
        case (.narrow, .nearest):
            nearest2DForwardNarrow(s, input, source, output, positions, p, fill, NarrowPlanes(s)!)
        case (.narrow, _):
            bilinear2DForwardNarrow(s, input, source, output, positions, p, fill, NarrowPlanes(s)!)
        case (.bordered, .bicubic):
            bicubic2DForwardBordered(s, input, source, output, positions, p, fill, BorderedPlanes(s, margin: 4)!)
        case (.bordered, _):
            bilinear2DForwardBordered(s, input, source, output, positions, p, fill, BorderedPlanes(s, margin: 2)!)
        case (.pixelMajor, _):
            bilinear2DForwardPixelMajor(s, input, source, output, positions, p, fill)
        case (_, .bilinear): bilinear2DForwardBlocks(s, input, source, output, positions, p, fill, path)
        case (_, .nearest): nearest2DForwardBlocks(s, input, source, output, positions, p, fill, path)
        case (_, .bicubic): bicubic2DForwardBlocks(s, input, source, output, positions, p, fill, path)
        }
    }
}

@usableFromInline
struct BackwardBoth2DBlockKernel<E: STNFloat, G: GridSource2D, K: GridGradientSink2D>: PolicyKernel
where G.Scalar == E, K.Scalar == E {
    @usableFromInline let s: SamplingShape2D
    @usableFromInline let gradOutput: UnsafePointer<E>, input: UnsafePointer<E>
    @usableFromInline let source: G
    @usableFromInline let gradInput: UnsafeMutablePointer<E>
    @usableFromInline let sink: K
    @usableFromInline let batch: Int
    @usableFromInline let fill: UnsafePointer<E>?
    @usableFromInline let path: SamplerKernelPath
    @usableFromInline let prefetchNext: Bool

    @inlinable
    init(
        _ s: SamplingShape2D, _ gradOutput: UnsafePointer<E>, _ input: UnsafePointer<E>, _ source: G,
        _ gradInput: UnsafeMutablePointer<E>, _ sink: K, _ batch: Int, _ fill: UnsafePointer<E>?,
        _ path: SamplerKernelPath, prefetchNext: Bool
    ) {
        self.s = s; self.gradOutput = gradOutput; self.input = input; self.source = source
        self.gradInput = gradInput; self.sink = sink; self.batch = batch; self.fill = fill
        self.path = path; self.prefetchNext = prefetchNext
    }

    @inlinable @inline(__always)
    func run<P: SamplingPolicy>(_ p: P.Type) {
        if path == .narrow {
            bilinear2DBackwardBothNarrow(
                s, gradOutput, input, source, gradInput, sink, batch, p, fill, NarrowPlanes(s)!)
            return
        }
        bilinear2DBackwardBothBlocks(
            s, gradOutput, input, source, gradInput, sink, batch, p, fill,
            prefetchNext: prefetchNext)
    }
}

@usableFromInline
struct BackwardGrid2DBlockKernel<E: STNFloat, G: GridSource2D, K: GridGradientSink2D>: PolicyKernel
where G.Scalar == E, K.Scalar == E {
    @usableFromInline let s: SamplingShape2D
    @usableFromInline let gradOutput: UnsafePointer<E>, input: UnsafePointer<E>
    @usableFromInline let source: G
    @usableFromInline let sink: K
    @usableFromInline let positions: Range<Int>
    @usableFromInline let fill: UnsafePointer<E>?
    @usableFromInline let path: SamplerKernelPath
    @usableFromInline let prefetchThrough: Int

    @inlinable
    init(
        _ s: SamplingShape2D, _ gradOutput: UnsafePointer<E>, _ input: UnsafePointer<E>,
        _ source: G, _ sink: K, _ positions: Range<Int>, _ fill: UnsafePointer<E>?, _ path: SamplerKernelPath,
        prefetchThrough: Int
    ) {
        self.s = s; self.gradOutput = gradOutput; self.input = input; self.source = source
        self.sink = sink; self.positions = positions; self.fill = fill; self.path = path
        self.prefetchThrough = prefetchThrough
    }

    @inlinable @inline(__always)
    func run<P: SamplingPolicy>(_ p: P.Type) {
        if path == .narrow {
            bilinear2DBackwardGridNarrow(s, gradOutput, input, source, sink, positions, p, fill, NarrowPlanes(s)!)
            return
        }
        bilinear2DBackwardGridBlocks(
            s, gradOutput, input, source, sink, positions, p, fill, path,
            prefetchThrough: prefetchThrough)
    }
}

@usableFromInline
struct BackwardInput2DBlockKernel<E: STNFloat, G: GridSource2D>: PolicyKernel where G.Scalar == E {
    @usableFromInline let s: SamplingShape2D
    @usableFromInline let gradOutput: UnsafePointer<E>
    @usableFromInline let source: G
    @usableFromInline let gradInput: UnsafeMutablePointer<E>
    @usableFromInline let batch: Int
    @usableFromInline let channels: Range<Int>

    @inlinable
    init(
        _ s: SamplingShape2D, _ gradOutput: UnsafePointer<E>, _ source: G,
        _ gradInput: UnsafeMutablePointer<E>, _ batch: Int, _ channels: Range<Int>
    ) {
        self.s = s; self.gradOutput = gradOutput; self.source = source; self.gradInput = gradInput
        self.batch = batch; self.channels = channels
    }

    @inlinable @inline(__always)
    func run<P: SamplingPolicy>(_ p: P.Type) {
        bilinear2DBackwardInputBlocks(s, gradOutput, source, gradInput, batch, channels, p)
    }
}
