// Fused warps: grid_sample(input, affine_grid(theta)) and grid_sample(input,
// perspective_grid(H)) in one pass, without the grid in memory.
//
// The sampler kernels take their grid points from a `GridSource2D` (GridSource.swift); here the
// source generates each block's points with the generator's own arithmetic, so outputs and input
// gradients are bit for bit the two-step path's. For the matrix gradient, the grid-gradient
// kernels hand each block's gradients to a sink that folds them, in position order, into the
// per-row partial sums the generator's backward (affineGrid2DBackward, perspectiveGrid2DBackward)
// keeps; `warp2DBackwardFold` then adds the rows in order exactly as that backward does. Rows are
// independent, so any split of whole rows across tasks gives the same bits.

/// Which grid generator a fused warp runs.
public enum WarpKind: Sendable {
    /// theta: N×2×3 (`affine_grid`).
    case affine
    /// H: N×3×3 (`perspective_grid`, with its guard and sentinel).
    case perspective
}

/// The geometry of a fused 2-D warp: the generator, its per-batch matrices, and the base
/// coordinates (`baseCoordinate`) of every output column and row.
public struct WarpGeometry2D<T: STNFloat> {
    public let kind: WarpKind
    public let matrices: UnsafePointer<T>
    public let baseX: UnsafePointer<T>
    public let baseY: UnsafePointer<T>

    public init(kind: WarpKind, matrices: UnsafePointer<T>, baseX: UnsafePointer<T>, baseY: UnsafePointer<T>) {
        self.kind = kind; self.matrices = matrices; self.baseX = baseX; self.baseY = baseY
    }

    /// Values per row in the row-sum buffer of `warp2DBackwardRowSums`.
    @inlinable public var rowSumWidth: Int { kind == .affine ? 4 : 6 }
    /// Entries of one batch element's matrix (6 or 9).
    @inlinable public var matrixSize: Int { kind == .affine ? 6 : 9 }

    @inlinable
    func affine(_ s: SamplingShape2D) -> AffineGridSource2D<T> {
        AffineGridSource2D(theta: matrices, baseX: baseX, baseY: baseY, height: s.outputHeight, width: s.outputWidth)
    }

    @inlinable
    func perspective(_ s: SamplingShape2D) -> PerspectiveGridSource2D<T> {
        PerspectiveGridSource2D(
            homography: matrices, baseX: baseX, baseY: baseY, height: s.outputHeight, width: s.outputWidth)
    }
}

/// Samples `input` on the warp's grid for flattened output positions `positions`: exactly
/// `gridSample2DForward` on the generated grid. `fill` as there.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func warp2DForward<T: STNFloat>(
    _ s: SamplingShape2D, input: UnsafePointer<T>, geometry: WarpGeometry2D<T>,
    output: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, positions: Range<Int>, fill: UnsafePointer<T>? = nil
) {
    switch geometry.kind {
    case .affine:
        sample2DForward(s, input, geometry.affine(s), output, mode, padding, alignCorners, positions, fill)
    case .perspective:
        sample2DForward(s, input, geometry.perspective(s), output, mode, padding, alignCorners, positions, fill)
    }
}

/// Adds d(loss)/d(input) for batch element `batch`, channels `channels` (gradInput zeroed by the
/// caller): exactly `gridSample2DBackwardInput` on the generated grid.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func warp2DBackwardInput<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, geometry: WarpGeometry2D<T>,
    gradInput: UnsafeMutablePointer<T>, mode: InterpolationMode, padding: PaddingMode,
    alignCorners: Bool, batch b: Int, channels: Range<Int>
) {
    switch geometry.kind {
    case .affine:
        sample2DBackwardInput(s, gradOutput, geometry.affine(s), gradInput, mode, padding, alignCorners, b, channels)
    case .perspective:
        sample2DBackwardInput(
            s, gradOutput, geometry.perspective(s), gradInput, mode, padding, alignCorners, b, channels)
    }
}

/// For the flattened output rows `rows` ⊂ [0, N·Ho), computes the grid gradient (exactly
/// `gridSample2DBackwardGrid`'s) block by block and folds it into the generator backward's
/// per-row sums: rowSums[w·r ..< w·(r + 1)] for row r, w = `geometry.rowSumWidth` (written).
/// `prefetchThroughRow`: as `gridSample2DBackwardGrid`'s `prefetchThrough`, in rows.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func warp2DBackwardRowSums<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>,
    geometry: WarpGeometry2D<T>, rowSums: UnsafeMutablePointer<T>, mode: InterpolationMode,
    padding: PaddingMode, alignCorners: Bool, rows: Range<Int>, fill: UnsafePointer<T>? = nil,
    prefetchThroughRow: Int? = nil
) {
    let width = geometry.rowSumWidth, Wo = s.outputWidth
    (rowSums + width * rows.lowerBound).initialize(repeating: 0, count: width * rows.count)
    let positions = (rows.lowerBound * Wo)..<(rows.upperBound * Wo)
    let prefetchThrough = prefetchThroughRow.map { $0 * Wo }
    switch geometry.kind {
    case .affine:
        let sink = AffineRowSums2D(rowSums: rowSums, baseX: geometry.baseX, height: s.outputHeight, width: Wo)
        sample2DBackwardGrid(
            s, gradOutput, input, geometry.affine(s), sink, mode, padding, alignCorners, positions, fill,
            prefetchThrough: prefetchThrough)
    case .perspective:
        let sink = PerspectiveRowSums2D(
            rowSums: rowSums, homography: geometry.matrices, baseX: geometry.baseX,
            baseY: geometry.baseY, height: s.outputHeight, width: Wo)
        sample2DBackwardGrid(
            s, gradOutput, input, geometry.perspective(s), sink, mode, padding, alignCorners, positions, fill,
            prefetchThrough: prefetchThrough)
    }
}

/// Both backward passes for batch element `b` (gradInput zeroed by the caller): exactly
/// `warp2DBackwardInput` with all channels and `warp2DBackwardRowSums` with the element's rows.
/// One sweep or two passes as `gridSample2DBackwardElement` (`backwardElement2DPath`,
/// KernelMap2D.swift). `prefetchNext`: the caller goes on with element b + 1.
@_specialize(where T == Float)
@_specialize(where T == Double)
public func warp2DBackwardElement<T: STNFloat>(
    _ s: SamplingShape2D, gradOutput: UnsafePointer<T>, input: UnsafePointer<T>, geometry: WarpGeometry2D<T>,
    gradInput: UnsafeMutablePointer<T>, rowSums: UnsafeMutablePointer<T>, mode: InterpolationMode,
    padding: PaddingMode, alignCorners: Bool, batch b: Int, fill: UnsafePointer<T>? = nil, prefetchNext: Bool
) {
    let Ho = s.outputHeight, Wo = s.outputWidth
    let path = backwardElement2DPath(T.self, s, mode, padding)
    if path != .twoPasses {
        let width = geometry.rowSumWidth
        (rowSums + width * b * Ho).initialize(repeating: 0, count: width * Ho)
        switch geometry.kind {
        case .affine:
            let sink = AffineRowSums2D(rowSums: rowSums, baseX: geometry.baseX, height: Ho, width: Wo)
            dispatchPolicy(
                BackwardBoth2DBlockKernel(
                    s, gradOutput, input, geometry.affine(s), gradInput, sink, b, fill, path,
                    prefetchNext: prefetchNext), .zeros, alignCorners)
        case .perspective:
            let sink = PerspectiveRowSums2D(
                rowSums: rowSums, homography: geometry.matrices, baseX: geometry.baseX,
                baseY: geometry.baseY, height: Ho, width: Wo)
            dispatchPolicy(
                BackwardBoth2DBlockKernel(
                    s, gradOutput, input, geometry.perspective(s), gradInput, sink, b,
                    fill, path, prefetchNext: prefetchNext), .zeros, alignCorners)
        }
        return
    }
    warp2DBackwardInput(
        s, gradOutput: gradOutput, geometry: geometry, gradInput: gradInput, mode: mode,
        padding: padding, alignCorners: alignCorners, batch: b, channels: 0..<s.channels)
    warp2DBackwardRowSums(
        s, gradOutput: gradOutput, input: input, geometry: geometry, rowSums: rowSums, mode: mode,
        padding: padding, alignCorners: alignCorners, rows: (b * Ho)..<((b + 1) * Ho), fill: fill,
        prefetchThroughRow: prefetchNext ? (b + 2) * Ho : (b + 1) * Ho)
}

/// d(loss)/d(matrices) for batch elements `batches` from the row sums of all their rows, added
/// row by row in order exactly as affineGrid2DBackward / perspectiveGrid2DBackward do.
/// gradMatrices: N×2×3 or N×3×3 (overwritten for `batches`).
@_specialize(where T == Float)
@_specialize(where T == Double)
public func warp2DBackwardFold<T: STNFloat>(
    geometry: WarpGeometry2D<T>, rowSums: UnsafePointer<T>, gradMatrices: UnsafeMutablePointer<T>,
    height: Int, batches: Range<Int>
) {
    for n in batches {
        switch geometry.kind {
        case .affine:
            var a00: T = 0, a01: T = 0, a02: T = 0, a10: T = 0, a11: T = 0, a12: T = 0
            for h in 0..<height {
                let y = geometry.baseY[h]
                let r = rowSums + 4 * (n * height + h)
                let sx0 = r[0], sx1 = r[1], s0 = r[2], s1 = r[3]
                a00 += sx0; a10 += sx1
                a01 += s0 * y; a11 += s1 * y
                a02 += s0; a12 += s1
            }
            let o = gradMatrices + 6 * n
            o[0] = a00; o[1] = a01; o[2] = a02
            o[3] = a10; o[4] = a11; o[5] = a12
        case .perspective:
            var acc = SIMD16<T>()
            for h in 0..<height {
                let y = geometry.baseY[h]
                let r = rowSums + 6 * (n * height + h)
                let sax = r[0], sa = r[1], sbx = r[2], sb = r[3], scx = r[4], sc = r[5]
                acc[0] += sax; acc[1] += sa * y; acc[2] += sa
                acc[3] += sbx; acc[4] += sb * y; acc[5] += sb
                acc[6] += scx; acc[7] += sc * y; acc[8] += sc
            }
            let o = gradMatrices + 9 * n
            for i in 0..<9 { o[i] = acc[i] }
        }
    }
}
